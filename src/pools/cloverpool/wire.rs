//! Wire types of the pool API and their tolerant parsing.

use std::fmt;

pub use crate::model::Dimension;

// ---------------------------------------------------------------------------------------------
// Tolerant scalars: the pool sends numbers as JSON numbers or strings, and sometimes null.

/// A JSON scalar read as a number: a number, a numeric string, or null/empty (`None`).
/// Anything else (an object, an array, a non-numeric string) is an error naming what came.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlexNumber(pub Option<f64>);

impl<'de> serde::Deserialize<'de> for FlexNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FlexNumberVisitor)
    }
}

struct FlexNumberVisitor;

impl<'de> serde::de::Visitor<'de> for FlexNumberVisitor {
    type Value = FlexNumber;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or a numeric string")
    }
    fn visit_i64<E>(self, v: i64) -> Result<FlexNumber, E> {
        Ok(FlexNumber(Some(v as f64)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<FlexNumber, E> {
        Ok(FlexNumber(Some(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<FlexNumber, E> {
        Ok(FlexNumber(Some(v)))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FlexNumber, E> {
        let trimmed = v.trim();
        if trimmed.is_empty() {
            return Ok(FlexNumber(None));
        }
        match trimmed.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(FlexNumber(Some(n))),
            _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
        }
    }
    fn visit_unit<E>(self) -> Result<FlexNumber, E> {
        Ok(FlexNumber(None))
    }
    fn visit_none<E>(self) -> Result<FlexNumber, E> {
        Ok(FlexNumber(None))
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<FlexNumber, D::Error> {
        d.deserialize_any(self)
    }
}

/// An integer id sent as a number or a string ("40" or 40). Large ids keep full precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct FlexId(pub i64);

impl<'de> serde::Deserialize<'de> for FlexId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FlexId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer id (number or string)")
            }
            fn visit_i64<E>(self, v: i64) -> Result<FlexId, E> {
                Ok(FlexId(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FlexId, E> {
                i64::try_from(v)
                    .map(FlexId)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<FlexId, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(FlexId(v as i64))
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FlexId, E> {
                v.trim()
                    .parse::<i64>()
                    .map(FlexId)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Text that may arrive as a string or a number (a worker named `123`); null reads as empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[serde(transparent)]
pub struct FlexText(pub String);

impl<'de> serde::Deserialize<'de> for FlexText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FlexText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<FlexText, E> {
                Ok(FlexText(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<FlexText, E> {
                Ok(FlexText(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<FlexText, E> {
                Ok(FlexText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<FlexText, E> {
                Ok(FlexText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<FlexText, E> {
                Ok(FlexText(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<FlexText, E> {
                Ok(FlexText(String::new()))
            }
            fn visit_none<E>(self) -> Result<FlexText, E> {
                Ok(FlexText(String::new()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `last_share_time`: Unix seconds (number or string) or `"YYYY-MM-DD HH:MM:SS"` in UTC.
/// Zero, empty and null mean "never".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FlexTime(pub Option<i64>);

impl<'de> serde::Deserialize<'de> for FlexTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FlexTime;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("Unix seconds or \"YYYY-MM-DD HH:MM:SS\"")
            }
            fn visit_i64<E>(self, v: i64) -> Result<FlexTime, E> {
                Ok(FlexTime((v > 0).then_some(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<FlexTime, E> {
                Ok(FlexTime(i64::try_from(v).ok().filter(|v| *v > 0)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<FlexTime, E> {
                Ok(FlexTime((v.is_finite() && v > 0.0).then_some(v as i64)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FlexTime, E> {
                parse_time_text(v)
                    .map(FlexTime)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E>(self) -> Result<FlexTime, E> {
                Ok(FlexTime(None))
            }
            fn visit_none<E>(self) -> Result<FlexTime, E> {
                Ok(FlexTime(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Parses the pool's time text: Unix seconds, `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339.
/// `Some(None)` for "never" (empty, zero or the zero date).
fn parse_time_text(text: &str) -> Option<Option<i64>> {
    let text = text.trim();
    if text.is_empty() || text == "0" || text.starts_with("0000-00-00") {
        return Some(None);
    }
    if let Ok(seconds) = text.parse::<i64>() {
        return Some((seconds > 0).then_some(seconds));
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return Some((seconds.is_finite() && seconds > 0.0).then_some(seconds as i64));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(Some(t.and_utc().timestamp()));
        }
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| Some(t.timestamp()))
}

/// Multiplier from a `shares_unit` letter to H/s: K M G T P E are powers of 1000, empty is H/s.
/// Also takes the spelled-out forms "TH/s", "TH" and lower case.
pub fn unit_multiplier(unit: &str) -> Option<f64> {
    let upper = unit.trim().to_ascii_uppercase();
    let letter = upper
        .strip_suffix("H/S")
        .or_else(|| upper.strip_suffix("HS"))
        .or_else(|| upper.strip_suffix("H"))
        .unwrap_or(&upper);
    let exponent = match letter {
        "" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        "E" => 6,
        _ => return None,
    };
    Some(1000f64.powi(exponent))
}

// ---------------------------------------------------------------------------------------------
// Share history.

/// One element of `tickers`: `[timestamp, accept, reject_percent]`, a null, or something else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawTicker {
    /// The pool had no data for that slot.
    Null,
    /// The three values as sent (each may be missing); extra elements are ignored.
    Values {
        ts: Option<f64>,
        accept: Option<f64>,
        reject_percent: Option<f64>,
    },
    /// Not an array of numbers: counted as rejected, never stored.
    Invalid,
}

impl<'de> serde::Deserialize<'de> for RawTicker {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawTicker;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a ticker [timestamp, accept, reject_percent] or null")
            }
            fn visit_unit<E>(self) -> Result<RawTicker, E> {
                Ok(RawTicker::Null)
            }
            fn visit_none<E>(self) -> Result<RawTicker, E> {
                Ok(RawTicker::Null)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawTicker, A::Error> {
                let mut values = [None; 3];
                let mut invalid = false;
                let mut index = 0;
                while let Some(cell) = seq.next_element::<LenientCell>()? {
                    match cell {
                        LenientCell::Number(n) if index < 3 => values[index] = n,
                        LenientCell::Invalid if index < 3 => invalid = true,
                        _ => {}
                    }
                    index += 1;
                }
                if invalid {
                    return Ok(RawTicker::Invalid);
                }
                Ok(RawTicker::Values {
                    ts: values[0],
                    accept: values[1],
                    reject_percent: values[2],
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawTicker, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(RawTicker::Invalid)
            }
            fn visit_str<E>(self, _: &str) -> Result<RawTicker, E> {
                Ok(RawTicker::Invalid)
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawTicker, E> {
                Ok(RawTicker::Invalid)
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawTicker, E> {
                Ok(RawTicker::Invalid)
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawTicker, E> {
                Ok(RawTicker::Invalid)
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawTicker, E> {
                Ok(RawTicker::Invalid)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A ticker cell: never fails, so one bad cell rejects one ticker, not the whole response.
enum LenientCell {
    Number(Option<f64>),
    Invalid,
}

impl<'de> serde::Deserialize<'de> for LenientCell {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = LenientCell;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, a numeric string or null")
            }
            fn visit_i64<E>(self, v: i64) -> Result<LenientCell, E> {
                Ok(LenientCell::Number(Some(v as f64)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<LenientCell, E> {
                Ok(LenientCell::Number(Some(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<LenientCell, E> {
                Ok(LenientCell::Number(Some(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<LenientCell, E> {
                let trimmed = v.trim();
                if trimmed.is_empty() {
                    return Ok(LenientCell::Number(None));
                }
                Ok(match trimmed.parse::<f64>() {
                    Ok(n) if n.is_finite() => LenientCell::Number(Some(n)),
                    _ => LenientCell::Invalid,
                })
            }
            fn visit_unit<E>(self) -> Result<LenientCell, E> {
                Ok(LenientCell::Number(None))
            }
            fn visit_none<E>(self) -> Result<LenientCell, E> {
                Ok(LenientCell::Number(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<LenientCell, E> {
                Ok(LenientCell::Invalid)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LenientCell, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(LenientCell::Invalid)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LenientCell, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(LenientCell::Invalid)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `data` of `share-history`, as sent.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ShareHistoryWire {
    #[serde(default)]
    pub shares_unit: Option<FlexText>,
    /// Missing: malformed. Present but `null`: the pool's "no data at that time".
    #[serde(default, deserialize_with = "present_or_null")]
    pub tickers: Option<Option<Vec<RawTicker>>>,
}

fn present_or_null<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<Vec<RawTicker>>>, D::Error> {
    <Option<Vec<RawTicker>> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

// ---------------------------------------------------------------------------------------------
// Lists.

/// A page of `/worker` or `/worker/groups`. The rows come under `data` (workers) or `list`
/// (groups); both are accepted for either.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PageWire<T> {
    #[serde(default)]
    pub page: Option<FlexNumber>,
    #[serde(default)]
    pub page_size: Option<FlexNumber>,
    #[serde(default)]
    pub page_count: Option<FlexNumber>,
    #[serde(default)]
    pub total_count: Option<FlexNumber>,
    #[serde(default = "Option::default", alias = "data")]
    pub list: Option<Vec<T>>,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct GroupWire {
    pub gid: FlexId,
    #[serde(default)]
    pub name: FlexText,
    #[serde(default)]
    pub workers_total: Option<FlexNumber>,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct WorkerWire {
    pub worker_id: FlexId,
    #[serde(default)]
    pub worker_name: FlexText,
    // Secondary fields: an odd value in one row must not fail the whole listing.
    #[serde(default, deserialize_with = "lenient")]
    pub gid: Option<FlexId>,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub group_name: FlexText,
    #[serde(default, deserialize_with = "lenient_or_default")]
    pub status: FlexText,
    #[serde(default, deserialize_with = "lenient")]
    pub last_share_time: Option<FlexTime>,
    #[serde(default, alias = "last_ip", deserialize_with = "lenient_or_default")]
    pub last_share_ip: FlexText,
    #[serde(default, alias = "total_accept", deserialize_with = "lenient")]
    pub accept_count: Option<FlexNumber>,
}

/// Reads a secondary field; a value of the wrong shape becomes `None` instead of an error.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
    Ok(T::deserialize(value).ok())
}

fn lenient_or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    lenient(deserializer).map(Option::unwrap_or_default)
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct StatsWire {
    #[serde(default)]
    pub workers_active: Option<FlexNumber>,
    #[serde(default)]
    pub workers_inactive: Option<FlexNumber>,
    #[serde(default)]
    pub workers_dead: Option<FlexNumber>,
    #[serde(default)]
    pub workers_total: Option<FlexNumber>,
}

impl serde::Serialize for FlexNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
