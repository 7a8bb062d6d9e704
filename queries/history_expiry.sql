-- For every series poolhist still collects (the account's, and those of the workers the pool
-- listed at the account's last listing): when the oldest history the pool still has and
-- poolhist has not copied yet expires at the pool. The pool keeps `retention_slots` slots ending
-- at its current one (learned per account, else documented: v_pool_retention; see below for a
-- young account); poolhist has
-- copied up to `copied_through` (the watermark; for a series never copied, the slot before the
-- worker or account was first listed: what the pool had before that was never ours to lose), so
-- the first slot not copied leaves the pool's window once the current slot is copied_through +
-- retention slots + 1: this says one slot earlier (warn early rather than late).
--
-- Used by the history_at_risk alert and by the metrics. Run it yourself:
--   sqlite3 poolhist.db < queries/history_expiry.sql
SELECT series_id, account_id, pool, account, worker_id, worker_name, dimension, scope,
       watermark_ts, retention_slots,
       copied_through + slot AS oldest_uncopied_ts,
       copied_through + retention_slots * slot AS expires_at
FROM (
    SELECT s.series_id,
           s.account_id,
           a.pool,
           a.account,
           s.worker_id,
           w.worker_name,
           s.dimension,
           r.scope,
           s.watermark_ts,
           -- A retention learned shorter than documented is the pool's when the account's own
           -- hourly history reached back as far as documented; when that too was short, the
           -- account was younger than the pool's window and the learning saw its start, not
           -- the pool's edge: the documented retention holds.
           CASE WHEN r.learned
                     AND young.retention_slots < p.account_hours
                     AND r.retention_slots < CASE WHEN s.worker_id IS NULL
                             THEN CASE s.dimension WHEN '1h' THEN p.account_hours ELSE p.account_days END
                             ELSE CASE s.dimension WHEN '1h' THEN p.worker_hours ELSE p.worker_days END END
                THEN CASE WHEN s.worker_id IS NULL
                          THEN CASE s.dimension WHEN '1h' THEN p.account_hours ELSE p.account_days END
                          ELSE CASE s.dimension WHEN '1h' THEN p.worker_hours ELSE p.worker_days END END
                ELSE r.retention_slots
           END AS retention_slots,
           CASE s.dimension WHEN '1h' THEN 3600 ELSE 86400 END AS slot,
           COALESCE(s.watermark_ts,
                    COALESCE(w.first_seen, a.first_seen)
                      / CASE s.dimension WHEN '1h' THEN 3600 ELSE 86400 END
                      * CASE s.dimension WHEN '1h' THEN 3600 ELSE 86400 END
                      - CASE s.dimension WHEN '1h' THEN 3600 ELSE 86400 END) AS copied_through
    FROM series s
    JOIN accounts a ON a.account_id = s.account_id
    JOIN v_pool_retention r ON r.series_id = s.series_id
    LEFT JOIN pools p ON p.pool = a.pool
    LEFT JOIN pool_knowledge young
           ON young.account_id = s.account_id AND young.scope = 'account' AND young.dimension = '1h'
    LEFT JOIN workers w ON w.account_id = s.account_id AND w.worker_id = s.worker_id
    WHERE s.worker_id IS NULL OR w.last_seen = a.last_seen
);
