//! The response envelope `{"err_no":0,"data":...}` and typed parsing of `data`, with errors that
//! name the endpoint and the field.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::wire::{
    unit_multiplier, FlexNumber, GroupWire, PageWire, RawTicker, ShareHistoryWire, StatsWire,
    WorkerWire,
};
use crate::http::{ApiError, Disposition};

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    err_no: Option<FlexNumber>,
    #[serde(default)]
    err_msg: Option<serde_json::Value>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// The common case in one pass: err_no 0 and a `data` that parses as `T`. Anything else
/// (errors, empty data, malformed bodies) takes the slow path, which explains what is wrong.
fn parse_fast<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    #[derive(Deserialize)]
    struct Fast<T> {
        #[serde(default)]
        err_no: Option<FlexNumber>,
        #[serde(default = "Option::default")]
        data: Option<T>,
    }
    let fast: Fast<T> = serde_json::from_slice(body).ok()?;
    match fast.err_no {
        None | Some(FlexNumber(None)) | Some(FlexNumber(Some(0.0))) => fast.data,
        Some(_) => None,
    }
}

/// Parses the envelope and then `data` as `T`. `endpoint` names the call in errors.
pub fn parse_data<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T, ApiError> {
    if let Some(data) = parse_fast(body) {
        return Ok(data);
    }
    let data = envelope_data(endpoint, body)?;
    if is_empty_json(data.get()) {
        // An empty `data` with err_no 0 is how a struggling pool fails: retry, never read as "nothing".
        return Err(ApiError::EmptyData {
            endpoint: endpoint.to_owned(),
        });
    }
    typed_data(endpoint, data)
}

fn typed_data<T: DeserializeOwned>(endpoint: &str, data: &RawValue) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_str(data.get());
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        ApiError::Malformed {
            endpoint: endpoint.to_owned(),
            detail: format!("field `data{}`: {}", dotted(&field), e.inner()),
        }
    })
}

fn dotted(path: &str) -> String {
    if path.is_empty() || path.starts_with('[') {
        path.to_owned()
    } else {
        format!(".{path}")
    }
}

fn envelope_data<'a>(endpoint: &str, body: &'a [u8]) -> Result<&'a RawValue, ApiError> {
    let malformed = |detail: String| ApiError::Malformed {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let text = std::str::from_utf8(body)
        .map_err(|e| malformed(format!("body is not UTF-8 (at byte {})", e.valid_up_to())))?;
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| {
        if text.trim_start().starts_with('<') {
            malformed("body is HTML, not JSON".to_owned())
        } else if e.is_eof() {
            malformed(format!(
                "JSON body ends early (truncated after {} bytes)",
                body.len()
            ))
        } else {
            malformed(format!("body is not the JSON envelope: {e}"))
        }
    })?;
    let err_no = match envelope.err_no {
        Some(FlexNumber(Some(n))) if n.fract() == 0.0 => n as i64,
        Some(FlexNumber(Some(n))) => return Err(malformed(format!("field `err_no` is {n}"))),
        // No err_no at all: accept a body that carries data, as lenient clients do.
        Some(FlexNumber(None)) | None => 0,
    };
    if err_no != 0 {
        return Err(ApiError::Pool {
            endpoint: endpoint.to_owned(),
            code: err_no,
            message: render_err_msg(envelope.err_msg.as_ref()),
            disposition: err_no_disposition(err_no),
        });
    }
    envelope.data.ok_or_else(|| ApiError::EmptyData {
        endpoint: endpoint.to_owned(),
    })
}

/// Pool error codes that no retry can fix: a bad key or puid, a parameter error, unauthorized.
pub const PERMANENT_ERR_NOS: [i64; 4] = [1, 401, 20001, 20002];
/// "Operation failed": the pool's own transient error.
pub const TRANSIENT_ERR_NO: i64 = 2;

/// What a retry can do about an `err_no`; an unknown one is tried a few times.
fn err_no_disposition(err_no: i64) -> Disposition {
    if PERMANENT_ERR_NOS.contains(&err_no) {
        Disposition::Permanent
    } else if err_no == TRANSIENT_ERR_NO {
        Disposition::Transient
    } else {
        Disposition::Doubtful
    }
}

/// A pool error in the body of a 4xx answer, for the client's `Protocol`.
pub fn error_in_body(endpoint: &str, body: &[u8]) -> Option<ApiError> {
    match parse_data::<serde::de::IgnoredAny>(endpoint, body) {
        Err(pool_error @ ApiError::Pool { .. }) => Some(pool_error),
        _ => None,
    }
}

fn is_empty_json(raw: &str) -> bool {
    matches!(raw.trim(), "null" | "[]" | "{}" | "\"\"")
}

