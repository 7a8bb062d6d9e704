//! Unit tests of the private helpers of `wire`; the public functions are tested against
//! fixtures in `tests/foundry_wire.rs`.

use super::*;

/// 2024-06-27T18:00:00Z.
const T18: f64 = 1_719_511_200.0;

#[test]
fn time_text_in_every_spelling() {
    for text in [
        "2024-06-27T18:00:00Z",
        "2024-06-27T18:00:00z",
        "2024-06-27t18:00:00Z",
        "2024-06-27T18:00:00.000Z",
        "2024-06-27T18:00:00.000000000Z",
        "2024-06-27T18:00:00+00:00",
        "2024-06-27T18:00:00.000+00:00",
        "2024-06-27T18:00:00-00:00",
        "2024-06-27T20:00:00+02:00",
        "2024-06-27T13:30:00-04:30",
        "2024-06-27T18:00:00+0000",
        "2024-06-27T18:00:00.000+0000",
        "2024-06-27 18:00:00Z",
        "2024-06-27 18:00:00+00:00",
        "2024-06-27T18:00:00",
        "2024-06-27T18:00:00.000",
        "2024-06-27 18:00:00",
        "2024-06-27T18:00",
        " 2024-06-27T18:00:00Z ",
    ] {
        assert_eq!(parse_time_text(text), Some(T18), "{text:?}");
    }
    assert_eq!(parse_time_text("2024-06-27"), Some(1_719_446_400.0));
    assert_eq!(parse_time_text("2024-06-27T18:00:00.5Z"), Some(T18 + 0.5));
    for text in [
        "",
        "yesterday",
        "2024-13-01T00:00:00Z",
        "2024-06-27T25:00:00",
        "1719511200",
    ] {
        assert_eq!(parse_time_text(text), None, "{text:?}");
    }
}

#[test]
fn unix_time_unit_threshold() {
    assert_eq!(epoch_seconds(1_719_511_200.0), 1_719_511_200.0);
    assert_eq!(epoch_seconds(1_719_511_200_000.0), 1_719_511_200.0);
    assert_eq!(epoch_seconds(99_999_999_999.0), 99_999_999_999.0);
    assert_eq!(epoch_seconds(1e11), 1e8);
    assert_eq!(epoch_seconds(-5.0), -5.0);
}

#[test]
fn number_text_accepts_numbers_only() {
    assert_eq!(number_text(" 12.5 "), Field::Value(12.5));
    assert_eq!(number_text("1e3"), Field::Value(1000.0));
    assert_eq!(number_text("-7"), Field::Value(-7.0));
    assert_eq!(number_text(""), Field::Absent);
    for text in ["NaN", "inf", "-infinity", "12 GH/s", "0x10", "1e400"] {
        assert_eq!(number_text(text), Field::Unreadable, "{text:?}");
    }
}

#[test]
fn segment_encoding_round_trips_every_byte() {
    let text: String = (1u32..=0x2ff).filter_map(char::from_u32).collect();
    let encoded = encode_segment(&text);
    assert!(
        encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
        "{encoded}"
    );
    // Decode by hand: the encoding is lossless.
    let mut bytes = Vec::new();
    let mut rest = encoded.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(&tail[..2]).expect("ascii");
            bytes.push(u8::from_str_radix(hex, 16).expect("hex"));
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    assert_eq!(String::from_utf8(bytes).expect("utf-8"), text);
}

#[test]
fn utc_date_matches_chrono() {
    // Every day from 1900 to 2200, and around the epoch.
    let mut ts = -2_208_988_800i64;
    while ts < 7_258_118_400 {
        let expected = chrono::DateTime::from_timestamp(ts, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        assert_eq!(utc_date(ts), expected, "{ts}");
        assert_eq!(utc_date(ts + 86_399), expected, "{ts}");
        ts += 86_400;
    }
    assert_eq!(utc_date(-1), "1969-12-31");
}

#[test]
fn status_from_the_last_share() {
    let now = 1_000_000;
    assert_eq!(status_at(Some(now), now), "ACTIVE");
    assert_eq!(status_at(Some(now + 3_600), now), "ACTIVE");
    assert_eq!(status_at(Some(now - 899), now), "ACTIVE");
    assert_eq!(status_at(Some(now - 900), now), "INACTIVE");
    assert_eq!(status_at(Some(now - 86_399), now), "INACTIVE");
    assert_eq!(status_at(Some(now - 86_400), now), "DEAD");
    assert_eq!(status_at(Some(i64::MIN), now), "DEAD");
    assert_eq!(status_at(None, now), "DEAD");
}

#[test]
fn a_large_page_parses_quickly() {
    // Thousands of pages a run: a month of hours in a few milliseconds (even unoptimized).
    let element = r#"{"time":"2024-06-27T18:00:00.000+00:00","endTime":"2024-06-27T19:00:00.000+00:00","unixTime":1719511200000,"hashrateAccepted":118000,"hashrateStale":12,"hashrateRejected":3}"#;
    let body = format!("[{}]", vec![element; 5_000].join(","));
    let started = std::time::Instant::now();
    let points = parse_series("bench", body.as_bytes()).expect("parses");
    assert_eq!(points.len(), 5_000);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
