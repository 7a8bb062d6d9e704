//! Foundry USA end to end: the ingest against the local Foundry simulator, every stored point
//! checked against what the simulated pool keeps.

mod common;

use std::path::Path;
use std::sync::Arc;

use poolhist::http::{AccessKey, ClientConfig};
use poolhist::ingest::{self, AccountSource, IngestOptions, IngestSummary};
use poolhist::pools::foundry::sim::{spawn_local, FoundrySeries, FoundrySim, FoundrySimConfig};
use poolhist::pools::{foundry, PoolKind};
use rusqlite::Connection;

/// 2026-03-04 09:41:07 UTC.
const NOW: i64 = 1_772_617_267;
const KEY: &str = "demo-foundry-key";
const SUB_ACCOUNT: &str = "farm1";

async fn start(tweak: impl FnOnce(&mut FoundrySimConfig)) -> (Arc<FoundrySim>, String) {
    let mut config = FoundrySimConfig {
        workers: 10,
        now: Some(NOW),
        sub_account: SUB_ACCOUNT.to_owned(),
        access_key: KEY.to_owned(),
        ..FoundrySimConfig::default()
    };
    tweak(&mut config);
    let sim = Arc::new(FoundrySim::new(config));
    let (url, _task) = spawn_local(Arc::clone(&sim)).await.expect("bind loopback");
    (sim, url)
}

fn options(url: &str, key: &str, db: &Path, now: i64) -> IngestOptions {
    let mut client = ClientConfig::new(url, AccessKey::new(key).unwrap(), foundry::PROTOCOL);
    client.rate_per_second = None;
    client.backoff_base = std::time::Duration::from_millis(5);
    client.max_backoff = std::time::Duration::from_millis(20);
    client.timeout = std::time::Duration::from_secs(5);
    IngestOptions {
        db_path: db.to_owned(),
        accounts: vec![AccountSource {
            account: PoolKind::Foundry.account(SUB_ACCOUNT).unwrap(),
            client,
        }],
        since: None,
        concurrency: 4,
        retention: Default::default(),
        now: Some(now),
        show_progress: false,
        wait_for_lock: false,
        max_workers: ingest::DEFAULT_MAX_WORKERS,
        handle_signals: false,
    }
}

async fn ingest_at(sim: &FoundrySim, url: &str, db: &Path, now: i64) -> IngestSummary {
    sim.set_now(now);
    ingest::run(options(url, KEY, db, now))
        .await
        .unwrap_or_else(|e| panic!("ingest at {now}: {e}"))
}

type Stored = common::AccountPoints;

fn stored(db: &Path) -> Stored {
    common::account_points(db, "foundry", SUB_ACCOUNT)
}

use common::within_1e5 as close;

