//! The alert rules and their state over a farm whose story is known hour by hour: a rig stops,
//! another drops to a tenth, a third rejects too much, one worker appears and one leaves, and
//! then collection stops. The database is built the way nightly ingests leave it (final hours
//! up to the last complete one, watermarks, listings, runs), so each evaluation's expected
//! alerts follow from the story alone.

mod binary;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use binary::{poolhist_with_key, run};
use poolhist::watch::rules::RuleSettings;
use rusqlite::{params, Connection};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// 2026-11-01T00:00:00Z: the day of the story.
const DAY0: i64 = 1_793_491_200;
/// History begins eight days before (the hashrate-drop baseline is seven days).
const START: i64 = DAY0 - 8 * DAY;
const ACCOUNT: i64 = 1001;
const TH: f64 = 1e12;

/// Hashrate (H/s) and reject fraction of worker `id` at hour `ts`, by the story.
fn truth(id: i64, ts: i64) -> (f64, f64) {
    let noise = 1.0 + ((id * 7919 + ts / HOUR * 104_729) % 100) as f64 / 1000.0 - 0.05;
    let normal = (100.0 * TH * noise, 0.005);
    let hour_of = |h: i64| DAY0 + h * HOUR;
    match id {
        // rig-01 stops 10:00-15:59.
        1 if (hour_of(10)..hour_of(16)).contains(&ts) => (0.0, 0.0),
        // rig-02 runs at a tenth 12:00-19:59.
        2 if (hour_of(12)..hour_of(20)).contains(&ts) => (10.0 * TH * noise, 0.005),
        // rig-03 rejects 8 % 14:00-16:59.
        3 if (hour_of(14)..hour_of(17)).contains(&ts) => (normal.0, 0.08),
        _ => normal,
    }
}

/// rig-10 leaves the pool's list, and rig-11 joins it, at the listing of DAY0 16:30.
const CHANGE_AT: i64 = DAY0 + 16 * HOUR + 1800;

fn listed(id: i64, at: i64) -> bool {
    match id {
        10 => at < CHANGE_AT,
        11 => at >= CHANGE_AT,
        _ => true,
    }
}

