//! End to end against a hostile or broken pool: a few axum handlers on loopback, ingested with
//! `poolhist::ingest::run`. Each test is one finding: absurd points never stop the nightly job,
//! only the windows asked for are stored, an endless worker list is cut off, oversized and
//! gzip-bomb bodies cost only their series (and little memory), a trickling pool stops at the
//! request budget, and the key never leaves the pool nor reaches the database.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::hand_pool::{json_body, ok, serve, Params, Served};
use poolhist::http::{AccessKey, ClientConfig};
use poolhist::ingest::{self, IngestError, IngestOptions, IngestSummary};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::{json, Value};

/// 2025-11-20 12:30:00 UTC: half-way through an hour, so there is a live point.
/// A series: worker (None for the account) and dimension.
type SeriesKey = (Option<i64>, String);

const NOW: i64 = 1_763_641_800;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const PUID: i64 = 77;
const KEY: &str = "r_hostile_pool_key";
const MIB: u64 = 1024 * 1024;

fn current_slot(step: i64) -> i64 {
    NOW - NOW.rem_euclid(step)
}

// ---------------------------------------------------------------------------------------------
// A configurable pool.

/// One share-history request as the pool received it.
#[derive(Debug, Clone, PartialEq)]
struct HistoryRequest {
    worker_id: Option<i64>,
    step: i64,
    start_ts: i64,
    count: i64,
}

impl HistoryRequest {
    /// The slots it asked for: `[start_ts, start_ts + count * step)`.
    fn covers(&self, ts: i64) -> bool {
        ts >= self.start_ts && ts < self.start_ts + self.count * self.step
    }
}

type HistoryFn = dyn Fn(&HistoryRequest, &Uri, &HashMap<String, String>) -> Response + Send + Sync;
type ListFn = dyn Fn(u64) -> Response + Send + Sync;

struct Pool {
    key: String,
    workers_total: i64,
    list_workers: Box<ListFn>,
    history: Box<HistoryFn>,
    history_requests: Mutex<Vec<HistoryRequest>>,
    worker_pages: AtomicU64,
}

/// The pool on loopback; stops when dropped.
type Running = Served<Pool>;

fn denied() -> Response {
    json_body(json!({"err_no": 20001, "err_msg": "access key and puid do not match"}))
}

impl Pool {
    fn new(
        key: &str,
        workers_total: i64,
        list_workers: Box<ListFn>,
        history: Box<HistoryFn>,
    ) -> Pool {
        Pool {
            key: key.to_owned(),
            workers_total,
            list_workers,
            history,
            history_requests: Mutex::new(Vec::new()),
            worker_pages: AtomicU64::new(0),
        }
    }

    fn authorized(&self, p: &HashMap<String, String>) -> bool {
        p.get("access_key") == Some(&self.key)
            && p.get("puid").map(String::as_str) == Some(&PUID.to_string())
    }
}

async fn workers(State(pool): State<Arc<Pool>>, Query(p): Params) -> Response {
    if !pool.authorized(&p) {
        return denied();
    }
    pool.worker_pages.fetch_add(1, Ordering::Relaxed);
    let page = p.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    (pool.list_workers)(page)
}

async fn groups(State(pool): State<Arc<Pool>>, Query(p): Params) -> Response {
    if !pool.authorized(&p) {
        return denied();
    }
    ok(
        json!({"page": 1, "page_size": 720, "page_count": 1, "total_count": 1, "list": [{"gid": 1, "name": "hall"}]}),
    )
}

async fn stats(State(pool): State<Arc<Pool>>, Query(p): Params) -> Response {
    if !pool.authorized(&p) {
        return denied();
    }
    ok(json!({"workers_active": pool.workers_total, "workers_total": pool.workers_total}))
}

