//! Glue between the CLI and the modules: resolve options, run, print, map errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::api::{secret::redact, AccessKey, ClientConfig};
use crate::cli::{parse_since, IngestArgs};
use crate::ingest::{self, IngestOptions, PoolRetention};

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

pub fn ingest_options(
    args: &IngestArgs,
    db: PathBuf,
    key: AccessKey,
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
    if !(args.api_url.starts_with("http://") || args.api_url.starts_with("https://")) {
        bail!(
            "--api-url {}: must start with http:// or https://",
            args.api_url
        );
    }
    let mut client = ClientConfig::new(&args.api_url, key);
    client.timeout = Duration::from_secs(args.timeout.max(1));
    client.rate_per_second = (args.rate > 0.0).then_some(args.rate);
    client.max_attempts = args.max_attempts;
    client.max_body_bytes = args.max_body_mib * 1024 * 1024;
    client.max_requests = args.max_requests;
    Ok(IngestOptions {
        db_path: db,
        client,
        puids: args.puids.clone(),
        since,
        concurrency: usize::from(args.concurrency),
        retention: PoolRetention {
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

pub async fn ingest_command(args: &IngestArgs, db: Option<PathBuf>) -> anyhow::Result<()> {
    let key = resolve_access_key(args.access_key_file.as_deref())?;
    let secret = key.expose().to_owned();
    crate::logging::register_secret(&secret);
    let db = db.unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
    let options = ingest_options(args, db, key)?;
    match ingest::run(options).await {
        Ok(summary) => {
            if !args.quiet {
                crate::report::output::print(&format!("{}\n", summary.line()))?;
            }
            Ok(())
        }
        Err(ingest::IngestError::Interrupted(interrupted)) => Err(interrupted.into()),
        // Errors are redacted where they are made; this is the last line of defence.
        Err(e) => Err(anyhow!(redact(&e.to_string(), &secret))),
    }
}
