//! The HTTP side: routes, the key check, parameters and the endpoints' answers, every response
//! leaving through `FoundrySim::finish` (the one place faults are injected).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::conn::{SimListener, Tap};
use super::farm::{floor_to, fmix, mixed, tag, text_hash, Shares, Worker, DAY, HOUR};
use super::fault::{self, FoundryFaultKind};
use super::wire::{self, NumberStyle, SeriesStyle, TimeStyle};
use super::{FoundryEndpoint, FoundrySeries, FoundrySim};
use crate::pools::sim_common::{http_response, spawn_on_loopback};

/// Serves on an already-bound listener until the task is aborted.
pub async fn serve(sim: Arc<FoundrySim>, listener: TcpListener) -> std::io::Result<()> {
    axum::serve(
        SimListener(listener),
        router(sim).into_make_service_with_connect_info::<Tap>(),
    )
    .await
}

/// Binds 127.0.0.1:0 and spawns `serve`; returns the base URL (`http://127.0.0.1:PORT`, no
/// trailing slash) and the task.
pub async fn spawn_local(
    sim: Arc<FoundrySim>,
) -> std::io::Result<(String, JoinHandle<std::io::Result<()>>)> {
    spawn_on_loopback("", |listener| serve(sim, listener)).await
}

pub(super) async fn serve_until(
    sim: Arc<FoundrySim>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        SimListener(listener),
        router(sim).into_make_service_with_connect_info::<Tap>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;
type PathParams = Result<Path<HashMap<String, String>>, PathRejection>;

/// One handler per route, all alike but for the endpoint they count as.
macro_rules! handler {
    ($name:ident, $kind:expr) => {
        async fn $name(
            State(sim): State<Arc<FoundrySim>>,
            ConnectInfo(tap): ConnectInfo<Tap>,
            headers: HeaderMap,
            uri: Uri,
            path: PathParams,
            query: Params,
        ) -> Response {
            dispatch(&sim, &tap, $kind, &headers, &uri, path, query).await
        }
    };
}

handler!(workers, FoundryEndpoint::Workers);
handler!(worker, FoundryEndpoint::Worker);
handler!(sub_hour, FoundryEndpoint::SubAccountHour);
handler!(sub_day, FoundryEndpoint::SubAccountDay);
handler!(worker_hour, FoundryEndpoint::WorkerHour);
handler!(worker_day, FoundryEndpoint::WorkerDay);
handler!(auth_test, FoundryEndpoint::AuthenticationTest);
handler!(coins, FoundryEndpoint::Coins);

async fn unknown(
    State(sim): State<Arc<FoundrySim>>,
    ConnectInfo(tap): ConnectInfo<Tap>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let call = Call::new(
        FoundryEndpoint::Unknown,
        uri.path(),
        &headers,
        Some(Vec::new()),
    );
    send(sim.handle(call), &tap).await
}

fn router(sim: Arc<FoundrySim>) -> Router {
    Router::new()
        .route("/workers/{sub}", get(workers))
        .route("/workers/{sub}/{name}", get(worker))
        .route("/subaccount_hashrate_hour/{sub}", get(sub_hour))
        .route("/subaccount_hashrate_day/{sub}", get(sub_day))
        .route("/worker_hashrate_hour/{sub}/{id}", get(worker_hour))
        .route("/worker_hashrate_day/{sub}/{id}", get(worker_day))
        .route("/authentication_test", get(auth_test))
        .route("/coins", get(coins))
        .fallback(unknown)
        .method_not_allowed_fallback(unknown)
        .with_state(sim)
}

async fn dispatch(
    sim: &FoundrySim,
    tap: &Tap,
    kind: FoundryEndpoint,
    headers: &HeaderMap,
    uri: &Uri,
    path: PathParams,
    query: Params,
) -> Response {
    let params = query.ok().map(|Query(params)| params);
    let mut call = Call::new(kind, uri.path(), headers, params);
    match path {
        Ok(Path(mut parts)) => {
            call.sub = parts.remove("sub");
            call.item = parts.remove("name").or_else(|| parts.remove("id"));
        }
        // Not UTF-8 once decoded: no such sub-account or worker.
        Err(_) => call.bad_path = true,
    }
    send(sim.handle(call), tap).await
}

/// How the answer's bytes go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delivery {
    Whole,
    /// Declare the whole length, send `sent` bytes, close.
    Cut {
        sent: usize,
    },
    /// Close the connection before any byte.
    Reset,
}

