//! `poolhist db check | vacuum | prune` run as a user would, on databases built by hand: what
//! each finds, repairs or deletes, and what each refuses.

mod binary;

use std::path::Path;
use std::process::Output;

use rusqlite::Connection;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// 2025-11-01T00:00:00Z, the first day of the hand-built history.
const FIRST_DAY: i64 = 1_761_955_200;
/// 2025-11-05T00:00:00Z.
const NOV_5: i64 = FIRST_DAY + 4 * DAY;
const DAYS: i64 = 10;

/// `poolhist --db DB ARGS...` with nothing inherited from the environment.
fn poolhist(db: &Path, args: &[&str]) -> Output {
    binary::run(binary::poolhist_with_key(db, "unused").args(args))
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A database of two accounts: cloverpool/1001 with workers rig-1 (listed to the end) and
/// rig-2 (last listed on 2025-11-03, with a history gap), and foundry/farm1 with worker f-1.
/// Every series has `DAYS` days of points (hourly: `workers_extra` more workers make it larger),
/// hourly_by_day is derived from them, and an alert refers to rig-2.
fn build_db(db: &Path, extra_workers: i64) {
    let mut conn = poolhist::store::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    let last = FIRST_DAY + DAYS * DAY;
    tx.execute_batch(&format!(
        "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen)
           VALUES (1001, 'cloverpool', '1001', 1001, {FIRST_DAY}, {last}),
                  (2, 'foundry', 'farm1', NULL, {FIRST_DAY}, {last});
         INSERT INTO workers (account_id, worker_id, worker_name, gid, status, last_share_time,
                              first_seen, last_seen)
           VALUES (1001, 1, 'rig-1', NULL, 'ACTIVE', NULL, {FIRST_DAY}, {last}),
                  (1001, 2, 'rig-2', NULL, 'DEAD', NULL, {FIRST_DAY}, {gone}),
                  (2, 7, 'f-1', NULL, 'ACTIVE', NULL, {FIRST_DAY}, {last});
         INSERT INTO alerts (rule, subject, account_id, worker_id, state, held, since, message,
                             last_evaluated_at)
           VALUES ('worker_down', 'worker:1001:2', 1001, 2, 'open', 3, {gone}, 'rig-2 is down',
                   {last});",
        gone = FIRST_DAY + 2 * DAY + 6 * HOUR,
    ))
    .unwrap();
    let mut workers: Vec<(i64, Option<i64>)> = vec![(1001, None), (1001, Some(1)), (1001, Some(2))];
    workers.extend([(2, None), (2, Some(7))]);
    for extra in 0..extra_workers {
        let id = 100 + extra;
        tx.execute(
            "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, first_seen, \
             last_seen) VALUES (1001, ?1, 'extra-' || ?1, NULL, 'ACTIVE', ?2, ?3)",
            rusqlite::params![id, FIRST_DAY, last],
        )
        .unwrap();
        workers.push((1001, Some(id)));
    }
    for (account_id, worker_id) in workers {
        for dimension in ["1h", "1d"] {
            tx.execute(
                "INSERT INTO series (account_id, worker_id, dimension, watermark_ts) \
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![account_id, worker_id, dimension, last - HOUR],
            )
            .unwrap();
            let series_id = tx.last_insert_rowid();
            let step = if dimension == "1h" { HOUR } else { DAY };
            let mut insert = tx
                .prepare(
                    "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .unwrap();
            let mut ts = FIRST_DAY;
            while ts < last {
                // Some hours down, the last point live.
                let hashrate = if (ts / HOUR + series_id) % 7 == 0 {
                    0.0
                } else {
                    1e12 + (ts % 9_973) as f64 * 1e6 + series_id as f64
                };
                let provisional = ts + step >= last;
                insert
                    .execute(rusqlite::params![
                        series_id,
                        ts,
                        hashrate,
                        0.001 * (series_id % 5) as f64,
                        provisional
                    ])
                    .unwrap();
                ts += step;
            }
            if worker_id == Some(2) {
                tx.execute(
                    "INSERT INTO history_gaps (series_id, from_ts, to_ts, reason, detected_at) \
                     VALUES (?1, ?2, ?3, 'expired', ?4)",
                    rusqlite::params![series_id, FIRST_DAY - 5 * step, FIRST_DAY - step, last],
                )
                .unwrap();
            }
        }
    }
    tx.commit().unwrap();
    poolhist::store::rebuild_hourly_by_day(&conn).unwrap();
    assert!(poolhist::store::hourly_by_day_mismatches(&conn)
        .unwrap()
        .is_empty());
}

const TABLES: [&str; 8] = [
    "accounts",
    "workers",
    "series",
    "tickers",
    "hourly_by_day",
    "history_gaps",
    "alerts",
    "pools",
];

/// Every row of every table that holds data, as text, sorted: before/after comparisons.
fn dump(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut lines = Vec::new();
    for table in TABLES {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                let mut cells = vec![table.to_owned()];
                for i in 0..columns {
                    let value: rusqlite::types::Value = row.get(i)?;
                    cells.push(format!("{value:?}"));
                }
                Ok(cells.join("|"))
            })
            .unwrap();
        lines.extend(rows.map(Result::unwrap));
    }
    lines.sort();
    lines
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn assert_check_passes(db: &Path) {
    let output = poolhist(db, &["db", "check"]);
    let stdout = stdout_of(&output);
    assert!(
        output.status.success(),
        "{stdout}{}",
        binary::stderr_of(&output)
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[test]
fn check_passes_on_a_healthy_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ok.db");
    build_db(&db, 0);
    let before = dump(&db);
    for args in [&["db", "check"][..], &["db", "check", "--quick"]] {
        let output = poolhist(&db, args);
        let stdout = stdout_of(&output);
        assert_eq!(output.status.code(), Some(0), "{stdout}");
        assert!(binary::stderr_of(&output).is_empty());
        let known = poolhist::store::known_schema_version();
        assert!(
            stdout.contains(&format!("schema version: {known} (current)")),
            "{stdout}"
        );
        let integrity = if args.len() == 3 {
            "quick_check: ok"
        } else {
            "integrity_check: ok"
        };
        assert!(stdout.contains(integrity), "{stdout}");
        assert!(stdout.contains("foreign_key_check: ok"), "{stdout}");
        assert!(
            stdout.contains("hourly_by_day: ok (50 days of 5 hourly series agree"),
            "{stdout}"
        );
        assert!(!stdout.contains("problem"), "{stdout}");
    }
    assert_eq!(dump(&db), before, "check wrote nothing");
}

#[test]
fn check_finds_a_hand_edited_ticker_and_repair_summary_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edited.db");
    build_db(&db, 0);
    // rig-1's hourly series: one hour changed, and one hour of another day deleted by hand.
    let conn = Connection::open(&db).unwrap();
    let rig1_hourly: i64 = conn
        .query_row(
            "SELECT series_id FROM series WHERE worker_id = 1 AND dimension = '1h'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE tickers SET hashrate_hs = hashrate_hs * 2 + 1 WHERE series_id = ?1 AND ts = ?2",
        [rig1_hourly, FIRST_DAY + 3 * DAY + 5 * HOUR],
    )
    .unwrap();
    conn.execute(
        "DELETE FROM tickers WHERE series_id = ?1 AND ts = ?2",
        [rig1_hourly, FIRST_DAY + 6 * DAY + HOUR],
    )
    .unwrap();
    drop(conn);
    let edited = dump(&db);

    let output = poolhist(&db, &["db", "check"]);
    let stdout = stdout_of(&output);
    let stderr = binary::stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let problems: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .collect();
    assert_eq!(problems.len(), 3, "{stdout}");
    for day in ["2025-11-04", "2025-11-07"] {
        assert!(
            problems.iter().any(|p| p.contains(&format!(
                "series {rig1_hourly} (cloverpool/1001 worker rig-1, 1h), {day}: has an hourly_by_day row that differs"
            ))),
            "{day}: {stdout}"
        );
    }
    assert!(problems[2].contains("--repair-summary"), "{stdout}");
    assert!(stdout.contains("integrity_check: ok"), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("db check: 3 problems in"), "{stderr}");
    assert_eq!(dump(&db), edited, "check alone repairs nothing");

    let output = poolhist(&db, &["db", "check", "--repair-summary"]);
    let stdout = stdout_of(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        binary::stderr_of(&output)
    );
    assert!(
        stdout.contains("2 days of 1 series were off, it agrees with the tickers now"),
        "{stdout}"
    );
    assert_check_passes(&db);
    // Only the summary changed, and it is what the tickers sum to.
    let after = dump(&db);
    let without_summary = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| !l.starts_with("hourly_by_day|"))
            .cloned()
            .collect()
    };
    assert_eq!(without_summary(&after), without_summary(&edited));
    assert_ne!(after, edited);
}

