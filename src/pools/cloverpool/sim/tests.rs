//! Behaviour of the simulated pool, through the same request path the HTTP server uses, and
//! end to end over loopback.

use std::collections::HashSet;
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;

use super::world::{DAY, HOUR};
use super::*;
use crate::pools::sim_common::testing::parse_args;

/// 2026-01-11 14:20:34 UTC: mid-hour, so the current slot is partly filled.
const NOW: i64 = 1_767_225_600 + 10 * DAY + 14 * HOUR + 20 * 60 + 34;

fn sim_with(workers: u32, tweak: impl FnOnce(&mut SimConfig)) -> Simulator {
    let mut config = SimConfig {
        workers,
        now: Some(NOW),
        ..SimConfig::default()
    };
    tweak(&mut config);
    Simulator::new(config)
}

fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A request without credentials added.
fn call_raw(
    sim: &Simulator,
    kind: EndpointKind,
    worker: Option<&str>,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let reply = sim.handle(kind, worker, Some(pairs(params)));
    let body = serde_json::from_str(&reply.text()).expect("the simulator always answers JSON");
    (reply.status, body)
}

/// A request with the configured key and puid.
fn call(
    sim: &Simulator,
    kind: EndpointKind,
    worker: Option<&str>,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let key = sim.config().access_key.clone();
    let puid = sim.config().puid.to_string();
    let mut all = vec![("access_key", key.as_str()), ("puid", puid.as_str())];
    all.extend_from_slice(params);
    call_raw(sim, kind, worker, &all)
}

fn err_no(body: &Value) -> i64 {
    body["err_no"].as_i64().expect("err_no is a number")
}

fn as_f64(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().expect("finite"),
        Value::String(s) => s.parse().expect("a decimal string"),
        other => panic!("not a number: {other}"),
    }
}

fn as_i64(value: &Value) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().expect("an integer"),
        Value::String(s) => s.parse().expect("an integer string"),
        other => panic!("not an integer: {other}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Ticker {
    ts: i64,
    hashrate_hs: f64,
    reject_rate: f64,
}

/// Tickers as served (in served order, scaled to H/s and fractions) and the number of nulls.
fn parse_history(body: &Value) -> (Vec<Ticker>, usize) {
    assert_eq!(err_no(body), 0, "unexpected error: {body}");
    let unit = body["data"]["shares_unit"].as_str().expect("shares_unit");
    let index = wire::UNITS
        .iter()
        .position(|u| *u == unit)
        .expect("a known unit");
    let scale = wire::unit_scale(index);
    let mut nulls = 0;
    let mut tickers = Vec::new();
    for ticker in body["data"]["tickers"].as_array().expect("tickers") {
        if ticker.is_null() {
            nulls += 1;
            continue;
        }
        tickers.push(Ticker {
            ts: as_i64(&ticker[0]),
            hashrate_hs: as_f64(&ticker[1]) * scale,
            reject_rate: as_f64(&ticker[2]) / 100.0,
        });
    }
    (tickers, nulls)
}

fn history(
    sim: &Simulator,
    worker: Option<i64>,
    dim: Dimension,
    start_ts: i64,
    count: i64,
    real_point: bool,
) -> (Vec<Ticker>, usize) {
    let start = start_ts.to_string();
    let count = count.to_string();
    let mut params = vec![
        ("dimension", dim.as_str()),
        ("start_ts", start.as_str()),
        ("count", count.as_str()),
    ];
    if real_point {
        params.push(("real_point", "1"));
    }
    let (kind, id) = match worker {
        None => (EndpointKind::AccountHistory, None),
        Some(id) => (EndpointKind::WorkerHistory, Some(id.to_string())),
    };
    let (status, body) = call(sim, kind, id.as_deref(), &params);
    assert_eq!(status, StatusCode::OK);
    parse_history(&body)
}

fn sorted(mut tickers: Vec<Ticker>) -> Vec<Ticker> {
    tickers.sort_by_key(|t| t.ts);
    tickers
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12
}

fn current_hour(sim: &Simulator) -> i64 {
    world::floor_to(sim.now(), HOUR)
}

/// A worker that has hashed since before any retention window and never stopped.
fn veteran(sim: &Simulator) -> SimWorker {
    sim.workers()
        .into_iter()
        .find(|w| w.stopped_ts.is_none() && w.first_ts < sim.now() - 400 * DAY)
        .expect("most workers are veterans")
}

#[test]
fn simulator_is_shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Simulator>();
}

