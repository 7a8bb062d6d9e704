//! The synthetic sub-account: workers and their shares, a pure function of the seed and the
//! anchor hour (the hour the simulator started in), cheap to evaluate at any bucket.
//!
//! A worker's completed hour is three whole GH/s figures (accepted, stale, rejected); the
//! sub-account's hour is their sum, a day the sum of its hours over 24. The live bucket is a
//! function of the clock too, so only it changes as the clock moves.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use super::{FoundrySeries, FoundrySimConfig};

pub(super) const HOUR: i64 = 3_600;
pub(super) const DAY: i64 = 86_400;

/// One tag per independent random quantity, so two quantities never share a hash stream.
pub(super) mod tag {
    pub const KEY: u64 = 101;
    pub const ID: u64 = 102;
    pub const LIFE: u64 = 103;
    pub const ODD_NAME: u64 = 104;
    pub const NOISE: u64 = 110;
    pub const DOWN_HOUR: u64 = 111;
    pub const DOWN_RUN: u64 = 112;
    pub const SPIKE: u64 = 113;
    pub const STALE: u64 = 114;
    pub const REJECT: u64 = 115;
    pub const LIVE: u64 = 120;
    pub const REALTIME: u64 = 121;
    pub const LAST_SHARE: u64 = 122;
    pub const REQUEST: u64 = 130;
    pub const FAULT: u64 = 140;
    pub const FAULT_KIND: u64 = 141;
}

use crate::pools::sim_common::{assign_by_plan, rank_by_hash, share_of, MURMUR};
pub(super) use crate::pools::sim_common::{
    floor_to, murmur_fmix as fmix, murmur_hash as mixed, unit,
};

/// A hash of text, eight bytes at a time.
pub(super) fn text_hash(text: &str) -> u64 {
    text.as_bytes()
        .chunks(8)
        .fold(text.len() as u64, |h, chunk| {
            let word = chunk.iter().fold(0u64, |w, &b| (w << 8) | u64::from(b));
            fmix(h.rotate_left(29) ^ word)
        })
}

/// Accepted, stale and rejected hashrate, GH/s.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Shares {
    pub accepted: f64,
    pub stale: f64,
    pub rejected: f64,
}

impl Shares {
    pub fn reject_rate(self) -> f64 {
        let total = self.accepted + self.stale + self.rejected;
        if total > 0.0 {
            (self.stale + self.rejected) / total
        } else {
            0.0
        }
    }

    pub fn is_zero(self) -> bool {
        self.accepted == 0.0 && self.stale == 0.0 && self.rejected == 0.0
    }

    fn plus(self, other: Shares) -> Shares {
        Shares {
            accepted: self.accepted + other.accepted,
            stale: self.stale + other.stale,
            rejected: self.rejected + other.rejected,
        }
    }

    fn over(self, divisor: f64) -> Shares {
        Shares {
            accepted: self.accepted / divisor,
            stale: self.stale / divisor,
            rejected: self.rejected / divisor,
        }
    }

    /// Each figure times `factor`, kept whole.
    fn scaled_whole(self, factor: f64) -> Shares {
        Shares {
            accepted: (self.accepted * factor).round(),
            stale: (self.stale * factor).round(),
            rejected: (self.rejected * factor).round(),
        }
    }
}

pub(super) struct Worker {
    pub id: i64,
    pub name: String,
    pub tag: String,
    key: u64,
    /// Hashrate at full speed, GH/s.
    base_ghs: f64,
    /// Daily temperature swing: amplitude and the hour of its peak.
    swing: (f64, f64),
    stale_base: f64,
    reject_base: f64,
    /// Chance per hour of a lone outage, per 2-day block of a longer one, of a reject spike.
    down_hour_p: f64,
    down_run_p: f64,
    spike_p: f64,
    /// First share (Unix seconds); the worker is unknown before it.
    pub first_ts: i64,
    /// Last share for good, if the worker stops (possibly after the anchor).
    pub stopped_ts: Option<i64>,
}

