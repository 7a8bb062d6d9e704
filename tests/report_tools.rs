//! `poolhist sql`, `status` and `gaps`, and the one-line errors of the `run_*` entry points.

mod report_fixture;

use poolhist::report::gaps::{self, GapsArgs};
use poolhist::report::render::{render, Format};
use poolhist::report::sql::{self, SqlArgs};
use poolhist::report::status;
use poolhist::report::{AccountArgs, AccountFilter, PeriodArgs, ReportCommand, UptimeArgs};
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
        accounts: None,
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
        accounts: AccountArgs::default(),
        format: Format::Table,
    };
    // A fixed size: the real file size depends on SQLite's page layout.
    let report =
        status::status_report(&conn, Some(1_234_567), args.runs, &AccountFilter::all()).unwrap();
    insta::assert_snapshot!("status_table", render(&report, Format::Table, false));
    insta::assert_snapshot!("status_markdown", render(&report, Format::Markdown, false));
    insta::assert_snapshot!("status_csv", render(&report, Format::Csv, false));
    let json = status::status(
        &conn,
        Some(1_234_567),
        &status::StatusArgs {
            runs: 5,
            accounts: AccountArgs::default(),
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
        gaps::gaps(
            conn,
            Some(&AccountFilter::puid(PUID)),
            None,
            None,
            (None, None),
            now,
        )
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
    let status = status::status_report(&read_only(&f), None, 1, &AccountFilter::all()).unwrap();
    let pool = &status.sections[4].table;
    // puid, pool, account, level, dimension, history_kept: the Foundry account's and this one.
    let kept: Vec<(String, String, String)> = pool
        .rows
        .iter()
        .map(|r| (r[1].display(), r[2].display(), r[5].display()))
        .collect();
    assert_eq!(
        kept,
        [
            ("cloverpool", "1001", "720 h"),
            ("foundry", "farm1", "720 h")
        ]
        .map(|(p, a, k)| (p.to_owned(), a.to_owned(), k.to_owned()))
    );
}

#[test]
fn gaps_lists_holes_and_expired_history_with_what_the_pool_still_has() {
    let f = fixture();
    let conn = read_only(&f);
    // Two days after the period: the pool keeps worker hourly points from T0+24h on (72 h).
    let now = T_END + 2 * D;
    let rows = gaps::gaps(
        &conn,
        Some(&AccountFilter::puid(PUID)),
        None,
        None,
        (None, None),
        now,
    )
    .unwrap();
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
        accounts: AccountArgs {
            puid: Some(PUID),
            ..AccountArgs::default()
        },
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
            accounts: None,
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
            accounts: Some(AccountArgs {
                puid: Some(PUID),
                ..AccountArgs::default()
            }),
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
            accounts: AccountArgs::default(),
            format: Format::Json,
        },
    )
    .unwrap();
    poolhist::report::run_gaps(
        &f.path,
        &GapsArgs {
            accounts: AccountArgs::default(),
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
        Some(&AccountFilter::puid(PUID)),
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
    assert_eq!(rows.len(), 11);
    assert!(rows
        .iter()
        .all(|r| r.is_object() && r.get("worker_name").is_some()));
    let empty = sql::query(&conn, "SELECT 1 WHERE 0").unwrap();
    assert_eq!(render(&empty, Format::Json, false), "[]\n");
}

/// (pool, account, worker_name, first missing hour from T0, pool_still_has) of each gap.
fn gap_summary(rows: &[gaps::Gap]) -> Vec<(String, String, String, i64, String)> {
    rows.iter()
        .map(|g| {
            (
                g.pool.clone(),
                g.account.clone(),
                g.worker_name.clone().unwrap_or_default(),
                (g.from_ts - T0) / H,
                g.pool_still_has.clone(),
            )
        })
        .collect()
}

#[test]
fn gaps_of_every_pool_judge_each_by_its_own_pool_retention() {
    let f = fixture();
    let conn = read_only(&f);
    let now = T_END + 2 * D;
    let all = gaps::gaps(&conn, None, None, None, (None, None), now).unwrap();
    let summary = gap_summary(&all);
    assert_eq!(summary.len(), 6, "{summary:?}");
    // CloverPool's rows first, as before; then Foundry's hole at T0+20h, which Foundry still
    // keeps (30 days) where CloverPool's 72 h would say "no".
    assert!(summary[..5]
        .iter()
        .all(|g| g.0 == "cloverpool" && g.1 == "1001"));
    assert_eq!(
        summary[5],
        (
            "foundry".to_owned(),
            "farm1".to_owned(),
            "farm1-flaky".to_owned(),
            20,
            "yes".to_owned()
        )
    );
    assert_eq!(all[5].puid, None);
    let foundry = gaps::gaps(
        &conn,
        Some(&AccountFilter {
            pool: None,
            account: Some(FOUNDRY_ACCOUNT.into()),
        }),
        None,
        None,
        (None, None),
        now,
    )
    .unwrap();
    assert_eq!(gap_summary(&foundry), summary[5..].to_vec());
    let args = GapsArgs {
        accounts: AccountArgs {
            pool: Some(poolhist::pools::PoolKind::Foundry),
            ..AccountArgs::default()
        },
        worker: None,
        dimension: None,
        format: Format::Json,
    };
    let report = gaps::report(&conn, &args, now).unwrap();
    assert!(report
        .title
        .starts_with("Missing history of pool foundry: 1 gaps"));
    let json: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json, false)).unwrap();
    assert_eq!(json[0]["puid"], serde_json::Value::Null);
    assert_eq!(json[0]["pool"], "foundry");
    assert_eq!(json[0]["account"], "farm1");
}