#[test]
fn vacuum_shrinks_the_file_after_deletions_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");
    build_db(&db, 40);
    // A user's deletion: every extra worker's hourly history.
    let conn = poolhist::store::open(&db).unwrap();
    conn.execute_batch(
        "DELETE FROM tickers WHERE series_id IN
           (SELECT series_id FROM series WHERE worker_id >= 100 AND dimension = '1h');
         DELETE FROM hourly_by_day WHERE series_id IN
           (SELECT series_id FROM series WHERE worker_id >= 100);
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .unwrap();
    drop(conn);
    let before = dump(&db);
    let size_before = std::fs::metadata(&db).unwrap().len();

    let output = poolhist(&db, &["db", "vacuum"]);
    let stdout = stdout_of(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        binary::stderr_of(&output)
    );
    assert!(stdout.starts_with("vacuumed "), "{stdout}");
    assert!(stdout.contains("given back to the filesystem"), "{stdout}");
    let size_after = std::fs::metadata(&db).unwrap().len();
    assert!(
        size_after * 2 < size_before,
        "{size_before} -> {size_after} bytes"
    );
    assert_eq!(dump(&db), before, "every row kept");
    assert_check_passes(&db);

    // --quiet: nothing on stdout or stderr.
    let output = poolhist(&db, &["db", "vacuum", "--quiet"]);
    assert!(output.status.success());
    assert!(output.stdout.is_empty() && output.stderr.is_empty());
}

