-- poolhist schema v3: what the ingest has learned about each account's pool from its answers,
-- per kind of series: how far back the pool keeps history, and the newest slot it has published.
-- The --pool-* flags are only the first guess; the reports' retention (gaps.pool_still_has)
-- reads this table and falls back to those documented defaults where nothing was learned yet.

CREATE TABLE pool_knowledge (
    puid               INTEGER NOT NULL REFERENCES accounts(puid),
    scope              TEXT    NOT NULL CHECK (scope IN ('account', 'worker')),
    dimension          TEXT    NOT NULL CHECK (dimension IN ('1h', '1d')),
    retention_slots    INTEGER,  -- most slots the pool was seen to keep: newest minus oldest served, + 1
    oldest_served_ts   INTEGER,  -- the oldest slot the pool served when retention was learned
    newest_served_ts   INTEGER,  -- the pool's publication horizon: newest slot it served (account series)
    learned_at         INTEGER NOT NULL,  -- our clock at the run that learned it
    PRIMARY KEY (puid, scope, dimension)
) WITHOUT ROWID;

-- The retention each series' pool keeps, learned where known, else the documented defaults
-- (worker 1h 72 h, account 1h 720 h, worker 1d 90 d, account 1d 365 d).
CREATE VIEW v_pool_retention AS
SELECT s.series_id,
       s.puid,
       s.worker_id,
       s.dimension,
       CASE WHEN s.worker_id IS NULL THEN 'account' ELSE 'worker' END AS scope,
       COALESCE(k.retention_slots,
                CASE WHEN s.worker_id IS NULL
                     THEN CASE s.dimension WHEN '1h' THEN 720 ELSE 365 END
                     ELSE CASE s.dimension WHEN '1h' THEN 72 ELSE 90 END
                END) AS retention_slots,
       k.retention_slots IS NOT NULL AS learned,
       k.newest_served_ts
FROM series s
LEFT JOIN pool_knowledge k
       ON k.puid = s.puid
      AND k.scope = CASE WHEN s.worker_id IS NULL THEN 'account' ELSE 'worker' END
      AND k.dimension = s.dimension;
