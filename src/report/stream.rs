//! Reads shared by the Rust twins of the report queries (gaps_scan, reject_scan, uptime_scan):
//! one statement streaming many series' rows in series order, handed out series by series,
//! instead of one statement per series (at 10,000 workers the statements' own cost was most of
//! the time).

use rusqlite::{Connection, Statement, ToSql};

use super::ReportError;

/// The workers a report selects (queries/reject_rate.sql's and uptime_workers.sql's `scope`).
pub(crate) const WORKER_SCOPE: &str = "\
FROM v_worker_series w
WHERE (:pool IS NULL OR w.pool = :pool)
  AND (:account IS NULL OR w.account = :account)
  AND (:puid IS NULL OR w.puid = :puid)
  AND (:group IS NULL OR w.group_name = :group OR CAST(w.group_id AS TEXT) = :group)
  AND (:worker IS NULL OR w.worker_name GLOB :worker)";

/// A streamed row: the series_id and up to three integers.
pub(crate) type Row4 = [i64; 4];

/// A statement with the named parameters it uses bound (others are skipped).
pub(crate) fn bound<'c>(
    conn: &'c Connection,
    sql: &str,
    params: &[(&str, &dyn ToSql)],
) -> Result<Statement<'c>, ReportError> {
    let mut stmt = conn.prepare(sql)?;
    for (name, value) in params {
        if let Some(index) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    Ok(stmt)
}

pub(crate) fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row4> {
    Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?])
}

/// A row a [`SeriesStream`] hands out: its series_id first.
pub(crate) trait StreamRow: Copy {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
    fn series_id(&self) -> i64;
}

impl StreamRow for Row4 {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        read_row(r)
    }
    fn series_id(&self) -> i64 {
        self[0]
    }
}

/// (series_id, day_ts, and two sums).
impl StreamRow for (i64, i64, f64, f64) {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    }
    fn series_id(&self) -> i64 {
        self.0
    }
}

/// Rows ordered by series_id, handed out one series at a time.
pub(crate) struct SeriesStream<'s, R: StreamRow = Row4> {
    rows: rusqlite::Rows<'s>,
    head: Option<R>,
}

impl<'s, R: StreamRow> SeriesStream<'s, R> {
    pub(crate) fn new(
        statement: &'s mut Statement<'_>,
    ) -> Result<SeriesStream<'s, R>, ReportError> {
        let mut stream = SeriesStream {
            rows: statement.raw_query(),
            head: None,
        };
        stream.advance()?;
        Ok(stream)
    }

    fn advance(&mut self) -> Result<(), ReportError> {
        self.head = match self.rows.next()? {
            Some(r) => Some(R::read(r)?),
            None => None,
        };
        Ok(())
    }

    /// The rows of `series_id` into `out` (cleared first); series are asked for in order.
    pub(crate) fn take(&mut self, series_id: i64, out: &mut Vec<R>) -> Result<(), ReportError> {
        out.clear();
        while let Some(row) = self.head.filter(|row| row.series_id() <= series_id) {
            if row.series_id() == series_id {
                out.push(row);
            }
            self.advance()?;
        }
        Ok(())
    }
}
