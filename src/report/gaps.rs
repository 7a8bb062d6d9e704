//! `poolhist gaps`: stored history that is missing (queries/gaps.sql), and whether the pool can
//! still serve it.

use rusqlite::{Connection, ToSql};

use super::accounts::{account_cells, account_table, AccountArgs, AccountFilter};
use super::render::{Cell, Format, Report, Section, Table};
use super::{query_rows, ReportError};

pub const GAPS_SQL: &str = include_str!("../../queries/gaps.sql");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dimension {
    #[value(name = "1h")]
    Hour,
    #[value(name = "1d")]
    Day,
}

impl Dimension {
    /// As `series.dimension` stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Hour => "1h",
            Dimension::Day => "1d",
        }
    }
}

/// `poolhist gaps`
#[derive(Debug, Clone, clap::Args)]
pub struct GapsArgs {
    #[command(flatten)]
    pub accounts: AccountArgs,
    /// Only worker series whose name matches this GLOB pattern (case-sensitive; * ? [abc]).
    #[arg(long, value_name = "PATTERN")]
    pub worker: Option<String>,
    /// Only hourly (1h) or daily (1d) series.
    #[arg(long, value_enum)]
    pub dimension: Option<Dimension>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// The account's surrogate key.
    pub account_id: i64,
    /// The CloverPool puid; None for a pool without one (Foundry).
    pub puid: Option<i64>,
    pub pool: String,
    /// The account as its pool names it.
    pub account: String,
    pub worker_id: Option<i64>,
    pub worker_name: Option<String>,
    pub dimension: String,
    /// "hole" (missing inside the stored span) or "expired" (recorded in history_gaps).
    pub kind: String,
    pub from_ts: i64,
    /// Inclusive: the last missing point.
    pub to_ts: i64,
    pub points_missing: i64,
    /// "yes", "partly" or "no".
    pub pool_still_has: String,
}

/// Gaps of the selected accounts (None = all) overlapping [from, to) (None = unbounded), with
/// retention counted back from `now`.
pub fn gaps(
    conn: &Connection,
    accounts: Option<&AccountFilter>,
    worker: Option<&str>,
    dimension: Option<Dimension>,
    window: (Option<i64>, Option<i64>),
    now: i64,
) -> Result<Vec<Gap>, ReportError> {
    super::gaps_scan::gaps(conn, accounts, worker, dimension, window, now)
}

/// [`gaps`] as queries/gaps.sql computes it: the definition, and what sqlite3 users run.
pub fn gaps_sql(
    conn: &Connection,
    accounts: Option<&AccountFilter>,
    worker: Option<&str>,
    dimension: Option<Dimension>,
    window: (Option<i64>, Option<i64>),
    now: i64,
) -> Result<Vec<Gap>, ReportError> {
    let dimension = dimension.map(Dimension::as_str);
    let all = AccountFilter::all();
    let accounts = accounts.unwrap_or(&all);
    let params: [(&str, &dyn ToSql); 7] = [
        (":now", &now),
        (":from", &window.0),
        (":to", &window.1),
        (":pool", &accounts.pool),
        (":account", &accounts.account),
        (":worker", &worker),
        (":dimension", &dimension),
    ];
    query_rows(conn, GAPS_SQL, &params, |r| {
        Ok(Gap {
            account_id: r.get("account_id")?,
            puid: r.get("puid")?,
            pool: r.get("pool")?,
            account: r.get("account")?,
            worker_id: r.get("worker_id")?,
            worker_name: r.get("worker_name")?,
            dimension: r.get("dimension")?,
            kind: r.get("kind")?,
            from_ts: r.get("from_ts")?,
            to_ts: r.get("to_ts")?,
            points_missing: r.get("points_missing")?,
            pool_still_has: r.get("pool_still_has")?,
        })
    })
}

pub fn gaps_table(gaps: &[Gap]) -> Table {
    let mut table = account_table(&[
        "worker_id",
        "worker_name",
        "dimension",
        "kind",
        "first_missing",
        "last_missing",
        "points_missing",
        "pool_still_has",
    ]);
    for g in gaps {
        let mut cells = account_cells(g.puid, &g.pool, &g.account).to_vec();
        cells.extend([
            g.worker_id.map_or(Cell::Null, Cell::Int),
            Cell::text(
                g.worker_name
                    .clone()
                    .unwrap_or_else(|| "(account)".to_owned()),
            ),
            Cell::text(&g.dimension),
            Cell::text(&g.kind),
            Cell::Time(g.from_ts),
            Cell::Time(g.to_ts),
            Cell::Int(g.points_missing),
            Cell::text(&g.pool_still_has),
        ]);
        table.rows.push(cells);
    }
    table
}

pub const GAPS_NOTE: &str = "hole: no stored point inside a series' stored span; expired: the \
    pool had deleted the history before poolhist copied it. pool_still_has: a new ingest run can \
    still fetch it, judged by the history the ingest saw the pool keep (see `poolhist status`), \
    else by what the pool documents it keeps (CloverPool: worker 1h 72 h, account 1h 720 h, \
    worker 1d 90 d, account 1d 365 d)";

pub fn report(conn: &Connection, args: &GapsArgs, now: i64) -> Result<Report, ReportError> {
    let accounts = AccountFilter::from_args(Some(&args.accounts))?;
    let rows = gaps(
        conn,
        Some(&accounts),
        args.worker.as_deref(),
        args.dimension,
        (None, None),
        now,
    )?;
    let missing: i64 = rows.iter().map(|g| g.points_missing).sum();
    Ok(Report {
        title: format!(
            "Missing history{}: {} gaps, {missing} points, as of {} UTC",
            accounts
                .describe()
                .map_or_else(String::new, |s| format!(" of {s}")),
            rows.len(),
            super::render::format_time(now)
        ),
        sections: vec![Section {
            title: None,
            table: gaps_table(&rows),
            notes: vec![GAPS_NOTE.to_owned()],
        }],
    })
}
