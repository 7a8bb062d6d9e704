//! Hostile input: whatever bytes the pool sends, parsing ends in a value or an error, never a
//! panic; and well-formed share history survives every quirk the reference allows.

use poolhist::ingest::plan::{normalize_page, Window, MAX_PLAUSIBLE_HS};
use poolhist::model::Dimension;
use poolhist::pools::cloverpool::response::{
    parse_group_page, parse_share_history, parse_stats, parse_worker_page,
};
use poolhist::pools::cloverpool::wire::RawTicker;
use proptest::prelude::*;

fn all_parsers(body: &[u8]) {
    let _ = parse_share_history("/worker/1/share-history", body);
    let _ = parse_worker_page("/worker", body);
    let _ = parse_group_page("/worker/groups", body);
    let _ = parse_stats("/worker/stats", body);
}

/// JSON-ish fragments that stress the tolerant parsers.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| if f.is_finite() {
            f.to_string()
        } else {
            "1e999".to_owned()
        }),
        "[a-zA-Z0-9 .:+-]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("{}".to_owned()),
        Just("[]".to_owned()),
        Just("\"\"".to_owned()),
    ]
}

fn ticker() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(scalar(), 0..5).prop_map(|cells| format!("[{}]", cells.join(","))),
        scalar(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..300)) {
        all_parsers(&body);
    }

    #[test]
    fn arbitrary_envelopes_never_panic(
        err_no in scalar(),
        unit in scalar(),
        tickers in prop::collection::vec(ticker(), 0..8),
        cut in 0usize..400,
    ) {
        let body = format!(
            r#"{{"err_no":{err_no},"err_msg":{unit},"data":{{"shares_unit":{unit},"tickers":[{}],"page":{err_no},"total_count":{unit},"list":[{{"gid":{err_no},"name":{unit}}}],"data":[{{"worker_id":{err_no},"last_share_time":{unit}}}]}}}}"#,
            tickers.join(",")
        );
        all_parsers(body.as_bytes());
        // Truncated at any byte, too.
        let cut = cut.min(body.len());
        all_parsers(&body.as_bytes()[..cut]);
        if let Ok(history) = parse_share_history("/x", body.as_bytes()) {
            let window = Window { start_ts: 0, count: 720, dimension: Dimension::Hour };
            let page = normalize_page(&history.raw_points(), window, 1_763_641_800);
            for t in &page.tickers {
                prop_assert!(t.hashrate_hs >= 0.0 && t.hashrate_hs <= MAX_PLAUSIBLE_HS);
                prop_assert!(t.ts < 720 * 3_600, "only the window asked for");
                prop_assert!((0.0..=1.0).contains(&t.reject_rate));
                prop_assert_eq!(t.ts % 3_600, 0);
            }
        }
    }

    #[test]
    fn numbers_as_strings_or_numbers_parse_the_same(
        hours in prop::collection::vec(0i64..2_000, 1..20),
        accept in 0.0f64..1e6,
        reject in 0.0f64..100.0,
        as_strings in any::<bool>(),
    ) {
        let cell = |v: String| if as_strings { format!("\"{v}\"") } else { v };
        let tickers: Vec<String> = hours
            .iter()
            .map(|h| format!("[{},{},{}]", cell((h * 3_600).to_string()), cell(accept.to_string()), cell(reject.to_string())))
            .collect();
        let body = format!(r#"{{"err_no":0,"data":{{"shares_unit":"G","tickers":[{}]}}}}"#, tickers.join(","));
        let history = parse_share_history("/x", body.as_bytes()).unwrap();
        prop_assert_eq!(history.multiplier_hs, 1e9);
        for (raw, h) in history.tickers.iter().zip(&hours) {
            prop_assert_eq!(*raw, RawTicker::Values { ts: Some((h * 3_600) as f64), accept: Some(accept), reject_percent: Some(reject) });
        }
    }
}
