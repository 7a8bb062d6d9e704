-- uptime_by_day.sql: per worker and UTC day, the share of counted hours that were up (the
-- monthly report's heatmap).
--
-- How: same definition as uptime.sql. Counted hours of a worker are [max(period start, its first
-- final 1h ticker), period end); an hour is up when its non-provisional 1h ticker has
-- hashrate_hs > 0. The days of the period come from a recursive CTE, so a day without any row
-- still appears (all down, or not counted if before the worker's first hour / after the end).
-- The up hours come from hourly_by_day, one primary key probe per worker and day, no tickers:
-- hours_up on days counted whole; on the edge days a popcount of the counted hours as a mask
-- AND up_mask (bit h set exactly when hour h is up). No row: no hour up.
-- uptime is NULL on days with no counted hour.
--
-- poolhist computes these rows without running this file: one pass over hourly_by_day shared by
-- uptime.sql, outages.sql and uptime_by_day.sql, formula by formula the same (src/report/
-- uptime_scan.rs; tests/report_uptime_props.rs checks both against a recomputation).
--
-- Parameters (Unix seconds UTC):
--   :from    required; first counted hour starts at or after it. Days are UTC days.
--   :to      required, exclusive; no later than the start of the current hour.
--   :pool    pool name ('cloverpool', 'foundry'), NULL = all.
--   :account account as its pool names it, NULL = all (any pool unless :pool says which).
--   :puid    CloverPool puid, NULL = no puid filter (older scripts).
--   :group   group name or id, NULL = all.
--   :worker  worker name GLOB pattern, NULL = all.
--
-- Reads: v_worker_series, hourly_by_day (the hours), tickers (first hourly point).
WITH RECURSIVE
bounds AS (
    SELECT ((:from + 3599) / 3600) * 3600 AS p_from,
           ((:to + 3599) / 3600) * 3600   AS p_to
),
days(day_ts) AS (
    SELECT (p_from / 86400) * 86400 FROM bounds WHERE p_from < p_to
    UNION ALL
    SELECT day_ts + 86400 FROM days, bounds WHERE day_ts + 86400 < p_to
),
scope AS (
    SELECT w.account_id, w.puid, w.pool, w.account, w.worker_id, w.worker_name, w.group_name,
           w.hourly_series_id AS series_id,
           (SELECT MIN(t.ts) FROM tickers t
             WHERE t.series_id = w.hourly_series_id AND t.provisional = 0) AS first_hour_ts
    FROM v_worker_series w
    WHERE (:pool IS NULL OR w.pool = :pool)
      AND (:account IS NULL OR w.account = :account)
      AND (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
counted AS MATERIALIZED (
    -- in output order: the final ORDER BY then only sorts the days of each worker
    SELECT sc.*, MAX(b.p_from, sc.first_hour_ts) AS start_ts, b.p_to AS end_ts
    FROM scope sc CROSS JOIN bounds b
    ORDER BY sc.worker_name, sc.account_id, sc.worker_id
),
cells AS (
    -- every worker x day, with the day's hourly_by_day row (one primary key probe) and whether
    -- all its hours are counted (NULL when the worker has no hourly point)
    SELECT c.account_id, c.puid, c.pool, c.account, c.worker_id, c.worker_name, c.group_name,
           c.start_ts, c.end_ts, d.day_ts,
           d.day_ts >= c.start_ts AND d.day_ts + 86400 <= c.end_ts AS whole_day,
           h.hours_up, h.up_mask
    FROM counted c
    CROSS JOIN days d
    LEFT JOIN hourly_by_day h ON h.series_id = c.series_id AND h.day_ts = d.day_ts
),
spans AS (
    -- each cell's counted hours [from_ts, to_ts): the whole day, part of it, or none
    SELECT *, MAX(day_ts, start_ts) AS from_ts, MIN(day_ts + 86400, end_ts) AS to_ts
    FROM cells
),
counts AS (
    -- whole days: hours_up as stored (no row: 0). Other days: popcount of the counted hours'
    -- mask (bits [first, last]) & up_mask, 12 bits at a time (multiply, mask, mod 31).
    SELECT account_id, puid, pool, account, worker_id, worker_name, group_name, day_ts,
           CASE WHEN whole_day THEN IFNULL(hours_up, 0)
                WHEN from_ts < to_ts THEN
                     ((((m & 0xFFF) * 0x1001001001001) & 0x84210842108421) % 31
                    + ((((m >> 12) & 0xFFF) * 0x1001001001001) & 0x84210842108421) % 31)
                ELSE 0 END AS hours_up,
           CASE WHEN whole_day THEN 24
                ELSE IFNULL(MAX(0, (to_ts - from_ts) / 3600), 0) END AS hours_counted
    FROM (SELECT *, ((1 << ((to_ts - day_ts) / 3600)) - (1 << ((from_ts - day_ts) / 3600)))
                    & IFNULL(up_mask, 0) AS m
          FROM spans)
)
SELECT account_id, puid, pool, account, worker_id, worker_name, group_name, day_ts, hours_up,
       hours_counted,
       CASE WHEN hours_counted > 0 THEN hours_up * 1.0 / hours_counted END AS uptime
FROM counts
ORDER BY worker_name, account_id, worker_id, day_ts;
