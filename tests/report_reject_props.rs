//! The reject-rate reports (per worker, per day), the account's daily hashrate and the gaps
//! list against plain-Rust recomputations over random databases written through the real
//! writer (tests/random_db). The queries read the per-day summary `hourly_by_day` for whole
//! days; the recomputations read only the stored tickers, point by point, following the
//! definitions in the queries' headers.

mod random_db;

use std::collections::BTreeMap;

use poolhist::model::Dimension;
use poolhist::model::Point;
use poolhist::pools::PoolKind;
use poolhist::report::gaps::{self, Gap};
use poolhist::report::monthly::{self, DailyHashrate};
use poolhist::report::period::Period;
use poolhist::report::reject_rate::{self, RejectRateDay, RejectRateRow};
use poolhist::report::{AccountFilter, Selection};
use poolhist::store::{PageWrite, Store};
use random_db::{
    assert_summary_current, random_db, random_period, stored_series, stored_workers, RandomDb, Rng,
    Stored, StoredWorker, D, DAYS, END, H, PUID, START,
};
use rusqlite::{params, Connection};

const SEEDS: u64 = 60;
const PERIODS_PER_SEED: usize = 5;

/// Equal up to summation order: the queries add per-day sums, the recomputation point by point.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn close_opt(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => close(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// The ids of the series matching `condition` (an SQL expression over `series`).
fn series_ids(db: &RandomDb, condition: &str) -> Vec<i64> {
    db.conn
        .prepare(&format!(
            "SELECT series_id FROM series WHERE {condition} ORDER BY series_id"
        ))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Live points the pool never served again (a run stopped before the next one): provisional
/// hourly points left at free hours anywhere, some on days without a final point, written
/// through the writer like the rest.
fn leave_stray_live_points(db: &RandomDb, rng: &mut Rng) {
    let hourly = series_ids(db, "dimension = '1h'");
    let mut store = Store::open(&db.path).unwrap();
    for _ in 0..rng.range(0, 10) {
        let series_id = hourly[rng.range(0, hourly.len() as i64) as usize];
        let ts = START - 2 * D + rng.range(0, (DAYS + 4) * 24) * H;
        let taken: bool = db
            .conn
            .query_row(
                "SELECT count(*) > 0 FROM tickers WHERE series_id = ?1 AND ts = ?2",
                params![series_id, ts],
                |r| r.get(0),
            )
            .unwrap();
        if taken {
            continue;
        }
        let page = PageWrite {
            series_id,
            dimension: Dimension::Hour,
            tickers: vec![Point {
                ts,
                hashrate_hs: if rng.chance(80) {
                    5e13 * rng.unit()
                } else {
                    0.0
                },
                reject_rate: 0.5 * rng.unit(),
                provisional: true,
            }],
            covered_through: None,
            finished_at: None,
            stale_provisional_before: None,
            expired_gap: None,
        };
        store.write_pages(&[page], 3, END).unwrap();
    }
}

/// Daily points at the pool's own midnight (here 05:00 UTC), as a pool keeping days in another
/// zone sends them: each spans two UTC days, so the query looks its hours up in the tickers.
fn add_off_midnight_daily_points(db: &RandomDb, rng: &mut Rng) {
    let daily = series_ids(db, "dimension = '1d' AND worker_id IS NOT NULL");
    let mut store = Store::open(&db.path).unwrap();
    for _ in 0..rng.range(0, 6) {
        let series_id = daily[rng.range(0, daily.len() as i64) as usize];
        let page = PageWrite {
            series_id,
            dimension: Dimension::Day,
            tickers: vec![Point {
                ts: START + rng.range(-1, DAYS + 1) * D + 5 * H,
                hashrate_hs: 5e13 * rng.unit(),
                reject_rate: 0.1 * rng.unit(),
                provisional: rng.chance(20),
            }],
            covered_through: None,
            finished_at: None,
            stale_provisional_before: None,
            expired_gap: None,
        };
        store.write_pages(&[page], 3, END).unwrap();
    }
}

/// A report selection and the workers it should cover.
struct Pick {
    selection: Selection,
    keep: fn(&StoredWorker) -> bool,
}

fn picks() -> Vec<Pick> {
    let group = |g: &str| Selection {
        group: Some(g.to_owned()),
        ..Selection::default()
    };
    let worker = |w: &str| Selection {
        worker: Some(w.to_owned()),
        ..Selection::default()
    };
    vec![
        Pick {
            selection: Selection::default(),
            keep: |_| true,
        },
        Pick {
            selection: Selection {
                accounts: AccountFilter::puid(PUID),
                ..Selection::default()
            },
            keep: |_| true,
        },
        Pick {
            selection: group("rack-a"),
            keep: |w| w.group_name.as_deref() == Some("rack-a"),
        },
        Pick {
            // by numeric id: gid 2 is rack-b
            selection: group("2"),
            keep: |w| w.group_name.as_deref() == Some("rack-b"),
        },
        Pick {
            selection: worker("rig-0[024]"),
            keep: |w| ["rig-00", "rig-02", "rig-04"].contains(&w.worker_name.as_str()),
        },
    ]
}

/// A period as the reports get it (whole hours, from `Period::new`), or now and then one that
/// starts and ends at arbitrary seconds, which the queries accept too.
fn period(rng: &mut Rng, now: i64) -> Period {
    let (from, to) = random_period(rng);
    if rng.chance(25) {
        let from = from + rng.range(0, H);
        let to = (to + rng.range(0, H)).max(from + 1);
        Period {
            from,
            to,
            requested_to: to,
        }
    } else {
        Period::new(from, to, now).unwrap()
    }
}

fn final_points(points: &[Stored]) -> impl Iterator<Item = &Stored> {
    points.iter().filter(|t| !t.provisional)
}

/// The worker's final hourly points in [from, to).
fn hourly_in(w: &StoredWorker, from: i64, to: i64) -> impl Iterator<Item = &Stored> {
    final_points(&w.hourly).filter(move |t| t.ts >= from && t.ts < to)
}

/// The worker's final daily points that stand in for a day wholly inside [from, to) without a
/// final hourly point.
fn daily_fallback(w: &StoredWorker, from: i64, to: i64) -> impl Iterator<Item = &Stored> {
    final_points(&w.daily)
        .filter(move |d| d.ts >= from && d.ts + D <= to)
        .filter(|d| hourly_in(w, d.ts, d.ts + D).next().is_none())
}

#[derive(Debug, Default)]
struct Sums {
    accepted: f64,
    weight: f64,
    hours: i64,
    days: i64,
}

impl Sums {
    fn add(&mut self, t: &Stored, seconds: f64) {
        self.accepted += t.hashrate_hs * seconds;
        self.weight += t.hashrate_hs * seconds * t.reject_rate;
    }

    fn rate(&self) -> Option<f64> {
        (self.accepted > 0.0).then(|| self.weight / self.accepted)
    }
}

fn expected_worker(w: &StoredWorker, p: &Period) -> Sums {
    let mut sums = Sums::default();
    for t in hourly_in(w, p.from, p.to) {
        sums.add(t, 3600.0);
        sums.hours += 1;
    }
    for d in daily_fallback(w, p.from, p.to) {
        sums.add(d, 86_400.0);
        sums.days += 1;
    }
    sums
}

fn check_worker_rows(rows: &[RejectRateRow], workers: &[&StoredWorker], p: &Period, context: &str) {
    assert_eq!(rows.len(), workers.len(), "{context}: one row per worker");
    let by_id: BTreeMap<i64, &RejectRateRow> = rows.iter().map(|r| (r.worker_id, r)).collect();
    for w in workers {
        let row = by_id
            .get(&w.worker_id)
            .unwrap_or_else(|| panic!("{context}: no row for worker {}", w.worker_id));
        let want = expected_worker(w, p);
        let source = match (want.hours > 0, want.days > 0) {
            (true, true) => "1h+1d",
            (true, false) => "1h",
            (false, true) => "1d",
            (false, false) => "none",
        };
        let ok = row.puid == Some(PUID)
            && row.pool == "cloverpool"
            && row.account == PUID.to_string()
            && row.worker_name == w.worker_name
            && row.group_name == w.group_name
            && close(row.accepted_hashes, want.accepted)
            && close(row.reject_weight, want.weight)
            && close_opt(row.reject_rate, want.rate())
            && row.hours_1h == want.hours
            && row.days_1d == want.days
            && row.source == source;
        assert!(
            ok,
            "{context}: worker {}: got {row:?}, want {want:?} ({source})",
            w.worker_id
        );
    }
    // Worst first: rate descending (unknown last), then more accepted work, then the name.
    for pair in rows.windows(2) {
        let key = |r: &RejectRateRow| (r.reject_rate.is_none(), r.reject_rate.map(|x| -x));
        let (a, b) = (&pair[0], &pair[1]);
        let in_order = match key(a).partial_cmp(&key(b)).unwrap() {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => (-a.accepted_hashes, &a.worker_name, a.worker_id)
                .partial_cmp(&(-b.accepted_hashes, &b.worker_name, b.worker_id))
                .unwrap()
                .is_le(),
        };
        assert!(in_order, "{context}: rows out of order: {a:?} before {b:?}");
    }
}

/// The UTC days of [from, to), from the one containing `from`; none when the period is empty.
fn day_starts(from: i64, to: i64) -> impl Iterator<Item = i64> {
    let first = from.div_euclid(D) * D;
    (0..)
        .map(move |i| first + i * D)
        .take_while(move |d| from < to && *d < to)
}

fn check_day_rows(days: &[RejectRateDay], workers: &[&StoredWorker], p: &Period, context: &str) {
    let mut want: BTreeMap<i64, (Sums, i64)> = BTreeMap::new();
    for day in day_starts(p.from, p.to) {
        let (lo, hi) = (day.max(p.from), (day + D).min(p.to));
        for w in workers {
            let mut hourly = hourly_in(w, lo, hi).peekable();
            if hourly.peek().is_some() {
                let (sums, _) = want.entry(day).or_default();
                for t in hourly {
                    sums.add(t, 3600.0);
                }
            } else if let Some(d) = daily_fallback(w, p.from, p.to).find(|d| d.ts == day) {
                let (sums, on_1d) = want.entry(day).or_default();
                sums.add(d, 86_400.0);
                *on_1d += 1;
            }
        }
    }
    let got: BTreeMap<i64, &RejectRateDay> = days.iter().map(|d| (d.day_ts, d)).collect();
    assert_eq!(got.len(), days.len(), "{context}: one row per day");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{context}: the days with points"
    );
    for (day, (sums, on_1d)) in &want {
        let row = got[day];
        let ok = close(row.accepted_hashes, sums.accepted)
            && close(row.reject_weight, sums.weight)
            && close_opt(row.reject_rate, sums.rate())
            && row.workers_on_1d == *on_1d;
        assert!(
            ok,
            "{context}: day {day}: got {row:?}, want {sums:?}, {on_1d} on 1d"
        );
    }
    for pair in days.windows(2) {
        let key =
            |d: &RejectRateDay| (d.reject_rate.is_none(), d.reject_rate.map(|x| -x), d.day_ts);
        assert!(
            key(&pair[0]).partial_cmp(&key(&pair[1])).unwrap().is_le(),
            "{context}: days out of order: {:?} before {:?}",
            pair[0],
            pair[1]
        );
    }
}

