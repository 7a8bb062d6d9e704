//! A local Foundry USA API with the quirks of `shared/api/foundry.md` section 6: a deterministic
//! server for the demo and the tests of the Foundry client.
//!
//! `farm` holds the synthetic sub-account (a pure function of the seed and the start hour),
//! `server` the HTTP endpoints and their parameters, `wire` the JSON spelling, `fault` the
//! failures, `conn` the connections that can be broken mid-answer.
//!
//! Endpoints (no `/v1` prefix): `/workers/{sub}`, `/workers/{sub}/{workerName}`,
//! `/subaccount_hashrate_hour/{sub}`, `/subaccount_hashrate_day/{sub}`,
//! `/worker_hashrate_hour/{sub}/{workerId}`, `/worker_hashrate_day/{sub}/{workerId}`,
//! `/authentication_test`, `/coins`. Every one but `/coins` wants `X-API-KEY` (403 otherwise);
//! an unknown sub-account is 404; an unknown worker id is 404 on the day series and `[]` on the
//! hourly one (which documents no error). `coin` other than BTC answers no data: `[]`, an
//! empty worker list, 404 for one worker. Ranges: `startDateUnixMs`/`endDateUnixMs` win over
//! `start`/`end` on every series; a date-only `end` covers its whole day; buckets are selected
//! by their start, both ends inclusive; a millisecond value of 0 counts as not given (the spec's
//! default). Defaults: hours from a week back to now, days from 30 days back to today.
//! `averageWorkers` (sub-account days only) is -1.0 for the current UTC day, and for the day
//! before during the first hour after midnight (still pending). The worker list filters
//! `status` by the last share's age, `tag` (`all`, `untagged` or a name) and
//! `workerNameSearchStr` (case-insensitive substring); every documented `sort` is served.
//! Bad parameters are 400.
//!
//! Quirks, each chosen by hash of the seed and the request (the same request gets the same
//! answer; the API key plays no part):
//! - series `time` as `Z`, `+00:00`, with or without milliseconds, or with no offset (UTC);
//!   `endTime` present or not; `unixTime` in seconds or milliseconds, of the bucket's start or
//!   its end; elements oldest-first, newest-first or shuffled; buckets without shares left out,
//!   sent as zeros, or either per bucket; numbers as integers, floats (`123.0`) or mixed.
//! - The live hour and day are partial and move every minute; completed buckets never change.
//! - Worker names are display text: HTML, a spreadsheet formula, `/`, `%`, spaces, non-ASCII,
//!   control characters; ids (strings in the list, some past 2^31 and 2^53) key the workers.
//! - The default sort (`highestHashrate`) samples the live hashrate per page, so pages overlap
//!   or skip workers; `workerName` is stable. `pageSize` is cut at `max_page_size`.
//! - Error bodies are text or JSON; the key is echoed in 403 bodies only if
//!   `echo_key_in_errors` is set.
//!
//! Faults (`fault_rate`, off by default): 429 with `Retry-After` 1, 0 or none; 500, 502, 503
//! with an HTML page; a truncated JSON body; a body cut mid-stream (the connection closes before
//! `Content-Length` bytes); a connection closed with no answer; a slow answer. A request's
//! fault follows from the seed, the request and its current failing streak, which never
//! exceeds `fault_max_consecutive` (a slow answer counts as a failure: it is meant to outlast
//! the client's timeout). Any endpoint but an unknown path may fail, error answers included.
//! The cut and the closed connection happen in the socket (`conn`), so the client meets the
//! real thing: a `Content-Length` the body falls short of, or no response at all.

mod conn;
mod farm;
mod fault;
mod server;
mod wire;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;

pub use fault::FoundryFaultKind;
pub use server::{serve, spawn_local};
pub use wire::read_time;

use crate::pools::sim_common::{announce, bind_listen, tally, zero, SimClock};
use farm::{floor_to, Farm, DAY, HOUR};
use fault::Faults;

