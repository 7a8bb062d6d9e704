-- rebuild_hourly_by_day.sql: recomputes the hourly_by_day summary from tickers.
--
-- hourly_by_day holds, per hourly series and UTC day, the count of final hourly points, how many
-- were up (hashrate_hs > 0) and which (a 24-bit mask), and the sums the reject rate needs. The
-- ingest keeps it current; run this after editing or deleting tickers by hand, since the
-- reports read the summary for whole days.
--
-- It also marks every partition of `poolhist export parquet` as changed: hand edits may be
-- anywhere, so the next export rewrites them all.
--
-- Parameters: none. Reads: v_hourly_by_day_from_tickers. Writes: hourly_by_day, data_changes,
-- partition_changes (one transaction).
-- Example: sqlite3 poolhist.db ".read queries/rebuild_hourly_by_day.sql"
BEGIN;
DELETE FROM hourly_by_day;
INSERT INTO hourly_by_day (series_id, day_ts, hours_final, hours_up, up_mask, hashrate_sum,
                           reject_weight_sum, final_mask)
SELECT series_id, day_ts, hours_final, hours_up, up_mask, hashrate_sum, reject_weight_sum,
       final_mask
FROM v_hourly_by_day_from_tickers;
UPDATE data_changes SET seq = seq + 1;
UPDATE partition_changes SET changed_seq = (SELECT seq FROM data_changes);
COMMIT;
