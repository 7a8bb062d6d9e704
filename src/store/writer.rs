//! The one writer: a thread that owns the database connection for a whole ingest run and takes
//! commands over a channel (the directory upserts, the pages, the run log), so no code hands the
//! connection back and forth. Pages that queue up are grouped into one transaction; every other
//! command is its own transaction and is answered on a oneshot channel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::open::StoreError;
use super::write::{PageWrite, PoolKnowledge, RunTotals, SeriesState, Store, WriteCounts};
use crate::model::{AccountRef, Directory, PoolFacts};

/// Pages the fetchers may run ahead of the writer; bounds memory.
const QUEUE_COMMANDS: usize = 256;
/// Pages the writer groups into one transaction when they queue up.
const PAGES_PER_TRANSACTION: usize = 64;

/// An account's directory as stored: its id, the series to fetch and what earlier runs learned.
#[derive(Debug, Clone)]
pub struct StoredDirectory {
    pub account_id: i64,
    pub series: Vec<SeriesState>,
    pub learned: Vec<PoolKnowledge>,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum Command {
    BeginRun {
        accounts: Vec<AccountRef>,
        now: i64,
        reply: Reply<i64>,
    },
    UpsertDirectory {
        account: AccountRef,
        facts: PoolFacts,
        directory: Box<Directory>,
        now: i64,
        reply: Reply<StoredDirectory>,
    },
    Page(PageWrite),
    SavePoolKnowledge {
        learned: Vec<PoolKnowledge>,
        now: i64,
        reply: Reply<()>,
    },
    FinishRun {
        finished_at: i64,
        totals: RunTotals,
        error: Option<String>,
        reply: Reply<WriterOutcome>,
    },
}

/// The writer is gone, or refused pages after a failed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the database writer stopped")]
pub struct WriterClosed;

/// A failed command: the database's error, or no writer to answer.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Closed(#[from] WriterClosed),
}

/// What the pages did: rows written, and the first failed page write (after which pages were
/// refused).
#[derive(Debug, Default)]
pub struct WriterOutcome {
    pub counts: WriteCounts,
    pub page_error: Option<StoreError>,
}

/// Sends commands to the writer; cheap to clone, one per fetcher.
#[derive(Clone)]
pub struct WriterHandle {
    sender: mpsc::Sender<Command>,
    pages_refused: Arc<AtomicBool>,
}

/// Starts the writer thread on `store`; it ends when every handle is dropped.
pub fn spawn(store: Store) -> (WriterHandle, JoinHandle<WriterOutcome>) {
    let (sender, receiver) = mpsc::channel(QUEUE_COMMANDS);
    let pages_refused = Arc::new(AtomicBool::new(false));
    let refused = Arc::clone(&pages_refused);
    let thread = std::thread::spawn(move || write_loop(store, receiver, &refused));
    (
        WriterHandle {
            sender,
            pages_refused,
        },
        thread,
    )
}

impl WriterHandle {
    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(command(reply))
            .await
            .map_err(|_| WriterClosed)?;
        Ok(answer.await.map_err(|_| WriterClosed)??)
    }

    /// Starts the run's log entry (runs left `running` by a killed process are marked failed).
    pub async fn begin_run(&self, accounts: &[AccountRef], now: i64) -> Result<i64, CommandError> {
        let accounts = accounts.to_vec();
        self.ask(|reply| Command::BeginRun {
            accounts,
            now,
            reply,
        })
        .await
    }

    pub async fn upsert_directory(
        &self,
        account: &AccountRef,
        facts: PoolFacts,
        directory: Directory,
        now: i64,
    ) -> Result<StoredDirectory, CommandError> {
        let account = account.clone();
        self.ask(|reply| Command::UpsertDirectory {
            account,
            facts,
            directory: Box::new(directory),
            now,
            reply,
        })
        .await
    }

    /// Queues a page; committed with its watermark in the next transaction.
    pub async fn page(&self, page: PageWrite) -> Result<(), WriterClosed> {
        if self.pages_refused.load(Ordering::Relaxed) {
            return Err(WriterClosed);
        }
        self.sender
            .send(Command::Page(page))
            .await
            .map_err(|_| WriterClosed)
    }

    pub async fn save_pool_knowledge(
        &self,
        learned: Vec<PoolKnowledge>,
        now: i64,
    ) -> Result<(), CommandError> {
        self.ask(|reply| Command::SavePoolKnowledge {
            learned,
            now,
            reply,
        })
        .await
    }

    /// Records the run's end with the pages' counts; the first failed page write, if any, is
    /// the run's error and comes back in the outcome.
    pub async fn finish_run(
        &self,
        finished_at: i64,
        totals: RunTotals,
        error: Option<String>,
    ) -> Result<WriterOutcome, CommandError> {
        self.ask(|reply| Command::FinishRun {
            finished_at,
            totals,
            error,
            reply,
        })
        .await
    }
}

