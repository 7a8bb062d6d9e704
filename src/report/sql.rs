//! `poolhist sql "SELECT ..."`: one ad-hoc query on a read-only connection.

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::render::{Cell, Format, Report, Section, Table};
use super::ReportError;

/// `poolhist sql`
#[derive(Debug, Clone, clap::Args)]
pub struct SqlArgs {
    /// One SQL query (SELECT, WITH, read-only PRAGMA...); the database is opened read-only.
    pub query: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Runs one read-only statement and returns its rows (all of them: ad-hoc results are small,
/// and a LIMIT is the user's to add).
pub fn query(conn: &Connection, sql: &str) -> Result<Report, ReportError> {
    let mut stmt = conn.prepare(sql).map_err(write_attempt)?;
    if !stmt.readonly() {
        return Err(ReportError::WriteAttempt);
    }
    let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let width = columns.len();
    let mut table = Table {
        columns,
        ..Table::default()
    };
    let mut rows = stmt.query([]).map_err(write_attempt)?;
    while let Some(row) = rows.next().map_err(write_attempt)? {
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(match row.get_ref(i)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::Int(v),
                ValueRef::Real(v) => Cell::Real(v),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Cell::Text(format!("<blob, {} bytes>", b.len())),
            });
        }
        table.rows.push(cells);
    }
    Ok(Report {
        title: format!("{} rows", table.rows.len()),
        sections: vec![Section {
            title: None,
            table,
            notes: Vec::new(),
        }],
    })
}

/// SQLite's own "attempt to write a readonly database" becomes our one-line explanation.
fn write_attempt(e: rusqlite::Error) -> ReportError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ReadOnly => {
            ReportError::WriteAttempt
        }
        _ => ReportError::Sql(e),
    }
}
