-- queries/duckdb/uptime.sql: per-worker uptime over a period, read from the Parquet export
-- (`poolhist export parquet --out DIR`). Same numbers as `poolhist report uptime` /
-- queries/uptime.sql.
--
-- Definitions (as queries/uptime.sql): the counted hours of a worker are
-- [max(period start rounded up to the hour, its first non-provisional 1h ticker ever),
--  period end rounded up to the hour). An hour is up when its non-provisional 1h ticker has
-- hashrate_hs > 0; every other counted hour (zero hashrate, provisional only, no row) is down.
-- outages = maximal runs of down counted hours; longest_outage_hours = the longest run.
-- uptime = hours_up / hours_total, NULL when no hour is counted. Every worker of the workers
-- table appears, also one without any hourly point (hours_total 0, uptime NULL).
--
-- How: only the up hours are read (final 1h tickers with hashrate_hs > 0 inside the counted
-- hours). Two sentinels per worker, an "up" hour just before the first counted hour and one at
-- the end, turn every down run into the gap between two consecutive up hours (LAG), so no hour
-- grid is generated. All time arithmetic is on Unix seconds (BIGINT); nothing depends on the
-- session TimeZone.
--
-- Parameters (DuckDB variables; an unset variable is NULL):
--   poolhist_dir  required. The export directory (the one holding tickers/ and workers/).
--   from_ts       required. Unix seconds UTC; the first counted hour starts at or after it.
--   to_ts         required, exclusive. Unix seconds UTC, no later than the start of the current
--                 hour (poolhist caps it there: hours in the future are not down).
--   pool          'cloverpool' / 'foundry'; NULL = every pool.
--   account       the account as its pool names it ('1001', 'farm1'); NULL = every account.
--   group_name    a group name or numeric group id (as text); NULL = every group.
--   worker_glob   worker name GLOB pattern (case-sensitive; * ? [abc]); NULL = every worker.
--
-- Output (one row per worker): puid, pool, account, worker_id, worker_name, group_name,
-- hours_up, hours_total, uptime, outages, longest_outage_hours, first_hour_ts,
-- counted_from_ts, daily_before_hourly_ts (timestamps as Unix seconds).
-- Not available from the export: account_id (SQLite surrogate key) and gap_hours (the export
-- has no history_gaps table).
--
-- Example (October 2026, every account):
--   duckdb -c "SET VARIABLE poolhist_dir = '/srv/poolhist-parquet';
--              SET VARIABLE from_ts = 1790812800; SET VARIABLE to_ts = 1793491200;" \
--          -c ".read queries/duckdb/uptime.sql"
--   python3 tests/duckdb/run_queries.py --dir /srv/poolhist-parquet \
--          --from 1790812800 --to 1793491200 --query uptime
WITH
params AS (
    SELECT CAST(getvariable('from_ts') AS BIGINT)     AS from_ts,
           CAST(getvariable('to_ts') AS BIGINT)       AS to_ts,
           CAST(getvariable('pool') AS VARCHAR)       AS pool,
           CAST(getvariable('account') AS VARCHAR)    AS account,
           CAST(getvariable('group_name') AS VARCHAR) AS group_name,
           CAST(getvariable('worker_glob') AS VARCHAR) AS worker_glob
),
-- the period rounded up to whole hours (Unix seconds >= 0: x % 3600 is the offset in the hour)
bounds AS (
    SELECT p_from, p_to,
           -- the UTC months (partition values) holding the period's hours and the daily points
           -- overlapping it: only their files are read for those. make_timestamp(microseconds)
           -- is a TIMESTAMP without time zone: no TimeZone involved
           strftime(make_timestamp((p_from - 86400) * 1000000), '%Y-%m') AS from_month,
           strftime(make_timestamp((p_to - 1) * 1000000), '%Y-%m')       AS to_month
    FROM (SELECT from_ts + (3600 - from_ts % 3600) % 3600 AS p_from,
                 to_ts + (3600 - to_ts % 3600) % 3600     AS p_to
          FROM params)
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
    -- wk: a small integer key per worker, so the per-hour joins and windows below do not hash
    -- or sort the text keys
    SELECT ROW_NUMBER() OVER (ORDER BY w.pool, w.account, w.worker_id) AS wk,
           w.pool, w.account, w.worker_id, w.worker_name, w.group_name
    FROM workers w CROSS JOIN params p
    WHERE (p.pool IS NULL OR w.pool = p.pool)
      AND (p.account IS NULL OR w.account = p.account)
      AND (p.group_name IS NULL OR w.group_name = p.group_name
           OR CAST(w.group_id AS VARCHAR) = p.group_name)
      AND (p.worker_glob IS NULL OR w.worker_name GLOB p.worker_glob)
),
-- final (non-provisional) hourly points of the workers in scope: the first one ever, and the up
-- hours of the period
first_hour AS (
    SELECT t.pool, t.account, t.worker_id, MIN(t.ts) AS first_hour_ts
    FROM tickers t
    WHERE t.dimension = '1h' AND NOT t.provisional AND t.worker_id IS NOT NULL
    GROUP BY t.pool, t.account, t.worker_id
),
counted AS (
    -- start_ts is NULL when the worker has no final hourly point at all
    SELECT s.wk, s.pool, s.account, s.worker_id, s.worker_name, s.group_name, f.first_hour_ts,
           b.p_from, b.p_to,
           CASE WHEN f.first_hour_ts IS NULL THEN NULL
                WHEN f.first_hour_ts > b.p_from THEN f.first_hour_ts
                ELSE b.p_from END AS start_ts,
           b.p_to AS end_ts
    FROM scope s
    CROSS JOIN bounds b
    LEFT JOIN first_hour f
      ON f.pool = s.pool AND f.account = s.account AND f.worker_id = s.worker_id
),
up_hours AS (
    SELECT c.wk, t.ts
    FROM tickers t
    CROSS JOIN bounds b
    JOIN counted c ON c.pool = t.pool AND c.account = t.account AND c.worker_id = t.worker_id
    WHERE t.dimension = '1h' AND NOT t.provisional AND t.hashrate_hs > 0
      AND t.month >= b.from_month AND t.month <= b.to_month
      AND t.ts >= b.p_from AND t.ts < b.p_to
      AND t.ts >= c.start_ts AND t.ts < c.end_ts
),
up_counts AS (
    SELECT wk, COUNT(*) AS hours_up
    FROM up_hours
    GROUP BY wk
),
marks AS (
    -- the up hours plus two sentinels: an up hour just before the first counted hour and one
    -- at the end; the down hours are exactly the holes between consecutive marks
    SELECT wk, ts FROM up_hours
    UNION ALL
    SELECT wk, start_ts - 3600 FROM counted WHERE start_ts < end_ts
    UNION ALL
    SELECT wk, end_ts FROM counted WHERE start_ts < end_ts
),
holes AS (
    SELECT wk, ts - LAG(ts) OVER (PARTITION BY wk ORDER BY ts) - 3600 AS down_s
    FROM marks
),
outage_stats AS (
    SELECT wk, COUNT(*) AS outages, CAST(MAX(down_s) / 3600 AS BIGINT) AS longest_outage_hours
    FROM holes
    WHERE down_s > 0
    GROUP BY wk
),
daily_before AS (
    -- evidence that hourly history was not collected for part of the period: a day of non-zero
    -- final daily data inside the period wholly before the first hourly point
    SELECT c.wk, MIN(t.ts) AS daily_before_hourly_ts
    FROM counted c
    CROSS JOIN bounds b
    JOIN tickers t ON t.pool = c.pool AND t.account = c.account AND t.worker_id = c.worker_id
    WHERE t.dimension = '1d' AND NOT t.provisional AND t.hashrate_hs > 0
      AND t.month >= b.from_month AND t.month <= b.to_month
      AND t.ts + 86400 > c.p_from AND t.ts < c.p_to
      AND (c.first_hour_ts IS NULL OR t.ts + 86400 <= c.first_hour_ts)
    GROUP BY c.wk
),
per_worker AS (
    SELECT c.*,
           COALESCE(u.hours_up, 0) AS hours_up,
           CASE WHEN c.end_ts > c.start_ts
                THEN CAST((c.end_ts - c.start_ts) / 3600 AS BIGINT) ELSE 0 END AS hours_total,
           COALESCE(o.outages, 0) AS outages,
           COALESCE(o.longest_outage_hours, 0) AS longest_outage_hours,
           d.daily_before_hourly_ts
    FROM counted c
    LEFT JOIN up_counts u    ON u.wk = c.wk
    LEFT JOIN outage_stats o ON o.wk = c.wk
    LEFT JOIN daily_before d ON d.wk = c.wk
)
SELECT CASE WHEN pool = 'cloverpool' THEN TRY_CAST(account AS BIGINT) END AS puid,
       pool,
       account,
       worker_id,
       worker_name,
       group_name,
       hours_up,
       hours_total,
       CASE WHEN hours_total > 0
            THEN CAST(hours_up AS DOUBLE) / CAST(hours_total AS DOUBLE) END AS uptime,
       outages,
       longest_outage_hours,
       first_hour_ts,
       CASE WHEN end_ts > start_ts THEN start_ts END AS counted_from_ts,
       daily_before_hourly_ts
FROM per_worker
ORDER BY uptime IS NULL, uptime, worker_name, pool, account, worker_id;
