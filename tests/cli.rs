//! The command line as a user meets it: `--help` texts (snapshotted so the reference cannot
//! drift), one-line errors for bad input, and `simulate` announcing its address.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_poolhist");

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("POOLHIST_ACCESS_KEY")
        .env_remove("POOLHIST_DB")
        .env_remove("POOLHIST_PUID")
        .env_remove("POOLHIST_API_URL")
        .env_remove("POOLHIST_ACCESS_KEY_FILE")
        .output()
        .expect("poolhist runs")
}

fn help_of(args: &[&str]) -> String {
    let output = run(args);
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn help_texts_are_stable() {
    insta::assert_snapshot!("help", help_of(&["--help"]));
    insta::assert_snapshot!("ingest_help", help_of(&["ingest", "--help"]));
    insta::assert_snapshot!("simulate_help", help_of(&["simulate", "--help"]));
    insta::assert_snapshot!("demo_help", help_of(&["demo", "--help"]));
    insta::assert_snapshot!("report_help", help_of(&["report", "--help"]));
    insta::assert_snapshot!(
        "report_uptime_help",
        help_of(&["report", "uptime", "--help"])
    );
    insta::assert_snapshot!(
        "report_reject_rate_help",
        help_of(&["report", "reject-rate", "--help"])
    );
    insta::assert_snapshot!(
        "report_monthly_help",
        help_of(&["report", "monthly", "--help"])
    );
    insta::assert_snapshot!("sql_help", help_of(&["sql", "--help"]));
    insta::assert_snapshot!("status_help", help_of(&["status", "--help"]));
    insta::assert_snapshot!("gaps_help", help_of(&["gaps", "--help"]));
}

#[test]
fn ingest_without_a_key_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let output = run(&["--db", db.to_str().unwrap(), "ingest", "--puid", "1"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("POOLHIST_ACCESS_KEY"), "{stderr}");
    assert!(
        !db.exists(),
        "no database is created before the key is known"
    );
}

#[test]
fn a_foreign_database_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE notes(x); INSERT INTO notes VALUES (1);")
        .unwrap();
    let output = Command::new(BIN)
        .args([
            "--db",
            db.to_str().unwrap(),
            "ingest",
            "--puid",
            "1",
            "--api-url",
            "http://127.0.0.1:9/v1",
        ])
        .env("POOLHIST_ACCESS_KEY", "k")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a poolhist database"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let notes: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(notes, 1, "the foreign file is untouched");
}

#[test]
fn bad_since_is_a_clear_error() {
    let output = Command::new(BIN)
        .args(["ingest", "--puid", "1", "--since", "yesterday-ish"])
        .env("POOLHIST_ACCESS_KEY", "k")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--since yesterday-ish"), "{stderr}");
}

#[test]
fn simulate_announces_its_address_first_and_serves() {
    let mut child = Command::new(BIN)
        .args(["simulate", "--listen", "127.0.0.1:0", "--workers", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let url = first_line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first_line:?}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"),
        "{url}"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = runtime.block_on(async {
        reqwest::get(format!(
            "{url}/worker/stats?access_key=r_demo_observer_key&puid=1001"
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(body.contains("\"err_no\":0"), "{body}");
}
