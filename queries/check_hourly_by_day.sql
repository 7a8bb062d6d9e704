-- check_hourly_by_day.sql: where the hourly_by_day summary differs from the tickers it sums.
--
-- Answers: is the per-day summary the reports read current? One row per (series, day) that is
-- missing, extra, or has other counts, mask or sums (beyond rounding) than
-- v_hourly_by_day_from_tickers computes from tickers now. No rows: current. After a hand edit
-- of tickers, queries/rebuild_hourly_by_day.sql repairs it.
--
-- Parameters: none. Reads: hourly_by_day, v_hourly_by_day_from_tickers (all hourly tickers).
-- Example: sqlite3 poolhist.db ".read queries/check_hourly_by_day.sql"
SELECT COALESCE(f.series_id, h.series_id) AS series_id,
       COALESCE(f.day_ts, h.day_ts)       AS day_ts,
       CASE WHEN h.series_id IS NULL THEN 'missing'
            WHEN f.series_id IS NULL THEN 'extra'
            ELSE 'differs' END            AS problem
FROM v_hourly_by_day_from_tickers f
FULL OUTER JOIN hourly_by_day h ON h.series_id = f.series_id AND h.day_ts = f.day_ts
WHERE f.series_id IS NULL OR h.series_id IS NULL
   OR f.hours_final <> h.hours_final OR f.hours_up <> h.hours_up OR f.up_mask <> h.up_mask
   OR f.final_mask <> h.final_mask
   OR abs(f.hashrate_sum - h.hashrate_sum) > 1e-9 * abs(f.hashrate_sum)
   OR abs(f.reject_weight_sum - h.reject_weight_sum) > 1e-9 * abs(f.reject_weight_sum) + 1e-12
ORDER BY series_id, day_ts;
