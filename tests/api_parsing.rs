//! The pool's responses, in every shape the API reference and its quirks allow, parsed into
//! our types. Fixtures are in `tests/fixtures/`, results snapshotted with insta.

use poolhist::http::{ApiError, Disposition};
use poolhist::pools::cloverpool::response::{
    parse_group_page, parse_share_history, parse_worker_page,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn share_history_with_string_numbers_and_null_tickers() {
    let parsed = parse_share_history(
        "/worker/1/share-history",
        &fixture("share_history_strings_unordered.json"),
    );
    insta::assert_debug_snapshot!(parsed);
}

#[test]
fn share_history_with_json_numbers_and_empty_unit_is_hs() {
    let parsed = parse_share_history(
        "/worker/share-history",
        &fixture("share_history_numbers_empty_unit.json"),
    );
    let history = parsed.as_ref().expect("parses");
    assert_eq!(history.multiplier_hs, 1.0);
    insta::assert_debug_snapshot!(parsed);
}

#[test]
fn bad_cells_reject_one_ticker_not_the_response() {
    let parsed = parse_share_history(
        "/worker/1/share-history",
        &fixture("share_history_null_cells_and_junk.json"),
    );
    insta::assert_debug_snapshot!(parsed);
}

#[test]
fn empty_ticker_list_is_valid() {
    let parsed = parse_share_history(
        "/worker/1/share-history",
        &fixture("share_history_empty_tickers.json"),
    )
    .expect("parses");
    assert!(parsed.tickers.is_empty());
}

#[test]
fn malformed_responses_name_the_endpoint_and_field() {
    let cases = [
        "share_history_unknown_unit.json",
        "share_history_tickers_not_a_list.json",
        "share_history_empty_data.json",
        "share_history_truncated.json",
        "html_error_page.json",
    ];
    let mut messages = Vec::new();
    for case in cases {
        let error =
            parse_share_history("/worker/9/share-history [1h]", &fixture(case)).unwrap_err();
        assert!(
            matches!(
                error,
                ApiError::Malformed { .. } | ApiError::EmptyData { .. }
            ),
            "{case}: {error:?}"
        );
        assert_eq!(
            error.is_empty_data(),
            case == "share_history_empty_data.json",
            "{case}"
        );
        assert_eq!(error.disposition(), Disposition::Transient, "{case}");
        messages.push(format!("{case}: {error}"));
    }
    insta::assert_snapshot!(messages.join("\n"));
}

#[test]
fn worker_rows_accept_both_field_spellings_and_time_formats() {
    let parsed =
        parse_worker_page("/worker", &fixture("workers_page_mixed_rows.json")).expect("parses");
    assert_eq!(parsed.items.len(), 2);
    assert_eq!(
        parsed.items[0].last_share_time.and_then(|t| t.0),
        Some(1_468_393_691)
    );
    assert_eq!(
        parsed.items[1].last_share_time.and_then(|t| t.0),
        Some(1_423_464_377)
    );
    assert_eq!(parsed.items[1].worker_id.0, 8_218_046_046_546_768_911);
    assert_eq!(parsed.items[1].last_share_ip.0, "10.0.0.7");
    insta::assert_debug_snapshot!(parsed);
}

#[test]
fn group_list_parses_numeric_and_string_ids() {
    let parsed =
        parse_group_page("/worker/groups", &fixture("groups_page_list.json")).expect("parses");
    let ids: Vec<i64> = parsed.items.iter().map(|g| g.gid.0).collect();
    assert_eq!(ids, vec![-1, 12]);
    insta::assert_debug_snapshot!(parsed);
}

#[test]
fn a_bad_worker_id_is_an_error_naming_the_field() {
    let error = parse_worker_page("/worker", &fixture("worker_row_bad_id.json")).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("data.data[0].worker_id"), "{text}");
}

#[test]
fn pool_errors_render_every_err_msg_shape_and_classify() {
    let mut lines = Vec::new();
    for (case, disposition) in [
        ("error_string.json", Disposition::Permanent),
        ("error_object.json", Disposition::Permanent),
        ("error_field_map.json", Disposition::Permanent),
    ] {
        let error = parse_share_history("/worker/share-history", &fixture(case)).unwrap_err();
        assert_eq!(error.disposition(), disposition, "{case}");
        lines.push(error.to_string());
    }
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn null_tickers_mean_no_data_but_missing_tickers_are_malformed() {
    let parsed = parse_share_history(
        "/worker/1/share-history",
        &fixture("share_history_null_tickers.json"),
    )
    .expect("null tickers parse");
    assert!(parsed.tickers.is_empty());
    let missing = br#"{"err_no":0,"data":{"shares_unit":"T"}}"#;
    let error = parse_share_history("/worker/1/share-history", missing).unwrap_err();
    assert!(error.to_string().contains("data.tickers"), "{error}");
}

#[test]
fn odd_secondary_fields_in_one_row_do_not_fail_the_listing() {
    let parsed = parse_worker_page(
        "/worker",
        &fixture("workers_page_odd_secondary_fields.json"),
    )
    .expect("parses");
    assert_eq!(parsed.items.len(), 2);
    let first = &parsed.items[0];
    assert_eq!(first.gid, None);
    assert_eq!(first.accept_count, None);
    assert_eq!(first.last_share_time.and_then(|t| t.0), Some(1_423_464_377));
    let second = &parsed.items[1];
    assert_eq!(second.gid.map(|g| g.0), Some(3));
    assert_eq!(
        second.last_share_time.and_then(|t| t.0),
        Some(1_468_393_691)
    );
    assert_eq!(second.status.0, "");
}
