//! `poolhist export parquet`, run as a user would on the demo's database (two pools, a month and
//! more of nightly runs, live points, odd worker names): every row comes back from the Parquet
//! files as stored, a late point rewrites only its partitions, and a killed export leaves every
//! partition either old or new.

mod binary;
mod parquet_tree;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::Instant;

use parquet::basic::{Compression, LogicalType, TimeUnit};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet_tree::*;
use poolhist::model::{Dimension, Point};
use poolhist::store::{PageWrite, Store};
use rusqlite::Connection;

/// The demo's database, built once for this test binary; each test works on a copy.
fn demo_db() -> &'static Path {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let db = dir.join("demo.db");
        let output = binary::run(binary::poolhist_with_key(&db, "unused").args([
            "demo",
            "--workers",
            "150",
            "--foundry-workers",
            "50",
            "--out",
            dir.join("report").to_str().unwrap(),
        ]));
        assert!(output.status.success(), "{}", binary::stderr_of(&output));
        db
    })
}

fn copy_of_demo(dir: &Path) -> PathBuf {
    let db = dir.join("poolhist.db");
    fs::copy(demo_db(), &db).unwrap();
    db
}

fn export(db: &Path, out: &Path, args: &[&str]) -> Output {
    let output = binary::run(
        binary::poolhist_with_key(db, "unused")
            .args(["export", "parquet", "--out"])
            .arg(out)
            .args(args),
    );
    assert!(output.status.success(), "{}", binary::stderr_of(&output));
    output
}

fn summary_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The SQLite rows, booleans as the Parquet files hold them.
fn stored(db: &Path, sql: &str) -> BTreeSet<Vec<Value>> {
    let mut rows = sql_rows(db, sql);
    if sql == TICKERS_SQL {
        rows = rows
            .into_iter()
            .map(|mut r| {
                r[7] = Value::Bool(r[7] == Value::Int(1));
                r
            })
            .collect();
    }
    rows
}

fn assert_tree_holds_the_database(db: &Path, out: &Path) {
    for (table, sql) in [
        ("tickers", TICKERS_SQL),
        ("hourly_by_day", SUMMARY_SQL),
        ("workers", WORKERS_SQL),
    ] {
        let exported = rows_of(out, table);
        let expected = stored(db, sql);
        assert!(!expected.is_empty());
        let missing: Vec<_> = expected.difference(&exported).take(3).collect();
        let extra: Vec<_> = exported.difference(&expected).take(3).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{table}: {} rows exported, {} stored; missing {missing:?}; extra {extra:?}",
            exported.len(),
            expected.len()
        );
    }
}

#[test]
fn every_row_comes_back_from_the_parquet_tree() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path());
    // A sub-account name a path must escape: it comes back as it was.
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE accounts SET account = 'farm/1 ü%' WHERE pool = 'foundry'",
        [],
    )
    .unwrap();
    drop(conn);
    let out = dir.path().join("export");
    let output = export(&db, &out, &[]);
    assert!(
        summary_of(&output).contains("exported 2 account(s)"),
        "{}",
        summary_of(&output)
    );
    assert!(out
        .join("workers/pool=foundry/account=farm%2F1 ü%25/part-0.parquet")
        .exists());
    assert_tree_holds_the_database(&db, &out);

    let files = parquet_files(&out);
    assert!(files
        .keys()
        .any(|p| p.starts_with("tickers/pool=cloverpool/account=1001/dimension=1h/month=")));
    // Typed columns: UTC timestamps in microseconds, zstd by default.
    let (_, bytes) = files
        .iter()
        .find(|(p, _)| p.starts_with("tickers/"))
        .unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes.clone())).unwrap();
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let ts = schema.columns().iter().find(|c| c.name() == "ts").unwrap();
    assert_eq!(
        ts.logical_type_ref(),
        Some(&LogicalType::timestamp(true, TimeUnit::MICROS))
    );
    let column = reader.metadata().row_group(0).column(0);
    assert!(matches!(column.compression(), Compression::ZSTD(_)));

    // One manifest per account, listing every partition file of it.
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(out.join("_manifests/pool=cloverpool/account=1001.json")).unwrap(),
    )
    .unwrap();
    let listed: BTreeSet<String> = manifest["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_owned())
        .collect();
    let on_disk: BTreeSet<String> = files
        .keys()
        .filter(|p| p.contains("/pool=cloverpool/account=1001/"))
        .cloned()
        .collect();
    assert_eq!(listed, on_disk);
}