/// An answer as it goes on the wire, faults included.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub retry_after: Option<&'static str>,
    pub body: Vec<u8>,
    pub delay: Option<Duration>,
    pub delivery: Delivery,
    pub fault: Option<FoundryFaultKind>,
}

impl Reply {
    #[cfg(test)]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(reply: Reply, tap: &Tap) -> Response {
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    // The whole answer goes to hyper (so `Content-Length` is the whole body's); the socket
    // lets only part of it through.
    match reply.delivery {
        Delivery::Whole => {}
        Delivery::Cut { sent } => tap.cut_after(sent),
        Delivery::Reset => tap.reset(),
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    http_response(status, reply.content_type, reply.retry_after, reply.body)
}

/// One request as the handlers pass it on: plain data, so the tests can build it too.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub kind: FoundryEndpoint,
    pub path: String,
    pub sub: Option<String>,
    /// The worker name (detail) or id (series), decoded.
    pub item: Option<String>,
    pub bad_path: bool,
    pub api_key: Option<String>,
    /// None: a query that did not parse.
    pub params: Option<Vec<(String, String)>>,
}

impl Call {
    pub fn new(
        kind: FoundryEndpoint,
        path: &str,
        headers: &HeaderMap,
        params: Option<Vec<(String, String)>>,
    ) -> Call {
        Call {
            kind,
            path: path.to_string(),
            sub: None,
            item: None,
            bad_path: false,
            api_key: headers
                .get("x-api-key")
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()),
            params,
        }
    }
}

/// Why a request gets no data.
#[derive(Debug)]
enum Fail {
    BadRequest(String),
    /// The key sent, if any.
    Forbidden(Option<String>),
    NotFound(&'static str),
}

/// A successful answer.
enum Answer {
    Json { body: Value, points: u64 },
    Text(String),
}

/// The query of one request (first value of each name wins; empty values count as absent)
/// and the hash that picks its quirks.
struct Request {
    params: Vec<(String, String)>,
    key: u64,
}

impl Request {
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.trim())
    }

    fn int(&self, name: &str) -> Result<Option<i64>, Fail> {
        self.get(name)
            .map(|text| {
                text.parse::<i64>()
                    .map_err(|_| Fail::BadRequest(format!("{name} must be an integer")))
            })
            .transpose()
    }

    fn choice(&self, what: u64) -> u64 {
        fmix(self.key ^ what.wrapping_mul(0x9FB2_1C65_1E98_DF25))
    }
}

/// A worker's live figures for one list or detail answer.
struct WorkerNow<'a> {
    w: &'a Worker,
    /// 5m, 15m, 1h totals, GH/s.
    rates: [f64; 3],
    /// Fractions of the current hour.
    mix: Shares,
    last_share: i64,
}

impl WorkerNow<'_> {
    fn accepted(&self, window: usize) -> f64 {
        (self.rates[window] * self.mix.accepted).round()
    }

    fn stale(&self, window: usize) -> f64 {
        (self.rates[window] * self.mix.stale).round()
    }

    fn rejected(&self, window: usize) -> f64 {
        (self.rates[window] * self.mix.rejected).round()
    }

    fn percent_of_15m(&self, part: f64) -> f64 {
        if self.rates[1] > 0.0 {
            (part / self.rates[1] * 100_000.0).round() / 1_000.0
        } else {
            0.0
        }
    }
}

/// A point the pool keeps.
pub(super) struct Kept {
    pub ts: i64,
    pub shares: Shares,
    /// Mean workers hashing (sub-account series), -1.0 where pending.
    pub average_workers: f64,
}

