//! What to fetch: where each series starts, what the pool still keeps, what has expired, and how
//! a page of tickers becomes rows. Pure functions of the stored state and `now`.

use crate::model::{Dimension, Point, RawPoint};
pub use crate::model::{PoolRetention, Window};

/// First guesses of what the pools keep, from the command line (`--pool-*`): each one given
/// replaces the pool's documented value. What a run learns from the pool's answers wins over both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionGuess {
    pub worker_hours: Option<u32>,
    pub account_hours: Option<u32>,
    pub worker_days: Option<u32>,
    pub account_days: Option<u32>,
}

impl RetentionGuess {
    pub fn over(&self, documented: PoolRetention) -> PoolRetention {
        PoolRetention {
            worker_hours: self.worker_hours.unwrap_or(documented.worker_hours),
            account_hours: self.account_hours.unwrap_or(documented.account_hours),
            worker_days: self.worker_days.unwrap_or(documented.worker_days),
            account_days: self.account_days.unwrap_or(documented.account_days),
        }
    }
}

/// Until a page shows the pool serves more, assume a request covers at least this many slots.
pub const MIN_ASSUMED_SLOTS: u32 = 30;

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

/// How many points to ask for from `cursor`: no more than the slots up to now, nor than the
/// pool's most per request.
pub fn count_for(cursor: i64, now: i64, dimension: Dimension, most: u32) -> u32 {
    let remaining = (now - cursor).div_euclid(dimension.step_seconds()) + 1;
    remaining.clamp(1, i64::from(most.max(1))) as u32
}

/// A page of share history turned into rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormalizedPage {
    /// Valid points, sorted by time, one per timestamp.
    pub tickers: Vec<Point>,
    /// Nonsense points that were not stored (see `normalize_page`).
    pub rejected: u64,
    /// Slots the pool sent as null or without a value.
    pub empty: u64,
    /// Points outside the window asked for: not stored, counted with the rejected ones, but no
    /// reason to ask again.
    pub outside_window: u64,
}

/// No series hashes faster than this (H/s): ten times the whole Bitcoin network of 2026
/// (about 1 ZH/s). A larger value is a unit or parsing accident, never a point to store.
pub const MAX_PLAUSIBLE_HS: f64 = 1e22;

