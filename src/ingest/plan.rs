//! What to fetch: where each series starts, what the pool still keeps, what has expired, and how
//! a page of tickers becomes rows. Pure functions of the stored state and `now`.

use crate::api::model::RawTicker;
use crate::api::response::ShareHistory;
use crate::api::Dimension;
use crate::store::TickerRow;

/// The most points one request asks for. The pool's maximum is undocumented; clients use 30..720.
pub const MAX_COUNT: u32 = 720;
/// Until a page shows the pool serves more, assume a request covers at least this many slots.
pub const MIN_ASSUMED_SLOTS: u32 = 30;

/// How far back the pool keeps each kind of history, in slots of its dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolRetention {
    pub worker_hours: u32,
    pub account_hours: u32,
    pub worker_days: u32,
    pub account_days: u32,
}

impl Default for PoolRetention {
    /// The pool's open-source backend: worker hourly 3 days, account hourly 30 days, worker
    /// daily 90 days; account daily is kept, and a first run reaches back one year.
    fn default() -> PoolRetention {
        PoolRetention {
            worker_hours: 72,
            account_hours: 720,
            worker_days: 90,
            account_days: 365,
        }
    }
}

impl PoolRetention {
    pub fn slots(&self, is_worker: bool, dimension: Dimension) -> u32 {
        match (is_worker, dimension) {
            (true, Dimension::Hour) => self.worker_hours,
            (false, Dimension::Hour) => self.account_hours,
            (true, Dimension::Day) => self.worker_days,
            (false, Dimension::Day) => self.account_days,
        }
    }
}

/// Re-fetched behind the watermark on every run, for points the pool revises late.
pub fn late_window_slots(dimension: Dimension) -> i64 {
    match dimension {
        Dimension::Hour => 3,
        Dimension::Day => 2,
    }
}

pub fn floor_to_step(ts: i64, dimension: Dimension) -> i64 {
    ts.div_euclid(dimension.step_seconds()) * dimension.step_seconds()
}

/// The oldest slot the pool still serves at `now`.
pub fn horizon_ts(now: i64, dimension: Dimension, retention_slots: u32) -> i64 {
    let step = dimension.step_seconds();
    floor_to_step(now, dimension) - (i64::from(retention_slots.max(1)) - 1) * step
}

/// The newest slot that is complete at `now` (its bucket no longer fills).
pub fn last_final_ts(now: i64, dimension: Dimension) -> i64 {
    floor_to_step(now, dimension) - dimension.step_seconds()
}

/// Where a series' fetch starts, and which stored-never history has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesStart {
    pub start_ts: i64,
    /// First slot of history that expired before it was collected (the last run was too long
    /// ago); the gap runs from here up to the first point the pool still serves.
    pub expired_from: Option<i64>,
}

pub fn series_start(
    watermark_ts: Option<i64>,
    since: Option<i64>,
    now: i64,
    dimension: Dimension,
    retention_slots: u32,
) -> SeriesStart {
    let step = dimension.step_seconds();
    let horizon = horizon_ts(now, dimension, retention_slots);
    match watermark_ts {
        None => SeriesStart {
            start_ts: since.map_or(horizon, |s| floor_to_step(s, dimension)),
            expired_from: None,
        },
        Some(watermark) => {
            let resume = watermark - late_window_slots(dimension) * step;
            // Asking far behind the horizon only returns empty pages.
            let earliest_useful = horizon - late_window_slots(dimension) * step;
            let first_missing = watermark + step;
            SeriesStart {
                start_ts: resume.max(earliest_useful),
                expired_from: (first_missing < horizon).then_some(first_missing),
            }
        }
    }
}

/// The expired gap, once the run knows the first point the pool still served (if any).
pub fn expired_gap(
    expired_from: Option<i64>,
    first_served_ts: Option<i64>,
    now: i64,
    dimension: Dimension,
    retention_slots: u32,
) -> Option<(i64, i64)> {
    let from = expired_from?;
    let step = dimension.step_seconds();
    let horizon = horizon_ts(now, dimension, retention_slots);
    let until = first_served_ts.map_or(horizon, |first| first.min(horizon)) - step;
    (until >= from).then_some((from, until))
}

/// How many points to ask for from `cursor`: no more than the slots up to now.
pub fn count_for(cursor: i64, now: i64, dimension: Dimension) -> u32 {
    let remaining = (now - cursor).div_euclid(dimension.step_seconds()) + 1;
    remaining.clamp(1, i64::from(MAX_COUNT)) as u32
}

/// A page of share history turned into rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormalizedPage {
    /// Valid points, sorted by time, one per timestamp.
    pub tickers: Vec<TickerRow>,
    /// Nonsense points that were not stored (see `normalize_page`).
    pub rejected: u64,
    /// Slots the pool sent as null or without a value.
    pub empty: u64,
}

