//! `report monthly`: the files it writes, their safety (escaping, CSV guard, no network), and
//! snapshots of the Markdown, HTML and CSV output on the fixed data set.

mod report_fixture;

use poolhist::report::monthly::{self, MonthlyArgs};
use poolhist::report::render::to_csv;
use poolhist::report::AccountFilter;
use report_fixture::*;

/// The month is under way: "now" is 2026-10-03 00:00, so it covers 2026-10-01 and 2026-10-02.
const MONTH_NOW: i64 = T_END;

fn data() -> monthly::MonthlyData {
    let f = fixture();
    monthly::gather(
        &f.conn,
        "2026-10",
        &AccountFilter::puid(PUID),
        50,
        MONTH_NOW,
    )
    .unwrap()
}

#[test]
fn month_under_way_is_cut_at_the_current_hour() {
    let d = data();
    assert_eq!((d.period.from, d.period.to), (T0, T_END));
    assert_eq!(d.daily.len(), 2);
}

#[test]
fn daily_hashrate_prefers_the_final_daily_point_then_the_hourly_mean() {
    let d = data();
    let days: Vec<(Option<f64>, &str, Option<i64>)> = d
        .daily
        .iter()
        .map(|x| (x.hashrate_hs, x.source.as_str(), x.hours_1h))
        .collect();
    // 2026-10-02's daily point is provisional: the mean of its 24 hourly points stands in.
    assert_eq!(
        days,
        vec![
            (Some(240.0 * TH), "1d", None),
            (Some(250.0 * TH), "1h", Some(24))
        ]
    );
}

#[test]
fn html_is_self_contained_and_escapes_worker_names() {
    let html = poolhist::report::html::render_html(&data());
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let lower = html.to_lowercase();
    // (The worker name "=HYPERLINK(\"http://x\"...)" is text, so "http:" alone may appear.)
    for forbidden in [
        "<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "href=", "=\"http",
    ] {
        assert!(!lower.contains(forbidden), "HTML contains {forbidden}");
    }
    for section in [
        "Account hashrate per day",
        "Uptime heatmap",
        "Reject-rate leaders",
        "Outages, longest first",
        "Data gaps",
    ] {
        assert!(html.contains(section), "missing section {section}");
    }
    assert!(html.matches("<svg").count() >= 3);
}

#[test]
fn csv_files_never_start_a_cell_with_a_formula_character() {
    for (name, table) in monthly::csv_tables(&data()) {
        let csv = to_csv(&table);
        let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
        for record in reader.records() {
            for field in record.unwrap().iter() {
                // A leading '-' is allowed only on a number (a negative value, never guarded).
                let formula_start = field.starts_with(['=', '+', '@', '\t', '\r'])
                    || (field.starts_with('-') && field.parse::<f64>().is_err());
                assert!(!formula_start, "{name}: {field:?}");
            }
        }
    }
}

#[test]
fn without_csv_only_the_shown_workers_days_are_gathered_and_the_pages_are_the_same() {
    let f = fixture();
    let all =
        monthly::gather(&f.conn, "2026-10", &AccountFilter::puid(PUID), 3, MONTH_NOW).unwrap();
    let shown = monthly::gather_days(
        &f.conn,
        "2026-10",
        &AccountFilter::puid(PUID),
        3,
        MONTH_NOW,
        false,
    )
    .unwrap();
    let (rows, _) = all.heatmap_workers();
    let ids: Vec<(i64, i64)> = rows.iter().map(|r| (r.account_id, r.worker_id)).collect();
    let expected: Vec<_> = all
        .uptime_days
        .iter()
        .filter(|d| ids.contains(&(d.account_id, d.worker_id)))
        .cloned()
        .collect();
    assert_eq!(shown.uptime_days, expected);
    assert!(shown.uptime_days.len() < all.uptime_days.len());
    assert_eq!(
        poolhist::report::html::render_html(&shown),
        poolhist::report::html::render_html(&all)
    );
    assert_eq!(
        monthly::render_markdown(&shown),
        monthly::render_markdown(&all)
    );
}

#[test]
fn heatmap_shows_the_worst_workers_first_and_says_how_many_are_hidden() {
    let f = fixture();
    let d = monthly::gather(&f.conn, "2026-10", &AccountFilter::puid(PUID), 3, MONTH_NOW).unwrap();
    let (rows, hidden) = d.heatmap_workers();
    let names: Vec<&str> = rows.iter().map(|r| r.worker_name.as_str()).collect();
    assert_eq!(names, vec!["rig-dead", "rig-flaky", "rig-gap"]);
    assert_eq!(hidden, 5);
    assert!(poolhist::report::html::render_html(&d).contains("Showing the 3 workers"));
}

