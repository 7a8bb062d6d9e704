//! Edge cases of learning the pool, found by an adversarial review: where a series starts (holes,
//! days in the pool's own time zone, endpoints with different caps), the publication horizon
//! (a lagging pool, an hour turning mid-run), provisional points, watermarks and expired gaps,
//! against the simulator and a few hand-written pools.
//!
//! Known limitation, not tested here: a worker endpoint whose statistics lag the account's by an
//! hour has its newest point stored as final until the next run's late window corrects it (it
//! cannot be told from a worker with no point in the current hour).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use common::hand_pool::{json_body, ok, serve, Params, Served};
use common::{
    all_rows, close, ingest_with_clocks, kept_slots, paging_minimum, start_pool, watermarks, Pool,
    Row,
};
use common::{DAY, HOUR, NOW};
use poolhist::http::{AccessKey, ClientConfig};
use poolhist::ingest::{self, IngestOptions, IngestSummary};
use poolhist::model::Dimension;
use poolhist::pools::cloverpool::sim::SimConfig;
use rusqlite::Connection;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Simulator helpers (as in tests/learn_the_pool.rs).

/// Every problem found, instead of the first: (series, dimension, ts, what).
fn sim_truth_problems(pool: &Pool, rows: &[Row]) -> Vec<String> {
    let config = pool.sim.config().clone();
    let pool_now = pool.sim.now();
    let mut problems = Vec::new();
    let mut series: Vec<Option<i64>> = vec![None];
    series.extend(pool.sim.workers().iter().map(|w| Some(w.id)));
    for worker_id in series {
        for dimension in Dimension::ALL {
            let step = dimension.step_seconds();
            let current = pool_now.div_euclid(step) * step;
            let kept = kept_slots(&config, worker_id.is_some(), dimension);
            let oldest = current - (kept - 1) * step;
            let mine: Vec<&Row> = rows
                .iter()
                .filter(|r| r.worker_id == worker_id && r.dimension == dimension.as_str())
                .collect();
            for back in 1..kept {
                let ts = current - back * step;
                let Some(point) = pool.sim.expected_point(worker_id, dimension, ts) else {
                    continue;
                };
                match mine.iter().find(|r| r.ts == ts) {
                    None => problems.push(format!("{worker_id:?} {dimension} {ts}: missing")),
                    Some(r) if r.provisional => {
                        problems.push(format!("{worker_id:?} {dimension} {ts}: provisional"))
                    }
                    Some(r) if !close(r.hashrate_hs, point.hashrate_hs) => problems.push(format!(
                        "{worker_id:?} {dimension} {ts}: {} vs {}",
                        r.hashrate_hs, point.hashrate_hs
                    )),
                    _ => {}
                }
            }
            if pool
                .sim
                .expected_point(worker_id, dimension, current)
                .is_some()
            {
                match mine.iter().find(|r| r.ts == current) {
                    None => {
                        problems.push(format!("{worker_id:?} {dimension} live {current}: missing"))
                    }
                    Some(r) if !r.provisional => problems.push(format!(
                        "{worker_id:?} {dimension} live {current}: stored final"
                    )),
                    _ => {}
                }
            }
            for r in &mine {
                if r.provisional && r.ts != current {
                    problems.push(format!(
                        "{worker_id:?} {dimension} {}: stale provisional row (pool slot {current})",
                        r.ts
                    ));
                }
                if r.ts > current {
                    problems.push(format!(
                        "{worker_id:?} {dimension} {}: after the pool's slot",
                        r.ts
                    ));
                }
                let _ = oldest;
            }
        }
    }
    problems
}

fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problems, first ones: {:#?}",
        problems.len(),
        &problems[..problems.len().min(12)]
    );
}

fn gaps_rows(db: &Path, now: i64) -> Vec<poolhist::report::gaps::Gap> {
    let conn = Connection::open(db).unwrap();
    poolhist::report::gaps::gaps(&conn, None, None, None, (None, None), now).unwrap()
}

