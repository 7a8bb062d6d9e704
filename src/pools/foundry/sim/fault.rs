//! Failures: which request gets which, and how each is written.
//!
//! A request's fault is a pure function of the seed, the request (path and query; the key plays
//! no part) and how many times in a row that request has just failed. Each retry is a new roll,
//! and after `max_consecutive` failures in a row the request gets through.

use super::farm::tag;
use crate::pools::sim_common::{enabled_kinds, FaultDice, FaultTags, MURMUR};

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
    dice: FaultDice<FoundryFaultKind>,
}

impl Faults {
    pub fn new(seed: u64, rate: f64, kinds: &[FoundryFaultKind], max_consecutive: u32) -> Faults {
        Faults {
            dice: FaultDice::new(
                MURMUR,
                seed,
                // NaN reads as "never".
                if rate.is_nan() {
                    0.0
                } else {
                    rate.clamp(0.0, 1.0)
                },
                enabled_kinds(&FoundryFaultKind::ALL, kinds),
                max_consecutive,
                FaultTags {
                    roll: tag::FAULT,
                    kind: tag::FAULT_KIND,
                },
            ),
        }
    }

    /// The fault for this try of the request, if any. `has_body` says whether the answer has
    /// a body worth cutting (so an empty one is never "truncated" into a valid one).
    pub fn decide(&self, request_key: u64, has_body: bool) -> Option<FoundryFaultKind> {
        self.dice.roll(request_key, |k| {
            has_body
                || !matches!(
                    k,
                    FoundryFaultKind::TruncatedJson | FoundryFaultKind::CutMidStream
                )
        })
    }
}

/// Where to cut a body of `len` bytes (`len` >= 2): a proper, non-empty prefix.
pub(super) fn cut_at(len: usize, choice: u64) -> usize {
    1 + (choice % (len.saturating_sub(1).max(1)) as u64) as usize
}
