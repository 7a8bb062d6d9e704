//! The writes of an ingest run: the account directory, ticker pages with their watermark, gaps,
//! and the run log. Every method is one transaction.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use super::open::{open, StoreError};
use crate::model::{utc_months, AccountRef, Dimension, Directory, Point, PoolFacts};

/// Where a series stands before this run.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesState {
    pub series_id: i64,
    pub account_id: i64,
    pub worker_id: Option<i64>,
    pub dimension: Dimension,
    pub watermark_ts: Option<i64>,
    /// The oldest and newest point stored, if any.
    pub stored: Option<(i64, i64)>,
    /// The newest stored point with hashrate near the watermark: a pool may leave buckets
    /// without shares out, so only a point with hashrate that is not served again shows that
    /// the pool deleted history.
    pub newest_with_hashrate: Option<i64>,
    /// The worker's last share as the pool listed it (None: the account's series, or not said).
    pub last_share_time: Option<i64>,
}

/// What the pool showed of itself for one account and kind of series (account or worker
/// series, at one dimension).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolKnowledge {
    pub account_id: i64,
    pub is_worker: bool,
    pub dimension: Dimension,
    /// Slots from the oldest to the newest the pool served, both included.
    pub retention_slots: Option<i64>,
    pub oldest_served_ts: Option<i64>,
    /// The newest slot the pool has published (its clock, as the account series shows it).
    pub newest_served_ts: Option<i64>,
    /// The pool was seen deleting history it had served: `retention_slots` replaces the stored
    /// one instead of only raising it.
    pub shrank: bool,
}

/// One fetched page of one series: its rows and how far it moves the watermark, written in one
/// transaction so the cursor never runs ahead of the data.
#[derive(Debug, Clone, PartialEq)]
pub struct PageWrite {
    pub series_id: i64,
    /// The series' dimension: hourly pages also keep `hourly_by_day` current.
    pub dimension: Dimension,
    pub tickers: Vec<Point>,
    /// The newest completed slot this page covered; the watermark only moves forward.
    pub covered_through: Option<i64>,
    /// Set on the last page of a series: the series is up to date as of this time.
    pub finished_at: Option<i64>,
    /// On the last page: provisional rows older than this were not served again and are stale.
    pub stale_provisional_before: Option<i64>,
    /// History the pool no longer keeps and we never stored: (first, last) slot, inclusive.
    pub expired_gap: Option<(i64, i64)>,
}

