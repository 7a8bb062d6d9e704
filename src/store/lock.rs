//! One ingest at a time per database: an exclusive OS lock on `<db>.lock`. The OS releases it
//! when the holder exits, however it exits, so a killed run never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another ingest holds {db} since {since}; try again later or pass --wait")]
    Held { db: PathBuf, since: String },
    #[error("refusing to lock {path}: it is a symbolic link (remove it; poolhist makes its own)")]
    Symlink { path: PathBuf },
    /// The database is someone else's: no lock file is made beside it.
    #[error(transparent)]
    NotOurs(#[from] super::StoreError),
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for the whole run; dropping it releases the lock.
#[derive(Debug)]
pub struct IngestLock {
    _file: File,
}

pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the lock, or fails at once naming the holder (`--wait` asks again: `ingest::take_lock`).
pub fn acquire(db: &Path) -> Result<IngestLock, LockError> {
    super::open::refuse_if_foreign(db)?;
    let path = lock_path(db);
    let mut file = open_lock_file(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(LockError::Held {
                db: db.to_owned(),
                since: holder_description(&mut file),
            })
        }
        Err(TryLockError::Error(e)) => return Err(LockError::Io { path, source: e }),
    }
    stamp(file, &path)
}

/// One alert evaluation at a time per database (`<db>.alerts.lock`), waiting for the one
/// under way: two at once could both post the same undelivered event to a webhook.
/// Evaluations are short, and an ingest holds its own lock, so this never waits on one.
pub fn acquire_alerts(db: &Path) -> Result<IngestLock, LockError> {
    super::open::refuse_if_foreign(db)?;
    let mut name = db.as_os_str().to_owned();
    name.push(".alerts.lock");
    let path = PathBuf::from(name);
    let file = open_lock_file(&path)?;
    file.lock().map_err(|source| LockError::Io {
        path: path.clone(),
        source,
    })?;
    stamp(file, &path)
}

fn open_lock_file(path: &Path) -> Result<File, LockError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Never follow a link planted at the lock path: we would truncate its target.
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path).map_err(|source| {
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            LockError::Symlink {
                path: path.to_owned(),
            }
        } else {
            LockError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })
}

/// Writes who holds the lock into it, for the next one refused.
fn stamp(mut file: File, path: &Path) -> Result<IngestLock, LockError> {
    let io = |source| LockError::Io {
        path: path.to_owned(),
        source,
    };
    let stamp = format!(
        "{} (pid {})\n",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
        std::process::id()
    );
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(stamp.as_bytes()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(IngestLock { _file: file })
}

fn holder_description(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "an unknown time".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_first_ones_start() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let first = acquire(&db).unwrap();
        let error = acquire(&db).unwrap_err().to_string();
        assert!(error.contains("another ingest holds"), "{error}");
        assert!(error.contains("pid"), "{error}");
        drop(first);
        acquire(&db).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_lock_path_is_refused_and_its_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, lock_path(&db)).unwrap();
        let error = acquire(&db).unwrap_err();
        assert!(matches!(error, LockError::Symlink { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
