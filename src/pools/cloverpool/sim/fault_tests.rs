//! Fault selection and the faults' wire form, through the same request path the HTTP server
//! uses, plus the faults that only exist on a real socket (reset, slow, Retry-After).

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;

use super::server::Reply;
use super::world::{DAY, HOUR};
use super::*;
use crate::pools::sim_common::testing::{parse_args, try_parse_args};

/// 2026-01-11 14:20:34 UTC.
const NOW: i64 = 1_767_225_600 + 10 * DAY + 14 * HOUR + 20 * 60 + 34;

fn faulty(rate: f64, tweak: impl FnOnce(&mut SimConfig)) -> Simulator {
    let mut config = SimConfig {
        workers: 6,
        now: Some(NOW),
        fault_rate: rate,
        ..SimConfig::default()
    };
    tweak(&mut config);
    Simulator::new(config)
}

/// A share-history request of the account with the configured key; `variant` picks start_ts.
fn history_request(sim: &Simulator, variant: i64) -> Reply {
    let start = (NOW - NOW % HOUR - 200 * HOUR + variant * HOUR).to_string();
    let params = [
        ("access_key", sim.config().access_key.as_str()),
        ("puid", "1001"),
        ("dimension", "1h"),
        ("start_ts", start.as_str()),
        ("count", "24"),
        ("real_point", "1"),
    ];
    let params = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sim.handle(EndpointKind::AccountHistory, None, Some(params))
}

/// A cheap request with a distinguishing (ignored) parameter.
fn stats_request(sim: &Simulator, variant: u64) -> Reply {
    let params = vec![
        ("access_key".to_string(), sim.config().access_key.clone()),
        ("puid".to_string(), "1001".to_string()),
        ("probe".to_string(), variant.to_string()),
    ];
    sim.handle(EndpointKind::Stats, None, Some(params))
}

fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).expect("a JSON body")
}

