//! `report uptime`: exact values for the edge cases on the fixed data set, and snapshots of
//! every format.

mod report_fixture;

use poolhist::pools::PoolKind;
use poolhist::report::period::{Period, PeriodArgs};
use poolhist::report::render::{render, Format};
use poolhist::report::uptime::{self, UptimeArgs, UptimeRow};
use poolhist::report::{AccountArgs, AccountFilter, Selection};
use report_fixture::*;

fn period() -> Period {
    Period::new(T0, T_END, NOW).unwrap()
}

fn rows() -> Vec<UptimeRow> {
    let f = fixture();
    uptime::uptime_rows(&f.conn, &period(), &Selection::default()).unwrap()
}

fn row<'a>(rows: &'a [UptimeRow], puid: i64, name: &str) -> &'a UptimeRow {
    rows.iter()
        .find(|r| r.pool == "cloverpool" && r.puid == Some(puid) && r.worker_name == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
}

/// (hours_up, hours_total, outages, longest_outage_hours)
fn counts(r: &UptimeRow) -> (i64, i64, i64, i64) {
    (r.hours_up, r.hours_total, r.outages, r.longest_outage_hours)
}

#[test]
fn worker_up_every_hour_has_full_uptime_and_no_outage() {
    let rows = rows();
    let r = row(&rows, PUID, "rig-steady");
    assert_eq!(counts(r), (48, 48, 0, 0));
    assert_eq!(r.uptime, Some(1.0));
    assert_eq!(r.note(&period()), None);
}

#[test]
fn worker_joining_mid_period_counts_only_hours_since_its_first_point() {
    let rows = rows();
    let r = row(&rows, PUID, "rig-late");
    assert_eq!(counts(r), (18, 18, 0, 0));
    assert_eq!(r.counted_from_ts, Some(T0 + 30 * H));
    // Its daily point covers the joining day: nothing suggests lost hourly history.
    assert_eq!(r.note(&period()), None);
}

#[test]
fn worker_dead_all_period_is_one_outage_as_long_as_the_period() {
    let rows = rows();
    let r = row(&rows, PUID, "rig-dead");
    assert_eq!(counts(r), (0, 48, 1, 48));
    assert_eq!(r.uptime, Some(0.0));
}

#[test]
fn outage_across_the_period_start_is_clipped_and_provisional_point_is_ignored() {
    let rows = rows();
    let r = row(&rows, PUID, "rig-flaky");
    // up: 3..20 (17 h) and 26..46 (20 h); down: 0..3 (from before the period), 20..26, 46..48
    // (46 has no row, 47 only a provisional one with hashrate: still down).
    assert_eq!(counts(r), (37, 48, 3, 6));
    let f = fixture();
    let outages = uptime::outages(&f.conn, &period(), &Selection::default()).unwrap();
    let flaky: Vec<(i64, i64, i64, bool, bool)> = outages
        .iter()
        .filter(|o| o.worker_name == "rig-flaky")
        .map(|o| {
            (
                (o.start_ts - T0) / H,
                (o.end_ts - T0) / H,
                o.hours,
                o.began_before_period,
                o.open_at_period_end,
            )
        })
        .collect();
    assert_eq!(
        flaky,
        vec![
            (20, 26, 6, false, false),
            (0, 3, 3, true, false),
            (46, 48, 2, false, true)
        ]
    );
}

#[test]
fn single_missing_hour_is_one_one_hour_outage() {
    let rows = rows();
    let r = row(&rows, PUID, "<script>alert(1)</script>");
    assert_eq!(counts(r), (47, 48, 1, 1));
}

#[test]
fn worker_without_hourly_history_gets_no_invented_hours_and_a_note() {
    let rows = rows();
    let r = row(&rows, PUID, "=HYPERLINK(\"http://x\",\"y\")");
    assert_eq!(counts(r), (0, 0, 0, 0));
    assert_eq!(r.uptime, None);
    let note = r.note(&period()).unwrap();
    assert!(note.contains("no hourly history"), "{note}");
    assert!(
        note.contains("daily data shows hashing from 2026-10-01"),
        "{note}"
    );
}

#[test]
fn period_reaching_before_collected_hourly_history_is_noted() {
    let rows = rows();
    let r = row(&rows, PUID, "rig-gap");
    // Counted from its first hourly point (T0+24h); the missing row at T0+40h is down.
    assert_eq!(counts(r), (23, 24, 1, 1));
    assert_eq!(r.daily_before_hourly_ts, Some(T0));
    assert_eq!(r.gap_hours, 24);
    let note = r.note(&period()).unwrap();
    assert!(
        note.contains("hourly history starts 2026-10-02 00:00"),
        "{note}"
    );
    assert!(note.contains("not collected"), "{note}");
    assert!(note.contains("24 h of the period expired"), "{note}");
}