/// What the simulated Foundry pool serves; see `FoundrySimulateArgs` for the knobs.
#[derive(Debug, Clone)]
pub struct FoundrySimConfig {
    pub workers: u32,
    pub seed: u64,
    /// The `X-API-KEY` accepted.
    pub access_key: String,
    /// The one sub-account served.
    pub sub_account: String,
    /// Retention, in buckets back from the current one (inclusive).
    pub worker_hours: u32,
    pub worker_days: u32,
    pub sub_account_hours: u32,
    pub sub_account_days: u32,
    /// Silent cap on `pageSize` (and the size `-1` stands for).
    pub max_page_size: u32,
    /// Fixed clock (Unix seconds); None follows the system clock.
    pub now: Option<i64>,
    /// Probability 0..1 that a request fails.
    pub fault_rate: f64,
    /// The faults that may be served; empty for all of them.
    pub fault_kinds: Vec<FoundryFaultKind>,
    /// Most failures in a row for one request before it gets through; 0 for no limit.
    pub fault_max_consecutive: u32,
    /// How long a slow answer waits, in milliseconds.
    pub fault_slow_ms: u64,
    /// A hostile pool: 403 bodies repeat the key that was sent.
    pub echo_key_in_errors: bool,
}

impl Default for FoundrySimConfig {
    fn default() -> Self {
        FoundrySimConfig {
            workers: 40,
            seed: 7,
            access_key: "demo-foundry-key".to_string(),
            sub_account: "farm1".to_string(),
            worker_hours: 72,
            worker_days: 90,
            sub_account_hours: 720,
            sub_account_days: 800,
            max_page_size: 100,
            now: None,
            fault_rate: 0.0,
            fault_kinds: Vec::new(),
            fault_max_consecutive: 3,
            fault_slow_ms: 2_000,
            echo_key_in_errors: false,
        }
    }
}

/// A history series of the sub-account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FoundrySeries {
    SubAccountHour,
    SubAccountDay,
    WorkerHour(i64),
    WorkerDay(i64),
}

impl FoundrySeries {
    pub fn step_seconds(self) -> i64 {
        match self {
            FoundrySeries::SubAccountHour | FoundrySeries::WorkerHour(_) => HOUR,
            FoundrySeries::SubAccountDay | FoundrySeries::WorkerDay(_) => DAY,
        }
    }
}

/// A point the pool keeps, in poolhist's units, plus the GH/s it is served as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthPoint {
    /// Bucket start, Unix seconds.
    pub ts: i64,
    /// Accepted hashrate, H/s (GH/s x 1e9).
    pub hashrate_hs: f64,
    /// (stale + rejected) / (accepted + stale + rejected); 0 when the sum is 0.
    pub reject_rate: f64,
    /// The live bucket: partial, still changing.
    pub provisional: bool,
    pub accepted_ghs: f64,
    pub stale_ghs: f64,
    pub rejected_ghs: f64,
}

/// A worker as the list shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthWorker {
    pub id: i64,
    pub name: String,
    /// "" when untagged.
    pub tag: String,
    /// Unix seconds (the wire carries milliseconds at most).
    pub last_share_time: i64,
    /// When the worker first submitted (Unix seconds).
    pub first_ts: i64,
    /// When it stopped for good, if it did (possibly still in the future).
    pub stopped_ts: Option<i64>,
}

/// The endpoints, as counted in `FoundrySimStats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FoundryEndpoint {
    Workers,
    Worker,
    SubAccountHour,
    SubAccountDay,
    WorkerHour,
    WorkerDay,
    AuthenticationTest,
    Coins,
    /// Unknown paths and methods.
    Unknown,
}

impl FoundryEndpoint {
    pub const ALL: [FoundryEndpoint; 9] = [
        FoundryEndpoint::Workers,
        FoundryEndpoint::Worker,
        FoundryEndpoint::SubAccountHour,
        FoundryEndpoint::SubAccountDay,
        FoundryEndpoint::WorkerHour,
        FoundryEndpoint::WorkerDay,
        FoundryEndpoint::AuthenticationTest,
        FoundryEndpoint::Coins,
        FoundryEndpoint::Unknown,
    ];

    pub fn is_series(self) -> bool {
        matches!(
            self,
            FoundryEndpoint::SubAccountHour
                | FoundryEndpoint::SubAccountDay
                | FoundryEndpoint::WorkerHour
                | FoundryEndpoint::WorkerDay
        )
    }
}

/// What the simulator has served since it started (or since `reset_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoundrySimStats {
    pub requests: u64,
    pub requests_by_kind: BTreeMap<FoundryEndpoint, u64>,
    /// Series elements in delivered answers.
    pub points_served: u64,
    /// 400, 403 and 404 answers (faults not included).
    pub errors_served: u64,
    pub faults_by_kind: BTreeMap<FoundryFaultKind, u64>,
}

