-- queries/duckdb/rows.sql: every tickers row of the Parquet export, in a fixed order, for a
-- round-trip comparison with the SQLite database (tests/duckdb/run_queries.py --query rows).
--
-- Parameters (DuckDB variables; an unset variable is NULL):
--   poolhist_dir  required. The export directory.
--   pool          'cloverpool' / 'foundry'; NULL = every pool.
--   account       the account as its pool names it; NULL = every account.
-- (No period: every row of the selected accounts, both dimensions, provisional ones too.)
--
-- Output: pool, account, dimension, worker_id (NULL = the account's own series), ts (Unix
-- seconds), hashrate_hs, reject_rate, provisional; sorted by pool, account, dimension,
-- worker_id NULLS FIRST, ts.
--
-- Example:
--   duckdb -c "SET VARIABLE poolhist_dir = '/srv/poolhist-parquet';" \
--          -c ".read queries/duckdb/rows.sql"
WITH
tickers AS (
    SELECT pool, account, dimension, month, worker_id,
           CAST(epoch(ts) AS BIGINT) AS ts, hashrate_hs, reject_rate, provisional
    FROM read_parquet(getvariable('poolhist_dir')
                        || '/tickers/pool=*/account=*/dimension=*/month=*/part-*.parquet',
                      hive_partitioning = true,
                      hive_types = {'pool': VARCHAR, 'account': VARCHAR,
                                    'dimension': VARCHAR, 'month': VARCHAR})
)
SELECT pool, account, dimension, worker_id, ts, hashrate_hs, reject_rate, provisional
FROM tickers
WHERE (CAST(getvariable('pool') AS VARCHAR) IS NULL
       OR pool = CAST(getvariable('pool') AS VARCHAR))
  AND (CAST(getvariable('account') AS VARCHAR) IS NULL
       OR account = CAST(getvariable('account') AS VARCHAR))
ORDER BY pool, account, dimension, worker_id NULLS FIRST, ts;
