use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// `PRAGMA application_id` of a poolhist database ("phst"), so we never migrate someone else's file.
pub const APPLICATION_ID: i64 = 0x7068_7374;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create database file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read database file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} is not a poolhist database ({why}); it was left untouched")]
    NotOurs { path: PathBuf, why: &'static str },
    #[error("{path} has schema version {found}, newer than this poolhist knows ({known}); upgrade poolhist")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "{path} has schema version {found}, older than this poolhist's ({known}); \
         run `poolhist ingest` once to upgrade it (reports never write the database)"
    )]
    TooOld {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("cannot migrate database {path}: {message}")]
    Migrate { path: PathBuf, message: String },
    #[error("{path} holds no poolhist data yet: run `poolhist ingest` first")]
    NoData { path: PathBuf },
    #[error("database {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// Opens (creating if needed, mode 0600) the database for writing, and migrates it. A file that
/// is not poolhist's is refused before anything could write to it (not even the WAL switch).
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    match inspect(path)? {
        Found::Missing => create_private_file(path)?,
        Found::Empty => make_private(path)?,
        Found::Ours | Found::Unclaimed => {}
    }
    let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    let sql_err = |source| StoreError::Sql {
        path: path.to_owned(),
        source,
    };
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sql_err)?;
    check_schema_not_newer(&conn, path)?;
    apply_pragmas(&conn).map_err(sql_err)?;
    // Claimed before migrating, so a run killed in between leaves a file we still recognise.
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(sql_err)?;
    embedded::migrations::runner()
        .run(&mut conn)
        .map_err(|e| StoreError::Migrate {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    Ok(conn)
}

/// Refuses, without writing anything, a file at `path` that is not poolhist's: the ingest stops
/// before it creates its lock file beside someone else's file.
pub(super) fn refuse_if_foreign(path: &Path) -> Result<(), StoreError> {
    inspect(path).map(drop)
}

/// Opens an existing database read-only: any write through this connection fails.
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if let Found::Missing = inspect(path)? {
        return Err(StoreError::Open {
            path: path.to_owned(),
            source: rusqlite::Error::InvalidPath(path.to_owned()),
        });
    }
    let conn = open_sqlite_read_only(path)?;
    let found = schema_version(&conn, path)?;
    if found == 0 {
        return Err(StoreError::NoData {
            path: path.to_owned(),
        });
    }
    let known = known_schema_version();
    if found < known {
        // Readers never write, and an ingest may be running: the next ingest upgrades it.
        return Err(StoreError::TooOld {
            path: path.to_owned(),
            found,
            known,
        });
    }
    Ok(conn)
}

fn open_sqlite_read_only(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|source| StoreError::Sql {
            path: path.to_owned(),
            source,
        })?;
    Ok(conn)
}

/// What is at a database path, judged without anything that could write to it.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Missing,
    /// A zero-byte file: a new database (poolhist's own, created before SQLite opened it).
    Empty,
    /// Carries poolhist's application id.
    Ours,
    /// A SQLite database with no schema at all: nobody's data, ours to take.
    Unclaimed,
}

/// Reads the file's header rather than opening it with SQLite, because opening a WAL-mode file
/// can create `-wal`/`-shm` files beside it. When the main file says nothing (a database never
/// checkpointed) and a `-wal` file holds commits, the newest copy of page 1 in the WAL says it.
fn inspect(path: &Path) -> Result<Found, StoreError> {
    use std::io::Read as _;
    let read_err = |source| StoreError::Read {
        path: path.to_owned(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(StoreError::NotOurs {
                    path: path.to_owned(),
                    why: "it is a symbolic link to a file that does not exist; give the real path",
                });
            }
            return Ok(Found::Missing);
        }
        Err(e) => return Err(read_err(e)),
    };
    let mut header = Vec::with_capacity(HEADER);
    file.take(HEADER as u64)
        .read_to_end(&mut header)
        .map_err(read_err)?;
    let judged = judge_header(&header).map_err(|why| StoreError::NotOurs {
        path: path.to_owned(),
        why,
    })?;
    if !matches!(judged, Found::Empty | Found::Unclaimed) {
        return Ok(judged);
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    match newest_wal_page_one(Path::new(&wal)).map_err(read_err)? {
        Some(page) => judge_header(&page).map_err(|why| StoreError::NotOurs {
            path: path.to_owned(),
            why,
        }),
        None => Ok(judged),
    }
}

/// The 100-byte database header and the schema page's b-tree header.
const HEADER: usize = 108;