fn num(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[test]
fn same_seed_serves_the_same_faults_and_another_seed_differs() {
    let run = |seed: u64| {
        let sim = faulty(0.3, |c| c.seed = seed);
        let mut seen = Vec::new();
        // Each request three times, as a client retrying would send it.
        for variant in 0..60 {
            for _ in 0..3 {
                let reply = history_request(&sim, variant);
                seen.push((reply.status, reply.fault, reply.body));
            }
        }
        (seen, sim.stats())
    };
    let (first, first_stats) = run(7);
    let (again, again_stats) = run(7);
    assert!(first == again, "same seed, same requests: same answers");
    assert_eq!(first_stats, again_stats);
    let (other, _) = run(8);
    assert!(first != other, "another seed meets other faults");
    assert!(first_stats.failures_served() > 0);
}

#[test]
fn the_access_key_does_not_pick_the_fault() {
    let answers = |key: &str| {
        let sim = faulty(0.5, |_| {});
        (0..40)
            .map(|variant| {
                let params = vec![
                    ("access_key".to_string(), key.to_string()),
                    ("puid".to_string(), "1001".to_string()),
                    ("probe".to_string(), variant.to_string()),
                ];
                sim.handle(EndpointKind::Stats, None, Some(params)).fault
            })
            .collect::<Vec<_>>()
    };
    let right = answers("r_demo_observer_key");
    // A wrong key gets an error answer, so faults needing data are not drawn: compare the rest.
    let wrong = answers("r_another_key");
    for (r, w) in right.iter().zip(&wrong) {
        if !matches!(
            r,
            Some(FaultKind::EmptyDataNull | FaultKind::EmptyDataArray)
        ) {
            assert_eq!(r.is_some(), w.is_some());
        }
    }
}

#[test]
fn fault_rate_is_roughly_respected() {
    let sim = faulty(0.25, |c| c.workers = 2);
    let requests = 4_000;
    for variant in 0..requests {
        stats_request(&sim, variant);
    }
    let stats = sim.stats();
    let share = stats.failures_served() as f64 / requests as f64;
    assert!((0.22..=0.28).contains(&share), "{share} of requests failed");
    // Every failure kind that fits a stats answer was drawn, none of them overwhelmingly.
    let kinds: Vec<FaultKind> = FaultKind::ALL
        .into_iter()
        .filter(|k| k.is_transient())
        .collect();
    for kind in kinds {
        let count = stats.faults_of(kind) as f64;
        let fair = stats.failures_served() as f64 / 11.0;
        assert!(
            count > fair * 0.6 && count < fair * 1.4,
            "{kind}: {count} of {}",
            stats.failures_served()
        );
    }
    assert_eq!(
        stats.faults_of(FaultKind::NonsenseTickers),
        0,
        "not a history"
    );
}

#[test]
fn a_retried_request_gets_through_within_the_streak_limit_with_the_right_answer() {
    let clean = faulty(0.0, |_| {});
    let sim = faulty(0.6, |_| {});
    let mut longest_streak = 0;
    for variant in 0..100 {
        let expected = history_request(&clean, variant).body;
        let mut streak = 0;
        let reply = loop {
            let reply = history_request(&sim, variant);
            match reply.fault {
                Some(kind) if kind.is_transient() => streak += 1,
                _ => break reply,
            }
            assert!(
                streak <= 4,
                "request {variant} failed {streak} times in a row"
            );
        };
        longest_streak = longest_streak.max(streak);
        if reply.fault.is_none() {
            assert_eq!(reply.body, expected, "request {variant}");
        }
    }
    assert_eq!(longest_streak, 4, "at 60 % some request meets the cap");

    // At rate 1, exactly the cap, then the answer.
    let always = faulty(1.0, |_| {});
    for _ in 0..4 {
        assert!(history_request(&always, 0)
            .fault
            .is_some_and(FaultKind::is_transient));
    }
    let through = history_request(&always, 0);
    assert!(through.fault.is_none_or(|k| !k.is_transient()));
    assert_eq!(through.status, StatusCode::OK);
}

#[test]
fn without_a_streak_limit_rate_one_never_lets_a_request_through() {
    let sim = faulty(1.0, |c| {
        c.fault_max_consecutive = 0;
        c.fault_kinds = vec![FaultKind::BadGateway];
    });
    for _ in 0..20 {
        let reply = stats_request(&sim, 0);
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    }
    assert_eq!(sim.stats().faults_of(FaultKind::BadGateway), 20);
}

#[test]
fn fault_rate_zero_serves_no_faults() {
    let sim = faulty(0.0, |_| {});
    for variant in 0..300 {
        let reply = history_request(&sim, variant);
        assert_eq!(reply.fault, None);
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.delay.is_none() && !reply.reset && reply.retry_after.is_none());
        stats_request(&sim, variant as u64);
    }
    let stats = sim.stats();
    assert!(
        stats.faults_by_kind.is_empty(),
        "{:?}",
        stats.faults_by_kind
    );
    assert_eq!(stats.nonsense_tickers_served, 0);
}

#[test]
fn fault_kinds_restrict_the_mix() {
    let sim = faulty(0.5, |c| {
        c.fault_kinds = vec![FaultKind::TruncatedJson, FaultKind::OperationFailed]
    });
    for variant in 0..200 {
        history_request(&sim, variant);
    }
    let stats = sim.stats();
    let kinds: Vec<FaultKind> = stats.faults_by_kind.keys().copied().collect();
    assert_eq!(
        kinds,
        vec![FaultKind::TruncatedJson, FaultKind::OperationFailed]
    );
}

/// One request of each kind at rate 1, next to the clean answer.
fn served_as(kind: FaultKind, variant: i64) -> (Reply, Reply) {
    let sim = faulty(1.0, |c| {
        c.fault_kinds = vec![kind];
        c.fault_slow_ms = 1_234;
    });
    let clean = faulty(0.0, |_| {});
    (
        history_request(&sim, variant),
        history_request(&clean, variant),
    )
}

