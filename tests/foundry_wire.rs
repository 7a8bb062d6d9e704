//! Foundry USA wire format: realistic bodies (every spelling of `shared/api/foundry.md` section
//! 6) and the worker-list paging, against the public functions of `pools::foundry::wire`.

use std::future::{ready, Ready};

use poolhist::http::ApiError;
use poolhist::model::{Dimension, Group, RawPoint, Window, Worker};
use poolhist::pools::foundry::wire::{
    list_workers, parse_series, parse_workers_page, series_path, series_query, tag_group_id,
    workers_path, workers_query, WorkersPage,
};

const HOUR_BODY: &[u8] = include_bytes!("fixtures/foundry/subaccount_hour.json");
const DAY_BODY: &[u8] = include_bytes!("fixtures/foundry/subaccount_day.json");
const ODD_BODY: &[u8] = include_bytes!("fixtures/foundry/worker_hour_odd.json");
const WORKERS_BODY: &[u8] = include_bytes!("fixtures/foundry/workers_page.json");
const HTML_BODY: &[u8] = include_bytes!("fixtures/foundry/bad_gateway.html");

/// 2024-06-27T18:00:00Z.
const T18: f64 = 1_719_511_200.0;
const HOUR: f64 = 3_600.0;

fn values(ts: f64, hashrate_hs: f64, reject_rate: f64) -> RawPoint {
    RawPoint::Values {
        ts: Some(ts),
        hashrate_hs: Some(hashrate_hs),
        reject_rate: Some(reject_rate),
    }
}

