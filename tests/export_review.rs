//! A hostile review of `poolhist export parquet`: hostile names and values, every kind of write
//! and maintenance followed by a plain export, a write racing the export, shards sharing one
//! tree, and what the export may and may not do to the directory it is given.
//!
//! It found five defects, each fixed since: an export racing an ingest made the ingest's writes
//! fail, pruned partitions stayed in a tree the database had no record of, the export deleted
//! hidden `.tmp` files not its own, shards could not export into one tree at once, and an export
//! selecting nothing still created its directory.

mod binary;
mod parquet_tree;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet_tree::*;
use poolhist::model::{AccountRef, Dimension, Directory, Group, Point, PoolFacts, Worker};
use poolhist::store::{PageWrite, Store};
use rusqlite::Connection;

// ---------------------------------------------------------------------------------------------
// Helpers (the comparison ones as in tests/export_parquet.rs)

/// A small demo database (two pools, ~6,000 points), built once; each test works on a copy.
fn demo_db() -> &'static Path {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let db = dir.join("demo.db");
        let output = binary::run(binary::poolhist_with_key(&db, "unused").args([
            "demo",
            "--workers",
            "8",
            "--foundry-workers",
            "4",
            "--nights",
            "6",
            "--out",
            dir.join("report").to_str().unwrap(),
        ]));
        assert!(output.status.success(), "{}", binary::stderr_of(&output));
        db
    })
}

fn copy_of_demo(dir: &Path, name: &str) -> PathBuf {
    let db = dir.join(name);
    // The demo's database is checkpointed by its last connection: one file is the whole of it.
    fs::copy(demo_db(), &db).unwrap();
    db
}

fn run_export(db: &Path, out: &Path, args: &[&str]) -> Output {
    binary::run(
        binary::poolhist_with_key(db, "unused")
            .args(["export", "parquet", "--out"])
            .arg(out)
            .args(args),
    )
}

