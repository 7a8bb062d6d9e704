//! Independent adversarial review of the alert rules (issue acceptance criteria), over databases
//! built by the real `poolhist ingest` against a fake CloverPool written here from the API docs
//! (`shared/api/pool-api-v1.md`, `NOTES.md`), not from the project's simulator. Each worker's
//! truth is a function of the hour, so every evaluation's expected alerts follow from the story.

mod binary;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// 2027-01-01T00:00:00Z: after the wall clock of the runs, since `ingest` records a run's end
/// as max(wall clock, --now) (see `replayed_ingest_in_the_past_is_not_stale`).
const T0: i64 = 1_798_761_600;
/// The farm mines long before poolhist is installed: every retention edge is the pool's.
const FARM_START: i64 = T0 - 400 * DAY;
const KEY: &str = "k3yS3cr3tAbCdEf0123456789";

// =============================================================================================
// The fake pool
// =============================================================================================

/// How the pool says a stopped worker's hour.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Stopped {
    Zero,
    Null,
    Omit,
}

#[derive(Clone)]
struct WorkerDef {
    id: i64,
    name: String,
    gid: i64,
    /// Hashrate history exists from this hour.
    exists_from: i64,
    /// Listed while listed_from <= pool time < listed_until.
    listed_from: i64,
    listed_until: i64,
}

type Truth = Arc<dyn Fn(i64, i64) -> (f64, f64) + Send + Sync>;

#[derive(Clone)]
struct Scenario {
    groups: Vec<(i64, String)>,
    workers: Vec<WorkerDef>,
    /// (worker id, hour) -> (TH/s, reject percent)
    truth: Truth,
    stopped: Stopped,
    /// The pool's clock runs this many seconds behind ours.
    lag: i64,
    /// Worker ids whose 1d share-history answers HTTP 500 with the access key in the body.
    key_in_error_for: Vec<i64>,
}

struct PoolState {
    scenario: Scenario,
    now: i64,
    requests: u64,
}

struct Pool {
    state: Arc<Mutex<PoolState>>,
    port: u16,
}

impl Pool {
    fn start(scenario: Scenario) -> Pool {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(PoolState {
            scenario,
            now: T0,
            requests: 0,
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared);
                });
            }
        });
        Pool { state, port }
    }

    fn set_now(&self, now: i64) {
        self.state.lock().unwrap().now = now;
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}

