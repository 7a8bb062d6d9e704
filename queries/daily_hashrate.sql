-- daily_hashrate.sql: the account's accepted hashrate per UTC day (the monthly report's chart).
--
-- Answers: how much did the account hash each day of the period?
--
-- How: from the account-level series (series.worker_id IS NULL). A day uses the account's final
-- 1d ticker (the pool's own daily mean); where there is none yet, the mean of the day's final 1h
-- tickers (hours_1h says over how many hours). The selected accounts' values are summed (all
-- pools report H/s).
-- Days come from a recursive CTE, so a day with no data is a row with hashrate_hs NULL (a gap in
-- the chart, not a zero). reject_rate is accept-weighted across accounts.
--
-- Parameters (Unix seconds UTC):
--   :from  required; days from the UTC day containing it.   :to  required, exclusive.
--   :pool     pool name ('cloverpool', 'foundry'), NULL = all pools.
--   :account  account as its pool names it, NULL = all (any pool unless :pool says which).
--   :puid     CloverPool puid, NULL = no puid filter (older scripts).
--
-- Reads: accounts, series, tickers.
WITH RECURSIVE
days(day_ts) AS (
    SELECT (:from / 86400) * 86400 WHERE :from < :to
    UNION ALL
    SELECT day_ts + 86400 FROM days WHERE day_ts + 86400 < :to
),
selected AS (
    SELECT s.account_id,
           MAX(CASE WHEN s.dimension = '1h' THEN s.series_id END) AS hourly_series,
           MAX(CASE WHEN s.dimension = '1d' THEN s.series_id END) AS daily_series
    FROM accounts a
    JOIN series s ON s.account_id = a.account_id AND s.worker_id IS NULL
    WHERE (:pool IS NULL OR a.pool = :pool)
      AND (:account IS NULL OR a.account = :account)
      AND (:puid IS NULL OR a.puid = :puid)
    GROUP BY s.account_id
),
hourly AS (
    SELECT a.account_id, (t.ts / 86400) * 86400 AS day_ts,
           AVG(t.hashrate_hs) AS hashrate_hs,
           CASE WHEN SUM(t.hashrate_hs) > 0
                THEN SUM(t.hashrate_hs * t.reject_rate) / SUM(t.hashrate_hs) END AS reject_rate,
           COUNT(*) AS hours_1h
    FROM selected a
    JOIN tickers t ON t.series_id = a.hourly_series AND t.ts >= :from AND t.ts < :to
    WHERE t.provisional = 0
    GROUP BY a.account_id, day_ts
),
per_account_day AS (
    SELECT d.day_ts, a.account_id,
           COALESCE(dt.hashrate_hs, h.hashrate_hs) AS hashrate_hs,
           CASE WHEN dt.ts IS NOT NULL THEN dt.reject_rate ELSE h.reject_rate END AS reject_rate,
           CASE WHEN dt.ts IS NOT NULL THEN '1d' WHEN h.day_ts IS NOT NULL THEN '1h' END AS source,
           CASE WHEN dt.ts IS NULL THEN h.hours_1h END AS hours_1h
    FROM days d
    CROSS JOIN selected a
    LEFT JOIN tickers dt ON dt.series_id = a.daily_series AND dt.ts = d.day_ts AND dt.provisional = 0
    LEFT JOIN hourly h ON h.account_id = a.account_id AND h.day_ts = d.day_ts
)
SELECT d.day_ts,
       SUM(p.hashrate_hs) AS hashrate_hs,
       CASE WHEN SUM(p.hashrate_hs) > 0
            THEN SUM(p.hashrate_hs * p.reject_rate) / SUM(p.hashrate_hs) END AS reject_rate,
       CASE WHEN COUNT(p.source) = 0 THEN 'none'
            WHEN MIN(p.source) = MAX(p.source) AND COUNT(p.source) = COUNT(*) THEN MIN(p.source)
            ELSE 'mixed' END AS source,
       SUM(p.hours_1h) AS hours_1h
FROM days d
LEFT JOIN per_account_day p ON p.day_ts = d.day_ts
GROUP BY d.day_ts
ORDER BY d.day_ts;
