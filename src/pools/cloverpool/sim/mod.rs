//! The local pool: a deterministic server of the pool API v1 (see `shared/api/pool-api-v1.md`)
//! with the quirks real clients meet, for the demo, the ingest tests and the benchmarks.
//!
//! `world` holds the synthetic account (a pure function of the seed and the start hour),
//! `server` the HTTP endpoints, `wire` the JSON spelling.
//!
//! Quirks served, each chosen by hash of the seed and the request (the same request gets the
//! same answer; parameters other than `access_key` pick the variant):
//! - share-history: ticker elements as strings, numbers, or a mix; `shares_unit` the natural
//!   unit or a neighbour (a worker in G/T/P, the account in T/P/E); completed tickers shuffled
//!   in one response of four (the live one stays last); slots without data (outside retention,
//!   before a worker joined) sent as `null` or left out, per slot; `count` cut at `max_count`.
//! - Without `real_point` the current slot is hidden for its first 5 minutes, then reads low
//!   (final value x elapsed fraction); with it, it is the live value, moving every minute.
//! - `/worker` rows: `accept_count` or `total_accept`, `last_share_ip` or `last_ip`,
//!   `last_share_time` as Unix seconds or `"YYYY-MM-DD HH:MM:SS"`, ids as strings or numbers;
//!   rows under `data` (groups under `list`); `page_size` cut at `max_page_size`.
//! - Errors: HTTP 200 with `err_no` and `err_msg` as a string, `{"message": ..}` or a field map
//!   `{"dimension": ["is required"]}`; a missing key is err_no 401, sometimes with HTTP 401;
//!   unknown paths are HTTP 404 with err_no 1.
//!
//! Faults (`fault_rate`, off by default; see `fault`): 502 with an HTML page, 429 with
//! `Retry-After: 1`, `0` or none, truncated JSON, bytes that are not UTF-8, answers slower than
//! a client's timeout, connections closed without an answer, err_no 2, an empty `data`; and, in
//! share histories, extra nonsense tickers that the stated rules reject. Each request's fault
//! follows from the seed, the request and its current failing streak, and a streak never
//! exceeds `fault_max_consecutive`, so the same run meets the same faults and retries get
//! through.

mod fault;
mod server;
mod wire;
mod world;

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;

use crate::model::Dimension;

pub use fault::FaultKind;
pub use server::{serve, spawn_local};

use crate::pools::sim_common::{announce, bind_listen, tally, zero, SimClock};
use fault::Faults;
use world::{floor_to, Series, World};

/// What the simulated pool serves; see `SimulateArgs` for the meaning of each knob.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub workers: u32,
    pub seed: u64,
    pub access_key: String,
    pub puid: i64,
    /// Retention, in slots back from the current one (inclusive).
    pub worker_hours: u32,
    pub account_hours: u32,
    pub worker_days: u32,
    pub account_days: u32,
    /// Silent cap on share-history `count`.
    pub max_count: u32,
    /// Silent cap on list `page_size`.
    pub max_page_size: u32,
    /// Fixed clock (Unix seconds); None follows the system clock.
    pub now: Option<i64>,
    /// Probability 0..1 that a request fails (and, separately, that a share-history answer
    /// carries nonsense tickers).
    pub fault_rate: f64,
    /// The faults that may be served; empty for all of them.
    pub fault_kinds: Vec<FaultKind>,
    /// How long a slow answer waits, in milliseconds.
    pub fault_slow_ms: u64,
    /// Most failures in a row for one request before it gets through; 0 for no limit.
    pub fault_max_consecutive: u32,
    /// Seconds the pool's clock (and so its published statistics) stands behind the real one.
    pub clock_lag_secs: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            workers: 50,
            seed: 1,
            access_key: "r_demo_observer_key".to_string(),
            puid: 1001,
            worker_hours: 72,
            account_hours: 720,
            worker_days: 90,
            account_days: 365,
            max_count: 240,
            max_page_size: 50,
            now: None,
            fault_rate: 0.0,
            fault_kinds: Vec::new(),
            fault_slow_ms: 3_000,
            fault_max_consecutive: 4,
            clock_lag_secs: 0,
        }
    }
}

/// A hashrate point as the pool means it, in plain units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimPoint {
    pub hashrate_hs: f64,
    /// Fraction 0..1 of shares rejected (accept-weighted where aggregated).
    pub reject_rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimWorkerStatus {
    Active,
    Inactive,
    Dead,
}

