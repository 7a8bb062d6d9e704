//! Glue between the CLI and the modules: resolve options, run, print, map errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::cli::{parse_since, IngestArgs};
use crate::http::{secret::redact, AccessKey, ClientConfig};
use crate::ingest::{self, AccountSource, IngestOptions, RetentionGuess};
use crate::pools::{cloverpool, PoolKind};

pub const DEFAULT_DB: &str = "poolhist.db";
pub const DEFAULT_DEMO_DB: &str = "poolhist-demo.db";

/// The access key: `--access-key-file`, else env POOLHIST_ACCESS_KEY. Never a flag value.
pub fn resolve_access_key(file: Option<&Path>) -> anyhow::Result<AccessKey> {
    if let Some(path) = file {
        warn_if_readable_by_others(path);
        return AccessKey::from_file(path).map_err(|e| anyhow!(e));
    }
    match std::env::var("POOLHIST_ACCESS_KEY") {
        Ok(key) => AccessKey::new(key).map_err(|e| anyhow!("POOLHIST_ACCESS_KEY: {e}")),
        Err(_) => bail!(
            "no access key: set POOLHIST_ACCESS_KEY or pass --access-key-file PATH (a file only you can read)"
        ),
    }
}

/// Said even with `--quiet`: cron mails stderr, and this is about the setup, not the run.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                crate::logging::print_warning(&format!(
                    "access key file {} is readable by others; chmod 600 it",
                    path.display()
                ));
            }
        }
    }
}

/// The HTTP settings of `args` for one account's pool (its protocol is set on connecting).
fn client_config(args: &IngestArgs, api_url: &str, key: AccessKey) -> anyhow::Result<ClientConfig> {
    if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
        bail!("--api-url {api_url}: must start with http:// or https://");
    }
    let mut client = ClientConfig::new(api_url, key, cloverpool::PROTOCOL);
    client.timeout = Duration::from_secs(args.timeout.max(1));
    client.rate_per_second = (args.rate > 0.0).then_some(args.rate);
    client.max_attempts = args.max_attempts;
    client.max_body_bytes = args.max_body_mib * 1024 * 1024;
    client.max_requests = args.max_requests;
    Ok(client)
}

/// The accounts named on the command line: `--puid` (CloverPool) and `--account` (the
/// `--pool`'s), all sharing one key.
pub fn command_line_accounts(
    args: &IngestArgs,
    key: AccessKey,
) -> anyhow::Result<Vec<AccountSource>> {
    let pool = PoolKind::parse(&args.pool).ok_or_else(|| {
        anyhow!(
            "--pool {}: unknown pool; poolhist speaks cloverpool (alias btccom) and foundry",
            args.pool
        )
    })?;
    if !args.puids.is_empty() && pool != PoolKind::CloverPool {
        bail!(
            "--puid names CloverPool accounts; for {} give --account NAME",
            pool.name()
        );
    }
    let names = args
        .puids
        .iter()
        .map(i64::to_string)
        .chain(args.accounts.iter().cloned());
    let api_url = args
        .api_url
        .clone()
        .unwrap_or_else(|| pool.default_api_url().to_owned());
    let mut accounts = Vec::new();
    for name in names {
        let account = pool.account(&name).map_err(|e| anyhow!(e))?;
        if accounts
            .iter()
            .any(|a: &AccountSource| a.account == account)
        {
            continue;
        }
        accounts.push(AccountSource {
            account,
            client: client_config(args, &api_url, key.clone())?,
        });
    }
    if accounts.is_empty() {
        bail!(
            "no account to collect: give --puid N (CloverPool), --pool foundry --account NAME, or --config FILE"
        );
    }
    Ok(accounts)
}

pub fn ingest_options(
    args: &IngestArgs,
    db: PathBuf,
    accounts: Vec<AccountSource>,
) -> anyhow::Result<IngestOptions> {
    let now = args.now;
    let since = match &args.since {
        Some(text) => Some(
            parse_since(text, now.unwrap_or_else(|| chrono::Utc::now().timestamp()))
                .map_err(|e| anyhow!(e))?,
        ),
        None => None,
    };
    if !(args.rate.is_finite() && (args.rate == 0.0 || (0.01..=100_000.0).contains(&args.rate))) {
        bail!(
            "--rate {}: give requests per second between 0.01 and 100000, or 0 for no limit",
            args.rate
        );
    }
    Ok(IngestOptions {
        db_path: db,
        accounts,
        since,
        concurrency: usize::from(args.concurrency),
        retention: RetentionGuess {
            worker_hours: args.pool_worker_hours,
            account_hours: args.pool_account_hours,
            worker_days: args.pool_worker_days,
            account_days: args.pool_account_days,
        },
        now,
        show_progress: !args.quiet,
        wait_for_lock: args.wait,
        max_workers: usize::try_from(args.max_workers).unwrap_or(usize::MAX),
        handle_signals: true,
    })
}

