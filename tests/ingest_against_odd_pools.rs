//! The ingest against odd pools, from a second adversarial review: young workers listed first,
//! a pool shortening its retention between runs, series skipped for a bad answer (and when the
//! run gives up on the pool), two accounts in one run, `--since`, a pool without a "today"
//! daily point, idempotence, and first-run cost at scale. Hand-written pools (one function per
//! series) and the simulator.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::hand_pool::{json_body, ok, serve, Params, Served};
use common::{all_rows, close, ingest_options, kept_slots, paging_minimum, start_pool, Row};
use common::{DAY, HOUR, NOW};
use poolhist::http::{AccessKey, ClientConfig};
use poolhist::ingest::{self, IngestError, IngestOptions, IngestSummary};
use poolhist::model::Dimension;
use poolhist::pools::cloverpool::sim::SimConfig;
use rusqlite::Connection;
use serde_json::{json, Value};

const KEY: &str = "r_review_two_key";

// ---------------------------------------------------------------------------------------------
// A hand-written pool serving several accounts.

/// Retention in slots: worker hours, account hours, worker days, account days.
#[derive(Debug, Clone, Copy)]
struct Keeps {
    worker_hours: i64,
    account_hours: i64,
    worker_days: i64,
    account_days: i64,
}

const DOCUMENTED: Keeps = Keeps {
    worker_hours: 72,
    account_hours: 720,
    worker_days: 90,
    account_days: 365,
};

impl Keeps {
    fn slots(&self, is_worker: bool, step: i64) -> i64 {
        match (is_worker, step == HOUR) {
            (true, true) => self.worker_hours,
            (false, true) => self.account_hours,
            (true, false) => self.worker_days,
            (false, false) => self.account_days,
        }
    }
}

/// Decides whether one history request is answered with an unreadable body:
/// (worker, step, start_ts) -> bad.
type BadFn = dyn Fn(Option<i64>, i64, i64) -> bool + Send + Sync;

struct Account {
    puid: i64,
    workers: Vec<i64>,
    /// The hour each worker's first share came in; absent: long before any retention.
    joined: HashMap<i64, i64>,
    clock: AtomicI64,
    keeps: Mutex<Keeps>,
    bad: Mutex<Box<BadFn>>,
}

/// A share-history request as the pool saw it: (puid, worker, step, start, count).
type RequestSeen = (i64, Option<i64>, i64, i64, i64);

struct HandPool {
    accounts: Vec<Account>,
    max_count: i64,
    /// No daily point for the pool's current day (published once the day is over).
    no_current_day: AtomicBool,
    /// (puid, worker, step, start, count) of every share-history request.
    requests: Mutex<Vec<RequestSeen>>,
}

impl Account {
    fn new(puid: i64, workers: Vec<i64>, keeps: Keeps) -> Account {
        Account {
            puid,
            workers,
            joined: HashMap::new(),
            clock: AtomicI64::new(NOW),
            keeps: Mutex::new(keeps),
            bad: Mutex::new(Box::new(|_, _, _| false)),
        }
    }

    fn current(&self, step: i64) -> i64 {
        self.clock.load(Ordering::SeqCst).div_euclid(step) * step
    }

    fn oldest_kept(&self, worker: Option<i64>, step: i64) -> i64 {
        let keeps = *self.keeps.lock().unwrap();
        self.current(step) - (keeps.slots(worker.is_some(), step) - 1) * step
    }
}

impl HandPool {
    fn new(accounts: Vec<Account>) -> HandPool {
        HandPool {
            accounts,
            max_count: 240,
            no_current_day: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
        }
    }

    fn account(&self, puid: i64) -> Option<&Account> {
        self.accounts.iter().find(|a| a.puid == puid)
    }

    /// The final value (TH/s) of a slot, None: no data. Workers have data from the hour they
    /// joined (daily: from the day holding that hour); the account always.
    fn value(&self, account: &Account, worker: Option<i64>, step: i64, ts: i64) -> Option<f64> {
        if step == DAY && self.no_current_day.load(Ordering::SeqCst) && ts == account.current(DAY) {
            return None;
        }
        if let Some(id) = worker {
            if let Some(&joined) = account.joined.get(&id) {
                if ts + step <= joined {
                    return None;
                }
            }
        }
        let base = (account.puid % 100) as f64 + worker.map_or(0.5, |w| w as f64 / 1000.0);
        Some(base + ((ts / step) % 7) as f64 * 0.01)
    }

