//! The per-worker reject rate (queries/reject_rate.sql's rows) from one ordered read.
//!
//! reject_rate.sql is the definition and what to run in sqlite3. At 10,000 workers it spent most
//! of a month's 0.3 s summing `hourly_by_day` rows and looking up, for every daily point, whether
//! its day had a final hourly point. Here the whole days' summary rows stream once in series
//! order and are summed as they pass; their `final_mask` gives each worker's runs of 24 hours or
//! more without a final hourly point, and only the daily points inside such a run are read and
//! checked exactly as reject_rate.sql checks them (a daily point whose day has a final hour can
//! never stand in). The partial days at the period's edges are summed by SQL, as there.
//! [`day_rows`] does the same for queries/reject_rate_by_day.sql, summing into one entry per
//! day (the SQL sorted every point of the period by day: 5 s and 249 MiB over a year).
//! Sums use SQLite's compensated summation, so the figures agree with the SQL to rounding
//! (tests/report_reject_scan.rs; tests/report_reject_props.rs checks both against a recomputation).

use std::collections::{BTreeMap, HashMap};

use rusqlite::Connection;

use super::period::Period;
use super::reject_rate::{RejectRateDay, RejectRateRow};
use super::stream::{bound, SeriesStream, WORKER_SCOPE};
use super::{query_rows, PeriodParams, ReportError, Selection};

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

fn scope_sql() -> String {
    format!(
        "SELECT w.account_id, w.puid, w.pool, w.account, w.worker_id, w.worker_name, w.group_name,
       w.hourly_series_id, w.daily_series_id
{WORKER_SCOPE}"
    )
}

/// The whole days' summary rows, series by series in day order.
fn whole_days_sql() -> String {
    format!(
        "SELECT b.series_id, b.day_ts, b.hours_final, b.hashrate_sum, b.reject_weight_sum,
       b.final_mask
FROM hourly_by_day b
WHERE b.series_id IN (SELECT w.hourly_series_id {WORKER_SCOPE})
  AND b.day_ts >= :day_lo AND b.day_ts < :day_hi
ORDER BY b.series_id, b.day_ts"
    )
}

/// The final hourly points of a partial edge day, summed per series.
fn edge_sql() -> String {
    format!(
        "SELECT t.series_id, t.ts, t.hashrate_hs * 3600.0, t.hashrate_hs * 3600.0 * t.reject_rate
FROM tickers t
WHERE t.series_id IN (SELECT w.hourly_series_id {WORKER_SCOPE})
  AND t.ts >= :edge_from AND t.ts < :edge_to AND t.provisional = 0
ORDER BY t.series_id, t.ts"
    )
}

/// A worker's daily points that may stand in for their day, and reject_rate.sql's checks.
const DAILY_SQL: &str = "SELECT ts, hashrate_hs * 86400.0, hashrate_hs * 86400.0 * reject_rate \
     FROM tickers WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 AND provisional = 0 ORDER BY ts";
const DAY_HAS_FINAL_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM hourly_by_day WHERE series_id = ?1 AND day_ts = ?2)";
const WINDOW_HAS_FINAL_SQL: &str = "SELECT EXISTS (SELECT 1 FROM tickers \
     WHERE series_id = ?1 AND provisional = 0 AND ts >= ?2 AND ts < ?2 + 86400)";

/// SQLite's SUM() of floats: Kahan-Babuska-Neumaier compensated summation.
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }
    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// One part of a worker's figures (reject_rate.sql's `hourly_parts` rows and `daily`).
#[derive(Debug, Clone, Copy, Default)]
struct Part {
    accepted: Sum,
    weight: Sum,
    count: i64,
}

impl Part {
    fn add(&mut self, accepted: f64, weight: f64) {
        self.accepted.add(accepted);
        self.weight.add(weight);
        self.count += 1;
    }
}

struct Worker {
    account_id: i64,
    puid: Option<i64>,
    pool: String,
    account: String,
    worker_id: i64,
    worker_name: String,
    group_name: Option<String>,
    hourly_series: Option<i64>,
    daily_series: Option<i64>,
}

/// The hourly parts of one worker, and its runs of 24 hours or more without a known final
/// hourly point, [from, to): from a second after a final point's time to the next one's.
#[derive(Default)]
struct Hourly {
    parts: [Option<Part>; 3],
    covered_until: Option<i64>,
    runs: Vec<(i64, i64)>,
}