/// Every stored point equals the pool's (final points exactly, to 1e-5); every final point the
/// pool holds with hashrate is stored (a bucket without shares may be left out on the wire).
/// After the first run the pool has deleted some of what was stored: nothing else is stored.
fn problems(sim: &FoundrySim, db: &Path, first_run: bool) -> Vec<String> {
    let stored = stored(db);
    let mut problems = Vec::new();
    let mut series = vec![
        (None, FoundrySeries::SubAccountHour),
        (None, FoundrySeries::SubAccountDay),
    ];
    for worker in sim.workers() {
        series.push((Some(worker.id), FoundrySeries::WorkerHour(worker.id)));
        series.push((Some(worker.id), FoundrySeries::WorkerDay(worker.id)));
    }
    let mut expected_keys = 0;
    for (worker_id, kind) in series {
        let dimension = if kind.step_seconds() == 3_600 {
            "1h"
        } else {
            "1d"
        };
        for point in sim.truth(kind) {
            let key = (worker_id, dimension.to_owned(), point.ts);
            expected_keys += 1;
            match stored.get(&key) {
                Some(&(hs, reject, provisional)) => {
                    if point.provisional {
                        if !provisional {
                            problems.push(format!("{key:?}: live bucket stored as final"));
                        }
                    } else if !close(hs, point.hashrate_hs) || !close(reject, point.reject_rate) {
                        problems.push(format!(
                            "{key:?}: stored {hs} H/s {reject}, pool {} H/s {}",
                            point.hashrate_hs, point.reject_rate
                        ));
                    }
                }
                None if point.hashrate_hs > 0.0 && !point.provisional => {
                    problems.push(format!("{key:?}: not stored"))
                }
                None => expected_keys -= 1,
            }
        }
    }
    if first_run && stored.len() > expected_keys {
        problems.push(format!(
            "{} points stored that the pool does not hold",
            stored.len() - expected_keys
        ));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stored_point_equals_the_pools_and_names_are_exact() {
    let (sim, url) = start(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("foundry.db");
    let first = ingest_at(&sim, &url, &db, NOW).await;
    assert!(first.tickers_fetched > 1_000, "{}", first.line());
    let found = problems(&sim, &db, true);
    assert!(
        found.is_empty(),
        "{} problems: {:#?}",
        found.len(),
        &found[..found.len().min(8)]
    );

    let conn = Connection::open(&db).unwrap();
    let mut names: Vec<(i64, String, Option<String>, Option<i64>)> = conn
        .prepare(
            "SELECT worker_id, worker_name, group_name, puid FROM v_workers WHERE pool = 'foundry'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names.sort();
    let mut truth: Vec<(i64, String, Option<String>, Option<i64>)> = sim
        .workers()
        .into_iter()
        .map(|w| (w.id, w.name, (!w.tag.is_empty()).then_some(w.tag), None))
        .collect();
    truth.sort();
    assert_eq!(
        names, truth,
        "workers, their exact names and tags (as groups)"
    );

    // The next night: only what is new, and the late window.
    let second = ingest_at(&sim, &url, &db, NOW + 86_400).await;
    let found = problems(&sim, &db, false);
    assert!(
        found.is_empty(),
        "night 2: {:#?}",
        &found[..found.len().min(8)]
    );
    assert!(
        second.tickers_fetched * 10 < first.tickers_fetched * 2,
        "a nightly run re-reads a day and a late window: {} vs {}",
        second.tickers_fetched,
        first.tickers_fetched
    );
    // Right after it, nothing changes and little is fetched.
    let before = stored(&db);
    let again = ingest_at(&sim, &url, &db, NOW + 86_400).await;
    let after = stored(&db);
    assert_eq!(again.counts.rows_updated, 0, "{}", again.line());
    assert_eq!(again.counts.rows_removed, 0, "{}", again.line());
    // The only rows it adds are buckets without shares that the pool left out before (its
    // answers may leave them out or send zeros).
    for (key, value) in &after {
        match before.get(key) {
            Some(old) => assert_eq!(old, value, "{key:?} changed"),
            None => assert_eq!(value.0, 0.0, "{key:?} new and not a bucket without shares"),
        }
    }
    assert!(
        again.tickers_fetched * 10 < first.tickers_fetched,
        "a second run fetches under 10 % of the first: {} vs {}",
        again.tickers_fetched,
        first.tickers_fetched
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_a_fifth_of_the_requests_change_nothing() {
    let (clean_sim, clean_url) = start(|_| {}).await;
    let (faulty_sim, faulty_url) = start(|c| {
        c.fault_rate = 0.2;
        c.fault_slow_ms = 50;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    let faulty = dir.path().join("faulty.db");
    ingest_at(&clean_sim, &clean_url, &clean, NOW).await;
    let run = ingest_at(&faulty_sim, &faulty_url, &faulty, NOW).await;
    assert!(faulty_sim.stats().faults_served() > 0, "faults were served");
    assert!(run.retries > 0, "{}", run.line());
    common::assert_same_points(&stored(&faulty), &stored(&clean));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_at_once_without_echoing_it() {
    let (sim, url) = start(|c| c.echo_key_in_errors = true).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("refused.db");
    let wrong = "wrong-key-0123456789";
    let started = std::time::Instant::now();
    let error = ingest::run(options(&url, wrong, &db, NOW))
        .await
        .expect_err("a wrong key is refused");
    let text = error.to_string();
    assert!(started.elapsed().as_secs() < 5, "no retries on 403");
    assert!(text.contains("403"), "{text}");
    assert!(text.contains("foundry account farm1"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert_eq!(sim.stats().requests, 1, "one request, not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloverpool_account_and_a_foundry_sub_account_share_one_database() {
    use poolhist::pools::cloverpool::sim::{self as clover_sim, SimConfig, Simulator};
    let (foundry_sim, foundry_url) = start(|_| {}).await;
    let clover_config = SimConfig {
        workers: 8,
        now: Some(NOW),
        ..SimConfig::default()
    };
    let clover = Arc::new(Simulator::new(clover_config.clone()));
    let (clover_url, _task) = clover_sim::spawn_local(Arc::clone(&clover)).await.unwrap();
    let clover_source = AccountSource {
        account: poolhist::pools::cloverpool::account(clover_config.puid),
        client: ClientConfig::new(
            &clover_url,
            AccessKey::new(clover_config.access_key.clone()).unwrap(),
            poolhist::pools::cloverpool::PROTOCOL,
        ),
    };
    let dir = tempfile::tempdir().unwrap();
    let both = dir.path().join("both.db");
    let clover_alone = dir.path().join("clover.db");

    let mut options = options(&foundry_url, KEY, &both, NOW);
    options.accounts.push(clover_source.clone());
    let run = ingest::run(options.clone())
        .await
        .expect("both pools collected");
    assert_eq!(run.accounts, 2);
    let mut alone = options.clone();
    alone.db_path = clover_alone.clone();
    alone.accounts = vec![clover_source];
    ingest::run(alone).await.expect("CloverPool alone");

    let found = problems(&foundry_sim, &both, true);
    assert!(
        found.is_empty(),
        "foundry: {:#?}",
        &found[..found.len().min(8)]
    );
    let puid = clover_config.puid.to_string();
    common::assert_same_points(
        &common::account_points(&both, "cloverpool", &puid),
        &common::account_points(&clover_alone, "cloverpool", &puid),
    );

    // One public view lists the workers of both, each with its pool and account.
    let conn = Connection::open(&both).unwrap();
    let per_pool: Vec<(String, String, Option<i64>, i64)> = conn
        .prepare(
            "SELECT pool, account, puid, count(*) FROM v_workers GROUP BY pool, account ORDER BY pool",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(per_pool.len(), 2, "{per_pool:?}");
    assert_eq!(per_pool[0].0, "cloverpool");
    assert_eq!(per_pool[0].2, Some(clover_config.puid));
    assert_eq!(per_pool[1].0, "foundry");
    assert_eq!(per_pool[1].1, SUB_ACCOUNT);
    assert_eq!(per_pool[1].2, None);
    assert_eq!(per_pool[1].3, foundry_sim.workers().len() as i64);
}

/// A pool that leaves buckets without shares out (workers down for hours) deletes nothing: a
/// month of nightly runs records no expired history and keeps every point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_runs_over_workers_going_down_record_no_lost_history() {
    let (sim, url) = start(|c| c.workers = 16).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nightly.db");
    for night in 0..30 {
        ingest_at(&sim, &url, &db, NOW + night * 86_400).await;
    }
    let found = problems(&sim, &db, false);
    assert!(found.is_empty(), "{:#?}", &found[..found.len().min(8)]);
    let conn = Connection::open(&db).unwrap();
    let gaps: Vec<String> = conn
        .prepare(
            "SELECT worker_id || ' ' || dimension || ' ' || from_utc || ' ' || to_utc FROM v_gaps",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        gaps.is_empty(),
        "no history was lost, none is reported lost: {gaps:?}"
    );
    let kept_hours: i64 = conn
        .query_row(
            "SELECT count(*) FROM v_tickers WHERE pool = 'foundry' AND dimension = '1h' \
             AND worker_id IS NOT NULL AND ts < ?1",
            [NOW + 25 * 86_400],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        kept_hours > 0,
        "worker hours older than the pool keeps are kept"
    );
}

/// A young worker listed first must not move where older workers' history is looked for: on a
/// pool that leaves out buckets without shares, an old worker silent for weeks would otherwise
/// look as if its history started after the silence. Every concurrency orders them differently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_order_of_the_series_loses_history_before_a_silence() {
    for concurrency in [1, 2, 3, 4, 6, 8] {
        let (sim, url) = start(|_| {}).await;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("order.db");
        let mut options = options(&url, KEY, &db, NOW);
        options.concurrency = concurrency;
        ingest::run(options).await.expect("ingest");
        let found = problems(&sim, &db, true);
        assert!(
            found.is_empty(),
            "concurrency {concurrency}: {:#?}",
            &found[..found.len().min(4)]
        );
    }
}
