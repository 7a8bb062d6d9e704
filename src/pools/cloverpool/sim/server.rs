//! The HTTP side: routes, authentication, parameters and the endpoints' data, every response
//! leaving through `Simulator::finish`.

use std::cmp::Ordering;
use std::future::Future;
use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::model::Dimension;
use crate::pools::sim_common::{http_response, spawn_on_loopback};

use super::fault::{self, Decision, FaultKind};
use super::wire::{self, NumberStyle, UNITS};
use super::world::{self, floor_to, hash, hash_str, mix64, tag, Series, WorkerSpec};
use super::{EndpointKind, SimPoint, SimWorkerStatus, Simulator};

/// Serves on an already-bound listener until the future is dropped / the task aborted.
pub async fn serve(sim: Arc<Simulator>, listener: TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(sim)).await
}

/// Binds 127.0.0.1:0, spawns `serve` on the current runtime; returns the base URL
/// (`http://127.0.0.1:PORT/v1`) and the task.
pub async fn spawn_local(
    sim: Arc<Simulator>,
) -> std::io::Result<(String, JoinHandle<std::io::Result<()>>)> {
    spawn_on_loopback("/v1", |listener| serve(sim, listener)).await
}

pub(crate) async fn serve_until(
    sim: Arc<Simulator>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(sim))
        .with_graceful_shutdown(shutdown)
        .await
}

fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route("/v1/worker", get(worker_list))
        .route("/v1/worker/groups", get(groups))
        .route("/v1/worker/stats", get(stats))
        .route("/v1/worker/share-history", get(account_history))
        .route("/v1/worker/update", get(worker_detail).post(worker_update))
        .route("/v1/worker/{worker_id}", get(worker_detail))
        .route("/v1/worker/{worker_id}/share-history", get(worker_history))
        .fallback(unknown_path)
        .method_not_allowed_fallback(unknown_path)
        .with_state(sim)
}

type QueryParams = Result<Query<Vec<(String, String)>>, QueryRejection>;
type WorkerPath = Result<Path<String>, PathRejection>;

/// An answer as it goes on the wire, faults included.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub retry_after: Option<&'static str>,
    pub body: Vec<u8>,
    /// Wait this long before answering (the slow fault).
    pub delay: Option<Duration>,
    /// Close the connection instead of answering.
    pub reset: bool,
    /// The fault served, if any (nonsense tickers included).
    pub fault: Option<FaultKind>,
}

impl Reply {
    fn json(status: StatusCode, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            retry_after: None,
            body: body.into_bytes(),
            delay: None,
            reset: false,
            fault: None,
        }
    }

    /// The body as text, bad bytes replaced.
    #[cfg(test)]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn reply(
    sim: &Simulator,
    kind: EndpointKind,
    worker: Option<&str>,
    query: QueryParams,
) -> Response {
    let params = query.ok().map(|Query(params)| params);
    send(sim.handle(kind, worker, params)).await
}

async fn send(reply: Reply) -> Response {
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    if reply.reset {
        // Unwinding ends the connection's task, which drops the socket before any byte of a
        // response; `resume_unwind` skips the panic hook, so nothing is printed. (Under
        // `panic = "abort"` this would end the process: the simulator is built with unwind.)
        std::panic::resume_unwind(Box::new("simulated connection reset"));
    }
    http_response(
        reply.status,
        reply.content_type,
        reply.retry_after,
        reply.body,
    )
}

async fn groups(State(sim): State<Arc<Simulator>>, query: QueryParams) -> Response {
    reply(&sim, EndpointKind::Groups, None, query).await
}

async fn stats(State(sim): State<Arc<Simulator>>, query: QueryParams) -> Response {
    reply(&sim, EndpointKind::Stats, None, query).await
}

async fn worker_list(State(sim): State<Arc<Simulator>>, query: QueryParams) -> Response {
    reply(&sim, EndpointKind::WorkerList, None, query).await
}

async fn account_history(State(sim): State<Arc<Simulator>>, query: QueryParams) -> Response {
    reply(&sim, EndpointKind::AccountHistory, None, query).await
}

