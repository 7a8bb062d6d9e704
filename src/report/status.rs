//! `poolhist status`: what the database holds and how the last ingest runs went.

use std::path::Path;

use rusqlite::{Connection, ToSql};

use super::accounts::{account_cells, account_table, AccountArgs, AccountFilter};
use super::render::{self, Cell, Format, Report, Section, Table};
use super::{query_rows, ReportError};

/// `poolhist status`
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// How many of the latest ingest runs to list.
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    // Accounts, watermarks, runs and pool knowledge of these accounts only; the database counts
    // cover every account.
    #[command(flatten)]
    pub accounts: AccountArgs,
    /// CSV carries the summary only; JSON is one object with summary, accounts, watermarks, runs
    /// and pool.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Database file size in bytes, with its WAL file (what the data takes on disk right now).
pub fn database_size(db: &Path) -> Option<u64> {
    let main = std::fs::metadata(db).ok()?.len();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    Some(main + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0))
}

const SUMMARY_SQL: &str = "
SELECT (SELECT COUNT(*) FROM accounts)                                   AS accounts,
       (SELECT COUNT(*) FROM groups)                                     AS groups,
       (SELECT COUNT(*) FROM workers)                                    AS workers,
       (SELECT COUNT(*) FROM workers WHERE status = 'ACTIVE')            AS workers_active,
       (SELECT COUNT(*) FROM workers WHERE status = 'INACTIVE')          AS workers_inactive,
       (SELECT COUNT(*) FROM workers WHERE status = 'DEAD')              AS workers_dead,
       (SELECT COUNT(*) FROM series)                                     AS series,
       -- COUNT(*) FROM tickers, without reading every page of the largest table: the final
       -- hourly points are counted in hourly_by_day (kept in the tickers' own transactions;
       -- `poolhist db check` verifies it), daily series are read whole, provisional hourly
       -- points come from their partial index
       (SELECT IFNULL(SUM(hours_final), 0) FROM hourly_by_day)
         + (SELECT COUNT(*) FROM series s CROSS JOIN tickers t ON t.series_id = s.series_id
             WHERE s.dimension = '1d')
         + (SELECT COUNT(*) FROM tickers t JOIN series s ON s.series_id = t.series_id
             WHERE t.provisional = 1 AND s.dimension = '1h')           AS tickers,
       (SELECT COUNT(*) FROM tickers WHERE provisional = 1)              AS tickers_provisional,
       (SELECT COUNT(*) FROM history_gaps)                               AS history_gaps,
       (SELECT IFNULL(MAX(version), 0) FROM refinery_schema_history)     AS schema_version";

const ACCOUNTS_SQL: &str = "
SELECT a.puid, a.pool, a.account,
       (SELECT COUNT(*) FROM workers w WHERE w.account_id = a.account_id) AS workers,
       (SELECT COUNT(*) FROM series s WHERE s.account_id = a.account_id)  AS series,
       a.first_seen, a.last_seen
FROM accounts a
WHERE (:pool IS NULL OR a.pool = :pool) AND (:account IS NULL OR a.account = :account)
ORDER BY a.pool, a.account_id";

const WATERMARKS_SQL: &str = "
SELECT a.pool,
       CASE WHEN s.worker_id IS NULL THEN 'account' ELSE 'worker' END AS level,
       s.dimension,
       COUNT(*)                     AS series,
       COUNT(s.watermark_ts)        AS with_data,
       MIN(s.watermark_ts)          AS oldest_watermark_ts,
       MAX(s.watermark_ts)          AS newest_watermark_ts,
       MAX(s.last_synced_at)        AS last_synced_at
FROM series s
JOIN accounts a ON a.account_id = s.account_id
WHERE (:pool IS NULL OR a.pool = :pool) AND (:account IS NULL OR a.account = :account)
GROUP BY a.pool, level, s.dimension
ORDER BY a.pool, level, s.dimension";

const POOL_SQL: &str = "
SELECT a.puid, a.pool, a.account, k.scope, k.dimension, k.retention_slots, k.newest_served_ts,
       k.learned_at
FROM pool_knowledge k
JOIN accounts a ON a.account_id = k.account_id
WHERE (:pool IS NULL OR a.pool = :pool) AND (:account IS NULL OR a.account = :account)
ORDER BY a.pool, k.account_id, k.scope, k.dimension";