#[test]
fn same_seed_serves_identical_responses_and_another_seed_differs() {
    let a = sim_with(30, |_| {});
    let b = sim_with(30, |_| {});
    let c = sim_with(30, |c| c.seed = 2);
    assert_eq!(a.workers(), b.workers());
    assert_ne!(a.workers(), c.workers());
    let id = a.workers()[3].id.to_string();
    let params = pairs(&[
        ("access_key", "r_demo_observer_key"),
        ("puid", "1001"),
        ("dimension", "1h"),
        ("start_ts", "-86400"),
        ("count", "30"),
        ("real_point", "1"),
    ]);
    for kind in [
        EndpointKind::WorkerHistory,
        EndpointKind::WorkerList,
        EndpointKind::Groups,
    ] {
        let served_a = a.handle(kind, Some(&id), Some(params.clone()));
        let served_b = b.handle(kind, Some(&id), Some(params.clone()));
        assert_eq!(served_a, served_b, "{kind:?}");
    }
}

#[test]
fn worker_ids_are_distinct_positive_and_names_include_oddities() {
    let sim = sim_with(100, |_| {});
    let workers = sim.workers();
    assert_eq!(workers.len(), 100);
    let ids: HashSet<i64> = workers.iter().map(|w| w.id).collect();
    assert_eq!(ids.len(), 100);
    assert!(ids.iter().all(|&id| id > 0));
    assert!(ids.iter().any(|&id| id < 1_000_000), "some small ids");
    assert!(
        ids.iter().any(|&id| id >= 100_000_000_000_000_000),
        "some 18-19 digit ids"
    );
    let names: Vec<&str> = workers.iter().map(|w| w.name.as_str()).collect();
    assert!(names.contains(&"<script>alert(1)</script>"));
    assert!(names.iter().any(|n| !n.is_ascii()));
    assert!(names.iter().any(|n| n.starts_with('=')));
    assert!(names.iter().any(|n| n.starts_with("rack01-")));
    let gids: HashSet<i64> = workers.iter().map(|w| w.gid).collect();
    assert!(gids.contains(&-1), "some workers stay in DEFAULT");
    assert_eq!(gids.len(), 3, "100 workers make 2 groups plus DEFAULT");
}

#[test]
fn statuses_include_active_inactive_and_dead_and_follow_the_clock() {
    let sim = sim_with(50, |_| {});
    let count = |status| sim.workers().iter().filter(|w| w.status == status).count();
    assert!(count(SimWorkerStatus::Active) > 30);
    assert!(count(SimWorkerStatus::Inactive) >= 3);
    assert!(count(SimWorkerStatus::Dead) >= 4);
    for w in sim.workers() {
        if w.status == SimWorkerStatus::Dead {
            let stopped = w.stopped_ts.expect("a dead worker stopped");
            assert!(sim.now() - stopped >= DAY);
        }
    }
    // Two days on, the recently stopped workers are dead too.
    let dead_before = count(SimWorkerStatus::Dead);
    sim.advance(2 * DAY);
    assert!(count(SimWorkerStatus::Dead) > dead_before);
}

#[test]
fn stopped_worker_serves_zero_and_late_joiner_has_nothing_before_joining() {
    let sim = sim_with(50, |_| {});
    let workers = sim.workers();
    let dead = workers
        .iter()
        .find(|w| w.status == SimWorkerStatus::Dead)
        .expect("a dead worker");
    let stopped = dead.stopped_ts.expect("stopped");
    let after = sim
        .expected_point(Some(dead.id), Dimension::Hour, stopped + 3 * HOUR)
        .expect("a stopped worker still has points");
    assert_eq!(after.hashrate_hs, 0.0);
    let before = sim
        .expected_point(Some(dead.id), Dimension::Hour, stopped - HOUR)
        .expect("point before stopping");
    assert!(before.hashrate_hs >= 0.0);

    let late = workers
        .iter()
        .filter(|w| w.first_ts > sim.now() - 72 * HOUR)
        .max_by_key(|w| w.first_ts)
        .expect("a worker joined inside the hourly window");
    assert_eq!(
        sim.expected_point(Some(late.id), Dimension::Hour, late.first_ts - HOUR),
        None
    );
    assert!(sim
        .expected_point(Some(late.id), Dimension::Hour, late.first_ts)
        .is_some());

    // Served: no ticker before the join; the slots before it are null or left out.
    let start = late.first_ts - 10 * HOUR;
    let (tickers, nulls) = history(&sim, Some(late.id), Dimension::Hour, start, 20, true);
    assert!(tickers.iter().all(|t| t.ts >= late.first_ts));
    assert!(nulls <= 10);
    let hours_since_joining = ((current_hour(&sim) - late.first_ts) / HOUR + 1).min(10);
    assert_eq!(
        tickers.len() as i64,
        hours_since_joining,
        "every hour since joining is served"
    );
}

