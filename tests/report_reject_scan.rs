//! report::reject_rate::worker_rows (src/report/reject_scan.rs, the report's implementation)
//! against report::reject_rate::worker_rows_sql (queries/reject_rate.sql, the definition), and
//! day_rows against day_rows_sql (queries/reject_rate_by_day.sql) on every call: the
//! same rows in the same order, on random databases written through the real writer and many
//! periods and selections, and on set cases where the scan's shortcut could go wrong.
//!
//! The shortcut: reject_scan.rs reads daily points only inside runs of 24 hours or more without
//! a known final hourly point (from `hourly_by_day.final_mask` of the whole days; the partial
//! edge days count as unknown) and checks each of them exactly as the SQL does. So the set cases
//! put daily points at UTC midnight, at a pool's own midnight (04:00, 20:00, 23:00 of the day
//! before) and on days with only provisional hourly points; runs of exactly 23, 24, 25, 47 and 48
//! missing final hours, at the start and the end of the data; periods off day boundaries,
//! shorter than a day, exactly one day, with no whole UTC day, starting or ending inside a run;
//! workers without an hourly or a daily series; and selections by pool, account (two CloverPool
//! accounts and a Foundry one), group (name and numeric id) and worker GLOB pattern.
//!
//! Agreement: same length; same order of (account_id, worker_id); integers and strings equal;
//! accepted_hashes, reject_weight and reject_rate equal within 1e-12 relative (both sum with
//! SQLite's compensated summation, in their own grouping). Rows whose rates agree within that
//! bound have no order the two are bound to share: such runs are compared as sets (and counted
//! on stderr).
//!
//! Off the whole hour (which the ingest never stores): a daily point at 18:30 UTC right after a
//! final hourly point at 18:00 stands in by reject_rate.sql; the scan once missed it
//! (daily_points_at_half_past_the_hour). Hourly points at :30 agree too.

mod random_db;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use poolhist::model::{Dimension as Dim, Directory, Group, Point, Worker};
use poolhist::pools::PoolKind;
use poolhist::report::reject_rate::{
    day_rows, day_rows_sql, worker_rows, worker_rows_sql, RejectRateRow,
};
use poolhist::report::{AccountFilter, Period, Selection};
use poolhist::store::{PageWrite, SeriesState, Store};
use random_db::{assert_summary_current, random_db, random_period, RandomDb, Rng};
use random_db::{D, DAYS, END, H, PUID, START};
use rusqlite::{params, Connection};

const SEEDS: u64 = 80;
const PERIODS_PER_SEED: usize = 24;
/// The second CloverPool account (its id is its puid).
const PUID2: i64 = 77;
/// The Foundry sub-account.
const FARM: &str = "farm";

/// The start of day `k` of the generated span.
fn d(k: i64) -> i64 {
    START + k * D
}

// ---------------------------------------------------------------------------------------------
// Agreement

const REL: f64 = 1e-12;

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= REL * a.abs().max(b.abs())
}