impl PageWrite {
    /// A page of `series_id` with no rows and nothing else to record yet.
    pub fn empty(series_id: i64, dimension: Dimension) -> PageWrite {
        PageWrite {
            series_id,
            dimension,
            tickers: Vec::new(),
            covered_through: None,
            finished_at: None,
            stale_provisional_before: None,
            expired_gap: None,
        }
    }
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

/// The ingest's handle on the database: one connection, the single writer. Its transactions
/// begin IMMEDIATE: a deferred one that reads first fails with SQLITE_BUSY_SNAPSHOT, which the
/// busy timeout does not retry, when another connection (an export, an alert evaluation)
/// commits between its read and its first write.
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
    pub fn begin_run(&mut self, accounts: &[AccountRef], now: i64) -> Result<i64, StoreError> {
        let puid_list = accounts
            .iter()
            .filter_map(|a| a.puid.map(|p| p.to_string()))
            .collect::<Vec<_>>()
            .join(",");
        let account_list = accounts
            .iter()
            .map(|a| format!("{}:{}", a.pool, a.account))
            .collect::<Vec<_>>()
            .join(",");
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE ingest_runs SET status = 'failed', \
                 error = 'interrupted: the process stopped before the run finished' \
                 WHERE status = 'running'",
                [],
            )?;
            tx.execute(
                "INSERT INTO ingest_runs (started_at, status, puids, accounts) \
                 VALUES (?1, 'running', ?2, ?3)",
                params![now, puid_list, account_list],
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

    /// Upserts the pool's facts, the account, its groups and its listed workers, makes sure
    /// every series exists, and returns the account's id and the state of the series to fetch:
    /// the account's and the listed workers'.
    pub fn upsert_directory(
        &mut self,
        account: &AccountRef,
        facts: &PoolFacts,
        directory: &Directory,
        now: i64,
    ) -> Result<(i64, Vec<SeriesState>), StoreError> {
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            upsert_pool(&tx, facts)?;
            let account_id = upsert_account(&tx, account, now)?;
            upsert_directory_rows(&tx, account_id, directory, now)?;
            let states = series_states(&tx, account_id, directory)?;
            tx.commit()?;
            Ok((account_id, states))
        })();
        result.map_err(|e| self.sql_error(e))
    }

    /// What earlier runs learned about this account's pool, per kind of series.
    pub fn pool_knowledge(&self, account_id: i64) -> Result<Vec<PoolKnowledge>, StoreError> {
        let result = (|| {
            let mut query = self.conn.prepare_cached(
                "SELECT scope, dimension, retention_slots, oldest_served_ts, newest_served_ts \
                 FROM pool_knowledge WHERE account_id = ?1",
            )?;
            let rows = query.query_map([account_id], |row| {
                let scope: String = row.get(0)?;
                let dimension: String = row.get(1)?;
                Ok(PoolKnowledge {
                    account_id,
                    is_worker: scope == "worker",
                    dimension: Dimension::parse(&dimension).unwrap_or(Dimension::Hour),
                    retention_slots: row.get(2)?,
                    oldest_served_ts: row.get(3)?,
                    newest_served_ts: row.get(4)?,
                    shrank: false,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })();
        result.map_err(|e| self.sql_error(e))
    }

    /// Records what this run learned; a retention only grows (a young account shows less history
    /// than the pool keeps), a publication horizon is the newest the pool served.
    pub fn save_pool_knowledge(
        &mut self,
        learned: &[PoolKnowledge],
        now: i64,
    ) -> Result<(), StoreError> {
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO pool_knowledge (account_id, scope, dimension, retention_slots, \
                       oldest_served_ts, newest_served_ts, learned_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (account_id, scope, dimension) DO UPDATE SET \
                       oldest_served_ts = CASE WHEN ?8 OR excluded.retention_slots > \
                           IFNULL(retention_slots, 0) THEN excluded.oldest_served_ts \
                           ELSE oldest_served_ts END, \
                       retention_slots = CASE WHEN ?8 THEN excluded.retention_slots \
                           ELSE MAX(IFNULL(retention_slots, excluded.retention_slots), \
                                    IFNULL(excluded.retention_slots, retention_slots)) END, \
                       newest_served_ts = IFNULL(excluded.newest_served_ts, newest_served_ts), \
                       learned_at = excluded.learned_at",
                )?;
                for k in learned {
                    let scope = if k.is_worker { "worker" } else { "account" };
                    upsert.execute(params![
                        k.account_id,
                        scope,
                        k.dimension.as_str(),
                        k.retention_slots,
                        k.oldest_served_ts,
                        k.newest_served_ts,
                        now,
                        k.shrank
                    ])?;
                }
            }
            tx.commit()
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
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut counts = WriteCounts::default();
            let mut changed = ChangedMonths::new();
            for page in pages {
                counts += write_page(&tx, page, run_id, now, &mut changed)?;
            }
            stamp_changed_months(&tx, &changed)?;
            tx.commit()?;
            Ok(counts)
        })();
        result.map_err(|e| self.sql_error(e))
    }
}

/// The pool's documented facts, current as of this version of poolhist.
fn upsert_pool(tx: &Transaction, facts: &PoolFacts) -> rusqlite::Result<()> {
    let retention = facts.documented_retention;
    tx.prepare_cached(
        "INSERT INTO pools (pool, name, hashrate_source, reject_definition, worker_hours, \
           account_hours, worker_days, account_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (pool) DO UPDATE SET name = excluded.name, \
           hashrate_source = excluded.hashrate_source, \
           reject_definition = excluded.reject_definition, worker_hours = excluded.worker_hours, \
           account_hours = excluded.account_hours, worker_days = excluded.worker_days, \
           account_days = excluded.account_days",
    )?
    .execute(params![
        facts.name,
        facts.display_name,
        facts.hashrate_source,
        facts.reject_definition,
        retention.worker_hours,
        retention.account_hours,
        retention.worker_days,
        retention.account_days
    ])?;
    Ok(())
}