impl SimWorkerStatus {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SimWorkerStatus::Active => "ACTIVE",
            SimWorkerStatus::Inactive => "INACTIVE",
            SimWorkerStatus::Dead => "DEAD",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimWorker {
    pub id: i64,
    pub name: String,
    pub gid: i64,
    pub group_name: String,
    /// Status at the simulator's `now`.
    pub status: SimWorkerStatus,
    /// First hour with data (Unix seconds).
    pub first_ts: i64,
    /// First hour without hashrate for a worker that stopped for good.
    pub stopped_ts: Option<i64>,
}

/// The endpoints, as counted in `SimStats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointKind {
    Groups,
    Stats,
    WorkerList,
    WorkerDetail,
    AccountHistory,
    WorkerHistory,
    WorkerUpdate,
    /// Unknown paths and methods.
    Unknown,
}

impl EndpointKind {
    pub const ALL: [EndpointKind; 8] = [
        EndpointKind::Groups,
        EndpointKind::Stats,
        EndpointKind::WorkerList,
        EndpointKind::WorkerDetail,
        EndpointKind::AccountHistory,
        EndpointKind::WorkerHistory,
        EndpointKind::WorkerUpdate,
        EndpointKind::Unknown,
    ];
}

/// What the simulator has served since it started (or since `reset_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    pub requests: u64,
    pub requests_by_kind: BTreeMap<EndpointKind, u64>,
    /// Non-null tickers in share-history responses.
    pub tickers_served: u64,
    /// Responses with a non-zero err_no (injected faults not included).
    pub errors_served: u64,
    /// Faults served, by kind (`NonsenseTickers` counts responses).
    pub faults_by_kind: BTreeMap<FaultKind, u64>,
    /// Nonsense tickers added to share-history responses.
    pub nonsense_tickers_served: u64,
}

impl SimStats {
    pub fn requests_of(&self, kind: EndpointKind) -> u64 {
        self.requests_by_kind.get(&kind).copied().unwrap_or(0)
    }

    pub fn faults_of(&self, kind: FaultKind) -> u64 {
        self.faults_by_kind.get(&kind).copied().unwrap_or(0)
    }

    /// Requests failed on purpose (every fault but nonsense tickers).
    pub fn failures_served(&self) -> u64 {
        self.faults_by_kind
            .iter()
            .filter(|(kind, _)| kind.is_transient())
            .map(|(_, count)| count)
            .sum()
    }

    /// Account and worker share-history requests.
    pub fn history_requests(&self) -> u64 {
        self.requests_of(EndpointKind::AccountHistory)
            + self.requests_of(EndpointKind::WorkerHistory)
    }
}

#[derive(Default)]
struct Counters {
    requests: [AtomicU64; EndpointKind::ALL.len()],
    tickers: AtomicU64,
    errors: AtomicU64,
    faults: [AtomicU64; FaultKind::ALL.len()],
    nonsense_tickers: AtomicU64,
}

/// The simulated pool: world, clock and counters. Shared by the server's tasks (`Send + Sync`).
pub struct Simulator {
    config: SimConfig,
    world: World,
    clock: SimClock,
    counters: Counters,
    faults: Faults,
}