/// The account's day: its final daily point, else the mean of its final hourly points inside
/// the period that day.
fn expected_daily_hashrate(conn: &Connection, p: &Period) -> Vec<DailyHashrate> {
    let hourly = stored_series(conn, None, "1h");
    let daily = stored_series(conn, None, "1d");
    day_starts(p.from, p.to)
        .map(|day| {
            if let Some(d) = final_points(&daily).find(|d| d.ts == day) {
                return DailyHashrate {
                    day_ts: day,
                    hashrate_hs: Some(d.hashrate_hs),
                    reject_rate: (d.hashrate_hs > 0.0).then_some(d.reject_rate),
                    source: "1d".to_owned(),
                    hours_1h: None,
                };
            }
            let hours: Vec<&Stored> = final_points(&hourly)
                .filter(|t| t.ts >= p.from && t.ts < p.to && t.ts.div_euclid(D) * D == day)
                .collect();
            if hours.is_empty() {
                return DailyHashrate {
                    day_ts: day,
                    hashrate_hs: None,
                    reject_rate: None,
                    source: "none".to_owned(),
                    hours_1h: None,
                };
            }
            let sum: f64 = hours.iter().map(|t| t.hashrate_hs).sum();
            let weight: f64 = hours.iter().map(|t| t.hashrate_hs * t.reject_rate).sum();
            DailyHashrate {
                day_ts: day,
                hashrate_hs: Some(sum / hours.len() as f64),
                reject_rate: (sum > 0.0).then(|| weight / sum),
                source: "1h".to_owned(),
                hours_1h: Some(hours.len() as i64),
            }
        })
        .collect()
}

