//! Adversarial review of the Foundry USA ingest against a hand-written fake written only from
//! `shared/api/foundry.md` (not from our simulator). Each test configures one quirk a real,
//! broken or hostile Foundry could show and asserts what a user would expect: every stored
//! point equals the pool's final value, nothing lost, nothing invented, the key kept secret.

mod common;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use poolhist::http::{AccessKey, ClientConfig};
use poolhist::ingest::{self, AccountSource, IngestError, IngestOptions, IngestSummary};
use poolhist::pools::{foundry, PoolKind};
use rusqlite::Connection;
use serde_json::{json, Value};

/// 2026-11-20 12:30:00 UTC, our clock.
const NOW: i64 = 1_763_641_800;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

// ---------------------------------------------------------------------------------------------
// Log capture: every tracing line of every test in this binary, to look for leaked keys.

static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

struct Capture;
impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.get_or_init(Default::default)
            .lock()
            .unwrap()
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    let _ = tracing_subscriber::fmt()
        .with_writer(|| Capture)
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .try_init();
}

fn logs_contain(needle: &str) -> bool {
    let logs = LOGS.get_or_init(Default::default).lock().unwrap();
    String::from_utf8_lossy(&logs).contains(needle)
}

// ---------------------------------------------------------------------------------------------
// The fake.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    AccHour,
    AccDay,
    WHour(i64),
    WDay(i64),
}

impl Kind {
    fn step(self) -> i64 {
        match self {
            Kind::AccHour | Kind::WHour(_) => HOUR,
            _ => DAY,
        }
    }
    fn worker(self) -> Option<i64> {
        match self {
            Kind::WHour(id) | Kind::WDay(id) => Some(id),
            _ => None,
        }
    }
    fn dim(self) -> &'static str {
        if self.step() == HOUR {
            "1h"
        } else {
            "1d"
        }
    }
}

#[derive(Clone)]
struct FWorker {
    /// As the list sends it (a string).
    id_text: String,
    id: Option<i64>,
    name: String,
    tag: String,
}

#[derive(Clone)]
struct Quirks {
    /// The pool's clock minus ours.
    skew: i64,
    newest_first: bool,
    /// `time` in mixed RFC 3339 spellings; `unixTime` = bucket END in ms.
    odd_times: bool,
    /// Buckets without shares left out instead of sent as zeros.
    omit_zero: bool,
    cap_newest: Option<usize>,
    cap_oldest: Option<usize>,
    /// Select buckets overlapping the range (the bucket holding `start` comes too).
    overlap: bool,
    /// `endDateUnixMs` / `end` ignored: everything from start up to now.
    ignore_end: bool,
    /// Hashrates as JSON strings.
    strings: bool,
    /// Some buckets carry absurd values (negative, 1e30, "NaN").
    absurd: bool,
    /// Each bucket sent twice, the first copy with garbage-but-plausible values.
    duplicates: bool,
    page_cap: Option<usize>,
    ignore_page_number: bool,
    total_override: Option<i64>,
    /// Listed, but 404 on its day series and `[]` on its hourly series.
    gone_worker: Option<i64>,
    kept_acc_hours: i64,
    kept_acc_days: i64,
    kept_w_hours: i64,
    kept_w_days: i64,
    fault_rate: f64,
    /// Answers to series requests (not the list) with this status/body every time.
    series_status: Option<(u16, &'static str, &'static str)>,
    /// A 200 body with the key echoed inside a JSON string, for the account day series.
    echo_key_200: bool,
    /// 302 to this base URL for every request.
    redirect_to: Option<String>,
    /// The first N requests get 429 Retry-After: 1.
    first_429: u64,
    /// Worker 1000 mined nothing from `.0` to `.1` slots back (inclusive), in both dimensions.
    offline: Option<(i64, i64)>,
    /// No `time` field: only `unixTime`, the bucket start in ms.
    unix_only_ms: bool,
    /// This share of series answers is a 200 `[]` (a struggling backend), then fine again.
    empty_rate: f64,
    /// The bucket under way is not published at all.
    no_live: bool,
    /// `workerId` as a JSON number instead of a string.
    numeric_ids: bool,
    /// The end of a range is exclusive.
    end_exclusive: bool,
    /// Range parameters ignored: always the default (hours: last week, days: last 30 days).
    ignore_range: bool,
    /// The first N series answers are a 200 `[]`.
    empty_first: u64,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            skew: 0,
            newest_first: false,
            odd_times: false,
            omit_zero: false,
            cap_newest: None,
            cap_oldest: None,
            overlap: false,
            ignore_end: false,
            strings: false,
            absurd: false,
            duplicates: false,
            page_cap: None,
            ignore_page_number: false,
            total_override: None,
            gone_worker: None,
            kept_acc_hours: 720,
            kept_acc_days: 400,
            kept_w_hours: 72,
            kept_w_days: 90,
            fault_rate: 0.0,
            series_status: None,
            echo_key_200: false,
            redirect_to: None,
            first_429: 0,
            offline: None,
            unix_only_ms: false,
            empty_rate: 0.0,
            no_live: false,
            numeric_ids: false,
            end_exclusive: false,
            ignore_range: false,
            empty_first: 0,
        }
    }
}