#[test]
fn each_failure_is_written_as_the_wire_would_carry_it() {
    let (reply, _) = served_as(FaultKind::BadGateway, 0);
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(reply.content_type, "text/html");
    assert!(reply.text().starts_with("<html>"));

    for (kind, retry_after) in [
        (FaultKind::TooManyRequests, Some("1")),
        (FaultKind::TooManyRequestsNoRetryAfter, None),
        (FaultKind::TooManyRequestsRetryAfterZero, Some("0")),
    ] {
        let (reply, _) = served_as(kind, 0);
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.retry_after, retry_after, "{kind}");
    }

    for variant in 0..20 {
        let (reply, clean) = served_as(FaultKind::TruncatedJson, variant);
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.len() < clean.body.len() && clean.body.starts_with(&reply.body));
        assert!(serde_json::from_slice::<Value>(&reply.body).is_err());

        let (reply, clean) = served_as(FaultKind::InvalidUtf8, variant);
        assert!(std::str::from_utf8(&reply.body).is_err());
        let at = reply
            .body
            .windows(2)
            .position(|w| w == [0xFF, 0xFE])
            .expect("the bad bytes");
        let mut repaired = reply.body.clone();
        repaired.drain(at..at + 2);
        assert_eq!(repaired, clean.body, "only the encoding is wrong");
    }

    let (reply, clean) = served_as(FaultKind::Slow, 0);
    assert_eq!(reply.delay, Some(Duration::from_millis(1_234)));
    assert_eq!(reply.body, clean.body, "slow, but right");

    let (reply, _) = served_as(FaultKind::ConnectionReset, 0);
    assert!(reply.reset);

    let (reply, _) = served_as(FaultKind::OperationFailed, 0);
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(json_of(&reply)["err_no"], 2);

    let (reply, _) = served_as(FaultKind::EmptyDataNull, 0);
    assert_eq!(
        json_of(&reply),
        serde_json::json!({"err_no": 0, "data": null})
    );
    let (reply, _) = served_as(FaultKind::EmptyDataArray, 0);
    assert_eq!(
        json_of(&reply),
        serde_json::json!({"err_no": 0, "data": []})
    );
}

#[test]
fn empty_data_is_only_served_where_there_would_be_data() {
    let sim = faulty(1.0, |c| {
        c.fault_kinds = vec![FaultKind::EmptyDataNull, FaultKind::EmptyDataArray];
    });
    // A wrong key is an error answer: nothing to empty, so it goes out as it is.
    let params = vec![
        ("access_key".to_string(), "r_wrong".to_string()),
        ("puid".to_string(), "1001".to_string()),
    ];
    let reply = sim.handle(EndpointKind::Stats, None, Some(params));
    assert_eq!(reply.fault, None);
    assert_eq!(json_of(&reply)["err_no"], 20001);
    assert_eq!(
        stats_request(&sim, 0).fault.map(|k| k.is_transient()),
        Some(true)
    );
}

/// Is this ticker one that "stored when ts is a whole hour <= now, hashrate >= 0, reject in
/// 0..=100" rejects?
fn rejected_by_the_rules(ticker: &Value, now: i64) -> bool {
    let cells: Vec<Option<f64>> = (0..3).map(|i| num(&ticker[i])).collect();
    match (cells[0], cells[1], cells[2]) {
        (Some(ts), Some(accept), Some(reject)) => {
            let ts = ts as i64;
            ts % HOUR != 0 || ts > now || accept < 0.0 || !(0.0..=100.0).contains(&reject)
        }
        (_, Some(accept), None) => accept != 0.0,
        (None, _, _) => true,
        _ => false,
    }
}

#[test]
fn nonsense_tickers_are_extra_and_every_one_breaks_a_rule() {
    let mut added_total = 0;
    let mut shapes = std::collections::HashSet::new();
    for variant in 0..60 {
        let (reply, clean) = served_as(FaultKind::NonsenseTickers, variant);
        let tickers = json_of(&reply)["data"]["tickers"].clone();
        let clean_tickers = json_of(&clean)["data"]["tickers"].clone();
        let tickers = tickers.as_array().expect("tickers");
        let clean_tickers = clean_tickers.as_array().expect("tickers");
        // Take out the nonsense: what is left is the clean answer, in its order.
        let mut extra = Vec::new();
        let mut rest = Vec::new();
        let mut clean_iter = clean_tickers.iter().peekable();
        for ticker in tickers {
            if clean_iter.peek() == Some(&ticker) {
                rest.push(ticker.clone());
                clean_iter.next();
            } else {
                extra.push(ticker.clone());
            }
        }
        assert_eq!(&rest, clean_tickers, "request {variant}: real tickers kept");
        assert!((1..=3).contains(&extra.len()));
        for ticker in &extra {
            assert!(rejected_by_the_rules(ticker, NOW), "{ticker} looks sane");
            let kind = match (num(&ticker[0]), num(&ticker[1]), num(&ticker[2])) {
                (None, _, _) => "null ts",
                (_, _, None) => "null reject",
                (Some(ts), _, _) if ts as i64 > NOW => "future",
                (Some(ts), _, _) if ts as i64 % HOUR != 0 => "off the hour",
                (_, Some(h), _) if h < 0.0 => "negative",
                _ => "reject over 100",
            };
            shapes.insert(kind);
        }
        added_total += extra.len() as u64;
        assert_eq!(reply.fault, Some(FaultKind::NonsenseTickers));
    }
    assert_eq!(shapes.len(), 6, "{shapes:?}");
    // served_as makes a fresh simulator per request: count one more to check the counter.
    let sim = faulty(1.0, |c| c.fault_kinds = vec![FaultKind::NonsenseTickers]);
    let reply = history_request(&sim, 3);
    let (clean_count, served) = (
        json_of(&history_request(&faulty(0.0, |_| {}), 3))["data"]["tickers"]
            .as_array()
            .map_or(0, Vec::len),
        json_of(&reply)["data"]["tickers"]
            .as_array()
            .map_or(0, Vec::len),
    );
    assert_eq!(
        sim.stats().nonsense_tickers_served,
        (served - clean_count) as u64
    );
    assert!(added_total > 60);
}

