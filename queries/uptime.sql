-- uptime.sql: per-worker uptime over a period.
--
-- Answers: of the hours a worker should have been hashing in the period, how many had accepted
-- hashrate > 0, how many outages (maximal runs of down hours) were there, and how long was the
-- longest?
--
-- How: the counted hours of a worker are [max(period start, its first final 1h ticker), period
-- end). An hour is up when its non-provisional 1h ticker has hashrate_hs > 0; every other counted
-- hour (zero hashrate, provisional only, or no row at all) is down. Outages are the maximal runs
-- of down hours, clipped to the counted hours.
-- Per worker and UTC day, hourly_by_day.up_mask has bit h set exactly when hour h is up, so no
-- tickers are read for the hours: one range of hourly_by_day per worker gives each stored day's
-- up hours (hours_up on whole days, a popcount of counted-hours mask & up_mask on the edge days)
-- and its down hours, split into runs of down bits (a recursive CTE peels one run per step, only
-- for days with any). Days without a row are all down; only workers with fewer rows than counted
-- days are probed for them. Runs that touch across midnight are merged (gaps-and-islands with a
-- running SUM).
--
-- poolhist computes these rows without running this file: one pass over hourly_by_day shared by
-- uptime.sql, outages.sql and uptime_by_day.sql, formula by formula the same (src/report/
-- uptime_scan.rs; tests/report_uptime_props.rs checks both against a recomputation).
--
-- Parameters (Unix seconds UTC; hours start on the hour):
--   :from    required. The first counted hour is the first one starting at or after :from.
--   :to      required, exclusive. Pass no later than the start of the current hour: hours in the
--            future are not down (poolhist caps it for you).
--   :pool    pool name ('cloverpool', 'foundry'), NULL = every pool.
--   :account account as its pool names it (a CloverPool puid as text, a Foundry sub-account),
--            NULL = every account. With :pool NULL it matches that name in any pool.
--   :puid    CloverPool puid, NULL = no puid filter (older scripts; prefer :pool / :account).
--   :group   group name or numeric group id, NULL = every group.
--   :worker  worker name GLOB pattern (case-sensitive; * ? [abc]), NULL = every worker.
--
-- Reads: v_worker_series, hourly_by_day (the hours), tickers (first hourly point, daily series),
-- history_gaps.
-- Example: sqlite3 poolhist.db -cmd ".param set :from 1761955200" -cmd ".param set :to 1764547200" \
--            -cmd ".param set :pool NULL" -cmd ".param set :account NULL" \
--            -cmd ".param set :puid NULL" -cmd ".param set :group NULL" -cmd ".param set :worker NULL" \
--            ".read queries/uptime.sql"
WITH RECURSIVE
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
),
counted AS MATERIALIZED (
    -- multi-argument MAX is NULL when the worker has no hourly point at all
    SELECT sc.*, b.p_from, b.p_to,
           MAX(b.p_from, sc.first_hour_ts) AS start_ts,
           b.p_to                          AS end_ts
    FROM scope sc CROSS JOIN bounds b
    ORDER BY sc.series_id  -- lets up_per_worker group in scan order, without a sort
),
days(day_ts) AS (
    SELECT (p_from / 86400) * 86400 FROM bounds WHERE p_from < p_to
    UNION ALL
    SELECT day_ts + 86400 FROM days, bounds WHERE day_ts + 86400 < p_to
),
stored_days AS (
    -- the stored days with counted hours [start_ts, end_ts), one range of the hourly_by_day key
    -- per worker; hours = the day's counted hours as a mask (bit h = hour h of the day)
    SELECT c.series_id, h.day_ts, h.up_mask, h.hours_up,
           h.day_ts >= c.start_ts AND h.day_ts + 86400 <= c.end_ts AS whole_day,
           CASE WHEN h.day_ts >= c.start_ts AND h.day_ts + 86400 <= c.end_ts THEN 16777215
                ELSE (1 << ((MIN(h.day_ts + 86400, c.end_ts) - h.day_ts) / 3600))
                   - (1 << ((MAX(h.day_ts, c.start_ts) - h.day_ts) / 3600)) END AS hours
    FROM counted c
    CROSS JOIN hourly_by_day h  -- CROSS: counted stays the outer loop
    WHERE c.start_ts < c.end_ts
      AND h.series_id = c.series_id AND h.day_ts > c.start_ts - 86400 AND h.day_ts < c.end_ts
),
up_per_worker AS MATERIALIZED (
    -- whole days: hours_up as stored; edge days: popcount of hours & up_mask, 12 bits at a time
    -- (multiply, mask, mod 31). No sort: counted is in series_id order.
    SELECT series_id, COUNT(*) AS days_stored,
           SUM(CASE WHEN whole_day THEN hours_up
                    ELSE (((hours & up_mask & 0xFFF) * 0x1001001001001) & 0x84210842108421) % 31
                       + ((((hours & up_mask) >> 12) * 0x1001001001001) & 0x84210842108421) % 31
                    END) AS hours_up
    FROM stored_days GROUP BY series_id
),
pieces(series_id, day_ts, starts, ends, start_ts, end_ts) AS (
    -- the down runs of each stored day with any: "starts" has a bit at each run's first hour,
    -- "ends" at the hour after its last (bit 24 = next midnight). Each step takes the lowest of
    -- both, i.e. one run, and turns the bit (x & -x isolates it) into its index.
    SELECT series_id, day_ts, down & ~(down << 1), (down << 1) & ~down, NULL, NULL
    FROM (SELECT series_id, day_ts, hours & ~up_mask AS down FROM stored_days
          WHERE hours & ~up_mask <> 0)
    UNION ALL
    SELECT series_id, day_ts, starts & (starts - 1), ends & (ends - 1),
           day_ts + 3600 * ((((starts & -starts) & 0xAAAAAAAA) <> 0)
                          + (((starts & -starts) & 0xCCCCCCCC) <> 0) * 2
                          + (((starts & -starts) & 0xF0F0F0F0) <> 0) * 4
                          + (((starts & -starts) & 0xFF00FF00) <> 0) * 8
                          + (((starts & -starts) & 0xFFFF0000) <> 0) * 16),
           day_ts + 3600 * ((((ends & -ends) & 0xAAAAAAAA) <> 0)
                          + (((ends & -ends) & 0xCCCCCCCC) <> 0) * 2
                          + (((ends & -ends) & 0xF0F0F0F0) <> 0) * 4
                          + (((ends & -ends) & 0xFF00FF00) <> 0) * 8
                          + (((ends & -ends) & 0xFFFF0000) <> 0) * 16)
    FROM pieces WHERE starts <> 0
),
missing_days AS (
    -- days without a row are down in every counted hour; only workers with fewer stored days
    -- than counted days are probed day by day
    SELECT c.series_id, MAX(d.day_ts, c.start_ts) AS start_ts,
           MIN(d.day_ts + 86400, c.end_ts) AS end_ts
    FROM counted c
    LEFT JOIN up_per_worker p ON p.series_id = c.series_id
    CROSS JOIN days d
    WHERE c.start_ts < c.end_ts
      AND IFNULL(p.days_stored, 0) < (c.end_ts - 1) / 86400 - c.start_ts / 86400 + 1
      AND d.day_ts + 86400 > c.start_ts AND d.day_ts < c.end_ts
      AND NOT EXISTS (SELECT 1 FROM hourly_by_day h
                       WHERE h.series_id = c.series_id AND h.day_ts = d.day_ts)
),
down_runs AS (
    -- pieces that touch (across midnight) form one outage: start_ts minus the hours of the
    -- earlier pieces is the same along touching pieces and grows at each gap
    SELECT series_id, (MAX(end_ts) - MIN(start_ts)) / 3600 AS hours
    FROM (SELECT series_id, start_ts, end_ts,
                 end_ts - SUM(end_ts - start_ts) OVER (PARTITION BY series_id ORDER BY start_ts)
                   AS run
          FROM (SELECT series_id, start_ts, end_ts FROM pieces WHERE start_ts IS NOT NULL
                UNION ALL
                SELECT series_id, start_ts, end_ts FROM missing_days))
    GROUP BY series_id, run
),
outage_stats AS (
    SELECT series_id, COUNT(*) AS outages, MAX(hours) AS longest_outage_hours
    FROM down_runs GROUP BY series_id
)
SELECT c.account_id,
       c.puid,
       c.pool,
       c.account,
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
ORDER BY uptime IS NULL, uptime, c.worker_name, c.account_id, c.worker_id;