struct Fake {
    key: String,
    sub: String,
    workers: Vec<FWorker>,
    q: Quirks,
    now: Mutex<i64>,
    requests: AtomicU64,
    faults: AtomicU64,
    series_requests: AtomicU64,
    rng: Mutex<u64>,
    heads: Mutex<Vec<String>>,
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hostile_workers() -> Vec<FWorker> {
    let names: Vec<(String, &str, &str)> = vec![
        ("9007199254740993".into(), "rig-01", "tagA"),
        ("123456789012".into(), "../../etc/passwd", ""),
        ("42".into(), "a%2Fb%00", "<b>tag</b>"),
        ("7".into(), "<script>alert(1)</script>", "tagA"),
        ("8".into(), "\u{202E}gnp.exe", ""),
        ("9".into(), "=HYPERLINK(\"http://x\")", "tagA"),
        ("10".into(), "名前 with space/?#", ""),
        ("4611686018427387904".into(), "rig%20two", ""),
    ];
    let mut w: Vec<FWorker> = names
        .into_iter()
        .map(|(id, name, tag)| FWorker {
            id: id.parse().ok(),
            id_text: id,
            name: name.to_owned(),
            tag: tag.to_owned(),
        })
        .collect();
    w.push(FWorker {
        id_text: "11".into(),
        id: Some(11),
        name: "L".repeat(3000),
        tag: String::new(),
    });
    w
}

fn plain_workers(n: i64) -> Vec<FWorker> {
    (0..n)
        .map(|i| FWorker {
            id_text: (1000 + i).to_string(),
            id: Some(1000 + i),
            name: format!("w{i:04}"),
            tag: String::new(),
        })
        .collect()
}

impl Fake {
    fn new(sub: &str, key: &str, workers: Vec<FWorker>, q: Quirks) -> Fake {
        Fake {
            key: key.to_owned(),
            sub: sub.to_owned(),
            workers,
            q,
            now: Mutex::new(NOW),
            requests: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            series_requests: AtomicU64::new(0),
            rng: Mutex::new(12345),
            heads: Mutex::new(Vec::new()),
        }
    }

    fn pool_now(&self) -> i64 {
        *self.now.lock().unwrap() + self.q.skew
    }

    fn kept(&self, kind: Kind) -> i64 {
        match kind {
            Kind::AccHour => self.q.kept_acc_hours,
            Kind::AccDay => self.q.kept_acc_days,
            Kind::WHour(_) => self.q.kept_w_hours,
            Kind::WDay(_) => self.q.kept_w_days,
        }
    }

    /// (oldest, newest) bucket starts the pool holds; `newest` is its live bucket.
    fn range(&self, kind: Kind) -> (i64, i64) {
        let step = kind.step();
        let newest = self.pool_now().div_euclid(step) * step;
        (newest - (self.kept(kind) - 1) * step, newest)
    }

    /// Final values (GH/s) of a bucket: accepted, stale, rejected.
    fn truth(&self, kind: Kind, ts: i64) -> (i64, i64, i64) {
        let seed = match kind {
            Kind::AccHour => 1,
            Kind::AccDay => 2,
            Kind::WHour(id) => 3 ^ (id as u64).wrapping_mul(31),
            Kind::WDay(id) => 4 ^ (id as u64).wrapping_mul(37),
        };
        if let (Some((near, far)), Some(1000)) = (self.q.offline, kind.worker()) {
            // Fixed in time: counted back from the pool's newest bucket at NOW.
            let newest = (NOW + self.q.skew).div_euclid(kind.step()) * kind.step();
            let back = (newest - ts) / kind.step();
            if back >= near && back <= far {
                return (0, 0, 0);
            }
        }
        let h = mix(seed.wrapping_mul(1_000_003) ^ ts as u64);
        if kind.worker().is_some() && h.is_multiple_of(11) {
            return (0, 0, 0);
        }
        let acc = 40_000 + (h % 9_000_000) as i64;
        let stale = ((h >> 24) % 700) as i64;
        let rej = ((h >> 40) % 500) as i64;
        (acc, stale, rej)
    }

    /// What the pool serves for a bucket: the live one is partial.
    fn served(&self, kind: Kind, ts: i64) -> (i64, i64, i64) {
        let (a, s, r) = self.truth(kind, ts);
        if ts == self.range(kind).1 {
            (a / 2, s / 3, r / 4)
        } else {
            (a, s, r)
        }
    }

    fn roll(&self) -> f64 {
        let mut r = self.rng.lock().unwrap();
        *r = mix(*r);
        (*r >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn pct_decode(s: &str, plus_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        if plus_space && b[i] == b'+' {
            out.push(b' ');
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rfc3339(ts: i64, style: u8) -> String {
    let t = chrono::DateTime::from_timestamp(ts, 0).unwrap();
    match style {
        0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        1 => t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        2 => t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(), // no offset, fraction
        _ => t
            .with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap())
            .format("%Y-%m-%dT%H:%M:%S%.6f%:z")
            .to_string(),
    }
}

fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn handle(State(f): State<Arc<Fake>>, headers: HeaderMap, uri: Uri) -> Response {
    let n = f.requests.fetch_add(1, Ordering::SeqCst);
    f.heads.lock().unwrap().push(format!("{uri} {headers:?}"));
    if let Some(to) = &f.q.redirect_to {
        return (
            StatusCode::FOUND,
            [(axum::http::header::LOCATION, format!("{to}{uri}"))],
            "",
        )
            .into_response();
    }
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if key != f.key {
        // A hostile pool echoes what it was sent.
        return (
            StatusCode::FORBIDDEN,
            format!("Forbidden: key {key} lacks viewPayments for {}", f.sub),
        )
            .into_response();
    }
    if n < f.q.first_429 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::RETRY_AFTER, "1")],
            "slow down",
        )
            .into_response();
    }
    if f.q.fault_rate > 0.0 && f.roll() < f.q.fault_rate {
        f.faults.fetch_add(1, Ordering::SeqCst);
        let which = (f.roll() * 4.0) as u32;
        return match which {
            0 => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(axum::http::header::CONTENT_TYPE, "text/html")],
                "<html><body>500 Internal Server Error</body></html>",
            )
                .into_response(),
            1 => (
                StatusCode::TOO_MANY_REQUESTS,
                [(axum::http::header::RETRY_AFTER, "0")],
                "",
            )
                .into_response(),
            2 => json_response(StatusCode::OK, "[{\"time\":\"2026-11-".to_owned()),
            _ => (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "text/html")],
                "<html>maintenance</html>",
            )
                .into_response(),
        };
    }
    let segments: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| pct_decode(s, false))
        .collect();
    let mut params: HashMap<String, String> = HashMap::new();
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(pct_decode(k, true), pct_decode(v, true));
    }
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    if seg.len() < 2 || seg[1] != f.sub {
        return (StatusCode::NOT_FOUND, "sub-account not found").into_response();
    }
    if seg[0] == "workers" && seg.len() == 2 {
        return workers_list(&f, &params);
    }
    if f.series_requests.fetch_add(1, Ordering::SeqCst) < f.q.empty_first {
        return json_response(StatusCode::OK, "[]".to_owned());
    }
    if let Some((status, ctype, body)) = f.q.series_status {
        return (
            StatusCode::from_u16(status).unwrap(),
            [(axum::http::header::CONTENT_TYPE, ctype)],
            body,
        )
            .into_response();
    }
    let worker = |s: &str| -> Option<i64> { s.parse::<i64>().ok() };
    let kind = match (seg[0], seg.len()) {
        ("subaccount_hashrate_hour", 2) => Kind::AccHour,
        ("subaccount_hashrate_day", 2) => Kind::AccDay,
        ("worker_hashrate_hour", 3) => match worker(seg[2]) {
            Some(id) => Kind::WHour(id),
            None => return (StatusCode::BAD_REQUEST, "bad id").into_response(),
        },
        ("worker_hashrate_day", 3) => match worker(seg[2]) {
            Some(id) => Kind::WDay(id),
            None => return (StatusCode::BAD_REQUEST, "bad id").into_response(),
        },
        _ => return (StatusCode::NOT_FOUND, "no such path").into_response(),
    };
    if kind == Kind::AccDay && f.q.echo_key_200 {
        return json_response(
            StatusCode::OK,
            json!(format!("session for key {} expired", f.key)).to_string(),
        );
    }
    if let Some(id) = kind.worker() {
        let known = f.workers.iter().any(|w| w.id == Some(id));
        if !known || f.q.gone_worker == Some(id) {
            return match kind {
                Kind::WDay(_) => (StatusCode::NOT_FOUND, "worker not found").into_response(),
                _ => json_response(StatusCode::OK, "[]".to_owned()),
            };
        }
    }
    if f.q.empty_rate > 0.0 && f.roll() < f.q.empty_rate {
        f.faults.fetch_add(1, Ordering::SeqCst);
        return json_response(StatusCode::OK, "[]".to_owned());
    }
    series(&f, kind, &params)
}

