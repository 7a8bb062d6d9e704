//! Command-line definitions (clap). Behaviour lives in the modules each command calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "poolhist",
    version,
    about = "Collect a mining pool account's hashrate history into SQLite and report uptime and reject rates",
    long_about = None
)]
pub struct Cli {
    /// SQLite database file [default: poolhist.db; poolhist-demo.db for `demo`]
    #[arg(long, global = true, env = "POOLHIST_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy new share history from the pool into the database (the nightly job)
    Ingest(Box<IngestArgs>),
    /// Run a local pool simulator serving the API with synthetic data
    Simulate(crate::pools::cloverpool::sim::SimulateArgs),
    /// Offline demo: start the simulator, backfill a database from it, print reports
    Demo(DemoArgs),
    /// Uptime, reject-rate and monthly reports
    #[command(subcommand)]
    Report(crate::report::ReportCommand),
    /// Run a read-only SQL query on the database
    Sql(crate::report::SqlArgs),
    /// Database size, accounts, workers, series, watermarks and the last runs
    Status(crate::report::StatusArgs),
    /// Hours missing from stored history, and whether the pool can still serve them
    Gaps(crate::report::GapsArgs),
    /// Evaluate the alert rules: tell what opened and resolved (webhooks), list what fires;
    /// exit 0 when nothing fires, 3 when alerts fire, 1 on errors
    Alerts(crate::watch::AlertsArgs),
    /// Write the Prometheus metrics (node_exporter textfile format)
    Metrics(crate::watch::metrics::MetricsArgs),
    /// Database maintenance: check its integrity, vacuum it, prune history you no longer want
    #[command(subcommand)]
    Db(crate::store::maintenance::DbCommand),
    /// Export the history as Hive-partitioned Parquet for DuckDB, Spark, Trino, ClickHouse
    #[command(subcommand)]
    Export(crate::export::ExportCommand),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// TOML file listing the accounts of every pool, each with its key file (see README)
    #[arg(long, value_name = "PATH", env = "POOLHIST_CONFIG", conflicts_with_all = ["puids", "accounts"])]
    pub config: Option<PathBuf>,

    /// The pool of the accounts named on the command line: cloverpool (alias btccom) or foundry
    #[arg(
        long,
        value_name = "NAME",
        env = "POOLHIST_POOL",
        default_value = "cloverpool"
    )]
    pub pool: String,

    /// Pool API base URL [default: the pool's own: https://pool.api.cloverpool.com/v1,
    /// https://api.foundryusapool.com]
    #[arg(long, env = "POOLHIST_API_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// CloverPool sub-account id (puid); repeat for several accounts in one database
    #[arg(
        long = "puid",
        value_name = "N",
        env = "POOLHIST_PUID",
        value_delimiter = ','
    )]
    pub puids: Vec<i64>,

    /// Account as the pool names it (a Foundry sub-account name, a CloverPool puid); repeatable
    #[arg(
        long = "account",
        value_name = "NAME",
        env = "POOLHIST_ACCOUNT",
        value_delimiter = ','
    )]
    pub accounts: Vec<String>,

    /// File holding the access key (first line); otherwise env POOLHIST_ACCESS_KEY
    #[arg(long, value_name = "PATH", env = "POOLHIST_ACCESS_KEY_FILE")]
    pub access_key_file: Option<PathBuf>,

    /// First run only: backfill from a date (2026-10-01, RFC 3339) or a duration back (36h, 7d, 2w)
    /// [default: as far back as the pool keeps]
    #[arg(long, value_name = "DATE|DURATION")]
    pub since: Option<String>,

    /// Requests in flight at once
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Requests per second across all tasks (0 = no limit)
    #[arg(long, value_name = "REQ_PER_S", default_value_t = 20.0)]
    pub rate: f64,

    /// Per-request timeout, seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub timeout: u64,

    /// Attempts per request on transient failures before the run fails
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub max_attempts: u32,

    /// If another ingest holds the database, wait for it instead of failing at once
    #[arg(long)]
    pub wait: bool,

    /// Largest answer accepted from the pool, in MiB after decompression
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_body_mib: u64,

    /// Most requests one run makes, retries included; the run stops there, keeping what it fetched
    #[arg(long, value_name = "N", default_value_t = 500_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_requests: u64,

    /// Most workers collected per account; a pool listing more is cut off there, with a warning
    #[arg(long, value_name = "N", default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_workers: u64,

    /// Print nothing but errors (for cron)
    #[arg(long, short)]
    pub quiet: bool,

    /// First guess of the hours of worker hourly history the pool keeps [default: what the pool
    /// documents: 72]
    #[arg(
        long,
        value_name = "N",
        help_heading = "Pool retention (first guesses; the ingest learns the real values)"
    )]
    pub pool_worker_hours: Option<u32>,
    /// First guess of the hours of account hourly history the pool keeps [default: documented: 720]
    #[arg(
        long,
        value_name = "N",
        help_heading = "Pool retention (first guesses; the ingest learns the real values)"
    )]
    pub pool_account_hours: Option<u32>,
    /// First guess of the days of worker daily history the pool keeps [default: documented: 90]
    #[arg(
        long,
        value_name = "N",
        help_heading = "Pool retention (first guesses; the ingest learns the real values)"
    )]
    pub pool_worker_days: Option<u32>,
    /// First guess of the days of account daily history the pool keeps [default: documented,
    /// or as far back as a first run reaches: 365 days on CloverPool, 10 years on Foundry]
    #[arg(
        long,
        value_name = "N",
        help_heading = "Pool retention (first guesses; the ingest learns the real values)"
    )]
    pub pool_account_days: Option<u32>,

    /// After the run, evaluate the alert rules (as `poolhist alerts`): print what opened and
    /// resolved even with --quiet, post it to the webhooks, exit 3 when alerts fire
    #[arg(long, help_heading = "Alerts and metrics")]
    pub alerts: bool,

    /// After the run, write the Prometheus metrics to this file (node_exporter's textfile
    /// collector directory), replaced atomically
    #[arg(long, value_name = "PATH", help_heading = "Alerts and metrics")]
    pub textfile: Option<PathBuf>,

    #[command(flatten)]
    pub watch: crate::watch::WatchArgs,

    /// Pretend the time is this Unix timestamp (tests)
    #[arg(long, hide = true)]
    pub now: Option<i64>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Workers of the simulated CloverPool account
    #[arg(long, default_value_t = 120)]
    pub workers: u32,

    /// Workers of the simulated Foundry USA sub-account
    #[arg(long, default_value_t = 40)]
    pub foundry_workers: u32,

    /// Nightly runs to replay, one simulated day apart, ending now [default: from the first day
    /// of last month, so that its monthly report is whole]
    #[arg(long, value_name = "N")]
    pub nights: Option<u32>,

    /// Seed of the simulated farm
    #[arg(long, default_value_t = 7)]
    pub seed: u64,

    /// Directory for the monthly report files
    #[arg(long, value_name = "DIR", default_value = "poolhist-demo-report")]
    pub out: PathBuf,
}

