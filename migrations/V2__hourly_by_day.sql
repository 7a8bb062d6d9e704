-- poolhist schema v2: a per-day summary of the final hourly points, so reports over months read
-- one row per worker and day instead of 24. Derived from tickers: the ingest keeps it current in
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