fn serve(stream: TcpStream, state: &Arc<Mutex<PoolState>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
    }
    if content_length > 0 {
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: BTreeMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let (status, body) = {
        let mut st = state.lock().unwrap();
        st.requests += 1;
        respond(&st, path, &params)
    };
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

fn ok(data: serde_json::Value) -> (u16, String) {
    (
        200,
        serde_json::json!({"err_no": 0, "err_msg": null, "data": data}).to_string(),
    )
}

fn respond(st: &PoolState, path: &str, q: &BTreeMap<String, String>) -> (u16, String) {
    let sc = &st.scenario;
    if q.get("access_key").map(String::as_str) != Some(KEY) {
        return (
            200,
            r#"{"err_no":401,"err_msg":"invalid access key","data":null}"#.to_owned(),
        );
    }
    let pool_now = st.now - sc.lag;
    let cur_hour = pool_now.div_euclid(HOUR) * HOUR;
    let listed: Vec<&WorkerDef> = sc
        .workers
        .iter()
        .filter(|w| w.listed_from <= pool_now && pool_now < w.listed_until)
        .collect();
    let path = path.strip_prefix("/v1").unwrap_or(path);
    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    match path {
        "/worker/stats" => ok(serde_json::json!({
            "shares_1m": "800", "shares_5m": "800", "shares_15m": "800", "shares_unit": "T",
            "workers_active": listed.len(), "workers_inactive": 0, "workers_dead": 0,
            "workers_total": listed.len(),
        })),
        "/worker/groups" => {
            let list: Vec<serde_json::Value> = if page == 1 {
                sc.groups
                    .iter()
                    .map(|(gid, name)| {
                        let n = listed.iter().filter(|w| w.gid == *gid).count();
                        serde_json::json!({"gid": gid, "sort_id": gid.to_string(), "name": name,
                            "created_at": FARM_START, "updated_at": FARM_START,
                            "workers_active": n, "workers_inactive": 0, "workers_dead": 0,
                            "workers_total": n, "shares_1m": "1", "shares_5m": "1",
                            "shares_15m": "1", "shares_unit": "T", "shares_1d": "1",
                            "shares_1d_unit": "T"})
                    })
                    .collect()
            } else {
                Vec::new()
            };
            ok(
                serde_json::json!({"page": page, "page_size": 720, "page_count": 1,
                "total_count": sc.groups.len(), "list": list}),
            )
        }
        "/worker" => {
            let status = q.get("status").map(String::as_str).unwrap_or("all");
            let mut rows = Vec::new();
            if page == 1 {
                for w in &listed {
                    let hashing = w.exists_from <= cur_hour && (sc.truth)(w.id, cur_hour).0 > 0.0;
                    let last_share = if hashing {
                        pool_now - 7
                    } else {
                        let mut h = cur_hour - HOUR;
                        let mut found = 0;
                        while h >= w.exists_from.max(cur_hour - 40 * DAY) {
                            if (sc.truth)(w.id, h).0 > 0.0 {
                                found = h + HOUR - 1;
                                break;
                            }
                            h -= HOUR;
                        }
                        found
                    };
                    let wstatus = if hashing { "ACTIVE" } else { "DEAD" };
                    if status != "all" && !status.eq_ignore_ascii_case(wstatus) {
                        continue;
                    }
                    let group_name = sc
                        .groups
                        .iter()
                        .find(|g| g.0 == w.gid)
                        .map(|g| g.1.clone())
                        .unwrap_or_default();
                    rows.push(serde_json::json!({
                        "gid": w.gid.to_string(), "group_name": group_name,
                        "worker_id": w.id.to_string(), "worker_name": w.name,
                        "shares_1m": "100", "shares_5m": "100", "shares_15m": "100",
                        "shares_unit": "T", "accept_count": "1000",
                        "last_share_time": last_share.to_string(),
                        "last_share_ip": "10.0.0.1", "reject_percent": "0.5",
                        "shares_1d": "100", "shares_1d_unit": "T", "status": wstatus,
                    }));
                }
            }
            ok(
                serde_json::json!({"page": page, "page_size": 720, "page_count": 1,
                "total_count": rows.len(), "data": rows}),
            )
        }
        _ => {
            let (worker, rest) = if path == "/worker/share-history" {
                (None, "")
            } else if let Some(tail) = path.strip_prefix("/worker/") {
                let (id, rest) = tail.split_once('/').unwrap_or((tail, ""));
                match id.parse::<i64>() {
                    Ok(id) => (Some(id), rest),
                    Err(_) => return (404, "{}".to_owned()),
                }
            } else {
                return (404, "not found".to_owned());
            };
            if worker.is_some() && rest != "share-history" {
                return (404, "not found".to_owned());
            }
            let def = match worker {
                Some(id) => match listed.iter().find(|w| w.id == id) {
                    Some(w) => Some(*w),
                    None => {
                        return (
                            200,
                            r#"{"err_no":1,"err_msg":"worker not found","data":null}"#.to_owned(),
                        )
                    }
                },
                None => None,
            };
            let dim = q.get("dimension").map(String::as_str).unwrap_or("1h");
            if let Some(w) = def {
                if dim == "1d" && sc.key_in_error_for.contains(&w.id) {
                    return (
                        500,
                        format!("internal error while serving access_key={KEY} puid={}", 0),
                    );
                }
            }
            let start: i64 = q.get("start_ts").and_then(|s| s.parse().ok()).unwrap_or(0);
            let count: i64 = q.get("count").and_then(|s| s.parse().ok()).unwrap_or(0);
            let (step, keep) = match (dim, def.is_some()) {
                ("1d", true) => (DAY, 90),
                ("1d", false) => (DAY, 365),
                (_, true) => (HOUR, 72),
                (_, false) => (HOUR, 720),
            };
            let cur = pool_now.div_euclid(step) * step;
            let oldest = cur - (keep - 1) * step;
            let mut tickers = Vec::new();
            let first = start.div_euclid(step) * step;
            for k in 0..count.clamp(0, 2000) {
                let ts = first + k * step;
                if ts > cur {
                    break;
                }
                if ts < oldest {
                    continue;
                }
                // The hours of the slot the pool has seen.
                let hours: Vec<i64> = (0..step / HOUR)
                    .map(|i| ts + i * HOUR)
                    .filter(|h| *h <= cur_hour)
                    .collect();
                let members: Vec<&WorkerDef> = match def {
                    Some(w) => vec![w],
                    None => sc.workers.iter().collect(),
                };
                let mut accepted = 0.0;
                let mut weighted = 0.0;
                let mut existed = false;
                for h in &hours {
                    for w in &members {
                        if *h < w.exists_from || *h >= w.listed_until.max(w.exists_from) {
                            continue;
                        }
                        existed = true;
                        let (th, rej) = (sc.truth)(w.id, *h);
                        accepted += th;
                        weighted += th * rej;
                    }
                }
                if !existed {
                    continue;
                }
                let n = hours.len().max(1) as f64;
                let mean = accepted / n;
                let rej = if accepted > 0.0 {
                    weighted / accepted
                } else {
                    0.0
                };
                if mean <= 0.0 {
                    match sc.stopped {
                        Stopped::Zero => {
                            tickers.push(serde_json::json!([ts.to_string(), "0", "0"]))
                        }
                        Stopped::Null => tickers.push(serde_json::Value::Null),
                        Stopped::Omit => {}
                    }
                    continue;
                }
                tickers.push(serde_json::json!([
                    ts.to_string(),
                    format!("{mean:.6}"),
                    format!("{rej:.4}")
                ]));
            }
            ok(serde_json::json!({"shares_unit": "T", "tickers": tickers}))
        }
    }
}

// =============================================================================================
// Running the binary
// =============================================================================================

fn poolhist(db: &Path) -> Command {
    let mut c = binary::poolhist_with_key(db, KEY);
    c.env("NO_COLOR", "1");
    c
}

const PUID: i64 = 4242;

fn ingest(db: &Path, pool: &Pool, now: i64, alerts: bool) -> Output {
    pool.set_now(now);
    let mut c = poolhist(db);
    c.args([
        "ingest",
        "--puid",
        &PUID.to_string(),
        "--api-url",
        &pool.url(),
    ])
    .args([
        "--now",
        &now.to_string(),
        "--rate",
        "0",
        "--max-attempts",
        "2",
    ])
    .args(["--timeout", "5"]);
    if alerts {
        c.arg("--alerts");
    }
    c.output().expect("poolhist runs")
}

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn alerts_json(db: &Path, now: i64) -> (Output, Vec<serde_json::Value>) {
    let out = poolhist(db)
        .args(["alerts", "--now", &iso(now), "--format", "json"])
        .output()
        .unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "alerts --format json at {} is not a JSON array ({e}): stdout {:?} stderr {:?}",
            iso(now),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, records)
}

