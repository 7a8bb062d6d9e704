//! SQLite storage: opening with the right pragmas and file mode, migrations, and the writes
//! the ingest makes. Reports only read, through the views declared in `migrations/`.

mod open;

pub use open::{open, open_read_only, StoreError};