#[test]
fn period_end_is_capped_at_the_current_hour_so_future_hours_are_not_down() {
    let f = fixture();
    // "now" is 2026-10-02 12:30: the hours from 12:00 on are not counted.
    let now = T0 + 36 * H + 1800;
    let p = Period::new(T0, T_END, now).unwrap();
    let rows = uptime::uptime_rows(&f.conn, &p, &Selection::default()).unwrap();
    assert_eq!(counts(row(&rows, PUID, "rig-steady")), (36, 36, 0, 0));
    assert_eq!(counts(row(&rows, PUID, "rig-late")), (6, 6, 0, 0));
}

#[test]
fn selection_filters_by_account_group_and_name_glob() {
    let f = fixture();
    let names = |sel: Selection| -> Vec<String> {
        let mut v: Vec<String> = uptime::uptime_rows(&f.conn, &period(), &sel)
            .unwrap()
            .into_iter()
            .map(|r| r.worker_name)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(Selection {
            accounts: AccountFilter::puid(OTHER_PUID),
            ..Selection::default()
        }),
        vec!["other-rig"]
    );
    assert_eq!(
        names(Selection {
            group: Some("rack-a".into()),
            ..Selection::default()
        }),
        vec!["farm1-steady", "rig-late", "rig-steady", "tiny-noisy"]
    );
    assert_eq!(
        names(Selection {
            group: Some("2".into()),
            worker: Some("rig-*".into()),
            ..Selection::default()
        }),
        vec!["rig-dead", "rig-flaky", "rig-gap"]
    );
}

#[test]
fn group_and_account_totals_add_hours_not_fractions() {
    let rows = rows();
    let (groups, accounts) = uptime::totals(&rows);
    let rack_b = groups.iter().find(|g| g.name == "rack-b").unwrap();
    // rig-dead 0/48, rig-flaky 37/48, formula worker 0/0, rig-gap 23/24.
    assert_eq!((rack_b.hours_up, rack_b.hours_total), (60, 120));
    assert_eq!(rack_b.uptime(), Some(0.5));
    let acct = accounts
        .iter()
        .find(|a| a.name == "cloverpool/1001")
        .unwrap();
    // steady 48/48, late 18/18, dead 0/48, flaky 37/48, tiny 48/48, script 47/48,
    // formula 0/0, gap 23/24.
    assert_eq!(
        (acct.hours_up, acct.hours_total, acct.workers),
        (221, 282, 8)
    );
}

#[test]
fn min_uptime_lists_only_workers_below_it() {
    let f = fixture();
    let args = UptimeArgs {
        period: PeriodArgs {
            from: Some("2026-10-01".into()),
            to: Some("2026-10-03".into()),
            month: None,
        },
        accounts: Some(AccountArgs {
            puid: Some(PUID),
            ..AccountArgs::default()
        }),
        group: None,
        worker: None,
        min_uptime: Some("95%".into()),
        format: Format::Csv,
    };
    let report = uptime::report(&f.conn, &args, NOW).unwrap();
    let listed: Vec<String> = report.sections[0]
        .table
        .rows
        .iter()
        .map(|r| r[4].display())
        .collect();
    // 47/48 = 97.9 % is not below 95 %; the worker with nothing counted stays listed.
    assert_eq!(
        listed,
        vec!["rig-dead", "rig-flaky", "=HYPERLINK(\"http://x\",\"y\")"]
    );
    assert!(uptime::parse_min_uptime("1.5").is_err());
}

#[test]
fn uptime_report_snapshots_in_every_format() {
    let f = fixture();
    let rows = uptime::uptime_rows(&f.conn, &period(), &Selection::default()).unwrap();
    let report = uptime::build_report(&rows, &period(), &Selection::default(), None);
    insta::assert_snapshot!("uptime_table", render(&report, Format::Table, false));
    insta::assert_snapshot!("uptime_csv", render(&report, Format::Csv, false));
    insta::assert_snapshot!("uptime_json", render(&report, Format::Json, false));
    insta::assert_snapshot!("uptime_markdown", render(&report, Format::Markdown, false));
}