fn export(db: &Path, out: &Path, args: &[&str]) -> String {
    let output = run_export(db, out, args);
    assert!(output.status.success(), "{}", binary::stderr_of(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn poolhist(db: &Path, args: &[&str]) {
    let output = binary::run(binary::poolhist_with_key(db, "unused").args(args));
    assert!(
        output.status.success(),
        "{args:?}: {}",
        binary::stderr_of(&output)
    );
}

/// Fails with one line on stderr and no panic.
fn assert_one_error_line(output: &Output) -> String {
    let stderr = binary::stderr_of(output);
    assert!(!output.status.success(), "succeeded: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    stderr
}

/// What differs between the tree and the database, table by table (empty: they agree).
fn differences(db: &Path, out: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (table, sql) in [
        ("tickers", TICKERS_SQL),
        ("hourly_by_day", SUMMARY_SQL),
        ("workers", WORKERS_SQL),
    ] {
        let exported = rows_of(out, table);
        let mut expected = sql_rows(db, sql);
        if table == "tickers" {
            expected = expected
                .into_iter()
                .map(|mut r| {
                    r[7] = Value::Bool(r[7] == Value::Int(1));
                    r
                })
                .collect();
        }
        let missing: Vec<_> = expected.difference(&exported).collect();
        let extra: Vec<_> = exported.difference(&expected).collect();
        if !missing.is_empty() || !extra.is_empty() {
            problems.push(format!(
                "{table}: {} rows exported, {} stored; {} missing {:?}; {} extra {:?}",
                exported.len(),
                expected.len(),
                missing.len(),
                missing.iter().take(2).collect::<Vec<_>>(),
                extra.len(),
                extra.iter().take(2).collect::<Vec<_>>()
            ));
        }
    }
    problems
}

fn assert_tree_holds_the_database(db: &Path, out: &Path, when: &str) {
    let problems = differences(db, out);
    assert!(problems.is_empty(), "{when}: {problems:#?}");
}

/// The manifests, together, list exactly the Parquet files on disk, each under its account's
/// manifest, with the rows and bytes the file has.
fn assert_manifests_match_the_disk(out: &Path, when: &str) {
    let on_disk = parquet_files(out);
    let mut listed = BTreeSet::new();
    for manifest in files_under(&out.join("_manifests")) {
        if manifest.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
        let relative = manifest.strip_prefix(out.join("_manifests")).unwrap();
        // _manifests/pool=P/account=A.json -> pool=P/account=A/
        let prefix = format!(
            "/{}/",
            relative.with_extension("").to_string_lossy().into_owned()
        );
        for partition in json["partitions"].as_array().unwrap() {
            let path = partition["path"].as_str().unwrap().to_owned();
            assert!(
                path.contains(&prefix),
                "{when}: {path} is listed in {}",
                manifest.display()
            );
            let bytes = on_disk
                .get(&path)
                .unwrap_or_else(|| panic!("{when}: {path} is listed but not on disk"));
            assert_eq!(partition["bytes"].as_u64(), Some(bytes.len() as u64));
            let reader = SerializedFileReader::new(bytes::Bytes::from(bytes.clone())).unwrap();
            assert_eq!(
                partition["rows"].as_i64(),
                Some(reader.metadata().file_metadata().num_rows()),
                "{when}: {path}"
            );
            assert!(listed.insert(path), "{when}: listed twice");
        }
    }
    let unlisted: Vec<&String> = on_disk.keys().filter(|p| !listed.contains(*p)).collect();
    assert!(
        unlisted.is_empty(),
        "{when}: files on disk no manifest lists: {unlisted:?}"
    );
}

fn written_count(summary: &str) -> u64 {
    let (_, rest) = summary.split_once(": ").unwrap();
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// A database written through the store, with names and values an export must survive

const FOUNDRY: PoolFacts = poolhist::pools::foundry::FACTS;
const CLOVERPOOL: PoolFacts = poolhist::pools::cloverpool::FACTS;

// 2024-09-15, 2024-10-31T16:00, 2024-10-31T22:00, 2024-11-01, 2024-11-20 (UTC).
const SEP_15: i64 = 1_726_358_400;
const OCT_31_16H: i64 = 1_730_390_400;
const OCT_31_22H: i64 = 1_730_412_000;
const NOV_1: i64 = 1_730_419_200;
const NOV_20: i64 = 1_732_060_800;
const HOUR: i64 = 3600;

fn foundry_account(name: &str) -> AccountRef {
    AccountRef {
        pool: "foundry",
        account: name.to_owned(),
        puid: None,
    }
}

fn worker(worker_id: i64, worker_name: &str, gid: Option<i64>) -> Worker {
    Worker {
        worker_id,
        worker_name: worker_name.to_owned(),
        gid,
        status: "ACTIVE".to_owned(),
        last_share_time: Some(NOV_1),
    }
}

fn point(ts: i64, hashrate_hs: f64, reject_rate: f64, provisional: bool) -> Point {
    Point {
        ts,
        hashrate_hs,
        reject_rate,
        provisional,
    }
}

/// Accounts whose names a path must escape, and workers with hostile names and ids.
const HOSTILE_ACCOUNTS: [&str; 8] = [
    "..",
    ".",
    "a/b",
    "a%2Fb",
    "x=y",
    "%",
    "Zürich\n矿 \"q\" 'sq' \\",
    "_hidden",
];

fn hostile_workers() -> Vec<Worker> {
    vec![
        worker(i64::MAX, "line\nbreak\r\ttab", Some(1)),
        worker(i64::MIN, "quote\"'`", Some(99)), // a group the listing does not have
        worker(-5, "slash/eq=pct%25", None),
        worker(0, &"long".repeat(2_000), Some(1)),
        worker(1, "nul\u{0}inside\u{7f}", None),
        worker(2, "", None),
    ]
}

/// Writes hostile data for `account`; returns (hourly series of worker i64::MAX, account's
/// daily series).
fn write_hostile_account(store: &mut Store, account: &AccountRef, facts: &PoolFacts) -> (i64, i64) {
    let directory = Directory {
        groups: vec![Group {
            gid: 1,
            name: "grp/1=\"x\"\n".to_owned(),
        }],
        workers: hostile_workers(),
        workers_capped: false,
    };
    let (_, states) = store
        .upsert_directory(account, facts, &directory, NOV_20)
        .unwrap();
    let run_id = store.begin_run(&[], NOV_20).unwrap();
    let mut pages = Vec::new();
    let mut hourly_of_max = 0;
    let mut daily_of_account = 0;
    for state in &states {
        let tickers = match state.dimension {
            // Both sides of a month's end; values at the edges of what a double holds.
            Dimension::Hour => vec![
                point(OCT_31_22H, 0.0, 0.0, false),
                point(OCT_31_22H + HOUR, 1e30, 1.0, false),
                point(NOV_1, f64::MIN_POSITIVE, 0.5, false),
                point(NOV_1 + HOUR, 123.456e12, 1e-9, true),
            ],
            // A daily point of a pool whose day starts at 16:00 UTC, and one at midnight.
            Dimension::Day => vec![
                point(OCT_31_16H, 9.0e15, 0.01, false),
                point(NOV_1, 1.0, 0.0, false),
            ],
        };
        if state.worker_id == Some(i64::MAX) && state.dimension == Dimension::Hour {
            hourly_of_max = state.series_id;
        }
        if state.worker_id.is_none() && state.dimension == Dimension::Day {
            daily_of_account = state.series_id;
        }
        pages.push(PageWrite {
            tickers,
            ..PageWrite::empty(state.series_id, state.dimension)
        });
    }
    store.write_pages(&pages, run_id, NOV_20).unwrap();
    assert!(hourly_of_max > 0 && daily_of_account > 0);
    (hourly_of_max, daily_of_account)
}

/// A store-written database: the hostile foundry accounts, or `accounts` if given, and
/// CloverPool puid 7.
fn hostile_db(dir: &Path, name: &str, accounts: &[&str]) -> PathBuf {
    let db = dir.join(name);
    let mut store = Store::open(&db).unwrap();
    for account in accounts {
        write_hostile_account(&mut store, &foundry_account(account), &FOUNDRY);
    }
    write_hostile_account(
        &mut store,
        &AccountRef {
            pool: "cloverpool",
            account: "7".to_owned(),
            puid: Some(7),
        },
        &CLOVERPOOL,
    );
    db
}

// ---------------------------------------------------------------------------------------------
// Output correctness

#[test]
fn hostile_names_and_values_come_back_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_db(dir.path(), "h.db", &HOSTILE_ACCOUNTS);
    let out = dir.path().join("export");
    let summary = export(&db, &out, &[]);
    assert!(summary.contains("exported 9 account(s)"), "{summary}");
    assert_tree_holds_the_database(&db, &out, "first export");
    assert_manifests_match_the_disk(&out, "first export");
    // Every account has its own directories: no name escaped onto another's.
    let workers_files = parquet_files(&out)
        .keys()
        .filter(|p| p.starts_with("workers/"))
        .count();
    assert_eq!(workers_files, HOSTILE_ACCOUNTS.len() + 1);
    for entry in fs::read_dir(out.join("workers/pool=foundry")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let value = name.strip_prefix("account=").unwrap();
        assert!(!value.contains('/') && !value.contains('\n') && value != "." && value != "..");
    }
    // The 1d point at 16:00 UTC is in October, the month of its ts; 23:00 of Oct 31 too.
    assert!(out
        .join("tickers/pool=cloverpool/account=7/dimension=1d/month=2024-10/part-0.parquet")
        .exists());
    // Nothing changed: nothing written.
    let again = export(&db, &out, &[]);
    assert_eq!(written_count(&again), 0, "{again}");
}

#[test]
fn a_worker_name_that_is_not_utf8_fails_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_db(dir.path(), "h.db", &["farm"]);
    let conn = Connection::open(&db).unwrap();
    // Edited by hand: text SQLite holds but Rust cannot read as UTF-8.
    conn.execute(
        "UPDATE workers SET worker_name = CAST(X'66FF6F' AS TEXT) WHERE worker_id = 2",
        [],
    )
    .unwrap();
    drop(conn);
    let output = run_export(&db, &dir.path().join("export"), &[]);
    assert_one_error_line(&output);
}

#[test]
fn an_account_name_too_long_for_a_path_fails_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let long = "f".repeat(300);
    let db = hostile_db(dir.path(), "h.db", &[&long]);
    let output = run_export(&db, &dir.path().join("export"), &[]);
    let stderr = assert_one_error_line(&output);
    assert!(stderr.contains("too long"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Incremental correctness: after every kind of write, a plain export holds the database

#[test]
fn every_kind_of_change_reaches_the_next_plain_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_db(dir.path(), "h.db", &["farm", "a/b"]);
    let out = dir.path().join("export");
    export(&db, &out, &[]);
    let check = |when: &str| {
        let summary = export(&db, &out, &[]);
        assert_tree_holds_the_database(&db, &out, when);
        assert_manifests_match_the_disk(&out, when);
        // And the export after that has nothing left to do.
        let again = export(&db, &out, &[]);
        assert_eq!(written_count(&again), 0, "{when}: {again}");
        summary
    };
    let account = foundry_account("farm");
    let mut store = Store::open(&db).unwrap();
    let (hourly, daily) = write_hostile_account(&mut store, &account, &FOUNDRY);
    let later = NOV_20 + 86_400;

    // The live point replaced by the final one, a new live point after it.
    let run_id = store.begin_run(&[], later).unwrap();
    store
        .write_pages(
            &[PageWrite {
                tickers: vec![
                    point(NOV_1 + HOUR, 2e12, 0.02, false),
                    point(NOV_1 + 2 * HOUR, 3e12, 0.0, true),
                ],
                ..PageWrite::empty(hourly, Dimension::Hour)
            }],
            run_id,
            later,
        )
        .unwrap();
    check("live point replaced");

    // A late point in an old month no write has touched (September).
    store
        .write_pages(
            &[PageWrite {
                tickers: vec![point(SEP_15, 5e12, 0.0, false)],
                ..PageWrite::empty(daily, Dimension::Day)
            }],
            run_id,
            later,
        )
        .unwrap();
    check("late point in September");

    // A stale live point deleted.
    store
        .write_pages(
            &[PageWrite {
                stale_provisional_before: Some(NOV_20),
                ..PageWrite::empty(hourly, Dimension::Hour)
            }],
            run_id,
            later,
        )
        .unwrap();
    check("stale live point deleted");

    // A worker renamed and moved to another group, the group renamed; one worker not listed.
    let mut workers = hostile_workers();
    workers[0].worker_name = "renamed".to_owned();
    workers[0].gid = Some(2);
    workers[2].gid = Some(1);
    workers.pop();
    let directory = Directory {
        groups: vec![
            Group {
                gid: 1,
                name: "renamed group".to_owned(),
            },
            Group {
                gid: 2,
                name: "second".to_owned(),
            },
        ],
        workers,
        workers_capped: false,
    };
    store
        .upsert_directory(&account, &FOUNDRY, &directory, later + 86_400 * 40)
        .unwrap();
    check("workers renamed and moved");
    drop(store);

    // The summary spoiled by hand, then repaired by `db check --repair-summary`.
    Connection::open(&db)
        .unwrap()
        .execute("UPDATE hourly_by_day SET hours_up = 0, up_mask = 0", [])
        .unwrap();
    poolhist(&db, &["db", "check", "--repair-summary"]);
    check("summary repaired");

    // A worker gone since before the listing above (worker 2 of farm, last seen 2024-11-20).
    poolhist(
        &db,
        &[
            "db",
            "prune",
            "--workers-gone-since",
            "2024-12-01",
            "--pool",
            "foundry",
            "--account",
            "farm",
            "--yes",
        ],
    );
    check("gone workers pruned");

    // Every point of one account pruned: its partitions all lose their files.
    poolhist(
        &db,
        &[
            "db",
            "prune",
            "--before",
            "2025-01-01",
            "--pool",
            "foundry",
            "--account",
            "a/b",
            "--yes",
        ],
    );
    let summary = check("an account's history pruned");
    assert!(!summary.contains(" 0 removed"), "{summary}");
    assert!(!parquet_files(&out)
        .keys()
        .any(|p| p.starts_with("tickers/pool=foundry/account=a%2Fb/")));
}

/// The demo's final daily points: (series, ts).
fn daily_points(db: &Path) -> Vec<(i64, i64)> {
    Connection::open(db)
        .unwrap()
        .prepare(
            "SELECT t.series_id, t.ts FROM tickers t JOIN series s USING (series_id) \
             WHERE s.dimension = '1d' AND t.provisional = 0 ORDER BY t.ts",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Runs `exports` exports of `db` to `out` one after the other (with `args`), while this
/// process rewrites daily points as a nightly ingest does, as fast as it can. Returns how many
/// writes succeeded and the errors of those that failed (each retried until it succeeds).
fn write_while_exporting(
    db: &Path,
    out: &Path,
    exports: usize,
    args: &[&str],
) -> (usize, Vec<String>) {
    let points = daily_points(db);
    let mut store = Store::open(db).unwrap();
    let run_id = store.begin_run(&[], 2_000_000_000).unwrap();
    let (mut written, mut failures) = (0usize, Vec::new());
    for _ in 0..exports {
        let mut child = binary::poolhist_with_key(db, "unused")
            .args(["export", "parquet", "--quiet", "--out"])
            .arg(out)
            .args(args)
            .spawn()
            .unwrap();
        while child.try_wait().unwrap().is_none() {
            let (series_id, ts) = points[(written * 7919) % points.len()];
            let page = PageWrite {
                tickers: vec![point(ts, 1e12 + written as f64, 0.0, false)],
                ..PageWrite::empty(series_id, Dimension::Day)
            };
            match store.write_pages(&[page], run_id, 2_000_000_000) {
                Ok(_) => written += 1,
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        assert!(child.wait().unwrap().success());
    }
    (written, failures)
}

#[test]
fn a_write_racing_the_export_is_taken_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path(), "poolhist.db");
    let out = dir.path().join("export");
    export(&db, &out, &[]);
    // Whatever the export's snapshot missed, the next plain export takes.
    let (written, _) = write_while_exporting(&db, &out, 3, &[]);
    assert!(written > 3, "the writes did not overlap the exports");
    export(&db, &out, &[]);
    assert_tree_holds_the_database(&db, &out, "after racing writes");
    assert_manifests_match_the_disk(&out, "after racing writes");
}

#[test]
fn an_export_never_makes_an_ingest_write_fail() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path(), "poolhist.db");
    let out = dir.path().join("export");
    // --full: every partition recorded again, as after a hand edit (and a first export).
    let (written, failures) = write_while_exporting(&db, &out, 6, &["--full"]);
    assert!(written > 6, "the writes did not overlap the exports");
    assert!(
        failures.is_empty(),
        "{} of {} writes failed, the first: {}",
        failures.len(),
        written + failures.len(),
        failures[0]
    );
}

/// The first day of the month two months after the database's oldest point.
fn prune_date_inside_history(db: &Path) -> String {
    let oldest: i64 = Connection::open(db)
        .unwrap()
        .query_row("SELECT MIN(ts) FROM tickers", [], |r| r.get(0))
        .unwrap();
    chrono::DateTime::from_timestamp(oldest + 62 * 86_400, 0)
        .unwrap()
        .format("%Y-%m-01")
        .to_string()
}

#[test]
fn pruned_months_leave_no_files_in_a_moved_tree() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path(), "poolhist.db");
    let first = dir.path().join("first");
    export(&db, &first, &[]);
    // The tree moves (a new mount point, a copy to a bigger disk); the export follows it.
    let moved = dir.path().join("moved");
    fs::rename(&first, &moved).unwrap();
    poolhist(
        &db,
        &[
            "db",
            "prune",
            "--before",
            &prune_date_inside_history(&db),
            "--yes",
        ],
    );
    export(&db, &moved, &[]);
    // An engine reads every *.parquet under the tree: the pruned rows must not be among them.
    assert_tree_holds_the_database(&db, &moved, "pruned, exported to the moved tree");
    assert_manifests_match_the_disk(&moved, "pruned, exported to the moved tree");
}

// ---------------------------------------------------------------------------------------------
// The target directory

#[test]
fn the_export_deletes_only_its_own_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path(), "poolhist.db");
    let out = dir.path().join("export");
    fs::create_dir_all(out.join("notes")).unwrap();
    // Files that are not the export's: a user's, and one `poolhist report monthly` writes.
    let foreign = [
        out.join(".draft.tmp"),
        out.join("notes/.todo.txt.tmp"),
        out.join(".report-2026-10.html.4242.tmp"),
    ];
    for path in &foreign {
        fs::write(path, "not the export's").unwrap();
    }
    // And a real leftover of a killed export, which must go.
    fs::create_dir_all(out.join("workers/pool=foundry/account=farm1")).unwrap();
    let leftover = out.join("workers/pool=foundry/account=farm1/.part-0.parquet.4242.tmp");
    fs::write(&leftover, "half a file").unwrap();
    export(&db, &out, &[]);
    assert!(!leftover.exists());
    for path in &foreign {
        assert!(path.exists(), "{} was deleted", path.display());
    }
}