#[test]
fn daily_value_is_mean_of_hourly_values_with_accept_weighted_rejects() {
    let sim = sim_with(20, |_| {});
    let day = world::floor_to(sim.now(), DAY) - 5 * DAY;
    let ids: Vec<Option<i64>> = std::iter::once(None)
        .chain(sim.workers().iter().map(|w| Some(w.id)))
        .collect();
    for id in ids {
        let Some(daily) = sim.expected_point(id, Dimension::Day, day) else {
            continue;
        };
        let hours: Vec<SimPoint> = (0..24)
            .filter_map(|h| sim.expected_point(id, Dimension::Hour, day + h * HOUR))
            .collect();
        let sum: f64 = hours.iter().map(|p| p.hashrate_hs).sum();
        let rejected: f64 = hours.iter().map(|p| p.hashrate_hs * p.reject_rate).sum();
        assert!(close(daily.hashrate_hs, sum / 24.0), "{id:?}");
        if sum > 0.0 {
            assert!(close(daily.reject_rate, rejected / sum), "{id:?}");
        }
    }
}

#[test]
fn account_value_is_sum_of_workers() {
    let sim = sim_with(40, |_| {});
    let ids: Vec<i64> = sim.workers().iter().map(|w| w.id).collect();
    for (dim, ts) in [
        (Dimension::Hour, current_hour(&sim) - 5 * HOUR),
        (Dimension::Day, world::floor_to(sim.now(), DAY) - 3 * DAY),
    ] {
        let account = sim.expected_point(None, dim, ts).expect("account point");
        let points: Vec<SimPoint> = ids
            .iter()
            .filter_map(|&id| sim.expected_point(Some(id), dim, ts))
            .collect();
        let sum: f64 = points.iter().map(|p| p.hashrate_hs).sum();
        let rejected: f64 = points.iter().map(|p| p.hashrate_hs * p.reject_rate).sum();
        assert!(close(account.hashrate_hs, sum), "{dim}");
        assert!(close(account.reject_rate, rejected / sum), "{dim}");
        // A realistic farm: about 100 TH/s a worker, rejects well under 5 %.
        assert!(sum > 20.0 * 80e12 && sum < 40.0 * 150e12, "{dim}: {sum}");
        assert!(account.reject_rate > 0.0 && account.reject_rate < 0.05);
    }
}

#[test]
fn expected_point_needs_an_aligned_slot_and_a_known_worker() {
    let sim = sim_with(10, |_| {});
    let hour = current_hour(&sim) - HOUR;
    assert!(sim.expected_point(None, Dimension::Hour, hour).is_some());
    assert_eq!(sim.expected_point(None, Dimension::Hour, hour + 1), None);
    assert_eq!(sim.expected_point(None, Dimension::Day, hour), None);
    assert_eq!(sim.expected_point(Some(-5), Dimension::Hour, hour), None);
}

#[test]
fn served_values_reproduce_expected_points() {
    let sim = sim_with(30, |_| {});
    let worker = veteran(&sim);
    let current = current_hour(&sim);
    let cases = [
        (Some(worker.id), Dimension::Hour, current - 60 * HOUR, 60),
        (None, Dimension::Hour, current - 200 * HOUR, 200),
        (
            Some(worker.id),
            Dimension::Day,
            world::floor_to(NOW, DAY) - 80 * DAY,
            80,
        ),
        (
            None,
            Dimension::Day,
            world::floor_to(NOW, DAY) - 200 * DAY,
            200,
        ),
    ];
    for (id, dim, start, count) in cases {
        let (tickers, nulls) = history(&sim, id, dim, start, count, false);
        assert_eq!(nulls, 0);
        assert_eq!(tickers.len() as i64, count, "{id:?} {dim}");
        for t in tickers {
            let expected = sim
                .expected_point(id, dim, t.ts)
                .expect("served slots have data");
            assert!(
                close(t.hashrate_hs, expected.hashrate_hs),
                "{id:?} {dim} {t:?} {expected:?}"
            );
            assert!(
                close(t.reject_rate, expected.reject_rate),
                "{id:?} {dim} {t:?} {expected:?}"
            );
        }
    }
}