impl Simulator {
    /// Lays the world out around the start time (`config.now` or the system clock): late
    /// joiners and stopped workers are placed relative to that hour and stay there as the
    /// clock moves, so a slot's final value never changes.
    pub fn new(config: SimConfig) -> Simulator {
        let start = config.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
        let world = World::new(&config, start);
        Simulator {
            clock: SimClock::new(config.now, config.clock_lag_secs),
            world,
            faults: Faults::new(
                config.seed,
                config.fault_rate,
                &config.fault_kinds,
                config.fault_max_consecutive,
            ),
            config,
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Fixes the real clock at `ts` (Unix seconds); the pool's stands `clock_lag_secs` behind.
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

    /// Every worker, in the world's order, with its status now.
    pub fn workers(&self) -> Vec<SimWorker> {
        let now = self.now();
        self.world
            .workers
            .iter()
            .map(|w| {
                let group = &self.world.groups[w.group];
                SimWorker {
                    id: w.id,
                    name: w.name.clone(),
                    gid: group.gid,
                    group_name: group.name.clone(),
                    status: self.world.status_at(w, now),
                    first_ts: w.first_ts,
                    stopped_ts: w.stopped_ts,
                }
            })
            .collect()
    }

    /// The final value the pool serves for a completed slot (None where the series has no data
    /// then, for an unknown worker, or for a `ts` not aligned to the dimension's step),
    /// ignoring retention. `worker_id` None is the account.
    pub fn expected_point(
        &self,
        worker_id: Option<i64>,
        dim: Dimension,
        ts: i64,
    ) -> Option<SimPoint> {
        if floor_to(ts, dim.step_seconds()) != ts {
            return None;
        }
        let series = match worker_id {
            None => Series::Account,
            Some(id) => Series::Worker(self.world.worker_index(id)?),
        };
        self.world.point(series, dim, ts)
    }

    pub fn stats(&self) -> SimStats {
        let requests_by_kind = tally(&EndpointKind::ALL, &self.counters.requests, false);
        SimStats {
            requests: requests_by_kind.values().sum(),
            requests_by_kind,
            tickers_served: self.counters.tickers.load(Ordering::Relaxed),
            errors_served: self.counters.errors.load(Ordering::Relaxed),
            faults_by_kind: tally(&FaultKind::ALL, &self.counters.faults, true),
            nonsense_tickers_served: self.counters.nonsense_tickers.load(Ordering::Relaxed),
        }
    }

    pub fn reset_stats(&self) {
        let counters = &self.counters;
        zero(counters.requests.iter().chain(&counters.faults).chain([
            &counters.tickers,
            &counters.errors,
            &counters.nonsense_tickers,
        ]));
    }
}

/// Serve a synthetic pool account: the pool API v1 with deterministic data and its quirks.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The pool whose API to serve: cloverpool; `--pool foundry` serves Foundry USA's API and
    /// takes its own options (`poolhist simulate --pool foundry --help`)
    #[arg(long, value_name = "NAME", default_value = "cloverpool")]
    pub pool: String,
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Number of workers
    #[arg(long, default_value_t = 50)]
    pub workers: u32,
    /// Seed of the synthetic data
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Access key the simulator accepts
    #[arg(
        long,
        env = "POOLHIST_SIM_ACCESS_KEY",
        default_value = "r_demo_observer_key",
        hide_env_values = true
    )]
    pub access_key: String,
    /// Account id (puid) the simulator serves
    #[arg(long, default_value_t = 1001)]
    pub puid: i64,
    /// Per-worker hourly history kept, in hours
    #[arg(long, default_value_t = 72)]
    pub worker_hours: u32,
    /// Account hourly history kept, in hours
    #[arg(long, default_value_t = 720)]
    pub account_hours: u32,
    /// Per-worker daily history kept, in days
    #[arg(long, default_value_t = 90)]
    pub worker_days: u32,
    /// Account daily history kept, in days
    #[arg(long, default_value_t = 365)]
    pub account_days: u32,
    /// Largest share-history `count` served (larger ones are cut silently)
    #[arg(long, default_value_t = 240)]
    pub max_count: u32,
    /// Largest list `page_size` served (larger ones are cut silently)
    #[arg(long, default_value_t = 50)]
    pub max_page_size: u32,
    /// Fixed clock, Unix seconds (for reproducible runs)
    #[arg(long, value_name = "TS", hide = true)]
    pub now: Option<i64>,
    /// Fraction 0..1 of requests to fail on purpose (502, 429, broken bodies, resets, slow or
    /// empty answers), deterministic under --seed; share histories also get that fraction of
    /// nonsense tickers
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_fraction)]
    pub fault_rate: f64,
    /// Serve only these faults (comma-separated; default: all)
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub fault_kinds: Vec<FaultKind>,
    /// How long a slow answer waits, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 3_000)]
    pub fault_slow_ms: u64,
    /// Most failures in a row for one request before it gets through (0: no limit)
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub fault_max_consecutive: u32,
    /// Serve a pool whose clock and statistics stand this many seconds behind (publishing late)
    #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..=31_536_000))]
    pub clock_lag: i64,
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{text:?} is not a fraction between 0 and 1")),
    }
}

impl SimulateArgs {
    pub fn config(&self) -> SimConfig {
        SimConfig {
            workers: self.workers,
            seed: self.seed,
            access_key: self.access_key.clone(),
            puid: self.puid,
            worker_hours: self.worker_hours,
            account_hours: self.account_hours,
            worker_days: self.worker_days,
            account_days: self.account_days,
            max_count: self.max_count,
            max_page_size: self.max_page_size,
            now: self.now,
            fault_rate: self.fault_rate,
            fault_kinds: self.fault_kinds.clone(),
            fault_slow_ms: self.fault_slow_ms,
            fault_max_consecutive: self.fault_max_consecutive,
            clock_lag_secs: self.clock_lag,
        }
    }
}

/// Binds, prints `listening on http://HOST:PORT/v1` as the first stdout line, serves until Ctrl-C.
pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    // `--pool foundry` is taken before this parser; any other name than CloverPool's is a typo.
    if crate::pools::PoolKind::parse(&args.pool) != Some(crate::pools::PoolKind::CloverPool) {
        anyhow::bail!(
            "--pool {}: the simulators serve cloverpool (alias btccom) and foundry",
            args.pool
        );
    }
    let (listener, addr) = bind_listen(&args.listen).await?;
    let sim = std::sync::Arc::new(Simulator::new(args.config()));
    announce(&format!("http://{addr}/v1"))?;
    tracing::info!(
        workers = args.workers,
        seed = args.seed,
        puid = args.puid,
        fault_rate = args.fault_rate,
        "simulator ready"
    );
    server::serve_until(sim, listener, async {
        // If the handler cannot be installed, serve until killed rather than stop at once.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await
    .context("simulator server failed")
}