fn close_opt(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => close(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn same_row(r: &RejectRateRow, s: &RejectRateRow) -> bool {
    r.account_id == s.account_id
        && r.puid == s.puid
        && r.pool == s.pool
        && r.account == s.account
        && r.worker_id == s.worker_id
        && r.worker_name == s.worker_name
        && r.group_name == s.group_name
        && r.hours_1h == s.hours_1h
        && r.days_1d == s.days_1d
        && r.source == s.source
        && close(r.accepted_hashes, s.accepted_hashes)
        && close(r.reject_weight, s.reject_weight)
        && close_opt(r.reject_rate, s.reject_rate)
}

fn key(r: &RejectRateRow) -> (i64, i64) {
    (r.account_id, r.worker_id)
}

/// Runs of rows tied within rounding that came out in another order (compared as sets).
static TIES: AtomicUsize = AtomicUsize::new(0);

/// Asserts the scan's rows equal the SQL's (see the module's comment).
fn assert_same(rust: &[RejectRateRow], sql: &[RejectRateRow], context: &str) {
    assert_eq!(
        rust.len(),
        sql.len(),
        "{context}: row count: worker_rows {rust:#?}\nworker_rows_sql {sql:#?}"
    );
    let by_key: HashMap<(i64, i64), &RejectRateRow> = sql.iter().map(|r| (key(r), r)).collect();
    assert_eq!(
        by_key.len(),
        sql.len(),
        "{context}: a worker twice in {sql:#?}"
    );
    for r in rust {
        let s = by_key.get(&key(r)).unwrap_or_else(|| {
            panic!("{context}: worker_rows has {r:?}, which worker_rows_sql lacks")
        });
        assert!(
            same_row(r, s),
            "{context}: worker {:?}:\n  worker_rows     {r:?}\n  worker_rows_sql {s:?}",
            key(r)
        );
    }
    let mut i = 0;
    while i < rust.len() {
        if key(&rust[i]) == key(&sql[i]) {
            i += 1;
            continue;
        }
        // Another order is allowed only among rows whose rates agree within rounding.
        let mut j = i + 1;
        while j < rust.len() && close_opt(rust[j].reject_rate, rust[i].reject_rate) {
            j += 1;
        }
        let a: BTreeSet<(i64, i64)> = rust[i..j].iter().map(key).collect();
        let b: BTreeSet<(i64, i64)> = sql[i..j].iter().map(key).collect();
        assert_eq!(
            a,
            b,
            "{context}: order differs at row {i}:\n  worker_rows     {:?}\n  worker_rows_sql {:?}",
            rust.iter().map(key).collect::<Vec<_>>(),
            sql.iter().map(key).collect::<Vec<_>>()
        );
        TIES.fetch_add(1, Ordering::Relaxed);
        eprintln!("{context}: rows {i}..{j} tied within rounding, compared as a set: {a:?}");
        i = j;
    }
}

/// Both implementations on one period and selection; the SQL's rows once they agree.
fn agree(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
    context: &str,
) -> Vec<RejectRateRow> {
    let rust = worker_rows(conn, period, selection)
        .unwrap_or_else(|e| panic!("{context}: worker_rows: {e}"));
    let sql = worker_rows_sql(conn, period, selection)
        .unwrap_or_else(|e| panic!("{context}: worker_rows_sql: {e}"));
    assert_same(&rust, &sql, context);
    assert_same_days(conn, period, selection, context);
    sql
}

/// report::reject_rate::day_rows (the Rust twin) against day_rows_sql
/// (queries/reject_rate_by_day.sql): the same days, counts equal, sums within 1e-12 relative,
/// worst day first (days whose rates agree to rounding may trade places).
fn assert_same_days(conn: &Connection, period: &Period, selection: &Selection, context: &str) {
    let mut rust =
        day_rows(conn, period, selection).unwrap_or_else(|e| panic!("{context}: day_rows: {e}"));
    let mut sql = day_rows_sql(conn, period, selection)
        .unwrap_or_else(|e| panic!("{context}: day_rows_sql: {e}"));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
    for w in rust.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let in_order = match (a.reject_rate, b.reject_rate) {
            (Some(x), Some(y)) => x > y || close(x, y) && (x != y || a.day_ts < b.day_ts),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => a.day_ts < b.day_ts,
        };
        assert!(
            in_order,
            "{context}: day_rows out of order: {a:?} before {b:?}"
        );
    }
    rust.sort_by_key(|d| d.day_ts);
    sql.sort_by_key(|d| d.day_ts);
    assert_eq!(
        rust.iter().map(|d| d.day_ts).collect::<Vec<_>>(),
        sql.iter().map(|d| d.day_ts).collect::<Vec<_>>(),
        "{context}: the days of day_rows and day_rows_sql"
    );
    for (r, q) in rust.iter().zip(&sql) {
        let same = r.workers_on_1d == q.workers_on_1d
            && close(r.accepted_hashes, q.accepted_hashes)
            && close(r.reject_weight, q.reject_weight)
            && match (r.reject_rate, q.reject_rate) {
                (Some(x), Some(y)) => close(x, y),
                (None, None) => true,
                _ => false,
            };
        assert!(
            same,
            "{context}: day {}:\n  day_rows     {r:?}\n  day_rows_sql {q:?}",
            r.day_ts
        );
    }
}

fn period(from: i64, to: i64) -> Period {
    Period {
        from,
        to,
        requested_to: to,
    }
}

// ---------------------------------------------------------------------------------------------
// Writing, through the ingest's writer

fn pt(rng: &mut Rng, ts: i64, provisional: bool) -> Point {
    let up = rng.chance(92);
    Point {
        ts,
        hashrate_hs: if up {
            (1.0 + 99.0 * rng.unit()) * 1e12
        } else {
            0.0
        },
        reject_rate: if up {
            0.05 * rng.unit() * rng.unit()
        } else {
            0.0
        },
        provisional,
    }
}

/// A point with hashrate (the set cases want a rate everywhere).
fn up(rng: &mut Rng, ts: i64, provisional: bool) -> Point {
    Point {
        ts,
        hashrate_hs: (1.0 + 99.0 * rng.unit()) * 1e12,
        reject_rate: 0.001 + 0.04 * rng.unit(),
        provisional,
    }
}

fn page(series_id: i64, dimension: Dim, tickers: Vec<Point>) -> PageWrite {
    PageWrite {
        series_id,
        dimension,
        tickers,
        covered_through: None,
        finished_at: None,
        stale_provisional_before: None,
        expired_gap: None,
    }
}

/// Writes a series as runs of the ingest would: a backfill in pages of random size missing a
/// few points, then a later run with those, some values revised and some live points final.
fn write_as_runs(store: &mut Store, rng: &mut Rng, series_id: i64, dim: Dim, points: Vec<Point>) {
    let mut sorted = points;
    sorted.sort_by_key(|p| p.ts);
    let mut first = Vec::new();
    let mut late = Vec::new();
    for p in sorted {
        if rng.chance(4) {
            late.push(p);
        } else {
            first.push(p);
            if rng.chance(2) {
                let mut revised = p;
                revised.hashrate_hs *= 1.5;
                late.push(revised);
            } else if p.provisional && rng.chance(30) {
                let mut now_final = p;
                now_final.provisional = false;
                late.push(now_final);
            }
        }
    }
    let mut pages = Vec::new();
    let mut rest = first.as_slice();
    while !rest.is_empty() {
        let take = (rng.range(1, 80) as usize).min(rest.len());
        pages.push(page(series_id, dim, rest[..take].to_vec()));
        rest = &rest[take..];
    }
    store.write_pages(&pages, 1, END).unwrap();
    late.sort_by_key(|p| p.ts);
    late.dedup_by_key(|p| p.ts);
    if !late.is_empty() {
        store
            .write_pages(&[page(series_id, dim, late)], 2, END)
            .unwrap();
    }
}

/// An account's directory: groups (gid, name), workers (id, name, gid).
fn directory(groups: &[(i64, &str)], workers: &[(i64, &str, Option<i64>)]) -> Directory {
    Directory {
        groups: groups
            .iter()
            .map(|&(gid, name)| Group {
                gid,
                name: name.to_owned(),
            })
            .collect(),
        workers: workers
            .iter()
            .map(|&(worker_id, name, gid)| Worker {
                worker_id,
                worker_name: name.to_owned(),
                gid,
                status: "ACTIVE".to_owned(),
                last_share_time: None,
            })
            .collect(),
        workers_capped: false,
    }
}

fn add_account(
    store: &mut Store,
    kind: PoolKind,
    name: &str,
    groups: &[(i64, &str)],
    workers: &[(i64, &str, Option<i64>)],
) -> (i64, Vec<SeriesState>) {
    store
        .upsert_directory(
            &kind.account(name).unwrap(),
            &kind.facts(),
            &directory(groups, workers),
            START,
        )
        .unwrap()
}

/// A database of set shapes: accounts and their series written one by one.
struct Fixture {
    dir: tempfile::TempDir,
    path: PathBuf,
    store: Store,
    /// (account_id, worker_id, dimension) -> series_id
    series: HashMap<(i64, i64, Dim), i64>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.db");
        let store = Store::open(&path).unwrap();
        Fixture {
            dir,
            path,
            store,
            series: HashMap::new(),
        }
    }

    fn account(
        &mut self,
        kind: PoolKind,
        name: &str,
        groups: &[(i64, &str)],
        workers: &[(i64, &str, Option<i64>)],
    ) -> i64 {
        let (account_id, states) = add_account(&mut self.store, kind, name, groups, workers);
        for s in states {
            if let Some(worker_id) = s.worker_id {
                self.series
                    .insert((account_id, worker_id, s.dimension), s.series_id);
            }
        }
        account_id
    }

    fn series_id(&self, account_id: i64, worker_id: i64, dim: Dim) -> i64 {
        self.series[&(account_id, worker_id, dim)]
    }

    /// The points in one page.
    fn write(&mut self, account_id: i64, worker_id: i64, dim: Dim, points: Vec<Point>) {
        if points.is_empty() {
            return;
        }
        let id = self.series_id(account_id, worker_id, dim);
        self.store
            .write_pages(&[page(id, dim, points)], 1, END)
            .unwrap();
    }

    /// A worker the pool lists without a series of this dimension (no points, so nothing
    /// else refers to it).
    fn drop_series(&mut self, account_id: i64, worker_id: i64, dim: Dim) {
        let id = self.series_id(account_id, worker_id, dim);
        let n = self
            .store
            .connection()
            .execute(
                "DELETE FROM series WHERE series_id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM tickers WHERE series_id = ?1)",
                [id],
            )
            .unwrap();
        assert_eq!(n, 1, "series {id} had points");
    }

    fn done(self) -> Db {
        drop(self.store);
        let conn = poolhist::store::open(&self.path).unwrap();
        assert_summary_current(&conn);
        Db {
            _dir: self.dir,
            conn,
        }
    }
}

