//! The writes of an ingest run: the account directory, ticker pages with their watermark, gaps,
//! and the run log. Every method is one transaction.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, Transaction};

use super::open::{open, StoreError};
use crate::api::Dimension;

/// A group as the directory upsert wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub gid: i64,
    pub name: String,
}

/// A worker as listed by the pool, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerRow {
    pub worker_id: i64,
    pub worker_name: String,
    pub gid: Option<i64>,
    pub status: String,
    pub last_share_time: Option<i64>,
}

/// Where a series stands before this run.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesState {
    pub series_id: i64,
    pub puid: i64,
    pub worker_id: Option<i64>,
    pub dimension: Dimension,
    pub watermark_ts: Option<i64>,
}

/// One normalized point, ready to store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickerRow {
    pub ts: i64,
    pub hashrate_hs: f64,
    pub reject_rate: f64,
    pub provisional: bool,
}

/// One fetched page of one series: its rows and how far it moves the watermark, written in one
/// transaction so the cursor never runs ahead of the data.
#[derive(Debug, Clone, PartialEq)]
pub struct PageWrite {
    pub series_id: i64,
    pub tickers: Vec<TickerRow>,
    /// The newest completed slot this page covered; the watermark only moves forward.
    pub covered_through: Option<i64>,
    /// Set on the last page of a series: the series is up to date as of this time.
    pub finished_at: Option<i64>,
    /// On the last page: provisional rows older than this were not served again and are stale.
    pub stale_provisional_before: Option<i64>,
    /// History the pool no longer keeps and we never stored: (first, last) slot, inclusive.
    pub expired_gap: Option<(i64, i64)>,
}

/// What writing pages changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub rows_new: u64,
    pub rows_updated: u64,
    pub rows_removed: u64,
    pub gaps: u64,
}

impl std::ops::AddAssign for WriteCounts {
    fn add_assign(&mut self, other: WriteCounts) {
        self.rows_new += other.rows_new;
        self.rows_updated += other.rows_updated;
        self.rows_removed += other.rows_removed;
        self.gaps += other.gaps;
    }
}

/// Totals of a run, for the run log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunTotals {
    pub series_synced: u64,
    pub requests: u64,
    pub tickers_fetched: u64,
    pub tickers_rejected: u64,
    pub counts: WriteCounts,
}

/// The ingest's handle on the database: one connection, the single writer.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            conn: open(path)?,
            path: path.to_owned(),
        })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn sql_error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Starts a run log entry. Runs left `running` by a killed process are marked failed.
    pub fn begin_run(&mut self, puids: &[i64], now: i64) -> Result<i64, StoreError> {
        let puid_list = puids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let result = (|| {
            let tx = self.conn.transaction()?;
            tx.execute(
                "UPDATE ingest_runs SET status = 'failed', \
                 error = 'interrupted: the process stopped before the run finished' \
                 WHERE status = 'running'",
                [],
            )?;
            tx.execute(
                "INSERT INTO ingest_runs (started_at, status, puids) VALUES (?1, 'running', ?2)",
                params![now, puid_list],
            )?;
            let run_id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(run_id)
        })();
        result.map_err(|e| self.sql_error(e))
    }

    pub fn finish_run(
        &mut self,
        run_id: i64,
        finished_at: i64,
        totals: &RunTotals,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let status = if error.is_some() { "failed" } else { "ok" };
        self.conn
            .execute(
                "UPDATE ingest_runs SET finished_at = ?2, status = ?3, series_synced = ?4, \
                 requests = ?5, tickers_fetched = ?6, rows_new = ?7, rows_updated = ?8, \
                 tickers_rejected = ?9, gaps_found = ?10, error = ?11 WHERE run_id = ?1",
                params![
                    run_id,
                    finished_at,
                    status,
                    totals.series_synced as i64,
                    totals.requests as i64,
                    totals.tickers_fetched as i64,
                    totals.counts.rows_new as i64,
                    totals.counts.rows_updated as i64,
                    totals.tickers_rejected as i64,
                    totals.counts.gaps as i64,
                    error,
                ],
            )
            .map(|_| ())
            .map_err(|e| self.sql_error(e))
    }

    /// Upserts the account, its groups and its listed workers, makes sure every series exists,
    /// and returns the state of the series to fetch: the account's and the listed workers'.
    pub fn upsert_directory(
        &mut self,
        puid: i64,
        groups: &[GroupRow],
        workers: &[WorkerRow],
        now: i64,
    ) -> Result<Vec<SeriesState>, StoreError> {
        let result = (|| {
            let tx = self.conn.transaction()?;
            upsert_directory_rows(&tx, puid, groups, workers, now)?;
            let states = series_states(&tx, puid, workers)?;
            tx.commit()?;
            Ok(states)
        })();
        result.map_err(|e| self.sql_error(e))
    }

    /// Writes pages in one transaction (each page with its own watermark).
    pub fn write_pages(
        &mut self,
        pages: &[PageWrite],
        run_id: i64,
        now: i64,
    ) -> Result<WriteCounts, StoreError> {
        let result = (|| {
            let tx = self.conn.transaction()?;
            let mut counts = WriteCounts::default();
            for page in pages {
                counts += write_page(&tx, page, run_id, now)?;
            }
            tx.commit()?;
            Ok(counts)
        })();
        result.map_err(|e| self.sql_error(e))
    }
}

