//! Foundry USA wire format: parsing of its answers into the pool-neutral model, and the paths
//! and queries of its requests (`shared/api/foundry.md`, section 6 for the ambiguities handled
//! here). Pure functions: the HTTP lives elsewhere.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::http::ApiError;
use crate::model::{Dimension, Directory, Group, RawPoint, Window, Worker};

/// Foundry hashrates are GH/s (foundry.md 2.4); the model holds H/s.
const HS_PER_GHS: f64 = 1e9;
/// `unixTime` values at or above this are milliseconds (1e11 s is the year 5138).
const MS_THRESHOLD: f64 = 1e11;
/// Worker status from the age of the last share, as Foundry's own status filters bucket it.
const ACTIVE_WITHIN_S: i64 = 15 * 60;
const INACTIVE_WITHIN_S: i64 = 24 * 3_600;
/// A guard against a listing that never ends; each page must bring a new id anyway.
const MAX_WORKER_PAGES: u64 = 100_000;

// ---------------------------------------------------------------------------------------------
// Requests.

/// Path of a series: the sub-account's, or one worker's when `worker_id` is given.
pub fn series_path(sub_account: &str, worker_id: Option<i64>, dimension: Dimension) -> String {
    let sub = encode_segment(sub_account);
    match (worker_id, dimension) {
        (None, Dimension::Hour) => format!("/subaccount_hashrate_hour/{sub}"),
        (None, Dimension::Day) => format!("/subaccount_hashrate_day/{sub}"),
        (Some(id), Dimension::Hour) => format!("/worker_hashrate_hour/{sub}/{id}"),
        (Some(id), Dimension::Day) => format!("/worker_hashrate_day/{sub}/{id}"),
    }
}

/// The explicit range of exactly `window`'s slots (the defaults differ from retention, 6.5).
/// Hours go as epoch ms (the sub-account string form's `hh` is ambiguous, 6.3); days as UTC
/// dates, the only form the spec lists for them. Both bounds are inclusive, on slot starts.
/// Sub-account and worker series take the same parameters today; `_worker` keeps the choice
/// here should they part.
pub fn series_query(window: Window, _worker: bool) -> Vec<(&'static str, String)> {
    match window.dimension {
        Dimension::Hour => vec![
            (
                "startDateUnixMs",
                window.start_ts.saturating_mul(1000).to_string(),
            ),
            (
                "endDateUnixMs",
                window.last_ts().saturating_mul(1000).to_string(),
            ),
        ],
        Dimension::Day => vec![
            ("start", utc_date(window.start_ts)),
            ("end", utc_date(window.last_ts())),
        ],
    }
}

pub fn workers_path(sub_account: &str) -> String {
    format!("/workers/{}", encode_segment(sub_account))
}

/// One page of the worker list. `sort=workerName` is stable between requests (the default,
/// live hashrate, reorders while we page: 6.10); `status=all` lists offline workers too.
pub fn workers_query(page_number: u64, page_size: i64) -> Vec<(&'static str, String)> {
    vec![
        ("pageNumber", page_number.to_string()),
        ("pageSize", page_size.to_string()),
        ("sort", "workerName".to_owned()),
        ("status", "all".to_owned()),
    ]
}

/// Percent-encodes `text` as one path segment: everything but RFC 3986 unreserved characters,
/// so `/`, `%`, `?`, `#`, spaces and non-ASCII bytes never change the path's shape.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `YYYY-MM-DD` of the UTC day holding `ts`; total over i64 (no chrono range to fall out of).
fn utc_date(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

// ---------------------------------------------------------------------------------------------
// Bodies: shared checks.

fn malformed(endpoint: &str, detail: String) -> ApiError {
    ApiError::Malformed {
        endpoint: endpoint.to_owned(),
        detail,
    }
}

/// The body as text, or why it is not (the UTF-8 BOM some proxies add is dropped).
fn body_text<'a>(endpoint: &str, body: &'a [u8]) -> Result<&'a str, ApiError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    std::str::from_utf8(body).map_err(|e| {
        malformed(
            endpoint,
            format!("body is not UTF-8 (at byte {})", e.valid_up_to()),
        )
    })
}