struct Db {
    _dir: tempfile::TempDir,
    conn: Connection,
}

/// Every hour of [from, to) but those in the `missing` spans, final.
fn hours_except(rng: &mut Rng, from: i64, to: i64, missing: &[(i64, i64)]) -> Vec<Point> {
    (from / H..to / H)
        .map(|h| h * H)
        .filter(|t| !missing.iter().any(|&(a, b)| *t >= a && *t < b))
        .map(|t| up(rng, t, false))
        .collect()
}

/// Every hour of [from, to), provisional (a run stopped before they were final).
fn live_hours(rng: &mut Rng, from: i64, to: i64) -> Vec<Point> {
    (from / H..to / H).map(|h| up(rng, h * H, true)).collect()
}

fn row<'a>(rows: &'a [RejectRateRow], name: &str) -> &'a RejectRateRow {
    let found: Vec<&RejectRateRow> = rows.iter().filter(|r| r.worker_name == name).collect();
    assert_eq!(found.len(), 1, "one row for {name} in {rows:#?}");
    found[0]
}

// ---------------------------------------------------------------------------------------------
// Random shapes for the extra accounts of the random databases

/// Lengths of the runs of missing final hours: short ones, and those around a day and two.
const MISSING_RUNS: [i64; 15] = [1, 2, 3, 5, 22, 23, 24, 24, 25, 26, 30, 47, 48, 49, 72];

/// Hourly: stored runs and runs of missing final hours (lengths from MISSING_RUNS), some of
/// those filled with provisional points only, live points now and then.
fn hour_runs(rng: &mut Rng) -> Vec<Point> {
    let start = START + rng.range(0, 48) * H;
    let end = END - rng.range(0, 48) * H;
    let mut out = Vec::new();
    let mut ts = start;
    let mut stored = rng.chance(70);
    while ts < end {
        let len = if stored {
            rng.range(1, 60)
        } else {
            MISSING_RUNS[rng.range(0, MISSING_RUNS.len() as i64) as usize]
        };
        let live_fill = !stored && rng.chance(25);
        for i in 0..len {
            let t = ts + i * H;
            if t >= end {
                break;
            }
            if stored {
                let live = rng.chance(2);
                out.push(pt(rng, t, live));
            } else if live_fill || rng.chance(3) {
                out.push(pt(rng, t, true));
            }
        }
        ts += len * H;
        stored = !stored;
    }
    if rng.chance(50) {
        if let Some(p) = out.last_mut() {
            p.provisional = true;
        }
    }
    out
}

/// Hourly, day by day: whole days, missing days, days of provisional points only, partial days.
fn hour_days(rng: &mut Rng) -> Vec<Point> {
    let mut out = Vec::new();
    for k in 0..DAYS {
        let day = d(k);
        let (lo, hi, live) = match rng.range(0, 20) {
            0..=8 => (0, 24, false),
            9..=11 => (0, 0, false),
            12 | 13 => (0, 24, true),
            14 => (0, rng.range(1, 24), false),
            15 => (rng.range(1, 24), 24, false),
            16 => {
                let h = rng.range(0, 24);
                (h, h + 1, false)
            }
            _ => (rng.range(0, 12), rng.range(12, 25), false),
        };
        for h in lo..hi {
            let provisional = live || rng.chance(2);
            out.push(pt(rng, day + h * H, provisional));
        }
    }
    out
}

fn hourly_shape(rng: &mut Rng) -> Vec<Point> {
    match rng.range(0, 8) {
        0..=2 => hour_runs(rng),
        3 | 4 => hour_days(rng),
        5 => (0..DAYS * 24)
            .map(|h| {
                let live = rng.chance(3);
                pt(rng, START + h * H, live)
            })
            .collect(),
        6 => {
            let t = START + rng.range(0, DAYS * 24) * H;
            let live = rng.chance(30);
            vec![pt(rng, t, live)]
        }
        _ => Vec::new(),
    }
}

/// Daily: at UTC midnight, at a pool's own midnight (04:00, 20:00, or 23:00 of the day before),
/// moving from one to another at some day, every day, or none; some provisional.
fn daily_shape(rng: &mut Rng) -> Vec<Point> {
    const OFFSETS: [i64; 5] = [0, 0, 4 * H, 20 * H, -H];
    let (a, b, k, percent) = match rng.range(0, 7) {
        0..=3 => {
            let o = OFFSETS[rng.range(0, 5) as usize];
            (o, o, DAYS, 80)
        }
        4 => {
            let a = OFFSETS[rng.range(0, 5) as usize];
            let b = OFFSETS[rng.range(0, 5) as usize];
            (a, b, rng.range(1, DAYS), 85)
        }
        5 => (4 * H, 4 * H, DAYS, 100),
        _ => return Vec::new(),
    };
    let mut out: Vec<Point> = Vec::new();
    for day in 0..DAYS {
        if rng.chance(percent) {
            let ts = d(day) + if day < k { a } else { b };
            if out.last().is_some_and(|p| p.ts >= ts) {
                continue;
            }
            let live = rng.chance(8);
            out.push(pt(rng, ts, live));
        }
    }
    if rng.chance(30) {
        if let Some(p) = out.last_mut() {
            p.provisional = true;
        }
    }
    out
}

/// A second CloverPool account (two workers share a name, and a group id names another group
/// than in the first) and a Foundry account, their series in random shapes; in each of them a
/// worker without an hourly series and one without a daily series now and then.
fn add_accounts(db: &RandomDb, rng: &mut Rng) {
    let mut store = Store::open(&db.path).unwrap();
    let (clover2, clover2_states) = add_account(
        &mut store,
        PoolKind::CloverPool,
        &PUID2.to_string(),
        &[(1, "cold"), (2, "rack-a")],
        &[
            (1, "rig-03", Some(1)),
            (2, "rig-13", Some(2)),
            (3, "rig-03", None),
            (4, "big-2", Some(2)),
        ],
    );
    assert_eq!(clover2, PUID2, "a CloverPool account takes its puid as id");
    let (_, farm_states) = add_account(
        &mut store,
        PoolKind::Foundry,
        FARM,
        &[(1, "rack-a")],
        &[
            (11, "rig-03", Some(1)),
            (12, "rig-x3", None),
            (13, "big-1", Some(1)),
            (14, "rig-07", None),
            (15, "big-2", Some(1)),
        ],
    );
    for state in clover2_states.iter().chain(&farm_states) {
        if state.worker_id.is_none() {
            continue;
        }
        if rng.chance(8) {
            store
                .connection()
                .execute("DELETE FROM series WHERE series_id = ?1", [state.series_id])
                .unwrap();
            continue;
        }
        let points = match state.dimension {
            Dim::Hour => hourly_shape(rng),
            Dim::Day => daily_shape(rng),
        };
        write_as_runs(&mut store, rng, state.series_id, state.dimension, points);
    }
}

