//! A pool that reads the API reference differently from our simulator, written here in a few
//! handlers: lists without `total_count` whose `page_count` assumes the page size we asked for,
//! `data: null` for a window without data, a worker deleted between listing and fetching, a live
//! point stamped with the request time, `real_point` parsed as a strict boolean, and values
//! printed to 6 decimals in one answer and in full in the next.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::hand_pool::{json_body, ok, serve, Params, Served};
use common::{HOUR, NOW};
use poolhist::http::{AccessKey, ClientConfig};
use poolhist::ingest::{self, IngestOptions};
use rusqlite::Connection;
use serde_json::{json, Value};

const KEY: &str = "r_other_reading";
const PUID: i64 = 77;
/// Workers 1..=5 hash; 6 is listed but deleted before its history is fetched; 7 has no data.
const WORKERS: [i64; 7] = [1, 2, 3, 4, 5, 6, 7];
const PAGE_CAP: usize = 2;

#[derive(Default)]
struct OtherPool {
    history_calls: AtomicU64,
}

fn authorized(params: &HashMap<String, String>) -> bool {
    params.get("access_key").map(String::as_str) == Some(KEY)
        && params.get("puid").map(String::as_str) == Some(&PUID.to_string())
}

fn denied() -> Response {
    json_body(json!({"err_no": 20001, "err_msg": "access key and puid do not match"}))
}