fn history_gaps(db: &Path) -> Vec<(i64, i64, i64)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT series_id, from_ts, to_ts FROM history_gaps ORDER BY 1, 2")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn learned(db: &Path) -> Vec<(String, String, Option<i64>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT scope, dimension, retention_slots FROM pool_knowledge ORDER BY 1, 2")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn sim_config(workers: u32) -> SimConfig {
    SimConfig {
        workers,
        seed: 7,
        now: Some(NOW),
        ..SimConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// A pool keeping LESS than documented.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_keeping_less_than_documented() {
    let sim = SimConfig {
        worker_hours: 24,
        account_hours: 100,
        worker_days: 10,
        account_days: 20,
        ..sim_config(6)
    };
    let pool = start_pool(sim.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("less.db");
    let first = ingest_with_clocks(&pool, &db, NOW, NOW).await;
    let history_requests = pool.sim.stats().history_requests() as i64;
    let minimum = paging_minimum(&sim, 6);
    eprintln!(
        "S1 first run: {history_requests} history requests, paging minimum {minimum}, {} series; {}",
        first.series,
        first.line()
    );
    assert_no_problems("S1 run 1", &sim_truth_problems(&pool, &all_rows(&db)));
    eprintln!("S1 learned: {:?}", learned(&db));
    assert!(
        history_requests <= minimum + 2 * first.series as i64,
        "S1: {history_requests} history requests, minimum {minimum}"
    );
    // An hour later and a day later.
    let second = ingest_with_clocks(&pool, &db, NOW + HOUR, NOW + HOUR).await;
    let second_requests = pool.sim.stats().history_requests() as i64;
    eprintln!(
        "S1 second run: {second_requests} history requests; {}",
        second.line()
    );
    assert_no_problems("S1 run 2", &sim_truth_problems(&pool, &all_rows(&db)));
    assert!(
        second_requests <= second.series as i64 + 2,
        "S1 second run cost"
    );
    let third = ingest_with_clocks(&pool, &db, NOW + DAY, NOW + DAY).await;
    eprintln!("S1 third run: {}", third.line());
    assert_no_problems("S1 run 3", &sim_truth_problems(&pool, &all_rows(&db)));
    assert!(
        history_gaps(&db).is_empty(),
        "S1 gaps {:?}",
        history_gaps(&db)
    );
    let gaps: Vec<_> = gaps_rows(&db, NOW + DAY);
    assert!(gaps.is_empty(), "S1 gaps report {gaps:#?}");
}

// ---------------------------------------------------------------------------------------------
// Runs an hour apart, the pool's publication lagging 0..5 h (never going backwards).

async fn lagging_runs(monotone: bool) -> (Pool, tempfile::TempDir) {
    let pool = start_pool(sim_config(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lag.db");
    let lags = [0, 3, 5, 1, 4, 2, 5, 5, 0];
    let mut pool_clock = i64::MIN;
    for (k, lag) in lags.iter().enumerate() {
        let ours = NOW + k as i64 * HOUR;
        let mut pools = ours - lag * HOUR;
        if monotone {
            pools = pools.max(pool_clock);
        }
        pool_clock = pools;
        let summary = ingest_with_clocks(&pool, &db, pools, ours).await;
        let requests = pool.sim.stats().history_requests();
        eprintln!(
            "lag run {k} (lag {lag} h, monotone {monotone}): {requests} history requests, gaps {}, {} new {} updated {} removed",
            summary.counts.gaps, summary.counts.rows_new, summary.counts.rows_updated, summary.counts.rows_removed
        );
        // Watermarks never past the pool's newest completed slot.
        let pool_slot = pools.div_euclid(HOUR) * HOUR;
        for (worker, dimension, mark) in watermarks(&db) {
            if dimension == "1h" {
                if let Some(mark) = mark {
                    assert!(
                        !monotone || mark < pool_slot,
                        "run {k}: {worker:?} watermark {mark} >= pool slot {pool_slot}"
                    );
                }
            }
        }
    }
    (pool, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_runs_with_a_lagging_pool_end_equal_to_the_truth() {
    let (pool, dir) = lagging_runs(true).await;
    let db = dir.path().join("lag.db");
    assert_no_problems("S2", &sim_truth_problems(&pool, &all_rows(&db)));
    common::assert_hourly_by_day_current(&db);
    assert!(
        history_gaps(&db).is_empty(),
        "S2 gaps {:?}",
        history_gaps(&db)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_runs_with_a_pool_clock_jumping_back_and_forth() {
    let (pool, dir) = lagging_runs(false).await;
    let db = dir.path().join("lag.db");
    assert_no_problems("S2b", &sim_truth_problems(&pool, &all_rows(&db)));
    common::assert_hourly_by_day_current(&db);
    assert!(
        history_gaps(&db).is_empty(),
        "S2b gaps {:?}",
        history_gaps(&db)
    );
}

// ---------------------------------------------------------------------------------------------
// Late joiners, retention 240 h: some joined hours before the first run, some between runs.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiners_with_240_hours_retention() {
    let sim = SimConfig {
        worker_hours: 240,
        ..sim_config(40)
    };
    let pool = start_pool(sim.clone()).await;
    let joined: Vec<(i64, i64)> = pool
        .sim
        .workers()
        .iter()
        .filter(|w| w.first_ts > NOW - 240 * HOUR)
        .map(|w| (w.id, (NOW - w.first_ts) / HOUR))
        .collect();
    eprintln!("S3 late joiners (id, hours before NOW): {joined:?}");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("late.db");
    // First run 130 hours before the anchor: the joiner of 135 h ago is 5 h old, the one of
    // 124 h ago joins between the runs.
    let first = ingest_with_clocks(&pool, &db, NOW - 130 * HOUR, NOW - 130 * HOUR).await;
    let r1 = pool.sim.stats().history_requests() as i64;
    let minimum = paging_minimum(&sim, 40);
    eprintln!(
        "S3 run 1: {r1} history requests (minimum {minimum}); {}",
        first.line()
    );
    assert_no_problems("S3 run 1", &sim_truth_problems(&pool, &all_rows(&db)));
    eprintln!("S3 learned after run 1: {:?}", learned(&db));
    let second = ingest_with_clocks(&pool, &db, NOW, NOW).await;
    let r2 = pool.sim.stats().history_requests() as i64;
    eprintln!("S3 run 2: {r2} history requests; {}", second.line());
    assert_no_problems("S3 run 2", &sim_truth_problems(&pool, &all_rows(&db)));
    assert!(
        r1 <= minimum + 4 * first.series as i64,
        "S3 run 1 cost {r1}, minimum {minimum}"
    );
    assert!(r2 <= 2 * second.series as i64 + 4, "S3 run 2 cost {r2}");
    let gaps = gaps_rows(&db, NOW);
    for g in &gaps {
        eprintln!(
            "S3 gap: {:?} {} {} {}..={} ({} points) pool_still_has {}",
            g.worker_id,
            g.dimension,
            g.kind,
            g.from_ts,
            g.to_ts,
            g.points_missing,
            g.pool_still_has
        );
    }
    assert!(
        history_gaps(&db).is_empty(),
        "S3: 'expired' recorded for a worker that joined between the runs: {:?}",
        history_gaps(&db)
    );
    assert!(gaps.is_empty(), "S3 gaps report {gaps:#?}");
}

// ---------------------------------------------------------------------------------------------
// A hand-written pool: each series' data is a function, the account and the workers may have
// different clocks, days may start at another time of day, nulls sent or left out.

type DataFn = dyn Fn(Option<i64>, i64, i64) -> Option<f64> + Send + Sync;

const PUID: i64 = 4242;
const KEY: &str = "r_edge_case_key";

struct HandPool {
    workers: Vec<i64>,
    account_clock: AtomicI64,
    worker_clock: AtomicI64,
    /// Slots kept: (is_worker, step) -> slots.
    retention: fn(bool, i64) -> i64,
    /// Final value in TH/s of a slot, None: no data.
    data: Box<DataFn>,
    /// Where the pool's days start, seconds after UTC midnight.
    day_offset: i64,
    max_count: i64,
    /// The worker endpoint's own cap (None: `max_count`).
    worker_max_count: Option<i64>,
    omit_nulls: bool,
    requests: Mutex<Vec<RequestSeen>>,
}

/// A share-history request as the pool saw it: (worker, step, start, count).
type RequestSeen = (Option<i64>, i64, i64, i64);

impl HandPool {
    fn clock(&self, worker: Option<i64>) -> i64 {
        match worker {
            None => self.account_clock.load(Ordering::SeqCst),
            Some(_) => self.worker_clock.load(Ordering::SeqCst),
        }
    }

    fn offset(&self, step: i64) -> i64 {
        if step == DAY {
            self.day_offset
        } else {
            0
        }
    }

    fn current(&self, worker: Option<i64>, step: i64) -> i64 {
        let off = self.offset(step);
        (self.clock(worker) - off).div_euclid(step) * step + off
    }

    fn oldest_kept(&self, worker: Option<i64>, step: i64) -> i64 {
        self.current(worker, step) - ((self.retention)(worker.is_some(), step) - 1) * step
    }

    /// What the pool holds for a series: (ts, TH/s, provisional).
    fn truth(&self, worker: Option<i64>, step: i64) -> Vec<(i64, f64, bool)> {
        let current = self.current(worker, step);
        let mut out = Vec::new();
        let mut ts = self.oldest_kept(worker, step);
        while ts <= current {
            if let Some(v) = (self.data)(worker, step, ts) {
                if ts == current {
                    out.push((ts, v * 0.5, true));
                } else {
                    out.push((ts, v, false));
                }
            }
            ts += step;
        }
        out
    }

    fn set_clocks(&self, account: i64, workers: i64) {
        self.account_clock.store(account, Ordering::SeqCst);
        self.worker_clock.store(workers, Ordering::SeqCst);
    }

    fn history_requests(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

async fn hp_workers(State(pool): State<Arc<HandPool>>, Query(p): Params) -> Response {
    let page: usize = p.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let rows: Vec<Value> = if page == 1 {
        pool.workers
            .iter()
            .map(|id| json!({"worker_id": id.to_string(), "worker_name": format!("w{id}"), "gid": 1, "group_name": "hall", "status": "ACTIVE"}))
            .collect()
    } else {
        Vec::new()
    };
    ok(
        json!({"page": page, "page_size": 100, "page_count": 1, "total_count": pool.workers.len(), "data": rows}),
    )
}

async fn hp_groups() -> Response {
    ok(
        json!({"page": 1, "page_size": 100, "page_count": 1, "total_count": 1, "list": [{"gid": 1, "name": "hall"}]}),
    )
}

async fn hp_stats() -> Response {
    ok(json!({"workers_active": 1, "workers_total": 1}))
}

fn hp_history(pool: &HandPool, worker: Option<i64>, p: &HashMap<String, String>) -> Response {
    let step = match p.get("dimension").map(String::as_str) {
        Some("1h") => HOUR,
        Some("1d") => DAY,
        _ => return json_body(json!({"err_no": 1, "err_msg": "dimension"})),
    };
    let number = |name: &str| p.get(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let (start, count) = (number("start_ts"), number("count"));
    pool.requests
        .lock()
        .unwrap()
        .push((worker, step, start, count));
    let off = pool.offset(step);
    let current = pool.current(worker, step);
    let oldest = pool.oldest_kept(worker, step);
    // The first slot at or after start.
    let mut ts = (start - off + step - 1).div_euclid(step) * step + off;
    let mut tickers = Vec::new();
    let cap = match worker {
        Some(_) => pool.worker_max_count.unwrap_or(pool.max_count),
        None => pool.max_count,
    };
    for _ in 0..count.min(cap) {
        if ts > current {
            break;
        }
        let value = if ts >= oldest {
            (pool.data)(worker, step, ts)
        } else {
            None
        };
        match value {
            Some(v) if ts == current => tickers.push(json!([ts, format!("{}", v * 0.5), "0.5"])),
            Some(v) => tickers.push(json!([ts, format!("{v}"), "0.5"])),
            None if ts == current => {}
            None if pool.omit_nulls => {}
            None => tickers.push(Value::Null),
        }
        ts += step;
    }
    ok(json!({"shares_unit": "T", "tickers": tickers}))
}

async fn hp_account_history(State(pool): State<Arc<HandPool>>, Query(p): Params) -> Response {
    hp_history(&pool, None, &p)
}

async fn hp_worker_history(
    State(pool): State<Arc<HandPool>>,
    UrlPath(id): UrlPath<i64>,
    Query(p): Params,
) -> Response {
    hp_history(&pool, Some(id), &p)
}

type HandRunning = Served<HandPool>;

async fn hand_start(pool: HandPool) -> HandRunning {
    let pool = Arc::new(pool);
    let app = Router::new()
        .route("/v1/worker", get(hp_workers))
        .route("/v1/worker/groups", get(hp_groups))
        .route("/v1/worker/stats", get(hp_stats))
        .route("/v1/worker/share-history", get(hp_account_history))
        .route("/v1/worker/{id}/share-history", get(hp_worker_history))
        .with_state(Arc::clone(&pool));
    serve(pool, app).await
}

fn hand_pool(workers: Vec<i64>, retention: fn(bool, i64) -> i64, data: Box<DataFn>) -> HandPool {
    HandPool {
        workers,
        account_clock: AtomicI64::new(NOW),
        worker_clock: AtomicI64::new(NOW),
        retention,
        data,
        day_offset: 0,
        max_count: 240,
        worker_max_count: None,
        omit_nulls: false,
        requests: Mutex::new(Vec::new()),
    }
}

fn documented(is_worker: bool, step: i64) -> i64 {
    match (is_worker, step == HOUR) {
        (true, true) => 72,
        (false, true) => 720,
        (true, false) => 90,
        (false, false) => 365,
    }
}

fn hand_options(url: &str, db: &Path, now: i64) -> IngestOptions {
    let mut client = ClientConfig::new(
        url,
        AccessKey::new(KEY).unwrap(),
        poolhist::pools::cloverpool::PROTOCOL,
    );
    client.backoff_base = Duration::from_millis(2);
    client.max_backoff = Duration::from_millis(20);
    IngestOptions {
        db_path: db.to_owned(),
        accounts: vec![poolhist::ingest::AccountSource {
            account: poolhist::pools::cloverpool::account(PUID),
            client,
        }],
        since: None,
        concurrency: 4,
        retention: Default::default(),
        now: Some(now),
        show_progress: false,
        wait_for_lock: false,
        max_workers: poolhist::ingest::DEFAULT_MAX_WORKERS,
        handle_signals: false,
    }
}

async fn hand_ingest(running: &HandRunning, db: &Path, now: i64) -> IngestSummary {
    running.pool.requests.lock().unwrap().clear();
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        ingest::run(hand_options(&running.url, db, now)),
    )
    .await
    .expect("ingest finishes in time")
    .expect("ingest succeeds");
    eprintln!(
        "  ingest at {now}: {} history requests; {}",
        running.pool.history_requests(),
        summary.line()
    );
    summary
}

/// Differences between what the pool holds and what is stored, per series.
fn hand_problems(pool: &HandPool, db: &Path) -> Vec<String> {
    let rows = all_rows(db);
    let mut problems = Vec::new();
    let mut series: Vec<Option<i64>> = vec![None];
    series.extend(pool.workers.iter().map(|&w| Some(w)));
    for worker in series {
        for (step, dim) in [(HOUR, "1h"), (DAY, "1d")] {
            let truth = pool.truth(worker, step);
            let stored: Vec<&Row> = rows
                .iter()
                .filter(|r| r.worker_id == worker && r.dimension == dim)
                .collect();
            let mut missing = Vec::new();
            for &(ts, v, provisional) in &truth {
                match stored.iter().find(|r| r.ts == ts) {
                    None => missing.push(ts),
                    Some(r) => {
                        if r.provisional != provisional {
                            problems.push(format!(
                                "{worker:?} {dim} {ts}: stored provisional={} but the pool's is {}",
                                r.provisional,
                                if provisional { "live" } else { "final" }
                            ));
                        }
                        if !close(r.hashrate_hs, v * 1e12) {
                            problems.push(format!(
                                "{worker:?} {dim} {ts}: stored {} vs pool {}",
                                r.hashrate_hs,
                                v * 1e12
                            ));
                        }
                    }
                }
            }
            if !missing.is_empty() {
                problems.push(format!(
                    "{worker:?} {dim}: {} kept points not stored, {}..={} (pool oldest kept {})",
                    missing.len(),
                    missing[0],
                    missing[missing.len() - 1],
                    pool.oldest_kept(worker, step)
                ));
            }
            for r in &stored {
                if r.provisional && !truth.iter().any(|t| t.0 == r.ts && t.2) {
                    problems.push(format!("{worker:?} {dim} {}: stale provisional row", r.ts));
                }
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// Days kept in UTC+8 (points at 16:00 UTC), more days than documented.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utc8_days_pool_keeping_more_days_than_documented() {
    fn keeps(is_worker: bool, step: i64) -> i64 {
        match (is_worker, step == HOUR) {
            (true, true) => 72,
            (false, true) => 720,
            (true, false) => 120,
            (false, false) => 400,
        }
    }
    let mut pool = hand_pool(
        vec![1, 2],
        keeps,
        Box::new(|w, _, _| Some(w.map_or(3.0, |id| id as f64))),
    );
    pool.day_offset = 16 * HOUR;
    let running = hand_start(pool).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("utc8more.db");
    hand_ingest(&running, &db, NOW).await;
    eprintln!("H1 learned: {:?}", learned(&db));
    assert_no_problems("H1", &hand_problems(&running.pool, &db));
}

// Days kept in UTC+8 as documented, over two runs a day apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utc8_days_over_two_runs() {
    let mut pool = hand_pool(
        vec![1, 2],
        documented,
        Box::new(|w, _, ts| Some(w.map_or(3.0, |id| id as f64) + (ts % 7) as f64 * 0.01)),
    );
    pool.day_offset = 16 * HOUR;
    let running = hand_start(pool).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("utc8.db");
    hand_ingest(&running, &db, NOW).await;
    assert_no_problems("H1b run 1", &hand_problems(&running.pool, &db));
    running.pool.set_clocks(NOW + DAY, NOW + DAY);
    let second = hand_ingest(&running, &db, NOW + DAY).await;
    assert_no_problems("H1b run 2", &hand_problems(&running.pool, &db));
    assert_eq!(second.counts.gaps, 0);
    // Runs at 20:30 UTC (after the pool's day turned at 16:00) too.
    running
        .pool
        .set_clocks(NOW + DAY + 8 * HOUR, NOW + DAY + 8 * HOUR);
    hand_ingest(&running, &db, NOW + DAY + 8 * HOUR).await;
    assert_no_problems("H1b run 3", &hand_problems(&running.pool, &db));
    assert!(
        history_gaps(&db).is_empty(),
        "H1b gaps {:?}",
        history_gaps(&db)
    );
    let gaps = gaps_rows(&db, NOW + DAY + 8 * HOUR);
    assert!(gaps.is_empty(), "H1b gaps report {gaps:#?}");
}

// ---------------------------------------------------------------------------------------------
// A hole (nulls) straddling the expected edge of a pool that keeps more: the probe must not
// take the hole for the start of history.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_at_the_expected_edge_hides_no_older_history() {
    fn keeps(is_worker: bool, step: i64) -> i64 {
        if is_worker && step == HOUR {
            240
        } else {
            documented(is_worker, step)
        }
    }
    let current = NOW - NOW % HOUR;
    let running = hand_start(hand_pool(
        vec![1],
        keeps,
        Box::new(move |w, step, ts| {
            // Worker 1 sent no shares for 20 hours, 50..70 hours ago: the pool has nulls there.
            let hole = w.is_some()
                && step == HOUR
                && ts >= current - 80 * HOUR
                && ts <= current - 60 * HOUR;
            (!hole).then_some(w.map_or(5.0, |id| id as f64))
        }),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hole.db");
    hand_ingest(&running, &db, NOW).await;
    eprintln!("H2 learned: {:?}", learned(&db));
    assert_no_problems("H2", &hand_problems(&running.pool, &db));
}

// A hole (nulls) covering the late window and beyond between two runs: the pool never had
// those points, so nothing "expired".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_silent_across_two_runs_records_no_expired_gap() {
    let current = NOW - NOW % HOUR;
    let running = hand_start(hand_pool(
        vec![1, 2],
        documented,
        Box::new(move |w, step, ts| {
            // Worker 1 sends no shares from 6 hours before the first run to 20 hours after it.
            let silent = w == Some(1)
                && ((step == HOUR && ts >= current - 6 * HOUR && ts <= current + 20 * HOUR)
                    || (step == DAY && ts == current - current % DAY + DAY));
            (!silent).then_some(w.map_or(5.0, |id| id as f64))
        }),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("silent.db");
    hand_ingest(&running, &db, NOW).await;
    assert_no_problems("H3 run 1", &hand_problems(&running.pool, &db));
    eprintln!("H3 watermarks after run 1: {:?}", watermarks(&db));
    running.pool.set_clocks(NOW + DAY, NOW + DAY);
    let second = hand_ingest(&running, &db, NOW + DAY).await;
    assert_no_problems("H3 run 2", &hand_problems(&running.pool, &db));
    let gaps = gaps_rows(&db, NOW + DAY);
    for g in &gaps {
        eprintln!(
            "H3 gap: {:?} {} {} {}..={} ({} points) pool_still_has {}",
            g.worker_id,
            g.dimension,
            g.kind,
            g.from_ts,
            g.to_ts,
            g.points_missing,
            g.pool_still_has
        );
    }
    assert_eq!(
        second.expired_series,
        0,
        "H3: history_gaps {:?}; {}",
        history_gaps(&db),
        second.line()
    );
    assert!(
        gaps.iter().all(|g| g.kind != "expired"),
        "H3: 'expired' gaps where the pool never had data"
    );
}

// ---------------------------------------------------------------------------------------------
// An account series without any data while its workers hash.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_series_without_data() {
    let running = hand_start(hand_pool(
        vec![1, 2, 3],
        documented,
        Box::new(|w, _, ts| w.map(|id| id as f64 + (ts % 5) as f64 * 0.1)),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("noacct.db");
    hand_ingest(&running, &db, NOW).await;
    let r1 = running.pool.history_requests();
    assert_no_problems("H4 run 1", &hand_problems(&running.pool, &db));
    let current = NOW - NOW % HOUR;
    for (worker, dimension, mark) in watermarks(&db) {
        if worker.is_some() && dimension == "1h" {
            assert_eq!(mark, Some(current - HOUR), "H4 {worker:?} watermark");
        }
    }
    running.pool.set_clocks(NOW + HOUR, NOW + HOUR);
    hand_ingest(&running, &db, NOW + HOUR).await;
    let r2 = running.pool.history_requests();
    assert_no_problems("H4 run 2", &hand_problems(&running.pool, &db));
    assert!(
        history_gaps(&db).is_empty(),
        "H4 gaps {:?}",
        history_gaps(&db)
    );
    eprintln!("H4 requests: run 1 {r1}, run 2 {r2}");
    // Run 2: 2 account series re-probed at most a few times, 6 worker series one page each.
    assert!(r2 <= 6 + 2 * 4, "H4 second run cost {r2}");
}

// ---------------------------------------------------------------------------------------------
// The account series and the worker series an hour apart.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_series_an_hour_behind_its_workers() {
    let running = hand_start(hand_pool(
        vec![1, 2],
        documented,
        Box::new(|w, _, ts| Some(w.map_or(3.0, |id| id as f64) + (ts % 11) as f64 * 0.01)),
    ))
    .await;
    running.pool.set_clocks(NOW - HOUR, NOW);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("acctbehind.db");
    hand_ingest(&running, &db, NOW).await;
    let problems = hand_problems(&running.pool, &db);
    for p in &problems {
        eprintln!("H5 run 1: {p}");
    }
    running.pool.set_clocks(NOW + HOUR, NOW + HOUR);
    hand_ingest(&running, &db, NOW + HOUR).await;
    assert_no_problems(
        "H5 after the clocks agree",
        &hand_problems(&running.pool, &db),
    );
    assert_no_problems("H5 run 1", &problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_pool_whose_hour_turns_during_the_run() {
    let running = hand_start(hand_pool(
        vec![1, 2],
        documented,
        Box::new(|w, _, ts| Some(w.map_or(3.0, |id| id as f64) + (ts % 11) as f64 * 0.01)),
    ))
    .await;
    // 12:59:59 when the account series is read, 13:00:05 for the workers; our clock 15:00.
    let turn = NOW - NOW % HOUR + HOUR;
    running.pool.set_clocks(turn - 1, turn + 5);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("turn.db");
    hand_ingest(&running, &db, turn + 2 * HOUR).await;
    assert_no_problems("H7", &hand_problems(&running.pool, &db));
}

// The worker endpoint caps `count` lower than the account endpoint and leaves out slots
// without data: a worker's empty first probe must not be read as covering the account's page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_endpoint_with_a_smaller_cap_and_a_young_worker() {
    let current = NOW - NOW % HOUR;
    let mut pool = hand_pool(
        vec![1],
        documented,
        Box::new(move |w, step, ts| match w {
            None => Some(9.0),
            // Joined 20 hours ago.
            Some(id) => (ts >= current - 20 * HOUR - step + HOUR).then_some(id as f64),
        }),
    );
    pool.worker_max_count = Some(48);
    pool.omit_nulls = true;
    let running = hand_start(pool).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("caps.db");
    hand_ingest(&running, &db, NOW).await;
    assert_no_problems("H8", &hand_problems(&running.pool, &db));
}
