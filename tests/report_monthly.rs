//! `report monthly`: the files it writes, their safety (escaping, CSV guard, no network), and
//! snapshots of the Markdown, HTML and CSV output on the fixed data set.

mod report_fixture;

use poolhist::report::monthly::{self, MonthlyArgs};
use poolhist::report::render::to_csv;
use report_fixture::*;

/// The month is under way: "now" is 2026-10-03 00:00, so it covers 2026-10-01 and 2026-10-02.
const MONTH_NOW: i64 = T_END;

fn data() -> monthly::MonthlyData {
    let f = fixture();
    monthly::gather(&f.conn, "2026-10", Some(PUID), 50, MONTH_NOW).unwrap()
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
fn heatmap_shows_the_worst_workers_first_and_says_how_many_are_hidden() {
    let f = fixture();
    let d = monthly::gather(&f.conn, "2026-10", Some(PUID), 3, MONTH_NOW).unwrap();
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
        puid: None,
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
    let err = monthly::gather(&f.conn, "2026-13", None, 50, MONTH_NOW).unwrap_err();
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
