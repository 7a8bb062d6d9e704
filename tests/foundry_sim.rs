//! The Foundry USA simulator over loopback: what a client meets on the wire.

use std::collections::BTreeMap;
use std::sync::Arc;

use poolhist::pools::foundry::sim::{
    read_time, spawn_local, FoundryFaultKind, FoundrySeries, FoundrySim, FoundrySimConfig,
};
use serde_json::Value;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// 2026-03-04 09:41:07 UTC.
const NOW: i64 = 1_772_617_267;
const KEY: &str = "demo-foundry-key";

async fn start(tweak: impl FnOnce(&mut FoundrySimConfig)) -> (Arc<FoundrySim>, String) {
    let mut config = FoundrySimConfig {
        workers: 12,
        now: Some(NOW),
        ..FoundrySimConfig::default()
    };
    tweak(&mut config);
    let sim = Arc::new(FoundrySim::new(config));
    let (url, _task) = spawn_local(Arc::clone(&sim)).await.expect("bind loopback");
    (sim, url)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client")
}

/// `base/segments...` with each segment percent-encoded.
fn url(base: &str, segments: &[&str], query: &[(&str, String)]) -> reqwest::Url {
    let mut url = reqwest::Url::parse(base).expect("base url");
    url.path_segments_mut()
        .expect("a base with a path")
        .pop_if_empty()
        .extend(segments);
    url.query_pairs_mut()
        .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    url
}

fn ts_of(element: &Value) -> i64 {
    let text = element["time"].as_str().expect("time is a string");
    read_time(text).expect("an RFC 3339 time, or one without offset")
}

/// GET with retries on anything but 200/403/404 (the faults); the body as JSON.
async fn fetch(client: &reqwest::Client, url: reqwest::Url) -> (u16, Value) {
    for _ in 0..10 {
        let Ok(response) = client
            .get(url.clone())
            .header("X-API-KEY", KEY)
            .send()
            .await
        else {
            continue;
        };
        let status = response.status().as_u16();
        let Ok(bytes) = response.bytes().await else {
            continue;
        };
        if status == 403 || status == 404 {
            return (status, Value::Null);
        }
        if status != 200 {
            continue;
        }
        if let Ok(body) = serde_json::from_slice(&bytes) {
            return (status, body);
        }
    }
    panic!("{url} never answered");
}

