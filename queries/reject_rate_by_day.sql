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
WITH
scope AS (
    SELECT w.puid, w.worker_id,
           h.series_id AS hourly_series, d.series_id AS daily_series
    FROM v_workers w
    LEFT JOIN series h ON h.puid = w.puid AND h.worker_id = w.worker_id AND h.dimension = '1h'
    LEFT JOIN series d ON d.puid = w.puid AND d.worker_id = w.worker_id AND d.dimension = '1d'
    WHERE (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
points AS (
    SELECT (t.ts / 86400) * 86400 AS day_ts, sc.worker_id, t.hashrate_hs * 3600.0 AS hashes,
           t.reject_rate, 1 AS hours_1h, NULL AS daily_worker
    FROM scope sc
    JOIN tickers t ON t.series_id = sc.hourly_series AND t.ts >= :from AND t.ts < :to
    WHERE t.provisional = 0
    UNION ALL
    SELECT t.ts, sc.worker_id, t.hashrate_hs * 86400.0, t.reject_rate, 0, sc.puid || ':' || sc.worker_id
    FROM scope sc
    JOIN tickers t ON t.series_id = sc.daily_series AND t.ts >= :from AND t.ts + 86400 <= :to
    WHERE t.provisional = 0
      AND NOT EXISTS (SELECT 1 FROM tickers h
                       WHERE h.series_id = sc.hourly_series AND h.provisional = 0
                         AND h.ts >= t.ts AND h.ts < t.ts + 86400)
)
SELECT day_ts,
       CASE WHEN SUM(hashes) > 0 THEN SUM(hashes * reject_rate) / SUM(hashes) END AS reject_rate,
       SUM(hashes)                  AS accepted_hashes,
       SUM(hashes * reject_rate)    AS reject_weight,
       SUM(hours_1h)                AS hours_1h,
       COUNT(DISTINCT daily_worker) AS workers_on_1d
FROM points
GROUP BY day_ts
ORDER BY reject_rate IS NULL, reject_rate DESC, day_ts;
