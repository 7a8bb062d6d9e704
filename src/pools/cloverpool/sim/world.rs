//! The synthetic pool account: groups, workers and their history, all a pure function of the
//! seed and the anchor hour (the hour the simulator started in), cheap to evaluate at any slot.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use crate::model::Dimension;

use super::{SimConfig, SimPoint, SimWorkerStatus};

pub(crate) const HOUR: i64 = 3_600;
pub(crate) const DAY: i64 = 86_400;

/// One tag per independent random quantity, so that two quantities never share a hash stream.
pub(crate) mod tag {
    pub const WORKER_KEY: u64 = 1;
    pub const WORKER_ID: u64 = 2;
    pub const CATEGORY: u64 = 3;
    pub const ODDITY: u64 = 4;
    pub const GROUP_ID: u64 = 6;
    pub const NOISE: u64 = 10;
    pub const OUTAGE_HOUR: u64 = 11;
    pub const OUTAGE_RUN: u64 = 12;
    pub const SPIKE: u64 = 13;
    pub const REJECT: u64 = 14;
    pub const LIVE: u64 = 20;
    pub const SHARES_WINDOW: u64 = 21;
    pub const LAST_SHARE: u64 = 22;
    pub const RESPONSE: u64 = 30;
    pub const GAP: u64 = 31;
    pub const FAULT: u64 = 40;
    pub const FAULT_KIND: u64 = 41;
    pub const NONSENSE: u64 = 42;
}

use crate::pools::sim_common::{assign_by_plan, rank_by_hash, share_of, SPLITMIX};
pub(crate) use crate::pools::sim_common::{
    floor_to, splitmix64 as mix64, splitmix_hash as hash, unit,
};

