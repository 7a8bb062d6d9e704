//! Pins the simulator's answers: a digest of many replies for a few seeds, so that a refactor
//! that changes a single byte of the served data fails here.

use super::world::{DAY, HOUR};
use super::*;
use crate::pools::sim_common::testing::Digest;

const NOW: i64 = 1_767_225_600 + 10 * DAY + 14 * HOUR + 20 * 60 + 34;

fn digest(seed: u64, workers: u32, fault_rate: f64) -> u64 {
    let sim = Simulator::new(SimConfig {
        workers,
        seed,
        now: Some(NOW),
        fault_rate,
        ..SimConfig::default()
    });
    let h = std::cell::RefCell::new(Digest::default());
    let key = sim.config().access_key.clone();
    let puid = sim.config().puid.to_string();
    let ids: Vec<String> = sim.workers().iter().map(|w| w.id.to_string()).collect();
    h.borrow_mut().feed(&format!("{:?}", sim.workers()));
    let send =
        |sim: &Simulator, kind: EndpointKind, worker: Option<&str>, extra: &[(&str, &str)]| {
            let mut params: Vec<(String, String)> = vec![
                ("access_key".into(), key.clone()),
                ("puid".into(), puid.clone()),
            ];
            params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let reply = sim.handle(kind, worker, Some(params));
            h.borrow_mut().feed(&format!("{reply:?}"));
        };
    for step in 0..6 {
        let now = sim.now();
        for dim in ["1h", "1d"] {
            for (start, count) in [
                (now - 30 * HOUR, "24"),
                (now - 400 * DAY, "240"),
                (now - 3 * DAY, "100"),
            ] {
                let start = start.to_string();
                for real in ["", "1"] {
                    let mut p = vec![
                        ("dimension", dim),
                        ("start_ts", start.as_str()),
                        ("count", count),
                    ];
                    if !real.is_empty() {
                        p.push(("real_point", real));
                    }
                    send(&sim, EndpointKind::AccountHistory, None, &p);
                    for id in ids.iter().step_by(3) {
                        send(&sim, EndpointKind::WorkerHistory, Some(id), &p);
                    }
                }
            }
        }
        send(&sim, EndpointKind::Groups, None, &[]);
        send(&sim, EndpointKind::Stats, None, &[]);
        for page in ["1", "2", "3"] {
            for order in [
                "worker_id",
                "worker_name",
                "accept_count",
                "reject_percent",
                "last_share_time",
            ] {
                send(
                    &sim,
                    EndpointKind::WorkerList,
                    None,
                    &[
                        ("page", page),
                        ("page_size", "20"),
                        ("order_by", order),
                        ("asc", "0"),
                    ],
                );
            }
            send(
                &sim,
                EndpointKind::WorkerList,
                None,
                &[("page", page), ("status", "ACTIVE"), ("group", "-1")],
            );
        }
        for id in ids.iter().step_by(2) {
            send(&sim, EndpointKind::WorkerDetail, Some(id), &[]);
        }
        send(&sim, EndpointKind::WorkerDetail, Some("nope"), &[]);
        send(&sim, EndpointKind::WorkerUpdate, None, &[]);
        send(&sim, EndpointKind::Unknown, Some("/v1/x"), &[]);
        send(&sim, EndpointKind::AccountHistory, None, &[]);
        let reply = sim.handle(EndpointKind::Stats, None, None);
        h.borrow_mut().feed(&format!("{reply:?}"));
        let reply = sim.handle(EndpointKind::Stats, None, Some(vec![]));
        h.borrow_mut().feed(&format!("{reply:?}"));
        sim.advance(37 * 60 + step * 3 * HOUR);
    }
    h.borrow_mut().feed(&format!("{:?}", sim.stats()));
    for w in sim.workers().iter().take(5) {
        for back in 1..30 {
            let ts = floor_to(sim.now(), HOUR) - back * HOUR;
            h.borrow_mut().feed(&format!(
                "{:?}",
                sim.expected_point(Some(w.id), Dimension::Hour, ts)
            ));
        }
    }
    let digest = h.borrow().0;
    digest
}

/// Seed, workers, fault rate and the digest of the answers, as served before the simulators
/// shared their code (`pools::sim_common`).
const EXPECTED: &str = "\
1 12 0 684c36cdbf5c4c52
1 12 0.35 f1b27cda62242b34
7 60 0 4686fa3d4781cfbe
7 60 0.35 9aad4467fe9785b3
42 5 0 52104ee4d863f440
42 5 0.35 23ef263c4e1d5c37
3 130 0 59f02fc2c4bde445
3 130 0.35 d020647a8010d7c3
";

#[test]
fn golden_digests() {
    let mut out = String::new();
    for (seed, workers) in [(1, 12), (7, 60), (42, 5), (3, 130)] {
        for rate in [0.0, 0.35] {
            out.push_str(&format!(
                "{seed} {workers} {rate} {:016x}\n",
                digest(seed, workers, rate)
            ));
        }
    }
    assert_eq!(out, EXPECTED, "the served answers changed");
}
