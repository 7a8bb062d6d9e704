//! One ingest run: list each account's groups and workers at its pool, plan every series from
//! its watermark, fetch pages concurrently under the clients' rate limits, and hand them to the
//! one writer thread, which commits each page with its watermark.

pub mod locate;
pub mod plan;
mod progress;
pub mod series;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::http::{ApiError, ClientConfig, ClientCounters};
use crate::model::{AccountRef, Dimension};
use crate::pools::PoolAccount;
use crate::store::writer::{self, CommandError, WriterHandle};
use crate::store::{lock, LockError, RunTotals, Store, StoreError, WriteCounts};
pub use plan::{PoolRetention, RetentionGuess};
use progress::Progress;
use series::{fetch_series, FetchError, FetchShared, SeriesJob};

/// Workers listed per account at most unless `--max-workers` says otherwise: far above any farm
/// (a few hundred bytes each in memory), far below what would exhaust the machine.
pub const DEFAULT_MAX_WORKERS: usize = 200_000;

/// One account to collect, and how to reach its pool.
#[derive(Debug, Clone)]
pub struct AccountSource {
    pub account: AccountRef,
    /// Base URL, key and HTTP settings; the pool's own protocol is applied on connecting.
    pub client: ClientConfig,
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub db_path: PathBuf,
    pub accounts: Vec<AccountSource>,
    /// First-run backfill start (Unix seconds); default: as far back as the pool keeps.
    pub since: Option<i64>,
    /// Requests in flight at once, across accounts.
    pub concurrency: usize,
    /// First guesses of what the pools keep (`--pool-*`), over each pool's documented values.
    pub retention: RetentionGuess,
    /// The run's clock; `None` reads the system clock.
    pub now: Option<i64>,
    pub show_progress: bool,
    /// Wait for another ingest on the same database instead of failing at once.
    pub wait_for_lock: bool,
    /// Most workers listed per account; a pool listing more is cut off there, with a warning.
    pub max_workers: usize,
    /// Stop cleanly on SIGINT / SIGTERM (the command line); off for in-process callers.
    pub handle_signals: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestSummary {
    pub run_id: i64,
    pub accounts: usize,
    pub workers: usize,
    pub series: u64,
    pub requests: u64,
    pub retries: u64,
    pub tickers_fetched: u64,
    pub tickers_rejected: u64,
    pub counts: WriteCounts,
    /// Series whose unfetched history had already expired at the pool.
    pub expired_series: u64,
    /// Worker series skipped because the pool no longer knows the worker.
    pub series_skipped: u64,
    /// Series whose `--since` reached before what the pool keeps.
    pub since_before_retention: u64,
    /// Accounts whose worker list was cut off at `max_workers`.
    pub accounts_capped: u64,
    pub seconds: f64,
}

impl IngestSummary {
    /// The one line printed at the end of a run.
    pub fn line(&self) -> String {
        let mut line = format!(
            "ingest ok: {} account(s), {} workers, {} series, {} requests ({} retried), {} tickers: {} rows new, {} updated in {:.2} s",
            self.accounts,
            self.workers,
            self.series,
            self.requests,
            self.retries,
            self.tickers_fetched,
            self.counts.rows_new,
            self.counts.rows_updated,
            self.seconds
        );
        if self.tickers_rejected > 0 {
            line.push_str(&format!(
                "; {} nonsense tickers rejected (outside the window asked for, hashrate negative or beyond any network, reject outside 0..100 %, bad or future timestamp)",
                self.tickers_rejected
            ));
        }
        if self.expired_series > 0 {
            line.push_str(&format!(
                "; WARNING: history of {} series expired at the pool before it was collected (last run too long ago): see `poolhist gaps`",
                self.expired_series
            ));
        }
        if self.series_skipped > 0 {
            line.push_str(&format!(
                "; {} worker series skipped: the pool no longer knows those workers",
                self.series_skipped
            ));
        }
        if self.accounts_capped > 0 {
            line.push_str(&format!(
                "; WARNING: the worker list of {} account(s) was cut off at --max-workers",
                self.accounts_capped
            ));
        }
        if self.since_before_retention > 0 {
            line.push_str(&format!(
                "; note: --since reaches before what the pool keeps for {} series",
                self.since_before_retention
            ));
        }
        line
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{account}: {error}")]
    Account { account: String, error: ApiError },
    #[error("{0}")]
    Locked(#[from] LockError),
    #[error("{0}")]
    Config(String),
    #[error("the database writer stopped unexpectedly")]
    WriterGone,
    #[error("{0}")]
    Interrupted(Interrupted),
    #[error("{count} series not collected this run (all others were); the first: {first}")]
    SeriesNotCollected { count: u64, first: ApiError },
}

/// The run was stopped by a signal; what had been fetched is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by {signal}: the pages fetched so far are committed; the next run resumes from there")]
pub struct Interrupted {
    pub signal: &'static str,
}

impl Interrupted {
    /// The shell's convention: 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        match self.signal {
            "SIGINT" => 130,
            _ => 143,
        }
    }
}

/// Resolves when SIGINT (Ctrl-C) or SIGTERM arrives; never when `listen` is false.
async fn stop_signal(listen: bool) -> Interrupted {
    if !listen {
        return std::future::pending().await;
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => Interrupted { signal: "SIGINT" },
                _ = terminate.recv() => Interrupted { signal: "SIGTERM" },
            };
        }
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => Interrupted { signal: "SIGINT" },
        Err(_) => std::future::pending().await,
    }
}

