//! poolhist: copy a mining pool account's hashrate history into SQLite and report on it.
//!
//! The data flows one way: `pools` (each pool's wire format, endpoints and simulator, behind one
//! seam; `http` is the client they share) -> `ingest` (what to fetch, fetching it, in the
//! pool-neutral `model`) -> `store` (SQLite, one writer) -> `report`.

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod export;
pub mod http;
pub mod ingest;
pub mod logging;
pub mod model;
pub mod pools;
pub mod report;
pub mod store;
pub mod watch;