fn malformed_detail(result: Result<impl std::fmt::Debug, ApiError>) -> String {
    match result {
        Err(ApiError::Malformed { endpoint, detail }) => {
            assert_eq!(endpoint, "/subaccount_hashrate_hour/farm1");
            detail
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Series.

#[test]
fn hour_series_every_time_and_number_spelling() {
    let points = parse_series("/subaccount_hashrate_hour/farm1", HOUR_BODY).expect("parses");
    assert_eq!(
        points,
        vec![
            // Newest first, as sent: the caller sorts. `Z`, ints.
            values(T18 + 2.0 * HOUR, 120_000e9, 1_000.0 / 121_000.0),
            // `+00:00` with a fraction; unixTime in ms is ignored while `time` is usable; floats.
            values(T18 + HOUR, 119_876.5e9, 123.5 / 120_000.0),
            // 18:00 is missing: nothing is invented. No offset = UTC; numeric strings.
            values(T18 - HOUR, 118_000e9, 0.0),
            // Another offset: 18:00+02:00 is 16:00Z. A zero sum reads as a reject rate of 0.
            values(T18 - 2.0 * HOUR, 0.0, 0.0),
            // Fraction, no offset; exponents.
            values(T18 - 3.0 * HOUR, 1.2e14, 200.0 / 120_200.0),
            // Lower-case `t`/`z`; a fraction of a second is kept for the caller to reject.
            values(T18 - 4.0 * HOUR + 0.25, 117_000e9, 0.0),
        ]
    );
}

#[test]
fn day_series_with_the_average_workers_sentinel() {
    let points = parse_series("/subaccount_hashrate_day/farm1", DAY_BODY).expect("parses");
    assert_eq!(
        points,
        vec![
            values(1_719_446_400.0, 118_500e9, 150.0 / 118_650.0),
            values(1_719_360_000.0, 119_000e9, 100.0 / 119_100.0),
            // A bare date is its midnight UTC.
            values(1_719_273_600.0, 0.0, 0.0),
        ]
    );
}

#[test]
fn odd_elements_become_invalid_or_partial_points_never_errors() {
    let points = parse_series("/worker_hashrate_hour/farm1/17", ODD_BODY).expect("parses");
    let expected = vec![
        // No `time`: unixTime in ms.
        values(T18, 110e9, 10.0 / 120.0),
        // Unusable `time`: unixTime in s.
        values(T18 - HOUR, 100e9, 0.0),
        // Empty `time`; unixTime as a string of ms.
        values(T18 - 2.0 * HOUR, 90e9, 10.0 / 100.0),
        // Neither time nor unixTime: no ts (the caller rejects it).
        RawPoint::Values {
            ts: None,
            hashrate_hs: Some(80e9),
            reject_rate: Some(0.0),
        },
        // No hashrates at all / all null: an empty slot, not a zero.
        RawPoint::Values {
            ts: Some(T18 - 4.0 * HOUR),
            hashrate_hs: None,
            reject_rate: None,
        },
        RawPoint::Values {
            ts: Some(T18 - 5.0 * HOUR),
            hashrate_hs: None,
            reject_rate: None,
        },
        // A missing stale figure: the reject rate is unknown, not guessed.
        RawPoint::Values {
            ts: Some(T18 - 6.0 * HOUR),
            hashrate_hs: Some(70e9),
            reject_rate: None,
        },
        // Unreadable numbers: a string, a boolean, an object.
        RawPoint::Invalid,
        RawPoint::Invalid,
        RawPoint::Invalid,
        // Negative and absurd values pass through unclamped: normalize_page rejects them.
        values(T18 - 10.0 * HOUR, -5e9, 0.0),
        values(T18 - 11.0 * HOUR, 1e300 * 1e9, 0.0),
        // "NaN" is not a number a pool means.
        RawPoint::Invalid,
        // A bad unixTime and an odd averageWorkers do not matter while `time` is usable;
        // unknown nested fields are skipped.
        values(T18 - 13.0 * HOUR, 60e9, 0.0),
        // null, a number, a string, an array: not objects.
        RawPoint::Invalid,
        RawPoint::Invalid,
        RawPoint::Invalid,
        RawPoint::Invalid,
        // {}: nothing at all.
        RawPoint::Values {
            ts: None,
            hashrate_hs: None,
            reject_rate: None,
        },
    ];
    assert_eq!(points.len(), expected.len());
    for (i, (got, want)) in points.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "element {i}");
    }
}

#[test]
fn empty_array_is_no_points() {
    assert_eq!(parse_series("e", b" [ ] \n").expect("parses"), vec![]);
}

#[test]
fn html_body_is_malformed() {
    let detail = malformed_detail(parse_series("/subaccount_hashrate_hour/farm1", HTML_BODY));
    assert_eq!(detail, "body is HTML, not JSON");
}

#[test]
fn truncated_body_is_malformed_with_its_length() {
    let cut = &HOUR_BODY[..200];
    let detail = malformed_detail(parse_series("/subaccount_hashrate_hour/farm1", cut));
    assert_eq!(detail, "JSON body ends early (truncated after 200 bytes)");
}

#[test]
fn non_utf8_body_is_malformed() {
    let mut body = b"[{\"time\":\"2024-06-27T18:00:00Z\",\"hashrateAccepted\":1}".to_vec();
    body.insert(10, 0xff);
    let detail = malformed_detail(parse_series("/subaccount_hashrate_hour/farm1", &body));
    assert_eq!(detail, "body is not UTF-8 (at byte 10)");
}

#[test]
fn bodies_that_are_not_an_array_are_malformed() {
    let endpoint = "/subaccount_hashrate_hour/farm1";
    let detail = malformed_detail(parse_series(endpoint, br#"{"error":"Not Found"}"#));
    assert!(
        detail.starts_with("body is an object, not an array of points"),
        "{detail}"
    );
    let detail = malformed_detail(parse_series(endpoint, b"null"));
    assert!(
        detail.starts_with("body is null, not an array of points"),
        "{detail}"
    );
    assert_eq!(
        malformed_detail(parse_series(endpoint, b"")),
        "body is empty"
    );
    let detail = malformed_detail(parse_series(endpoint, b"[1] [2]"));
    assert!(detail.starts_with("body is not JSON: trailing"), "{detail}");
}

#[test]
fn a_bom_is_tolerated() {
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(DAY_BODY);
    assert_eq!(parse_series("e", &body).expect("parses").len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Worker list.

/// 2024-06-27T18:00:00Z.
const NOW: i64 = 1_719_511_200;

#[test]
fn workers_page_hostile_names_big_ids_and_statuses() {
    let page = parse_workers_page("/workers/farm1", WORKERS_BODY, NOW).expect("parses");
    let rack_a = tag_group_id("rack-A");
    let unicode = tag_group_id("Ünïcode tag");
    assert_eq!(
        page.workers,
        vec![
            Worker {
                worker_id: 2_147_483_648_123,
                worker_name: "<img src=x onerror=alert(1)>".to_owned(),
                gid: Some(rack_a),
                status: "ACTIVE".to_owned(),
                last_share_time: Some(1_719_510_900),
            },
            Worker {
                worker_id: 17,
                worker_name: "=HYPERLINK(\"http://evil.example\",\"click\")".to_owned(),
                gid: None,
                status: "INACTIVE".to_owned(),
                last_share_time: Some(1_719_489_600),
            },
            Worker {
                worker_id: i64::MAX,
                worker_name: "a/b%20c d?x#y".to_owned(),
                gid: Some(rack_a),
                status: "DEAD".to_owned(),
                last_share_time: Some(1_718_841_600),
            },
            Worker {
                worker_id: 42,
                worker_name: "矿机-01 🚀\u{202e}evil\u{0}".to_owned(),
                gid: Some(unicode),
                status: "DEAD".to_owned(),
                last_share_time: None,
            },
            Worker {
                worker_id: 43,
                worker_name: "123".to_owned(),
                gid: None,
                status: "DEAD".to_owned(),
                last_share_time: None,
            },
        ]
    );
    let mut groups = vec![
        Group {
            gid: rack_a,
            name: "rack-A".to_owned(),
        },
        Group {
            gid: unicode,
            name: "Ünïcode tag".to_owned(),
        },
    ];
    groups.sort_by_key(|g| g.gid);
    assert_eq!(page.groups, groups);
    assert_eq!(page.total, Some(9));
    // "abc", no id, a string row, an id past i64.
    assert_eq!(page.skipped, 4);
}

#[test]
fn status_boundaries() {
    let at = |age: i64| {
        let body = format!(
            r#"{{"workersList":[{{"workerId":"1","workerName":"w","lastShareTime":{}}}],"totalWorkerCount":1}}"#,
            serde_json::json!(chrono::DateTime::from_timestamp(NOW - age, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default())
        );
        let page = parse_workers_page("w", body.as_bytes(), NOW).expect("parses");
        page.workers[0].status.clone()
    };
    assert_eq!(at(-60), "ACTIVE");
    assert_eq!(at(899), "ACTIVE");
    assert_eq!(at(900), "INACTIVE");
    assert_eq!(at(86_399), "INACTIVE");
    assert_eq!(at(86_400), "DEAD");
}

#[test]
fn workers_page_shape_errors_name_the_field() {
    let detail = |body: &[u8]| match parse_workers_page("/workers/farm1", body, NOW) {
        Err(ApiError::Malformed { detail, .. }) => detail,
        other => panic!("expected Malformed, got {other:?}"),
    };
    assert_eq!(
        detail(br#"{"totalWorkerCount":3}"#),
        "field `workersList` is missing"
    );
    assert_eq!(
        detail(br#"{"workersList":null,"totalWorkerCount":3}"#),
        "field `workersList` is missing"
    );
    let d = detail(br#"{"workersList":{"a":1},"totalWorkerCount":3}"#);
    assert!(
        d.starts_with("field `workersList`: invalid type: map"),
        "{d}"
    );
    assert_eq!(
        detail(b"[]"),
        "body is an array, not the worker-list object"
    );
    assert_eq!(detail(HTML_BODY), "body is HTML, not JSON");
    assert_eq!(
        detail(&WORKERS_BODY[..100]),
        "JSON body ends early (truncated after 100 bytes)"
    );
    let d = detail(br#"{"workersList":[]} x"#);
    assert!(d.starts_with("body is not JSON: trailing"), "{d}");
}

#[test]
fn workers_page_total_is_optional() {
    let page = parse_workers_page("w", br#"{"workersList":[],"totalWorkerCount":"n/a"}"#, NOW)
        .expect("parses");
    assert_eq!(page, WorkersPage::default());
    let page = parse_workers_page("w", br#"{"workersList":[],"totalWorkerCount":-1}"#, NOW)
        .expect("parses");
    assert_eq!(page.total, None);
}

#[test]
fn tag_group_ids_are_fnv1a_masked_and_stable() {
    // Pinned: the same tag is the same group on every machine and in every release.
    assert_eq!(tag_group_id(""), 5_472_609_002_491_880_229);
    assert_eq!(tag_group_id("a"), 3_414_815_163_700_866_188);
    assert_eq!(tag_group_id("rack-A"), 3_375_511_153_045_937_764);
    assert_eq!(tag_group_id("Ünïcode tag"), 7_097_428_242_365_819_175);
    assert_ne!(tag_group_id("rack-A"), tag_group_id("rack-a"));
}

// ---------------------------------------------------------------------------------------------
// Requests.

#[test]
fn paths_encode_the_sub_account_as_one_segment() {
    assert_eq!(
        series_path("farm1", None, Dimension::Hour),
        "/subaccount_hashrate_hour/farm1"
    );
    assert_eq!(
        series_path("farm1", None, Dimension::Day),
        "/subaccount_hashrate_day/farm1"
    );
    assert_eq!(
        series_path("a/b %c", Some(2_147_483_648_123), Dimension::Hour),
        "/worker_hashrate_hour/a%2Fb%20%25c/2147483648123"
    );
    assert_eq!(
        series_path("ü?#.._-~", Some(7), Dimension::Day),
        "/worker_hashrate_day/%C3%BC%3F%23.._-~/7"
    );
    assert_eq!(workers_path("..//x"), "/workers/..%2F%2Fx");
}

#[test]
fn hour_queries_are_inclusive_epoch_ms() {
    let window = Window {
        start_ts: 1_719_511_200,
        count: 24,
        dimension: Dimension::Hour,
    };
    let expected = vec![
        ("startDateUnixMs", "1719511200000".to_owned()),
        ("endDateUnixMs", "1719594000000".to_owned()),
    ];
    assert_eq!(series_query(window, false), expected);
    assert_eq!(series_query(window, true), expected);
}

#[test]
fn day_queries_are_inclusive_utc_dates() {
    let window = Window {
        start_ts: 1_719_446_400,
        count: 30,
        dimension: Dimension::Day,
    };
    let expected = vec![
        ("start", "2024-06-27".to_owned()),
        ("end", "2024-07-26".to_owned()),
    ];
    assert_eq!(series_query(window, false), expected);
    assert_eq!(series_query(window, true), expected);
    // One slot: start and end are the same day; a leap day and the epoch.
    let one = |start_ts| {
        series_query(
            Window {
                start_ts,
                count: 1,
                dimension: Dimension::Day,
            },
            false,
        )
    };
    assert_eq!(
        one(951_782_400),
        vec![
            ("start", "2000-02-29".to_owned()),
            ("end", "2000-02-29".to_owned())
        ]
    );
    assert_eq!(
        one(0),
        vec![
            ("start", "1970-01-01".to_owned()),
            ("end", "1970-01-01".to_owned())
        ]
    );
}

#[test]
fn workers_query_sorts_by_name_over_every_status() {
    assert_eq!(
        workers_query(3, -1),
        vec![
            ("pageNumber", "3".to_owned()),
            ("pageSize", "-1".to_owned()),
            ("sort", "workerName".to_owned()),
            ("status", "all".to_owned()),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Paging.

fn worker(id: i64, tag: Option<&str>) -> Worker {
    Worker {
        worker_id: id,
        worker_name: format!("w{id}"),
        gid: tag.map(tag_group_id),
        status: "ACTIVE".to_owned(),
        last_share_time: Some(NOW),
    }
}

fn page(workers: Vec<Worker>, tags: &[&str], total: Option<u64>) -> WorkersPage {
    WorkersPage {
        workers,
        groups: tags
            .iter()
            .map(|t| Group {
                gid: tag_group_id(t),
                name: (*t).to_owned(),
            })
            .collect(),
        total,
        skipped: 0,
    }
}

/// A pool of `ids` serving at most `cap` per page whatever was asked, reporting `total`.
fn capped_pool(
    ids: Vec<i64>,
    cap: usize,
    total: Option<u64>,
    asked: &mut Vec<u64>,
) -> impl FnMut(u64) -> Ready<Result<WorkersPage, ApiError>> + '_ {
    move |n| {
        asked.push(n);
        let rows = ids
            .iter()
            .skip(n as usize * cap)
            .take(cap)
            .map(|id| worker(*id, None))
            .collect();
        ready(Ok(page(rows, &[], total)))
    }
}

fn ids(directory: &poolhist::model::Directory) -> Vec<i64> {
    directory.workers.iter().map(|w| w.worker_id).collect()
}

#[tokio::test]
async fn pages_until_the_total_with_a_capped_page_size() {
    let mut asked = Vec::new();
    let all: Vec<i64> = (1..=10).collect();
    let dir = list_workers(capped_pool(all.clone(), 3, Some(10), &mut asked), 1_000)
        .await
        .expect("lists");
    assert_eq!(ids(&dir), all);
    assert!(!dir.workers_capped);
    // The total ends nothing: the empty page after it does (a total may lie low).
    assert_eq!(asked, [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn a_server_ignoring_page_number_is_asked_twice() {
    let mut asked = Vec::new();
    let fetch = |n| {
        asked.push(n);
        ready(Ok(page(
            vec![worker(5, None), worker(6, None)],
            &[],
            Some(10),
        )))
    };
    let dir = list_workers(fetch, 1_000).await.expect("lists");
    assert_eq!(ids(&dir), [5, 6]);
    assert!(!dir.workers_capped);
    assert_eq!(asked, [0, 1]);
}

#[tokio::test]
async fn a_total_too_high_ends_at_the_empty_page() {
    let mut asked = Vec::new();
    let dir = list_workers(
        capped_pool(vec![9, 3, 7, 1, 5], 2, Some(100), &mut asked),
        1_000,
    )
    .await
    .expect("lists");
    assert_eq!(ids(&dir), [1, 3, 5, 7, 9]);
    assert_eq!(asked, [0, 1, 2, 3]);
}

#[tokio::test]
async fn no_total_ends_at_the_empty_page() {
    let mut asked = Vec::new();
    let dir = list_workers(capped_pool(vec![1, 2, 3], 2, None, &mut asked), 1_000)
        .await
        .expect("lists");
    assert_eq!(ids(&dir), [1, 2, 3]);
    assert_eq!(asked, [0, 1, 2]);
}

#[tokio::test]
async fn a_total_too_low_is_not_believed() {
    // A total that lies low would hide workers whose history is then never copied.
    let mut asked = Vec::new();
    let dir = list_workers(
        capped_pool(vec![1, 2, 3, 4, 5], 2, Some(2), &mut asked),
        1_000,
    )
    .await
    .expect("lists");
    assert_eq!(ids(&dir), [1, 2, 3, 4, 5]);
    assert_eq!(asked, [0, 1, 2, 3]);
}

#[tokio::test]
async fn rows_shifting_between_pages_are_deduplicated() {
    // A worker added before `w3` while we page pushes `w3` onto the next page too.
    let pages = [
        vec![worker(1, Some("a")), worker(2, None), worker(3, Some("b"))],
        vec![
            worker(3, Some("changed")),
            worker(4, Some("a")),
            worker(5, None),
        ],
        vec![worker(6, None)],
    ];
    let mut asked = Vec::new();
    let fetch = |n: u64| {
        asked.push(n);
        let rows = pages.get(n as usize).cloned().unwrap_or_default();
        let tags: Vec<&str> = rows
            .iter()
            .filter_map(|w| {
                ["a", "b", "changed"]
                    .into_iter()
                    .find(|t| w.gid == Some(tag_group_id(t)))
            })
            .collect();
        ready(Ok(page(rows, &tags, Some(6))))
    };
    let dir = list_workers(fetch, 1_000).await.expect("lists");
    assert_eq!(ids(&dir), [1, 2, 3, 4, 5, 6]);
    // The first row seen is kept.
    assert_eq!(dir.workers[2].gid, Some(tag_group_id("b")));
    assert_eq!(asked, [0, 1, 2, 3]);
    let mut expected: Vec<Group> = ["a", "b"]
        .iter()
        .map(|t| Group {
            gid: tag_group_id(t),
            name: (*t).to_owned(),
        })
        .collect();
    expected.sort_by_key(|g| g.gid);
    assert_eq!(dir.groups, expected);
}

#[tokio::test]
async fn the_cap_keeps_the_lowest_ids_and_their_groups() {
    let pages = [
        vec![
            worker(50, Some("x")),
            worker(10, None),
            worker(40, Some("y")),
        ],
        vec![
            worker(20, Some("z")),
            worker(30, None),
            worker(60, Some("x")),
        ],
        vec![worker(1, None)],
    ];
    let mut asked = Vec::new();
    let fetch = |n: u64| {
        asked.push(n);
        let rows = pages.get(n as usize).cloned().unwrap_or_default();
        ready(Ok(page(rows, &["x", "y", "z"], Some(7))))
    };
    let dir = list_workers(fetch, 4).await.expect("lists");
    assert!(dir.workers_capped);
    assert_eq!(ids(&dir), [10, 20, 30, 40]);
    assert_eq!(asked, [0, 1]);
    let mut expected: Vec<Group> = ["y", "z"]
        .iter()
        .map(|t| Group {
            gid: tag_group_id(t),
            name: (*t).to_owned(),
        })
        .collect();
    expected.sort_by_key(|g| g.gid);
    assert_eq!(dir.groups, expected);
}

#[tokio::test]
async fn one_page_past_the_cap_is_capped_even_when_complete() {
    let mut asked = Vec::new();
    let dir = list_workers(
        capped_pool(vec![6, 5, 4, 3, 2, 1], 10, Some(6), &mut asked),
        4,
    )
    .await
    .expect("lists");
    assert!(dir.workers_capped);
    assert_eq!(ids(&dir), [1, 2, 3, 4]);
    assert_eq!(asked, [0]);
}

#[tokio::test]
async fn exactly_the_cap_with_a_total_to_match_is_not_capped() {
    let mut asked = Vec::new();
    let dir = list_workers(capped_pool(vec![1, 2, 3, 4], 2, Some(4), &mut asked), 4)
        .await
        .expect("lists");
    assert!(!dir.workers_capped);
    assert_eq!(ids(&dir), [1, 2, 3, 4]);
}

#[tokio::test]
async fn an_empty_account_is_one_request() {
    let mut asked = Vec::new();
    let dir = list_workers(capped_pool(vec![], 2, Some(0), &mut asked), 10)
        .await
        .expect("lists");
    assert_eq!(dir, poolhist::model::Directory::default());
    assert_eq!(asked, [0]);
}

#[tokio::test]
async fn a_failing_page_fails_the_listing() {
    let fetch = |n: u64| {
        ready(if n == 0 {
            Ok(page(vec![worker(1, None)], &[], Some(5)))
        } else {
            Err(ApiError::Http {
                endpoint: "/workers/farm1".to_owned(),
                status: 503,
                retry_after: None,
                body_kind: None,
            })
        })
    };
    let error = list_workers(fetch, 10).await.expect_err("fails");
    assert!(matches!(error, ApiError::Http { status: 503, .. }));
}

#[tokio::test]
async fn lists_a_parsed_page() {
    let fetch = |_n: u64| ready(parse_workers_page("/workers/farm1", WORKERS_BODY, NOW));
    let dir = list_workers(fetch, 1_000).await.expect("lists");
    assert_eq!(ids(&dir), [17, 42, 43, 2_147_483_648_123, i64::MAX]);
    assert_eq!(dir.groups.len(), 2);
}
