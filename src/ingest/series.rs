//! Fetching one series: page forward from its start until now, handing each page to the writer.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::plan::{self, count_for, expired_gap, normalize_page, NormalizedPage, SeriesStart};
use crate::api::response::ShareHistory;
use crate::api::{ApiError, Dimension, PoolClient};
use crate::store::{PageWrite, SeriesState};

/// A page with rejected points is asked for again this many times: a pool that garbled a real
/// point once usually sends it right the next time, and the watermark must not pass it unseen.
const REFETCHES_ON_REJECT: u32 = 2;

/// What the fetchers learn and count, shared by all of them.
#[derive(Debug, Default)]
pub struct FetchShared {
    /// Per endpoint kind (account, worker) and dimension (hour, day): the most ticker elements
    /// (nulls included) one answer has held, 0 until seen. An empty page advances the cursor by
    /// this much, so never by more slots than the pool is known to serve per request, whatever
    /// cap it applies silently.
    slots_per_request: [[AtomicU32; 2]; 2],
    pub tickers_fetched: AtomicU64,
    pub tickers_rejected: AtomicU64,
    pub series_done: AtomicU64,
    /// Worker series skipped because the pool no longer knows the worker.
    pub series_skipped: AtomicU64,
    /// Share-history windows the pool answered with an empty `data`, taken as "no data".
    pub empty_windows: AtomicU64,
}

impl FetchShared {
    fn slots_cell(&self, is_worker: bool, dimension: Dimension) -> &AtomicU32 {
        &self.slots_per_request[usize::from(is_worker)][usize::from(dimension == Dimension::Day)]
    }

    fn learn_slots(&self, is_worker: bool, dimension: Dimension, elements: u32) {
        self.slots_cell(is_worker, dimension)
            .fetch_max(elements, Ordering::Relaxed);
    }

    /// How far an empty page may advance: what this endpoint has shown, else what the account
    /// endpoint has shown, else a count every client of this API uses.
    fn known_slots(&self, is_worker: bool, dimension: Dimension) -> u32 {
        let own = self
            .slots_cell(is_worker, dimension)
            .load(Ordering::Relaxed);
        let account = self.slots_cell(false, dimension).load(Ordering::Relaxed);
        [own, account, plan::MIN_ASSUMED_SLOTS]
            .into_iter()
            .find(|n| *n > 0)
            .unwrap_or(plan::MIN_ASSUMED_SLOTS)
    }
}

/// Why fetching a series stopped early.
#[derive(Debug)]
pub enum FetchError {
    Api(ApiError),
    /// The writer is gone (it failed, or the run was cancelled).
    WriterClosed,
}

/// One series to fetch, with where it starts.
#[derive(Debug, Clone)]
pub struct SeriesJob {
    pub state: SeriesState,
    pub start: SeriesStart,
    pub retention_slots: u32,
}

pub async fn fetch_series(
    client: &PoolClient,
    job: &SeriesJob,
    now: i64,
    shared: &Arc<FetchShared>,
    writer: &mpsc::Sender<PageWrite>,
) -> Result<(), FetchError> {
    let dimension = job.state.dimension;
    let is_worker = job.state.worker_id.is_some();
    let step = dimension.step_seconds();
    let last_final = plan::last_final_ts(now, dimension);
    let mut cursor = job.start.start_ts;
    let mut first_served: Option<i64> = None;
    let mut live_ts: Option<i64> = None;
    loop {
        let count = count_for(cursor, now, dimension);
        let page = match fetch_page(client, job, cursor, count, now, shared).await {
            Ok(page) => page,
            Err(error) if is_worker && worker_is_gone(&error) => {
                // Deleted between listing and fetching: nothing to copy; its watermark stays.
                tracing::warn!("skipping a worker the pool no longer knows: {error}");
                shared.series_skipped.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Err(error) => return Err(FetchError::Api(error)),
        };
        shared
            .tickers_fetched
            .fetch_add(page.tickers.len() as u64, Ordering::Relaxed);
        shared
            .tickers_rejected
            .fetch_add(page.rejected, Ordering::Relaxed);

        let newest = page
            .tickers
            .iter()
            .map(|t| t.ts)
            .filter(|ts| *ts >= cursor)
            .max();
        let next_cursor = match newest {
            Some(newest) => newest + step,
            None => {
                let known = shared.known_slots(is_worker, dimension);
                cursor + i64::from(known.min(count).max(1)) * step
            }
        };
        if let Some(oldest) = page.tickers.first() {
            first_served = Some(first_served.map_or(oldest.ts, |f| f.min(oldest.ts)));
        }
        if let Some(live) = page.tickers.iter().rev().find(|t| t.provisional) {
            live_ts = Some(live.ts);
        }
        let finished = next_cursor > now;
        let write = PageWrite {
            series_id: job.state.series_id,
            dimension,
            tickers: page.tickers,
            covered_through: Some((next_cursor - step).min(last_final)),
            finished_at: finished.then_some(now),
            stale_provisional_before: finished.then(|| live_ts.unwrap_or(i64::MAX)),
            expired_gap: if finished {
                expired_gap(
                    job.start.expired_from,
                    first_served,
                    now,
                    dimension,
                    job.retention_slots,
                )
            } else {
                None
            },
        };
        writer
            .send(write)
            .await
            .map_err(|_| FetchError::WriterClosed)?;
        if finished {
            shared.series_done.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        cursor = next_cursor;
    }
}

/// One page, normalized: asked again while it holds rejected points (up to a bound), and an
/// empty `data` that persists through the retries read as a window without data.
async fn fetch_page(
    client: &PoolClient,
    job: &SeriesJob,
    cursor: i64,
    count: u32,
    now: i64,
    shared: &FetchShared,
) -> Result<NormalizedPage, ApiError> {
    let dimension = job.state.dimension;
    let is_worker = job.state.worker_id.is_some();
    let mut refetches = 0;
    loop {
        let history = match client
            .share_history(
                job.state.puid,
                job.state.worker_id,
                dimension,
                cursor,
                count,
            )
            .await
        {
            Ok(history) => history,
            Err(error) if error.is_empty_data() => {
                tracing::debug!("taking an empty answer as no data: {error}");
                shared.empty_windows.fetch_add(1, Ordering::Relaxed);
                ShareHistory {
                    multiplier_hs: 1.0,
                    tickers: Vec::new(),
                }
            }
            Err(error) => return Err(error),
        };
        let page = normalize_page(&history, dimension, now);
        if page.rejected == 0 || refetches >= REFETCHES_ON_REJECT {
            // Slots the answer spoke for: its points and its nulls, not the nonsense beside them.
            let slots = page.tickers.len() as u64 + page.empty;
            shared.learn_slots(is_worker, dimension, slots.min(u64::from(count)) as u32);
            return Ok(page);
        }
        refetches += 1;
    }
}

/// err_no 1 (parameter error) or HTTP 404 on a worker's history, after the account's history
/// was fetched with the same parameters: the worker is gone, not the request wrong.
fn worker_is_gone(error: &ApiError) -> bool {
    let last = match error {
        ApiError::GaveUp { last, .. } => last.as_ref(),
        other => other,
    };
    matches!(
        last,
        ApiError::Pool { code: 1, .. } | ApiError::Http { status: 404, .. }
    )
}
