//! The ingest learns the pool instead of assuming it: a pool that keeps more history than its
//! documentation says, one that publishes hours late, one whose clock falls days behind between
//! two runs, and `--since` reaching before anything the pool keeps.

mod common;

use common::{
    all_rows, assert_hourly_by_day_current, close, ingest_options, ingest_with_clocks, kept_slots,
    paging_minimum, start_pool, watermarks, Pool, Row,
};
use common::{DAY, HOUR, NOW};
use poolhist::ingest;
use poolhist::model::Dimension;
use poolhist::pools::cloverpool::sim::SimConfig;
use rusqlite::Connection;

/// Every completed slot the pool keeps at its own clock is stored, final and exact; its
/// current slot, where it has a point, is stored provisional.
fn assert_holds_everything_the_pool_keeps(pool: &Pool, rows: &[Row]) {
    let config = pool.sim.config().clone();
    let pool_now = pool.sim.now();
    let mut series: Vec<Option<i64>> = vec![None];
    series.extend(pool.sim.workers().iter().map(|w| Some(w.id)));
    for worker_id in series {
        for dimension in Dimension::ALL {
            let step = dimension.step_seconds();
            let current = pool_now.div_euclid(step) * step;
            let kept = kept_slots(&config, worker_id.is_some(), dimension);
            let stored = |ts: i64| {
                rows.iter().find(|r| {
                    r.worker_id == worker_id && r.dimension == dimension.as_str() && r.ts == ts
                })
            };
            for back in 1..kept {
                let ts = current - back * step;
                let Some(point) = pool.sim.expected_point(worker_id, dimension, ts) else {
                    continue;
                };
                let row = stored(ts).unwrap_or_else(|| {
                    panic!("{worker_id:?} {dimension} {ts}: the pool keeps it, it was not stored")
                });
                assert!(!row.provisional, "{worker_id:?} {dimension} {ts} is final");
                assert!(
                    close(row.hashrate_hs, point.hashrate_hs),
                    "{worker_id:?} {dimension} {ts}: {} vs {}",
                    row.hashrate_hs,
                    point.hashrate_hs
                );
            }
            if pool
                .sim
                .expected_point(worker_id, dimension, current)
                .is_some()
            {
                let live = stored(current).unwrap_or_else(|| {
                    panic!("{worker_id:?} {dimension}: the live point {current} is stored")
                });
                assert!(live.provisional, "{worker_id:?} {dimension} live point");
            }
        }
    }
}

/// No stored point is newer than what the pool had published.
fn assert_nothing_after(rows: &[Row], pool_now: i64) {
    for row in rows {
        let step = if row.dimension == "1h" { HOUR } else { DAY };
        assert!(
            row.ts <= pool_now.div_euclid(step) * step,
            "{row:?} is after the pool's clock"
        );
    }
}