fn series(f: &Fake, kind: Kind, params: &HashMap<String, String>) -> Response {
    let step = kind.step();
    let pool_now = f.pool_now();
    let (oldest, newest) = f.range(kind);
    // The range asked: ms params where sent, else strings, else the defaults.
    let ms = |k: &str| {
        params
            .get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .map(|v| v.div_euclid(1000))
    };
    let (mut from, mut to) = if kind.step() == HOUR && params.contains_key("startDateUnixMs") {
        (ms("startDateUnixMs"), ms("endDateUnixMs"))
    } else {
        (
            params.get("start").and_then(|s| parse_date(s)),
            params.get("end").and_then(|s| parse_date(s)),
        )
    };
    if from.is_none() {
        from = Some(pool_now - if step == HOUR { 7 * DAY } else { 30 * DAY });
    }
    if from.is_none() || f.q.ignore_range {
        from = Some(pool_now - if step == HOUR { 7 * DAY } else { 30 * DAY });
    }
    if to.is_none() || f.q.ignore_end || f.q.ignore_range {
        to = Some(pool_now);
    }
    let (from, to) = (from.unwrap(), to.unwrap());
    let mut picked: Vec<i64> = Vec::new();
    let mut ts = oldest;
    while ts <= newest {
        let selected = if f.q.overlap {
            ts + step > from && ts <= to
        } else if f.q.end_exclusive {
            ts >= from && ts < to
        } else {
            ts >= from && ts <= to
        };
        if selected {
            picked.push(ts);
        }
        ts += step;
    }
    if f.q.no_live {
        picked.retain(|&t| t != newest);
    }
    if f.q.omit_zero {
        picked.retain(|&t| f.truth(kind, t) != (0, 0, 0));
    }
    if let Some(n) = f.q.cap_newest {
        if picked.len() > n {
            picked.drain(..picked.len() - n);
        }
    }
    if let Some(n) = f.q.cap_oldest {
        picked.truncate(n);
    }
    let mut out: Vec<Value> = Vec::new();
    for &t in &picked {
        let (a, s, r) = f.served(kind, t);
        let num = |v: i64| -> Value {
            if f.q.strings {
                json!(v.to_string())
            } else {
                json!(v)
            }
        };
        let style = (mix(t as u64) % 4) as u8;
        let mut e = json!({
            "time": if f.q.odd_times { rfc3339(t, style) } else { rfc3339(t, 0) },
            "endTime": rfc3339(t + step, 0),
            "unixTime": if f.q.odd_times { (t + step) * 1000 } else { t },
            "hashrateAccepted": num(a),
            "hashrateStale": num(s),
            "hashrateRejected": num(r),
        });
        if f.q.unix_only_ms {
            e.as_object_mut().unwrap().remove("time");
            e.as_object_mut().unwrap().remove("endTime");
            e["unixTime"] = json!(t * 1000);
        }
        if kind == Kind::AccDay {
            e["averageWorkers"] = json!(if t == newest { -1.0 } else { 9.0 });
        }
        if f.q.duplicates {
            let mut wrong = e.clone();
            wrong["hashrateAccepted"] = json!(a + 777);
            out.push(wrong);
        }
        out.push(e);
    }
    if f.q.absurd {
        // Extra buckets the pool does not hold with absurd values, on slots inside the range.
        if let (Some(&first), true) = (picked.first(), picked.len() > 3) {
            let _ = first;
            out.push(json!({"time": rfc3339(picked[1], 0), "unixTime": picked[1],
                "hashrateAccepted": -5, "hashrateStale": 0, "hashrateRejected": 0}));
            out.push(json!({"time": rfc3339(picked[2], 0), "unixTime": picked[2],
                "hashrateAccepted": 1e30, "hashrateStale": 0, "hashrateRejected": 0}));
            out.push(json!({"time": rfc3339(picked[3], 0), "unixTime": picked[3],
                "hashrateAccepted": "NaN", "hashrateStale": 0, "hashrateRejected": 0}));
        }
    }
    if f.q.newest_first {
        out.reverse();
    }
    json_response(StatusCode::OK, Value::Array(out).to_string())
}

