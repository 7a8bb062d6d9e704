//! `poolhist db`: what a long-lived database needs now and then.
//!
//! - `check`: SQLite's integrity and foreign-key checks, the schema version and whether the
//!   `hourly_by_day` summary agrees with the tickers; read-only unless `--repair-summary`.
//! - `vacuum`: gives the space of deleted rows back to the filesystem, under the ingest lock.
//! - `prune`: deletes history the user no longer wants, only what an explicit selector names,
//!   and only with `--yes` (a dry run otherwise).
//!
//! Every write here holds the ingest lock (no ingest runs meanwhile) and the alerts lock (an
//! alert evaluation waits for us instead of failing on a busy database after its timeout).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use rusqlite::{Connection, OpenFlags, ToSql};

use super::lock::{self, IngestLock, LockError};
use super::open::{known_schema_version, open, open_read_only, StoreError};
use super::write::{hourly_by_day_mismatches, rebuild_hourly_by_day, CHECK_HOURLY_BY_DAY_SQL};
use crate::model::Dimension;
use crate::report::output::print;
use crate::report::render::{escape_controls, format_date};
use crate::report::{AccountArgs, AccountFilter, ReportError};

/// `poolhist db ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DbCommand {
    /// Integrity and foreign-key checks, the schema version, and whether the hourly_by_day
    /// summary agrees with the tickers; exit 0 when all is well, 1 listing each problem
    Check(CheckArgs),
    /// Give the space of deleted rows back to the filesystem (VACUUM), while no ingest runs
    Vacuum(VacuumArgs),
    /// Delete history you no longer want, chosen by --before and/or --workers-gone-since;
    /// a dry run listing what would go unless --yes
    Prune(PruneArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// PRAGMA quick_check instead of integrity_check: faster on a large database, skips
    /// checking that indexes match their tables
    #[arg(long)]
    pub quick: bool,
    /// When hourly_by_day disagrees with the tickers, rebuild it from them (one transaction,
    /// under the ingest lock)
    #[arg(long)]
    pub repair_summary: bool,
    /// With --repair-summary: if an ingest holds the database, wait for it instead of failing
    #[arg(long, requires = "repair_summary")]
    pub wait: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct VacuumArgs {
    /// If an ingest holds the database, wait for it instead of failing at once
    #[arg(long)]
    pub wait: bool,
    /// Print nothing but errors (no progress, no summary)
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PruneArgs {
    /// Delete tickers of the days before this UTC date (YYYY-MM-DD), with their hourly_by_day
    /// rows
    #[arg(long, value_name = "DATE")]
    pub before: Option<String>,
    /// With --before: only the series of this dimension
    #[arg(long, value_name = "DIM", value_parser = ["1h", "1d"])]
    pub dimension: Option<String>,
    /// Delete the workers no ingest has listed since this UTC date (YYYY-MM-DD), with their
    /// series, tickers, hourly_by_day rows and history gaps
    #[arg(long, value_name = "DATE")]
    pub workers_gone_since: Option<String>,
    #[command(flatten)]
    pub accounts: AccountArgs,
    /// Delete (in one transaction); without it, only say what would be deleted
    #[arg(long)]
    pub yes: bool,
    /// With --yes: if an ingest holds the database, wait for it instead of failing at once
    #[arg(long, requires = "yes")]
    pub wait: bool,
}

/// `db check` found problems: each is listed on stdout already; this is the last line.
#[derive(Debug, thiserror::Error)]
#[error("db check: {count} problem{} in {db}", if *.count == 1 { "" } else { "s" })]
pub struct CheckFailed {
    pub count: usize,
    pub db: String,
}

/// Runs `poolhist db ...` against the database at `db`.
pub fn run(db: &Path, command: &DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Check(args) => {
            let report = check(db, args)?;
            print(&report.text())?;
            match report.problems() {
                0 => Ok(()),
                count => Err(CheckFailed {
                    count,
                    db: db.display().to_string(),
                }
                .into()),
            }
        }
        DbCommand::Vacuum(args) => {
            let outcome = vacuum(db, args)?;
            if !args.quiet {
                print(&outcome.text(db))?;
            }
            Ok(())
        }
        DbCommand::Prune(args) => {
            let outcome = prune(db, args, chrono::Utc::now().timestamp())?;
            print(&outcome.text(db))?;
            Ok(())
        }
    }
}

fn require_database(db: &Path) -> Result<(), ReportError> {
    if db.exists() {
        Ok(())
    } else {
        Err(ReportError::NoDatabase(db.display().to_string()))
    }
}

/// A connection for writing a database that already exists at this binary's schema: checked
/// read-only first, so a foreign file, one without data, or an older schema is refused before
/// anything writes (`open` alone would migrate an older one). Foreign keys on, WAL.
pub fn open_for_writing(db: &Path) -> anyhow::Result<Connection> {
    drop(open_read_only(db)?);
    Ok(open(db)?)
}

/// The ingest lock (waiting for a running ingest with `wait`, as `ingest --wait` does), then
/// the alerts lock. Same order as `ingest --alerts`, so the two never wait on each other.
fn take_locks(db: &Path, wait: bool) -> anyhow::Result<(IngestLock, IngestLock)> {
    let mut said_waiting = false;
    let ingest = loop {
        match lock::acquire(db) {
            Err(LockError::Held { since, .. }) if wait => {
                if !said_waiting {
                    tracing::info!("waiting for the ingest running since {since}");
                    said_waiting = true;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            other => break other?,
        }
    };
    let alerts = lock::acquire_alerts(db)?;
    Ok((ingest, alerts))
}

/// The highest migration applied (0: none).
fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    let has_history: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'refinery_schema_history'",
        [],
        |r| r.get(0),
    )?;
    if !has_history {
        return Ok(0);
    }
    conn.query_row(
        "SELECT IFNULL(MAX(version), 0) FROM refinery_schema_history",
        [],
        |r| r.get(0),
    )
}

// ---------------------------------------------------------------------------------------------
// check

/// One line of `db check`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckLine {
    Ok(String),
    Problem(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub lines: Vec<CheckLine>,
}

impl CheckReport {
    fn ok(&mut self, text: impl Into<String>) {
        self.lines.push(CheckLine::Ok(text.into()));
    }

    fn problem(&mut self, text: impl Into<String>) {
        self.lines.push(CheckLine::Problem(text.into()));
    }

    pub fn problems(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| matches!(l, CheckLine::Problem(_)))
            .count()
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let (prefix, text) = match line {
                CheckLine::Ok(text) => ("", text),
                CheckLine::Problem(text) => ("problem: ", text),
            };
            out.push_str(prefix);
            out.push_str(&escape_controls(text));
            out.push('\n');
        }
        if self.problems() == 0 {
            out.push_str("all checks passed\n");
        }
        out
    }
}