#[test]
fn an_export_that_selects_nothing_leaves_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path(), "poolhist.db");
    let out = dir.path().join("export");
    let output = run_export(&db, &out, &["--account", "nosuch"]);
    let stderr = assert_one_error_line(&output);
    assert!(stderr.contains("no account"), "{stderr}");
    assert!(!out.exists(), "created {}", out.display());
}

#[test]
fn bad_targets_and_missing_databases_fail_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // No database: nothing is created, the database included.
    let missing = dir.path().join("missing.db");
    let out = dir.path().join("export");
    let stderr = assert_one_error_line(&run_export(&missing, &out, &[]));
    assert!(stderr.contains("no database"), "{stderr}");
    assert!(!out.exists() && !missing.exists());

    let db = copy_of_demo(dir.path(), "poolhist.db");
    // --out is a file.
    let file = dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    assert_one_error_line(&run_export(&db, &file, &[]));
    assert_eq!(fs::read(&file).unwrap(), b"x");
    // --out is under a file.
    assert_one_error_line(&run_export(&db, &file.join("sub"), &[]));
    // A partition path blocked by a file of that name: one line, the rest untouched.
    fs::create_dir_all(out.join("workers/pool=foundry")).unwrap();
    fs::write(out.join("workers/pool=foundry/account=farm1"), "blocking").unwrap();
    assert_one_error_line(&run_export(&db, &out, &[]));

    // --out through a symlink: the same tree, the same records.
    let real = dir.path().join("real");
    export(&db, &real, &[]);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let summary = export(&db, &link, &[]);
    assert_eq!(written_count(&summary), 0, "{summary}");
}