/// reject_rate.sql's rows, in its order.
pub fn worker_rows(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<RejectRateRow>, ReportError> {
    let (from, to) = (period.from, period.to);
    // reject_rate.sql's `bounds`: whole days [day_lo, day_hi); partial days [from, head_to)
    // and [day_hi, to)
    let day_lo = ((from + DAY - 1) / DAY) * DAY;
    let day_hi = day_lo.max((to / DAY) * DAY);
    let head_to = day_lo.min(to);
    let base = PeriodParams::new(period, selection);
    let mut params = base.list().to_vec();
    params.push((":day_lo", &day_lo));
    params.push((":day_hi", &day_hi));
    let workers = query_rows(conn, &scope_sql(), &params, |r| {
        Ok(Worker {
            account_id: r.get(0)?,
            puid: r.get(1)?,
            pool: r.get(2)?,
            account: r.get(3)?,
            worker_id: r.get(4)?,
            worker_name: r.get(5)?,
            group_name: r.get(6)?,
            hourly_series: r.get(7)?,
            daily_series: r.get(8)?,
        })
    })?;
    let mut hourly: HashMap<i64, Hourly> = workers
        .iter()
        .filter_map(|w| w.hourly_series)
        .map(|s| (s, Hourly::default()))
        .collect();
    // part 0: the whole days, from the summary; the runs between their final hours
    {
        let mut stmt = super::stream::bound(conn, &whole_days_sql(), &params)?;
        let mut rows = stmt.raw_query();
        while let Some(r) = rows.next()? {
            let series: i64 = r.get(0)?;
            let Some(h) = hourly.get_mut(&series) else {
                continue;
            };
            let day_ts: i64 = r.get(1)?;
            let hours_final: i64 = r.get(2)?;
            let part = h.parts[0].get_or_insert_with(Part::default);
            part.accepted.add(r.get::<_, f64>(3)? * 3600.0);
            part.weight.add(r.get::<_, f64>(4)? * 3600.0);
            part.count += hours_final;
            let mask: i64 = if hours_final == 24 {
                0xFF_FFFF
            } else {
                r.get::<_, i64>(5)? & 0xFF_FFFF
            };
            let mut bits = mask;
            while bits != 0 {
                let hour_ts = day_ts + i64::from(bits.trailing_zeros()) * HOUR;
                let since = h.covered_until.unwrap_or(from);
                if hour_ts - since >= DAY {
                    h.runs.push((since, hour_ts));
                }
                // a daily point after this one's time can stand in (even off the hour)
                h.covered_until = Some(hour_ts + 1);
                bits &= bits - 1;
            }
        }
    }
    // parts 1 and 2: the partial days at the edges, from the tickers
    for (slot, (edge_from, edge_to)) in [(1, (from, head_to)), (2, (day_hi, to))] {
        if edge_from >= edge_to {
            continue;
        }
        let mut edge_params = base.list().to_vec();
        edge_params.push((":edge_from", &edge_from));
        edge_params.push((":edge_to", &edge_to));
        let mut stmt = super::stream::bound(conn, &edge_sql(), &edge_params)?;
        let mut rows = stmt.raw_query();
        while let Some(r) = rows.next()? {
            if let Some(h) = hourly.get_mut(&r.get::<_, i64>(0)?) {
                h.parts[slot]
                    .get_or_insert_with(Part::default)
                    .add(r.get(2)?, r.get(3)?);
            }
        }
    }
    let mut daily_stmt = conn.prepare_cached(DAILY_SQL)?;
    let mut day_has_final = conn.prepare_cached(DAY_HAS_FINAL_SQL)?;
    let mut window_has_final = conn.prepare_cached(WINDOW_HAS_FINAL_SQL)?;
    let no_hourly = Hourly::default();
    let mut out = Vec::with_capacity(workers.len());
    for w in &workers {
        let h = w
            .hourly_series
            .and_then(|s| hourly.get(&s))
            .unwrap_or(&no_hourly);
        // the hourly figures: reject_rate.sql's `hourly`, the parts summed in turn
        let mut accepted_1h = Sum::default();
        let mut weight_1h = Sum::default();
        let mut hours_1h = 0;
        for part in h.parts.iter().flatten() {
            accepted_1h.add(part.accepted.value());
            weight_1h.add(part.weight.value());
            hours_1h += part.count;
        }
        // the daily points standing in: only inside a run of a day or more without a known
        // final hour (the period's partial edge days count as unknown), then checked exactly
        let mut daily = Part::default();
        if let Some(daily_series) = w.daily_series {
            let since = h.covered_until.unwrap_or(from);
            let tail = (to - since >= DAY).then_some((since, to));
            for &(run_from, run_to) in h.runs.iter().chain(tail.iter()) {
                let (lo, hi) = (run_from.max(from), (run_to - DAY).min(to - DAY));
                if lo > hi {
                    continue;
                }
                let mut rows = daily_stmt.query((daily_series, lo, hi))?;
                while let Some(r) = rows.next()? {
                    let ts: i64 = r.get(0)?;
                    let has_final = if ts % DAY == 0 {
                        day_has_final.query_row((w.hourly_series, ts), |r| r.get::<_, bool>(0))?
                    } else {
                        window_has_final
                            .query_row((w.hourly_series, ts), |r| r.get::<_, bool>(0))?
                    };
                    if !has_final {
                        daily.add(r.get(1)?, r.get(2)?);
                    }
                }
            }
        }
        // an empty sum is 0, as the SQL's COALESCE(..., 0)
        let (accepted_1h, weight_1h) = (accepted_1h.value(), weight_1h.value());
        let (accepted_1d, weight_1d) = (daily.accepted.value(), daily.weight.value());
        let accepted_hashes = accepted_1h + accepted_1d;
        let reject_weight = weight_1h + weight_1d;
        let days_1d = daily.count;
        let source = match (hours_1h > 0, days_1d > 0) {
            (true, true) => "1h+1d",
            (true, false) => "1h",
            (false, true) => "1d",
            (false, false) => "none",
        };
        out.push(RejectRateRow {
            account_id: w.account_id,
            puid: w.puid,
            pool: w.pool.clone(),
            account: w.account.clone(),
            worker_id: w.worker_id,
            worker_name: w.worker_name.clone(),
            group_name: w.group_name.clone(),
            reject_rate: (accepted_hashes > 0.0).then(|| reject_weight / accepted_hashes),
            accepted_hashes,
            reject_weight,
            hours_1h,
            days_1d,
            source: source.to_owned(),
        });
    }
    // ORDER BY reject_rate IS NULL, reject_rate DESC, accepted_hashes DESC, worker_name,
    // account_id, worker_id
    out.sort_by(|a, b| {
        (a.reject_rate.is_none(), b.reject_rate, b.accepted_hashes)
            .partial_cmp(&(b.reject_rate.is_none(), a.reject_rate, a.accepted_hashes))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.worker_name.cmp(&b.worker_name))
            .then(a.account_id.cmp(&b.account_id))
            .then(a.worker_id.cmp(&b.worker_id))
    });
    Ok(out)
}

