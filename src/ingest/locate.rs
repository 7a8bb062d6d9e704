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
    /// This run already saw a series of the same kind start at `expected_edge` (and checked
    /// the window before it): a series starting there or later needs no second look.
    pub edge_confirmed: bool,
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

/// What one window says about where history starts.
enum Seen {
    /// Its first point is a slot or more after its start: history starts inside it.
    StartInside,
    /// It has a point in its first slot (a pool keeping days in its own time zone puts it
    /// hours after the UTC day we asked from): history starts there or earlier.
    Point,
    /// No point: history starts after `until`, if at all.
    Empty { until: i64 },
}

impl Seen {
    fn read(answer: Probe, start: i64, step: i64) -> Seen {
        match answer.oldest {
            Some(oldest) if oldest >= start + step => Seen::StartInside,
            Some(_) => Seen::Point,
            None => Seen::Empty {
                until: start + answer.slots.max(1) * step,
            },
        }
    }
}

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
    let found = |start_ts: i64, edge_seen: bool| {
        Ok(Located {
            start_ts,
            edge_seen,
        })
    };
    // 1. Straddle the expected edge.
    let first = (bounds.expected_edge - step).max(bounds.lowest);
    // No point before `empty_from` (down to `lowest`); a point at `known_point`, if any.
    let mut jump = window_slots().max(1) * step;
    let (mut empty_from, mut known_point) = match Seen::read(probe(first).await?, first, step) {
        // Nothing before the slot this run saw another series of the kind start on (a series
        // starting later joined later).
        Seen::StartInside if first == bounds.lowest || bounds.edge_confirmed => {
            return found(first, true)
        }
        // Where only a guess put the start, one window further back tells a start from a hole
        // (a worker silent for a while, nulls at the pool): one request.
        Seen::StartInside => {
            let before = (first - jump).max(bounds.lowest);
            match Seen::read(probe(before).await?, before, step) {
                Seen::Empty { .. } => return found(first, true),
                Seen::StartInside => return found(before, true),
                Seen::Point if before == bounds.lowest => return found(before, false),
                Seen::Point => (None, Some(before)),
            }
        }
        Seen::Point if first == bounds.lowest => return found(first, false),
        Seen::Point => (None, Some(first)),
        Seen::Empty { until } => (Some(until.min(bounds.newest + step)), None),
    };
    for _ in 0..MAX_PROBES {
        let start = match (empty_from, known_point) {
            // 2. The pool keeps more: windows at doubling distances back.
            (None, Some(point)) => (point - jump).max(bounds.lowest),
            // 3. Bisect what is left until one window spans it.
            (Some(empty), point) => {
                let end = point.unwrap_or(bounds.newest + step);
                if end - empty <= window_slots().max(1) * step {
                    return found(empty, true);
                }
                empty + ((end - empty) / step / 2) * step
            }
            (None, None) => break,
        };
        match Seen::read(probe(start).await?, start, step) {
            Seen::StartInside => return found(start, true),
            Seen::Point if start == bounds.lowest => return found(start, false),
            Seen::Point => {
                known_point = Some(start);
                jump = jump.saturating_mul(2);
            }
            Seen::Empty { until } => empty_from = Some(until),
        }
    }
    // Out of probes: start at the oldest slot known to matter.
    Ok(match (empty_from, known_point) {
        (Some(empty), _) => Located {
            start_ts: empty,
            edge_seen: true,
        },
        (None, point) => Located {
            start_ts: point.unwrap_or(first),
            edge_seen: false,
        },
    })
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
        locate_with(series, lowest, expected_edge, false)
    }

    fn locate_with(
        series: &FakeSeries,
        lowest: i64,
        expected_edge: i64,
        edge_confirmed: bool,
    ) -> Located {
        let bounds = SearchBounds {
            lowest,
            expected_edge,
            edge_confirmed,
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
        // The first page, and one look a window further back.
        assert_eq!(series.asked.borrow().len(), 2);
    }

    #[test]
    fn a_start_this_run_already_saw_costs_nothing_more() {
        let newest = 1_000 * STEP;
        let series = FakeSeries {
            first: newest - 239 * STEP,
            newest,
            window: 240,
            asked: RefCell::new(Vec::new()),
        };
        let located = locate_with(&series, 0, newest - 239 * STEP, true);
        assert_finds_first(&series, located, 0);
        assert_eq!(series.asked.borrow().len(), 1);
    }

    #[test]
    fn a_hole_where_history_was_expected_to_start_hides_nothing_older() {
        let newest = 10_000 * STEP;
        // Points from 240 back, none from 80 to 60 back (a silent worker); expected start 72.
        let series = HoleySeries {
            first: newest - 239 * STEP,
            hole: (newest - 80 * STEP, newest - 60 * STEP),
            window: 240,
        };
        let bounds = SearchBounds {
            lowest: 0,
            expected_edge: newest - 71 * STEP,
            edge_confirmed: false,
            newest,
            step: STEP,
        };
        let located = block_on(locate_start(bounds, || 240, |start| series.probe(start))).unwrap();
        assert!(located.start_ts <= series.first, "{located:?}");
    }

    /// Like `FakeSeries`, with no point in `hole` (inclusive).
    struct HoleySeries {
        first: i64,
        hole: (i64, i64),
        window: i64,
    }

    impl HoleySeries {
        fn probe(&self, start: i64) -> std::future::Ready<Result<Probe, ()>> {
            let end = start + self.window * STEP;
            let oldest = (start.max(self.first)..end)
                .step_by(STEP as usize)
                .find(|ts| !(self.hole.0..=self.hole.1).contains(ts));
            std::future::ready(Ok(Probe {
                oldest,
                slots: self.window,
            }))
        }
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
