//! Pins the simulator's answers: a digest of many replies for a few seeds, so that a refactor
//! that changes a single byte of the served data fails here.

use super::farm::{DAY, HOUR};
use super::tests::raw;
use super::*;
use crate::pools::sim_common::testing::Digest;

const NOW: i64 = 1_767_225_600 + 10 * DAY + 14 * HOUR + 20 * 60 + 34;

fn digest(seed: u64, workers: u32, fault_rate: f64) -> u64 {
    let sim = FoundrySim::new(FoundrySimConfig {
        workers,
        seed,
        now: Some(NOW),
        fault_rate,
        ..FoundrySimConfig::default()
    });
    let h = std::cell::RefCell::new(Digest::default());
    let key = sim.config().access_key.clone();
    let sub = sim.config().sub_account.clone();
    let all: Vec<TruthWorker> = sim.workers();
    h.borrow_mut().feed(&format!("{all:?}"));
    let ids: Vec<String> = all.iter().map(|w| w.id.to_string()).collect();
    let names: Vec<String> = all.iter().map(|w| w.name.clone()).collect();
    let send = |sim: &FoundrySim,
                kind: FoundryEndpoint,
                item: Option<&str>,
                extra: &[(&str, &str)],
                key: Option<&str>| {
        let reply = raw(sim, kind, &sub, item, extra, key);
        h.borrow_mut().feed(&format!("{reply:?}"));
    };
    let k = Some(key.as_str());
    for step in 0..6 {
        let now = sim.now();
        for (from, to) in [
            (now - 30 * HOUR, now),
            (now - 400 * DAY, now),
            (now - 3 * DAY, now - DAY),
        ] {
            let (a, b) = ((from * 1000).to_string(), (to * 1000).to_string());
            let p = [
                ("startDateUnixMs", a.as_str()),
                ("endDateUnixMs", b.as_str()),
            ];
            for kind in [
                FoundryEndpoint::SubAccountHour,
                FoundryEndpoint::SubAccountDay,
            ] {
                send(&sim, kind, None, &p, k);
                send(&sim, kind, None, &[], k);
            }
            for id in ids.iter().step_by(3) {
                send(&sim, FoundryEndpoint::WorkerHour, Some(id), &p, k);
                send(&sim, FoundryEndpoint::WorkerDay, Some(id), &p, k);
            }
        }
        for page in ["1", "2", "3"] {
            for sort in [
                "highestHashrate",
                "lowestReject",
                "workerName",
                "reverseTagName",
                "oldestShareTime",
            ] {
                send(
                    &sim,
                    FoundryEndpoint::Workers,
                    None,
                    &[("pageNumber", page), ("pageSize", "15"), ("sort", sort)],
                    k,
                );
            }
            send(
                &sim,
                FoundryEndpoint::Workers,
                None,
                &[
                    ("pageNumber", page),
                    ("status", "online"),
                    ("tag", "untagged"),
                    ("workerNameSearchStr", "r0"),
                ],
                k,
            );
        }
        for name in names.iter().step_by(2) {
            send(&sim, FoundryEndpoint::Worker, Some(name), &[], k);
        }
        send(&sim, FoundryEndpoint::Worker, Some("nope"), &[], k);
        send(&sim, FoundryEndpoint::Workers, None, &[], Some("wrong"));
        send(&sim, FoundryEndpoint::Workers, None, &[], None);
        send(&sim, FoundryEndpoint::AuthenticationTest, None, &[], k);
        send(&sim, FoundryEndpoint::Coins, None, &[], None);
        send(&sim, FoundryEndpoint::Unknown, None, &[], k);
        send(
            &sim,
            FoundryEndpoint::SubAccountHour,
            None,
            &[("coin", "LTC")],
            k,
        );
        send(
            &sim,
            FoundryEndpoint::SubAccountHour,
            None,
            &[("start", "garbage")],
            k,
        );
        sim.advance(37 * 60 + step * 3 * HOUR);
    }
    h.borrow_mut().feed(&format!("{:?}", sim.stats()));
    for series in [FoundrySeries::SubAccountHour, FoundrySeries::SubAccountDay] {
        h.borrow_mut().feed(&format!("{:?}", sim.truth(series)));
    }
    for w in sim.workers().iter().take(5) {
        h.borrow_mut()
            .feed(&format!("{:?}", sim.truth(FoundrySeries::WorkerHour(w.id))));
        h.borrow_mut()
            .feed(&format!("{:?}", sim.truth(FoundrySeries::WorkerDay(w.id))));
    }
    let digest = h.borrow().0;
    digest
}

/// Seed, workers, fault rate and the digest of the answers, as served before the simulators
/// shared their code (`pools::sim_common`).
const EXPECTED: &str = "\
7 12 0 dd319edad6eda4d6
7 12 0.35 abae26d9e92fd8a2
1 60 0 ef885863a8cb98e7
1 60 0.35 fff4e4bd1df1e3a0
42 5 0 931d3c73c83dcabe
42 5 0.35 2d547b4bdf3cd67e
3 130 0 6b70ba34371dd6d8
3 130 0.35 5295a5c6767f191e
";

#[test]
fn golden_digests() {
    let mut out = String::new();
    for (seed, workers) in [(7, 12), (1, 60), (42, 5), (3, 130)] {
        for rate in [0.0, 0.35] {
            out.push_str(&format!(
                "{seed} {workers} {rate} {:016x}\n",
                digest(seed, workers, rate)
            ));
        }
    }
    assert_eq!(out, EXPECTED, "the served answers changed");
}