    /// What the pool holds for a series: (ts, TH/s, live).
    fn truth(&self, account: &Account, worker: Option<i64>, step: i64) -> Vec<(i64, f64, bool)> {
        let current = account.current(step);
        let mut out = Vec::new();
        let mut ts = account.oldest_kept(worker, step);
        while ts <= current {
            if let Some(v) = self.value(account, worker, step, ts) {
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

    fn history_requests(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn puid_of(p: &HashMap<String, String>) -> i64 {
    p.get("puid").and_then(|v| v.parse().ok()).unwrap_or(0)
}

async fn hp_workers(State(pool): State<Arc<HandPool>>, Query(p): Params) -> Response {
    let Some(account) = pool.account(puid_of(&p)) else {
        return json_body(json!({"err_no": 10010, "err_msg": "unknown puid"}));
    };
    let page: usize = p.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let rows: Vec<Value> = if page == 1 {
        account
            .workers
            .iter()
            .map(|id| json!({"worker_id": id.to_string(), "worker_name": format!("w{id}"), "gid": 1, "group_name": "hall", "status": "ACTIVE"}))
            .collect()
    } else {
        Vec::new()
    };
    ok(
        json!({"page": page, "page_size": 1000, "page_count": 1, "total_count": account.workers.len(), "data": rows}),
    )
}

async fn hp_groups() -> Response {
    ok(
        json!({"page": 1, "page_size": 100, "page_count": 1, "total_count": 1, "list": [{"gid": 1, "name": "hall"}]}),
    )
}

async fn hp_stats(State(pool): State<Arc<HandPool>>, Query(p): Params) -> Response {
    let total = pool.account(puid_of(&p)).map_or(0, |a| a.workers.len());
    ok(json!({"workers_active": total, "workers_total": total}))
}

fn hp_history(pool: &HandPool, worker: Option<i64>, p: &HashMap<String, String>) -> Response {
    let Some(account) = pool.account(puid_of(p)) else {
        return json_body(json!({"err_no": 10010, "err_msg": "unknown puid"}));
    };
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
        .push((account.puid, worker, step, start, count));
    if (account.bad.lock().unwrap())(worker, step, start) {
        return (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "{\"err_no\":0,\"data\":{\"tickers\":[[",
        )
            .into_response();
    }
    let current = account.current(step);
    let oldest = account.oldest_kept(worker, step);
    let mut ts = (start + step - 1).div_euclid(step) * step;
    let mut tickers = Vec::new();
    for _ in 0..count.min(pool.max_count) {
        if ts > current {
            break;
        }
        let value = if ts >= oldest {
            pool.value(account, worker, step, ts)
        } else {
            None
        };
        match value {
            Some(v) if ts == current => tickers.push(json!([ts, format!("{}", v * 0.5), "0.5"])),
            Some(v) => tickers.push(json!([ts, format!("{v}"), "0.5"])),
            None if ts == current => {}
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

fn hand_options(running: &HandRunning, db: &Path, now: i64) -> IngestOptions {
    let mut client = ClientConfig::new(
        &running.url,
        AccessKey::new(KEY).unwrap(),
        poolhist::pools::cloverpool::PROTOCOL,
    );
    client.backoff_base = Duration::from_millis(1);
    client.max_backoff = Duration::from_millis(5);
    IngestOptions {
        db_path: db.to_owned(),
        accounts: running
            .pool
            .accounts
            .iter()
            .map(|a| poolhist::ingest::AccountSource {
                account: poolhist::pools::cloverpool::account(a.puid),
                client: client.clone(),
            })
            .collect(),
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

async fn try_ingest(
    running: &HandRunning,
    options: IngestOptions,
) -> Result<IngestSummary, IngestError> {
    running.pool.requests.lock().unwrap().clear();
    let now = options.now;
    let result = tokio::time::timeout(Duration::from_secs(120), ingest::run(options))
        .await
        .expect("ingest finishes in time");
    match &result {
        Ok(summary) => eprintln!(
            "  ingest at {now:?}: {} history requests; {}",
            running.pool.history_requests(),
            summary.line()
        ),
        Err(error) => eprintln!(
            "  ingest at {now:?}: {} history requests; FAILED: {error}",
            running.pool.history_requests()
        ),
    }
    result
}

async fn hand_ingest(running: &HandRunning, db: &Path, now: i64) -> IngestSummary {
    try_ingest(running, hand_options(running, db, now))
        .await
        .expect("ingest succeeds")
}

/// Differences between what the pool holds and what is stored, per series.
fn hand_problems(pool: &HandPool, db: &Path) -> Vec<String> {
    let rows = all_rows_by_puid(db);
    let mut problems = Vec::new();
    for account in &pool.accounts {
        let mut series: Vec<Option<i64>> = vec![None];
        series.extend(account.workers.iter().map(|&w| Some(w)));
        for worker in series {
            for (step, dim) in [(HOUR, "1h"), (DAY, "1d")] {
                let truth = pool.truth(account, worker, step);
                let stored: Vec<&(i64, Row)> = rows
                    .iter()
                    .filter(|(p, r)| {
                        *p == account.puid && r.worker_id == worker && r.dimension == dim
                    })
                    .collect();
                let mut missing = Vec::new();
                for &(ts, v, live) in &truth {
                    match stored.iter().find(|(_, r)| r.ts == ts) {
                        None => missing.push(ts),
                        Some((_, r)) => {
                            if r.provisional != live {
                                problems.push(format!(
                                    "{} {worker:?} {dim} {ts}: stored provisional={} but the pool's is {}",
                                    account.puid,
                                    r.provisional,
                                    if live { "live" } else { "final" }
                                ));
                            }
                            if !close(r.hashrate_hs, v * 1e12) {
                                problems.push(format!(
                                    "{} {worker:?} {dim} {ts}: stored {} vs pool {}",
                                    account.puid,
                                    r.hashrate_hs,
                                    v * 1e12
                                ));
                            }
                        }
                    }
                }
                if !missing.is_empty() {
                    problems.push(format!(
                        "{} {worker:?} {dim}: {} kept points not stored, {}..={} (pool oldest kept {})",
                        account.puid,
                        missing.len(),
                        missing[0],
                        missing[missing.len() - 1],
                        account.oldest_kept(worker, step)
                    ));
                }
                for (_, r) in &stored {
                    if r.provisional && !truth.iter().any(|t| t.0 == r.ts && t.2) {
                        problems.push(format!(
                            "{} {worker:?} {dim} {}: stale provisional row",
                            account.puid, r.ts
                        ));
                    }
                    if r.ts > account.current(step) {
                        problems.push(format!(
                            "{} {worker:?} {dim} {}: after the pool's current slot",
                            account.puid, r.ts
                        ));
                    }
                }
            }
        }
    }
    problems
}

fn all_rows_by_puid(db: &Path) -> Vec<(i64, Row)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT a.puid, s.worker_id, s.dimension, t.ts, t.hashrate_hs, t.reject_rate, \
             t.provisional FROM tickers t JOIN series s ON s.series_id = t.series_id \
             JOIN accounts a ON a.account_id = s.account_id \
             ORDER BY 1, 2, 3, 4",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                Row {
                    worker_id: r.get(1)?,
                    dimension: r.get(2)?,
                    ts: r.get(3)?,
                    hashrate_hs: r.get(4)?,
                    reject_rate: r.get(5)?,
                    provisional: r.get(6)?,
                },
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problems, first ones: {:#?}",
        problems.len(),
        &problems[..problems.len().min(12)]
    );
}

/// A second run right after a first, with nothing new at the pool, changes no row.
fn assert_idempotent(what: &str, second: &IngestSummary) {
    let c = second.counts;
    assert!(
        c.rows_new == 0 && c.rows_updated == 0 && c.rows_removed == 0 && c.gaps == 0,
        "{what}: a second run with nothing new changed rows: {c:?}"
    );
}

fn watermarks(db: &Path) -> Vec<(i64, Option<i64>, String, Option<i64>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT a.puid, worker_id, dimension, watermark_ts FROM series s \
             JOIN accounts a ON a.account_id = s.account_id ORDER BY series_id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn learned(db: &Path) -> Vec<(i64, String, String, Option<i64>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT a.puid, scope, dimension, retention_slots FROM pool_knowledge k \
             JOIN accounts a ON a.account_id = k.account_id ORDER BY 1, 2, 3",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn last_run(db: &Path) -> (String, Option<String>) {
    let conn = Connection::open(db).unwrap();
    conn.query_row(
        "SELECT status, error FROM ingest_runs ORDER BY run_id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn gaps_rows(db: &Path, now: i64) -> Vec<poolhist::report::gaps::Gap> {
    let conn = Connection::open(db).unwrap();
    poolhist::report::gaps::gaps(&conn, None, None, None, (None, None), now).unwrap()
}

/// Every watermark stays before the account's current slot (what the pool published).
fn assert_watermarks_behind_the_pool(what: &str, pool: &HandPool, db: &Path) {
    for (puid, worker, dim, mark) in watermarks(db) {
        let Some(mark) = mark else { continue };
        let account = pool.account(puid).unwrap();
        let step = if dim == "1h" { HOUR } else { DAY };
        assert!(
            mark < account.current(step),
            "{what}: {puid} {worker:?} {dim} watermark {mark} >= pool slot {}",
            account.current(step)
        );
    }
}

const CURRENT_HOUR: i64 = NOW - NOW % HOUR;

// ---------------------------------------------------------------------------------------------
// 1. The cut-off agreement: the lowest ids joined at the same hour, 20 hours ago; older workers
// follow. Nothing the pool keeps of the older workers may be lost. (Six young ones, so that
// under the default concurrency of 4 the cut-off is agreed before the first older worker starts
// whatever the scheduling: at least 9 of the 12 young series are done by then.)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn young_workers_listed_first_cost_older_workers_nothing() {
    let mut account = Account::new(501, (1..=16).collect(), DOCUMENTED);
    for id in 1..=6 {
        account.joined.insert(id, CURRENT_HOUR - 20 * HOUR);
    }
    let running = hand_start(HandPool::new(vec![account])).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cutoff.db");
    hand_ingest(&running, &db, NOW).await;
    eprintln!("R1 learned: {:?}", learned(&db));
    let problems = hand_problems(&running.pool, &db);
    let second = hand_ingest(&running, &db, NOW).await;
    assert_idempotent("R1", &second);
    assert_no_problems("R1 (older workers after six young ones)", &problems);
}

// Three workers that joined today (at different hours), listed first, with `--concurrency 1`
// (deterministic): their first daily point is the same, and the older workers' 90 days must stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_that_joined_today_cost_older_workers_their_days() {
    let mut account = Account::new(502, (1..=13).collect(), DOCUMENTED);
    for (k, id) in (1..=3).enumerate() {
        account
            .joined
            .insert(id, CURRENT_HOUR - (2 + k as i64 * 3) * HOUR);
    }
    let running = hand_start(HandPool::new(vec![account])).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cutoff_days.db");
    let mut options = hand_options(&running, &db, NOW);
    options.concurrency = 1;
    try_ingest(&running, options).await.unwrap();
    let knowledge = learned(&db);
    eprintln!("R1b learned: {knowledge:?}");
    let problems = hand_problems(&running.pool, &db);
    assert_no_problems(
        "R1b (older workers' days after three joined today)",
        &problems,
    );
    assert!(
        knowledge
            .iter()
            .any(|k| k.1 == "worker" && k.2 == "1d" && k.3 == Some(90)),
        "R1b: the pool keeps 90 worker days: {knowledge:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. A pool that keeps 240 worker hours at the first run and 72 at the second, five days later.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_shortening_its_retention_between_runs() {
    let keeps = Keeps {
        worker_hours: 240,
        ..DOCUMENTED
    };
    let running = hand_start(HandPool::new(vec![Account::new(503, vec![1, 2], keeps)])).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shrink.db");
    hand_ingest(&running, &db, NOW).await;
    assert_no_problems("R2 run 1", &hand_problems(&running.pool, &db));
    eprintln!("R2 learned after run 1: {:?}", learned(&db));

    let later = NOW + 120 * HOUR;
    let account = &running.pool.accounts[0];
    *account.keeps.lock().unwrap() = DOCUMENTED;
    account.clock.store(later, Ordering::SeqCst);
    let second = hand_ingest(&running, &db, later).await;
    assert_no_problems("R2 run 2", &hand_problems(&running.pool, &db));
    eprintln!("R2 learned after run 2: {:?}", learned(&db));
    let gaps = gaps_rows(&db, later);
    for g in &gaps {
        eprintln!(
            "R2 gap: {:?} {} {} {}..={} ({} points) pool_still_has {}",
            g.worker_id,
            g.dimension,
            g.kind,
            g.from_ts,
            g.to_ts,
            g.points_missing,
            g.pool_still_has
        );
    }
    // A third run right after: whatever `gaps` says the pool still has, it can fetch.
    let third = hand_ingest(&running, &db, later).await;
    assert_idempotent("R2 run 3", &third);
    let still_missing = gaps_rows(&db, later);
    let lies: Vec<_> = still_missing
        .iter()
        .filter(|g| g.pool_still_has != "no")
        .map(|g| {
            format!(
                "{:?} {} {} {}..={} pool_still_has {}",
                g.worker_id, g.dimension, g.kind, g.from_ts, g.to_ts, g.pool_still_has
            )
        })
        .collect();
    assert!(
        lies.is_empty(),
        "R2: gaps the pool is said to still have survive a re-run: {lies:#?}"
    );
    // The expired hours (the pool dropped them before run 2) are told to the user.
    assert_eq!(
        second.expired_series,
        2,
        "R2: the two workers' hourly history expired between the runs; {}",
        second.line()
    );
}

// ---------------------------------------------------------------------------------------------
// 3. A series skipped for an unreadable answer: its watermark stays, the run is recorded failed,
// the next run completes it.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_worker_answer_costs_its_series_once() {
    let account = Account::new(504, (1..=20).collect(), DOCUMENTED);
    *account.bad.lock().unwrap() = Box::new(|w, step, _| w == Some(7) && step == HOUR);
    let running = hand_start(HandPool::new(vec![account])).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad_worker.db");
    let error = try_ingest(&running, hand_options(&running, &db, NOW))
        .await
        .expect_err("the run names the series it left out");
    let text = error.to_string();
    assert!(text.contains("1 series not collected"), "{text}");
    assert_eq!(last_run(&db), ("failed".to_owned(), Some(text.clone())));
    let problems = hand_problems(&running.pool, &db);
    assert!(
        problems.iter().all(|p| p.starts_with("504 Some(7) 1h")),
        "R3 run 1: only worker 7's hourly series is missing: {problems:#?}"
    );
    for (_, worker, dim, mark) in watermarks(&db) {
        if worker == Some(7) && dim == "1h" {
            assert_eq!(mark, None, "R3: the skipped series' watermark stays");
        }
    }
    *running.pool.accounts[0].bad.lock().unwrap() = Box::new(|_, _, _| false);
    hand_ingest(&running, &db, NOW).await;
    assert_no_problems("R3 run 2", &hand_problems(&running.pool, &db));
    let third = hand_ingest(&running, &db, NOW).await;
    assert_idempotent("R3 run 3", &third);
}

// The account's hourly series fails on its third page: its first pages are kept, the workers are
// collected without the account's publication horizon, and the next run completes everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_account_answer_leaves_the_workers_right() {
    let account = Account::new(505, (1..=6).collect(), DOCUMENTED);
    // Pages from 300 hours back onwards are unreadable (the probes, further back, are fine).
    *account.bad.lock().unwrap() = Box::new(|w, step, start| {
        w.is_none() && step == HOUR && start >= CURRENT_HOUR - 300 * HOUR
    });
    let running = hand_start(HandPool::new(vec![account])).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad_account.db");
    let error = try_ingest(&running, hand_options(&running, &db, NOW))
        .await
        .expect_err("the run names the series it left out");
    let text = error.to_string();
    assert!(text.contains("1 series not collected"), "{text}");
    let problems = hand_problems(&running.pool, &db);
    eprintln!("R4 run 1 problems: {problems:#?}");
    eprintln!("R4 watermarks after run 1: {:?}", watermarks(&db));
    assert!(
        problems.iter().all(|p| p.starts_with("505 None 1h")),
        "R4 run 1: only the account's hourly series may be incomplete: {problems:#?}"
    );
    assert_watermarks_behind_the_pool("R4 run 1", &running.pool, &db);
    // The account's watermark never passes a point it did not store.
    let rows = all_rows_by_puid(&db);
    let account = &running.pool.accounts[0];
    for (_, worker, dim, mark) in watermarks(&db) {
        if worker.is_none() && dim == "1h" {
            if let Some(mark) = mark {
                for (ts, _, _) in running.pool.truth(account, None, HOUR) {
                    if ts <= mark {
                        assert!(
                            rows.iter().any(|(_, r)| r.worker_id.is_none()
                                && r.dimension == "1h"
                                && r.ts == ts),
                            "R4: account watermark {mark} passes unstored {ts}"
                        );
                    }
                }
            }
        }
    }
    *running.pool.accounts[0].bad.lock().unwrap() = Box::new(|_, _, _| false);
    hand_ingest(&running, &db, NOW).await;
    assert_no_problems("R4 run 2", &hand_problems(&running.pool, &db));
    let third = hand_ingest(&running, &db, NOW).await;
    assert_idempotent("R4 run 3", &third);
}

// ---------------------------------------------------------------------------------------------
// 4. The breaker: a healthy pool with one worker whose every answer is unreadable (both of its
// series fail) does not stop the run; neither do two such workers among 24 (the lowest ids,
// so the four failing series are the first four the fetchers take).

async fn breaker_run(bad_workers: &'static [i64]) {
    let account = Account::new(506, (1..=24).collect(), DOCUMENTED);
    *account.bad.lock().unwrap() =
        Box::new(move |w, _, _| w.is_some_and(|id| bad_workers.contains(&id)));
    let running = hand_start(HandPool::new(vec![account])).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("breaker.db");
    // Retries paced a little more like the real defaults (250 ms doubling to 30 s): a failing
    // series takes longer than a healthy one, as it does against a real pool.
    let mut options = hand_options(&running, &db, NOW);
    options.accounts[0].client.backoff_base = Duration::from_millis(20);
    options.accounts[0].client.max_backoff = Duration::from_millis(40);
    let error = try_ingest(&running, options)
        .await
        .expect_err("the run names the series it left out");
    let text = error.to_string();
    let problems = hand_problems(&running.pool, &db);
    let others: Vec<_> = problems
        .iter()
        .filter(|p| {
            !bad_workers
                .iter()
                .any(|id| p.starts_with(&format!("506 Some({id}) ")))
        })
        .collect();
    assert!(
        others.is_empty(),
        "{} bad worker(s): healthy series left out ({} of them); run error: {text}; first: {:#?}",
        bad_workers.len(),
        others.len(),
        &others[..others.len().min(6)]
    );
    let expected = format!("{} series not collected", 2 * bad_workers.len());
    assert!(text.contains(&expected), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_worker_does_not_trip_the_breaker() {
    breaker_run(&[1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bad_workers_among_24_do_not_stop_the_run() {
    breaker_run(&[1, 2]).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Two accounts in one run: one keeps 240 worker hours on time, the other the documented 72
// with its clock three hours behind; worker ids overlap.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_with_their_own_clocks_and_retentions() {
    let a = Account::new(
        611,
        vec![1, 2, 3, 4],
        Keeps {
            worker_hours: 240,
            worker_days: 120,
            ..DOCUMENTED
        },
    );
    let b = Account::new(622, vec![1, 2, 5], DOCUMENTED);
    b.clock.store(NOW - 3 * HOUR, Ordering::SeqCst);
    let running = hand_start(HandPool::new(vec![a, b])).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("two.db");
    hand_ingest(&running, &db, NOW).await;
    eprintln!("R5 learned: {:?}", learned(&db));
    assert_no_problems("R5 run 1", &hand_problems(&running.pool, &db));
    assert_watermarks_behind_the_pool("R5 run 1", &running.pool, &db);
    let second = hand_ingest(&running, &db, NOW).await;
    assert_idempotent("R5 run 2", &second);
    let knowledge = learned(&db);
    let worker_hours = |puid| {
        knowledge
            .iter()
            .find(|k| k.0 == puid && k.1 == "worker" && k.2 == "1h")
            .and_then(|k| k.3)
    };
    assert_eq!(worker_hours(611), Some(240), "{knowledge:?}");
    assert_eq!(worker_hours(622), Some(72), "{knowledge:?}");
    // An hour later for both.
    for account in &running.pool.accounts {
        account.clock.fetch_add(HOUR, Ordering::SeqCst);
    }
    hand_ingest(&running, &db, NOW + HOUR).await;
    assert_no_problems("R5 run 3", &hand_problems(&running.pool, &db));
    assert_watermarks_behind_the_pool("R5 run 3", &running.pool, &db);
    assert!(gaps_rows(&db, NOW + HOUR).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 6. `--since` newer than what the pool keeps on a first run: exactly from there, at about one
// request per series; on a second run it is documented "first run only" and changes nothing.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_newer_than_the_pools_cutoff() {
    let running = hand_start(HandPool::new(vec![Account::new(
        507,
        (1..=8).collect(),
        DOCUMENTED,
    )]))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("since.db");
    let since = NOW - 30 * HOUR;
    let mut options = hand_options(&running, &db, NOW);
    options.since = Some(since);
    let first = try_ingest(&running, options).await.unwrap();
    let requests = running.pool.history_requests() as u64;
    let rows = all_rows_by_puid(&db);
    let account = &running.pool.accounts[0];
    for (_, r) in &rows {
        let step = if r.dimension == "1h" { HOUR } else { DAY };
        assert!(
            r.ts >= since.div_euclid(step) * step,
            "R6: {:?} {} {} stored before --since {since}",
            r.worker_id,
            r.dimension,
            r.ts
        );
    }
    let mut series: Vec<Option<i64>> = vec![None];
    series.extend(account.workers.iter().map(|&w| Some(w)));
    for worker in series {
        for (step, dim) in [(HOUR, "1h"), (DAY, "1d")] {
            for (ts, _, _) in running.pool.truth(account, worker, step) {
                if ts >= since.div_euclid(step) * step {
                    assert!(
                        rows.iter().any(|(_, r)| r.worker_id == worker
                            && r.dimension == dim
                            && r.ts == ts),
                        "R6: {worker:?} {dim} {ts} after --since not stored"
                    );
                }
            }
        }
    }
    assert!(
        requests <= first.series + 2,
        "R6: {requests} history requests for {} series of one page each",
        first.series
    );
    assert_eq!(first.since_before_retention, 0);
    // Second run, --since older: first run only, nothing older is fetched or changed.
    let mut options = hand_options(&running, &db, NOW);
    options.since = Some(NOW - 60 * HOUR);
    let second = try_ingest(&running, options).await.unwrap();
    let after = all_rows_by_puid(&db);
    for (_, r) in &after {
        if !rows
            .iter()
            .any(|(_, o)| o.worker_id == r.worker_id && o.dimension == r.dimension && o.ts == r.ts)
        {
            eprintln!(
                "R6 run 2 added {:?} {} {} (since was {since})",
                r.worker_id, r.dimension, r.ts
            );
        }
    }
    assert_idempotent("R6 run 2", &second);
    assert_eq!(all_rows_by_puid(&db).len(), rows.len());
}

// ---------------------------------------------------------------------------------------------
// 7. A pool that publishes a day's point only once the day is over (no "today" point): yesterday
// is final, stored as such; a run right after changes nothing; the next day completes.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_series_without_a_today_point() {
    let pool = HandPool::new(vec![Account::new(508, vec![1, 2, 3], DOCUMENTED)]);
    pool.no_current_day.store(true, Ordering::SeqCst);
    let running = hand_start(pool).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("no_today.db");
    hand_ingest(&running, &db, NOW).await;
    let problems = hand_problems(&running.pool, &db);
    eprintln!("R7 watermarks: {:?}", watermarks(&db));
    let second = hand_ingest(&running, &db, NOW).await;
    assert_idempotent("R7 run 2", &second);
    running.pool.accounts[0]
        .clock
        .store(NOW + DAY, Ordering::SeqCst);
    hand_ingest(&running, &db, NOW + DAY).await;
    let next_day = hand_problems(&running.pool, &db);
    assert_no_problems("R7 next day", &next_day);
    assert!(history_gaps_empty(&db));
    assert_no_problems("R7 run 1 (yesterday's daily points)", &problems);
}

fn history_gaps_empty(db: &Path) -> bool {
    let conn = Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM history_gaps", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap()
        == 0
}

// ---------------------------------------------------------------------------------------------
// 8. First-run cost at scale, on the simulator: 200 workers, the documented retention right, and
// a pool keeping three times more. A second run right after changes nothing.

/// Every point the simulated pool keeps is stored, final and exact; the live one provisional.
fn sim_problems(pool: &common::Pool, rows: &[Row]) -> Vec<String> {
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
            let mine: Vec<&Row> = rows
                .iter()
                .filter(|r| r.worker_id == worker_id && r.dimension == dimension.as_str())
                .collect();
            for back in 0..kept {
                let ts = current - back * step;
                let Some(point) = pool.sim.expected_point(worker_id, dimension, ts) else {
                    continue;
                };
                match mine.iter().find(|r| r.ts == ts) {
                    None => problems.push(format!("{worker_id:?} {dimension} {ts}: missing")),
                    Some(r) if r.provisional != (back == 0) => problems.push(format!(
                        "{worker_id:?} {dimension} {ts}: provisional {}",
                        r.provisional
                    )),
                    Some(r) if back > 0 && !close(r.hashrate_hs, point.hashrate_hs) => problems
                        .push(format!(
                            "{worker_id:?} {dimension} {ts}: {} vs {}",
                            r.hashrate_hs, point.hashrate_hs
                        )),
                    _ => {}
                }
            }
        }
    }
    problems
}

async fn first_run_cost(config: SimConfig, what: &str) -> (i64, i64) {
    let workers = i64::from(config.workers);
    let pool = start_pool(config.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scale.db");
    pool.sim.reset_stats();
    let first = ingest::run(ingest_options(&pool, &db, NOW))
        .await
        .expect("ingest succeeds");
    let requests = pool.sim.stats().history_requests() as i64;
    let minimum = paging_minimum(&config, workers);
    eprintln!(
        "{what}: {requests} history requests for a paging minimum of {minimum} ({} series, {:+} = {:.2} per series); {}",
        first.series,
        requests - minimum,
        (requests - minimum) as f64 / first.series as f64,
        first.line()
    );
    assert_no_problems(what, &sim_problems(&pool, &all_rows(&db)));
    pool.sim.reset_stats();
    let second = ingest::run(ingest_options(&pool, &db, NOW))
        .await
        .expect("ingest succeeds");
    eprintln!(
        "{what} second run: {} history requests; {}",
        pool.sim.stats().history_requests(),
        second.line()
    );
    assert_idempotent(what, &second);
    (requests, minimum)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_cost_at_scale_documented_retention() {
    let config = SimConfig {
        workers: 200,
        seed: 11,
        now: Some(NOW),
        ..SimConfig::default()
    };
    let (requests, minimum) = first_run_cost(config, "R8a 200 workers, documented").await;
    assert!(
        requests <= minimum + minimum / 20 + 16,
        "R8a: {requests} requests, minimum {minimum}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_cost_at_scale_pool_keeping_three_times_more() {
    let config = SimConfig {
        workers: 200,
        seed: 12,
        now: Some(NOW),
        worker_hours: 3 * 72,
        account_hours: 3 * 720,
        worker_days: 3 * 90,
        account_days: 3 * 365,
        ..SimConfig::default()
    };
    let (requests, minimum) = first_run_cost(config, "R8b 200 workers, 3x retention").await;
    assert!(
        requests <= minimum + minimum / 20 + 16,
        "R8b: {requests} requests, minimum {minimum}"
    );
}