pub async fn run(options: IngestOptions) -> Result<IngestSummary, IngestError> {
    if options.accounts.is_empty() {
        return Err(IngestError::Config(
            "no account given: name the accounts to collect (--puid, --pool foundry --account NAME, or --config)"
                .to_owned(),
        ));
    }
    let started = Instant::now();
    let now = options
        .now
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let counters = Arc::new(ClientCounters::default());
    let mut pools = Vec::with_capacity(options.accounts.len());
    for source in &options.accounts {
        let pool = PoolAccount::connect(
            &source.account,
            source.client.clone(),
            Arc::clone(&counters),
        )
        .map_err(IngestError::Config)?;
        pools.push(Arc::new(pool));
    }
    let stop = stop_signal(options.handle_signals);
    tokio::pin!(stop);
    let _lock = take_lock(&options, stop.as_mut()).await?;
    let store = Store::open(&options.db_path)?;
    let (writer, writer_thread) = writer::spawn(store);
    let accounts: Vec<AccountRef> = pools.iter().map(|p| p.account().clone()).collect();
    let run_id = writer
        .begin_run(&accounts, now)
        .await
        .map_err(command_error)?;

    let shared = Arc::new(FetchShared::default());
    let mut summary = IngestSummary {
        run_id,
        accounts: pools.len(),
        ..IngestSummary::default()
    };
    let progress = Progress::start(options.show_progress, &counters, &shared);
    let outcome = fetch_everything(
        &options,
        now,
        &pools,
        &writer,
        &shared,
        &mut summary,
        &progress,
        stop,
    )
    .await;
    progress.finish();
    let mut failure = outcome.err();
    if failure.is_none() {
        if let Ok(mut failed) = shared.series_failed.lock() {
            if let (count @ 1.., Some(first)) = (failed.0, failed.1.take()) {
                failure = Some(IngestError::SeriesNotCollected { count, first });
            }
        }
    }
    summary.requests = counters.requests();
    summary.retries = counters.retries();
    summary.tickers_fetched = shared.tickers_fetched.load(Ordering::Relaxed);
    summary.tickers_rejected = shared.tickers_rejected.load(Ordering::Relaxed);
    summary.series_skipped = shared.series_skipped.load(Ordering::Relaxed);
    summary.since_before_retention = shared.since_before_retention.load(Ordering::Relaxed);
    // Kept even when the run failed: what the pool showed of itself is true either way.
    writer
        .save_pool_knowledge(shared.learned(now), now)
        .await
        .map_err(command_error)?;
    let totals = RunTotals {
        series_synced: shared.series_done.load(Ordering::Relaxed),
        requests: summary.requests,
        tickers_fetched: summary.tickers_fetched,
        tickers_rejected: summary.tickers_rejected,
        counts: WriteCounts::default(),
    };
    let finished_at = chrono::Utc::now().timestamp().max(now);
    let error_text = failure.as_ref().map(ToString::to_string);
    let pages = writer
        .finish_run(finished_at, totals, error_text)
        .await
        .map_err(command_error)?;
    drop(writer);
    if writer_thread.join().is_err() {
        return Err(IngestError::WriterGone);
    }
    summary.counts = pages.counts;
    summary.expired_series = pages.counts.gaps;
    summary.seconds = started.elapsed().as_secs_f64();
    // A failed page write is the run's failure: the pages after it were not committed.
    if let Some(error) = pages.page_error {
        return Err(IngestError::Store(error));
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(summary),
    }
}

fn command_error(error: CommandError) -> IngestError {
    match error {
        CommandError::Store(e) => IngestError::Store(e),
        CommandError::Closed(_) => IngestError::WriterGone,
    }
}

/// The database's ingest lock; with `--wait`, asked again every half second until it is free
/// (a signal ends the wait: nothing was written yet).
async fn take_lock(
    options: &IngestOptions,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = Interrupted>>,
) -> Result<crate::store::IngestLock, IngestError> {
    let mut said_waiting = false;
    loop {
        let db_path = options.db_path.clone();
        let attempt = tokio::task::spawn_blocking(move || lock::acquire(&db_path))
            .await
            .map_err(|_| IngestError::WriterGone)?;
        match attempt {
            Err(LockError::Held { since, .. }) if options.wait_for_lock => {
                if !said_waiting {
                    tracing::info!("waiting for another ingest, running since {since}");
                    said_waiting = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    signal = stop.as_mut() => return Err(IngestError::Interrupted(signal)),
                }
            }
            other => return Ok(other?),
        }
    }
}