struct Farm {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Farm {
    fn new() -> Farm {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("farm.db");
        let conn = poolhist::store::open(&db).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen) \
             VALUES ({ACCOUNT}, 'cloverpool', '{ACCOUNT}', {ACCOUNT}, {START}, {START}); \
             INSERT INTO groups VALUES ({ACCOUNT}, 1, 'rack A', {START}, {START}); \
             INSERT INTO groups VALUES ({ACCOUNT}, 2, 'rack B', {START}, {START}); \
             INSERT INTO series (series_id, account_id, worker_id, dimension) \
             VALUES (1000, {ACCOUNT}, NULL, '1h');"
        ))
        .unwrap();
        Farm { _dir: dir, db }
    }

    /// What a nightly ingest at `at` leaves: the listing, every final hour up to the last
    /// complete one, the watermarks, and an `ok` run.
    fn ingest(&self, at: i64) {
        let mut conn = Connection::open(&self.db).unwrap();
        let tx = conn.transaction().unwrap();
        let last_hour = at / HOUR * HOUR - HOUR;
        tx.execute(
            // As the first listing makes the account: no listing before it.
            "UPDATE accounts SET last_seen = ?1, previous_seen = \
             CASE WHEN EXISTS (SELECT 1 FROM workers) THEN last_seen END",
            [at],
        )
        .unwrap();
        for id in 1..=11 {
            if !listed(id, at) {
                continue;
            }
            let gid = if id <= 4 { 1 } else { 2 };
            // The list's last share: a minute ago, or the end of the last hour it hashed.
            let last_share = (0..48)
                .map(|back| at / HOUR * HOUR - back * HOUR)
                .find(|hour| truth(id, *hour).0 > 0.0)
                .map(|hour| (hour + HOUR - 1).min(at - 60));
            tx.execute(
                "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, last_share_time, first_seen, last_seen) \
                 VALUES (?1, ?2, ?3, ?4, 'ACTIVE', ?6, ?5, ?5) \
                 ON CONFLICT DO UPDATE SET previous_seen = last_seen, \
                   last_seen = excluded.last_seen, last_share_time = excluded.last_share_time",
                params![ACCOUNT, id, format!("rig-{id:02}"), gid, at, last_share],
            )
            .unwrap();
            tx.execute(
                "INSERT OR IGNORE INTO series (series_id, account_id, worker_id, dimension) \
                 VALUES (?1, ?2, ?1, '1h')",
                params![id, ACCOUNT],
            )
            .unwrap();
            let watermark: Option<i64> = tx
                .query_row(
                    "SELECT watermark_ts FROM series WHERE series_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .unwrap();
            // A new worker's history: the three days the pool keeps.
            let from = watermark.map_or(START.max(at - 72 * HOUR) / HOUR * HOUR, |w| w + HOUR);
            let mut ts = from;
            while ts <= last_hour {
                let (hashrate, reject) = truth(id, ts);
                tx.execute(
                    "INSERT OR REPLACE INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional) \
                     VALUES (?1, ?2, ?3, ?4, 0)",
                    params![id, ts, hashrate, reject],
                )
                .unwrap();
                ts += HOUR;
            }
            tx.execute(
                "UPDATE series SET watermark_ts = ?2 WHERE series_id = ?1",
                params![id, last_hour],
            )
            .unwrap();
        }
        // The account's own series: the sum of its listed workers.
        let from: i64 = tx
            .query_row(
                "SELECT IFNULL(watermark_ts + 3600, ?1) FROM series WHERE series_id = 1000",
                [START],
                |r| r.get(0),
            )
            .unwrap();
        let mut ts = from;
        while ts <= last_hour {
            let total: f64 = (1..=11)
                .filter(|id| listed(*id, ts))
                .map(|id| truth(id, ts).0)
                .sum();
            tx.execute(
                "INSERT OR REPLACE INTO tickers VALUES (1000, ?1, ?2, 0.005, 0)",
                params![ts, total],
            )
            .unwrap();
            ts += HOUR;
        }
        tx.execute(
            "UPDATE series SET watermark_ts = ?1 WHERE series_id = 1000",
            [last_hour],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO ingest_runs (started_at, finished_at, status, puids, accounts) \
             VALUES (?1, ?1, 'ok', ?2, ?3)",
            params![at, ACCOUNT.to_string(), format!("cloverpool:{ACCOUNT}")],
        )
        .unwrap();
        tx.commit().unwrap();
        conn.execute_batch(include_str!("../queries/rebuild_hourly_by_day.sql"))
            .unwrap();
    }
}

/// (rule, worker name or subject) of each open alert.
type Open = BTreeSet<(String, String)>;

