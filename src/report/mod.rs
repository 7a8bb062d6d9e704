//! Reports over the stored history: uptime, reject rate, the monthly report, ad-hoc SQL, status
//! and gaps. Each report's SQL lives in `queries/*.sql` (embedded here with `include_str!`); the
//! Rust side binds parameters, adds totals and renders. Every computation takes an explicit
//! `now` and a read-only `&Connection`, so tests fix the clock and the data.

pub mod accounts;
pub mod gaps;
pub mod gaps_scan;
pub mod html;
pub mod monthly;
pub mod output;
pub mod period;
pub mod reject_rate;
pub mod reject_scan;
pub mod render;
pub mod sql;
pub mod status;
mod stream;
pub mod uptime;
pub mod uptime_scan;

use std::io::IsTerminal as _;
use std::path::Path;

use rusqlite::{Connection, Row, ToSql};

use output::print;

pub use accounts::{AccountArgs, AccountFilter};
pub use gaps::GapsArgs;
pub use monthly::MonthlyArgs;
pub use period::{Period, PeriodArgs};
pub use reject_rate::{RejectRateArgs, RejectRateBy};
pub use render::Format;
pub use sql::SqlArgs;
pub use status::StatusArgs;
pub use uptime::UptimeArgs;

/// `poolhist report ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ReportCommand {
    /// Per-worker uptime: share of hours with accepted hashrate > 0, outages, longest outage.
    Uptime(UptimeArgs),
    /// Accept-weighted reject rate per worker, group, account or day, worst first.
    RejectRate(RejectRateArgs),
    /// Writes the monthly report (HTML with charts, Markdown, optional CSV) to a directory.
    Monthly(MonthlyArgs),
}

/// Errors a user can fix; each prints as one line naming what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("unknown month {0:?}: expected YYYY-MM with a month 01..12, e.g. 2026-10")]
    BadMonth(String),
    #[error(
        "{flag} {value:?} is neither a date YYYY-MM-DD nor an RFC 3339 time (2026-10-01T12:00:00Z)"
    )]
    BadInstant { flag: &'static str, value: String },
    #[error("--from {from} is not before --to {to}")]
    FromNotBeforeTo { from: String, to: String },
    #[error("the period from {from} to {to} is empty")]
    EmptyPeriod { from: String, to: String },
    #[error("--to needs --from (or use --month YYYY-MM)")]
    ToWithoutFrom,
    #[error("--min-uptime {0:?} must be a fraction 0..1 (0.95) or a percentage (95%)")]
    BadMinUptime(String),
    #[error("the system clock reads {0}, which is not a usable time")]
    BadClock(i64),
    #[error("database {0} does not exist (run `poolhist ingest` first, or pass --db PATH)")]
    NoDatabase(String),
    #[error("the database is opened read-only; poolhist sql runs queries only")]
    WriteAttempt,
    #[error("--puid names a CloverPool account, not one of --pool {0}; use --account NAME")]
    PuidOfOtherPool(&'static str),
    #[error("query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Not a `source`: the line already says what the OS said.
    #[error("cannot write {path}: {}", output::io_message(error))]
    Write { path: String, error: std::io::Error },
    #[error("refusing to write {0}: it is a symbolic link (remove it, or choose another --out)")]
    Symlink(String),
    /// Carries the I/O error's text, not the error itself, so it is said once.
    #[error("cannot write the output: {0}")]
    Output(String),
}

/// Which workers a report covers.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Pool and account (`--pool`, `--account`, `--puid`).
    pub accounts: AccountFilter,
    /// Group name or numeric id.
    pub group: Option<String>,
    /// Worker name GLOB pattern (`*`, `?`, `[abc]`; case-sensitive).
    pub worker: Option<String>,
}

/// Runs `poolhist report ...` against the database at `db`, printing to stdout.
pub fn run_report(db: &Path, cmd: &ReportCommand) -> anyhow::Result<()> {
    let conn = open(db)?;
    let now = now_ts();
    let unicode = std::io::stdout().is_terminal();
    match cmd {
        ReportCommand::Uptime(args) => {
            let report = uptime::report(&conn, args, now)?;
            print(&render::render(&report, args.format, unicode))?;
        }
        ReportCommand::RejectRate(args) => {
            let report = reject_rate::report(&conn, args, now)?;
            print(&render::render(&report, args.format, unicode))?;
        }
        ReportCommand::Monthly(args) => {
            let mut listing = String::new();
            for path in monthly::write(&conn, args, now)? {
                listing.push_str(&render::escape_controls(&path.display().to_string()));
                listing.push('\n');
            }
            print(&listing)?;
        }
    }
    Ok(())
}

