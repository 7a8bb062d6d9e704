//! Webhook deliveries against local receivers: each alert event told exactly once per webhook
//! across evaluations, failures kept for the next one, one webhook never blocking another,
//! redirects not followed, and the URL's token nowhere but in the request to its own host.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use poolhist::watch::webhook::{deliver, DeliveryOptions, DeliveryReport, Webhook, WebhookFormat};
use rusqlite::Connection;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "SECRET-TOKEN-123";
const QUERY_TOKEN: &str = "QUERY-SECRET-456";

// ---------------------------------------------------------------------------------------------
// A receiver on loopback that answers as scripted and records what it got.

#[derive(Debug, Clone)]
enum Answer {
    Ok,
    Status(u16),
    /// A status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// Answers 200 after this long: later than the client waits.
    Slow(Duration),
    /// 302 to this URL.
    Redirect(String),
}

#[derive(Debug, Clone)]
struct Received {
    path: String,
    content_type: Option<String>,
    user_agent: Option<String>,
    body: Value,
    /// Answered 2xx in time, so the sender took it as delivered.
    accepted: bool,
}

struct Receiver {
    url: String,
    base: String,
    /// Answers for the next requests, in order; then `otherwise`.
    script: Mutex<VecDeque<Answer>>,
    otherwise: Mutex<Answer>,
    received: Mutex<Vec<Received>>,
}

impl Receiver {
    /// Starts a receiver; its webhook URL carries the tokens in path and query.
    async fn start() -> Arc<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let receiver = Arc::new(Receiver {
            url: format!("{base}/hook/{TOKEN}?token={QUERY_TOKEN}"),
            base,
            script: Mutex::default(),
            otherwise: Mutex::new(Answer::Ok),
            received: Mutex::default(),
        });
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&receiver));
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().unwrap().extend(answers);
    }

    fn always(&self, answer: Answer) {
        *self.otherwise.lock().unwrap() = answer;
    }

    fn webhook(&self, format: WebhookFormat) -> Webhook {
        Webhook::new(&self.url, format).unwrap()
    }

    fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The event ids of every JSON body answered 2xx, in the order received.
    fn accepted_events(&self) -> Vec<i64> {
        self.requests()
            .iter()
            .filter(|r| r.accepted)
            .flat_map(|r| event_ids(&r.body))
            .collect()
    }
}

fn event_ids(body: &Value) -> Vec<i64> {
    body["alerts"]
        .as_array()
        .expect("a JSON body holds alerts")
        .iter()
        .map(|a| a["event_id"].as_i64().expect("an event id"))
        .collect()
}

async fn answer(
    State(receiver): State<Arc<Receiver>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let next = receiver.script.lock().unwrap().pop_front();
    let answer = next.unwrap_or_else(|| receiver.otherwise.lock().unwrap().clone());
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    receiver.received.lock().unwrap().push(Received {
        path: uri.to_string(),
        content_type: header("content-type"),
        user_agent: header("user-agent"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        accepted: matches!(answer, Answer::Ok),
    });
    match answer {
        Answer::Ok => (StatusCode::OK, "ok").into_response(),
        Answer::Status(code) => (StatusCode::from_u16(code).unwrap(), "no").into_response(),
        Answer::RetryAfter(code, seconds) => (
            StatusCode::from_u16(code).unwrap(),
            [("retry-after", seconds.to_string())],
            "later",
        )
            .into_response(),
        Answer::Slow(wait) => {
            tokio::time::sleep(wait).await;
            (StatusCode::OK, "too late").into_response()
        }
        Answer::Redirect(to) => (StatusCode::FOUND, [("location", to)], "").into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// A database with one account, a group and two workers, and alerts put in by hand.

struct Db {
    _dir: tempfile::TempDir,
    conn: Connection,
}

fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("farm.db");
    let conn = poolhist::store::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO accounts (account_id, first_seen, last_seen, pool, account, puid, previous_seen)
             VALUES (1, 0, 0, 'cloverpool', '123', 123, NULL);
         INSERT INTO groups (account_id, gid, name, first_seen, last_seen) VALUES (1, 1, 'A', 0, 0);
         INSERT INTO workers (account_id, worker_id, worker_name, gid, status, last_share_time,
                              first_seen, last_seen)
             VALUES (1, 7, 'rig-07', 1, 'ACTIVE', 0, 0, 0),
                    (1, 8, 'rig-08', 1, 'ACTIVE', 0, 0, 0);",
    )
    .unwrap();
    Db { _dir: dir, conn }
}

/// Opens an alert of `rule` on worker `worker_id` at `at`; returns (alert id, event id).
fn open_alert(conn: &Connection, rule: &str, worker_id: i64, at: i64) -> (i64, i64) {
    let message = format!("{rule} on worker {worker_id} since {}", at - 600);
    conn.execute(
        "INSERT INTO alerts (rule, subject, account_id, worker_id, state, held, since, opened_at,
                             message, last_evaluated_at)
         VALUES (?1, ?2, 1, ?3, 'open', 2, ?4, ?5, ?6, ?5)",
        rusqlite::params![
            rule,
            format!("worker:1:{worker_id}"),
            worker_id,
            at - 600,
            at,
            message
        ],
    )
    .unwrap();
    let alert_id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO alert_events (alert_id, kind, at, message) VALUES (?1, 'open', ?2, ?3)",
        rusqlite::params![alert_id, at, message],
    )
    .unwrap();
    (alert_id, conn.last_insert_rowid())
}