fn workers_list(f: &Fake, params: &HashMap<String, String>) -> Response {
    let mut all = f.workers.clone();
    if params.get("sort").map(String::as_str) == Some("workerName") {
        all.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let mut size = params
        .get("pageSize")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(-1);
    let cap = f.q.page_cap.map_or(1i64 << 40, |c| c as i64);
    if size <= 0 || size > cap {
        size = cap;
    }
    let mut page = params
        .get("pageNumber")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    if f.q.ignore_page_number {
        page = 0;
    }
    let start = (page.saturating_mul(size)).min(all.len() as i64) as usize;
    let end = (start as i64).saturating_add(size).min(all.len() as i64) as usize;
    let pool_now = f.pool_now();
    let rows: Vec<Value> = all[start..end]
        .iter()
        .map(|w| {
            json!({
                "workerId": match (f.q.numeric_ids, w.id_text.parse::<u64>()) {
                    (true, Ok(n)) => json!(n),
                    _ => json!(w.id_text),
                },
                "workerName": w.name,
                "hashrate_5m": 1, "hashrate_15m": 1, "hashrate_1h": 1,
                "stale_15m": 0, "stale_1h": 0, "reject_15m": 0, "reject_1h": 0,
                "stale15mPercent": 0.0, "reject15mPercent": 0.0,
                "rejectDetail_15m": "", "rejectDetail_1h": "",
                "lastShareTime": rfc3339(pool_now - 60, 0), "tag": w.tag,
            })
        })
        .collect();
    let total = f.q.total_override.unwrap_or(all.len() as i64);
    json_response(
        StatusCode::OK,
        json!({"workersList": rows, "totalWorkerCount": total}).to_string(),
    )
}

struct Served {
    url: String,
    fake: Arc<Fake>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(fake: Fake) -> Served {
    capture_logs();
    let fake = Arc::new(fake);
    let app = Router::new().fallback(handle).with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Served { url, fake, task }
}

// ---------------------------------------------------------------------------------------------
// Running and checking.

const SUB: &str = "farm1";
const KEY: &str = "123e4567-e89b-12d3-a456-426614174000";

fn options(url: &str, sub: &str, key: &str, db: &Path, now: i64) -> IngestOptions {
    let mut client = ClientConfig::new(url, AccessKey::new(key).unwrap(), foundry::PROTOCOL);
    client.rate_per_second = None;
    client.backoff_base = Duration::from_millis(5);
    client.max_backoff = Duration::from_millis(50);
    client.timeout = Duration::from_secs(10);
    IngestOptions {
        db_path: db.to_owned(),
        accounts: vec![AccountSource {
            account: PoolKind::Foundry.account(sub).unwrap(),
            client,
        }],
        since: None,
        concurrency: 4,
        retention: Default::default(),
        now: Some(now),
        show_progress: false,
        wait_for_lock: false,
        max_workers: ingest::DEFAULT_MAX_WORKERS,
        handle_signals: false,
    }
}

async fn run_at(s: &Served, db: &Path, now: i64) -> Result<IngestSummary, IngestError> {
    *s.fake.now.lock().unwrap() = now;
    ingest::run(options(&s.url, &s.fake.sub, &s.fake.key, db, now)).await
}

type Stored = common::AccountPoints;

fn stored(db: &Path, sub: &str) -> Stored {
    common::account_points(db, "foundry", sub)
}

use common::within_1e5 as close;

fn kinds(f: &Fake) -> Vec<Kind> {
    let mut k = vec![Kind::AccHour, Kind::AccDay];
    for w in &f.workers {
        if let Some(id) = w.id {
            if f.q.gone_worker != Some(id) {
                k.push(Kind::WHour(id));
                k.push(Kind::WDay(id));
            }
        }
    }
    k
}

/// Every stored point is the pool's final value (or provisional); every final bucket the pool
/// holds with shares is stored; nothing is stored that the pool does not hold.
fn problems(f: &Fake, db: &Path, our_now: i64, first_run: bool) -> Vec<String> {
    let rows = stored(db, &f.sub);
    let mut out = Vec::new();
    let mut by_key: HashMap<(Option<i64>, &'static str), Kind> = HashMap::new();
    for k in kinds(f) {
        by_key.insert((k.worker(), k.dim()), k);
    }
    for ((w, dim, ts), (hs, rr, prov)) in &rows {
        let dim_s: &'static str = if dim == "1h" { "1h" } else { "1d" };
        let Some(&kind) = by_key.get(&(*w, dim_s)) else {
            out.push(format!(
                "stored a series the pool does not have: {w:?} {dim}"
            ));
            continue;
        };
        let (oldest, newest) = f.range(kind);
        // Buckets older than the pool keeps now were stored by an earlier run: still checked
        // against the (deterministic) truth, but only a first run must stay inside the range.
        let below = *ts < oldest && !first_run;
        if (*ts < oldest && first_run) || *ts > newest || (ts - oldest) % kind.step() != 0 {
            out.push(format!("{kind:?} {ts}: stored, pool holds no such bucket"));
            continue;
        }
        let _ = below;
        let our_slot = our_now.div_euclid(kind.step()) * kind.step();
        if *prov && *ts >= newest.min(our_slot) {
            continue;
        }
        let (a, s, r) = f.truth(kind, *ts);
        let want_hs = a as f64 * 1e9;
        let sum = (a + s + r) as f64;
        let want_rr = if sum == 0.0 {
            0.0
        } else {
            (s + r) as f64 / sum
        };
        if *ts == newest && !*prov {
            out.push(format!(
                "{kind:?} {ts}: the pool's live bucket stored as final"
            ));
        } else if !close(*hs, want_hs) || !close(*rr, want_rr) {
            out.push(format!(
                "{kind:?} {ts} (provisional {prov}): stored {hs} H/s {rr}, truth {want_hs} H/s {want_rr}"
            ));
        }
    }
    for kind in kinds(f) {
        let step = kind.step();
        let (oldest, newest) = f.range(kind);
        let our_slot = our_now.div_euclid(step) * step;
        let last_final = (newest - step).min(our_slot - step);
        let mut missing = 0;
        let mut first_missing = None;
        let mut ts = oldest;
        while ts <= last_final {
            if f.truth(kind, ts).0 > 0
                && !rows.contains_key(&(kind.worker(), kind.dim().to_owned(), ts))
            {
                missing += 1;
                first_missing.get_or_insert(ts);
            }
            ts += step;
        }
        if missing > 0 {
            out.push(format!(
                "{kind:?}: {missing} final buckets with shares not stored (first {:?}, pool holds {oldest}..={newest})",
                first_missing
            ));
        }
    }
    out
}

fn assert_clean(f: &Fake, db: &Path, our_now: i64, what: &str) {
    let p = problems(f, db, our_now, what == "first run");
    assert!(
        p.is_empty(),
        "{what}: {} problems: {:#?}",
        p.len(),
        &p[..p.len().min(10)]
    );
}

fn names(db: &Path, sub: &str) -> Vec<(i64, String, Option<String>)> {
    let conn = Connection::open(db).unwrap();
    let mut v: Vec<(i64, String, Option<String>)> = conn
        .prepare(
            "SELECT worker_id, worker_name, group_name FROM v_workers WHERE pool = 'foundry' AND account = ?1",
        )
        .unwrap()
        .query_map([sub], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    v.sort();
    v
}

fn truth_names(f: &Fake) -> Vec<(i64, String, Option<String>)> {
    let mut v: Vec<(i64, String, Option<String>)> = f
        .workers
        .iter()
        .filter_map(|w| {
            Some((
                w.id?,
                w.name.clone(),
                (!w.tag.is_empty()).then(|| w.tag.clone()),
            ))
        })
        .collect();
    v.sort();
    v
}

/// Every byte of every file in `dir` (the database and its journals), searched for `needle`.
fn dir_contains(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let bytes = std::fs::read(e.unwrap().path()).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

async fn exact_run(q: Quirks, workers: Vec<FWorker>) -> (Served, tempfile::TempDir, IngestSummary) {
    let s = serve(Fake::new(SUB, KEY, workers, q)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let summary = run_at(&s, &db, NOW)
        .await
        .unwrap_or_else(|e| panic!("ingest failed: {e}"));
    assert_clean(&s.fake, &db, NOW, "first run");
    // Right after: idempotent, and cheap.
    let before = stored(&db, &s.fake.sub);
    let again = run_at(&s, &db, NOW)
        .await
        .unwrap_or_else(|e| panic!("second ingest failed: {e}"));
    assert_eq!(
        before,
        stored(&db, &s.fake.sub),
        "a second run changed stored rows"
    );
    assert!(
        again.tickers_fetched * 10 < summary.tickers_fetched,
        "second run fetched {} points, the first {}",
        again.tickers_fetched,
        summary.tickers_fetched
    );
    (s, dir, summary)
}

// ---------------------------------------------------------------------------------------------
// Baseline: a well-behaved pool, hostile names, ids beyond 2^53, an encoded sub-account.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_exact_names_idempotent_and_cheap_second_run() {
    let (s, dir, first) = exact_run(Quirks::default(), hostile_workers()).await;
    let db = dir.path().join("f.db");
    assert_eq!(
        names(&db, SUB),
        truth_names(&s.fake),
        "exact names and tags"
    );
    let before = stored(&db, SUB);
    let again = run_at(&s, &db, NOW).await.expect("second run");
    let after = stored(&db, SUB);
    assert_eq!(again.counts.rows_updated, 0, "{}", again.line());
    assert_eq!(
        before, after,
        "a second run at the same time changes nothing"
    );
    assert!(
        again.tickers_fetched * 10 < first.tickers_fetched,
        "second run fetched {} of the first's {}",
        again.tickers_fetched,
        first.tickers_fetched
    );
    // The next day: still exact, the old live bucket corrected.
    let later = run_at(&s, &db, NOW + DAY + 7 * HOUR)
        .await
        .expect("next day");
    assert_clean(&s.fake, &db, NOW + DAY + 7 * HOUR, "next day");
    assert!(
        later.tickers_fetched * 5 < first.tickers_fetched,
        "{}",
        later.line()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_account_name_needing_percent_encoding() {
    let sub = "ferme/ü 1?x#%";
    let s = serve(Fake::new(sub, KEY, plain_workers(3), Quirks::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    run_at(&s, &db, NOW).await.expect("ingest");
    assert_clean(&s.fake, &db, NOW, "encoded sub-account");
}

// ---------------------------------------------------------------------------------------------
// Time, order, selection.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_time_spellings_unixtime_as_bucket_end_ms_newest_first() {
    exact_run(
        Quirks {
            odd_times: true,
            newest_first: true,
            ..Quirks::default()
        },
        plain_workers(4),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_by_overlap_returns_boundary_buckets_twice() {
    exact_run(
        Quirks {
            overlap: true,
            ..Quirks::default()
        },
        plain_workers(4),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_range_ignored_everything_up_to_now_comes_back() {
    exact_run(
        Quirks {
            ignore_end: true,
            ..Quirks::default()
        },
        plain_workers(4),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_range_silently_capped_to_its_oldest_buckets() {
    exact_run(
        Quirks {
            cap_oldest: Some(100),
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "known limit: a pool answering only the newest N buckets of a range is read as history starting there (ranges are kept to the API's default week to make it unlikely)"]
async fn long_range_silently_capped_to_its_newest_buckets() {
    exact_run(
        Quirks {
            cap_newest: Some(100),
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hours_without_shares_left_out_instead_of_zeros() {
    exact_run(
        Quirks {
            omit_zero: true,
            ..Quirks::default()
        },
        plain_workers(6),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashrates_as_strings() {
    exact_run(
        Quirks {
            strings: true,
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_values_beside_real_ones_are_never_stored() {
    // The absurd entries duplicate real slots: the real value must win or stay.
    let (_s, _dir, summary) = exact_run(
        Quirks {
            absurd: true,
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
    assert!(summary.tickers_rejected > 0, "{}", summary.line());
}

// ---------------------------------------------------------------------------------------------
// Clocks and retention.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_clock_behind_ours_by_three_hours() {
    let (s, dir, _) = exact_run(
        Quirks {
            skew: -3 * HOUR,
            ..Quirks::default()
        },
        plain_workers(4),
    )
    .await;
    let db = dir.path().join("f.db");
    run_at(&s, &db, NOW + 5 * HOUR).await.expect("later run");
    assert_clean(&s.fake, &db, NOW + 5 * HOUR, "later run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_clock_ahead_of_ours_by_two_hours() {
    let (_s, dir, _) = exact_run(
        Quirks {
            skew: 2 * HOUR,
            ..Quirks::default()
        },
        plain_workers(4),
    )
    .await;
    let db = dir.path().join("f.db");
    let rows = stored(&db, SUB);
    assert!(
        rows.keys().all(|(_, _, ts)| *ts <= NOW),
        "no point after our clock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_account_daily_series_going_back_six_years() {
    exact_run(
        Quirks {
            kept_acc_days: 6 * 365,
            ..Quirks::default()
        },
        plain_workers(2),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_account_daily_series_going_back_twelve_years() {
    // Beyond the 3650 days assumed: "forever" is documented.
    exact_run(
        Quirks {
            kept_acc_days: 12 * 365,
            ..Quirks::default()
        },
        plain_workers(2),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_keeping_more_than_documented() {
    exact_run(
        Quirks {
            kept_acc_hours: 2_000,
            kept_w_hours: 200,
            kept_w_days: 400,
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_keeping_less_than_documented() {
    exact_run(
        Quirks {
            kept_acc_hours: 200,
            kept_w_hours: 30,
            kept_w_days: 20,
            kept_acc_days: 50,
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The worker list.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_size_capped_by_the_pool() {
    let (s, dir, _) = exact_run(
        Quirks {
            page_cap: Some(7),
            ..Quirks::default()
        },
        plain_workers(23),
    )
    .await;
    assert_eq!(names(&dir.path().join("f.db"), SUB), truth_names(&s.fake));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_number_ignored_all_on_every_page() {
    let (s, dir, _) = exact_run(
        Quirks {
            ignore_page_number: true,
            ..Quirks::default()
        },
        plain_workers(12),
    )
    .await;
    assert_eq!(names(&dir.path().join("f.db"), SUB), truth_names(&s.fake));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_worker_count_lies_low_with_small_pages() {
    // The pool serves at most 7 rows a page and claims 7 workers; 23 exist.
    let (s, dir, _) = exact_run(
        Quirks {
            page_cap: Some(7),
            total_override: Some(7),
            ..Quirks::default()
        },
        plain_workers(23),
    )
    .await;
    assert_eq!(names(&dir.path().join("f.db"), SUB), truth_names(&s.fake));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_worker_count_lies_high() {
    let (s, dir, _) = exact_run(
        Quirks {
            page_cap: Some(5),
            total_override: Some(1_000_000),
            ..Quirks::default()
        },
        plain_workers(12),
    )
    .await;
    assert_eq!(names(&dir.path().join("f.db"), SUB), truth_names(&s.fake));
    assert!(s.fake.requests.load(Ordering::SeqCst) < 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_numeric_and_oversized_worker_ids_skip_only_those_rows() {
    let mut workers = plain_workers(3);
    for bad in ["abc", "18446744073709551616", "-", "1e5"] {
        workers.push(FWorker {
            id_text: bad.into(),
            id: None,
            name: format!("bad {bad}"),
            tag: String::new(),
        });
    }
    let (s, dir, _) = exact_run(Quirks::default(), workers).await;
    assert_eq!(names(&dir.path().join("f.db"), SUB), truth_names(&s.fake));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_disappearing_between_listing_and_fetching() {
    let workers = plain_workers(4);
    let gone = workers[2].id;
    let (_s, dir, summary) = exact_run(
        Quirks {
            gone_worker: gone,
            ..Quirks::default()
        },
        workers,
    )
    .await;
    let rows = stored(&dir.path().join("f.db"), SUB);
    assert!(
        rows.keys().all(|(w, _, _)| *w != gone),
        "nothing for the gone worker"
    );
    assert!(summary.series_skipped >= 1, "{}", summary.line());
}

// ---------------------------------------------------------------------------------------------
// Faults, refusals, hostile answers.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifth_of_requests_failing_changes_nothing() {
    let clean = serve(Fake::new(SUB, KEY, plain_workers(5), Quirks::default())).await;
    let faulty = serve(Fake::new(
        SUB,
        KEY,
        plain_workers(5),
        Quirks {
            fault_rate: 0.2,
            ..Quirks::default()
        },
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("clean.db");
    let b = dir.path().join("faulty.db");
    run_at(&clean, &a, NOW).await.expect("clean");
    let run = run_at(&faulty, &b, NOW)
        .await
        .expect("faulty run still succeeds");
    assert!(faulty.fake.faults.load(Ordering::SeqCst) > 0);
    assert!(run.retries > 0);
    assert_eq!(stored(&a, SUB), stored(&b, SUB));
    assert_clean(&faulty.fake, &b, NOW, "first run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_with_retry_after_then_fine() {
    let (s, _dir, summary) = exact_run(
        Quirks {
            first_429: 2,
            ..Quirks::default()
        },
        plain_workers(2),
    )
    .await;
    assert!(summary.retries >= 2, "{}", summary.line());
    assert!(s.fake.requests.load(Ordering::SeqCst) > 2);
}

async fn refused(key_sent: &str, q: Quirks) -> (Served, String, std::time::Duration) {
    let s = serve(Fake::new(SUB, KEY, plain_workers(2), q)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    *s.fake.now.lock().unwrap() = NOW;
    let started = std::time::Instant::now();
    let error = ingest::run(options(&s.url, SUB, key_sent, &db, NOW))
        .await
        .expect_err("refused");
    let text = error.to_string();
    assert!(
        !dir_contains(dir.path(), key_sent),
        "key stored in the database"
    );
    (s, text, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_echoed_in_403_fails_at_once_unechoed() {
    let wrong = "wrong-key-REVIEW-403-abcdef";
    let (s, text, took) = refused(wrong, Quirks::default()).await;
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(text.contains("403"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert!(!logs_contain(wrong), "key in the logs");
    assert_eq!(s.fake.requests.load(Ordering::SeqCst), 1, "not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_answering_401_is_fatal_and_quick() {
    let s = serve(Fake::new(
        SUB,
        KEY,
        plain_workers(2),
        Quirks {
            series_status: Some((401, "text/plain", "Unauthorized")),
            ..Quirks::default()
        },
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let error = run_at(&s, &dir.path().join("f.db"), NOW)
        .await
        .expect_err("401 fails the run");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(error.to_string().contains("401"), "{error}");
    assert_eq!(s.fake.series_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_200_on_every_series_fails_the_run_without_storing_anything() {
    let s = serve(Fake::new(
        SUB,
        KEY,
        plain_workers(2),
        Quirks {
            series_status: Some((200, "text/html", "<html><body>Login</body></html>")),
            ..Quirks::default()
        },
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let started = std::time::Instant::now();
    let error = run_at(&s, &db, NOW).await.expect_err("not a success");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(error.to_string().contains("HTML"), "{error}");
    assert!(stored(&db, SUB).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_echoed_in_a_200_body_reaches_no_error_log_or_db() {
    let key = "ECHO-KEY-0f0e0d0c-REVIEW";
    let s = serve(Fake::new(
        SUB,
        key,
        plain_workers(2),
        Quirks {
            echo_key_200: true,
            ..Quirks::default()
        },
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let result = run_at(&s, &db, NOW).await;
    let text = match &result {
        Ok(summary) => summary.line(),
        Err(e) => e.to_string(),
    };
    assert!(
        result.is_err(),
        "a series not collected is a failed run: {text}"
    );
    assert!(!text.contains(key), "{text}");
    assert!(!logs_contain(key), "key in the logs");
    assert!(!dir_contains(dir.path(), key), "key in the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_to_another_host_never_carries_the_key() {
    let key = "REDIRECT-KEY-REVIEW-99";
    let other = serve(Fake::new(SUB, key, plain_workers(2), Quirks::default())).await;
    let s = serve(Fake::new(
        SUB,
        key,
        plain_workers(2),
        Quirks {
            redirect_to: Some(other.url.clone()),
            ..Quirks::default()
        },
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let error = run_at(&s, &dir.path().join("f.db"), NOW)
        .await
        .expect_err("a redirect elsewhere is refused");
    let heads = other.fake.heads.lock().unwrap().clone();
    assert!(
        heads.iter().all(|h| !h.contains(key)),
        "key reached the other host: {heads:?}"
    );
    assert!(!error.to_string().contains(key), "{error}");
    assert_eq!(s.fake.requests.load(Ordering::SeqCst), 1, "not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_buckets_with_different_values_keep_a_consistent_value() {
    // Each bucket comes twice in one answer, a wrong copy first: the last one sent is kept.
    // (foundry.md says to deduplicate by ts; this pins which copy wins, and that the run is
    // stable across re-runs.)
    let (s, dir, _) = exact_run(
        Quirks {
            duplicates: true,
            ..Quirks::default()
        },
        plain_workers(2),
    )
    .await;
    let db = dir.path().join("f.db");
    let before = stored(&db, SUB);
    run_at(&s, &db, NOW).await.unwrap();
    assert_eq!(before, stored(&db, SUB));
}

/// A raw pool: the worker list is fine, every series answer is an endless JSON array.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_series_body_is_cut_and_the_run_ends() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    capture_logs();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&served);
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&head).into_owned();
                if head.starts_with("GET /workers/") {
                    let body = json!({"workersList": [{"workerId": "5", "workerName": "w",
                        "lastShareTime": "2026-11-20T12:00:00Z", "tag": ""}], "totalWorkerCount": 1})
                    .to_string();
                    let _ = stream
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .await;
                    return;
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[")
                    .await;
                let chunk = "{\"time\":\"2026-11-20T00:00:00Z\",\"unixTime\":1763596800,\"hashrateAccepted\":1,\"hashrateStale\":0,\"hashrateRejected\":0},".repeat(200);
                loop {
                    if stream.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        ingest::run(options(&url, SUB, KEY, &db, NOW)),
    )
    .await
    .expect("the run ends");
    task.abort();
    assert!(result.is_err(), "endless bodies are a failed run");
    assert!(started.elapsed() < Duration::from_secs(120));
    assert!(stored(&db, SUB).is_empty());
    let _ = std::io::stderr().flush();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_unixtime_in_milliseconds() {
    exact_run(
        Quirks {
            unix_only_ms: true,
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "known limit: beyond the documented retention, a weeks-long run of left-out buckets is taken for the start of history"]
async fn worker_offline_for_weeks_on_a_pool_keeping_more_than_documented() {
    // Worker 1000 mined nothing 80..=130 slots back (hours and days), and the pool, keeping
    // more than documented, leaves those buckets out. Its older history must still be copied.
    exact_run(
        Quirks {
            kept_w_hours: 200,
            kept_w_days: 200,
            omit_zero: true,
            offline: Some((80, 130)),
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_offline_for_weeks_sent_as_zeros() {
    exact_run(
        Quirks {
            kept_w_hours: 200,
            kept_w_days: 200,
            offline: Some((80, 130)),
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sub_account_404_fails_at_once() {
    let s = serve(Fake::new("other", KEY, plain_workers(2), Quirks::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let error = ingest::run(options(&s.url, SUB, KEY, &dir.path().join("f.db"), NOW))
        .await
        .expect_err("404 fails");
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = error.to_string();
    assert!(text.contains("404"), "{text}");
    assert_eq!(s.fake.requests.load(Ordering::SeqCst), 1, "not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_clock_ahead_then_a_later_run_corrects_everything() {
    let (s, dir, _) = exact_run(
        Quirks {
            skew: 2 * HOUR,
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
    let db = dir.path().join("f.db");
    run_at(&s, &db, NOW + 30 * HOUR).await.expect("later run");
    assert_clean(&s.fake, &db, NOW + 30 * HOUR, "later run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_ids_as_json_numbers_beyond_2_pow_53() {
    let (s, dir, _) = exact_run(
        Quirks {
            numeric_ids: true,
            ..Quirks::default()
        },
        hostile_workers(),
    )
    .await;
    assert_eq!(names(&dir.path().join("f.db"), SUB), truth_names(&s.fake));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_bucket_never_published() {
    let (s, dir, _) = exact_run(
        Quirks {
            no_live: true,
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
    let db = dir.path().join("f.db");
    run_at(&s, &db, NOW + 26 * HOUR).await.expect("later run");
    assert_clean(&s.fake, &db, NOW + 26 * HOUR, "later run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifth_of_series_answers_transiently_empty_loses_nothing() {
    // A 200 `[]` for a window the pool holds data in (its account series already showed data
    // up to now, the worker is listed as active). Everything here is kept at the pool; the
    // run must not advance past data it never saw. Later runs must be able to fill it in.
    let faulty = serve(Fake::new(
        SUB,
        KEY,
        plain_workers(5),
        Quirks {
            empty_rate: 0.2,
            ..Quirks::default()
        },
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let _ = run_at(&faulty, &db, NOW).await;
    assert!(faulty.fake.faults.load(Ordering::SeqCst) > 0);
    // Two more nights, same faults: nothing the pool still holds may stay missing.
    let _ = run_at(&faulty, &db, NOW + DAY).await;
    let _ = run_at(&faulty, &db, NOW + 2 * DAY).await;
    assert_clean(&faulty.fake, &db, NOW + 2 * DAY, "after three nights");
}

// ---------------------------------------------------------------------------------------------
// The command line, as acceptance runs it.

fn cli(url: &str, db: &Path, key: &str, sub: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_poolhist"))
        .arg("--db")
        .arg(db)
        .args([
            "ingest",
            "--pool",
            "foundry",
            "--account",
            sub,
            "--api-url",
            url,
            "--rate",
            "0",
        ])
        .env("POOLHIST_ACCESS_KEY", key)
        .env_remove("POOLHIST_CONFIG")
        .env_remove("POOLHIST_ACCESS_KEY_FILE")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_wrong_key_exits_non_zero_at_once_without_echo() {
    let wrong = "cli-wrong-key-REVIEW-7788";
    let s = serve(Fake::new(SUB, KEY, plain_workers(2), Quirks::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let started = std::time::Instant::now();
    let url = s.url.clone();
    let dbc = db.clone();
    let out = tokio::task::spawn_blocking(move || cli(&url, &dbc, wrong, SUB))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit status {:?}", out.status);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        !stdout.contains(wrong) && !stderr.contains(wrong),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("403"), "{stderr}");
    assert!(!dir_contains(dir.path(), wrong));
    assert_eq!(s.fake.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_run_against_a_hostile_pool_is_exact_and_idempotent() {
    let now = chrono::Utc::now().timestamp();
    let s = serve(Fake::new(
        SUB,
        KEY,
        hostile_workers(),
        Quirks {
            odd_times: true,
            newest_first: true,
            fault_rate: 0.2,
            overlap: true,
            ..Quirks::default()
        },
    ))
    .await;
    *s.fake.now.lock().unwrap() = now;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let (url, dbc) = (s.url.clone(), db.clone());
    let out = tokio::task::spawn_blocking(move || cli(&url, &dbc, KEY, SUB))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(KEY) && !String::from_utf8_lossy(&out.stdout).contains(KEY));
    let first_out = out;
    let p = problems(&s.fake, &db, chrono::Utc::now().timestamp(), true);
    assert!(p.is_empty(), "{:#?}", &p[..p.len().min(10)]);
    assert_eq!(names(&db, SUB), truth_names(&s.fake));
    let before = stored(&db, SUB);
    let (url, dbc) = (s.url.clone(), db.clone());
    let first_points = tickers_in(&first_out);
    let out = tokio::task::spawn_blocking(move || cli(&url, &dbc, KEY, SUB))
        .await
        .unwrap();
    assert!(out.status.success());
    let second_points = tickers_in(&out);
    assert!(
        second_points * 10 < first_points,
        "second run fetched {second_points} points, the first {first_points}"
    );
    let after = stored(&db, SUB);
    // Only the live bucket may move (the clock runs on between the two runs).
    let changed: Vec<_> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v) && !v.2)
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_end_taken_as_exclusive() {
    exact_run(
        Quirks {
            end_exclusive: true,
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_stopped_recently_and_its_empty_hours_left_out() {
    let (s, dir, _) = exact_run(
        Quirks {
            omit_zero: true,
            offline: Some((0, 20)),
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
    let db = dir.path().join("f.db");
    run_at(&s, &db, NOW + DAY).await.expect("next day");
    assert_clean(&s.fake, &db, NOW + DAY, "next day");
}

/// The "N tickers" of the summary line a run prints.
fn tickers_in(out: &std::process::Output) -> u64 {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let at = text
        .find(" tickers")
        .unwrap_or_else(|| panic!("no summary line: {text}"));
    text[..at]
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ticker count: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_ignored_the_default_window_always_comes_back() {
    // The pool keeps no more than its default windows, so everything it holds is reachable.
    exact_run(
        Quirks {
            ignore_range: true,
            kept_acc_hours: 7 * 24,
            kept_w_hours: 72,
            kept_acc_days: 30,
            kept_w_days: 30,
            ..Quirks::default()
        },
        plain_workers(3),
    )
    .await;
}

async fn at_midnight(skew: i64, our_now: i64) {
    let s = serve(Fake::new(
        SUB,
        KEY,
        plain_workers(3),
        Quirks {
            skew,
            ..Quirks::default()
        },
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    run_at(&s, &db, our_now).await.expect("first run");
    assert_clean(&s.fake, &db, our_now, "first run");
    run_at(&s, &db, our_now + DAY + 5 * HOUR)
        .await
        .expect("next run");
    assert_clean(&s.fake, &db, our_now + DAY + 5 * HOUR, "next run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn just_after_midnight_with_the_pool_three_hours_behind() {
    at_midnight(-3 * HOUR, NOW.div_euclid(DAY) * DAY + DAY + 1_800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn just_before_midnight_with_the_pool_two_hours_ahead() {
    at_midnight(2 * HOUR, NOW.div_euclid(DAY) * DAY + DAY - 1_800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transient_empty_answer_to_the_first_probe_loses_history_for_good() {
    // Only the very first series request (the sub-account hourly probe) answers `[]`.
    let s = serve(Fake::new(
        SUB,
        KEY,
        plain_workers(2),
        Quirks {
            empty_first: 1,
            ..Quirks::default()
        },
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let _ = run_at(&s, &db, NOW).await;
    let _ = run_at(&s, &db, NOW + HOUR).await;
    assert_clean(&s.fake, &db, NOW + HOUR, "after a second, clean run");
}