async fn worker_detail(
    State(sim): State<Arc<Simulator>>,
    uri: Uri,
    worker: WorkerPath,
    query: QueryParams,
) -> Response {
    // `/worker/update` answers GET as a detail request for a worker named "update".
    let worker = worker.map_or_else(
        |_| {
            uri.path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        },
        |Path(id)| id,
    );
    reply(&sim, EndpointKind::WorkerDetail, Some(&worker), query).await
}

async fn worker_history(
    State(sim): State<Arc<Simulator>>,
    worker: WorkerPath,
    query: QueryParams,
) -> Response {
    let worker = worker.map_or_else(|_| String::new(), |Path(id)| id);
    reply(&sim, EndpointKind::WorkerHistory, Some(&worker), query).await
}

async fn worker_update(State(sim): State<Arc<Simulator>>, query: QueryParams) -> Response {
    reply(&sim, EndpointKind::WorkerUpdate, None, query).await
}

async fn unknown_path(State(sim): State<Arc<Simulator>>, uri: Uri) -> Response {
    send(sim.handle(EndpointKind::Unknown, Some(uri.path()), Some(Vec::new()))).await
}

/// An err_no answer. `field` names the parameter at fault, for the field-map shape of err_msg.
#[derive(Debug)]
pub(crate) struct ApiError {
    err_no: i64,
    field: Option<&'static str>,
    detail: String,
}

impl ApiError {
    const PARAMETER: i64 = 1;
    const OPERATION_FAILED: i64 = 2;
    const UNAUTHORIZED: i64 = 401;
    const KEY_MISMATCH: i64 = 20001;
    const OBSERVER_NOT_ALLOWED: i64 = 20002;

    fn new(err_no: i64, field: Option<&'static str>, detail: impl Into<String>) -> ApiError {
        ApiError {
            err_no,
            field,
            detail: detail.into(),
        }
    }

    fn param(field: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(ApiError::PARAMETER, Some(field), detail)
    }
}

/// The query of one request: the first value of each name wins, empty values count as absent.
pub(crate) struct Request {
    params: Vec<(String, String)>,
    /// Picks this response's quirks; the same request gets the same quirks.
    key: u64,
}

