//! Missing history (queries/gaps.sql's rows) found series by series in Rust.
//!
//! gaps.sql is the definition and what to run in sqlite3. At 10,000 workers most of its time went
//! into SQLite evaluating the per-day masks and runs (about 0.9 s of a month's monthly report).
//! Here one query selects the series with their spans (the nearest stored point on either side of
//! the window), and three ordered reads stream, series by series, what gaps.sql reads: the
//! `hourly_by_day` rows (a day with 24 final points holds no hole; `final_mask` says which hours
//! the others hold), the live points, and the daily series' points. A series whose span reaches
//! beyond the streamed days (a hole crossing the window's edge) reads its own. The holes then
//! follow from bit masks, formula by formula as in gaps.sql (tests/report_gaps_props.rs checks
//! both give the same rows). The ingest stores hourly points on the hour; a hand-inserted point
//! off the hour counts for the hour it falls in.

use std::collections::HashMap;

use rusqlite::{Connection, Statement, ToSql};

use super::accounts::AccountFilter;
use super::gaps::{Dimension, Gap};
use super::stream::{bound, read_row, Row4, SeriesStream};
use super::{query_rows, ReportError};

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const WHOLE_DAY: u32 = 0xFF_FFFF;

/// The selected series (gaps.sql's `scope`): joins and filters shared by the reads below.
const SELECTED: &str = "\
FROM accounts a
JOIN series s ON s.account_id = a.account_id
LEFT JOIN workers w ON w.account_id = s.account_id AND w.worker_id = s.worker_id";
const SELECTED_WHERE: &str = "\
WHERE (:pool IS NULL OR a.pool = :pool)
  AND (:account IS NULL OR a.account = :account)
  AND (:dimension IS NULL OR s.dimension = :dimension)
  AND (:worker IS NULL OR w.worker_name GLOB :worker)";

/// Each selected series and what the pool keeps of it.
fn scope_sql() -> String {
    format!(
        "SELECT s.series_id, s.account_id, a.puid, a.pool, a.account, s.worker_id, w.worker_name,
       s.dimension, r.retention_slots
{SELECTED}
LEFT JOIN v_pool_retention r ON r.series_id = s.series_id
{SELECTED_WHERE}
ORDER BY s.series_id"
    )
}

/// The hourly series' summary rows of the streamed days, series by series.
fn summary_stream_sql() -> String {
    format!(
        "SELECT s.series_id, b.day_ts, b.hours_final, b.final_mask
{SELECTED}
JOIN hourly_by_day b ON b.series_id = s.series_id AND b.day_ts >= :from_ts AND b.day_ts <= :last_day
{SELECTED_WHERE} AND s.dimension = '1h'
ORDER BY s.series_id, b.day_ts"
    )
}

/// The daily series' points of the streamed days, series by series.
fn daily_stream_sql() -> String {
    format!(
        "SELECT s.series_id, t.ts, 0, 0
{SELECTED}
JOIN tickers t ON t.series_id = s.series_id AND t.ts >= :from_ts AND t.ts <= :to_ts
{SELECTED_WHERE} AND s.dimension = '1d'
ORDER BY s.series_id, t.ts"
    )
}

/// Every live point (a handful per series, in their own index).
const PROVISIONAL_STREAM_SQL: &str = "SELECT series_id, ts, 0, 0 FROM tickers \
     INDEXED BY tickers_provisional WHERE provisional = 1 ORDER BY series_id, ts";

/// One series' own reads, for a span beyond the streamed days.
const SUMMARY_SQL: &str = "SELECT series_id, day_ts, hours_final, final_mask FROM hourly_by_day \
     WHERE series_id = ?1 AND day_ts >= ?2 AND day_ts <= ?3 ORDER BY day_ts";
const TICKERS_SQL: &str = "SELECT series_id, ts, 0, 0 FROM tickers \
     WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts";
const LAST_BEFORE_SQL: &str = "SELECT MAX(ts) FROM tickers WHERE series_id = ?1 AND ts < ?2";
const FIRST_FROM_SQL: &str = "SELECT MIN(ts) FROM tickers WHERE series_id = ?1 AND ts >= ?2";
const HISTORY_GAPS_SQL: &str = "SELECT series_id, from_ts, to_ts FROM history_gaps";