impl FoundrySimStats {
    pub fn requests_of(&self, kind: FoundryEndpoint) -> u64 {
        self.requests_by_kind.get(&kind).copied().unwrap_or(0)
    }

    pub fn faults_of(&self, kind: FoundryFaultKind) -> u64 {
        self.faults_by_kind.get(&kind).copied().unwrap_or(0)
    }

    pub fn faults_served(&self) -> u64 {
        self.faults_by_kind.values().sum()
    }

    pub fn series_requests(&self) -> u64 {
        self.requests_by_kind
            .iter()
            .filter(|(kind, _)| kind.is_series())
            .map(|(_, count)| count)
            .sum()
    }
}

#[derive(Default)]
struct Counters {
    requests: [AtomicU64; FoundryEndpoint::ALL.len()],
    points: AtomicU64,
    errors: AtomicU64,
    faults: [AtomicU64; FoundryFaultKind::ALL.len()],
}

/// The simulated pool: farm, clock and counters. Shared by the server's tasks.
pub struct FoundrySim {
    config: FoundrySimConfig,
    farm: Farm,
    clock: SimClock,
    counters: Counters,
    faults: Faults,
}

impl FoundrySim {
    /// Lays the farm out around the start time (`config.now` or the system clock): joiners and
    /// leavers are placed relative to that hour and stay there as the clock moves, so a
    /// completed bucket never changes.
    pub fn new(config: FoundrySimConfig) -> FoundrySim {
        let start = config.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
        FoundrySim {
            farm: Farm::new(&config, start),
            clock: SimClock::new(config.now, 0),
            faults: Faults::new(
                config.seed,
                config.fault_rate,
                &config.fault_kinds,
                config.fault_max_consecutive,
            ),
            counters: Counters::default(),
            config,
        }
    }

    pub fn config(&self) -> &FoundrySimConfig {
        &self.config
    }

    /// Fixes the clock at `ts` (Unix seconds).
    pub fn set_now(&self, ts: i64) {
        self.clock.set(ts);
    }

    /// Moves the clock on by `secs` (fixing it, if it followed the system clock).
    pub fn advance(&self, secs: i64) {
        self.clock.advance(secs);
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The workers the list holds now (those that have joined), in id order.
    pub fn workers(&self) -> Vec<TruthWorker> {
        let now = self.now();
        let mut workers: Vec<TruthWorker> = self
            .farm
            .workers_at(now)
            .map(|w| TruthWorker {
                id: w.id,
                name: w.name.clone(),
                tag: w.tag.clone(),
                last_share_time: self.farm.last_share_ts(w, now),
                first_ts: w.first_ts,
                stopped_ts: w.stopped_ts,
            })
            .collect();
        workers.sort_by_key(|w| w.id);
        workers
    }

    /// Every point the pool keeps for `series` at the current clock, oldest first: the
    /// retention window up to the live bucket (flagged provisional), buckets with no data
    /// (before a worker joined or the account existed) left out, buckets without shares kept
    /// as zeros (the wire may leave those out). Empty for a worker unknown now.
    pub fn truth(&self, series: FoundrySeries) -> Vec<TruthPoint> {
        let now = self.now();
        let current = floor_to(now, series.step_seconds());
        self.kept(series, i64::MIN, i64::MAX, now)
            .into_iter()
            .map(|kept| {
                let s = kept.shares;
                TruthPoint {
                    ts: kept.ts,
                    hashrate_hs: s.accepted * 1e9,
                    reject_rate: s.reject_rate(),
                    provisional: kept.ts == current,
                    accepted_ghs: s.accepted,
                    stale_ghs: s.stale,
                    rejected_ghs: s.rejected,
                }
            })
            .collect()
    }

    /// The retention window of `series` now: `(oldest kept bucket, current bucket)`.
    pub fn retention_window(&self, series: FoundrySeries) -> (i64, i64) {
        let step = series.step_seconds();
        let current = floor_to(self.now(), step);
        let slots = i64::from(self.retention(series).max(1));
        (current - (slots - 1) * step, current)
    }

    fn retention(&self, series: FoundrySeries) -> u32 {
        match series {
            FoundrySeries::SubAccountHour => self.config.sub_account_hours,
            FoundrySeries::SubAccountDay => self.config.sub_account_days,
            FoundrySeries::WorkerHour(_) => self.config.worker_hours,
            FoundrySeries::WorkerDay(_) => self.config.worker_days,
        }
    }

    pub fn stats(&self) -> FoundrySimStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let requests_by_kind = tally(&FoundryEndpoint::ALL, &self.counters.requests, false);
        FoundrySimStats {
            requests: requests_by_kind.values().sum(),
            requests_by_kind,
            points_served: read(&self.counters.points),
            errors_served: read(&self.counters.errors),
            faults_by_kind: tally(&FoundryFaultKind::ALL, &self.counters.faults, true),
        }
    }