fn open_alerts(db: &Path) -> Open {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT rule, IFNULL(worker_name, IFNULL(group_name, account)) FROM v_alerts WHERE state = 'open'")
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

fn set(items: &[(&str, &str)]) -> Open {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn evaluate(db: &Path, settings: &RuleSettings, at: i64) -> poolhist::watch::Told {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(poolhist::watch::evaluate(db, settings, &[], at))
        .unwrap()
}

/// (kind, rule, name) of every event told, in order.
fn events(db: &Path) -> Vec<(String, String, String)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT kind, rule, IFNULL(worker_name, IFNULL(group_name, account)) FROM v_alert_events ORDER BY event_id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn each_problem_of_the_story_opens_once_and_resolves_once() {
    let farm = Farm::new();
    let settings = RuleSettings::default();
    // Evaluation time, and the alerts open after it.
    let steps: [(i64, Open); 7] = [
        (DAY0 + 10 * HOUR + 1800, set(&[])),
        // rig-01: no hashrate at 10:00 and 11:00, two final hours.
        (DAY0 + 12 * HOUR + 600, set(&[("worker_down", "rig-01")])),
        // rig-02 at a tenth for 12:00 and 13:00; rig-01 still down (not told again).
        (
            DAY0 + 14 * HOUR + 300,
            set(&[("worker_down", "rig-01"), ("hashrate_drop", "rig-02")]),
        ),
        (
            DAY0 + 14 * HOUR + 900,
            set(&[("worker_down", "rig-01"), ("hashrate_drop", "rig-02")]),
        ),
        // rig-01 back at 16:00; rig-03 rejected 8 % over 14:00-16:00; the 16:30 listing lost
        // rig-10 and found rig-11.
        (
            DAY0 + 17 * HOUR + 300,
            set(&[
                ("hashrate_drop", "rig-02"),
                ("reject_spike", "rig-03"),
                ("workers_changed", "rig-10"),
                ("workers_changed", "rig-11"),
            ]),
        ),
        // rig-02 back at 20:00 (the two last hours average above a fifth), rig-03's rejects
        // normal since 17:00, and the listing changed nothing since.
        (DAY0 + 21 * HOUR + 300, set(&[])),
        (DAY0 + 22 * HOUR + 300, set(&[])),
    ];
    for (at, expected) in &steps {
        farm.ingest(*at);
        evaluate(&farm.db, &settings, *at);
        assert_eq!(
            open_alerts(&farm.db),
            *expected,
            "at DAY0 + {} s",
            at - DAY0
        );
    }
    let told = events(&farm.db);
    let expected: Vec<(String, String, String)> = [
        ("open", "worker_down", "rig-01"),
        ("open", "hashrate_drop", "rig-02"),
        ("open", "reject_spike", "rig-03"),
        ("open", "workers_changed", "rig-10"),
        ("open", "workers_changed", "rig-11"),
        ("resolved", "worker_down", "rig-01"),
        ("resolved", "hashrate_drop", "rig-02"),
        ("resolved", "reject_spike", "rig-03"),
        ("resolved", "workers_changed", "rig-10"),
        ("resolved", "workers_changed", "rig-11"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    let mut sorted = told.clone();
    sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(sorted, expected_sorted, "told: {told:?}");
}

#[test]
fn since_is_when_the_problem_began() {
    let farm = Farm::new();
    let at = DAY0 + 14 * HOUR + 300;
    farm.ingest(at);
    let told = evaluate(&farm.db, &RuleSettings::default(), at);
    let down = told
        .records
        .iter()
        .find(|r| r.rule == "worker_down")
        .expect("rig-01 down");
    assert_eq!(down.since, "2026-11-01T10:00:00Z");
    assert_eq!(down.worker_name.as_deref(), Some("rig-01"));
    assert_eq!(down.group_name.as_deref(), Some("rack A"));
    assert_eq!(down.value, Some(4.0), "10:00 to 13:00 are four final hours");
}

#[test]
fn collection_stopped_long_enough_puts_history_at_risk_and_only_then() {
    let farm = Farm::new();
    let last_run = DAY0 + 21 * HOUR + 300; // copied through 20:00
    farm.ingest(last_run);
    let settings = RuleSettings::default();
    evaluate(&farm.db, &settings, last_run);
    assert_eq!(open_alerts(&farm.db), set(&[]));
    // 20 h later: the next nightly run is late, nothing expires within a day yet.
    evaluate(&farm.db, &settings, last_run + 20 * HOUR);
    assert_eq!(open_alerts(&farm.db), set(&[]));
    // 27 h: no successful ingest for more than 26 h.
    evaluate(&farm.db, &settings, last_run + 27 * HOUR);
    assert_eq!(open_alerts(&farm.db), set(&[("stale_ingest", "1001")]));
    // Workers' hours kept 72 h: 21:00 (the first not copied) leaves the pool at 21:00 + 72 h,
    // said one hour early; at risk once that is within 24 h.
    let expires = DAY0 + 20 * HOUR + 72 * HOUR;
    evaluate(&farm.db, &settings, expires - 24 * HOUR - 60);
    assert_eq!(open_alerts(&farm.db), set(&[("stale_ingest", "1001")]));
    let told = evaluate(&farm.db, &settings, expires - 24 * HOUR + 60);
    assert_eq!(
        open_alerts(&farm.db),
        set(&[("stale_ingest", "1001"), ("history_at_risk", "1001")])
    );
    let risk = told
        .records
        .iter()
        .find(|r| r.rule == "history_at_risk")
        .unwrap();
    assert!(risk.message.contains("(10 series)"), "{}", risk.message);
    assert_eq!(risk.worker_id, None);
    // The next run copies it all: both resolve, once.
    let back = expires - 20 * HOUR;
    farm.ingest(back);
    evaluate(&farm.db, &settings, back);
    let told_again = evaluate(&farm.db, &settings, back + 60);
    assert!(told_again.evaluation.opened.is_empty() && told_again.evaluation.resolved.is_empty());
    let resolved: Vec<_> = events(&farm.db)
        .into_iter()
        .filter(|e| e.0 == "resolved")
        .map(|e| e.1)
        .collect();
    assert_eq!(
        resolved.len(),
        resolved.iter().collect::<BTreeSet<_>>().len(),
        "{resolved:?}"
    );
    assert!(
        resolved.contains(&"history_at_risk".to_owned())
            && resolved.contains(&"stale_ingest".to_owned())
    );
}

#[test]
fn a_rule_must_hold_for_open_after_evaluations_before_it_is_told() {
    let farm = Farm::new();
    let settings = RuleSettings {
        open_after: 2,
        ..RuleSettings::default()
    };
    let first = DAY0 + 12 * HOUR + 600;
    farm.ingest(first);
    let told = evaluate(&farm.db, &settings, first);
    assert!(
        told.evaluation.opened.is_empty(),
        "held once: pending, not told"
    );
    assert_eq!(open_alerts(&farm.db), set(&[]));
    let told = evaluate(&farm.db, &settings, first + 600);
    assert_eq!(told.evaluation.opened.len(), 1);
    assert_eq!(open_alerts(&farm.db), set(&[("worker_down", "rig-01")]));
}

#[test]
fn a_blip_shorter_than_open_after_is_never_told() {
    let farm = Farm::new();
    let settings = RuleSettings {
        open_after: 3,
        ..RuleSettings::default()
    };
    for at in [
        DAY0 + 12 * HOUR + 600,
        DAY0 + 13 * HOUR + 600,
        DAY0 + 17 * HOUR + 600,
    ] {
        farm.ingest(at);
        evaluate(&farm.db, &settings, at);
    }
    assert!(
        !events(&farm.db).iter().any(|e| e.1 == "worker_down"),
        "rig-01 held twice, then recovered: {:?}",
        events(&farm.db)
    );
}

#[test]
fn the_worker_list_last_share_says_down_before_the_hours_do() {
    let farm = Farm::new();
    let at = DAY0 + 9 * HOUR + 600;
    farm.ingest(at);
    // The listing says rig-05's last share was 3 h before it; its hours are not final yet.
    Connection::open(&farm.db)
        .unwrap()
        .execute(
            "UPDATE workers SET last_share_time = ?1 WHERE worker_id = 5",
            [at - 3 * HOUR],
        )
        .unwrap();
    evaluate(&farm.db, &RuleSettings::default(), at);
    assert_eq!(open_alerts(&farm.db), set(&[("worker_down", "rig-05")]));
}

#[test]
fn alerts_command_exits_3_while_alerts_fire_and_0_when_none_with_json_fields() {
    let farm = Farm::new();
    let at = DAY0 + 12 * HOUR + 600;
    farm.ingest(at);
    let output = run(poolhist_with_key(&farm.db, "unused")
        .args(["alerts", "--format", "json", "--now"])
        .arg("2026-11-01T12:10:00Z"));
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let alerts = json.as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    for field in [
        "rule",
        "state",
        "pool",
        "account",
        "worker_id",
        "worker_name",
        "group_name",
        "since",
        "message",
    ] {
        assert!(alert.get(field).is_some(), "no {field} in {alert}");
    }
    assert_eq!(alert["rule"], "worker_down");
    assert_eq!(alert["state"], "open");
    assert_eq!(alert["pool"], "cloverpool");
    assert_eq!(alert["account"], "1001");
    assert_eq!(alert["worker_id"], 1);
    assert_eq!(alert["since"], "2026-11-01T10:00:00Z");
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(
        summary.starts_with("POOLHIST ALERT - 1 firing"),
        "{summary}"
    );

    // Table: the summary is the first line (Nagios reads it), then the alert.
    let output = run(poolhist_with_key(&farm.db, "unused").args([
        "alerts",
        "--now",
        "2026-11-01T12:20:00Z",
    ]));
    assert_eq!(output.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .starts_with("POOLHIST ALERT - 1 firing"),
        "{stdout}"
    );
    assert!(stdout.contains("ongoing"), "{stdout}");

    // rig-01 back at 16:00: resolved (told once), nothing firing, exit 0.
    farm.ingest(DAY0 + 17 * HOUR + 300);
    let output = run(poolhist_with_key(&farm.db, "unused")
        .args([
            "alerts",
            "--format",
            "json",
            "--worker-down-hours",
            "2",
            "--now",
        ])
        .arg("2026-11-01T17:05:00Z"));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let resolved: Vec<_> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rule"] == "worker_down")
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["state"], "resolved");
    assert_eq!(resolved[0]["change"], "resolved");

    let output = run(poolhist_with_key(&farm.db, "unused").args([
        "alerts",
        "--history",
        "--format",
        "json",
    ]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let history: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(history
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["rule"] == "worker_down" && a["state"] == "resolved"));
}

/// A webhook receiver on loopback that answers 500 to its first `failures` requests.
struct Receiver {
    url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    _runtime: tokio::runtime::Runtime,
}

fn receiver(failures: usize) -> Receiver {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let seen = Arc::new(AtomicUsize::new(0));
    let (kept, count) = (bodies.clone(), seen.clone());
    let app = axum::Router::new().route(
        "/hook/{token}",
        axum::routing::post(move |body: String| {
            let (kept, count) = (kept.clone(), count.clone());
            async move {
                if count.fetch_add(1, Ordering::SeqCst) < failures {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        url: format!("http://127.0.0.1:{port}/hook/TOKEN-s3cr3t-4242"),
        bodies,
        _runtime: runtime,
    }
}

#[test]
fn the_webhook_hears_each_opening_and_resolution_once_through_failures_and_no_output_shows_its_token(
) {
    let farm = Farm::new();
    // Every try of the first evaluation fails (3 tries), then the receiver accepts.
    let hook = receiver(3);
    let url_file = farm.db.with_file_name("hook.url");
    std::fs::write(&url_file, format!("{}\n", hook.url)).unwrap();
    let mut outputs = String::new();
    for (at, iso) in [
        (DAY0 + 12 * HOUR + 600, "2026-11-01T12:10:00Z"),
        (DAY0 + 14 * HOUR + 300, "2026-11-01T14:05:00Z"),
        (DAY0 + 14 * HOUR + 900, "2026-11-01T14:15:00Z"),
        (DAY0 + 21 * HOUR + 300, "2026-11-01T21:05:00Z"),
        (DAY0 + 22 * HOUR + 300, "2026-11-01T22:05:00Z"),
    ] {
        farm.ingest(at);
        let output = run(poolhist_with_key(&farm.db, "unused")
            .args(["alerts", "--now", iso, "--webhook-file"])
            .arg(&url_file)
            .args(["--webhook", &hook.url]));
        assert_ne!(output.status.code(), Some(1), "{output:?}");
        outputs.push_str(&String::from_utf8_lossy(&output.stdout));
        outputs.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    // The first evaluation's failure was said, without the token.
    assert!(outputs.contains("HTTP 500"), "{outputs}");
    assert!(!outputs.contains("TOKEN-s3cr3t"), "{outputs}");
    let mut told: Vec<(String, String, String)> = hook
        .bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|body| body["alerts"].as_array().unwrap().clone())
        .map(|a| {
            (
                a["state"].as_str().unwrap().to_owned(),
                a["rule"].as_str().unwrap().to_owned(),
                a["worker_name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    told.sort();
    // The same URL given twice is one webhook: each event arrives once.
    let expected: Vec<(String, String, String)> = [
        ("open", "hashrate_drop", "rig-02"),
        ("open", "reject_spike", "rig-03"),
        ("open", "worker_down", "rig-01"),
        ("open", "workers_changed", "rig-10"),
        ("open", "workers_changed", "rig-11"),
        ("resolved", "hashrate_drop", "rig-02"),
        ("resolved", "reject_spike", "rig-03"),
        ("resolved", "worker_down", "rig-01"),
        ("resolved", "workers_changed", "rig-10"),
        ("resolved", "workers_changed", "rig-11"),
    ]
    .iter()
    // rig-03's rejects (14:00-16:59) fell between two evaluations: never seen, never told.
    .filter(|(_, rule, _)| *rule != "reject_spike")
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(told, expected);
    let dump = std::process::Command::new("sqlite3")
        .arg(&farm.db)
        .arg(".dump")
        .output();
    if let Ok(dump) = dump {
        assert!(!String::from_utf8_lossy(&dump.stdout).contains("TOKEN-s3cr3t"));
    }
}

#[test]
fn an_account_collected_in_a_run_another_account_failed_is_not_stale() {
    let farm = Farm::new();
    let at = DAY0 + 12 * HOUR + 600;
    farm.ingest(at);
    // The run failed (another account's pool was down), but every hourly series of this
    // account was synced in it.
    let conn = Connection::open(&farm.db).unwrap();
    conn.execute_batch(&format!(
        "UPDATE ingest_runs SET status = 'failed', error = 'foundry/x: HTTP 503'; \
         UPDATE series SET last_synced_at = {at};"
    ))
    .unwrap();
    let settings = RuleSettings::default();
    evaluate(&farm.db, &settings, at + 20 * HOUR);
    assert_eq!(open_alerts(&farm.db), set(&[("worker_down", "rig-01")]));
    // One listed worker's series was left behind 30 h ago: the account was not all copied.
    conn.execute(
        "UPDATE series SET last_synced_at = ?1 WHERE series_id = 4",
        [at - 10 * HOUR],
    )
    .unwrap();
    evaluate(&farm.db, &settings, at + 20 * HOUR + 60);
    assert_eq!(
        open_alerts(&farm.db),
        set(&[("worker_down", "rig-01"), ("stale_ingest", "1001")])
    );
}

/// A listing at `at` without the workers `missing` (as the ingest's upsert records it).
fn listing(db: &Path, at: i64, missing: &[i64]) {
    let conn = Connection::open(db).unwrap();
    conn.execute(
        "UPDATE accounts SET previous_seen = last_seen, last_seen = ?1",
        [at],
    )
    .unwrap();
    let missing = missing
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    conn.execute(
        &format!(
            "UPDATE workers SET previous_seen = last_seen, last_seen = ?1 \
             WHERE worker_id NOT IN ({missing}) AND last_seen >= ?1 - 86400"
        ),
        [at],
    )
    .unwrap();
}

#[test]
fn a_worker_that_leaves_and_comes_back_is_told_both_ways() {
    let farm = Farm::new();
    let at = DAY0 + 9 * HOUR + 600;
    farm.ingest(at);
    let settings = RuleSettings::default();
    listing(&farm.db, at + 60, &[5]);
    evaluate(&farm.db, &settings, at + 60);
    let changed = |db: &Path| -> Vec<(String, String)> {
        let conn = Connection::open(db).unwrap();
        let mut stmt = conn
            .prepare("SELECT kind, message FROM v_alert_events WHERE rule = 'workers_changed' ORDER BY event_id")
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let told = changed(&farm.db);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].1.starts_with("rig-05 is no longer"), "{told:?}");
    listing(&farm.db, at + 120, &[]);
    evaluate(&farm.db, &settings, at + 120);
    let told = changed(&farm.db);
    assert_eq!(told.len(), 3, "{told:?}");
    assert_eq!(told[1].0, "open");
    assert!(told[1].1.starts_with("rig-05 appeared"), "back: {told:?}");
    assert_eq!(told[2].0, "resolved", "{told:?}");
    // Appeared, then gone at the very next listing: both told.
    listing(&farm.db, at + 180, &[5]);
    evaluate(&farm.db, &settings, at + 180);
    let told = changed(&farm.db);
    assert!(
        told.iter()
            .filter(|t| t.0 == "open" && t.1.starts_with("rig-05 is no longer"))
            .count()
            == 2,
        "{told:?}"
    );
}

#[test]
fn a_rule_turned_off_resolves_its_open_alerts_once_saying_so() {
    let farm = Farm::new();
    let at = DAY0 + 12 * HOUR + 600;
    farm.ingest(at);
    evaluate(&farm.db, &RuleSettings::default(), at);
    assert_eq!(open_alerts(&farm.db), set(&[("worker_down", "rig-01")]));
    let off = RuleSettings {
        worker_down: None,
        hashrate_drop: None,
        ..RuleSettings::default()
    };
    let told = evaluate(&farm.db, &off, at + 60);
    assert_eq!(told.evaluation.firing, 0);
    assert_eq!(told.evaluation.resolved.len(), 1);
    assert!(
        told.records[0].message.contains("the rule is turned off"),
        "{:?}",
        told.records
    );
    assert_eq!(
        evaluate(&farm.db, &off, at + 120).evaluation.resolved.len(),
        0
    );
}

#[test]
fn the_same_instant_evaluated_twice_is_not_two_evaluations_in_a_row() {
    let farm = Farm::new();
    let at = DAY0 + 12 * HOUR + 600;
    farm.ingest(at);
    let settings = RuleSettings {
        open_after: 2,
        ..RuleSettings::default()
    };
    evaluate(&farm.db, &settings, at);
    let again = evaluate(&farm.db, &settings, at);
    assert!(
        again.evaluation.opened.is_empty(),
        "held once, evaluated twice"
    );
    let later = evaluate(&farm.db, &settings, at + 60);
    assert_eq!(later.evaluation.opened.len(), 1);
}

#[test]
fn a_listing_change_is_told_at_once_whatever_open_after_says() {
    let farm = Farm::new();
    let at = DAY0 + 9 * HOUR + 600;
    farm.ingest(at);
    let settings = RuleSettings {
        open_after: 3,
        ..RuleSettings::default()
    };
    listing(&farm.db, at + 60, &[5]);
    let told = evaluate(&farm.db, &settings, at + 60);
    assert_eq!(told.evaluation.opened.len(), 1, "{:?}", told.records);
    assert_eq!(told.records[0].rule, "workers_changed");
}

#[test]
fn a_listed_worker_never_copied_counts_from_its_first_listing() {
    let farm = Farm::new();
    let at = DAY0 + 12 * HOUR + 600;
    farm.ingest(at);
    let conn = Connection::open(&farm.db).unwrap();
    // rig-12, listed since 10 h before the run, whose series fails every night: the runs end
    // failed, every other series is synced.
    conn.execute_batch(&format!(
        "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, first_seen, last_seen) \
         VALUES ({ACCOUNT}, 12, 'rig-12', 2, 'ACTIVE', {first}, {at}); \
         INSERT INTO series (series_id, account_id, worker_id, dimension) VALUES (12, {ACCOUNT}, 12, '1h'); \
         UPDATE ingest_runs SET status = 'failed'; \
         UPDATE series SET last_synced_at = {at} WHERE series_id <> 12;",
        first = at - 10 * HOUR
    ))
    .unwrap();
    let settings = RuleSettings {
        worker_down: None,
        hashrate_drop: None,
        ..RuleSettings::default()
    };
    // 20 h after the run, 30 h after rig-12 was first listed: its account is stale.
    evaluate(&farm.db, &settings, at + 20 * HOUR);
    assert_eq!(open_alerts(&farm.db), set(&[("stale_ingest", "1001")]));
    // Its hours from its first listing expire at the pool first: at risk before the others'.
    let told = evaluate(&farm.db, &settings, at + 40 * HOUR);
    let risk = told
        .records
        .iter()
        .find(|r| r.rule == "history_at_risk")
        .expect("rig-12's history at risk");
    assert!(risk.message.contains("(1 series)"), "{}", risk.message);
}

#[test]
fn evaluating_before_the_last_listing_is_refused_in_one_line() {
    let farm = Farm::new();
    let at = DAY0 + 12 * HOUR + 600;
    farm.ingest(at);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let error = runtime
        .block_on(poolhist::watch::evaluate(
            &farm.db,
            &RuleSettings::default(),
            &[],
            at - HOUR,
        ))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("would judge data collected later"),
        "{error}"
    );
    assert!(error.contains("2026-11-01T12:10:00Z"), "{error}");
    assert_eq!(error.lines().count(), 1);
    let recorded: i64 = Connection::open(&farm.db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM alert_evaluations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(recorded, 0);
}

#[test]
fn an_account_younger_than_the_pools_window_is_not_at_risk_after_a_good_run() {
    let farm = Farm::new();
    let at = DAY0 + 12 * HOUR + 600;
    farm.ingest(at);
    let conn = Connection::open(&farm.db).unwrap();
    // Its first run saw 20 hours of everything: the farm's start, not the pool's edge.
    conn.execute_batch(&format!(
        "INSERT INTO pool_knowledge (account_id, scope, dimension, retention_slots, learned_at) \
         VALUES ({ACCOUNT}, 'worker', '1h', 20, {at}), ({ACCOUNT}, 'account', '1h', 20, {at});"
    ))
    .unwrap();
    let settings = RuleSettings::default();
    evaluate(&farm.db, &settings, at + HOUR);
    assert_eq!(open_alerts(&farm.db), set(&[("worker_down", "rig-01")]));
    // A pool that keeps 30 worker hours while the account's own hours reach back 720: its
    // retention, learned, holds: the first hour not copied (12:00) leaves it at 11:00 + 30 h,
    // within a day of 17:10.
    conn.execute(
        "UPDATE pool_knowledge SET retention_slots = 720 WHERE scope = 'account'",
        [],
    )
    .unwrap();
    conn.execute(
        "UPDATE pool_knowledge SET retention_slots = 30 WHERE scope = 'worker'",
        [],
    )
    .unwrap();
    evaluate(&farm.db, &settings, at + 5 * HOUR);
    assert!(open_alerts(&farm.db).contains(&("history_at_risk".to_owned(), "1001".to_owned())));
}