/// One selected series.
struct Series {
    series_id: i64,
    account_id: i64,
    puid: Option<i64>,
    pool: String,
    account: String,
    worker_id: Option<i64>,
    worker_name: Option<String>,
    dimension: String,
    retention_slots: Option<i64>,
}

/// gaps.sql's rows: see [`super::gaps::gaps`].
pub fn gaps(
    conn: &Connection,
    accounts: Option<&AccountFilter>,
    worker: Option<&str>,
    dimension: Option<Dimension>,
    window: (Option<i64>, Option<i64>),
    now: i64,
) -> Result<Vec<Gap>, ReportError> {
    let dimension = dimension.map(Dimension::as_str);
    let all = AccountFilter::all();
    let accounts = accounts.unwrap_or(&all);
    // the window searched, widened to whole days (gaps.sql's `win`)
    let lo = window.0.map_or(i64::MIN + 1, |from| (from / DAY) * DAY);
    let hi = window
        .1
        .map_or(i64::MAX, |to| (to.saturating_add(DAY - 1) / DAY) * DAY);
    // the times streamed, [.0, .1]: the window and two days either side, where nearly every
    // span ends (whole days: an hourly series reads the days wholly inside)
    let streamed = (
        lo.saturating_sub(2 * DAY),
        if hi == i64::MAX {
            hi
        } else {
            hi.saturating_add(2 * DAY - 1)
        },
    );
    let last_day = streamed.1.saturating_sub(DAY - 1);
    let params: [(&str, &dyn ToSql); 7] = [
        (":from_ts", &streamed.0),
        (":to_ts", &streamed.1),
        (":last_day", &last_day),
        (":pool", &accounts.pool),
        (":account", &accounts.account),
        (":worker", &worker),
        (":dimension", &dimension),
    ];
    let scope = query_rows(conn, &scope_sql(), &params, |r| {
        Ok(Series {
            series_id: r.get(0)?,
            account_id: r.get(1)?,
            puid: r.get(2)?,
            pool: r.get(3)?,
            account: r.get(4)?,
            worker_id: r.get(5)?,
            worker_name: r.get(6)?,
            dimension: r.get(7)?,
            retention_slots: r.get(8)?,
        })
    })?;
    // recorded gaps: few rows, read once
    let mut recorded: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for (series_id, from_ts, to_ts) in query_rows(conn, HISTORY_GAPS_SQL, &[], |r| {
        Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?))
    })? {
        recorded
            .entry(series_id)
            .or_default()
            .push((from_ts, to_ts));
    }

    let mut summary_stmt = bound(conn, &summary_stream_sql(), &params)?;
    let mut daily_stmt = bound(conn, &daily_stream_sql(), &params)?;
    let mut provisional_stmt = conn.prepare(PROVISIONAL_STREAM_SQL)?;
    let mut summary_stream = SeriesStream::new(&mut summary_stmt)?;
    let mut daily_stream = SeriesStream::new(&mut daily_stmt)?;
    let mut provisional_stream = SeriesStream::new(&mut provisional_stmt)?;
    let mut own = OwnReads {
        summary: conn.prepare_cached(SUMMARY_SQL)?,
        tickers: conn.prepare_cached(TICKERS_SQL)?,
        last_before: conn.prepare_cached(LAST_BEFORE_SQL)?,
        first_from: conn.prepare_cached(FIRST_FROM_SQL)?,
    };

    let mut rows: Vec<(usize, i64, i64, &'static str)> = Vec::new();
    let (mut holes, mut summary, mut live, mut stored) = (vec![], vec![], vec![], vec![]);
    for (index, series) in scope.iter().enumerate() {
        let id = series.series_id;
        let hourly = series.dimension == "1h";
        let step = if hourly { HOUR } else { DAY };
        holes.clear();
        stored.clear();
        if hourly {
            summary_stream.take(id, &mut summary)?;
            provisional_stream.take(id, &mut live)?;
            stored_hours(&summary, &live, streamed, &mut stored);
        } else {
            daily_stream.take(id, &mut summary)?;
            stored.extend(summary.iter().map(|row| row[1]));
        }
        // a daily hole ends a day after its last missing day give or take hours (a pool's
        // moving day start): daily spans start a day earlier (gaps.sql's `day_lo`)
        let span_lo = if hourly || lo == i64::MIN + 1 {
            lo
        } else {
            lo.saturating_sub(DAY)
        };
        let span = own.span(id, &stored, (span_lo, hi), streamed)?;
        // a reversed window can give a reversed span: nothing lies inside it
        if let Some((first_ts, last_ts)) = span.filter(|(first, last)| first <= last) {
            if first_ts < streamed.0 || last_ts > streamed.1 {
                // a span beyond the streamed days: the series' own reads
                stored.clear();
                summary.clear();
                if hourly {
                    let days = ((first_ts / DAY) * DAY, (last_ts / DAY) * DAY);
                    read_all(&mut own.summary, (id, days.0, days.1), &mut summary)?;
                    stored_hours(&summary, &live, (i64::MIN, i64::MAX), &mut stored);
                } else {
                    read_all(&mut own.tickers, (id, first_ts, last_ts), &mut summary)?;
                    stored.extend(summary.iter().map(|row| row[1]));
                }
            }
            let from = stored.partition_point(|&ts| ts < first_ts);
            let to = stored.partition_point(|&ts| ts <= last_ts);
            let span = &stored[from..to];
            if hourly {
                for pair in span.windows(2) {
                    if pair[1] - pair[0] > HOUR {
                        holes.push((pair[0] + HOUR, pair[1] - HOUR));
                    }
                }
            } else {
                day_holes((first_ts, last_ts), span, &mut holes);
            }
        }
        let recorded = recorded.get(&id).map_or(&[][..], Vec::as_slice);
        let found = holes
            .iter()
            .filter(|&&(from, to)| !recorded.iter().any(|&(f, t)| f <= from && t >= to))
            .map(|&(from, to)| (from, to, "hole"))
            .chain(recorded.iter().map(|&(f, t)| (f, t, "expired")));
        for (from_ts, to_ts, kind) in found {
            let overlaps = window
                .0
                .is_none_or(|from| to_ts.saturating_add(step) > from)
                && window.1.is_none_or(|to| from_ts < to);
            if overlaps {
                rows.push((index, from_ts, to_ts, kind));
            }
        }
    }
    // gaps.sql's ORDER BY
    rows.sort_by(|a, b| {
        let (x, y) = (&scope[a.0], &scope[b.0]);
        (&x.pool, x.account_id, x.worker_id.is_some(), &x.worker_name)
            .cmp(&(&y.pool, y.account_id, y.worker_id.is_some(), &y.worker_name))
            .then_with(|| x.dimension.cmp(&y.dimension))
            .then_with(|| a.1.cmp(&b.1))
            .then_with(|| x.worker_id.cmp(&y.worker_id))
            .then_with(|| a.3.cmp(b.3))
            .then_with(|| a.2.cmp(&b.2))
    });
    Ok(rows
        .into_iter()
        .map(|(index, from_ts, to_ts, kind)| {
            let s = &scope[index];
            let step = if s.dimension == "1h" { HOUR } else { DAY };
            let kept_from = s
                .retention_slots
                .map(|slots| now.saturating_sub(slots.saturating_mul(step)));
            let pool_still_has = match kept_from {
                Some(kept) if from_ts >= kept => "yes",
                Some(kept) if to_ts >= kept => "partly",
                _ => "no",
            };
            Gap {
                account_id: s.account_id,
                puid: s.puid,
                pool: s.pool.clone(),
                account: s.account.clone(),
                worker_id: s.worker_id,
                worker_name: s.worker_name.clone(),
                dimension: s.dimension.clone(),
                kind: kind.to_owned(),
                from_ts,
                to_ts,
                points_missing: to_ts.saturating_sub(from_ts) / step + 1,
                pool_still_has: pool_still_has.to_owned(),
            }
        })
        .collect())
}

