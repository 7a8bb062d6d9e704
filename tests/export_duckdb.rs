//! The Parquet tree read by DuckDB: `queries/duckdb/*.sql` give the numbers `poolhist report`
//! gives on the same data, and every stored row is there. DuckDB runs through its Python package
//! (`tests/duckdb/requirements.txt`, installed by `.ci/run`); without it the test says so and
//! passes, except under CI, where it fails.

mod binary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const ODD_ACCOUNT: &str = "farm/1 ü%";

fn poolhist(db: &Path, args: &[&str]) -> Vec<u8> {
    let output = binary::run(binary::poolhist_with_key(db, "unused").args(args));
    assert!(
        output.status.success(),
        "{args:?}: {}",
        binary::stderr_of(&output)
    );
    output.stdout
}

/// `tests/duckdb/run_queries.py`: None when DuckDB is not installed here (and not under CI).
fn duckdb(out: &Path, query: &str, from: i64, to: i64, filter: &[&str]) -> Option<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/duckdb/run_queries.py");
    let output = Command::new("python3")
        .arg(script)
        .arg("--dir")
        .arg(out)
        .args([
            "--query",
            query,
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
        ])
        .args(filter)
        .output()
        .expect("python3 runs");
    if output.status.code() == Some(77) {
        let why = String::from_utf8_lossy(&output.stderr);
        assert!(
            std::env::var_os("CI").is_none(),
            "DuckDB is missing under CI ({why}): .ci/run installs tests/duckdb/requirements.txt"
        );
        eprintln!("skipped: {why}");
        return None;
    }
    assert!(
        output.status.success(),
        "{query}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).expect("JSON from run_queries.py"))
}

fn demo(dir: &Path) -> (PathBuf, PathBuf, i64) {
    let db = dir.join("demo.db");
    let report = dir.join("report");
    poolhist(
        &db,
        &[
            "demo",
            "--workers",
            "60",
            "--foundry-workers",
            "20",
            "--out",
            report.to_str().unwrap(),
        ],
    );
    // A sub-account name with characters a path must escape (DuckDB decodes them back).
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE accounts SET account = ?1 WHERE pool = 'foundry'",
        [ODD_ACCOUNT],
    )
    .unwrap();
    drop(conn);
    let out = dir.join("export");
    poolhist(&db, &["export", "parquet", "--out", out.to_str().unwrap()]);
    assert!(out
        .join("tickers/pool=foundry/account=farm%2F1 ü%25")
        .is_dir());
    let now = chrono::Utc::now().timestamp();
    (db, out, now)
}

fn iso(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn as_f64(value: &Value) -> Option<f64> {
    value.as_f64()
}

fn assert_close(what: &str, left: Option<f64>, right: Option<f64>) {
    match (left, right) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12),
            "{what}: {a} (report) against {b} (DuckDB)"
        ),
        _ => panic!("{what}: {left:?} (report) against {right:?} (DuckDB)"),
    }
}

/// Rows keyed by `key` (the worker, or the day).
fn by_key(rows: &Value, key: impl Fn(&Value) -> String) -> BTreeMap<String, Value> {
    rows.as_array()
        .expect("a list of rows")
        .iter()
        .map(|row| (key(row), row.clone()))
        .collect()
}

fn worker_key(row: &Value) -> String {
    format!("{}/{}/{}", row["pool"], row["account"], row["worker_id"])
}