#[test]
fn start_ts_is_rounded_up_to_the_step() {
    let sim = sim_with(10, |_| {});
    let current = current_hour(&sim);
    let aligned = current - 10 * HOUR;
    let (tickers, _) = history(&sim, None, Dimension::Hour, aligned, 3, false);
    assert_eq!(
        sorted(tickers).iter().map(|t| t.ts).collect::<Vec<_>>(),
        vec![aligned, aligned + HOUR, aligned + 2 * HOUR]
    );
    let (tickers, _) = history(&sim, None, Dimension::Hour, aligned + 1, 3, false);
    assert_eq!(
        sorted(tickers).iter().map(|t| t.ts).collect::<Vec<_>>(),
        vec![aligned + HOUR, aligned + 2 * HOUR, aligned + 3 * HOUR]
    );
    let day = world::floor_to(NOW, DAY) - 10 * DAY;
    let (tickers, _) = history(&sim, None, Dimension::Day, day - 1, 2, false);
    assert_eq!(sorted(tickers)[0].ts, day, "days start at UTC midnight");
}

#[test]
fn negative_start_ts_counts_back_from_now() {
    let sim = sim_with(10, |_| {});
    let (tickers, _) = history(&sim, None, Dimension::Hour, -5 * HOUR, 100, true);
    let ts: Vec<i64> = sorted(tickers).iter().map(|t| t.ts).collect();
    let current = current_hour(&sim);
    assert_eq!(
        ts,
        (1..=5)
            .map(|k| current - (5 - k) * HOUR)
            .collect::<Vec<_>>()
    );
}

#[test]
fn count_is_capped_silently_at_max_count() {
    let sim = sim_with(10, |c| c.max_count = 24);
    let start = current_hour(&sim) - 100 * HOUR;
    let (tickers, nulls) = history(&sim, None, Dimension::Hour, start, 100, true);
    assert_eq!(tickers.len() + nulls, 24);
    let ts: Vec<i64> = sorted(tickers).iter().map(|t| t.ts).collect();
    assert_eq!(ts.first(), Some(&start));
    assert_eq!(ts.last(), Some(&(start + 23 * HOUR)));
}

#[test]
fn tickers_never_go_past_the_current_slot() {
    let sim = sim_with(10, |_| {});
    let current = current_hour(&sim);
    let (tickers, _) = history(&sim, None, Dimension::Hour, current - 3 * HOUR, 100, true);
    assert_eq!(tickers.len(), 4);
    assert_eq!(
        tickers.last().map(|t| t.ts),
        Some(current),
        "the live slot comes last"
    );
    let (future, nulls) = history(&sim, None, Dimension::Hour, current + HOUR, 10, true);
    assert!(future.is_empty() && nulls == 0);
    let today = world::floor_to(NOW, DAY);
    let (days, _) = history(&sim, None, Dimension::Day, today - 2 * DAY, 10, true);
    assert_eq!(days.iter().map(|t| t.ts).max(), Some(today));
}

#[test]
fn retention_boundaries_per_series_kind() {
    let sim = sim_with(10, |_| {});
    let worker = veteran(&sim);
    let hour = current_hour(&sim);
    let day = world::floor_to(NOW, DAY);
    let cases = [
        (Some(worker.id), Dimension::Hour, hour, 72),
        (None, Dimension::Hour, hour, 720),
        (Some(worker.id), Dimension::Day, day, 90),
        (None, Dimension::Day, day, 365),
    ];
    for (id, dim, current, kept) in cases {
        let step = dim.step_seconds();
        let oldest = current - (kept - 1) * step;
        // Three slots just past the edge, three inside.
        let (tickers, nulls) = history(&sim, id, dim, oldest - 3 * step, 6, false);
        let ts: Vec<i64> = sorted(tickers).iter().map(|t| t.ts).collect();
        assert_eq!(
            ts,
            vec![oldest, oldest + step, oldest + 2 * step],
            "{id:?} {dim}"
        );
        assert!(nulls <= 3);
        assert!(
            sim.expected_point(id, dim, oldest - step).is_some(),
            "gone only by retention"
        );
    }
}

