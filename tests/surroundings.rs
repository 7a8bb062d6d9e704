//! What surrounds the data: other applications' files left alone, output that fails is an error,
//! files written without following links, miner-chosen names kept off the terminal, private
//! files and warnings cron sees, and each error said once. All through the real binary.

mod binary;
mod report_fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use binary::{poolhist_with_key, run, stderr_of, BIN, INGEST_NOWHERE};
use report_fixture::{fixture, Fixture, PUID, T0};
use rusqlite::{params, Connection};

/// The binary with a dummy key.
fn poolhist(db: &Path) -> Command {
    poolhist_with_key(db, "r_dummy_key")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Another application's database: a table with rows, in the given journal mode.
fn foreign_database(path: &Path, journal_mode: &str) {
    let conn = Connection::open(path).unwrap();
    let mode: String = conn
        .query_row(&format!("PRAGMA journal_mode = {journal_mode}"), [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(mode.to_uppercase(), journal_mode);
    conn.execute_batch(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
         INSERT INTO notes (body) VALUES ('first'), ('second'), ('third');",
    )
    .unwrap();
}

#[test]
fn a_foreign_database_is_left_byte_identical_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    for journal_mode in ["DELETE", "WAL"] {
        let db = dir.path().join(format!("other-{journal_mode}.db"));
        foreign_database(&db, journal_mode);
        let before = std::fs::read(&db).unwrap();
        let commands: [&[&str]; 5] = [
            &INGEST_NOWHERE,
            &["status"],
            &["report", "uptime", "--month", "2026-10"],
            &["sql", "SELECT count(*) FROM notes"],
            &["gaps"],
        ];
        for args in commands {
            let output = run(poolhist(&db).args(args));
            let stderr = stderr_of(&output);
            assert!(
                !output.status.success(),
                "{journal_mode} {args:?}: {stderr}"
            );
            assert_eq!(
                stderr.lines().count(),
                1,
                "{journal_mode} {args:?}: {stderr}"
            );
            assert!(
                stderr.contains("not a poolhist database")
                    && stderr.contains(&*db.to_string_lossy()),
                "{journal_mode} {args:?}: {stderr}"
            );
            assert!(
                std::fs::read(&db).unwrap() == before,
                "{journal_mode} {args:?} changed the file"
            );
            for suffix in ["-wal", "-shm", "-journal", ".lock"] {
                assert!(
                    !with_suffix(&db, suffix).exists(),
                    "{journal_mode} {args:?} left {suffix}"
                );
            }
        }
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.txt");
    std::fs::write(&db, "not a database, just some notes\n").unwrap();
    for args in [&INGEST_NOWHERE[..], &["status"]] {
        let output = run(poolhist(&db).args(args));
        let stderr = stderr_of(&output);
        assert!(!output.status.success());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("not a poolhist database"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(&db).unwrap(),
            "not a database, just some notes\n"
        );
    }
}

/// stdout opened on /dev/full: every write fails with ENOSPC.
#[cfg(target_os = "linux")]
fn to_full_disk(command: &mut Command) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    command.stdout(full).stderr(Stdio::piped());
    command.output().expect("poolhist runs")
}

#[cfg(target_os = "linux")]
#[test]
fn output_to_a_full_disk_is_an_error_in_one_line() {
    let f = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let mut cases: Vec<Vec<&str>> = Vec::new();
    for format in ["table", "csv", "json", "markdown"] {
        cases.push(vec!["sql", "SELECT 1", "--format", format]);
        cases.push(vec!["status", "--format", format]);
        cases.push(vec!["gaps", "--format", format]);
        cases.push(vec![
            "report", "uptime", "--month", "2026-10", "--format", format,
        ]);
        cases.push(vec![
            "report",
            "reject-rate",
            "--month",
            "2026-10",
            "--format",
            format,
        ]);
    }
    cases.push(vec![
        "report", "monthly", "--month", "2026-10", "--out", out,
    ]);
    for args in cases {
        let output = to_full_disk(poolhist(&f.path).args(&args));
        assert!(!output.status.success(), "{args:?} exited 0");
        assert_eq!(
            stderr_of(&output),
            "error: cannot write the output: No space left on device\n",
            "{args:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_stops_the_output_quietly() {
    let f = fixture();
    let mut child = poolhist(&f.path)
        .args([
            "sql",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) \
             SELECT i, 'a row long enough to fill the pipe buffer quickly' FROM n",
            "--format",
            "csv",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -1`: read a little, then close the read end.
    {
        use std::io::Read as _;
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        stdout.read_exact(&mut first).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(stderr_of(&output), "", "nothing said on a closed pipe");
    assert!(output.status.success(), "{:?}", output.status);
}

#[cfg(unix)]
#[test]
fn monthly_report_does_not_follow_a_symlink_onto_another_file() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    std::fs::create_dir(&out).unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let link = out.join("poolhist-2026-10.md");
    std::os::unix::fs::symlink(&victim, &link).unwrap();

    let output = run(poolhist(&f.path)
        .args(["report", "monthly", "--month", "2026-10", "--out"])
        .arg(&out));
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("symbolic link") && stderr.contains(&*link.to_string_lossy()),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[cfg(unix)]
#[test]
fn monthly_report_replaces_its_files_instead_of_writing_through_them() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    std::fs::create_dir(&out).unwrap();
    // A hard link shares the inode: writing in place would change the victim too.
    let victim = dir.path().join("victim.html");
    std::fs::write(&victim, "precious\n").unwrap();
    let html = out.join("poolhist-2026-10.html");
    std::fs::hard_link(&victim, &html).unwrap();
    let csv = out.join("poolhist-2026-10-totals.csv");
    std::fs::write(&csv, "old").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&csv, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let output = run(poolhist(&f.path)
        .args(["report", "monthly", "--month", "2026-10", "--csv", "--out"])
        .arg(&out));
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(std::fs::read_to_string(&html).unwrap().contains("<html"));
    assert_ne!(std::fs::read_to_string(&csv).unwrap(), "old");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode_of(&path), 0o600, "{}", path.display());
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    assert!(
        names.iter().all(|n| n.starts_with("poolhist-2026-10")),
        "no temporary file is left behind: {names:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_symlinked_lock_path_is_refused_and_its_target_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("farm.db");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let lock = with_suffix(&db, ".lock");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();

    let output = run(poolhist(&db).args(INGEST_NOWHERE));
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("symbolic link") && stderr.contains(&*lock.to_string_lossy()),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

const HOSTILE_NAME: &str = "rig\x1b[31m\x07\x00\u{202e}x";

/// The report fixture plus worker 99, named with terminal escapes, up on 2026-10-01 but for a
/// hole at 12:00 (so `gaps` lists it).
fn fixture_with_hostile_worker() -> Fixture {
    let f = fixture();
    f.conn
        .execute(
            "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, first_seen, last_seen)
             VALUES (?1, 99, ?2, 1, 'ACTIVE', ?3, ?3)",
            params![PUID, HOSTILE_NAME, T0],
        )
        .unwrap();
    f.conn
        .execute(
            "INSERT INTO series (account_id, worker_id, dimension, watermark_ts, last_synced_at)
             VALUES (?1, 99, '1h', ?2, ?2)",
            params![PUID, T0 + 23 * 3600],
        )
        .unwrap();
    let series = f.conn.last_insert_rowid();
    for hour in (0..24).filter(|h| *h != 12) {
        f.conn
            .execute(
                "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional)
                 VALUES (?1, ?2, 1e12, 0.01, 0)",
                params![series, T0 + hour * 3600],
            )
            .unwrap();
    }
    poolhist::store::rebuild_hourly_by_day(&f.conn).unwrap();
    f
}

fn assert_no_terminal_controls(text: &str, what: &str) {
    for c in text.chars() {
        let is_line_break = c == '\n' || c == '\r';
        assert!(
            is_line_break || !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "{what} prints {:?} raw:\n{text}",
            c
        );
    }
}

#[test]
fn worker_names_cannot_drive_the_terminal() {
    let f = fixture_with_hostile_worker();
    let sql = "SELECT worker_name FROM v_workers WHERE worker_id = 99";
    for format in ["table", "csv", "markdown"] {
        for args in [
            vec!["sql", sql, "--format", format],
            vec!["report", "uptime", "--month", "2026-10", "--format", format],
            vec![
                "report",
                "reject-rate",
                "--month",
                "2026-10",
                "--format",
                format,
            ],
        ] {
            let output = run(poolhist(&f.path).args(&args));
            assert!(output.status.success(), "{args:?}: {}", stderr_of(&output));
            let stdout = String::from_utf8(output.stdout).unwrap();
            assert_no_terminal_controls(&stdout, &format!("{args:?}"));
            assert!(
                stdout.contains(r"\x1b") && stdout.contains(r"\u{202e}"),
                "{args:?} shows the escapes visibly:\n{stdout}"
            );
        }
    }
    // JSON keeps the name exactly, with the invisible characters as JSON escapes.
    let output = run(poolhist(&f.path).args(["sql", sql, "--format", "json"]));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_no_terminal_controls(&stdout, "sql --format json");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows[0]["worker_name"], HOSTILE_NAME);
}

#[test]
fn status_and_gaps_show_stored_text_escaped() {
    let f = fixture_with_hostile_worker();
    f.conn
        .execute(
            "INSERT INTO ingest_runs (run_id, started_at, finished_at, status, puids, series_synced,
                                      requests, tickers_fetched, rows_new, rows_updated, gaps_found,
                                      error)
             VALUES (99, ?1, ?1, 'failed', '1001', 0, 0, 0, 0, 0, 0, ?2)",
            params![T0 + 5 * 86_400, format!("pool said {HOSTILE_NAME}")],
        )
        .unwrap();
    for args in [vec!["status"], vec!["gaps", "--worker", "rig*"]] {
        for format in ["table", "csv", "markdown", "json"] {
            let output = run(poolhist(&f.path).args(&args).args(["--format", format]));
            assert!(output.status.success(), "{args:?}: {}", stderr_of(&output));
            let stdout = String::from_utf8(output.stdout).unwrap();
            assert_no_terminal_controls(&stdout, &format!("{args:?} {format}"));
        }
    }
}

#[cfg(unix)]
#[test]
fn the_key_file_warning_reaches_cron_even_with_quiet() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "r_dummy_key\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = run(poolhist(&dir.path().join("farm.db"))
        .env_remove("POOLHIST_ACCESS_KEY")
        .args(INGEST_NOWHERE)
        .args(["--quiet", "--access-key-file"])
        .arg(&key));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("readable by others"), "{stderr}");
    assert!(stderr.contains(&*key.to_string_lossy()), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_new_database_is_private_even_under_a_permissive_umask() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("farm.db");
    let mut command = poolhist(&db);
    command.args(INGEST_NOWHERE);
    // SAFETY: umask is async-signal-safe and touches nothing else of the child.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    run(&mut command);
    assert_eq!(mode_of(&db), 0o600);
    assert_eq!(mode_of(&with_suffix(&db, ".lock")), 0o600);

    // SQLite gives the WAL and shared-memory files the database file's mode.
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO accounts (account_id, first_seen, last_seen) VALUES (1, 0, 0)",
        [],
    )
    .unwrap();
    for suffix in ["-wal", "-shm"] {
        assert_eq!(mode_of(&with_suffix(&db, suffix)), 0o600, "{suffix}");
    }
}

#[cfg(unix)]
#[test]
fn an_empty_database_file_is_made_private_before_it_is_filled() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("farm.db");
    std::fs::write(&db, "").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    run(poolhist(&db).args(INGEST_NOWHERE));
    assert!(
        std::fs::metadata(&db).unwrap().len() > 0,
        "it became a poolhist database"
    );
    assert_eq!(mode_of(&db), 0o600);
}

#[test]
fn a_sql_error_is_said_once() {
    let f = fixture();
    let output = run(poolhist(&f.path).args(["sql", "SELEC 1"]));
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr.matches(r#"near "SELEC": syntax error"#).count(),
        1,
        "{stderr}"
    );
}

#[test]
fn the_default_pool_is_cloverpool() {
    let output = run(Command::new(BIN).args(["ingest", "--help"]));
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("https://pool.api.cloverpool.com/v1"),
        "{help}"
    );
}