#[test]
fn duckdb_over_the_parquet_tree_gives_the_reports_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (db, out, now) = demo(dir.path());
    let today = now / DAY * DAY;
    // Whole past days, a period with partial days at both ends, and one pool's account.
    let periods: Vec<(i64, i64, Vec<&str>)> = vec![
        (today - 30 * DAY, today, vec![]),
        (
            today - 9 * DAY - 5 * HOUR,
            today - 2 * DAY + 7 * HOUR,
            vec![],
        ),
        (
            today - 20 * DAY,
            today - DAY,
            vec!["--pool", "foundry", "--account", ODD_ACCOUNT],
        ),
    ];
    for (from, to, filter) in periods {
        let period = ["--from".to_owned(), iso(from), "--to".to_owned(), iso(to)];
        let mut args: Vec<String> = period.to_vec();
        args.extend(filter.iter().map(|s| s.to_string()));
        args.extend(["--format".to_owned(), "json".to_owned()]);
        let run = |report: &[&str]| -> Value {
            let mut all: Vec<&str> = report.to_vec();
            all.extend(args.iter().map(String::as_str));
            serde_json::from_slice(&poolhist(&db, &all)).unwrap()
        };
        let Some(uptime) = duckdb(&out, "uptime", from, to, &filter) else {
            return;
        };
        let report = run(&["report", "uptime"]);
        let (left, right) = (by_key(&report, worker_key), by_key(&uptime, worker_key));
        assert_eq!(
            left.keys().collect::<Vec<_>>(),
            right.keys().collect::<Vec<_>>(),
            "the same workers"
        );
        assert!(left.len() >= 20);
        for (key, row) in &left {
            let other = &right[key];
            for field in ["hours_up", "hours_total", "outages", "longest_outage_hours"] {
                assert_eq!(
                    row[field], other[field],
                    "{key} {field} from {from} to {to}"
                );
            }
            assert_close(
                &format!("{key} uptime"),
                as_f64(&row["uptime"]),
                as_f64(&other["uptime"]),
            );
        }

        let report = run(&["report", "reject-rate"]);
        let rejects = duckdb(&out, "reject_rate", from, to, &filter).unwrap();
        let (left, right) = (by_key(&report, worker_key), by_key(&rejects, worker_key));
        assert_eq!(left.len(), right.len(), "the same workers");
        for (key, row) in &left {
            let other = &right[key];
            for field in ["hours_1h", "days_1d"] {
                assert_eq!(row[field], other[field], "{key} {field}");
            }
            for field in ["reject_rate", "accepted_hashes"] {
                assert_close(
                    &format!("{key} {field}"),
                    as_f64(&row[field]),
                    as_f64(&other[field]),
                );
            }
        }

        let report = run(&["report", "reject-rate", "--by", "day"]);
        let by_day = duckdb(&out, "reject_rate_by_day", from, to, &filter).unwrap();
        let report_day = |row: &Value| row["day"].as_str().unwrap_or_default().to_owned();
        let duckdb_day = |row: &Value| {
            let day_ts = row["day_ts"].as_i64().expect("day_ts");
            iso(day_ts)[..10].to_owned()
        };
        let (left, right) = (by_key(&report, report_day), by_key(&by_day, duckdb_day));
        assert_eq!(
            left.keys().collect::<Vec<_>>(),
            right.keys().collect::<Vec<_>>()
        );
        for (day, row) in &left {
            let other = &right[day];
            assert_eq!(row["workers_on_1d"], other["workers_on_1d"], "{day}");
            for field in ["reject_rate", "accepted_hashes"] {
                assert_close(
                    &format!("{day} {field}"),
                    as_f64(&row[field]),
                    as_f64(&other[field]),
                );
            }
        }
    }

    // Every stored point, as DuckDB reads it from the tree.
    let rows = duckdb(&out, "rows", 0, i64::from(i32::MAX), &[]).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT a.pool, a.account, s.dimension, s.worker_id, t.ts, t.hashrate_hs, \
                    t.reject_rate, t.provisional = 1 \
             FROM tickers t JOIN series s USING (series_id) \
             JOIN accounts a ON a.account_id = s.account_id",
        )
        .unwrap();
    let stored: BTreeMap<String, (f64, f64, bool)> = stmt
        .query_map([], |r| {
            Ok((
                format!(
                    "{}/{}/{}/{:?}/{}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, i64>(4)?
                ),
                (r.get(5)?, r.get(6)?, r.get(7)?),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let read: BTreeMap<String, (f64, f64, bool)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}/{}/{}/{:?}/{}",
                    r["pool"].as_str().unwrap(),
                    r["account"].as_str().unwrap(),
                    r["dimension"].as_str().unwrap(),
                    r["worker_id"].as_i64(),
                    r["ts"].as_i64().unwrap()
                ),
                (
                    r["hashrate_hs"].as_f64().unwrap(),
                    r["reject_rate"].as_f64().unwrap(),
                    r["provisional"].as_bool().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(read.len(), rows.as_array().unwrap().len(), "no row twice");
    assert_eq!(read, stored, "every row, bit for bit");
}
