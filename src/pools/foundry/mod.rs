//! Foundry USA (`shared/api/foundry.md`): wire types and parsing (`wire`), its endpoints
//! (`client`), and the local simulator (`sim`).

mod client;
pub mod sim;
pub mod wire;

pub use client::Client;

use crate::http::{ApiError, Disposition, KeyPlacement, Protocol};
use crate::model::{PoolFacts, PoolRetention};

/// The pool's name in the database and on the command line.
pub const NAME: &str = "foundry";
/// The API's public address (https: plain http redirects).
pub const DEFAULT_API_URL: &str = "https://api.foundryusapool.com";

pub const FACTS: PoolFacts = PoolFacts {
    name: NAME,
    display_name: "Foundry USA",
    hashrate_source: "hashrateAccepted in GH/s x 1e9 (H/s)",
    reject_definition:
        "(stale + rejected) / (accepted + stale + rejected) hashrate; 0 when all are 0",
    // Foundry's FAQ: worker hourly 3 days, worker daily 90 days, sub-account hourly 30 days,
    // sub-account daily forever (a first run looks back as far as it reaches).
    documented_retention: PoolRetention {
        worker_hours: 72,
        account_hours: 720,
        worker_days: 90,
        account_days: 3650,
    },
    // Nothing says hours without shares come as zeros (foundry.md 6.6).
    leaves_out_empty_buckets: true,
    // No maximum range is documented: long backfills are asked for in chunks no longer than
    // the API's own default ranges (a week of hours, 30 days), which it surely serves whole.
    max_hours_per_request: 168,
    max_days_per_request: 30,
};

/// The key travels in the `X-API-KEY` header. 403 (a refused key or sub-account) and 404 (an
/// unknown sub-account or worker) are answers, not accidents: no retry changes them.
pub const PROTOCOL: Protocol = Protocol {
    key_placement: KeyPlacement::Header("X-API-KEY"),
    classify,
    error_in_body: |_, _| None,
};

fn classify(error: &ApiError) -> Disposition {
    match error {
        ApiError::Http {
            status: 403 | 404, ..
        } => Disposition::Permanent,
        other => other.disposition(),
    }
}

/// 404 on a worker's series after the list named the worker: it was deleted since.
pub fn worker_is_gone(error: &ApiError) -> bool {
    matches!(error.last(), ApiError::Http { status: 404, .. })
}
