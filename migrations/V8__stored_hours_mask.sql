-- poolhist schema v8: which hours of a day hold a final point, beside how many. A day with fewer
-- than 24 final points is where history can be missing; with the mask the gap search reads no
-- tickers for such a day (at 10,000 workers a month's gap search read 436,000 tickers for it).
-- Only those days are summed again from their tickers; a day with 24 final points has them all.
ALTER TABLE hourly_by_day ADD COLUMN final_mask INTEGER NOT NULL DEFAULT 0; -- bit h: hour h is final

UPDATE hourly_by_day SET final_mask = 16777215 WHERE hours_final = 24;
UPDATE hourly_by_day
SET final_mask = (SELECT SUM(1 << ((t.ts % 86400) / 3600)) FROM tickers t
                   WHERE t.series_id = hourly_by_day.series_id AND t.provisional = 0
                     AND t.ts >= hourly_by_day.day_ts AND t.ts < hourly_by_day.day_ts + 86400)
WHERE hours_final <> 24;

-- The summary's definition gains the column (at the end: a view's columns are kept).
DROP VIEW v_hourly_by_day_from_tickers;
CREATE VIEW v_hourly_by_day_from_tickers AS
SELECT t.series_id,
       (t.ts / 86400) * 86400                                                     AS day_ts,
       COUNT(*)                                                                   AS hours_final,
       SUM(t.hashrate_hs > 0)                                                     AS hours_up,
       SUM(CASE WHEN t.hashrate_hs > 0 THEN 1 << ((t.ts % 86400) / 3600) ELSE 0 END) AS up_mask,
       SUM(t.hashrate_hs)                                                         AS hashrate_sum,
       SUM(t.hashrate_hs * t.reject_rate)                                         AS reject_weight_sum,
       SUM(1 << ((t.ts % 86400) / 3600))                                          AS final_mask
FROM tickers t
JOIN series s ON s.series_id = t.series_id
WHERE s.dimension = '1h' AND t.provisional = 0
GROUP BY t.series_id, t.ts / 86400;