fn upsert_directory_rows(
    tx: &Transaction,
    puid: i64,
    groups: &[GroupRow],
    workers: &[WorkerRow],
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO accounts (puid, first_seen, last_seen) VALUES (?1, ?2, ?2) \
         ON CONFLICT (puid) DO UPDATE SET last_seen = excluded.last_seen",
        params![puid, now],
    )?;
    let mut upsert_group = tx.prepare_cached(
        "INSERT INTO groups (puid, gid, name, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4) \
         ON CONFLICT (puid, gid) DO UPDATE SET name = excluded.name, last_seen = excluded.last_seen",
    )?;
    for group in groups {
        upsert_group.execute(params![puid, group.gid, group.name, now])?;
    }
    let mut upsert_worker = tx.prepare_cached(
        "INSERT INTO workers (puid, worker_id, worker_name, gid, status, last_share_time, first_seen, last_seen) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) \
         ON CONFLICT (puid, worker_id) DO UPDATE SET worker_name = excluded.worker_name, \
           gid = excluded.gid, status = excluded.status, \
           last_share_time = IFNULL(excluded.last_share_time, workers.last_share_time), \
           last_seen = excluded.last_seen",
    )?;
    // The unique index `series_by_key` makes an existing series a no-op (one index probe).
    let mut add_series = tx.prepare_cached(
        "INSERT OR IGNORE INTO series (puid, worker_id, dimension) VALUES (?1, ?2, ?3)",
    )?;
    for dimension in Dimension::ALL {
        add_series.execute(params![puid, Option::<i64>::None, dimension.as_str()])?;
    }
    for worker in workers {
        upsert_worker.execute(params![
            puid,
            worker.worker_id,
            worker.worker_name,
            worker.gid,
            worker.status,
            worker.last_share_time,
            now
        ])?;
        for dimension in Dimension::ALL {
            add_series.execute(params![puid, worker.worker_id, dimension.as_str()])?;
        }
    }
    Ok(())
}

fn series_states(
    tx: &Transaction,
    puid: i64,
    workers: &[WorkerRow],
) -> rusqlite::Result<Vec<SeriesState>> {
    let listed: HashSet<i64> = workers.iter().map(|w| w.worker_id).collect();
    let mut query = tx.prepare_cached(
        "SELECT series_id, worker_id, dimension, watermark_ts FROM series WHERE puid = ?1 \
         ORDER BY worker_id IS NOT NULL, worker_id, dimension",
    )?;
    let rows = query.query_map([puid], |row| {
        let dimension: String = row.get(2)?;
        Ok(SeriesState {
            series_id: row.get(0)?,
            puid,
            worker_id: row.get(1)?,
            dimension: Dimension::parse(&dimension).unwrap_or(Dimension::Hour),
            watermark_ts: row.get(3)?,
        })
    })?;
    let mut states = Vec::new();
    for state in rows {
        let state = state?;
        if state.worker_id.is_none_or(|id| listed.contains(&id)) {
            states.push(state);
        }
    }
    Ok(states)
}

/// Rows per multi-row INSERT: fewer statement executions, well under SQLite's variable limit.
const ROWS_PER_INSERT: usize = 32;

fn insert_many_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let rows = vec!["(?, ?, ?, ?, ?)"; ROWS_PER_INSERT].join(", ");
        format!(
            "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional) \
             VALUES {rows} ON CONFLICT (series_id, ts) DO NOTHING"
        )
    })
}