/// The first account's extras: live hourly points left at free hours, and daily points at a
/// pool's own midnight beside the UTC ones.
fn add_strays(db: &RandomDb, rng: &mut Rng) {
    let ids = |dimension: &str| -> Vec<i64> {
        db.conn
            .prepare(
                "SELECT series_id FROM series WHERE account_id = ?1 AND worker_id IS NOT NULL \
                 AND dimension = ?2 ORDER BY series_id",
            )
            .unwrap()
            .query_map(params![PUID, dimension], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let (hourly, daily) = (ids("1h"), ids("1d"));
    let mut store = Store::open(&db.path).unwrap();
    let taken = |series_id: i64, ts: i64| -> bool {
        db.conn
            .query_row(
                "SELECT count(*) > 0 FROM tickers WHERE series_id = ?1 AND ts = ?2",
                params![series_id, ts],
                |r| r.get(0),
            )
            .unwrap()
    };
    for _ in 0..rng.range(0, 12) {
        let series_id = hourly[rng.range(0, hourly.len() as i64) as usize];
        let ts = START - D + rng.range(0, (DAYS + 2) * 24) * H;
        if !taken(series_id, ts) {
            let p = pt(rng, ts, true);
            store
                .write_pages(&[page(series_id, Dim::Hour, vec![p])], 3, END)
                .unwrap();
        }
    }
    for _ in 0..rng.range(0, 8) {
        let series_id = daily[rng.range(0, daily.len() as i64) as usize];
        let ts = d(rng.range(-1, DAYS + 1)) + [4 * H, 20 * H, -H][rng.range(0, 3) as usize];
        if !taken(series_id, ts) {
            let live = rng.chance(20);
            let p = pt(rng, ts, live);
            store
                .write_pages(&[page(series_id, Dim::Day, vec![p])], 3, END)
                .unwrap();
        }
    }
}

/// Times where the answer can turn: the ends of the runs of missing final hours of the worker
/// series, and the daily points.
fn turning_times(conn: &Connection) -> Vec<i64> {
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare(
            "SELECT t.ts, LAG(t.ts) OVER (PARTITION BY t.series_id ORDER BY t.ts) \
             FROM tickers t JOIN series s ON s.series_id = t.series_id \
             WHERE s.worker_id IS NOT NULL AND s.dimension = '1h' AND t.provisional = 0",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .unwrap();
    for row in rows {
        let (ts, prev) = row.unwrap();
        match prev {
            None => out.push(ts),
            Some(prev) if ts - prev > H => out.extend([prev + H, ts]),
            _ => {}
        }
    }
    let mut stmt = conn
        .prepare(
            "SELECT t.ts FROM tickers t JOIN series s ON s.series_id = t.series_id \
             WHERE s.worker_id IS NOT NULL AND s.dimension = '1d'",
        )
        .unwrap();
    out.extend(
        stmt.query_map([], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(Result::unwrap),
    );
    out.sort_unstable();
    out.dedup();
    out
}

/// A period: random (whole days, hours or seconds), from and to at or next to turning times,
/// a day or so from a turning time, arbitrary seconds, or as the report resolves one.
fn random_report_period(rng: &mut Rng, times: &[i64], now: i64) -> Period {
    const NEAR: [i64; 8] = [0, 0, 0, H, -H, 1, -1, D];
    const LENGTHS: [i64; 10] = [
        D,
        D,
        D - H,
        D + H,
        23 * H,
        25 * H,
        2 * D,
        2 * D - H,
        H,
        30 * H,
    ];
    let pick = |rng: &mut Rng| {
        if times.is_empty() {
            START
        } else {
            times[rng.range(0, times.len() as i64) as usize]
                + NEAR[rng.range(0, NEAR.len() as i64) as usize]
        }
    };
    let (from, to) = match rng.range(0, 7) {
        0 => random_period(rng),
        1 | 2 => {
            let (a, b) = (pick(rng), pick(rng));
            (a.min(b), a.max(b).max(a.min(b) + H))
        }
        3 | 4 => {
            let from = pick(rng);
            let len = LENGTHS[rng.range(0, LENGTHS.len() as i64) as usize];
            if rng.chance(50) {
                (from, from + len)
            } else {
                (from - len, from)
            }
        }
        5 => {
            let from = START - D + rng.range(0, (DAYS + 2) * D);
            (from, from + rng.range(1, 4 * D))
        }
        _ => {
            let (from, to) = random_period(rng);
            return Period::new(from, to, now).unwrap();
        }
    };
    period(from, to)
}

fn random_selections() -> Vec<Selection> {
    let accounts = |pool: Option<&str>, account: Option<&str>| Selection {
        accounts: AccountFilter {
            pool: pool.map(str::to_owned),
            account: account.map(str::to_owned),
        },
        ..Selection::default()
    };
    let group = |g: &str| Selection {
        group: Some(g.to_owned()),
        ..Selection::default()
    };
    let worker = |w: &str| Selection {
        worker: Some(w.to_owned()),
        ..Selection::default()
    };
    vec![
        Selection::default(),
        Selection::default(),
        Selection {
            accounts: AccountFilter::puid(PUID),
            ..Selection::default()
        },
        Selection {
            accounts: AccountFilter::puid(PUID2),
            ..Selection::default()
        },
        Selection {
            accounts: AccountFilter::account(PoolKind::Foundry, FARM),
            ..Selection::default()
        },
        accounts(Some("foundry"), None),
        accounts(Some("cloverpool"), None),
        accounts(None, Some(FARM)),
        group("rack-a"),
        group("1"),
        group("cold"),
        worker("rig-0[024]"),
        worker("rig-?3"),
        worker("big-*"),
        Selection {
            accounts: AccountFilter::puid(PUID2),
            group: Some("2".to_owned()),
            worker: Some("*3".to_owned()),
        },
        worker("nobody*"),
    ]
}

#[test]
fn worker_rows_equal_worker_rows_sql_on_random_databases() {
    let started = Instant::now();
    let selections = random_selections();
    let mut compared = 0;
    let mut with_1d = 0;
    for seed in 0..SEEDS {
        let db = random_db(seed, 6);
        let mut rng = Rng::new(seed ^ 0x2e1ec7);
        add_accounts(&db, &mut rng);
        add_strays(&db, &mut rng);
        assert_summary_current(&db.conn);
        let times = turning_times(&db.conn);
        let now = END + rng.range(0, 3) * D + rng.range(0, 24) * H;
        for i in 0..PERIODS_PER_SEED {
            let p = random_report_period(&mut rng, &times, now);
            // every period with the selection of all, and one other
            let other = &selections[rng.range(1, selections.len() as i64) as usize];
            for selection in [&selections[0], other] {
                let context = format!(
                    "seed {seed}, period {i} [{}, {}) = START{:+}s..START{:+}s, {selection:?}",
                    p.from,
                    p.to,
                    p.from - START,
                    p.to - START
                );
                let rows = agree(&db.conn, &p, selection, &context);
                compared += 1;
                with_1d += rows.iter().filter(|r| r.days_1d > 0).count();
            }
        }
    }
    eprintln!(
        "{compared} comparisons, {with_1d} rows with daily points standing in, {} tie runs, {:?}",
        TIES.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert!(
        with_1d > 100,
        "the random databases should make daily points stand in often ({with_1d})"
    );
}

// ---------------------------------------------------------------------------------------------
// Set cases

/// How a run of missing final hours is written.
#[derive(Clone, Copy)]
enum Gap {
    /// No point.
    Absent,
    /// Provisional points only.
    Live,
    /// Provisional points only but one final hour at this offset into the run.
    LiveButOne(i64),
}

/// A worker of the runs case: daily points at `offset(day)`, a run of missing final hours.
struct RunCase {
    name: &'static str,
    offset: fn(i64) -> i64,
    runs: &'static [(i64, i64)],
    gap: Gap,
    /// The day whose daily point is provisional, if any.
    live_day: Option<i64>,
    days_1d: i64,
}

/// Runs of exactly 23, 24 and 25 (and 47, 48) missing final hours around daily points at UTC
/// midnight, at 04:00, 20:00 and 23:00 of the day before, the pool's day moving from midnight to
/// 04:00; provisional hourly points only; a run at the start and at the end of the data. Hourly
/// data every hour of days 0..11 but the runs; daily points on days 1..=9.
#[test]
fn runs_of_23_24_25_missing_hours_around_daily_points_at_any_time_of_day() {
    fn midnight(_: i64) -> i64 {
        0
    }
    fn four(_: i64) -> i64 {
        4 * H
    }
    fn twenty(_: i64) -> i64 {
        20 * H
    }
    fn eleven_pm_before(_: i64) -> i64 {
        -H
    }
    fn moving(day: i64) -> i64 {
        if day < 5 {
            0
        } else {
            4 * H
        }
    }
    // Day offsets in hours from START; d(k) + h * H is written as (k * 24 + h) * H below.
    macro_rules! run {
        ($a:expr, $b:expr) => {
            (START + ($a) * H, START + ($b) * H)
        };
    }
    const D4: i64 = 4 * 24;
    const D5: i64 = 5 * 24;
    const D6: i64 = 6 * 24;
    fn case(
        name: &'static str,
        offset: fn(i64) -> i64,
        runs: &'static [(i64, i64)],
        days_1d: i64,
    ) -> RunCase {
        RunCase {
            name,
            offset,
            runs,
            gap: Gap::Absent,
            live_day: None,
            days_1d,
        }
    }
    let cases = [
        case("m24", midnight, &[run!(D4, D5)], 1),
        case("m23-late-start", midnight, &[run!(D4 + 1, D5)], 0),
        case("m23-early-end", midnight, &[run!(D4, D5 - 1)], 0),
        case("m25-before", midnight, &[run!(D4 - 1, D5)], 1),
        case("m25-after", midnight, &[run!(D4, D5 + 1)], 1),
        case("m25-no-whole-day", midnight, &[run!(D4 + 12, D5 + 13)], 0),
        case("m48", midnight, &[run!(D4, D6)], 2),
        case("o24", four, &[run!(D4 + 4, D5 + 4)], 1),
        case("o24-an-hour-late", four, &[run!(D4 + 5, D5 + 5)], 0),
        case("o23", four, &[run!(D4 + 4, D5 + 3)], 0),
        case("o25-before", four, &[run!(D4 + 3, D5 + 4)], 1),
        case("o25-off-window", four, &[run!(D4 + 2, D5 + 3)], 0),
        case("o47", four, &[run!(D4 + 4, D6 + 3)], 1),
        case("o48", four, &[run!(D4 + 4, D6 + 4)], 2),
        case(
            "o-two-runs",
            four,
            &[run!(2 * 24 + 4, 3 * 24 + 4), run!(7 * 24 + 4, 8 * 24 + 5)],
            2,
        ),
        case("o-at-the-start", four, &[run!(0, 2 * 24 + 4)], 1),
        case("o-to-the-end", four, &[run!(9 * 24 + 4, 11 * 24)], 1),
        case("m-at-the-start", midnight, &[run!(0, 2 * 24 + 1)], 1),
        case("e20", twenty, &[run!(D4 + 20, D5 + 20)], 1),
        case("e20-an-hour-late", twenty, &[run!(D4 + 21, D5 + 21)], 0),
        case("x23", eleven_pm_before, &[run!(D5 - 1, D6 - 1)], 1),
        case("x23-23h", eleven_pm_before, &[run!(D5 - 1, D6 - 2)], 0),
        case("moving", moving, &[run!(D4, D6 + 4)], 2),
        RunCase {
            gap: Gap::Live,
            ..case("o24-live-hours", four, &[run!(D4 + 4, D5 + 4)], 1)
        },
        RunCase {
            gap: Gap::Live,
            ..case("m24-live-day", midnight, &[run!(D4, D5)], 1)
        },
        RunCase {
            gap: Gap::LiveButOne(12),
            ..case("m24-live-but-noon", midnight, &[run!(D4, D5)], 0)
        },
        RunCase {
            gap: Gap::LiveButOne(23),
            ..case("o24-live-but-last", four, &[run!(D4 + 4, D5 + 4)], 0)
        },
        RunCase {
            live_day: Some(4),
            ..case("o24-live-daily-point", four, &[run!(D4 + 4, D5 + 4)], 0)
        },
    ];
    let mut rng = Rng::new(23_24_25);
    let mut fx = Fixture::new();
    let workers: Vec<(i64, &str, Option<i64>)> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| (i as i64 + 1, c.name, None))
        .collect();
    let account = fx.account(PoolKind::CloverPool, &PUID.to_string(), &[], &workers);
    let mut expected_hours = HashMap::new();
    for (i, c) in cases.iter().enumerate() {
        let worker_id = i as i64 + 1;
        let mut hourly = hours_except(&mut rng, d(0), d(11), c.runs);
        let mut finals = hourly.len() as i64;
        for &(a, b) in c.runs {
            match c.gap {
                Gap::Absent => {}
                Gap::Live => hourly.extend(live_hours(&mut rng, a, b)),
                Gap::LiveButOne(k) => {
                    let mut live = live_hours(&mut rng, a, b);
                    live[k as usize].provisional = false;
                    finals += 1;
                    hourly.extend(live);
                }
            }
        }
        hourly.sort_by_key(|p| p.ts);
        expected_hours.insert(c.name, finals);
        // in two pages split inside a day, as a backfill might
        let cut = hourly.len() / 3;
        let rest = hourly.split_off(cut);
        fx.write(account, worker_id, Dim::Hour, hourly);
        fx.write(account, worker_id, Dim::Hour, rest);
        let daily = (1..=9)
            .map(|k| {
                let live = c.live_day == Some(k);
                up(&mut rng, d(k) + (c.offset)(k), live)
            })
            .collect();
        fx.write(account, worker_id, Dim::Day, daily);
    }
    let db = fx.done();
    let p = period(d(0), d(11));
    let rows = agree(&db.conn, &p, &Selection::default(), "runs, days 0..11");
    for c in &cases {
        let r = row(&rows, c.name);
        assert_eq!(
            (r.days_1d, r.hours_1h),
            (c.days_1d, expected_hours[c.name]),
            "{}: (days_1d, hours_1h) in {r:?}",
            c.name
        );
        let source = if c.days_1d > 0 { "1h+1d" } else { "1h" };
        assert_eq!(r.source, source, "{}", c.name);
    }
    // The same data over many other periods: whole days, hours, seconds, Period::new.
    let times = turning_times(&db.conn);
    for i in 0..150 {
        let p = random_report_period(&mut rng, &times, END);
        agree(
            &db.conn,
            &p,
            &Selection::default(),
            &format!("runs, period {i} [{}, {})", p.from, p.to),
        );
    }
}

/// Periods off day boundaries, shorter than a day, of exactly one day, with no whole UTC day,
/// starting or ending inside a run of missing hours (days 3 06:00 to 5 18:00), at its edges.
/// "mid": daily points at midnight, "four": at 04:00, both with hourly data every hour of days
/// 0..12 but the run; "donly": daily points at midnight and no hourly point.
#[test]
fn periods_off_day_boundaries_short_one_day_and_inside_a_run() {
    let run = (d(3) + 6 * H, d(5) + 18 * H);
    let mut rng = Rng::new(606);
    let mut fx = Fixture::new();
    let account = fx.account(
        PoolKind::CloverPool,
        &PUID.to_string(),
        &[],
        &[(1, "mid", None), (2, "four", None), (3, "donly", None)],
    );
    for (worker_id, offset) in [(1, 0), (2, 4 * H)] {
        let hourly = hours_except(&mut rng, d(0), d(12), &[run]);
        fx.write(account, worker_id, Dim::Hour, hourly);
        let daily = (0..=10)
            .map(|k| up(&mut rng, d(k) + offset, false))
            .collect();
        fx.write(account, worker_id, Dim::Day, daily);
    }
    let daily = (0..=10).map(|k| up(&mut rng, d(k), false)).collect();
    fx.write(account, 3, Dim::Day, daily);
    let db = fx.done();
    let hours_in = |from: i64, to: i64| {
        (d(0) / H..d(12) / H)
            .map(|h| h * H)
            .filter(|t| *t >= from && *t < to && !(*t >= run.0 && *t < run.1))
            .count() as i64
    };
    // (what, from, to, days_1d of mid, four, donly)
    let cases = [
        ("off day boundaries", d(1) + 5 * H, d(8) + 17 * H, 1, 1, 6),
        (
            "shorter than a day, in the run",
            d(4) + 2 * H,
            d(4) + 20 * H,
            0,
            0,
            0,
        ),
        (
            "shorter than a day, across midnight",
            d(2) + 20 * H,
            d(3) + 4 * H,
            0,
            0,
            0,
        ),
        ("exactly one day", d(4), d(5), 1, 0, 1),
        ("one day from 04:00", d(4) + 4 * H, d(5) + 4 * H, 0, 1, 0),
        ("from inside the run", d(3) + 10 * H, d(9), 1, 1, 5),
        ("to inside the run", d(1), d(5) + 2 * H, 1, 0, 4),
        (
            "from and to inside the run",
            d(3) + 8 * H,
            d(5) + 10 * H,
            1,
            1,
            1,
        ),
        (
            "no whole day, a 04:00 point fits",
            d(4) + 3 * H,
            d(5) + 5 * H,
            0,
            1,
            0,
        ),
        ("no whole day", d(1) + H, d(2) + 23 * H, 0, 0, 0),
        ("seconds inside the run", run.0 + 17, run.1 - 5, 1, 1, 1),
        ("the run exactly", run.0, run.1, 1, 1, 1),
        (
            "the run and an hour each side",
            run.0 - H,
            run.1 + H,
            1,
            1,
            1,
        ),
        ("everything", d(-2), d(14), 1, 1, 11),
        ("after the data", d(13), d(14), 0, 0, 0),
    ];
    for (what, from, to, mid, four, donly) in cases {
        let p = period(from, to);
        let context = format!("{what} [{from}, {to})");
        let rows = agree(&db.conn, &p, &Selection::default(), &context);
        for (name, days, hours) in [
            ("mid", mid, hours_in(from, to)),
            ("four", four, hours_in(from, to)),
            ("donly", donly, 0),
        ] {
            let r = row(&rows, name);
            assert_eq!(
                (r.days_1d, r.hours_1h),
                (days, hours),
                "{context}: {name}: (days_1d, hours_1h) in {r:?}"
            );
        }
    }
    // and every period from hour to hour around the run, and a few at odd seconds
    for from in (d(2) / H..d(4) / H).step_by(3).map(|h| h * H) {
        for len in [H, 23 * H, D, 25 * H, 2 * D, 2 * D + 7 * H, 3 * D] {
            for shift in [0, 1, 1799] {
                let p = period(from + shift, from + len + 2 * shift);
                agree(
                    &db.conn,
                    &p,
                    &Selection::default(),
                    &format!("sweep [{}, {})", p.from, p.to),
                );
            }
        }
    }
}

/// Workers without hourly points or without an hourly series (only daily points), without
/// daily points or series, with nothing at all, and with hashrate 0 throughout.
#[test]
fn workers_without_an_hourly_or_a_daily_series() {
    let mut rng = Rng::new(1);
    let mut fx = Fixture::new();
    let names = [
        (1, "daily-only", None),
        (2, "no-hourly-series", None),
        (3, "hourly-only", None),
        (4, "no-daily-series", None),
        (5, "nothing", None),
        (6, "no-series", None),
        (7, "zero", None),
    ];
    let account = fx.account(PoolKind::CloverPool, &PUID.to_string(), &[], &names);
    let gap = [(d(4) + 4 * H, d(6) + 4 * H)];
    let midnights: Vec<Point> = (0..10).map(|k| up(&mut rng, d(k), false)).collect();
    fx.write(account, 1, Dim::Day, midnights);
    fx.drop_series(account, 2, Dim::Hour);
    // the pool's day moving from midnight to 04:00
    let moving = (0..10)
        .map(|k| up(&mut rng, d(k) + if k < 5 { 0 } else { 4 * H }, false))
        .collect();
    fx.write(account, 2, Dim::Day, moving);
    let hourly = hours_except(&mut rng, d(0), d(11), &gap);
    fx.write(account, 3, Dim::Hour, hourly);
    let hourly = hours_except(&mut rng, d(0), d(11), &gap);
    fx.write(account, 4, Dim::Hour, hourly);
    fx.drop_series(account, 4, Dim::Day);
    fx.drop_series(account, 6, Dim::Hour);
    fx.drop_series(account, 6, Dim::Day);
    let zeros = (0..24 * 11)
        .map(|h| Point {
            ts: d(0) + h * H,
            hashrate_hs: 0.0,
            reject_rate: 0.0,
            provisional: false,
        })
        .collect();
    fx.write(account, 7, Dim::Hour, zeros);
    let db = fx.done();
    let missing: Vec<(String, Option<i64>, Option<i64>)> = db
        .conn
        .prepare(
            "SELECT worker_name, hourly_series_id, daily_series_id FROM v_worker_series \
             WHERE hourly_series_id IS NULL OR daily_series_id IS NULL ORDER BY worker_id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let missing: Vec<(&str, bool, bool)> = missing
        .iter()
        .map(|(n, h, d)| (n.as_str(), h.is_none(), d.is_none()))
        .collect();
    assert_eq!(
        missing,
        [
            ("no-hourly-series", true, false),
            ("no-daily-series", false, true),
            ("no-series", true, true)
        ]
    );
    let p = period(d(0), d(11));
    let rows = agree(&db.conn, &p, &Selection::default(), "days 0..11");
    let hours = 11 * 24 - 48;
    for (name, days_1d, hours_1h, source, rated) in [
        ("daily-only", 10, 0, "1d", true),
        ("no-hourly-series", 10, 0, "1d", true),
        ("hourly-only", 0, hours, "1h", true),
        ("no-daily-series", 0, hours, "1h", true),
        ("nothing", 0, 0, "none", false),
        ("no-series", 0, 0, "none", false),
        ("zero", 0, 11 * 24, "1h", false),
    ] {
        let r = row(&rows, name);
        assert_eq!(
            (
                r.days_1d,
                r.hours_1h,
                r.source.as_str(),
                r.reject_rate.is_some()
            ),
            (days_1d, hours_1h, source, rated),
            "{name}: {r:?}"
        );
    }
    // the rows without a rate last, by name
    let tail: Vec<&str> = rows[rows.len() - 3..]
        .iter()
        .map(|r| r.worker_name.as_str())
        .collect();
    assert_eq!(tail, ["no-series", "nothing", "zero"]);
    let times = turning_times(&db.conn);
    for i in 0..60 {
        let p = random_report_period(&mut rng, &times, END);
        agree(
            &db.conn,
            &p,
            &Selection::default(),
            &format!("no series, period {i} [{}, {})", p.from, p.to),
        );
    }
}

/// Selections over two CloverPool accounts and a Foundry one: by account, pool, group (name, and
/// numeric id naming other groups in other accounts) and worker GLOB pattern (case-sensitive).
#[test]
fn selections_by_pool_account_group_and_worker_pattern() {
    type W = (i64, &'static str, Option<i64>);
    let clover_groups: &[(i64, &str)] = &[(1, "rack-a"), (2, "rack-b")];
    let clover: &[W] = &[
        (1, "rig-01", Some(1)),
        (2, "rig-02", Some(2)),
        (3, "Rig-03", None),
        (4, "big-1", Some(1)),
    ];
    let clover2_groups: &[(i64, &str)] = &[(1, "cold"), (2, "rack-a")];
    let clover2: &[W] = &[
        (1, "rig-01", Some(2)),
        (2, "rig-12", Some(1)),
        (5, "big-2", None),
    ];
    let farm_groups: &[(i64, &str)] = &[(1, "rack-a")];
    let farm: &[W] = &[
        (11, "rig-01", Some(1)),
        (12, "rig-02", None),
        (13, "big-1", Some(1)),
    ];
    let mut rng = Rng::new(77);
    let mut fx = Fixture::new();
    let mut model = Vec::new();
    for (kind, name, groups, workers) in [
        (
            PoolKind::CloverPool,
            PUID.to_string(),
            clover_groups,
            clover,
        ),
        (
            PoolKind::CloverPool,
            PUID2.to_string(),
            clover2_groups,
            clover2,
        ),
        (PoolKind::Foundry, FARM.to_owned(), farm_groups, farm),
    ] {
        let account_id = fx.account(kind, &name, groups, workers);
        for &(worker_id, worker_name, gid) in workers {
            let group = gid.map(|g| (g, groups.iter().find(|x| x.0 == g).unwrap().1));
            model.push((
                kind.name(),
                name.clone(),
                account_id,
                worker_id,
                worker_name,
                group,
            ));
            for dim in [Dim::Hour, Dim::Day] {
                let points = match dim {
                    Dim::Hour => hour_runs(&mut rng),
                    Dim::Day => daily_shape(&mut rng),
                };
                let id = fx.series_id(account_id, worker_id, dim);
                write_as_runs(&mut fx.store, &mut rng, id, dim, points);
            }
        }
    }
    assert_ne!(model[0].2, model[4].2, "two accounts");
    let db = fx.done();
    let select =
        |pool: Option<&str>, account: Option<&str>, group: Option<&str>, worker| Selection {
            accounts: AccountFilter {
                pool: pool.map(str::to_owned),
                account: account.map(str::to_owned),
            },
            group: group.map(str::to_owned),
            worker,
        };
    let puid_text = PUID.to_string();
    let puid2_text = PUID2.to_string();
    let (puid, puid2) = (puid_text.as_str(), puid2_text.as_str());
    // (selection, the (account, worker name)s it covers)
    let cases: Vec<(Selection, Vec<(&str, &str)>)> = vec![
        (
            Selection::default(),
            vec![
                (puid, "rig-01"),
                (puid, "rig-02"),
                (puid, "Rig-03"),
                (puid, "big-1"),
                (puid2, "rig-01"),
                (puid2, "rig-12"),
                (puid2, "big-2"),
                (FARM, "rig-01"),
                (FARM, "rig-02"),
                (FARM, "big-1"),
            ],
        ),
        (
            Selection {
                accounts: AccountFilter::puid(PUID),
                ..Selection::default()
            },
            vec![
                (puid, "rig-01"),
                (puid, "rig-02"),
                (puid, "Rig-03"),
                (puid, "big-1"),
            ],
        ),
        (
            Selection {
                accounts: AccountFilter::account(PoolKind::Foundry, FARM),
                ..Selection::default()
            },
            vec![(FARM, "rig-01"), (FARM, "rig-02"), (FARM, "big-1")],
        ),
        (
            select(Some("foundry"), None, None, None),
            vec![(FARM, "rig-01"), (FARM, "rig-02"), (FARM, "big-1")],
        ),
        (
            select(Some("cloverpool"), None, Some("rack-a"), None),
            vec![(puid, "rig-01"), (puid, "big-1"), (puid2, "rig-01")],
        ),
        (
            select(None, Some(puid2), None, None),
            vec![(puid2, "rig-01"), (puid2, "rig-12"), (puid2, "big-2")],
        ),
        (select(Some("foundry"), Some(puid), None, None), vec![]),
        (
            select(None, None, Some("rack-a"), None),
            vec![
                (puid, "rig-01"),
                (puid, "big-1"),
                (puid2, "rig-01"),
                (FARM, "rig-01"),
                (FARM, "big-1"),
            ],
        ),
        (
            select(None, None, Some("1"), None),
            vec![
                (puid, "rig-01"),
                (puid, "big-1"),
                (puid2, "rig-12"),
                (FARM, "rig-01"),
                (FARM, "big-1"),
            ],
        ),
        (
            select(None, Some(puid2), Some("2"), None),
            vec![(puid2, "rig-01")],
        ),
        (
            select(None, None, Some("cold"), None),
            vec![(puid2, "rig-12")],
        ),
        (select(None, None, Some("9"), None), vec![]),
        (
            select(None, None, None, Some("rig-0[12]".to_owned())),
            vec![
                (puid, "rig-01"),
                (puid, "rig-02"),
                (puid2, "rig-01"),
                (FARM, "rig-01"),
                (FARM, "rig-02"),
            ],
        ),
        (
            select(None, None, None, Some("Rig-*".to_owned())),
            vec![(puid, "Rig-03")],
        ),
        (
            select(Some("foundry"), None, None, Some("big-?".to_owned())),
            vec![(FARM, "big-1")],
        ),
        (
            select(None, None, Some("rack-a"), Some("*1".to_owned())),
            vec![
                (puid, "rig-01"),
                (puid, "big-1"),
                (puid2, "rig-01"),
                (FARM, "rig-01"),
                (FARM, "big-1"),
            ],
        ),
    ];
    let times = turning_times(&db.conn);
    let mut periods = vec![period(d(0), d(12)), period(d(2) + 5 * H, d(9) + 13 * H)];
    for _ in 0..12 {
        periods.push(random_report_period(&mut rng, &times, END));
    }
    let mut with_1d = 0;
    for (selection, want) in &cases {
        let want: BTreeSet<(String, String)> = want
            .iter()
            .map(|&(a, w)| (a.to_owned(), w.to_owned()))
            .collect();
        for p in &periods {
            let context = format!("{selection:?}, [{}, {})", p.from, p.to);
            let rows = agree(&db.conn, p, selection, &context);
            let got: BTreeSet<(String, String)> = rows
                .iter()
                .map(|r| (r.account.clone(), r.worker_name.clone()))
                .collect();
            assert_eq!(got, want, "{context}: the workers selected");
            assert_eq!(got.len(), rows.len(), "{context}: one row per worker");
            for r in &rows {
                let m = model
                    .iter()
                    .find(|m| m.2 == r.account_id && m.3 == r.worker_id)
                    .unwrap();
                assert_eq!(
                    (r.pool.as_str(), r.group_name.as_deref()),
                    (m.0, m.5.map(|g| g.1)),
                    "{context}: {r:?}"
                );
            }
            with_1d += rows.iter().filter(|r| r.days_1d > 0).count();
        }
    }
    assert!(with_1d > 0, "daily points stand in somewhere");
}

/// Points off the whole hour never come from the ingest (it stores a point only on the hour),
/// but the writer and the schema take them. Hourly points at :30 (one an hour): the summary's
/// mask puts each in its hour, and the scan still agrees with the SQL around daily points at
/// midnight, 04:00 and 20:00.
#[test]
fn hourly_points_at_half_past_agree() {
    let mut rng = Rng::new(1830);
    let mut fx = Fixture::new();
    let account = fx.account(
        PoolKind::CloverPool,
        &PUID.to_string(),
        &[],
        &[(1, "mid", None), (2, "four", None), (3, "twenty", None)],
    );
    for (worker_id, offset) in [(1, 0), (2, 4 * H), (3, 20 * H)] {
        let runs = [
            (d(2) + 4 * H, d(3) + 4 * H),
            (d(4) + 3 * H, d(5) + 5 * H),
            (d(6) + 20 * H, d(7) + 20 * H),
            (d(8), d(9)),
        ];
        let hourly = hours_except(&mut rng, d(0), d(11), &runs)
            .into_iter()
            .map(|mut p| {
                p.ts += H / 2;
                p
            })
            .collect();
        fx.write(account, worker_id, Dim::Hour, hourly);
        let daily = (1..=9)
            .map(|k| up(&mut rng, d(k) + offset, false))
            .collect();
        fx.write(account, worker_id, Dim::Day, daily);
    }
    let db = fx.done();
    let rows = agree(
        &db.conn,
        &period(d(0), d(11)),
        &Selection::default(),
        "half past",
    );
    // runs 2..3 04:00-04:00, 4 03:00..5 05:00, 6..7 20:00-20:00 (each hour's point at :30)
    // and day 8
    let days: Vec<i64> = ["mid", "four", "twenty"]
        .iter()
        .map(|n| row(&rows, n).days_1d)
        .collect();
    assert_eq!(days, [1, 2, 1], "{rows:#?}");
    let times = turning_times(&db.conn);
    for i in 0..80 {
        let p = random_report_period(&mut rng, &times, END);
        agree(
            &db.conn,
            &p,
            &Selection::default(),
            &format!("half past, period {i} [{}, {})", p.from, p.to),
        );
    }
}

/// Found by this test, left as it is: a daily point off the whole hour (18:30 UTC, a pool
/// keeping days at UTC+05:30) right after a final hourly point at 18:00 is never read by the
/// scan. Its run starts at 19:00 (the hour after the last final one), after the point, though
/// reject_rate.sql lets it stand in: no final hourly point in [18:30, 18:30 next day). The
/// ingest never stores such a point (only points on the whole hour), so this needs data written
/// around it.
#[test]
fn daily_points_at_half_past_the_hour() {
    let mut rng = Rng::new(5);
    let mut fx = Fixture::new();
    let account = fx.account(
        PoolKind::CloverPool,
        &PUID.to_string(),
        &[],
        &[(1, "ist", None)],
    );
    // final hours to day 4 18:00 and from day 5 19:00: none in [4 18:30, 5 18:30)
    let hourly = hours_except(&mut rng, d(0), d(11), &[(d(4) + 19 * H, d(5) + 19 * H)]);
    fx.write(account, 1, Dim::Hour, hourly);
    let daily = (1..=9)
        .map(|k| up(&mut rng, d(k) + 18 * H + H / 2, false))
        .collect();
    fx.write(account, 1, Dim::Day, daily);
    let db = fx.done();
    let rows = agree(
        &db.conn,
        &period(d(0), d(11)),
        &Selection::default(),
        "18:30",
    );
    assert_eq!(row(&rows, "ist").days_1d, 1);
}
