//! Telling alerts to webhooks: each opening and resolution (`alert_events`) is POSTed to every
//! webhook until one answers 2xx, then never again to that webhook. A delivery that fails is
//! retried a few times within the evaluation, then kept for the next one; one failing webhook
//! never holds up another.
//!
//! A webhook URL is a secret, like the pool access key: Slack's and most others carry their
//! token in the path or query. It never reaches the database (only its SHA-256 fingerprint and
//! `scheme://host[:port]` do), a log line, an error or the output; it is named by its label.
//! Redirects are not followed, so the token only ever travels to its own host.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::record::{self, AlertRecord};

/// Most of a receiver's answer body read: only the status matters, and a hostile receiver could
/// stream for ever.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Events in one Slack message at most: Slack cuts a message's text at 40,000 characters.
const SLACK_MAX_LINES: usize = 50;
/// Characters of an alert message kept in a Slack line.
const SLACK_MAX_MESSAGE_CHARS: usize = 500;
/// Path-and-query (or a part of it) this long or longer is treated as a token to redact.
const MIN_SECRET_LEN: usize = 8;

/// What a webhook body looks like.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
// Json: `{"alerts": [...]}`, each item an alert record with its `event_id`. Slack: `{"text":
// "..."}`, one line per event (Slack's and Mattermost's incoming webhooks). Plain comments:
// doc comments would turn every `--help` into the long layout.
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// `which` is "webhook" or "webhook 2"; the URL itself is never repeated.
    #[error("{which}: {why}")]
    Url { which: String, why: &'static str },
    #[error("cannot read webhook file {path}: {reason}")]
    FileUnreadable { path: PathBuf, reason: String },
    #[error("webhook file {path}: {why}")]
    File { path: PathBuf, why: &'static str },
    #[error("cannot build the webhook HTTP client")]
    Client,
    #[error("webhook deliveries: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("cannot write a webhook body: {0}")]
    Body(#[from] serde_json::Error),
}

/// A webhook URL and the body format it takes. `Debug` shows the label only.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    url: String,
    label: String,
    pub format: WebhookFormat,
}

impl Webhook {
    /// Checks that `url` is an `http(s)://host...` URL. Errors say why without repeating it.
    pub fn new(url: &str, format: WebhookFormat) -> Result<Webhook, WebhookError> {
        Webhook::parse(url, format).map_err(|why| WebhookError::Url {
            which: "webhook".to_owned(),
            why,
        })
    }

    /// Several webhooks, errors naming each by its place in the list ("webhook 2: ...").
    pub fn parse_list<S: AsRef<str>>(
        urls: &[S],
        format: WebhookFormat,
    ) -> Result<Vec<Webhook>, WebhookError> {
        urls.iter()
            .enumerate()
            .map(|(i, url)| {
                Webhook::parse(url.as_ref(), format).map_err(|why| WebhookError::Url {
                    which: format!("webhook {}", i + 1),
                    why,
                })
            })
            .collect()
    }

    /// Reads the URL from the first non-empty line of a file. Errors name the file, never what
    /// it holds.
    pub fn from_file(path: &Path, format: WebhookFormat) -> Result<Webhook, WebhookError> {
        let text = std::fs::read_to_string(path).map_err(|e| WebhookError::FileUnreadable {
            path: path.to_owned(),
            // The kind only: an io::Error's text could in principle quote what it read.
            reason: describe_io_error(&e),
        })?;
        let line = text
            .lines()
            .map(|line| line.trim().trim_start_matches('\u{feff}').trim())
            .find(|line| !line.is_empty())
            .ok_or_else(|| WebhookError::File {
                path: path.to_owned(),
                why: "holds no URL",
            })?;
        Webhook::parse(line, format).map_err(|why| WebhookError::File {
            path: path.to_owned(),
            why,
        })
    }

    fn parse(url: &str, format: WebhookFormat) -> Result<Webhook, &'static str> {
        let url = url.trim();
        if url.is_empty() {
            return Err("the URL is empty");
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the URL contains whitespace");
        }
        let parsed = reqwest::Url::parse(url).map_err(|_| "not an http(s) URL")?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err("not an http(s) URL");
        }
        Ok(Webhook {
            url: url.to_owned(),
            label: parsed.origin().ascii_serialization(),
            format,
        })
    }

    /// `scheme://host[:port]`: how messages name the webhook.
    pub fn label(&self) -> String {
        self.label.clone()
    }

    /// Hex SHA-256 of the URL as given (trimmed): how the database knows the webhook.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(self.url.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// What to register for redaction (`logging::register_secret`): the whole URL (as given
    /// and as normalised), its path and query when 8 characters or more, its last path segment
    /// and query values of that length, and a password in its userinfo.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.url.clone()];
        let mut add = |secret: &str, min_len: usize| {
            if secret.len() >= min_len && !secrets.iter().any(|s| s == secret) {
                secrets.push(secret.to_owned());
            }
        };
        // After the authority, as given: "/hook/T/B/XXXX?token=...".
        if let Some(after_scheme) = self.url.find("://").map(|i| &self.url[i + 3..]) {
            if let Some(start) = after_scheme.find(['/', '?', '#']) {
                add(&after_scheme[start..], MIN_SECRET_LEN);
            }
        }
        if let Ok(parsed) = reqwest::Url::parse(&self.url) {
            add(parsed.as_str(), 1);
            let mut path_and_query = parsed.path().to_owned();
            if let Some(query) = parsed.query() {
                path_and_query.push('?');
                path_and_query.push_str(query);
                for pair in query.split('&') {
                    add(
                        pair.split_once('=').map_or(pair, |(_, v)| v),
                        MIN_SECRET_LEN,
                    );
                }
            }
            add(&path_and_query, MIN_SECRET_LEN);
            if let Some(last) = parsed.path_segments().and_then(|mut s| s.next_back()) {
                add(last, MIN_SECRET_LEN);
            }
            if let Some(password) = parsed.password() {
                add(password, 1);
            }
        }
        secrets
    }

    /// Replaces every secret of this webhook in `text`.
    fn redact(&self, text: &str) -> String {
        self.secrets().iter().fold(text.to_owned(), |text, secret| {
            crate::http::secret::redact(&text, secret)
        })
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("label", &self.label)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// How hard one evaluation tries.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Per POST, connecting included.
    pub timeout: Duration,
    /// Tries per batch within one evaluation (at least 1); then the next evaluation tries again.
    pub attempts: u32,
    /// The first wait between tries, doubled each time.
    pub backoff: Duration,
    /// The longest wait between tries, a receiver's `Retry-After` included.
    pub max_backoff: Duration,
    /// Events per POST at most (Slack messages hold 50 at most).
    pub batch: usize,
}

