//! What can go wrong talking to a pool, and which failures are worth retrying.

use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The pool answered with an error code of its own (CloverPool's `err_no`); the pool's
    /// module says what a retry can do about it.
    #[error("{endpoint}: pool error err_no {code}: {message}")]
    Pool {
        endpoint: String,
        code: i64,
        message: String,
        disposition: Disposition,
    },
    /// A non-2xx HTTP status without a pool error in the body.
    #[error("{endpoint}: HTTP {status}{}{}", describe_body(.body_kind), status_hint(*.status))]
    Http {
        endpoint: String,
        status: u16,
        retry_after: Option<Duration>,
        body_kind: Option<String>,
    },
    /// The request did not complete: timeout, refused or reset connection, broken body.
    #[error("{endpoint}: {detail}")]
    Transport { endpoint: String, detail: String },
    /// The body is not the JSON we expect; `detail` names the field.
    #[error("{endpoint}: malformed response: {detail}")]
    Malformed { endpoint: String, detail: String },
    /// err_no 0 with an empty or missing `data`: a struggling pool, or (for share-history, as
    /// the reference can be read) "no data at that time". Retried; see `client`.
    #[error("{endpoint}: malformed response: field `data` is empty")]
    EmptyData { endpoint: String },
    /// The body passed `ClientConfig::max_body_bytes` (after decompression); reading stopped.
    #[error("{endpoint}: response body larger than {limit} (limit --max-body-mib)")]
    BodyTooLarge { endpoint: String, limit: String },
    /// A redirect that was not followed (another origin, or too many); `detail` names no URL.
    #[error("{endpoint}: {detail}")]
    Redirect { endpoint: String, detail: String },
    /// The run used up its request budget (`ClientConfig::max_requests`).
    #[error("{endpoint}: not sent: the run made {limit} requests, its limit (--max-requests); what was fetched is committed")]
    RequestBudget { endpoint: String, limit: u64 },
    /// Retries ran out; `last` is the final failure.
    #[error("{last} (gave up after {attempts} attempts)")]
    GaveUp { attempts: u32, last: Box<ApiError> },
}

/// What a refusal most likely means, for the one line a user reads.
fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => ": the pool refused the access key for this account (check the key, and that it may read this account)",
        404 => ": not found (an unknown account or worker, or a wrong --api-url)",
        _ => "",
    }
}

fn describe_body(kind: &Option<String>) -> String {
    kind.as_deref()
        .map(|k| format!(" ({k})"))
        .unwrap_or_default()
}

/// How the client should react to a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Stop the run now: retrying cannot help (bad key, bad puid, parameter error).
    Permanent,
    /// Retry with backoff, as many times as the attempt bound allows.
    Transient,
    /// An unknown pool error: retry a few times, then fail.
    Doubtful,
}

impl ApiError {
    pub fn disposition(&self) -> Disposition {
        match self {
            ApiError::Pool { disposition, .. } => *disposition,
            ApiError::Http { status, .. } => match status {
                401 | 403 => Disposition::Permanent,
                408 | 425 | 429 => Disposition::Transient,
                500..=599 => Disposition::Transient,
                _ => Disposition::Doubtful,
            },
            ApiError::Transport { .. }
            | ApiError::Malformed { .. }
            | ApiError::EmptyData { .. } => Disposition::Transient,
            // A page that size is a broken pool or proxy, not an answer: perhaps a glitch, more
            // likely the same next time, and each try may download the whole cap; a few tries.
            ApiError::BodyTooLarge { .. } => Disposition::Doubtful,
            // Following it would hand the key to another host; no retry changes where it points.
            ApiError::Redirect { .. } | ApiError::RequestBudget { .. } => Disposition::Permanent,
            ApiError::GaveUp { .. } => Disposition::Permanent,
        }
    }

    /// The failure itself: the last attempt's, when retries ran out.
    pub fn last(&self) -> &ApiError {
        match self {
            ApiError::GaveUp { last, .. } => last.last(),
            other => other,
        }
    }

    /// The pool's `err_no`, if the pool sent one.
    pub fn pool_code(&self) -> Option<i64> {
        match self.last() {
            ApiError::Pool { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Removes `secret` from every text the error carries (a pool may echo the request).
    pub fn redacted(self, secret: &str) -> ApiError {
        // Scrub first, then shorten: a key cut in half would no longer be recognised.
        let scrub = |text: String| {
            let clean = super::secret::redact(&text, secret);
            match clean.char_indices().nth(300) {
                Some((cut, _)) => format!("{}...", &clean[..cut]),
                None => clean,
            }
        };
        match self {
            ApiError::Pool {
                endpoint,
                code,
                message,
                disposition,
            } => ApiError::Pool {
                endpoint: scrub(endpoint),
                code,
                message: scrub(message),
                disposition,
            },
            ApiError::Http {
                endpoint,
                status,
                retry_after,
                body_kind,
            } => ApiError::Http {
                endpoint: scrub(endpoint),
                status,
                retry_after,
                body_kind: body_kind.map(scrub),
            },
            ApiError::Transport { endpoint, detail } => ApiError::Transport {
                endpoint: scrub(endpoint),
                detail: scrub(detail),
            },
            ApiError::Malformed { endpoint, detail } => ApiError::Malformed {
                endpoint: scrub(endpoint),
                detail: scrub(detail),
            },
            ApiError::EmptyData { endpoint } => ApiError::EmptyData {
                endpoint: scrub(endpoint),
            },
            ApiError::BodyTooLarge { endpoint, limit } => ApiError::BodyTooLarge {
                endpoint: scrub(endpoint),
                limit,
            },
            ApiError::RequestBudget { endpoint, limit } => ApiError::RequestBudget {
                endpoint: scrub(endpoint),
                limit,
            },
            ApiError::Redirect { endpoint, detail } => ApiError::Redirect {
                endpoint: scrub(endpoint),
                detail: scrub(detail),
            },
            ApiError::GaveUp { attempts, last } => ApiError::GaveUp {
                attempts,
                last: Box::new(last.redacted(secret)),
            },
        }
    }

    /// A failure of one answer (too large, unreadable, an unknown pool error) rather than of
    /// the pool or the key: the other series may still be collected.
    pub fn concerns_one_answer(&self) -> bool {
        let last = self.last();
        match last {
            ApiError::BodyTooLarge { .. } | ApiError::Malformed { .. } => true,
            ApiError::Pool { .. } => last.disposition() == Disposition::Doubtful,
            _ => false,
        }
    }

    /// The last failure was an empty `data`, after every retry.
    pub fn is_empty_data(&self) -> bool {
        matches!(self.last(), ApiError::EmptyData { .. })
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
