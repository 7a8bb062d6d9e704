//! Uptime, outages and the uptime heatmap in one pass over `hourly_by_day`.
//!
//! queries/uptime.sql, outages.sql and uptime_by_day.sql define these reports (and are what to
//! run in sqlite3); each re-derives the workers and reads the same `hourly_by_day` rows, and at
//! 10,000 workers most of their time went into SQLite evaluating the per-row bit arithmetic
//! (a month's monthly report ran the three for ~2.7 s). Here queries/uptime_workers.sql selects the
//! workers once (same scope, plus the per-worker columns), one primary-key range of
//! `hourly_by_day` per worker gives its counted days, and the hours, runs and cells are derived
//! from `up_mask` in Rust, following the method in uptime.sql's header formula by formula (the
//! same integer arithmetic, so the same rows: tests/report_uptime_props.rs checks the functions of
//! `report::uptime` built on this, and the .sql files, against an hour-by-hour recomputation).

use rusqlite::Connection;

use super::period::Period;
use super::stream::{bound, Row4, SeriesStream, WORKER_SCOPE};
use super::uptime::{Outage, UptimeDay, UptimeRow};
use super::{query_rows, PeriodParams, ReportError, Selection};

pub const UPTIME_WORKERS_SQL: &str = include_str!("../../queries/uptime_workers.sql");

/// The selected workers' stored days that can hold counted hours, (:day_after, :to), series by
/// series.
fn stored_days_sql() -> String {
    format!(
        "SELECT b.series_id, b.day_ts, b.hours_up, b.up_mask FROM hourly_by_day b
WHERE b.series_id IN (SELECT w.hourly_series_id {WORKER_SCOPE})
  AND b.day_ts > :day_after AND b.day_ts < :day_before
ORDER BY b.series_id, b.day_ts"
    )
}
/// Whether an hour was up (outages.sql's `began_before_period` probe).
const HOUR_UP_SQL: &str = "SELECT EXISTS (SELECT 1 FROM tickers \
     WHERE series_id = ?1 AND ts = ?2 AND provisional = 0 AND hashrate_hs > 0)";

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const WHOLE_DAY: i64 = 0xFF_FFFF;

/// A heatmap cell before it gets its worker: (day_ts, hours_up, hours_counted).
type Cell = (i64, i64, i64);

/// Which of the three results to build (the others stay empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    pub rows: bool,
    pub days: bool,
    pub outages: bool,
    /// With `rows` and `days`: the days of the first n rows only (the worst uptimes, what a
    /// heatmap shows), not of every worker.
    pub days_of_first: Option<usize>,
}

/// uptime.sql's, uptime_by_day.sql's and outages.sql's rows, in their order.
#[derive(Debug, Default)]
pub struct Scan {
    pub rows: Vec<UptimeRow>,
    pub days: Vec<UptimeDay>,
    pub outages: Vec<Outage>,
}

/// One selected worker (a row of uptime_workers.sql).
struct Worker {
    account_id: i64,
    puid: Option<i64>,
    pool: String,
    account: String,
    worker_id: i64,
    worker_name: String,
    group_name: Option<String>,
    series_id: Option<i64>,
    first_hour_ts: Option<i64>,
    daily_before_hourly_ts: Option<i64>,
    gap_hours: i64,
}

/// A stored `hourly_by_day` row of a worker.
#[derive(Clone, Copy)]
struct Stored {
    day_ts: i64,
    hours_up: i64,
    up_mask: i64,
}

/// Set bits among the 24 hours of a day.
fn hours_in(mask: i64) -> i64 {
    i64::from((mask & WHOLE_DAY).count_ones())
}

