//! The ingest against the simulator failing on purpose: a quarter of the requests broken in every
//! way the simulator knows, nonsense tickers, and a pool that keeps failing. Each run is compared
//! with a fault-free run of the same world.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    all_rows, assert_hourly_by_day_current, assert_same_rows, ingest_options, same_row, start_pool,
    Pool, NOW,
};
use poolhist::ingest::{self, IngestOptions, IngestSummary};
use poolhist::pools::cloverpool::sim::{FaultKind, SimConfig, SimStats};
use rusqlite::Connection;

/// A world big enough for a few hundred requests: 30 workers, pages cut at 48 points.
fn world(fault_rate: f64) -> SimConfig {
    SimConfig {
        workers: 30,
        seed: 42,
        now: Some(NOW),
        max_count: 48,
        fault_rate,
        fault_slow_ms: 1_500,
        ..SimConfig::default()
    }
}

/// A client that waits little between attempts, gives up on an answer after 1 s (the slow
/// fault takes 1.5 s) and tries 8 times.
fn options(pool: &Pool, db: &Path) -> IngestOptions {
    let mut options = ingest_options(pool, db, NOW);
    options.accounts[0].client.max_backoff = Duration::from_millis(100);
    options.accounts[0].client.timeout = Duration::from_secs(1);
    options.accounts[0].client.max_attempts = 8;
    options
}

async fn ingest_ok(pool: &Pool, db: &Path) -> IngestSummary {
    ingest::run(options(pool, db))
        .await
        .expect("ingest succeeds")
}

/// The directory and the gaps, as text rows: what else a run leaves behind.
fn directory_dump(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut dump = Vec::new();
    for sql in [
        "SELECT 'worker', worker_id, worker_name FROM v_workers ORDER BY worker_id",
        "SELECT 'group', gid, name FROM groups ORDER BY gid",
        "SELECT 'gap', series_id, from_ts || '..' || to_ts FROM history_gaps ORDER BY series_id, from_ts",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{} {} {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?
                ))
            })
            .unwrap();
        dump.extend(rows.map(Result::unwrap));
    }
    dump
}