/// FNV-1a, to fold request text into a hash.
pub(crate) fn hash_str(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

pub(crate) struct Group {
    pub gid: i64,
    pub name: String,
    pub created_at: i64,
}

pub(crate) struct WorkerSpec {
    pub id: i64,
    pub name: String,
    /// Index into `World::groups`.
    pub group: usize,
    key: u64,
    base_hs: f64,
    /// Daily cycle factor by UTC hour of day.
    cycle: [f64; 24],
    outage_hour_p: f64,
    outage_run_p: f64,
    reject_base: f64,
    spike_p: f64,
    /// First hour with data.
    pub first_ts: i64,
    /// First hour without hashrate, for workers that stopped for good.
    pub stopped_ts: Option<i64>,
    pub ip: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Series {
    Account,
    Worker(usize),
}

pub(crate) struct World {
    seed: u64,
    pub groups: Vec<Group>,
    pub workers: Vec<WorkerSpec>,
    by_id: HashMap<i64, usize>,
    /// Account aggregates are sums over every worker: kept once computed (they never change).
    account_memo: [RwLock<HashMap<i64, Option<SimPoint>>>; 2],
}

const MODELS: [&str; 6] = ["s19", "s19j", "s19xp", "s21", "m30s", "m50"];

/// The category of a worker's life: when it joined, whether and when it stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Life {
    Veteran,
    JoinedMonthsAgo,
    JoinedDaysAgo,
    JoinedHoursAgo,
    Dead,
    Inactive,
}

impl World {
    pub fn new(config: &SimConfig, start_ts: i64) -> World {
        let seed = config.seed;
        let anchor_ts = floor_to(start_ts, HOUR);
        let n = config.workers as usize;

        let group_count = (n / 40).max(1);
        let mut groups = vec![Group {
            gid: -1,
            name: "DEFAULT".to_string(),
            created_at: floor_to(anchor_ts, DAY) - 1_200 * DAY,
        }];
        for k in 0..group_count {
            let h = hash(seed, &[tag::GROUP_ID, k as u64]);
            groups.push(Group {
                // distinct: the hash part stays below the spacing
                gid: 100_000 + (k as i64) * 1_000 + (h % 1_000) as i64,
                name: format!("rack{:02}", k + 1),
                created_at: floor_to(anchor_ts, DAY) - 1_100 * DAY + (h % 86_400) as i64,
            });
        }

        let lives = assign_lives(seed, n);
        let oddities = rank_by_hash(SPLITMIX, seed, tag::ODDITY, n);
        let mut ids_seen = HashSet::new();
        let mut workers = Vec::with_capacity(n);
        for (i, &life) in lives.iter().enumerate() {
            let key = hash(seed, &[tag::WORKER_KEY, i as u64]);
            let id = distinct_id(seed, i, &mut ids_seen);
            let group = if key.is_multiple_of(10) {
                0
            } else {
                1 + ((key >> 8) as usize % group_count)
            };
            let model = MODELS[(key >> 16) as usize % MODELS.len()];
            let prefix = if group == 0 {
                "spare".to_string()
            } else {
                groups[group].name.clone()
            };
            let mut name = format!("{prefix}-{model}-{:04}", i + 1);
            match oddities.iter().position(|&o| o == i) {
                Some(0) if n >= 3 => name = format!("矿机-Zürich-{:02}", i + 1),
                Some(1) if n >= 4 => {
                    name = format!("=HYPERLINK(\"http://x.test\",\"rig{}\")", i + 1)
                }
                Some(2) if n >= 20 => name = "<script>alert(1)</script>".to_string(),
                _ => {}
            }
            let u = |t: u64| unit(hash(seed, &[tag::WORKER_KEY, i as u64, t]));
            let amp = 0.01 + 0.04 * u(1);
            let phase = 24.0 * u(2);
            let mut cycle = [1.0; 24];
            for (hod, factor) in cycle.iter_mut().enumerate() {
                *factor =
                    1.0 + amp * (2.0 * std::f64::consts::PI * (hod as f64 - phase) / 24.0).sin();
            }
            let flaky = u(3) < 0.2;
            let (first_ts, stopped_ts) = life_span(life, anchor_ts, config, key);
            workers.push(WorkerSpec {
                id,
                name,
                group,
                key,
                base_hs: (80.0 + 60.0 * u(4)) * 1e12,
                cycle,
                outage_hour_p: if flaky { 0.01 } else { 0.002 },
                outage_run_p: if flaky { 0.3 } else { 0.03 },
                reject_base: 0.0005 + 0.0055 * u(5),
                spike_p: if flaky { 0.03 } else { 0.005 },
                first_ts,
                stopped_ts,
                ip: format!(
                    "10.{}.{}.{}",
                    (key >> 24) % 256,
                    (key >> 32) % 256,
                    1 + (key >> 40) % 254
                ),
            });
        }
        let by_id = workers.iter().enumerate().map(|(i, w)| (w.id, i)).collect();
        World {
            seed,
            groups,
            workers,
            by_id,
            account_memo: [RwLock::default(), RwLock::default()],
        }
    }

    pub fn worker_index(&self, worker_id: i64) -> Option<usize> {
        self.by_id.get(&worker_id).copied()
    }

    fn is_outage(&self, w: &WorkerSpec, hour_ts: i64) -> bool {
        let hour = hour_ts.div_euclid(HOUR);
        if unit(hash(w.key, &[tag::OUTAGE_HOUR, hour as u64])) < w.outage_hour_p {
            return true;
        }
        // Runs of 2..12 hours, at most one per 3-day block.
        let block = hour.div_euclid(72);
        let run = hash(w.key, &[tag::OUTAGE_RUN, block as u64]);
        if unit(run) >= w.outage_run_p {
            return false;
        }
        let start = ((run >> 8) % 72) as i64;
        let len = 2 + ((run >> 20) % 11) as i64;
        let offset = hour.rem_euclid(72);
        offset >= start && offset < start + len
    }

    /// Final hourly value of a worker: None before it joined, zero while down or after it stopped.
    pub fn worker_hour(&self, w: &WorkerSpec, hour_ts: i64) -> Option<SimPoint> {
        if hour_ts < w.first_ts {
            return None;
        }
        let down = w.stopped_ts.is_some_and(|stop| hour_ts >= stop) || self.is_outage(w, hour_ts);
        if down {
            return Some(SimPoint {
                hashrate_hs: 0.0,
                reject_rate: 0.0,
            });
        }
        let hour = hour_ts.div_euclid(HOUR) as u64;
        let hod = hour_ts.rem_euclid(DAY) / HOUR;
        let noise = 1.0 + 0.03 * (unit(hash(w.key, &[tag::NOISE, hour])) - 0.5);
        let hashrate_hs = w.base_hs * w.cycle[hod as usize] * noise;
        let spike = hash(w.key, &[tag::SPIKE, hour]);
        let reject_rate = if unit(spike) < w.spike_p {
            0.02 + 0.18 * unit(mix64(spike))
        } else {
            w.reject_base * (0.5 + unit(hash(w.key, &[tag::REJECT, hour])))
        };
        Some(SimPoint {
            hashrate_hs,
            reject_rate,
        })
    }

    fn account_hour(&self, hour_ts: i64) -> Option<SimPoint> {
        let mut sum = Accumulator::default();
        for w in &self.workers {
            sum.add(self.worker_hour(w, hour_ts));
        }
        sum.total()
    }

    /// Final value of a completed slot (also defined for the current and future slots).
    /// `slot_ts` must be aligned to the dimension's step.
    pub fn point(&self, series: Series, dim: Dimension, slot_ts: i64) -> Option<SimPoint> {
        match (series, dim) {
            (Series::Worker(i), Dimension::Hour) => self.worker_hour(&self.workers[i], slot_ts),
            (Series::Worker(_), Dimension::Day) => {
                self.daily(|h| self.point(series, Dimension::Hour, h), slot_ts)
            }
            (Series::Account, _) => self.account_point(dim, slot_ts),
        }
    }

    fn account_point(&self, dim: Dimension, slot_ts: i64) -> Option<SimPoint> {
        let memo = &self.account_memo[dim as usize];
        let cached = memo
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&slot_ts)
            .copied();
        if let Some(point) = cached {
            return point;
        }
        let point = match dim {
            Dimension::Hour => self.account_hour(slot_ts),
            Dimension::Day => self.daily(|h| self.account_point(Dimension::Hour, h), slot_ts),
        };
        memo.write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(slot_ts, point);
        point
    }

    /// A day's value: mean hashrate over its 24 hours (hours without data count as zero),
    /// accept-weighted reject rate; None when no hour of the day has data.
    fn daily(&self, hour_point: impl Fn(i64) -> Option<SimPoint>, day_ts: i64) -> Option<SimPoint> {
        let mut sum = Accumulator::default();
        for h in 0..24 {
            sum.add(hour_point(day_ts + h * HOUR));
        }
        sum.total().map(|total| SimPoint {
            hashrate_hs: total.hashrate_hs / 24.0,
            reject_rate: total.reject_rate,
        })
    }

    /// The live value of a slot still filling, `elapsed` seconds in: the final value times a
    /// factor that moves every minute and settles on 1 as the slot completes.
    pub fn live_factor(&self, series: Series, dim: Dimension, slot_ts: i64, elapsed: i64) -> f64 {
        let series_key = match series {
            Series::Account => u64::MAX,
            Series::Worker(i) => i as u64,
        };
        let minute = (elapsed / 60) as u64;
        let u = unit(hash(
            self.seed,
            &[tag::LIVE, series_key, dim as u64, slot_ts as u64, minute],
        ));
        let remaining = 1.0 - (elapsed as f64 / dim.step_seconds() as f64).clamp(0.0, 1.0);
        1.0 + 0.3 * remaining * (u - 0.5)
    }

    pub fn status_at(&self, w: &WorkerSpec, now: i64) -> SimWorkerStatus {
        if let Some(stop) = w.stopped_ts {
            if now >= stop {
                return if now - stop >= DAY {
                    SimWorkerStatus::Dead
                } else {
                    SimWorkerStatus::Inactive
                };
            }
        }
        match self.worker_hour(w, floor_to(now, HOUR)) {
            Some(p) if p.hashrate_hs > 0.0 => SimWorkerStatus::Active,
            _ => SimWorkerStatus::Inactive,
        }
    }

    /// Hashrate over the last `window_secs` (1, 5, 15 minutes), for the real-time fields.
    pub fn recent_hashrate_hs(&self, w: &WorkerSpec, now: i64, window_secs: i64) -> f64 {
        let hour_ts = floor_to(now, HOUR);
        let final_hs = self.worker_hour(w, hour_ts).map_or(0.0, |p| p.hashrate_hs);
        let minute = now.div_euclid(60) as u64;
        let u = unit(hash(
            w.key,
            &[tag::SHARES_WINDOW, window_secs as u64, minute],
        ));
        // Shorter windows are noisier.
        let spread = 0.6 / (window_secs as f64 / 60.0).sqrt();
        final_hs * (1.0 + spread * 0.1 * (u - 0.5))
    }

    /// Mean hashrate and accept-weighted reject rate over the 24 completed hours before `now`.
    pub fn last_day(&self, series: Series, now: i64) -> SimPoint {
        let current = floor_to(now, HOUR);
        let mut sum = Accumulator::default();
        for back in 1..=24 {
            sum.add(self.point(series, Dimension::Hour, current - back * HOUR));
        }
        let total = sum.total().unwrap_or(SimPoint {
            hashrate_hs: 0.0,
            reject_rate: 0.0,
        });
        SimPoint {
            hashrate_hs: total.hashrate_hs / 24.0,
            reject_rate: total.reject_rate,
        }
    }

    pub fn last_share_ts(&self, w: &WorkerSpec, now: i64) -> i64 {
        let jitter = (hash(w.key, &[tag::LAST_SHARE, now.div_euclid(60) as u64]) % 50) as i64;
        match self.status_at(w, now) {
            SimWorkerStatus::Active => now - jitter,
            _ => {
                // The end of the last hour with hashrate, looking back at most two days.
                let mut hour = floor_to(now, HOUR);
                for _ in 0..48 {
                    hour -= HOUR;
                    match self.worker_hour(w, hour) {
                        Some(p) if p.hashrate_hs > 0.0 => return hour + HOUR - 1 - jitter * 7,
                        None => break,
                        _ => {}
                    }
                }
                w.stopped_ts.unwrap_or(w.first_ts).min(now) - 1 - jitter * 7
            }
        }
    }
}