/// The page size we are asked for is capped at 2, but `page_count` is computed from what was
/// asked, and no `total_count` is sent.
async fn workers(Query(p): Params) -> Response {
    if !authorized(&p) {
        return denied();
    }
    let page: usize = p.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let asked: usize = p
        .get("page_size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rows: Vec<Value> = WORKERS
        .iter()
        .skip((page - 1) * PAGE_CAP)
        .take(PAGE_CAP)
        .map(|id| json!({"worker_id": id.to_string(), "worker_name": format!("w{id}"), "gid": 1, "group_name": "hall", "status": "ACTIVE"}))
        .collect();
    let page_count = WORKERS.len().div_ceil(asked.max(1));
    ok(json!({"page": page, "page_size": asked, "page_count": page_count, "data": rows}))
}

async fn groups(Query(p): Params) -> Response {
    if !authorized(&p) {
        return denied();
    }
    ok(json!({"page": 1, "page_size": 10, "page_count": 1, "list": [{"gid": 1, "name": "hall"}]}))
}

async fn stats(Query(p): Params) -> Response {
    if !authorized(&p) {
        return denied();
    }
    ok(json!({"workers_active": 7, "workers_total": 7}))
}

/// Worker `id` hashes `id` TH/s at every hour, reject 0.5 %; the account is their sum.
fn history(p: &HashMap<String, String>, hashrate_th: f64, call: u64) -> Response {
    // A strict boolean parser, as a typed query struct would be.
    if let Some(flag) = p.get("real_point") {
        if flag != "true" && flag != "false" {
            return (
                StatusCode::BAD_REQUEST,
                "real_point: expected true or false",
            )
                .into_response();
        }
    }
    let step = match p.get("dimension").map(String::as_str) {
        Some("1h") => HOUR,
        Some("1d") => 86_400,
        _ => return json_body(json!({"err_no": 1, "err_msg": {"dimension": ["is required"]}})),
    };
    let start: i64 = p.get("start_ts").and_then(|v| v.parse().ok()).unwrap_or(0);
    let count: i64 = p
        .get("count")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(500);
    let retention = if step == HOUR { 72 } else { 90 };
    let current = NOW - NOW.rem_euclid(step);
    let oldest = current - (retention - 1) * step;
    let first = (start.max(oldest) + step - 1).div_euclid(step) * step;
    let mut tickers = Vec::new();
    let mut ts = first;
    while ts <= current && ts < first + count * step {
        // Every other answer prints 6 decimals; the live point carries the request time.
        let value = if call.is_multiple_of(2) {
            format!("{hashrate_th:.6}")
        } else {
            format!("{hashrate_th}")
        };
        let stamp = if ts == current { NOW - 17 } else { ts };
        tickers.push(json!([stamp, value, "0.5"]));
        ts += step;
    }
    ok(json!({"shares_unit": "T", "tickers": tickers}))
}

async fn account_history(State(pool): State<Arc<OtherPool>>, Query(p): Params) -> Response {
    if !authorized(&p) {
        return denied();
    }
    let call = pool.history_calls.fetch_add(1, Ordering::Relaxed);
    let total: f64 = (1..=5).map(|id| id as f64 + 0.123_456_7).sum();
    history(&p, total, call)
}

async fn worker_history(
    State(pool): State<Arc<OtherPool>>,
    UrlPath(id): UrlPath<i64>,
    Query(p): Params,
) -> Response {
    if !authorized(&p) {
        return denied();
    }
    let call = pool.history_calls.fetch_add(1, Ordering::Relaxed);
    match id {
        1..=5 => history(&p, id as f64 + 0.123_456_7, call),
        6 => json_body(json!({"err_no": 1, "err_msg": "worker not found"})),
        // "null if the return value has no data at the specified time"
        7 => json_body(json!({"err_no": 0, "data": null})),
        _ => (StatusCode::NOT_FOUND, "no such worker").into_response(),
    }
}

async fn start() -> Served<OtherPool> {
    let pool = Arc::new(OtherPool::default());
    let app = Router::new()
        .route("/v1/worker", get(workers))
        .route("/v1/worker/groups", get(groups))
        .route("/v1/worker/stats", get(stats))
        .route("/v1/worker/share-history", get(account_history))
        .route("/v1/worker/{id}/share-history", get(worker_history))
        .with_state(Arc::clone(&pool));
    serve(pool, app).await
}

fn options(url: &str, db: &std::path::Path) -> IngestOptions {
    let mut client = ClientConfig::new(
        url,
        AccessKey::new(KEY).unwrap(),
        poolhist::pools::cloverpool::PROTOCOL,
    );
    client.backoff_base = std::time::Duration::from_millis(2);
    IngestOptions {
        db_path: db.to_owned(),
        accounts: vec![poolhist::ingest::AccountSource {
            account: poolhist::pools::cloverpool::account(PUID),
            client,
        }],
        since: None,
        concurrency: 3,
        retention: Default::default(),
        now: Some(NOW),
        show_progress: false,
        wait_for_lock: false,
        max_workers: poolhist::ingest::DEFAULT_MAX_WORKERS,
        handle_signals: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_reading_of_the_reference_loses_nothing() {
    let pool = start().await;
    let url = pool.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");

    let first = ingest::run(options(&url, &db))
        .await
        .expect("the run succeeds");
    // Every worker is listed although page_count said one page (of the 720 we asked for).
    assert_eq!(first.workers, 7, "{}", first.line());
    // The deleted worker's two series are skipped, not fatal.
    assert_eq!(first.series_skipped, 2, "{}", first.line());
    assert!(first.line().contains("skipped"));

    let conn = Connection::open(&db).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    // Workers 1..=5: 72 hourly and 90 daily points each, the live ones included.
    assert_eq!(
        count(
            "SELECT count(*) FROM v_tickers WHERE worker_id BETWEEN 1 AND 5 AND dimension = '1h'"
        ),
        5 * 72
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM v_tickers WHERE worker_id BETWEEN 1 AND 5 AND dimension = '1d'"
        ),
        5 * 90
    );
    // The live point, stamped with the request time, sits at its hour and is provisional.
    let live_hour = NOW - NOW % HOUR;
    assert_eq!(
        count(&format!("SELECT count(*) FROM v_tickers WHERE dimension = '1h' AND provisional = 1 AND ts = {live_hour}")),
        6,
        "five workers and the account"
    );
    // Worker 7's empty answers mean "no data", worker 6 has nothing: no rows, no failure.
    assert_eq!(
        count("SELECT count(*) FROM v_tickers WHERE worker_id IN (6, 7)"),
        0
    );
    // Values to 1e-5 relative of what the pool meant.
    let stored: f64 = conn
        .query_row(
            "SELECT hashrate_hs FROM v_tickers WHERE worker_id = 3 AND dimension = '1h' AND ts = ?1",
            [live_hour - HOUR],
            |r| r.get(0),
        )
        .unwrap();
    assert!((stored / 3.123_456_7e12 - 1.0).abs() < 1e-5, "{stored}");

    // A second run: values printed to 6 decimals this time are not "changes".
    let second = ingest::run(options(&url, &db))
        .await
        .expect("the second run succeeds");
    assert_eq!(second.counts.rows_new, 0, "{}", second.line());
    assert_eq!(second.counts.rows_updated, 0, "{}", second.line());
    assert!(second.tickers_fetched * 10 < first.tickers_fetched);
}
