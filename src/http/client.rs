//! The HTTP client every pool shares: one rate limit, per-request timeout, retries with
//! exponential backoff and full jitter (honouring `Retry-After`), and fail-fast on what the
//! pool's `Protocol` calls permanent. A request may carry the access key (in the query or a
//! header), so no URL ever reaches an error or a log line, no Referer is sent, and redirects are
//! followed only on the pool's own origin. Bodies are read up to `max_body_bytes`, whatever the
//! pool sends.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::header::RETRY_AFTER;

use super::error::{ApiError, Disposition};
use super::secret::AccessKey;

/// How many times an unknown pool error (not known transient) is tried before giving up.
const DOUBTFUL_ATTEMPTS: u32 = 3;
/// Empty answers in a row (`ApiError::EmptyData`) before a window is taken as holding no data.
pub const EMPTY_DATA_ATTEMPTS: u32 = 5;
/// Longest wait we accept from a `Retry-After` header; absurd values are clamped to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Default cap on a response body: a 720-point history page is ~30 KB, a 720-worker page a few
/// hundred KB, so this leaves ample room while bounding what a broken pool can make us hold.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 16 * MIB;
const MIB: u64 = 1024 * 1024;
/// Same-origin redirects followed per request; a pool behind a proxy may need one or two.
const MAX_REDIRECTS: usize = 5;

/// Where a pool wants the access key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlacement {
    /// A query parameter of this name (CloverPool's `access_key`).
    Query(&'static str),
    /// A request header of this name (Foundry's `X-API-KEY`).
    Header(&'static str),
}

/// What differs between pools at the HTTP level: where the key goes, which failures are worth
/// retrying, and the pool's own error inside a non-2xx body.
#[derive(Debug, Clone, Copy)]
pub struct Protocol {
    pub key_placement: KeyPlacement,
    pub classify: fn(&ApiError) -> Disposition,
    /// The pool's own error in the body of a 4xx answer (429 and 5xx keep their HTTP meaning).
    pub error_in_body: fn(&str, &[u8]) -> Option<ApiError>,
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL of the pool's API, without a trailing slash.
    pub base_url: String,
    pub access_key: AccessKey,
    pub protocol: Protocol,
    pub timeout: Duration,
    /// Requests per second across all tasks; `None` for no limit.
    pub rate_per_second: Option<f64>,
    /// Attempts per request for transient failures (1 = no retry).
    pub max_attempts: u32,
    /// First backoff step; doubled each retry, with full jitter, capped at `max_backoff`.
    pub backoff_base: Duration,
    pub max_backoff: Duration,
    /// Largest response body accepted, counted after gzip decompression.
    pub max_body_bytes: u64,
    /// Requests one run may make at most, retries included: a pool that keeps finding more to
    /// serve cannot keep the run going forever.
    pub max_requests: u64,
}

/// The default request budget: over a hundred times a 1,000-worker backfill (about 4,000).
pub const DEFAULT_MAX_REQUESTS: u64 = 500_000;

impl ClientConfig {
    pub fn new(base_url: &str, access_key: AccessKey, protocol: Protocol) -> ClientConfig {
        ClientConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            access_key,
            protocol,
            timeout: Duration::from_secs(15),
            rate_per_second: None,
            max_attempts: 10,
            backoff_base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_requests: DEFAULT_MAX_REQUESTS,
        }
    }
}

/// Counters of what the client did, for the run summary.
#[derive(Debug, Default)]
pub struct ClientCounters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

impl ClientCounters {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

pub struct HttpClient {
    http: reqwest::Client,
    config: ClientConfig,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Shared by every client of one run: the request budget is the run's.
    pub counters: Arc<ClientCounters>,
}

impl HttpClient {
    /// Removes the access key from text the pool sent (names it lists): a pool echoing the
    /// key must not get it into the database, reports or alerts.
    pub fn scrub_key(&self, text: &str) -> String {
        super::secret::redact(text, self.config.access_key.expose())
    }

    pub fn new(config: ClientConfig) -> Result<HttpClient, String> {
        HttpClient::with_counters(config, Arc::default())
    }