#[test]
fn vacuum_prune_and_repair_refuse_while_an_ingest_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db");
    build_db(&db, 0);
    Connection::open(&db)
        .unwrap()
        .execute("UPDATE hourly_by_day SET hours_up = 0", [])
        .unwrap();
    let before = dump(&db);
    let ingest = poolhist::store::lock::acquire(&db).unwrap();
    for args in [
        &["db", "vacuum"][..],
        &["db", "prune", "--before", "2025-11-05", "--yes"],
        &["db", "check", "--repair-summary"],
    ] {
        let output = poolhist(&db, args);
        let stderr = binary::stderr_of(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("another ingest holds") && stderr.contains("pass --wait"),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    assert_eq!(dump(&db), before, "nothing written");
    // Read-only work goes on during an ingest: the check and a dry run.
    assert_eq!(poolhist(&db, &["db", "check"]).status.code(), Some(1));
    let dry = poolhist(&db, &["db", "prune", "--before", "2025-11-05"]);
    assert!(dry.status.success(), "{}", binary::stderr_of(&dry));
    drop(ingest);
    assert!(poolhist(&db, &["db", "check", "--repair-summary"])
        .status
        .success());
}

/// What prune --before 2025-11-05 --dimension 1h --account 1001 --workers-gone-since
/// 2025-11-04 selects, in the database `build_db` makes: (tickers, hourly_by_day,
/// history_gaps, series, workers).
fn expected_counts(db: &Path) -> [i64; 5] {
    let gone_series = "SELECT series_id FROM series WHERE account_id = 1001 AND worker_id = 2";
    let aged = "SELECT series_id FROM series WHERE account_id = 1001 AND dimension = '1h'";
    [
        count(
            db,
            &format!(
                "SELECT count(*) FROM tickers WHERE series_id IN ({gone_series}) \
                 OR (series_id IN ({aged}) AND ts < {NOV_5})"
            ),
        ),
        count(
            db,
            &format!(
                "SELECT count(*) FROM hourly_by_day WHERE series_id IN ({gone_series}) \
                 OR (series_id IN ({aged}) AND day_ts < {NOV_5})"
            ),
        ),
        count(db, "SELECT count(*) FROM history_gaps"),
        2,
        1,
    ]
}

const PRUNE: [&str; 10] = [
    "db",
    "prune",
    "--before",
    "2025-11-05",
    "--dimension",
    "1h",
    "--account",
    "1001",
    "--workers-gone-since",
    "2025-11-04",
];

fn reported_counts(stdout: &str) -> Vec<(String, i64)> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let table = words.next()?;
            let rows = words.next()?.parse().ok()?;
            words.next().is_none().then(|| (table.to_owned(), rows))
        })
        .collect()
}

