//! The JSON as clients meet it: RFC 3339 times in several spellings, `unixTime` in seconds or
//! milliseconds of either end of the bucket, whole numbers as integers or floats.

use serde_json::{json, Value};

use super::farm::{fmix, Shares};

/// How a response spells its times; all RFC 3339 or, without offset, meant as UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeStyle {
    Zulu,
    ZuluMillis,
    Offset,
    OffsetMillis,
    NoOffset,
    NoOffsetMillis,
}

impl TimeStyle {
    const ALL: [TimeStyle; 6] = [
        TimeStyle::Zulu,
        TimeStyle::ZuluMillis,
        TimeStyle::Offset,
        TimeStyle::OffsetMillis,
        TimeStyle::NoOffset,
        TimeStyle::NoOffsetMillis,
    ];

    pub fn pick(choice: u64) -> TimeStyle {
        TimeStyle::ALL[(choice % TimeStyle::ALL.len() as u64) as usize]
    }

    /// `ts` (Unix seconds) in this spelling.
    pub fn format(self, ts: i64) -> String {
        let Some(time) = chrono::DateTime::from_timestamp(ts, 0) else {
            return String::new();
        };
        let pattern = match self {
            TimeStyle::Zulu => "%Y-%m-%dT%H:%M:%SZ",
            TimeStyle::ZuluMillis => "%Y-%m-%dT%H:%M:%S%.3fZ",
            TimeStyle::Offset => "%Y-%m-%dT%H:%M:%S+00:00",
            TimeStyle::OffsetMillis => "%Y-%m-%dT%H:%M:%S%.3f+00:00",
            TimeStyle::NoOffset => "%Y-%m-%dT%H:%M:%S",
            TimeStyle::NoOffsetMillis => "%Y-%m-%dT%H:%M:%S%.3f",
        };
        time.format(pattern).to_string()
    }
}

/// A served `time` read back as a client should (Unix seconds): RFC 3339, or without an offset
/// meant as UTC; every `TimeStyle` reads back to the `ts` it spelled.
pub fn read_time(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|t| t.and_utc().timestamp())
        })
        .ok()
}

/// What `unixTime` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnixStyle {
    StartSeconds,
    StartMillis,
    EndSeconds,
    EndMillis,
}

impl UnixStyle {
    pub fn pick(choice: u64) -> UnixStyle {
        match choice % 4 {
            0 => UnixStyle::StartSeconds,
            1 => UnixStyle::StartMillis,
            2 => UnixStyle::EndSeconds,
            _ => UnixStyle::EndMillis,
        }
    }

    fn value(self, start: i64, end: i64) -> i64 {
        match self {
            UnixStyle::StartSeconds => start,
            UnixStyle::StartMillis => start.saturating_mul(1_000),
            UnixStyle::EndSeconds => end,
            UnixStyle::EndMillis => end.saturating_mul(1_000),
        }
    }
}

/// How a response spells hashrates (typed int64 in the spec, decoded as floats by clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NumberStyle {
    Integers,
    /// Every hashrate a float, `123.0` for whole ones.
    Floats,
    /// `hashrateAccepted` a float, the others integers (as one public client decodes them).
    AcceptedFloat,
}

impl NumberStyle {
    pub fn pick(choice: u64) -> NumberStyle {
        match choice % 3 {
            0 => NumberStyle::Integers,
            1 => NumberStyle::Floats,
            _ => NumberStyle::AcceptedFloat,
        }
    }

    /// `value` (GH/s) spelled; `float` says whether this field is a float in this style.
    fn spell(value: f64, float: bool) -> Value {
        if float {
            json!(value)
        } else {
            // Whole GH/s figures stay exact; day means round to the nearest.
            json!(value.round() as i64)
        }
    }

    pub fn accepted(self, value: f64) -> Value {
        NumberStyle::spell(value, self != NumberStyle::Integers)
    }

    pub fn other(self, value: f64) -> Value {
        NumberStyle::spell(value, self == NumberStyle::Floats)
    }
}

/// The spellings of one series response.
#[derive(Debug, Clone, Copy)]
pub(super) struct SeriesStyle {
    pub time: TimeStyle,
    pub unix: UnixStyle,
    pub numbers: NumberStyle,
    pub end_time: bool,
}

impl SeriesStyle {
    pub fn pick(choice: u64) -> SeriesStyle {
        SeriesStyle {
            time: TimeStyle::pick(choice),
            unix: UnixStyle::pick(fmix(choice ^ 1)),
            numbers: NumberStyle::pick(fmix(choice ^ 2)),
            end_time: fmix(choice ^ 3).is_multiple_of(2),
        }
    }

    /// One `HashrateResponse`. `average_workers` only on the sub-account day series.
    pub fn element(self, ts: i64, step: i64, s: Shares, average_workers: Option<f64>) -> Value {
        let mut element = serde_json::Map::new();
        element.insert("time".into(), json!(self.time.format(ts)));
        if self.end_time {
            element.insert("endTime".into(), json!(self.time.format(ts + step)));
        }
        element.insert("unixTime".into(), json!(self.unix.value(ts, ts + step)));
        element.insert("hashrateAccepted".into(), self.numbers.accepted(s.accepted));
        element.insert("hashrateStale".into(), self.numbers.other(s.stale));
        element.insert("hashrateRejected".into(), self.numbers.other(s.rejected));
        if let Some(average) = average_workers {
            element.insert("averageWorkers".into(), json!(average));
        }
        Value::Object(element)
    }
}

/// A Spring-style JSON error body.
pub(super) fn error_json(status: u16, error: &str, message: &str, path: &str, now: i64) -> String {
    json!({
        "timestamp": TimeStyle::ZuluMillis.format(now),
        "status": status,
        "error": error,
        "message": message,
        "path": path,
    })
    .to_string()
}

/// `rejectDetail_*`: undocumented free text; two spellings, "" when nothing was rejected.
pub(super) fn reject_detail(rejected_ghs: f64, choice: u64) -> String {
    // Roughly shares per minute at a typical difficulty.
    let shares = (rejected_ghs / 40.0).round() as i64;
    if shares <= 0 {
        return String::new();
    }
    let duplicate = shares / 9;
    let low = shares - duplicate;
    if choice.is_multiple_of(2) {
        format!("low difficulty share: {low}, duplicate share: {duplicate}")
    } else {
        json!({"low-difficulty": low, "duplicate": duplicate}).to_string()
    }
}
