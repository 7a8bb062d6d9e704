-- poolhist schema v2: a per-day summary of the final hourly points, so reports over months read
-- one row per worker and day instead of 24; and each worker with its two series, the selection
-- every report starts from. Derived from tickers: the ingest keeps it current in
-- the same transaction as the tickers it summarises; queries/rebuild_hourly_by_day.sql rebuilds
-- it from scratch after hand edits of tickers.

CREATE TABLE hourly_by_day (
    series_id          INTEGER NOT NULL REFERENCES series(series_id), -- a '1h' series
    day_ts             INTEGER NOT NULL,  -- start of the UTC day
    hours_final        INTEGER NOT NULL,  -- non-provisional 1h tickers that day (1..24)
    hours_up           INTEGER NOT NULL,  -- of them, hashrate_hs > 0
    up_mask            INTEGER NOT NULL,  -- bit h set when hour h (0 = 00:00 UTC) is up
    hashrate_sum       REAL    NOT NULL,  -- sum of hashrate_hs, H/s
    reject_weight_sum  REAL    NOT NULL,  -- sum of hashrate_hs * reject_rate
    PRIMARY KEY (series_id, day_ts)
) WITHOUT ROWID;

-- What hourly_by_day must hold, summed from tickers: the migration's backfill, the rebuild
-- script, and the consistency check read it.
CREATE VIEW v_hourly_by_day_from_tickers AS
SELECT t.series_id,
       (t.ts / 86400) * 86400                                                     AS day_ts,
       COUNT(*)                                                                   AS hours_final,
       SUM(t.hashrate_hs > 0)                                                     AS hours_up,
       SUM(CASE WHEN t.hashrate_hs > 0 THEN 1 << ((t.ts % 86400) / 3600) ELSE 0 END) AS up_mask,
       SUM(t.hashrate_hs)                                                         AS hashrate_sum,
       SUM(t.hashrate_hs * t.reject_rate)                                         AS reject_weight_sum
FROM tickers t
JOIN series s ON s.series_id = t.series_id
WHERE s.dimension = '1h' AND t.provisional = 0
GROUP BY t.series_id, t.ts / 86400;

INSERT INTO hourly_by_day (series_id, day_ts, hours_final, hours_up, up_mask, hashrate_sum,
                           reject_weight_sum)
SELECT series_id, day_ts, hours_final, hours_up, up_mask, hashrate_sum, reject_weight_sum
FROM v_hourly_by_day_from_tickers;

-- series_by_key is on IFNULL(worker_id, ...), which a plain worker_id join cannot use.
CREATE INDEX series_by_worker ON series (puid, worker_id, dimension);

CREATE VIEW v_worker_series AS
SELECT w.puid,
       w.worker_id,
       w.worker_name,
       w.group_id,
       w.group_name,
       w.status,
       h.series_id AS hourly_series_id,
       d.series_id AS daily_series_id
FROM v_workers w
LEFT JOIN series h ON h.puid = w.puid AND h.worker_id = w.worker_id AND h.dimension = '1h'
LEFT JOIN series d ON d.puid = w.puid AND d.worker_id = w.worker_id AND d.dimension = '1d';