/// The accounts of a config file, each with its own key file.
pub fn config_accounts(
    args: &IngestArgs,
    config: &crate::config::Config,
) -> anyhow::Result<Vec<AccountSource>> {
    let mut accounts = Vec::with_capacity(config.accounts.len());
    for entry in &config.accounts {
        let account = entry.pool.account(&entry.account).map_err(|e| anyhow!(e))?;
        let key = resolve_access_key(Some(&entry.access_key_file))
            .map_err(|e| anyhow!("{account}: {e}"))?;
        let api_url = entry
            .api_url
            .clone()
            .unwrap_or_else(|| entry.pool.default_api_url().to_owned());
        accounts.push(AccountSource {
            account,
            client: client_config(args, &api_url, key)?,
        });
    }
    Ok(accounts)
}

pub async fn ingest_command(args: &IngestArgs, db: Option<PathBuf>) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => Some(crate::config::load(path)?),
        None => None,
    };
    let accounts = match &config {
        Some(config) => config_accounts(args, config)?,
        None => {
            let key = resolve_access_key(args.access_key_file.as_deref())?;
            command_line_accounts(args, key)?
        }
    };
    let secrets: Vec<String> = accounts
        .iter()
        .map(|a| a.client.access_key.expose().to_owned())
        .collect();
    for secret in &secrets {
        crate::logging::register_secret(secret);
    }
    // Checked before the run: a typo in a rule or webhook is said before hours of fetching.
    let watch = if args.alerts {
        let settings = args.watch.settings(config.as_ref())?;
        let webhooks = args.watch.webhooks(config.as_ref())?;
        Some((settings, webhooks))
    } else {
        None
    };
    let db = db
        .or_else(|| config.as_ref().and_then(|c| c.db.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
    let options = ingest_options(args, db.clone(), accounts)?;
    let now = options.now;
    let run_error = match ingest::run(options).await {
        Ok(summary) => {
            if !args.quiet {
                crate::report::output::print(&format!("{}\n", summary.line()))?;
            }
            None
        }
        Err(ingest::IngestError::Interrupted(interrupted)) => return Err(interrupted.into()),
        // Errors are redacted where they are made; this is the last line of defence.
        Err(e) => {
            let text = secrets
                .iter()
                .fold(e.to_string(), |text, secret| redact(&text, secret));
            Some(anyhow!(text))
        }
    };
    // A failed run is when alerts matter most (history at risk): they are evaluated anyway,
    // once the database exists.
    let evaluated_at = now.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let watched = match watch.filter(|_| db.exists()) {
        Some((settings, webhooks)) => {
            Some(crate::watch::evaluate(&db, &settings, &webhooks, evaluated_at).await)
        }
        None => None,
    };
    let mut firing = 0;
    let mut watch_error = None;
    match watched {
        Some(Ok(told)) => {
            print_told(&told, args.quiet)?;
            firing = told.evaluation.firing;
        }
        Some(Err(e)) => watch_error = Some(e),
        None => {}
    }
    // The metrics are written whatever became of the alerts: they are how a failure shows.
    let metrics_error = match args.textfile.as_ref().filter(|_| db.exists()) {
        Some(path) => crate::store::open_read_only(&db)
            .map_err(anyhow::Error::from)
            .and_then(|conn| {
                crate::watch::metrics::write_textfile(&conn, path, evaluated_at)
                    .map(drop)
                    .map_err(anyhow::Error::from)
            })
            .err(),
        None => None,
    };
    // The first failure is the exit; the run's comes first, the others are said too.
    let mut errors = run_error
        .into_iter()
        .chain(watch_error)
        .chain(metrics_error);
    match errors.next() {
        Some(first) => {
            for other in errors {
                crate::logging::print_warning(&crate::logging::error_line(&other));
            }
            Err(first)
        }
        None if firing > 0 => Err(crate::watch::AlertsFiring(firing).into()),
        None => Ok(()),
    }
}

/// What `ingest --alerts` says: the summary and the alerts opened and resolved now (even with
/// `--quiet`: cron mails them), and the webhooks' problems.
fn print_told(told: &crate::watch::Told, quiet: bool) -> anyhow::Result<()> {
    for problem in &told.delivery_problems {
        crate::logging::print_warning(problem);
    }
    let changed: Vec<_> = told
        .records
        .iter()
        .filter(|r| r.change != "ongoing")
        .cloned()
        .collect();
    if !changed.is_empty() || !quiet {
        let mut out = format!("{}\n", told.summary);
        if !changed.is_empty() {
            out.push_str(&crate::watch::render_records(
                &changed,
                crate::report::Format::Table,
                "Alerts opened and resolved now",
                false,
            ));
        }
        crate::report::output::print(&out)?;
    }
    Ok(())
}