#[test]
fn simulate_args_take_the_fault_options() {
    let args: SimulateArgs = parse_args(&[
        "poolhist",
        "--fault-rate",
        "0.25",
        "--fault-kinds",
        "bad-gateway,too-many-requests-retry-after-zero,invalid-utf8,nonsense-tickers",
        "--fault-slow-ms",
        "1500",
    ]);
    let config = args.config();
    assert_eq!(config.fault_rate, 0.25);
    assert_eq!(
        config.fault_kinds,
        vec![
            FaultKind::BadGateway,
            FaultKind::TooManyRequestsRetryAfterZero,
            FaultKind::InvalidUtf8,
            FaultKind::NonsenseTickers
        ]
    );
    assert_eq!(config.fault_slow_ms, 1_500);
    assert_eq!(config.fault_max_consecutive, 4);
    assert!(try_parse_args::<SimulateArgs>(&["poolhist", "--fault-rate", "1.5"]).is_err());
    assert!(try_parse_args::<SimulateArgs>(&["poolhist", "--fault-kinds", "meteor"]).is_err());
    let defaults = parse_args::<SimulateArgs>(&["poolhist"]).config();
    assert_eq!(defaults.fault_rate, 0.0);
    assert!(defaults.fault_kinds.is_empty());
    assert_eq!(defaults.fault_slow_ms, 3_000);
}

async fn loopback(
    kind: FaultKind,
) -> (
    Arc<Simulator>,
    String,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let sim = Arc::new(faulty(1.0, |c| {
        c.fault_kinds = vec![kind];
        c.fault_slow_ms = 700;
    }));
    let (base, server) = spawn_local(Arc::clone(&sim)).await.expect("bind loopback");
    let url = format!("{base}/worker/stats?access_key=r_demo_observer_key&puid=1001");
    (sim, url, server)
}

#[tokio::test]
async fn over_http_a_reset_closes_the_connection_without_an_answer() {
    let (sim, url, server) = loopback(FaultKind::ConnectionReset).await;
    let error = reqwest::get(&url).await.expect_err("no response");
    assert!(!error.is_timeout() && !error.is_connect(), "{error:?}");
    assert_eq!(sim.stats().faults_of(FaultKind::ConnectionReset), 1);
    // The server goes on serving.
    for _ in 0..3 {
        let _ = reqwest::get(&url).await;
    }
    let through = reqwest::get(&url)
        .await
        .expect("fifth attempt gets through");
    assert_eq!(through.status(), reqwest::StatusCode::OK);
    server.abort();
}

#[tokio::test]
async fn over_http_429_carries_retry_after_and_slow_answers_wait() {
    let (_sim, url, server) = loopback(FaultKind::TooManyRequests).await;
    let response = reqwest::get(&url).await.expect("an answer");
    assert_eq!(response.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    server.abort();

    let (_sim, url, server) = loopback(FaultKind::Slow).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let error = client.get(&url).send().await.expect_err("too slow");
    assert!(error.is_timeout(), "{error:?}");
    let started = std::time::Instant::now();
    let response = reqwest::get(&url).await.expect("an answer, late");
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    server.abort();
}
