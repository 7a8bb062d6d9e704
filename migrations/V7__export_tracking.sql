-- poolhist schema v7: what changed where, so `poolhist export parquet` rewrites only the
-- partitions whose data changed since it last wrote them.
--
-- A partition of the export is one account's series of one dimension over one UTC month (the
-- tickers, and for '1h' the hourly_by_day rows, of that month). Every write that changes its
-- rows stamps it with a new value of data_changes.seq, in the same transaction as the rows. An
-- export remembers, per target directory, the stamp each partition had when it wrote it.

-- One row: the last stamp handed out. Stamps only grow.
CREATE TABLE data_changes (
    seq INTEGER NOT NULL
);
INSERT INTO data_changes (seq) VALUES (1);

CREATE TABLE partition_changes (
    account_id   INTEGER NOT NULL REFERENCES accounts(account_id),
    dimension    TEXT    NOT NULL CHECK (dimension IN ('1h', '1d')),
    month_ts     INTEGER NOT NULL,   -- start of the UTC month
    changed_seq  INTEGER NOT NULL,   -- data_changes.seq of the last change to its rows
    PRIMARY KEY (account_id, dimension, month_ts)
) WITHOUT ROWID;

-- The history already stored: every month from an account's first to its last point of the
-- dimension, stamped 1 (two primary-key probes per series, no scan of the tickers).
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
SELECT account_id, dimension, month_ts, 1 FROM months;

-- What an export wrote, per target directory and partition file.
CREATE TABLE export_partitions (
    target          TEXT    NOT NULL,  -- the export directory, absolute
    path            TEXT    NOT NULL,  -- the partition's file, relative to target
    account_id      INTEGER NOT NULL REFERENCES accounts(account_id),
    changed_seq     INTEGER,           -- tickers, hourly_by_day: the partition's stamp written
    content_sha256  TEXT,              -- workers: a digest of the rows written
    rows            INTEGER NOT NULL,
    bytes           INTEGER NOT NULL,
    exported_at     INTEGER NOT NULL,
    PRIMARY KEY (target, path)
) WITHOUT ROWID;
