-- queries/duckdb/reject_rate.sql: accept-weighted reject rate per worker over a period, worst
-- first, read from the Parquet export (`poolhist export parquet --out DIR`). Same numbers as
-- `poolhist report reject-rate` (--by worker; its group and account totals are sums of these
-- rows) / queries/reject_rate.sql.
--
-- Definitions (as queries/reject_rate.sql):
--   reject_rate = sum(hashrate_hs * seconds * reject_rate) / sum(hashrate_hs * seconds)
-- over the worker's non-provisional 1h tickers with from_ts <= ts < to_ts (seconds = 3600),
-- plus its non-provisional 1d tickers lying wholly inside the period (from_ts <= ts and
-- ts + 86400 <= to_ts) whose 24 hours hold no final 1h ticker of the worker (seconds = 86400).
-- queries/reject_rate.sql tests that with the hourly_by_day row of the day for a 1d ticker at UTC
-- midnight and with the tickers of [ts, ts + 86400) for one at another hour (a pool's own
-- midnight); both are "no final 1h ticker in [ts, ts + 86400)", which is what is tested here.
-- reject_rate is NULL when no hashes were accepted. accepted_hashes and reject_weight are the
-- two sums, so groups and accounts aggregate exactly: sum(reject_weight) / sum(accepted_hashes).
-- hours_1h / days_1d / source say which points were used; mean_hashrate_hs is what the CLI
-- prints: accepted_hashes / (hours_1h * 3600 + days_1d * 86400).
--
-- Only the tickers are read (hourly_by_day would give the same sums for whole days).
-- All time arithmetic is on Unix seconds (BIGINT); nothing depends on the session TimeZone.
--
-- Parameters (DuckDB variables; an unset variable is NULL):
--   poolhist_dir  required. The export directory (the one holding tickers/ and workers/).
--   from_ts       required, inclusive. Unix seconds UTC (poolhist passes whole hours).
--   to_ts         required, exclusive. Unix seconds UTC (poolhist caps it at the current hour).
--   pool          'cloverpool' / 'foundry'; NULL = every pool.
--   account       the account as its pool names it ('1001', 'farm1'); NULL = every account.
--   group_name    a group name or numeric group id (as text); NULL = every group.
--   worker_glob   worker name GLOB pattern (case-sensitive; * ? [abc]); NULL = every worker.
--
-- Output (one row per worker): puid, pool, account, worker_id, worker_name, group_name,
-- reject_rate, mean_hashrate_hs, accepted_hashes, reject_weight, hours_1h, days_1d, source.
--
-- Example (October 2026, the Foundry account farm1):
--   duckdb -c "SET VARIABLE poolhist_dir = '/srv/poolhist-parquet';
--              SET VARIABLE from_ts = 1790812800; SET VARIABLE to_ts = 1793491200;
--              SET VARIABLE pool = 'foundry'; SET VARIABLE account = 'farm1';" \
--          -c ".read queries/duckdb/reject_rate.sql"
--   python3 tests/duckdb/run_queries.py --dir /srv/poolhist-parquet \
--          --from 1790812800 --to 1793491200 --pool foundry --account farm1 --query reject_rate
WITH
params AS (
    SELECT CAST(getvariable('from_ts') AS BIGINT)     AS from_ts,
           CAST(getvariable('to_ts') AS BIGINT)       AS to_ts,
           CAST(getvariable('pool') AS VARCHAR)       AS pool,
           CAST(getvariable('account') AS VARCHAR)    AS account,
           CAST(getvariable('group_name') AS VARCHAR) AS group_name,
           CAST(getvariable('worker_glob') AS VARCHAR) AS worker_glob,
           -- the UTC months (partition values) the period's points lie in: only their files are
           -- read. make_timestamp(microseconds) is a TIMESTAMP without time zone: no TimeZone
           strftime(make_timestamp(CAST(getvariable('from_ts') AS BIGINT) * 1000000), '%Y-%m')
             AS from_month,
           strftime(make_timestamp((CAST(getvariable('to_ts') AS BIGINT) - 1) * 1000000), '%Y-%m')
             AS to_month
),
-- ---- the export: the only engine-specific part (see README.md for Spark SQL / Trino) -------
tickers AS NOT MATERIALIZED (
    SELECT pool, account, dimension, month, worker_id,
           CAST(epoch(ts) AS BIGINT) AS ts, hashrate_hs, reject_rate, provisional
    FROM read_parquet(getvariable('poolhist_dir')
                        || '/tickers/pool=*/account=*/dimension=*/month=*/part-*.parquet',
                      hive_partitioning = true,
                      hive_types = {'pool': VARCHAR, 'account': VARCHAR,
                                    'dimension': VARCHAR, 'month': VARCHAR})
),
workers AS (
    SELECT pool, account, worker_id, worker_name, group_id, group_name
    FROM read_parquet(getvariable('poolhist_dir')
                        || '/workers/pool=*/account=*/part-*.parquet',
                      hive_partitioning = true,
                      hive_types = {'pool': VARCHAR, 'account': VARCHAR})
),
-- ------------------------------------------------------------------------------------------
scope AS (
    SELECT w.pool, w.account, w.worker_id, w.worker_name, w.group_name
    FROM workers w CROSS JOIN params p
    WHERE (p.pool IS NULL OR w.pool = p.pool)
      AND (p.account IS NULL OR w.account = p.account)
      AND (p.group_name IS NULL OR w.group_name = p.group_name
           OR CAST(w.group_id AS VARCHAR) = p.group_name)
      AND (p.worker_glob IS NULL OR w.worker_name GLOB p.worker_glob)
),
-- final 1h tickers of the workers in scope inside the period (all the daily fallback test
-- needs too: a daily point used lies wholly inside the period)
final_hours AS (
    SELECT t.pool, t.account, t.worker_id, t.ts, t.hashrate_hs, t.reject_rate
    FROM tickers t
    JOIN scope s ON s.pool = t.pool AND s.account = t.account AND s.worker_id = t.worker_id
    CROSS JOIN params p
    WHERE t.dimension = '1h' AND NOT t.provisional
      AND t.month >= p.from_month AND t.month <= p.to_month
      AND t.ts >= p.from_ts AND t.ts < p.to_ts
),
hourly AS (
    SELECT pool, account, worker_id,
           SUM(hashrate_hs * 3600.0)               AS accepted_hashes,
           SUM(hashrate_hs * 3600.0 * reject_rate) AS reject_weight,
           COUNT(*)                                AS hours_1h
    FROM final_hours
    GROUP BY pool, account, worker_id
),
-- per worker and UTC day with final 1h tickers: the first and the last of them
hour_days AS (
    SELECT pool, account, worker_id, ts - ts % 86400 AS day_ts,
           MIN(ts) AS first_ts, MAX(ts) AS last_ts
    FROM final_hours
    GROUP BY pool, account, worker_id, ts - ts % 86400
),
-- final 1d tickers wholly inside the period whose 24 hours [ts, ts + 86400) hold no final 1h
-- ticker. Those hours lie in two UTC days at most: the 1d ticker's own (a final hour at or
-- after ts) and the next (a final hour before ts + 86400; never for a 1d ticker at midnight).
-- Two equi-joins on the day instead of a range join; the LEFT JOINs finding nothing = none.
daily_points AS (
    SELECT d.pool, d.account, d.worker_id, d.ts, d.hashrate_hs, d.reject_rate
    FROM tickers d
    JOIN scope s ON s.pool = d.pool AND s.account = d.account AND s.worker_id = d.worker_id
    CROSS JOIN params p
    LEFT JOIN hour_days same_day
      ON same_day.pool = d.pool AND same_day.account = d.account
     AND same_day.worker_id = d.worker_id
     AND same_day.day_ts = d.ts - d.ts % 86400 AND same_day.last_ts >= d.ts
    LEFT JOIN hour_days next_day
      ON next_day.pool = d.pool AND next_day.account = d.account
     AND next_day.worker_id = d.worker_id
     AND next_day.day_ts = d.ts - d.ts % 86400 + 86400 AND next_day.first_ts < d.ts + 86400
    WHERE d.dimension = '1d' AND NOT d.provisional
      AND d.month >= p.from_month AND d.month <= p.to_month
      AND d.ts >= p.from_ts AND d.ts <= p.to_ts - 86400
      AND same_day.day_ts IS NULL AND next_day.day_ts IS NULL
),
daily AS (
    SELECT pool, account, worker_id,
           SUM(hashrate_hs * 86400.0)               AS accepted_hashes,
           SUM(hashrate_hs * 86400.0 * reject_rate) AS reject_weight,
           COUNT(*)                                 AS days_1d
    FROM daily_points
    GROUP BY pool, account, worker_id
),
per_worker AS (
    SELECT s.pool, s.account, s.worker_id, s.worker_name, s.group_name,
           COALESCE(h.accepted_hashes, 0) + COALESCE(d.accepted_hashes, 0) AS accepted_hashes,
           COALESCE(h.reject_weight, 0) + COALESCE(d.reject_weight, 0)     AS reject_weight,
           COALESCE(h.hours_1h, 0)                                         AS hours_1h,
           COALESCE(d.days_1d, 0)                                          AS days_1d
    FROM scope s
    LEFT JOIN hourly h ON h.pool = s.pool AND h.account = s.account AND h.worker_id = s.worker_id
    LEFT JOIN daily d  ON d.pool = s.pool AND d.account = s.account AND d.worker_id = s.worker_id
)
SELECT CASE WHEN pool = 'cloverpool' THEN TRY_CAST(account AS BIGINT) END AS puid,
       pool,
       account,
       worker_id,
       worker_name,
       group_name,
       CASE WHEN accepted_hashes > 0 THEN reject_weight / accepted_hashes END AS reject_rate,
       CASE WHEN hours_1h + days_1d > 0
            THEN accepted_hashes / CAST(hours_1h * 3600 + days_1d * 86400 AS DOUBLE)
            END                                                            AS mean_hashrate_hs,
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
         pool, account, worker_id;