/// Lists, plans and fetches every account. Directory first (small), then the series.
#[allow(clippy::too_many_arguments)]
async fn fetch_everything(
    options: &IngestOptions,
    now: i64,
    pools: &[Arc<PoolAccount>],
    writer: &WriterHandle,
    shared: &Arc<FetchShared>,
    summary: &mut IngestSummary,
    progress: &Progress,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = Interrupted>>,
) -> Result<(), IngestError> {
    let mut account_jobs = Vec::new();
    let mut worker_jobs = Vec::new();
    for pool in pools {
        let account = pool.account();
        let listing = tokio::select! {
            listed = pool.directory(options.max_workers, now) => listed,
            signal = stop.as_mut() => return Err(IngestError::Interrupted(signal)),
        };
        let directory = listing.map_err(|error| IngestError::Account {
            account: account.to_string(),
            error,
        })?;
        summary.workers += directory.workers.len();
        if directory.workers_capped {
            summary.accounts_capped += 1;
            tracing::warn!(
                "{account}: the pool lists more than {} workers; collecting the first {} by id (raise --max-workers)",
                options.max_workers,
                options.max_workers
            );
        }
        let stored = writer
            .upsert_directory(account, pool.facts(), directory, now)
            .await
            .map_err(command_error)?;
        let documented = options.retention.over(pool.facts().documented_retention);
        for state in stored.series {
            let is_worker = state.worker_id.is_some();
            // What an earlier run learned wins over the documented value.
            let retention_slots = stored
                .learned
                .iter()
                .find(|k| k.is_worker == is_worker && k.dimension == state.dimension)
                .and_then(|k| k.retention_slots)
                .and_then(|slots| u32::try_from(slots).ok())
                .unwrap_or_else(|| documented.slots(is_worker, state.dimension));
            let job = SeriesJob {
                pool: Arc::clone(pool),
                state,
                retention_slots,
                since: options.since,
            };
            if is_worker {
                worker_jobs.push(job);
            } else {
                account_jobs.push(job);
            }
        }
    }
    summary.series = (account_jobs.len() + worker_jobs.len()) as u64;
    progress.set_series(summary.series);

    // Account series first: they show where each pool's clock stands (its publication horizon)
    // and how many slots one request gets, which then lets empty worker pages advance safely.
    // The account's hourly series before its daily one: the hourly clock tells whether the
    // pool's newest day is over.
    let (account_hourly, account_daily): (Vec<SeriesJob>, Vec<SeriesJob>) = account_jobs
        .into_iter()
        .partition(|job| job.state.dimension == Dimension::Hour);
    let fetch_all = async {
        for jobs in [account_hourly, account_daily, worker_jobs] {
            fetch_jobs(jobs, options.concurrency, now, shared, writer).await?;
        }
        Ok(())
    };
    // On a signal the fetchers are dropped (aborted); the pages they handed over still commit.
    let result = tokio::select! {
        done = fetch_all => done,
        signal = stop.as_mut() => Err(FetchError::Interrupted(signal)),
    };
    match result {
        Ok(()) => Ok(()),
        Err(FetchError::Api(e)) => Err(IngestError::Api(e)),
        Err(FetchError::WriterClosed) => Err(IngestError::WriterGone),
        Err(FetchError::Interrupted(signal)) => Err(IngestError::Interrupted(signal)),
    }
}

/// Runs `concurrency` fetchers over the jobs; the first error stops them all.
async fn fetch_jobs(
    jobs: Vec<SeriesJob>,
    concurrency: usize,
    now: i64,
    shared: &Arc<FetchShared>,
    writer: &WriterHandle,
) -> Result<(), FetchError> {
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let mut fetchers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let queue = Arc::clone(&queue);
        let shared = Arc::clone(shared);
        let writer = writer.clone();
        fetchers.spawn(async move {
            loop {
                let job = match queue.lock() {
                    Ok(mut q) => q.pop_front(),
                    Err(_) => None,
                };
                let Some(job) = job else { return Ok(()) };
                fetch_series(&job, now, &shared, &writer).await?;
            }
        });
    }
    let mut first_error = None;
    while let Some(joined) = fetchers.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                if first_error.is_none() {
                    first_error = Some(error);
                    // Stop the others now; what they already handed over is still committed.
                    fetchers.abort_all();
                }
            }
            Err(join_error) if join_error.is_cancelled() => {}
            Err(_) => {
                first_error.get_or_insert(FetchError::WriterClosed);
                fetchers.abort_all();
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}