/// Applies the stated rules: a point is stored when its timestamp is a whole hour (for daily
/// points: the day boundary the page's points agree on) inside the window asked for and not
/// after `now` (so never more than `count` slots), its hashrate in H/s is finite, >= 0 and at
/// most `MAX_PLAUSIBLE_HS`, and its reject rate is a fraction within 0..=1 (a point with
/// hashrate and no reject rate is not a point). Anything else is rejected and counted, never
/// clamped into plausible-looking data. An empty point means "no data for that slot". The point
/// whose bucket is still filling is provisional. Duplicate timestamps keep the last one sent.
pub fn normalize_page(points: &[RawPoint], window: Window, now: i64) -> NormalizedPage {
    let dimension = window.dimension;
    let step = dimension.step_seconds();
    let asked = window.start_ts
        ..window
            .start_ts
            .saturating_add(i64::from(window.count) * step);
    let current_slot = floor_to_step(now, dimension);
    let mut page = NormalizedPage::default();
    // A live point some pools stamp with the time of the request rather than its slot.
    let mut unaligned_live: Option<Point> = None;
    for raw in points {
        let (ts, hashrate_hs, reject_rate) = match *raw {
            RawPoint::Empty => {
                page.empty += 1;
                continue;
            }
            RawPoint::Invalid => {
                page.rejected += 1;
                continue;
            }
            RawPoint::Values {
                ts,
                hashrate_hs,
                reject_rate,
            } => (ts, hashrate_hs, reject_rate),
        };
        let Some(hashrate_hs) = hashrate_hs else {
            page.empty += 1;
            continue;
        };
        let Some(ts) = ts.filter(|t| t.fract() == 0.0 && t.abs() < 1e15) else {
            page.rejected += 1;
            continue;
        };
        let ts = ts as i64;
        let Some(reject_rate) = reject_rate else {
            page.rejected += 1;
            continue;
        };
        let valid_values =
            (0.0..=MAX_PLAUSIBLE_HS).contains(&hashrate_hs) && (0.0..=1.0).contains(&reject_rate);
        if valid_values
            && ts % 3_600 != 0
            && ts <= now
            && floor_to_step(ts, dimension) == current_slot
            && asked.contains(&current_slot)
        {
            if unaligned_live.is_some() {
                page.rejected += 1;
            }
            unaligned_live = Some(Point {
                ts: current_slot,
                hashrate_hs,
                reject_rate,
                provisional: true,
            });
            continue;
        }
        let valid = valid_values && ts > 0 && ts % 3_600 == 0 && ts <= now;
        if !valid {
            page.rejected += 1;
            continue;
        }
        if !asked.contains(&ts) {
            page.outside_window += 1;
            continue;
        }
        page.tickers.push(Point {
            ts,
            hashrate_hs,
            reject_rate,
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
    let mut deduped: Vec<Point> = Vec::with_capacity(page.tickers.len());
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
/// days in another zone. A time of day more than half the points agree on wins; without such a
/// majority (hourly points sent as daily ones, a partial first day tipping the count) UTC
/// midnight wins where any point stands on it, else the most common time of day. A point at any
/// other time is nonsense, and would also move the cursor off the day boundary.
fn reject_off_day_boundary(tickers: &mut Vec<Point>) -> u64 {
    let day = Dimension::Day.step_seconds();
    let mut votes: Vec<(i64, usize)> = Vec::new();
    for ticker in tickers.iter() {
        let offset = ticker.ts.rem_euclid(day);
        match votes.iter_mut().find(|(o, _)| *o == offset) {
            Some((_, count)) => *count += 1,
            None => votes.push((offset, 1)),
        }
    }
    let Some(&(most_common, most_votes)) = votes
        .iter()
        .max_by_key(|(offset, count)| (*count, *offset == 0))
    else {
        return 0;
    };
    let majority = most_votes * 2 > tickers.len();
    let boundary = if !majority && votes.iter().any(|(offset, _)| *offset == 0) {
        0
    } else {
        most_common
    };
    let before = tickers.len();
    tickers.retain(|t| t.ts.rem_euclid(day) == boundary);
    (before - tickers.len()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_072_000 + 1_800; // 2025-11-25 12:30 UTC

    /// A window wide enough for every point of these tests.
    fn hours() -> Window {
        Window {
            start_ts: 1_764_072_000 - 1_000 * 3_600,
            count: 2_000,
            dimension: Dimension::Hour,
        }
    }

    /// A point of `accept` TH/s and `reject` percent.
    fn values(ts: f64, accept: f64, reject: f64) -> RawPoint {
        RawPoint::Values {
            ts: Some(ts),
            hashrate_hs: Some(accept * 1e12),
            reject_rate: Some(reject / 100.0),
        }
    }

    #[test]
    fn count_never_asks_past_now_or_above_the_maximum() {
        assert_eq!(count_for(1_764_072_000, NOW, Dimension::Hour, 720), 1);
        assert_eq!(
            count_for(1_764_072_000 - 71 * 3_600, NOW, Dimension::Hour, 720),
            72
        );
        assert_eq!(count_for(0, NOW, Dimension::Day, 720), 720);
    }

    #[test]
    fn percentages_become_fractions_and_units_scale_to_hs() {
        let page = normalize_page(&[values(1_764_068_400.0, 110.5, 0.27)], hours(), NOW);
        assert_eq!(page.tickers.len(), 1);
        assert_eq!(page.tickers[0].hashrate_hs, 110.5e12);
        assert!((page.tickers[0].reject_rate - 0.0027).abs() < 1e-15);
        assert!(!page.tickers[0].provisional);
    }

    #[test]
    fn live_bucket_is_provisional() {
        let page = normalize_page(&[values(1_764_072_000.0, 1.0, 0.0)], hours(), NOW);
        assert!(page.tickers[0].provisional);
    }

    #[test]
    fn nonsense_points_are_rejected_and_counted() {
        let page = normalize_page(
            &[
                values(1_764_068_400.0, -5.0, 0.1),  // negative hashrate
                values(1_764_068_400.0, 5.0, 101.0), // reject over 100 %
                values(1_764_068_401.0, 5.0, 0.1),   // not on the hour
                values(1_764_079_200.0, 5.0, 0.1),   // in the future
                RawPoint::Invalid,                   // not numbers
                RawPoint::Empty,                     // no data: not an error
                values(1_764_064_800.0, 5.0, 0.1),   // fine
            ],
            hours(),
            NOW,
        );
        assert_eq!(page.rejected, 5);
        assert_eq!(page.empty, 1);
        assert_eq!(page.tickers.len(), 1);
    }

    #[test]
    fn a_live_point_stamped_with_the_request_time_is_kept_at_its_slot() {
        let page = normalize_page(
            &[
                values(1_764_068_400.0, 2.0, 0.1),
                values((NOW - 60) as f64, 3.0, 0.2),
            ],
            hours(),
            NOW,
        );
        let got: Vec<(i64, bool)> = page.tickers.iter().map(|t| (t.ts, t.provisional)).collect();
        assert_eq!(got, vec![(1_764_068_400, false), (1_764_072_000, true)]);
        assert_eq!(page.rejected, 0);
        // Beside a live point on its slot, the odd one is nonsense.
        let page = normalize_page(
            &[
                values(1_764_072_000.0, 2.0, 0.1),
                values((NOW - 60) as f64, 3.0, 0.2),
            ],
            hours(),
            NOW,
        );
        assert_eq!(page.tickers.len(), 1);
        assert_eq!(page.tickers[0].hashrate_hs, 2e12);
        assert_eq!(page.rejected, 1);
    }

    fn days() -> Window {
        Window {
            start_ts: 1_764_072_000 - 100 * 86_400,
            count: 200,
            dimension: Dimension::Day,
        }
    }

    #[test]
    fn hourly_points_in_a_daily_answer_keep_utc_midnight() {
        // From 05:00 on the first day: hours 5..23 get one vote more than midnight.
        let first = 1_764_028_800 - 10 * 86_400 + 5 * 3_600;
        let tickers: Vec<RawPoint> = (0..5 * 24)
            .map(|h| values((first + h * 3_600) as f64, 1.0, 0.1))
            .collect();
        let page = normalize_page(&tickers, days(), NOW);
        assert!(!page.tickers.is_empty());
        assert!(page.tickers.iter().all(|t| t.ts % 86_400 == 0));
    }

    #[test]
    fn a_pool_keeping_days_in_its_own_zone_keeps_its_boundary() {
        // UTC+8: the pool's days start at 16:00 UTC.
        let day_start = 1_764_028_800 - 2 * 86_400 - 8 * 3_600;
        let page = normalize_page(&[values(day_start as f64, 1.0, 0.1)], days(), NOW);
        assert_eq!(page.tickers.len(), 1);
        let page = normalize_page(
            &[
                values(day_start as f64, 1.0, 0.1),
                values((day_start + 86_400) as f64, 1.0, 0.1),
                values((day_start + 5 * 3_600) as f64, 1.0, 0.1),
            ],
            days(),
            NOW,
        );
        assert_eq!(page.tickers.len(), 2);
        assert_eq!(page.rejected, 1);
    }

    #[test]
    fn unordered_duplicates_are_sorted_and_deduplicated() {
        let page = normalize_page(
            &[
                values(1_764_068_400.0, 2.0, 0.0),
                values(1_764_064_800.0, 1.0, 0.0),
                values(1_764_068_400.0, 3.0, 0.0),
            ],
            hours(),
            NOW,
        );
        let got: Vec<(i64, f64)> = page.tickers.iter().map(|t| (t.ts, t.hashrate_hs)).collect();
        assert_eq!(got, vec![(1_764_064_800, 1e12), (1_764_068_400, 3e12)]);
    }
}