fn config(workers: u32) -> SimConfig {
    SimConfig {
        workers,
        seed: 7,
        now: Some(NOW),
        ..SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_keeping_more_than_documented_is_copied_whole() {
    let sim = SimConfig {
        worker_hours: 240,
        account_hours: 2_000,
        worker_days: 200,
        account_days: 900,
        ..config(6)
    };
    let pool = start_pool(sim.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("more.db");
    let summary = ingest_with_clocks(&pool, &db, NOW, NOW).await;
    let rows = all_rows(&db);
    assert_holds_everything_the_pool_keeps(&pool, &rows);
    assert_hourly_by_day_current(&db);

    // A handful of requests per series beyond the paging minimum.
    let history_requests = pool.sim.stats().history_requests() as i64;
    let minimum = paging_minimum(&sim, 6);
    let series = summary.series as i64;
    eprintln!("{history_requests} history requests for {series} series (paging minimum {minimum})");
    assert!(
        history_requests <= minimum + 4 * series,
        "{history_requests} requests, minimum {minimum}, {series} series"
    );

    // What was learned is kept, and the reports' retention reads it.
    let conn = Connection::open(&db).unwrap();
    let learned: Vec<(String, String, i64)> = conn
        .prepare("SELECT scope, dimension, retention_slots FROM pool_knowledge ORDER BY 1, 2")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        learned,
        vec![
            ("account".to_owned(), "1d".to_owned(), 900),
            ("account".to_owned(), "1h".to_owned(), 2_000),
            ("worker".to_owned(), "1d".to_owned(), 200),
            ("worker".to_owned(), "1h".to_owned(), 240),
        ]
    );

    // The next run reads what was learned: only the late window, no probing.
    let before = rows.len();
    let second = ingest_with_clocks(&pool, &db, NOW + HOUR, NOW + HOUR).await;
    assert!(second.requests <= 2 * (2 + 2 * 6) + 5, "{}", second.line());
    assert!(all_rows(&db).len() >= before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_publishing_hours_late_loses_nothing_and_moves_no_watermark_past_it() {
    let pool = start_pool(config(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("late.db");
    // The pool's statistics stand 10 hours behind our clock.
    let lag = 10 * HOUR;
    let first = ingest_with_clocks(&pool, &db, NOW - lag, NOW).await;
    let rows = all_rows(&db);
    assert_holds_everything_the_pool_keeps(&pool, &rows);
    assert_nothing_after(&rows, NOW - lag);
    let pool_slot = (NOW - lag).div_euclid(HOUR) * HOUR;
    for (worker_id, dimension, watermark) in watermarks(&db) {
        if dimension == "1h" {
            let watermark = watermark.expect("a watermark");
            assert!(
                watermark < pool_slot,
                "{worker_id:?}: watermark {watermark} passed the pool's slot {pool_slot}"
            );
        }
    }
    // Cheap: no walking through the hours the pool has not published.
    let cheap_limit = paging_minimum(pool.sim.config(), 5) + 4 * first.series as i64;
    assert!(
        (first.requests as i64) <= cheap_limit,
        "{} (limit {cheap_limit})",
        first.line()
    );

    // The next night the pool has caught up: every hour it published meanwhile is copied.
    ingest_with_clocks(&pool, &db, NOW + DAY, NOW + DAY).await;
    let rows = all_rows(&db);
    assert_holds_everything_the_pool_keeps(&pool, &rows);
    assert_hourly_by_day_current(&db);
    // Nothing of the first night is lost either: its hours stay stored, now final.
    for hour in 1..30 {
        let ts = pool_slot - hour * HOUR;
        assert!(
            rows.iter().any(|r| r.worker_id.is_none()
                && r.dimension == "1h"
                && r.ts == ts
                && !r.provisional),
            "account hour {ts}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_clock_falling_days_behind_between_runs_loses_nothing() {
    let pool = start_pool(config(4)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("behind.db");
    ingest_with_clocks(&pool, &db, NOW, NOW).await;
    let marks = watermarks(&db);
    // A day later by our clock, the pool's clock stands two days behind it.
    let summary = ingest_with_clocks(&pool, &db, NOW - DAY, NOW + DAY).await;
    assert_eq!(summary.counts.gaps, 0, "{}", summary.line());
    for ((_, _, before), (worker_id, dimension, after)) in marks.iter().zip(watermarks(&db)) {
        assert!(
            after <= before.map(|b| b.max(NOW)),
            "{worker_id:?} {dimension}: watermark moved to {after:?}"
        );
    }
    // Then it catches up: every hour it keeps is stored, the first run's too.
    ingest_with_clocks(&pool, &db, NOW + 2 * DAY, NOW + 2 * DAY).await;
    let rows = all_rows(&db);
    assert_holds_everything_the_pool_keeps(&pool, &rows);
    assert_hourly_by_day_current(&db);
    let conn = Connection::open(&db).unwrap();
    let gaps: i64 = conn
        .query_row("SELECT count(*) FROM history_gaps", [], |r| r.get(0))
        .unwrap();
    assert_eq!(gaps, 0, "nothing expired: the runs were a day apart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_history_is_recorded_in_the_pools_time_when_clocks_disagree() {
    let pool = start_pool(config(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("expired.db");
    ingest_with_clocks(&pool, &db, NOW, NOW).await;
    // Ten days later by our clock; the pool's clock is two days behind ours.
    let pool_now = NOW + 8 * DAY;
    let summary = ingest_with_clocks(&pool, &db, pool_now, NOW + 10 * DAY).await;
    assert!(summary.expired_series >= 3, "{}", summary.line());
    assert!(summary.line().contains("expired"), "{}", summary.line());
    let conn = Connection::open(&db).unwrap();
    let pool_slot = pool_now.div_euclid(HOUR) * HOUR;
    let oldest_kept = pool_slot - 71 * HOUR;
    let last_stored = NOW.div_euclid(HOUR) * HOUR - HOUR;
    let mut stmt = conn
        .prepare(
            "SELECT from_ts, to_ts FROM v_gaps WHERE worker_id IS NOT NULL AND dimension = '1h'",
        )
        .unwrap();
    let gaps: Vec<(i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(gaps.len(), 3);
    for (from, to) in gaps {
        assert_eq!(
            from,
            last_stored + HOUR,
            "the gap starts after the last stored hour"
        );
        assert_eq!(
            to,
            oldest_kept - HOUR,
            "and ends before the pool's oldest kept hour"
        );
    }
    assert_holds_everything_the_pool_keeps(&pool, &all_rows(&db));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_long_before_what_the_pool_keeps_is_clamped_cheaply() {
    let pool = start_pool(config(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("since.db");
    pool.sim.set_now(NOW);
    let mut options = ingest_options(&pool, &db, NOW);
    options.since = Some(1_577_836_800); // 2020-01-01
    let started = std::time::Instant::now();
    let summary = ingest::run(options).await.expect("ingest succeeds");
    assert!(started.elapsed().as_secs() < 10, "{}", summary.line());
    let limit = paging_minimum(pool.sim.config(), 3) + 4 * summary.series as i64;
    assert!(
        (summary.requests as i64) <= limit,
        "{} (limit {limit})",
        summary.line()
    );
    assert_eq!(
        summary.since_before_retention,
        summary.series,
        "{}",
        summary.line()
    );
    assert_holds_everything_the_pool_keeps(&pool, &all_rows(&db));
}