/// Why `text` did not parse as `expected`, in the words `api::response` uses.
fn describe_json_error(text: &str, error: &serde_json::Error, expected: &str) -> String {
    let start = text.trim_start();
    if start.is_empty() {
        return "body is empty".to_owned();
    }
    if start.starts_with('<') {
        return "body is HTML, not JSON".to_owned();
    }
    if error.is_eof() {
        return format!(
            "JSON body ends early (truncated after {} bytes)",
            text.len()
        );
    }
    if error.is_data() {
        // Our element types accept anything, so a data error is the top-level shape.
        let found = match start.as_bytes()[0] {
            b'{' => "an object",
            b'[' => "an array of something else",
            b'"' => "a string",
            b'n' => "null",
            b't' | b'f' => "a boolean",
            _ => "a number",
        };
        return format!("body is {found}, not {expected}: {error}");
    }
    format!("body is not JSON: {error}")
}

// ---------------------------------------------------------------------------------------------
// Tolerant fields. Each reads any JSON value and says what it was, so one odd element never
// fails a page: the caller counts it.

/// A field as read: missing or null, a usable value, or something unusable.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field<T> {
    Absent,
    Value(T),
    Unreadable,
}

impl<T> Field<T> {
    fn value(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            Field::Absent | Field::Unreadable => None,
        }
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the visitor methods every tolerant field shares: null is `Absent`, containers and
/// booleans are `Unreadable` (drained, so the parser stays in step).
macro_rules! tolerant_rest {
    ($t:ty) => {
        fn visit_bool<E>(self, _: bool) -> Result<Field<$t>, E> {
            Ok(Field::Unreadable)
        }
        fn visit_unit<E>(self) -> Result<Field<$t>, E> {
            Ok(Field::Absent)
        }
        fn visit_none<E>(self) -> Result<Field<$t>, E> {
            Ok(Field::Absent)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Field<$t>, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Field<$t>, A::Error> {
            drain_seq(seq)?;
            Ok(Field::Unreadable)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field<$t>, A::Error> {
            drain_map(map)?;
            Ok(Field::Unreadable)
        }
    };
}

/// Any JSON number or numeric string (6.11); an empty string reads as absent.
struct Number(Field<f64>);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<f64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Field<f64>, E> {
                Ok(Field::Value(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Field<f64>, E> {
                Ok(Field::Value(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Field<f64>, E> {
                Ok(Field::Value(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Field<f64>, E> {
                Ok(number_text(v))
            }
            tolerant_rest!(f64);
        }
        deserializer.deserialize_any(V).map(Number)
    }
}

fn number_text(text: &str) -> Field<f64> {
    let text = text.trim();
    if text.is_empty() {
        return Field::Absent;
    }
    // `f64::from_str` also reads "NaN" and "inf": not numbers a pool means.
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Field::Value(n),
        _ => Field::Unreadable,
    }
}

/// A point in time as Unix seconds (fraction kept, for the caller to judge): RFC 3339 text, or
/// an epoch number in seconds or milliseconds.
struct Time(Field<f64>);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<f64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a time")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Field<f64>, E> {
                Ok(Field::Value(epoch_seconds(v as f64)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Field<f64>, E> {
                Ok(Field::Value(epoch_seconds(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Field<f64>, E> {
                Ok(Field::Value(epoch_seconds(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Field<f64>, E> {
                if v.trim().is_empty() {
                    return Ok(Field::Absent);
                }
                Ok(match parse_time_text(v) {
                    Some(t) => Field::Value(t),
                    // A numeric string is an epoch like `unixTime`'s.
                    None => match number_text(v) {
                        Field::Value(n) => Field::Value(epoch_seconds(n)),
                        other => other,
                    },
                })
            }
            tolerant_rest!(f64);
        }
        deserializer.deserialize_any(V).map(Time)
    }
}

/// `unixTime`'s unit is not stated (6.1): values at or above 1e11 are milliseconds.
fn epoch_seconds(value: f64) -> f64 {
    if value >= MS_THRESHOLD {
        value / 1000.0
    } else {
        value
    }
}

/// RFC 3339 in any of its spellings (6.2), or the same without an offset, read as UTC; a bare
/// date is its midnight UTC. Unix seconds, with the fraction of a second kept.
fn parse_time_text(text: &str) -> Option<f64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let text = text.trim();
    let seconds = |ts: i64, nanos: u32| ts as f64 + f64::from(nanos) / 1e9;
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(seconds(t.timestamp(), t.timestamp_subsec_nanos()));
    }
    // `+0000` (no colon), which RFC 3339 lacks but Java formatters write.
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(seconds(t.timestamp(), t.timestamp_subsec_nanos()));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            let t = t.and_utc();
            return Some(seconds(t.timestamp(), t.timestamp_subsec_nanos()));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp() as f64)
}

/// Text that may come as a number (a worker named `123`).
struct Text(Field<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<String>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Field<String>, E> {
                Ok(Field::Value(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Field<String>, E> {
                Ok(Field::Value(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Field<String>, E> {
                Ok(Field::Value(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Field<String>, E> {
                Ok(Field::Value(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Field<String>, E> {
                Ok(Field::Value(v.to_string()))
            }
            tolerant_rest!(String);
        }
        deserializer.deserialize_any(V).map(Text)
    }
}

/// `workerId`: a string in the list, an int64 in paths (6.9). Digits only, full 64 bits.
struct Id(Field<i64>);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<i64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer id")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Field<i64>, E> {
                Ok(Field::Value(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Field<i64>, E> {
                Ok(i64::try_from(v).map_or(Field::Unreadable, Field::Value))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Field<i64>, E> {
                // Only where a double is still exact.
                Ok(if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Field::Value(v as i64)
                } else {
                    Field::Unreadable
                })
            }
            fn visit_str<E>(self, v: &str) -> Result<Field<i64>, E> {
                Ok(match v.trim() {
                    "" => Field::Absent,
                    t => t.parse::<i64>().map_or(Field::Unreadable, Field::Value),
                })
            }
            tolerant_rest!(i64);
        }
        deserializer.deserialize_any(V).map(Id)
    }
}

/// Visitor methods mapping every scalar (null, booleans, numbers, strings) to one value.
macro_rules! scalars_as {
    ($t:ty, $value:expr) => {
        fn visit_unit<E>(self) -> Result<$t, E> {
            Ok($value)
        }
        fn visit_none<E>(self) -> Result<$t, E> {
            Ok($value)
        }
        fn visit_bool<E>(self, _: bool) -> Result<$t, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$t, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$t, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$t, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<$t, E> {
            Ok($value)
        }
    };
}

/// Reads object keys as one of `$name`'s variants without allocating (keys we ignore are `Other`).
macro_rules! keys {
    ($name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        enum $name { $($variant,)* Other }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E>(self, v: &str) -> Result<$name, E> {
                        Ok(match v {
                            $($text => $name::$variant,)*
                            _ => $name::Other,
                        })
                    }
                }
                deserializer.deserialize_identifier(V)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Series: a JSON array of HashrateResponse (foundry.md 2.4).

keys!(PointKey {
    Time = "time",
    UnixTime = "unixTime",
    Accepted = "hashrateAccepted",
    Stale = "hashrateStale",
    Rejected = "hashrateRejected",
});

/// One element of a series, converted as it is read.
struct Element(RawPoint);

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPoint;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a HashrateResponse object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPoint, A::Error> {
                let mut time = Field::Absent;
                let mut unix_time = Field::Absent;
                let mut accepted = Field::Absent;
                let mut stale = Field::Absent;
                let mut rejected = Field::Absent;
                while let Some(key) = map.next_key::<PointKey>()? {
                    match key {
                        PointKey::Time => time = map.next_value::<Time>()?.0,
                        PointKey::UnixTime => unix_time = map.next_value::<Time>()?.0,
                        PointKey::Accepted => accepted = map.next_value::<Number>()?.0,
                        PointKey::Stale => stale = map.next_value::<Number>()?.0,
                        PointKey::Rejected => rejected = map.next_value::<Number>()?.0,
                        // endTime, averageWorkers (-1.0 is a sentinel, 6.15) and the rest: unused.
                        PointKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(point(time, unix_time, accepted, stale, rejected))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawPoint, A::Error> {
                drain_seq(seq)?;
                Ok(RawPoint::Invalid)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawPoint, D::Error> {
                d.deserialize_any(self)
            }
            // Not an object (null included: with no time it stands for no slot): not a point.
            scalars_as!(RawPoint, RawPoint::Invalid);
        }
        deserializer.deserialize_any(V).map(Element)
    }
}

/// One point in our units. Values are passed through unchecked (`normalize_page` judges them).
fn point(
    time: Field<f64>,
    unix_time: Field<f64>,
    accepted: Field<f64>,
    stale: Field<f64>,
    rejected: Field<f64>,
) -> RawPoint {
    let hashrates = [accepted, stale, rejected];
    if hashrates.contains(&Field::Unreadable) {
        return RawPoint::Invalid;
    }
    // `time` first (6.1); `unixTime` only when `time` is missing or unusable. Neither: no ts,
    // which the caller rejects.
    let ts = time.value().or(unix_time.value());
    let reject_rate = match (accepted, stale, rejected) {
        (Field::Value(a), Field::Value(s), Field::Value(r)) => {
            let sum = a + s + r;
            // Stale counts as not accepted (6.13).
            Some(if sum == 0.0 { 0.0 } else { (s + r) / sum })
        }
        // A missing stale or rejected figure: unknown, never guessed as zero.
        _ => None,
    };
    RawPoint::Values {
        ts,
        hashrate_hs: accepted.value().map(|a| a * HS_PER_GHS),
        reject_rate,
    }
}

/// The points of one series page, in the pool's order (the caller sorts by ts: 6.7).
struct Series(Vec<RawPoint>);

impl<'de> Deserialize<'de> for Series {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<RawPoint>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of points")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<RawPoint>, A::Error> {
                // The hint is the body's count of elements only for some formats; capped anyway.
                let mut points = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4_096));
                while let Some(Element(point)) = seq.next_element()? {
                    points.push(point);
                }
                Ok(points)
            }
        }
        deserializer.deserialize_seq(V).map(Series)
    }
}

/// Parses a series body (any of the four history endpoints). Elements that are not points
/// come back as `RawPoint::Invalid`; only a body that is not a JSON array fails.
pub fn parse_series(endpoint: &str, body: &[u8]) -> Result<Vec<RawPoint>, ApiError> {
    let text = body_text(endpoint, body)?;
    serde_json::from_str::<Series>(text)
        .map(|series| series.0)
        .map_err(|e| {
            malformed(
                endpoint,
                describe_json_error(text, &e, "an array of points"),
            )
        })
}

// ---------------------------------------------------------------------------------------------
// Worker list: `{"workersList": [WorkerResponse...], "totalWorkerCount": n}` (foundry.md 2.1).

/// One page of the worker list, in the model's terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkersPage {
    pub workers: Vec<Worker>,
    /// The tags of this page's workers, once each.
    pub groups: Vec<Group>,
    /// `totalWorkerCount`, when the pool sent a usable one.
    pub total: Option<u64>,
    /// Rows left out: not an object, or without a usable `workerId`.
    pub skipped: u64,
}

keys!(WorkerKey {
    Id = "workerId",
    Name = "workerName",
    LastShare = "lastShareTime",
    Tag = "tag",
});

/// A row of `workersList`: `None` when it cannot be a worker.
struct Row(Option<RowFields>);

struct RowFields {
    id: i64,
    name: Field<String>,
    last_share: Field<f64>,
    tag: Field<String>,
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<RowFields>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a WorkerResponse object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut id = Field::Absent;
                let mut name = Field::Absent;
                let mut last_share = Field::Absent;
                let mut tag = Field::Absent;
                while let Some(key) = map.next_key::<WorkerKey>()? {
                    match key {
                        WorkerKey::Id => id = map.next_value::<Id>()?.0,
                        WorkerKey::Name => name = map.next_value::<Text>()?.0,
                        WorkerKey::LastShare => last_share = map.next_value::<Time>()?.0,
                        WorkerKey::Tag => tag = map.next_value::<Text>()?.0,
                        WorkerKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(id.value().map(|id| RowFields {
                    id,
                    name,
                    last_share,
                    tag,
                }))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq)?;
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            // Scalars (null, numbers, strings, booleans) are not rows either.
            scalars_as!(Option<RowFields>, None);
        }
        deserializer.deserialize_any(V).map(Row)
    }
}

/// The top level; `serde_path_to_error` names the field when its shape is wrong.
#[derive(serde::Deserialize)]
struct WorkersPageWire {
    #[serde(rename = "workersList", default)]
    workers_list: Option<Vec<Row>>,
    #[serde(rename = "totalWorkerCount", default)]
    total_worker_count: Option<Number>,
}

/// Parses one page of `/workers/{sub}`. `now` (Unix seconds) dates the status.
///
/// A row without a numeric `workerId` is skipped and counted in `skipped` rather than failing
/// the page: the id is the only key a worker's history can be fetched and stored under, and
/// one broken row must not hide every other worker's history. Other unreadable fields read as
/// missing (no name, no last share: DEAD, no tag).
pub fn parse_workers_page(endpoint: &str, body: &[u8], now: i64) -> Result<WorkersPage, ApiError> {
    let text = body_text(endpoint, body)?;
    // A derived struct would also read an array (as a tuple): say what came instead.
    if text.trim_start().starts_with('[') {
        return Err(malformed(
            endpoint,
            "body is an array, not the worker-list object".to_owned(),
        ));
    }
    let describe = |e: &serde_json::Error| describe_json_error(text, e, "the worker-list object");
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let wire: WorkersPageWire =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let detail = if path == "." || !inner.is_data() {
                describe(&inner)
            } else {
                format!("field `{path}`: {inner}")
            };
            malformed(endpoint, detail)
        })?;
    deserializer
        .end()
        .map_err(|e| malformed(endpoint, describe(&e)))?;
    let Some(rows) = wire.workers_list else {
        return Err(malformed(
            endpoint,
            "field `workersList` is missing".to_owned(),
        ));
    };
    let total = wire
        .total_worker_count
        .and_then(|n| n.0.value())
        .filter(|n| *n >= 0.0 && n.fract() == 0.0)
        .map(|n| n as u64);
    let mut page = WorkersPage {
        total,
        ..WorkersPage::default()
    };
    let mut groups: BTreeMap<i64, String> = BTreeMap::new();
    for row in rows {
        let Some(row) = row.0 else {
            page.skipped += 1;
            continue;
        };
        let last_share_time = row.last_share.value().map(|t| t.floor() as i64);
        let gid = match row.tag.value() {
            Some(tag) if !tag.trim().is_empty() => {
                let gid = tag_group_id(&tag);
                groups.entry(gid).or_insert(tag);
                Some(gid)
            }
            _ => None,
        };
        page.workers.push(Worker {
            worker_id: row.id,
            worker_name: row.name.value().unwrap_or_default(),
            gid,
            status: status_at(last_share_time, now).to_owned(),
            last_share_time,
        });
    }
    page.groups = groups
        .into_iter()
        .map(|(gid, name)| Group { gid, name })
        .collect();
    Ok(page)
}

/// Foundry has no status field: its filters bucket by the last share's age (foundry.md 2.1).
/// A last share in the future (clock skew) is recent.
fn status_at(last_share_time: Option<i64>, now: i64) -> &'static str {
    match last_share_time.map(|t| now.saturating_sub(t)) {
        Some(age) if age < ACTIVE_WITHIN_S => "ACTIVE",
        Some(age) if age < INACTIVE_WITHIN_S => "INACTIVE",
        _ => "DEAD",
    }
}

/// The group id of a tag: FNV-1a 64 of its UTF-8 bytes, masked to 63 bits, so the same tag is
/// the same group in every run on every machine. Never 0 or negative.
pub fn tag_group_id(tag: &str) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = tag
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    match (hash & (i64::MAX as u64)) as i64 {
        0 => 1,
        id => id,
    }
}

/// Lists every worker, paging with `fetch_page(0)`, `fetch_page(1)`, ... until `totalWorkerCount` distinct
/// ids are in hand, a page is empty, a page brings nothing new (a server ignoring
/// `pageNumber`), or `max_workers` is reached (then `workers_capped`, keeping the lowest ids,
/// the same set run after run). A short page does not end the listing: `pageSize=-1` is an
/// unstated maximum (6.10). Ids are de-duplicated (the first row seen is kept); groups are the
/// tags of the workers kept.
pub async fn list_workers<F, Fut>(
    mut fetch_page: F,
    max_workers: usize,
) -> Result<Directory, ApiError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<WorkersPage, ApiError>>,
{
    let mut workers: BTreeMap<i64, Worker> = BTreeMap::new();
    let mut tag_names: BTreeMap<i64, String> = BTreeMap::new();
    let mut skipped = 0u64;
    let mut total = None;
    let mut stopped_at_cap = false;
    let mut ended = false;
    for page_number in 0..MAX_WORKER_PAGES {
        let page = fetch_page(page_number).await?;
        skipped += page.skipped;
        for group in page.groups {
            tag_names.entry(group.gid).or_insert(group.name);
        }
        let mut new_on_page = 0usize;
        for worker in page.workers {
            if let Entry::Vacant(slot) = workers.entry(worker.worker_id) {
                slot.insert(worker);
                new_on_page += 1;
            }
        }
        // The latest total: workers may come and go while we page. It is not trusted to end
        // the listing (a total that lies low would hide workers): only a page that brings
        // nothing new does, one request after the last full one.
        total = page.total.or(total);
        if new_on_page == 0 {
            ended = true;
            break;
        }
        if workers.len() >= max_workers {
            // At the cap the pool's count is all that tells whether more workers exist.
            stopped_at_cap = total.is_none_or(|t| t > workers.len() as u64);
            ended = true;
            break;
        }
    }
    if !ended {
        tracing::warn!(
            "the Foundry worker list did not end after {MAX_WORKER_PAGES} pages: listing stopped"
        );
    }
    if let Some(total) = total.filter(|t| !stopped_at_cap && (workers.len() as u64) < *t) {
        // A server ignoring pageNumber, or rows skipped below: listed, but not all.
        tracing::warn!(
            "the Foundry worker list ended with {} of the {total} workers it counts",
            workers.len()
        );
    }
    if skipped > 0 {
        tracing::warn!("{skipped} Foundry worker rows without a numeric workerId were skipped");
    }
    // Over the cap on a page that also completed the total is capped too.
    let capped = stopped_at_cap || !ended || workers.len() > max_workers;
    while workers.len() > max_workers {
        workers.pop_last();
    }
    let mut groups: BTreeMap<i64, Group> = BTreeMap::new();
    for gid in workers.values().filter_map(|w| w.gid) {
        if let (Entry::Vacant(slot), Some(name)) = (groups.entry(gid), tag_names.get(&gid)) {
            slot.insert(Group {
                gid,
                name: name.clone(),
            });
        }
    }
    Ok(Directory {
        groups: groups.into_values().collect(),
        workers: workers.into_values().collect(),
        workers_capped: capped,
    })
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