/// Applies the stated rules: a point is stored when its timestamp is a whole hour (for daily
/// points: the day boundary the page's points agree on) not after `now`, its hashrate is >= 0 and its reject percentage is within 0..=100. Anything else is
/// rejected and counted, never clamped into plausible-looking data. A null ticker, or one with no
/// hashrate, means "no data for that slot". The point whose bucket is still filling is
/// provisional. Duplicate timestamps keep the last one sent.
pub fn normalize_page(history: &ShareHistory, dimension: Dimension, now: i64) -> NormalizedPage {
    let step = dimension.step_seconds();
    let current_slot = floor_to_step(now, dimension);
    let mut page = NormalizedPage::default();
    // A live point some pools stamp with the time of the request rather than its slot.
    let mut unaligned_live: Option<TickerRow> = None;
    for raw in &history.tickers {
        let (ts, accept, reject_percent) = match *raw {
            RawTicker::Null => {
                page.empty += 1;
                continue;
            }
            RawTicker::Invalid => {
                page.rejected += 1;
                continue;
            }
            RawTicker::Values {
                ts,
                accept,
                reject_percent,
            } => (ts, accept, reject_percent),
        };
        let Some(accept) = accept else {
            page.empty += 1;
            continue;
        };
        let Some(ts) = ts.filter(|t| t.fract() == 0.0 && t.abs() < 1e15) else {
            page.rejected += 1;
            continue;
        };
        let ts = ts as i64;
        let reject_percent = match reject_percent {
            Some(p) => p,
            None if accept == 0.0 => 0.0,
            None => {
                page.rejected += 1;
                continue;
            }
        };
        let valid_values = accept >= 0.0 && (0.0..=100.0).contains(&reject_percent);
        if valid_values
            && ts % 3_600 != 0
            && ts <= now
            && floor_to_step(ts, dimension) == current_slot
        {
            if unaligned_live.is_some() {
                page.rejected += 1;
            }
            unaligned_live = Some(TickerRow {
                ts: current_slot,
                hashrate_hs: accept * history.multiplier_hs,
                reject_rate: reject_percent / 100.0,
                provisional: true,
            });
            continue;
        }
        let valid = valid_values && ts > 0 && ts % 3_600 == 0 && ts <= now;
        if !valid {
            page.rejected += 1;
            continue;
        }
        page.tickers.push(TickerRow {
            ts,
            hashrate_hs: accept * history.multiplier_hs,
            reject_rate: reject_percent / 100.0,
            provisional: ts + step > now,
        });
    }
    if let Some(live) = unaligned_live {
        if page.tickers.iter().any(|t| t.ts == live.ts) {
            page.rejected += 1;
        } else {
            page.tickers.push(live);
        }
    }
    if dimension == Dimension::Day {
        page.rejected += reject_off_day_boundary(&mut page.tickers);
    }
    // Stable sort keeps the pool's order among equal timestamps; keep the last of each.
    page.tickers.sort_by_key(|t| t.ts);
    let mut deduped: Vec<TickerRow> = Vec::with_capacity(page.tickers.len());
    for ticker in page.tickers.drain(..) {
        match deduped.last_mut() {
            Some(last) if last.ts == ticker.ts => *last = ticker,
            _ => deduped.push(ticker),
        }
    }
    page.tickers = deduped;
    page
}