#[test]
fn snappy_is_the_other_compression() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path());
    let out = dir.path().join("export");
    export(&db, &out, &["--compression", "snappy", "--pool", "foundry"]);
    let files = parquet_files(&out);
    assert!(
        files.keys().all(|p| p.contains("/pool=foundry/")),
        "{files:?}"
    );
    let (_, bytes) = files.iter().next().unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes.clone())).unwrap();
    assert_eq!(
        reader.metadata().row_group(0).column(0).compression(),
        Compression::SNAPPY
    );
}

/// The account's hourly series of one worker and its series id.
fn some_worker_hourly_series(db: &Path) -> (i64, i64, i64) {
    let conn = Connection::open(db).unwrap();
    conn.query_row(
        "SELECT s.series_id, s.worker_id, MIN(t.ts) FROM series s \
         JOIN accounts a ON a.account_id = s.account_id \
         JOIN tickers t ON t.series_id = s.series_id AND t.provisional = 0 \
         WHERE a.pool = 'cloverpool' AND s.dimension = '1h' AND s.worker_id IS NOT NULL \
         GROUP BY s.series_id ORDER BY MIN(t.ts), s.series_id LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

#[test]
fn a_late_point_rewrites_only_its_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path());
    let out = dir.path().join("export");
    export(&db, &out, &[]);
    let before = parquet_files(&out);

    // Nothing changed: nothing is written.
    let again = summary_of(&export(&db, &out, &[]));
    assert!(again.contains(": 0 partition file(s) written"), "{again}");
    assert_eq!(parquet_files(&out), before);

    // A late correction of the oldest hour the writer stores, as a nightly ingest writes it.
    let (series_id, _worker_id, ts) = some_worker_hourly_series(&db);
    let mut store = Store::open(&db).unwrap();
    let run_id = store.begin_run(&[], ts + 40 * 86_400).unwrap();
    let counts = store
        .write_pages(
            &[PageWrite {
                tickers: vec![Point {
                    ts,
                    hashrate_hs: 123.456e12,
                    reject_rate: 0.0321,
                    provisional: false,
                }],
                ..PageWrite::empty(series_id, Dimension::Hour)
            }],
            run_id,
            ts + 40 * 86_400,
        )
        .unwrap();
    assert_eq!(counts.rows_updated, 1);
    drop(store);

    let late = summary_of(&export(&db, &out, &[]));
    assert!(late.contains(": 2 partition file(s) written"), "{late}");
    let after = parquet_files(&out);
    let month = chrono::DateTime::from_timestamp(ts, 0)
        .unwrap()
        .format("%Y-%m")
        .to_string();
    let changed: BTreeSet<&String> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(bytes))
        .map(|(path, _)| path)
        .collect();
    let expected: BTreeSet<String> = [
        format!("tickers/pool=cloverpool/account=1001/dimension=1h/month={month}/part-0.parquet"),
        format!("hourly_by_day/pool=cloverpool/account=1001/month={month}/part-0.parquet"),
    ]
    .into();
    assert_eq!(changed, expected.iter().collect());
    assert_tree_holds_the_database(&db, &out);
}

#[test]
fn pruned_history_and_lost_files_are_put_right() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path());
    let out = dir.path().join("export");
    export(&db, &out, &[]);
    let months_1d = |out: &Path| {
        parquet_files(out)
            .keys()
            .filter(|p| p.starts_with("tickers/pool=cloverpool/account=1001/dimension=1d/"))
            .count()
    };
    let before = months_1d(&out);

    // Prune the daily history before 2026-06: those partitions lose their files.
    let pruned = binary::run(binary::poolhist_with_key(&db, "unused").args([
        "db",
        "prune",
        "--before",
        "2026-06-01",
        "--dimension",
        "1d",
        "--yes",
    ]));
    assert!(pruned.status.success(), "{}", binary::stderr_of(&pruned));
    let summary = summary_of(&export(&db, &out, &[]));
    assert!(!summary.contains(" 0 removed"), "{summary}");
    assert!(months_1d(&out) < before);
    assert_tree_holds_the_database(&db, &out);

    // A partition file deleted by hand is written again by the next export.
    let (lost, _) = parquet_files(&out).into_iter().next().unwrap();
    fs::remove_file(out.join(&lost)).unwrap();
    let summary = summary_of(&export(&db, &out, &[]));
    assert!(
        summary.contains(": 1 partition file(s) written"),
        "{summary}"
    );
    assert!(out.join(&lost).exists());

    // --full rewrites everything.
    let summary = summary_of(&export(&db, &out, &["--full"]));
    let files = parquet_files(&out).len();
    assert!(
        summary.contains(&format!(": {files} partition file(s) written")),
        "{summary}"
    );
}