fn write_loop(
    mut store: Store,
    mut receiver: mpsc::Receiver<Command>,
    pages_refused: &AtomicBool,
) -> WriterOutcome {
    let mut outcome = WriterOutcome::default();
    let mut run: Option<(i64, i64)> = None; // (run_id, the run's clock)
    let mut batch: Vec<PageWrite> = Vec::with_capacity(PAGES_PER_TRANSACTION);
    let mut next = receiver.blocking_recv();
    while let Some(command) = next.take() {
        match command {
            Command::Page(page) => {
                batch.push(page);
                // Group what has queued up behind it; a command that is not a page ends the group.
                while batch.len() < PAGES_PER_TRANSACTION {
                    match receiver.try_recv() {
                        Ok(Command::Page(page)) => batch.push(page),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let (run_id, now) = run.unwrap_or_default();
                if outcome.page_error.is_none() {
                    match store.write_pages(&batch, run_id, now) {
                        Ok(written) => outcome.counts += written,
                        Err(e) => {
                            pages_refused.store(true, Ordering::Relaxed);
                            outcome.page_error = Some(e);
                        }
                    }
                }
                batch.clear();
            }
            Command::BeginRun {
                accounts,
                now,
                reply,
            } => {
                let result = store.begin_run(&accounts, now);
                if let Ok(run_id) = result {
                    run = Some((run_id, now));
                }
                let _ = reply.send(result);
            }
            Command::UpsertDirectory {
                account,
                facts,
                directory,
                now,
                reply,
            } => {
                let result = store
                    .upsert_directory(&account, &facts, &directory, now)
                    .and_then(|(account_id, series)| {
                        Ok(StoredDirectory {
                            account_id,
                            series,
                            learned: store.pool_knowledge(account_id)?,
                        })
                    });
                let _ = reply.send(result);
            }
            Command::SavePoolKnowledge {
                learned,
                now,
                reply,
            } => {
                let _ = reply.send(store.save_pool_knowledge(&learned, now));
            }
            Command::FinishRun {
                finished_at,
                mut totals,
                error,
                reply,
            } => {
                totals.counts = outcome.counts;
                let page_error = outcome.page_error.take();
                let error = page_error.as_ref().map(ToString::to_string).or(error);
                let result = match run {
                    Some((run_id, _)) => {
                        store.finish_run(run_id, finished_at, &totals, error.as_deref())
                    }
                    None => Ok(()),
                };
                let finished = WriterOutcome {
                    counts: outcome.counts,
                    page_error,
                };
                let _ = reply.send(result.map(|()| finished));
            }
        }
        if next.is_none() {
            next = receiver.blocking_recv();
        }
    }
    outcome
}

/// A writer that stores nothing: it counts the points of the pages it is sent and drops them
/// (other commands go unanswered). For measuring fetching alone.
pub fn discarding() -> (WriterHandle, tokio::task::JoinHandle<u64>) {
    let (sender, mut receiver) = mpsc::channel(QUEUE_COMMANDS);
    let counter = tokio::spawn(async move {
        let mut points = 0u64;
        while let Some(command) = receiver.recv().await {
            if let Command::Page(page) = command {
                points += page.tickers.len() as u64;
            }
        }
        points
    });
    let handle = WriterHandle {
        sender,
        pages_refused: Arc::new(AtomicBool::new(false)),
    };
    (handle, counter)
}