/// What a database header (page 1's first bytes) says about whose file it is.
fn judge_header(header: &[u8]) -> Result<Found, &'static str> {
    if header.is_empty() {
        return Ok(Found::Empty);
    }
    if header.len() < HEADER || !header.starts_with(b"SQLite format 3\0") {
        return Err("it is not a SQLite database");
    }
    let application_id = i64::from(u32::from_be_bytes([
        header[68], header[69], header[70], header[71],
    ]));
    if application_id == APPLICATION_ID {
        return Ok(Found::Ours);
    }
    if application_id != 0 {
        return Err("it carries another application's id");
    }
    // The schema table's root page: a leaf (type 13) with no cells holds no table at all.
    let schema_entries = u16::from_be_bytes([header[103], header[104]]);
    if header[100] == 13 && schema_entries == 0 {
        Ok(Found::Unclaimed)
    } else {
        Err("it holds other tables and no poolhist application id")
    }
}

/// The start of the newest copy of page 1 in a WAL file (32-byte header, then frames of a
/// 24-byte header and one page), read by hand so nothing is created beside the database.
fn newest_wal_page_one(wal: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file = match std::fs::File::open(wal) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let length = file.metadata()?.len();
    let mut wal_header = [0u8; 32];
    if length < 32 || file.read_exact(&mut wal_header).is_err() {
        return Ok(None);
    }
    let page_size = u64::from(u32::from_be_bytes([
        wal_header[8],
        wal_header[9],
        wal_header[10],
        wal_header[11],
    ]));
    if !(512..=65_536).contains(&page_size) {
        return Ok(None);
    }
    let mut newest = None;
    let mut frame = 32u64;
    while frame + 24 + page_size <= length {
        let mut frame_header = [0u8; 24];
        file.seek(SeekFrom::Start(frame))?;
        file.read_exact(&mut frame_header)?;
        if u32::from_be_bytes([
            frame_header[0],
            frame_header[1],
            frame_header[2],
            frame_header[3],
        ]) == 1
        {
            let mut page = vec![0u8; HEADER];
            file.read_exact(&mut page)?;
            newest = Some(page);
        }
        frame += 24 + page_size;
    }
    Ok(newest)
}

/// The highest migration version this binary embeds.
pub fn known_schema_version() -> i64 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

fn create_private_file(path: &Path) -> Result<(), StoreError> {
    use std::fs::OpenOptions;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Create {
            path: path.to_owned(),
            source,
        }),
    }
}