fn check_daily_hashrate(got: &[DailyHashrate], want: &[DailyHashrate], context: &str) {
    assert_eq!(got.len(), want.len(), "{context}: one row per day");
    for (g, w) in got.iter().zip(want) {
        let ok = g.day_ts == w.day_ts
            && close_opt(g.hashrate_hs, w.hashrate_hs)
            && close_opt(g.reject_rate, w.reject_rate)
            && g.source == w.source
            && g.hours_1h == w.hours_1h;
        assert!(ok, "{context}: got {g:?}, want {w:?}");
    }
}

/// One stored series as the gaps list sees it.
struct SeriesInfo {
    series_id: i64,
    worker_id: Option<i64>,
    worker_name: Option<String>,
    dimension: &'static str,
    points: Vec<i64>,
}

fn all_series(conn: &Connection, workers: &[StoredWorker]) -> Vec<SeriesInfo> {
    let mut out = Vec::new();
    let owners = std::iter::once((None, None)).chain(
        workers
            .iter()
            .map(|w| (Some(w.worker_id), Some(w.worker_name.clone()))),
    );
    for (worker_id, worker_name) in owners {
        for dimension in ["1h", "1d"] {
            let series_id: i64 = conn
                .query_row(
                    "SELECT series_id FROM series WHERE account_id = ?1 AND worker_id IS ?2 \
                     AND dimension = ?3",
                    params![PUID, worker_id, dimension],
                    |r| r.get(0),
                )
                .unwrap();
            out.push(SeriesInfo {
                series_id,
                worker_id,
                worker_name: worker_name.clone(),
                dimension,
                points: stored_series(conn, worker_id, dimension)
                    .iter()
                    .map(|t| t.ts)
                    .collect(),
            });
        }
    }
    out
}