fn history(
    pool: &Pool,
    worker_id: Option<i64>,
    p: &HashMap<String, String>,
    uri: &Uri,
) -> Response {
    if !pool.authorized(p) {
        return denied();
    }
    let step = match p.get("dimension").map(String::as_str) {
        Some("1h") => HOUR,
        Some("1d") => DAY,
        _ => return json_body(json!({"err_no": 1, "err_msg": {"dimension": ["is required"]}})),
    };
    let number = |name: &str| p.get(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let request = HistoryRequest {
        worker_id,
        step,
        start_ts: number("start_ts"),
        count: number("count"),
    };
    pool.history_requests.lock().unwrap().push(request.clone());
    (pool.history)(&request, uri, p)
}

async fn account_history(State(pool): State<Arc<Pool>>, uri: Uri, Query(p): Params) -> Response {
    history(&pool, None, &p, &uri)
}

async fn worker_history(
    State(pool): State<Arc<Pool>>,
    UrlPath(id): UrlPath<i64>,
    uri: Uri,
    Query(p): Params,
) -> Response {
    history(&pool, Some(id), &p, &uri)
}

async fn start(pool: Pool) -> Running {
    let pool = Arc::new(pool);
    let app = Router::new()
        .route("/v1/worker", get(workers))
        .route("/v1/worker/groups", get(groups))
        .route("/v1/worker/stats", get(stats))
        .route("/v1/worker/share-history", get(account_history))
        .route("/v1/worker/{id}/share-history", get(worker_history))
        .with_state(Arc::clone(&pool));
    serve(pool, app).await
}

fn worker_json(id: i64) -> Value {
    json!({"worker_id": id.to_string(), "worker_name": format!("w{id}"), "gid": 1, "group_name": "hall", "status": "ACTIVE"})
}

/// A well-behaved listing of `ids`: one page with its total.
fn listing(ids: Vec<i64>) -> Box<ListFn> {
    Box::new(move |page| {
        let rows: Vec<Value> = if page == 1 {
            ids.iter().map(|&id| worker_json(id)).collect()
        } else {
            Vec::new()
        };
        ok(
            json!({"page": page, "page_size": 720, "page_count": 1, "total_count": ids.len(), "data": rows}),
        )
    })
}

/// The slots a pool keeping `retention` slots serves for `request`: those asked for, from its
/// oldest kept slot to the live one.
fn served_slots(request: &HistoryRequest, retention: i64) -> Vec<i64> {
    let step = request.step;
    let current = current_slot(step);
    let oldest = current - (retention - 1) * step;
    let first = (request.start_ts.max(oldest) + step - 1).div_euclid(step) * step;
    let end = request.start_ts + request.count.min(24 * 720) * step;
    (0..)
        .map(|i| first + i * step)
        .take_while(|&ts| ts <= current && ts < end)
        .collect()
}

fn shares(unit: &str, tickers: Vec<Value>) -> Response {
    ok(json!({"shares_unit": unit, "tickers": tickers}))
}

/// 72 hours and 90 days of history, like the other pool of `other_pool_readings`.
fn retention_of(step: i64) -> i64 {
    if step == HOUR {
        72
    } else {
        90
    }
}

fn options(url: &str, key: &str, db: &Path) -> IngestOptions {
    let mut client = ClientConfig::new(
        url,
        AccessKey::new(key).unwrap(),
        poolhist::pools::cloverpool::PROTOCOL,
    );
    client.backoff_base = Duration::from_millis(2);
    client.max_backoff = Duration::from_millis(20);
    client.timeout = Duration::from_secs(10);
    IngestOptions {
        db_path: db.to_owned(),
        accounts: vec![poolhist::ingest::AccountSource {
            account: poolhist::pools::cloverpool::account(PUID),
            client,
        }],
        since: None,
        concurrency: 4,
        retention: Default::default(),
        now: Some(NOW),
        show_progress: false,
        wait_for_lock: false,
        max_workers: poolhist::ingest::DEFAULT_MAX_WORKERS,
        handle_signals: false,
    }
}

/// Every run is bounded in time, whatever the ingest does.
async fn bounded(
    seconds: u64,
    run: impl std::future::Future<Output = Result<IngestSummary, IngestError>>,
) -> Result<IngestSummary, IngestError> {
    tokio::time::timeout(Duration::from_secs(seconds), run)
        .await
        .unwrap_or_else(|_| panic!("the run did not finish within {seconds} s"))
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn last_run(conn: &Connection) -> (String, Option<String>) {
    conn.query_row(
        "SELECT status, error FROM ingest_runs ORDER BY run_id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Absurd points.

/// Where the absurd points sit: ten hours before the live one.
const BAD_TS: i64 = NOW - NOW % HOUR - 10 * HOUR;

/// The absurd hourly points of each worker, by timestamp.
fn bad_hours(worker: i64) -> Vec<i64> {
    match worker {
        1 | 2 => vec![BAD_TS],
        3 => vec![BAD_TS, BAD_TS - HOUR, BAD_TS - 2 * HOUR],
        _ => Vec::new(),
    }
}

/// Workers 1..=4 hash `id` TH/s at 0.5 % rejects; the account their sum. Worker 2 reports in
/// EH/s. Among the points: 1e300 TH/s (infinite in H/s), 5e9 EH/s (5e27 H/s), rejects of "NaN"
/// and "1e400", and an accept of "1e400".
fn absurd_history(request: &HistoryRequest, _: &Uri, _: &HashMap<String, String>) -> Response {
    let worker = request.worker_id;
    let unit = if worker == Some(2) { "E" } else { "T" };
    let tickers = served_slots(request, retention_of(request.step))
        .into_iter()
        .map(|ts| {
            let th = worker.map_or(10.0, |id| id as f64);
            let value = if worker == Some(2) {
                format!("{}", th * 1e-6)
            } else {
                format!("{th}")
            };
            if request.step != HOUR {
                return json!([ts, value, "0.5"]);
            }
            match (worker, ts) {
                (Some(1), BAD_TS) => json!([ts.to_string(), "1e300", "0.1"]),
                (Some(2), BAD_TS) => json!([ts.to_string(), "5e9", "0.1"]),
                (Some(3), BAD_TS) => json!([ts, value, "NaN"]),
                (Some(3), t) if t == BAD_TS - HOUR => json!([ts, value, "1e400"]),
                (Some(3), t) if t == BAD_TS - 2 * HOUR => json!([ts, "1e400", "0.5"]),
                _ => json!([ts, value, "0.5"]),
            }
        })
        .collect();
    shares(unit, tickers)
}

fn assert_no_absurd_rows(conn: &Connection) {
    assert_eq!(
        count(
            conn,
            "SELECT count(*) FROM tickers WHERE hashrate_hs > 1e22 OR hashrate_hs != hashrate_hs"
        ),
        0
    );
    assert_eq!(
        count(
            conn,
            "SELECT count(*) FROM tickers WHERE hashrate_hs IS NULL OR hashrate_hs < 0 \
             OR reject_rate IS NULL OR reject_rate != reject_rate OR reject_rate < 0 OR reject_rate > 1"
        ),
        0
    );
}

/// Every point but the absurd ones, at the value the pool meant.
fn assert_every_good_point_stored(conn: &Connection) {
    let mut stmt = conn
        .prepare("SELECT worker_id, dimension, ts, hashrate_hs, reject_rate FROM v_tickers")
        .unwrap();
    let mut stored: HashMap<SeriesKey, Vec<(i64, f64, f64)>> = HashMap::new();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, f64>(3)?,
                r.get::<_, f64>(4)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (worker, dimension, ts, hs, reject) = row.unwrap();
        stored
            .entry((worker, dimension))
            .or_default()
            .push((ts, hs, reject));
    }
    for worker in [None, Some(1), Some(2), Some(3), Some(4)] {
        for (dimension, step) in [("1h", HOUR), ("1d", DAY)] {
            let current = current_slot(step);
            let bad = match (worker, step) {
                (Some(id), HOUR) => bad_hours(id),
                _ => Vec::new(),
            };
            let expected: BTreeSet<i64> = (0..retention_of(step))
                .map(|i| current - i * step)
                .filter(|ts| !bad.contains(ts))
                .collect();
            let mut points = stored
                .remove(&(worker, dimension.to_owned()))
                .unwrap_or_default();
            points.sort_by_key(|p| p.0);
            let got: BTreeSet<i64> = points.iter().map(|p| p.0).collect();
            assert_eq!(
                got.len(),
                points.len(),
                "{worker:?} {dimension}: one row per slot"
            );
            let missing: Vec<_> = expected.difference(&got).collect();
            let extra: Vec<_> = got.difference(&expected).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{worker:?} {dimension}: missing {missing:?}, unexpected {extra:?}"
            );
            let meant = worker.map_or(10e12, |id| id as f64 * 1e12);
            for (ts, hs, reject) in points {
                assert!(
                    (hs / meant - 1.0).abs() < 1e-12,
                    "{worker:?} {dimension} {ts}: {hs} H/s, meant {meant}"
                );
                assert!(
                    (reject - 0.005).abs() < 1e-15,
                    "{worker:?} {dimension} {ts}: reject {reject}"
                );
            }
        }
    }
    assert!(stored.is_empty(), "rows of unknown series: {stored:?}");
}

fn run_report(db: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_poolhist"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "poolhist {args:?} failed: {stdout}\n{stderr}"
    );
    for text in [&stdout, &stderr] {
        for word in ["NaN", "nan", "inf", "Inf", "INF"] {
            assert!(
                !text.contains(word),
                "poolhist {args:?} printed {word:?}:\n{text}"
            );
        }
    }
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_points_are_rejected_and_never_stop_the_nightly_job() {
    let pool = start(Pool::new(
        KEY,
        4,
        listing(vec![1, 2, 3, 4]),
        Box::new(absurd_history),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("absurd.db");

    let first = bounded(20, ingest::run(options(&pool.url, KEY, &db)))
        .await
        .expect("absurd points do not fail the run");
    println!("first run: {}", first.line());
    // 1e300 TH/s, 5e9 EH/s, a NaN reject, a 1e400 reject and a 1e400 accept: counted in every
    // answer that carried them (a probe and a page may both cover one).
    assert!(first.tickers_rejected >= 5, "{}", first.line());
    assert!(first.line().contains(&format!(
        "{} nonsense tickers rejected",
        first.tickers_rejected
    )));

    let conn = Connection::open(&db).unwrap();
    assert_no_absurd_rows(&conn);
    assert_every_good_point_stored(&conn);
    assert_eq!(last_run(&conn), ("ok".to_owned(), None));
    drop(conn);

    let second = bounded(20, ingest::run(options(&pool.url, KEY, &db)))
        .await
        .expect("the second run succeeds too");
    println!("second run: {}", second.line());
    let conn = Connection::open(&db).unwrap();
    assert_no_absurd_rows(&conn);
    assert_every_good_point_stored(&conn);
    assert_eq!(last_run(&conn), ("ok".to_owned(), None));
    drop(conn);

    let period = [
        "--from",
        "2025-11-01",
        "--to",
        "2025-11-21",
        "--format",
        "csv",
    ];
    let uptime = run_report(&db, &[&["report", "uptime"][..], &period[..]].concat());
    let rejects = run_report(&db, &[&["report", "reject-rate"][..], &period[..]].concat());
    println!("{uptime}\n{rejects}");
    for name in ["w1", "w2", "w3", "w4"] {
        assert!(uptime.contains(name), "{uptime}");
        assert!(rejects.contains(name), "{rejects}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. A pool that answers every request with everything it has.

/// Hourly points from now back: as many as keep this test well under 10 s (see the report);
/// `HOSTILE_FLOOD_HOURS` overrides it, to measure the 200,000 of a pool serving since 2002.
fn flood_hours() -> i64 {
    std::env::var("HOSTILE_FLOOD_HOURS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// Per daily series and time of day (seconds after UTC midnight): rows, first and last.
fn daily_times_of_day(conn: &Connection) -> Vec<(Option<i64>, i64, i64, String, String)> {
    conn.prepare(
        "SELECT worker_id, ts % 86400, count(*), min(time_utc), max(time_utc) FROM v_tickers \
         WHERE dimension = '1d' GROUP BY worker_id, ts % 86400 ORDER BY worker_id, min(ts)",
    )
    .unwrap()
    .query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The same answer to every share-history request: `flood_hours()` hourly points up to the live
/// hour, a hundred from 1970, and a few in the future.
fn flood_body() -> Bytes {
    let current = current_slot(HOUR);
    let mut stamps: Vec<i64> = (1..=100).map(|k| k * HOUR).collect();
    stamps.extend((0..flood_hours()).rev().map(|k| current - k * HOUR));
    stamps.extend([
        current + HOUR,
        current + 2 * HOUR,
        current + DAY,
        current + 400 * DAY,
    ]);
    let tickers: Vec<Value> = stamps
        .into_iter()
        .map(|ts| json!([ts, "1.5", "0.5"]))
        .collect();
    Bytes::from(json!({"err_no": 0, "data": {"shares_unit": "T", "tickers": tickers}}).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_answering_everything_gets_only_what_was_asked_for_stored() {
    let body = flood_body();
    println!(
        "every answer: {} bytes, {} tickers",
        body.len(),
        flood_hours() + 104
    );
    let pool = start(Pool::new(
        KEY,
        1,
        listing(vec![1]),
        Box::new(move |_, _, _| {
            ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
        }),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flood.db");

    let started = Instant::now();
    let summary = bounded(
        60 + flood_hours() as u64 / 500,
        ingest::run(options(&pool.url, KEY, &db)),
    )
    .await
    .expect("the run finishes");
    let requests = pool.pool.history_requests.lock().unwrap().clone();
    let conn = Connection::open(&db).unwrap();
    let rows = count(&conn, "SELECT count(*) FROM tickers");
    let distinct: BTreeSet<(Option<i64>, i64, i64, i64)> = requests
        .iter()
        .map(|r| (r.worker_id, r.step, r.start_ts, r.count))
        .collect();
    println!(
        "{} share-history requests ({} distinct windows), {rows} rows stored, {:.1} s: {}",
        requests.len(),
        distinct.len(),
        started.elapsed().as_secs_f64(),
        summary.line()
    );
    assert!(summary.tickers_rejected > 0, "{}", summary.line());
    assert!(rows > 0);

    // Nothing in the future, the live slot at most.
    assert_eq!(
        count(
            &conn,
            &format!("SELECT count(*) FROM tickers WHERE ts > {NOW}")
        ),
        0
    );
    // Every stored point lies in a window its series asked for.
    let mut stmt = conn
        .prepare("SELECT worker_id, dimension, ts FROM v_tickers")
        .unwrap();
    let stored: Vec<(Option<i64>, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let outside: Vec<_> = stored
        .iter()
        .filter(|(worker, dimension, ts)| {
            let step = if dimension == "1h" { HOUR } else { DAY };
            !requests
                .iter()
                .any(|r| r.worker_id == *worker && r.step == step && r.covers(*ts))
        })
        .take(10)
        .collect();
    assert!(
        outside.is_empty(),
        "stored outside every window asked for: {outside:?}"
    );
    // Hourly points sit on the slots asked for, not merely between the ends.
    let off_slot = stored
        .iter()
        .filter(|(worker, dimension, ts)| {
            dimension == "1h"
                && !requests.iter().any(|r| {
                    r.worker_id == *worker
                        && r.step == HOUR
                        && r.covers(*ts)
                        && (ts - r.start_ts) % HOUR == 0
                })
        })
        .count();
    assert_eq!(off_slot, 0, "hourly rows off the slots asked for");
    println!("daily rows by time of day: {:?}", daily_times_of_day(&conn));
    // Nothing from 1970 (no window reaches before 2009).
    assert_eq!(
        count(&conn, "SELECT count(*) FROM tickers WHERE ts < 1230768000"),
        0
    );
}

/// The pool of the flood, reduced to what moves the day boundary: daily requests answered with
/// every hourly point of the window, from 05:00 UTC 500 days ago (a partial first day) to now.
fn hours_for_days(request: &HistoryRequest, _: &Uri, _: &HashMap<String, String>) -> Response {
    let first = current_slot(DAY) - 500 * DAY + 5 * HOUR;
    let (hourly, retention) = if request.step == HOUR {
        (request.clone(), 72)
    } else {
        let hourly = HistoryRequest {
            step: HOUR,
            count: request.count * 24,
            ..request.clone()
        };
        (hourly, (current_slot(HOUR) - first) / HOUR + 1)
    };
    let tickers = served_slots(&hourly, retention)
        .into_iter()
        .map(|ts| json!([ts, "1.5", "0.5"]))
        .collect();
    shares("T", tickers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_points_in_daily_answers_do_not_move_the_day_boundary() {
    let pool = start(Pool::new(
        KEY,
        1,
        listing(vec![1]),
        Box::new(hours_for_days),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("days.db");
    let summary = bounded(30, ingest::run(options(&pool.url, KEY, &db)))
        .await
        .expect("the run finishes");
    let daily: Vec<_> = pool
        .pool
        .history_requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.step == DAY)
        .map(|r| (r.worker_id, r.start_ts, r.start_ts % DAY / HOUR, r.count))
        .collect();
    println!("{}", summary.line());
    println!("daily requests (worker, start_ts, its hour of day, count): {daily:?}");
    let conn = Connection::open(&db).unwrap();
    let times = daily_times_of_day(&conn);
    println!("daily rows by time of day: {times:#?}");
    // Each daily series at one time of day, and that is midnight: the pool's points hold every
    // midnight since the first (partial) day.
    let off_midnight: Vec<_> = times.iter().filter(|t| t.1 != 0).collect();
    assert!(
        off_midnight.is_empty(),
        "daily rows off UTC midnight (worker, seconds after midnight, rows, first, last): {off_midnight:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. A worker list without end.

const MAX_WORKERS: usize = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_worker_list_is_cut_off_at_max_workers() {
    let pool = start(Pool::new(
        KEY,
        10_000_000,
        // 720 new workers on every page, no total_count, a page_count without end.
        Box::new(|page| {
            let first = (page as i64 - 1) * 720 + 1;
            let rows: Vec<Value> = (first..first + 720).map(worker_json).collect();
            ok(json!({"page": page, "page_size": 720, "page_count": 1_000_000_000u64, "data": rows}))
        }),
        // Zeros at the live slot and the one before: one request per series.
        Box::new(|request, _, _| {
            let tickers = served_slots(request, 2)
                .into_iter()
                .map(|ts| json!([ts, "0", "0"]))
                .collect();
            shares("T", tickers)
        }),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("endless.db");
    let mut options = options(&pool.url, KEY, &db);
    options.max_workers = MAX_WORKERS;
    options.concurrency = 8;

    let started = Instant::now();
    let summary = bounded(60, ingest::run(options))
        .await
        .expect("the run finishes");
    let pages = pool.pool.worker_pages.load(Ordering::Relaxed);
    let history_requests = pool.pool.history_requests.lock().unwrap().len();
    println!(
        "{pages} worker pages, {history_requests} share-history requests, {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        summary.line()
    );
    assert_eq!(summary.workers, MAX_WORKERS, "{}", summary.line());
    assert_eq!(summary.accounts_capped, 1);
    assert!(
        summary.line().contains("cut off at --max-workers"),
        "{}",
        summary.line()
    );
    // 7 pages of 720 reach 5,000: the listing stopped there.
    assert!(pages <= 8, "{pages} worker pages requested");
    let conn = Connection::open(&db).unwrap();
    assert_eq!(
        count(&conn, "SELECT count(*) FROM workers"),
        MAX_WORKERS as i64
    );
    // The lowest ids are kept.
    assert_eq!(count(&conn, "SELECT max(worker_id) FROM workers"), 5_000);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM series"),
        2 * (MAX_WORKERS as i64 + 1)
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Oversized bodies, each in a process of its own so its peak memory is its own.

const PEAK_LINE: &str = "peak resident KiB: ";
/// Zeros in .bss: served from here, they cost the server no memory.
static FILLER: [u8; 64 << 20] = [0; 64 << 20];

/// Workers 1 and 2 with 72 hours and 90 days of history, except worker 1's hourly history,
/// answered by `oversized`.
fn pool_with_one_oversized_answer(oversized: fn() -> Response) -> Pool {
    Pool::new(
        KEY,
        2,
        listing(vec![1, 2]),
        Box::new(move |request, _, _| {
            if request.worker_id == Some(1) && request.step == HOUR {
                return oversized();
            }
            let tickers = served_slots(request, retention_of(request.step))
                .into_iter()
                .map(|ts| json!([ts, "1.5", "0.5"]))
                .collect();
            shares("T", tickers)
        }),
    )
}

/// 64 MiB without a Content-Length (chunked), as the pool streams it.
fn sixty_four_mib_streamed() -> Response {
    let body = Body::from(Bytes::from_static(&FILLER[..]));
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body.into_data_stream()),
    )
        .into_response()
}

/// A gzip member that inflates to a JSON-ish prefix and then 1000 MiB of spaces, in less than
/// 1 MiB on the wire (deflate's ratio is at most 1032:1, so a full GiB would take a little more
/// than the cap, and the test could not tell inflated bytes from compressed ones). Built from one compressed MiB of spaces repeated: each piece ends with a full
/// flush, so it is byte-aligned and refers to nothing before it.
fn gzip_bomb() -> Vec<u8> {
    use flate2::{Compress, Compression, Crc, FlushCompress};
    let prefix = br#"{"err_no":0,"data":{"shares_unit":"T","tickers":["#;
    let spaces = vec![b' '; MIB as usize];
    let deflate = |input: &[u8], flush: FlushCompress| {
        let mut compress = Compress::new(Compression::best(), false);
        let mut out = Vec::with_capacity(input.len() / 100 + 1024);
        compress.compress_vec(input, &mut out, flush).unwrap();
        assert_eq!(compress.total_in(), input.len() as u64);
        out
    };
    let head = deflate(prefix, FlushCompress::Full);
    let piece = deflate(&spaces, FlushCompress::Full);
    let tail = deflate(&[], FlushCompress::Finish);

    let mut crc = Crc::new();
    crc.update(prefix);
    let mut spaces_crc = Crc::new();
    spaces_crc.update(&spaces);
    let pieces = 1000;
    for _ in 0..pieces {
        crc.combine(&spaces_crc);
    }
    let mut bomb = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    bomb.extend_from_slice(&head);
    for _ in 0..pieces {
        bomb.extend_from_slice(&piece);
    }
    bomb.extend_from_slice(&tail);
    bomb.extend_from_slice(&crc.sum().to_le_bytes());
    bomb.extend_from_slice(&crc.amount().to_le_bytes());
    bomb
}

static BOMB: std::sync::LazyLock<Bytes> = std::sync::LazyLock::new(|| Bytes::from(gzip_bomb()));

fn gzip_bomb_response() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        BOMB.clone(),
    )
        .into_response()
}

/// Ingests from a pool whose worker 1 hourly answer is `oversized`: that series is left out,
/// every other one is collected, and the run ends failed naming the endpoint and the 1 MiB
/// limit, and records that. Prints the process's peak memory.
async fn oversized_run(oversized: fn() -> Response) {
    let pool = start(pool_with_one_oversized_answer(oversized)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("oversized.db");
    let mut options = options(&pool.url, KEY, &db);
    options.accounts[0].client.max_body_bytes = MIB;

    let started = Instant::now();
    let error = bounded(30, ingest::run(options))
        .await
        .expect_err("an oversized answer is reported");
    let text = error.to_string();
    println!("{:.2} s: {text}", started.elapsed().as_secs_f64());
    assert!(text.contains("/worker/1/share-history"), "{text}");
    assert!(text.contains("larger than 1 MiB"), "{text}");
    let conn = Connection::open(&db).unwrap();
    assert_eq!(last_run(&conn), ("failed".to_owned(), Some(text.clone())));
    assert!(text.contains("1 series not collected"), "{text}");
    // Every other series is collected: the account's, worker 2's, and worker 1's daily one.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM series s WHERE EXISTS \
               (SELECT 1 FROM tickers t WHERE t.series_id = s.series_id)"
        ),
        5
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM v_tickers WHERE worker_id = 1 AND dimension = '1h'"
        ),
        0
    );

    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        let peak_kib = line.split_whitespace().nth(1).unwrap_or_default();
        println!("{PEAK_LINE}{peak_kib}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by a_64_mib_history_answer_costs_only_its_series, in a process of its own"]
async fn sixty_four_mib_answer_alone_in_this_process() {
    oversized_run(sixty_four_mib_streamed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by a_gzip_bomb_history_answer_costs_only_its_series, in a process of its own"]
async fn gzip_bomb_answer_alone_in_this_process() {
    oversized_run(gzip_bomb_response).await;
}

/// Runs one ignored test of this binary in a child process; returns its peak RSS in KiB (None
/// without /proc).
async fn peak_kib_of_child(test: &'static str) -> Option<u64> {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", test])
            .args(["--nocapture", "--test-threads", "1"])
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran the test: {stdout}"
    );
    let peak_kib = stdout
        .lines()
        .find_map(|line| Some(line.split_once(PEAK_LINE)?.1))
        .and_then(|kib| kib.split_whitespace().next()?.parse::<u64>().ok());
    if peak_kib.is_none() {
        assert!(
            !Path::new("/proc/self/status").exists(),
            "no peak reported: {stdout}"
        );
    }
    peak_kib
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_history_answer_costs_only_its_series() {
    // Streamed: no length known up front, so the client must read up to its cap.
    let sanity = sixty_four_mib_streamed();
    assert!(sanity.headers().get(header::CONTENT_LENGTH).is_none());
    assert_eq!(axum::body::HttpBody::size_hint(sanity.body()).exact(), None);
    if let Some(peak_kib) = peak_kib_of_child("sixty_four_mib_answer_alone_in_this_process").await {
        println!("peak RSS {peak_kib} KiB");
        assert!(peak_kib < 300 * 1024, "peak RSS {peak_kib} KiB");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_history_answer_costs_only_its_series() {
    // The bomb is what it claims: small on the wire, JSON-ish then spaces when inflated.
    let bomb = gzip_bomb();
    // Under the cap compressed: only the inflated size can pass it.
    assert!((bomb.len() as u64) < MIB, "{} bytes", bomb.len());
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(flate2::read::GzDecoder::new(&bomb[..]), 3 * MIB),
        &mut inflated,
    )
    .unwrap();
    assert_eq!(inflated.len() as u64, 3 * MIB);
    assert!(inflated.starts_with(br#"{"err_no":0,"data":"#));
    assert!(inflated[100..].iter().all(|&b| b == b' '));
    drop(inflated);
    println!(
        "gzip bomb: {} bytes, inflates to 1000 MiB + 50 bytes",
        bomb.len()
    );

    if let Some(peak_kib) = peak_kib_of_child("gzip_bomb_answer_alone_in_this_process").await {
        println!("peak RSS {peak_kib} KiB");
        assert!(peak_kib < 300 * 1024, "peak RSS {peak_kib} KiB");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The key goes to the pool only.

/// A key with characters that travel percent-encoded, in several ways.
const ODD_KEY: &str = "r_k~ey*x+y/z";

/// Percent-decodes `%XX` (either case); anything else as is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every byte of `key` as `%XX`.
fn fully_encoded(key: &str, lower: bool) -> String {
    key.bytes()
        .map(|b| {
            if lower {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The forms `key` may travel in: raw, as reqwest sends it, every byte encoded, and fragments.
fn key_forms(key: &str) -> Vec<String> {
    let mut forms = vec![
        key.to_owned(),
        key.replace('+', " "),
        fully_encoded(key, false),
        fully_encoded(key, true),
    ];
    if key == ODD_KEY {
        forms.extend(
            [
                "r_k%7Eey*x%2By%2Fz",
                "r_k%7eey*x%2by%2fz",
                "r_k~ey%2Ax%2By%2Fz",
                "r_k~ey",
                "r_k%7Eey",
                "r_k%7eey",
                "ey*x",
                "ey%2Ax",
                "%2A",
                "%2a",
                "y/z",
                "y%2Fz",
            ]
            .map(str::to_owned),
        );
    }
    forms
}

/// The forms of `key` found in `text`, decoded or not.
fn leaks(text: &str, key: &str) -> Vec<String> {
    let mut found: Vec<String> = key_forms(key)
        .into_iter()
        .filter(|form| text.contains(form.as_str()))
        .collect();
    let decoded = percent_decoded(text);
    if decoded.contains(key) || percent_decoded(&decoded).contains(key) {
        found.push(format!("{key} (after percent-decoding)"));
    }
    found
}

/// Every text or blob cell of every table, and every file beside the database, holding a form
/// of the key.
fn key_in_database(db: &Path, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    let conn = Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.iter().any(|t| t == "ingest_runs"), "{tables:?}");
    for table in &tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (index, column) in columns.iter().enumerate() {
                let text = match row.get_ref(index).unwrap() {
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                    _ => continue,
                };
                for form in leaks(&text, key) {
                    found.push(format!("{table}.{column}: {form} in {text:?}"));
                }
            }
        }
    }
    drop(conn);
    for entry in std::fs::read_dir(db.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        for form in key_forms(key) {
            if text.contains(form.as_str()) && form.len() > 3 {
                found.push(format!("file {}: {form}", path.display()));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_is_not_followed_and_the_key_stays() {
    // The other host: counts every connection it gets.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_addr = elsewhere.local_addr().unwrap().to_string();
    let connections = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&connections);
    let other_host = tokio::spawn(async move {
        while let Ok((stream, _)) = elsewhere.accept().await {
            counter.fetch_add(1, Ordering::Relaxed);
            drop(stream);
        }
    });

    let target = format!("http://{elsewhere_addr}");
    let pool = start(Pool::new(
        ODD_KEY,
        1,
        listing(vec![1]),
        // Every history request is sent on to the other host, query (and key) included.
        Box::new(move |_, uri, _| {
            let location = format!(
                "{target}{}",
                uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
            );
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("redirect.db");

    let error = bounded(20, ingest::run(options(&pool.url, ODD_KEY, &db)))
        .await
        .expect_err("a redirect elsewhere fails the run");
    let text = error.to_string();
    println!("{text}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        connections.load(Ordering::Relaxed),
        0,
        "the other host was contacted"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(&elsewhere_addr),
        "names the other host: {text}"
    );
    assert!(text.contains("share-history"), "{text}");
    assert!(leaks(&text, ODD_KEY).is_empty(), "{text}");

    let conn = Connection::open(&db).unwrap();
    let (status, stored) = last_run(&conn);
    assert_eq!(status, "failed");
    assert_eq!(stored.as_deref(), Some(text.as_str()));
    drop(conn);
    let found = key_in_database(&db, ODD_KEY);
    assert!(found.is_empty(), "{found:#?}");
    other_host.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_echoing_the_request_in_its_error_leaks_no_key() {
    let received = Arc::new(Mutex::new(String::new()));
    let target = Arc::clone(&received);
    let pool = start(Pool::new(
        ODD_KEY,
        1,
        listing(vec![1]),
        // err_no 10 (unknown: retried, then fatal), echoing the request target as received,
        // the key as decoded, and the key with every byte encoded in lower case.
        Box::new(move |_, uri, params| {
            *target.lock().unwrap() = uri.to_string();
            let key = params.get("access_key").cloned().unwrap_or_default();
            let message = format!(
                "cannot serve {uri} (access_key={key}, raw {}, again {uri})",
                fully_encoded(&key, true)
            );
            json_body(json!({"err_no": 10, "err_msg": message}))
        }),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("echo.db");

    let error = bounded(20, ingest::run(options(&pool.url, ODD_KEY, &db)))
        .await
        .expect_err("the pool's error fails the run");
    let text = error.to_string();
    println!("{text}");
    assert!(text.contains("err_no 10"), "{text}");
    assert!(text.contains("share-history"), "{text}");
    // The echo reached us (the test tests something): the pool got the key percent-encoded,
    // and the rest of its query is in the error, the key's place scrubbed.
    let received = received.lock().unwrap().clone();
    println!("the pool received {received}");
    assert!(!leaks(&received, ODD_KEY).is_empty(), "{received}");
    assert!(text.contains("puid=77"), "{text}");
    assert!(text.contains("access_key=***&puid=77"), "{text}");
    let found = leaks(&text, ODD_KEY);
    assert!(found.is_empty(), "{found:?} in {text}");

    let conn = Connection::open(&db).unwrap();
    let (status, stored) = last_run(&conn);
    assert_eq!(status, "failed");
    let stored = stored.unwrap_or_default();
    assert_eq!(stored, text);
    drop(conn);
    let found = key_in_database(&db, ODD_KEY);
    assert!(found.is_empty(), "{found:#?}");

    // The scan finds what it looks for.
    let scratch = tempfile::tempdir().unwrap();
    let planted = scratch.path().join("planted.db");
    let conn = Connection::open(&planted).unwrap();
    conn.execute_batch(
        "CREATE TABLE ingest_runs (error TEXT); \
         INSERT INTO ingest_runs VALUES ('GET /v1/worker?access_key=r_k%7eey%2ax%2By%2fz&puid=77');",
    )
    .unwrap();
    drop(conn);
    assert!(!key_in_database(&planted, ODD_KEY).is_empty());
}

/// One point an answer, whatever was asked, and history back to 2009: paging would go on for
/// hours. The run stops at its request budget, keeps what it fetched, and says so in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_trickling_one_point_an_answer_stops_at_the_request_budget() {
    let pool = start(Pool::new(
        KEY,
        2,
        listing(vec![1, 2]),
        Box::new(
            |request: &HistoryRequest, _: &Uri, _: &HashMap<String, String>| {
                let first =
                    (request.start_ts + request.step - 1).div_euclid(request.step) * request.step;
                let tickers = if first <= current_slot(request.step) {
                    vec![json!([first.to_string(), "1.5", "0.1"])]
                } else {
                    Vec::new()
                };
                shares("T", tickers)
            },
        ),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("budget.db");
    let mut options = options(&pool.url, KEY, &db);
    options.accounts[0].client.max_requests = 300;
    let error = bounded(30, ingest::run(options))
        .await
        .expect_err("the budget ends the run");
    let text = error.to_string();
    assert!(text.contains("--max-requests"), "{text}");
    let conn = Connection::open(&db).unwrap();
    let (status, stored_error, requests): (String, String, i64) = conn
        .query_row(
            "SELECT status, error, requests FROM ingest_runs ORDER BY run_id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(status, "failed");
    assert_eq!(stored_error, text);
    assert_eq!(requests, 300, "no request past the budget");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM tickers", [], |r| r.get(0))
        .unwrap();
    assert!(rows > 0, "what was fetched is kept");
}
