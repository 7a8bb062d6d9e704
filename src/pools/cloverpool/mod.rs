//! CloverPool, formerly BTC.com pool (`shared/api/pool-api-v1.md`, `NOTES.md`): its wire format
//! and tolerant parsing (`wire`, `response`), its endpoints (`Client`), the paged worker list
//! (`directory`), and the local simulator (`sim`).

pub mod directory;
pub mod response;
pub mod sim;
pub mod wire;

use std::sync::Arc;

use crate::http::{ApiError, ClientConfig, ClientCounters, HttpClient, KeyPlacement, Protocol};
use crate::model::{AccountRef, Dimension, PoolFacts, PoolRetention, RawPoint, Window};
use response::{
    parse_group_page, parse_share_history, parse_stats, parse_worker_page, ListPage, ShareHistory,
};
use wire::{GroupWire, RawTicker, StatsWire, WorkerWire};

/// The pool's name in the database and on the command line.
pub const NAME: &str = "cloverpool";
/// The API's public address.
pub const DEFAULT_API_URL: &str = "https://pool.api.cloverpool.com/v1";

/// The access key travels as the `access_key` query parameter; `err_no` codes are classified
/// where they are parsed.
pub const PROTOCOL: Protocol = Protocol {
    key_placement: KeyPlacement::Query("access_key"),
    classify: ApiError::disposition,
    error_in_body: response::error_in_body,
};

pub const FACTS: PoolFacts = PoolFacts {
    name: NAME,
    display_name: "CloverPool (BTC.com API v1)",
    hashrate_source: "share-history accept count x 10^unit of shares_unit (H/s)",
    reject_definition: "reject share of submitted shares, as the pool reports it (percent / 100)",
    // The pool's open-source backend: worker hourly 3 days, account hourly 30 days, worker
    // daily 90 days; account daily is kept, and a first run reaches back one year.
    documented_retention: PoolRetention {
        worker_hours: 72,
        account_hours: 720,
        worker_days: 90,
        account_days: 365,
    },
    // A stopped worker reads 0 (or null) from its first point on.
    leaves_out_empty_buckets: false,
    // The pool's maximum is undocumented; clients use 30..720.
    max_hours_per_request: 720,
    max_days_per_request: 720,
};

/// One sub-account (puid) at the pool: its endpoints.
pub struct Client {
    http: HttpClient,
    puid: i64,
}

impl Client {
    pub fn new(config: ClientConfig, puid: i64) -> Result<Client, String> {
        Client::with_counters(config, puid, Arc::default())
    }

    pub fn with_counters(
        config: ClientConfig,
        puid: i64,
        counters: Arc<ClientCounters>,
    ) -> Result<Client, String> {
        Ok(Client {
            http: HttpClient::with_counters(config, counters)?,
            puid,
        })
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    pub fn puid(&self) -> i64 {
        self.puid
    }

    pub async fn stats(&self) -> Result<StatsWire, ApiError> {
        self.get(
            "/worker/stats".to_owned(),
            "/worker/stats",
            &[],
            parse_stats,
        )
        .await
    }

    pub async fn groups_page(
        &self,
        page: u64,
        page_size: u64,
    ) -> Result<ListPage<GroupWire>, ApiError> {
        let params = [
            ("page", page.to_string()),
            ("page_size", page_size.to_string()),
        ];
        let label = format!("/worker/groups [page {page}]");
        self.get(label, "/worker/groups", &params, parse_group_page)
            .await
    }

    /// One page of the worker list, ordered by worker_id so pages are stable.
    pub async fn workers_page(
        &self,
        status: &str,
        page: u64,
        page_size: u64,
    ) -> Result<ListPage<WorkerWire>, ApiError> {
        let params = [
            ("status", status.to_owned()),
            ("page", page.to_string()),
            ("page_size", page_size.to_string()),
            ("order_by", "worker_id".to_owned()),
            ("asc", "1".to_owned()),
        ];
        let label = format!("/worker [status {status}, page {page}]");
        self.get(label, "/worker", &params, parse_worker_page).await
    }

    /// Share history of the account (`worker_id` None) or of one worker.
    pub async fn share_history(
        &self,
        worker_id: Option<i64>,
        dimension: Dimension,
        start_ts: i64,
        count: u32,
    ) -> Result<ShareHistory, ApiError> {
        let path = match worker_id {
            Some(id) => format!("/worker/{id}/share-history"),
            None => "/worker/share-history".to_owned(),
        };
        let params = [
            ("dimension", dimension.as_str().to_owned()),
            ("start_ts", start_ts.to_string()),
            ("count", count.to_string()),
            ("real_point", "true".to_owned()),
        ];
        let label = format!("{path} [{dimension}, start_ts {start_ts}]");
        self.get(label, &path, &params, parse_share_history).await
    }

    /// One window of a series in the neutral model. An empty `data` that persists through the
    /// retries is read as a window without data.
    pub async fn series_page(
        &self,
        worker_id: Option<i64>,
        window: Window,
    ) -> Result<Vec<RawPoint>, ApiError> {
        let history = match self
            .share_history(worker_id, window.dimension, window.start_ts, window.count)
            .await
        {
            Ok(history) => history,
            Err(error) if error.is_empty_data() => {
                tracing::debug!("taking an empty answer as no data: {error}");
                return Ok(Vec::new());
            }
            Err(error) => return Err(error),
        };
        Ok(history.raw_points())
    }

    async fn get<T>(
        &self,
        label: String,
        path: &str,
        params: &[(&str, String)],
        parse: fn(&str, &[u8]) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut with_puid = Vec::with_capacity(params.len() + 1);
        with_puid.push(("puid", self.puid.to_string()));
        with_puid.extend(params.iter().cloned());
        self.http.get(label, path, &with_puid, parse).await
    }
}

impl ShareHistory {
    /// The tickers in the neutral model's units.
    pub fn raw_points(&self) -> Vec<RawPoint> {
        self.tickers
            .iter()
            .map(|ticker| raw_point(ticker, self.multiplier_hs))
            .collect()
    }
}

/// A ticker in our units: accept × the page's unit multiplier is H/s, the percentage a
/// fraction. A point without a reject figure reads 0 only when nothing was accepted.
fn raw_point(ticker: &RawTicker, multiplier_hs: f64) -> RawPoint {
    match *ticker {
        RawTicker::Null => RawPoint::Empty,
        RawTicker::Invalid => RawPoint::Invalid,
        RawTicker::Values {
            ts,
            accept,
            reject_percent,
        } => match accept {
            None => RawPoint::Empty,
            Some(accept) => RawPoint::Values {
                ts,
                hashrate_hs: Some(accept * multiplier_hs),
                reject_rate: match reject_percent {
                    Some(percent) => Some(percent / 100.0),
                    None if accept == 0.0 => Some(0.0),
                    None => None,
                },
            },
        },
    }
}

/// err_no 1 (parameter error) or HTTP 404 on a worker's history, after the account's history
/// was fetched with the same parameters: the worker is gone, not the request wrong.
pub fn worker_is_gone(error: &ApiError) -> bool {
    matches!(
        error.last(),
        ApiError::Pool { code: 1, .. } | ApiError::Http { status: 404, .. }
    )
}

/// The account of `puid` at CloverPool.
pub fn account(puid: i64) -> AccountRef {
    AccountRef {
        pool: NAME,
        account: puid.to_string(),
        puid: Some(puid),
    }
}
