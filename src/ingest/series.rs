//! Fetching one series: page forward from its start until now, handing each page to the writer.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::plan::{self, count_for, expired_gap, normalize_page, SeriesStart};
use crate::api::{ApiError, Dimension, PoolClient};
use crate::store::{PageWrite, SeriesState};

/// What the fetchers learn and count, shared by all of them.
#[derive(Debug)]
pub struct FetchShared {
    /// Per dimension (hour, day): the most slots one request has been seen to cover (0 until a
    /// page shows it). An empty page advances the cursor by this much, so never by more than the
    /// pool is known to serve, whatever cap it applies silently.
    pub slots_per_request: [AtomicU32; 2],
    pub tickers_fetched: AtomicU64,
    pub tickers_rejected: AtomicU64,
    pub series_done: AtomicU64,
}

impl Default for FetchShared {
    fn default() -> FetchShared {
        FetchShared {
            slots_per_request: [AtomicU32::new(0), AtomicU32::new(0)],
            tickers_fetched: AtomicU64::new(0),
            tickers_rejected: AtomicU64::new(0),
            series_done: AtomicU64::new(0),
        }
    }
}

impl FetchShared {
    fn slots_cell(&self, dimension: Dimension) -> &AtomicU32 {
        match dimension {
            Dimension::Hour => &self.slots_per_request[0],
            Dimension::Day => &self.slots_per_request[1],
        }
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
    let step = dimension.step_seconds();
    let last_final = plan::last_final_ts(now, dimension);
    let mut cursor = job.start.start_ts;
    let mut first_served: Option<i64> = None;
    let mut live_ts: Option<i64> = None;
    loop {
        let count = count_for(cursor, now, dimension);
        let history = client
            .share_history(
                job.state.puid,
                job.state.worker_id,
                dimension,
                cursor,
                count,
            )
            .await
            .map_err(FetchError::Api)?;
        let page = normalize_page(&history, dimension, now);
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
            Some(newest) => {
                let covered_slots = ((newest - cursor) / step + 1).min(i64::from(count)) as u32;
                shared
                    .slots_cell(dimension)
                    .fetch_max(covered_slots, Ordering::Relaxed);
                newest + step
            }
            None => {
                let known = match shared.slots_cell(dimension).load(Ordering::Relaxed) {
                    0 => plan::MIN_ASSUMED_SLOTS,
                    seen => seen,
                };
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