impl Default for DeliveryOptions {
    fn default() -> DeliveryOptions {
        DeliveryOptions {
            timeout: Duration::from_secs(10),
            attempts: 3,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            batch: 200,
        }
    }
}

/// What one evaluation's deliveries did, counted in (event, webhook) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Accepted (2xx) now.
    pub delivered: usize,
    /// Still to deliver, at the next evaluation.
    pub pending: usize,
    /// One line per webhook that failed, naming it by its label, never its URL.
    pub problems: Vec<String>,
}

/// A webhook as the database knows it.
struct Target {
    id: i64,
    first_seen: i64,
}

/// Sends every due alert event to every webhook (see the module comment), recording what was
/// accepted in `webhook_deliveries`. The database is only touched in short synchronous steps
/// between requests, never across one. Errors are the database's; a webhook that fails is a
/// `problems` line, not an error.
pub async fn deliver(
    conn: &mut Connection,
    webhooks: &[Webhook],
    now: i64,
    options: &DeliveryOptions,
) -> Result<DeliveryReport, WebhookError> {
    let mut report = DeliveryReport::default();
    if webhooks.is_empty() {
        return Ok(report);
    }
    for webhook in webhooks {
        // A dependency's debug log could print a request URL.
        for secret in webhook.secrets() {
            crate::logging::register_secret(&secret);
        }
    }
    let client = reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("poolhist/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .build()
        .map_err(|_| WebhookError::Client)?;
    let mut seen = Vec::new();
    for webhook in webhooks {
        let fingerprint = webhook.fingerprint();
        if seen.contains(&fingerprint) {
            continue; // the same URL twice is told once
        }
        seen.push(fingerprint);
        let target = register_target(conn, webhook, now)?;
        let due = due_events(conn, &target)?;
        let batch = match webhook.format {
            WebhookFormat::Json => options.batch,
            WebhookFormat::Slack => options.batch.min(SLACK_MAX_LINES),
        }
        .max(1);
        let mut sent = 0;
        for events in due.chunks(batch) {
            let body = body(conn, webhook.format, events)?;
            match post(&client, webhook, body, options).await {
                Ok(()) => {
                    record_outcome(conn, target.id, events, now, None)?;
                    sent += events.len();
                }
                Err(failure) => {
                    let error = webhook.redact(&failure.error);
                    record_outcome(conn, target.id, events, now, Some(&error))?;
                    let kept = due.len() - sent;
                    report.pending += kept;
                    report.problems.push(webhook.redact(&format!(
                        "webhook {}: {error} after {} {}; {kept} {} kept for the next evaluation",
                        webhook.label,
                        failure.tries,
                        if failure.tries == 1 { "try" } else { "tries" },
                        if kept == 1 { "alert" } else { "alerts" },
                    )));
                    tracing::warn!("{}", report.problems.last().expect("just pushed"));
                    break;
                }
            }
        }
        report.delivered += sent;
        if sent > 0 {
            tracing::info!("webhook {}: {sent} alert events delivered", webhook.label);
        }
    }
    Ok(report)
}

/// Finds or registers the webhook by its fingerprint; `first_seen` is its first evaluation.
fn register_target(conn: &Connection, webhook: &Webhook, now: i64) -> rusqlite::Result<Target> {
    let fingerprint = webhook.fingerprint();
    let found = conn
        .query_row(
            "SELECT target_id, first_seen FROM webhook_targets WHERE fingerprint = ?1",
            [&fingerprint],
            |row| {
                Ok(Target {
                    id: row.get(0)?,
                    first_seen: row.get(1)?,
                })
            },
        )
        .optional()?;
    if let Some(target) = found {
        return Ok(target);
    }
    conn.execute(
        "INSERT INTO webhook_targets (fingerprint, label, first_seen) VALUES (?1, ?2, ?3)",
        params![fingerprint, webhook.label, now],
    )?;
    Ok(Target {
        id: conn.last_insert_rowid(),
        first_seen: now,
    })
}

/// Events not yet accepted by the target, oldest first: those since it was first seen, the
/// openings of alerts still open (a new webhook hears what is firing, not old history), and any
/// it failed to take before (kept, whatever became of the alert since).
fn due_events(conn: &Connection, target: &Target) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.event_id FROM alert_events e JOIN alerts al ON al.alert_id = e.alert_id \
         WHERE al.state <> 'pending' \
           AND (e.at >= ?2 OR (e.kind = 'open' AND al.state = 'open') \
                OR EXISTS (SELECT 1 FROM webhook_deliveries d \
                           WHERE d.event_id = e.event_id AND d.target_id = ?1 \
                             AND d.delivered_at IS NULL)) \
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
                           WHERE d.event_id = e.event_id AND d.target_id = ?1 \
                             AND d.delivered_at IS NOT NULL) \
         ORDER BY e.event_id",
    )?;
    let ids = stmt.query_map([target.id, target.first_seen], |row| row.get(0))?;
    ids.collect()
}