impl FoundrySim {
    /// One request, start to finish: count it, check the key, answer, maybe fail it.
    pub(super) fn handle(&self, call: Call) -> Reply {
        self.counters.requests[call.kind as usize].fetch_add(1, AtomicOrdering::Relaxed);
        let mut text = format!("{:?} {}?", call.kind, call.path);
        for (name, value) in call.params.iter().flatten() {
            text.push_str(&format!("{name}={value}&"));
        }
        let request = Request {
            params: call.params.clone().unwrap_or_default(),
            key: mixed(self.config.seed, &[tag::REQUEST, text_hash(&text)]),
        };
        let result = if call.kind == FoundryEndpoint::Unknown {
            Err(Fail::NotFound("No such endpoint"))
        } else if call.params.is_none() {
            Err(Fail::BadRequest("malformed query string".into()))
        } else {
            self.answer(&call, &request)
        };
        self.finish(&call, &request, result)
    }

    fn answer(&self, call: &Call, request: &Request) -> Result<Answer, Fail> {
        if call.kind == FoundryEndpoint::Coins {
            return Ok(Answer::Json {
                body: json!(["BTC", "BCH"]),
                points: 0,
            });
        }
        if call.api_key.as_deref() != Some(self.config.access_key.as_str()) {
            return Err(Fail::Forbidden(call.api_key.clone()));
        }
        if call.kind == FoundryEndpoint::AuthenticationTest {
            return Ok(Answer::Text(format!(
                "Authenticated with an API key for sub-account {}. Your role is Viewer.",
                self.config.sub_account
            )));
        }
        if call.bad_path || call.sub.as_deref() != Some(self.config.sub_account.as_str()) {
            return Err(Fail::NotFound("Sub-account not found"));
        }
        // The farm mines BTC only: another coin has no data.
        let other_coin = request
            .get("coin")
            .is_some_and(|coin| !coin.eq_ignore_ascii_case("BTC"));
        let now = self.now();
        let item = call.item.as_deref().unwrap_or_default();
        match call.kind {
            FoundryEndpoint::Workers => self.worker_list(request, now, other_coin),
            FoundryEndpoint::Worker => {
                let w = self
                    .farm
                    .by_name(item, now)
                    .filter(|_| !other_coin)
                    .ok_or(Fail::NotFound("Worker not found"))?;
                let now_w = self.worker_now(w, now, 0);
                Ok(Answer::Json {
                    body: self.worker_row(&now_w, request, now),
                    points: 0,
                })
            }
            FoundryEndpoint::SubAccountHour => {
                self.series(FoundrySeries::SubAccountHour, request, now, other_coin)
            }
            FoundryEndpoint::SubAccountDay => {
                self.series(FoundrySeries::SubAccountDay, request, now, other_coin)
            }
            FoundryEndpoint::WorkerHour | FoundryEndpoint::WorkerDay => {
                let id = item
                    .parse::<i64>()
                    .map_err(|_| Fail::BadRequest("workerId must be a 64-bit integer".into()))?;
                let known = self.farm.by_id(id, now).is_some();
                if call.kind == FoundryEndpoint::WorkerHour {
                    // No error is documented here: an unknown worker has no hours.
                    if !known {
                        return Ok(Answer::Json {
                            body: json!([]),
                            points: 0,
                        });
                    }
                    self.series(FoundrySeries::WorkerHour(id), request, now, other_coin)
                } else {
                    if !known {
                        return Err(Fail::NotFound("Worker not found"));
                    }
                    self.series(FoundrySeries::WorkerDay(id), request, now, other_coin)
                }
            }
            FoundryEndpoint::AuthenticationTest
            | FoundryEndpoint::Coins
            | FoundryEndpoint::Unknown => Err(Fail::NotFound("No such endpoint")),
        }
    }

