//! Reports against plain-Rust recomputations over random databases written through the real
//! writer. Each report reads the per-day summary for whole days and the tickers elsewhere; the
//! recomputation reads only the tickers, hour by hour.

mod random_db;

use random_db::{assert_summary_current, random_db, stored_workers};

#[test]
fn random_databases_keep_the_summary_current() {
    for seed in 0..20 {
        let db = random_db(seed, 6);
        assert_summary_current(&db.conn);
        let workers = stored_workers(&db.conn);
        assert_eq!(workers.len(), 6);
        assert!(
            workers
                .iter()
                .any(|w| w.hourly.iter().any(|t| t.provisional))
                || seed > 0
        );
    }
}
