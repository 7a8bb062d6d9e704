//! Fault injection: which request gets which failure, and how the failure is written.
//!
//! A request's fault is a pure function of the seed, the request (path and query without the
//! access key) and how many times in a row that same request has just failed; a retry is a new
//! roll, and after `max_consecutive` failures in a row the request gets through. So the same
//! sequence of requests meets the same faults, and a client that retries enough always succeeds.

use std::time::Duration;

use serde_json::{json, Value};

use super::world::{hash, mix64, tag, unit};
use crate::pools::sim_common::{enabled_kinds, FaultDice, FaultTags, SPLITMIX};

/// One way the pool (or what stands in front of it) fails a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum FaultKind {
    /// HTTP 502 with an HTML page, as a proxy in front of the pool sends it.
    BadGateway,
    /// HTTP 429 with `Retry-After: 1`.
    TooManyRequests,
    /// HTTP 429 without `Retry-After`.
    TooManyRequestsNoRetryAfter,
    /// HTTP 429 with `Retry-After: 0`.
    TooManyRequestsRetryAfterZero,
    /// A valid body cut short.
    TruncatedJson,
    /// Bytes that are not UTF-8 inside a string of a valid body.
    InvalidUtf8,
    /// The right answer, late by --fault-slow-ms (meant to be past the client's timeout).
    Slow,
    /// The connection closed without a response.
    ConnectionReset,
    /// HTTP 200 with err_no 2, "operation failed".
    OperationFailed,
    /// HTTP 200, err_no 0 and `"data": null`.
    EmptyDataNull,
    /// HTTP 200, err_no 0 and `"data": []`.
    EmptyDataArray,
    /// A correct share-history response with extra tickers that no sane reader may store:
    /// negative hashrate, reject over 100 %, a future or off-the-hour timestamp, a null cell.
    NonsenseTickers,
}

impl FaultKind {
    pub const ALL: [FaultKind; 12] = [
        FaultKind::BadGateway,
        FaultKind::TooManyRequests,
        FaultKind::TooManyRequestsNoRetryAfter,
        FaultKind::TooManyRequestsRetryAfterZero,
        FaultKind::TruncatedJson,
        FaultKind::InvalidUtf8,
        FaultKind::Slow,
        FaultKind::ConnectionReset,
        FaultKind::OperationFailed,
        FaultKind::EmptyDataNull,
        FaultKind::EmptyDataArray,
        FaultKind::NonsenseTickers,
    ];

    /// Fails the request (a retry may succeed), as opposed to nonsense inside a good answer.
    pub fn is_transient(self) -> bool {
        self != FaultKind::NonsenseTickers
    }

    /// Replaces a successful answer's data, so it is only served where there is one.
    fn needs_data(self) -> bool {
        matches!(
            self,
            FaultKind::EmptyDataNull | FaultKind::EmptyDataArray | FaultKind::NonsenseTickers
        )
    }
}

impl std::fmt::Display for FaultKind {
    /// The CLI spelling.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum as _;
        match self.to_possible_value() {
            Some(value) => f.write_str(value.get_name()),
            None => write!(f, "{self:?}"),
        }
    }
}

/// What a request gets: nothing special, a failure, or nonsense tickers added to its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Clean,
    Fail(FaultKind),
    Nonsense,
}

/// The fault settings and, per request, how many times in a row it has just failed.
pub(crate) struct Faults {
    /// Failures that may be served (never nonsense), in `FaultKind::ALL` order.
    dice: FaultDice<FaultKind>,
    nonsense: bool,
}

impl Faults {
    pub fn new(seed: u64, rate: f64, kinds: &[FaultKind], max_consecutive: u32) -> Faults {
        let enabled = enabled_kinds(&FaultKind::ALL, kinds);
        Faults {
            dice: FaultDice::new(
                SPLITMIX,
                seed,
                if rate.is_finite() {
                    rate.clamp(0.0, 1.0)
                } else {
                    0.0
                },
                enabled
                    .iter()
                    .copied()
                    .filter(|k| k.is_transient())
                    .collect(),
                max_consecutive,
                FaultTags {
                    roll: tag::FAULT,
                    kind: tag::FAULT_KIND,
                },
            ),
            nonsense: enabled.contains(&FaultKind::NonsenseTickers),
        }
    }

    /// Decides one request's fate. `request_key` identifies the request without the access
    /// key; `has_data` says whether the answer is a success; `is_history` a share history.
    pub fn decide(&self, request_key: u64, has_data: bool, is_history: bool) -> Decision {
        let rate = self.dice.rate();
        if rate <= 0.0 {
            return Decision::Clean;
        }
        if let Some(kind) = self.dice.roll(request_key, |k| has_data || !k.needs_data()) {
            return Decision::Fail(kind);
        }
        let nonsense_roll = hash(self.dice.seed(), &[tag::NONSENSE, request_key]);
        if self.nonsense && has_data && is_history && unit(nonsense_roll) < rate {
            Decision::Nonsense
        } else {
            Decision::Clean
        }
    }
}

/// How a faulty answer is sent; the HTTP layer acts on `delay` and `reset`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    pub status: u16,
    pub content_type: &'static str,
    pub retry_after: Option<&'static str>,
    pub body: Vec<u8>,
    pub delay: Option<Duration>,
    pub reset: bool,
}

