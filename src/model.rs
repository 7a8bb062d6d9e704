//! The pool-neutral model: what every pool's answers become before `ingest` and `store` see
//! them. Units are fixed here (H/s, fractions, Unix seconds UTC), so a pool's own spellings and
//! units end in its folder under `pools/`.

use std::fmt;

/// Time step of a share-history series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Hour,
    Day,
}

impl Dimension {
    pub const ALL: [Dimension; 2] = [Dimension::Hour, Dimension::Day];

    /// The API's spelling, also stored in `series.dimension`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Hour => "1h",
            Dimension::Day => "1d",
        }
    }

    pub fn step_seconds(self) -> i64 {
        match self {
            Dimension::Hour => 3_600,
            Dimension::Day => 86_400,
        }
    }

    pub fn parse(text: &str) -> Option<Dimension> {
        match text {
            "1h" => Some(Dimension::Hour),
            "1d" => Some(Dimension::Day),
            _ => None,
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored point of a series: the hour or day starting at `ts`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Start of the hour / day, Unix seconds UTC.
    pub ts: i64,
    /// Accepted hashrate, H/s.
    pub hashrate_hs: f64,
    /// Share of submitted work not accepted, as the pool defines it (a fraction 0..=1).
    pub reject_rate: f64,
    /// The bucket is still filling: replaced by a later run.
    pub provisional: bool,
}

/// One element of a pool's answer for a window, in our units but not yet checked: `ingest`
/// decides what is stored (see `ingest::plan::normalize_page`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawPoint {
    /// The pool said it has no data for a slot (a null, or a point without a hashrate).
    Empty,
    /// Something that is not a point at all: counted as rejected, never stored.
    Invalid,
    /// A point as the pool sent it, converted to our units; any value may be missing.
    Values {
        /// Unix seconds (may be fractional or absurd: checked later).
        ts: Option<f64>,
        /// H/s.
        hashrate_hs: Option<f64>,
        /// Fraction of submitted work not accepted.
        reject_rate: Option<f64>,
    },
}

/// The slots one request asks for: `count` slots from `start_ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ts: i64,
    pub count: u32,
    pub dimension: Dimension,
}

impl Window {
    /// The last slot asked for (inclusive).
    pub fn last_ts(&self) -> i64 {
        self.start_ts + (i64::from(self.count.max(1)) - 1) * self.dimension.step_seconds()
    }
}

/// A group of workers (CloverPool's groups, Foundry's tags).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub gid: i64,
    pub name: String,
}

/// A worker as listed by the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    pub worker_id: i64,
    /// Display text from the pool: any characters.
    pub worker_name: String,
    pub gid: Option<i64>,
    /// ACTIVE / INACTIVE / DEAD.
    pub status: String,
    /// Unix seconds, when the pool says.
    pub last_share_time: Option<i64>,
}

/// An account's groups and workers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    pub groups: Vec<Group>,
    pub workers: Vec<Worker>,
    /// The pool listed more workers than the run's cap: the listing stopped there.
    pub workers_capped: bool,
}

/// How far back a pool keeps each kind of history, in slots of its dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolRetention {
    pub worker_hours: u32,
    pub account_hours: u32,
    pub worker_days: u32,
    pub account_days: u32,
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

/// An account at a pool: the pool's name (`cloverpool`, `foundry`) and the account as that pool
/// names it (a puid as text, a sub-account name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountRef {
    pub pool: &'static str,
    pub account: String,
    /// CloverPool's numeric sub-account id; None for a pool without one.
    pub puid: Option<i64>,
}

impl std::fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} account {}", self.pool, self.account)
    }
}

/// What a pool is, as its documentation says: kept in the database (`pools`) so reports and
/// users can read units and definitions next to the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFacts {
    pub name: &'static str,
    pub display_name: &'static str,
    /// How the API's figures become `hashrate_hs`.
    pub hashrate_source: &'static str,
    /// What `reject_rate` is a fraction of.
    pub reject_definition: &'static str,
    /// What the pool documents it keeps: the first guess, checked against its answers.
    pub documented_retention: PoolRetention,
    /// The pool may leave out buckets without shares (a worker down for hours), so a series can
    /// have holes: a later first point is no proof that history starts there.
    pub leaves_out_empty_buckets: bool,
    /// The most hourly and daily slots one history request asks for.
    pub max_hours_per_request: u32,
    pub max_days_per_request: u32,
}

impl PoolFacts {
    pub fn max_slots_per_request(&self, dimension: Dimension) -> u32 {
        match dimension {
            Dimension::Hour => self.max_hours_per_request,
            Dimension::Day => self.max_days_per_request,
        }
    }
}

/// Start of the UTC calendar month holding `ts` (Unix seconds). The export's partitions and
/// the change stamps that drive it are by UTC month.
pub fn utc_month_start(ts: i64) -> i64 {
    use chrono::{Datelike, NaiveDate};
    let Some(time) = chrono::DateTime::from_timestamp(ts, 0) else {
        return ts;
    };
    NaiveDate::from_ymd_opt(time.year(), time.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(ts, |d| d.and_utc().timestamp())
}

/// Start of the UTC month after the one holding `ts`.
pub fn utc_next_month(ts: i64) -> i64 {
    // 32 days after a month's start is always inside the next month. Saturating: a time
    // beyond chrono's range stays where it is, and `utc_months` stops there.
    utc_month_start(utc_month_start(ts).saturating_add(32 * 86_400))
}

/// The starts of the UTC months from the one holding `from` to the one holding `to`. A time
/// outside the calendar (an absurd point a pool sent) gives its own month only, so the walk
/// never runs across the years between.
pub fn utc_months(from: i64, to: i64) -> Vec<i64> {
    let in_calendar = |ts| chrono::DateTime::from_timestamp(ts, 0).is_some();
    let (first, last) = (utc_month_start(from), utc_month_start(to));
    if !in_calendar(from) || !in_calendar(to) {
        let mut ends = vec![first, last];
        ends.sort_unstable();
        ends.dedup();
        return ends;
    }
    std::iter::successors(Some(first), |&m| {
        Some(utc_next_month(m)).filter(|&next| next > m)
    })
    .take_while(|&m| m <= last)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_months_follow_the_calendar() {
        // 2024-02-01 (a leap February), 2024-03-01, 2024-12-01, 2025-01-01.
        let (feb, mar, dec, jan) = (1_706_745_600, 1_709_251_200, 1_733_011_200, 1_735_689_600);
        assert_eq!(utc_month_start(mar - 1), feb);
        assert_eq!(utc_month_start(mar), mar);
        assert_eq!(utc_next_month(feb + 5), mar);
        assert_eq!(utc_next_month(dec), jan);
        assert_eq!(utc_months(feb + 1, mar + 1), vec![feb, mar]);
        assert_eq!(utc_months(jan, jan).len(), 1);
        // Absurd times end the walk instead of overflowing or looping.
        assert_eq!(utc_months(i64::MAX - 10, i64::MAX).len(), 2);
        assert_eq!(utc_months(i64::MIN, 1_735_689_600).len(), 2);
    }
}
