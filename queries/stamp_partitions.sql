-- stamp_partitions.sql: marks every partition of `poolhist export parquet` that holds data as
-- changed, including months no write has stamped (rows inserted by hand, a database restored
-- from elsewhere). `export parquet --full` runs it first; run it yourself after editing
-- tickers by hand, so the next plain export rewrites what the edit touched.
--
-- A partition is one account's series of one dimension over one UTC month: every month from
-- the account's first to its last point of that dimension (two primary-key probes per series,
-- no scan of the tickers).
--
-- Parameters: none. Reads: series, tickers. Writes: data_changes, partition_changes.
-- Example: sqlite3 poolhist.db ".read queries/stamp_partitions.sql"
UPDATE data_changes SET seq = seq + 1;
INSERT INTO partition_changes (account_id, dimension, month_ts, changed_seq)
WITH RECURSIVE
spans AS (
    SELECT s.account_id, s.dimension,
           (SELECT MIN(t.ts) FROM tickers t WHERE t.series_id = s.series_id) AS lo,
           (SELECT MAX(t.ts) FROM tickers t WHERE t.series_id = s.series_id) AS hi
    FROM series s
),
months(account_id, dimension, month_ts, hi) AS (
    SELECT account_id, dimension,
           CAST(strftime('%s', MIN(lo), 'unixepoch', 'start of month') AS INTEGER), MAX(hi)
    FROM spans WHERE lo IS NOT NULL
    GROUP BY account_id, dimension
    UNION ALL
    SELECT account_id, dimension,
           CAST(strftime('%s', month_ts, 'unixepoch', '+1 month') AS INTEGER), hi
    FROM months
    WHERE CAST(strftime('%s', month_ts, 'unixepoch', '+1 month') AS INTEGER) <= hi
)
SELECT account_id, dimension, month_ts, (SELECT seq FROM data_changes) FROM months WHERE true
ON CONFLICT (account_id, dimension, month_ts) DO UPDATE SET changed_seq = excluded.changed_seq;
UPDATE partition_changes SET changed_seq = (SELECT seq FROM data_changes);
