-- gaps.sql: stored history that is missing, per series, and whether the pool can still serve it.
--
-- Answers: which hours (1h series) or days (1d series) have no stored point, and can a re-run of
-- the ingest still fetch them?
--
-- How: two kinds of rows.
--   'hole':     a run of missing points inside a series' stored span (between its oldest and
--               newest stored ticker), found with LAG over the tickers (gaps-and-islands); holes
--               already covered by a recorded gap are left out.
--   'expired':  a recorded history_gaps row: history the pool had deleted before poolhist copied it.
-- pool_still_has: the pool keeps worker 1h for 72 h, account 1h for 720 h, worker 1d for 90 d,
-- account 1d for 365 d before :now. 'yes' when the whole gap is inside that window, 'partly'
-- when its newer end is, 'no' otherwise.
--
-- Parameters (Unix seconds UTC):
--   :now        required: the retention windows are counted back from it.
--   :from, :to  optional window, NULL = unbounded: only gaps overlapping [:from, :to).
--   :puid       account id, NULL = all.
--   :worker     worker name GLOB pattern; NULL = every series including the account's,
--               a pattern selects worker series only.
--   :dimension  '1h' or '1d', NULL = both.
--
-- Reads: series, tickers, history_gaps, workers.
WITH
scope AS (
    SELECT s.series_id, s.puid, s.worker_id, w.worker_name, s.dimension,
           CASE s.dimension WHEN '1h' THEN 3600 ELSE 86400 END AS step,
           CASE WHEN s.worker_id IS NULL
                THEN CASE s.dimension WHEN '1h' THEN 720 * 3600 ELSE 365 * 86400 END
                ELSE CASE s.dimension WHEN '1h' THEN 72 * 3600 ELSE 90 * 86400 END
           END AS retention_s
    FROM series s
    LEFT JOIN workers w ON w.puid = s.puid AND w.worker_id = s.worker_id
    WHERE (:puid IS NULL OR s.puid = :puid)
      AND (:dimension IS NULL OR s.dimension = :dimension)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
stepped AS (
    SELECT sc.series_id, t.ts,
           LAG(t.ts) OVER (PARTITION BY sc.series_id ORDER BY t.ts) AS prev_ts
    FROM scope sc JOIN tickers t ON t.series_id = sc.series_id
),
holes AS (
    SELECT st.series_id, st.prev_ts + sc.step AS from_ts, st.ts - sc.step AS to_ts, 'hole' AS kind
    FROM stepped st JOIN scope sc ON sc.series_id = st.series_id
    WHERE st.ts - st.prev_ts > sc.step
      AND NOT EXISTS (SELECT 1 FROM history_gaps g
                       WHERE g.series_id = st.series_id
                         AND g.from_ts <= st.prev_ts + sc.step AND g.to_ts >= st.ts - sc.step)
),
all_gaps AS (
    SELECT series_id, from_ts, to_ts, kind FROM holes
    UNION ALL
    SELECT g.series_id, g.from_ts, g.to_ts, 'expired'
    FROM history_gaps g JOIN scope sc ON sc.series_id = g.series_id
)
SELECT sc.puid,
       sc.worker_id,
       sc.worker_name,
       sc.dimension,
       g.kind,
       g.from_ts,
       g.to_ts,
       (g.to_ts - g.from_ts) / sc.step + 1 AS points_missing,
       CASE WHEN g.from_ts >= :now - sc.retention_s THEN 'yes'
            WHEN g.to_ts   >= :now - sc.retention_s THEN 'partly'
            ELSE 'no' END AS pool_still_has
FROM all_gaps g
JOIN scope sc ON sc.series_id = g.series_id
WHERE (:from IS NULL OR g.to_ts + sc.step > :from)
  AND (:to IS NULL OR g.from_ts < :to)
ORDER BY sc.puid, sc.worker_id IS NOT NULL, sc.worker_name, sc.dimension, g.from_ts;
