//! End-to-end ingest against the real simulator over loopback: exact values, idempotence,
//! incremental runs, provisional points, paging under a count cap, failing fast, expired history.

mod common;

use std::path::Path;

use common::{
    all_rows, assert_hourly_by_day_current, assert_same_rows, close, ingest_options, start_pool,
    Pool, Row, DAY, HOUR, NOW,
};
use poolhist::http::AccessKey;
use poolhist::ingest::{self, IngestSummary};
use poolhist::model::Dimension;
use poolhist::pools::cloverpool::sim::{SimConfig, Simulator};
use rusqlite::Connection;

fn sim_config(workers: u32) -> SimConfig {
    SimConfig {
        workers,
        seed: 42,
        now: Some(NOW),
        ..SimConfig::default()
    }
}

async fn ingest_at(pool: &Pool, db: &Path, now: i64) -> IngestSummary {
    pool.sim.set_now(now);
    ingest::run(ingest_options(pool, db, now))
        .await
        .expect("ingest succeeds")
}

/// Every slot the pool still serves at `now` for a series, with its final value.
fn expected_final_points(
    sim: &Simulator,
    worker_id: Option<i64>,
    dimension: Dimension,
    now: i64,
) -> Vec<(i64, f64, f64)> {
    let retention = poolhist::pools::cloverpool::FACTS
        .documented_retention
        .slots(worker_id.is_some(), dimension);
    let step = dimension.step_seconds();
    let current = now.div_euclid(step) * step;
    (1..i64::from(retention))
        .rev()
        .map(|back| current - back * step)
        .filter_map(|ts| {
            sim.expected_point(worker_id, dimension, ts)
                .map(|p| (ts, p.hashrate_hs, p.reject_rate))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_stores_every_served_point_exactly() {
    let pool = start_pool(sim_config(12)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let summary = ingest_at(&pool, &db, NOW).await;
    assert_eq!(summary.series, 2 + 2 * 12);
    let rows = all_rows(&db);

    let mut series: Vec<Option<i64>> = vec![None];
    series.extend(pool.sim.workers().iter().map(|w| Some(w.id)));
    for worker_id in series {
        for dimension in Dimension::ALL {
            let expected = expected_final_points(&pool.sim, worker_id, dimension, NOW);
            let stored: Vec<&Row> = rows
                .iter()
                .filter(|r| {
                    r.worker_id == worker_id && r.dimension == dimension.as_str() && !r.provisional
                })
                .collect();
            assert_eq!(
                stored.len(),
                expected.len(),
                "final points of {worker_id:?} {dimension}"
            );
            for (row, (ts, hashrate_hs, reject_rate)) in stored.iter().zip(&expected) {
                assert_eq!(row.ts, *ts);
                assert!(
                    close(row.hashrate_hs, *hashrate_hs),
                    "{worker_id:?} {dimension} {ts}: {} vs {hashrate_hs}",
                    row.hashrate_hs
                );
                assert!(
                    close(row.reject_rate, *reject_rate),
                    "{worker_id:?} {dimension} {ts}: reject {} vs {reject_rate}",
                    row.reject_rate
                );
            }
        }
    }
    // The live hour is there, flagged provisional.
    let live: Vec<&Row> = rows
        .iter()
        .filter(|r| r.provisional && r.dimension == "1h")
        .collect();
    assert!(!live.is_empty());
    assert!(live.iter().all(|r| r.ts == NOW - NOW % HOUR));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_run_changes_nothing_and_fetches_only_the_late_window() {
    let pool = start_pool(sim_config(12)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let first = ingest_at(&pool, &db, NOW).await;
    let before = all_rows(&db);
    let second = ingest_at(&pool, &db, NOW).await;
    assert_same_rows(&all_rows(&db), &before);
    assert_eq!(second.counts.rows_new, 0);
    assert_eq!(second.counts.rows_updated, 0);
    assert!(
        second.tickers_fetched * 10 < first.tickers_fetched,
        "second run fetched {} tickers, first {}",
        second.tickers_fetched,
        first.tickers_fetched
    );
    // One request per series (after the three directory calls): the late window fits one page.
    assert_eq!(second.requests, second.series + 3);
    assert_hourly_by_day_current(&db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisional_point_is_replaced_by_the_final_value() {
    let pool = start_pool(sim_config(4)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let live_hour = NOW - NOW % HOUR;
    ingest_at(&pool, &db, NOW).await;
    let account_live = |rows: &[Row], ts: i64| {
        rows.iter()
            .find(|r| r.worker_id.is_none() && r.dimension == "1h" && r.ts == ts)
            .cloned()
    };
    let first = account_live(&all_rows(&db), live_hour).expect("live point stored");
    assert!(first.provisional);

    let later = NOW + HOUR;
    ingest_at(&pool, &db, later).await;
    let rows = all_rows(&db);
    let replaced = account_live(&rows, live_hour).expect("point kept");
    assert!(!replaced.provisional, "the completed hour is final now");
    let truth = pool
        .sim
        .expected_point(None, Dimension::Hour, live_hour)
        .unwrap();
    assert!(close(replaced.hashrate_hs, truth.hashrate_hs));
    let new_live = account_live(&rows, live_hour + HOUR).expect("new live point");
    assert!(new_live.provisional);
    // Only the newest hour of each series is provisional.
    assert!(rows
        .iter()
        .filter(|r| r.provisional)
        .all(|r| r.ts == later - later % HOUR || r.ts == later - later % DAY));
    // The live hour turned final and entered the per-day summary.
    assert_hourly_by_day_current(&db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_under_a_count_cap_still_gets_everything() {
    let capped = start_pool(SimConfig {
        max_count: 7,
        max_page_size: 3,
        ..sim_config(8)
    })
    .await;
    let uncapped = start_pool(sim_config(8)).await;
    let dir = tempfile::tempdir().unwrap();
    let capped_db = dir.path().join("capped.db");
    let uncapped_db = dir.path().join("uncapped.db");
    let capped_run = ingest_at(&capped, &capped_db, NOW).await;
    let uncapped_run = ingest_at(&uncapped, &uncapped_db, NOW).await;
    assert_same_rows(&all_rows(&capped_db), &all_rows(&uncapped_db));
    assert!(capped_run.requests > uncapped_run.requests * 5);
    let conn = Connection::open(&capped_db).unwrap();
    let workers: i64 = conn
        .query_row("SELECT count(*) FROM v_workers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(workers, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_fails_fast_and_leaves_data_untouched() {
    let pool = start_pool(sim_config(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    ingest_at(&pool, &db, NOW).await;
    let before = all_rows(&db);

    let mut bad = ingest_options(&pool, &db, NOW + HOUR);
    bad.accounts[0].client.access_key = AccessKey::new("r_wrong_key_123").unwrap();
    pool.sim.set_now(NOW + HOUR);
    let started = std::time::Instant::now();
    let error = ingest::run(bad).await.unwrap_err().to_string();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(error.contains("20001"), "{error}");
    assert!(!error.contains("r_wrong_key_123"), "{error}");
    assert_same_rows(&all_rows(&db), &before);
    let conn = Connection::open(&db).unwrap();
    let (status, logged): (String, String) = conn
        .query_row(
            "SELECT status, error FROM ingest_runs ORDER BY run_id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "failed");
    assert!(logged.contains("20001") && !logged.contains("r_wrong_key_123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_pause_records_the_history_that_expired() {
    let pool = start_pool(sim_config(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    ingest_at(&pool, &db, NOW).await;
    let later = NOW + 5 * DAY;
    let summary = ingest_at(&pool, &db, later).await;
    // Worker hourly history (72 h) of 3 workers expired; nothing else did.
    assert_eq!(summary.expired_series, 3, "{}", summary.line());
    assert!(summary.line().contains("expired"));
    let conn = Connection::open(&db).unwrap();
    let (from_ts, to_ts): (i64, i64) = conn
        .query_row(
            "SELECT min(from_ts), max(to_ts) FROM v_gaps WHERE dimension = '1h'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(from_ts, NOW - NOW % HOUR);
    let horizon = later - later % HOUR - 71 * HOUR;
    assert_eq!(to_ts, horizon - HOUR);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_is_private_and_never_holds_the_key() {
    let pool = start_pool(sim_config(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    ingest_at(&pool, &db, NOW).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let key = SimConfig::default().access_key;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_that_disappear_from_the_pool_stay_in_the_database() {
    let pool = start_pool(sim_config(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    ingest_at(&pool, &db, NOW).await;
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO workers (account_id, worker_id, worker_name, first_seen, last_seen) VALUES (?1, 999, 'retired', 1, 1)",
        [SimConfig::default().puid],
    )
    .unwrap();
    drop(conn);
    ingest_at(&pool, &db, NOW + HOUR).await;
    let conn = Connection::open(&db).unwrap();
    let name: String = conn
        .query_row(
            "SELECT worker_name FROM v_workers WHERE worker_id = 999",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(name, "retired");
}
