//! `poolhist export parquet`: the history as Hive-partitioned Parquet, for DuckDB, Spark, Trino
//! or ClickHouse when one machine is not enough.
//!
//! ```text
//! OUT/tickers/pool=P/account=A/dimension=1h/month=2026-10/part-0.parquet
//! OUT/hourly_by_day/pool=P/account=A/month=2026-10/part-0.parquet
//! OUT/workers/pool=P/account=A/part-0.parquet
//! OUT/_manifests/pool=P/account=A.json
//! ```
//!
//! A partition is one file, written under a hidden temporary name, synced, and renamed over the
//! old one: a reader, or a killed export, sees each partition either old or new. The database
//! stamps a partition (account, dimension, UTC month) whenever its rows change (schema v7); the
//! export remembers per target directory which stamp it wrote, and rewrites only what changed.

pub mod parquet;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

use self::parquet::{micros, Compression, Table, TableFile};
use crate::model::{utc_next_month, Dimension};
use crate::report::{AccountArgs, AccountFilter};
use crate::store::open_read_only;

/// `poolhist export ...`
#[derive(Debug, clap::Subcommand)]
pub enum ExportCommand {
    /// Write the history as Parquet, Hive-partitioned by pool, account, dimension and month;
    /// a second export to the same directory rewrites only the partitions that changed
    Parquet(ParquetArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ParquetArgs {
    /// The export directory (created if missing): local, or a mounted shared storage
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub accounts: Option<AccountArgs>,
    /// Column compression
    #[arg(long, value_enum, default_value_t = Compression::Zstd)]
    pub compression: Compression,
    /// Rewrite every partition, changed or not (after editing the database by hand)
    #[arg(long)]
    pub full: bool,
    /// Print nothing but errors
    #[arg(long, short)]
    pub quiet: bool,
}

/// Stamps every partition holding data (queries/stamp_partitions.sql).
pub const STAMP_PARTITIONS_SQL: &str = include_str!("../../queries/stamp_partitions.sql");

/// What one export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub accounts: u64,
    /// Partition files written (new or replaced).
    pub written: u64,
    /// Partitions whose data had not changed since this directory last got them.
    pub unchanged: u64,
    /// Partition files removed: their rows are gone from the database (`db prune`).
    pub removed: u64,
    pub rows_written: u64,
    pub bytes_written: u64,
}

pub fn run(db: &Path, command: &ExportCommand) -> anyhow::Result<()> {
    match command {
        ExportCommand::Parquet(args) => {
            let started = Instant::now();
            let summary = export_parquet(db, args, chrono::Utc::now().timestamp())?;
            if !args.quiet {
                println!(
                    "exported {} account(s) to {}: {} partition file(s) written ({} rows, {}), \
                     {} unchanged, {} removed, in {:.1} s",
                    summary.accounts,
                    args.out.display(),
                    summary.written,
                    summary.rows_written,
                    crate::store::maintenance::human_bytes(summary.bytes_written),
                    summary.unchanged,
                    summary.removed,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
    }
}

/// One account as the export names it.
struct Account {
    id: i64,
    pool: String,
    account: String,
}

/// What the target directory holds of one partition file, as recorded when it was written.
struct Written {
    changed_seq: Option<i64>,
    content_sha256: Option<String>,
    bytes: i64,
}

/// Exports the selected accounts (all by default) to `args.out`.
pub fn export_parquet(db: &Path, args: &ParquetArgs, now: i64) -> anyhow::Result<ExportSummary> {
    if !db.exists() {
        bail!("no database at {}", db.display());
    }
    let filter = AccountFilter::from_args(args.accounts.as_ref())?;
    // Upgrades an older database in place, as the ingest would.
    let records = crate::store::open(db)?;
    let no_account = || {
        anyhow::anyhow!(
            "no account in {} matches {}",
            db.display(),
            filter
                .describe()
                .unwrap_or_else(|| "any account".to_owned())
        )
    };
    if selected_accounts(&records, &filter)?.is_empty() {
        return Err(no_account());
    }
    if args.full {
        // Also the months no write stamped: rows inserted by hand, a restored database.
        records
            .execute_batch(&format!("BEGIN IMMEDIATE; {STAMP_PARTITIONS_SQL} COMMIT;"))
            .with_context(|| format!("finding the partitions of {}", db.display()))?;
    }
    let mut reader = open_read_only(db)?;
    fs::create_dir_all(&args.out)
        .with_context(|| format!("creating the export directory {}", args.out.display()))?;
    let root = args
        .out
        .canonicalize()
        .with_context(|| format!("reading the export directory {}", args.out.display()))?;
    let target = root.to_string_lossy().into_owned();

    // One snapshot for the whole export: an ingest may write meanwhile; what it changes gets
    // a newer stamp than the one recorded here, so the next export takes it.
    let snapshot = reader.transaction()?;
    let accounts = selected_accounts(&snapshot, &filter)?;
    if accounts.is_empty() {
        return Err(no_account());
    }
    let mut summary = ExportSummary::default();
    for account in &accounts {
        let exporter = AccountExport {
            snapshot: &snapshot,
            records: &records,
            root: &root,
            target: &target,
            account,
            args,
            now,
        };
        let context = || {
            format!(
                "exporting {}:{} to {}",
                account.pool,
                account.account,
                root.display()
            )
        };
        // One export per account at a time; shards (other accounts) export beside it.
        let _lock = exporter.lock().with_context(context)?;
        exporter.remove_temporary_files().with_context(context)?;
        exporter.run(&mut summary).with_context(context)?;
        summary.accounts += 1;
    }
    Ok(summary)
}

fn selected_accounts(conn: &Connection, filter: &AccountFilter) -> rusqlite::Result<Vec<Account>> {
    let mut stmt = conn.prepare(
        "SELECT account_id, pool, account FROM accounts \
         WHERE (?1 IS NULL OR pool = ?1) AND (?2 IS NULL OR account = ?2) \
         ORDER BY pool, account",
    )?;
    let rows = stmt.query_map(params![filter.pool, filter.account], |r| {
        Ok(Account {
            id: r.get(0)?,
            pool: r.get(1)?,
            account: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// One export run over one account.
struct AccountExport<'a> {
    snapshot: &'a Connection,
    records: &'a Connection,
    root: &'a Path,
    target: &'a str,
    account: &'a Account,
    args: &'a ParquetArgs,
    now: i64,
}

impl AccountExport<'_> {
    fn run(&self, summary: &mut ExportSummary) -> anyhow::Result<()> {
        let written = self.written()?;
        let mut stmt = self.snapshot.prepare(
            "SELECT dimension, month_ts, changed_seq FROM partition_changes \
             WHERE account_id = ?1 ORDER BY dimension, month_ts",
        )?;
        let partitions: Vec<(String, i64, i64)> = stmt
            .query_map([self.account.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (dimension, month_ts, changed_seq) in partitions {
            let Some(dimension) = Dimension::parse(&dimension) else {
                continue;
            };
            let mut tables = vec![Table::Tickers];
            if dimension == Dimension::Hour {
                tables.push(Table::HourlyByDay);
            }
            for table in tables {
                let path = partition_path(table, self.account, Some((dimension, month_ts)));
                let current = written.get(&path);
                let up_to_date = current.is_some_and(|w| {
                    w.changed_seq.is_some_and(|seq| seq >= changed_seq) && self.file_is(&path, w)
                });
                if up_to_date && !self.args.full {
                    summary.unchanged += 1;
                    continue;
                }
                let version = Version {
                    changed_seq: Some(changed_seq),
                    content_sha256: None,
                };
                self.replace(table, &path, current.is_some(), version, summary, |file| {
                    self.partition_rows(table, dimension, month_ts, file)
                })?;
            }
        }
        // Workers change with every listing (last seen, status): compared by content.
        let path = partition_path(Table::Workers, self.account, None);
        let digest = self.workers_digest()?;
        let current = written.get(&path);
        let up_to_date = current.is_some_and(|w| {
            w.content_sha256.as_deref() == Some(digest.as_str()) && self.file_is(&path, w)
        });
        if up_to_date && !self.args.full {
            summary.unchanged += 1;
        } else {
            let version = Version {
                changed_seq: None,
                content_sha256: Some(digest),
            };
            self.replace(
                Table::Workers,
                &path,
                current.is_some(),
                version,
                summary,
                |file| self.worker_rows(file),
            )?;
        }
        self.write_manifest()
    }

    /// The account's directories under the export root.
    fn account_dirs(&self) -> Vec<PathBuf> {
        let account = format!(
            "pool={}/account={}",
            hive_escape(&self.account.pool),
            hive_escape(&self.account.account)
        );
        Table::ALL
            .iter()
            .map(|t| self.root.join(t.name()).join(&account))
            .collect()
    }

    /// `_manifests/pool=P/` and the account's name in it (`account=A`).
    fn manifest_dir_and_stem(&self) -> (PathBuf, String) {
        (
            self.root
                .join("_manifests")
                .join(format!("pool={}", hive_escape(&self.account.pool))),
            format!("account={}", hive_escape(&self.account.account)),
        )
    }

    /// `_manifests/pool=P/.account=A.lock`, taken at once or refused in one line: another
    /// export of this account into this tree is under way.
    fn lock(&self) -> anyhow::Result<fs::File> {
        let (dir, stem) = self.manifest_dir_and_stem();
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!(".{stem}.lock"));
        let file = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another export of this account is writing to this directory (lock {} held)",
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }

    /// The temporary files a killed export of this account left: only names the export itself
    /// writes, only in this account's directories (we hold its lock: none is in use).
    fn remove_temporary_files(&self) -> anyhow::Result<()> {
        let is_ours = |name: &str| name.starts_with(".part-0.parquet.") && name.ends_with(".tmp");
        let mut pending = self.account_dirs();
        while let Some(dir) = pending.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
            };
            for entry in entries {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    pending.push(entry.path());
                } else if kind.is_file() && is_ours(&entry.file_name().to_string_lossy()) {
                    remove(&entry.path())?;
                }
            }
        }
        let (dir, stem) = self.manifest_dir_and_stem();
        let prefix = format!(".{stem}.json.");
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(&prefix) && name.ends_with(".tmp") {
                    remove(&entry.path())?;
                }
            }
        }
        Ok(())
    }

    /// The partition files this target got of this account, by path.
    fn written(&self) -> rusqlite::Result<HashMap<String, Written>> {
        let mut stmt = self.records.prepare(
            "SELECT path, changed_seq, content_sha256, bytes FROM export_partitions \
             WHERE target = ?1 AND account_id = ?2",
        )?;
        let rows = stmt.query_map(params![self.target, self.account.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Written {
                    changed_seq: r.get(1)?,
                    content_sha256: r.get(2)?,
                    bytes: r.get(3)?,
                },
            ))
        })?;
        rows.collect()
    }

    /// The recorded file is still there as written (not deleted or replaced by hand).
    fn file_is(&self, path: &str, written: &Written) -> bool {
        fs::metadata(self.root.join(path))
            .is_ok_and(|m| i64::try_from(m.len()).ok() == Some(written.bytes))
    }

    /// Writes one partition file through a hidden temporary file renamed over the old one,
    /// then records it; a partition left with no rows loses its file.
    fn replace(
        &self,
        table: Table,
        path: &str,
        had_record: bool,
        version: Version,
        summary: &mut ExportSummary,
        fill: impl FnOnce(&mut TableFile) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let final_path = self.root.join(path);
        let dir = final_path
            .parent()
            .expect("a partition file is in a directory");
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let temporary = dir.join(format!(".part-0.parquet.{}.tmp", std::process::id()));
        let result = (|| {
            let mut file = TableFile::create(
                &temporary,
                table,
                self.args.compression,
                vec![
                    ("poolhist.table".to_owned(), table.name().to_owned()),
                    ("poolhist.pool".to_owned(), self.account.pool.clone()),
                    ("poolhist.account".to_owned(), self.account.account.clone()),
                ],
            )?;
            fill(&mut file)?;
            let rows = file.rows();
            file.finish()?;
            anyhow::Ok(rows)
        })();
        let rows = match result {
            Ok(rows) => rows,
            Err(e) => {
                let _ = fs::remove_file(&temporary);
                return Err(e.context(format!("writing {}", final_path.display())));
            }
        };
        if rows == 0 {
            fs::remove_file(&temporary).ok();
            // Any file at the path goes, recorded or not (a tree moved, restored, or an
            // export killed before it recorded the file): its rows are no longer stored.
            match fs::remove_file(&final_path) {
                Ok(()) => summary.removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("removing {}", final_path.display()))
                }
            }
            if had_record {
                self.records.execute(
                    "DELETE FROM export_partitions WHERE target = ?1 AND path = ?2",
                    params![self.target, path],
                )?;
            }
            return Ok(());
        }
        fs::rename(&temporary, &final_path)
            .with_context(|| format!("renaming into place {}", final_path.display()))?;
        sync_dir(dir);
        let bytes = fs::metadata(&final_path)?.len();
        self.records.execute(
            "INSERT INTO export_partitions (target, path, account_id, changed_seq, \
             content_sha256, rows, bytes, exported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (target, path) DO UPDATE SET changed_seq = excluded.changed_seq, \
               content_sha256 = excluded.content_sha256, rows = excluded.rows, \
               bytes = excluded.bytes, exported_at = excluded.exported_at",
            params![
                self.target,
                path,
                self.account.id,
                version.changed_seq,
                version.content_sha256,
                rows as i64,
                bytes as i64,
                self.now
            ],
        )?;
        summary.written += 1;
        summary.rows_written += rows;
        summary.bytes_written += bytes;
        Ok(())
    }

    /// A partition's rows in the order engines prune best on: by worker (the account's own
    /// series first), then time.
    fn partition_rows(
        &self,
        table: Table,
        dimension: Dimension,
        month_ts: i64,
        file: &mut TableFile,
    ) -> anyhow::Result<()> {
        let next_month = utc_next_month(month_ts);
        match table {
            Table::Tickers => {
                let mut stmt = self.snapshot.prepare_cached(
                    "SELECT s.worker_id, t.ts, t.hashrate_hs, t.reject_rate, t.provisional \
                     FROM series s \
                     CROSS JOIN tickers t ON t.series_id = s.series_id \
                                         AND t.ts >= ?3 AND t.ts < ?4 \
                     WHERE s.account_id = ?1 AND s.dimension = ?2 \
                     ORDER BY s.worker_id, t.ts",
                )?;
                let mut rows = stmt.query(params![
                    self.account.id,
                    dimension.as_str(),
                    month_ts,
                    next_month
                ])?;
                while let Some(row) = rows.next()? {
                    let (worker_id, ts): (Option<i64>, i64) = (row.get(0)?, row.get(1)?);
                    let (hashrate, reject, provisional): (f64, f64, bool) =
                        (row.get(2)?, row.get(3)?, row.get(4)?);
                    file.push(|r| {
                        r.i64(worker_id)
                            .i64(Some(micros(ts)))
                            .f64(hashrate)
                            .f64(reject)
                            .bool(provisional);
                    })?;
                }
            }
            Table::HourlyByDay => {
                let mut stmt = self.snapshot.prepare_cached(
                    "SELECT s.worker_id, h.day_ts, h.hours_final, h.hours_up, h.up_mask, \
                            h.hashrate_sum, h.reject_weight_sum \
                     FROM series s \
                     CROSS JOIN hourly_by_day h ON h.series_id = s.series_id \
                                               AND h.day_ts >= ?2 AND h.day_ts < ?3 \
                     WHERE s.account_id = ?1 AND s.dimension = '1h' \
                     ORDER BY s.worker_id, h.day_ts",
                )?;
                let mut rows = stmt.query(params![self.account.id, month_ts, next_month])?;
                while let Some(row) = rows.next()? {
                    let worker_id: Option<i64> = row.get(0)?;
                    let day_ts: i64 = row.get(1)?;
                    let counts: (i32, i32, i32) = (row.get(2)?, row.get(3)?, row.get(4)?);
                    let sums: (f64, f64) = (row.get(5)?, row.get(6)?);
                    file.push(|r| {
                        r.i64(worker_id)
                            .i64(Some(micros(day_ts)))
                            .i32(counts.0)
                            .i32(counts.1)
                            .i32(counts.2)
                            .f64(sums.0)
                            .f64(sums.1);
                    })?;
                }
            }
            Table::Workers => unreachable!("workers are not partitioned by month"),
        }
        Ok(())
    }

    fn worker_rows(&self, file: &mut TableFile) -> anyhow::Result<()> {
        self.for_each_worker(|w| {
            file.push(|r| {
                r.i64(Some(w.worker_id))
                    .text(Some(&w.worker_name))
                    .i64(w.group_id)
                    .text(w.group_name.as_deref())
                    .text(w.status.as_deref())
                    .i64(w.last_share_time.map(micros))
                    .i64(Some(micros(w.first_seen)))
                    .i64(Some(micros(w.last_seen)));
            })?;
            Ok(())
        })
    }

    /// A digest of the workers rows as the file would hold them.
    fn workers_digest(&self) -> anyhow::Result<String> {
        let mut hasher = Sha256::new();
        self.for_each_worker(|w| {
            // Debug output is unambiguous: strings quoted and escaped, None spelled out.
            hasher.update(format!("{w:?}\n").as_bytes());
            Ok(())
        })?;
        Ok(format!("{:x}", hasher.finalize()))
    }

    fn for_each_worker(
        &self,
        mut each: impl FnMut(&WorkerRow) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut stmt = self.snapshot.prepare_cached(
            "SELECT w.worker_id, w.worker_name, w.gid, g.name, w.status, w.last_share_time, \
                    w.first_seen, w.last_seen \
             FROM workers w LEFT JOIN groups g ON g.account_id = w.account_id AND g.gid = w.gid \
             WHERE w.account_id = ?1 ORDER BY w.worker_id",
        )?;
        let mut rows = stmt.query([self.account.id])?;
        while let Some(row) = rows.next()? {
            each(&WorkerRow {
                worker_id: row.get(0)?,
                worker_name: row.get(1)?,
                group_id: row.get(2)?,
                group_name: row.get(3)?,
                status: row.get(4)?,
                last_share_time: row.get(5)?,
                first_seen: row.get(6)?,
                last_seen: row.get(7)?,
            })?;
        }
        Ok(())
    }

    /// `_manifests/pool=P/account=A.json`: what this account's tree holds, written atomically
    /// after its partitions. One file per account, so databases that shard the accounts
    /// between them can export into one tree.
    fn write_manifest(&self) -> anyhow::Result<()> {
        let mut stmt = self.records.prepare(
            "SELECT path, rows, bytes, exported_at FROM export_partitions \
             WHERE target = ?1 AND account_id = ?2 ORDER BY path",
        )?;
        let partitions = stmt
            .query_map(params![self.target, self.account.id], |r| {
                let path: String = r.get(0)?;
                Ok(serde_json::json!({
                    "table": path.split('/').next().unwrap_or_default(),
                    "path": path,
                    "rows": r.get::<_, i64>(1)?,
                    "bytes": r.get::<_, i64>(2)?,
                    "exported_at": crate::report::render::format_time_iso(r.get(3)?),
                }))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let tables: serde_json::Map<String, serde_json::Value> = Table::ALL
            .iter()
            .map(|t| {
                (
                    t.name().to_owned(),
                    serde_json::json!(self::parquet::column_names(*t)),
                )
            })
            .collect();
        let manifest = serde_json::json!({
            "format": "poolhist parquet export",
            "format_version": 1,
            "written_by": format!("poolhist {}", env!("CARGO_PKG_VERSION")),
            "pool": self.account.pool,
            "account": self.account.account,
            "exported_at": crate::report::render::format_time_iso(self.now),
            "compression": self.args.compression.as_str(),
            "partitioning": {
                "tickers": ["pool", "account", "dimension", "month"],
                "hourly_by_day": ["pool", "account", "month"],
                "workers": ["pool", "account"],
            },
            "columns": tables,
            "partitions": partitions,
        });
        let (dir, stem) = self.manifest_dir_and_stem();
        let path = dir.join(format!("{stem}.json"));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let temporary = dir.join(format!(".{stem}.json.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&temporary, &path)
        };
        write().with_context(|| format!("writing {}", path.display()))?;
        sync_dir(&dir);
        Ok(())
    }
}

/// What a partition file was written from.
struct Version {
    changed_seq: Option<i64>,
    content_sha256: Option<String>,
}

#[derive(Debug)]
struct WorkerRow {
    worker_id: i64,
    worker_name: String,
    group_id: Option<i64>,
    group_name: Option<String>,
    status: Option<String>,
    last_share_time: Option<i64>,
    first_seen: i64,
    last_seen: i64,
}

/// The partition file of `table` for an account (and a dimension and month), relative to the
/// export root.
fn partition_path(table: Table, account: &Account, slot: Option<(Dimension, i64)>) -> String {
    let mut path = format!(
        "{}/pool={}/account={}",
        table.name(),
        hive_escape(&account.pool),
        hive_escape(&account.account)
    );
    if let Some((dimension, month_ts)) = slot {
        if table == Table::Tickers {
            path.push_str(&format!("/dimension={dimension}"));
        }
        let month = chrono::DateTime::from_timestamp(month_ts, 0)
            .map(|t| t.format("%Y-%m").to_string())
            .unwrap_or_else(|| month_ts.to_string());
        path.push_str(&format!("/month={month}"));
    }
    path.push_str("/part-0.parquet");
    path
}

/// A partition value as Hive writes it in a path (`FileUtils.escapePathName`): control
/// characters and `" # % ' * / : = ? \ { [ ] ^` as `%XX`, everything else as it is (UTF-8
/// included), so a name holding `/` or `=` cannot make another directory or partition, and
/// DuckDB, Spark, Hive and Trino all read the name back as it was.
pub fn hive_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        let escaped = c.is_ascii_control()
            || matches!(
                c,
                '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\' | '{' | '[' | ']' | '^'
            );
        if escaped {
            out.push_str(&format!("%{:02X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    // "." and ".." are not directory names a partition can have.
    if out.chars().all(|c| c == '.') {
        return out.replace('.', "%2E");
    }
    out
}

/// Makes a rename durable (best effort: not every filesystem syncs directories).
fn remove(path: &Path) -> anyhow::Result<()> {
    fs::remove_file(path).with_context(|| format!("removing {}", path.display()))
}

fn sync_dir(dir: &Path) {
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_are_escaped_as_hive_does() {
        assert_eq!(hive_escape("farm1"), "farm1");
        assert_eq!(hive_escape("1001"), "1001");
        assert_eq!(hive_escape("a/b=c%d e"), "a%2Fb%3Dc%25d e");
        assert_eq!(hive_escape("x:y?*\\\n"), "x%3Ay%3F%2A%5C%0A");
        assert_eq!(hive_escape(".."), "%2E%2E");
        assert_eq!(hive_escape("Zürich-矿"), "Zürich-矿");
    }

    #[test]
    fn partition_paths_follow_the_layout() {
        let account = Account {
            id: 1,
            pool: "foundry".into(),
            account: "x".into(),
        };
        let october = 1_790_812_800; // 2026-10-01T00:00:00Z
        assert_eq!(
            partition_path(Table::Tickers, &account, Some((Dimension::Hour, october))),
            "tickers/pool=foundry/account=x/dimension=1h/month=2026-10/part-0.parquet"
        );
        assert_eq!(
            partition_path(
                Table::HourlyByDay,
                &account,
                Some((Dimension::Hour, october))
            ),
            "hourly_by_day/pool=foundry/account=x/month=2026-10/part-0.parquet"
        );
        assert_eq!(
            partition_path(Table::Workers, &account, None),
            "workers/pool=foundry/account=x/part-0.parquet"
        );
    }
}
