//! Foundry USA's endpoints for one sub-account: the worker list and the four history series,
//! each window asked for as an explicit inclusive range.

use std::sync::Arc;

use crate::http::{ApiError, ClientConfig, ClientCounters, HttpClient};
use crate::model::{Dimension, Directory, RawPoint, Window};

use super::wire;

/// Workers asked for per page; the pool may serve fewer (its maximum is not stated).
const WORKERS_PAGE_SIZE: i64 = 1000;

/// One sub-account at Foundry USA.
pub struct Client {
    http: HttpClient,
    sub_account: String,
}

impl Client {
    pub fn with_counters(
        config: ClientConfig,
        sub_account: &str,
        counters: Arc<ClientCounters>,
    ) -> Result<Client, String> {
        Ok(Client {
            http: HttpClient::with_counters(config, counters)?,
            sub_account: sub_account.to_owned(),
        })
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Every worker, paged from 0 in a stable order (by name) until the pool's total is reached;
    /// a worker's status is read from its last share as of `now`.
    pub async fn directory(&self, max_workers: usize, now: i64) -> Result<Directory, ApiError> {
        let path = wire::workers_path(&self.sub_account);
        let path = path.as_str();
        wire::list_workers(
            |page_number| async move {
                let params = wire::workers_query(page_number, WORKERS_PAGE_SIZE);
                let label = format!("/workers [page {page_number}]");
                self.http
                    .get(label, path, &params, |endpoint, body| {
                        wire::parse_workers_page(endpoint, body, now)
                    })
                    .await
            },
            max_workers,
        )
        .await
    }

    /// One window of the sub-account's series (`worker_id` None) or a worker's.
    pub async fn series_page(
        &self,
        worker_id: Option<i64>,
        window: Window,
    ) -> Result<Vec<RawPoint>, ApiError> {
        let path = wire::series_path(&self.sub_account, worker_id, window.dimension);
        let params = wire::series_query(window, worker_id.is_some());
        let series = match (worker_id, window.dimension) {
            (None, Dimension::Hour) => "/subaccount_hashrate_hour".to_owned(),
            (None, Dimension::Day) => "/subaccount_hashrate_day".to_owned(),
            (Some(id), Dimension::Hour) => format!("/worker_hashrate_hour/{id}"),
            (Some(id), Dimension::Day) => format!("/worker_hashrate_day/{id}"),
        };
        let label = format!("{series} [from {}]", utc(window.start_ts));
        self.http
            .get(label, &path, &params, wire::parse_series)
            .await
    }
}

fn utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_else(|| ts.to_string())
}