/// Resolves an alert at `at`; returns the event id.
fn resolve_alert(conn: &Connection, alert_id: i64, at: i64) -> i64 {
    conn.execute(
        "UPDATE alerts SET state = 'resolved', resolved_at = ?2, last_evaluated_at = ?2,
                message = 'recovered' WHERE alert_id = ?1",
        rusqlite::params![alert_id, at],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO alert_events (alert_id, kind, at, message) VALUES (?1, 'resolved', ?2, 'recovered')",
        rusqlite::params![alert_id, at],
    )
    .unwrap();
    conn.last_insert_rowid()
}

/// Fast tries for tests: short timeout and backoff.
fn fast() -> DeliveryOptions {
    DeliveryOptions {
        timeout: Duration::from_secs(2),
        attempts: 3,
        backoff: Duration::from_millis(5),
        max_backoff: Duration::from_secs(1),
        batch: 200,
    }
}

async fn run(db: &mut Db, webhooks: &[Webhook], now: i64) -> DeliveryReport {
    deliver(&mut db.conn, webhooks, now, &fast()).await.unwrap()
}

/// Every row of every table, as text, to search for what must not be stored.
fn dump(conn: &Connection) -> String {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.iter().any(|t| t == "webhook_deliveries"));
    let mut text = String::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let value: rusqlite::types::Value = row.get(i).unwrap();
                text.push_str(&format!("{table}: {value:?}\n"));
            }
        }
    }
    text
}

