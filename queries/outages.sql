-- outages.sql: every outage of every worker in a period, longest first.
--
-- Answers: when was each worker down, for how long, and is it still down at the end of the
-- period?
--
-- How: same definition and the same runs of up hours ("islands") as uptime.sql. The counted
-- hours of a worker are [max(period start, its first final 1h ticker), period end); an hour is
-- up when its non-provisional 1h ticker has hashrate_hs > 0, every other counted hour is down.
-- An outage is a maximal run of down hours: the gap between two consecutive islands (LAG), the
-- run from the first counted hour to the first up hour, or from the last up hour to the period
-- end. Outages that
-- began before the period or go on after it are clipped to it: began_before_period is true when
-- the hour before the period start was down too (not up, or no row), open_at_period_end when the
-- worker is still down at the period end.
--
-- Parameters (Unix seconds UTC):
--   :from    required. First counted hour: the first starting at or after :from.
--   :to      required, exclusive; no later than the start of the current hour.
--   :puid    account id, NULL = all accounts.
--   :group   group name or numeric id, NULL = all groups.
--   :worker  worker name GLOB pattern (case-sensitive; * ? [abc]), NULL = all workers.
--
-- Reads: v_workers, series, tickers.
WITH RECURSIVE
bounds AS (
    SELECT ((:from + 3599) / 3600) * 3600 AS p_from,
           ((:to + 3599) / 3600) * 3600   AS p_to
),
-- the workers' series, materialised so SQLite indexes it for the joins below (series has no
-- plain index on worker_id)
worker_series AS MATERIALIZED (
    SELECT puid, worker_id, dimension, series_id FROM series WHERE worker_id IS NOT NULL
),
scope AS (
    SELECT w.puid, w.worker_id, w.worker_name, w.group_name,
           h.series_id AS series_id, d.series_id AS daily_series_id,
           (SELECT MIN(t.ts) FROM tickers t
             WHERE t.series_id = h.series_id AND t.provisional = 0) AS first_hour_ts
    FROM v_workers w
    LEFT JOIN worker_series h
           ON h.puid = w.puid AND h.worker_id = w.worker_id AND h.dimension = '1h'
    LEFT JOIN worker_series d
           ON d.puid = w.puid AND d.worker_id = w.worker_id AND d.dimension = '1d'
    WHERE (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
counted AS MATERIALIZED (
    -- multi-argument MAX is NULL when the worker has no hourly point at all
    SELECT sc.*, b.p_from, b.p_to,
           MAX(b.p_from, sc.first_hour_ts) AS start_ts,
           b.p_to                          AS end_ts
    FROM scope sc CROSS JOIN bounds b
),
days(day_ts) AS (
    SELECT (p_from / 86400) * 86400 FROM bounds WHERE p_from < p_to
    UNION ALL
    SELECT day_ts + 86400 FROM days, bounds WHERE day_ts + 86400 < p_to
),
up_days AS MATERIALIZED (
    -- per worker and UTC day: the day's counted hours [from_ts, to_ts) and how many were up,
    -- counted on the tickers primary key range (no sort)
    SELECT series_id, from_ts, to_ts,
           (SELECT COUNT(*) FROM tickers t
             WHERE t.series_id = x.series_id AND t.ts >= x.from_ts AND t.ts < x.to_ts
               AND t.provisional = 0 AND t.hashrate_hs > 0) AS hours_up
    FROM (SELECT c.series_id,
                 MAX(d.day_ts, c.start_ts)        AS from_ts,
                 MIN(d.day_ts + 86400, c.end_ts)  AS to_ts
          FROM counted c CROSS JOIN days d
          WHERE c.start_ts < c.end_ts
            AND d.day_ts + 86400 > c.start_ts AND d.day_ts < c.end_ts) x
),
islands AS MATERIALIZED (
    -- runs of consecutive up hours within a day. A day up in every counted hour is one run as
    -- it is; only the days up in some hours go through the row-number trick (hour index - row
    -- number is constant along a run). Most worker-days are all up or all down, so the window
    -- sees few rows.
    SELECT series_id, from_ts AS start_ts, to_ts - 3600 AS end_ts
    FROM up_days
    WHERE hours_up = (to_ts - from_ts) / 3600
    UNION ALL
    SELECT series_id, MIN(ts), MAX(ts)
    FROM (SELECT t.series_id, t.ts,
                 t.ts / 3600 - ROW_NUMBER() OVER (PARTITION BY t.series_id ORDER BY t.ts) AS run
          FROM up_days d
          CROSS JOIN tickers t
          WHERE d.hours_up > 0 AND d.hours_up < (d.to_ts - d.from_ts) / 3600
            AND t.series_id = d.series_id AND t.ts >= d.from_ts AND t.ts < d.to_ts
            AND t.provisional = 0 AND t.hashrate_hs > 0)
    GROUP BY series_id, run
),
last_up AS (
    SELECT series_id, MAX(end_ts) AS last_up_ts FROM islands GROUP BY series_id
),
down_runs AS (
    SELECT i.series_id, COALESCE(i.prev_end_ts + 3600, c.start_ts) AS start_ts, i.start_ts AS end_ts
    FROM (SELECT series_id, start_ts,
                 LAG(end_ts) OVER (PARTITION BY series_id ORDER BY start_ts) AS prev_end_ts
          FROM islands) i
    JOIN counted c ON c.series_id = i.series_id
    UNION ALL
    SELECT c.series_id, COALESCE(l.last_up_ts + 3600, c.start_ts), c.end_ts
    FROM counted c LEFT JOIN last_up l ON l.series_id = c.series_id
    WHERE c.start_ts < c.end_ts
)
SELECT c.puid,
       c.worker_id,
       c.worker_name,
       c.group_name,
       d.start_ts,
       d.end_ts,
       (d.end_ts - d.start_ts) / 3600 AS hours,
       d.start_ts = c.p_from AND c.first_hour_ts < c.p_from
         AND NOT EXISTS (SELECT 1 FROM tickers t
                          WHERE t.series_id = c.series_id AND t.ts = c.p_from - 3600
                            AND t.provisional = 0 AND t.hashrate_hs > 0) AS began_before_period,
       d.end_ts = c.p_to              AS open_at_period_end
FROM down_runs d
JOIN counted c ON c.series_id = d.series_id
WHERE d.end_ts > d.start_ts
ORDER BY hours DESC, d.start_ts, c.worker_name, c.puid, c.worker_id;