#[tokio::test]
async fn auth_coins_and_errors_over_http() {
    let (_sim, base) = start(|_| {}).await;
    let client = client();
    let coins = client
        .get(format!("{base}/coins"))
        .send()
        .await
        .expect("coins");
    assert_eq!(coins.status(), 200);
    assert_eq!(coins.text().await.ok().as_deref(), Some(r#"["BTC","BCH"]"#));
    for path in [
        "/workers/farm1",
        "/subaccount_hashrate_day/farm1",
        "/authentication_test",
    ] {
        let status = client
            .get(format!("{base}{path}"))
            .header("X-API-KEY", "nope")
            .send()
            .await
            .map(|r| r.status().as_u16());
        assert_eq!(status.ok(), Some(403), "{path}");
    }
    let auth = client
        .get(format!("{base}/authentication_test"))
        .header("X-API-KEY", KEY)
        .send()
        .await
        .expect("auth test");
    assert!(auth.headers()["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("text/plain")));
    assert!(auth
        .text()
        .await
        .is_ok_and(|t| t.contains("Your role is Viewer.")));
    for path in [
        "/workers/other",
        "/worker_hashrate_day/farm1/7",
        "/v1/workers/farm1",
    ] {
        let status = client
            .get(format!("{base}{path}"))
            .header("X-API-KEY", KEY)
            .send()
            .await
            .map(|r| r.status().as_u16());
        assert_eq!(status.ok(), Some(404), "{path}");
    }
}

#[tokio::test]
async fn hostile_worker_names_round_trip_percent_encoded() {
    let (sim, base) = start(|c| c.workers = 30).await;
    let client = client();
    for worker in sim.workers() {
        let (status, body) = fetch(
            &client,
            url(&base, &["workers", "farm1", &worker.name], &[]),
        )
        .await;
        assert_eq!(status, 200, "{:?}", worker.name);
        assert_eq!(body["workerName"].as_str(), Some(worker.name.as_str()));
        assert_eq!(
            body["workerId"].as_str(),
            Some(worker.id.to_string().as_str())
        );
    }
}

#[tokio::test]
async fn each_fault_looks_as_documented_and_retries_get_through() {
    for kind in FoundryFaultKind::ALL {
        let (sim, base) = start(|c| {
            c.fault_rate = 1.0;
            c.fault_kinds = vec![kind];
            c.fault_max_consecutive = 2;
            c.fault_slow_ms = 300;
        })
        .await;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(150))
            .build()
            .expect("client");
        let target = url(&base, &["subaccount_hashrate_hour", "farm1"], &[]);
        for attempt in 0..3 {
            let result = client
                .get(target.clone())
                .header("X-API-KEY", KEY)
                .send()
                .await;
            let failing = attempt < 2;
            match result {
                Err(_) => assert!(
                    failing
                        && matches!(
                            kind,
                            FoundryFaultKind::ConnectionReset | FoundryFaultKind::Slow
                        ),
                    "{kind:?} attempt {attempt}"
                ),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let body = response.bytes().await;
                    let parsed = body
                        .as_ref()
                        .ok()
                        .and_then(|b| serde_json::from_slice::<Value>(b).ok());
                    if !failing {
                        assert_eq!(status, 200, "{kind:?}");
                        assert!(parsed.is_some_and(|v| v.is_array()), "{kind:?}");
                        continue;
                    }
                    match kind {
                        FoundryFaultKind::TooManyRequests => {
                            assert_eq!((status, retry_after.as_deref()), (429, Some("1")))
                        }
                        FoundryFaultKind::TooManyRequestsRetryAfterZero => {
                            assert_eq!((status, retry_after.as_deref()), (429, Some("0")))
                        }
                        FoundryFaultKind::TooManyRequestsNoRetryAfter => {
                            assert_eq!((status, retry_after), (429, None))
                        }
                        FoundryFaultKind::InternalServerError => assert_eq!(status, 500),
                        FoundryFaultKind::BadGateway => assert_eq!(status, 502),
                        FoundryFaultKind::ServiceUnavailable => assert_eq!(status, 503),
                        FoundryFaultKind::TruncatedJson => {
                            assert!(status == 200 && body.is_ok() && parsed.is_none())
                        }
                        FoundryFaultKind::CutMidStream => {
                            assert!(status == 200 && body.is_err(), "{kind:?}")
                        }
                        FoundryFaultKind::ConnectionReset | FoundryFaultKind::Slow => {
                            panic!("{kind:?} answered")
                        }
                    }
                }
            }
        }
        assert_eq!(sim.stats().faults_of(kind), 2, "{kind:?}");
    }
}

/// A small collector: every series, whole retention, as a client would store it.
async fn collect(
    client: &reqwest::Client,
    base: &str,
    sim: &FoundrySim,
) -> BTreeMap<(String, i64), f64> {
    let mut store = BTreeMap::new();
    let now = sim.now();
    let range = vec![
        ("startDateUnixMs", ((now - 900 * DAY) * 1_000).to_string()),
        ("endDateUnixMs", (now * 1_000).to_string()),
    ];
    let mut targets = vec![
        (
            "sub-h".to_string(),
            vec!["subaccount_hashrate_hour".to_string(), "farm1".into()],
        ),
        (
            "sub-d".to_string(),
            vec!["subaccount_hashrate_day".to_string(), "farm1".into()],
        ),
    ];
    for w in sim.workers() {
        for (name, path) in [("h", "worker_hashrate_hour"), ("d", "worker_hashrate_day")] {
            targets.push((
                format!("{}-{name}", w.id),
                vec![path.to_string(), "farm1".into(), w.id.to_string()],
            ));
        }
    }
    for (series, segments) in targets {
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (status, body) = fetch(client, url(base, &segments, &range)).await;
        assert_eq!(status, 200, "{series}");
        for e in body.as_array().expect("array") {
            let accepted = e["hashrateAccepted"].as_f64().expect("a number");
            store.insert((series.clone(), ts_of(e)), accepted * 1e9);
        }
    }
    store
}

#[tokio::test]
async fn nightly_runs_see_the_truth_and_stable_history() {
    let (sim, base) = start(|c| {
        c.workers = 8;
        c.fault_rate = 0.2;
        c.fault_slow_ms = 10;
    })
    .await;
    let client = client();
    let mut history: BTreeMap<(String, i64), f64> = BTreeMap::new();
    for _night in 0..4 {
        let run = collect(&client, &base, &sim).await;
        let current_hour = sim.now() - sim.now().rem_euclid(HOUR);
        let current_day = sim.now() - sim.now().rem_euclid(DAY);
        for ((series, ts), hs) in &run {
            let live = if series.ends_with('d') {
                *ts == current_day
            } else {
                *ts == current_hour
            };
            if live {
                continue;
            }
            if let Some(old) = history.insert((series.clone(), *ts), *hs) {
                assert!((old - hs).abs() <= 0.5e9, "{series} {ts} changed");
            }
        }
        // What was served is what the pool keeps (zeros may be left out).
        let truth = sim.truth(FoundrySeries::SubAccountHour);
        for p in &truth {
            match run.get(&("sub-h".to_string(), p.ts)) {
                Some(hs) => assert!((hs - p.hashrate_hs).abs() <= 0.5e9),
                None => assert_eq!(p.hashrate_hs, 0.0),
            }
        }
        sim.advance(DAY);
    }
    let stats = sim.stats();
    assert!(stats.points_served > 0 && stats.faults_served() > 0);
}
