//! Fetching one series: find where its history starts, page forward until now, and hand each
//! page to the writer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::locate::{locate_start, Probe, SearchBounds};
use super::plan::{self, count_for, normalize_page, NormalizedPage, Window};
use crate::http::ApiError;
use crate::model::Dimension;
use crate::pools::PoolAccount;
use crate::store::writer::WriterHandle;
use crate::store::{PageWrite, PoolKnowledge, SeriesState};

/// A page with rejected points is asked for again this many times: a pool that garbled a real
/// point once usually sends it right the next time, and the watermark must not pass it unseen.
const REFETCHES_ON_REJECT: u32 = 2;

/// Empty answers in a row after which a window where data was expected is taken as empty.
const EMPTY_ANSWERS_BELIEVED: u32 = 5;

/// What the fetchers learn and count, shared by all of them.
#[derive(Debug, Default)]
pub struct FetchShared {
    /// Per endpoint kind (account, worker) and dimension (hour, day): the most ticker elements
    /// (nulls included) one answer has held, 0 until seen. An empty page advances the cursor by
    /// this much, so never by more slots than the pool is known to serve per request, whatever
    /// cap it applies silently.
    slots_per_request: Mutex<HashMap<Endpoint, u32>>,
    pub tickers_fetched: AtomicU64,
    pub tickers_rejected: AtomicU64,
    pub series_done: AtomicU64,
    /// Worker series skipped because the pool no longer knows the worker.
    pub series_skipped: AtomicU64,
    /// Share-history windows the pool answered with an empty `data`, taken as "no data".
    pub empty_windows: AtomicU64,
    /// Series whose `--since` reached before what the pool keeps.
    pub since_before_retention: AtomicU64,
    /// Series left out of this run because one answer could not be taken, and the first error.
    pub series_failed: Mutex<(u64, Option<ApiError>)>,
    /// Per account and dimension: the newest slot the account series served this run.
    horizons: Mutex<HashMap<(i64, Dimension), i64>>, // by (account_id, dimension)
    /// Per kind of series: the oldest first point of a series whose start was seen this run.
    history_starts: Mutex<HashMap<SeriesKind, i64>>,
    /// Kinds of series whose pool was seen deleting history it had served: it keeps less now.
    shrunk: Mutex<std::collections::HashSet<SeriesKind>>,
}

/// One history endpoint of one pool: account or worker series, at one dimension.
type Endpoint = (&'static str, bool, Dimension);

/// Series that share what the pool keeps: an account's own, or its workers', at one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesKind {
    pub account_id: i64,
    pub is_worker: bool,
    pub dimension: Dimension,
}

impl FetchShared {
    fn learn_slots(&self, endpoint: Endpoint, elements: u32) {
        if let Ok(mut slots) = self.slots_per_request.lock() {
            let most = slots.entry(endpoint).or_insert(0);
            *most = (*most).max(elements);
        }
    }

    /// The pool's newest published slot for an account, once its account series is fetched.
    pub fn publication_horizon(&self, account_id: i64, dimension: Dimension) -> Option<i64> {
        let horizons = self.horizons.lock().ok()?;
        horizons.get(&(account_id, dimension)).copied()
    }

    fn set_publication_horizon(&self, account_id: i64, dimension: Dimension, newest: i64) {
        if let Ok(mut horizons) = self.horizons.lock() {
            horizons.insert((account_id, dimension), newest);
        }
    }

    /// Where the pool's history of this kind of series starts, as seen this run.
    pub fn history_start(&self, kind: SeriesKind) -> Option<i64> {
        let starts = self.history_starts.lock().ok()?;
        starts.get(&kind).copied()
    }

    /// The pool deleted this kind's history up to `first`: that is where it starts now.
    fn learn_deletion(&self, kind: SeriesKind, first: i64) {
        if let Ok(mut shrunk) = self.shrunk.lock() {
            shrunk.insert(kind);
        }
        self.learn_history_start(kind, first);
    }