#[test]
fn short_retention_is_honoured_and_moves_with_the_clock() {
    let sim = sim_with(5, |c| c.account_hours = 3);
    let current = current_hour(&sim);
    let (tickers, _) = history(&sim, None, Dimension::Hour, current - 10 * HOUR, 20, true);
    let ts: Vec<i64> = sorted(tickers).iter().map(|t| t.ts).collect();
    assert_eq!(ts, vec![current - 2 * HOUR, current - HOUR, current]);
    sim.advance(HOUR);
    let (tickers, _) = history(&sim, None, Dimension::Hour, current - 10 * HOUR, 20, true);
    assert_eq!(sorted(tickers)[0].ts, current - HOUR);
}

#[test]
fn live_point_changes_with_time_and_becomes_final_once_complete() {
    let sim = sim_with(10, |_| {});
    let worker = veteran(&sim);
    let slot = current_hour(&sim);
    let live_at = |offset: i64| {
        sim.set_now(slot + offset);
        let (tickers, _) = history(&sim, Some(worker.id), Dimension::Hour, slot, 1, true);
        assert_eq!(tickers.len(), 1);
        assert_eq!(tickers[0].ts, slot);
        tickers[0].hashrate_hs
    };
    let early = live_at(10 * 60);
    let later = live_at(17 * 60);
    assert_ne!(early, later, "the live point moves as the hour fills");
    assert_eq!(live_at(17 * 60), later, "and is a function of the time");

    let final_hs = sim
        .expected_point(Some(worker.id), Dimension::Hour, slot)
        .expect("final value")
        .hashrate_hs;
    assert!(final_hs > 0.0);
    assert!((early / final_hs - 1.0).abs() <= 0.15);
    sim.set_now(slot + HOUR + 1);
    for real_point in [true, false] {
        let (tickers, _) = history(&sim, Some(worker.id), Dimension::Hour, slot, 1, real_point);
        assert_eq!(tickers.len(), 1);
        assert!(
            close(tickers[0].hashrate_hs, final_hs),
            "complete: the final value"
        );
    }
}

#[test]
fn without_real_point_current_slot_reads_low_and_is_hidden_for_five_minutes() {
    let sim = sim_with(10, |_| {});
    let worker = veteran(&sim);
    let slot = current_hour(&sim);
    let final_hs = sim
        .expected_point(Some(worker.id), Dimension::Hour, slot)
        .expect("final value")
        .hashrate_hs;
    sim.set_now(slot + 3 * 60);
    let (tickers, _) = history(
        &sim,
        Some(worker.id),
        Dimension::Hour,
        slot - HOUR,
        5,
        false,
    );
    assert_eq!(
        tickers.iter().map(|t| t.ts).collect::<Vec<_>>(),
        vec![slot - HOUR]
    );
    sim.set_now(slot + 30 * 60);
    let (tickers, _) = history(&sim, Some(worker.id), Dimension::Hour, slot, 5, false);
    assert_eq!(tickers.len(), 1);
    assert!(close(tickers[0].hashrate_hs, final_hs * 0.5));
}

