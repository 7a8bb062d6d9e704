//! `poolhist demo`: what poolhist is for, offline. Starts a simulated CloverPool account and a
//! simulated Foundry USA sub-account on loopback, replays a month of nightly runs into one
//! database with the pools' clocks moving a day at a time (each pool keeps worker hours for 3
//! days only), and prints the reports over both.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{Datelike, TimeZone};

use crate::cli::DemoArgs;
use crate::commands::DEFAULT_DEMO_DB;
use crate::http::{AccessKey, ClientConfig};
use crate::ingest::{self, AccountSource, IngestOptions, IngestSummary};
use crate::pools::cloverpool::sim::{self as clover_sim, SimConfig, Simulator};
use crate::pools::foundry::sim::{self as foundry_sim, FoundrySim, FoundrySimConfig};
use crate::pools::{cloverpool, foundry, PoolKind};

const DAY: i64 = 86_400;

pub async fn demo_command(args: &DemoArgs, db: Option<PathBuf>) -> anyhow::Result<()> {
    let db = db.unwrap_or_else(|| PathBuf::from(DEFAULT_DEMO_DB));
    // The runs happen at this time of day, the last one now, so the reports (which read the
    // real clock) end where the collected history does.
    let now = chrono::Utc::now().timestamp();
    let today = now.div_euclid(DAY) * DAY;
    let nights = match args.nights {
        Some(n) => i64::from(n.max(1)),
        None => (today - first_of_last_month(today)) / DAY + 1,
    };
    let first_night = now - (nights - 1) * DAY;

    let clover_config = SimConfig {
        workers: args.workers,
        seed: args.seed,
        now: Some(first_night),
        ..SimConfig::default()
    };
    let clover = Arc::new(Simulator::new(clover_config.clone()));
    let (clover_url, clover_server) = clover_sim::spawn_local(Arc::clone(&clover))
        .await
        .context("cannot start the simulated CloverPool on loopback")?;
    let foundry_config = FoundrySimConfig {
        workers: args.foundry_workers,
        seed: args.seed,
        now: Some(first_night),
        ..FoundrySimConfig::default()
    };
    let foundry = Arc::new(FoundrySim::new(foundry_config.clone()));
    let (foundry_url, foundry_server) = foundry_sim::spawn_local(Arc::clone(&foundry))
        .await
        .context("cannot start the simulated Foundry USA API on loopback")?;
    println!(
        "demo: simulated CloverPool account {} ({} workers) at {clover_url}",
        clover_config.puid, clover_config.workers
    );
    println!(
        "demo: simulated Foundry USA sub-account {} ({} workers) at {foundry_url}",
        foundry_config.sub_account, foundry_config.workers
    );
    println!(
        "demo: each pool keeps worker hourly history for 3 days; replaying {nights} nightly runs \
         ({} to {}) into {}",
        date(first_night),
        date(today),
        db.display()
    );

    let key = |text: &str| AccessKey::new(text.to_owned()).map_err(|e| anyhow::anyhow!(e));
    let accounts = vec![
        AccountSource {
            account: cloverpool::account(clover_config.puid),
            client: ClientConfig::new(
                &clover_url,
                key(&clover_config.access_key)?,
                cloverpool::PROTOCOL,
            ),
        },
        AccountSource {
            account: PoolKind::Foundry
                .account(&foundry_config.sub_account)
                .map_err(|e| anyhow::anyhow!(e))?,
            client: ClientConfig::new(
                &foundry_url,
                key(&foundry_config.access_key)?,
                foundry::PROTOCOL,
            ),
        },
    ];
    let mut totals = IngestSummary::default();
    // Alerts are evaluated after each night, as `ingest --alerts` does; a database left by an
    // earlier demo has evaluations up to its own last night, and alerts are told in time order.
    let evaluated_until = crate::watch::last_evaluation(&db)?;
    let settings = crate::watch::rules::RuleSettings::default();
    let (mut opened, mut resolved) = (0, 0);
    let mut last_told = None;
    for night in 0..nights {
        let now = first_night + night * DAY;
        clover.set_now(now);
        foundry.set_now(now);
        let options = IngestOptions {
            db_path: db.clone(),
            accounts: accounts.clone(),
            since: None,
            concurrency: 8,
            retention: Default::default(),
            now: Some(now),
            show_progress: false,
            wait_for_lock: false,
            max_workers: ingest::DEFAULT_MAX_WORKERS,
            handle_signals: false,
        };
        let run = ingest::run(options)
            .await
            .with_context(|| format!("demo nightly run of {}", date(now)))?;
        if night == 0 || night == nights - 1 || (night + 1) % 10 == 0 {
            println!(
                "demo: night {:>2} ({}): {}",
                night + 1,
                date(now),
                run.line()
            );
        }
        totals.requests += run.requests;
        totals.counts += run.counts;
        if evaluated_until.is_none_or(|until| now >= until) {
            let told = crate::watch::evaluate(&db, &settings, &[], now).await?;
            opened += told.evaluation.opened.len();
            resolved += told.evaluation.resolved.len();
            last_told = Some(told);
        }
    }
    clover_server.abort();
    foundry_server.abort();
    println!(
        "demo: {nights} nights, {} requests, {} rows stored",
        totals.requests, totals.counts.rows_new
    );
    print_kept(&db)?;
    print_reports(&db, &args.out, last_month_of(today))?;
    if let Some(told) = last_told {
        print_alerts(&told, opened, resolved, &args.out, &db)?;
    }
    Ok(())
}

