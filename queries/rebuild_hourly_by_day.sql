-- rebuild_hourly_by_day.sql: recomputes the hourly_by_day summary from tickers.
--
-- hourly_by_day holds, per hourly series and UTC day, the count of final hourly points, how many
-- were up (hashrate_hs > 0) and which (a 24-bit mask), and the sums the reject rate needs. The
-- ingest keeps it current; run this after editing or deleting tickers by hand, since the
-- reports read the summary for whole days.
--
-- Parameters: none. Writes: hourly_by_day (one transaction).
-- Example: sqlite3 poolhist.db ".read queries/rebuild_hourly_by_day.sql"
BEGIN;
DELETE FROM hourly_by_day;
INSERT INTO hourly_by_day (series_id, day_ts, hours_final, hours_up, up_mask, hashrate_sum,
                           reject_weight_sum)
SELECT t.series_id,
       (t.ts / 86400) * 86400,
       COUNT(*),
       SUM(t.hashrate_hs > 0),
       SUM(CASE WHEN t.hashrate_hs > 0 THEN 1 << ((t.ts % 86400) / 3600) ELSE 0 END),
       SUM(t.hashrate_hs),
       SUM(t.hashrate_hs * t.reject_rate)
FROM tickers t
JOIN series s ON s.series_id = t.series_id
WHERE s.dimension = '1h' AND t.provisional = 0
GROUP BY t.series_id, t.ts / 86400;
COMMIT;