#[derive(Default)]
struct Accumulator {
    hashrate_hs: f64,
    rejected_weight: f64,
    any: bool,
}

impl Accumulator {
    fn add(&mut self, point: Option<SimPoint>) {
        if let Some(p) = point {
            self.any = true;
            self.hashrate_hs += p.hashrate_hs;
            self.rejected_weight += p.hashrate_hs * p.reject_rate;
        }
    }

    fn total(&self) -> Option<SimPoint> {
        self.any.then(|| SimPoint {
            hashrate_hs: self.hashrate_hs,
            reject_rate: if self.hashrate_hs > 0.0 {
                self.rejected_weight / self.hashrate_hs
            } else {
                0.0
            },
        })
    }
}

/// Fixed shares of each life category (at least one each from 5 workers up), spread by hash.
fn assign_lives(seed: u64, n: usize) -> Vec<Life> {
    if n < 5 {
        return vec![Life::Veteran; n];
    }
    let plan = [
        (Life::Dead, share_of(n, 8)),
        (Life::Inactive, share_of(n, 6)),
        (Life::JoinedHoursAgo, share_of(n, 5)),
        (Life::JoinedDaysAgo, share_of(n, 8)),
        (Life::JoinedMonthsAgo, share_of(n, 6)),
    ];
    assign_by_plan(SPLITMIX, seed, tag::CATEGORY, n, Life::Veteran, &plan)
}

