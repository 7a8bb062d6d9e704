//! `report reject-rate`: the accept-weighted formula, the daily fallback, and snapshots of every
//! format and level.

mod report_fixture;

use poolhist::pools::PoolKind;
use poolhist::report::period::{Period, PeriodArgs};
use poolhist::report::reject_rate::{self, RejectRateArgs, RejectRateBy, RejectRateRow};
use poolhist::report::render::{render, Format};
use poolhist::report::{AccountArgs, AccountFilter, Selection};
use report_fixture::*;

fn period() -> Period {
    Period::new(T0, T_END, NOW).unwrap()
}

fn rows() -> Vec<RejectRateRow> {
    let f = fixture();
    reject_rate::worker_rows(&f.conn, &period(), &Selection::default()).unwrap()
}

fn rate(rows: &[RejectRateRow], name: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.worker_name == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
        .reject_rate
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn tiny_worker_with_high_reject_rate_does_not_dominate_its_group() {
    let rows = rows();
    let groups = reject_rate::group_totals(&rows);
    let rack_a = groups.iter().find(|g| g.name == "rack-a").unwrap();
    // In TH/s x hours: steady 100 x 48 at 1 %, late 50 x 18 at 2 %, tiny 0.001 x 48 at 50 %.
    let expected = (4800.0 * 0.01 + 900.0 * 0.02 + 0.048 * 0.5) / (4800.0 + 900.0 + 0.048);
    let got = rack_a.reject_rate().unwrap();
    assert!(close(got, expected), "{got} vs {expected}");
    // A plain mean of the three percentages would say 17.7 %.
    assert!(got < 0.0116, "{got}");
}

#[test]
fn provisional_and_zero_hashrate_points_carry_no_weight() {
    let rows = rows();
    // rig-flaky's provisional point says 50 %; its final points all say 3 %.
    assert!(close(rate(&rows, "rig-flaky").unwrap(), 0.03));
    // rig-dead has only zero-hashrate points in the period: no accepted work, no rate.
    assert_eq!(rate(&rows, "rig-dead"), None);
}

#[test]
fn daily_point_stands_in_for_a_day_without_hourly_points() {
    let rows = rows();
    let gap = rows.iter().find(|r| r.worker_name == "rig-gap").unwrap();
    // 2026-10-01 from its daily point (40 TH/s x 86400 s at 4 %), 2026-10-02 from 23 hourly
    // points (40 TH/s x 3600 s at 1 %); its daily point for 2026-10-02 is not used.
    let expected = (86_400.0 * 0.04 + 23.0 * 3600.0 * 0.01) / (86_400.0 + 23.0 * 3600.0);
    assert!(close(gap.reject_rate.unwrap(), expected));
    assert_eq!(
        (gap.hours_1h, gap.days_1d, gap.source.as_str()),
        (23, 1, "1h+1d")
    );
    let formula = rows
        .iter()
        .find(|r| r.worker_name.starts_with("=HYPERLINK"))
        .unwrap();
    assert_eq!(
        (formula.hours_1h, formula.days_1d, formula.source.as_str()),
        (0, 2, "1d")
    );
    assert!(close(formula.reject_rate.unwrap(), 0.03));
}

#[test]
fn workers_are_listed_worst_first() {
    let names: Vec<String> = rows().into_iter().map(|r| r.worker_name).collect();
    assert_eq!(
        names,
        vec![
            "tiny-noisy",
            "rig-flaky",
            "=HYPERLINK(\"http://x\",\"y\")",
            "rig-gap",
            "farm1-flaky",
            "rig-late",
            "<script>alert(1)</script>",
            "farm1-steady",
            "rig-steady",
            "other-rig",
            "rig-dead",
        ]
    );
}

#[test]
fn account_rate_is_the_rate_of_summed_work() {
    let rows = rows();
    let accounts = reject_rate::account_totals(&rows);
    let acct = accounts.iter().find(|a| a.puid == Some(PUID)).unwrap();
    let (w, r) = rows
        .iter()
        .filter(|x| x.puid == Some(PUID))
        .fold((0.0, 0.0), |(w, r), x| {
            (w + x.accepted_hashes, r + x.reject_weight)
        });
    assert!(close(acct.reject_rate().unwrap(), r / w));
    assert_eq!(acct.workers, 8);
    // One row per account, the Foundry one without a puid.
    let names: Vec<(&str, &str, Option<i64>)> = accounts
        .iter()
        .map(|a| (a.pool.as_str(), a.account.as_str(), a.puid))
        .collect();
    assert!(names.contains(&("foundry", "farm1", None)), "{names:?}");
    assert_eq!(names.len(), 3);
}

#[test]
fn foundry_workers_get_their_own_rates_next_to_cloverpool_workers_of_the_same_id() {
    let rows = rows();
    let ones: Vec<(&str, &str, f64)> = {
        let mut v: Vec<(&str, &str, f64)> = rows
            .iter()
            .filter(|r| r.worker_id == 1)
            .map(|r| {
                (
                    r.pool.as_str(),
                    r.worker_name.as_str(),
                    r.reject_rate.unwrap_or(f64::NAN),
                )
            })
            .collect();
        v.sort_by(|a, b| a.1.cmp(b.1));
        v
    };
    assert_eq!(
        ones,
        vec![
            ("foundry", "farm1-steady", 0.01),
            ("cloverpool", "other-rig", 0.0),
            ("cloverpool", "rig-steady", 0.01),
        ]
    );
    // By pool: only Foundry's two workers.
    let f = fixture();
    let foundry = Selection {
        accounts: AccountFilter {
            pool: Some("foundry".into()),
            account: None,
        },
        ..Selection::default()
    };
    let picked = reject_rate::worker_rows(&f.conn, &period(), &foundry).unwrap();
    let mut names: Vec<&str> = picked.iter().map(|r| r.worker_name.as_str()).collect();
    names.sort();
    assert_eq!(names, vec!["farm1-flaky", "farm1-steady"]);
    assert!(close(
        picked
            .iter()
            .find(|r| r.worker_id == 2)
            .unwrap()
            .reject_rate
            .unwrap(),
        0.02
    ));
}

#[test]
fn by_day_counts_workers_on_the_daily_fallback() {
    let f = fixture();
    let days = reject_rate::day_rows(&f.conn, &period(), &Selection::default()).unwrap();
    let on_1d: Vec<(i64, i64)> = {
        let mut v: Vec<(i64, i64)> = days
            .iter()
            .map(|d| ((d.day_ts - T0) / D, d.workers_on_1d))
            .collect();
        v.sort();
        v
    };
    assert_eq!(on_1d, vec![(0, 2), (1, 1)]);
}

fn args(by: RejectRateBy) -> RejectRateArgs {
    RejectRateArgs {
        period: PeriodArgs {
            from: Some("2026-10-01".into()),
            to: Some("2026-10-03T00:00:00Z".into()),
            month: None,
        },
        accounts: None,
        group: None,
        worker: None,
        by,
        format: Format::Table,
    }
}

#[test]
fn reject_rate_report_snapshots_in_every_format_and_level() {
    let f = fixture();
    for (by, name) in [
        (RejectRateBy::Worker, "worker"),
        (RejectRateBy::Group, "group"),
        (RejectRateBy::Account, "account"),
        (RejectRateBy::Day, "day"),
    ] {
        let mut args = args(by);
        if by == RejectRateBy::Day {
            // A day sums every selected worker: CloverPool alone keeps these days' numbers
            // those of the fixture before it had a Foundry account.
            args.accounts = Some(AccountArgs {
                pool: Some(PoolKind::CloverPool),
                ..AccountArgs::default()
            });
        }
        let report = reject_rate::report(&f.conn, &args, NOW).unwrap();
        for (format, ext) in [
            (Format::Table, "table"),
            (Format::Csv, "csv"),
            (Format::Json, "json"),
            (Format::Markdown, "markdown"),
        ] {
            insta::assert_snapshot!(
                format!("reject_rate_by_{name}_{ext}"),
                render(&report, format, false)
            );
        }
    }
}