fn deliveries(conn: &Connection, event_id: i64) -> Vec<(i64, Option<i64>, Option<String>)> {
    conn.prepare(
        "SELECT attempts, delivered_at, last_error FROM webhook_deliveries WHERE event_id = ?1 \
         ORDER BY target_id",
    )
    .unwrap()
    .query_map([event_id], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn assert_no_token(text: &str, what: &str) {
    for secret in [TOKEN, QUERY_TOKEN, "/hook/"] {
        assert!(!text.contains(secret), "{what} holds {secret}: {text}");
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn json_body_is_alerts_with_the_record_fields() {
    let receiver = Receiver::start().await;
    let mut db = db();
    open_alert(&db.conn, "worker_down", 7, 1_000);
    let report = run(&mut db, &[receiver.webhook(WebhookFormat::Json)], 1_000).await;
    assert_eq!(
        report,
        DeliveryReport {
            delivered: 1,
            pending: 0,
            problems: vec![]
        }
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, format!("/hook/{TOKEN}?token={QUERY_TOKEN}"));
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    assert!(request
        .user_agent
        .as_deref()
        .is_some_and(|ua| ua.starts_with("poolhist/")));
    let alerts = request.body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert["rule"], "worker_down");
    assert_eq!(alert["state"], "open");
    assert_eq!(alert["pool"], "cloverpool");
    assert_eq!(alert["account"], "123");
    assert_eq!(alert["worker_id"], 7);
    assert_eq!(alert["worker_name"], "rig-07");
    assert_eq!(alert["group_name"], "A");
    assert_eq!(alert["since"], "1970-01-01T00:06:40Z");
    assert_eq!(alert["message"], "worker_down on worker 7 since 400");
    assert_eq!(alert["event_id"], 1);
}

#[tokio::test]
async fn slack_body_is_one_text_line_per_event_naming_rule_and_worker() {
    let receiver = Receiver::start().await;
    let webhooks = [receiver.webhook(WebhookFormat::Slack)];
    let mut db = db();
    // First seen before the alerts: it is told all of them.
    assert_eq!(
        run(&mut db, &webhooks, 900).await,
        DeliveryReport::default()
    );
    let (alert, _) = open_alert(&db.conn, "worker_down", 7, 1_000);
    resolve_alert(&db.conn, alert, 1_100);
    // A worker name from the pool cannot mention the channel.
    db.conn
        .execute(
            "UPDATE workers SET worker_name = '<!channel> & co' WHERE worker_id = 8",
            [],
        )
        .unwrap();
    open_alert(&db.conn, "hashrate_drop", 8, 1_100);
    let report = run(&mut db, &webhooks, 1_100).await;
    assert_eq!(report.delivered, 3);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one POST for the batch");
    let body = requests[0].body.as_object().unwrap();
    assert_eq!(body.keys().collect::<Vec<_>>(), ["text"]);
    let lines: Vec<&str> = body["text"].as_str().unwrap().lines().collect();
    assert_eq!(
        lines,
        [
            ":rotating_light: OPEN worker_down cloverpool/123 worker rig-07 (group A): \
             worker_down on worker 7 since 400",
            ":white_check_mark: RESOLVED worker_down cloverpool/123 worker rig-07 (group A): \
             recovered",
            ":rotating_light: OPEN hashrate_drop cloverpool/123 worker &lt;!channel&gt; &amp; co \
             (group A): hashrate_drop on worker 8 since 500",
        ]
    );
}

#[tokio::test]
async fn each_event_is_received_exactly_once_across_evaluations() {
    let receiver = Receiver::start().await;
    let webhooks = [receiver.webhook(WebhookFormat::Json)];
    let mut db = db();
    let mut all = Vec::new();

    // Evaluation 1: the receiver fails every try of this call; the event is kept.
    let (down, e1) = open_alert(&db.conn, "worker_down", 7, 1_000);
    all.push(e1);
    receiver.script(vec![Answer::Status(500); 3]);
    let report = run(&mut db, &webhooks, 1_000).await;
    assert_eq!((report.delivered, report.pending), (0, 1));
    assert_eq!(
        report.problems,
        [format!(
            "webhook {}: HTTP 500 after 3 tries; 1 alert kept for the next evaluation",
            receiver.base
        )]
    );
    assert_eq!(
        deliveries(&db.conn, e1),
        [(1, None, Some("HTTP 500".into()))]
    );
    assert!(receiver.accepted_events().is_empty());

    // Evaluation 2: a new alert; both go, oldest first, in one POST.
    let (_, e2) = open_alert(&db.conn, "hashrate_drop", 8, 2_000);
    all.push(e2);
    let report = run(&mut db, &webhooks, 2_000).await;
    assert_eq!(
        (report.delivered, report.pending, report.problems.len()),
        (2, 0, 0)
    );
    assert_eq!(receiver.accepted_events(), [e1, e2]);
    assert_eq!(deliveries(&db.conn, e1), [(2, Some(2_000), None)]);

    // Evaluation 3: nothing new, nothing sent at all.
    let before = receiver.requests().len();
    let report = run(&mut db, &webhooks, 3_000).await;
    assert_eq!(report, DeliveryReport::default());
    assert_eq!(receiver.requests().len(), before);

    // Evaluation 4: a resolution; the first try times out, the second is accepted.
    all.push(resolve_alert(&db.conn, down, 4_000));
    receiver.script([Answer::Slow(Duration::from_secs(5))]);
    let options = DeliveryOptions {
        timeout: Duration::from_millis(500),
        ..fast()
    };
    let report = deliver(&mut db.conn, &webhooks, 4_000, &options)
        .await
        .unwrap();
    assert_eq!((report.delivered, report.pending), (1, 0));

    // Evaluation 5: the receiver times out every try; then 6 sends what 5 kept.
    let (_, e5) = open_alert(&db.conn, "worker_down", 7, 5_000);
    all.push(e5);
    receiver.script(vec![Answer::Slow(Duration::from_secs(5)); 2]);
    let options = DeliveryOptions {
        attempts: 2,
        ..options
    };
    let report = deliver(&mut db.conn, &webhooks, 5_000, &options)
        .await
        .unwrap();
    assert_eq!((report.delivered, report.pending), (0, 1));
    assert!(
        report.problems[0].contains(": timed out after 2 tries;"),
        "{:?}",
        report.problems
    );
    let (_, e6) = open_alert(&db.conn, "reject_spike", 8, 6_000);
    all.push(e6);
    let report = run(&mut db, &webhooks, 6_000).await;
    assert_eq!((report.delivered, report.pending), (2, 0));

    assert_eq!(receiver.accepted_events(), all, "each event once, in order");
}

#[tokio::test]
async fn a_failure_is_tried_again_within_the_evaluation() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::Status(500), Answer::Status(502)]);
    let mut db = db();
    let (_, event) = open_alert(&db.conn, "worker_down", 7, 1_000);
    let report = run(&mut db, &[receiver.webhook(WebhookFormat::Json)], 1_000).await;
    assert_eq!(
        (report.delivered, report.pending, report.problems.len()),
        (1, 0, 0)
    );
    assert_eq!(receiver.requests().len(), 3);
    assert_eq!(receiver.accepted_events(), [event]);
    assert_eq!(deliveries(&db.conn, event), [(1, Some(1_000), None)]);
}

