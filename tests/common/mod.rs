//! What the integration tests share: a simulated pool on loopback, an ingest configured for it,
//! and table dumps compared with a tolerance for unit rounding.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod hand_pool;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use poolhist::http::{AccessKey, ClientConfig};
use poolhist::ingest::IngestOptions;
use poolhist::model::Dimension;
use poolhist::pools::cloverpool::sim::{self as simulate, SimConfig, Simulator};
use rusqlite::Connection;

/// 2026-11-20 12:30:00 UTC: half-way through an hour, so there is a live point.
pub const NOW: i64 = 1_763_641_800;
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

/// The simulator serving on loopback; stops when dropped.
pub struct Pool {
    pub sim: Arc<Simulator>,
    pub url: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn start_pool(config: SimConfig) -> Pool {
    let sim = Arc::new(Simulator::new(config));
    let (url, server) = simulate::spawn_local(Arc::clone(&sim))
        .await
        .expect("simulator starts");
    Pool { sim, url, server }
}

/// An ingest of the simulator's account at `now`, with quick retries.
pub fn ingest_options(pool: &Pool, db: &Path, now: i64) -> IngestOptions {
    let key = AccessKey::new(SimConfig::default().access_key).unwrap();
    let mut client = ClientConfig::new(&pool.url, key, poolhist::pools::cloverpool::PROTOCOL);
    client.backoff_base = Duration::from_millis(5);
    IngestOptions {
        db_path: db.to_owned(),
        accounts: vec![poolhist::ingest::AccountSource {
            account: poolhist::pools::cloverpool::account(SimConfig::default().puid),
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

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub worker_id: Option<i64>,
    pub dimension: String,
    pub ts: i64,
    pub hashrate_hs: f64,
    pub reject_rate: f64,
    pub provisional: bool,
}

/// Every stored ticker, through the public view, in a stable order.
pub fn all_rows(db: &Path) -> Vec<Row> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT worker_id, dimension, ts, hashrate_hs, reject_rate, provisional FROM v_tickers \
             ORDER BY worker_id, dimension, ts",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                worker_id: r.get(0)?,
                dimension: r.get(1)?,
                ts: r.get(2)?,
                hashrate_hs: r.get(3)?,
                reject_rate: r.get(4)?,
                provisional: r.get(5)?,
            })
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Equal to 1e-9 relative: the same point sent in another unit letter differs in the last bits.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

pub fn same_row(l: &Row, r: &Row) -> bool {
    l.worker_id == r.worker_id
        && l.dimension == r.dimension
        && l.ts == r.ts
        && l.provisional == r.provisional
        && close(l.hashrate_hs, r.hashrate_hs)
        && close(l.reject_rate, r.reject_rate)
}

/// Compares two table dumps, reporting the first difference instead of both dumps.
pub fn assert_same_rows(left: &[Row], right: &[Row]) {
    for (index, (l, r)) in left.iter().zip(right).enumerate() {
        assert!(
            same_row(l, r),
            "first difference at row {index}: {l:?} vs {r:?}"
        );
    }
    assert_eq!(left.len(), right.len(), "row counts differ");
}

/// The per-day summary the reports read agrees with the tickers it summarises.
pub fn assert_hourly_by_day_current(db: &Path) {
    let conn = Connection::open(db).unwrap();
    let stale = poolhist::store::hourly_by_day_mismatches(&conn).unwrap();
    assert!(
        stale.is_empty(),
        "hourly_by_day differs on (series, day) {stale:?}"
    );
    let days: i64 = conn
        .query_row("SELECT count(*) FROM hourly_by_day", [], |r| r.get(0))
        .unwrap();
    assert!(days > 0, "the summary holds the stored hourly days");
}

/// The simulator's retention for a kind of series, in slots back from its current one.
pub fn kept_slots(config: &SimConfig, is_worker: bool, dimension: Dimension) -> i64 {
    i64::from(match (is_worker, dimension) {
        (true, Dimension::Hour) => config.worker_hours,
        (false, Dimension::Hour) => config.account_hours,
        (true, Dimension::Day) => config.worker_days,
        (false, Dimension::Day) => config.account_days,
    })
}

/// Share-history requests a backfill of the simulator needs at least: each series' slots (one
/// more than kept: the window reaches to the live slot) in pages of its `count` cap.
pub fn paging_minimum(config: &SimConfig, workers: i64) -> i64 {
    let cap = i64::from(config.max_count);
    let mut total = 0;
    for dimension in Dimension::ALL {
        let account = kept_slots(config, false, dimension) + 1;
        let worker = kept_slots(config, true, dimension) + 1;
        total += (account + cap - 1) / cap + workers * ((worker + cap - 1) / cap);
    }
    total
}

/// Every series' watermark: (worker, dimension, watermark), in series order.
pub fn watermarks(db: &Path) -> Vec<(Option<i64>, String, Option<i64>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT worker_id, dimension, watermark_ts FROM series ORDER BY series_id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// An ingest with the pool's clock at `pool_now` and ours at `our_now`, the pool's request
/// counts reset first.
pub async fn ingest_with_clocks(
    pool: &Pool,
    db: &Path,
    pool_now: i64,
    our_now: i64,
) -> poolhist::ingest::IngestSummary {
    pool.sim.set_now(pool_now);
    pool.sim.reset_stats();
    poolhist::ingest::run(ingest_options(pool, db, our_now))
        .await
        .expect("ingest succeeds")
}

/// Stored points of one account: (worker, dimension, ts) -> (H/s, reject fraction, provisional).
pub type AccountPoints = std::collections::BTreeMap<(Option<i64>, String, i64), (f64, f64, bool)>;

/// Every stored point of `account` at `pool`, through the public view.
pub fn account_points(db: &Path, pool: &str, account: &str) -> AccountPoints {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT worker_id, dimension, ts, hashrate_hs, reject_rate, provisional FROM v_tickers \
             WHERE pool = ?1 AND account = ?2",
        )
        .unwrap();
    let rows = stmt
        .query_map([pool, account], |r| {
            Ok((
                (r.get(0)?, r.get(1)?, r.get(2)?),
                (r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Equal to 1e-5 relative: what acceptance asks of every stored point.
pub fn within_1e5(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * a.abs().max(b.abs()) + 1e-12
}

/// Two databases hold the same points of an account: every point stored in both is equal (to 1e-9:
/// the same point sent in another unit letter differs in its last bits) and a point stored in
/// one only is a bucket without hashrate (which a pool may send as zero or leave out, request by
/// request).
pub fn assert_same_points(left: &AccountPoints, right: &AccountPoints) {
    for (key, l) in left {
        match right.get(key) {
            Some(r) => assert!(
                close(l.0, r.0) && close(l.1, r.1) && l.2 == r.2,
                "{key:?}: {l:?} vs {r:?}"
            ),
            None => assert_eq!(l.0, 0.0, "{key:?} only on the left: {l:?}"),
        }
    }
    for (key, r) in right {
        if !left.contains_key(key) {
            assert_eq!(r.0, 0.0, "{key:?} only on the right: {r:?}");
        }
    }
    assert!(!left.is_empty() && !right.is_empty(), "no points compared");
}