/// How a worker's life goes, relative to the anchor hour.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Life {
    Veteran,
    JoinedMonthsAgo,
    JoinedDaysAgo,
    JoinedHoursAgo,
    /// Joins while the clock moves on (the demo's month of nightly runs sees it arrive).
    JoinsLater,
    /// Stopped more than a day ago.
    Dead,
    /// Stopped a few hours ago.
    StoppedRecently,
    /// Stops while the clock moves on.
    StopsLater,
}

const MODELS: [(&str, f64); 5] = [
    ("s19", 95_000.0),
    ("s19xp", 140_000.0),
    ("s21", 200_000.0),
    ("m50", 118_000.0),
    ("s9", 13_500.0),
];

/// Display names a careless or hostile operator may give; ids stay the key.
const ODD_NAMES: [&str; 8] = [
    "<b>rig</b><script>alert(1)</script>",
    "=HYPERLINK(\"http://x.test\",\"rig\")",
    "rack/07/slot 3",
    "100% rig",
    "矿机-Zürich-01",
    "rig\u{7}bell\u{1b}[31m",
    "  spaced   rig  ",
    "rig?x=1&y=#2",
];

pub(super) struct Farm {
    pub workers: Vec<Worker>,
    by_id: HashMap<i64, usize>,
    by_name: HashMap<String, usize>,
    /// Completed sub-account hours: the sum and the number of workers hashing. They never
    /// change, and a day series reads hundreds of them.
    hour_memo: RwLock<HashMap<i64, Option<(Shares, u32)>>>,
}

impl Farm {
    pub fn new(config: &FoundrySimConfig, start_ts: i64) -> Farm {
        let seed = config.seed;
        let anchor = floor_to(start_ts, HOUR);
        let n = config.workers as usize;
        let lives = assign_lives(seed, n);
        let odd_rank = rank_by_hash(MURMUR, seed, tag::ODD_NAME, n);
        let racks = (n / 12).max(1);
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        let mut workers = Vec::with_capacity(n);
        for (i, &life) in lives.iter().enumerate() {
            let key = mixed(seed, &[tag::KEY, i as u64]);
            let u = |what: u64| unit(mixed(key, &[what]));
            let (model, model_ghs) = MODELS[(key >> 20) as usize % MODELS.len()];
            let rack = 1 + (key >> 32) as usize % racks;
            let mut name = format!("{}.r{rack:02}-{model}-{:03}", config.sub_account, i + 1);
            if let Some(odd) = odd_rank.iter().position(|&o| o == i) {
                // Only from 10 workers up, so small test farms stay plain.
                if n >= 10 && odd < ODD_NAMES.len() {
                    name = ODD_NAMES[odd].to_string();
                }
            }
            if !names.insert(name.clone()) {
                name = format!("{name}~{}", i + 1);
                names.insert(name.clone());
            }
            let tag_name = if key.is_multiple_of(7) {
                String::new()
            } else {
                format!("rack-{rack:02}")
            };
            let flaky = u(1) < 0.2;
            let (first_ts, stopped_ts) = life_span(life, anchor, config.worker_hours, key);
            workers.push(Worker {
                id: distinct_id(seed, i, &mut ids),
                name,
                tag: tag_name,
                key,
                base_ghs: model_ghs * (0.9 + 0.15 * u(2)),
                swing: (0.01 + 0.03 * u(3), 24.0 * u(4)),
                stale_base: 0.0005 + 0.0025 * u(5),
                reject_base: 0.0002 + 0.0018 * u(6),
                down_hour_p: if flaky { 0.015 } else { 0.002 },
                down_run_p: if flaky { 0.25 } else { 0.02 },
                spike_p: if flaky { 0.03 } else { 0.004 },
                first_ts,
                stopped_ts,
            });
        }
        let by_id = workers.iter().enumerate().map(|(i, w)| (w.id, i)).collect();
        let by_name = workers
            .iter()
            .enumerate()
            .map(|(i, w)| (w.name.clone(), i))
            .collect();
        Farm {
            workers,
            by_id,
            by_name,
            hour_memo: RwLock::default(),
        }
    }