#[test]
fn a_killed_export_leaves_every_partition_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path());
    let out = dir.path().join("export");
    export(&db, &out, &[]);
    let old = parquet_files(&out);

    // Every point changes: the documented way after a hand edit stamps every partition.
    let conn = Connection::open(&db).unwrap();
    conn.execute("UPDATE tickers SET hashrate_hs = hashrate_hs * 2", [])
        .unwrap();
    conn.execute_batch(include_str!("../queries/rebuild_hourly_by_day.sql"))
        .unwrap();
    drop(conn);
    // What a complete export of the new data writes (the files are deterministic).
    let reference = dir.path().join("reference");
    let started = Instant::now();
    export(&db, &reference, &[]);
    let full_time = started.elapsed();
    let new = parquet_files(&reference);
    assert_eq!(new.len(), old.len());
    assert!(new
        .iter()
        .filter(|(path, _)| !path.starts_with("workers/"))
        .all(|(path, bytes)| old[path] != *bytes));

    let mut interrupted = 0;
    for step in 0..8u32 {
        let mut child = binary::poolhist_with_key(&db, "unused")
            .args(["export", "parquet", "--quiet", "--out"])
            .arg(&out)
            .spawn()
            .unwrap();
        std::thread::sleep(full_time * step / 8);
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !status.success() {
            interrupted += 1;
        }
        for (path, bytes) in parquet_files(&out) {
            assert!(
                bytes == old[&path] || bytes == new[&path],
                "kill {step}: {path} is neither the old nor the new partition"
            );
        }
    }
    assert!(interrupted > 0, "no kill landed before the export finished");
    // The next export finishes the job and clears what the killed ones left.
    export(&db, &out, &[]);
    assert_eq!(parquet_files(&out), new);
    assert_eq!(temporary_files(&out), Vec::<PathBuf>::new());
    assert_tree_holds_the_database(&db, &out);
}

#[test]
fn full_exports_rows_no_write_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path());
    let out = dir.path().join("export");
    export(&db, &out, &[]);
    // A daily point of 2020-01-15 inserted by hand, into the account's daily series.
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional) \
         SELECT series_id, 1579046400, 1e15, 0.01, 0 FROM series s \
         JOIN accounts a ON a.account_id = s.account_id \
         WHERE a.pool = 'cloverpool' AND s.worker_id IS NULL AND s.dimension = '1d'",
        [],
    )
    .unwrap();
    drop(conn);
    let path = "tickers/pool=cloverpool/account=1001/dimension=1d/month=2020-01/part-0.parquet";
    export(&db, &out, &[]);
    assert!(
        !out.join(path).exists(),
        "a plain export follows the stamps only"
    );
    export(&db, &out, &["--full"]);
    assert!(out.join(path).exists());
    assert_tree_holds_the_database(&db, &out);
}

#[test]
fn one_export_of_an_account_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_demo(dir.path());
    let out = dir.path().join("export");
    let lock_dir = out.join("_manifests/pool=cloverpool");
    fs::create_dir_all(&lock_dir).unwrap();
    let lock = fs::File::create(lock_dir.join(".account=1001.lock")).unwrap();
    lock.lock().unwrap();
    let output = binary::run(
        binary::poolhist_with_key(&db, "unused")
            .args(["export", "parquet", "--out"])
            .arg(&out),
    );
    assert!(!output.status.success());
    let stderr = binary::stderr_of(&output);
    assert!(
        stderr.contains("another export of this account is writing to this directory"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    drop(lock);
}
