//! `poolhist status`: what the database holds and how the last ingest runs went.

use std::path::Path;

use rusqlite::Connection;

use super::render::{self, Cell, Format, Report, Section, Table};
use super::{query_rows, ReportError};

/// `poolhist status`
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// How many of the latest ingest runs to list.
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// CSV carries the summary only; JSON is one object with summary, watermarks and runs.
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
       (SELECT COUNT(*) FROM tickers)                                    AS tickers,
       (SELECT COUNT(*) FROM tickers WHERE provisional = 1)              AS tickers_provisional,
       (SELECT COUNT(*) FROM history_gaps)                               AS history_gaps,
       (SELECT IFNULL(MAX(version), 0) FROM refinery_schema_history)     AS schema_version";

const WATERMARKS_SQL: &str = "
SELECT CASE WHEN worker_id IS NULL THEN 'account' ELSE 'worker' END AS level,
       dimension,
       COUNT(*)                     AS series,
       COUNT(watermark_ts)          AS with_data,
       MIN(watermark_ts)            AS oldest_watermark_ts,
       MAX(watermark_ts)            AS newest_watermark_ts,
       MAX(last_synced_at)          AS last_synced_at
FROM series
GROUP BY level, dimension
ORDER BY level, dimension";

const POOL_SQL: &str = "
SELECT account_id AS puid, scope, dimension, retention_slots, newest_served_ts, learned_at
FROM pool_knowledge
ORDER BY account_id, scope, dimension";

const RUNS_SQL: &str = "
SELECT run_id, started_at, finished_at, status, puids, series_synced, requests, rows_new,
       rows_updated, tickers_rejected, gaps_found, error
FROM ingest_runs
ORDER BY run_id DESC
LIMIT :limit";

pub fn status(
    conn: &Connection,
    size_bytes: Option<u64>,
    args: &StatusArgs,
    unicode: bool,
) -> Result<String, ReportError> {
    let report = status_report(conn, size_bytes, args.runs)?;
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
                "watermarks": parse(&report.sections[1].table),
                "runs": parse(&report.sections[2].table),
                "pool": parse(&report.sections[3].table),
            });
            render::json_escape_controls(format!(
                "{}\n",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            ))
        }
        format => render::render(&report, format, unicode),
    })
}

pub fn status_report(
    conn: &Connection,
    size_bytes: Option<u64>,
    runs: u32,
) -> Result<Report, ReportError> {
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

    let mut watermarks = Table::new(&[
        "level",
        "dimension",
        "series",
        "with_data",
        "oldest_watermark",
        "newest_watermark",
        "last_synced_at",
    ]);
    watermarks.rows = query_rows(conn, WATERMARKS_SQL, &[], |r| {
        let time = |name: &str| -> rusqlite::Result<Cell> {
            Ok(r.get::<_, Option<i64>>(name)?
                .map_or(Cell::Null, Cell::Time))
        };
        Ok(vec![
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
        "series_synced",
        "requests",
        "rows_new",
        "rows_updated",
        "tickers_rejected",
        "gaps_found",
        "error",
    ]);
    let limit = i64::from(runs);
    run_table.rows = query_rows(conn, RUNS_SQL, &[(":limit", &limit)], |r| {
        Ok(vec![
            Cell::Int(r.get("run_id")?),
            Cell::Time(r.get("started_at")?),
            r.get::<_, Option<i64>>("finished_at")?
                .map_or(Cell::Null, Cell::Time),
            Cell::Text(r.get("status")?),
            Cell::Text(r.get("puids")?),
            Cell::Int(r.get("series_synced")?),
            Cell::Int(r.get("requests")?),
            Cell::Int(r.get("rows_new")?),
            Cell::Int(r.get("rows_updated")?),
            Cell::Int(r.get("tickers_rejected")?),
            Cell::Int(r.get("gaps_found")?),
            Cell::opt_text(r.get("error")?),
        ])
    })?;

    let mut pool = Table::new(&[
        "puid",
        "level",
        "dimension",
        "history_kept",
        "pool_newest",
        "learned_at",
    ]);
    pool.rows = query_rows(conn, POOL_SQL, &[], |r| {
        let dimension: String = r.get("dimension")?;
        let unit = if dimension == "1h" { "h" } else { "d" };
        Ok(vec![
            Cell::Int(r.get("puid")?),
            Cell::Text(r.get("scope")?),
            Cell::Text(dimension),
            r.get::<_, Option<i64>>("retention_slots")?
                .map_or(Cell::Null, |slots| Cell::Text(format!("{slots} {unit}"))),
            r.get::<_, Option<i64>>("newest_served_ts")?
                .map_or(Cell::Null, Cell::Time),
            Cell::Time(r.get("learned_at")?),
        ])
    })?;

    Ok(Report {
        title: "poolhist status".to_owned(),
        sections: vec![
            Section {
                title: Some("Database".to_owned()),
                table: summary,
                notes: Vec::new(),
            },
            Section {
                title: Some("Watermarks (newest final point stored, per series kind)".to_owned()),
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
