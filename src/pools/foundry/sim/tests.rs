//! Behaviour of the simulated Foundry pool through the same request path the HTTP server uses.

use std::collections::{BTreeMap, HashSet};

use axum::http::HeaderMap;
use serde_json::Value;

use super::farm::{DAY, HOUR};
use super::server::{Call, Delivery, Reply};
use super::*;
use crate::pools::sim_common::testing::{parse_args, try_parse_args, Cli};

/// 2026-01-11 14:20:34 UTC: mid-hour, so the live bucket is partly filled.
const NOW: i64 = 1_767_225_600 + 10 * DAY + 14 * HOUR + 20 * 60 + 34;

fn sim_with(workers: u32, tweak: impl FnOnce(&mut FoundrySimConfig)) -> FoundrySim {
    let mut config = FoundrySimConfig {
        workers,
        now: Some(NOW),
        ..FoundrySimConfig::default()
    };
    tweak(&mut config);
    FoundrySim::new(config)
}

pub(super) fn raw(
    sim: &FoundrySim,
    kind: FoundryEndpoint,
    sub: &str,
    item: Option<&str>,
    params: &[(&str, &str)],
    key: Option<&str>,
) -> Reply {
    let mut call = Call::new(
        kind,
        &format!("/{kind:?}/{sub}"),
        &HeaderMap::new(),
        Some(
            params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    );
    call.sub = Some(sub.to_string());
    call.item = item.map(str::to_string);
    call.api_key = key.map(str::to_string);
    sim.handle(call)
}

/// A request with the configured key and sub-account; the body read as JSON.
fn get(
    sim: &FoundrySim,
    kind: FoundryEndpoint,
    item: Option<&str>,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let key = sim.config().access_key.clone();
    let sub = sim.config().sub_account.clone();
    let reply = raw(sim, kind, &sub, item, params, Some(&key));
    let body = serde_json::from_str(&reply.text()).unwrap_or(Value::String(reply.text()));
    (reply.status, body)
}

/// A served element's `time`, read as a client should.
fn time_of(element: &Value) -> i64 {
    let text = element["time"].as_str().expect("time is a string");
    read_time(text).expect("time is RFC 3339 or without offset")
}

/// `ts -> accepted GH/s` of a series answer.
fn served(body: &Value) -> BTreeMap<i64, (f64, f64, f64)> {
    body.as_array()
        .expect("a series is an array")
        .iter()
        .map(|e| {
            let n = |name: &str| e[name].as_f64().expect("hashrates are numbers");
            (
                time_of(e),
                (
                    n("hashrateAccepted"),
                    n("hashrateStale"),
                    n("hashrateRejected"),
                ),
            )
        })
        .collect()
}

fn ms(ts: i64) -> String {
    (ts * 1_000).to_string()
}

fn some_worker(sim: &FoundrySim) -> TruthWorker {
    sim.workers()
        .into_iter()
        .find(|w| w.stopped_ts.is_none() && w.first_ts < NOW - 100 * DAY)
        .expect("a veteran worker")
}

#[test]
fn a_bad_or_missing_key_is_403_and_coins_need_none() {
    let sim = sim_with(12, |_| {});
    let kinds = [
        FoundryEndpoint::Workers,
        FoundryEndpoint::SubAccountHour,
        FoundryEndpoint::SubAccountDay,
        FoundryEndpoint::WorkerHour,
        FoundryEndpoint::WorkerDay,
        FoundryEndpoint::AuthenticationTest,
    ];
    for kind in kinds {
        for key in [None, Some("wrong-key"), Some("")] {
            let reply = raw(&sim, kind, "farm1", Some("1"), &[], key);
            assert_eq!(reply.status, 403, "{kind:?} with {key:?}");
            assert!(!reply.text().contains("wrong-key"), "key echoed by default");
        }
    }
    let reply = raw(&sim, FoundryEndpoint::Coins, "", None, &[], None);
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, r#"["BTC","BCH"]"#)
    );
    let (status, body) = get(&sim, FoundryEndpoint::AuthenticationTest, None, &[]);
    assert_eq!(status, 200);
    assert!(body
        .as_str()
        .is_some_and(|t| t.ends_with("Your role is Viewer.")));
}

