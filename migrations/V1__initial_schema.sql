-- poolhist schema v1. Timestamps are Unix seconds UTC; hashrates are H/s; reject rates are fractions 0..1.

CREATE TABLE accounts (
    puid        INTEGER PRIMARY KEY,
    first_seen  INTEGER NOT NULL,   -- first ingest that reached this account
    last_seen   INTEGER NOT NULL
);

CREATE TABLE groups (
    puid        INTEGER NOT NULL REFERENCES accounts(puid),
    gid         INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (puid, gid)
) WITHOUT ROWID;

CREATE TABLE workers (
    puid            INTEGER NOT NULL REFERENCES accounts(puid),
    worker_id       INTEGER NOT NULL,
    worker_name     TEXT    NOT NULL,
    gid             INTEGER,            -- group at last listing
    status          TEXT,               -- ACTIVE / INACTIVE / DEAD at last listing
    last_share_time INTEGER,            -- as reported by the pool at last listing
    first_seen      INTEGER NOT NULL,   -- first ingest that listed this worker
    last_seen       INTEGER NOT NULL,   -- last ingest that listed it; workers that disappear are kept
    PRIMARY KEY (puid, worker_id)
) WITHOUT ROWID;

-- One row per history stream: the account (worker_id NULL) or a worker, at one dimension.
CREATE TABLE series (
    series_id       INTEGER PRIMARY KEY,
    puid            INTEGER NOT NULL REFERENCES accounts(puid),
    worker_id       INTEGER,            -- NULL for the account-level series
    dimension       TEXT    NOT NULL CHECK (dimension IN ('1h', '1d')),
    watermark_ts    INTEGER,            -- newest completed slot the pool has answered for; runs resume here minus a late window
    last_synced_at  INTEGER,            -- when a run last finished this series
    FOREIGN KEY (puid, worker_id) REFERENCES workers(puid, worker_id)
);
CREATE UNIQUE INDEX series_by_key ON series (puid, IFNULL(worker_id, 'account'), dimension);

CREATE TABLE tickers (
    series_id    INTEGER NOT NULL REFERENCES series(series_id),
    ts           INTEGER NOT NULL,      -- start of the hour / day the point covers
    hashrate_hs  REAL    NOT NULL,      -- accepted hashrate, H/s
    reject_rate  REAL    NOT NULL,      -- fraction 0..1 (the pool sends a percentage)
    provisional  INTEGER NOT NULL DEFAULT 0 CHECK (provisional IN (0, 1)), -- live point, replaced next run
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

-- History the pool had already deleted before poolhist could copy it.
CREATE TABLE history_gaps (
    series_id    INTEGER NOT NULL REFERENCES series(series_id),
    from_ts      INTEGER NOT NULL,      -- first missing point
    to_ts        INTEGER NOT NULL,      -- last missing point (inclusive)
    reason       TEXT    NOT NULL,      -- 'expired': the pool no longer keeps it
    detected_at  INTEGER NOT NULL,
    run_id       INTEGER REFERENCES ingest_runs(run_id),
    PRIMARY KEY (series_id, from_ts)
) WITHOUT ROWID;

CREATE TABLE ingest_runs (
    run_id           INTEGER PRIMARY KEY,
    started_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    status           TEXT    NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    puids            TEXT    NOT NULL,  -- comma-separated
    series_synced    INTEGER NOT NULL DEFAULT 0,
    requests         INTEGER NOT NULL DEFAULT 0,
    tickers_fetched  INTEGER NOT NULL DEFAULT 0,
    rows_new         INTEGER NOT NULL DEFAULT 0,
    rows_updated     INTEGER NOT NULL DEFAULT 0,
    tickers_rejected INTEGER NOT NULL DEFAULT 0,
    gaps_found       INTEGER NOT NULL DEFAULT 0,
    error            TEXT
);

CREATE VIEW v_workers AS
SELECT w.puid,
       w.worker_id,
       w.worker_name,
       w.gid  AS group_id,
       g.name AS group_name,
       w.status,
       w.first_seen,
       w.last_seen
FROM workers w
LEFT JOIN groups g ON g.puid = w.puid AND g.gid = w.gid;

CREATE VIEW v_tickers AS
SELECT s.puid,
       s.worker_id,
       w.worker_name,
       s.dimension,
       t.ts,
       strftime('%Y-%m-%dT%H:%M:%SZ', t.ts, 'unixepoch') AS time_utc,
       t.hashrate_hs,
       t.reject_rate,
       t.provisional
FROM tickers t
JOIN series s ON s.series_id = t.series_id
LEFT JOIN workers w ON w.puid = s.puid AND w.worker_id = s.worker_id;

CREATE VIEW v_gaps AS
SELECT s.puid,
       s.worker_id,
       w.worker_name,
       s.dimension,
       gp.from_ts,
       gp.to_ts,
       strftime('%Y-%m-%dT%H:%M:%SZ', gp.from_ts, 'unixepoch') AS from_utc,
       strftime('%Y-%m-%dT%H:%M:%SZ', gp.to_ts, 'unixepoch')   AS to_utc,
       gp.reason,
       gp.detected_at
FROM history_gaps gp
JOIN series s ON s.series_id = gp.series_id
LEFT JOIN workers w ON w.puid = s.puid AND w.worker_id = s.worker_id;