    /// The workers that have joined by `now`.
    pub fn workers_at(&self, now: i64) -> impl Iterator<Item = &Worker> {
        self.workers.iter().filter(move |w| w.first_ts <= now)
    }

    pub fn by_id(&self, id: i64, now: i64) -> Option<&Worker> {
        let worker = &self.workers[*self.by_id.get(&id)?];
        (worker.first_ts <= now).then_some(worker)
    }

    pub fn by_name(&self, name: &str, now: i64) -> Option<&Worker> {
        let worker = &self.workers[*self.by_name.get(name)?];
        (worker.first_ts <= now).then_some(worker)
    }

    fn is_down(&self, w: &Worker, hour_ts: i64) -> bool {
        let hour = hour_ts.div_euclid(HOUR);
        if unit(mixed(w.key, &[tag::DOWN_HOUR, hour as u64])) < w.down_hour_p {
            return true;
        }
        // Runs of 2..10 hours, at most one per 2-day block.
        let block = hour.div_euclid(48);
        let run = mixed(w.key, &[tag::DOWN_RUN, block as u64]);
        if unit(run) >= w.down_run_p {
            return false;
        }
        let start = ((run >> 12) % 48) as i64;
        let len = 2 + ((run >> 24) % 9) as i64;
        (start..start + len).contains(&hour.rem_euclid(48))
    }

    /// A worker's completed hour: None before it joined, zeros while down or after it
    /// stopped; a joining or stopping hour counts its part.
    pub fn worker_hour(&self, w: &Worker, hour_ts: i64) -> Option<Shares> {
        let end = hour_ts + HOUR;
        if end <= w.first_ts {
            return None;
        }
        let from = hour_ts.max(w.first_ts);
        let to = w.stopped_ts.map_or(end, |stop| stop.clamp(hour_ts, end));
        if to <= from || self.is_down(w, hour_ts) {
            return Some(Shares::default());
        }
        let hour = hour_ts.div_euclid(HOUR) as u64;
        let hod = hour_ts.rem_euclid(DAY) as f64 / HOUR as f64;
        let (amplitude, peak) = w.swing;
        let swing = 1.0 + amplitude * (std::f64::consts::TAU * (hod - peak) / 24.0).cos();
        let noise = 1.0 + 0.04 * (unit(mixed(w.key, &[tag::NOISE, hour])) - 0.5);
        let part = (to - from) as f64 / HOUR as f64;
        let total = (w.base_ghs * swing * noise * part).round();
        let spike = mixed(w.key, &[tag::SPIKE, hour]);
        let bad = if unit(spike) < w.spike_p {
            0.02 + 0.13 * unit(fmix(spike))
        } else {
            0.0
        };
        let stale_f = w.stale_base * (0.5 + unit(mixed(w.key, &[tag::STALE, hour]))) + bad / 3.0;
        let reject_f = w.reject_base * (0.5 + unit(mixed(w.key, &[tag::REJECT, hour]))) + bad;
        let stale = (total * stale_f).round();
        let rejected = (total * reject_f).round();
        Some(Shares {
            accepted: total - stale - rejected,
            stale,
            rejected,
        })
    }

    /// A worker's hour as served at `now`: final once complete, partial and moving each
    /// minute while live, None in the future or before the worker joined.
    pub fn worker_hour_at(&self, w: &Worker, hour_ts: i64, now: i64) -> Option<Shares> {
        if hour_ts > now || now < w.first_ts {
            return None;
        }
        let last = self.worker_hour(w, hour_ts)?;
        let elapsed = now - hour_ts;
        if elapsed >= HOUR {
            return Some(last);
        }
        let minute = (elapsed / 60) as u64;
        let u = unit(mixed(w.key, &[tag::LIVE, hour_ts as u64, minute]));
        let remaining = 1.0 - elapsed as f64 / HOUR as f64;
        Some(last.scaled_whole(1.0 + 0.3 * remaining * (u - 0.5)))
    }