#[test]
fn the_key_is_echoed_only_when_asked() {
    let sim = sim_with(12, |c| c.echo_key_in_errors = true);
    let reply = raw(
        &sim,
        FoundryEndpoint::Workers,
        "farm1",
        None,
        &[],
        Some("s3cret"),
    );
    assert_eq!(reply.status, 403);
    assert!(reply.text().contains("s3cret"));
}

#[test]
fn unknown_sub_accounts_and_workers() {
    let sim = sim_with(12, |_| {});
    let key = sim.config().access_key.clone();
    // Every endpoint under a sub-account.
    let under_sub = FoundryEndpoint::ALL.into_iter().filter(|kind| {
        !matches!(
            kind,
            FoundryEndpoint::AuthenticationTest | FoundryEndpoint::Coins | FoundryEndpoint::Unknown
        )
    });
    for kind in under_sub {
        let reply = raw(&sim, kind, "nosuch", Some("1"), &[], Some(&key));
        assert_eq!(reply.status, 404, "{kind:?}");
    }
    let (status, body) = get(&sim, FoundryEndpoint::WorkerHour, Some("42"), &[]);
    assert_eq!((status, body), (200, serde_json::json!([])));
    let (status, _) = get(&sim, FoundryEndpoint::WorkerDay, Some("42"), &[]);
    assert_eq!(status, 404);
    let (status, _) = get(&sim, FoundryEndpoint::Worker, Some("no such rig"), &[]);
    assert_eq!(status, 404);
    let (status, _) = get(&sim, FoundryEndpoint::WorkerHour, Some("12a"), &[]);
    assert_eq!(status, 400);
    let reply = raw(&sim, FoundryEndpoint::Unknown, "", None, &[], None);
    assert_eq!(reply.status, 404);
}

#[test]
fn series_elements_are_well_formed_in_every_spelling() {
    let sim = sim_with(12, |_| {});
    let w = some_worker(&sim);
    let id = w.id.to_string();
    let mut spellings = HashSet::new();
    for back in 0..30 {
        let start = ms(NOW - (back + 5) * HOUR);
        let params = [("startDateUnixMs", start.as_str())];
        for (kind, item, step) in [
            (FoundryEndpoint::SubAccountHour, None, HOUR),
            (FoundryEndpoint::WorkerHour, Some(id.as_str()), HOUR),
            (FoundryEndpoint::SubAccountDay, None, DAY),
            (FoundryEndpoint::WorkerDay, Some(id.as_str()), DAY),
        ] {
            let (status, body) = get(&sim, kind, item, &params);
            assert_eq!(status, 200);
            for e in body.as_array().expect("array") {
                let ts = time_of(e);
                assert_eq!(ts.rem_euclid(step), 0, "{e}");
                let unix = e["unixTime"].as_i64().expect("unixTime is an integer");
                assert!(
                    [ts, ts * 1_000, ts + step, (ts + step) * 1_000].contains(&unix),
                    "{e}"
                );
                let time = e["time"].as_str().unwrap_or_default();
                spellings.insert((time.len(), time.ends_with('Z'), e["endTime"].is_null()));
                assert_eq!(
                    e.get("averageWorkers").is_some(),
                    kind == FoundryEndpoint::SubAccountDay,
                    "{e}"
                );
                for name in ["hashrateAccepted", "hashrateStale", "hashrateRejected"] {
                    assert!(e[name].as_f64().is_some_and(|v| v >= 0.0), "{e}");
                }
            }
        }
    }
    assert!(spellings.len() >= 6, "few spellings: {spellings:?}");
}

