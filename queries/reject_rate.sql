-- reject_rate.sql: accept-weighted reject rate per worker over a period, worst first.
--
-- Answers: what share of the work each worker sent was rejected, weighting every point by the
-- hashes it accepted (never a plain mean of percentages).
--
-- How:  reject_rate = sum(hashrate_hs * seconds * reject_rate) / sum(hashrate_hs * seconds)
-- over the period's non-provisional 1h tickers (seconds = 3600: the README's
-- sum(hashrate_hs * reject_rate) / sum(hashrate_hs)). Where a worker has no final hourly point
-- on a UTC day that lies wholly inside the period, its final 1d ticker for that day stands in
-- (seconds = 86400, so a day weighs what its 24 hours would). hours_1h / days_1d / source say
-- which was used. accepted_hashes and reject_weight are the two sums, so groups and accounts
-- aggregate exactly: rate = sum(reject_weight) / sum(accepted_hashes).
-- A worker with no accepted hashes in the period has reject_rate NULL (listed last).
-- The final hourly points of whole UTC days inside the period are read as their hourly_by_day
-- row (one per worker and day instead of 24; the same sums); tickers only for the partial days
-- at the period's edges and for the daily points.
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
WITH
-- the whole UTC days inside the period are [day_lo, day_hi) (empty when day_lo = day_hi); the
-- hourly tickers outside them, [:from, head_to) and [day_hi, :to), are the partial edge days
bounds AS MATERIALIZED (
    SELECT day_lo, MAX(day_lo, (:to / 86400) * 86400) AS day_hi, MIN(day_lo, :to) AS head_to
    FROM (SELECT ((:from + 86399) / 86400) * 86400 AS day_lo)
),
scope AS MATERIALIZED (
    SELECT w.account_id, w.puid, w.pool, w.account, w.worker_id, w.worker_name, w.group_name,
           w.hourly_series_id AS hourly_series, w.daily_series_id AS daily_series
    FROM v_worker_series w
    WHERE (:pool IS NULL OR w.pool = :pool)
      AND (:account IS NULL OR w.account = :account)
      AND (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
hourly_parts AS (
    -- whole days: the summary; the partial edge days: the tickers. Each part is read series by
    -- series on its primary key range (no sort)
    SELECT b.series_id,
           SUM(b.hashrate_sum * 3600.0)      AS accepted_hashes,
           SUM(b.reject_weight_sum * 3600.0) AS reject_weight,
           SUM(b.hours_final)                AS hours_1h
    FROM hourly_by_day b
    WHERE b.series_id IN (SELECT hourly_series FROM scope)
      AND b.day_ts >= (SELECT day_lo FROM bounds) AND b.day_ts < (SELECT day_hi FROM bounds)
    GROUP BY b.series_id
    UNION ALL
    SELECT t.series_id, SUM(t.hashrate_hs * 3600.0), SUM(t.hashrate_hs * 3600.0 * t.reject_rate),
           COUNT(*)
    FROM tickers t
    WHERE t.series_id IN (SELECT hourly_series FROM scope)
      AND t.ts >= :from AND t.ts < (SELECT head_to FROM bounds) AND t.provisional = 0
    GROUP BY t.series_id
    UNION ALL
    SELECT t.series_id, SUM(t.hashrate_hs * 3600.0), SUM(t.hashrate_hs * 3600.0 * t.reject_rate),
           COUNT(*)
    FROM tickers t
    WHERE t.series_id IN (SELECT hourly_series FROM scope)
      AND t.ts >= (SELECT day_hi FROM bounds) AND t.ts < :to AND t.provisional = 0
    GROUP BY t.series_id
),
hourly AS (
    SELECT series_id, SUM(accepted_hashes) AS accepted_hashes, SUM(reject_weight) AS reject_weight,
           SUM(hours_1h) AS hours_1h
    FROM hourly_parts
    GROUP BY series_id
),
daily AS (
    -- days wholly inside the period on which the worker has no final hourly point: for a 1d
    -- ticker at UTC midnight that is a missing summary row; one at the pool's own midnight
    -- spans two UTC days, so its hours are looked up in the tickers
    SELECT sc.daily_series AS series_id,
           SUM(t.hashrate_hs * 86400.0)                 AS accepted_hashes,
           SUM(t.hashrate_hs * 86400.0 * t.reject_rate) AS reject_weight,
           COUNT(*)                                     AS days_1d
    FROM scope sc
    JOIN tickers t
      ON t.series_id = sc.daily_series AND t.ts >= :from AND t.ts <= :to - 86400
    WHERE t.provisional = 0
      AND CASE WHEN t.ts % 86400 = 0
               THEN NOT EXISTS (SELECT 1 FROM hourly_by_day b
                                 WHERE b.series_id = sc.hourly_series AND b.day_ts = t.ts)
               ELSE NOT EXISTS (SELECT 1 FROM tickers h
                                 WHERE h.series_id = sc.hourly_series AND h.provisional = 0
                                   AND h.ts >= t.ts AND h.ts < t.ts + 86400)
          END
    GROUP BY sc.daily_series
),
per_worker AS (
    SELECT sc.account_id, sc.puid, sc.pool, sc.account, sc.worker_id, sc.worker_name,
           sc.group_name,
           COALESCE(h.accepted_hashes, 0) + COALESCE(d.accepted_hashes, 0) AS accepted_hashes,
           COALESCE(h.reject_weight, 0) + COALESCE(d.reject_weight, 0)     AS reject_weight,
           COALESCE(h.hours_1h, 0)                                         AS hours_1h,
           COALESCE(d.days_1d, 0)                                          AS days_1d
    FROM scope sc
    LEFT JOIN hourly h ON h.series_id = sc.hourly_series
    LEFT JOIN daily d  ON d.series_id = sc.daily_series
)
SELECT account_id,
       puid,
       pool,
       account,
       worker_id,
       worker_name,
       group_name,
       CASE WHEN accepted_hashes > 0 THEN reject_weight / accepted_hashes END AS reject_rate,
       accepted_hashes,
       reject_weight,
       hours_1h,
       days_1d,
       CASE WHEN hours_1h > 0 AND days_1d > 0 THEN '1h+1d'
            WHEN hours_1h > 0 THEN '1h'
            WHEN days_1d > 0 THEN '1d'
            ELSE 'none' END                                                AS source
FROM per_worker
ORDER BY reject_rate IS NULL, reject_rate DESC, accepted_hashes DESC, worker_name,
         account_id, worker_id;