/// history_gaps rows: (series_id, from_ts, to_ts).
fn recorded_gaps(conn: &Connection) -> Vec<(i64, i64, i64)> {
    conn.prepare("SELECT series_id, from_ts, to_ts FROM history_gaps")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Holes in a series' stored points (provisional ones too) between the points bounding the
/// span searched: the stored points inside the window widened to whole UTC days, plus the
/// nearest stored point on either side.
fn holes(s: &SeriesInfo, window: (Option<i64>, Option<i64>)) -> Vec<(i64, i64)> {
    let step = if s.dimension == "1h" { H } else { D };
    let lo = window.0.map_or(i64::MIN, |f| f.div_euclid(D) * D);
    let hi = window.1.map_or(i64::MAX, |t| (t + D - 1).div_euclid(D) * D);
    let pts = &s.points;
    let first = pts
        .iter()
        .rev()
        .find(|&&t| t < lo)
        .or_else(|| pts.iter().find(|&&t| t >= lo));
    let last = pts
        .iter()
        .find(|&&t| t >= hi)
        .or_else(|| pts.iter().rev().find(|&&t| t < hi));
    let (Some(&first), Some(&last)) = (first, last) else {
        return Vec::new();
    };
    let span: Vec<i64> = pts
        .iter()
        .copied()
        .filter(|&t| t >= first && t <= last)
        .collect();
    span.windows(2)
        .filter(|w| w[1] - w[0] > step)
        .map(|w| (w[0] + step, w[1] - step))
        .collect()
}

/// Which worker names a GLOB pattern selects.
type NameFilter = fn(&str) -> bool;

fn expected_gaps(
    series: &[SeriesInfo],
    recorded: &[(i64, i64, i64)],
    worker: Option<NameFilter>,
    dimension: Option<&str>,
    window: (Option<i64>, Option<i64>),
    now: i64,
) -> Vec<Gap> {
    let mut out = Vec::new();
    for s in series {
        if dimension.is_some_and(|d| d != s.dimension)
            || worker.is_some_and(|keep| !s.worker_name.as_deref().is_some_and(keep))
        {
            continue;
        }
        let step = if s.dimension == "1h" { H } else { D };
        let retention = match (s.worker_id.is_some(), s.dimension) {
            (false, "1h") => 720 * H,
            (false, _) => 365 * D,
            (true, "1h") => 72 * H,
            (true, _) => 90 * D,
        };
        let covered = |from: i64, to: i64| {
            recorded
                .iter()
                .any(|&(id, f, t)| id == s.series_id && f <= from && t >= to)
        };
        let found = holes(s, window)
            .into_iter()
            .filter(|&(f, t)| !covered(f, t))
            .map(|g| ("hole", g));
        let expired = recorded
            .iter()
            .filter(|g| g.0 == s.series_id)
            .map(|&(_, f, t)| ("expired", (f, t)));
        for (kind, (from_ts, to_ts)) in found.chain(expired) {
            if window.0.is_some_and(|f| to_ts + step <= f) || window.1.is_some_and(|t| from_ts >= t)
            {
                continue;
            }
            let pool_still_has = if from_ts >= now - retention {
                "yes"
            } else if to_ts >= now - retention {
                "partly"
            } else {
                "no"
            };
            out.push(Gap {
                account_id: PUID,
                puid: Some(PUID),
                pool: "cloverpool".to_owned(),
                account: PUID.to_string(),
                worker_id: s.worker_id,
                worker_name: s.worker_name.clone(),
                dimension: s.dimension.to_owned(),
                kind: kind.to_owned(),
                from_ts,
                to_ts,
                points_missing: (to_ts - from_ts) / step + 1,
                pool_still_has: pool_still_has.to_owned(),
            });
        }
    }
    out
}

/// The gaps query's order: account first, then workers by name, each by dimension and time.
fn gap_key(g: &Gap) -> (String, i64, bool, Option<String>, String, i64) {
    (
        g.pool.clone(),
        g.account_id,
        g.worker_id.is_some(),
        g.worker_name.clone(),
        g.dimension.clone(),
        g.from_ts,
    )
}

fn check_gaps(got: Vec<Gap>, mut want: Vec<Gap>, context: &str) {
    for pair in got.windows(2) {
        assert!(
            gap_key(&pair[0]) <= gap_key(&pair[1]),
            "{context}: gaps out of order: {:?} before {:?}",
            pair[0],
            pair[1]
        );
    }
    let full = |g: &Gap| (gap_key(g), g.kind.clone(), g.to_ts);
    let mut got = got;
    got.sort_by_key(full);
    want.sort_by_key(full);
    assert_eq!(got, want, "{context}");
}

/// Records a few expired gaps (history_gaps rows): some exactly over a hole or wider (the hole
/// list must then leave that hole out), some anywhere.
fn record_some_gaps(conn: &Connection, series: &[SeriesInfo], rng: &mut Rng) {
    for _ in 0..3 {
        let s = &series[rng.range(0, series.len() as i64) as usize];
        let step = if s.dimension == "1h" { H } else { D };
        let found = holes(s, (None, None));
        let (from_ts, to_ts) = match found.len() {
            0 => {
                let from = START + rng.range(0, DAYS * 24) * H / step * step;
                (from, from + rng.range(0, 3) * step)
            }
            n => {
                let (f, t) = found[rng.range(0, n as i64) as usize];
                let widen = rng.range(0, 2) * step;
                (f - widen, t)
            }
        };
        conn.execute(
            "INSERT OR IGNORE INTO history_gaps (series_id, from_ts, to_ts, reason, detected_at) \
             VALUES (?1, ?2, ?3, 'expired', ?4)",
            params![s.series_id, from_ts, to_ts, END],
        )
        .unwrap();
    }
}

#[test]
fn reject_rate_reports_and_daily_hashrate_match_a_recomputation_from_tickers() {
    let picks = picks();
    for seed in 0..SEEDS {
        let db = random_db(seed, 6);
        let mut rng = Rng::new(seed ^ 0x5eed);
        leave_stray_live_points(&db, &mut rng);
        add_off_midnight_daily_points(&db, &mut rng);
        assert_summary_current(&db.conn);
        let workers = stored_workers(&db.conn);
        let now = END + rng.range(0, 3) * D + rng.range(0, 24) * H;
        for i in 0..PERIODS_PER_SEED {
            let p = period(&mut rng, now);
            let pick = &picks[rng.range(0, picks.len() as i64) as usize];
            let chosen: Vec<&StoredWorker> = workers.iter().filter(|w| (pick.keep)(w)).collect();
            let context = format!("seed {seed}, period {i} {p:?}, {:?}", pick.selection);

            let rows = reject_rate::worker_rows(&db.conn, &p, &pick.selection).unwrap();
            check_worker_rows(&rows, &chosen, &p, &context);
            let sql = reject_rate::worker_rows_sql(&db.conn, &p, &pick.selection).unwrap();
            check_worker_rows(&sql, &chosen, &p, &format!("{context} (reject_rate.sql)"));
            let days = reject_rate::day_rows(&db.conn, &p, &pick.selection).unwrap();
            check_day_rows(&days, &chosen, &p, &context);
            let sql = reject_rate::day_rows_sql(&db.conn, &p, &pick.selection).unwrap();
            check_day_rows(
                &sql,
                &chosen,
                &p,
                &format!("{context} (reject_rate_by_day.sql)"),
            );

            let want = expected_daily_hashrate(&db.conn, &p);
            for accounts in [
                AccountFilter::all(),
                AccountFilter::puid(PUID),
                AccountFilter::account(PoolKind::CloverPool, &PUID.to_string()),
            ] {
                let got = monthly::daily_hashrate(&db.conn, &p, &accounts).unwrap();
                check_daily_hashrate(&got, &want, &format!("{context}, {accounts:?}"));
            }
        }
    }
}

#[test]
fn gaps_match_the_holes_in_the_stored_points() {
    let worker_filters: [(Option<&str>, Option<NameFilter>); 2] = [
        (None, None),
        (
            Some("rig-0[024]"),
            Some(|name: &str| ["rig-00", "rig-02", "rig-04"].contains(&name)),
        ),
    ];
    let dimensions = [
        (None, None),
        (Some(gaps::Dimension::Hour), Some("1h")),
        (Some(gaps::Dimension::Day), Some("1d")),
    ];
    for seed in 0..SEEDS {
        let db = random_db(seed, 6);
        let mut rng = Rng::new(seed ^ 0x9a95);
        leave_stray_live_points(&db, &mut rng);
        assert_summary_current(&db.conn);
        let workers = stored_workers(&db.conn);
        let series = all_series(&db.conn, &workers);
        if rng.chance(70) {
            record_some_gaps(&db.conn, &series, &mut rng);
        }
        let recorded = recorded_gaps(&db.conn);
        let now = END + rng.range(0, 3) * D + rng.range(0, 24) * H;
        for i in 0..PERIODS_PER_SEED {
            let window = match i {
                0 => (None, None),
                _ => {
                    let (from, to) = random_period(&mut rng);
                    let (from, to) = (from + rng.range(0, 2) * rng.range(0, D), to);
                    match rng.range(0, 4) {
                        0 => (Some(from), None),
                        1 => (None, Some(to)),
                        _ => (Some(from), Some(to.max(from + 1))),
                    }
                }
            };
            let (pattern, keep) = worker_filters[rng.range(0, 2) as usize];
            let (dimension, dimension_name) = dimensions[rng.range(0, 3) as usize];
            let by_puid = AccountFilter::puid(PUID);
            let accounts = [None, Some(&by_puid)][rng.range(0, 2) as usize];
            let context = format!(
                "seed {seed}, window {window:?}, worker {pattern:?}, dimension {dimension_name:?}"
            );
            let got = gaps::gaps(&db.conn, accounts, pattern, dimension, window, now).unwrap();
            let want = expected_gaps(&series, &recorded, keep, dimension_name, window, now);
            check_gaps(got, want, &context);
        }
    }
}
