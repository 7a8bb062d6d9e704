-- uptime_workers.sql: the workers an uptime report covers, with what the report needs per worker
-- besides its hours (poolhist's uptime, outage and heatmap reports; src/report/uptime_scan.rs).
--
-- poolhist computes uptime.sql, outages.sql and uptime_by_day.sql in one pass: this query
-- selects the workers (same scope as those files), then it reads each worker's hourly_by_day rows
-- for its counted days once and derives the uptime, the outages and the heatmap cells from
-- up_mask in Rust, following the method in uptime.sql's header. The .sql files stay the
-- definition (tests check both give the same rows) and what to run in sqlite3.
--
-- Columns per worker: the worker (as in uptime.sql); series_id (its 1h series, NULL without one);
-- first_hour_ts (its first final 1h ticker, NULL without any); daily_before_hourly_ts and
-- gap_hours exactly as uptime.sql's columns of those names.
--
-- Parameters: as uptime.sql (:from, :to, :pool, :account, :puid, :group, :worker).
WITH
bounds AS (
    SELECT ((:from + 3599) / 3600) * 3600 AS p_from,
           ((:to + 3599) / 3600) * 3600   AS p_to
),
scope AS (
    SELECT w.account_id, w.puid, w.pool, w.account, w.worker_id, w.worker_name, w.group_name,
           w.hourly_series_id AS series_id, w.daily_series_id,
           (SELECT MIN(t.ts) FROM tickers t
             WHERE t.series_id = w.hourly_series_id AND t.provisional = 0) AS first_hour_ts
    FROM v_worker_series w
    WHERE (:pool IS NULL OR w.pool = :pool)
      AND (:account IS NULL OR w.account = :account)
      AND (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
)
SELECT sc.account_id,
       sc.puid,
       sc.pool,
       sc.account,
       sc.worker_id,
       sc.worker_name,
       sc.group_name,
       sc.series_id,
       sc.first_hour_ts,
       -- uptime.sql's condition (t.ts + 86400 > p_from AND t.ts < p_to AND t.ts + 86400 <=
       -- first_hour_ts) on the bare column, so it is one range of the primary key
       (SELECT MIN(t.ts) FROM tickers t
         WHERE t.series_id = sc.daily_series_id
           AND t.ts > b.p_from - 86400
           AND t.ts < MIN(b.p_to, IFNULL(sc.first_hour_ts - 86399, b.p_to))
           AND t.provisional = 0 AND t.hashrate_hs > 0)                   AS daily_before_hourly_ts,
       (SELECT COALESCE(SUM((MIN(g.to_ts + 3600, b.p_to) - MAX(g.from_ts, b.p_from)) / 3600), 0)
          FROM history_gaps g
         WHERE g.series_id = sc.series_id
           AND g.to_ts + 3600 > b.p_from AND g.from_ts < b.p_to)          AS gap_hours
FROM scope sc CROSS JOIN bounds b;