/// Newest first; `:limit` -1 reads them all (to filter by account in Rust: `accounts` is a list).
const RUNS_SQL: &str = "
SELECT run_id, started_at, finished_at, status, puids, accounts, series_synced, requests,
       rows_new, rows_updated, tickers_rejected, gaps_found, error
FROM ingest_runs
ORDER BY run_id DESC
LIMIT :limit";

/// Whether a run's `accounts` ("pool:account,...") names an account the filter selects.
fn run_collected(run_accounts: Option<&str>, filter: &AccountFilter) -> bool {
    if filter.pool.is_none() && filter.account.is_none() {
        return true;
    }
    run_accounts.unwrap_or("").split(',').any(|item| {
        let (pool, account) = item.split_once(':').unwrap_or(("", item));
        filter.pool.as_deref().is_none_or(|p| p == pool)
            && filter.account.as_deref().is_none_or(|a| a == account)
    })
}

pub fn status(
    conn: &Connection,
    size_bytes: Option<u64>,
    args: &StatusArgs,
    unicode: bool,
) -> Result<String, ReportError> {
    let filter = AccountFilter::from_args(Some(&args.accounts))?;
    let report = status_report(conn, size_bytes, args.runs, &filter)?;
    Ok(match args.format {
        Format::Json => {
            let summary = &report.sections[0].table;
            let mut object = serde_json::Map::new();
            for row in &summary.rows {
                if let [Cell::Text(key), value] = row.as_slice() {
                    let v = match value {
                        Cell::Int(i) => serde_json::Value::from(*i),
                        Cell::Null => serde_json::Value::Null,
                        other => serde_json::Value::String(other.display()),
                    };
                    object.insert(key.clone(), v);
                }
            }
            let parse = |t: &Table| -> serde_json::Value {
                serde_json::from_str(&render::to_json(t)).unwrap_or(serde_json::Value::Null)
            };
            let value = serde_json::json!({
                "summary": object,
                "accounts": parse(&report.sections[1].table),
                "watermarks": parse(&report.sections[2].table),
                "runs": parse(&report.sections[3].table),
                "pool": parse(&report.sections[4].table),
            });
            render::json_escape_controls(format!(
                "{}\n",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            ))
        }
        format => render::render(&report, format, unicode),
    })
}