    /// A client counting its requests in `counters`, which other clients may share.
    pub fn with_counters(
        config: ClientConfig,
        counters: Arc<ClientCounters>,
    ) -> Result<HttpClient, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("poolhist/", env!("CARGO_PKG_VERSION")))
            // The request URL carries the key: never repeat it in a Referer.
            .referer(false)
            .redirect(same_origin_redirects(&config.base_url))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let limiter = match config.rate_per_second {
            Some(rate) if rate > 0.0 => {
                let period = Duration::from_secs_f64(1.0 / rate);
                let quota = Quota::with_period(period)
                    .ok_or("--rate is too high")?
                    .allow_burst(NonZeroU32::MIN);
                Some(RateLimiter::direct(quota))
            }
            _ => None,
        };
        Ok(HttpClient {
            http,
            config,
            limiter,
            counters,
        })
    }

    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.counters.retries.load(Ordering::Relaxed)
    }

    /// The pool's base URL (what requests are relative to).
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// GETs `path` (relative to the base URL) with `params`, parses the body with `parse`, and
    /// retries as the pool's `Protocol` says. `label` names the request in errors and logs: it
    /// must not hold the key.
    pub async fn get<T>(
        &self,
        label: String,
        path: &str,
        params: &[(&str, String)],
        parse: impl Fn(&str, &[u8]) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let key = self.config.access_key.expose();
        let mut attempt = 0;
        let mut empty_in_a_row = 0;
        loop {
            attempt += 1;
            if let Some(limiter) = &self.limiter {
                limiter.until_ready().await;
            }
            if self.counters.requests.fetch_add(1, Ordering::Relaxed) >= self.config.max_requests {
                self.counters.requests.fetch_sub(1, Ordering::Relaxed);
                return Err(ApiError::RequestBudget {
                    endpoint: label,
                    limit: self.config.max_requests,
                });
            }
            let outcome = match self.get_once(&label, path, params).await {
                Ok(body) => parse(&label, &body),
                Err(e) => Err(e),
            };
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(e) => e.redacted(key),
            };
            empty_in_a_row = if error.is_empty_data() {
                empty_in_a_row + 1
            } else {
                0
            };
            let allowed = match (self.config.protocol.classify)(&error) {
                Disposition::Permanent => return Err(error),
                Disposition::Transient => self.config.max_attempts,
                Disposition::Doubtful => DOUBTFUL_ATTEMPTS.min(self.config.max_attempts),
            };
            if attempt >= allowed || empty_in_a_row >= EMPTY_DATA_ATTEMPTS {
                return Err(ApiError::GaveUp {
                    attempts: attempt,
                    last: Box::new(error),
                });
            }
            let delay = self.backoff(attempt, error.retry_after());
            tracing::warn!(
                "retrying in {:.1} s (attempt {attempt} failed): {error}",
                delay.as_secs_f64()
            );
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
    }

    async fn get_once(
        &self,
        label: &str,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<u8>, ApiError> {
        let transport = |e: reqwest::Error| ApiError::Transport {
            endpoint: label.to_owned(),
            detail: describe_transport_error(&e, self.config.timeout),
        };
        let url = format!("{}{}", self.config.base_url, path);
        let request = match self.config.protocol.key_placement {
            KeyPlacement::Query(name) => self
                .http
                .get(url)
                .query(&[(name, self.config.access_key.expose())]),
            KeyPlacement::Header(name) => {
                let mut value =
                    reqwest::header::HeaderValue::from_str(self.config.access_key.expose())
                        .map_err(|_| ApiError::Transport {
                            endpoint: label.to_owned(),
                            detail: "the access key holds characters a header cannot carry"
                                .to_owned(),
                        })?;
                value.set_sensitive(true);
                self.http.get(url).header(name, value)
            }
        };
        let response = request
            .query(params)
            // Decompressed here, not by reqwest, so both sizes can be capped.
            .header(reqwest::header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .map_err(|e| match refused_redirect(&e) {
                Some(refusal) => ApiError::Redirect {
                    endpoint: label.to_owned(),
                    detail: refusal.to_string(),
                },
                None => transport(e),
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = match read_body_capped(response, self.config.max_body_bytes).await {
            Ok(body) => body,
            Err(BodyError::Transport(e)) => return Err(transport(e)),
            Err(BodyError::Gzip(e)) => {
                return Err(ApiError::Malformed {
                    endpoint: label.to_owned(),
                    detail: format!("the gzip body does not inflate: {e}"),
                })
            }
            // An error status keeps its HTTP meaning (and Retry-After); its body is only a hint.
            Err(BodyError::TooLarge) if !status.is_success() => {
                return Err(ApiError::Http {
                    endpoint: label.to_owned(),
                    status: status.as_u16(),
                    retry_after,
                    body_kind: Some("oversized body".to_owned()),
                })
            }
            Err(BodyError::TooLarge) => {
                return Err(ApiError::BodyTooLarge {
                    endpoint: label.to_owned(),
                    limit: describe_size(self.config.max_body_bytes),
                })
            }
        };
        if status.is_success() {
            return Ok(body);
        }
        // 429 and 5xx keep their HTTP meaning (and Retry-After); others may carry a pool error.
        if status.as_u16() != 429 && !status.is_server_error() {
            if let Some(pool_error) = (self.config.protocol.error_in_body)(label, &body) {
                return Err(pool_error);
            }
        }
        Err(ApiError::Http {
            endpoint: label.to_owned(),
            status: status.as_u16(),
            retry_after,
            body_kind: describe_body(&body),
        })
    }

    /// Exponential backoff with full jitter; a server's `Retry-After` is a floor, clamped.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self
            .config
            .backoff_base
            .saturating_mul(1 << exponent)
            .min(self.config.max_backoff);
        let jittered = ceiling.mul_f64(rand::rng().random_range(0.0..=1.0));
        match retry_after {
            Some(wait) => wait.min(MAX_RETRY_AFTER).max(jittered),
            None => jittered,
        }
    }
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
    /// Sent as gzip, but not valid gzip (or cut short).
    Gzip(std::io::Error),
}

/// Reads the body chunk by chunk and stops as soon as it passes `max_bytes`; a gzip body is then
/// inflated, again no further than `max_bytes`. Both the bytes read from the pool and the bytes
/// they inflate to are capped: a decoder fed by the network would read empty deflate blocks or
/// a huge gzip header for ever without producing a byte to count.
async fn read_body_capped(
    mut response: reqwest::Response,
    max_bytes: u64,
) -> Result<Vec<u8>, BodyError> {
    let gzip = response
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let declared = response.content_length();
    if declared.is_some_and(|length| length > max_bytes) {
        return Err(BodyError::TooLarge);
    }
    // A declared length may be a lie: reserve no more than a typical page up front.
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(MIB) as usize);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > max_bytes {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if !gzip {
        return Ok(body);
    }
    use std::io::Read as _;
    let mut inflated = Vec::with_capacity(body.len().saturating_mul(4).min(MIB as usize));
    flate2::read::MultiGzDecoder::new(body.as_slice())
        .take(max_bytes + 1)
        .read_to_end(&mut inflated)
        .map_err(BodyError::Gzip)?;
    if inflated.len() as u64 > max_bytes {
        return Err(BodyError::TooLarge);
    }
    Ok(inflated)
}

/// "16 MiB" when the size is whole mebibytes, else bytes.
fn describe_size(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Why a redirect was not followed. Names an origin only: paths and queries may carry the key.
#[derive(Debug, thiserror::Error)]
enum RedirectRefusal {
    #[error(
        "redirected to another origin, {origin}; not followed, so the key stays with the pool"
    )]
    OtherOrigin { origin: String },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
}

/// Follows a few redirects, and only to the origin (scheme, host, port) of `base_url`: the
/// access key travels in the query, so any other host would receive it.
fn same_origin_redirects(base_url: &str) -> reqwest::redirect::Policy {
    let base = reqwest::Url::parse(base_url).ok();
    reqwest::redirect::Policy::custom(move |attempt| {
        let target = attempt.url();
        let same_origin = base.as_ref().is_some_and(|b| b.origin() == target.origin());
        if !same_origin {
            let origin = target.origin().ascii_serialization();
            attempt.error(RedirectRefusal::OtherOrigin { origin })
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(RedirectRefusal::TooMany)
        } else {
            attempt.follow()
        }
    })
}

fn refused_redirect(error: &reqwest::Error) -> Option<&RedirectRefusal> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<RedirectRefusal>() {
            return Some(refusal);
        }
        source = cause.source();
    }
    None
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(wait.max(0) as u64))
}

