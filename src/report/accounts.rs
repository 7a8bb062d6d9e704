//! Which accounts a report covers: `--pool`, `--account` and the older `--puid`, resolved to the
//! `:pool` / `:account` parameters every query binds (NULL = all).

use super::render::{Cell, Table};
use super::ReportError;
use crate::pools::PoolKind;

/// `--pool NAME`: a pool poolhist speaks, by any of its names.
fn pool_arg(name: &str) -> Result<PoolKind, String> {
    PoolKind::parse(name)
        .ok_or_else(|| format!("unknown pool; poolhist speaks {}", PoolKind::ACCEPTED))
}

/// `--pool`, `--account`, `--puid`: shared by every report, `status` and `gaps`.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct AccountArgs {
    /// Only accounts of this pool: cloverpool (alias btccom) or foundry
    #[arg(long, value_name = "NAME", value_parser = pool_arg)]
    pub pool: Option<PoolKind>,
    /// Only this account: a CloverPool puid or a Foundry sub-account name (in any pool unless
    /// --pool says which).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Only this CloverPool account (the same as --pool cloverpool --account N).
    #[arg(long, value_name = "N", conflicts_with = "account")]
    pub puid: Option<i64>,
}

/// The resolved selection of accounts; `None` matches every value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFilter {
    pub pool: Option<String>,
    pub account: Option<String>,
}

impl AccountFilter {
    /// Every account of every pool.
    pub fn all() -> AccountFilter {
        AccountFilter::default()
    }

    /// One CloverPool account by its puid (stored as text in `accounts.account`).
    pub fn puid(puid: i64) -> AccountFilter {
        AccountFilter {
            pool: Some(PoolKind::CloverPool.name().to_owned()),
            account: Some(puid.to_string()),
        }
    }

    /// One account of one pool.
    pub fn account(pool: PoolKind, account: &str) -> AccountFilter {
        AccountFilter {
            pool: Some(pool.name().to_owned()),
            account: Some(account.to_owned()),
        }
    }

    /// From the command line; `None` (no flag given) selects every account.
    pub fn from_args(args: Option<&AccountArgs>) -> Result<AccountFilter, ReportError> {
        let Some(args) = args else {
            return Ok(AccountFilter::all());
        };
        if let Some(puid) = args.puid {
            // A puid names a CloverPool account; another pool cannot hold it.
            if let Some(pool) = args.pool.filter(|p| *p != PoolKind::CloverPool) {
                return Err(ReportError::PuidOfOtherPool(pool.name()));
            }
            return Ok(AccountFilter::puid(puid));
        }
        Ok(AccountFilter {
            pool: args.pool.map(|p| p.name().to_owned()),
            account: args.account.clone(),
        })
    }

    /// "cloverpool/1001", "pool foundry", "account farm1", or None for every account: for titles.
    pub fn describe(&self) -> Option<String> {
        match (&self.pool, &self.account) {
            (Some(pool), Some(account)) => Some(account_label(pool, account)),
            (Some(pool), None) => Some(format!("pool {pool}")),
            (None, Some(account)) => Some(format!("account {account}")),
            (None, None) => None,
        }
    }
}

/// How an account is named in text: "cloverpool/1001", "foundry/farm1".
pub fn account_label(pool: &str, account: &str) -> String {
    format!("{pool}/{account}")
}

/// The columns every row naming an account starts with. `puid` stays for existing CSV/JSON
/// consumers (null for Foundry); tables for people show pool and account instead.
pub const ACCOUNT_COLUMNS: [&str; 3] = ["puid", "pool", "account"];

/// A table whose rows start with `ACCOUNT_COLUMNS`, then `columns`.
pub fn account_table(columns: &[&str]) -> Table {
    let all: Vec<&str> = ACCOUNT_COLUMNS.iter().chain(columns).copied().collect();
    Table::new(&all).machine_only(&["puid"])
}

/// The cells of `ACCOUNT_COLUMNS`.
pub fn account_cells(puid: Option<i64>, pool: &str, account: &str) -> [Cell; 3] {
    [
        puid.map_or(Cell::Null, Cell::Int),
        Cell::text(pool),
        Cell::text(account),
    ]
}
