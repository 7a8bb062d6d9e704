//! `poolhist demo`: the whole nightly path, offline. Starts the simulator on a free loopback
//! port, backfills a database from it, runs the nightly (incremental) ingest once more, and
//! prints the reports.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::DemoArgs;
use crate::commands::DEFAULT_DEMO_DB;
use crate::http::{AccessKey, ClientConfig};
use crate::ingest::{self, AccountSource, IngestOptions, RetentionGuess};
use crate::pools::cloverpool::sim::{self as simulate, SimConfig, Simulator};
use crate::pools::{cloverpool, PoolKind};

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
        accounts: vec![AccountSource {
            account: PoolKind::CloverPool
                .account(&config.puid.to_string())
                .map_err(|e| anyhow::anyhow!(e))?,
            client: ClientConfig::new(&url, key, cloverpool::PROTOCOL),
        }],
        since: None,
        concurrency: 8,
        retention: RetentionGuess {
            worker_hours: Some(config.worker_hours),
            account_hours: Some(config.account_hours),
            worker_days: Some(config.worker_days),
            account_days: Some(config.account_days),
        },
        now: None,
        show_progress: true,
        wait_for_lock: false,
        max_workers: crate::ingest::DEFAULT_MAX_WORKERS,
        handle_signals: false,
    };
    let backfill = ingest::run(options.clone())
        .await
        .context("demo backfill")?;
    println!("demo: first run   {}", backfill.line());
    let nightly = ingest::run(options).await.context("demo nightly run")?;
    println!("demo: nightly run {}", nightly.line());
    server.abort();

    print_reports(&db, &args.out)
}

/// The uptime and reject-rate reports over the last two complete days, and this month's report.
fn print_reports(db: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    use crate::report::{
        reject_rate::{RejectRateArgs, RejectRateBy},
        render::Format,
        uptime::UptimeArgs,
        MonthlyArgs, PeriodArgs, ReportCommand,
    };
    let now = chrono::Utc::now();
    let to = now.format("%Y-%m-%dT%H:00:00Z").to_string();
    let from = (now - chrono::Duration::hours(48))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    let period = PeriodArgs {
        from: Some(from),
        to: Some(to),
        month: None,
    };
    println!("\n== Uptime, last 48 hours: workers below 100 % (totals cover all) ==");
    crate::report::run_report(
        db,
        &ReportCommand::Uptime(UptimeArgs {
            period: period.clone(),
            puid: None,
            group: None,
            worker: None,
            min_uptime: Some("1".to_owned()),
            format: Format::Table,
        }),
    )?;
    println!("\n== Reject rate (accept-weighted), last 48 hours, by group ==");
    crate::report::run_report(
        db,
        &ReportCommand::RejectRate(RejectRateArgs {
            period,
            puid: None,
            group: None,
            worker: None,
            by: RejectRateBy::Group,
            format: Format::Table,
        }),
    )?;
    println!("\n== Monthly report ==");
    crate::report::run_report(
        db,
        &ReportCommand::Monthly(MonthlyArgs {
            month: now.format("%Y-%m").to_string(),
            out: out.to_owned(),
            csv: true,
            puid: None,
            top: 50,
        }),
    )?;
    println!(
        "\nTry: poolhist --db {} report uptime --format markdown | less",
        db.display()
    );
    Ok(())
}
