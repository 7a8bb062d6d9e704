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
scope AS (
    SELECT w.puid, w.worker_id, w.worker_name, w.group_name, s.series_id,
           (SELECT MIN(t.ts) FROM tickers t
             WHERE t.series_id = s.series_id AND t.provisional = 0) AS first_hour_ts
    FROM v_workers w
    LEFT JOIN series s
           ON s.puid = w.puid AND s.worker_id = w.worker_id AND s.dimension = '1h'
    WHERE (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
counted AS (
    SELECT sc.*, MAX(b.p_from, sc.first_hour_ts) AS start_ts, b.p_to AS end_ts
    FROM scope sc CROSS JOIN bounds b
),
up_by_day AS (
    SELECT c.series_id, (t.ts / 86400) * 86400 AS day_ts, COUNT(*) AS hours_up
    FROM counted c
    JOIN tickers t
      ON t.series_id = c.series_id AND t.ts >= c.start_ts AND t.ts < c.end_ts
    WHERE t.provisional = 0 AND t.hashrate_hs > 0
    GROUP BY c.series_id, day_ts
),
cells AS (
    SELECT c.puid, c.worker_id, c.worker_name, c.group_name, c.series_id, d.day_ts,
           MAX(0, (MIN(d.day_ts + 86400, c.end_ts) - MAX(d.day_ts, c.start_ts)) / 3600)
               AS hours_counted
    FROM counted c CROSS JOIN days d
)
SELECT x.puid,
       x.worker_id,
       x.worker_name,
       x.group_name,
       x.day_ts,
       COALESCE(u.hours_up, 0)                                   AS hours_up,
       COALESCE(x.hours_counted, 0)                              AS hours_counted,
       CASE WHEN x.hours_counted > 0
            THEN COALESCE(u.hours_up, 0) * 1.0 / x.hours_counted END AS uptime
FROM cells x
LEFT JOIN up_by_day u ON u.series_id = x.series_id AND u.day_ts = x.day_ts
ORDER BY x.worker_name, x.puid, x.worker_id, x.day_ts;