#[tokio::test]
async fn one_failing_webhook_does_not_hold_up_another() {
    let failing = Receiver::start().await;
    failing.always(Answer::Status(500));
    let working = Receiver::start().await;
    let webhooks = [
        failing.webhook(WebhookFormat::Json),
        working.webhook(WebhookFormat::Json),
    ];
    let mut db = db();
    let (_, e1) = open_alert(&db.conn, "worker_down", 7, 1_000);
    let report = run(&mut db, &webhooks, 1_000).await;
    assert_eq!((report.delivered, report.pending), (1, 1));
    let (_, e2) = open_alert(&db.conn, "hashrate_drop", 8, 2_000);
    let report = run(&mut db, &webhooks, 2_000).await;
    assert_eq!((report.delivered, report.pending), (1, 2));
    assert_eq!(
        report.problems,
        [format!(
            "webhook {}: HTTP 500 after 3 tries; 2 alerts kept for the next evaluation",
            failing.base
        )]
    );
    assert_eq!(working.accepted_events(), [e1, e2]);
    assert!(failing.accepted_events().is_empty());
    assert_eq!(failing.requests().len(), 6, "3 tries in each evaluation");
    // Target 1 (failing): tried twice, never delivered; target 2: delivered at once.
    assert_eq!(
        deliveries(&db.conn, e1),
        [(2, None, Some("HTTP 500".into())), (1, Some(1_000), None)]
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_the_token_stays_with_its_host() {
    let elsewhere = Receiver::start().await;
    let redirecting = Receiver::start().await;
    redirecting.always(Answer::Redirect(format!(
        "{}/collect{}",
        elsewhere.base,
        redirecting.url.trim_start_matches(&redirecting.base)
    )));
    let mut db = db();
    open_alert(&db.conn, "worker_down", 7, 1_000);
    let report = run(&mut db, &[redirecting.webhook(WebhookFormat::Json)], 1_000).await;
    assert_eq!((report.delivered, report.pending), (0, 1));
    assert!(
        report.problems[0].contains("HTTP 302 (a redirect, not followed) after 3 tries"),
        "{:?}",
        report.problems
    );
    assert_eq!(redirecting.requests().len(), 3);
    assert!(
        elsewhere.requests().is_empty(),
        "the other host heard nothing"
    );
}

#[tokio::test]
async fn the_token_is_in_no_problem_line_table_or_error() {
    let mut db = db();
    open_alert(&db.conn, "worker_down", 7, 1_000);
    // Every way of failing: an error status, a timeout, a redirect, and nobody listening.
    let failing = Receiver::start().await;
    failing.always(Answer::Status(500));
    let slow = Receiver::start().await;
    slow.always(Answer::Slow(Duration::from_secs(5)));
    let redirecting = Receiver::start().await;
    redirecting.always(Answer::Redirect(format!("{}/?next={TOKEN}", failing.base)));
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}/hook/{TOKEN}?token={QUERY_TOKEN}")
    };
    let webhooks = [
        failing.webhook(WebhookFormat::Json),
        slow.webhook(WebhookFormat::Slack),
        redirecting.webhook(WebhookFormat::Json),
        Webhook::new(&closed, WebhookFormat::Json).unwrap(),
    ];
    let options = DeliveryOptions {
        timeout: Duration::from_millis(500),
        attempts: 2,
        ..fast()
    };
    let report = deliver(&mut db.conn, &webhooks, 1_000, &options)
        .await
        .unwrap();
    assert_eq!(report.problems.len(), 4, "{:?}", report.problems);
    assert!(report.problems[1].contains("timed out"));
    assert!(report.problems[3].contains("connection refused"));
    for problem in &report.problems {
        assert_no_token(problem, "a problem line");
        assert!(
            problem.starts_with("webhook http://127.0.0.1:"),
            "{problem}"
        );
    }
    let stored = dump(&db.conn);
    assert!(stored.contains("HTTP 500") && stored.contains("connection refused"));
    assert_no_token(&stored, "the database");
    for webhook in &webhooks {
        assert_no_token(&format!("{webhook:?}"), "Debug");
        assert_no_token(&webhook.label(), "the label");
    }

    // Errors of URLs refused, and of files, never quote them.
    for bad in [
        format!("ftp://example.com/hook/{TOKEN}"),
        format!("hooks.example.com/hook/{TOKEN}"),
        format!("http://[::1/hook/{TOKEN}"),
        format!("https://example.com/hook/{TOKEN} and more"),
    ] {
        let error = Webhook::new(&bad, WebhookFormat::Json).unwrap_err();
        assert_no_token(&error.to_string(), "an error");
        assert_no_token(&format!("{error:?}"), "an error's Debug");
    }
    let list = [
        format!("https://example.com/hook/{TOKEN}"),
        format!("gopher://example.com/hook/{TOKEN}"),
    ];
    let error = Webhook::parse_list(&list, WebhookFormat::Json).unwrap_err();
    assert_eq!(error.to_string(), "webhook 2: not an http(s) URL");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hook.txt");
    std::fs::write(&file, format!("\n  mailto:{TOKEN}\n")).unwrap();
    let error = Webhook::from_file(&file, WebhookFormat::Json).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("webhook file {}: not an http(s) URL", file.display())
    );
}