/// The alerts told over the replayed nights, what fires now, and the Prometheus textfile.
fn print_alerts(
    told: &crate::watch::Told,
    opened: usize,
    resolved: usize,
    out: &Path,
    db: &Path,
) -> anyhow::Result<()> {
    println!(
        "\n== Alerts (poolhist alerts, evaluated after every night): {opened} opened and {resolved} resolved, each told once =="
    );
    let firing: Vec<_> = told
        .records
        .iter()
        .filter(|r| r.state == "open")
        .take(8)
        .cloned()
        .collect();
    let mut text = crate::watch::render_records(
        &firing,
        crate::report::Format::Table,
        &told.summary,
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
    );
    if told.evaluation.firing > firing.len() {
        text.push_str(&format!(
            "(first {} of {}: poolhist --db {} alerts --history)\n",
            firing.len(),
            told.evaluation.firing,
            db.display()
        ));
    }
    crate::report::output::print(&text)?;
    std::fs::create_dir_all(out)?;
    let textfile = out.join("poolhist.prom");
    let conn = crate::store::open_read_only(db)?;
    let summary = crate::watch::metrics::write_textfile(&conn, &textfile, told.evaluated_at)?;
    println!(
        "demo: Prometheus metrics ({} samples) in {}",
        summary.samples,
        textfile.display()
    );
    // Beyond one machine: the same history as Parquet, for DuckDB (queries/duckdb/).
    let parquet = crate::export::ParquetArgs {
        out: out.join("parquet"),
        accounts: None,
        compression: crate::export::parquet::Compression::Zstd,
        full: false,
        quiet: true,
    };
    let exported = crate::export::export_parquet(db, &parquet, told.evaluated_at)?;
    println!(
        "demo: Parquet export ({} partition files, {} rows) in {} (queries/duckdb/README.md)",
        exported.written + exported.unchanged,
        exported.rows_written,
        parquet.out.display()
    );
    Ok(())
}

/// UTC midnight of the first day of the month before `day`'s.
fn first_of_last_month(day: i64) -> i64 {
    let date = chrono::Utc
        .timestamp_opt(day, 0)
        .single()
        .unwrap_or_default();
    let (year, month) = match date.month() {
        1 => (date.year() - 1, 12),
        m => (date.year(), m - 1),
    };
    chrono::Utc
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .map_or(day - 31 * DAY, |d| d.timestamp())
}

/// `YYYY-MM` of the month before `day`'s.
fn last_month_of(day: i64) -> String {
    date(first_of_last_month(day))[..7].to_owned()
}

fn date(ts: i64) -> String {
    chrono::Utc
        .timestamp_opt(ts, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// What poolhist holds that the pools no longer do: days of worker hourly history per pool.
fn print_kept(db: &Path) -> anyhow::Result<()> {
    let conn = crate::store::open_read_only(db)?;
    let mut stmt = conn.prepare(
        "SELECT pool, account, count(DISTINCT worker_id), \
           (max(ts) - min(ts)) / 86400.0, count(*) \
         FROM v_tickers WHERE dimension = '1h' AND worker_id IS NOT NULL \
         GROUP BY pool, account ORDER BY pool",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, f64>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (pool, account, workers, days, hours) = row?;
        println!(
            "demo: {pool} account {account}: {hours} worker hours of {workers} workers over {days:.0} days \
             are in the database; the pool itself keeps the last 3 days"
        );
    }
    Ok(())
}

/// The uptime and reject-rate reports over the last two days, and last month's report.
fn print_reports(db: &Path, out: &Path, month: String) -> anyhow::Result<()> {
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
            accounts: None,
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
            accounts: None,
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
            month,
            out: out.to_owned(),
            csv: true,
            accounts: None,
            top: 50,
        }),
    )?;
    println!(
        "\nTry: poolhist --db {} report uptime --format markdown | less",
        db.display()
    );
    Ok(())
}