/// The status sections: Database, Accounts, Watermarks, runs, pool knowledge (in that order).
pub fn status_report(
    conn: &Connection,
    size_bytes: Option<u64>,
    runs: u32,
    filter: &AccountFilter,
) -> Result<Report, ReportError> {
    let selected: [(&str, &dyn ToSql); 2] =
        [(":pool", &filter.pool), (":account", &filter.account)];
    let mut summary = Table::new(&["item", "value"]);
    summary.rows.push(vec![
        Cell::text("database_bytes"),
        size_bytes.map_or(Cell::Null, |b| Cell::Int(b as i64)),
    ]);
    let names = [
        "accounts",
        "groups",
        "workers",
        "workers_active",
        "workers_inactive",
        "workers_dead",
        "series",
        "tickers",
        "tickers_provisional",
        "history_gaps",
        "schema_version",
    ];
    let values = query_rows(conn, SUMMARY_SQL, &[], |r| {
        names
            .iter()
            .map(|n| r.get::<_, i64>(*n))
            .collect::<rusqlite::Result<Vec<i64>>>()
    })?;
    if let Some(values) = values.first() {
        for (name, value) in names.iter().zip(values) {
            summary
                .rows
                .push(vec![Cell::text(*name), Cell::Int(*value)]);
        }
    }

    let mut accounts = account_table(&["workers", "series", "first_seen", "last_seen"]);
    accounts.rows = query_rows(conn, ACCOUNTS_SQL, &selected, |r| {
        let mut cells = account_cells(
            r.get("puid")?,
            &r.get::<_, String>("pool")?,
            &r.get::<_, String>("account")?,
        )
        .to_vec();
        cells.extend([
            Cell::Int(r.get("workers")?),
            Cell::Int(r.get("series")?),
            Cell::Time(r.get("first_seen")?),
            Cell::Time(r.get("last_seen")?),
        ]);
        Ok(cells)
    })?;

    let mut watermarks = Table::new(&[
        "pool",
        "level",
        "dimension",
        "series",
        "with_data",
        "oldest_watermark",
        "newest_watermark",
        "last_synced_at",
    ]);
    watermarks.rows = query_rows(conn, WATERMARKS_SQL, &selected, |r| {
        let time = |name: &str| -> rusqlite::Result<Cell> {
            Ok(r.get::<_, Option<i64>>(name)?
                .map_or(Cell::Null, Cell::Time))
        };
        Ok(vec![
            Cell::Text(r.get("pool")?),
            Cell::Text(r.get("level")?),
            Cell::Text(r.get("dimension")?),
            Cell::Int(r.get("series")?),
            Cell::Int(r.get("with_data")?),
            time("oldest_watermark_ts")?,
            time("newest_watermark_ts")?,
            time("last_synced_at")?,
        ])
    })?;

    let mut run_table = Table::new(&[
        "run_id",
        "started_at",
        "finished_at",
        "status",
        "puids",
        "accounts",
        "series_synced",
        "requests",
        "rows_new",
        "rows_updated",
        "tickers_rejected",
        "gaps_found",
        "error",
    ]);
    // People read `accounts` (pool:account); `puids` stays for JSON/CSV consumers.
    run_table.machine_only = vec!["puids".to_owned()];
    let everything = filter.pool.is_none() && filter.account.is_none();
    let limit = if everything { i64::from(runs) } else { -1 };
    let mut listed = 0;
    run_table.rows = query_rows(conn, RUNS_SQL, &[(":limit", &limit)], |r| {
        let run_accounts: Option<String> = r.get("accounts")?;
        if listed >= runs || !run_collected(run_accounts.as_deref(), filter) {
            return Ok(None);
        }
        listed += 1;
        Ok(Some(vec![
            Cell::Int(r.get("run_id")?),
            Cell::Time(r.get("started_at")?),
            r.get::<_, Option<i64>>("finished_at")?
                .map_or(Cell::Null, Cell::Time),
            Cell::Text(r.get("status")?),
            Cell::Text(r.get("puids")?),
            Cell::opt_text(run_accounts),
            Cell::Int(r.get("series_synced")?),
            Cell::Int(r.get("requests")?),
            Cell::Int(r.get("rows_new")?),
            Cell::Int(r.get("rows_updated")?),
            Cell::Int(r.get("tickers_rejected")?),
            Cell::Int(r.get("gaps_found")?),
            Cell::opt_text(r.get("error")?),
        ]))
    })?
    .into_iter()
    .flatten()
    .collect();

    let mut pool = account_table(&[
        "level",
        "dimension",
        "history_kept",
        "pool_newest",
        "learned_at",
    ]);
    pool.rows = query_rows(conn, POOL_SQL, &selected, |r| {
        let dimension: String = r.get("dimension")?;
        let unit = if dimension == "1h" { "h" } else { "d" };
        let mut cells = account_cells(
            r.get("puid")?,
            &r.get::<_, String>("pool")?,
            &r.get::<_, String>("account")?,
        )
        .to_vec();
        cells.extend([
            Cell::Text(r.get("scope")?),
            Cell::Text(dimension),
            r.get::<_, Option<i64>>("retention_slots")?
                .map_or(Cell::Null, |slots| Cell::Text(format!("{slots} {unit}"))),
            r.get::<_, Option<i64>>("newest_served_ts")?
                .map_or(Cell::Null, Cell::Time),
            Cell::Time(r.get("learned_at")?),
        ]);
        Ok(cells)
    })?;

    let (title, summary_notes) = match filter.describe() {
        Some(selection) => (
            format!("poolhist status ({selection})"),
            vec!["these counts cover every account in the database".to_owned()],
        ),
        None => ("poolhist status".to_owned(), Vec::new()),
    };
    Ok(Report {
        title,
        sections: vec![
            Section {
                title: Some("Database".to_owned()),
                table: summary,
                notes: summary_notes,
            },
            Section {
                title: Some("Accounts".to_owned()),
                table: accounts,
                notes: Vec::new(),
            },
            Section {
                title: Some(
                    "Watermarks (newest final point stored, per pool and series kind)".to_owned(),
                ),
                table: watermarks,
                notes: Vec::new(),
            },
            Section {
                title: Some(format!("Last {runs} ingest runs")),
                table: run_table,
                notes: Vec::new(),
            },
            Section {
                title: Some("What the pool keeps, learned from its answers".to_owned()),
                table: pool,
                notes: vec![
                    "history_kept: the most history the pool was seen to serve (a young account shows less); \
                     pool_newest: the newest slot it had published (its clock)"
                        .to_owned(),
                ],
            },
        ],
    })
}
