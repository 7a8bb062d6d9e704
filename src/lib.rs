//! poolhist: copy a mining pool account's hashrate history into SQLite and report on it.
//!
//! The data flows one way: `api` (the pool's wire format and client) -> `ingest` (what to fetch,
//! fetching it) -> `store` (SQLite) -> `report`. `simulate` is the local pool used offline.

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod ingest;
pub mod logging;
pub mod model;
pub mod pools;
pub mod report;
pub mod simulate;
pub mod store;
