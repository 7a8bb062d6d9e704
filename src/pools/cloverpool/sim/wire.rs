//! The pool's JSON as clients meet it: numbers as strings or numbers, unit letters scaled per
//! response, two time formats, and `err_msg` as a string, an object or a field map.

use serde_json::{json, Map, Value};

use super::world::mix64;

/// `shares_unit` letters: powers of 1000 of H/s.
pub(crate) const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];

pub(crate) fn unit_scale(unit_index: usize) -> f64 {
    1000f64.powi(unit_index as i32)
}

/// The unit that shows `hashrate_hs` between 1 and 1000.
pub(crate) fn natural_unit(hashrate_hs: f64) -> usize {
    let mut index = 0;
    let mut value = hashrate_hs;
    while value >= 1000.0 && index < UNITS.len() - 1 {
        value /= 1000.0;
        index += 1;
    }
    index
}

/// A unit for a response whose largest value is `max_hs`: the natural one or one of its
/// neighbours, so values read like 0.1 P, 100 T or 100000 G. `fallback` when all are zero.
pub(crate) fn pick_unit(max_hs: f64, fallback: usize, choice: u64) -> usize {
    let natural = if max_hs > 0.0 {
        natural_unit(max_hs)
    } else {
        fallback
    };
    match choice % 4 {
        0 => natural.saturating_sub(1),
        3 => (natural + 1).min(UNITS.len() - 1),
        _ => natural,
    }
}

/// A unit for a 2-decimal display field: the natural one or the one below, never one that
/// would show 0.00.
pub(crate) fn pick_display_unit(hashrate_hs: f64, fallback: usize, choice: u64) -> usize {
    let natural = if hashrate_hs > 0.0 {
        natural_unit(hashrate_hs)
    } else {
        fallback
    };
    if choice.is_multiple_of(3) {
        natural.saturating_sub(1)
    } else {
        natural
    }
}

/// How a response spells its numbers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NumberStyle {
    Strings,
    Numbers,
    /// Integers as numbers, decimals as strings.
    IntsAsNumbers,
    /// Each element on its own, by hash.
    PerElement(u64),
}

impl NumberStyle {
    pub fn pick(choice: u64) -> NumberStyle {
        match choice % 4 {
            0 => NumberStyle::Strings,
            1 => NumberStyle::Numbers,
            2 => NumberStyle::IntsAsNumbers,
            _ => NumberStyle::PerElement(mix64(choice)),
        }
    }

    fn as_string(self, is_int: bool, salt: u64) -> bool {
        match self {
            NumberStyle::Strings => true,
            NumberStyle::Numbers => false,
            NumberStyle::IntsAsNumbers => !is_int,
            NumberStyle::PerElement(h) => mix64(h ^ salt) & 1 == 1,
        }
    }

    pub fn int(self, value: i64, salt: u64) -> Value {
        if self.as_string(true, salt) {
            Value::String(value.to_string())
        } else {
            Value::from(value)
        }
    }

    /// Full precision either way: Rust's `{}` and serde_json's number both round-trip an f64.
    pub fn float(self, value: f64, salt: u64) -> Value {
        if self.as_string(false, salt) {
            Value::String(format!("{value}"))
        } else {
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
        }
    }
}

/// Display precision of the real-time fields (`shares_1m`, `reject_percent` in rows), as the
/// pool's web page shows them.
pub(crate) fn short(value: f64) -> String {
    format!("{value:.2}")
}

/// `"YYYY-MM-DD HH:MM:SS"` in UTC, the list's other spelling of `last_share_time`.
pub(crate) fn datetime_utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

pub(crate) fn ok_body(data: Value) -> Value {
    json!({ "err_no": 0, "data": data })
}

/// The error envelope; `choice` picks the shape of `err_msg`.
pub(crate) fn error_body(err_no: i64, field: Option<&str>, detail: &str, choice: u64) -> Value {
    let text = match field {
        Some(field) => format!("{field} {detail}"),
        None => detail.to_string(),
    };
    let err_msg = match (choice % 3, field) {
        (0, _) => Value::String(text),
        (2, Some(field)) => {
            let mut fields = Map::new();
            fields.insert(field.to_string(), json!([detail]));
            Value::Object(fields)
        }
        _ => json!({ "message": text }),
    };
    json!({ "err_no": err_no, "err_msg": err_msg, "data": null })
}