#[test]
fn outages_and_uptime_by_day_snapshots() {
    let f = fixture();
    let sel = Selection {
        accounts: AccountFilter::puid(PUID),
        ..Selection::default()
    };
    let outages = uptime::outages(&f.conn, &period(), &sel).unwrap();
    let table = poolhist::report::monthly::outages_table(&outages);
    insta::assert_snapshot!("outages_csv", poolhist::report::render::to_csv(&table));
    let days = uptime::uptime_by_day(&f.conn, &period(), &sel).unwrap();
    let lines: Vec<String> = days
        .iter()
        .map(|d| {
            format!(
                "{} {} {}/{} {:?}",
                d.worker_name,
                poolhist::report::render::format_date(d.day_ts),
                d.hours_up,
                d.hours_counted,
                d.uptime
            )
        })
        .collect();
    insta::assert_snapshot!("uptime_by_day", lines.join("\n"));
}

/// (pool, account, worker_id, worker_name) of each row, sorted.
fn who(rows: &[UptimeRow]) -> Vec<(String, String, i64, String)> {
    let mut v: Vec<(String, String, i64, String)> = rows
        .iter()
        .map(|r| {
            (
                r.pool.clone(),
                r.account.clone(),
                r.worker_id,
                r.worker_name.clone(),
            )
        })
        .collect();
    v.sort();
    v
}

fn selected(accounts: AccountFilter) -> Vec<UptimeRow> {
    let f = fixture();
    let sel = Selection {
        accounts,
        ..Selection::default()
    };
    uptime::uptime_rows(&f.conn, &period(), &sel).unwrap()
}

/// (pool, account, puid, worker_name, counts)
type AccountWorkerCounts = (String, String, Option<i64>, String, (i64, i64, i64, i64));

#[test]
fn unfiltered_uptime_lists_the_workers_of_every_pool_with_pool_and_account() {
    let rows = rows();
    assert_eq!(rows.len(), 11);
    // Worker id 1 in three accounts of two pools: three rows, each with its own numbers.
    let ones: Vec<AccountWorkerCounts> = {
        let mut v: Vec<_> = rows
            .iter()
            .filter(|r| r.worker_id == 1)
            .map(|r| {
                (
                    r.pool.clone(),
                    r.account.clone(),
                    r.puid,
                    r.worker_name.clone(),
                    counts(r),
                )
            })
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    };
    let expected: Vec<AccountWorkerCounts> = vec![
        (
            "cloverpool",
            "1001",
            Some(PUID),
            "rig-steady",
            (48, 48, 0, 0),
        ),
        (
            "cloverpool",
            "2002",
            Some(OTHER_PUID),
            "other-rig",
            (48, 48, 0, 0),
        ),
        ("foundry", "farm1", None, "farm1-steady", (48, 48, 0, 0)),
    ]
    .into_iter()
    .map(|(p, a, puid, n, c)| (p.to_owned(), a.to_owned(), puid, n.to_owned(), c))
    .collect();
    assert_eq!(ones, expected);
    let flaky = rows
        .iter()
        .find(|r| r.worker_name == "farm1-flaky")
        .unwrap();
    // Up 0..20 and 21..40; down at 20 (no row) and 40..48 (zero).
    assert_eq!(counts(flaky), (39, 48, 2, 8));
    assert_eq!(flaky.account_id, FOUNDRY_ACCOUNT_ID);
}

#[test]
fn pool_or_account_alone_selects_only_the_foundry_account() {
    let foundry = vec![
        (
            "foundry".to_owned(),
            "farm1".to_owned(),
            1,
            "farm1-steady".to_owned(),
        ),
        (
            "foundry".to_owned(),
            "farm1".to_owned(),
            2,
            "farm1-flaky".to_owned(),
        ),
    ];
    let by_pool = selected(AccountFilter {
        pool: Some("foundry".into()),
        account: None,
    });
    assert_eq!(who(&by_pool), foundry);
    let by_account = selected(AccountFilter {
        pool: None,
        account: Some(FOUNDRY_ACCOUNT.into()),
    });
    assert_eq!(who(&by_account), foundry);
    assert_eq!(
        who(&selected(AccountFilter::account(
            PoolKind::Foundry,
            "farm1"
        ))),
        foundry
    );
    // A CloverPool account name in the wrong pool selects nothing.
    assert!(selected(AccountFilter::account(PoolKind::Foundry, "1001")).is_empty());
}

#[test]
fn puid_still_selects_the_cloverpool_account_as_before() {
    let by_puid = selected(AccountFilter::puid(PUID));
    assert_eq!(by_puid.len(), 8);
    assert!(by_puid
        .iter()
        .all(|r| r.pool == "cloverpool" && r.account == "1001" && r.puid == Some(PUID)));
    // The numbers are those of the unfiltered report.
    let all = rows();
    for r in &by_puid {
        assert_eq!(
            Some(r),
            all.iter()
                .find(|a| a.account_id == r.account_id && a.worker_id == r.worker_id)
        );
    }
}