#[tokio::test]
async fn a_webhook_added_later_hears_what_is_open_not_old_history() {
    let early = Receiver::start().await;
    let late = Receiver::start().await;
    let mut db = db();
    // The early webhook is first seen before any alert.
    run(&mut db, &[early.webhook(WebhookFormat::Json)], 900).await;
    // Before the late webhook: one alert opened and resolved, one opened and still open.
    let (gone, gone_opened) = open_alert(&db.conn, "worker_down", 7, 1_000);
    let (firing, firing_opened) = open_alert(&db.conn, "hashrate_drop", 8, 1_100);
    let gone_resolved = resolve_alert(&db.conn, gone, 1_500);
    run(&mut db, &[early.webhook(WebhookFormat::Json)], 1_500).await;

    let both = [
        early.webhook(WebhookFormat::Json),
        late.webhook(WebhookFormat::Json),
    ];
    let report = run(&mut db, &both, 2_000).await;
    assert_eq!((report.delivered, report.pending), (1, 0));
    assert_eq!(late.accepted_events(), [firing_opened]);
    let first_seen: i64 = db
        .conn
        .query_row(
            "SELECT first_seen FROM webhook_targets ORDER BY target_id DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(first_seen, 2_000);

    // After it was first seen, it hears everything.
    let firing_resolved = resolve_alert(&db.conn, firing, 2_500);
    let (_, newer) = open_alert(&db.conn, "worker_down", 7, 2_500);
    let report = run(&mut db, &both, 2_500).await;
    assert_eq!((report.delivered, report.pending), (4, 0));
    assert_eq!(
        late.accepted_events(),
        [firing_opened, firing_resolved, newer]
    );
    assert_eq!(
        early.accepted_events(),
        [
            gone_opened,
            firing_opened,
            gone_resolved,
            firing_resolved,
            newer
        ]
    );
}

#[tokio::test]
async fn events_go_in_batches_in_order() {
    let receiver = Receiver::start().await;
    let mut db = db();
    let events: Vec<i64> = (0..5)
        .map(|i| open_alert(&db.conn, "worker_down", 100 + i, 1_000).1)
        .collect();
    let options = DeliveryOptions { batch: 2, ..fast() };
    let webhooks = [receiver.webhook(WebhookFormat::Json)];
    let report = deliver(&mut db.conn, &webhooks, 1_000, &options)
        .await
        .unwrap();
    assert_eq!(report.delivered, 5);
    let sizes: Vec<usize> = receiver
        .requests()
        .iter()
        .map(|r| event_ids(&r.body).len())
        .collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(receiver.accepted_events(), events);

    // A batch failing stops that webhook for this evaluation; all that is left is kept.
    let more: Vec<i64> = (0..5)
        .map(|i| open_alert(&db.conn, "hashrate_drop", 100 + i, 2_000).1)
        .collect();
    receiver.script([Answer::Ok, Answer::Status(500), Answer::Status(500)]);
    let options = DeliveryOptions {
        attempts: 2,
        ..options
    };
    let report = deliver(&mut db.conn, &webhooks, 2_000, &options)
        .await
        .unwrap();
    assert_eq!((report.delivered, report.pending), (2, 3));
    assert!(report.problems[0].ends_with("; 3 alerts kept for the next evaluation"));
    let report = deliver(&mut db.conn, &webhooks, 3_000, &options)
        .await
        .unwrap();
    assert_eq!((report.delivered, report.pending), (3, 0));
    assert_eq!(receiver.accepted_events(), [events, more].concat());
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_the_cap() {
    let receiver = Receiver::start().await;
    let mut db = db();
    open_alert(&db.conn, "worker_down", 7, 1_000);
    let webhooks = [receiver.webhook(WebhookFormat::Json)];
    receiver.script([Answer::RetryAfter(429, 1)]);
    let started = Instant::now();
    let report = run(&mut db, &webhooks, 1_000).await;
    assert_eq!(report.delivered, 1);
    assert!(started.elapsed() >= Duration::from_millis(950));

    // An absurd Retry-After waits no longer than the cap.
    open_alert(&db.conn, "hashrate_drop", 8, 2_000);
    receiver.script([Answer::RetryAfter(503, 86_400)]);
    let options = DeliveryOptions {
        max_backoff: Duration::from_millis(50),
        ..fast()
    };
    let started = Instant::now();
    let report = deliver(&mut db.conn, &webhooks, 2_000, &options)
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A receiver that accepts (200) and then streams an endless body.
async fn endless_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook/{TOKEN}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // The request: head, then as many body bytes as it says.
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "x".repeat(16 * 1024));
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    url
}

#[tokio::test]
async fn an_endless_answer_does_not_hold_the_delivery() {
    let url = endless_receiver().await;
    let mut db = db();
    open_alert(&db.conn, "worker_down", 7, 1_000);
    let webhooks = [Webhook::new(&url, WebhookFormat::Json).unwrap()];
    let options = DeliveryOptions {
        timeout: Duration::from_secs(20),
        ..fast()
    };
    let started = Instant::now();
    let report = deliver(&mut db.conn, &webhooks, 1_000, &options)
        .await
        .unwrap();
    assert_eq!((report.delivered, report.pending), (1, 0));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn the_same_webhook_twice_is_told_once() {
    let receiver = Receiver::start().await;
    let mut db = db();
    let (_, event) = open_alert(&db.conn, "worker_down", 7, 1_000);
    let webhook = receiver.webhook(WebhookFormat::Json);
    let report = run(&mut db, &[webhook.clone(), webhook], 1_000).await;
    assert_eq!(report.delivered, 1);
    assert_eq!(receiver.accepted_events(), [event]);
}

#[test]
fn a_webhook_is_named_by_its_origin_and_known_by_its_fingerprint() {
    let url =
        "https://user:pa55word@hooks.example.com:8443/services/T0/B0/XXXXSECRET?token=abcdefgh12";
    let webhook = Webhook::new(&format!("  {url}\n"), WebhookFormat::Slack).unwrap();
    assert_eq!(webhook.label(), "https://hooks.example.com:8443");
    assert_eq!(
        Webhook::new("HTTPS://Hooks.Example.com:443/x", WebhookFormat::Json)
            .unwrap()
            .label(),
        "https://hooks.example.com"
    );
    use sha2::Digest as _;
    let expected: String = sha2::Sha256::digest(url.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(webhook.fingerprint(), expected);
    let secrets = webhook.secrets();
    for wanted in [
        url,
        "/services/T0/B0/XXXXSECRET?token=abcdefgh12",
        "XXXXSECRET",
        "abcdefgh12",
        "pa55word",
    ] {
        assert!(
            secrets.iter().any(|s| s == wanted),
            "{wanted} in {secrets:?}"
        );
    }
    // A bare host has no path worth redacting: "/" is not a secret.
    let bare = Webhook::new("http://10.0.0.5:9000/", WebhookFormat::Json).unwrap();
    assert!(!bare.secrets().iter().any(|s| s == "/"));
    assert_eq!(
        format!("{webhook:?}"),
        "Webhook { label: \"https://hooks.example.com:8443\", format: Slack, .. }"
    );
}

#[test]
fn a_webhook_file_gives_its_first_non_empty_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hook.txt");
    std::fs::write(
        &file,
        "\u{feff}\n\n  https://hooks.example.com/x/y  \r\nhttps://other\n",
    )
    .unwrap();
    let webhook = Webhook::from_file(&file, WebhookFormat::Json).unwrap();
    assert_eq!(webhook.label(), "https://hooks.example.com");
    assert_eq!(
        webhook,
        Webhook::new("https://hooks.example.com/x/y", WebhookFormat::Json).unwrap()
    );

    std::fs::write(&file, "\n \n").unwrap();
    let error = Webhook::from_file(&file, WebhookFormat::Json).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("webhook file {}: holds no URL", file.display())
    );
    let missing = dir.path().join("missing.txt");
    let error = Webhook::from_file(&missing, WebhookFormat::Json).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "cannot read webhook file {}: no such file",
            missing.display()
        )
    );
}