fn read_all(
    stmt: &mut Statement<'_>,
    params: (i64, i64, i64),
    out: &mut Vec<Row4>,
) -> Result<(), ReportError> {
    let mut rows = stmt.query(params)?;
    while let Some(r) = rows.next()? {
        out.push(read_row(r)?);
    }
    Ok(())
}

/// An hourly series' stored hours, in order: the final ones from its summary rows
/// ([series, day_ts, hours_final, final_mask]; a day with 24 has them all), and its live points
/// ([series, ts]) within `[times.0, times.1]`.
fn stored_hours(summary: &[Row4], live: &[Row4], times: (i64, i64), out: &mut Vec<i64>) {
    for &[_, day_ts, hours_final, final_mask] in summary {
        let mut mask = if hours_final == 24 {
            WHOLE_DAY
        } else {
            (final_mask & i64::from(WHOLE_DAY)) as u32
        };
        while mask != 0 {
            out.push(day_ts + i64::from(mask.trailing_zeros()) * HOUR);
            mask &= mask - 1;
        }
    }
    for &[_, ts, ..] in live
        .iter()
        .filter(|row| row[1] >= times.0 && row[1] <= times.1)
    {
        let at = out.partition_point(|&t| t < ts);
        if out.get(at) != Some(&ts) {
            out.insert(at, ts);
        }
    }
}

