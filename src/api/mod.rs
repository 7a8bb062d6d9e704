//! The pool's HTTP API v1: wire format (tolerant parsing), errors, and the client.

pub mod client;
pub mod error;
pub mod model;
pub mod response;
pub mod secret;

pub use client::{ClientConfig, PoolClient};
pub use error::{ApiError, Disposition};
pub use model::Dimension;
pub use secret::AccessKey;
