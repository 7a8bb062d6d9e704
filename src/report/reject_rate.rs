//! `report reject-rate`: accept-weighted reject rate per worker (queries/reject_rate.sql), per
//! group and account (exact sums of the worker rows), or per day (queries/reject_rate_by_day.sql).
//!
//! reject_rate = sum(hashrate_hs * seconds * reject_rate) / sum(hashrate_hs * seconds)

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::accounts::{account_cells, account_label, account_table, AccountArgs, AccountFilter};
use super::period::{Period, PeriodArgs};
use super::render::{Cell, Format, Report, Section, Table};
use super::{describe_selection, query_rows, PeriodParams, ReportError, Selection};

pub const REJECT_RATE_SQL: &str = include_str!("../../queries/reject_rate.sql");
pub const REJECT_RATE_BY_DAY_SQL: &str = include_str!("../../queries/reject_rate_by_day.sql");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RejectRateBy {
    Worker,
    Group,
    Account,
    Day,
}

/// `poolhist report reject-rate`
#[derive(Debug, Clone, clap::Args)]
pub struct RejectRateArgs {
    #[command(flatten)]
    pub period: PeriodArgs,
    /// --pool, --account, --puid (None: every account). The field keeps the name of the old
    /// `--puid` field so code building these arguments keeps compiling.
    #[command(flatten)]
    pub accounts: Option<AccountArgs>,
    /// Only this group (name or numeric id).
    #[arg(long)]
    pub group: Option<String>,
    /// Only workers whose name matches this GLOB pattern (case-sensitive; * ? [abc]).
    #[arg(long, value_name = "PATTERN")]
    pub worker: Option<String>,
    /// One row per worker, group, account or UTC day; worst first.
    #[arg(long, value_enum, default_value_t = RejectRateBy::Worker)]
    pub by: RejectRateBy,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RejectRateRow {
    /// The account's surrogate key: what rows of different pools are told apart by.
    pub account_id: i64,
    /// The CloverPool puid; None for a pool without one (Foundry).
    pub puid: Option<i64>,
    /// 'cloverpool', 'foundry'.
    pub pool: String,
    /// The account as its pool names it (a puid as text, a Foundry sub-account).
    pub account: String,
    pub worker_id: i64,
    pub worker_name: String,
    pub group_name: Option<String>,
    /// Fraction 0..1; None without accepted hashes in the period.
    pub reject_rate: Option<f64>,
    /// sum(hashrate_hs * seconds) over the points used.
    pub accepted_hashes: f64,
    /// sum(hashrate_hs * seconds * reject_rate).
    pub reject_weight: f64,
    pub hours_1h: i64,
    pub days_1d: i64,
    /// "1h", "1h+1d", "1d" or "none".
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RejectRateDay {
    pub day_ts: i64,
    pub reject_rate: Option<f64>,
    pub accepted_hashes: f64,
    pub reject_weight: f64,
    pub workers_on_1d: i64,
}

pub fn worker_rows(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<RejectRateRow>, ReportError> {
    super::reject_scan::worker_rows(conn, period, selection)
}

/// [`worker_rows`] as queries/reject_rate.sql computes it: the definition, and what sqlite3
/// users run.
pub fn worker_rows_sql(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<RejectRateRow>, ReportError> {
    let params = PeriodParams::new(period, selection);
    query_rows(conn, REJECT_RATE_SQL, &params.list(), |r| {
        Ok(RejectRateRow {
            account_id: r.get("account_id")?,
            puid: r.get("puid")?,
            pool: r.get("pool")?,
            account: r.get("account")?,
            worker_id: r.get("worker_id")?,
            worker_name: r.get("worker_name")?,
            group_name: r.get("group_name")?,
            reject_rate: r.get("reject_rate")?,
            accepted_hashes: r.get("accepted_hashes")?,
            reject_weight: r.get("reject_weight")?,
            hours_1h: r.get("hours_1h")?,
            days_1d: r.get("days_1d")?,
            source: r.get("source")?,
        })
    })
}

pub fn day_rows(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<RejectRateDay>, ReportError> {
    super::reject_scan::day_rows(conn, period, selection)
}

/// [`day_rows`] as queries/reject_rate_by_day.sql computes it: the definition, and what sqlite3
/// users run.
pub fn day_rows_sql(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<RejectRateDay>, ReportError> {
    let params = PeriodParams::new(period, selection);
    query_rows(conn, REJECT_RATE_BY_DAY_SQL, &params.list(), |r| {
        Ok(RejectRateDay {
            day_ts: r.get("day_ts")?,
            reject_rate: r.get("reject_rate")?,
            accepted_hashes: r.get("accepted_hashes")?,
            reject_weight: r.get("reject_weight")?,
            workers_on_1d: r.get("workers_on_1d")?,
        })
    })
}

/// Several workers together: the rate of the summed weights, so it is exactly the rate of the
/// combined hashes (big workers weigh more), never a mean of the workers' rates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RejectRateTotal {
    pub account_id: i64,
    pub puid: Option<i64>,
    pub pool: String,
    pub account: String,
    /// The group's name; for an account total its label (`account_label`).
    pub name: String,
    pub workers: i64,
    pub accepted_hashes: f64,
    pub reject_weight: f64,
    pub workers_on_1d: i64,
}

impl RejectRateTotal {
    fn of_account(row: &RejectRateRow, name: String) -> RejectRateTotal {
        RejectRateTotal {
            account_id: row.account_id,
            puid: row.puid,
            pool: row.pool.clone(),
            account: row.account.clone(),
            name,
            ..RejectRateTotal::default()
        }
    }

    fn add(&mut self, row: &RejectRateRow) {
        self.workers += 1;
        self.accepted_hashes += row.accepted_hashes;
        self.reject_weight += row.reject_weight;
        if row.days_1d > 0 {
            self.workers_on_1d += 1;
        }
    }

    pub fn reject_rate(&self) -> Option<f64> {
        (self.accepted_hashes > 0.0).then(|| self.reject_weight / self.accepted_hashes)
    }
}

pub fn group_totals(rows: &[RejectRateRow]) -> Vec<RejectRateTotal> {
    let mut groups: BTreeMap<(String, i64, String), RejectRateTotal> = BTreeMap::new();
    for row in rows {
        let name = row
            .group_name
            .clone()
            .unwrap_or_else(|| "(no group)".to_owned());
        groups
            .entry((row.pool.clone(), row.account_id, name.clone()))
            .or_insert_with(|| RejectRateTotal::of_account(row, name))
            .add(row);
    }
    worst_first(groups.into_values().collect())
}

pub fn account_totals(rows: &[RejectRateRow]) -> Vec<RejectRateTotal> {
    let mut accounts: BTreeMap<(String, i64), RejectRateTotal> = BTreeMap::new();
    for row in rows {
        accounts
            .entry((row.pool.clone(), row.account_id))
            .or_insert_with(|| {
                RejectRateTotal::of_account(row, account_label(&row.pool, &row.account))
            })
            .add(row);
    }
    worst_first(accounts.into_values().collect())
}

fn worst_first(mut totals: Vec<RejectRateTotal>) -> Vec<RejectRateTotal> {
    // Stable sort on the rate alone keeps the name order among equals; unknown rates go last.
    totals.sort_by(|a, b| match (a.reject_rate(), b.reject_rate()) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    totals
}

/// Mean hashrate over the time the points cover (accepted hashes / seconds covered).
fn mean_hashrate(accepted_hashes: f64, hours_1h: i64, days_1d: i64) -> Cell {
    let seconds = (hours_1h * 3600 + days_1d * 86_400) as f64;
    if seconds > 0.0 {
        Cell::Hashrate(accepted_hashes / seconds)
    } else {
        Cell::Null
    }
}

pub fn worker_table(rows: &[RejectRateRow]) -> Table {
    let mut table = account_table(&[
        "worker_id",
        "worker_name",
        "group_name",
        "reject_rate",
        "mean_hashrate_hs",
        "accepted_hashes",
        "hours_1h",
        "days_1d",
        "source",
    ]);
    for r in rows {
        let mut cells = account_cells(r.puid, &r.pool, &r.account).to_vec();
        cells.extend([
            Cell::Int(r.worker_id),
            Cell::text(&r.worker_name),
            Cell::opt_text(r.group_name.clone()),
            Cell::opt_fraction(r.reject_rate),
            mean_hashrate(r.accepted_hashes, r.hours_1h, r.days_1d),
            Cell::Real(r.accepted_hashes),
            Cell::Int(r.hours_1h),
            Cell::Int(r.days_1d),
            Cell::text(&r.source),
        ]);
        table.rows.push(cells);
    }
    table
}

/// Totals per group (`name_column` Some: the group's name follows the account) or per account
/// (None).
pub fn totals_table(name_column: Option<&str>, totals: &[RejectRateTotal]) -> Table {
    let mut columns: Vec<&str> = name_column.into_iter().collect();
    columns.extend(["workers", "reject_rate", "accepted_hashes", "workers_on_1d"]);
    let mut table = account_table(&columns);
    for t in totals {
        let mut cells = account_cells(t.puid, &t.pool, &t.account).to_vec();
        if name_column.is_some() {
            cells.push(Cell::text(&t.name));
        }
        cells.extend([
            Cell::Int(t.workers),
            Cell::opt_fraction(t.reject_rate()),
            Cell::Real(t.accepted_hashes),
            Cell::Int(t.workers_on_1d),
        ]);
        table.rows.push(cells);
    }
    table
}

pub fn day_table(days: &[RejectRateDay]) -> Table {
    let mut table = Table::new(&[
        "day",
        "reject_rate",
        "mean_hashrate_hs",
        "accepted_hashes",
        "workers_on_1d",
    ]);
    for d in days {
        table.rows.push(vec![
            Cell::Date(d.day_ts),
            Cell::opt_fraction(d.reject_rate),
            Cell::Hashrate(d.accepted_hashes / 86_400.0),
            Cell::Real(d.accepted_hashes),
            Cell::Int(d.workers_on_1d),
        ]);
    }
    table
}

const FORMULA_NOTE: &str = "reject_rate = sum(hashrate_hs x seconds x reject_rate) / \
    sum(hashrate_hs x seconds) over final 1h points; a worker's final 1d point stands in for a \
    day wholly inside the period without hourly points (source / days_1d / workers_on_1d say \
    where)";

pub fn report(conn: &Connection, args: &RejectRateArgs, now: i64) -> Result<Report, ReportError> {
    let period = args.period.resolve(now)?;
    let selection = Selection {
        accounts: AccountFilter::from_args(args.accounts.as_ref())?,
        group: args.group.clone(),
        worker: args.worker.clone(),
    };
    let title = |by: &str| {
        format!(
            "Reject rate by {by}, {}{}",
            period.describe(),
            describe_selection(&selection)
        )
    };
    let notes = vec![FORMULA_NOTE.to_owned()];
    let report = match args.by {
        RejectRateBy::Day => {
            let days = day_rows(conn, &period, &selection)?;
            let mut notes = notes;
            notes.push("mean_hashrate_hs = accepted hashes / 86400 s (whole day)".to_owned());
            Report {
                title: title("day"),
                sections: vec![Section {
                    title: Some("Days (worst first)".to_owned()),
                    table: day_table(&days),
                    notes,
                }],
            }
        }
        RejectRateBy::Group => {
            let rows = worker_rows(conn, &period, &selection)?;
            Report {
                title: title("group"),
                sections: vec![Section {
                    title: Some("Groups (worst first)".to_owned()),
                    table: totals_table(Some("group_name"), &group_totals(&rows)),
                    notes,
                }],
            }
        }
        RejectRateBy::Account => {
            let rows = worker_rows(conn, &period, &selection)?;
            Report {
                title: title("account"),
                sections: vec![Section {
                    title: Some("Accounts (worst first)".to_owned()),
                    table: totals_table(None, &account_totals(&rows)),
                    notes,
                }],
            }
        }
        RejectRateBy::Worker => {
            let rows = worker_rows(conn, &period, &selection)?;
            build_worker_report(&rows, title("worker"))
        }
    };
    Ok(report)
}

pub fn build_worker_report(rows: &[RejectRateRow], title: String) -> Report {
    Report {
        title,
        sections: vec![
            Section {
                title: Some("Workers (worst first)".to_owned()),
                table: worker_table(rows),
                notes: vec![FORMULA_NOTE.to_owned()],
            },
            Section {
                title: Some("Groups".to_owned()),
                table: totals_table(Some("group_name"), &group_totals(rows)),
                notes: Vec::new(),
            },
            Section {
                title: Some("Accounts".to_owned()),
                table: totals_table(None, &account_totals(rows)),
                notes: Vec::new(),
            },
        ],
    }
}