/// The whole days' summary rows of the selected workers, series by series (for [`day_rows`]).
fn whole_day_sums_sql() -> String {
    format!(
        "SELECT b.series_id, b.day_ts, b.hashrate_sum * 3600.0, b.reject_weight_sum * 3600.0
FROM hourly_by_day b
WHERE b.series_id IN (SELECT w.hourly_series_id {WORKER_SCOPE})
  AND b.day_ts >= :day_lo AND b.day_ts < :day_hi
ORDER BY b.series_id, b.day_ts"
    )
}

/// A worker's final daily points at UTC midnight in [?2, ?3).
const MIDNIGHT_DAILY_SQL: &str = "SELECT ts, hashrate_hs * 86400.0, \
     hashrate_hs * 86400.0 * reject_rate FROM tickers \
     WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3 AND provisional = 0 AND ts % 86400 = 0 \
     ORDER BY ts";

/// One UTC day's sums (queries/reject_rate_by_day.sql's groups).
#[derive(Default)]
struct DaySums {
    hashes: Sum,
    weight: Sum,
    on_1d: i64,
}

/// queries/reject_rate_by_day.sql's rows, in its order: the selected workers' points (final
/// hourly ones; a final daily point at UTC midnight for a whole day without a final hourly one)
/// summed per UTC day. The whole days stream from the summary in series order; a worker's
/// daily points are read only for its whole days without a summary row. Memory is a few sums
/// per day, whatever the number of workers.
pub fn day_rows(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<RejectRateDay>, ReportError> {
    let (from, to) = (period.from, period.to);
    if from >= to {
        return Ok(Vec::new());
    }
    let day_lo = ((from + DAY - 1) / DAY) * DAY;
    let day_hi = day_lo.max((to / DAY) * DAY);
    let base = PeriodParams::new(period, selection);
    let mut params = base.list().to_vec();
    params.push((":day_lo", &day_lo));
    params.push((":day_hi", &day_hi));
    let workers = query_rows(conn, &scope_sql(), &params, |r| {
        Ok((r.get::<_, Option<i64>>(7)?, r.get::<_, Option<i64>>(8)?))
    })?;
    let mut days: BTreeMap<i64, DaySums> = BTreeMap::new();
    // the partial days at the edges: each worker's final hourly points of the day, summed as
    // one cell (the SQL's `edge_cells`), then added to the day
    for (edge_from, edge_to) in [(from, day_lo.min(to)), (day_hi.max(from), to)] {
        if edge_from >= edge_to {
            continue;
        }
        let mut edge_params = base.list().to_vec();
        edge_params.push((":edge_from", &edge_from));
        edge_params.push((":edge_to", &edge_to));
        let mut stmt = bound(conn, &edge_sql(), &edge_params)?;
        let mut rows = stmt.raw_query();
        let mut cell: Option<(i64, i64, Sum, Sum)> = None; // (series, day, hashes, weight)
        let close = |cell: Option<(i64, i64, Sum, Sum)>, days: &mut BTreeMap<i64, DaySums>| {
            if let Some((_, day, hashes, weight)) = cell {
                let sums = days.entry(day).or_default();
                sums.hashes.add(hashes.value());
                sums.weight.add(weight.value());
            }
        };
        while let Some(r) = rows.next()? {
            let (series, ts): (i64, i64) = (r.get(0)?, r.get(1)?);
            let day = ts.div_euclid(DAY) * DAY;
            if cell.is_none_or(|c| (c.0, c.1) != (series, day)) {
                close(cell.take(), &mut days);
                cell = Some((series, day, Sum::default(), Sum::default()));
            }
            let c = cell.as_mut().expect("set above");
            c.2.add(r.get(2)?);
            c.3.add(r.get(3)?);
        }
        close(cell, &mut days);
    }
    // the whole days: the summary rows as they stream; a worker's days without one may take its
    // daily point
    let mut summary_stmt = bound(conn, &whole_day_sums_sql(), &params)?;
    let mut stream: SeriesStream<'_, (i64, i64, f64, f64)> = SeriesStream::new(&mut summary_stmt)?;
    let mut summary = Vec::new();
    let mut daily_stmt = conn.prepare_cached(MIDNIGHT_DAILY_SQL)?;
    let mut order: Vec<usize> = (0..workers.len()).collect();
    order.sort_by_key(|&i| (workers[i].0.is_none(), workers[i].0));
    let whole_days = ((day_hi - day_lo) / DAY) as usize;
    let mut has_row = vec![false; whole_days];
    for index in order {
        let (hourly, daily) = workers[index];
        has_row.iter_mut().for_each(|d| *d = false);
        if let Some(series) = hourly {
            stream.take(series, &mut summary)?;
            for &(_, day, hashes, weight) in &summary {
                let sums = days.entry(day).or_default();
                sums.hashes.add(hashes);
                sums.weight.add(weight);
                has_row[((day - day_lo) / DAY) as usize] = true;
            }
        }
        let Some(daily) = daily else { continue };
        // runs of whole days without a summary row: their midnight daily points stand in
        let mut day = 0;
        while day < whole_days {
            if has_row[day] {
                day += 1;
                continue;
            }
            let run_from = day;
            while day < whole_days && !has_row[day] {
                day += 1;
            }
            let lo = day_lo + run_from as i64 * DAY;
            let hi = day_lo + day as i64 * DAY;
            let mut rows = daily_stmt.query((daily, lo, hi))?;
            while let Some(r) = rows.next()? {
                let sums = days.entry(r.get(0)?).or_default();
                sums.hashes.add(r.get(1)?);
                sums.weight.add(r.get(2)?);
                sums.on_1d += 1;
            }
        }
    }
    let mut out: Vec<RejectRateDay> = days
        .into_iter()
        .map(|(day_ts, sums)| {
            let (hashes, weight) = (sums.hashes.value(), sums.weight.value());
            RejectRateDay {
                day_ts,
                reject_rate: (hashes > 0.0).then(|| weight / hashes),
                accepted_hashes: hashes,
                reject_weight: weight,
                workers_on_1d: sums.on_1d,
            }
        })
        .collect();
    // ORDER BY reject_rate IS NULL, reject_rate DESC, day_ts
    out.sort_by(|a, b| {
        (a.reject_rate.is_none(), b.reject_rate)
            .partial_cmp(&(b.reject_rate.is_none(), a.reject_rate))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.day_ts.cmp(&b.day_ts))
    });
    Ok(out)
}