#[test]
fn status_lists_every_account_with_its_pool_and_filters_by_account() {
    let f = fixture();
    let conn = read_only(&f);
    let all = status::status_report(&conn, None, 5, &AccountFilter::all()).unwrap();
    let accounts: Vec<(String, String)> = all.sections[1]
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
    let farm1 = AccountFilter {
        pool: Some("foundry".into()),
        account: Some(FOUNDRY_ACCOUNT.into()),
    };
    let only = status::status_report(&conn, None, 5, &farm1).unwrap();
    assert_eq!(only.title, "poolhist status (foundry/farm1)");
    assert_eq!(only.sections[1].table.rows.len(), 1);
    // Watermarks, runs and pool knowledge of farm1 only.
    assert!(only.sections[2]
        .table
        .rows
        .iter()
        .all(|r| r[0].display() == "foundry"));
    let runs: Vec<String> = only.sections[3]
        .table
        .rows
        .iter()
        .map(|r| r[0].display())
        .collect();
    assert_eq!(runs, vec!["3"]);
    assert_eq!(only.sections[4].table.rows.len(), 1);
    // A CloverPool account by --puid: its runs, newest first, up to --runs.
    let by_puid = status::status_report(&conn, None, 1, &AccountFilter::puid(PUID)).unwrap();
    let runs: Vec<String> = by_puid.sections[3]
        .table
        .rows
        .iter()
        .map(|r| r[0].display())
        .collect();
    assert_eq!(runs, vec!["2"]);
    // People see the runs' accounts; JSON keeps puids too.
    let table = render(&all, Format::Table, false);
    assert!(table.contains("cloverpool:1001,cloverpool:2002"), "{table}");
    let json = status::status(
        &conn,
        None,
        &status::StatusArgs {
            runs: 5,
            accounts: AccountArgs::default(),
            format: Format::Json,
        },
        false,
    )
    .unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["runs"][0]["puids"], "");
    assert_eq!(value["runs"][0]["accounts"], "foundry:farm1");
    assert_eq!(value["accounts"][2]["puid"], serde_json::Value::Null);
    assert_eq!(value["pool"][0]["pool"], "foundry");
    assert_eq!(value["pool"][0]["account"], "farm1");
}