impl Request {
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &'static str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::param(name, "is required"))
    }

    fn int(&self, name: &'static str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|text| {
                text.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::param(name, "must be an integer"))
            })
            .transpose()
    }

    fn required_int(&self, name: &'static str) -> Result<i64, ApiError> {
        self.int(name)?
            .ok_or_else(|| ApiError::param(name, "is required"))
    }

    /// `(page, page_size)`, page_size silently capped.
    fn paging(&self, max_page_size: u32) -> Result<(usize, usize), ApiError> {
        let page = self.int("page")?.unwrap_or(1);
        let page_size = self.int("page_size")?.unwrap_or(10);
        if page < 1 {
            return Err(ApiError::param("page", "must be at least 1"));
        }
        if page_size < 1 {
            return Err(ApiError::param("page_size", "must be at least 1"));
        }
        let cap = i64::from(max_page_size.max(1));
        Ok((
            usize::try_from(page).unwrap_or(usize::MAX),
            page_size.min(cap) as usize,
        ))
    }

    fn choice(&self, what: u64) -> u64 {
        mix64(self.key ^ what.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// The page's slice and the page envelope's numbers.
fn page_of<T>(items: Vec<T>, page: usize, page_size: usize) -> (Vec<T>, Value) {
    let total = items.len();
    let skip = (page - 1).saturating_mul(page_size);
    let rows = items.into_iter().skip(skip).take(page_size).collect();
    let envelope = json!({
        "page": page,
        "page_size": page_size,
        "page_count": total.div_ceil(page_size),
        "total_count": total,
    });
    (rows, envelope)
}

fn with_rows(mut envelope: Value, name: &str, rows: Vec<Value>) -> Value {
    if let Value::Object(map) = &mut envelope {
        map.insert(name.to_string(), Value::Array(rows));
    }
    envelope
}

/// A worker's numbers now, as the list, details and group endpoints show them.
struct WorkerNow<'a> {
    spec: &'a WorkerSpec,
    status: SimWorkerStatus,
    shares_1m_hs: f64,
    shares_5m_hs: f64,
    shares_15m_hs: f64,
    shares_1d_hs: f64,
    reject_rate: f64,
    accept_count: u64,
    last_share_ts: i64,
}

impl Simulator {
    /// One request, start to finish: count it, check the key, answer. The HTTP handlers and
    /// the unit tests both come through here. `params` None is a query that did not parse.
    pub(crate) fn handle(
        &self,
        kind: EndpointKind,
        worker: Option<&str>,
        params: Option<Vec<(String, String)>>,
    ) -> Reply {
        self.counters.requests[kind as usize].fetch_add(1, AtomicOrdering::Relaxed);
        let Some(params) = params else {
            let request = Request {
                params: Vec::new(),
                key: hash(self.config.seed, &[tag::RESPONSE, kind as u64]),
            };
            return self.finish(
                kind,
                &request,
                Err(ApiError::new(
                    ApiError::PARAMETER,
                    None,
                    "malformed query string",
                )),
            );
        };
        let mut text = String::new();
        for (name, value) in params.iter().filter(|(name, _)| name != "access_key") {
            text.push_str(name);
            text.push('=');
            text.push_str(value);
            text.push('&');
        }
        text.push_str(worker.unwrap_or_default());
        let request = Request {
            params,
            key: hash(
                self.config.seed,
                &[tag::RESPONSE, kind as u64, hash_str(&text)],
            ),
        };
        let result = if kind == EndpointKind::Unknown {
            Err(ApiError::new(
                ApiError::PARAMETER,
                None,
                format!("no such endpoint: {}", worker.unwrap_or_default()),
            ))
        } else {
            self.authorize(&request)
                .and_then(|()| self.answer(kind, worker, &request))
        };
        self.finish(kind, &request, result)
    }

    /// Every response leaves here: the one place where faults are injected.
    fn finish(
        &self,
        kind: EndpointKind,
        request: &Request,
        result: Result<Value, ApiError>,
    ) -> Reply {
        let is_history = matches!(
            kind,
            EndpointKind::AccountHistory | EndpointKind::WorkerHistory
        );
        let decision = if kind == EndpointKind::Unknown {
            Decision::Clean
        } else {
            self.faults.decide(request.key, result.is_ok(), is_history)
        };
        let delivered = !matches!(decision, Decision::Fail(_));
        let mut nonsense_added = 0;
        let (status, body) = match result {
            Ok(mut data) => {
                if is_history && delivered {
                    let tickers = data["tickers"]
                        .as_array()
                        .map_or(0, |t| t.iter().filter(|t| !t.is_null()).count());
                    self.counters
                        .tickers
                        .fetch_add(tickers as u64, AtomicOrdering::Relaxed);
                }
                if decision == Decision::Nonsense {
                    if let Some((slots, current, step)) = self.requested_slots(request) {
                        nonsense_added = fault::add_nonsense_tickers(
                            &mut data,
                            &slots,
                            current,
                            step,
                            request.choice(2_000),
                        );
                    }
                }
                (StatusCode::OK, wire::ok_body(data))
            }
            Err(error) => {
                self.counters.errors.fetch_add(1, AtomicOrdering::Relaxed);
                let status = match error.err_no {
                    _ if kind == EndpointKind::Unknown => StatusCode::NOT_FOUND,
                    ApiError::UNAUTHORIZED if request.choice(1).is_multiple_of(2) => {
                        StatusCode::UNAUTHORIZED
                    }
                    _ => StatusCode::OK,
                };
                let body =
                    wire::error_body(error.err_no, error.field, &error.detail, request.choice(2));
                (status, body)
            }
        };
        let body = body.to_string();
        match decision {
            Decision::Fail(fault_kind) => {
                self.count_fault(fault_kind);
                let slow = Duration::from_millis(self.config.fault_slow_ms);
                let served = fault::failure(
                    fault_kind,
                    status.as_u16(),
                    body.as_bytes(),
                    request.choice(2_001),
                    slow,
                );
                Reply {
                    status: StatusCode::from_u16(served.status).unwrap_or(status),
                    content_type: served.content_type,
                    retry_after: served.retry_after,
                    body: served.body,
                    delay: served.delay,
                    reset: served.reset,
                    fault: Some(fault_kind),
                }
            }
            _ if nonsense_added > 0 => {
                self.count_fault(FaultKind::NonsenseTickers);
                self.counters
                    .nonsense_tickers
                    .fetch_add(nonsense_added, AtomicOrdering::Relaxed);
                Reply {
                    fault: Some(FaultKind::NonsenseTickers),
                    ..Reply::json(status, body)
                }
            }
            _ => Reply::json(status, body),
        }
    }

    fn count_fault(&self, kind: FaultKind) {
        if let Some(index) = FaultKind::ALL.iter().position(|&k| k == kind) {
            self.counters.faults[index].fetch_add(1, AtomicOrdering::Relaxed);
        }
    }

    /// The slots a share-history request covers (as `share_history` walks them, retention
    /// aside), the current slot and the step; None when the parameters do not make sense.
    fn requested_slots(&self, request: &Request) -> Option<(Vec<i64>, i64, i64)> {
        let dim = Dimension::parse(request.get("dimension")?)?;
        let start_raw = request.int("start_ts").ok()??;
        let count = request.int("count").ok()??;
        let now = self.now();
        let step = dim.step_seconds();
        let current = floor_to(now, step);
        let start_ts = absolute_start(start_raw, now);
        let mut slot = floor_to(start_ts, step);
        if slot < start_ts {
            slot += step;
        }
        let slots = (0..count.clamp(0, i64::from(self.config.max_count)))
            .map(|i| slot + i * step)
            .take_while(|&ts| ts <= current)
            .collect();
        Some((slots, current, step))
    }

    fn authorize(&self, request: &Request) -> Result<(), ApiError> {
        let Some(key) = request.get("access_key") else {
            return Err(ApiError::new(
                ApiError::UNAUTHORIZED,
                Some("access_key"),
                "is required",
            ));
        };
        let puid = request.required("puid")?;
        let puid = puid
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::param("puid", "must be an integer"))?;
        if key != self.config.access_key || puid != self.config.puid {
            return Err(ApiError::new(
                ApiError::KEY_MISMATCH,
                None,
                "access key and puid do not match",
            ));
        }
        Ok(())
    }

    fn answer(
        &self,
        kind: EndpointKind,
        worker: Option<&str>,
        request: &Request,
    ) -> Result<Value, ApiError> {
        match kind {
            EndpointKind::Groups => self.groups(request),
            EndpointKind::Stats => Ok(self.account_stats(request)),
            EndpointKind::WorkerList => self.worker_list(request),
            EndpointKind::WorkerDetail => {
                let index = self.worker_index(worker)?;
                Ok(self.worker_detail(index, request))
            }
            EndpointKind::AccountHistory => self.share_history(Series::Account, request),
            EndpointKind::WorkerHistory => {
                let index = self.worker_index(worker)?;
                self.share_history(Series::Worker(index), request)
            }
            EndpointKind::WorkerUpdate => Err(
                if request
                    .get("access_key")
                    .is_some_and(|key| key.starts_with("r_"))
                {
                    ApiError::new(
                        ApiError::OBSERVER_NOT_ALLOWED,
                        None,
                        "observer key not allowed for this puid",
                    )
                } else {
                    ApiError::new(ApiError::OPERATION_FAILED, None, "operation failed")
                },
            ),
            EndpointKind::Unknown => {
                Err(ApiError::new(ApiError::PARAMETER, None, "no such endpoint"))
            }
        }
    }

    fn worker_index(&self, worker: Option<&str>) -> Result<usize, ApiError> {
        worker
            .and_then(|text| text.parse::<i64>().ok())
            .and_then(|id| self.world.worker_index(id))
            .ok_or_else(|| ApiError::param("worker_id", "is not a worker of this account"))
    }

    fn worker_now<'a>(&self, spec: &'a WorkerSpec, now: i64) -> WorkerNow<'a> {
        let world = &self.world;
        let index = world.worker_index(spec.id).unwrap_or_default();
        let last_day = world.last_day(Series::Worker(index), now);
        let current_reject = world
            .worker_hour(spec, floor_to(now, world::HOUR))
            .map_or(0.0, |p| p.reject_rate);
        let lifetime_days = ((now - spec.first_ts).max(0) as f64 / world::DAY as f64).max(1.0);
        WorkerNow {
            spec,
            status: world.status_at(spec, now),
            shares_1m_hs: world.recent_hashrate_hs(spec, now, 60),
            shares_5m_hs: world.recent_hashrate_hs(spec, now, 300),
            shares_15m_hs: world.recent_hashrate_hs(spec, now, 900),
            shares_1d_hs: last_day.hashrate_hs,
            reject_rate: current_reject,
            // Shares at difficulty 1 (2^32 hashes each) since the worker joined, roughly.
            accept_count: (last_day.hashrate_hs * 86_400.0 * lifetime_days / 4_294_967_296.0)
                as u64,
            last_share_ts: world.last_share_ts(spec, now),
        }
    }

    fn groups(&self, request: &Request) -> Result<Value, ApiError> {
        let (page, page_size) = request.paging(self.config.max_page_size)?;
        let now = self.now();
        let mut counts = vec![[0u32; 3]; self.world.groups.len()];
        let mut shares = vec![[0f64; 4]; self.world.groups.len()];
        for spec in &self.world.workers {
            let worker = self.worker_now(spec, now);
            let status_index = match worker.status {
                SimWorkerStatus::Active => 0,
                SimWorkerStatus::Inactive => 1,
                SimWorkerStatus::Dead => 2,
            };
            counts[spec.group][status_index] += 1;
            let sums = &mut shares[spec.group];
            sums[0] += worker.shares_1m_hs;
            sums[1] += worker.shares_5m_hs;
            sums[2] += worker.shares_15m_hs;
            sums[3] += worker.shares_1d_hs;
        }
        let style = NumberStyle::pick(request.choice(3));
        let rows: Vec<Value> = self
            .world
            .groups
            .iter()
            .enumerate()
            .map(|(i, group)| {
                let [active, inactive, dead] = counts[i];
                let [s1m, s5m, s15m, s1d] = shares[i];
                let unit = wire::pick_display_unit(s15m, 4, request.choice(100 + i as u64));
                let unit_1d = wire::pick_display_unit(s1d, 4, request.choice(200 + i as u64));
                let scale = wire::unit_scale(unit);
                let salt = i as u64 * 16;
                json!({
                    "gid": group.gid,
                    "sort_id": style.int(if group.gid < 0 { -1 } else { i as i64 }, salt),
                    "name": group.name,
                    "created_at": group.created_at,
                    "updated_at": group.created_at + (mix64(group.gid as u64) % 10_000_000) as i64,
                    "workers_active": active,
                    "workers_inactive": inactive,
                    "workers_dead": dead,
                    "workers_total": active + inactive + dead,
                    "shares_1m": wire::short(s1m / scale),
                    "shares_5m": wire::short(s5m / scale),
                    "shares_15m": wire::short(s15m / scale),
                    "shares_unit": UNITS[unit],
                    "shares_1d": wire::short(s1d / wire::unit_scale(unit_1d)),
                    "shares_1d_unit": UNITS[unit_1d],
                })
            })
            .collect();
        let (rows, envelope) = page_of(rows, page, page_size);
        Ok(with_rows(envelope, "list", rows))
    }

    fn account_stats(&self, request: &Request) -> Value {
        let now = self.now();
        let mut counts = [0u32; 3];
        let mut sums = [0f64; 3];
        for spec in &self.world.workers {
            let worker = self.worker_now(spec, now);
            counts[worker.status as usize] += 1;
            sums[0] += worker.shares_1m_hs;
            sums[1] += worker.shares_5m_hs;
            sums[2] += worker.shares_15m_hs;
        }
        let unit = wire::pick_display_unit(sums[2], 5, request.choice(4));
        let scale = wire::unit_scale(unit);
        json!({
            "shares_1m": wire::short(sums[0] / scale),
            "shares_5m": wire::short(sums[1] / scale),
            "shares_15m": wire::short(sums[2] / scale),
            "shares_unit": UNITS[unit],
            "workers_active": counts[0],
            "workers_inactive": counts[1],
            "workers_dead": counts[2],
            "workers_total": counts.iter().sum::<u32>(),
        })
    }

    fn worker_list(&self, request: &Request) -> Result<Value, ApiError> {
        let status = match request
            .get("status")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("all") => None,
            Some("active") => Some(SimWorkerStatus::Active),
            Some("inactive") => Some(SimWorkerStatus::Inactive),
            Some("dead") => Some(SimWorkerStatus::Dead),
            Some(_) => {
                return Err(ApiError::param(
                    "status",
                    "must be active, inactive, dead or all",
                ))
            }
        };
        let gid = request.int("group")?;
        let filter = request.get("filter").map(str::to_lowercase);
        let order_by = request.get("order_by").unwrap_or("worker_id");
        let ascending = match request.get("asc") {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(ApiError::param("asc", "must be 0 or 1")),
        };
        let (page, page_size) = request.paging(self.config.max_page_size)?;

        let key: fn(&WorkerNow<'_>, &WorkerNow<'_>) -> Ordering = match order_by {
            "worker_id" => |a, b| a.spec.id.cmp(&b.spec.id),
            "worker_name" => |a, b| a.spec.name.cmp(&b.spec.name),
            "shares_1m" => |a, b| a.shares_1m_hs.total_cmp(&b.shares_1m_hs),
            "shares_5m" => |a, b| a.shares_5m_hs.total_cmp(&b.shares_5m_hs),
            "shares_15m" => |a, b| a.shares_15m_hs.total_cmp(&b.shares_15m_hs),
            "accept_count" => |a, b| a.accept_count.cmp(&b.accept_count),
            "reject_percent" => |a, b| a.reject_rate.total_cmp(&b.reject_rate),
            "last_share_time" => |a, b| a.last_share_ts.cmp(&b.last_share_ts),
            _ => return Err(ApiError::param("order_by", "is not a sortable field")),
        };
        // Ties broken by id, so pages never overlap.
        let order = |a: &WorkerNow<'_>, b: &WorkerNow<'_>| {
            let by_key = if ascending { key(a, b) } else { key(b, a) };
            by_key.then(a.spec.id.cmp(&b.spec.id))
        };

        let now = self.now();
        let candidates = self
            .world
            .workers
            .iter()
            .filter(|spec| gid.is_none_or(|gid| self.world.groups[spec.group].gid == gid))
            .filter(|spec| {
                filter
                    .as_deref()
                    .is_none_or(|needle| spec.name.to_lowercase().contains(needle))
            })
            .filter(|spec| status.is_none_or(|status| self.world.status_at(spec, now) == status));
        let (rows, envelope) = if matches!(order_by, "worker_id" | "worker_name") {
            // The live numbers are only needed for the rows on the page.
            let mut specs: Vec<&WorkerSpec> = candidates.collect();
            specs.sort_by(|a, b| {
                let by_key = if order_by == "worker_name" {
                    a.name.cmp(&b.name)
                } else {
                    a.id.cmp(&b.id)
                };
                let by_key = if ascending { by_key } else { by_key.reverse() };
                by_key.then(a.id.cmp(&b.id))
            });
            let (specs, envelope) = page_of(specs, page, page_size);
            let rows: Vec<WorkerNow<'_>> = specs
                .into_iter()
                .map(|spec| self.worker_now(spec, now))
                .collect();
            (rows, envelope)
        } else {
            let mut rows: Vec<WorkerNow<'_>> =
                candidates.map(|spec| self.worker_now(spec, now)).collect();
            rows.sort_by(order);
            page_of(rows, page, page_size)
        };
        let style = NumberStyle::pick(request.choice(5));
        let rows = rows
            .iter()
            .map(|worker| self.worker_row(worker, style, request.choice(worker.spec.id as u64)))
            .collect();
        Ok(with_rows(envelope, "data", rows))
    }

    /// A row of `/worker`, in one of the two spellings the docs show.
    fn worker_row(&self, worker: &WorkerNow<'_>, style: NumberStyle, choice: u64) -> Value {
        let spec = worker.spec;
        let group = &self.world.groups[spec.group];
        let unit = wire::pick_display_unit(worker.shares_15m_hs, 4, choice);
        let unit_1d = wire::pick_display_unit(worker.shares_1d_hs, 4, choice >> 8);
        let scale = wire::unit_scale(unit);
        let mut row = Map::new();
        row.insert("gid".into(), style.int(group.gid, 1));
        row.insert("group_name".into(), json!(group.name));
        row.insert("worker_id".into(), style.int(spec.id, 2));
        row.insert("worker_name".into(), json!(spec.name));
        row.insert(
            "shares_1m".into(),
            json!(wire::short(worker.shares_1m_hs / scale)),
        );
        row.insert(
            "shares_5m".into(),
            json!(wire::short(worker.shares_5m_hs / scale)),
        );
        row.insert(
            "shares_15m".into(),
            json!(wire::short(worker.shares_15m_hs / scale)),
        );
        row.insert("shares_unit".into(), json!(UNITS[unit]));
        let accept = style.int(i64::try_from(worker.accept_count).unwrap_or(i64::MAX), 3);
        let spelling = choice >> 16;
        row.insert(
            if spelling & 1 == 0 {
                "accept_count"
            } else {
                "total_accept"
            }
            .into(),
            accept,
        );
        row.insert(
            "last_share_time".into(),
            if spelling & 2 == 0 {
                style.int(worker.last_share_ts, 4)
            } else {
                json!(wire::datetime_utc(worker.last_share_ts))
            },
        );
        row.insert(
            if spelling & 4 == 0 {
                "last_share_ip"
            } else {
                "last_ip"
            }
            .into(),
            json!(spec.ip),
        );
        row.insert(
            "reject_percent".into(),
            json!(wire::short(worker.reject_rate * 100.0)),
        );
        row.insert(
            "shares_1d".into(),
            json!(wire::short(worker.shares_1d_hs / wire::unit_scale(unit_1d))),
        );
        row.insert("shares_1d_unit".into(), json!(UNITS[unit_1d]));
        row.insert("status".into(), json!(worker.status.as_str()));
        Value::Object(row)
    }

    fn worker_detail(&self, index: usize, request: &Request) -> Value {
        let spec = &self.world.workers[index];
        let worker = self.worker_now(spec, self.now());
        let choice = request.choice(6);
        let unit = wire::pick_display_unit(worker.shares_15m_hs, 4, choice);
        let unit_1d = wire::pick_display_unit(worker.shares_1d_hs, 4, choice >> 8);
        let scale = wire::unit_scale(unit);
        json!({
            "worker_id": spec.id,
            "worker_name": spec.name,
            "shares_1m": wire::short(worker.shares_1m_hs / scale),
            "shares_5m": wire::short(worker.shares_5m_hs / scale),
            "shares_15m": wire::short(worker.shares_15m_hs / scale),
            "shares_unit": UNITS[unit],
            "shares_1d": wire::short(worker.shares_1d_hs / wire::unit_scale(unit_1d)),
            "shares_1d_unit": UNITS[unit_1d],
            "accept_count": worker.accept_count.to_string(),
            "accept_percent": 1.0 - worker.reject_rate,
            "reject_percent": wire::short(worker.reject_rate * 100.0),
            "last_share_ip": spec.ip,
            "ip2location": "Simulated, Loopback",
            "last_share_time": worker.last_share_ts,
            "worker_status": worker.status.as_str(),
        })
    }

    fn share_history(&self, series: Series, request: &Request) -> Result<Value, ApiError> {
        let dim_text = request.required("dimension")?;
        let dim = Dimension::parse(dim_text)
            .ok_or_else(|| ApiError::param("dimension", "must be 1h or 1d"))?;
        let start_raw = request.required_int("start_ts")?;
        let count = request.required_int("count")?;
        if count < 1 {
            return Err(ApiError::param("count", "must be at least 1"));
        }
        let real_point = matches!(
            request
                .get("real_point")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("1" | "true")
        );

        let now = self.now();
        let step = dim.step_seconds();
        let current = floor_to(now, step);
        let start_ts = absolute_start(start_raw, now);
        let retention = i64::from(match (series, dim) {
            (Series::Worker(_), Dimension::Hour) => self.config.worker_hours,
            (Series::Account, Dimension::Hour) => self.config.account_hours,
            (Series::Worker(_), Dimension::Day) => self.config.worker_days,
            (Series::Account, Dimension::Day) => self.config.account_days,
        });
        let oldest_kept = current - (retention - 1) * step;
        let slots = count.min(i64::from(self.config.max_count));
        let series_key = match series {
            Series::Account => u64::MAX,
            Series::Worker(i) => i as u64,
        };

        // Completed slots (None: no data, sent as null or left out) and the live one.
        let mut completed: Vec<Option<(i64, SimPoint)>> = Vec::new();
        let mut live: Option<(i64, SimPoint)> = None;
        if start_ts <= current {
            let mut slot = floor_to(start_ts, step);
            if slot < start_ts {
                slot += step;
            }
            for _ in 0..slots {
                if slot > current {
                    break;
                }
                let point = if slot >= oldest_kept {
                    self.world.point(series, dim, slot)
                } else {
                    None
                };
                if slot == current {
                    let elapsed = now - current;
                    live = point.and_then(|p| {
                        if real_point {
                            let factor = self.world.live_factor(series, dim, slot, elapsed);
                            Some((slot, scaled(p, factor)))
                        } else if elapsed >= 300 {
                            // Old rule: hidden for 5 minutes, then the bucket's running share.
                            Some((slot, scaled(p, elapsed as f64 / step as f64)))
                        } else {
                            None
                        }
                    });
                } else if let Some(p) = point {
                    completed.push(Some((slot, p)));
                } else if hash(
                    self.config.seed,
                    &[tag::GAP, series_key, dim as u64, slot as u64],
                )
                .is_multiple_of(2)
                {
                    completed.push(None);
                }
                slot += step;
            }
        }

        if request.choice(7).is_multiple_of(4) {
            // Order is not promised: a deterministic Fisher-Yates.
            for i in (1..completed.len()).rev() {
                let j = (request.choice(1_000 + i as u64) % (i as u64 + 1)) as usize;
                completed.swap(i, j);
            }
        }
        completed.push(live);

        let max_hs = completed
            .iter()
            .flatten()
            .map(|(_, p)| p.hashrate_hs)
            .fold(0.0, f64::max);
        let fallback_unit = match series {
            Series::Account => 5,
            Series::Worker(_) => 4,
        };
        let unit = wire::pick_unit(max_hs, fallback_unit, request.choice(8));
        let scale = wire::unit_scale(unit);
        let style = NumberStyle::pick(request.choice(9));
        let tickers: Vec<Value> = completed
            .iter()
            .enumerate()
            // The live slot's None means "not shown", not null.
            .filter(|(i, ticker)| ticker.is_some() || *i + 1 < completed.len())
            .map(|(i, ticker)| match ticker {
                None => Value::Null,
                Some((ts, p)) => {
                    let salt = i as u64 * 4;
                    json!([
                        style.int(*ts, salt),
                        style.float(p.hashrate_hs / scale, salt + 1),
                        style.float(p.reject_rate * 100.0, salt + 2),
                    ])
                }
            })
            .collect();
        Ok(json!({ "shares_unit": UNITS[unit], "tickers": tickers }))
    }
}

fn scaled(p: SimPoint, factor: f64) -> SimPoint {
    SimPoint {
        hashrate_hs: p.hashrate_hs * factor,
        reject_rate: p.reject_rate,
    }
}

/// `start_ts` as an absolute time: a negative one counts back from now. Kept far from i64's ends
/// so slot sums can't overflow.
fn absolute_start(start_raw: i64, now: i64) -> i64 {
    if start_raw < 0 {
        now.saturating_add(start_raw)
    } else {
        start_raw
    }
    .max(i64::MIN / 2)
}