    /// Writes the answer and injects the request's fault, if it gets one.
    fn finish(&self, call: &Call, request: &Request, result: Result<Answer, Fail>) -> Reply {
        let now = self.now();
        let (status, content_type, body, points) = match result {
            Ok(Answer::Json { body, points }) => {
                (200, "application/json", body.to_string(), points)
            }
            Ok(Answer::Text(text)) => (200, "text/plain;charset=UTF-8", text, 0),
            Err(fail) => {
                self.counters.errors.fetch_add(1, AtomicOrdering::Relaxed);
                let as_json = request.choice(1).is_multiple_of(2);
                let (status, error, message) = match fail {
                    Fail::BadRequest(message) => (400, "Bad Request", message),
                    Fail::NotFound(message) => (404, "Not Found", message.to_string()),
                    Fail::Forbidden(sent) => {
                        let mut message = if call.kind.is_series() {
                            "User does not have permission viewPayments".to_string()
                        } else {
                            "Access Denied".to_string()
                        };
                        if let Some(sent) = sent.filter(|_| self.config.echo_key_in_errors) {
                            message = format!("Invalid API key '{sent}': {message}");
                        }
                        (403, "Forbidden", message)
                    }
                };
                if as_json {
                    let body = wire::error_json(status, error, &message, &call.path, now);
                    (status, "application/json", body, 0)
                } else {
                    (status, "text/plain;charset=UTF-8", message, 0)
                }
            }
        };
        let fault = if call.kind == FoundryEndpoint::Unknown {
            None
        } else {
            self.faults.decide(request.key, body.len() >= 2)
        };
        let mut reply = Reply {
            status,
            content_type,
            retry_after: None,
            body: body.into_bytes(),
            delay: None,
            delivery: Delivery::Whole,
            fault,
        };
        if let Some(kind) = fault {
            if let Some(index) = FoundryFaultKind::ALL.iter().position(|&k| k == kind) {
                self.counters.faults[index].fetch_add(1, AtomicOrdering::Relaxed);
            }
            let cut = fault::cut_at(reply.body.len(), request.choice(2));
            if let Some((status, retry_after, page)) = kind.error_page() {
                reply.status = status;
                reply.retry_after = retry_after;
                reply.content_type = "text/html";
                reply.body = page.into_bytes();
            } else {
                match kind {
                    FoundryFaultKind::TruncatedJson => reply.body.truncate(cut),
                    FoundryFaultKind::CutMidStream => reply.delivery = Delivery::Cut { sent: cut },
                    FoundryFaultKind::ConnectionReset => reply.delivery = Delivery::Reset,
                    _ => reply.delay = Some(Duration::from_millis(self.config.fault_slow_ms)),
                }
            }
        }
        let delivered = matches!(fault, None | Some(FoundryFaultKind::Slow));
        if delivered {
            self.counters
                .points
                .fetch_add(points, AtomicOrdering::Relaxed);
        }
        reply
    }

