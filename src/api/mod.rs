//! The pool's HTTP API v1: wire format (tolerant parsing) and client.

pub mod model;

pub use model::Dimension;