pub fn scan(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
    want: Want,
) -> Result<Scan, ReportError> {
    let params = PeriodParams::new(period, selection);
    let workers = query_rows(conn, UPTIME_WORKERS_SQL, &params.list(), |r| {
        Ok(Worker {
            account_id: r.get(0)?,
            puid: r.get(1)?,
            pool: r.get(2)?,
            account: r.get(3)?,
            worker_id: r.get(4)?,
            worker_name: r.get(5)?,
            group_name: r.get(6)?,
            series_id: r.get(7)?,
            first_hour_ts: r.get(8)?,
            daily_before_hourly_ts: r.get(9)?,
            gap_hours: r.get(10)?,
        })
    })?;
    // bounds: the period on whole hours (the .sql files' p_from, p_to), and its UTC days
    let p_from = ((period.from + 3599) / HOUR) * HOUR;
    let p_to = ((period.to + 3599) / HOUR) * HOUR;
    let mut period_days = Vec::new();
    if p_from < p_to {
        let mut day = (p_from / DAY) * DAY;
        while day < p_to {
            period_days.push(day);
            day += DAY;
        }
    }
    // a worker's days are [start - DAY, end) with start >= p_from: one read of all of them,
    // the workers taken in series order
    let day_after = p_from - DAY;
    let mut stream_params = params.list().to_vec();
    stream_params.push((":day_after", &day_after));
    stream_params.push((":day_before", &p_to));
    let mut stored_stmt = bound(conn, &stored_days_sql(), &stream_params)?;
    let mut stored_days = SeriesStream::new(&mut stored_stmt)?;
    let mut order: Vec<usize> = (0..workers.len()).collect();
    order.sort_by_key(|&i| (workers[i].series_id.is_none(), workers[i].series_id));
    let mut streamed: Vec<Row4> = Vec::new();
    let mut out = Scan::default();
    // (worker, start_ts, end_ts) of every outage, sorted below
    let mut outages: Vec<(usize, i64, i64)> = Vec::new();
    let mut day_cells: Vec<(usize, Vec<Cell>)> = Vec::new();
    let mut stored: Vec<Stored> = Vec::new();
    let mut pieces: Vec<(i64, i64)> = Vec::new();
    for index in order {
        let w = &workers[index];
        // counted: [MAX(p_from, first_hour_ts), p_to); NULL start when no hourly point
        let start = w.first_hour_ts.map(|first| first.max(p_from));
        let end = p_to;
        let counting = start.filter(|&s| s < end);
        stored.clear();
        if let Some(series) = w.series_id {
            stored_days.take(series, &mut streamed)?;
            if let Some(start) = counting {
                stored.extend(
                    streamed
                        .iter()
                        .filter(|row| row[1] > start - DAY && row[1] < end)
                        .map(|&[_, day_ts, hours_up, up_mask]| Stored {
                            day_ts,
                            hours_up,
                            up_mask,
                        }),
                );
            }
        }
        let mut hours_up = 0;
        let mut runs = (0i64, 0i64); // (outages, longest hours)
        if let Some(start) = counting {
            pieces.clear();
            for s in &stored {
                let whole = s.day_ts >= start && s.day_ts + DAY <= end;
                let hours = if whole {
                    WHOLE_DAY
                } else {
                    (1i64 << (((s.day_ts + DAY).min(end) - s.day_ts) / HOUR))
                        - (1i64 << ((s.day_ts.max(start) - s.day_ts) / HOUR))
                };
                hours_up += if whole {
                    s.hours_up
                } else {
                    hours_in(hours & s.up_mask)
                };
                // the day's runs of down bits, [first bit, bit after the last) as times
                let mut down = hours & !s.up_mask;
                while down != 0 {
                    let first = i64::from(down.trailing_zeros());
                    let after = first + i64::from((down >> first).trailing_ones());
                    pieces.push((s.day_ts + HOUR * first, s.day_ts + HOUR * after));
                    down &= !(((1i64 << (after - first)) - 1) << first);
                }
            }
            let counted_days = (end - 1) / DAY - start / DAY + 1;
            if (stored.len() as i64) < counted_days {
                // days without a row: down in every counted hour
                let mut next = stored.iter().map(|s| s.day_ts).peekable();
                for &day in &period_days {
                    while next.next_if(|&d| d < day).is_some() {}
                    if day + DAY > start && day < end && next.peek() != Some(&day) {
                        pieces.push((day.max(start), (day + DAY).min(end)));
                    }
                }
            }
            // touching pieces (across midnight) form one outage
            pieces.sort_unstable();
            let mut run: Option<(i64, i64)> = None;
            for &(from, to) in &pieces {
                match &mut run {
                    Some(r) if r.1 == from => r.1 = to,
                    _ => {
                        if let Some(done) = run.replace((from, to)) {
                            runs = (runs.0 + 1, runs.1.max((done.1 - done.0) / HOUR));
                            if want.outages {
                                outages.push((index, done.0, done.1));
                            }
                        }
                    }
                }
            }
            if let Some(done) = run {
                runs = (runs.0 + 1, runs.1.max((done.1 - done.0) / HOUR));
                if want.outages {
                    outages.push((index, done.0, done.1));
                }
            }
        }
        if want.rows {
            let counted_hours = start.map(|s| (end - s) / HOUR);
            out.rows.push(UptimeRow {
                account_id: w.account_id,
                puid: w.puid,
                pool: w.pool.clone(),
                account: w.account.clone(),
                worker_id: w.worker_id,
                worker_name: w.worker_name.clone(),
                group_name: w.group_name.clone(),
                hours_up,
                hours_total: counted_hours.unwrap_or(0).max(0),
                uptime: counting
                    .and(counted_hours)
                    .filter(|&h| h != 0)
                    .map(|h| hours_up as f64 / h as f64),
                outages: runs.0,
                longest_outage_hours: runs.1,
                first_hour_ts: w.first_hour_ts,
                counted_from_ts: counting,
                daily_before_hourly_ts: w.daily_before_hourly_ts,
                gap_hours: w.gap_hours,
            });
        }
        if want.days {
            let mut cells = Vec::with_capacity(period_days.len());
            let mut next = stored.iter().peekable();
            for &day in &period_days {
                while next.next_if(|s| s.day_ts < day).is_some() {}
                let row = next.peek().filter(|s| s.day_ts == day);
                let whole = start.is_some_and(|s| day >= s && day + DAY <= end);
                let from = start.map(|s| s.max(day));
                let to = (day + DAY).min(end);
                let (up, counted) = if whole {
                    (row.map_or(0, |s| s.hours_up), 24)
                } else {
                    match from {
                        Some(from) if from < to => {
                            let mask =
                                (1i64 << ((to - day) / HOUR)) - (1i64 << ((from - day) / HOUR));
                            (
                                hours_in(mask & row.map_or(0, |s| s.up_mask)),
                                ((to - from) / HOUR).max(0),
                            )
                        }
                        Some(from) => (0, ((to - from) / HOUR).max(0)),
                        None => (0, 0),
                    }
                };
                cells.push((day, up, counted));
            }
            day_cells.push((index, cells));
        }
    }
    if want.rows {
        out.rows.sort_by(|a, b| {
            (a.uptime.is_none(), a.uptime.unwrap_or(0.0))
                .partial_cmp(&(b.uptime.is_none(), b.uptime.unwrap_or(0.0)))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.worker_name.cmp(&b.worker_name))
                .then(a.account_id.cmp(&b.account_id))
                .then(a.worker_id.cmp(&b.worker_id))
        });
    }
    if want.days {
        if let Some(n) = want.days_of_first.filter(|_| want.rows) {
            let shown: std::collections::HashSet<(i64, i64)> = out.rows[..n.min(out.rows.len())]
                .iter()
                .map(|r| (r.account_id, r.worker_id))
                .collect();
            day_cells
                .retain(|(i, _)| shown.contains(&(workers[*i].account_id, workers[*i].worker_id)));
        }
        let key = |i: usize| {
            let w = &workers[i];
            (&w.worker_name, w.account_id, w.worker_id)
        };
        day_cells.sort_by(|a, b| key(a.0).cmp(&key(b.0)));
        out.days.reserve(day_cells.len() * period_days.len());
        for (index, cells) in day_cells {
            let w = &workers[index];
            for (day_ts, hours_up, hours_counted) in cells {
                out.days.push(UptimeDay {
                    account_id: w.account_id,
                    puid: w.puid,
                    pool: w.pool.clone(),
                    account: w.account.clone(),
                    worker_id: w.worker_id,
                    worker_name: w.worker_name.clone(),
                    day_ts,
                    hours_up,
                    hours_counted,
                    uptime: (hours_counted > 0).then(|| hours_up as f64 / hours_counted as f64),
                });
            }
        }
    }
    if want.outages {
        let mut hour_up = conn.prepare_cached(HOUR_UP_SQL)?;
        outages.sort_by(|a, b| {
            let (wa, wb) = (&workers[a.0], &workers[b.0]);
            ((b.2 - b.1) / HOUR)
                .cmp(&((a.2 - a.1) / HOUR))
                .then(a.1.cmp(&b.1))
                .then_with(|| wa.worker_name.cmp(&wb.worker_name))
                .then(wa.account_id.cmp(&wb.account_id))
                .then(wa.worker_id.cmp(&wb.worker_id))
        });
        out.outages.reserve(outages.len());
        for (index, start_ts, end_ts) in outages {
            let w = &workers[index];
            // began before the period: the hour before it was not up either
            let began_before_period = start_ts == p_from
                && w.first_hour_ts.is_some_and(|f| f < p_from)
                && !hour_up.query_row((w.series_id, p_from - HOUR), |r| r.get::<_, bool>(0))?;
            out.outages.push(Outage {
                account_id: w.account_id,
                puid: w.puid,
                pool: w.pool.clone(),
                account: w.account.clone(),
                worker_id: w.worker_id,
                worker_name: w.worker_name.clone(),
                group_name: w.group_name.clone(),
                start_ts,
                end_ts,
                hours: (end_ts - start_ts) / HOUR,
                began_before_period,
                open_at_period_end: end_ts == p_to,
            });
        }
    }
    Ok(out)
}
