//! What every pool's client shares: the HTTP client (rate limit, retries, size caps, same-origin
//! redirects), its errors, and the access key with its redaction.

pub mod client;
pub mod error;
pub mod secret;

pub use client::{ClientConfig, ClientCounters, HttpClient, KeyPlacement, Protocol};
pub use error::{ApiError, Disposition};
pub use secret::AccessKey;