fn last_run(db: &Path) -> (String, i64, i64, Option<String>) {
    let conn = Connection::open(db).unwrap();
    conn.query_row(
        "SELECT status, tickers_rejected, requests, error FROM ingest_runs ORDER BY run_id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

fn describe(stats: &SimStats, summary: &IngestSummary) -> String {
    let faults: Vec<String> = stats
        .faults_by_kind
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    format!(
        "pool: {} requests, {} failed on purpose, {} nonsense tickers [{}]; client: {} requests, {} retries, {} tickers rejected",
        stats.requests,
        stats.failures_served(),
        stats.nonsense_tickers_served,
        faults.join(", "),
        summary.requests,
        summary.retries,
        summary.tickers_rejected
    )
}

/// The fault-free run of the same world, for comparison.
async fn clean_run(dir: &Path) -> (std::path::PathBuf, IngestSummary) {
    let pool = start_pool(world(0.0)).await;
    let db = dir.join("clean.db");
    let summary = ingest_ok(&pool, &db).await;
    assert_eq!(
        summary.tickers_rejected, 0,
        "the clean world has no nonsense"
    );
    assert!(pool.sim.stats().faults_by_kind.is_empty());
    (db, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_under_25_percent_faults_stores_exactly_the_clean_data() {
    let dir = tempfile::tempdir().unwrap();
    let (clean_db, clean) = clean_run(dir.path()).await;

    let pool = start_pool(world(0.25)).await;
    let db = dir.path().join("faulty.db");
    let started = std::time::Instant::now();
    let summary = ingest_ok(&pool, &db).await;
    let stats = pool.sim.stats();
    eprintln!(
        "{} in {:.1?}",
        describe(&stats, &summary),
        started.elapsed()
    );

    assert_same_rows(&all_rows(&db), &all_rows(&clean_db));
    assert_eq!(directory_dump(&db), directory_dump(&clean_db));
    assert_hourly_by_day_current(&db);
    assert_eq!(summary.series, clean.series);
    assert_eq!(summary.workers, clean.workers);

    // The faults were real: a quarter of the requests, every kind, each answered by a retry.
    let share = stats.failures_served() as f64 / stats.requests as f64;
    assert!((0.15..=0.35).contains(&share), "{share} of requests failed");
    assert!(
        stats.faults_by_kind.len() >= 8,
        "{:?}",
        stats.faults_by_kind
    );
    assert_eq!(summary.requests, stats.requests);
    assert_eq!(summary.retries, stats.failures_served());
    // Nonsense came too, and every nonsense ticker was rejected, none stored.
    assert!(stats.nonsense_tickers_served > 0);
    assert!(summary.tickers_rejected > 0);
    assert!(summary.tickers_rejected <= stats.nonsense_tickers_served);
    let (status, rejected, _, _) = last_run(&db);
    assert_eq!(status, "ok");
    assert_eq!(rejected as u64, summary.tickers_rejected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonsense_tickers_are_rejected_counted_and_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (clean_db, _) = clean_run(dir.path()).await;

    let pool = start_pool(SimConfig {
        fault_kinds: vec![FaultKind::NonsenseTickers],
        ..world(0.5)
    })
    .await;
    let db = dir.path().join("nonsense.db");
    let summary = ingest_ok(&pool, &db).await;
    let stats = pool.sim.stats();
    eprintln!("{}", describe(&stats, &summary));

    assert!(
        stats.nonsense_tickers_served > 50,
        "{}",
        describe(&stats, &summary)
    );
    assert_eq!(stats.failures_served(), 0);
    assert_eq!(summary.retries, 0, "nonsense is not a reason to retry");
    // A page with rejected points is asked for twice more (a garbled real point may come right
    // the next time); this simulator repeats its nonsense, so each is served three times and
    // counted once, from the answer finally taken.
    assert_eq!(summary.tickers_rejected * 3, stats.nonsense_tickers_served);
    assert!(summary.line().contains(&format!(
        "{} nonsense tickers rejected",
        summary.tickers_rejected
    )));
    let (status, rejected, _, _) = last_run(&db);
    assert_eq!(status, "ok");
    assert_eq!(rejected as u64, summary.tickers_rejected);

    assert_same_rows(&all_rows(&db), &all_rows(&clean_db));
    let conn = Connection::open(&db).unwrap();
    let insane: i64 = conn
        .query_row(
            "SELECT count(*) FROM v_tickers WHERE hashrate_hs < 0 OR reject_rate < 0 \
             OR reject_rate > 1 OR reject_rate IS NULL OR ts % 3600 != 0 OR ts > ?1",
            [NOW],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(insane, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_that_keeps_failing_ends_the_run_naming_endpoint_and_status_after_committing() {
    let dir = tempfile::tempdir().unwrap();
    let (clean_db, _) = clean_run(dir.path()).await;

    // Only 502s, no limit on a request's failing streak, 3 attempts: some request will fail
    // three times in a row, after other pages were stored.
    let pool = start_pool(SimConfig {
        fault_kinds: vec![FaultKind::BadGateway],
        fault_max_consecutive: 0,
        ..world(0.35)
    })
    .await;
    let db = dir.path().join("failing.db");
    let mut failing = options(&pool, &db);
    failing.accounts[0].client.max_attempts = 3;
    let started = std::time::Instant::now();
    let error = ingest::run(failing)
        .await
        .expect_err("the run fails")
        .to_string();
    eprintln!("failed after {:.1?}: {error}", started.elapsed());
    assert!(error.contains("/worker"), "names the endpoint: {error}");
    assert!(error.contains("HTTP 502"), "names the status: {error}");
    assert!(error.contains("HTML page"), "says what came back: {error}");
    assert!(error.contains("gave up after 3 attempts"), "{error}");
    assert!(!error.contains(&SimConfig::default().access_key));

    let (status, _, requests, logged) = last_run(&db);
    assert_eq!(status, "failed");
    let logged = logged.expect("the error is logged");
    assert!(
        logged.contains("HTTP 502") && logged.contains("/worker"),
        "{logged}"
    );
    assert!(requests > 0);

    // What was fetched before the failure is committed, and right.
    let clean_rows = all_rows(&clean_db);
    let stored = all_rows(&db);
    assert!(
        !stored.is_empty(),
        "pages fetched before the failure are kept"
    );
    assert!(stored.len() < clean_rows.len());
    for row in &stored {
        assert!(
            clean_rows.iter().any(|c| same_row(c, row)),
            "stored row not in the clean run: {row:?}"
        );
    }

    // A later run against a healthy pool completes the data.
    let healthy = start_pool(world(0.0)).await;
    ingest_ok(&healthy, &db).await;
    assert_same_rows(&all_rows(&db), &clean_rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_alone_is_survived() {
    let small = |fault_rate: f64| SimConfig {
        workers: 4,
        fault_slow_ms: 1_200,
        ..world(fault_rate)
    };
    let dir = tempfile::tempdir().unwrap();
    let clean = start_pool(small(0.0)).await;
    let clean_db = dir.path().join("clean.db");
    ingest_ok(&clean, &clean_db).await;
    let clean_rows = all_rows(&clean_db);
    let clean_directory = directory_dump(&clean_db);

    for kind in FaultKind::ALL {
        // A slow answer costs a client timeout, a 429 with Retry-After: 1 a second.
        let rate = match kind {
            FaultKind::Slow | FaultKind::TooManyRequests => 0.15,
            _ => 0.5,
        };
        let pool = start_pool(SimConfig {
            fault_kinds: vec![kind],
            ..small(rate)
        })
        .await;
        let db = dir.path().join(format!("{kind}.db"));
        let summary = ingest_ok(&pool, &db).await;
        let stats = pool.sim.stats();
        eprintln!("{kind}: {}", describe(&stats, &summary));
        assert!(stats.faults_of(kind) > 0, "{kind}: none served");
        assert_same_rows(&all_rows(&db), &clean_rows);
        assert_eq!(directory_dump(&db), clean_directory, "{kind}");
        if kind.is_transient() {
            assert_eq!(summary.retries, stats.faults_of(kind), "{kind}");
        }
    }
}

/// `data: []` with err_no 0 is how a struggling pool fails: the list endpoints retry it rather
/// than read it as "no workers".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_array_data_on_the_worker_list_is_retried_not_taken_as_no_workers() {
    let dir = tempfile::tempdir().unwrap();
    let clean = start_pool(SimConfig {
        workers: 4,
        ..world(0.0)
    })
    .await;
    let clean_db = dir.path().join("clean.db");
    ingest_ok(&clean, &clean_db).await;

    let pool = start_pool(SimConfig {
        workers: 4,
        fault_kinds: vec![FaultKind::EmptyDataArray],
        ..world(1.0)
    })
    .await;
    let db = dir.path().join("empty.db");
    let summary = ingest_ok(&pool, &db).await;
    assert_eq!(summary.workers, 4, "{}", summary.line());
    assert_eq!(directory_dump(&db), directory_dump(&clean_db));
    assert_same_rows(&all_rows(&db), &all_rows(&clean_db));
}

/// A daily ticker must sit on the day boundary the others agree on; one at 13:00 UTC would be
/// stored as a day of its own and move the cursor off midnight.
#[test]
fn a_daily_ticker_off_midnight_is_rejected() {
    use poolhist::ingest::plan::{normalize_page, Window};
    use poolhist::model::Dimension;
    use poolhist::pools::cloverpool::response::parse_share_history;
    let midnight = NOW - NOW % 86_400 - 86_400;
    let body = format!(
        r#"{{"err_no":0,"data":{{"shares_unit":"T","tickers":[[{midnight},"120.5","0.3"],[{},"99","0.2"]]}}}}"#,
        midnight + 13 * 3_600
    );
    let history = parse_share_history("/worker/share-history [1d]", body.as_bytes()).unwrap();
    let window = Window {
        start_ts: midnight - 10 * 86_400,
        count: 30,
        dimension: Dimension::Day,
    };
    let page = normalize_page(&history.raw_points(), window, NOW);
    let stored: Vec<i64> = page.tickers.iter().map(|t| t.ts).collect();
    assert_eq!(stored, vec![midnight]);
    assert_eq!(page.rejected, 1);
}