    fn was_shrunk(&self, kind: SeriesKind) -> bool {
        self.shrunk
            .lock()
            .is_ok_and(|shrunk| shrunk.contains(&kind))
    }

    fn learn_history_start(&self, kind: SeriesKind, first: i64) {
        if let Ok(mut starts) = self.history_starts.lock() {
            let start = starts.entry(kind).or_insert(first);
            *start = (*start).min(first);
        }
    }

    /// What this run learned about each account's pool, to keep for the next runs.
    pub fn learned(&self, now: i64) -> Vec<PoolKnowledge> {
        let horizons = self.horizons.lock().map(|h| h.clone()).unwrap_or_default();
        let starts = self
            .history_starts
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let shrunk = self.shrunk.lock().map(|s| s.clone()).unwrap_or_default();
        let mut kinds: Vec<SeriesKind> = starts.keys().copied().collect();
        for &(account_id, dimension) in horizons.keys() {
            for is_worker in [false, true] {
                let kind = SeriesKind {
                    account_id,
                    is_worker,
                    dimension,
                };
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
        }
        kinds
            .into_iter()
            .map(|kind| {
                let step = kind.dimension.step_seconds();
                let newest = horizons.get(&(kind.account_id, kind.dimension)).copied();
                let oldest = starts.get(&kind).copied();
                let through = newest.unwrap_or_else(|| plan::floor_to_step(now, kind.dimension));
                PoolKnowledge {
                    account_id: kind.account_id,
                    is_worker: kind.is_worker,
                    dimension: kind.dimension,
                    retention_slots: oldest.map(|first| (through - first) / step + 1),
                    oldest_served_ts: oldest,
                    newest_served_ts: newest,
                    shrank: shrunk.contains(&kind),
                }
            })
            .collect()
    }

    /// How far an empty answer proves the pool has nothing: what this endpoint has shown, else a
    /// count every client of this API uses. Never what another endpoint showed: a worker
    /// endpoint may cap `count` lower than the account's.
    fn known_slots(&self, endpoint: Endpoint) -> u32 {
        let learned = match self.slots_per_request.lock() {
            Ok(slots) => slots.get(&endpoint).copied().unwrap_or(0),
            Err(_) => 0,
        };
        match learned {
            0 => plan::MIN_ASSUMED_SLOTS,
            own => own,
        }
    }
}

/// Why fetching a series stopped early.
#[derive(Debug)]
pub enum FetchError {
    Api(ApiError),
    /// The writer is gone (it failed, or the run was cancelled).
    WriterClosed,
    /// A signal stopped the run.
    Interrupted(super::Interrupted),
}

/// One series to fetch.
#[derive(Clone)]
pub struct SeriesJob {
    /// The account's pool, which serves the series.
    pub pool: Arc<PoolAccount>,
    pub state: SeriesState,
    /// How many slots the pool is expected to keep for this kind of series: learned by an
    /// earlier run, else the documented value (`--pool-*`). A first guess, checked by `locate`.
    pub retention_slots: u32,
    /// First-run backfill start (`--since`); `None`: as far back as the pool keeps.
    pub since: Option<i64>,
}

/// Nobody mined before this (2009-01-01): the floor of any search back in time.
const BITCOIN_START: i64 = 1_230_768_000;

pub async fn fetch_series(
    job: &SeriesJob,
    now: i64,
    shared: &Arc<FetchShared>,
    writer: &WriterHandle,
) -> Result<(), FetchError> {
    let is_worker = job.state.worker_id.is_some();
    match fetch_series_pages(job, now, shared, writer).await {
        Err(FetchError::Api(error)) if is_worker && job.pool.worker_is_gone(&error) => {
            // Deleted between listing and fetching: nothing to copy; its watermark stays.
            tracing::warn!("skipping a worker the pool no longer knows: {error}");
            shared.series_skipped.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(FetchError::Api(error)) if error.concerns_one_answer() => {
            // One oversized or unreadable answer costs its series, not the night's run; a pool
            // failing more series than it serves is broken, and the run stops.
            let failed = match shared.series_failed.lock() {
                Ok(mut failures) => {
                    failures.0 += 1;
                    if failures.1.is_none() {
                        failures.1 = Some(error.clone());
                    }
                    failures.0
                }
                Err(_) => u64::MAX,
            };
            let collected = shared.series_done.load(Ordering::Relaxed);
            if failed >= BROKEN_POOL_FAILURES && failed > collected {
                return Err(FetchError::Api(error));
            }
            tracing::warn!("this series is not collected this run: {error}");
            Ok(())
        }
        other => other,
    }
}

/// Failed series, when more than the series collected, that show the pool itself is broken.
const BROKEN_POOL_FAILURES: u64 = 3;

/// Pages one series forward from where it starts (learned from the pool's answers when it is
/// new or its last run lies before what the pool keeps) up to now. A page's watermark never
/// passes the pool's publication horizon, and the newest point at that horizon is provisional.
async fn fetch_series_pages(
    job: &SeriesJob,
    now: i64,
    shared: &Arc<FetchShared>,
    writer: &WriterHandle,
) -> Result<(), FetchError> {
    let dimension = job.state.dimension;
    let is_worker = job.state.worker_id.is_some();
    let account_id = job.state.account_id;
    let kind = SeriesKind {
        account_id,
        is_worker,
        dimension,
    };
    let step = dimension.step_seconds();
    let most_per_request = job.pool.facts().max_slots_per_request(dimension);
    let endpoint = (job.pool.facts().name, is_worker, dimension);
    let now_slot = plan::floor_to_step(now, dimension);
    // The account series shows where the pool's clock stands; it is fetched before the workers.
    let known_horizon = if is_worker {
        shared.publication_horizon(account_id, dimension)
    } else {
        None
    };
    let newest_slot = known_horizon.unwrap_or(now_slot).min(now_slot);
    let seen_start = shared.history_start(kind);
    let kept_by_retention = newest_slot - (i64::from(job.retention_slots.max(1)) - 1) * step;
    let expected_edge = match seen_start {
        // Where series may have holes, a start another series showed this run (perhaps a young
        // worker's) is no edge for this one: only an older start moves the search.
        Some(seen) if job.pool.facts().leaves_out_empty_buckets => seen.min(kept_by_retention),
        Some(seen) => seen,
        None => kept_by_retention,
    };
    let watermark = job.state.watermark_ts;
    let want_from = match watermark {
        // The late window, but never before the oldest point stored (a `--since` start).
        Some(w) => Some(
            (w - plan::late_window_slots(dimension) * step).max(
                job.state
                    .stored
                    .map_or(i64::MIN, |(oldest, _)| oldest.min(w + step)),
            ),
        ),
        None => job.since.map(|s| plan::floor_to_step(s, dimension)),
    };

    // A probe's answer, kept to serve as the first page when paging starts where it did.
    let probed: Mutex<Option<(i64, u32, NormalizedPage)>> = Mutex::new(None);
    let (mut cursor, edge_seen) = match want_from {
        Some(from) if from >= expected_edge => (from, false),
        _ => {
            let bounds = SearchBounds {
                lowest: want_from.unwrap_or(BITCOIN_START).max(BITCOIN_START),
                expected_edge,
                // Another series starting there proves nothing where series may have holes.
                edge_confirmed: seen_start.is_some() && !job.pool.facts().leaves_out_empty_buckets,
                newest: newest_slot,
                step,
            };
            let window_slots = || i64::from(shared.known_slots(endpoint));
            let probe = |start: i64| {
                let probed = &probed;
                async move {
                    let count = count_for(start, now, dimension, most_per_request);
                    let page = fetch_page(job, start, count, now, shared).await?;
                    let answer = Probe {
                        oldest: page.tickers.first().map(|t| t.ts),
                        slots: i64::from(shared.known_slots(endpoint).min(count)),
                    };
                    if let Ok(mut slot) = probed.lock() {
                        *slot = Some((start, count, page));
                    }
                    Ok::<_, ApiError>(answer)
                }
            };
            let located = locate_start(bounds, window_slots, probe)
                .await
                .map_err(FetchError::Api)?;
            (located.start_ts, located.edge_seen)
        }
    };
    let mut probed = probed.into_inner().ok().flatten();
    let paging_from = cursor;

    let mut first_served: Option<i64> = None;
    let mut newest_served: Option<i64> = None;
    // The page holding the newest points so far: sent once a later page shows points, so the
    // series' newest point can still be marked provisional when the run reaches the horizon.
    let mut pending: Option<PageWrite> = None;
    while cursor <= now {
        let count = count_for(cursor, now, dimension, most_per_request);
        let page = match probed.take() {
            Some((start, asked, page)) if start == cursor && asked == count => page,
            _ => fetch_page(job, cursor, count, now, shared)
                .await
                .map_err(FetchError::Api)?,
        };
        let next_cursor = match page.tickers.last() {
            Some(newest) => newest.ts + step,
            None => {
                let known = shared.known_slots(endpoint);
                cursor + i64::from(known.min(count).max(1)) * step
            }
        };
        if let Some(oldest) = page.tickers.first() {
            first_served.get_or_insert(oldest.ts);
        }
        // Pages move forward: the last point served is the newest.
        if let Some(newest) = page.tickers.last() {
            newest_served = Some(newest.ts);
        }
        // Never past what the pool has published: its newest slot is still filling.
        let published_through = known_horizon.or(newest_served).map(|h| h - step);
        let write = PageWrite {
            covered_through: published_through.map(|p| p.min(next_cursor - step)),
            tickers: page.tickers,
            ..PageWrite::empty(job.state.series_id, dimension)
        };
        pending = match pending {
            Some(mut held) if write.tickers.is_empty() => {
                held.covered_through = held.covered_through.max(write.covered_through);
                Some(held)
            }
            Some(held) => {
                writer
                    .page(held)
                    .await
                    .map_err(|_| FetchError::WriterClosed)?;
                Some(write)
            }
            None => Some(write),
        };
        cursor = next_cursor;
    }

    let mut horizon = known_horizon.or(newest_served);
    if dimension == Dimension::Day {
        // The pool's day under way, from its hourly clock: a pool that publishes a day only
        // once it is over has no point for it, and its newest day is final.
        if let Some(hour) = shared.publication_horizon(account_id, Dimension::Hour) {
            let day_under_way = plan::floor_to_step(hour, Dimension::Day);
            horizon = Some(horizon.map_or(day_under_way, |h| h.max(day_under_way)));
        }
    }
    let mut last = pending.unwrap_or_else(|| PageWrite::empty(job.state.series_id, dimension));
    if let Some(horizon) = horizon {
        // Live: this series' newest point, when it stands at or after the pool's newest slot.
        // (A worker endpoint whose hour turned after the account's read has two points there:
        // the older one is final.)
        if let Some(newest) = last.tickers.last_mut().filter(|t| t.ts >= horizon) {
            newest.provisional = true;
        }
        last.covered_through = last.covered_through.map(|c| c.min(horizon - step));
    }
    // Provisional rows older than the oldest live point of this run were live once and are
    // final at the pool now; the late window served their final value or nothing.
    let oldest_live = last.tickers.iter().find(|t| t.provisional).map(|t| t.ts);
    last.finished_at = Some(now);
    last.stale_provisional_before = oldest_live.or(horizon);
    // Points stored from the window asked for, which the pool no longer serves while it serves
    // newer ones: it deleted them, and its history of this kind now starts at `first_served`.
    let deleted = match (job.state.newest_with_hashrate, first_served) {
        (Some(newest_stored), Some(first)) => newest_stored >= paging_from && first > newest_stored,
        _ => false,
    };
    let edge_seen = edge_seen || deleted;
    if let (true, Some(first)) = (deleted, first_served) {
        shared.learn_deletion(kind, first);
    } else if let (true, Some(first)) = (edge_seen, first_served) {
        shared.learn_history_start(kind, first);
    }
    // Expired: asked for since the watermark, and the pool's history of the series now starts
    // after it (a series with no point left: where its kind's history starts). Only where the
    // search saw that start: nulls after the watermark in the pool's kept range are not expiry.
    // Nor are slots the pool still keeps: a pool may leave out buckets without shares, so a
    // first point later than what it keeps is a silent worker, not lost history (unless the
    // pool was seen deleting what it had served).
    let kept_from = match shared.history_start(kind) {
        // This run saw the pool delete history of the kind: it keeps from there now.
        Some(start) if deleted || shared.was_shrunk(kind) => start,
        _ => newest_slot - (i64::from(job.retention_slots.max(1)) - 1) * step,
    };
    last.expired_gap = watermark.filter(|_| edge_seen).and_then(|w| {
        let first = first_served.or_else(|| shared.history_start(kind))?;
        let until = if deleted { first } else { first.min(kept_from) } - step;
        (until > w).then_some((w + step, until))
    });
    if watermark.is_none() && edge_seen {
        if let (Some(since), Some(first)) = (job.since, first_served) {
            if since < first {
                shared
                    .since_before_retention
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    if !is_worker {
        if let Some(newest) = newest_served {
            shared.set_publication_horizon(account_id, dimension, newest);
        }
    }
    writer
        .page(last)
        .await
        .map_err(|_| FetchError::WriterClosed)?;
    shared.series_done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// One page, normalized: asked again while it holds rejected points (up to a bound).
async fn fetch_page(
    job: &SeriesJob,
    cursor: i64,
    count: u32,
    now: i64,
    shared: &FetchShared,
) -> Result<NormalizedPage, ApiError> {
    let dimension = job.state.dimension;
    let is_worker = job.state.worker_id.is_some();
    let window = Window {
        start_ts: cursor,
        count,
        dimension,
    };
    // An empty answer where the pool's own listing says the worker shared (or for the account)
    // is doubtful: a struggling pool may send one, and the cursor moves past it. It is asked
    // again before it is believed; a window after a worker's last share is believed at once.
    let believe_after = match job.state.worker_id {
        Some(_) if job.state.last_share_time.is_some_and(|last| last >= cursor) => {
            EMPTY_ANSWERS_BELIEVED
        }
        // The account's series: no share time to judge by; a pool that leaves out empty
        // buckets answers an empty window with an empty array, a struggling one too.
        None if job.pool.facts().leaves_out_empty_buckets => 3,
        _ => 1,
    };
    let mut refetches = 0;
    let mut empty_answers = 0;
    loop {
        let points = job.pool.series_page(job.state.worker_id, window).await?;
        if points.is_empty() {
            shared.empty_windows.fetch_add(1, Ordering::Relaxed);
            empty_answers += 1;
            if empty_answers < believe_after {
                continue;
            }
        }
        let page = normalize_page(&points, window, now);
        if page.rejected == 0 || refetches >= REFETCHES_ON_REJECT {
            shared
                .tickers_fetched
                .fetch_add(page.tickers.len() as u64, Ordering::Relaxed);
            shared
                .tickers_rejected
                .fetch_add(page.rejected + page.outside_window, Ordering::Relaxed);
            // Slots the answer spoke for: its points and its nulls, not the nonsense beside them.
            let slots = page.tickers.len() as u64 + page.empty;
            let endpoint = (job.pool.facts().name, is_worker, dimension);
            shared.learn_slots(endpoint, slots.min(u64::from(count)) as u32);
            return Ok(page);
        }
        refetches += 1;
    }
}