/// An evaluation as of a time before the last one: refused in one line naming it, exit 1.
fn refused_back_in_time(db: &Path, now: i64) {
    let out = poolhist(db)
        .args(["alerts", "--now", &iso(now), "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("before the last evaluation") && stderr.contains(&iso(now)),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// `rule:target` of a record: the worker's name, `group:NAME`, the kind of history, or `account`.
fn label(r: &serde_json::Value) -> String {
    let rule = r["rule"].as_str().unwrap_or("?");
    let target = if let Some(name) = r["worker_name"]
        .as_str()
        .filter(|_| !r["worker_id"].is_null())
    {
        name.to_owned()
    } else if rule == "history_at_risk" {
        // The kind of series, from the message (a resolution quotes the opening's words).
        let m = r["message"].as_str().unwrap_or("");
        [
            "worker hourly",
            "account hourly",
            "worker daily",
            "account daily",
        ]
        .into_iter()
        .find(|k| m.contains(&format!(": {k} history")))
        .unwrap_or("?")
        .to_owned()
    } else if let Some(g) = r["group_name"].as_str() {
        format!("group:{g}")
    } else {
        "account".to_owned()
    };
    format!("{rule}:{target}")
}

fn open_labels(records: &[serde_json::Value]) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r["state"] == "open")
        .map(label)
        .collect()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Events told, per alert label: (kind, at).
fn events(db: &Path) -> Vec<(String, String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT e.kind, e.at, al.rule, w.worker_name, al.worker_id, g.name, e.message \
             FROM alert_events e JOIN alerts al ON al.alert_id = e.alert_id \
             LEFT JOIN workers w ON w.account_id = al.account_id AND w.worker_id = al.worker_id \
             LEFT JOIN groups g ON g.account_id = al.account_id AND g.gid = al.group_id \
             ORDER BY e.event_id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |row| {
            let kind: String = row.get(0)?;
            let at: i64 = row.get(1)?;
            let rule: String = row.get(2)?;
            let wname: Option<String> = row.get(3)?;
            let wid: Option<i64> = row.get(4)?;
            let gname: Option<String> = row.get(5)?;
            let message: String = row.get(6)?;
            let rec = serde_json::json!({"rule": rule, "worker_name": wname, "worker_id": wid,
                "group_name": gname, "message": message});
            Ok((label(&rec), kind, at))
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

fn copy_db(from: &Path, dir: &Path) -> PathBuf {
    let to = dir.join("copy.db");
    for suffix in ["", "-wal", "-shm"] {
        let f = PathBuf::from(format!("{}{suffix}", from.display()));
        if f.exists() {
            std::fs::copy(&f, format!("{}{suffix}", to.display())).unwrap();
        }
    }
    to
}

// =============================================================================================
// The main story: 8 workers in 2 racks, 8 days of history, then a day of trouble, then a gap
// =============================================================================================

/// The day of trouble.
const D: i64 = T0 + 8 * DAY;

fn noise(id: i64, ts: i64) -> f64 {
    let x = (id * 7919 + (ts / HOUR) * 104_729).rem_euclid(61) as f64;
    1.0 + (x - 30.0) / 1000.0
}

fn story_truth(id: i64, ts: i64) -> (f64, f64) {
    let h = |n: i64| D + n * HOUR;
    let base = 100.0 * noise(id, ts);
    match id {
        // rig-01 stops 10:00-14:59.
        101 if (h(10)..h(15)).contains(&ts) => (0.0, 0.0),
        // rig-02 runs at a tenth 12:00-17:59.
        102 if (h(12)..h(18)).contains(&ts) => (base / 10.0, 0.5),
        // rig-03 rejects 8 % 14:00-16:59.
        103 if (h(14)..h(17)).contains(&ts) => (base, 8.0),
        // rig-08 stops at 14:00 and is removed from the pool at 17:00.
        108 if ts >= h(14) => (0.0, 0.0),
        _ => (base, 0.5),
    }
}

fn story_scenario() -> Scenario {
    let mut workers = Vec::new();
    for i in 1..=8 {
        workers.push(WorkerDef {
            id: 100 + i,
            name: format!("rig-{i:02}"),
            gid: if i <= 4 { 11 } else { 12 },
            exists_from: FARM_START,
            listed_from: FARM_START,
            listed_until: if i == 8 { D + 17 * HOUR } else { i64::MAX },
        });
    }
    workers.push(WorkerDef {
        id: 109,
        name: "rig-09".into(),
        gid: 12,
        exists_from: D + 17 * HOUR,
        listed_from: D + 17 * HOUR,
        listed_until: i64::MAX,
    });
    Scenario {
        groups: vec![(11, "rack-A".into()), (12, "rack-B".into())],
        workers,
        truth: Arc::new(story_truth),
        stopped: Stopped::Zero,
        lag: 0,
        key_in_error_for: Vec::new(),
    }
}

/// The last successful ingest before the gap, and the newest hour it copied.
const LAST_RUN: i64 = D + DAY + 600;
const GAP_WATERMARK: i64 = D + 23 * HOUR;
const RESUME: i64 = D + 3 * DAY + 12 * HOUR + 600;

/// What should be open after the evaluation at `t`, by the documented rules.
fn story_expected(t: i64) -> BTreeSet<String> {
    let mut e = BTreeSet::new();
    if (D..D + DAY).contains(&t) {
        let hr = (t - D) / HOUR;
        if (12..=14).contains(&hr) {
            e.insert("worker_down:rig-01".to_owned());
        }
        if hr == 16 {
            e.insert("worker_down:rig-08".to_owned());
        }
        if (14..=18).contains(&hr) {
            e.insert("hashrate_drop:rig-02".to_owned());
        }
        if (15..=19).contains(&hr) {
            e.insert("reject_spike:rig-03".to_owned());
        }
        if hr == 17 {
            e.insert("workers_changed:rig-08".to_owned());
            e.insert("workers_changed:rig-09".to_owned());
        }
    }
    if t > LAST_RUN && t < RESUME {
        if t - LAST_RUN > 26 * HOUR {
            e.insert("stale_ingest:account".to_owned());
        }
        if t >= GAP_WATERMARK + 48 * HOUR {
            e.insert("history_at_risk:worker hourly".to_owned());
        }
    }
    e
}

#[derive(Debug, Clone)]
struct Obs {
    at: i64,
    ingested: bool,
    ingest_exit: Option<i32>,
    ingest_text: String,
    expected: BTreeSet<String>,
    /// Open after the second evaluation at the same instant (`alerts --format json`).
    got: BTreeSet<String>,
    alerts_exit: Option<i32>,
    /// Records the second evaluation at the same instant told as opened or resolved.
    retold: Vec<String>,
    /// Labels with more than one record in the same output.
    duplicated: Vec<String>,
}

struct Story {
    _dir: tempfile::TempDir,
    db: PathBuf,
    obs: Vec<Obs>,
    events_at_end: Vec<(String, String, i64)>,
    outputs: String,
}

fn evaluate_at(db: &Path, pool: Option<&Pool>, at: i64, obs: &mut Vec<Obs>, out: &mut String) {
    let (ingested, ingest_exit, ingest_text) = match pool {
        Some(pool) => {
            let o = ingest(db, pool, at, true);
            let t = text(&o);
            out.push_str(&t);
            (true, o.status.code(), t)
        }
        None => (false, None, String::new()),
    };
    let (o, records) = alerts_json(db, at);
    out.push_str(&text(&o));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *counts.entry(label(r)).or_default() += 1;
    }
    obs.push(Obs {
        at,
        ingested,
        ingest_exit,
        ingest_text,
        expected: story_expected(at),
        got: open_labels(&records),
        alerts_exit: o.status.code(),
        retold: records
            .iter()
            .filter(|r| r["change"] != "ongoing")
            .map(|r| format!("{} {}", label(r), r["change"]))
            .collect(),
        duplicated: counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(l, _)| l)
            .collect(),
    });
}

fn story() -> &'static Story {
    static STORY: OnceLock<Story> = OnceLock::new();
    STORY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("story.db");
        let pool = Pool::start(story_scenario());
        let mut obs = Vec::new();
        let mut outputs = String::new();
        // Eight days of runs every six hours: the baseline.
        let mut t = T0 + 600;
        while t < D {
            evaluate_at(&db, Some(&pool), t, &mut obs, &mut outputs);
            t += 6 * HOUR;
        }
        // The day of trouble, hourly, and the last run before the gap.
        for hr in 0..=24 {
            evaluate_at(
                &db,
                Some(&pool),
                D + hr * HOUR + 600,
                &mut obs,
                &mut outputs,
            );
        }
        // The gap: evaluations only.
        for at in [
            D + DAY + 6 * HOUR,
            D + DAY + 18 * HOUR,
            D + 2 * DAY + 2 * HOUR,
            LAST_RUN + 26 * HOUR,
            LAST_RUN + 26 * HOUR + 60,
            D + 2 * DAY + 12 * HOUR,
            GAP_WATERMARK + 48 * HOUR - 60,
            GAP_WATERMARK + 48 * HOUR,
            D + 3 * DAY + 6 * HOUR,
        ] {
            evaluate_at(&db, None, at, &mut obs, &mut outputs);
        }
        // Collection resumes.
        evaluate_at(&db, Some(&pool), RESUME, &mut obs, &mut outputs);
        evaluate_at(&db, Some(&pool), RESUME + HOUR, &mut obs, &mut outputs);
        let events_at_end = events(&db);
        Story {
            _dir: dir,
            db,
            obs,
            events_at_end,
            outputs,
        }
    })
}