/// Mismatching days listed one per line, at most this many; the rest are counted.
const MISMATCHES_LISTED: usize = 10;

/// Runs every check on `db`, read-only; with `--repair-summary`, rebuilds a summary found to
/// disagree. Problems are lines of the report; `Err` only when the checks could not run.
pub fn check(db: &Path, args: &CheckArgs) -> anyhow::Result<CheckReport> {
    require_database(db)?;
    let mut report = CheckReport::default();
    let known = known_schema_version();
    let conn = match open_read_only(db) {
        Ok(conn) => conn,
        // Older than this binary: still worth checking for damage, read-only.
        Err(StoreError::TooOld { .. }) => {
            Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
                StoreError::Open {
                    path: db.to_owned(),
                    source,
                }
            })?
        }
        Err(e) => return Err(e.into()),
    };
    let sql_context = || format!("checking {}", db.display());
    conn.busy_timeout(Duration::from_secs(10))
        .with_context(sql_context)?;

    let version = schema_version(&conn).with_context(sql_context)?;
    match version.cmp(&known) {
        std::cmp::Ordering::Equal => report.ok(format!("schema version: {version} (current)")),
        std::cmp::Ordering::Less => report.problem(format!(
            "schema version: {version}, older than this poolhist's {known}: \
             run `poolhist ingest` once to upgrade it"
        )),
        std::cmp::Ordering::Greater => report.ok(format!(
            "schema version: {version}, newer than this poolhist's {known} \
             (checked what this version knows)"
        )),
    }

    let pragma = if args.quick {
        "quick_check"
    } else {
        "integrity_check"
    };
    let mut damaged = false;
    match pragma_rows(&conn, &format!("PRAGMA {pragma}"), |r| {
        r.get::<_, String>(0)
    }) {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => report.ok(format!("{pragma}: ok")),
        Ok(rows) => {
            damaged = true;
            for row in rows {
                report.problem(format!("{pragma}: {row}"));
            }
        }
        Err(e) => {
            damaged = true;
            report.problem(format!("{pragma} could not finish: {e}"));
        }
    }

    match pragma_rows(&conn, "PRAGMA foreign_key_check", |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, String>(2)?,
        ))
    }) {
        Ok(rows) if rows.is_empty() => report.ok("foreign_key_check: ok"),
        Ok(rows) => {
            for (table, rowid, parent) in rows {
                let row = rowid.map_or_else(|| "a row".to_owned(), |id| format!("row {id}"));
                report.problem(format!(
                    "foreign_key_check: {row} of {table} refers to a row of {parent} that does not exist"
                ));
            }
        }
        Err(e) => report.problem(format!("foreign_key_check could not finish: {e}")),
    }

    if version < 2 {
        report.ok("hourly_by_day: not in this schema version; not checked");
        return Ok(report);
    }
    let mismatches = match summary_mismatches(&conn) {
        Ok(rows) => rows,
        Err(e) => {
            report.problem(format!("hourly_by_day check could not finish: {e}"));
            return Ok(report);
        }
    };
    if mismatches.is_empty() {
        let (days, series): (i64, i64) = conn
            .query_row(
                "SELECT count(*), count(DISTINCT series_id) FROM hourly_by_day",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .with_context(sql_context)?;
        report.ok(format!(
            "hourly_by_day: ok ({days} days of {series} hourly series agree with the tickers)"
        ));
        return Ok(report);
    }
    if !args.repair_summary {
        list_mismatches(&conn, &mismatches, &mut report);
        report.problem(format!(
            "hourly_by_day: {} to repair: `poolhist db check --repair-summary` rebuilds it from the tickers",
            days_of_series(&mismatches)
        ));
        return Ok(report);
    }
    if damaged || version != known {
        list_mismatches(&conn, &mismatches, &mut report);
        report.problem(format!(
            "hourly_by_day: {} off, not rebuilt: {}",
            days_of_series(&mismatches),
            if damaged {
                "the database failed its integrity check (restore a backup first)"
            } else {
                "the schema is not this poolhist's (run `poolhist ingest` once first)"
            }
        ));
        return Ok(report);
    }
    drop(conn);
    repair_summary(db, args.wait, &mut report)?;
    Ok(report)
}