/// Daily points share one time of day: UTC midnight, or the pool's own midnight if it keeps
/// days in another zone. The time of day most points agree on (midnight on a tie) wins; a point
/// at any other time is nonsense, and would also move the cursor off the day boundary.
fn reject_off_day_boundary(tickers: &mut Vec<TickerRow>) -> u64 {
    let day = Dimension::Day.step_seconds();
    let mut votes: Vec<(i64, usize)> = Vec::new();
    for ticker in tickers.iter() {
        let offset = ticker.ts.rem_euclid(day);
        match votes.iter_mut().find(|(o, _)| *o == offset) {
            Some((_, count)) => *count += 1,
            None => votes.push((offset, 1)),
        }
    }
    let Some(&(boundary, _)) = votes
        .iter()
        .max_by_key(|(offset, count)| (*count, *offset == 0))
    else {
        return 0;
    };
    let before = tickers.len();
    tickers.retain(|t| t.ts.rem_euclid(day) == boundary);
    (before - tickers.len()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_072_000 + 1_800; // 2025-11-25 12:30 UTC

    fn history(tickers: Vec<RawTicker>) -> ShareHistory {
        ShareHistory {
            multiplier_hs: 1e12,
            tickers,
        }
    }

    fn values(ts: f64, accept: f64, reject: f64) -> RawTicker {
        RawTicker::Values {
            ts: Some(ts),
            accept: Some(accept),
            reject_percent: Some(reject),
        }
    }

    #[test]
    fn first_run_starts_at_the_retention_horizon() {
        let start = series_start(None, None, NOW, Dimension::Hour, 72);
        assert_eq!(start.start_ts, 1_764_072_000 - 71 * 3_600);
        assert_eq!(start.expired_from, None);
    }

    #[test]
    fn later_run_resumes_at_watermark_minus_late_window() {
        let watermark = 1_764_072_000 - 3_600;
        let start = series_start(Some(watermark), None, NOW, Dimension::Hour, 72);
        assert_eq!(start.start_ts, watermark - 3 * 3_600);
        assert_eq!(start.expired_from, None);
    }

    #[test]
    fn run_after_a_long_pause_reports_the_expired_hours() {
        let watermark = 1_764_072_000 - 100 * 3_600;
        let start = series_start(Some(watermark), None, NOW, Dimension::Hour, 72);
        let horizon = horizon_ts(NOW, Dimension::Hour, 72);
        assert_eq!(start.expired_from, Some(watermark + 3_600));
        assert_eq!(start.start_ts, horizon - 3 * 3_600);
        let gap = expired_gap(start.expired_from, Some(horizon), NOW, Dimension::Hour, 72);
        assert_eq!(gap, Some((watermark + 3_600, horizon - 3_600)));
        // If the pool still served older points than we thought, the gap shrinks accordingly.
        let served_earlier = watermark + 10 * 3_600;
        let gap = expired_gap(
            start.expired_from,
            Some(served_earlier),
            NOW,
            Dimension::Hour,
            72,
        );
        assert_eq!(gap, Some((watermark + 3_600, served_earlier - 3_600)));
    }

    #[test]
    fn count_never_asks_past_now_or_above_the_maximum() {
        assert_eq!(count_for(1_764_072_000, NOW, Dimension::Hour), 1);
        assert_eq!(
            count_for(1_764_072_000 - 71 * 3_600, NOW, Dimension::Hour),
            72
        );
        assert_eq!(count_for(0, NOW, Dimension::Day), MAX_COUNT);
    }

    #[test]
    fn percentages_become_fractions_and_units_scale_to_hs() {
        let page = normalize_page(
            &history(vec![values(1_764_068_400.0, 110.5, 0.27)]),
            Dimension::Hour,
            NOW,
        );
        assert_eq!(page.tickers.len(), 1);
        assert_eq!(page.tickers[0].hashrate_hs, 110.5e12);
        assert!((page.tickers[0].reject_rate - 0.0027).abs() < 1e-15);
        assert!(!page.tickers[0].provisional);
    }

    #[test]
    fn live_bucket_is_provisional() {
        let page = normalize_page(
            &history(vec![values(1_764_072_000.0, 1.0, 0.0)]),
            Dimension::Hour,
            NOW,
        );
        assert!(page.tickers[0].provisional);
    }

    #[test]
    fn nonsense_points_are_rejected_and_counted() {
        let page = normalize_page(
            &history(vec![
                values(1_764_068_400.0, -5.0, 0.1),  // negative hashrate
                values(1_764_068_400.0, 5.0, 101.0), // reject over 100 %
                values(1_764_068_401.0, 5.0, 0.1),   // not on the hour
                values(1_764_079_200.0, 5.0, 0.1),   // in the future
                RawTicker::Invalid,                  // not numbers
                RawTicker::Null,                     // no data: not an error
                values(1_764_064_800.0, 5.0, 0.1),   // fine
            ]),
            Dimension::Hour,
            NOW,
        );
        assert_eq!(page.rejected, 5);
        assert_eq!(page.empty, 1);
        assert_eq!(page.tickers.len(), 1);
    }

    #[test]
    fn a_live_point_stamped_with_the_request_time_is_kept_at_its_slot() {
        let page = normalize_page(
            &history(vec![
                values(1_764_068_400.0, 2.0, 0.1),
                values((NOW - 60) as f64, 3.0, 0.2),
            ]),
            Dimension::Hour,
            NOW,
        );
        let got: Vec<(i64, bool)> = page.tickers.iter().map(|t| (t.ts, t.provisional)).collect();
        assert_eq!(got, vec![(1_764_068_400, false), (1_764_072_000, true)]);
        assert_eq!(page.rejected, 0);
        // Beside a live point on its slot, the odd one is nonsense.
        let page = normalize_page(
            &history(vec![
                values(1_764_072_000.0, 2.0, 0.1),
                values((NOW - 60) as f64, 3.0, 0.2),
            ]),
            Dimension::Hour,
            NOW,
        );
        assert_eq!(page.tickers.len(), 1);
        assert_eq!(page.tickers[0].hashrate_hs, 2e12);
        assert_eq!(page.rejected, 1);
    }

    #[test]
    fn unordered_duplicates_are_sorted_and_deduplicated() {
        let page = normalize_page(
            &history(vec![
                values(1_764_068_400.0, 2.0, 0.0),
                values(1_764_064_800.0, 1.0, 0.0),
                values(1_764_068_400.0, 3.0, 0.0),
            ]),
            Dimension::Hour,
            NOW,
        );
        let got: Vec<(i64, f64)> = page.tickers.iter().map(|t| (t.ts, t.hashrate_hs)).collect();
        assert_eq!(got, vec![(1_764_064_800, 1e12), (1_764_068_400, 3e12)]);
    }
}
