//! Where a series' history starts at the pool, found from the pool's answers instead of assumed
//! from its documented retention.
//!
//! The pool deletes history from the old end, and a series is contiguous from its first point to
//! its newest (a stopped worker reads 0, not nothing). So "the window from slot s holds a point"
//! is monotone in s, and a handful of windows find the first point:
//! 1. one window that starts a slot before the expected edge: a point there means the pool keeps
//!    more, a first point later than the window's start is the edge itself (and the window is the
//!    series' first page), an empty window means the history starts later;
//! 2. more: windows at doubling distances back until one is not full from its start;
//! 3. later, or between the two: bisection until one window spans what is left.

use std::future::Future;

/// The bounds of one search, all slot-aligned Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchBounds {
    /// Nothing before this is wanted (`--since`, the watermark, or the start of Bitcoin).
    pub lowest: i64,
    /// Where history is expected to start (learned, else the documented retention).
    pub expected_edge: i64,
    /// The newest slot worth asking for (the pool's publication horizon, else our clock).
    pub newest: i64,
    pub step: i64,
}

/// Where to start paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// The first page's start: a probed window's start when one held the edge, so its answer
    /// can be reused.
    pub start_ts: i64,
    /// Every slot from `lowest` up to the first point served from `start_ts` was asked for and
    /// held nothing: that first point is where the pool's history of the series starts.
    pub edge_seen: bool,
}

/// What one probe answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The oldest point the window held, if any.
    pub oldest: Option<i64>,
    /// Slots the answer is known to cover from its start: all an empty answer proves empty.
    pub slots: i64,
}

/// Most probes one search makes; doubling and halving need far fewer for any real span.
const MAX_PROBES: u32 = 64;

/// Finds where paging should start. `probe(start)` asks for one window from `start`;
/// `window_slots()` is how many slots an answer is known to cover (learned as answers come), the
/// size of the jumps back.
pub async fn locate_start<E, F, Fut>(
    bounds: SearchBounds,
    window_slots: impl Fn() -> i64,
    mut probe: F,
) -> Result<Located, E>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<Probe, E>>,
{
    let step = bounds.step;
    let mut probes = 0;
    // 1. Straddle the expected edge.
    let first = (bounds.expected_edge - step).max(bounds.lowest);
    let answer = probe(first).await?;
    let mut empty_from = match answer.oldest {
        Some(oldest) if oldest > first => {
            return Ok(Located {
                start_ts: first,
                edge_seen: true,
            })
        }
        Some(_) if first == bounds.lowest => {
            return Ok(Located {
                start_ts: first,
                edge_seen: false,
            })
        }
        // 2. The pool keeps more: look further back.
        Some(_) => {
            let mut known_point = first;
            let mut jump = window_slots().max(1) * step;
            loop {
                probes += 1;
                let start = (known_point - jump).max(bounds.lowest);
                let answer = probe(start).await?;
                match answer.oldest {
                    Some(oldest) if oldest > start => {
                        return Ok(Located {
                            start_ts: start,
                            edge_seen: true,
                        })
                    }
                    Some(_) if start == bounds.lowest || probes >= MAX_PROBES => {
                        return Ok(Located {
                            start_ts: start,
                            edge_seen: false,
                        })
                    }
                    Some(_) => {
                        known_point = start;
                        jump = jump.saturating_mul(2);
                    }
                    None => {
                        let empty_from = start + answer.slots.max(1) * step;
                        return bisect(
                            empty_from,
                            Some(known_point),
                            bounds,
                            window_slots,
                            probes,
                            probe,
                        )
                        .await;
                    }
                }
            }
        }
        None => first + answer.slots.max(1) * step,
    };
    // 3. History starts after the first window, if at all.
    empty_from = empty_from.min(bounds.newest + step);
    bisect(empty_from, None, bounds, window_slots, probes, probe).await
}