#[test]
fn ticker_quirks_vary_between_responses() {
    let sim = sim_with(20, |_| {});
    let worker = veteran(&sim);
    let current = current_hour(&sim);
    let (mut units, mut strings, mut numbers, mut shuffled) = (HashSet::new(), 0, 0, 0);
    for back in 30..60 {
        let start = (current - back * HOUR).to_string();
        let id = worker.id.to_string();
        let (_, body) = call(
            &sim,
            EndpointKind::WorkerHistory,
            Some(&id),
            &[("dimension", "1h"), ("start_ts", &start), ("count", "24")],
        );
        units.insert(
            body["data"]["shares_unit"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
        );
        let tickers = body["data"]["tickers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for element in tickers
            .iter()
            .flat_map(|t| t.as_array().cloned().unwrap_or_default())
        {
            match element {
                Value::String(_) => strings += 1,
                Value::Number(_) => numbers += 1,
                _ => {}
            }
        }
        let (parsed, _) = parse_history(&body);
        if parsed.windows(2).any(|w| w[0].ts > w[1].ts) {
            shuffled += 1;
        }
    }
    assert!(units.len() >= 2, "units {units:?}");
    assert!(
        units.iter().all(|u| ["G", "T", "P"].contains(&u.as_str())),
        "{units:?}"
    );
    assert!(strings > 0 && numbers > 0);
    assert!(shuffled > 0 && shuffled < 30);
}

#[test]
fn worker_list_pages_cover_every_worker_exactly_once_under_the_page_size_cap() {
    let sim = sim_with(120, |c| c.max_page_size = 50);
    let all: HashSet<i64> = sim.workers().iter().map(|w| w.id).collect();
    for order in [("worker_id", "0"), ("worker_name", "1"), ("shares_1m", "0")] {
        let mut seen = Vec::new();
        let mut page = 1;
        loop {
            let page_text = page.to_string();
            let (_, body) = call(
                &sim,
                EndpointKind::WorkerList,
                None,
                &[
                    ("page", &page_text),
                    ("page_size", "100"),
                    ("order_by", order.0),
                    ("asc", order.1),
                ],
            );
            assert_eq!(err_no(&body), 0, "{body}");
            let data = &body["data"];
            assert_eq!(data["page_size"], 50, "capped silently");
            assert_eq!(data["total_count"], 120);
            assert_eq!(data["page_count"], 3);
            let rows = data["data"].as_array().expect("rows under data");
            assert!(rows.len() <= 50);
            seen.extend(rows.iter().map(|row| as_i64(&row["worker_id"])));
            if page >= data["page_count"].as_i64().unwrap_or(0) {
                break;
            }
            page += 1;
        }
        assert_eq!(seen.len(), 120, "{order:?}");
        assert_eq!(
            seen.iter().copied().collect::<HashSet<_>>(),
            all,
            "{order:?}"
        );
    }
}

#[test]
fn worker_list_filters_by_status_group_and_name_with_both_row_spellings() {
    let sim = sim_with(80, |_| {});
    let workers = sim.workers();
    let list = |params: &[(&str, &str)]| {
        let mut all = vec![("page_size", "50")];
        all.extend_from_slice(params);
        let (_, body) = call(&sim, EndpointKind::WorkerList, None, &all);
        assert_eq!(err_no(&body), 0, "{body}");
        body["data"].clone()
    };
    let dead = workers
        .iter()
        .filter(|w| w.status == SimWorkerStatus::Dead)
        .count();
    let data = list(&[("status", "dead")]);
    assert_eq!(data["total_count"], dead);
    assert!(data["data"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|row| row["status"] == "DEAD"));
    let data = list(&[("group", "-1")]);
    let in_default = workers.iter().filter(|w| w.gid == -1).count();
    assert_eq!(data["total_count"], in_default);
    let data = list(&[("filter", "SCRIPT")]);
    assert_eq!(data["total_count"], 1);
    assert_eq!(data["data"][0]["worker_name"], "<script>alert(1)</script>");

    let rows = list(&[])["data"].as_array().cloned().unwrap_or_default();
    let has = |key: &str| rows.iter().any(|row| row.get(key).is_some());
    assert!(has("accept_count") && has("total_accept"));
    assert!(has("last_share_ip") && has("last_ip"));
    assert!(rows.iter().any(|row| row["last_share_time"]
        .as_str()
        .is_some_and(|t| t.contains(':'))));
    assert!(rows.iter().any(|row| row["last_share_time"]
        .as_str()
        .is_none_or(|t| !t.contains(':'))));
}

#[test]
fn groups_list_includes_the_default_group_and_counts_every_worker() {
    let sim = sim_with(130, |_| {});
    let (_, body) = call(&sim, EndpointKind::Groups, None, &[("page_size", "100")]);
    let list = body["data"]["list"].as_array().expect("groups under list");
    assert_eq!(body["data"]["total_count"], 4, "3 groups plus DEFAULT");
    assert_eq!(list[0]["gid"], -1);
    assert_eq!(list[0]["name"], "DEFAULT");
    let total: i64 = list
        .iter()
        .map(|g| g["workers_total"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, 130);

    let (_, stats) = call(&sim, EndpointKind::Stats, None, &[]);
    assert_eq!(stats["data"]["workers_total"], 130);
    assert!(as_f64(&stats["data"]["shares_15m"]) > 0.0);
}

#[test]
fn wrong_key_is_err_20001() {
    let sim = sim_with(5, |_| {});
    let (status, body) = call_raw(
        &sim,
        EndpointKind::Stats,
        None,
        &[("access_key", "r_other"), ("puid", "1001")],
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(err_no(&body), 20001);
    assert!(body["data"].is_null());
}

#[test]
fn wrong_puid_is_err_20001() {
    let sim = sim_with(5, |_| {});
    let (_, body) = call_raw(
        &sim,
        EndpointKind::AccountHistory,
        None,
        &[
            ("access_key", "r_demo_observer_key"),
            ("puid", "1002"),
            ("dimension", "1h"),
            ("start_ts", "0"),
            ("count", "1"),
        ],
    );
    assert_eq!(err_no(&body), 20001);
}

#[test]
fn missing_key_is_err_401_sometimes_with_http_401() {
    let sim = sim_with(5, |_| {});
    let mut statuses = HashSet::new();
    for page in 1..20 {
        let page = page.to_string();
        let (status, body) = call_raw(
            &sim,
            EndpointKind::WorkerList,
            None,
            &[("puid", "1001"), ("page", &page)],
        );
        assert_eq!(err_no(&body), 401);
        statuses.insert(status);
    }
    assert_eq!(
        statuses,
        HashSet::from([StatusCode::OK, StatusCode::UNAUTHORIZED])
    );
}

#[test]
fn observer_key_cannot_update_err_20002() {
    let sim = sim_with(5, |_| {});
    let (_, body) = call(&sim, EndpointKind::WorkerUpdate, None, &[]);
    assert_eq!(err_no(&body), 20002);
}

#[test]
fn missing_dimension_is_a_parameter_error() {
    let sim = sim_with(5, |_| {});
    let (status, body) = call(
        &sim,
        EndpointKind::AccountHistory,
        None,
        &[("start_ts", "0"), ("count", "10")],
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(err_no(&body), 1);
    assert!(body["data"].is_null());
    assert!(!body["err_msg"].is_null());
}

#[test]
fn bad_history_parameters_and_unknown_worker_are_parameter_errors() {
    let sim = sim_with(5, |_| {});
    let id = sim.workers()[0].id.to_string();
    let bad = [
        vec![("dimension", "1m"), ("start_ts", "0"), ("count", "10")],
        vec![("dimension", "1h"), ("count", "10")],
        vec![("dimension", "1h"), ("start_ts", "soon"), ("count", "10")],
        vec![("dimension", "1h"), ("start_ts", "0")],
        vec![("dimension", "1h"), ("start_ts", "0"), ("count", "0")],
        vec![
            ("dimension", "1h"),
            ("start_ts", "-9223372036854775808"),
            ("count", "99999999999"),
        ],
    ];
    for (i, params) in bad.iter().enumerate() {
        let (_, body) = call(&sim, EndpointKind::WorkerHistory, Some(&id), params);
        if i == bad.len() - 1 {
            assert_eq!(err_no(&body), 0, "extreme but valid: {body}");
        } else {
            assert_eq!(err_no(&body), 1, "{params:?}");
        }
    }
    for worker in ["12345678901234567", "abc", "-1", ""] {
        let (_, body) = call(
            &sim,
            EndpointKind::WorkerHistory,
            Some(worker),
            &[("dimension", "1h"), ("start_ts", "0"), ("count", "10")],
        );
        assert_eq!(err_no(&body), 1, "{worker}");
    }
    let (_, body) = call(
        &sim,
        EndpointKind::WorkerList,
        None,
        &[("order_by", "color")],
    );
    assert_eq!(err_no(&body), 1);
}

#[test]
fn err_msg_comes_as_string_object_or_field_map() {
    let sim = sim_with(5, |_| {});
    let mut shapes = HashSet::new();
    for count in 1..30 {
        let count = count.to_string();
        let (_, body) = call(
            &sim,
            EndpointKind::AccountHistory,
            None,
            &[("start_ts", "0"), ("count", &count)],
        );
        let shape = match &body["err_msg"] {
            Value::String(text) => {
                assert_eq!(text, "dimension is required");
                "string"
            }
            Value::Object(map) if map.contains_key("message") => "object",
            Value::Object(map) => {
                assert_eq!(map["dimension"][0], "is required");
                "fields"
            }
            other => panic!("unexpected err_msg {other}"),
        };
        shapes.insert(shape);
    }
    assert_eq!(shapes.len(), 3);
}

#[test]
fn stats_count_requests_by_kind_and_tickers_served() {
    let sim = sim_with(10, |_| {});
    let current = current_hour(&sim);
    history(&sim, None, Dimension::Hour, current - 9 * HOUR, 10, true);
    call(&sim, EndpointKind::Groups, None, &[]);
    call_raw(&sim, EndpointKind::Stats, None, &[]);
    let stats = sim.stats();
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.requests_of(EndpointKind::AccountHistory), 1);
    assert_eq!(stats.history_requests(), 1);
    assert_eq!(stats.requests_of(EndpointKind::Groups), 1);
    assert_eq!(stats.tickers_served, 10);
    assert_eq!(stats.errors_served, 1);
    sim.reset_stats();
    assert_eq!(sim.stats().requests, 0);
}

#[test]
fn simulate_args_build_the_config() {
    let args: SimulateArgs = parse_args(&[
        "poolhist",
        "--workers",
        "7",
        "--listen",
        "127.0.0.1:0",
        "--now",
        "5",
    ]);
    let config = args.config();
    assert_eq!(config.workers, 7);
    assert_eq!(config.now, Some(5));
    assert_eq!(config.worker_hours, 72);
    assert_eq!(config.max_page_size, 50);
}

async fn get(url: &str) -> (reqwest::StatusCode, Value) {
    let response = reqwest::get(url).await.expect("the simulator answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).expect("JSON body"))
}

#[tokio::test]
async fn http_share_history_end_to_end() {
    let sim = Arc::new(sim_with(12, |_| {}));
    let (base, server) = spawn_local(Arc::clone(&sim)).await.expect("bind loopback");
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/v1"));
    let worker = veteran(&sim);
    let start = current_hour(&sim) - 5 * HOUR;
    let url = format!(
        "{base}/worker/{}/share-history?access_key=r_demo_observer_key&puid=1001&dimension=1h&start_ts={start}&count=6&real_point=true",
        worker.id
    );
    let (status, body) = get(&url).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let (tickers, _) = parse_history(&body);
    assert_eq!(tickers.len(), 6);
    for t in &tickers[..5] {
        let expected = sim
            .expected_point(Some(worker.id), Dimension::Hour, t.ts)
            .expect("point");
        assert!(close(t.hashrate_hs, expected.hashrate_hs));
    }
    let url = format!(
        "{base}/worker/share-history?access_key=r_demo_observer_key&puid=1001&dimension=1d&start_ts={}&count=3",
        NOW - 3 * DAY
    );
    let (_, body) = get(&url).await;
    assert_eq!(parse_history(&body).0.len(), 3);
    assert_eq!(sim.stats().requests_of(EndpointKind::WorkerHistory), 1);
    assert_eq!(sim.stats().requests_of(EndpointKind::AccountHistory), 1);
    server.abort();
}

#[tokio::test]
async fn http_lists_errors_and_unknown_paths_end_to_end() {
    let sim = Arc::new(sim_with(12, |_| {}));
    let (base, server) = spawn_local(Arc::clone(&sim)).await.expect("bind loopback");
    let (status, body) = get(&format!(
        "{base}/worker?access_key=r_demo_observer_key&puid=1001&page_size=5&status=all"
    ))
    .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(body["data"]["total_count"], 12);
    assert_eq!(body["data"]["data"].as_array().map(Vec::len), Some(5));

    let (_, body) = get(&format!(
        "{base}/worker/groups?access_key=r_demo_observer_key&puid=1001"
    ))
    .await;
    assert_eq!(body["data"]["list"][0]["gid"], -1);

    let (status, body) = get(&format!("{base}/worker/stats?puid=1001")).await;
    assert_eq!(err_no(&body), 401);
    assert!(status == reqwest::StatusCode::OK || status == reqwest::StatusCode::UNAUTHORIZED);

    let (status, body) = get(&format!("{base}/no/such/path?access_key=x")).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    assert_eq!(err_no(&body), 1);

    let detail = sim.workers()[0].id;
    let (_, body) = get(&format!(
        "{base}/worker/{detail}?access_key=r_demo_observer_key&puid=1001"
    ))
    .await;
    assert_eq!(body["data"]["worker_id"], detail);
    let (_, body) = get(&format!(
        "{base}/worker/update?access_key=r_demo_observer_key&puid=1001"
    ))
    .await;
    assert_eq!(
        err_no(&body),
        1,
        "GET of update is a detail request for no worker"
    );
    server.abort();
}

#[test]
fn a_lagging_clock_publishes_hours_late() {
    let lag = 5 * HOUR;
    let sim = sim_with(2, |c| c.clock_lag_secs = lag);
    let pool_slot = floor_to(NOW - lag, HOUR);
    let (tickers, _) = history(&sim, None, Dimension::Hour, NOW - 10 * HOUR, 20, true);
    let newest = tickers.iter().map(|t| t.ts).max();
    assert_eq!(newest, Some(pool_slot), "nothing after the pool's own hour");
    // Moving the real clock moves the pool's with it, still behind.
    sim.advance(HOUR);
    assert_eq!(sim.now(), NOW + HOUR - lag);
}
