-- outages.sql: every outage of every worker in a period, longest first.
--
-- Answers: when was each worker down, for how long, and is it still down at the end of the
-- period?
--
-- How: same definition as uptime.sql. The counted hours of a worker are [max(period start, its
-- first final 1h ticker), period end); an hour is up when its non-provisional 1h ticker has
-- hashrate_hs > 0, every other counted hour is down. An outage is a maximal run of down hours:
-- the gap between two consecutive up hours (LAG, gaps-and-islands), the run from the first
-- counted hour to the first up hour, or from the last up hour to the period end. Outages that
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
WITH
bounds AS (
    SELECT ((:from + 3599) / 3600) * 3600 AS p_from,
           ((:to + 3599) / 3600) * 3600   AS p_to
),
scope AS (
    SELECT w.puid, w.worker_id, w.worker_name, w.group_name, s.series_id,
           (SELECT MIN(t.ts) FROM tickers t
             WHERE t.series_id = s.series_id AND t.provisional = 0) AS first_hour_ts
    FROM v_workers w
    JOIN series s
      ON s.puid = w.puid AND s.worker_id = w.worker_id AND s.dimension = '1h'
    WHERE (:puid IS NULL OR w.puid = :puid)
      AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
counted AS (
    SELECT sc.*, b.p_from, b.p_to,
           MAX(b.p_from, sc.first_hour_ts) AS start_ts,
           b.p_to                          AS end_ts
    FROM scope sc CROSS JOIN bounds b
    WHERE sc.first_hour_ts IS NOT NULL
),
up AS (
    SELECT c.series_id, t.ts,
           LAG(t.ts) OVER (PARTITION BY c.series_id ORDER BY t.ts) AS prev_up_ts
    FROM counted c
    JOIN tickers t
      ON t.series_id = c.series_id AND t.ts >= c.start_ts AND t.ts < c.end_ts
    WHERE t.provisional = 0 AND t.hashrate_hs > 0
),
last_up AS (
    SELECT series_id, MAX(ts) AS last_up_ts FROM up GROUP BY series_id
),
down_runs AS (
    SELECT u.series_id, COALESCE(u.prev_up_ts + 3600, c.start_ts) AS start_ts, u.ts AS end_ts
    FROM up u JOIN counted c ON c.series_id = u.series_id
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