fn life_span(life: Life, anchor_ts: i64, config: &SimConfig, key: u64) -> (i64, Option<i64>) {
    let r = mix64(key);
    let veteran_since = floor_to(anchor_ts, DAY) - 1_000 * DAY - (r % 24) as i64 * HOUR;
    match life {
        Life::Veteran => (veteran_since, None),
        Life::JoinedMonthsAgo => (
            anchor_ts - (100 + (r % 200) as i64) * DAY - ((r >> 32) % 24) as i64 * HOUR,
            None,
        ),
        Life::JoinedDaysAgo => (
            anchor_ts - (2 + (r % 59) as i64) * DAY - ((r >> 32) % 24) as i64 * HOUR,
            None,
        ),
        Life::JoinedHoursAgo => {
            // Inside the hourly retention window, so that a first ingest sees it join.
            let span = (i64::from(config.worker_hours) * 2 / 3).max(4) - 3;
            (anchor_ts - (3 + (r % span as u64) as i64) * HOUR, None)
        }
        Life::Dead => (
            veteran_since,
            Some(anchor_ts - (30 + (r % (24 * 20)) as i64) * HOUR),
        ),
        Life::Inactive => (veteran_since, Some(anchor_ts - (1 + (r % 6) as i64) * HOUR)),
    }
}

/// Distinct positive ids: a third small (< 1e6), the rest 18-19 digits.
fn distinct_id(seed: u64, i: usize, seen: &mut HashSet<i64>) -> i64 {
    const LARGE_MIN: u64 = 100_000_000_000_000_000;
    let mut attempt = 0u64;
    loop {
        let h = hash(seed, &[tag::WORKER_ID, i as u64, attempt]);
        attempt += 1;
        let id = if h.is_multiple_of(3) {
            1 + (h >> 2) % 999_999
        } else {
            LARGE_MIN + (h >> 2) % (i64::MAX as u64 - LARGE_MIN)
        } as i64;
        if seen.insert(id) {
            return id;
        }
    }
}