fn show(set: &BTreeSet<String>) -> String {
    format!("{:?}", set.iter().collect::<Vec<_>>())
}

#[test]
fn story_exactly_the_expected_alerts_are_open_at_each_evaluation() {
    let s = story();
    let mut problems = Vec::new();
    for o in &s.obs {
        if o.got != o.expected {
            problems.push(format!(
                "{}{}: expected open {} got {} (missing {:?}, extra {:?})",
                iso(o.at),
                if o.ingested { " (ingest --alerts)" } else { "" },
                show(&o.expected),
                show(&o.got),
                o.expected.difference(&o.got).collect::<Vec<_>>(),
                o.got.difference(&o.expected).collect::<Vec<_>>(),
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn story_exit_codes_follow_what_fires() {
    let s = story();
    let mut problems = Vec::new();
    for o in &s.obs {
        let want = if o.got.is_empty() { 0 } else { 3 };
        if o.alerts_exit != Some(want) {
            problems.push(format!(
                "{} alerts exit {:?}, {} firing",
                iso(o.at),
                o.alerts_exit,
                o.got.len()
            ));
        }
        if o.ingested && o.ingest_exit != Some(want) {
            problems.push(format!(
                "{} ingest --alerts exit {:?}, {} firing: {}",
                iso(o.at),
                o.ingest_exit,
                o.got.len(),
                o.ingest_text
                    .lines()
                    .take(6)
                    .collect::<Vec<_>>()
                    .join(" / ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn story_second_evaluation_at_the_same_instant_tells_nothing() {
    let s = story();
    let problems: Vec<String> = s
        .obs
        .iter()
        .filter(|o| o.ingested && (!o.retold.is_empty() || !o.duplicated.is_empty()))
        .map(|o| {
            format!(
                "{}: told again {:?}, duplicated {:?}",
                iso(o.at),
                o.retold,
                o.duplicated
            )
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// From the story: each expected alert's single opening and single resolution, by time.
fn story_expected_events() -> BTreeMap<String, Vec<(String, i64)>> {
    let mut want: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    let mut previous = BTreeSet::new();
    let mut times: Vec<i64> = story().obs.iter().map(|o| o.at).collect();
    times.sort();
    for at in times {
        let now = story_expected(at);
        for l in now.difference(&previous) {
            want.entry(l.clone()).or_default().push(("open".into(), at));
        }
        for l in previous.difference(&now) {
            want.entry(l.clone())
                .or_default()
                .push(("resolved".into(), at));
        }
        previous = now;
    }
    want
}

#[test]
fn story_each_opening_and_resolution_is_told_exactly_once() {
    let s = story();
    let mut got: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for (l, kind, at) in &s.events_at_end {
        got.entry(l.clone()).or_default().push((kind.clone(), *at));
    }
    let want = story_expected_events();
    let fmt = |m: &BTreeMap<String, Vec<(String, i64)>>| {
        m.iter()
            .map(|(l, ev)| {
                format!(
                    "  {l}: {}",
                    ev.iter()
                        .map(|(k, at)| format!("{k}@{}", iso(*at)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        fmt(&got),
        fmt(&want),
        "\ntold (got):\n{}\nexpected:\n{}",
        fmt(&got),
        fmt(&want)
    );
}

#[test]
fn story_a_worker_back_from_down_is_not_then_told_as_a_drop() {
    // rig-01 was told worker_down for its 5-hour stop; the same stop must not be told again
    // as hashrate_drop once the worker list shows it hashing again.
    let s = story();
    let drops: Vec<String> = s
        .events_at_end
        .iter()
        .filter(|(l, _, _)| l == "hashrate_drop:rig-01")
        .map(|(l, k, at)| format!("{l} {k} at {}", iso(*at)))
        .collect();
    assert!(drops.is_empty(), "{drops:?}");
}

#[test]
fn story_history_at_risk_fires_when_collection_stopped_long_enough_and_only_then() {
    let s = story();
    let problems: Vec<String> = s
        .obs
        .iter()
        .filter_map(|o| {
            let want = o.expected.iter().any(|l| l.starts_with("history_at_risk"));
            let got: Vec<&String> = o
                .got
                .iter()
                .filter(|l| l.starts_with("history_at_risk"))
                .collect();
            (want == got.is_empty() || got.len() > 1)
                .then(|| format!("{}: want {want}, got {got:?}", iso(o.at)))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn story_stale_ingest_only_after_26_hours_without_a_successful_run() {
    let s = story();
    let problems: Vec<String> = s
        .obs
        .iter()
        .filter_map(|o| {
            let want = o.expected.contains("stale_ingest:account");
            let got = o.got.contains("stale_ingest:account");
            (want != got).then(|| format!("{}: want {want}, got {got}", iso(o.at)))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn story_the_access_key_appears_in_no_output() {
    let s = story();
    assert!(!s.outputs.contains(KEY));
    let out = poolhist(&s.db)
        .args(["alerts", "--history", "--format", "json"])
        .output()
        .unwrap();
    assert!(!text(&out).contains(KEY));
}

#[test]
fn story_history_lists_each_told_alert_once() {
    let s = story();
    let out = poolhist(&s.db)
        .args(["alerts", "--history", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut labels: Vec<String> = records.iter().map(label).collect();
    labels.sort();
    let mut want: Vec<String> = story_expected_events().into_keys().collect();
    want.sort();
    assert_eq!(labels, want);
    for r in &records {
        for field in [
            "rule",
            "state",
            "change",
            "pool",
            "account",
            "worker_id",
            "worker_name",
            "group_name",
            "since",
            "message",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
        let since = r["since"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(since).is_ok() && since.ends_with('Z'),
            "since {since}"
        );
    }
}

#[test]
fn story_evaluating_back_in_time_tells_nothing_again() {
    let s = story();
    let dir = tempfile::tempdir().unwrap();
    let db = copy_db(&s.db, dir.path());
    let before = events(&db);
    // Back to the middle of the day of trouble, then to the same instant twice, then forward.
    let mut told = Vec::new();
    // Back in time is refused (one line, nothing recorded); the present is told nothing new.
    for at in [D + 15 * HOUR + 600, D + 15 * HOUR + 600] {
        refused_back_in_time(&db, at);
    }
    for at in [RESUME + 2 * HOUR] {
        let (_, records) = alerts_json(&db, at);
        for r in records.iter().filter(|r| r["change"] != "ongoing") {
            told.push(format!("{} {} at {}", label(r), r["change"], iso(at)));
        }
    }
    let after = events(&db);
    assert!(
        told.is_empty() && after.len() == before.len(),
        "evaluations back in time told {told:?}; events {} -> {}",
        before.len(),
        after.len()
    );
}

#[test]
fn story_table_first_line_is_a_nagios_summary() {
    let s = story();
    let dir = tempfile::tempdir().unwrap();
    let db = copy_db(&s.db, dir.path());
    let out = poolhist(&db)
        .args(["alerts", "--now", &iso(RESUME + 2 * HOUR)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .next()
            .unwrap_or("")
            .starts_with("POOLHIST OK"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(0));
}

// =============================================================================================
// A small farm: three workers, rig-A stops 10:00-14:59 on the day after the first run
// =============================================================================================

const M: i64 = T0 + DAY;

fn mini_truth(id: i64, ts: i64) -> (f64, f64) {
    if id == 201 && (M + 10 * HOUR..M + 15 * HOUR).contains(&ts) {
        (0.0, 0.0)
    } else {
        (100.0 * noise(id, ts), 0.5)
    }
}

fn mini_scenario(stopped: Stopped, lag: i64) -> Scenario {
    let names = ["rig-A", "rig-B", "rig-C"];
    Scenario {
        groups: vec![(21, "racks".into())],
        workers: (0..3)
            .map(|i| WorkerDef {
                id: 201 + i,
                name: names[i as usize].into(),
                gid: 21,
                exists_from: FARM_START,
                listed_from: FARM_START,
                listed_until: i64::MAX,
            })
            .collect(),
        truth: Arc::new(mini_truth),
        stopped,
        lag,
        key_in_error_for: Vec::new(),
    }
}

/// Events told (label, kind, at), and each evaluation's open set.
type MiniRun = (Vec<(String, String, i64)>, Vec<(i64, BTreeSet<String>)>);

/// Runs the first ingest at T0 00:10, then hourly ingests with alerts on day M from 06:10 to
/// 20:10. Returns the events told and each evaluation's open set.
fn mini_run(scenario: Scenario) -> MiniRun {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mini.db");
    let pool = Pool::start(scenario);
    let first = ingest(&db, &pool, T0 + 600, false);
    assert!(first.status.success(), "{}", text(&first));
    let mut opens = Vec::new();
    for hr in 6..=20 {
        let at = M + hr * HOUR + 600;
        let o = ingest(&db, &pool, at, true);
        assert!(matches!(o.status.code(), Some(0) | Some(3)), "{}", text(&o));
        let (_, records) = alerts_json(&db, at);
        opens.push((at, open_labels(&records)));
    }
    (events(&db), opens)
}

fn worker_down_timeline(events: &[(String, String, i64)]) -> Vec<String> {
    events
        .iter()
        .filter(|(l, _, _)| l.starts_with("worker_down"))
        .map(|(l, k, at)| format!("{l} {k} {}", iso(*at)))
        .collect()
}

fn expected_rig_a_down() -> Vec<String> {
    vec![
        format!("worker_down:rig-A open {}", iso(M + 12 * HOUR + 600)),
        format!("worker_down:rig-A resolved {}", iso(M + 15 * HOUR + 600)),
    ]
}

#[test]
fn stopped_hours_sent_as_zeros_worker_down_once() {
    let (events, _) = mini_run(mini_scenario(Stopped::Zero, 0));
    assert_eq!(worker_down_timeline(&events), expected_rig_a_down());
}

#[test]
fn stopped_hours_sent_as_nulls_same_as_zeros() {
    let (events, _) = mini_run(mini_scenario(Stopped::Null, 0));
    assert_eq!(worker_down_timeline(&events), expected_rig_a_down());
}

#[test]
fn stopped_hours_left_out_same_as_zeros() {
    let (events, _) = mini_run(mini_scenario(Stopped::Omit, 0));
    assert_eq!(worker_down_timeline(&events), expected_rig_a_down());
}

#[test]
fn short_baseline_a_recovered_worker_is_not_told_as_a_drop_either() {
    // Baseline of the three days the first backfill reached (72 h of worker hours).
    let (events, _) = mini_run(mini_scenario(Stopped::Zero, 0));
    let drops: Vec<String> = events
        .iter()
        .filter(|(l, _, _)| l.starts_with("hashrate_drop"))
        .map(|(l, k, at)| format!("{l} {k} {}", iso(*at)))
        .collect();
    assert!(drops.is_empty(), "{drops:?}");
}

#[test]
fn lagging_pool_clock_does_not_make_hashing_workers_down() {
    // The pool's clock is 2 h 30 min behind ours: its newest hour and its last-share times too.
    let (_, opens) = mini_run(mini_scenario(Stopped::Zero, 2 * HOUR + 1800));
    let wrong: Vec<String> = opens
        .iter()
        .filter_map(|(at, open)| {
            let bad: Vec<&String> = open
                .iter()
                .filter(|l| *l == "worker_down:rig-B" || *l == "worker_down:rig-C")
                .collect();
            (!bad.is_empty()).then(|| format!("{}: {bad:?}", iso(*at)))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "hashing workers told down:\n{}",
        wrong.join("\n")
    );
}

// =============================================================================================
// Single-worker account, a short baseline: the drop is told for the worker only
// =============================================================================================

#[test]
fn single_worker_account_drop_with_a_three_day_baseline() {
    let truth = |_: i64, ts: i64| {
        let base = 100.0 * noise(301, ts);
        if (M + 12 * HOUR..M + 16 * HOUR).contains(&ts) {
            (base / 10.0, 0.5)
        } else {
            (base, 0.5)
        }
    };
    let scenario = Scenario {
        groups: vec![(31, "solo".into())],
        workers: vec![WorkerDef {
            id: 301,
            name: "only-rig".into(),
            gid: 31,
            exists_from: FARM_START,
            listed_from: FARM_START,
            listed_until: i64::MAX,
        }],
        truth: Arc::new(truth),
        stopped: Stopped::Zero,
        lag: 0,
        key_in_error_for: Vec::new(),
    };
    let (events, _) = mini_run(scenario);
    let got: Vec<String> = events
        .iter()
        .map(|(l, k, at)| format!("{l} {k} {}", iso(*at)))
        .collect();
    // Window of the last two complete hours inside 12:00-15:59: horizons 13..15, runs 14:10-16:10.
    assert_eq!(
        got,
        vec![
            format!("hashrate_drop:only-rig open {}", iso(M + 14 * HOUR + 600)),
            format!(
                "hashrate_drop:only-rig resolved {}",
                iso(M + 17 * HOUR + 600)
            ),
        ]
    );
}

// =============================================================================================
// Hostile twists
// =============================================================================================

const HOSTILE_NAME: &str = "rig \"quoted\"\n\tline2 ☃ é \u{202e}rtl";

fn hostile_run(
    extra: Vec<WorkerDef>,
    key_in_error_for: Vec<i64>,
) -> (PathBuf, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hostile.db");
    let mut workers = vec![WorkerDef {
        id: 401,
        name: "steady".into(),
        gid: 41,
        exists_from: FARM_START,
        listed_from: FARM_START,
        listed_until: i64::MAX,
    }];
    workers.extend(extra);
    let scenario = Scenario {
        groups: vec![(41, "g\"41\"".into())],
        workers,
        truth: Arc::new(|id: i64, ts: i64| {
            // 402 and 403 stop at M 10:00 for good.
            // 404 never hashes.
            if (id == 402 || id == 403) && ts >= M + 10 * HOUR || id == 404 {
                (0.0, 0.0)
            } else {
                (100.0 * noise(id, ts), 0.5)
            }
        }),
        stopped: Stopped::Zero,
        lag: 0,
        key_in_error_for,
    };
    let pool = Pool::start(scenario);
    let mut outputs = String::new();
    let first = ingest(&db, &pool, T0 + 600, false);
    outputs.push_str(&text(&first));
    for hr in [8, 11, 12, 13] {
        let at = M + hr * HOUR + 600;
        outputs.push_str(&text(&ingest(&db, &pool, at, true)));
        for format in ["json", "table", "csv", "markdown"] {
            let o = poolhist(&db)
                .args(["alerts", "--now", &iso(at), "--format", format])
                .output()
                .unwrap();
            outputs.push_str(&text(&o));
        }
    }
    let o = poolhist(&db)
        .args(["alerts", "--history", "--format", "json"])
        .output()
        .unwrap();
    outputs.push_str(&text(&o));
    (db, dir, outputs)
}

#[test]
fn worker_name_with_quotes_newlines_and_unicode_round_trips_in_json() {
    let (db, _dir, _) = hostile_run(
        vec![WorkerDef {
            id: 402,
            name: HOSTILE_NAME.into(),
            gid: 41,
            exists_from: FARM_START,
            listed_from: FARM_START,
            listed_until: i64::MAX,
        }],
        Vec::new(),
    );
    let at = M + 13 * HOUR + 600;
    let (out, records) = alerts_json(&db, at);
    assert_eq!(out.status.code(), Some(3));
    let names: Vec<&str> = records
        .iter()
        .filter(|r| r["rule"] == "worker_down")
        .filter_map(|r| r["worker_name"].as_str())
        .collect();
    assert_eq!(names, vec![HOSTILE_NAME]);
    // The table's first line stays one summary line.
    let out = poolhist(&db)
        .args(["alerts", "--now", &iso(at)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap_or("");
    assert!(first.starts_with("POOLHIST ALERT - 1 firing"), "{first}");
    assert!(
        !stdout.contains("\nline2"),
        "raw newline of a worker name in the table:\n{stdout}"
    );
}

#[test]
fn access_key_echoed_in_a_worker_name_or_an_error_body_is_never_printed() {
    let (_db, _dir, outputs) = hostile_run(
        vec![WorkerDef {
            id: 403,
            name: format!("leak-{KEY}"),
            gid: 41,
            exists_from: FARM_START,
            listed_from: FARM_START,
            listed_until: i64::MAX,
        }],
        vec![401, 403],
    );
    assert!(
        outputs.contains("worker_down"),
        "the leaking worker should be told down: {outputs}"
    );
    let hits: Vec<&str> = outputs.lines().filter(|l| l.contains(KEY)).collect();
    assert!(hits.is_empty(), "the key was printed:\n{}", hits.join("\n"));
}

#[test]
fn dead_worker_that_never_had_data_is_told_down_once_and_only_after_two_hours_listed() {
    // 404 is in the list from M 10:30 on, DEAD, never a share: not down at the listing that
    // shows it first (10:10 does not list it; 11:10 does), down once two hours it was listed
    // are final (13:10).
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dead.db");
    let scenario = Scenario {
        groups: vec![(41, "g".into())],
        workers: vec![
            WorkerDef {
                id: 401,
                name: "steady".into(),
                gid: 41,
                exists_from: FARM_START,
                listed_from: FARM_START,
                listed_until: i64::MAX,
            },
            WorkerDef {
                id: 404,
                name: "never-hashed".into(),
                gid: 41,
                exists_from: i64::MAX,
                listed_from: M + 10 * HOUR + 1800,
                listed_until: i64::MAX,
            },
        ],
        truth: Arc::new(|id: i64, ts: i64| {
            if id == 404 {
                (0.0, 0.0)
            } else {
                (100.0 * noise(id, ts), 0.5)
            }
        }),
        stopped: Stopped::Zero,
        lag: 0,
        key_in_error_for: Vec::new(),
    };
    let pool = Pool::start(scenario);
    assert!(ingest(&db, &pool, T0 + 600, false).status.success());
    for hr in 8..=16 {
        let o = ingest(&db, &pool, M + hr * HOUR + 600, true);
        assert!(matches!(o.status.code(), Some(0) | Some(3)), "{}", text(&o));
    }
    let got: Vec<String> = worker_down_timeline(&events(&db));
    assert_eq!(
        got,
        vec![format!(
            "worker_down:never-hashed open {}",
            iso(M + 13 * HOUR + 600)
        )]
    );
}

#[test]
fn ingest_alerts_twice_at_the_same_instant_tells_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("twice.db");
    let pool = Pool::start(mini_scenario(Stopped::Zero, 0));
    assert!(ingest(&db, &pool, T0 + 600, false).status.success());
    let at = M + 13 * HOUR + 600;
    let a = ingest(&db, &pool, at, true);
    let n = events(&db).len();
    let b = ingest(&db, &pool, at, true);
    assert_eq!(a.status.code(), Some(3), "{}", text(&a));
    assert_eq!(b.status.code(), Some(3), "{}", text(&b));
    assert_eq!(
        events(&db).len(),
        n,
        "second run at the same instant told again"
    );
}

#[test]
fn replayed_ingest_in_the_past_is_not_stale() {
    // `ingest --now` in the past (a replay): the run ends at the wall clock, after `--now`, so
    // an evaluation as of `--now` does not see it as successful.
    let past = 1_793_491_200; // 2026-11-01T00:00:00Z
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replay.db");
    let pool = Pool::start(mini_scenario(Stopped::Zero, 0));
    assert!(ingest(&db, &pool, past + 600, false).status.success());
    let at = past + 2 * DAY + 600;
    let o = ingest(&db, &pool, at, true);
    let (_, records) = alerts_json(&db, at);
    let open = open_labels(&records);
    assert!(
        !open.contains("stale_ingest:account"),
        "stale right after a successful run: {open:?}\n{}",
        text(&o)
    );
}

#[test]
fn evaluating_back_in_time_while_alerts_are_open_does_not_resolve_and_reopen_them() {
    // Collection stops after M 06:10; three days later stale_ingest and history_at_risk are
    // open. An evaluation as of an earlier time (a replay, a wrong clock) then the present again:
    // each opening must still be told once, and nothing resolved that did not recover.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("back.db");
    let pool = Pool::start(mini_scenario(Stopped::Zero, 0));
    assert!(ingest(&db, &pool, T0 + 600, false).status.success());
    assert!(ingest(&db, &pool, M + 6 * HOUR + 600, false)
        .status
        .success());
    let late = M + 3 * DAY;
    let (_, first) = alerts_json(&db, late);
    let open = open_labels(&first);
    assert!(
        open.contains("stale_ingest:account") && open.contains("history_at_risk:worker hourly"),
        "{open:?}"
    );
    refused_back_in_time(&db, M + 7 * HOUR);
    alerts_json(&db, late + HOUR);
    let told: Vec<String> = events(&db)
        .iter()
        .map(|(l, k, at)| format!("{l} {k} {}", iso(*at)))
        .collect();
    let opens = told.iter().filter(|t| t.contains(" open ")).count();
    let resolved = told.iter().filter(|t| t.contains(" resolved ")).count();
    assert!(
        opens == open.len() && resolved == 0,
        "told:\n{}",
        told.join("\n")
    );
}
