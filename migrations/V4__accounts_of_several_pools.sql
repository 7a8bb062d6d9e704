-- poolhist schema v4: accounts of several pools. An account is keyed by (pool, account): the
-- pool's name ('cloverpool', 'foundry') and the account as that pool names it (a CloverPool puid
-- as text, a Foundry sub-account name). Tables refer to it by `account_id`, a surrogate key; a
-- database of v3 keeps its puids as account ids, so every row keeps its meaning.
--
-- The public views keep every column they had, in the same order, and gain `pool` and `account`
-- at the end; `puid` keeps its meaning for CloverPool and is NULL for a pool without one.
-- What each pool is (its units, its reject definition, what it documents it keeps) is data in
-- `pools`, written by the ingest from the pool's own module.

DROP VIEW v_pool_retention;
DROP VIEW v_worker_series;
DROP VIEW v_gaps;
DROP VIEW v_tickers;
DROP VIEW v_workers;

ALTER TABLE accounts RENAME COLUMN puid TO account_id;
ALTER TABLE accounts ADD COLUMN pool TEXT NOT NULL DEFAULT 'cloverpool';
ALTER TABLE accounts ADD COLUMN account TEXT;
ALTER TABLE accounts ADD COLUMN puid INTEGER;
UPDATE accounts SET account = CAST(account_id AS TEXT), puid = account_id;
CREATE UNIQUE INDEX accounts_by_name ON accounts (pool, account);

ALTER TABLE groups RENAME COLUMN puid TO account_id;
ALTER TABLE workers RENAME COLUMN puid TO account_id;
ALTER TABLE series RENAME COLUMN puid TO account_id;
ALTER TABLE pool_knowledge RENAME COLUMN puid TO account_id;

-- The accounts a run collected, as pool:account (`puids` keeps the CloverPool puids).
ALTER TABLE ingest_runs ADD COLUMN accounts TEXT;
UPDATE ingest_runs SET accounts = (
    WITH RECURSIVE split(item, rest) AS (
        SELECT '', puids || ','
        UNION ALL
        SELECT substr(rest, 1, instr(rest, ',') - 1), substr(rest, instr(rest, ',') + 1)
        FROM split WHERE rest <> ''
    )
    SELECT group_concat('cloverpool:' || item, ',') FROM split WHERE item <> ''
);

-- One row per pool poolhist has collected from: facts from the pool's documentation, kept
-- current by the ingest. Retention is in slots of the dimension (hours, days); what a pool was
-- seen to keep is in pool_knowledge and wins over these.
CREATE TABLE pools (
    pool               TEXT PRIMARY KEY,
    name               TEXT    NOT NULL,  -- display name
    hashrate_source    TEXT    NOT NULL,  -- how the API's figures become hashrate_hs (H/s)
    reject_definition  TEXT    NOT NULL,  -- what reject_rate is a fraction of
    worker_hours       INTEGER NOT NULL,  -- documented retention of each kind of series
    account_hours      INTEGER NOT NULL,
    worker_days        INTEGER NOT NULL,
    account_days       INTEGER NOT NULL   -- a pool keeping it forever: the first run's reach
) WITHOUT ROWID;

INSERT INTO pools VALUES
    ('cloverpool', 'CloverPool (BTC.com API v1)',
     'share-history accept count x 10^unit of shares_unit (H/s)',
     'reject share of submitted shares, as the pool reports it (percent / 100)',
     72, 720, 90, 365);


CREATE VIEW v_workers AS
SELECT a.puid,
       w.worker_id,
       w.worker_name,
       w.gid  AS group_id,
       g.name AS group_name,
       w.status,
       w.first_seen,
       w.last_seen,
       a.pool,
       a.account,
       w.account_id
FROM workers w
JOIN accounts a ON a.account_id = w.account_id
LEFT JOIN groups g ON g.account_id = w.account_id AND g.gid = w.gid;

CREATE VIEW v_tickers AS
SELECT a.puid,
       s.worker_id,
       w.worker_name,
       s.dimension,
       t.ts,
       strftime('%Y-%m-%dT%H:%M:%SZ', t.ts, 'unixepoch') AS time_utc,
       t.hashrate_hs,
       t.reject_rate,
       t.provisional,
       a.pool,
       a.account
FROM tickers t
JOIN series s ON s.series_id = t.series_id
JOIN accounts a ON a.account_id = s.account_id
LEFT JOIN workers w ON w.account_id = s.account_id AND w.worker_id = s.worker_id;

CREATE VIEW v_gaps AS
SELECT a.puid,
       s.worker_id,
       w.worker_name,
       s.dimension,
       gp.from_ts,
       gp.to_ts,
       strftime('%Y-%m-%dT%H:%M:%SZ', gp.from_ts, 'unixepoch') AS from_utc,
       strftime('%Y-%m-%dT%H:%M:%SZ', gp.to_ts, 'unixepoch')   AS to_utc,
       gp.reason,
       gp.detected_at,
       a.pool,
       a.account
FROM history_gaps gp
JOIN series s ON s.series_id = gp.series_id
JOIN accounts a ON a.account_id = s.account_id
LEFT JOIN workers w ON w.account_id = s.account_id AND w.worker_id = s.worker_id;

CREATE VIEW v_worker_series AS
SELECT w.puid,
       w.worker_id,
       w.worker_name,
       w.group_id,
       w.group_name,
       w.status,
       h.series_id AS hourly_series_id,
       d.series_id AS daily_series_id,
       w.pool,
       w.account,
       w.account_id
FROM v_workers w
LEFT JOIN series h ON h.account_id = w.account_id AND h.worker_id = w.worker_id AND h.dimension = '1h'
LEFT JOIN series d ON d.account_id = w.account_id AND d.worker_id = w.worker_id AND d.dimension = '1d';

-- The retention each series' pool keeps: learned where known, else what its pool documents.
CREATE VIEW v_pool_retention AS
SELECT s.series_id,
       a.puid,
       s.worker_id,
       s.dimension,
       CASE WHEN s.worker_id IS NULL THEN 'account' ELSE 'worker' END AS scope,
       COALESCE(k.retention_slots,
                CASE WHEN s.worker_id IS NULL
                     THEN CASE s.dimension WHEN '1h' THEN p.account_hours ELSE p.account_days END
                     ELSE CASE s.dimension WHEN '1h' THEN p.worker_hours ELSE p.worker_days END
                END,
                CASE WHEN s.worker_id IS NULL
                     THEN CASE s.dimension WHEN '1h' THEN 720 ELSE 365 END
                     ELSE CASE s.dimension WHEN '1h' THEN 72 ELSE 90 END
                END) AS retention_slots,
       k.retention_slots IS NOT NULL AS learned,
       k.newest_served_ts,
       a.pool,
       a.account
FROM series s
JOIN accounts a ON a.account_id = s.account_id
LEFT JOIN pools p ON p.pool = a.pool
LEFT JOIN pool_knowledge k
       ON k.account_id = s.account_id
      AND k.scope = CASE WHEN s.worker_id IS NULL THEN 'account' ELSE 'worker' END
      AND k.dimension = s.dimension;
