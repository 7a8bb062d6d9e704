-- gaps.sql: stored history that is missing, per series, and whether the pool can still serve it.
--
-- Answers: which hours (1h series) or days (1d series) have no stored point, and can a re-run of
-- the ingest still fetch them?
--
-- How: two kinds of rows.
--   'hole':     a run of missing points inside a series' stored span (between its oldest and
--               newest stored ticker): the gap between two runs of stored points
--               (gaps-and-islands, LAG over the runs). For hourly series a day with all 24
--               points is one run as it is; only incomplete days are split point by point.
--               Holes already covered by a recorded gap are left out.
--   'expired':  a recorded history_gaps row: history the pool had deleted before poolhist copied it.
-- pool_still_has: the pool keeps worker 1h for 72 h, account 1h for 720 h, worker 1d for 90 d,
-- account 1d for 365 d before :now. 'yes' when the whole gap is inside that window, 'partly'
-- when its newer end is, 'no' otherwise.
--
-- Parameters (Unix seconds UTC):
--   :now        required: the retention windows are counted back from it.
--   :from, :to  optional window, NULL = unbounded: only gaps overlapping [:from, :to) (a gap
--               crossing the window's edge is reported whole).
--   :puid       account id, NULL = all.
--   :worker     worker name GLOB pattern; NULL = every series including the account's,
--               a pattern selects worker series only.
--   :dimension  '1h' or '1d', NULL = both.
--
-- Reads: series, tickers, history_gaps, workers.
WITH RECURSIVE
-- the window searched: [:from, :to), widened to whole days; unbounded without them
win AS (
    SELECT COALESCE((:from / 86400) * 86400, -9223372036854775807) AS lo,
           COALESCE(((:to + 86399) / 86400) * 86400, 9223372036854775807) AS hi
),
scope AS MATERIALIZED (
    SELECT s.series_id, s.puid, s.worker_id, w.worker_name, s.dimension,
           CASE s.dimension WHEN '1h' THEN 3600 ELSE 86400 END AS step,
           CASE WHEN s.worker_id IS NULL
                THEN CASE s.dimension WHEN '1h' THEN 720 * 3600 ELSE 365 * 86400 END
                ELSE CASE s.dimension WHEN '1h' THEN 72 * 3600 ELSE 90 * 86400 END
           END AS retention_s,
           -- the span searched: stored points inside the window, plus the nearest stored point
           -- on either side of it, so a hole crossing the window edge is found whole
           (SELECT COALESCE((SELECT MAX(t.ts) FROM tickers t
                              WHERE t.series_id = s.series_id AND t.ts < win.lo),
                            (SELECT MIN(t.ts) FROM tickers t
                              WHERE t.series_id = s.series_id AND t.ts >= win.lo))) AS first_ts,
           (SELECT COALESCE((SELECT MIN(t.ts) FROM tickers t
                              WHERE t.series_id = s.series_id AND t.ts >= win.hi),
                            (SELECT MAX(t.ts) FROM tickers t
                              WHERE t.series_id = s.series_id AND t.ts < win.hi))) AS last_ts
    FROM series s CROSS JOIN win
    LEFT JOIN workers w ON w.puid = s.puid AND w.worker_id = s.worker_id
    WHERE (:puid IS NULL OR s.puid = :puid)
      AND (:dimension IS NULL OR s.dimension = :dimension)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
days(day_ts) AS (
    SELECT (MIN(first_ts) / 86400) * 86400 FROM scope WHERE dimension = '1h'
    UNION ALL
    SELECT day_ts + 86400 FROM days
     WHERE day_ts + 86400 <= (SELECT MAX(last_ts) FROM scope WHERE dimension = '1h')
),
hour_days AS MATERIALIZED (
    -- per hourly series and UTC day inside its span: the stored points that day
    SELECT sc.series_id, d.day_ts,
           (SELECT COUNT(*) FROM tickers t
             WHERE t.series_id = sc.series_id
               AND t.ts >= d.day_ts AND t.ts < d.day_ts + 86400) AS points
    FROM scope sc CROSS JOIN days d
    WHERE sc.dimension = '1h' AND d.day_ts + 86400 > sc.first_ts AND d.day_ts <= sc.last_ts
),
islands AS MATERIALIZED (
    -- runs of stored points: whole days of 24 hourly points as they are, other hourly days and
    -- all daily series point by point (point index - row number is constant along a run)
    SELECT series_id, day_ts AS start_ts, day_ts + 82800 AS end_ts
    FROM hour_days WHERE points = 24
    UNION ALL
    SELECT series_id, MIN(ts), MAX(ts)
    FROM (SELECT series_id, ts, ts / step - ROW_NUMBER() OVER (PARTITION BY series_id ORDER BY ts) AS run
          FROM (SELECT hd.series_id, t.ts, 3600 AS step
                FROM hour_days hd
                CROSS JOIN tickers t
                WHERE hd.points BETWEEN 1 AND 23
                  AND t.series_id = hd.series_id
                  AND t.ts >= hd.day_ts AND t.ts < hd.day_ts + 86400
                UNION ALL
                SELECT sc.series_id, t.ts, 86400
                FROM scope sc
                CROSS JOIN tickers t
                WHERE sc.dimension = '1d' AND t.series_id = sc.series_id
                  AND t.ts >= sc.first_ts AND t.ts <= sc.last_ts))
    GROUP BY series_id, run
),
holes AS (
    SELECT i.series_id, i.prev_end_ts + sc.step AS from_ts, i.start_ts - sc.step AS to_ts,
           'hole' AS kind
    FROM (SELECT series_id, start_ts,
                 LAG(end_ts) OVER (PARTITION BY series_id ORDER BY start_ts) AS prev_end_ts
          FROM islands) i
    JOIN scope sc ON sc.series_id = i.series_id
    WHERE i.start_ts - i.prev_end_ts > sc.step
      AND NOT EXISTS (SELECT 1 FROM history_gaps g
                       WHERE g.series_id = i.series_id
                         AND g.from_ts <= i.prev_end_ts + sc.step
                         AND g.to_ts >= i.start_ts - sc.step)
),
all_gaps AS (
    SELECT series_id, from_ts, to_ts, kind FROM holes
    UNION ALL
    SELECT g.series_id, g.from_ts, g.to_ts, 'expired'
    FROM history_gaps g JOIN scope sc ON sc.series_id = g.series_id
)
SELECT sc.puid,
       sc.worker_id,
       sc.worker_name,
       sc.dimension,
       g.kind,
       g.from_ts,
       g.to_ts,
       (g.to_ts - g.from_ts) / sc.step + 1 AS points_missing,
       CASE WHEN g.from_ts >= :now - sc.retention_s THEN 'yes'
            WHEN g.to_ts   >= :now - sc.retention_s THEN 'partly'
            ELSE 'no' END AS pool_still_has
FROM all_gaps g
JOIN scope sc ON sc.series_id = g.series_id
WHERE (:from IS NULL OR g.to_ts + sc.step > :from)
  AND (:to IS NULL OR g.from_ts < :to)
ORDER BY sc.puid, sc.worker_id IS NOT NULL, sc.worker_name, sc.dimension, g.from_ts;