#[test]
fn a_truncated_or_deleted_partition_is_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path(), "poolhist.db");
    let out = dir.path().join("export");
    export(&db, &out, &[]);
    let files = parquet_files(&out);
    let mut paths = files.keys();
    let (truncated, emptied, deleted) = (
        paths.next().unwrap(),
        paths.next().unwrap(),
        paths.next_back().unwrap(),
    );
    let bytes = &files[truncated];
    fs::write(out.join(truncated), &bytes[..bytes.len() / 2]).unwrap();
    fs::write(out.join(emptied), b"").unwrap();
    fs::remove_file(out.join(deleted)).unwrap();
    let summary = export(&db, &out, &[]);
    assert_eq!(written_count(&summary), 3, "{summary}");
    assert_eq!(parquet_files(&out), files);
}

#[test]
fn one_database_to_two_trees_and_two_shards_to_one_tree() {
    let dir = tempfile::tempdir().unwrap();
    let a = copy_of_demo(dir.path(), "a.db");
    let b = hostile_db(dir.path(), "b.db", &["farm2", "a/b"]);
    let shared = dir.path().join("shared");
    // Shard A holds the demo's accounts, shard B the others.
    export(&a, &shared, &[]);
    export(&b, &shared, &["--pool", "foundry"]);
    assert_manifests_match_the_disk(&shared, "two shards");
    // Each account's lock file (hidden) stays beside its manifest.
    let manifests: BTreeSet<String> = files_under(&shared.join("_manifests"))
        .iter()
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| {
            p.strip_prefix(&shared)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        manifests,
        [
            "_manifests/pool=cloverpool/account=1001.json",
            "_manifests/pool=foundry/account=a%2Fb.json",
            "_manifests/pool=foundry/account=farm1.json",
            "_manifests/pool=foundry/account=farm2.json",
        ]
        .map(String::from)
        .into()
    );
    // Each shard's second export writes nothing and leaves the other's files alone.
    let before = parquet_files(&shared);
    assert_eq!(written_count(&export(&a, &shared, &[])), 0);
    assert_eq!(
        written_count(&export(&b, &shared, &["--pool", "foundry"])),
        0
    );
    assert_eq!(parquet_files(&shared), before);

    // Shard A also to a second tree: each tree keeps its own records.
    let second = dir.path().join("second");
    export(&a, &second, &[]);
    fs::remove_dir_all(&second).unwrap();
    let summary = export(&a, &second, &[]);
    assert_eq!(
        written_count(&summary) as usize,
        parquet_files(&second).len()
    );
    assert_eq!(written_count(&export(&a, &shared, &[])), 0);
    assert_tree_holds_the_database(&a, &second, "second tree");
}