#[test]
fn ranges_are_inclusive_by_bucket_start_and_ms_and_strings_agree() {
    let sim = sim_with(12, |_| {});
    let b0 = NOW - NOW.rem_euclid(HOUR) - 20 * HOUR;
    let b1 = b0 + 5 * HOUR;
    let (start, end) = (ms(b0), ms(b1));
    let nonzero: Vec<i64> = sim
        .truth(FoundrySeries::SubAccountHour)
        .iter()
        .filter(|p| (b0..=b1).contains(&p.ts))
        .map(|p| p.ts)
        .collect();
    assert_eq!(nonzero.len(), 6);
    let (_, body) = get(
        &sim,
        FoundryEndpoint::SubAccountHour,
        None,
        &[("startDateUnixMs", &start), ("endDateUnixMs", &end)],
    );
    assert_eq!(served(&body).keys().copied().collect::<Vec<_>>(), nonzero);
    // One ms past a bucket start leaves that bucket out.
    let late = (b0 * 1_000 + 1).to_string();
    let (_, body) = get(
        &sim,
        FoundryEndpoint::SubAccountHour,
        None,
        &[("startDateUnixMs", &late), ("endDateUnixMs", &end)],
    );
    assert_eq!(served(&body).keys().next(), Some(&(b0 + HOUR)));
    let fmt = |ts: i64| {
        chrono::DateTime::from_timestamp(ts, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string())
            .unwrap_or_default()
    };
    let (_, by_text) = get(
        &sim,
        FoundryEndpoint::SubAccountHour,
        None,
        &[("start", &fmt(b0)), ("end", &fmt(b1))],
    );
    assert!(served(&by_text)
        .keys()
        .eq(served(&body_for(&sim, b0, b1)).keys()));

    // Days: dates vs ms, both ends inclusive.
    let d1 = NOW - NOW.rem_euclid(DAY) - DAY;
    let d0 = d1 - 9 * DAY;
    let day = |ts: i64| {
        chrono::DateTime::from_timestamp(ts, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let (_, by_date) = get(
        &sim,
        FoundryEndpoint::SubAccountDay,
        None,
        &[("start", &day(d0)), ("end", &day(d1))],
    );
    let (_, by_ms) = get(
        &sim,
        FoundryEndpoint::SubAccountDay,
        None,
        &[("startDateUnixMs", &ms(d0)), ("endDateUnixMs", &ms(d1))],
    );
    let dates = served(&by_date);
    assert_eq!(dates.len(), 10);
    // The same buckets; the spelling (integers or floats) may differ per request.
    assert!(dates.keys().eq(served(&by_ms).keys()));
    // A date-only end covers its whole day on the hourly worker series.
    let w = some_worker(&sim).id.to_string();
    let (_, hours) = get(
        &sim,
        FoundryEndpoint::WorkerHour,
        Some(&w),
        &[("start", &day(d1)), ("end", &day(d1))],
    );
    let hours = served(&hours);
    assert!(hours.keys().all(|ts| (d1..d1 + DAY).contains(ts)));
    assert!(hours.keys().any(|&ts| ts == d1 + 23 * HOUR) || hours.len() < 24);
}

fn body_for(sim: &FoundrySim, b0: i64, b1: i64) -> Value {
    get(
        sim,
        FoundryEndpoint::SubAccountHour,
        None,
        &[("startDateUnixMs", &ms(b0)), ("endDateUnixMs", &ms(b1))],
    )
    .1
}

#[test]
fn defaults_are_a_week_of_hours_and_30_days() {
    let sim = sim_with(12, |_| {});
    let (_, hours) = get(&sim, FoundryEndpoint::SubAccountHour, None, &[]);
    let hours = served(&hours);
    let current = NOW - NOW.rem_euclid(HOUR);
    assert_eq!(hours.keys().last(), Some(&current));
    assert_eq!(hours.keys().next(), Some(&(current - 7 * 24 * HOUR + HOUR)));
    let (_, days) = get(&sim, FoundryEndpoint::SubAccountDay, None, &[]);
    assert_eq!(served(&days).len(), 31);
}

#[test]
fn paging_caps_the_size_and_counts_every_worker() {
    let sim = sim_with(30, |c| c.max_page_size = 7);
    let joined = sim.workers().len();
    for size in ["-1", "100", "7"] {
        let (_, body) = get(&sim, FoundryEndpoint::Workers, None, &[("pageSize", size)]);
        assert_eq!(body["workersList"].as_array().map(Vec::len), Some(7));
        assert_eq!(body["totalWorkerCount"].as_u64(), Some(joined as u64));
    }
    let mut ids = Vec::new();
    for page in 0.. {
        let page = page.to_string();
        let (_, body) = get(
            &sim,
            FoundryEndpoint::Workers,
            None,
            &[("pageNumber", &page), ("sort", "workerName")],
        );
        let rows = body["workersList"].as_array().cloned().unwrap_or_default();
        ids.extend(rows.iter().map(|r| {
            r["workerId"]
                .as_str()
                .and_then(|id| id.parse::<i64>().ok())
                .expect("workerId is a numeric string")
        }));
        if rows.len() < 7 {
            break;
        }
    }
    let mut truth: Vec<i64> = sim.workers().iter().map(|w| w.id).collect();
    truth.sort_unstable();
    ids.sort_unstable();
    assert_eq!(ids, truth);
    assert!(ids.iter().any(|&id| id > i64::from(i32::MAX)));
    let (status, _) = get(&sim, FoundryEndpoint::Workers, None, &[("pageSize", "0")]);
    assert_eq!(status, 400);
}

#[test]
fn list_filters_and_the_worker_detail() {
    let sim = sim_with(40, |_| {});
    let workers = sim.workers();
    let (_, all) = get(&sim, FoundryEndpoint::Workers, None, &[("status", "all")]);
    let mut by_status = 0;
    for status in ["online<15min", "offline<24hr", "offline>24hr"] {
        let (code, body) = get(&sim, FoundryEndpoint::Workers, None, &[("status", status)]);
        assert_eq!(code, 200);
        let n = body["totalWorkerCount"].as_u64().unwrap_or_default();
        assert!(n > 0, "{status}");
        by_status += n;
    }
    assert_eq!(Some(by_status), all["totalWorkerCount"].as_u64());
    let untagged = workers.iter().filter(|w| w.tag.is_empty()).count() as u64;
    let (_, body) = get(&sim, FoundryEndpoint::Workers, None, &[("tag", "untagged")]);
    assert_eq!(body["totalWorkerCount"].as_u64(), Some(untagged));
    assert!(untagged > 0);
    // Hostile names are there, and each is found by its exact text.
    assert!(workers.iter().any(|w| w.name.contains('/')));
    assert!(workers.iter().any(|w| w.name.starts_with('=')));
    assert!(workers.iter().any(|w| w.name.chars().any(char::is_control)));
    for w in &workers {
        let (status, body) = get(&sim, FoundryEndpoint::Worker, Some(&w.name), &[]);
        assert_eq!(status, 200, "{:?}", w.name);
        assert_eq!(body["workerId"].as_str(), Some(w.id.to_string().as_str()));
        assert_eq!(body["tag"].as_str(), Some(w.tag.as_str()));
        let last_share = serde_json::json!({ "time": body["lastShareTime"] });
        assert_eq!(time_of(&last_share), w.last_share_time);
    }
    let (_, body) = get(&sim, FoundryEndpoint::Workers, None, &[("coin", "BCH")]);
    assert_eq!(body["totalWorkerCount"].as_u64(), Some(0));
    let (_, body) = get(
        &sim,
        FoundryEndpoint::SubAccountDay,
        None,
        &[("coin", "BCH")],
    );
    assert_eq!(body, serde_json::json!([]));
}

#[test]
fn the_same_request_gets_the_same_answer() {
    let a = sim_with(20, |_| {});
    let b = sim_with(20, |_| {});
    let params = [("startDateUnixMs", "1767000000000")];
    for kind in [
        FoundryEndpoint::Workers,
        FoundryEndpoint::SubAccountHour,
        FoundryEndpoint::SubAccountDay,
    ] {
        let first = raw(&a, kind, "farm1", None, &params, Some("demo-foundry-key"));
        let again = raw(&a, kind, "farm1", None, &params, Some("demo-foundry-key"));
        let other = raw(&b, kind, "farm1", None, &params, Some("demo-foundry-key"));
        assert_eq!(first, again);
        assert_eq!(first, other);
    }
}

#[test]
fn completed_buckets_never_change_as_the_clock_moves() {
    let sim = sim_with(25, |_| {});
    let w = some_worker(&sim).id;
    let series = [
        FoundrySeries::SubAccountHour,
        FoundrySeries::SubAccountDay,
        FoundrySeries::WorkerHour(w),
        FoundrySeries::WorkerDay(w),
    ];
    let before: Vec<Vec<TruthPoint>> = series.iter().map(|&s| sim.truth(s)).collect();
    sim.advance(DAY + 7 * 60);
    for (s, old) in series.iter().zip(before) {
        let new: BTreeMap<i64, TruthPoint> = sim.truth(*s).into_iter().map(|p| (p.ts, p)).collect();
        let mut compared = 0;
        for p in old.iter().filter(|p| !p.provisional) {
            if let Some(q) = new.get(&p.ts) {
                assert_eq!(
                    (p.accepted_ghs, p.stale_ghs, p.rejected_ghs),
                    (q.accepted_ghs, q.stale_ghs, q.rejected_ghs),
                    "{s:?} {}",
                    p.ts
                );
                assert!(!q.provisional);
                compared += 1;
            }
        }
        assert!(compared > 0, "{s:?}");
        assert_eq!(new.values().filter(|p| p.provisional).count(), 1, "{s:?}");
    }
}

#[test]
fn the_live_bucket_moves_with_the_clock() {
    let sim = sim_with(12, |_| {});
    let live = |sim: &FoundrySim| {
        sim.truth(FoundrySeries::SubAccountHour)
            .last()
            .map(|p| (p.ts, p.accepted_ghs, p.provisional))
    };
    let a = live(&sim);
    sim.advance(120);
    let b = live(&sim);
    assert_eq!(a.map(|p| (p.0, p.2)), b.map(|p| (p.0, p.2)));
    assert_ne!(a.map(|p| p.1), b.map(|p| p.1));
    let (_, days) = get(&sim, FoundryEndpoint::SubAccountDay, None, &[]);
    let today = NOW - NOW.rem_euclid(DAY);
    for e in days.as_array().into_iter().flatten() {
        let pending = time_of(e) == today;
        assert_eq!(e["averageWorkers"].as_f64() == Some(-1.0), pending, "{e}");
    }
}

#[test]
fn the_sub_account_is_the_sum_of_its_workers() {
    let sim = sim_with(30, |_| {});
    let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
    for w in sim.workers() {
        for p in sim.truth(FoundrySeries::WorkerHour(w.id)) {
            *sums.entry(p.ts).or_default() += p.accepted_ghs + p.stale_ghs + p.rejected_ghs;
        }
    }
    let hours = sim.truth(FoundrySeries::SubAccountHour);
    let by_ts: BTreeMap<i64, TruthPoint> = hours.iter().map(|p| (p.ts, *p)).collect();
    for (ts, sum) in &sums {
        let p = by_ts[ts];
        assert_eq!(p.accepted_ghs + p.stale_ghs + p.rejected_ghs, *sum, "{ts}");
    }
    // A completed day is the mean of its 24 hours.
    for day in sim
        .truth(FoundrySeries::SubAccountDay)
        .iter()
        .rev()
        .skip(1)
        .take(20)
    {
        let mean = (0..24)
            .filter_map(|h| by_ts.get(&(day.ts + h * HOUR)))
            .map(|p| p.accepted_ghs)
            .sum::<f64>()
            / 24.0;
        // Kept in whole GH/s, as the API's int64 fields hold it.
        assert!((day.accepted_ghs - mean).abs() <= 0.5, "{}", day.ts);
    }
}

#[test]
fn truth_matches_what_is_served() {
    let sim = sim_with(15, |_| {});
    let w = some_worker(&sim).id;
    let cases = [
        (
            FoundrySeries::SubAccountHour,
            FoundryEndpoint::SubAccountHour,
            None,
        ),
        (
            FoundrySeries::SubAccountDay,
            FoundryEndpoint::SubAccountDay,
            None,
        ),
        (
            FoundrySeries::WorkerHour(w),
            FoundryEndpoint::WorkerHour,
            Some(w),
        ),
        (
            FoundrySeries::WorkerDay(w),
            FoundryEndpoint::WorkerDay,
            Some(w),
        ),
    ];
    sim.reset_stats();
    let mut elements = 0;
    for (series, kind, id) in cases {
        let truth = sim.truth(series);
        let (oldest, current) = sim.retention_window(series);
        assert!(truth.iter().all(|p| (oldest..=current).contains(&p.ts)));
        let id = id.map(|id| id.to_string());
        let (_, body) = get(
            &sim,
            kind,
            id.as_deref(),
            &[("startDateUnixMs", "1"), ("endDateUnixMs", &ms(NOW + DAY))],
        );
        elements += body.as_array().map_or(0, Vec::len) as u64;
        let served = served(&body);
        for p in &truth {
            match served.get(&p.ts) {
                Some(&(accepted, stale, rejected)) => {
                    assert!(
                        (accepted * 1e9 - p.hashrate_hs).abs() <= 0.5e9,
                        "{series:?} {}",
                        p.ts
                    );
                    let rate = (stale + rejected) / (accepted + stale + rejected).max(1e-9);
                    assert!((rate - p.reject_rate).abs() < 1e-3);
                }
                None => assert_eq!(p.hashrate_hs, 0.0, "{series:?} {} missing", p.ts),
            }
        }
        assert!(served.keys().all(|ts| truth.iter().any(|p| p.ts == *ts)));
    }
    let stats = sim.stats();
    assert_eq!(stats.points_served, elements);
    assert_eq!(stats.series_requests(), 4);
}

#[test]
fn retention_and_workers_coming_and_going() {
    let sim = sim_with(40, |_| {});
    let veteran = some_worker(&sim).id;
    assert_eq!(sim.truth(FoundrySeries::WorkerHour(veteran)).len(), 72);
    assert_eq!(sim.truth(FoundrySeries::WorkerDay(veteran)).len(), 90);
    assert_eq!(sim.truth(FoundrySeries::SubAccountHour).len(), 720);
    let days = sim.truth(FoundrySeries::SubAccountDay).len();
    assert!(
        (490..=530).contains(&days),
        "{days} days since the account opened"
    );
    let before = sim.workers().len();
    sim.advance(30 * DAY);
    assert!(sim.workers().len() > before, "nobody joined in a month");
    assert!(sim
        .workers()
        .iter()
        .any(|w| w.stopped_ts.is_some_and(|s| s > NOW && s < NOW + 30 * DAY)));
}

#[test]
fn faults_end_after_max_consecutive_and_are_counted() {
    let sim = sim_with(12, |c| {
        c.fault_rate = 1.0;
        c.fault_max_consecutive = 3;
        c.fault_slow_ms = 1;
    });
    let params = [("pageSize", "5")];
    for attempt in 0..4 {
        let reply = raw(
            &sim,
            FoundryEndpoint::Workers,
            "farm1",
            None,
            &params,
            Some("demo-foundry-key"),
        );
        assert_eq!(reply.fault.is_some(), attempt < 3, "attempt {attempt}");
    }
    let stats = sim.stats();
    assert_eq!(stats.requests_of(FoundryEndpoint::Workers), 4);
    assert_eq!(stats.faults_served(), 3);

    // At a moderate rate, every kind shows up and every request gets through in time.
    let sim = sim_with(12, |c| {
        c.fault_rate = 0.5;
        c.fault_max_consecutive = 2;
    });
    for n in 0..300 {
        let start = ms(NOW - n * HOUR);
        let params = [("startDateUnixMs", start.as_str())];
        let mut streak = 0;
        loop {
            let reply = raw(
                &sim,
                FoundryEndpoint::SubAccountHour,
                "farm1",
                None,
                &params,
                Some("demo-foundry-key"),
            );
            let Some(kind) = reply.fault else { break };
            streak += 1;
            assert!(streak <= 2);
            match kind {
                FoundryFaultKind::TruncatedJson => {
                    assert!(serde_json::from_slice::<Value>(&reply.body).is_err())
                }
                FoundryFaultKind::CutMidStream => {
                    assert!(
                        matches!(reply.delivery, Delivery::Cut { sent } if sent < reply.body.len())
                    )
                }
                FoundryFaultKind::ConnectionReset => assert_eq!(reply.delivery, Delivery::Reset),
                FoundryFaultKind::Slow => break,
                _ => assert!(reply.status >= 429 && reply.text().contains("<html>")),
            }
        }
    }
    assert_eq!(
        sim.stats().faults_by_kind.len(),
        FoundryFaultKind::ALL.len()
    );
}

#[test]
fn the_default_sort_drifts_between_pages_and_worker_name_does_not() {
    let sim = sim_with(40, |_| {});
    let all: HashSet<String> = sim.workers().iter().map(|w| w.id.to_string()).collect();
    let collect = |sort: &str, size: &str| {
        let mut seen = Vec::new();
        for page in 0..all.len() {
            let page = page.to_string();
            let mut params = vec![("pageNumber", page.as_str()), ("pageSize", size)];
            if !sort.is_empty() {
                params.push(("sort", sort));
            }
            let (_, body) = get(&sim, FoundryEndpoint::Workers, None, &params);
            let rows = body["workersList"].as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                break;
            }
            seen.extend(
                rows.iter()
                    .filter_map(|r| r["workerId"].as_str().map(str::to_string)),
            );
        }
        seen
    };
    let mut drifted = false;
    for size in ["3", "4", "5", "6"] {
        let by_name = collect("workerName", size);
        assert_eq!(by_name.len(), all.len());
        assert_eq!(by_name.iter().cloned().collect::<HashSet<_>>(), all);
        let by_rate = collect("", size);
        assert_eq!(by_rate.len(), all.len());
        drifted |= by_rate.iter().cloned().collect::<HashSet<_>>() != all;
    }
    assert!(
        drifted,
        "the default sort never moved a worker across pages"
    );
}

#[test]
fn the_command_line_sets_the_config() {
    use clap::CommandFactory as _;
    Cli::<FoundrySimulateArgs>::command().debug_assert();
    let args: FoundrySimulateArgs = parse_args(&[
        "sim",
        "--workers",
        "5",
        "--fault-rate",
        "0.25",
        "--now",
        "1767225600",
        "--sub-account",
        "farm9",
        "--fault-kinds",
        "cut-mid-stream,too-many-requests",
    ]);
    let config = args.config();
    assert_eq!((config.workers, config.now), (5, Some(1_767_225_600)));
    assert_eq!(
        (config.fault_rate, config.sub_account.as_str()),
        (0.25, "farm9")
    );
    assert_eq!(config.fault_kinds.len(), 2);
    assert!(try_parse_args::<FoundrySimulateArgs>(&["sim", "--fault-rate", "1.5"]).is_err());
}
