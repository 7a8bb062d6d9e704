//! Failures: which request gets which, and how each is written.
//!
//! A request's fault is a pure function of the seed, the request (path and query; the key plays
//! no part) and how many times in a row that request has just failed. Each retry is a new roll,
//! and after `max_consecutive` failures in a row the request gets through.

use std::collections::HashMap;
use std::sync::Mutex;

use super::farm::{fmix, fraction, mixed, tag};

/// One way the pool, or the proxy in front of it, fails a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum FoundryFaultKind {
    /// 429 with `Retry-After: 1`.
    TooManyRequests,
    /// 429 with `Retry-After: 0`.
    TooManyRequestsRetryAfterZero,
    /// 429 without `Retry-After`.
    TooManyRequestsNoRetryAfter,
    /// 500 with an HTML error page.
    InternalServerError,
    /// 502 with an HTML page, as a proxy sends it.
    BadGateway,
    /// 503 with an HTML page.
    ServiceUnavailable,
    /// The answer's status and a well-framed body that is a proper prefix of the answer.
    TruncatedJson,
    /// `Content-Length` of the whole answer, part of the body sent, then the connection
    /// closes.
    CutMidStream,
    /// The connection closes without a response.
    ConnectionReset,
    /// The right answer, `fault_slow_ms` late.
    Slow,
}

impl FoundryFaultKind {
    pub const ALL: [FoundryFaultKind; 10] = [
        FoundryFaultKind::TooManyRequests,
        FoundryFaultKind::TooManyRequestsRetryAfterZero,
        FoundryFaultKind::TooManyRequestsNoRetryAfter,
        FoundryFaultKind::InternalServerError,
        FoundryFaultKind::BadGateway,
        FoundryFaultKind::ServiceUnavailable,
        FoundryFaultKind::TruncatedJson,
        FoundryFaultKind::CutMidStream,
        FoundryFaultKind::ConnectionReset,
        FoundryFaultKind::Slow,
    ];

    /// Status, `Retry-After` and HTML body of the faults that replace the answer outright.
    pub(super) fn error_page(self) -> Option<(u16, Option<&'static str>, String)> {
        let page = |code: u16, text: &str| {
            format!(
                "<!DOCTYPE html>\n<html><head><title>{code} {text}</title></head>\n<body><h1>{code} {text}</h1>\n<p>The server encountered a temporary error. Please try again.</p></body></html>\n"
            )
        };
        match self {
            FoundryFaultKind::TooManyRequests => {
                Some((429, Some("1"), page(429, "Too Many Requests")))
            }
            FoundryFaultKind::TooManyRequestsRetryAfterZero => {
                Some((429, Some("0"), page(429, "Too Many Requests")))
            }
            FoundryFaultKind::TooManyRequestsNoRetryAfter => {
                Some((429, None, page(429, "Too Many Requests")))
            }
            FoundryFaultKind::InternalServerError => {
                Some((500, None, page(500, "Internal Server Error")))
            }
            FoundryFaultKind::BadGateway => Some((502, None, page(502, "Bad Gateway"))),
            FoundryFaultKind::ServiceUnavailable => {
                Some((503, None, page(503, "Service Temporarily Unavailable")))
            }
            _ => None,
        }
    }
}

/// The fault settings and each failing request's current streak.
pub(super) struct Faults {
    seed: u64,
    rate: f64,
    kinds: Vec<FoundryFaultKind>,
    max_consecutive: u32,
    /// Request key -> failures in a row; dropped when the request gets through, so the map
    /// holds only requests in a failing streak.
    streaks: Mutex<HashMap<u64, u32>>,
}

impl Faults {
    pub fn new(seed: u64, rate: f64, kinds: &[FoundryFaultKind], max_consecutive: u32) -> Faults {
        Faults {
            seed,
            // NaN reads as "never".
            rate: if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            },
            kinds: FoundryFaultKind::ALL
                .into_iter()
                .filter(|k| kinds.is_empty() || kinds.contains(k))
                .collect(),
            max_consecutive,
            streaks: Mutex::new(HashMap::new()),
        }
    }

    /// The fault for this try of the request, if any. `has_body` says whether the answer has
    /// a body worth cutting (so an empty one is never "truncated" into a valid one).
    pub fn decide(&self, request_key: u64, has_body: bool) -> Option<FoundryFaultKind> {
        if self.rate <= 0.0 {
            return None;
        }
        let cuttable = |k: &FoundryFaultKind| {
            has_body
                || !matches!(
                    k,
                    FoundryFaultKind::TruncatedJson | FoundryFaultKind::CutMidStream
                )
        };
        let mut failing = self.streaks.lock().unwrap_or_else(|e| e.into_inner());
        let so_far = failing.get(&request_key).map_or(0, |&n| n);
        let may_fail = self.max_consecutive == 0 || so_far < self.max_consecutive;
        let dice = mixed(self.seed, &[tag::FAULT, request_key, u64::from(so_far)]);
        let chosen = may_fail
            .then(|| fraction(dice) < self.rate)
            .filter(|&hit| hit)
            .and_then(|_| {
                let usable: Vec<FoundryFaultKind> =
                    self.kinds.iter().copied().filter(cuttable).collect();
                let index = fmix(dice ^ tag::FAULT_KIND).checked_rem(usable.len() as u64)?;
                usable.get(index as usize).copied()
            });
        match chosen {
            Some(_) => {
                failing.insert(request_key, so_far + 1);
            }
            // Through at last: the next identical request starts a fresh streak.
            None => {
                failing.remove(&request_key);
            }
        }
        chosen
    }
}

/// Where to cut a body of `len` bytes (`len` >= 2): a proper, non-empty prefix.
pub(super) fn cut_at(len: usize, choice: u64) -> usize {
    1 + (choice % (len.saturating_sub(1).max(1)) as u64) as usize
}
