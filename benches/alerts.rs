//! `cargo bench --bench alerts [-- WORKERS...]`: how long one alert evaluation takes (every
//! rule over the stored history, plus recording the state) and how long the Prometheus
//! textfile takes, on farms of 1,000 and 10,000 workers with eight days of hourly history (the
//! drop and spike rules read seven days back). The database is generated straight into the
//! schema (not through the ingest: the ingest's speed is `benches/ingest.rs`): workers in
//! racks of 50, 1 % of them stopped for the last five hours, 1 % at a tenth, 1 % rejecting 8 %.

use std::path::Path;
use std::time::Instant;

use rusqlite::{params, Connection};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// 2026-11-01T06:20:00Z.
const NOW: i64 = 1_793_514_000;

fn build(db: &Path, workers: i64) -> Connection {
    let _ = std::fs::remove_file(db);
    let mut conn = poolhist::store::open(db).expect("database");
    let last_hour = NOW / HOUR * HOUR - HOUR;
    let first_hour = last_hour - 8 * DAY + HOUR;
    let tx = conn.transaction().unwrap();
    tx.execute(
        "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen, previous_seen) \
         VALUES (1, 'cloverpool', '1', 1, ?1, ?2, ?3)",
        params![first_hour, NOW, NOW - DAY],
    )
    .unwrap();
    for gid in 0..=workers / 50 {
        tx.execute(
            "INSERT INTO groups VALUES (1, ?1, ?2, ?3, ?3)",
            params![gid, format!("rack-{gid:03}"), NOW],
        )
        .unwrap();
    }
    {
        let mut worker = tx
            .prepare(
                "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, first_seen, last_seen, previous_seen) \
                 VALUES (1, ?1, ?2, ?3, 'ACTIVE', ?4, ?5, ?5 - 86400)",
            )
            .unwrap();
        let mut series = tx
            .prepare(
                "INSERT INTO series (series_id, account_id, worker_id, dimension, watermark_ts) \
                 VALUES (?1, 1, ?2, '1h', ?3)",
            )
            .unwrap();
        let mut ticker = tx
            .prepare("INSERT INTO tickers VALUES (?1, ?2, ?3, ?4, 0)")
            .unwrap();
        series
            .execute(params![0, Option::<i64>::None, last_hour])
            .unwrap();
        for id in 1..=workers {
            worker
                .execute(params![
                    id,
                    format!("rig-{id:05}"),
                    id / 50,
                    first_hour,
                    NOW
                ])
                .unwrap();
            series.execute(params![id, id, last_hour]).unwrap();
            let mut ts = first_hour;
            while ts <= last_hour {
                let recent = ts > last_hour - 5 * HOUR;
                let (hashrate, reject) = match id % 100 {
                    7 if recent => (0.0, 0.0),
                    8 if recent => (1e13, 0.005),
                    9 if recent => (1e14, 0.08),
                    _ => (1e14 * (1.0 + (id + ts / HOUR) as f64 % 7.0 / 100.0), 0.005),
                };
                ticker.execute(params![id, ts, hashrate, reject]).unwrap();
                ts += HOUR;
            }
        }
        let mut ts = first_hour;
        while ts <= last_hour {
            ticker
                .execute(params![0, ts, 1e14 * workers as f64, 0.005])
                .unwrap();
            ts += HOUR;
        }
    }
    tx.execute(
        "INSERT INTO ingest_runs (started_at, finished_at, status, puids, accounts) \
         VALUES (?1, ?1, 'ok', '1', 'cloverpool:1')",
        [NOW - 600],
    )
    .unwrap();
    tx.commit().unwrap();
    conn.execute_batch(include_str!("../queries/rebuild_hourly_by_day.sql"))
        .unwrap();
    conn
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let sizes: Vec<i64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000]
    } else {
        sizes
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-alerts");
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| workers | hourly rows | build s | first evaluation ms | next evaluations ms (median of 5) | alerts open | metrics textfile ms | samples |");
    println!("|---|---|---|---|---|---|---|---|");
    for workers in sizes {
        let db = dir.join(format!("alerts-{workers}.db"));
        let started = Instant::now();
        let conn = build(&db, workers);
        let build_s = started.elapsed().as_secs_f64();
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM tickers", [], |r| r.get(0))
            .unwrap();
        drop(conn);
        let settings = poolhist::watch::rules::RuleSettings::default();
        let started = Instant::now();
        let told = runtime
            .block_on(poolhist::watch::evaluate(&db, &settings, &[], NOW))
            .expect("evaluation");
        let first_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut next = Vec::new();
        for i in 1..=5 {
            let started = Instant::now();
            runtime
                .block_on(poolhist::watch::evaluate(&db, &settings, &[], NOW + i * 60))
                .expect("evaluation");
            next.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let conn = poolhist::store::open_read_only(&db).unwrap();
        let textfile = dir.join(format!("poolhist-{workers}.prom"));
        let started = Instant::now();
        if let Err(e) = poolhist::watch::metrics::write_textfile(&conn, &textfile, NOW) {
            eprintln!("metrics: {e}");
        }
        let metrics_ms = started.elapsed().as_secs_f64() * 1000.0;
        let samples = std::fs::read_to_string(&textfile)
            .map(|t| {
                t.lines()
                    .filter(|l| !l.starts_with('#') && !l.is_empty())
                    .count()
            })
            .unwrap_or(0);
        println!(
            "| {workers} | {rows} | {build_s:.1} | {first_ms:.0} | {:.0} | {} | {metrics_ms:.0} | {samples} |",
            median(next),
            told.evaluation.firing
        );
    }
}
