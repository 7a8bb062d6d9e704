-- reject_rate_by_day.sql: accept-weighted reject rate per UTC day over the selected workers,
-- worst day first.
--
-- How: the same points as reject_rate.sql (final 1h tickers; a worker's final 1d ticker for a
-- day wholly inside the period where it has no final hourly point that day), grouped by UTC day:
--   reject_rate = sum(hashrate_hs * seconds * reject_rate) / sum(hashrate_hs * seconds)
-- workers_on_1d counts the workers whose day came from the daily fallback.
-- A worker's final hourly points on a whole UTC day inside the period are its hourly_by_day row
-- for that day (no row: no final hourly point, so the daily fallback applies); only the
-- partial days at the period's edges are summed from the tickers.
--
-- Parameters (Unix seconds UTC):
--   :from    required, inclusive.   :to  required, exclusive.
--   :pool    pool name ('cloverpool', 'foundry'), NULL = all.
--   :account account as its pool names it, NULL = all (any pool unless :pool says which).
--   :puid    CloverPool puid, NULL = no puid filter (older scripts).
--   :group   group name or numeric id, NULL = all.
--   :worker  worker name GLOB pattern (case-sensitive; * ? [abc]), NULL = all.
--
-- Reads: v_worker_series, hourly_by_day, tickers.
WITH RECURSIVE
days(day_ts) AS (
    SELECT (:from / 86400) * 86400 WHERE :from < :to
    UNION ALL
    SELECT day_ts + 86400 FROM days WHERE day_ts + 86400 < :to
),
-- the whole UTC days inside the period are [day_lo, day_hi) (empty when day_lo = day_hi); any
-- other day of `days` is a partial day at an edge
bounds AS MATERIALIZED (
    SELECT day_lo, MAX(day_lo, (:to / 86400) * 86400) AS day_hi
    FROM (SELECT ((:from + 86399) / 86400) * 86400 AS day_lo)
),
scope AS MATERIALIZED (
    SELECT w.account_id, w.worker_id,
           w.hourly_series_id AS hourly_series, w.daily_series_id AS daily_series
    FROM v_worker_series w
    WHERE (:pool IS NULL OR w.pool = :pool)
      AND (:account IS NULL OR w.account = :account)
      AND (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
edge_cells AS MATERIALIZED (
    -- every worker x partial day: its final hourly points inside the period that day, summed on
    -- the tickers primary key range (no sort); NULL when it has none
    SELECT d.day_ts,
           (SELECT SUM(t.hashrate_hs * 3600.0) FROM tickers t
             WHERE t.series_id = sc.hourly_series AND t.provisional = 0
               AND t.ts >= MAX(d.day_ts, :from) AND t.ts < MIN(d.day_ts + 86400, :to)) AS hashes_1h,
           (SELECT SUM(t.hashrate_hs * 3600.0 * t.reject_rate) FROM tickers t
             WHERE t.series_id = sc.hourly_series AND t.provisional = 0
               AND t.ts >= MAX(d.day_ts, :from) AND t.ts < MIN(d.day_ts + 86400, :to)) AS weight_1h
    FROM days d CROSS JOIN scope sc
    WHERE d.day_ts < (SELECT day_lo FROM bounds) OR d.day_ts >= (SELECT day_hi FROM bounds)
),
points AS (
    SELECT c.day_ts, c.hashes_1h AS hashes, c.weight_1h AS weight, 0 AS on_1d
    FROM edge_cells c WHERE c.hashes_1h IS NOT NULL
    UNION ALL
    -- whole days: one summary row per worker and day with final hourly points
    SELECT b.day_ts, b.hashrate_sum * 3600.0, b.reject_weight_sum * 3600.0, 0
    FROM scope sc
    CROSS JOIN hourly_by_day b             -- CROSS: scope first, the summary by primary key
      ON b.series_id = sc.hourly_series
     AND b.day_ts >= (SELECT day_lo FROM bounds) AND b.day_ts < (SELECT day_hi FROM bounds)
    UNION ALL
    -- a whole day without a summary row (no final hourly point): the daily point
    SELECT t.ts, t.hashrate_hs * 86400.0, t.hashrate_hs * 86400.0 * t.reject_rate, 1
    FROM scope sc
    CROSS JOIN tickers t                   -- CROSS: scope first, the tickers by primary key
      ON t.series_id = sc.daily_series
     AND t.ts >= (SELECT day_lo FROM bounds) AND t.ts < (SELECT day_hi FROM bounds)
    WHERE t.provisional = 0 AND t.ts % 86400 = 0
      AND NOT EXISTS (SELECT 1 FROM hourly_by_day b
                       WHERE b.series_id = sc.hourly_series AND b.day_ts = t.ts)
)
SELECT day_ts,
       CASE WHEN SUM(hashes) > 0 THEN SUM(weight) / SUM(hashes) END AS reject_rate,
       SUM(hashes)   AS accepted_hashes,
       SUM(weight)   AS reject_weight,
       SUM(on_1d)    AS workers_on_1d
FROM points
GROUP BY day_ts
ORDER BY reject_rate IS NULL, reject_rate DESC, day_ts;
