//! `poolhist sql`, `status` and `gaps`, and the one-line errors of the `run_*` entry points.

mod report_fixture;

use poolhist::report::gaps::{self, GapsArgs};
use poolhist::report::render::{render, Format};
use poolhist::report::sql::{self, SqlArgs};
use poolhist::report::status;
use poolhist::report::{PeriodArgs, ReportCommand, UptimeArgs};
use report_fixture::*;

fn read_only(f: &Fixture) -> rusqlite::Connection {
    poolhist::store::open_read_only(&f.path).unwrap()
}

#[test]
fn sql_runs_a_query_and_renders_every_format() {
    let f = fixture();
    let conn = read_only(&f);
    let report = sql::query(
        &conn,
        "SELECT worker_name, group_name, worker_id, -1.5 AS negative FROM v_workers \
         WHERE puid = 1001 AND worker_id IN (6, 7, 2) ORDER BY worker_id",
    )
    .unwrap();
    insta::assert_snapshot!("sql_table", render(&report, Format::Table, false));
    insta::assert_snapshot!("sql_csv", render(&report, Format::Csv, false));
    insta::assert_snapshot!("sql_json", render(&report, Format::Json, false));
    insta::assert_snapshot!("sql_markdown", render(&report, Format::Markdown, false));
}

#[test]
fn sql_refuses_a_write_with_a_clear_message() {
    let f = fixture();
    let conn = read_only(&f);
    for statement in [
        "DELETE FROM tickers",
        "UPDATE workers SET worker_name = 'x'",
        "CREATE TABLE t (x)",
    ] {
        let err = sql::query(&conn, statement).unwrap_err().to_string();
        assert_eq!(
            err,
            "the database is opened read-only; poolhist sql runs queries only"
        );
    }
    let count: i64 = f
        .conn
        .query_row("SELECT COUNT(*) FROM tickers", [], |r| r.get(0))
        .unwrap();
    assert!(count > 0);
}

#[test]
fn run_sql_on_a_missing_database_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let err = poolhist::report::run_sql(
        &missing,
        &SqlArgs {
            query: "SELECT 1".into(),
            format: Format::Csv,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("database "), "{err}");
    assert!(err.contains("nope.db does not exist"), "{err}");
    assert!(!missing.exists(), "a report must not create the database");
}

#[test]
fn run_report_rejects_from_after_to_in_one_line() {
    let f = fixture();
    let cmd = ReportCommand::Uptime(UptimeArgs {
        period: PeriodArgs {
            from: Some("2026-10-03".into()),
            to: Some("2026-10-01".into()),
            month: None,
        },
        puid: None,
        group: None,
        worker: None,
        min_uptime: None,
        format: Format::Csv,
    });
    let err = poolhist::report::run_report(&f.path, &cmd)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "--from 2026-10-03 is not before --to 2026-10-01");
}

#[test]
fn status_reports_counts_watermarks_and_last_runs() {
    let f = fixture();
    let conn = read_only(&f);
    let args = status::StatusArgs {
        runs: 5,
        format: Format::Table,
    };
    // A fixed size: the real file size depends on SQLite's page layout.
    let report = status::status_report(&conn, Some(1_234_567), args.runs).unwrap();
    insta::assert_snapshot!("status_table", render(&report, Format::Table, false));
    insta::assert_snapshot!("status_markdown", render(&report, Format::Markdown, false));
    insta::assert_snapshot!("status_csv", render(&report, Format::Csv, false));
    let json = status::status(
        &conn,
        Some(1_234_567),
        &status::StatusArgs {
            runs: 5,
            format: Format::Json,
        },
        false,
    )
    .unwrap();
    insta::assert_snapshot!("status_json", json);
}

/// The retention the ingest learned decides what the pool still has, not the documented one.
#[test]
fn gaps_judge_what_the_pool_still_has_by_the_retention_learned() {
    let f = fixture();
    let now = T_END + 2 * D;
    let still_has = |conn: &rusqlite::Connection| -> Vec<String> {
        gaps::gaps(conn, Some(PUID), None, None, (None, None), now)
            .unwrap()
            .into_iter()
            .map(|g| g.pool_still_has)
            .collect()
    };
    assert_eq!(
        still_has(&read_only(&f)),
        ["no", "partly", "yes", "no", "yes"]
    );
    // An ingest saw the pool keep 30 days of worker hourly history.
    f.conn
        .execute(
            "INSERT INTO pool_knowledge (account_id, scope, dimension, retention_slots, learned_at) \
             VALUES (?1, 'worker', '1h', 720, ?2)",
            rusqlite::params![PUID, now],
        )
        .unwrap();
    assert_eq!(
        still_has(&read_only(&f)),
        ["yes", "yes", "yes", "yes", "yes"]
    );
    let status = status::status_report(&read_only(&f), None, 1).unwrap();
    let pool = &status.sections[3].table;
    assert_eq!(pool.rows.len(), 1);
    assert_eq!(pool.rows[0][3].display(), "720 h");
}

