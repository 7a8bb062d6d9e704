//! `poolhist demo`: the whole nightly path, offline. Starts the simulator on a free loopback
//! port, backfills a database from it, runs the nightly (incremental) ingest once more, and
//! prints the reports.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::api::{AccessKey, ClientConfig};
use crate::cli::DemoArgs;
use crate::commands::DEFAULT_DEMO_DB;
use crate::ingest::{self, IngestOptions, PoolRetention};
use crate::simulate::{self, SimConfig, Simulator};

pub async fn demo_command(args: &DemoArgs, db: Option<PathBuf>) -> anyhow::Result<()> {
    let db = db.unwrap_or_else(|| PathBuf::from(DEFAULT_DEMO_DB));
    let config = SimConfig {
        workers: args.workers,
        seed: args.seed,
        ..SimConfig::default()
    };
    let sim = Arc::new(Simulator::new(config.clone()));
    let (url, server) = simulate::spawn_local(Arc::clone(&sim))
        .await
        .context("cannot start the simulated pool on loopback")?;
    println!(
        "demo: simulated pool with {} workers (seed {}) at {url}",
        config.workers, config.seed
    );
    println!("demo: database {}", db.display());

    let key = AccessKey::new(config.access_key.clone()).map_err(|e| anyhow::anyhow!(e))?;
    let options = IngestOptions {
        db_path: db.clone(),
        client: ClientConfig::new(&url, key),
        puids: vec![config.puid],
        since: None,
        concurrency: 8,
        retention: PoolRetention {
            worker_hours: config.worker_hours,
            account_hours: config.account_hours,
            worker_days: config.worker_days,
            account_days: config.account_days,
        },
        now: None,
        show_progress: true,
        wait_for_lock: false,
    };
    let backfill = ingest::run(options.clone())
        .await
        .context("demo backfill")?;
    println!("demo: first run   {}", backfill.line());
    let nightly = ingest::run(options).await.context("demo nightly run")?;
    println!("demo: nightly run {}", nightly.line());
    server.abort();

    print_plain_summary(&db)
}

/// A plain SQL summary of the last two complete days (the full reports are `poolhist report`).
fn print_plain_summary(db: &std::path::Path) -> anyhow::Result<()> {
    let conn = crate::store::open_read_only(db)?;
    let mut stmt = conn.prepare(
        "WITH recent AS (
           SELECT worker_id, worker_name, hashrate_hs, reject_rate FROM v_tickers
           WHERE dimension = '1h' AND worker_id IS NOT NULL AND NOT provisional
             AND ts >= (SELECT max(ts) FROM v_tickers WHERE dimension = '1h' AND NOT provisional) - 47 * 3600)
         SELECT worker_name, sum(hashrate_hs > 0) AS hours_up, count(*) AS hours,
                sum(hashrate_hs * reject_rate) / nullif(sum(hashrate_hs), 0) AS reject_rate
         FROM recent GROUP BY worker_id ORDER BY 1.0 * hours_up / hours, reject_rate DESC LIMIT 10",
    )?;
    println!("\nworst 10 workers over the last 48 stored hours:");
    println!("{:<40} {:>9} {:>12}", "worker", "uptime", "reject rate");
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<f64>>(3)?,
        ))
    })?;
    for row in rows {
        let (name, up, total, reject) = row?;
        println!(
            "{:<40} {:>8.1}% {:>11.3}%",
            name,
            100.0 * up as f64 / total.max(1) as f64,
            100.0 * reject.unwrap_or(0.0)
        );
    }
    Ok(())
}