const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Writes a failure of `kind` for a request whose correct answer is `status` + `body`.
/// `choice` picks details (where to cut, where to put the bad bytes).
pub(crate) fn failure(
    kind: FaultKind,
    status: u16,
    body: &[u8],
    choice: u64,
    slow: Duration,
) -> Fault {
    let plain = |status: u16, content_type: &'static str, body: Vec<u8>| Fault {
        status,
        content_type,
        retry_after: None,
        body,
        delay: None,
        reset: false,
    };
    let json_type = "application/json";
    match kind {
        FaultKind::BadGateway => plain(502, "text/html", BAD_GATEWAY_HTML.into()),
        FaultKind::TooManyRequests
        | FaultKind::TooManyRequestsNoRetryAfter
        | FaultKind::TooManyRequestsRetryAfterZero => Fault {
            retry_after: match kind {
                FaultKind::TooManyRequests => Some("1"),
                FaultKind::TooManyRequestsRetryAfterZero => Some("0"),
                _ => None,
            },
            ..plain(429, "text/plain", b"Too Many Requests".to_vec())
        },
        FaultKind::TruncatedJson => {
            // Any proper prefix of a JSON object is invalid JSON.
            let cut = 1 + (choice % body.len().saturating_sub(1).max(1) as u64) as usize;
            plain(status, json_type, body[..cut.min(body.len())].to_vec())
        }
        FaultKind::InvalidUtf8 => plain(status, json_type, with_invalid_utf8(body, choice)),
        FaultKind::Slow => Fault {
            delay: Some(slow),
            ..plain(status, json_type, body.to_vec())
        },
        FaultKind::ConnectionReset => Fault {
            reset: true,
            ..plain(status, json_type, Vec::new())
        },
        FaultKind::OperationFailed => plain(
            200,
            json_type,
            json!({"err_no": 2, "err_msg": "operation failed", "data": null})
                .to_string()
                .into_bytes(),
        ),
        FaultKind::EmptyDataNull => plain(200, json_type, br#"{"err_no":0,"data":null}"#.to_vec()),
        FaultKind::EmptyDataArray => plain(200, json_type, br#"{"err_no":0,"data":[]}"#.to_vec()),
        // Not a failure: `add_nonsense_tickers` changes the answer instead.
        FaultKind::NonsenseTickers => plain(status, json_type, body.to_vec()),
    }
}

/// The body with two bytes that are never UTF-8 put just inside a string literal, so the JSON
/// is otherwise intact and only the encoding is wrong.
fn with_invalid_utf8(body: &[u8], choice: u64) -> Vec<u8> {
    let start = (choice % body.len().max(1) as u64) as usize;
    let at = body
        .iter()
        .skip(start)
        .position(|&b| b == b'"')
        .map(|i| start + i + 1)
        .or_else(|| body.iter().position(|&b| b == b'"').map(|i| i + 1))
        .unwrap_or(body.len());
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&body[at..]);
    out
}

/// The kinds of nonsense ticker, one per rule of the ingest's "stored when" list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nonsense {
    NegativeHashrate,
    RejectOver100,
    FutureTimestamp,
    OffTheHour,
    NullTimestamp,
    NullReject,
}

const NONSENSE: [Nonsense; 6] = [
    Nonsense::NegativeHashrate,
    Nonsense::RejectOver100,
    Nonsense::FutureTimestamp,
    Nonsense::OffTheHour,
    Nonsense::NullTimestamp,
    Nonsense::NullReject,
];

/// Adds 1 to 3 nonsense tickers to a share-history `data`; returns how many. They go at slots
/// the rules reject anyway (future, off the hour, no timestamp) or, for values out of range,
/// at a slot of the requested range the response has no point for, else next to a served
/// point (which stays): the correct reading of the response never changes.
pub(crate) fn add_nonsense_tickers(
    data: &mut Value,
    range: &[i64],
    current_ts: i64,
    step: i64,
    choice: u64,
) -> u64 {
    let Some(tickers) = data.get_mut("tickers").and_then(Value::as_array_mut) else {
        return 0;
    };
    let served: Vec<i64> = tickers
        .iter()
        .filter_map(|t| t.get(0))
        .filter_map(|ts| match ts {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
        .collect();
    let empty_slots: Vec<i64> = range
        .iter()
        .copied()
        .filter(|slot| !served.contains(slot))
        .collect();
    let pick_slot = |salt: u64| -> i64 {
        let h = mix64(choice ^ salt);
        if !empty_slots.is_empty() {
            empty_slots[(h % empty_slots.len() as u64) as usize]
        } else if !served.is_empty() {
            served[(h % served.len() as u64) as usize]
        } else {
            current_ts
        }
    };
    let count = 1 + choice % 3;
    for n in 0..count {
        let h = mix64(choice ^ (n + 1).wrapping_mul(0x51_7CC1_B727_220A));
        let kind = NONSENSE[(h % NONSENSE.len() as u64) as usize];
        let slot = pick_slot(h >> 8);
        let as_text = (h >> 20) & 1 == 1;
        let num = |v: f64| {
            if as_text {
                Value::String(format!("{v}"))
            } else {
                json!(v)
            }
        };
        let ticker = match kind {
            Nonsense::NegativeHashrate => json!([slot, num(-12.5), num(0.4)]),
            Nonsense::RejectOver100 => json!([slot, num(12.5), num(140.0)]),
            Nonsense::FutureTimestamp => {
                json!([
                    current_ts + step * (1 + (h >> 24) as i64 % 3),
                    num(12.5),
                    num(0.4)
                ])
            }
            Nonsense::OffTheHour => {
                json!([slot + 1 + (h >> 24) as i64 % 3_599, num(12.5), num(0.4)])
            }
            Nonsense::NullTimestamp => json!([null, num(12.5), num(0.4)]),
            Nonsense::NullReject => json!([slot, num(12.5), null]),
        };
        let at = (h >> 32) as usize % (tickers.len() + 1);
        tickers.insert(at, ticker);
    }
    count
}
