//! The account's groups and workers, from the paged lists. Page sizes we ask for are not
//! trusted (the pool may cap them): we page until the pool has nothing more.

use std::collections::{BTreeMap, HashSet};

use super::response::ListPage;
use super::wire::{GroupWire, WorkerWire};
use super::Client;
use crate::http::{ApiError, Disposition};
use crate::model::{Directory, Group, Worker};

/// What we ask for per page; the pool may serve fewer.
pub const PAGE_SIZE: u64 = 720;
/// A guard against a pool that never says "last page".
const MAX_PAGES: u64 = 100_000;

/// Lists groups and every worker of every status. When the "all" listing holds fewer workers
/// than the pool's own totals, each status is listed too and the union taken.
pub async fn fetch_directory(client: &Client, max_workers: usize) -> Result<Directory, ApiError> {
    // The totals only cross-check the listing: a pool without /worker/stats is no reason to
    // stop, but a refused key or puid is.
    let stats = match client.stats().await {
        Ok(stats) => Some(stats),
        Err(ApiError::GaveUp { last, .. }) if last.disposition() == Disposition::Doubtful => {
            tracing::warn!("worker totals unavailable, listing without a cross-check: {last}");
            None
        }
        Err(e) => return Err(e),
    };
    let groups = list_all(
        |page| client.groups_page(page, PAGE_SIZE),
        |g: &GroupWire| g.gid.0,
        max_workers,
    )
    .await?;
    let mut workers = list_all(
        |page| client.workers_page("all", page, PAGE_SIZE),
        |w: &WorkerWire| w.worker_id.0,
        max_workers,
    )
    .await?;

    let total_from_stats = stats
        .and_then(|s| s.workers_total)
        .and_then(|n| n.0)
        .unwrap_or(0.0) as usize;
    let total_from_groups: usize = groups
        .values()
        .filter_map(|g| g.workers_total.and_then(|n| n.0))
        .map(|n| n as usize)
        .sum();
    if workers.len() < total_from_stats.max(total_from_groups).min(max_workers) {
        for status in ["active", "inactive", "dead"] {
            let more = list_all(
                |page| client.workers_page(status, page, PAGE_SIZE),
                |w: &WorkerWire| w.worker_id.0,
                max_workers,
            )
            .await?;
            for (id, worker) in more {
                workers.entry(id).or_insert(worker);
            }
        }
    }
    let workers_capped = workers.len() >= max_workers;
    // Keep the lowest ids: the same set run after run, whatever order the pool listed them in.
    while workers.len() > max_workers {
        workers.pop_last();
    }

    let mut group_rows: BTreeMap<i64, Group> = groups
        .into_values()
        .map(|g| {
            (
                g.gid.0,
                Group {
                    gid: g.gid.0,
                    name: g.name.0,
                },
            )
        })
        .collect();
    // A worker's group may be missing from the group list (a race, or a capped list).
    for worker in workers.values() {
        if let Some(gid) = worker.gid {
            group_rows.entry(gid.0).or_insert_with(|| Group {
                gid: gid.0,
                name: worker.group_name.0.clone(),
            });
        }
    }
    let worker_rows = workers
        .into_values()
        .map(|w| Worker {
            worker_id: w.worker_id.0,
            worker_name: w.worker_name.0,
            gid: w.gid.map(|g| g.0),
            status: w.status.0.trim().to_ascii_uppercase(),
            last_share_time: w.last_share_time.and_then(|t| t.0),
        })
        .collect();
    Ok(Directory {
        groups: group_rows.into_values().collect(),
        workers: worker_rows,
        workers_capped,
    })
}

/// Fetches pages 1, 2, ... until one is empty or the pool's totals say we have everything,
/// de-duplicating by id (rows may shift between pages while we list). A pool that never stops
/// listing new rows is cut off at `max_items`, so memory stays bounded.
async fn list_all<T, F, Fut>(
    mut fetch_page: F,
    id_of: impl Fn(&T) -> i64,
    max_items: usize,
) -> Result<BTreeMap<i64, T>, ApiError>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<ListPage<T>, ApiError>>,
{
    let mut items = BTreeMap::new();
    let mut seen_ids = HashSet::new();
    for page_number in 1..=MAX_PAGES {
        let page = fetch_page(page_number).await?;
        if page.items.is_empty() {
            break;
        }
        let mut new_on_page = 0;
        for item in page.items {
            let id = id_of(&item);
            if seen_ids.insert(id) {
                new_on_page += 1;
                items.insert(id, item);
            }
        }
        // Neither `page_count` nor `page_size` is trusted: a pool that caps the page size may
        // report the size we asked for and count pages of it. Without a total, only an empty
        // page (or one with nothing new) ends the listing: one request more, nobody missed.
        let have_all = page
            .total_count
            .is_some_and(|total| items.len() as u64 >= total);
        // A page with nothing new means the pool ignores `page`: more pages would repeat it.
        if have_all || new_on_page == 0 || items.len() >= max_items {
            break;
        }
    }
    Ok(items)
}
