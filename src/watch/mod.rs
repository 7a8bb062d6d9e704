//! Watching the farm: alert rules evaluated over the stored history (`rules`), their state in
//! the database so each is told once when it opens and once when it resolves (`state`), told as
//! `record`s on the terminal, to webhooks (`webhook`) and as an exit code; and the Prometheus
//! textfile (`metrics`).

pub mod metrics;
pub mod record;
pub mod rules;
pub mod state;
pub mod webhook;

/// Every rule, by the name alerts and metrics carry.
pub const RULES: [&str; 6] = [
    "worker_down",
    "hashrate_drop",
    "reject_spike",
    "workers_changed",
    "history_at_risk",
    "stale_ingest",
];
