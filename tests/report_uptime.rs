//! `report uptime`: exact values for the edge cases on the fixed data set, and snapshots of
//! every format.

mod report_fixture;

use poolhist::report::period::{Period, PeriodArgs};
use poolhist::report::render::{render, Format};
use poolhist::report::uptime::{self, UptimeArgs, UptimeRow};
use poolhist::report::Selection;
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
        .find(|r| r.puid == puid && r.worker_name == name)
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
            puid: Some(OTHER_PUID),
            ..Selection::default()
        }),
        vec!["other-rig"]
    );
    assert_eq!(
        names(Selection {
            group: Some("rack-a".into()),
            ..Selection::default()
        }),
        vec!["rig-late", "rig-steady", "tiny-noisy"]
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
    let acct = accounts.iter().find(|a| a.name == "account 1001").unwrap();
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
        puid: Some(PUID),
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
        .map(|r| r[2].display())
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
        puid: Some(PUID),
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
