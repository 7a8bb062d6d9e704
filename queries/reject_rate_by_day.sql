-- reject_rate_by_day.sql: accept-weighted reject rate per UTC day over the selected workers,
-- worst day first.
--
-- How: the same points as reject_rate.sql (final 1h tickers; a worker's final 1d ticker for a
-- day wholly inside the period where it has no final hourly point that day), grouped by UTC day:
--   reject_rate = sum(hashrate_hs * seconds * reject_rate) / sum(hashrate_hs * seconds)
-- workers_on_1d counts the workers whose day came from the daily fallback.
--
-- Parameters (Unix seconds UTC):
--   :from    required, inclusive.   :to  required, exclusive.
--   :puid    account id, NULL = all.   :group  group name or numeric id, NULL = all.
--   :worker  worker name GLOB pattern (case-sensitive; * ? [abc]), NULL = all.
--
-- Reads: v_workers, series, tickers.
WITH RECURSIVE
days(day_ts) AS (
    SELECT (:from / 86400) * 86400 WHERE :from < :to
    UNION ALL
    SELECT day_ts + 86400 FROM days WHERE day_ts + 86400 < :to
),
-- the workers' series, materialised so SQLite indexes it for the joins below
worker_series AS MATERIALIZED (
    SELECT puid, worker_id, dimension, series_id FROM series WHERE worker_id IS NOT NULL
),
scope AS MATERIALIZED (
    SELECT w.puid, w.worker_id,
           h.series_id AS hourly_series, d.series_id AS daily_series
    FROM v_workers w
    LEFT JOIN worker_series h
           ON h.puid = w.puid AND h.worker_id = w.worker_id AND h.dimension = '1h'
    LEFT JOIN worker_series d
           ON d.puid = w.puid AND d.worker_id = w.worker_id AND d.dimension = '1d'
    WHERE (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
cells AS MATERIALIZED (
    -- every worker x day: its final hourly points inside the period that day, summed on the
    -- tickers primary key range (no sort); NULL when it has none
    SELECT sc.hourly_series, sc.daily_series, d.day_ts,
           (SELECT SUM(t.hashrate_hs * 3600.0) FROM tickers t
             WHERE t.series_id = sc.hourly_series AND t.provisional = 0
               AND t.ts >= MAX(d.day_ts, :from) AND t.ts < MIN(d.day_ts + 86400, :to)) AS hashes_1h,
           (SELECT SUM(t.hashrate_hs * 3600.0 * t.reject_rate) FROM tickers t
             WHERE t.series_id = sc.hourly_series AND t.provisional = 0
               AND t.ts >= MAX(d.day_ts, :from) AND t.ts < MIN(d.day_ts + 86400, :to)) AS weight_1h
    FROM days d CROSS JOIN scope sc
),
points AS (
    SELECT c.day_ts, c.hashes_1h AS hashes, c.weight_1h AS weight, 0 AS on_1d
    FROM cells c WHERE c.hashes_1h IS NOT NULL
    UNION ALL
    -- no hourly point that day and the day wholly inside the period: the daily point
    SELECT c.day_ts, t.hashrate_hs * 86400.0, t.hashrate_hs * 86400.0 * t.reject_rate, 1
    FROM cells c
    JOIN tickers t ON t.series_id = c.daily_series AND t.ts = c.day_ts AND t.provisional = 0
    WHERE c.hashes_1h IS NULL AND c.day_ts >= :from AND c.day_ts + 86400 <= :to
)
SELECT day_ts,
       CASE WHEN SUM(hashes) > 0 THEN SUM(weight) / SUM(hashes) END AS reject_rate,
       SUM(hashes)   AS accepted_hashes,
       SUM(weight)   AS reject_weight,
       SUM(on_1d)    AS workers_on_1d
FROM points
GROUP BY day_ts
ORDER BY reject_rate IS NULL, reject_rate DESC, day_ts;
