//! What the pool simulators (`cloverpool::sim`, `foundry::sim`) share: deterministic hashing,
//! hash-ordered assignment of workers to a plan, the fault dice with their failing streaks, the
//! simulator's clock, the counters and the HTTP response an answer becomes.
//!
//! Each pool keeps its own hash family (`SPLITMIX` for CloverPool, `MURMUR` for Foundry USA):
//! the served data of both is pinned, so neither may take the other's constants. What differs
//! between the pools (wire spellings, endpoints, error shapes, fault kinds) stays in their
//! folders; the code here is generic over it.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::Context as _;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A simulator's deterministic hash family: a 64-bit mixing step and a hash of a seed and a
/// few numbers (order-sensitive).
#[derive(Clone, Copy)]
pub(crate) struct HashFamily {
    pub mix: fn(u64) -> u64,
    pub hash: fn(u64, &[u64]) -> u64,
}

/// CloverPool's family.
pub(crate) const SPLITMIX: HashFamily = HashFamily {
    mix: splitmix64,
    hash: splitmix_hash,
};

/// Foundry USA's family.
pub(crate) const MURMUR: HashFamily = HashFamily {
    mix: murmur_fmix,
    hash: murmur_hash,
};

/// splitmix64's finalizer: a cheap, well-mixed 64-bit hash step (CloverPool's).
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// CloverPool's hash of a seed and a few numbers: `splitmix64` chained over the parts.
pub(crate) fn splitmix_hash(seed: u64, parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(splitmix64(seed ^ 0x005E_ED0F_9001), |h, &p| {
            splitmix64(h ^ p)
        })
}

/// MurmurHash3's 64-bit finalizer (Foundry USA's step).
pub(crate) fn murmur_fmix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// Foundry USA's hash of a seed and a few numbers: each part rotated in with its index.
pub(crate) fn murmur_hash(seed: u64, parts: &[u64]) -> u64 {
    let mut h = murmur_fmix(seed ^ 0x6A09_E667_F3BC_C909);
    for (i, &part) in parts.iter().enumerate() {
        h = murmur_fmix(h.rotate_left(17) ^ part.wrapping_add(i as u64).wrapping_mul(0x2545_F491));
    }
    h
}

/// Uniform in [0, 1): the top 53 bits of a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn floor_to(ts: i64, step: i64) -> i64 {
    ts.div_euclid(step) * step
}

/// Indices `0..n` ordered by a hash: a deterministic shuffle.
pub(crate) fn rank_by_hash(family: HashFamily, seed: u64, tag: u64, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (family.hash)(seed, &[tag, i as u64]));
    order
}

/// `percent` of `n`, rounded up: at least one as soon as `n` and `percent` are positive.
pub(crate) fn share_of(n: usize, percent: usize) -> usize {
    (n * percent).div_ceil(100)
}

/// Hands out `plan`'s values, each to its count of indices, in the order `rank_by_hash` gives;
/// the indices left over keep `rest`.
pub(crate) fn assign_by_plan<T: Copy>(
    family: HashFamily,
    seed: u64,
    tag: u64,
    n: usize,
    rest: T,
    plan: &[(T, usize)],
) -> Vec<T> {
    let mut values = vec![rest; n];
    let mut order = rank_by_hash(family, seed, tag, n).into_iter();
    for &(value, count) in plan {
        for i in order.by_ref().take(count) {
            values[i] = value;
        }
    }
    values
}

/// The kinds of `all` that `chosen` names, in `all`'s order; every one when `chosen` is empty.
pub(crate) fn enabled_kinds<K: Copy + PartialEq>(all: &[K], chosen: &[K]) -> Vec<K> {
    all.iter()
        .copied()
        .filter(|k| chosen.is_empty() || chosen.contains(k))
        .collect()
}

/// The hash tags of the fault dice: the roll of a try, and the pick of the kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaultTags {
    pub roll: u64,
    pub kind: u64,
}

/// Which try of which request fails, and how: a pure function of the seed, the request key
/// and how many times in a row that request has just failed. A retry is a new roll; after
/// `max_consecutive` failures in a row (0: no limit) the request gets through, and getting
/// through ends the streak, so a later identical request starts afresh.
pub(crate) struct FaultDice<K> {
    family: HashFamily,
    seed: u64,
    rate: f64,
    kinds: Vec<K>,
    max_consecutive: u32,
    tags: FaultTags,
    /// Request key -> failures in a row; only requests in a failing streak are held.
    streaks: Mutex<HashMap<u64, u32>>,
}

