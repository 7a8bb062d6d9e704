//! The pools poolhist speaks to, one folder each: its wire types and parsing, its endpoints,
//! and its simulator. `ingest` and `store` never name a pool; they go through `PoolAccount`.
//!
//! The seam is an enum rather than a trait object: the pools are compiled in, their methods are
//! async (an enum needs no boxing and no async-trait), and a third pool is a sibling folder plus
//! one arm in each method below, which the compiler lists.

pub mod cloverpool;
pub mod foundry;
pub mod sim_common;

use std::sync::Arc;

use crate::http::{ApiError, ClientConfig, ClientCounters, HttpClient};
use crate::model::{AccountRef, Directory, PoolFacts, RawPoint, Window};

/// The pools poolhist knows, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolKind {
    CloverPool,
    Foundry,
}

impl PoolKind {
    pub const ALL: [PoolKind; 2] = [PoolKind::CloverPool, PoolKind::Foundry];
    /// The names `parse` takes, for error messages.
    pub const ACCEPTED: &'static str = "cloverpool, btccom, foundry";

    /// The pool's name as the command line and the database spell it; `btccom` is CloverPool's
    /// old name.
    pub fn parse(name: &str) -> Option<PoolKind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "cloverpool" | "btccom" => Some(PoolKind::CloverPool),
            "foundry" => Some(PoolKind::Foundry),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        self.facts().name
    }

    pub fn facts(self) -> PoolFacts {
        match self {
            PoolKind::CloverPool => cloverpool::FACTS,
            PoolKind::Foundry => foundry::FACTS,
        }
    }

    pub fn default_api_url(self) -> &'static str {
        match self {
            PoolKind::CloverPool => cloverpool::DEFAULT_API_URL,
            PoolKind::Foundry => foundry::DEFAULT_API_URL,
        }
    }

    /// The account as this pool names it, checked: a CloverPool puid is a positive integer, a
    /// Foundry sub-account a non-empty name.
    pub fn account(self, name: &str) -> Result<AccountRef, String> {
        let name = name.trim();
        match self {
            PoolKind::CloverPool => match name.parse::<i64>() {
                Ok(puid) if puid > 0 => Ok(AccountRef {
                    pool: self.name(),
                    account: puid.to_string(),
                    puid: Some(puid),
                }),
                _ => Err(format!(
                    "cloverpool account {name:?}: a puid is a positive integer"
                )),
            },
            PoolKind::Foundry if name.is_empty() => {
                Err("foundry account: the sub-account name is empty".to_owned())
            }
            PoolKind::Foundry => Ok(AccountRef {
                pool: self.name(),
                account: name.to_owned(),
                puid: None,
            }),
        }
    }
}

impl std::fmt::Display for PoolKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One account at its pool: what the ingest asks of every pool.
pub enum PoolAccount {
    CloverPool(AccountRef, cloverpool::Client),
    Foundry(AccountRef, foundry::Client),
}

impl PoolAccount {
    /// A client for `account`, with the HTTP settings in `config` (whose protocol is replaced
    /// by the pool's own).
    pub fn connect(
        account: &AccountRef,
        mut config: ClientConfig,
        counters: Arc<ClientCounters>,
    ) -> Result<PoolAccount, String> {
        let kind = PoolKind::parse(account.pool)
            .ok_or_else(|| format!("unknown pool {:?}", account.pool))?;
        Ok(match kind {
            PoolKind::CloverPool => {
                config.protocol = cloverpool::PROTOCOL;
                let puid = account.puid.ok_or_else(|| format!("{account}: no puid"))?;
                PoolAccount::CloverPool(
                    account.clone(),
                    cloverpool::Client::with_counters(config, puid, counters)?,
                )
            }
            PoolKind::Foundry => {
                config.protocol = foundry::PROTOCOL;
                PoolAccount::Foundry(
                    account.clone(),
                    foundry::Client::with_counters(config, &account.account, counters)?,
                )
            }
        })
    }

    pub fn account(&self) -> &AccountRef {
        match self {
            PoolAccount::CloverPool(account, _) | PoolAccount::Foundry(account, _) => account,
        }
    }

    pub fn kind(&self) -> PoolKind {
        match self {
            PoolAccount::CloverPool(..) => PoolKind::CloverPool,
            PoolAccount::Foundry(..) => PoolKind::Foundry,
        }
    }

    pub fn facts(&self) -> PoolFacts {
        self.kind().facts()
    }

    pub fn http(&self) -> &HttpClient {
        match self {
            PoolAccount::CloverPool(_, client) => client.http(),
            PoolAccount::Foundry(_, client) => client.http(),
        }
    }

    /// The account's groups and workers as of `now`; at most `max_workers` workers (the lowest
    /// ids).
    pub async fn directory(&self, max_workers: usize, now: i64) -> Result<Directory, ApiError> {
        let mut directory = match self {
            PoolAccount::CloverPool(_, client) => {
                cloverpool::directory::fetch_directory(client, max_workers).await
            }
            PoolAccount::Foundry(_, client) => client.directory(max_workers, now).await,
        }?;
        let http = self.http();
        for worker in &mut directory.workers {
            worker.worker_name = http.scrub_key(&worker.worker_name);
        }
        for group in &mut directory.groups {
            group.name = http.scrub_key(&group.name);
        }
        Ok(directory)
    }

    /// One window of the account's series (`worker_id` None) or a worker's, in our units.
    /// An answer without data is an empty list.
    pub async fn series_page(
        &self,
        worker_id: Option<i64>,
        window: Window,
    ) -> Result<Vec<RawPoint>, ApiError> {
        match self {
            PoolAccount::CloverPool(_, client) => client.series_page(worker_id, window).await,
            PoolAccount::Foundry(_, client) => client.series_page(worker_id, window).await,
        }
    }

    /// The error, met on a worker's series after the directory listed the worker, says the
    /// worker is gone (deleted since): skip it, nothing to copy.
    pub fn worker_is_gone(&self, error: &ApiError) -> bool {
        match self {
            PoolAccount::CloverPool(..) => cloverpool::worker_is_gone(error),
            PoolAccount::Foundry(..) => foundry::worker_is_gone(error),
        }
    }
}