    pub fn reset_stats(&self) {
        let counters = &self.counters;
        zero(
            counters
                .requests
                .iter()
                .chain(&counters.faults)
                .chain([&counters.points, &counters.errors]),
        );
    }
}

/// Serve a synthetic Foundry USA sub-account with the API's quirks.
#[derive(Debug, Clone, clap::Args)]
pub struct FoundrySimulateArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8081")]
    pub listen: String,
    /// Number of workers
    #[arg(long, default_value_t = 40)]
    pub workers: u32,
    /// Seed of the synthetic data
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// X-API-KEY the simulator accepts
    #[arg(
        long,
        env = "POOLHIST_FOUNDRY_SIM_KEY",
        default_value = "demo-foundry-key",
        hide_env_values = true
    )]
    pub access_key: String,
    /// Sub-account name served
    #[arg(long, default_value = "farm1")]
    pub sub_account: String,
    /// Largest pageSize served (larger ones and -1 are cut silently)
    #[arg(long, default_value_t = 100)]
    pub max_page_size: u32,
    /// Fixed clock, Unix seconds (for reproducible runs)
    #[arg(long, value_name = "TS")]
    pub now: Option<i64>,
    /// Fraction 0..1 of requests to fail on purpose (429, 5xx, broken bodies, resets, slow
    /// answers), deterministic under --seed
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = fraction_arg)]
    pub fault_rate: f64,
    /// Serve only these faults (comma-separated; default: all)
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub fault_kinds: Vec<FoundryFaultKind>,
    /// Most failures in a row for one request before it gets through (0: no limit)
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub fault_max_consecutive: u32,
    /// How long a slow answer waits, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 2_000)]
    pub fault_slow_ms: u64,
    /// Repeat the API key sent in 403 bodies, as a careless pool might
    #[arg(long)]
    pub echo_key_in_errors: bool,
}

/// A probability from the command line.
fn fraction_arg(text: &str) -> Result<f64, String> {
    let p: f64 = text.trim().parse().map_err(|e| format!("{text:?}: {e}"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not within 0..=1"))
    }
}

impl FoundrySimulateArgs {
    pub fn config(&self) -> FoundrySimConfig {
        FoundrySimConfig {
            workers: self.workers,
            seed: self.seed,
            access_key: self.access_key.clone(),
            sub_account: self.sub_account.clone(),
            max_page_size: self.max_page_size,
            now: self.now,
            fault_rate: self.fault_rate,
            fault_kinds: self.fault_kinds.clone(),
            fault_max_consecutive: self.fault_max_consecutive,
            fault_slow_ms: self.fault_slow_ms,
            echo_key_in_errors: self.echo_key_in_errors,
            ..FoundrySimConfig::default()
        }
    }
}

/// Binds, prints `listening on http://HOST:PORT` as the first stdout line, serves until Ctrl-C.
pub async fn run(args: FoundrySimulateArgs) -> anyhow::Result<()> {
    let (listener, addr) = bind_listen(&args.listen).await?;
    let sim = std::sync::Arc::new(FoundrySim::new(args.config()));
    announce(&format!("http://{addr}"))?;
    tracing::info!(
        workers = args.workers,
        seed = args.seed,
        sub_account = %args.sub_account,
        fault_rate = args.fault_rate,
        "foundry simulator ready"
    );
    let ctrl_c = async {
        // Without a Ctrl-C handler, serve until killed rather than stop at once.
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot wait for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    server::serve_until(sim, listener, ctrl_c)
        .await
        .context("foundry simulator server failed")
}