    /// The sub-account's hour at `now` and how many workers hashed in it.
    pub fn sub_hour_at(&self, hour_ts: i64, now: i64) -> Option<(Shares, u32)> {
        let completed = hour_ts + HOUR <= now;
        if completed {
            let memo = self.hour_memo.read().unwrap_or_else(|e| e.into_inner());
            if let Some(&cached) = memo.get(&hour_ts) {
                return cached;
            }
        }
        let mut sum: Option<(Shares, u32)> = None;
        for w in &self.workers {
            if let Some(s) = self.worker_hour_at(w, hour_ts, now) {
                let (total, hashing) = sum.get_or_insert((Shares::default(), 0));
                *total = total.plus(s);
                *hashing += u32::from(s.accepted > 0.0);
            }
        }
        if completed {
            self.hour_memo
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(hour_ts, sum);
        }
        sum
    }

    /// A day from its hours: their sum over 24 once complete, over the hours begun so far
    /// while live, kept in whole GH/s as the API's int64 fields hold it; None when no hour has
    /// data. The second figure is the mean of `extra`.
    fn day_from(
        &self,
        day_ts: i64,
        now: i64,
        hour: impl Fn(i64) -> Option<(Shares, u32)>,
    ) -> Option<(Shares, f64)> {
        if day_ts > now {
            return None;
        }
        let hours = ((now - day_ts) / HOUR + 1).min(24);
        let mut sum: Option<(Shares, u32)> = None;
        for h in 0..hours {
            if let Some((s, extra)) = hour(day_ts + h * HOUR) {
                let (total, count) = sum.get_or_insert((Shares::default(), 0));
                *total = total.plus(s);
                *count += extra;
            }
        }
        sum.map(|(total, count)| {
            let mean = total.over(hours as f64).scaled_whole(1.0);
            (mean, f64::from(count) / hours as f64)
        })
    }

    /// The value of `series`' bucket at `now` and, for the sub-account, the mean number of
    /// workers hashing; None where the series has no data (unknown worker included).
    pub fn point_at(&self, series: FoundrySeries, bucket: i64, now: i64) -> Option<(Shares, f64)> {
        match series {
            FoundrySeries::SubAccountHour => self
                .sub_hour_at(bucket, now)
                .map(|(s, n)| (s, f64::from(n))),
            FoundrySeries::SubAccountDay => {
                self.day_from(bucket, now, |h| self.sub_hour_at(h, now))
            }
            FoundrySeries::WorkerHour(id) => {
                let w = self.by_id(id, now)?;
                self.worker_hour_at(w, bucket, now).map(|s| (s, 0.0))
            }
            FoundrySeries::WorkerDay(id) => {
                let w = self.by_id(id, now)?;
                self.day_from(bucket, now, |h| {
                    self.worker_hour_at(w, h, now).map(|s| (s, 0))
                })
            }
        }
    }

    /// Live figures for the worker list, GH/s: `[5m, 15m, 1h]` totals (accepted + stale +
    /// rejected), and the stale and reject fractions of the current hour. `sample` stands for
    /// the moment within the minute the figures were read (each page of a list is another).
    pub fn realtime(&self, w: &Worker, now: i64, sample: u64) -> ([f64; 3], Shares) {
        let hour_ts = floor_to(now, HOUR);
        let hour = match self.worker_hour(w, hour_ts) {
            Some(s) if now >= w.first_ts && w.stopped_ts.is_none_or(|stop| now < stop) => s,
            _ => return ([0.0; 3], Shares::default()),
        };
        let total = hour.accepted + hour.stale + hour.rejected;
        let minute = now.div_euclid(60) as u64;
        let mut rates = [0.0; 3];
        for (k, (rate, spread)) in rates.iter_mut().zip([0.12, 0.06, 0.02]).enumerate() {
            let u = unit(mixed(w.key, &[tag::REALTIME, k as u64, minute, sample]));
            *rate = (total * (1.0 + spread * (u - 0.5))).round();
        }
        (rates, hour.over(total.max(1.0)))
    }