fn describe_body(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        Some("empty body".to_owned())
    } else if trimmed.starts_with('<') {
        Some("HTML page".to_owned())
    } else if trimmed.starts_with('{') {
        Some("JSON body".to_owned())
    } else {
        Some("text body".to_owned())
    }
}

/// Describes a transport failure from its cause chain; reqwest's own text would include the URL.
fn describe_transport_error(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no response within {} s (timeout)", timeout.as_secs_f64());
    }
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "connection broke while reading the response"
    } else {
        "request failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.contains("://") && !causes.contains(&text) {
            causes.push(text);
        }
        source = cause.source();
    }
    if causes.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {}", causes.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_is_bounded_and_honours_retry_after() {
        let key = AccessKey::new("k").unwrap();
        let protocol = Protocol {
            key_placement: KeyPlacement::Query("k"),
            classify: |_| Disposition::Transient,
            error_in_body: |_, _| None,
        };
        let config = ClientConfig::new("http://127.0.0.1:1/v1", key, protocol);
        let client = HttpClient::new(config).unwrap();
        for attempt in 1..20 {
            assert!(client.backoff(attempt, None) <= Duration::from_secs(30));
        }
        let waited = client.backoff(1, Some(Duration::from_secs(5)));
        assert!(waited >= Duration::from_secs(5));
        // An absurd Retry-After is clamped rather than obeyed.
        let clamped = client.backoff(1, Some(Duration::from_secs(86_400)));
        assert!(clamped <= MAX_RETRY_AFTER);
    }
}
