-- gaps.sql: stored history that is missing, per series, and whether the pool can still serve it.
--
-- Answers: which hours (1h series) or days (1d series) have no stored point, and can a re-run of
-- the ingest still fetch them?
--
-- How: two kinds of rows.
--   'hole':     a run of missing points inside a series' stored span (between its oldest and
--               newest stored ticker): the gap between two runs of stored points, from the
--               stored point ending one run to the next stored point.
--               Hourly series: a day with 24 final points (hourly_by_day) holds no hole; the
--               other days of the span make a mask of the hours stored: hourly_by_day.final_mask
--               and the day's provisional points; each run's last hour and the next stored hour
--               (the mask's next set bit, or the next ticker on a later day) bound a hole.
--               Daily series: one point on every day of the span has none. Otherwise two
--               consecutive points 36 h or more apart miss round(their distance in days) - 1
--               days, counted on from the first (a pool whose day starts some hours earlier or
--               later, as with summer time, still counts whole days; never two points on one
--               day read as a hole).
--               Holes already covered by a recorded gap are left out.
--   'expired':  a recorded history_gaps row: history the pool had deleted before poolhist copied it.
-- pool_still_has: the pool keeps what the ingest learned from its answers (v_pool_retention:
-- pool_knowledge, else what the series' pool documents in `pools`, else CloverPool's worker 1h
-- 72 h, account 1h 720 h, worker 1d 90 d, account 1d 365 d) before :now. 'yes' when the whole gap is inside that window, 'partly' when its newer
-- end is, 'no' otherwise.
--
-- Parameters (Unix seconds UTC):
--   :now        required: the retention windows are counted back from it.
--   :from, :to  optional window, NULL = unbounded: only gaps overlapping [:from, :to) (a gap
--               crossing the window's edge is reported whole).
--   :pool       pool name ('cloverpool', 'foundry'), NULL = all.
--   :account    account as its pool names it, NULL = all (any pool unless :pool says which).
--   :puid       CloverPool puid, NULL = no puid filter (older scripts).
--   :worker     worker name GLOB pattern; NULL = every series including the account's,
--               a pattern selects worker series only.
--   :dimension  '1h' or '1d', NULL = both.
--
-- Reads: accounts, series, tickers, hourly_by_day, history_gaps, workers, v_pool_retention.
WITH RECURSIVE
-- the window searched: [:from, :to), widened to whole days; unbounded without them
win AS (
    SELECT COALESCE((:from / 86400) * 86400, -9223372036854775807) AS lo,
           -- a daily hole ends a day after its last missing day give or take hours (a pool's
           -- moving day start): daily spans start a day earlier, so such a hole is found whole
           COALESCE((:from / 86400) * 86400 - 86400, -9223372036854775807) AS day_lo,
           COALESCE(((:to + 86399) / 86400) * 86400, 9223372036854775807) AS hi
),
scope AS MATERIALIZED (
    SELECT s.series_id, s.account_id, a.puid, a.pool, a.account, s.worker_id, w.worker_name,
           s.dimension,
           CASE s.dimension WHEN '1h' THEN 3600 ELSE 86400 END AS step,
           -- what the pool keeps: learned by the ingest, else what the pool documents
           (SELECT r.retention_slots FROM v_pool_retention r WHERE r.series_id = s.series_id)
             * CASE s.dimension WHEN '1h' THEN 3600 ELSE 86400 END AS retention_s,
           -- the span searched: stored points inside the window, plus the nearest stored point
           -- on either side of it, so a hole crossing the window edge is found whole
           (SELECT COALESCE((SELECT MAX(t.ts) FROM tickers t
                              WHERE t.series_id = s.series_id AND t.ts < lo),
                            (SELECT MIN(t.ts) FROM tickers t
                              WHERE t.series_id = s.series_id AND t.ts >= lo))
            FROM (SELECT CASE s.dimension WHEN '1d' THEN win.day_lo ELSE win.lo END AS lo))
             AS first_ts,
           (SELECT COALESCE((SELECT MIN(t.ts) FROM tickers t
                              WHERE t.series_id = s.series_id AND t.ts >= win.hi),
                            (SELECT MAX(t.ts) FROM tickers t
                              WHERE t.series_id = s.series_id AND t.ts < win.hi))) AS last_ts
    FROM accounts a
    JOIN series s ON s.account_id = a.account_id
    CROSS JOIN win
    LEFT JOIN workers w ON w.account_id = s.account_id AND w.worker_id = s.worker_id
    WHERE (:pool IS NULL OR a.pool = :pool)
      AND (:account IS NULL OR a.account = :account)
      AND (:puid IS NULL OR a.puid = :puid)
      AND (:dimension IS NULL OR s.dimension = :dimension)
      AND (:worker IS NULL OR w.worker_name GLOB :worker)
),
hour_span AS MATERIALIZED (
    -- hourly series: the UTC days searched, day_lo .. day_hi (day starts, inclusive)
    SELECT series_id, (first_ts / 86400) * 86400 AS day_lo, (last_ts / 86400) * 86400 AS day_hi
    FROM scope WHERE dimension = '1h' AND first_ts IS NOT NULL
),
short_span AS MATERIALIZED (
    -- hourly series with a day in their span that has no final point (no summary row)
    SELECT hs.series_id, hs.day_lo, hs.day_hi FROM hour_span hs
    WHERE (SELECT COUNT(*) FROM hourly_by_day b
            WHERE b.series_id = hs.series_id AND b.day_ts >= hs.day_lo AND b.day_ts <= hs.day_hi)
          <= (hs.day_hi - hs.day_lo) / 86400
),
-- the days those spans cover
days(day_ts) AS (
    SELECT MIN(day_lo) FROM short_span
    UNION ALL
    SELECT day_ts + 86400 FROM days WHERE day_ts < (SELECT MAX(day_hi) FROM short_span)
),
incomplete_days AS MATERIALIZED (
    -- the days in a span without 24 final points: the only days a hole can touch. Their stored
    -- points as a mask, bit h = hour h: the final ones from the summary, the provisional ones
    -- (a few live points) from their own index
    SELECT series_id, day_lo, day_hi, day_ts,
           final_mask | COALESCE((SELECT SUM(1 << ((t.ts - d.day_ts) / 3600))
                                   FROM tickers t INDEXED BY tickers_provisional
                                  WHERE t.series_id = d.series_id AND t.provisional = 1
                                    AND t.ts >= d.day_ts AND t.ts < d.day_ts + 86400), 0) AS mask
    FROM (SELECT hs.series_id, hs.day_lo, hs.day_hi, b.day_ts, b.final_mask
          FROM hour_span hs
          JOIN hourly_by_day b
            ON b.series_id = hs.series_id AND b.day_ts >= hs.day_lo AND b.day_ts <= hs.day_hi
          WHERE b.hours_final < 24
          UNION ALL
          SELECT ss.series_id, ss.day_lo, ss.day_hi, dd.day_ts, 0
          FROM short_span ss
          JOIN days dd ON dd.day_ts >= ss.day_lo AND dd.day_ts <= ss.day_hi
          WHERE NOT EXISTS (SELECT 1 FROM hourly_by_day b
                             WHERE b.series_id = ss.series_id AND b.day_ts = dd.day_ts)) d
),
-- hour h of a day and its mask bit
hours(h, bit) AS MATERIALIZED (
    SELECT 0, 1 UNION ALL SELECT h + 1, bit * 2 FROM hours WHERE h < 23
),
run_ends AS (
    -- stored points whose next hour is not stored: the last hour of each run of stored hours
    -- in an incomplete day ...
    SELECT d.series_id, d.day_hi, d.day_ts + hr.h * 3600 AS ts,
           d.mask >> (hr.h + 1) AS after                 -- bit j: the hour j + 1 after ts
    FROM incomplete_days d JOIN hours hr
    WHERE d.mask & ~(d.mask >> 1) & hr.bit <> 0
    UNION ALL
    -- ... and 23:00 of a complete day before an incomplete one without 00:00
    SELECT d.series_id, d.day_hi, d.day_ts - 3600, d.mask
    FROM incomplete_days d
    WHERE d.mask & 1 = 0 AND d.day_ts > d.day_lo
      AND EXISTS (SELECT 1 FROM hourly_by_day b
                   WHERE b.series_id = d.series_id AND b.day_ts = d.day_ts - 86400
                     AND b.hours_final = 24)
),
run_next AS MATERIALIZED (
    -- the next stored point after each run end: from the mask when it lies in the same day
    -- (its lowest set bit), otherwise looked up, within the span's days
    SELECT e.series_id, e.ts,
           CASE WHEN e.after <> 0
                THEN e.ts + 3600 * (1 + (SELECT hr.h FROM hours hr
                                          WHERE hr.bit = e.after & -e.after))
                ELSE (SELECT MIN(t.ts) FROM tickers t
                       WHERE t.series_id = e.series_id AND t.ts > e.ts
                         AND t.ts < e.day_hi + 86400) END AS next_ts
    FROM run_ends e
),
hour_holes AS (
    SELECT series_id, ts + 3600 AS from_ts, next_ts - 3600 AS to_ts
    FROM run_next
    WHERE next_ts - ts > 3600
),
day_series AS MATERIALIZED (
    -- daily series whose span is not one point on every day at one time of day: only these
    -- can have a hole
    SELECT sc.series_id, sc.first_ts, sc.last_ts FROM scope sc
    WHERE sc.dimension = '1d' AND sc.first_ts IS NOT NULL
      AND NOT ((sc.last_ts - sc.first_ts) % 86400 = 0
               AND (SELECT COUNT(*) = (sc.last_ts - sc.first_ts) / 86400 + 1
                           AND SUM(t.ts % 86400 <> sc.first_ts % 86400) = 0
                    FROM tickers t
                    WHERE t.series_id = sc.series_id
                      AND t.ts >= sc.first_ts AND t.ts <= sc.last_ts))
),
day_holes AS (
    -- between consecutive points: ts - prev_ts >= 36 h misses (ts - prev_ts + 12 h) / 1 day - 1
    SELECT series_id, prev_ts + 86400 AS from_ts,
           prev_ts + ((ts - prev_ts + 43200) / 86400 - 1) * 86400 AS to_ts
    FROM (SELECT ds.series_id, t.ts,
                 LAG(t.ts) OVER (PARTITION BY ds.series_id ORDER BY t.ts) AS prev_ts
          FROM day_series ds
          JOIN tickers t
            ON t.series_id = ds.series_id AND t.ts >= ds.first_ts AND t.ts <= ds.last_ts)
    WHERE ts - prev_ts >= 129600
),
holes AS (
    SELECT h.series_id, h.from_ts, h.to_ts, 'hole' AS kind
    FROM (SELECT series_id, from_ts, to_ts FROM hour_holes
          UNION ALL
          SELECT series_id, from_ts, to_ts FROM day_holes) h
    WHERE NOT EXISTS (SELECT 1 FROM history_gaps g
                       WHERE g.series_id = h.series_id
                         AND g.from_ts <= h.from_ts AND g.to_ts >= h.to_ts)
),
all_gaps AS (
    SELECT series_id, from_ts, to_ts, kind FROM holes
    UNION ALL
    SELECT g.series_id, g.from_ts, g.to_ts, 'expired'
    FROM history_gaps g JOIN scope sc ON sc.series_id = g.series_id
)
SELECT sc.account_id,
       sc.puid,
       sc.pool,
       sc.account,
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
ORDER BY sc.pool, sc.account_id, sc.worker_id IS NOT NULL, sc.worker_name, sc.dimension, g.from_ts,
         sc.worker_id, g.kind, g.to_ts;