    /// The last share's time: a few seconds ago while hashing, else the end of the last hour
    /// with shares (looking back two days), the stop, or the join.
    pub fn last_share_ts(&self, w: &Worker, now: i64) -> i64 {
        let jitter = (mixed(w.key, &[tag::LAST_SHARE, now.div_euclid(60) as u64]) % 40) as i64;
        let hashing = |hour_ts: i64| {
            self.worker_hour(w, hour_ts)
                .is_some_and(|s| s.accepted > 0.0)
        };
        let current = floor_to(now, HOUR);
        if w.stopped_ts.is_none_or(|stop| now < stop) && hashing(current) {
            return (now - jitter).max(w.first_ts);
        }
        let mut end = w.stopped_ts.map_or(now, |stop| stop.min(now));
        let mut hour = floor_to(end - 1, HOUR);
        for _ in 0..48 {
            if hour + HOUR <= w.first_ts {
                break;
            }
            if hashing(hour) {
                return (end.min(hour + HOUR) - 1 - jitter).max(w.first_ts);
            }
            end = hour;
            hour -= HOUR;
        }
        w.stopped_ts
            .map_or(w.first_ts, |stop| stop.min(now) - 1 - jitter)
            .max(w.first_ts)
    }
}

/// Fixed shares of each life (at least one each from 8 workers up), spread by hash.
fn assign_lives(seed: u64, n: usize) -> Vec<Life> {
    if n < 8 {
        return vec![Life::Veteran; n];
    }
    let plan = [
        (Life::Dead, share_of(n, 8)),
        (Life::StoppedRecently, share_of(n, 5)),
        (Life::StopsLater, share_of(n, 4)),
        (Life::JoinedHoursAgo, share_of(n, 5)),
        (Life::JoinedDaysAgo, share_of(n, 8)),
        (Life::JoinedMonthsAgo, share_of(n, 6)),
        (Life::JoinsLater, share_of(n, 5)),
    ];
    assign_by_plan(MURMUR, seed, tag::LIFE, n, Life::Veteran, &plan)
}

/// `(first share, stop)`, at odd seconds: pools see miners come and go mid-hour.
fn life_span(life: Life, anchor: i64, worker_hours: u32, key: u64) -> (i64, Option<i64>) {
    let r = fmix(key ^ 0x11FE);
    let pick = |lo: i64, hi: i64, salt: u32| lo + ((r >> salt) % (hi - lo).max(1) as u64) as i64;
    // The sub-account opened about 520 days before the anchor; veterans came in its first month.
    let veteran = floor_to(anchor, DAY) - 520 * DAY + pick(0, 30 * DAY, 3);
    match life {
        Life::Veteran => (veteran, None),
        Life::JoinedMonthsAgo => (anchor - pick(60 * DAY, 200 * DAY, 5), None),
        Life::JoinedDaysAgo => (anchor - pick(2 * DAY, 40 * DAY, 7), None),
        Life::JoinedHoursAgo => {
            // Inside the worker hourly retention, so a first collection sees the join.
            let span = (i64::from(worker_hours) * 2 / 3).max(4) * HOUR;
            (anchor - pick(3 * HOUR, span, 9), None)
        }
        Life::JoinsLater => (anchor + pick(6 * HOUR, 25 * DAY, 11), None),
        Life::Dead => (veteran, Some(anchor - pick(30 * HOUR, 120 * DAY, 13))),
        Life::StoppedRecently => (veteran, Some(anchor - pick(HOUR, 6 * HOUR, 15))),
        Life::StopsLater => (veteran, Some(anchor + pick(DAY, 25 * DAY, 17))),
    }
}

/// Distinct positive ids: some below 2^31, some between 2^31 and 2^40, some past 2^53.
fn distinct_id(seed: u64, i: usize, seen: &mut HashSet<i64>) -> i64 {
    let mut attempt = 0u64;
    loop {
        let h = mixed(seed, &[tag::ID, i as u64, attempt]);
        attempt += 1;
        let id = match h % 3 {
            0 => 1_000_000 + (h >> 8) % 2_000_000_000,
            1 => (1u64 << 31) + (h >> 8) % ((1u64 << 40) - (1u64 << 31)),
            _ => (1u64 << 53) + (h >> 2) % (i64::MAX as u64 - (1u64 << 53)),
        } as i64;
        if seen.insert(id) {
            return id;
        }
    }
}