fn write_page(
    tx: &Transaction,
    page: &PageWrite,
    run_id: i64,
    now: i64,
) -> rusqlite::Result<WriteCounts> {
    let mut counts = WriteCounts::default();
    let mut insert = tx.prepare_cached(
        "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (series_id, ts) DO NOTHING",
    )?;
    // Only rows whose values changed are touched, so a re-run changes nothing. The same point
    // sent in another unit letter, or printed to fewer digits, differs in the last digits: a
    // change below one part in a million is not a change.
    let mut update = tx.prepare_cached(
        "UPDATE tickers SET hashrate_hs = ?3, reject_rate = ?4, provisional = ?5 \
         WHERE series_id = ?1 AND ts = ?2 \
           AND (provisional IS NOT ?5 \
                OR abs(hashrate_hs - ?3) > 1e-6 * max(abs(hashrate_hs), abs(?3)) \
                OR abs(reject_rate - ?4) > 1e-6 * max(abs(reject_rate), abs(?4)) + 1e-12)",
    )?;
    let stored_in_range = match (page.tickers.first(), page.tickers.last()) {
        (Some(first), Some(last)) => tx
            .prepare_cached(
                "SELECT count(*) FROM tickers WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3",
            )?
            .query_row(params![page.series_id, first.ts, last.ts], |r| {
                r.get::<_, i64>(0)
            })?,
        _ => 0,
    };
    let mut row_by_row: &[TickerRow] = &page.tickers;
    if stored_in_range == 0 {
        // A page of new points (a backfill): insert them many rows per statement.
        let mut chunks = page.tickers.chunks_exact(ROWS_PER_INSERT);
        let mut insert_many = tx.prepare_cached(insert_many_sql())?;
        for chunk in &mut chunks {
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 5);
            for ticker in chunk {
                values.extend_from_slice(&[
                    &page.series_id,
                    &ticker.ts,
                    &ticker.hashrate_hs,
                    &ticker.reject_rate,
                    &ticker.provisional,
                ]);
            }
            counts.rows_new += insert_many.execute(values.as_slice())? as u64;
        }
        row_by_row = chunks.remainder();
    }
    for ticker in row_by_row {
        let values = params![
            page.series_id,
            ticker.ts,
            ticker.hashrate_hs,
            ticker.reject_rate,
            ticker.provisional
        ];
        if insert.execute(values)? == 1 {
            counts.rows_new += 1;
        } else {
            counts.rows_updated += update.execute(values)? as u64;
        }
    }
    if let Some(before) = page.stale_provisional_before {
        counts.rows_removed += tx
            .prepare_cached(
                "DELETE FROM tickers WHERE series_id = ?1 AND provisional = 1 AND ts < ?2",
            )?
            .execute(params![page.series_id, before])? as u64;
    }
    if let Some((from_ts, to_ts)) = page.expired_gap {
        tx.prepare_cached(
            "INSERT INTO history_gaps (series_id, from_ts, to_ts, reason, detected_at, run_id) \
             VALUES (?1, ?2, ?3, 'expired', ?4, ?5) \
             ON CONFLICT (series_id, from_ts) DO UPDATE SET to_ts = MAX(to_ts, excluded.to_ts)",
        )?
        .execute(params![page.series_id, from_ts, to_ts, now, run_id])?;
        counts.gaps += 1;
    }
    if page.covered_through.is_some() || page.finished_at.is_some() {
        tx.prepare_cached(
            "UPDATE series SET \
               watermark_ts = CASE WHEN ?2 IS NULL THEN watermark_ts \
                                   ELSE MAX(IFNULL(watermark_ts, ?2), ?2) END, \
               last_synced_at = IFNULL(?3, last_synced_at) \
             WHERE series_id = ?1",
        )?
        .execute(params![
            page.series_id,
            page.covered_through,
            page.finished_at
        ])?;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: i64) -> WorkerRow {
        WorkerRow {
            worker_id: id,
            worker_name: format!("w{id}"),
            gid: None,
            status: "ACTIVE".to_owned(),
            last_share_time: None,
        }
    }

    #[test]
    fn directory_upsert_creates_each_series_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        let workers = [worker(1), worker(2)];
        let first = store.upsert_directory(7, &[], &workers, 100).unwrap();
        let again = store.upsert_directory(7, &[], &workers, 200).unwrap();
        assert_eq!(
            first.len(),
            6,
            "account and two workers, two dimensions each"
        );
        assert_eq!(first, again);
        let count: i64 = store
            .connection()
            .query_row("SELECT count(*) FROM series", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 6);
    }
}