/// An empty file someone made for us (`touch farm.db`) is about to hold account data.
fn make_private(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let create_err = |source| StoreError::Create {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(create_err)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(create_err)?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn apply_pragmas(conn: &Connection) -> rusqlite::Result<()> {
    // WAL: readers (reports, `sql`) work while an ingest writes.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL is durable against process crashes under WAL; a power cut may lose the last commits,
    // which the next run re-fetches (the watermark is committed with its rows).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// The highest migration applied to the database (0 for a database without poolhist tables).
fn schema_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let sql_err = |source| StoreError::Sql {
        path: path.to_owned(),
        source,
    };
    let has_history: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'refinery_schema_history'",
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    if !has_history {
        return Ok(0);
    }
    conn.query_row(
        "SELECT IFNULL(MAX(version), 0) FROM refinery_schema_history",
        [],
        |r| r.get(0),
    )
    .map_err(sql_err)
}

fn check_schema_not_newer(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = schema_version(conn, path)?;
    let known = known_schema_version();
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database as poolhist with schema v1 left it, holding `rows` (SQL).
    fn v1_database(path: &Path, rows: &str) {
        let mut conn = Connection::open(path).unwrap();
        embedded::migrations::runner()
            .set_target(refinery::Target::Version(1))
            .run(&mut conn)
            .unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.execute_batch(rows).unwrap();
    }

    #[test]
    fn new_database_is_private_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let views: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type='view' AND name IN ('v_workers','v_tickers')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(views, 2);
        drop(conn);
        // Re-opening an existing database is a no-op migration.
        open(&path).unwrap();
    }

    #[test]
    fn upgrade_to_v2_derives_hourly_by_day_from_stored_tickers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        v1_database(
            &path,
            "INSERT INTO accounts VALUES (7, 0, 0);
             INSERT INTO series (series_id, puid, worker_id, dimension) VALUES (1, 7, NULL, '1h'),
                                                                             (2, 7, NULL, '1d');
             INSERT INTO tickers VALUES (1, 1764028800, 2.0, 0.5, 0), (1, 1764032400, 0.0, 0, 0),
                                        (1, 1764036000, 9.0, 0, 1), (2, 1764028800, 1.0, 0, 0);",
        );
        let conn = open(&path).unwrap();
        let row: (i64, i64, i64, i64, f64, f64) = conn
            .query_row("SELECT * FROM hourly_by_day", [], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .unwrap();
        assert_eq!(
            row,
            (1, 1764028800, 2, 1, 2.0, 1.0),
            "final hourly points only"
        );
        let up_mask: i64 = conn
            .query_row("SELECT up_mask FROM hourly_by_day", [], |r| r.get(0))
            .unwrap();
        assert_eq!(up_mask, 1);
    }

    /// Every public view's rows, as text, for before/after comparisons: the columns the views
    /// have in `schema_of` (an upgrade may add columns, never change or drop one).
    fn public_views(conn: &Connection, schema_of: &Connection) -> Vec<String> {
        let mut lines = Vec::new();
        for view in ["v_workers", "v_tickers", "v_gaps"] {
            let names: Vec<String> = schema_of
                .prepare(&format!("SELECT * FROM {view} LIMIT 0"))
                .unwrap()
                .column_names()
                .map(|name| format!("\"{name}\""))
                .collect();
            let sql = format!("SELECT {} FROM {view}", names.join(", "));
            let mut stmt = conn.prepare(&sql).unwrap();
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |row| {
                    let mut cells = vec![view.to_owned()];
                    for i in 0..columns {
                        let value: rusqlite::types::Value = row.get(i)?;
                        cells.push(format!("{value:?}"));
                    }
                    Ok(cells.join("|"))
                })
                .unwrap();
            lines.extend(rows.map(Result::unwrap));
        }
        lines.sort();
        lines
    }

    #[test]
    fn upgrade_to_v3_keeps_every_view_row_and_falls_back_to_documented_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            embedded::migrations::runner()
                .set_target(refinery::Target::Version(2))
                .run(&mut conn)
                .unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO accounts VALUES (7, 0, 0);
                 INSERT INTO workers VALUES (7, 3, 'rig', NULL, 'ACTIVE', NULL, 0, 0);
                 INSERT INTO series (series_id, puid, worker_id, dimension, watermark_ts)
                   VALUES (1, 7, NULL, '1h', 1764032400), (2, 7, 3, '1d', NULL);
                 INSERT INTO tickers VALUES (1, 1764028800, 2.0, 0.5, 0), (2, 1764028800, 1.0, 0, 1);
                 INSERT INTO history_gaps VALUES (1, 1763942400, 1763946000, 'expired', 5, NULL);",
            )
            .unwrap();
        }
        let before_schema = dir.path().join("v2-copy.db");
        std::fs::copy(&path, &before_schema).unwrap();
        let old = Connection::open(&path).unwrap();
        let before = public_views(&old, &old);
        drop(old);
        let conn = open(&path).unwrap();
        let old_columns = Connection::open(&before_schema).unwrap();
        assert_eq!(
            public_views(&conn, &old_columns),
            before,
            "data unchanged by the upgrade"
        );
        let retention: Vec<(i64, i64, bool)> = conn
            .prepare("SELECT series_id, retention_slots, learned FROM v_pool_retention ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(retention, vec![(1, 720, false), (2, 90, false)]);
        // v4: the account is CloverPool's, named by its puid, in every public view.
        let named: Vec<(Option<i64>, String, String)> = conn
            .prepare(
                "SELECT puid, pool, account FROM v_workers UNION ALL \
                 SELECT puid, pool, account FROM v_tickers UNION ALL \
                 SELECT puid, pool, account FROM v_gaps",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(named.len(), 4);
        assert!(named
            .iter()
            .all(|n| *n == (Some(7), "cloverpool".to_owned(), "7".to_owned())));
    }

    #[test]
    fn upgrade_to_v7_stamps_every_month_of_stored_history_for_the_export() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            embedded::migrations::runner()
                .set_target(refinery::Target::Version(6))
                .run(&mut conn)
                .unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            // 2026-09-30T23:00Z and 2026-11-02T00:00Z: three months of hours, with October
            // in between holding no point; a series of another account with none at all.
            conn.execute_batch(
                "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen)
                   VALUES (7, 'cloverpool', '7', 7, 0, 0), (8, 'foundry', 'x', NULL, 0, 0);
                 INSERT INTO series (series_id, account_id, worker_id, dimension)
                   VALUES (1, 7, NULL, '1h'), (2, 7, NULL, '1d'), (3, 8, NULL, '1h');
                 INSERT INTO tickers VALUES (1, 1790809200, 2.0, 0.5, 0),
                                            (1, 1793577600, 1.0, 0, 1),
                                            (2, 1790812800, 1.0, 0, 0);",
            )
            .unwrap();
        }
        let before = Connection::open(&path).unwrap();
        let old = public_views(&before, &before);
        drop(before);
        let conn = open(&path).unwrap();
        assert_eq!(
            public_views(&conn, &conn),
            old,
            "data unchanged by the upgrade"
        );
        let stamped: Vec<(i64, String, i64, i64)> = conn
            .prepare("SELECT * FROM partition_changes ORDER BY 1, 2, 3")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let (sep, oct, nov) = (1_788_220_800, 1_790_812_800, 1_793_491_200);
        assert_eq!(
            stamped,
            vec![
                (7, "1d".to_owned(), oct, 1),
                (7, "1h".to_owned(), sep, 1),
                (7, "1h".to_owned(), oct, 1),
                (7, "1h".to_owned(), nov, 1),
            ]
        );
    }

    #[test]
    fn upgrade_to_v8_records_which_hours_of_each_day_are_final() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v7.db");
        // 2026-10-01: 00:00, 01:00 and 05:00 final, 06:00 live; 2026-10-02: all 24 hours final
        let (day1, day2) = (1_790_812_800_i64, 1_790_899_200_i64);
        {
            let mut conn = Connection::open(&path).unwrap();
            embedded::migrations::runner()
                .set_target(refinery::Target::Version(7))
                .run(&mut conn)
                .unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen)
                   VALUES (7, 'cloverpool', '7', 7, 0, 0);
                 INSERT INTO series (series_id, account_id, worker_id, dimension)
                   VALUES (1, 7, NULL, '1h');",
            )
            .unwrap();
            let mut insert = conn
                .prepare("INSERT INTO tickers VALUES (1, ?1, ?2, 0.01, ?3)")
                .unwrap();
            for (ts, provisional) in [(0, 0), (1, 0), (5, 0), (6, 1)] {
                insert
                    .execute((day1 + ts * 3600, ts as f64, provisional))
                    .unwrap();
            }
            for hour in 0..24 {
                insert.execute((day2 + hour * 3600, 1.0, 0)).unwrap();
            }
            drop(insert);
            // the summary as v7 kept it
            conn.execute_batch(
                "INSERT INTO hourly_by_day (series_id, day_ts, hours_final, hours_up, up_mask,
                   hashrate_sum, reject_weight_sum)
                 SELECT series_id, day_ts, hours_final, hours_up, up_mask, hashrate_sum,
                        reject_weight_sum FROM v_hourly_by_day_from_tickers;",
            )
            .unwrap();
        }
        let before = Connection::open(&path).unwrap();
        let old = public_views(&before, &before);
        drop(before);
        let conn = open(&path).unwrap();
        assert_eq!(
            public_views(&conn, &conn),
            old,
            "data unchanged by the upgrade"
        );
        let masks: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT day_ts, hours_final, final_mask FROM hourly_by_day ORDER BY day_ts")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            masks,
            vec![(day1, 3, 0b10_0011), (day2, 24, 0xFF_FFFF)],
            "final hours only, the live 06:00 left out"
        );
        assert!(super::super::write::hourly_by_day_mismatches(&conn)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn readers_refuse_an_older_schema_without_writing_and_ingest_upgrades_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        v1_database(
            &path,
            "INSERT INTO accounts VALUES (7, 0, 0);
             INSERT INTO series (series_id, puid, worker_id, dimension) VALUES (1, 7, NULL, '1h');
             INSERT INTO tickers VALUES (1, 1764028800, 2.0, 0.5, 0);",
        );
        let before = std::fs::read(&path).unwrap();
        let error = open_read_only(&path).unwrap_err().to_string();
        assert!(
            error.contains("schema version 1, older") && error.contains("poolhist ingest"),
            "{error}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the reader wrote nothing"
        );
        open(&path).unwrap();
        let conn = open_read_only(&path).unwrap();
        let days: i64 = conn
            .query_row("SELECT count(*) FROM hourly_by_day", [], |r| r.get(0))
            .unwrap();
        assert_eq!(days, 1);
    }

    #[test]
    fn foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes(x)").unwrap();
        drop(conn);
        let err = open(&path).unwrap_err();
        assert!(matches!(err, StoreError::NotOurs { .. }), "{err}");
    }

    #[test]
    fn a_sqlite_file_without_any_table_is_taken_and_one_with_a_view_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let blank = dir.path().join("blank.db");
        // Writing the header makes a one-page database whose schema is empty.
        Connection::open(&blank)
            .unwrap()
            .pragma_update(None, "user_version", 5)
            .unwrap();
        assert_eq!(inspect(&blank).unwrap(), Found::Unclaimed);
        open(&blank).unwrap();
        assert_eq!(inspect(&blank).unwrap(), Found::Ours);

        let with_view = dir.path().join("view.db");
        Connection::open(&with_view)
            .unwrap()
            .execute_batch("CREATE VIEW answer AS SELECT 42")
            .unwrap();
        assert!(matches!(
            open(&with_view).unwrap_err(),
            StoreError::NotOurs { .. }
        ));
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open(&path).unwrap();
        conn.execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (999, 'future', '', '0')",
            [],
        )
        .unwrap();
        drop(conn);
        let err = open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::TooNew { found: 999, .. }),
            "{err}"
        );
    }

    #[test]
    fn read_only_connection_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(open(&path).unwrap());
        let ro = open_read_only(&path).unwrap();
        assert!(ro.execute("DELETE FROM accounts", []).is_err());
    }
}
