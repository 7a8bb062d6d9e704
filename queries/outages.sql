-- outages.sql: every outage of every worker in a period, longest first.
--
-- Answers: when was each worker down, for how long, and is it still down at the end of the
-- period?
--
-- How: same definition and the same runs of down hours as uptime.sql. The counted hours of a
-- worker are [max(period start, its first final 1h ticker), period end); an hour is up when its
-- non-provisional 1h ticker has hashrate_hs > 0, every other counted hour is down. An outage is a
-- maximal run of down hours. As in uptime.sql, one range of hourly_by_day per worker gives each
-- stored day's down hours (counted-hours mask minus up_mask), split into runs of down bits; days
-- without a row are all down; runs touching across midnight are merged (gaps-and-islands with a
-- running SUM). Outages that began before the period or go on after it are clipped to it:
-- began_before_period is true when the hour before the period start was down too (not up, or no
-- row), open_at_period_end when the worker is still down at the period end.
--
-- poolhist computes these rows without running this file: one pass over hourly_by_day shared by
-- uptime.sql, outages.sql and uptime_by_day.sql, formula by formula the same (src/report/
-- uptime_scan.rs; tests/report_uptime_props.rs checks both against a recomputation).
--
-- Parameters (Unix seconds UTC):
--   :from    required. First counted hour: the first starting at or after :from.
--   :to      required, exclusive; no later than the start of the current hour.
--   :pool    pool name ('cloverpool', 'foundry'), NULL = all pools.
--   :account account as its pool names it (CloverPool puid as text, Foundry sub-account), NULL =
--            all; with :pool NULL it matches that name in any pool.
--   :puid    CloverPool puid, NULL = no puid filter (older scripts; prefer :pool / :account).
--   :group   group name or numeric id, NULL = all groups.
--   :worker  worker name GLOB pattern (case-sensitive; * ? [abc]), NULL = all workers.
--
-- Reads: v_worker_series, hourly_by_day (the hours), tickers (first hourly point, the hour
-- before the period).
WITH RECURSIVE
bounds AS (
    SELECT ((:from + 3599) / 3600) * 3600 AS p_from,
           ((:to + 3599) / 3600) * 3600   AS p_to
),
scope AS (
    SELECT w.account_id, w.puid, w.pool, w.account, w.worker_id, w.worker_name, w.group_name,
           w.hourly_series_id AS series_id, w.daily_series_id,
           (SELECT MIN(t.ts) FROM tickers t
             WHERE t.series_id = w.hourly_series_id AND t.provisional = 0) AS first_hour_ts
    FROM v_worker_series w
    WHERE (:pool IS NULL OR w.pool = :pool)
      AND (:account IS NULL OR w.account = :account)
      AND (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
counted AS MATERIALIZED (
    -- multi-argument MAX is NULL when the worker has no hourly point at all
    SELECT sc.*, b.p_from, b.p_to,
           MAX(b.p_from, sc.first_hour_ts) AS start_ts,
           b.p_to                          AS end_ts
    FROM scope sc CROSS JOIN bounds b
),
days(day_ts) AS (
    SELECT (p_from / 86400) * 86400 FROM bounds WHERE p_from < p_to
    UNION ALL
    SELECT day_ts + 86400 FROM days, bounds WHERE day_ts + 86400 < p_to
),
stored_days AS (
    -- the stored days with counted hours [start_ts, end_ts), one range of the hourly_by_day key
    -- per worker; hours = the day's counted hours as a mask (bit h = hour h of the day)
    SELECT c.series_id, h.day_ts, h.up_mask,
           CASE WHEN h.day_ts >= c.start_ts AND h.day_ts + 86400 <= c.end_ts THEN 16777215
                ELSE (1 << ((MIN(h.day_ts + 86400, c.end_ts) - h.day_ts) / 3600))
                   - (1 << ((MAX(h.day_ts, c.start_ts) - h.day_ts) / 3600)) END AS hours
    FROM counted c
    CROSS JOIN hourly_by_day h  -- CROSS: counted stays the outer loop
    WHERE c.start_ts < c.end_ts
      AND h.series_id = c.series_id AND h.day_ts > c.start_ts - 86400 AND h.day_ts < c.end_ts
),
pieces(series_id, day_ts, starts, ends, start_ts, end_ts) AS (
    -- the down runs of each stored day with any: "starts" has a bit at each run's first hour,
    -- "ends" at the hour after its last (bit 24 = next midnight). Each step takes the lowest of
    -- both, i.e. one run, and turns the bit (x & -x isolates it) into its index.
    SELECT series_id, day_ts, down & ~(down << 1), (down << 1) & ~down, NULL, NULL
    FROM (SELECT series_id, day_ts, hours & ~up_mask AS down FROM stored_days
          WHERE hours & ~up_mask <> 0)
    UNION ALL
    SELECT series_id, day_ts, starts & (starts - 1), ends & (ends - 1),
           day_ts + 3600 * ((((starts & -starts) & 0xAAAAAAAA) <> 0)
                          + (((starts & -starts) & 0xCCCCCCCC) <> 0) * 2
                          + (((starts & -starts) & 0xF0F0F0F0) <> 0) * 4
                          + (((starts & -starts) & 0xFF00FF00) <> 0) * 8
                          + (((starts & -starts) & 0xFFFF0000) <> 0) * 16),
           day_ts + 3600 * ((((ends & -ends) & 0xAAAAAAAA) <> 0)
                          + (((ends & -ends) & 0xCCCCCCCC) <> 0) * 2
                          + (((ends & -ends) & 0xF0F0F0F0) <> 0) * 4
                          + (((ends & -ends) & 0xFF00FF00) <> 0) * 8
                          + (((ends & -ends) & 0xFFFF0000) <> 0) * 16)
    FROM pieces WHERE starts <> 0
),
missing_days AS (
    -- days without a row are down in every counted hour; only workers with fewer stored days
    -- than counted days are probed day by day
    SELECT c.series_id, MAX(d.day_ts, c.start_ts) AS start_ts,
           MIN(d.day_ts + 86400, c.end_ts) AS end_ts
    FROM counted c
    CROSS JOIN days d
    WHERE c.start_ts < c.end_ts
      AND (SELECT COUNT(*) FROM hourly_by_day h
            WHERE h.series_id = c.series_id
              AND h.day_ts > c.start_ts - 86400 AND h.day_ts < c.end_ts)
          < (c.end_ts - 1) / 86400 - c.start_ts / 86400 + 1
      AND d.day_ts + 86400 > c.start_ts AND d.day_ts < c.end_ts
      AND NOT EXISTS (SELECT 1 FROM hourly_by_day h
                       WHERE h.series_id = c.series_id AND h.day_ts = d.day_ts)
),
down_runs AS (
    -- pieces that touch (across midnight) form one outage: start_ts minus the hours of the
    -- earlier pieces is the same along touching pieces and grows at each gap
    SELECT series_id, MIN(start_ts) AS start_ts, MAX(end_ts) AS end_ts
    FROM (SELECT series_id, start_ts, end_ts,
                 end_ts - SUM(end_ts - start_ts) OVER (PARTITION BY series_id ORDER BY start_ts)
                   AS run
          FROM (SELECT series_id, start_ts, end_ts FROM pieces WHERE start_ts IS NOT NULL
                UNION ALL
                SELECT series_id, start_ts, end_ts FROM missing_days))
    GROUP BY series_id, run
)
SELECT c.account_id,
       c.puid,
       c.pool,
       c.account,
       c.worker_id,
       c.worker_name,
       c.group_name,
       d.start_ts,
       d.end_ts,
       (d.end_ts - d.start_ts) / 3600 AS hours,
       d.start_ts = c.p_from AND c.first_hour_ts < c.p_from
         AND NOT EXISTS (SELECT 1 FROM tickers t
                          WHERE t.series_id = c.series_id AND t.ts = c.p_from - 3600
                            AND t.provisional = 0 AND t.hashrate_hs > 0) AS began_before_period,
       d.end_ts = c.p_to              AS open_at_period_end
FROM down_runs d
JOIN counted c ON c.series_id = d.series_id
WHERE d.end_ts > d.start_ts
ORDER BY hours DESC, d.start_ts, c.worker_name, c.account_id, c.worker_id;