#[test]
fn gaps_lists_holes_and_expired_history_with_what_the_pool_still_has() {
    let f = fixture();
    let conn = read_only(&f);
    // Two days after the period: the pool keeps worker hourly points from T0+24h on (72 h).
    let now = T_END + 2 * D;
    let rows = gaps::gaps(&conn, Some(PUID), None, None, (None, None), now).unwrap();
    let summary: Vec<(String, String, i64, i64, String)> = rows
        .iter()
        .map(|g| {
            (
                g.worker_name.clone().unwrap_or_default(),
                g.kind.clone(),
                (g.from_ts - T0) / H,
                g.points_missing,
                g.pool_still_has.clone(),
            )
        })
        .collect();
    let expected = vec![
        ("<script>alert(1)</script>", "hole", 10, 1, "no"),
        ("rig-flaky", "hole", 23, 3, "partly"),
        ("rig-flaky", "hole", 46, 1, "yes"),
        ("rig-gap", "expired", 0, 24, "no"),
        ("rig-gap", "hole", 40, 1, "yes"),
    ];
    let expected: Vec<(String, String, i64, i64, String)> = expected
        .into_iter()
        .map(|(a, b, c, d, e)| (a.to_owned(), b.to_owned(), c, d, e.to_owned()))
        .collect();
    assert_eq!(summary, expected);
    let args = GapsArgs {
        puid: Some(PUID),
        worker: None,
        dimension: None,
        format: Format::Table,
    };
    let report = gaps::report(&conn, &args, now).unwrap();
    for (format, ext) in [
        (Format::Table, "table"),
        (Format::Csv, "csv"),
        (Format::Json, "json"),
        (Format::Markdown, "markdown"),
    ] {
        insta::assert_snapshot!(format!("gaps_{ext}"), render(&report, format, false));
    }
}

mod cli {
    use clap::{CommandFactory, Parser, Subcommand};
    use poolhist::report::{GapsArgs, ReportCommand, SqlArgs, StatusArgs};

    /// The shape the CLI wires these arguments into.
    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Subcommand)]
    enum Top {
        #[command(subcommand)]
        Report(ReportCommand),
        Sql(SqlArgs),
        Status(StatusArgs),
        Gaps(GapsArgs),
    }

    #[test]
    fn report_arguments_form_a_valid_cli() {
        Cli::command().debug_assert();
        let parsed = Cli::try_parse_from([
            "poolhist",
            "report",
            "uptime",
            "--month",
            "2026-10",
            "--worker",
            "rig-*",
            "--min-uptime",
            "95%",
            "--format",
            "csv",
        ]);
        assert!(parsed.is_ok());
        for args in [
            vec![
                "poolhist",
                "report",
                "reject-rate",
                "--from",
                "2026-10-01",
                "--by",
                "day",
            ],
            vec![
                "poolhist", "report", "monthly", "--month", "2026-10", "--out", "r", "--csv",
            ],
            vec!["poolhist", "sql", "SELECT 1", "--format", "json"],
            vec!["poolhist", "gaps", "--dimension", "1h"],
            vec!["poolhist", "status"],
        ] {
            assert!(Cli::try_parse_from(&args).is_ok(), "{args:?}");
        }
    }

    #[test]
    fn month_and_from_together_are_refused() {
        let err = Cli::try_parse_from([
            "poolhist",
            "report",
            "uptime",
            "--month",
            "2026-10",
            "--from",
            "2026-10-01",
        ]);
        assert!(err.is_err());
    }
}

#[test]
fn entry_points_run_read_only_on_a_database_file() {
    use poolhist::report::{RejectRateArgs, RejectRateBy};
    let f = fixture();
    let period = PeriodArgs {
        from: Some("2026-10-01".into()),
        to: Some("2026-10-03".into()),
        month: None,
    };
    poolhist::report::run_report(
        &f.path,
        &ReportCommand::Uptime(UptimeArgs {
            period: period.clone(),
            puid: None,
            group: None,
            worker: None,
            min_uptime: None,
            format: Format::Markdown,
        }),
    )
    .unwrap();
    poolhist::report::run_report(
        &f.path,
        &ReportCommand::RejectRate(RejectRateArgs {
            period,
            puid: Some(PUID),
            group: None,
            worker: None,
            by: RejectRateBy::Group,
            format: Format::Json,
        }),
    )
    .unwrap();
    poolhist::report::run_sql(
        &f.path,
        &SqlArgs {
            query: "SELECT COUNT(*) FROM v_tickers".into(),
            format: Format::Table,
        },
    )
    .unwrap();
    poolhist::report::run_status(
        &f.path,
        &status::StatusArgs {
            runs: 2,
            format: Format::Json,
        },
    )
    .unwrap();
    poolhist::report::run_gaps(
        &f.path,
        &GapsArgs {
            puid: None,
            worker: Some("rig-*".into()),
            dimension: Some(gaps::Dimension::Hour),
            format: Format::Csv,
        },
    )
    .unwrap();
}

#[test]
fn gaps_in_a_window_report_a_hole_crossing_its_edge_whole() {
    let f = fixture();
    let conn = read_only(&f);
    // The window starts at T0+24h, inside rig-flaky's hole T0+23h..T0+25h.
    let rows = gaps::gaps(
        &conn,
        Some(PUID),
        Some("rig-flaky"),
        Some(gaps::Dimension::Hour),
        (Some(T0 + 24 * H), Some(T_END)),
        NOW,
    )
    .unwrap();
    let holes: Vec<(i64, i64)> = rows
        .iter()
        .map(|g| ((g.from_ts - T0) / H, g.points_missing))
        .collect();
    assert_eq!(holes, vec![(23, 3), (46, 1)]);
}

#[test]
fn json_output_is_an_array_of_row_objects() {
    let f = fixture();
    let conn = read_only(&f);
    let report = sql::query(&conn, "SELECT puid, worker_name FROM v_workers").unwrap();
    let value: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json, false)).unwrap();
    let rows = value.as_array().unwrap();
    assert_eq!(rows.len(), 9);
    assert!(rows
        .iter()
        .all(|r| r.is_object() && r.get("worker_name").is_some()));
    let empty = sql::query(&conn, "SELECT 1 WHERE 0").unwrap();
    assert_eq!(render(&empty, Format::Json, false), "[]\n");
}