#[test]
fn prune_dry_run_deletes_nothing_and_says_how_many_rows_per_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dry.db");
    build_db(&db, 0);
    let before = dump(&db);
    let expected = expected_counts(&db);
    // rig-2: 10 days of hours and 10 days (1h and 1d); rig-1 and the account: 4 days of hours
    // each; hourly_by_day: rig-2's 10 days, 4 days of each other hourly series.
    assert_eq!(expected, [240 + 10 + 2 * 96, 10 + 2 * 4, 2, 2, 1]);

    let output = poolhist(&db, &PRUNE);
    let stdout = stdout_of(&output);
    assert!(output.status.success(), "{}", binary::stderr_of(&output));
    assert!(
        stdout.contains("dry run, nothing deleted; pass --yes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tickers before 2025-11-05 (1h series, account 1001)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("workers not listed since 2025-11-04 (account 1001)"),
        "{stdout}"
    );
    let names = [
        "tickers",
        "hourly_by_day",
        "history_gaps",
        "series",
        "workers",
    ];
    let wanted: Vec<(String, i64)> = names
        .iter()
        .zip(expected)
        .map(|(t, n)| (t.to_string(), n))
        .collect();
    assert_eq!(reported_counts(&stdout), wanted, "{stdout}");
    assert_eq!(dump(&db), before, "a dry run deletes nothing");
}