/// Runs `poolhist sql "SELECT ..."` on a read-only connection.
pub fn run_sql(db: &Path, args: &SqlArgs) -> anyhow::Result<()> {
    let conn = open(db)?;
    let report = sql::query(&conn, &args.query)?;
    print(&render::render(
        &report,
        args.format,
        std::io::stdout().is_terminal(),
    ))?;
    Ok(())
}

/// Runs `poolhist status`.
pub fn run_status(db: &Path, args: &StatusArgs) -> anyhow::Result<()> {
    let conn = open(db)?;
    let size = status::database_size(db);
    let out = status::status(&conn, size, args, std::io::stdout().is_terminal())?;
    print(&out)?;
    Ok(())
}

/// Runs `poolhist gaps`.
pub fn run_gaps(db: &Path, args: &GapsArgs) -> anyhow::Result<()> {
    let conn = open(db)?;
    let report = gaps::report(&conn, args, now_ts())?;
    print(&render::render(
        &report,
        args.format,
        std::io::stdout().is_terminal(),
    ))?;
    Ok(())
}

fn open(db: &Path) -> Result<Connection, anyhow::Error> {
    if !db.exists() {
        return Err(ReportError::NoDatabase(db.display().to_string()).into());
    }
    let conn = crate::store::open_read_only(db)?;
    tune_for_reports(&conn)?;
    Ok(conn)
}

/// Connection settings for report queries: their windows, sorts and materialised CTEs run in
/// memory, with a bounded page cache. Read-only safe.
///
/// The file is not memory-mapped (`mmap_size` 0): mapped pages a report touches count in its
/// resident memory, so a mapped report's RSS grew with the file (10,000 workers x 45 days: the
/// monthly report, two connections, 826 MiB; `status` 412 MiB). With a 16 MiB cache per
/// connection it stays flat (monthly 171 MiB, most of it the month's 310,000 heatmap cells; status
/// 79 MiB) for ~10-20 % more time on the largest reads (a page is copied instead of mapped).
pub fn tune_for_reports(conn: &Connection) -> Result<(), ReportError> {
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -16_384)?; // KiB: 16 MiB
    conn.pragma_update(None, "mmap_size", 0)?;
    Ok(())
}

fn now_ts() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Runs one of the embedded queries, binding the named parameters it uses (others are skipped,
/// so one parameter list serves several queries).
pub(crate) fn query_rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[(&str, &dyn ToSql)],
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, ReportError> {
    let mut stmt = conn.prepare_cached(sql)?;
    for (name, value) in params {
        if let Some(index) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The parameters every period report binds: `:from`, `:to`, `:pool`, `:account`, `:group`,
/// `:worker`. (`:puid`, kept in the .sql files for people running them in sqlite3, stays NULL:
/// `--puid` arrives here as pool and account.)
pub(crate) struct PeriodParams {
    from: i64,
    to: i64,
    pool: Option<String>,
    account: Option<String>,
    group: Option<String>,
    worker: Option<String>,
}

impl PeriodParams {
    pub(crate) fn new(period: &Period, selection: &Selection) -> PeriodParams {
        PeriodParams {
            from: period.from,
            to: period.to,
            pool: selection.accounts.pool.clone(),
            account: selection.accounts.account.clone(),
            group: selection.group.clone(),
            worker: selection.worker.clone(),
        }
    }

    pub(crate) fn list(&self) -> [(&str, &dyn ToSql); 6] {
        [
            (":from", &self.from),
            (":to", &self.to),
            (":pool", &self.pool),
            (":account", &self.account),
            (":group", &self.group),
            (":worker", &self.worker),
        ]
    }
}

/// One line describing the selection, for report headers.
pub(crate) fn describe_selection(selection: &Selection) -> String {
    let mut parts = Vec::new();
    if let Some(accounts) = selection.accounts.describe() {
        parts.push(accounts);
    }
    if let Some(group) = &selection.group {
        parts.push(format!("group {group}"));
    }
    if let Some(worker) = &selection.worker {
        parts.push(format!("workers matching {worker}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}