/// `poolhist simulate --pool foundry [OPTIONS]`: the Foundry USA simulator's own options.
#[derive(Debug, Parser)]
#[command(
    name = "poolhist simulate --pool foundry",
    about = "Run a local Foundry USA API simulator with synthetic data and the API's quirks"
)]
pub struct FoundrySimulateCli {
    #[command(flatten)]
    pub args: crate::pools::foundry::sim::FoundrySimulateArgs,
}

impl FoundrySimulateCli {
    /// The Foundry simulator's command line, when `args` (the process's) ask for it:
    /// `simulate` with `--pool foundry` (or `--pool=foundry`), which is taken out.
    pub fn wanted(args: &[String]) -> Option<Vec<String>> {
        // The subcommand: the first word that is neither a flag nor the value of `--db`.
        let simulate = (1..args.len()).find(|&i| {
            !args[i].starts_with('-') && args.get(i - 1).is_none_or(|before| before != "--db")
        })?;
        if args[simulate] != "simulate" {
            return None;
        }
        let mut rest: Vec<String> = args[simulate + 1..].to_vec();
        let pool_at = rest
            .iter()
            .position(|a| a == "--pool" || a.starts_with("--pool="))?;
        let name = match rest[pool_at].strip_prefix("--pool=") {
            Some(name) => name.to_owned(),
            None => rest.get(pool_at + 1)?.clone(),
        };
        if crate::pools::PoolKind::parse(&name) != Some(crate::pools::PoolKind::Foundry) {
            return None;
        }
        let taken = if rest[pool_at].starts_with("--pool=") {
            1
        } else {
            2
        };
        rest.drain(pool_at..pool_at + taken);
        let mut command_line = vec!["poolhist simulate --pool foundry".to_owned()];
        command_line.extend(rest);
        Some(command_line)
    }
}

/// Parses `--since`: a date (UTC midnight), an RFC 3339 time, or a duration back from `now`.
pub fn parse_since(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .ok_or_else(|| format!("--since {text}: not a valid date"));
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp());
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("--since {text}: give a date (2026-10-01), an RFC 3339 time or a duration (36h, 7d, 2w)"))?;
    let (number, unit) = text.split_at(split);
    let amount: i64 = number
        .parse()
        .map_err(|_| format!("--since {text}: the duration needs a number before its unit"))?;
    let seconds = match unit {
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
            "--since {text}: unknown unit {unit:?} (use h, d or w; or a date such as 2026-10-01)"
        ))
        }
    };
    Ok(now - amount.saturating_mul(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulate_with_pool_foundry_takes_the_foundry_simulators_options() {
        let args = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            FoundrySimulateCli::wanted(&args("poolhist simulate --pool foundry --workers 3")),
            Some(vec![
                "poolhist simulate --pool foundry".to_owned(),
                "--workers".to_owned(),
                "3".to_owned()
            ])
        );
        let with_db = args("poolhist --db x.db simulate --pool=foundry");
        assert_eq!(
            FoundrySimulateCli::wanted(&with_db).map(|a| a.len()),
            Some(1)
        );
        for other in [
            "poolhist simulate --workers 3",
            "poolhist simulate --pool cloverpool",
            "poolhist sql simulate --pool foundry",
            "poolhist --db simulate report uptime --pool foundry",
        ] {
            assert_eq!(FoundrySimulateCli::wanted(&args(other)), None, "{other}");
        }
    }

    #[test]
    fn since_takes_dates_times_and_durations() {
        let now = 1_764_072_000;
        assert_eq!(parse_since("2025-11-25", now), Ok(1_764_028_800));
        assert_eq!(parse_since("2025-11-25T01:00:00Z", now), Ok(1_764_032_400));
        assert_eq!(parse_since("36h", now), Ok(now - 36 * 3_600));
        assert_eq!(parse_since("2w", now), Ok(now - 14 * 86_400));
        assert!(parse_since("2025-13-01", now).is_err());
        assert!(parse_since("3 fortnights", now)
            .unwrap_err()
            .contains("--since"));
    }
}