fn pragma_rows<T>(
    conn: &Connection,
    sql: &str,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], map)?;
    rows.collect()
}

/// (series_id, day_ts, problem) of every day the summary disagrees with the tickers
/// (queries/check_hourly_by_day.sql).
fn summary_mismatches(conn: &Connection) -> rusqlite::Result<Vec<(i64, i64, String)>> {
    pragma_rows(conn, CHECK_HOURLY_BY_DAY_SQL, |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

fn days_of_series(mismatches: &[(i64, i64, String)]) -> String {
    let series: std::collections::BTreeSet<i64> = mismatches.iter().map(|m| m.0).collect();
    format!(
        "{} day{} of {} series",
        mismatches.len(),
        if mismatches.len() == 1 { "" } else { "s" },
        series.len()
    )
}

fn list_mismatches(conn: &Connection, mismatches: &[(i64, i64, String)], report: &mut CheckReport) {
    for (series_id, day_ts, problem) in mismatches.iter().take(MISMATCHES_LISTED) {
        let what = match problem.as_str() {
            "missing" => "has tickers but no hourly_by_day row",
            "extra" => "has an hourly_by_day row but no final tickers",
            _ => "has an hourly_by_day row that differs from its tickers",
        };
        report.problem(format!(
            "hourly_by_day: series {series_id} ({}), {}: {what}",
            series_label(conn, *series_id),
            format_date(*day_ts)
        ));
    }
    if mismatches.len() > MISMATCHES_LISTED {
        report.problem(format!(
            "hourly_by_day: and {} more days",
            mismatches.len() - MISMATCHES_LISTED
        ));
    }
}

/// "cloverpool/1001 worker rig-01, 1h", "cloverpool/1001 account, 1h".
fn series_label(conn: &Connection, series_id: i64) -> String {
    conn.query_row(
        "SELECT a.pool, a.account, s.worker_id, w.worker_name, s.dimension FROM series s \
         LEFT JOIN accounts a ON a.account_id = s.account_id \
         LEFT JOIN workers w ON w.account_id = s.account_id AND w.worker_id = s.worker_id \
         WHERE s.series_id = ?1",
        [series_id],
        |r| {
            let pool: Option<String> = r.get(0)?;
            let account: Option<String> = r.get(1)?;
            let worker_id: Option<i64> = r.get(2)?;
            let name: Option<String> = r.get(3)?;
            let dimension: String = r.get(4)?;
            let account = format!(
                "{}/{}",
                pool.as_deref().unwrap_or("?"),
                account.as_deref().unwrap_or("?")
            );
            Ok(match (worker_id, name) {
                (None, _) => format!("{account} account, {dimension}"),
                (Some(_), Some(name)) => format!("{account} worker {name}, {dimension}"),
                (Some(id), None) => format!("{account} worker id {id}, {dimension}"),
            })
        },
    )
    .unwrap_or_else(|_| "not in series".to_owned())
}

/// Rebuilds `hourly_by_day` under the locks, counting what was off there (an ingest may have
/// run since the read-only check), and checks the result.
fn repair_summary(db: &Path, wait: bool, report: &mut CheckReport) -> anyhow::Result<()> {
    let _locks = take_locks(db, wait)?;
    let conn = open_for_writing(db)?;
    let context = || format!("rebuilding hourly_by_day in {}", db.display());
    let before = summary_mismatches(&conn).with_context(context)?;
    if before.is_empty() {
        report.ok("hourly_by_day: ok (it agreed with the tickers by the time the lock was taken)");
        return Ok(());
    }
    // queries/rebuild_hourly_by_day.sql: one transaction (BEGIN ... COMMIT).
    rebuild_hourly_by_day(&conn).with_context(context)?;
    let after = hourly_by_day_mismatches(&conn).with_context(context)?;
    if after.is_empty() {
        report.ok(format!(
            "hourly_by_day: rebuilt from the tickers in one transaction; {} were off, \
             it agrees with the tickers now",
            days_of_series(&before)
        ));
    } else {
        report.problem(format!(
            "hourly_by_day: still {} days off after the rebuild",
            after.len()
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// vacuum

/// What `db vacuum` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacuumOutcome {
    /// The database file and its WAL, before and after.
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// The WAL could not be folded back into the database (a reader held it): it will be at a
    /// later write.
    pub wal_left: bool,
}

impl VacuumOutcome {
    fn text(&self, db: &Path) -> String {
        let mut out = format!(
            "vacuumed {}: {} -> {} ({} given back to the filesystem)\n",
            escape_controls(&db.display().to_string()),
            human_bytes(self.bytes_before),
            human_bytes(self.bytes_after),
            human_bytes(self.bytes_before.saturating_sub(self.bytes_after)),
        );
        if self.wal_left {
            out.push_str(
                "a reader still holds the old pages: the WAL shrinks at the next write after it ends\n",
            );
        }
        out
    }
}

/// Vacuums `db` in place.
///
/// Plain `VACUUM` under the ingest lock, not `VACUUM INTO` a new file renamed over the old one:
/// a report or `sql` reading meanwhile holds the old file (its inode) and its WAL/shm, so after
/// a rename it would go on reading a file nobody writes, and the next writer would meet a WAL
/// that belongs to another file. Plain VACUUM rewrites the same file through the WAL like any
/// write: readers in WAL mode keep their snapshot and see the vacuumed database at their next
/// transaction. The lock keeps the ingest (the only other long writer) out; the rewrite needs
/// about the live data's size free twice: in the temporary directory (the copy SQLite builds)
/// and beside the database (the WAL it is written back through).
pub fn vacuum(db: &Path, args: &VacuumArgs) -> anyhow::Result<VacuumOutcome> {
    require_database(db)?;
    let _locks = take_locks(db, args.wait)?;
    let conn = open_for_writing(db)?;
    let context = || format!("vacuuming {}", db.display());
    let bytes_before = on_disk_bytes(db);
    let page_size: u64 = pragma_u64(&conn, "page_size").with_context(context)?;
    let page_count: u64 = pragma_u64(&conn, "page_count").with_context(context)?;
    let free_pages: u64 = pragma_u64(&conn, "freelist_count").with_context(context)?;
    let live = page_count.saturating_sub(free_pages) * page_size;
    // An empty WAL to start from: its growth is the second half of the progress, and VACUUM
    // writes into a WAL that holds no old frames.
    checkpoint(&conn).with_context(context)?;

    let temp_dir = sqlite_temp_dir();
    if let Some(problem) = space_problem(db, &temp_dir, live) {
        bail!("{problem}");
    }

    let done = std::sync::atomic::AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        if !args.quiet {
            scope.spawn(|| show_progress(db, live, &done));
        }
        let result = conn.execute_batch("VACUUM");
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        result
    });
    result.with_context(context)?;
    let wal_left = !checkpoint(&conn).with_context(context)?;
    // Cheap: statistics only where SQLite's own heuristics say queries would gain. Not a full
    // ANALYZE: the reports are tuned on plans made without sqlite_stat1, which ANALYZE adds.
    conn.execute_batch("PRAGMA optimize")
        .with_context(context)?;
    drop(conn);
    Ok(VacuumOutcome {
        bytes_before,
        bytes_after: on_disk_bytes(db),
        wal_left,
    })
}

fn pragma_u64(conn: &Connection, name: &str) -> rusqlite::Result<u64> {
    let value: i64 = conn.pragma_query_value(None, name, |r| r.get(0))?;
    Ok(u64::try_from(value).unwrap_or(0))
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`; false when a reader kept it from finishing.
fn checkpoint(conn: &Connection) -> rusqlite::Result<bool> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The database file and its WAL.
fn on_disk_bytes(db: &Path) -> u64 {
    file_len(db) + file_len(&wal_path(db))
}

/// The directory SQLite puts its temporary files in on Unix: the first of SQLITE_TMPDIR,
/// TMPDIR, /var/tmp, /usr/tmp, /tmp that is a directory we can write, else the current one.
fn sqlite_temp_dir() -> PathBuf {
    let candidates = ["SQLITE_TMPDIR", "TMPDIR"]
        .iter()
        .filter_map(|name| std::env::var_os(name).map(PathBuf::from))
        .chain(["/var/tmp", "/usr/tmp", "/tmp"].iter().map(PathBuf::from));
    for dir in candidates {
        if dir.is_dir() && fs_space::writable(&dir) {
            return dir;
        }
    }
    PathBuf::from(".")
}

/// Why there is clearly not room to vacuum `db` (`live` bytes of data), or None when there is
/// (or the free space cannot be read: then SQLite says so itself if it runs out).
fn space_problem(db: &Path, temp_dir: &Path, live: u64) -> Option<String> {
    let db_dir = match db.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let db_space = fs_space::of(&db_dir)?;
    let temp_space = fs_space::of(temp_dir)?;
    let needs: Vec<(&Path, u64, u64, &str)> = if db_space.device == temp_space.device {
        vec![(
            db_dir.as_path(),
            2 * live,
            db_space.free,
            "its temporary copy and the WAL it is written back through",
        )]
    } else {
        vec![
            (temp_dir, live, temp_space.free, "its temporary copy"),
            (
                db_dir.as_path(),
                live,
                db_space.free,
                "the WAL it is written back through",
            ),
        ]
    };
    needs_problem(db, &needs)
}

fn needs_problem(db: &Path, needs: &[(&Path, u64, u64, &str)]) -> Option<String> {
    let (dir, need, free, what) = needs.iter().find(|(_, need, free, _)| free < need)?;
    Some(format!(
        "not enough free space to vacuum {}: it needs about {} free on the filesystem of {} \
         ({what}), which has {}; free some space, or point SQLITE_TMPDIR at a roomier filesystem",
        db.display(),
        human_bytes(*need),
        dir.display(),
        human_bytes(*free)
    ))
}

/// Prints an estimate of how far VACUUM is to stderr until `done`: the pages of its temporary
/// copy (Linux: the unlinked `etilqs_*` file our process holds, seen in /proc/self/fd) and of
/// the WAL it writes the copy back through, against twice the database's live pages.
/// (rusqlite's progress handler needs its `hooks` feature, not enabled in this build; it would
/// count VM steps, not pages, anyway.)
fn show_progress(db: &Path, live: u64, done: &std::sync::atomic::AtomicBool) {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let wal = wal_path(db);
    let wal_start = file_len(&wal);
    let total = (2 * live).max(1);
    let mut shown = 0u64;
    let mut stderr = std::io::stderr();
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let written = temp_file_bytes() + file_len(&wal).saturating_sub(wal_start);
        let percent = (written.saturating_mul(100) / total).min(99);
        if terminal && percent != shown {
            let _ = write!(stderr, "\rvacuum: about {percent}% done");
            shown = percent;
        } else if !terminal && percent / 25 > shown / 25 {
            let _ = writeln!(stderr, "vacuum: about {}% done", percent / 25 * 25);
            shown = percent;
        }
    }
    if terminal && shown > 0 {
        let _ = writeln!(stderr, "\rvacuum: 100% done          ");
    }
}

/// Bytes of SQLite temporary files this process has open (Linux; 0 elsewhere).
fn temp_file_bytes() -> u64 {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    fds.flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("etilqs_"))
            })
        })
        .map(|fd| file_len(&fd.path()))
        .sum()
}

/// "1.50 MiB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// Free space and device of a filesystem (statvfs).
mod fs_space {
    use std::path::Path;

    pub struct Space {
        pub free: u64,
        pub device: u64,
    }

    #[cfg(unix)]
    pub fn of(dir: &Path) -> Option<Space> {
        use std::os::unix::ffi::OsStrExt as _;
        use std::os::unix::fs::MetadataExt as _;
        let device = std::fs::metadata(dir).ok()?.dev();
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `path` is a NUL-terminated string that outlives the call, and `stat` points
        // to writable memory of the struct's size; statvfs fills it in whole when it returns 0.
        let stat = unsafe {
            if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
                return None;
            }
            stat.assume_init()
        };
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)] // widths differ by platform
        let free = (stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64);
        Some(Space { free, device })
    }

    #[cfg(not(unix))]
    pub fn of(_dir: &Path) -> Option<Space> {
        None
    }

    /// Whether this process may create files in `dir`.
    #[cfg(unix)]
    pub fn writable(dir: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt as _;
        let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: `path` is a NUL-terminated string that outlives the call.
        unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
    }

    #[cfg(not(unix))]
    pub fn writable(_dir: &Path) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------------
// prune

/// What `db prune` selects, resolved from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneSelection {
    /// Tickers before this UTC midnight (and hourly_by_day rows of the days before it).
    pub before: Option<i64>,
    /// Narrows `before` to the series of one dimension.
    pub dimension: Option<Dimension>,
    /// Workers whose last listing is before this UTC midnight, with everything of theirs.
    pub workers_gone_since: Option<i64>,
    pub accounts: AccountFilter,
}

/// Rows per table that prune deletes (or would).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCounts {
    pub tickers: u64,
    pub hourly_by_day: u64,
    pub history_gaps: u64,
    pub series: u64,
    pub workers: u64,
}

impl PruneCounts {
    pub fn total(&self) -> u64 {
        self.tickers + self.hourly_by_day + self.history_gaps + self.series + self.workers
    }

    fn rows(&self) -> [(&'static str, u64); 5] {
        [
            ("tickers", self.tickers),
            ("hourly_by_day", self.hourly_by_day),
            ("history_gaps", self.history_gaps),
            ("series", self.series),
            ("workers", self.workers),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneOutcome {
    pub selection: PruneSelection,
    pub counts: PruneCounts,
    /// False: a dry run.
    pub deleted: bool,
}

impl PruneOutcome {
    fn text(&self, db: &Path) -> String {
        let mut out = String::new();
        let mode = if self.deleted {
            "deleted"
        } else {
            "dry run, nothing deleted; pass --yes to delete"
        };
        out.push_str(&format!(
            "prune {} ({mode})\n",
            escape_controls(&db.display().to_string())
        ));
        for line in describe(&self.selection) {
            out.push_str(&format!("  {}\n", escape_controls(&line)));
        }
        out.push_str(if self.deleted {
            "rows deleted:\n"
        } else {
            "rows that would be deleted:\n"
        });
        for (table, rows) in self.counts.rows() {
            out.push_str(&format!("  {table:<14} {rows:>12}\n"));
        }
        if self.deleted && self.counts.total() > 0 {
            out.push_str(
                "the file keeps its size until `poolhist db vacuum` gives the space back\n",
            );
        }
        out
    }
}

fn describe(selection: &PruneSelection) -> Vec<String> {
    let accounts = selection
        .accounts
        .describe()
        .unwrap_or_else(|| "every account".to_owned());
    let mut lines = Vec::new();
    if let Some(before) = selection.before {
        let series = match selection.dimension {
            Some(d) => format!("{} series", d.as_str()),
            None => "1h and 1d series".to_owned(),
        };
        lines.push(format!(
            "tickers before {} ({series}, {accounts}), with their hourly_by_day days",
            format_date(before)
        ));
    }
    if let Some(since) = selection.workers_gone_since {
        lines.push(format!(
            "workers not listed since {} ({accounts}), with their series, tickers, \
             hourly_by_day rows and history gaps",
            format_date(since)
        ));
    }
    lines
}

/// `YYYY-MM-DD` as its UTC midnight, no later than `now`.
fn parse_date(flag: &str, text: &str, now: i64) -> anyhow::Result<i64> {
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .with_context(|| format!("{flag} {text:?}: give a UTC date as YYYY-MM-DD"))?;
    let Some(midnight) = date.and_hms_opt(0, 0, 0) else {
        bail!("{flag} {text:?}: not a usable date");
    };
    let ts = midnight.and_utc().timestamp();
    if ts > now {
        bail!("{flag} {text}: the date is in the future; give a past date");
    }
    Ok(ts)
}

impl PruneSelection {
    pub fn from_args(args: &PruneArgs, now: i64) -> anyhow::Result<PruneSelection> {
        if args.dimension.is_some() && args.before.is_none() {
            bail!("--dimension narrows --before; give --before DATE too");
        }
        if args.before.is_none() && args.workers_gone_since.is_none() {
            bail!(
                "db prune deletes nothing without a selector: give --before DATE and/or \
                 --workers-gone-since DATE"
            );
        }
        Ok(PruneSelection {
            before: args
                .before
                .as_deref()
                .map(|d| parse_date("--before", d, now))
                .transpose()?,
            dimension: args.dimension.as_deref().and_then(Dimension::parse),
            workers_gone_since: args
                .workers_gone_since
                .as_deref()
                .map(|d| parse_date("--workers-gone-since", d, now))
                .transpose()?,
            accounts: AccountFilter::from_args(Some(&args.accounts))?,
        })
    }
}

/// The selected accounts (`a` is `accounts`).
const SELECTED_ACCOUNT: &str =
    "(:pool IS NULL OR a.pool = :pool) AND (:account IS NULL OR a.account = :account)";

/// The rows each table loses, as a WHERE clause over that table. Workers gone: the worker
/// rows, and every series of theirs with all its rows. --before: the tickers older than the
/// date, and the hourly_by_day days before it (the date is a UTC midnight, so those are the
/// days whose every hour goes: the summary stays what the tickers left sum to). The series
/// themselves stay, with their watermarks, so the ingest does not fetch the pruned history
/// again. Alerts refer to accounts and workers by id without keys to them: left alone.
fn prune_predicates() -> [(&'static str, String); 5] {
    let gone_series = format!(
        "SELECT s.series_id FROM series s \
         JOIN workers w ON w.account_id = s.account_id AND w.worker_id = s.worker_id \
         JOIN accounts a ON a.account_id = s.account_id \
         WHERE w.last_seen < :gone AND {SELECTED_ACCOUNT}"
    );
    let aged_series = format!(
        "SELECT s.series_id FROM series s JOIN accounts a ON a.account_id = s.account_id \
         WHERE (:dimension IS NULL OR s.dimension = :dimension) AND {SELECTED_ACCOUNT}"
    );
    let gone_workers = format!(
        "SELECT w.account_id, w.worker_id FROM workers w \
         JOIN accounts a ON a.account_id = w.account_id \
         WHERE w.last_seen < :gone AND {SELECTED_ACCOUNT}"
    );
    // In the order they are deleted: rows before what they refer to.
    [
        (
            "tickers",
            format!(
                "series_id IN ({gone_series}) OR (ts < :before AND series_id IN ({aged_series}))"
            ),
        ),
        (
            "hourly_by_day",
            format!(
                "series_id IN ({gone_series}) OR (day_ts < :before AND series_id IN ({aged_series}))"
            ),
        ),
        ("history_gaps", format!("series_id IN ({gone_series})")),
        ("series", format!("series_id IN ({gone_series})")),
        (
            "workers",
            format!("(account_id, worker_id) IN ({gone_workers})"),
        ),
    ]
}

/// Runs `sql`, binding those of the named parameters it uses; returns the rows changed (or the
/// single count a `SELECT count(*)` answers).
fn run_bound(
    conn: &Connection,
    sql: &str,
    params: &[(&str, &dyn ToSql)],
    count: bool,
) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare(sql)?;
    for (name, value) in params {
        if let Some(index) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    if count {
        let mut rows = stmt.raw_query();
        let n: i64 = match rows.next()? {
            Some(row) => row.get(0)?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    } else {
        Ok(stmt.raw_execute()? as u64)
    }
}

/// Counts (dry run) or deletes (`--yes`, one transaction) what `args` select.
pub fn prune(db: &Path, args: &PruneArgs, now: i64) -> anyhow::Result<PruneOutcome> {
    let selection = PruneSelection::from_args(args, now)?;
    require_database(db)?;
    let context = || format!("pruning {}", db.display());
    let dimension = selection.dimension.map(Dimension::as_str);
    let params: [(&str, &dyn ToSql); 5] = [
        (":before", &selection.before),
        (":gone", &selection.workers_gone_since),
        (":dimension", &dimension),
        (":pool", &selection.accounts.pool),
        (":account", &selection.accounts.account),
    ];
    let tally = |conn: &Connection, count: bool| -> rusqlite::Result<PruneCounts> {
        let mut rows = [0u64; 5];
        for (slot, (table, predicate)) in rows.iter_mut().zip(prune_predicates()) {
            let sql = if count {
                format!("SELECT count(*) FROM {table} WHERE {predicate}")
            } else {
                format!("DELETE FROM {table} WHERE {predicate}")
            };
            *slot = run_bound(conn, &sql, &params, count)?;
        }
        Ok(PruneCounts {
            tickers: rows[0],
            hourly_by_day: rows[1],
            history_gaps: rows[2],
            series: rows[3],
            workers: rows[4],
        })
    };
    let selects_an_account = |conn: &Connection| -> anyhow::Result<()> {
        let sql = format!("SELECT count(*) FROM accounts a WHERE {SELECTED_ACCOUNT}");
        if run_bound(conn, &sql, &params, true).with_context(context)? == 0 {
            bail!(
                "no account in {} matches {}",
                db.display(),
                selection
                    .accounts
                    .describe()
                    .unwrap_or_else(|| "any account".to_owned())
            );
        }
        Ok(())
    };
    if !args.yes {
        let conn = open_read_only(db)?;
        selects_an_account(&conn)?;
        let counts = tally(&conn, true).with_context(context)?;
        return Ok(PruneOutcome {
            selection,
            counts,
            deleted: false,
        });
    }
    let _locks = take_locks(db, args.wait)?;
    let mut conn = open_for_writing(db)?;
    selects_an_account(&conn)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .with_context(context)?;
    let counts = tally(&tx, false).with_context(context)?;
    if counts != PruneCounts::default() {
        // The export partitions that lost rows are rewritten by the next `export parquet`.
        tx.execute("UPDATE data_changes SET seq = seq + 1", [])
            .with_context(context)?;
        let stamp = format!(
            "UPDATE partition_changes SET changed_seq = (SELECT seq FROM data_changes) \
             WHERE account_id IN (SELECT a.account_id FROM accounts a WHERE {SELECTED_ACCOUNT}) \
               AND (:gone IS NOT NULL \
                    OR (month_ts < :before AND (:dimension IS NULL OR dimension = :dimension)))"
        );
        run_bound(&tx, &stamp, &params, false).with_context(context)?;
    }
    tx.commit().with_context(context)?;
    Ok(PruneOutcome {
        selection,
        counts,
        deleted: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_people_read_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
        assert_eq!(human_bytes(3 << 30), "3.00 GiB");
    }

    #[test]
    fn too_little_space_names_the_filesystem_and_what_needs_it() {
        let db = Path::new("/data/poolhist.db");
        let problem = needs_problem(
            db,
            &[
                (Path::new("/tmp"), 1 << 30, 2 << 30, "its temporary copy"),
                (Path::new("/data"), 1 << 30, 512 << 20, "the WAL"),
            ],
        )
        .unwrap();
        assert!(problem.contains("/data/poolhist.db"), "{problem}");
        assert!(
            problem.contains("1.00 GiB free on the filesystem of /data"),
            "{problem}"
        );
        assert!(problem.contains("which has 512.00 MiB"), "{problem}");
        assert!(needs_problem(db, &[(Path::new("/data"), 10, 10, "x")]).is_none());
    }

    #[test]
    fn prune_dates_are_past_utc_midnights() {
        let now = 1_764_072_000; // 2025-11-25T12:00:00Z
        assert_eq!(
            parse_date("--before", "2025-11-25", now).unwrap(),
            1_764_028_800
        );
        let future = parse_date("--before", "2025-11-26", now)
            .unwrap_err()
            .to_string();
        assert!(future.contains("future"), "{future}");
        let bad = parse_date("--before", "25/11/2025", now)
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("--before") && bad.contains("YYYY-MM-DD"),
            "{bad}"
        );
    }

    #[test]
    fn the_free_space_of_a_real_directory_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let space = fs_space::of(dir.path());
        if cfg!(unix) {
            assert!(space.is_some_and(|s| s.free > 0));
            assert!(fs_space::writable(dir.path()));
        }
    }
}