impl<K: Copy> FaultDice<K> {
    /// `rate` as the pool reads it (each pool clamps its own); `kinds` in the order the pick
    /// indexes them.
    pub fn new(
        family: HashFamily,
        seed: u64,
        rate: f64,
        kinds: Vec<K>,
        max_consecutive: u32,
        tags: FaultTags,
    ) -> FaultDice<K> {
        FaultDice {
            family,
            seed,
            rate,
            kinds,
            max_consecutive,
            tags,
            streaks: Mutex::new(HashMap::new()),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The fault for this try of the request, among the kinds `usable` accepts, if any.
    pub fn roll(&self, request_key: u64, usable: impl Fn(K) -> bool) -> Option<K> {
        if self.rate <= 0.0 {
            return None;
        }
        let mut streaks = self.streaks.lock().unwrap_or_else(|e| e.into_inner());
        let streak = streaks.get(&request_key).copied().unwrap_or(0);
        let may_fail = self.max_consecutive == 0 || streak < self.max_consecutive;
        let dice = (self.family.hash)(self.seed, &[self.tags.roll, request_key, u64::from(streak)]);
        let chosen = if may_fail && unit(dice) < self.rate {
            let candidates: Vec<K> = self.kinds.iter().copied().filter(|&k| usable(k)).collect();
            (self.family.mix)(dice ^ self.tags.kind)
                .checked_rem(candidates.len() as u64)
                .map(|pick| candidates[pick as usize])
        } else {
            None
        };
        match chosen {
            Some(_) => {
                streaks.insert(request_key, streak + 1);
            }
            None => {
                streaks.remove(&request_key);
            }
        }
        chosen
    }
}

/// The simulator's clock: the system time, or a fixed time that tests set and move; `lag`
/// seconds behind either (a pool publishing late).
pub(crate) struct SimClock {
    /// `FOLLOW_SYSTEM`, or the fixed time.
    fixed: AtomicI64,
    lag: i64,
}

const FOLLOW_SYSTEM: i64 = i64::MIN;

impl SimClock {
    /// Fixed at `now`, or following the system clock.
    pub fn new(now: Option<i64>, lag: i64) -> SimClock {
        SimClock {
            fixed: AtomicI64::new(now.unwrap_or(FOLLOW_SYSTEM)),
            lag,
        }
    }

    /// The real time: the system's, or the fixed one.
    pub fn real(&self) -> i64 {
        match self.fixed.load(Ordering::SeqCst) {
            FOLLOW_SYSTEM => chrono::Utc::now().timestamp(),
            fixed => fixed,
        }
    }

    /// The pool's time.
    pub fn now(&self) -> i64 {
        self.real() - self.lag
    }

    /// Fixes the real time at `ts`.
    pub fn set(&self, ts: i64) {
        self.fixed.store(ts, Ordering::SeqCst);
    }

    /// Moves the real time on by `secs` (fixing it, if it followed the system clock).
    pub fn advance(&self, secs: i64) {
        self.set(self.real().saturating_add(secs));
    }
}

/// The counters of `kinds`, paired in order, as a map; with `skip_zero`, only those counted.
pub(crate) fn tally<K: Copy + Ord>(
    kinds: &[K],
    counters: &[AtomicU64],
    skip_zero: bool,
) -> BTreeMap<K, u64> {
    kinds
        .iter()
        .zip(counters)
        .map(|(&kind, count)| (kind, count.load(Ordering::Relaxed)))
        .filter(|&(_, count)| !skip_zero || count > 0)
        .collect()
}

/// Sets every counter back to zero.
pub(crate) fn zero<'a>(counters: impl IntoIterator<Item = &'a AtomicU64>) {
    for count in counters {
        count.store(0, Ordering::Relaxed);
    }
}

/// The HTTP response of an answer: status, `Content-Type`, body and, if set, `Retry-After`.
pub(crate) fn http_response(
    status: StatusCode,
    content_type: &'static str,
    retry_after: Option<&'static str>,
    body: Vec<u8>,
) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
    }
    response
}

/// Binds 127.0.0.1:0 and spawns `serve` on the listener; returns the base URL
/// (`http://127.0.0.1:PORT` then `path`) and the task.
pub(crate) async fn spawn_on_loopback<F>(
    path: &str,
    serve: impl FnOnce(TcpListener) -> F,
) -> std::io::Result<(String, JoinHandle<std::io::Result<()>>)>
where
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(serve(listener));
    Ok((format!("http://{addr}{path}"), task))
}

/// Binds `listen` for `poolhist simulate`; the listener and the address it got.
pub(crate) async fn bind_listen(listen: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    Ok((listener, addr))
}

/// Prints `listening on URL` as the first stdout line, flushed, for whoever started us.
pub(crate) fn announce(url: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {url}")?;
    stdout.flush()
}

/// Test helpers of both simulators.
#[cfg(test)]
pub(crate) mod testing {
    /// A `poolhist simulate` command line wrapped around one pool's arguments.
    #[derive(clap::Parser)]
    pub struct Cli<A: clap::Args> {
        #[command(flatten)]
        pub args: A,
    }

    /// The pool's arguments from `argv` (the program name first).
    pub fn try_parse_args<A: clap::Args>(argv: &[&str]) -> Result<A, clap::Error> {
        use clap::Parser as _;
        Cli::<A>::try_parse_from(argv).map(|cli| cli.args)
    }

    pub fn parse_args<A: clap::Args>(argv: &[&str]) -> A {
        try_parse_args(argv).expect("valid arguments")
    }

    /// FNV-1a over text fed in pieces (each ends with a newline): a digest of many answers
    /// that stays the same across toolchains, unlike std's hasher.
    pub struct Digest(pub u64);

    impl Default for Digest {
        fn default() -> Self {
            Digest(0xcbf2_9ce4_8422_2325)
        }
    }

    impl Digest {
        pub fn feed(&mut self, text: &str) {
            for &b in text.as_bytes().iter().chain(b"\n") {
                self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
            }
        }
    }
}