/// One series' own reads: its summary or points over a whole span, and the nearest stored point
/// on either side of the window when the streamed days do not hold it.
struct OwnReads<'c> {
    summary: rusqlite::CachedStatement<'c>,
    tickers: rusqlite::CachedStatement<'c>,
    last_before: rusqlite::CachedStatement<'c>,
    first_from: rusqlite::CachedStatement<'c>,
}

impl OwnReads<'_> {
    /// The span searched (gaps.sql's first_ts, last_ts): the stored points inside the window
    /// [lo, hi) plus the nearest stored point on either side; None without stored points.
    /// `stored` are the series' points in the streamed days.
    fn span(
        &mut self,
        series_id: i64,
        stored: &[i64],
        (lo, hi): (i64, i64),
        streamed: (i64, i64),
    ) -> Result<Option<(i64, i64)>, ReportError> {
        let all_before = streamed.0 == i64::MIN; // the stream starts at the beginning of time
        let all_after = streamed.1 == i64::MAX;
        let before_lo = stored.partition_point(|&ts| ts < lo);
        let from_hi = stored.partition_point(|&ts| ts < hi);
        let first = if before_lo > 0 {
            Some(stored[before_lo - 1])
        } else {
            let earlier = if all_before {
                None
            } else {
                self.last_before.query_row((series_id, lo), |r| r.get(0))?
            };
            match earlier {
                Some(ts) => Some(ts),
                None if before_lo < stored.len() || all_after => stored.get(before_lo).copied(),
                None => self.first_from.query_row((series_id, lo), |r| r.get(0))?,
            }
        };
        let last = if from_hi < stored.len() {
            Some(stored[from_hi])
        } else {
            let later = if all_after {
                None
            } else {
                self.first_from.query_row((series_id, hi), |r| r.get(0))?
            };
            match later {
                Some(ts) => Some(ts),
                None if from_hi > 0 || all_before => from_hi.checked_sub(1).map(|i| stored[i]),
                None => self.last_before.query_row((series_id, hi), |r| r.get(0))?,
            }
        };
        Ok(first.zip(last))
    }
}

/// A daily series' holes in [first_ts, last_ts] (gaps.sql's `day_series`, `day_holes`): two
/// consecutive points 36 h or more apart miss round(their distance in days) - 1 days, counted
/// on from the first. `points`: the span's stored points, in order.
fn day_holes((first_ts, last_ts): (i64, i64), points: &[i64], holes: &mut Vec<(i64, i64)>) {
    let regular = (last_ts - first_ts) % DAY == 0
        && points.len() as i64 == (last_ts - first_ts) / DAY + 1
        && points.iter().all(|ts| ts % DAY == first_ts % DAY);
    if regular {
        return;
    }
    for pair in points.windows(2) {
        let (prev, ts) = (pair[0], pair[1]);
        if ts - prev >= DAY + DAY / 2 {
            let missing = (ts - prev + DAY / 2) / DAY - 1;
            holes.push((prev + DAY, prev + missing * DAY));
        }
    }
}
