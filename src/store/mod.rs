//! SQLite storage: opening with the right pragmas and file mode, migrations, and the writes
//! the ingest makes. Reports only read, through the views declared in `migrations/`.

pub mod lock;
pub mod maintenance;
mod open;
mod write;
pub mod writer;

pub use lock::{IngestLock, LockError};
pub use open::{known_schema_version, open, open_read_only, StoreError, APPLICATION_ID};
pub use write::{
    hourly_by_day_mismatches, rebuild_hourly_by_day, PageWrite, PoolKnowledge, RunTotals,
    SeriesState, Store, WriteCounts,
};