#[test]
fn the_format_parses_from_config_and_command_line() {
    use clap::ValueEnum as _;
    assert_eq!(WebhookFormat::default(), WebhookFormat::Json);
    assert_eq!(
        WebhookFormat::from_str("slack", false),
        Ok(WebhookFormat::Slack)
    );
    let parsed: WebhookFormat = serde_json::from_str("\"slack\"").unwrap();
    assert_eq!(parsed, WebhookFormat::Slack);
    assert_eq!(
        serde_json::to_string(&WebhookFormat::Json).unwrap(),
        "\"json\""
    );
}

#[test]
fn delivering_is_a_send_future() {
    fn assert_send<T: Send>(_: &T) {}
    let mut conn = Connection::open_in_memory().unwrap();
    let options = DeliveryOptions::default();
    let future = deliver(&mut conn, &[], 0, &options);
    assert_send(&future);
}

#[tokio::test]
async fn an_opening_that_failed_is_sent_even_when_its_alert_resolved_before_the_next_evaluation() {
    let receiver = Receiver::start().await;
    let mut db = db();
    let webhooks = [receiver.webhook(WebhookFormat::Json)];
    // The webhook is first seen after the alert opened: it hears the opening as still firing.
    let (alert, opened) = open_alert(&db.conn, "worker_down", 7, 1_000);
    receiver.always(Answer::Status(500));
    let report = run(&mut db, &webhooks, 2_000).await;
    assert_eq!((report.delivered, report.pending), (0, 1));
    // Resolved before the next evaluation; the receiver is back.
    let resolved = resolve_alert(&db.conn, alert, 2_500);
    receiver.always(Answer::Ok);
    let report = run(&mut db, &webhooks, 3_000).await;
    assert_eq!((report.delivered, report.pending), (2, 0));
    assert_eq!(receiver.accepted_events(), [opened, resolved]);
}