/// Accepted (`error` None) or failed once more: one transaction for the whole batch.
fn record_outcome(
    conn: &mut Connection,
    target_id: i64,
    events: &[i64],
    now: i64,
    error: Option<&str>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO webhook_deliveries (event_id, target_id, attempts, delivered_at, last_error) \
             VALUES (?1, ?2, 1, ?3, ?4) \
             ON CONFLICT (event_id, target_id) DO UPDATE SET \
               attempts = attempts + 1, \
               delivered_at = COALESCE(webhook_deliveries.delivered_at, excluded.delivered_at), \
               last_error = excluded.last_error",
        )?;
        let delivered_at = error.is_none().then_some(now);
        for event_id in events {
            stmt.execute(params![event_id, target_id, delivered_at, error])?;
        }
    }
    tx.commit()
}

/// The body of one POST telling `events`.
fn body(conn: &Connection, format: WebhookFormat, events: &[i64]) -> Result<Vec<u8>, WebhookError> {
    let records = record::events(conn, events)?;
    let value = match format {
        WebhookFormat::Json => serde_json::json!({ "alerts": records }),
        WebhookFormat::Slack => {
            let lines: Vec<String> = records.iter().map(slack_line).collect();
            serde_json::json!({ "text": lines.join("\n") })
        }
    };
    Ok(serde_json::to_vec(&value)?)
}

/// `:rotating_light: OPEN worker_down cloverpool/123 worker rig-07 (group A): <message>`.
/// Names and messages come from the pool: `<`, `>` and `&` are escaped so none can mention
/// `<!channel>` or forge a link, and control characters become spaces.
pub fn slack_line(record: &AlertRecord) -> String {
    let (icon, word) = if record.state == "open" {
        (":rotating_light:", "OPEN")
    } else {
        (":white_check_mark:", "RESOLVED")
    };
    let mut line = format!("{icon} {word} {}", record.rule);
    let account = match (&record.pool, &record.account) {
        (Some(pool), Some(account)) => Some(format!("{pool}/{account}")),
        (pool, account) => pool.clone().or_else(|| account.clone()),
    };
    if let Some(account) = account {
        line.push(' ');
        line.push_str(&account);
    }
    match (&record.worker_name, record.worker_id) {
        (Some(name), _) => line.push_str(&format!(" worker {name}")),
        (None, Some(id)) => line.push_str(&format!(" worker #{id}")),
        (None, None) => {}
    }
    if let Some(group) = &record.group_name {
        line.push_str(&format!(" (group {group})"));
    }
    let message: String = record
        .message
        .chars()
        .take(SLACK_MAX_MESSAGE_CHARS)
        .collect();
    line.push_str(": ");
    line.push_str(&message);
    if record.message.chars().count() > SLACK_MAX_MESSAGE_CHARS {
        line.push('…');
    }
    slack_escape(&line)
}

fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Why a POST was not accepted, in words that never hold the URL, and how many tries it took.
struct Failure {
    error: String,
    tries: u32,
}

/// POSTs `body` until a 2xx answer or `options.attempts` tries.
async fn post(
    client: &reqwest::Client,
    webhook: &Webhook,
    body: Vec<u8>,
    options: &DeliveryOptions,
) -> Result<(), Failure> {
    let attempts = options.attempts.max(1);
    let mut tries = 0;
    loop {
        tries += 1;
        let (error, retry_after) = match post_once(client, webhook, body.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if tries >= attempts {
            return Err(Failure { error, tries });
        }
        let exponent = (tries - 1).min(16);
        let backoff = options.backoff.saturating_mul(1 << exponent);
        let wait = retry_after.map_or(backoff, |r| r.max(backoff));
        let wait = wait.min(options.max_backoff);
        tracing::warn!(
            "webhook {}: {error}; trying again in {:.1} s",
            webhook.label,
            wait.as_secs_f64()
        );
        tokio::time::sleep(wait).await;
    }
}

/// One POST: Ok on 2xx, else a short description and the `Retry-After` of a 429 or 503.
async fn post_once(
    client: &reqwest::Client,
    webhook: &Webhook,
    body: Vec<u8>,
) -> Result<(), (String, Option<Duration>)> {
    let mut response = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| (describe_transport_error(&e), None))?;
    let status = response.status();
    let retry_after = match status.as_u16() {
        429 | 503 => response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs),
        _ => None,
    };
    // Read a little of the answer (so the connection can be reused), never all of it.
    let mut read = 0;
    while read < MAX_ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
    drop(response);
    if status.is_success() {
        return Ok(());
    }
    let what = if status.is_redirection() {
        format!("HTTP {} (a redirect, not followed)", status.as_u16())
    } else {
        format!("HTTP {}", status.as_u16())
    };
    Err((what, retry_after))
}

/// A transport failure in a few words: reqwest's own text holds the URL.
fn describe_transport_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut source = std::error::Error::source(error);
    let mut dns = false;
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".to_owned(),
                std::io::ErrorKind::TimedOut => return "timed out".to_owned(),
                _ => {}
            }
        }
        dns |= cause.to_string().to_ascii_lowercase().contains("dns");
        source = cause.source();
    }
    if dns {
        "cannot resolve the host".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else if error.is_body() || error.is_request() {
        "the connection broke".to_owned()
    } else {
        "request failed".to_owned()
    }
}

fn describe_io_error(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".to_owned(),
        std::io::ErrorKind::IsADirectory => "a directory".to_owned(),
        kind => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: &str, message: &str) -> AlertRecord {
        AlertRecord {
            rule: "stale_ingest".to_owned(),
            state: state.to_owned(),
            pool: Some("foundry".to_owned()),
            account: Some("farm1".to_owned()),
            worker_id: None,
            worker_name: None,
            group_name: None,
            since: "2026-01-01T00:00:00Z".to_owned(),
            message: message.to_owned(),
            change: "opened".to_owned(),
            alert_id: 1,
            event_id: Some(1),
            opened_at: None,
            resolved_at: None,
            value: None,
            threshold: None,
        }
    }

    #[test]
    fn an_account_level_alert_names_the_account_only() {
        assert_eq!(
            slack_line(&record("open", "no ingest for 3 h")),
            ":rotating_light: OPEN stale_ingest foundry/farm1: no ingest for 3 h"
        );
        let mut group = record("resolved", "back");
        group.group_name = Some("B".to_owned());
        group.worker_id = Some(9);
        assert_eq!(
            slack_line(&group),
            ":white_check_mark: RESOLVED stale_ingest foundry/farm1 worker #9 (group B): back"
        );
    }

    #[test]
    fn a_long_or_multiline_message_stays_one_short_line() {
        let line = slack_line(&record("open", &format!("a\nb{}", "x".repeat(2_000))));
        assert!(!line.contains('\n'));
        assert!(line.ends_with('…'));
        assert!(line.chars().count() < SLACK_MAX_MESSAGE_CHARS + 100);
    }

    #[test]
    fn an_io_error_is_described_by_its_kind() {
        let error = std::io::Error::new(std::io::ErrorKind::InvalidData, "https://x/token");
        assert_eq!(describe_io_error(&error), "not UTF-8 text");
    }
}