#[test]
fn shards_exporting_at_the_same_time_both_finish() {
    let dir = tempfile::tempdir().unwrap();
    let a = copy_of_demo(dir.path(), "a.db");
    let shared = dir.path().join("shared");
    let lock_dir = shared.join("_manifests/pool=foundry");
    fs::create_dir_all(&lock_dir).unwrap();
    // Shard B's export of its Foundry account holds its lock (as a long export does)...
    let lock = fs::File::create(lock_dir.join(".account=farm1.lock")).unwrap();
    lock.lock().unwrap();
    // ...while shard A, whose account is not B's, exports after its nightly ingest.
    let output = run_export(&a, &shared, &["--pool", "cloverpool"]);
    assert!(output.status.success(), "{}", binary::stderr_of(&output));
    drop(lock);
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[test]
fn the_access_key_is_nowhere_in_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path(), "poolhist.db");
    let out = dir.path().join("export");
    let key = "SECRET-access-key-5f1d3a";
    let output = binary::run(
        binary::poolhist_with_key(&db, key)
            .args(["export", "parquet", "--out"])
            .arg(&out),
    );
    assert!(output.status.success());
    assert!(!String::from_utf8_lossy(&output.stdout).contains(key));
    assert!(!binary::stderr_of(&output).contains(key));
    for path in files_under(&out) {
        let bytes = fs::read(&path).unwrap();
        assert!(
            !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "{}",
            path.display()
        );
    }
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(out.join("_manifests/pool=cloverpool/account=1001.json")).unwrap(),
    )
    .unwrap();
    let keys: BTreeSet<&str> = manifest
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "account",
            "columns",
            "compression",
            "exported_at",
            "format",
            "format_version",
            "partitioning",
            "partitions",
            "pool",
            "written_by"
        ]
        .into()
    );
}
