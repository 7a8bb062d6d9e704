//! The real binary under real process events: `kill -9` mid-run, two ingests at once, readers
//! during an ingest, and the access key never printed, at any log level, on success or failure.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use poolhist::pools::cloverpool::sim::{self as simulate, SimConfig, Simulator};
use rusqlite::Connection;

const NOW: i64 = 1_763_641_800;
const BIN: &str = env!("CARGO_BIN_EXE_poolhist");

struct Pool {
    url: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start_pool(workers: u32) -> Pool {
    let sim = Arc::new(Simulator::new(SimConfig {
        workers,
        seed: 9,
        now: Some(NOW),
        ..SimConfig::default()
    }));
    let (url, server) = simulate::spawn_local(sim).await.expect("simulator starts");
    Pool { url, server }
}

fn ingest_command(pool_url: &str, db: &Path, key: &str, rate: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("--db")
        .arg(db)
        .args(["ingest", "--api-url", pool_url, "--puid", "1001", "--quiet"])
        .args([
            "--now",
            &NOW.to_string(),
            "--rate",
            rate,
            "--concurrency",
            "4",
        ])
        .env("POOLHIST_ACCESS_KEY", key)
        .env_remove("POOLHIST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

const KEY: &str = "r_demo_observer_key";

/// Everything an analyst can see, minus the run log (which differs by design after a kill).
fn dump(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut lines = Vec::new();
    for query in [
        "SELECT puid, worker_id, dimension, ts, printf('%.6e', hashrate_hs), printf('%.9f', reject_rate), provisional FROM v_tickers ORDER BY 1, 2, 3, 4",
        "SELECT puid, worker_id, worker_name, group_id, group_name, status FROM v_workers ORDER BY 1, 2",
        "SELECT a.puid, worker_id, dimension, watermark_ts FROM series s JOIN accounts a ON a.account_id = s.account_id ORDER BY 1, 2, 3",
    ] {
        let mut stmt = conn.prepare(query).unwrap();
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                let mut cells = Vec::new();
                for i in 0..columns {
                    let value: rusqlite::types::Value = row.get(i)?;
                    cells.push(format!("{value:?}"));
                }
                Ok(cells.join("|"))
            })
            .unwrap();
        lines.extend(rows.map(Result::unwrap));
    }
    lines
}

fn integrity(db: &Path) -> String {
    let conn = Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn run_to_end(mut command: Command) -> std::process::Output {
    let output = command.output().expect("poolhist runs");
    assert!(
        output.status.success(),
        "ingest failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_resume_to_exactly_the_data_of_an_uninterrupted_run() {
    let pool = start_pool(60).await;
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    let killed = dir.path().join("killed.db");
    run_to_end(ingest_command(&pool.url, &clean, KEY, "0"));

    // About 130 requests at 100/s: each run takes over a second, so every kill lands mid-run.
    let mut interrupted = 0;
    for delay_ms in [250, 500, 750] {
        let mut child = ingest_command(&pool.url, &killed, KEY, "100")
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert_eq!(interrupted, 3, "every kill should land mid-run");
    assert_eq!(integrity(&killed), "ok");
    let partial: i64 = Connection::open(&killed)
        .unwrap()
        .query_row("SELECT count(*) FROM tickers", [], |r| r.get(0))
        .unwrap();
    assert!(partial > 0, "the killed runs committed pages");

    run_to_end(ingest_command(&pool.url, &killed, KEY, "0"));
    assert_eq!(integrity(&killed), "ok");
    assert_eq!(dump(&killed), dump(&clean));
    let conn = Connection::open(&killed).unwrap();
    let stale = poolhist::store::hourly_by_day_mismatches(&conn).unwrap();
    assert!(stale.is_empty(), "per-day summary out of step: {stale:?}");
    let conn = Connection::open(&killed).unwrap();
    let interrupted_logged: i64 = conn
        .query_row(
            "SELECT count(*) FROM ingest_runs WHERE status = 'failed' AND error LIKE 'interrupted%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(interrupted_logged, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_concurrent_ingest_yields_with_a_clear_message() {
    let pool = start_pool(40).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let clean = dir.path().join("clean.db");
    run_to_end(ingest_command(&pool.url, &clean, KEY, "0"));

    let first = ingest_command(&pool.url, &db, KEY, "100").spawn().unwrap();
    // Let the first take the lock, then start the second while it runs.
    let started = Instant::now();
    while !db.exists() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = ingest_command(&pool.url, &db, KEY, "0").output().unwrap();
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains("another ingest holds"), "{message}");
    assert!(message.contains("since"), "{message}");

    // Readers work while the ingest writes (WAL).
    let reader =
        Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    for _ in 0..5 {
        let _: i64 = reader
            .query_row("SELECT count(*) FROM tickers", [], |r| r.get(0))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(reader);

    let output = first.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(dump(&db), dump(&clean));

    // With --wait, a second ingest waits for the first instead of failing.
    let holder = ingest_command(&pool.url, &db, KEY, "100").spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut waiting = ingest_command(&pool.url, &db, KEY, "0");
    waiting.arg("--wait");
    let waited = waiting.output().unwrap();
    assert!(
        waited.status.success(),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    assert!(holder.wait_with_output().unwrap().status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_key_is_never_printed_at_any_log_level() {
    let pool = start_pool(5).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let wrong_key = "r_leak_canary_7f3a9c";

    let mut runs = Vec::new();
    // A wrong key: the pool refuses it (err_no 20001) and the run must fail fast.
    let mut refused = ingest_command(&pool.url, &db, wrong_key, "0");
    refused
        .env("POOLHIST_LOG", "trace")
        .arg("--max-attempts")
        .arg("2");
    let started = Instant::now();
    let refused = refused.output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(text.contains("20001"), "{text}");
    runs.push(("refused", refused, wrong_key));
    // An unreachable pool: transport errors, retried, then a failure.
    let mut unreachable = ingest_command("http://127.0.0.1:9/v1", &db, wrong_key, "0");
    unreachable
        .env("POOLHIST_LOG", "trace")
        .args(["--max-attempts", "2", "--timeout", "2"]);
    runs.push(("unreachable", unreachable.output().unwrap(), wrong_key));
    // A successful run with the right key, at the most verbose level.
    let mut verbose = ingest_command(&pool.url, &db, KEY, "0");
    verbose.env("POOLHIST_LOG", "trace");
    runs.push(("verbose", verbose.output().unwrap(), KEY));

    for (name, output, key) in &runs {
        let all = [output.stdout.as_slice(), output.stderr.as_slice()].concat();
        let text = String::from_utf8_lossy(&all);
        assert!(!text.contains(key), "{name}: the key leaked:\n{text}");
    }
    assert!(!runs[1].1.stderr.is_empty() && !runs[1].1.status.success());
    assert!(runs[2].1.status.success());
    // The trace level really was on: the check above read plenty of log lines.
    assert!(String::from_utf8_lossy(&runs[2].1.stderr).lines().count() > 10);
    let db_bytes = std::fs::read(&db).unwrap();
    assert!(!db_bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()));
}

/// SIGTERM and Ctrl-C stop a run cleanly: what was fetched is committed, the run is recorded as
/// interrupted (not left `running`), one line says so, and the exit code is 128 + the signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_commits_what_is_in_hand_and_records_the_run_as_interrupted() {
    let pool = start_pool(40).await;
    let dir = tempfile::tempdir().unwrap();
    for (signal, name, code) in [
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGINT, "SIGINT", 130),
    ] {
        let db = dir.path().join(format!("{name}.db"));
        // 20 requests a second: the run takes several seconds.
        let child = ingest_command(&pool.url, &db, KEY, "20").spawn().unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let stored = db.exists()
                && Connection::open(&db)
                    .and_then(|c| {
                        c.query_row("SELECT count(*) FROM tickers", [], |r| r.get::<_, i64>(0))
                    })
                    .unwrap_or(0)
                    > 0;
            if stored {
                break;
            }
        }
        unsafe { libc::kill(child.id() as i32, signal) };
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
        assert!(
            stderr.contains(&format!("interrupted by {name}")),
            "{stderr}"
        );
        let conn = Connection::open(&db).unwrap();
        let (status, error): (String, String) = conn
            .query_row(
                "SELECT status, error FROM ingest_runs ORDER BY run_id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(status, "failed", "{name}");
        assert!(error.contains(&format!("interrupted by {name}")), "{error}");
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM tickers", [], |r| r.get(0))
            .unwrap();
        assert!(rows > 0, "{name}: what was fetched is committed");
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }
}
