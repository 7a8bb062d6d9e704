-- uptime.sql: per-worker uptime over a period.
--
-- Answers: of the hours a worker should have been hashing in the period, how many had accepted
-- hashrate > 0, how many outages (maximal runs of down hours) were there, and how long was the
-- longest?
--
-- How: the counted hours of a worker are [max(period start, its first final 1h ticker), period
-- end). An hour is up when its non-provisional 1h ticker has hashrate_hs > 0; every other counted
-- hour (zero hashrate, provisional only, or no row at all) is down. The down hours are the
-- complement of the up hours, so the outages are the gaps between consecutive runs ("islands")
-- of up hours (gaps-and-islands: LAG over the runs), plus the run before the first and after
-- the last up hour. That is the same answer as generating every hour with a recursive CTE,
-- without materialising workers x hours rows. Outages are clipped to the counted hours.
-- For speed the up hours are first counted per day: a day up in every counted hour is one run
-- as it is, and only days up in some of their hours are split hour by hour.
--
-- Parameters (Unix seconds UTC; hours start on the hour):
--   :from    required. The first counted hour is the first one starting at or after :from.
--   :to      required, exclusive. Pass no later than the start of the current hour: hours in the
--            future are not down (poolhist caps it for you).
--   :puid    account id, NULL = every account in the database.
--   :group   group name or numeric group id, NULL = every group.
--   :worker  worker name GLOB pattern (case-sensitive; * ? [abc]), NULL = every worker.
--
-- Reads: v_workers, series, tickers, history_gaps.
-- Example: sqlite3 poolhist.db -cmd ".param set :from 1761955200" -cmd ".param set :to 1764547200" \
--            -cmd ".param set :puid NULL" -cmd ".param set :group NULL" -cmd ".param set :worker NULL" \
--            ".read queries/uptime.sql"
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
up_per_worker AS (
    SELECT u.series_id, u.hours_up, l.last_up_ts
    FROM (SELECT series_id, SUM(hours_up) AS hours_up FROM up_days GROUP BY series_id) u
    LEFT JOIN (SELECT series_id, MAX(end_ts) AS last_up_ts FROM islands GROUP BY series_id) l
           ON l.series_id = u.series_id
),
down_runs AS (
    -- the down hours between the previous run of up hours (or the first counted hour) and each
    -- run; runs of neighbouring days that touch give 0 and are no outage
    SELECT i.series_id,
           (i.start_ts - COALESCE(i.prev_end_ts + 3600, c.start_ts)) / 3600 AS hours
    FROM (SELECT series_id, start_ts,
                 LAG(end_ts) OVER (PARTITION BY series_id ORDER BY start_ts) AS prev_end_ts
          FROM islands) i
    JOIN counted c ON c.series_id = i.series_id
    UNION ALL
    -- the run after the last up hour (all counted hours when none was up)
    SELECT c.series_id, (c.end_ts - COALESCE(p.last_up_ts + 3600, c.start_ts)) / 3600
    FROM counted c LEFT JOIN up_per_worker p ON p.series_id = c.series_id
    WHERE c.start_ts < c.end_ts
),
outage_stats AS (
    SELECT series_id, COUNT(*) AS outages, MAX(hours) AS longest_outage_hours
    FROM down_runs WHERE hours > 0 GROUP BY series_id
)
SELECT c.puid,
       c.worker_id,
       c.worker_name,
       c.group_name,
       COALESCE(p.hours_up, 0)                                  AS hours_up,
       MAX(0, COALESCE((c.end_ts - c.start_ts) / 3600, 0))      AS hours_total,
       CASE WHEN c.end_ts > c.start_ts
            THEN COALESCE(p.hours_up, 0) * 1.0 / ((c.end_ts - c.start_ts) / 3600) END AS uptime,
       COALESCE(o.outages, 0)                                   AS outages,
       COALESCE(o.longest_outage_hours, 0)                      AS longest_outage_hours,
       c.first_hour_ts,
       CASE WHEN c.end_ts > c.start_ts THEN c.start_ts END      AS counted_from_ts,
       -- evidence that hourly history was not collected for part of the period: a day of
       -- non-zero daily data wholly before the first hourly point, inside the period
       (SELECT MIN(t.ts) FROM tickers t
         WHERE t.series_id = c.daily_series_id
           AND t.provisional = 0 AND t.hashrate_hs > 0
           AND t.ts + 86400 > c.p_from AND t.ts < c.p_to
           AND (c.first_hour_ts IS NULL OR t.ts + 86400 <= c.first_hour_ts)) AS daily_before_hourly_ts,
       -- hours of the period in recorded expired-history gaps of the 1h series: no row, so the
       -- counted ones among them are down like any missing hour; reported so a reader knows why
       (SELECT COALESCE(SUM((MIN(g.to_ts + 3600, c.p_to) - MAX(g.from_ts, c.p_from)) / 3600), 0)
          FROM history_gaps g
         WHERE g.series_id = c.series_id
           AND g.to_ts + 3600 > c.p_from AND g.from_ts < c.p_to)              AS gap_hours
FROM counted c
LEFT JOIN up_per_worker p ON p.series_id = c.series_id
LEFT JOIN outage_stats o  ON o.series_id = c.series_id
ORDER BY uptime IS NULL, uptime, c.worker_name, c.puid, c.worker_id;