/// The account's id, created on first sight. A CloverPool account takes its puid as id when
/// that id is free, as databases of schema v3 did, so SQL over the tables keeps working.
fn upsert_account(tx: &Transaction, account: &AccountRef, now: i64) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen) \
         VALUES ((SELECT ?3 WHERE ?3 IS NOT NULL \
                    AND NOT EXISTS (SELECT 1 FROM accounts WHERE account_id = ?3)), \
                 ?1, ?2, ?3, ?4, ?4) \
         ON CONFLICT (pool, account) DO UPDATE SET previous_seen = accounts.last_seen, \
           last_seen = excluded.last_seen \
         RETURNING account_id",
    )?
    .query_row(
        params![account.pool, account.account, account.puid, now],
        |row| row.get(0),
    )
}

fn upsert_directory_rows(
    tx: &Transaction,
    account_id: i64,
    directory: &Directory,
    now: i64,
) -> rusqlite::Result<()> {
    let mut upsert_group = tx.prepare_cached(
        "INSERT INTO groups (account_id, gid, name, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4) \
         ON CONFLICT (account_id, gid) DO UPDATE SET name = excluded.name, last_seen = excluded.last_seen",
    )?;
    for group in &directory.groups {
        upsert_group.execute(params![account_id, group.gid, group.name, now])?;
    }
    let mut upsert_worker = tx.prepare_cached(
        "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, last_share_time, first_seen, last_seen) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) \
         ON CONFLICT (account_id, worker_id) DO UPDATE SET worker_name = excluded.worker_name, \
           gid = excluded.gid, status = excluded.status, \
           last_share_time = IFNULL(excluded.last_share_time, workers.last_share_time), \
           previous_seen = workers.last_seen, last_seen = excluded.last_seen",
    )?;
    // The unique index `series_by_key` makes an existing series a no-op (one index probe).
    let mut add_series = tx.prepare_cached(
        "INSERT OR IGNORE INTO series (account_id, worker_id, dimension) VALUES (?1, ?2, ?3)",
    )?;
    for dimension in Dimension::ALL {
        add_series.execute(params![account_id, Option::<i64>::None, dimension.as_str()])?;
    }
    for worker in &directory.workers {
        upsert_worker.execute(params![
            account_id,
            worker.worker_id,
            worker.worker_name,
            worker.gid,
            worker.status,
            worker.last_share_time,
            now
        ])?;
        for dimension in Dimension::ALL {
            add_series.execute(params![account_id, worker.worker_id, dimension.as_str()])?;
        }
    }
    Ok(())
}

/// How far before its watermark a series' newest point with hashrate is looked for: beyond the
/// late windows (3 hours, 2 days), so the lookup stays a short index range.
const NEAR_THE_WATERMARK: i64 = 3 * 86_400;

