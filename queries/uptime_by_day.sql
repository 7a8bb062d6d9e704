-- uptime_by_day.sql: per worker and UTC day, the share of counted hours that were up (the
-- monthly report's heatmap).
--
-- How: same definition as uptime.sql. Counted hours of a worker are [max(period start, its first
-- final 1h ticker), period end); an hour is up when its non-provisional 1h ticker has
-- hashrate_hs > 0. The days of the period come from a recursive CTE, so a day without any row
-- still appears (all down, or not counted if before the worker's first hour / after the end).
-- uptime is NULL on days with no counted hour.
--
-- Parameters (Unix seconds UTC):
--   :from    required; first counted hour starts at or after it. Days are UTC days.
--   :to      required, exclusive; no later than the start of the current hour.
--   :puid    account id, NULL = all.   :group  group name or id, NULL = all.
--   :worker  worker name GLOB pattern, NULL = all.
--
-- Reads: v_workers, series, tickers.
WITH RECURSIVE
bounds AS (
    SELECT ((:from + 3599) / 3600) * 3600 AS p_from,
           ((:to + 3599) / 3600) * 3600   AS p_to
),
days(day_ts) AS (
    SELECT (p_from / 86400) * 86400 FROM bounds WHERE p_from < p_to
    UNION ALL
    SELECT day_ts + 86400 FROM days, bounds WHERE day_ts + 86400 < p_to
),
-- the workers' series, materialised so SQLite indexes it for the join below
worker_series AS MATERIALIZED (
    SELECT puid, worker_id, series_id FROM series WHERE worker_id IS NOT NULL AND dimension = '1h'
),
scope AS (
    SELECT w.puid, w.worker_id, w.worker_name, w.group_name, s.series_id,
           (SELECT MIN(t.ts) FROM tickers t
             WHERE t.series_id = s.series_id AND t.provisional = 0) AS first_hour_ts
    FROM v_workers w
    LEFT JOIN worker_series s ON s.puid = w.puid AND s.worker_id = w.worker_id
    WHERE (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
counted AS MATERIALIZED (
    SELECT sc.*, MAX(b.p_from, sc.first_hour_ts) AS start_ts, b.p_to AS end_ts
    FROM scope sc CROSS JOIN bounds b
),
cells AS (
    -- every worker x day; the day's counted hours are [from_ts, to_ts) (empty when none)
    SELECT c.puid, c.worker_id, c.worker_name, c.group_name, c.series_id, d.day_ts,
           MAX(d.day_ts, c.start_ts)       AS from_ts,
           MIN(d.day_ts + 86400, c.end_ts) AS to_ts
    FROM counted c CROSS JOIN days d
)
SELECT puid, worker_id, worker_name, group_name, day_ts, hours_up, hours_counted,
       CASE WHEN hours_counted > 0 THEN hours_up * 1.0 / hours_counted END AS uptime
FROM (SELECT x.puid, x.worker_id, x.worker_name, x.group_name, x.day_ts,
             -- counted on the tickers primary key range of the day (no sort)
             COALESCE((SELECT COUNT(*) FROM tickers t
                        WHERE t.series_id = x.series_id
                          AND t.ts >= x.from_ts AND t.ts < x.to_ts
                          AND t.provisional = 0 AND t.hashrate_hs > 0), 0) AS hours_up,
             COALESCE(MAX(0, (x.to_ts - x.from_ts) / 3600), 0)             AS hours_counted
      FROM cells x)
ORDER BY worker_name, puid, worker_id, day_ts;