/// `err_msg` is a string, an object (`{"message": ...}`) or a map of field -> messages.
pub fn render_err_msg(err_msg: Option<&serde_json::Value>) -> String {
    use serde_json::Value;
    fn flat(value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(flat).collect::<Vec<_>>().join("; "),
            Value::Object(map) => {
                if let Some(message) = map.get("message").or_else(|| map.get("msg")) {
                    return flat(message);
                }
                map.iter()
                    .map(|(field, messages)| format!("{field}: {}", flat(messages)))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            other => other.to_string(),
        }
    }
    let text = err_msg.map(flat).unwrap_or_default();
    // Shown escaped, not dropped: the user sees the pool sent something odd.
    let text: String = crate::report::render::escape_controls(&text)
        .chars()
        .take(2_000)
        .collect();
    if text.trim().is_empty() {
        "(no message)".to_owned()
    } else {
        text
    }
}

// ---------------------------------------------------------------------------------------------
// Normalized results.

/// One page of share history as the pool sent it, with its unit resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareHistory {
    /// H/s per unit of `accept`.
    pub multiplier_hs: f64,
    /// Every element of `tickers`, including nulls.
    pub tickers: Vec<RawTicker>,
}

pub fn parse_share_history(endpoint: &str, body: &[u8]) -> Result<ShareHistory, ApiError> {
    let wire: ShareHistoryWire = parse_data(endpoint, body)?;
    let malformed = |detail: String| ApiError::Malformed {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let tickers = match wire.tickers {
        Some(tickers) => tickers.unwrap_or_default(),
        // `data: []` reads as a struct without fields: say which it was.
        None => {
            let data = envelope_data(endpoint, body)?;
            if is_empty_json(data.get()) {
                return Err(ApiError::EmptyData {
                    endpoint: endpoint.to_owned(),
                });
            }
            return Err(malformed("field `data.tickers` is missing".to_owned()));
        }
    };
    let has_values = tickers
        .iter()
        .any(|t| matches!(t, RawTicker::Values { .. }));
    let multiplier_hs = match wire.shares_unit {
        Some(unit) => unit_multiplier(&unit.0).ok_or_else(|| {
            malformed(format!(
                "field `data.shares_unit`: unknown unit {:?}",
                unit.0.chars().take(16).collect::<String>()
            ))
        })?,
        None if has_values => {
            return Err(malformed("field `data.shares_unit` is missing".to_owned()))
        }
        None => 1.0,
    };
    Ok(ShareHistory {
        multiplier_hs,
        tickers,
    })
}

/// A page of a listing, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// The page size the pool says it used (it may cap what we asked for).
    pub page_size: Option<u64>,
    pub page_count: Option<u64>,
    pub total_count: Option<u64>,
}

fn list_page<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<ListPage<T>, ApiError> {
    if let Some(wire) = parse_fast::<PageWire<T>>(body) {
        if wire.list.is_some() {
            return Ok(list_page_from(wire));
        }
    }
    // Some pools send a bare array instead of the paging object.
    let data = envelope_data(endpoint, body)?;
    // A bare `[]` too: a real empty listing still carries its paging fields.
    if is_empty_json(data.get()) {
        return Err(ApiError::EmptyData {
            endpoint: endpoint.to_owned(),
        });
    }
    if data.get().trim_start().starts_with('[') {
        let items: Vec<T> = typed_data(endpoint, data)?;
        return Ok(ListPage {
            items,
            page_size: None,
            page_count: Some(1),
            total_count: None,
        });
    }
    let wire: PageWire<T> = typed_data(endpoint, data)?;
    if wire.list.is_none() {
        return Err(ApiError::Malformed {
            endpoint: endpoint.to_owned(),
            detail: "field `data.list` (or `data.data`) is missing".to_owned(),
        });
    }
    Ok(list_page_from(wire))
}

fn list_page_from<T>(wire: PageWire<T>) -> ListPage<T> {
    let count = |n: Option<FlexNumber>| n.and_then(|n| n.0).filter(|v| *v >= 0.0).map(|v| v as u64);
    ListPage {
        items: wire.list.unwrap_or_default(),
        page_size: count(wire.page_size),
        page_count: count(wire.page_count),
        total_count: count(wire.total_count),
    }
}

pub fn parse_worker_page(endpoint: &str, body: &[u8]) -> Result<ListPage<WorkerWire>, ApiError> {
    list_page(endpoint, body)
}

pub fn parse_group_page(endpoint: &str, body: &[u8]) -> Result<ListPage<GroupWire>, ApiError> {
    list_page(endpoint, body)
}

pub fn parse_stats(endpoint: &str, body: &[u8]) -> Result<StatsWire, ApiError> {
    parse_data(endpoint, body)
}