#[test]
fn prune_yes_deletes_exactly_the_selected_rows_and_keeps_the_summary_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("prune.db");
    build_db(&db, 0);
    let before = dump(&db);
    let expected = expected_counts(&db);
    let kept_after = |db: &Path| {
        let conn = Connection::open(db).unwrap();
        let ids = |sql: &str| -> Vec<i64> {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        (
            ids("SELECT series_id FROM series WHERE account_id = 1001 AND worker_id = 2"),
            ids("SELECT series_id FROM series WHERE account_id = 1001 AND dimension = '1h'"),
        )
    };
    let (gone, aged) = kept_after(&db);

    let mut args = PRUNE.to_vec();
    args.push("--yes");
    let output = poolhist(&db, &args);
    let stdout = stdout_of(&output);
    assert!(output.status.success(), "{}", binary::stderr_of(&output));
    assert!(stdout.contains("(deleted)"), "{stdout}");
    assert!(stdout.contains("poolhist db vacuum"), "{stdout}");
    let reported: Vec<i64> = reported_counts(&stdout).iter().map(|c| c.1).collect();
    assert_eq!(reported, expected.to_vec(), "{stdout}");

    // Exactly the selected rows went: the dump after is the dump before without them.
    let field = |line: &str, i: usize| -> i64 {
        line.split('|').nth(i).unwrap()[8..]
            .trim_end_matches(')')
            .parse()
            .unwrap()
    };
    let selected = |line: &String| -> bool {
        let table = line.split('|').next().unwrap();
        match table {
            "tickers" | "hourly_by_day" => {
                let series = field(line, 1);
                gone.contains(&series) || (aged.contains(&series) && field(line, 2) < NOV_5)
            }
            "history_gaps" | "series" => gone.contains(&field(line, 1)),
            "workers" => field(line, 1) == 1001 && field(line, 2) == 2,
            _ => false,
        }
    };
    let wanted: Vec<String> = before.iter().filter(|l| !selected(l)).cloned().collect();
    assert_eq!(
        before.len() - wanted.len(),
        expected.iter().sum::<i64>() as usize
    );
    let after = dump(&db);
    assert_eq!(after, wanted);
    assert!(
        after
            .iter()
            .any(|l| l.starts_with("alerts|") && l.contains("worker:1001:2")),
        "the alert about rig-2 is left alone"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM workers WHERE account_id = 2"),
        1,
        "the other account is untouched"
    );
    assert_check_passes(&db);

    // Again: nothing left to select.
    let output = poolhist(&db, &args);
    let stdout = stdout_of(&output);
    assert!(
        reported_counts(&stdout).iter().all(|c| c.1 == 0),
        "{stdout}"
    );
    assert_eq!(dump(&db), after);
}

#[test]
fn prune_refuses_without_a_selector_and_names_what_was_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("refuse.db");
    build_db(&db, 0);
    let before = dump(&db);
    let cases: [(&[&str], &str); 6] = [
        (
            &["db", "prune", "--yes"],
            "--before DATE and/or --workers-gone-since",
        ),
        (
            &["db", "prune", "--account", "1001", "--yes"],
            "without a selector",
        ),
        (
            &["db", "prune", "--dimension", "1h", "--yes"],
            "--dimension narrows --before",
        ),
        (
            &["db", "prune", "--before", "2999-01-01", "--yes"],
            "in the future",
        ),
        (
            &["db", "prune", "--before", "last week", "--yes"],
            "YYYY-MM-DD",
        ),
        (
            &[
                "db",
                "prune",
                "--before",
                "2025-11-05",
                "--account",
                "nobody",
                "--yes",
            ],
            "no account in",
        ),
    ];
    for (args, said) in cases {
        let output = poolhist(&db, args);
        let stderr = binary::stderr_of(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
    }
    assert_eq!(dump(&db), before);
}

#[test]
fn a_missing_database_is_one_line_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    for args in [
        &["db", "check"][..],
        &["db", "vacuum"],
        &["db", "prune", "--before", "2025-11-05", "--yes"],
    ] {
        let output = poolhist(&db, args);
        let stderr = binary::stderr_of(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("does not exist"), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing created"
    );
}

#[test]
fn check_names_a_broken_foreign_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fk.db");
    build_db(&db, 0);
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate) VALUES (999, 0, 1.0, 0);",
    )
    .unwrap();
    drop(conn);
    let output = poolhist(&db, &["db", "check"]);
    let stdout = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "problem: foreign_key_check: a row of tickers refers to a row of series that does not exist"
        ),
        "{stdout}"
    );
}

#[test]
fn db_help_texts_are_stable() {
    let help = |args: &[&str]| {
        let output = binary::run(binary::poolhist_with_key(Path::new("unused.db"), "k").args(args));
        assert!(output.status.success());
        stdout_of(&output)
    };
    insta::assert_snapshot!("db_help", help(&["db", "--help"]));
    insta::assert_snapshot!("db_check_help", help(&["db", "check", "--help"]));
    insta::assert_snapshot!("db_vacuum_help", help(&["db", "vacuum", "--help"]));
    insta::assert_snapshot!("db_prune_help", help(&["db", "prune", "--help"]));
}