/// Narrows [empty_from, known_point) (no point before `empty_from` down to `lowest`; a point at
/// `known_point`, or none up to `newest`) until one window spans it.
async fn bisect<E, F, Fut>(
    mut empty_from: i64,
    mut known_point: Option<i64>,
    bounds: SearchBounds,
    window_slots: impl Fn() -> i64,
    mut probes: u32,
    mut probe: F,
) -> Result<Located, E>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<Probe, E>>,
{
    let step = bounds.step;
    loop {
        let window = window_slots().max(1) * step;
        let end = known_point.unwrap_or(bounds.newest + step);
        if end - empty_from <= window || probes >= MAX_PROBES {
            return Ok(Located {
                start_ts: empty_from,
                edge_seen: true,
            });
        }
        probes += 1;
        let middle = empty_from + ((end - empty_from) / step / 2) * step;
        let answer = probe(middle).await?;
        match answer.oldest {
            Some(oldest) if oldest > middle => {
                return Ok(Located {
                    start_ts: middle,
                    edge_seen: true,
                })
            }
            Some(_) => known_point = Some(middle),
            None => empty_from = middle + answer.slots.max(1) * step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const STEP: i64 = 3_600;

    /// A series with a point on every slot of [first, newest], served `window` slots per answer.
    struct FakeSeries {
        first: i64,
        newest: i64,
        window: i64,
        asked: RefCell<Vec<i64>>,
    }

    impl FakeSeries {
        fn probe(&self, start: i64) -> std::future::Ready<Result<Probe, ()>> {
            self.asked.borrow_mut().push(start);
            let end = start + self.window * STEP;
            let oldest = start.max(self.first);
            std::future::ready(Ok(Probe {
                oldest: (oldest < end && oldest <= self.newest).then_some(oldest),
                slots: self.window,
            }))
        }
    }

    fn locate(series: &FakeSeries, lowest: i64, expected_edge: i64) -> Located {
        let bounds = SearchBounds {
            lowest,
            expected_edge,
            newest: series.newest,
            step: STEP,
        };
        let future = locate_start(bounds, || series.window, |start| series.probe(start));
        block_on(future).unwrap()
    }

    /// The futures here are always ready: poll once.
    fn block_on<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// Paging from `located` would reach the series' first point in its first page, and no
    /// slot before it was skipped unasked.
    fn assert_finds_first(series: &FakeSeries, located: Located, lowest: i64) {
        let want = series.first.max(lowest);
        assert!(located.start_ts <= want, "{located:?} starts after {want}");
        assert!(
            want < located.start_ts + series.window * STEP,
            "{located:?}: the first page would not reach {want}"
        );
    }

    #[test]
    fn documented_retention_right_costs_the_first_page_only() {
        let newest = 1_000 * STEP;
        let series = FakeSeries {
            first: newest - 71 * STEP,
            newest,
            window: 240,
            asked: RefCell::new(Vec::new()),
        };
        let located = locate(&series, 0, newest - 71 * STEP);
        assert_finds_first(&series, located, 0);
        assert!(located.edge_seen);
        assert_eq!(series.asked.borrow().len(), 1);
    }

    #[test]
    fn a_pool_keeping_far_more_is_found_in_a_handful_of_probes() {
        let newest = 100_000 * STEP;
        for kept in [240, 1_000, 5_000, 40_000] {
            let series = FakeSeries {
                first: newest - (kept - 1) * STEP,
                newest,
                window: 240,
                asked: RefCell::new(Vec::new()),
            };
            let located = locate(&series, 0, newest - 71 * STEP);
            assert_finds_first(&series, located, 0);
            assert!(located.edge_seen);
            let asked = series.asked.borrow().len();
            assert!(asked <= 16, "kept {kept}: {asked} probes");
        }
    }

    #[test]
    fn history_starting_late_is_found_without_walking_empty_windows() {
        let newest = 100_000 * STEP;
        for first_back in [0, 3, 100, 1_000, 8_000] {
            let series = FakeSeries {
                first: newest - first_back * STEP,
                newest,
                window: 30,
                asked: RefCell::new(Vec::new()),
            };
            let located = locate(&series, 0, newest - 9_000 * STEP);
            assert_finds_first(&series, located, 0);
            let asked = series.asked.borrow().len();
            assert!(asked <= 12, "first {first_back} back: {asked} probes");
        }
    }

    #[test]
    fn never_asks_before_the_lowest_wanted_slot() {
        let newest = 10_000 * STEP;
        let series = FakeSeries {
            first: 0,
            newest,
            window: 240,
            asked: RefCell::new(Vec::new()),
        };
        let lowest = newest - 2_000 * STEP;
        let located = locate(&series, lowest, newest - 71 * STEP);
        assert_eq!(located.start_ts, lowest);
        assert!(!located.edge_seen, "cut by the lower bound, not the pool");
        assert!(series.asked.borrow().iter().all(|s| *s >= lowest));
    }

    #[test]
    fn a_series_without_any_point_ends_past_the_newest_slot() {
        let newest = 10_000 * STEP;
        let series = FakeSeries {
            first: i64::MAX / 4,
            newest,
            window: 240,
            asked: RefCell::new(Vec::new()),
        };
        let located = locate(&series, 0, newest - 71 * STEP);
        assert!(located.start_ts > newest - 240 * STEP);
        assert!(series.asked.borrow().len() <= 2);
    }
}