fn series_states(
    tx: &Transaction,
    account_id: i64,
    directory: &Directory,
) -> rusqlite::Result<Vec<SeriesState>> {
    let listed: HashSet<i64> = directory.workers.iter().map(|w| w.worker_id).collect();
    let mut query = tx.prepare_cached(
        "SELECT s.series_id, s.worker_id, s.dimension, s.watermark_ts, \
           (SELECT min(t.ts) FROM tickers t WHERE t.series_id = s.series_id), \
           (SELECT max(t.ts) FROM tickers t WHERE t.series_id = s.series_id), \
           (SELECT max(t.ts) FROM tickers t WHERE t.series_id = s.series_id \
              AND t.ts >= IFNULL(s.watermark_ts, 0) - ?2 AND t.hashrate_hs > 0), \
           w.last_share_time \
         FROM series s \
         LEFT JOIN workers w ON w.account_id = s.account_id AND w.worker_id = s.worker_id \
         WHERE s.account_id = ?1 \
         ORDER BY s.worker_id IS NOT NULL, s.worker_id, s.dimension",
    )?;
    let rows = query.query_map(params![account_id, NEAR_THE_WATERMARK], |row| {
        let dimension: String = row.get(2)?;
        Ok(SeriesState {
            series_id: row.get(0)?,
            account_id,
            worker_id: row.get(1)?,
            dimension: Dimension::parse(&dimension).unwrap_or(Dimension::Hour),
            watermark_ts: row.get(3)?,
            stored: row
                .get::<_, Option<i64>>(4)?
                .zip(row.get::<_, Option<i64>>(5)?),
            newest_with_hashrate: row.get(6)?,
            last_share_time: row.get(7)?,
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

/// The (series, UTC month) whose rows a transaction changed.
type ChangedMonths = BTreeSet<(i64, i64)>;

/// Stamps the export partitions of `changed` with a new change number, in the transaction that
/// changed them (schema v7): the next `export parquet` rewrites them, and only them.
pub(crate) fn stamp_changed_months(
    tx: &Transaction,
    changed: &ChangedMonths,
) -> rusqlite::Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let seq: i64 = tx.query_row(
        "UPDATE data_changes SET seq = seq + 1 RETURNING seq",
        [],
        |r| r.get(0),
    )?;
    let mut stamp = tx.prepare_cached(
        "INSERT INTO partition_changes (account_id, dimension, month_ts, changed_seq) \
         SELECT account_id, dimension, ?2, ?3 FROM series WHERE series_id = ?1 \
         ON CONFLICT (account_id, dimension, month_ts) DO UPDATE SET changed_seq = excluded.changed_seq",
    )?;
    for &(series_id, month_ts) in changed {
        stamp.execute(params![series_id, month_ts, seq])?;
    }
    Ok(())
}

fn note_changed(changed: &mut ChangedMonths, series_id: i64, (first_ts, last_ts): (i64, i64)) {
    changed.extend(
        utc_months(first_ts, last_ts)
            .into_iter()
            .map(|month| (series_id, month)),
    );
}

fn write_page(
    tx: &Transaction,
    page: &PageWrite,
    run_id: i64,
    now: i64,
    changed_months: &mut ChangedMonths,
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
    let times = page.tickers.iter().map(|t| t.ts);
    let page_span = times.clone().min().zip(times.max());
    let stored_in_range = match page_span {
        Some((first_ts, last_ts)) => tx
            .prepare_cached(
                "SELECT count(*) FROM tickers WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3",
            )?
            .query_row(params![page.series_id, first_ts, last_ts], |r| {
                r.get::<_, i64>(0)
            })?,
        None => 0,
    };
    let mut row_by_row: &[Point] = &page.tickers;
    let fresh = stored_in_range == 0;
    if fresh {
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
        if counts.rows_new > 0 {
            if let Some(span) = page_span {
                note_changed(changed_months, page.series_id, span);
            }
        }
    }
    // The span of rows this page changed one by one (None: nothing changed).
    let mut changed: Option<(i64, i64)> = None;
    for ticker in row_by_row {
        let values = params![
            page.series_id,
            ticker.ts,
            ticker.hashrate_hs,
            ticker.reject_rate,
            ticker.provisional
        ];
        let changes = if insert.execute(values)? == 1 {
            counts.rows_new += 1;
            1
        } else {
            let updated = update.execute(values)? as u64;
            counts.rows_updated += updated;
            updated
        };
        if changes > 0 {
            changed = Some(changed.map_or((ticker.ts, ticker.ts), |(lo, hi)| {
                (lo.min(ticker.ts), hi.max(ticker.ts))
            }));
        }
    }
    if let Some(span) = changed {
        note_changed(changed_months, page.series_id, span);
    }
    if page.dimension == Dimension::Hour {
        if fresh && counts.rows_new == page.tickers.len() as u64 {
            add_to_hourly_by_day(tx, page.series_id, &page.tickers)?;
        } else {
            if fresh {
                // Some rows of a many-rows INSERT were skipped; which ones is not known.
                changed = page_span;
            }
            // A re-fetched late window that changed nothing costs nothing here.
            if let Some((first_ts, last_ts)) = changed {
                recompute_hourly_by_day(tx, page.series_id, first_ts, last_ts)?;
            }
        }
    }
    // Only provisional rows go, and hourly_by_day counts final ones: it needs no update.
    if let Some(before) = page.stale_provisional_before {
        let mut delete = tx.prepare_cached(
            // The partial index holds only live points: without it this walked every
            // stored point of the series (schema v6).
            "DELETE FROM tickers INDEXED BY tickers_provisional \
             WHERE series_id = ?1 AND provisional = 1 AND ts < ?2 RETURNING ts",
        )?;
        let removed = delete.query_map(params![page.series_id, before], |r| r.get::<_, i64>(0))?;
        for ts in removed {
            let ts = ts?;
            counts.rows_removed += 1;
            note_changed(changed_months, page.series_id, (ts, ts));
        }
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

/// One UTC day of final hourly points, summed the way `hourly_by_day` stores it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DaySummary {
    day_ts: i64,
    hours_final: i64,
    hours_up: i64,
    up_mask: i64,
    hashrate_sum: f64,
    reject_weight_sum: f64,
    final_mask: i64,
}

/// Sums the final points of `tickers` (sorted by time) per UTC day.
fn summarize_days(tickers: &[Point]) -> Vec<DaySummary> {
    let mut days: Vec<DaySummary> = Vec::new();
    for ticker in tickers.iter().filter(|t| !t.provisional) {
        let day_ts = ticker.ts.div_euclid(DAY_SECONDS) * DAY_SECONDS;
        if days.last().is_none_or(|d| d.day_ts != day_ts) {
            days.push(DaySummary {
                day_ts,
                hours_final: 0,
                hours_up: 0,
                up_mask: 0,
                hashrate_sum: 0.0,
                reject_weight_sum: 0.0,
                final_mask: 0,
            });
        }
        let day = days.last_mut().expect("pushed above");
        day.hours_final += 1;
        day.final_mask |= 1 << ((ticker.ts - day_ts) / 3600);
        if ticker.hashrate_hs > 0.0 {
            day.hours_up += 1;
            day.up_mask |= 1 << ((ticker.ts - day_ts) / 3600);
        }
        day.hashrate_sum += ticker.hashrate_hs;
        day.reject_weight_sum += ticker.hashrate_hs * ticker.reject_rate;
    }
    days
}

const DAY_SECONDS: i64 = 86_400;

/// A page whose points were all new: its day sums add to what the day already holds (a page
/// edge can split a day), without reading the tickers back.
fn add_to_hourly_by_day(
    tx: &Transaction,
    series_id: i64,
    tickers: &[Point],
) -> rusqlite::Result<()> {
    let mut add = tx.prepare_cached(
        "INSERT INTO hourly_by_day (series_id, day_ts, hours_final, hours_up, up_mask, \
           hashrate_sum, reject_weight_sum, final_mask) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (series_id, day_ts) DO UPDATE SET \
           hours_final = hours_final + excluded.hours_final, \
           hours_up = hours_up + excluded.hours_up, \
           up_mask = up_mask | excluded.up_mask, \
           final_mask = final_mask | excluded.final_mask, \
           hashrate_sum = hashrate_sum + excluded.hashrate_sum, \
           reject_weight_sum = reject_weight_sum + excluded.reject_weight_sum",
    )?;
    for day in summarize_days(tickers) {
        add.execute(params![
            series_id,
            day.day_ts,
            day.hours_final,
            day.hours_up,
            day.up_mask,
            day.hashrate_sum,
            day.reject_weight_sum,
            day.final_mask
        ])?;
    }
    Ok(())
}

/// Any other page (updates, late points, provisional turned final): the touched days are
/// summed again from the tickers. Same sums as `v_hourly_by_day_from_tickers`, but over a `ts`
/// range the primary key can seek (the view would sum the whole series first).
fn recompute_hourly_by_day(
    tx: &Transaction,
    series_id: i64,
    first_ts: i64,
    last_ts: i64,
) -> rusqlite::Result<()> {
    let from_day = first_ts.div_euclid(DAY_SECONDS) * DAY_SECONDS;
    let to_day = (last_ts.div_euclid(DAY_SECONDS) + 1) * DAY_SECONDS;
    tx.prepare_cached(
        "DELETE FROM hourly_by_day WHERE series_id = ?1 AND day_ts >= ?2 AND day_ts < ?3",
    )?
    .execute(params![series_id, from_day, to_day])?;
    tx.prepare_cached(
        "INSERT INTO hourly_by_day (series_id, day_ts, hours_final, hours_up, up_mask, \
           hashrate_sum, reject_weight_sum, final_mask) \
         SELECT series_id, (ts / 86400) * 86400, COUNT(*), SUM(hashrate_hs > 0), \
                SUM(CASE WHEN hashrate_hs > 0 THEN 1 << ((ts % 86400) / 3600) ELSE 0 END), \
                SUM(hashrate_hs), SUM(hashrate_hs * reject_rate), \
                SUM(1 << ((ts % 86400) / 3600)) \
         FROM tickers \
         WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3 AND provisional = 0 \
         GROUP BY ts / 86400",
    )?
    .execute(params![series_id, from_day, to_day])?;
    Ok(())
}

/// Rebuilds `hourly_by_day` from the tickers (queries/rebuild_hourly_by_day.sql), for data
/// written around the ingest: test fixtures, benchmarks, hand edits.
pub fn rebuild_hourly_by_day(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(REBUILD_HOURLY_BY_DAY_SQL)
}

/// The (series_id, day_ts) whose stored `hourly_by_day` row differs from a fresh sum of the
/// tickers (missing, extra, other counts or mask, sums off by more than rounding). Empty when
/// the summary is current.
pub fn hourly_by_day_mismatches(conn: &Connection) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare(CHECK_HOURLY_BY_DAY_SQL)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

pub const CHECK_HOURLY_BY_DAY_SQL: &str = include_str!("../../queries/check_hourly_by_day.sql");

pub const REBUILD_HOURLY_BY_DAY_SQL: &str = include_str!("../../queries/rebuild_hourly_by_day.sql");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Worker;

    fn worker(id: i64) -> Worker {
        Worker {
            worker_id: id,
            worker_name: format!("w{id}"),
            gid: None,
            status: "ACTIVE".to_owned(),
            last_share_time: None,
        }
    }

    fn hour(ts: i64, hashrate_hs: f64, provisional: bool) -> Point {
        Point {
            ts,
            hashrate_hs,
            reject_rate: 0.01,
            provisional,
        }
    }

    fn hourly_page(series_id: i64, tickers: Vec<Point>) -> PageWrite {
        PageWrite {
            series_id,
            dimension: Dimension::Hour,
            tickers,
            covered_through: None,
            finished_at: None,
            stale_provisional_before: None,
            expired_gap: None,
        }
    }

    fn account(puid: i64) -> AccountRef {
        AccountRef {
            pool: "cloverpool",
            account: puid.to_string(),
            puid: Some(puid),
        }
    }

    fn listing(workers: &[Worker]) -> Directory {
        Directory {
            workers: workers.to_vec(),
            ..Directory::default()
        }
    }

    const FACTS: PoolFacts = crate::pools::cloverpool::FACTS;

    /// A store with one listed worker; returns its hourly and daily series ids.
    fn store_with_one_worker(dir: &tempfile::TempDir) -> (Store, i64, i64) {
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        let (_, states) = store
            .upsert_directory(&account(7), &FACTS, &listing(&[worker(1)]), 100)
            .unwrap();
        let series = |dimension| {
            states
                .iter()
                .find(|s| s.worker_id == Some(1) && s.dimension == dimension)
                .unwrap()
                .series_id
        };
        let (hourly, daily) = (series(Dimension::Hour), series(Dimension::Day));
        (store, hourly, daily)
    }

    fn summary_row(store: &Store, series_id: i64, day_ts: i64) -> Option<(i64, i64, i64, f64)> {
        store
            .connection()
            .query_row(
                "SELECT hours_final, hours_up, up_mask, hashrate_sum FROM hourly_by_day \
                 WHERE series_id = ?1 AND day_ts = ?2",
                params![series_id, day_ts],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .ok()
    }

    #[test]
    fn hourly_by_day_follows_new_pages_updates_and_provisional_points() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, hourly, _) = store_with_one_worker(&dir);
        let day = 1_764_028_800; // 2025-11-25T00:00Z
                                 // A backfill in two pages that split day 1 at 10:00; hour 3 down; day 2 ends live.
        let first: Vec<Point> = (0..10)
            .map(|h| hour(day + h * 3600, if h == 3 { 0.0 } else { 2.0 }, false))
            .collect();
        let second: Vec<Point> = (10..30)
            .map(|h| hour(day + h * 3600, 3.0, h == 29))
            .collect();
        store
            .write_pages(&[hourly_page(hourly, first)], 1, 100)
            .unwrap();
        store
            .write_pages(&[hourly_page(hourly, second)], 1, 100)
            .unwrap();
        let all_up_but_3 = ((1 << 24) - 1) & !(1 << 3);
        assert_eq!(
            summary_row(&store, hourly, day),
            Some((24, 23, all_up_but_3, 9.0 * 2.0 + 14.0 * 3.0))
        );
        assert_eq!(
            summary_row(&store, hourly, day + 86_400),
            Some((5, 5, 0b1_1111, 15.0)),
            "the provisional hour 05:00 of day 2 is not counted"
        );
        // The next run: hour 3 was late (now up), the live point became final, a new live one.
        let late = vec![
            hour(day + 3 * 3600, 4.0, false),
            hour(day + 29 * 3600, 3.0, false),
            hour(day + 30 * 3600, 1.0, true),
        ];
        store
            .write_pages(&[hourly_page(hourly, late)], 2, 200)
            .unwrap();
        assert_eq!(
            summary_row(&store, hourly, day),
            Some((24, 24, (1 << 24) - 1, 9.0 * 2.0 + 4.0 + 14.0 * 3.0))
        );
        assert_eq!(
            summary_row(&store, hourly, day + 86_400),
            Some((6, 6, 0b11_1111, 18.0))
        );
        assert!(hourly_by_day_mismatches(store.connection())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn hourly_by_day_holds_for_pages_out_of_order_or_with_repeated_hours() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, hourly, _) = store_with_one_worker(&dir);
        let day = 1_764_028_800;
        let at = |h: i64, hashrate_hs: f64| hour(day + h * 3600, hashrate_hs, false);
        // New rows, one hour twice: the many-rows INSERT skips one, so the days are re-summed.
        let repeated: Vec<Point> = (0..40).map(|h| at(h, 1.0)).chain([at(5, 1.0)]).collect();
        store
            .write_pages(&[hourly_page(hourly, repeated)], 1, 100)
            .unwrap();
        // Revisions newest first, across both days.
        let revised = vec![at(39, 0.0), at(30, 2.0), at(2, 0.0)];
        store
            .write_pages(&[hourly_page(hourly, revised)], 2, 200)
            .unwrap();
        assert!(hourly_by_day_mismatches(store.connection())
            .unwrap()
            .is_empty());
        assert_eq!(summary_row(&store, hourly, day).unwrap().1, 23);
        assert_eq!(summary_row(&store, hourly, day + 86_400).unwrap().1, 15);
    }

    #[test]
    fn daily_pages_leave_hourly_by_day_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _, daily) = store_with_one_worker(&dir);
        let mut page = hourly_page(daily, vec![hour(1_764_028_800, 5.0, false)]);
        page.dimension = Dimension::Day;
        store.write_pages(&[page], 1, 100).unwrap();
        let rows: i64 = store
            .connection()
            .query_row("SELECT count(*) FROM hourly_by_day", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
    }

    #[test]
    fn writes_that_change_rows_stamp_their_months_and_replays_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, hourly, _) = store_with_one_worker(&dir);
        let stamps = |store: &Store| -> Vec<(String, i64, i64)> {
            store
                .connection()
                .prepare(
                    "SELECT dimension, month_ts, changed_seq FROM partition_changes ORDER BY 1, 2",
                )
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        // 2026-10-31T23:00Z and 2026-11-01T00:00Z: one page over two months.
        let (oct, nov) = (1_790_812_800, 1_793_491_200);
        let page = hourly_page(
            hourly,
            vec![hour(nov - 3600, 1.0, false), hour(nov, 2.0, true)],
        );
        store
            .write_pages(std::slice::from_ref(&page), 1, 0)
            .unwrap();
        let first = stamps(&store);
        assert_eq!(first.len(), 2);
        assert_eq!((first[0].1, first[1].1), (oct, nov));
        assert_eq!(first[0].2, first[1].2, "one stamp per transaction");
        // The same page again changes nothing: no new stamp.
        store.write_pages(&[page], 1, 0).unwrap();
        assert_eq!(stamps(&store), first);
        // The live November point goes stale: November only.
        let mut stale = hourly_page(hourly, vec![]);
        stale.stale_provisional_before = Some(nov + 3600);
        assert_eq!(store.write_pages(&[stale], 1, 0).unwrap().rows_removed, 1);
        let after = stamps(&store);
        assert_eq!(after[0], first[0]);
        assert!(after[1].2 > first[1].2);
    }

    #[test]
    fn mismatch_check_finds_a_hand_edit_and_rebuild_repairs_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, hourly, _) = store_with_one_worker(&dir);
        let day = 1_764_028_800;
        let page: Vec<Point> = (0..48).map(|h| hour(day + h * 3600, 1.0, false)).collect();
        store
            .write_pages(&[hourly_page(hourly, page)], 1, 100)
            .unwrap();
        store
            .connection()
            .execute(
                "DELETE FROM tickers WHERE series_id = ?1 AND ts = ?2",
                params![hourly, day + 86_400 + 7200],
            )
            .unwrap();
        assert_eq!(
            hourly_by_day_mismatches(store.connection()).unwrap(),
            vec![(hourly, day + 86_400)]
        );
        rebuild_hourly_by_day(store.connection()).unwrap();
        assert!(hourly_by_day_mismatches(store.connection())
            .unwrap()
            .is_empty());
        assert_eq!(
            summary_row(&store, hourly, day + 86_400),
            Some((23, 23, ((1 << 24) - 1) & !(1 << 2), 23.0))
        );
    }

    #[test]
    fn directory_upsert_creates_each_series_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        let workers = [worker(1), worker(2)];
        let first = store
            .upsert_directory(&account(7), &FACTS, &listing(&workers), 100)
            .unwrap();
        let again = store
            .upsert_directory(&account(7), &FACTS, &listing(&workers), 200)
            .unwrap();
        assert_eq!(first.0, 7, "a CloverPool account takes its puid as id");
        let (_, first) = first;
        let (_, again) = again;
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

    #[test]
    fn accounts_of_two_pools_never_share_an_id_or_a_worker() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        let foundry = AccountRef {
            pool: "foundry",
            account: "7".to_owned(),
            puid: None,
        };
        let foundry_facts = crate::pools::foundry::FACTS;
        let (foundry_id, foundry_series) = store
            .upsert_directory(&foundry, &foundry_facts, &listing(&[worker(1)]), 100)
            .unwrap();
        let (clover_id, clover_series) = store
            .upsert_directory(&account(foundry_id), &FACTS, &listing(&[worker(1)]), 100)
            .unwrap();
        assert_ne!(
            foundry_id, clover_id,
            "the puid's id was taken: another is given"
        );
        assert!(foundry_series
            .iter()
            .all(|f| clover_series.iter().all(|c| c.series_id != f.series_id)));
        let rows: Vec<(String, String, Option<i64>)> = store
            .connection()
            .prepare("SELECT pool, account, puid FROM v_workers ORDER BY pool")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    "cloverpool".into(),
                    foundry_id.to_string(),
                    Some(foundry_id)
                ),
                ("foundry".into(), "7".into(), None)
            ]
        );
    }
}
