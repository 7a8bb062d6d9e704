-- queries/duckdb/reject_rate_by_day.sql: accept-weighted reject rate per UTC day over the
-- selected workers, worst day first, read from the Parquet export
-- (`poolhist export parquet --out DIR`). Same numbers as
-- `poolhist report reject-rate --by day` / queries/reject_rate_by_day.sql.
--
-- Definitions (as queries/reject_rate_by_day.sql): the points of queries/duckdb/reject_rate.sql
-- grouped by the UTC day they start in:
--   reject_rate = sum(hashrate_hs * seconds * reject_rate) / sum(hashrate_hs * seconds)
-- - every non-provisional 1h ticker with from_ts <= ts < to_ts (seconds = 3600);
-- - a worker's non-provisional 1d ticker AT UTC MIDNIGHT of a day wholly inside the period on
--   which the worker has no final 1h ticker (seconds = 86400). As in the SQLite query, a 1d
--   ticker at another hour (a pool's own midnight) is NOT used per day, although the per-worker
--   query uses it: it spans two UTC days.
-- A day appears when it has any point; reject_rate is NULL when its points accepted nothing.
-- workers_on_1d = how many of the day's points are daily ones (workers on the daily fallback).
-- mean_hashrate_hs is what the CLI prints: accepted_hashes / 86400.
-- All time arithmetic is on Unix seconds (BIGINT): day_ts = ts - ts % 86400 is the UTC day,
-- whatever the session TimeZone.
--
-- Parameters (DuckDB variables; an unset variable is NULL):
--   poolhist_dir  required. The export directory (the one holding tickers/ and workers/).
--   from_ts       required, inclusive. Unix seconds UTC.
--   to_ts         required, exclusive. Unix seconds UTC (poolhist caps it at the current hour).
--   pool          'cloverpool' / 'foundry'; NULL = every pool.
--   account       the account as its pool names it ('1001', 'farm1'); NULL = every account.
--   group_name    a group name or numeric group id (as text); NULL = every group.
--   worker_glob   worker name GLOB pattern (case-sensitive; * ? [abc]); NULL = every worker.
--
-- Output (one row per UTC day): day_ts (Unix seconds of 00:00 UTC), reject_rate,
-- mean_hashrate_hs, accepted_hashes, reject_weight, workers_on_1d.
--
-- Example (October 2026, every account):
--   duckdb -c "SET VARIABLE poolhist_dir = '/srv/poolhist-parquet';
--              SET VARIABLE from_ts = 1790812800; SET VARIABLE to_ts = 1793491200;" \
--          -c ".read queries/duckdb/reject_rate_by_day.sql"
--   python3 tests/duckdb/run_queries.py --dir /srv/poolhist-parquet \
--          --from 1790812800 --to 1793491200 --query reject_rate_by_day
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
    SELECT w.pool, w.account, w.worker_id
    FROM workers w CROSS JOIN params p
    WHERE (p.pool IS NULL OR w.pool = p.pool)
      AND (p.account IS NULL OR w.account = p.account)
      AND (p.group_name IS NULL OR w.group_name = p.group_name
           OR CAST(w.group_id AS VARCHAR) = p.group_name)
      AND (p.worker_glob IS NULL OR w.worker_name GLOB p.worker_glob)
),
final_hours AS (
    SELECT t.pool, t.account, t.worker_id, t.ts, t.hashrate_hs, t.reject_rate
    FROM tickers t
    JOIN scope s ON s.pool = t.pool AND s.account = t.account AND s.worker_id = t.worker_id
    CROSS JOIN params p
    WHERE t.dimension = '1h' AND NOT t.provisional
      AND t.month >= p.from_month AND t.month <= p.to_month
      AND t.ts >= p.from_ts AND t.ts < p.to_ts
),
-- the UTC days on which a worker has final 1h tickers
hour_days AS (
    SELECT DISTINCT pool, account, worker_id, ts - ts % 86400 AS day_ts
    FROM final_hours
),
points AS (
    SELECT h.ts - h.ts % 86400 AS day_ts,
           h.hashrate_hs * 3600.0                 AS hashes,
           h.hashrate_hs * 3600.0 * h.reject_rate AS weight,
           0                                      AS on_1d
    FROM final_hours h
    UNION ALL
    -- a whole UTC day inside the period without a final 1h ticker: the daily point at its
    -- midnight (anti-join: the LEFT JOIN finds no final hour of that day)
    SELECT d.ts, d.hashrate_hs * 86400.0, d.hashrate_hs * 86400.0 * d.reject_rate, 1
    FROM tickers d
    JOIN scope s ON s.pool = d.pool AND s.account = d.account AND s.worker_id = d.worker_id
    CROSS JOIN params p
    LEFT JOIN hour_days h
      ON h.pool = d.pool AND h.account = d.account AND h.worker_id = d.worker_id
     AND h.day_ts = d.ts
    WHERE d.dimension = '1d' AND NOT d.provisional AND d.ts % 86400 = 0
      AND d.month >= p.from_month AND d.month <= p.to_month
      AND d.ts >= p.from_ts AND d.ts <= p.to_ts - 86400
      AND h.day_ts IS NULL
)
SELECT day_ts,
       CASE WHEN SUM(hashes) > 0 THEN SUM(weight) / SUM(hashes) END AS reject_rate,
       SUM(hashes) / 86400.0                                         AS mean_hashrate_hs,
       SUM(hashes)                                                   AS accepted_hashes,
       SUM(weight)                                                   AS reject_weight,
       SUM(on_1d)                                                    AS workers_on_1d
FROM points
GROUP BY day_ts
ORDER BY reject_rate IS NULL, reject_rate DESC, day_ts;