mod flags {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        uptime: UptimeArgs,
    }

    fn report_of(flags: &[&str]) -> Result<poolhist::report::render::Report, String> {
        let mut argv = vec!["uptime", "--from", "2026-10-01", "--to", "2026-10-03"];
        argv.extend(flags);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.kind().to_string())?;
        let f = fixture();
        uptime::report(&f.conn, &cli.uptime, NOW).map_err(|e| e.to_string())
    }

    /// (pool, account, worker_name) of the worker rows.
    fn listed(report: &poolhist::report::render::Report) -> Vec<(String, String, String)> {
        let mut v: Vec<(String, String, String)> = report.sections[0]
            .table
            .rows
            .iter()
            .map(|r| (r[1].display(), r[2].display(), r[4].display()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn pool_account_and_puid_flags_select_accounts() {
        let foundry = report_of(&["--pool", "foundry"]).unwrap();
        assert!(
            foundry.title.ends_with("(pool foundry)"),
            "{}",
            foundry.title
        );
        assert_eq!(
            listed(&foundry),
            [
                ("foundry", "farm1", "farm1-flaky"),
                ("foundry", "farm1", "farm1-steady")
            ]
            .map(|(p, a, n)| (p.to_owned(), a.to_owned(), n.to_owned()))
        );
        assert_eq!(
            listed(&report_of(&["--account", "farm1"]).unwrap()),
            listed(&foundry)
        );
        let by_puid = report_of(&["--puid", "2002"]).unwrap();
        assert!(
            by_puid.title.ends_with("(cloverpool/2002)"),
            "{}",
            by_puid.title
        );
        assert_eq!(
            listed(&by_puid),
            vec![(
                "cloverpool".to_owned(),
                "2002".to_owned(),
                "other-rig".to_owned()
            )]
        );
        // btccom is CloverPool's old name.
        assert_eq!(
            listed(&report_of(&["--pool", "btccom", "--account", "2002"]).unwrap()),
            listed(&by_puid)
        );
        let everything = report_of(&[]).unwrap();
        assert_eq!(listed(&everything).len(), 11);
        // The account totals: one row per account, by pool.
        let accounts: Vec<(String, String)> = everything.sections[2]
            .table
            .rows
            .iter()
            .map(|r| (r[1].display(), r[2].display()))
            .collect();
        assert_eq!(
            accounts,
            [
                ("cloverpool", "1001"),
                ("cloverpool", "2002"),
                ("foundry", "farm1")
            ]
            .map(|(p, a)| (p.to_owned(), a.to_owned()))
        );
    }

    #[test]
    fn puid_with_another_pool_or_an_account_is_refused() {
        let err = report_of(&["--pool", "foundry", "--puid", "1001"]).unwrap_err();
        assert!(err.contains("--puid names a CloverPool account"), "{err}");
        assert!(report_of(&["--account", "farm1", "--puid", "1001"]).is_err());
        assert!(report_of(&["--pool", "ocean"]).is_err());
        // --puid with its own pool is the same as --puid alone.
        assert_eq!(
            listed(&report_of(&["--pool", "cloverpool", "--puid", "2002"]).unwrap()),
            listed(&report_of(&["--puid", "2002"]).unwrap())
        );
    }
}

#[test]
fn json_and_csv_carry_puid_pool_and_account() {
    let rows = rows();
    let report = uptime::build_report(&rows, &period(), &Selection::default(), None);
    let json: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json, false)).unwrap();
    let rows = json.as_array().unwrap();
    let farm = rows
        .iter()
        .find(|r| r["worker_name"] == "farm1-steady")
        .unwrap();
    assert_eq!(farm["puid"], serde_json::Value::Null);
    assert_eq!(farm["pool"], "foundry");
    assert_eq!(farm["account"], "farm1");
    let rig = rows
        .iter()
        .find(|r| r["worker_name"] == "rig-steady")
        .unwrap();
    assert_eq!(rig["puid"], PUID);
    assert_eq!(rig["pool"], "cloverpool");
    assert_eq!(rig["account"], "1001");
    let csv = render(&report, Format::Csv, false);
    assert!(
        csv.starts_with("puid,pool,account,worker_id,worker_name,"),
        "{csv}"
    );
    assert!(csv.contains("\n,foundry,farm1,1,farm1-steady,"), "{csv}");
    // People see pool and account, not a bare puid column.
    let table = render(&report, Format::Table, false);
    let header = table.lines().find(|l| l.contains("worker_name")).unwrap();
    assert!(
        header.contains("pool") && header.contains("account"),
        "{header}"
    );
    assert!(!header.contains("puid"), "{header}");
}
