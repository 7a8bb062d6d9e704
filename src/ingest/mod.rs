//! One ingest run: list each account's groups and workers, plan every series from its
//! watermark, fetch pages concurrently under the client's rate limit, and hand them to a single
//! writer thread that commits each page with its watermark.

pub mod directory;
pub mod locate;
pub mod plan;
mod progress;
pub mod series;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::api::{ApiError, ClientConfig, PoolClient};
use crate::store::{lock, LockError, PageWrite, RunTotals, Store, StoreError, WriteCounts};
pub use plan::PoolRetention;
use progress::Progress;
use series::{fetch_series, FetchError, FetchShared, SeriesJob};

/// Pages the fetchers may run ahead of the writer; bounds memory.
const WRITE_QUEUE_PAGES: usize = 256;
/// Pages the writer groups into one transaction when they queue up.
const PAGES_PER_TRANSACTION: usize = 64;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub db_path: PathBuf,
    pub client: ClientConfig,
    pub puids: Vec<i64>,
    /// First-run backfill start (Unix seconds); default: as far back as the pool keeps.
    pub since: Option<i64>,
    pub concurrency: usize,
    pub retention: PoolRetention,
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
    if options.puids.is_empty() {
        return Err(IngestError::Config(
            "no --puid given: name the sub-account(s) to collect".to_owned(),
        ));
    }
    let started = Instant::now();
    let now = options
        .now
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let client = Arc::new(PoolClient::new(options.client.clone()).map_err(IngestError::Config)?);
    let stop = stop_signal(options.handle_signals);
    tokio::pin!(stop);
    let _lock = take_lock(&options, stop.as_mut()).await?;
    let mut store = Store::open(&options.db_path)?;
    let run_id = store.begin_run(&options.puids, now)?;

    let shared = Arc::new(FetchShared::default());
    let mut summary = IngestSummary {
        run_id,
        accounts: options.puids.len(),
        ..IngestSummary::default()
    };
    let (store, outcome) =
        fetch_everything(&options, now, &client, store, &shared, &mut summary, stop).await;
    let mut store = store?;

    let (counts, mut failure) = match outcome {
        Ok(counts) => (counts, None),
        Err((counts, error)) => (counts, Some(error)),
    };
    if failure.is_none() {
        if let Ok(mut failed) = shared.series_failed.lock() {
            if let (count @ 1.., Some(first)) = (failed.0, failed.1.take()) {
                failure = Some(IngestError::SeriesNotCollected { count, first });
            }
        }
    }
    summary.requests = client.requests();
    summary.retries = client.retries();
    summary.tickers_fetched = shared.tickers_fetched.load(Ordering::Relaxed);
    summary.tickers_rejected = shared.tickers_rejected.load(Ordering::Relaxed);
    summary.counts = counts;
    summary.expired_series = counts.gaps;
    summary.series_skipped = shared.series_skipped.load(Ordering::Relaxed);
    summary.seconds = started.elapsed().as_secs_f64();
    summary.since_before_retention = shared.since_before_retention.load(Ordering::Relaxed);
    // Kept even when the run failed: what the pool showed of itself is true either way.
    store.save_pool_knowledge(&shared.learned(now), now)?;
    let totals = RunTotals {
        series_synced: shared.series_done.load(Ordering::Relaxed),
        requests: summary.requests,
        tickers_fetched: summary.tickers_fetched,
        tickers_rejected: summary.tickers_rejected,
        counts,
    };
    let finished_at = chrono::Utc::now().timestamp().max(now);
    let error_text = failure.as_ref().map(ToString::to_string);
    store.finish_run(run_id, finished_at, &totals, error_text.as_deref())?;
    match failure {
        Some(error) => Err(error),
        None => Ok(summary),
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

type Outcome = Result<WriteCounts, (WriteCounts, IngestError)>;

/// Lists, plans and fetches every account; returns the store (for the run log) and the outcome.
async fn fetch_everything(
    options: &IngestOptions,
    now: i64,
    client: &Arc<PoolClient>,
    mut store: Store,
    shared: &Arc<FetchShared>,
    summary: &mut IngestSummary,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = Interrupted>>,
) -> (Result<Store, IngestError>, Outcome) {
    // Directory first (small), on this thread; then the store moves to the writer thread.
    let mut account_jobs = Vec::new();
    let mut worker_jobs = Vec::new();
    for &puid in &options.puids {
        let listing = tokio::select! {
            listed = directory::fetch_directory(client, puid, options.max_workers) => listed,
            signal = stop.as_mut() => {
                return (Ok(store), Err((WriteCounts::default(), IngestError::Interrupted(signal))))
            }
        };
        let directory = match listing {
            Ok(d) => d,
            Err(e) => return (Ok(store), Err((WriteCounts::default(), e.into()))),
        };
        summary.workers += directory.workers.len();
        if directory.workers_capped {
            summary.accounts_capped += 1;
            tracing::warn!(
                "puid {puid}: the pool lists more than {} workers; collecting the first {} by id (raise --max-workers)",
                options.max_workers,
                options.max_workers
            );
        }
        let states = match store.upsert_directory(puid, &directory.groups, &directory.workers, now)
        {
            Ok(s) => s,
            Err(e) => return (Ok(store), Err((WriteCounts::default(), e.into()))),
        };
        let learned = match store.pool_knowledge(puid) {
            Ok(k) => k,
            Err(e) => return (Ok(store), Err((WriteCounts::default(), e.into()))),
        };
        for state in states {
            let is_worker = state.worker_id.is_some();
            // What an earlier run learned wins over the documented value.
            let retention_slots = learned
                .iter()
                .find(|k| k.is_worker == is_worker && k.dimension == state.dimension)
                .and_then(|k| k.retention_slots)
                .and_then(|slots| u32::try_from(slots).ok())
                .unwrap_or_else(|| options.retention.slots(is_worker, state.dimension));
            let job = SeriesJob {
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

    let (sender, receiver) = mpsc::channel::<PageWrite>(WRITE_QUEUE_PAGES);
    let run_id = summary.run_id;
    let writer = std::thread::spawn(move || write_loop(store, receiver, run_id, now));
    let progress = Progress::start(options.show_progress, summary.series, client, shared);

    // Account series first: they show where the pool's clock stands (its publication horizon)
    // and how many slots one request gets, which then lets empty worker pages advance safely.
    // The account's hourly series before its daily one: the hourly clock tells whether the
    // pool's newest day is over.
    let (account_hourly, account_daily): (Vec<SeriesJob>, Vec<SeriesJob>) = account_jobs
        .into_iter()
        .partition(|job| job.state.dimension == crate::api::Dimension::Hour);
    let fetch_all = async {
        for jobs in [account_hourly, account_daily, worker_jobs] {
            fetch_jobs(jobs, options.concurrency, now, client, shared, &sender).await?;
        }
        Ok(())
    };
    // On a signal the fetchers are dropped (aborted); the pages they handed over still commit.
    let result = tokio::select! {
        done = fetch_all => done,
        signal = stop.as_mut() => Err(FetchError::Interrupted(signal)),
    };
    drop(sender);
    progress.finish();
    let (store, counts, write_error) = match writer.join() {
        Ok(joined) => joined,
        Err(_) => {
            return (
                Err(IngestError::WriterGone),
                Err((WriteCounts::default(), IngestError::WriterGone)),
            )
        }
    };
    let outcome = match (write_error, result) {
        (Some(e), _) => Err((counts, IngestError::Store(e))),
        (None, Err(FetchError::Api(e))) => Err((counts, IngestError::Api(e))),
        (None, Err(FetchError::WriterClosed)) => Err((counts, IngestError::WriterGone)),
        (None, Err(FetchError::Interrupted(signal))) => {
            Err((counts, IngestError::Interrupted(signal)))
        }
        (None, Ok(())) => Ok(counts),
    };
    (Ok(store), outcome)
}

/// Runs `concurrency` fetchers over the jobs; the first error stops them all.
async fn fetch_jobs(
    jobs: Vec<SeriesJob>,
    concurrency: usize,
    now: i64,
    client: &Arc<PoolClient>,
    shared: &Arc<FetchShared>,
    sender: &mpsc::Sender<PageWrite>,
) -> Result<(), FetchError> {
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let mut fetchers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let queue = Arc::clone(&queue);
        let client = Arc::clone(client);
        let shared = Arc::clone(shared);
        let sender = sender.clone();
        fetchers.spawn(async move {
            loop {
                let job = match queue.lock() {
                    Ok(mut q) => q.pop_front(),
                    Err(_) => None,
                };
                let Some(job) = job else { return Ok(()) };
                fetch_series(&client, &job, now, &shared, &sender).await?;
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

/// The single writer: commits pages as they come, grouping queued pages into one transaction.
fn write_loop(
    mut store: Store,
    mut receiver: mpsc::Receiver<PageWrite>,
    run_id: i64,
    now: i64,
) -> (Store, WriteCounts, Option<StoreError>) {
    let mut counts = WriteCounts::default();
    let mut batch = Vec::with_capacity(PAGES_PER_TRANSACTION);
    while let Some(page) = receiver.blocking_recv() {
        batch.push(page);
        while batch.len() < PAGES_PER_TRANSACTION {
            match receiver.try_recv() {
                Ok(page) => batch.push(page),
                Err(_) => break,
            }
        }
        match store.write_pages(&batch, run_id, now) {
            Ok(written) => counts += written,
            Err(e) => {
                receiver.close();
                return (store, counts, Some(e));
            }
        }
        batch.clear();
    }
    (store, counts, None)
}