#[cfg(unix)]
#[test]
fn monthly_writes_private_files_into_the_out_directory() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("reports");
    let args = MonthlyArgs {
        month: "2026-10".into(),
        out: dir.clone(),
        csv: true,
        accounts: None,
        top: 50,
    };
    let written = monthly::write(&f.conn, &args, MONTH_NOW).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "poolhist-2026-10.html",
            "poolhist-2026-10.md",
            "poolhist-2026-10-totals.csv",
            "poolhist-2026-10-daily-hashrate.csv",
            "poolhist-2026-10-uptime.csv",
            "poolhist-2026-10-uptime-heatmap.csv",
            "poolhist-2026-10-reject-rate.csv",
            "poolhist-2026-10-outages.csv",
            "poolhist-2026-10-gaps.csv",
        ]
    );
    for path in &written {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[test]
fn unknown_month_is_refused() {
    let f = fixture();
    let err =
        monthly::gather(&f.conn, "2026-13", &AccountFilter::all(), 50, MONTH_NOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown month \"2026-13\": expected YYYY-MM with a month 01..12, e.g. 2026-10"
    );
}

#[test]
fn monthly_snapshots_markdown_html_and_csv() {
    let d = data();
    insta::assert_snapshot!("monthly_markdown", monthly::render_markdown(&d));
    insta::assert_snapshot!("monthly_html", poolhist::report::html::render_html(&d));
    for (name, table) in monthly::csv_tables(&d) {
        insta::assert_snapshot!(format!("monthly_csv_{name}"), to_csv(&table));
    }
}

#[test]
fn monthly_covers_every_account_of_every_pool_by_default_and_says_which() {
    let f = fixture();
    let d = monthly::gather(&f.conn, "2026-10", &AccountFilter::all(), 50, MONTH_NOW).unwrap();
    assert_eq!(d.title(), "Mining report 2026-10");
    assert_eq!(
        d.accounts_line(),
        "Accounts: cloverpool/1001, cloverpool/2002, foundry/farm1"
    );
    assert_eq!(d.uptime.len(), 11);
    assert_eq!(d.uptime_account.workers, 11);
    // Account hashrate: CloverPool 1001's days (240, 250 TH/s) plus Foundry's 200 TH/s.
    let daily: Vec<Option<f64>> = d.daily.iter().map(|x| x.hashrate_hs).collect();
    assert_eq!(daily, vec![Some(440.0 * TH), Some(450.0 * TH)]);
    // Worker id 1 of three accounts: three heatmap rows, none taking another's cells.
    let cells = d.day_index();
    let day2 = T0 + D;
    assert_eq!(cells.get(&(PUID, 1, day2)), Some(&Some(1.0)));
    assert_eq!(
        cells.get(&(FOUNDRY_ACCOUNT_ID, 2, day2)),
        Some(&Some(16.0 / 24.0))
    );
    assert_eq!(cells.get(&(PUID, 2, day2)), Some(&Some(1.0)));
    let md = monthly::render_markdown(&d);
    assert!(
        md.contains("cloverpool/1001, cloverpool/2002, foundry/farm1"),
        "{md}"
    );
    // Heatmap rows name the account when several are covered (worker ids and names may repeat).
    assert!(md.contains("foundry/farm1 farm1-flaky"), "{md}");
    assert!(md.contains("cloverpool/1001 rig-steady"), "{md}");
    let html = poolhist::report::html::render_html(&d);
    assert!(html.contains("Accounts: cloverpool/1001, cloverpool/2002, foundry/farm1"));
    assert!(html.contains("foundry/farm1 farm1-steady"));
    // The CSV heatmap has both pools' rows, each with its pool and account.
    let heatmap = monthly::csv_tables(&d)
        .into_iter()
        .find(|(name, _)| *name == "uptime-heatmap")
        .unwrap()
        .1;
    let csv = to_csv(&heatmap);
    assert!(csv.starts_with("puid,pool,account,worker_id,"), "{csv}");
    assert!(
        csv.contains("\n,foundry,farm1,2,farm1-flaky,2026-10-02,16,24,"),
        "{csv}"
    );
    assert!(
        csv.contains("\n1001,cloverpool,1001,1,rig-steady,2026-10-02,24,24,"),
        "{csv}"
    );
}

#[test]
fn monthly_for_the_foundry_account_alone_names_it_in_the_title() {
    let f = fixture();
    let only = AccountFilter {
        pool: Some("foundry".into()),
        account: Some(FOUNDRY_ACCOUNT.into()),
    };
    let d = monthly::gather(&f.conn, "2026-10", &only, 50, MONTH_NOW).unwrap();
    assert_eq!(d.title(), "Mining report 2026-10, foundry/farm1");
    assert_eq!(d.accounts_line(), "Accounts: foundry/farm1");
    let names: Vec<&str> = d.uptime.iter().map(|r| r.worker_name.as_str()).collect();
    assert_eq!(names, vec!["farm1-flaky", "farm1-steady"]);
    // farm1-flaky's hole at T0+20h: the pool documents 30 days, so it can still be fetched.
    let gaps: Vec<(&str, &str)> = d
        .gaps
        .iter()
        .map(|g| (g.pool.as_str(), g.pool_still_has.as_str()))
        .collect();
    assert_eq!(gaps, vec![("foundry", "yes")]);
}