    fn worker_now<'a>(&self, w: &'a Worker, now: i64, sample: u64) -> WorkerNow<'a> {
        let (rates, mix) = self.farm.realtime(w, now, sample);
        WorkerNow {
            w,
            rates,
            mix,
            last_share: self.farm.last_share_ts(w, now),
        }
    }

    fn worker_list(&self, request: &Request, now: i64, other_coin: bool) -> Result<Answer, Fail> {
        let page = request.int("pageNumber")?.unwrap_or(0);
        if page < 0 {
            return Err(Fail::BadRequest("pageNumber must be 0 or more".into()));
        }
        let cap = i64::from(self.config.max_page_size.max(1));
        let size = match request.int("pageSize")?.unwrap_or(-1) {
            -1 => cap,
            size if size >= 1 => size.min(cap),
            _ => return Err(Fail::BadRequest("pageSize must be positive or -1".into())),
        };
        let status = request.get("status").unwrap_or("all");
        let age_ok: fn(i64) -> bool = match status {
            "all" => |_| true,
            "online<15min" => |age| age < 15 * 60,
            "offline<24hr" => |age| (15 * 60..DAY).contains(&age),
            "offline>24hr" => |age| age >= DAY,
            _ => return Err(Fail::BadRequest(format!("unknown status {status:?}"))),
        };
        let tag_filter = request.get("tag").unwrap_or("all");
        let search = request
            .get("workerNameSearchStr")
            .map(str::to_lowercase)
            .unwrap_or_default();
        let sort = request.get("sort").unwrap_or("highestHashrate");
        type Order = fn(&WorkerNow<'_>, &WorkerNow<'_>) -> std::cmp::Ordering;
        let order: Order = match sort {
            "highestHashrate" => |a, b| b.rates[0].total_cmp(&a.rates[0]),
            "lowestHashrate" => |a, b| a.rates[0].total_cmp(&b.rates[0]),
            "highestReject" => |a, b| b.mix.rejected.total_cmp(&a.mix.rejected),
            "lowestReject" => |a, b| a.mix.rejected.total_cmp(&b.mix.rejected),
            "newestShareTime" => |a, b| b.last_share.cmp(&a.last_share),
            "oldestShareTime" => |a, b| a.last_share.cmp(&b.last_share),
            "workerName" => |a, b| a.w.name.cmp(&b.w.name),
            "reverseWorkerName" => |a, b| b.w.name.cmp(&a.w.name),
            "tagName" => |a, b| a.w.tag.cmp(&b.w.tag).then(a.w.name.cmp(&b.w.name)),
            "reverseTagName" => |a, b| b.w.tag.cmp(&a.w.tag).then(b.w.name.cmp(&a.w.name)),
            _ => return Err(Fail::BadRequest(format!("unknown sort {sort:?}"))),
        };
        // Each page reads the live figures at its own moment, so hashrate orders drift between
        // pages (`workerName` does not).
        let sample = page as u64;
        let mut rows: Vec<WorkerNow<'_>> = self
            .farm
            .workers_at(now)
            .filter(|_| !other_coin)
            .filter(|w| match tag_filter {
                "all" => true,
                "untagged" => w.tag.is_empty(),
                name => w.tag == name,
            })
            .filter(|w| search.is_empty() || w.name.to_lowercase().contains(&search))
            .map(|w| self.worker_now(w, now, sample))
            .filter(|row| age_ok(now - row.last_share))
            .collect();
        rows.sort_by(|a, b| order(a, b).then(a.w.id.cmp(&b.w.id)));
        let total = rows.len();
        let skip = usize::try_from(page.saturating_mul(size)).unwrap_or(usize::MAX);
        let list: Vec<Value> = rows
            .iter()
            .skip(skip)
            .take(size as usize)
            .map(|row| self.worker_row(row, request, now))
            .collect();
        Ok(Answer::Json {
            body: json!({ "workersList": list, "totalWorkerCount": total }),
            points: 0,
        })
    }

    /// A `WorkerResponse`.
    fn worker_row(&self, row: &WorkerNow<'_>, request: &Request, now: i64) -> Value {
        let numbers = NumberStyle::pick(request.choice(10));
        let time = TimeStyle::pick(request.choice(11));
        let n = |v: f64| numbers.other(v);
        let mut fields = serde_json::Map::new();
        fields.insert("workerId".into(), json!(row.w.id.to_string()));
        fields.insert("workerName".into(), json!(row.w.name));
        for (name, window) in [("hashrate_5m", 0), ("hashrate_15m", 1), ("hashrate_1h", 2)] {
            fields.insert(name.into(), n(row.accepted(window)));
        }
        fields.insert("stale_15m".into(), n(row.stale(1)));
        fields.insert("stale_1h".into(), n(row.stale(2)));
        fields.insert("reject_15m".into(), n(row.rejected(1)));
        fields.insert("reject_1h".into(), n(row.rejected(2)));
        fields.insert(
            "stale15mPercent".into(),
            json!(row.percent_of_15m(row.stale(1))),
        );
        fields.insert(
            "reject15mPercent".into(),
            json!(row.percent_of_15m(row.rejected(1))),
        );
        let detail = request.choice(12 ^ (row.w.id as u64));
        fields.insert(
            "rejectDetail_15m".into(),
            json!(wire::reject_detail(row.rejected(1), detail)),
        );
        fields.insert(
            "rejectDetail_1h".into(),
            json!(wire::reject_detail(row.rejected(2), detail)),
        );
        fields.insert("lastShareTime".into(), json!(time.format(row.last_share)));
        if request.choice(13).is_multiple_of(2) {
            fields.insert("updatedAt".into(), json!(time.format(floor_to(now, 60))));
        }
        fields.insert("tag".into(), json!(row.w.tag));
        Value::Object(fields)
    }

    /// A requested range as inclusive milliseconds `(start, end)`; ms parameters win.
    fn range(&self, request: &Request, daily: bool, now: i64) -> Result<(i64, i64), Fail> {
        let ms = |name: &str| -> Result<Option<i64>, Fail> {
            // The spec's default for the ms parameters is 0: read as "not given".
            Ok(request.int(name)?.filter(|&v| v != 0))
        };
        let text = |name: &str, end: bool| -> Result<Option<i64>, Fail> {
            request
                .get(name)
                .map(|value| {
                    parse_time_ms(value, end)
                        .ok_or_else(|| Fail::BadRequest(format!("{name}: cannot read {value:?}")))
                })
                .transpose()
        };
        let default_start = if daily {
            (floor_to(now, DAY) - 30 * DAY) * 1_000
        } else {
            (now - 7 * DAY) * 1_000
        };
        let start = match ms("startDateUnixMs")? {
            Some(v) => v,
            None => text("start", false)?.unwrap_or(default_start),
        };
        let end = match ms("endDateUnixMs")? {
            Some(v) => v,
            None => text("end", true)?.unwrap_or(now.saturating_mul(1_000)),
        };
        Ok((start, end))
    }

    /// The points of `series` kept now whose bucket starts within `[start_ms, end_ms]`,
    /// oldest first; buckets without data left out.
    pub(super) fn kept(
        &self,
        series: FoundrySeries,
        start_ms: i64,
        end_ms: i64,
        now: i64,
    ) -> Vec<Kept> {
        let step = series.step_seconds();
        let (oldest, current) = self.retention_window(series);
        let step_ms = i128::from(step) * 1_000;
        let first = (i128::from(start_ms) + step_ms - 1).div_euclid(step_ms) * i128::from(step);
        let last = i128::from(end_ms).div_euclid(step_ms) * i128::from(step);
        let first = first.max(i128::from(oldest)) as i64;
        let last = last.min(i128::from(current)) as i64;
        let pending_until = now - HOUR;
        let mut points = Vec::new();
        let mut bucket = first;
        while bucket <= last {
            if let Some((shares, workers)) = self.farm.point_at(series, bucket, now) {
                let average_workers =
                    if series == FoundrySeries::SubAccountDay && bucket + DAY > pending_until {
                        -1.0
                    } else {
                        workers
                    };
                points.push(Kept {
                    ts: bucket,
                    shares,
                    average_workers,
                });
            }
            bucket += step;
        }
        points
    }

    fn series(
        &self,
        series: FoundrySeries,
        request: &Request,
        now: i64,
        other_coin: bool,
    ) -> Result<Answer, Fail> {
        let daily = series.step_seconds() == DAY;
        let (start_ms, end_ms) = self.range(request, daily, now)?;
        if other_coin {
            return Ok(Answer::Json {
                body: json!([]),
                points: 0,
            });
        }
        let zeros = request.choice(20) % 3;
        let mut points: Vec<Kept> = self
            .kept(series, start_ms, end_ms, now)
            .into_iter()
            .filter(|p| {
                !p.shares.is_zero()
                    || match zeros {
                        0 => false,
                        1 => true,
                        _ => request.choice(p.ts as u64).is_multiple_of(2),
                    }
            })
            .collect();
        match request.choice(21) % 3 {
            0 => {}
            1 => points.reverse(),
            _ => {
                // A deterministic Fisher-Yates.
                for i in (1..points.len()).rev() {
                    let j = (request.choice(1_000 + i as u64) % (i as u64 + 1)) as usize;
                    points.swap(i, j);
                }
            }
        }
        let style = SeriesStyle::pick(request.choice(22));
        let step = series.step_seconds();
        let with_workers = series == FoundrySeries::SubAccountDay;
        let list: Vec<Value> = points
            .iter()
            .map(|p| {
                style.element(
                    p.ts,
                    step,
                    p.shares,
                    with_workers.then_some(p.average_workers),
                )
            })
            .collect();
        Ok(Answer::Json {
            points: list.len() as u64,
            body: Value::Array(list),
        })
    }
}

/// A range bound in ms: `YYYY-MM-DD` (midnight, or the day's last millisecond for an end),
/// `YYYY-MM-DDTHH:mm:ss[.SSS]` read as UTC, or RFC 3339 with an offset.
fn parse_time_ms(text: &str, end: bool) -> Option<i64> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
        return Some(if end {
            midnight + DAY * 1_000 - 1
        } else {
            midnight
        });
    }
    if let Ok(time) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(time.and_utc().timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.timestamp_millis())
}
