//! `report uptime`: per-worker uptime over a period (queries/uptime.sql), with group and
//! account totals for people, and the outage list (queries/outages.sql) the monthly report uses.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::accounts::{account_cells, account_label, account_table, AccountArgs, AccountFilter};
use super::period::{Period, PeriodArgs};
use super::render::{format_date, format_time, Cell, Format, Report, Section, Table};
use super::uptime_scan::{scan, Want};
use super::{describe_selection, query_rows, PeriodParams, ReportError, Selection};

pub const UPTIME_SQL: &str = include_str!("../../queries/uptime.sql");
pub const OUTAGES_SQL: &str = include_str!("../../queries/outages.sql");
pub const UPTIME_BY_DAY_SQL: &str = include_str!("../../queries/uptime_by_day.sql");

/// `poolhist report uptime`
#[derive(Debug, Clone, clap::Args)]
pub struct UptimeArgs {
    #[command(flatten)]
    pub period: PeriodArgs,
    /// --pool, --account, --puid (None: every account). The field keeps the name of the old
    /// `--puid` field so code building these arguments keeps compiling.
    #[command(flatten)]
    pub accounts: Option<AccountArgs>,
    /// Only this group (name or numeric id).
    #[arg(long)]
    pub group: Option<String>,
    /// Only workers whose name matches this GLOB pattern (case-sensitive; * ? [abc]), e.g. 'rack1-*'.
    #[arg(long, value_name = "PATTERN")]
    pub worker: Option<String>,
    /// List only workers with uptime below this: a fraction (0.95) or a percentage (95%).
    /// Totals still cover every selected worker.
    #[arg(long, value_name = "FRACTION")]
    pub min_uptime: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// One worker's uptime over the period.
#[derive(Debug, Clone, PartialEq)]
pub struct UptimeRow {
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
    pub hours_up: i64,
    pub hours_total: i64,
    /// hours_up / hours_total; None when no hour was counted.
    pub uptime: Option<f64>,
    pub outages: i64,
    pub longest_outage_hours: i64,
    /// The worker's first final 1h ticker, anywhere in history.
    pub first_hour_ts: Option<i64>,
    /// The first counted hour: max(period start, first_hour_ts); None when nothing counted.
    pub counted_from_ts: Option<i64>,
    /// A day of daily data in the period wholly before the first hourly point: hourly history
    /// was not collected for the start of the period.
    pub daily_before_hourly_ts: Option<i64>,
    /// Hours of the period in recorded expired-history gaps of the worker's 1h series.
    pub gap_hours: i64,
}

impl UptimeRow {
    /// Why a reader should take this row with care, if at all.
    pub fn note(&self, period: &Period) -> Option<String> {
        let mut notes = Vec::new();
        match self.first_hour_ts {
            None => notes.push("no hourly history stored".to_owned()),
            Some(first) if first >= period.to => notes.push(format!(
                "hourly history starts after the period ({})",
                format_time(first)
            )),
            _ => {}
        }
        if let Some(day) = self.daily_before_hourly_ts {
            match self.first_hour_ts.filter(|&f| f < period.to) {
                Some(first) => notes.push(format!(
                    "hourly history starts {}, but daily data shows hashing from {}: \
                     earlier hours were not collected and are not counted",
                    format_time(first),
                    format_date(day)
                )),
                None => notes.push(format!(
                    "daily data shows hashing from {}, but no hourly history was collected",
                    format_date(day)
                )),
            }
        }
        if self.gap_hours > 0 {
            notes.push(format!(
                "{} h of the period expired at the pool before they were copied (recorded gap); \
                 counted hours among them are down",
                self.gap_hours
            ));
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    }
}

/// One outage: a maximal run of down hours, clipped to the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
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
    pub start_ts: i64,
    /// Exclusive: the first hour up again (or the period end).
    pub end_ts: i64,
    pub hours: i64,
    pub began_before_period: bool,
    pub open_at_period_end: bool,
}

/// One worker-day of the heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct UptimeDay {
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
    pub day_ts: i64,
    pub hours_up: i64,
    pub hours_counted: i64,
    pub uptime: Option<f64>,
}

/// Per-worker uptime (uptime.sql's rows), computed by the one-pass scan.
pub fn uptime_rows(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<UptimeRow>, ReportError> {
    let want = Want {
        rows: true,
        ..Want::default()
    };
    Ok(scan(conn, period, selection, want)?.rows)
}

/// Outages, longest first (outages.sql's rows), computed by the one-pass scan.
pub fn outages(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<Outage>, ReportError> {
    let want = Want {
        outages: true,
        ..Want::default()
    };
    Ok(scan(conn, period, selection, want)?.outages)
}

/// The heatmap cells (uptime_by_day.sql's rows), computed by the one-pass scan.
pub fn uptime_by_day(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<UptimeDay>, ReportError> {
    let want = Want {
        days: true,
        ..Want::default()
    };
    Ok(scan(conn, period, selection, want)?.days)
}

/// uptime.sql as SQLite runs it: the definition [`uptime_rows`] follows (tests compare them).
pub fn uptime_rows_sql(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<UptimeRow>, ReportError> {
    let params = PeriodParams::new(period, selection);
    query_rows(conn, UPTIME_SQL, &params.list(), |r| {
        Ok(UptimeRow {
            account_id: r.get("account_id")?,
            puid: r.get("puid")?,
            pool: r.get("pool")?,
            account: r.get("account")?,
            worker_id: r.get("worker_id")?,
            worker_name: r.get("worker_name")?,
            group_name: r.get("group_name")?,
            hours_up: r.get("hours_up")?,
            hours_total: r.get("hours_total")?,
            uptime: r.get("uptime")?,
            outages: r.get("outages")?,
            longest_outage_hours: r.get("longest_outage_hours")?,
            first_hour_ts: r.get("first_hour_ts")?,
            counted_from_ts: r.get("counted_from_ts")?,
            daily_before_hourly_ts: r.get("daily_before_hourly_ts")?,
            gap_hours: r.get("gap_hours")?,
        })
    })
}

/// outages.sql as SQLite runs it: the definition [`outages`] follows (tests compare them).
pub fn outages_sql(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<Outage>, ReportError> {
    let params = PeriodParams::new(period, selection);
    query_rows(conn, OUTAGES_SQL, &params.list(), |r| {
        Ok(Outage {
            account_id: r.get("account_id")?,
            puid: r.get("puid")?,
            pool: r.get("pool")?,
            account: r.get("account")?,
            worker_id: r.get("worker_id")?,
            worker_name: r.get("worker_name")?,
            group_name: r.get("group_name")?,
            start_ts: r.get("start_ts")?,
            end_ts: r.get("end_ts")?,
            hours: r.get("hours")?,
            began_before_period: r.get("began_before_period")?,
            open_at_period_end: r.get("open_at_period_end")?,
        })
    })
}

/// uptime_by_day.sql as SQLite runs it: the definition [`uptime_by_day`] follows (tests compare
/// them).
pub fn uptime_by_day_sql(
    conn: &Connection,
    period: &Period,
    selection: &Selection,
) -> Result<Vec<UptimeDay>, ReportError> {
    let params = PeriodParams::new(period, selection);
    // By position, in the order of the query's SELECT: a row per worker and day (30,000 a
    // month at 1,000 workers), and a lookup by name scans every column name for every cell.
    query_rows(conn, UPTIME_BY_DAY_SQL, &params.list(), |r| {
        Ok(UptimeDay {
            account_id: r.get(0)?,
            puid: r.get(1)?,
            pool: r.get(2)?,
            account: r.get(3)?,
            worker_id: r.get(4)?,
            worker_name: r.get(5)?,
            day_ts: r.get(7)?,
            hours_up: r.get(8)?,
            hours_counted: r.get(9)?,
            uptime: r.get(10)?,
        })
    })
}

/// Sum of several workers' uptime: hours add up, so the fraction is hour-weighted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UptimeTotal {
    pub account_id: i64,
    pub puid: Option<i64>,
    pub pool: String,
    pub account: String,
    /// The group's name; for an account total its label (`account_label`).
    pub name: String,
    pub workers: i64,
    pub hours_up: i64,
    pub hours_total: i64,
    pub outages: i64,
    pub longest_outage_hours: i64,
}

impl UptimeTotal {
    fn of_account(row: &UptimeRow, name: String) -> UptimeTotal {
        UptimeTotal {
            account_id: row.account_id,
            puid: row.puid,
            pool: row.pool.clone(),
            account: row.account.clone(),
            name,
            ..UptimeTotal::default()
        }
    }

    fn add(&mut self, row: &UptimeRow) {
        self.workers += 1;
        self.hours_up += row.hours_up;
        self.hours_total += row.hours_total;
        self.outages += row.outages;
        self.longest_outage_hours = self.longest_outage_hours.max(row.longest_outage_hours);
    }

    pub fn uptime(&self) -> Option<f64> {
        (self.hours_total > 0).then(|| self.hours_up as f64 / self.hours_total as f64)
    }
}

/// Per-group and per-account totals (by pool and account, then group name); a group belongs to
/// one account, so equal names in two accounts stay two rows.
pub fn totals(rows: &[UptimeRow]) -> (Vec<UptimeTotal>, Vec<UptimeTotal>) {
    let mut groups: BTreeMap<(String, i64, String), UptimeTotal> = BTreeMap::new();
    let mut accounts: BTreeMap<(String, i64), UptimeTotal> = BTreeMap::new();
    for row in rows {
        let group = row
            .group_name
            .clone()
            .unwrap_or_else(|| "(no group)".to_owned());
        groups
            .entry((row.pool.clone(), row.account_id, group.clone()))
            .or_insert_with(|| UptimeTotal::of_account(row, group))
            .add(row);
        accounts
            .entry((row.pool.clone(), row.account_id))
            .or_insert_with(|| UptimeTotal::of_account(row, account_label(&row.pool, &row.account)))
            .add(row);
    }
    (
        groups.into_values().collect(),
        accounts.into_values().collect(),
    )
}

/// `--min-uptime`: "0.95" or "95%".
pub fn parse_min_uptime(text: &str) -> Result<f64, ReportError> {
    let bad = || ReportError::BadMinUptime(text.to_owned());
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => t.parse::<f64>().map_err(|_| bad())?,
    };
    if !(0.0..=1.0).contains(&value) {
        return Err(bad());
    }
    Ok(value)
}

/// The worker columns after `ACCOUNT_COLUMNS`.
pub const UPTIME_COLUMNS: [&str; 10] = [
    "worker_id",
    "worker_name",
    "group_name",
    "hours_up",
    "hours_total",
    "uptime",
    "outages",
    "longest_outage_hours",
    "counted_from",
    "note",
];

pub fn worker_table(rows: &[UptimeRow], period: &Period) -> Table {
    let mut table = account_table(&UPTIME_COLUMNS);
    for row in rows {
        let mut cells = account_cells(row.puid, &row.pool, &row.account).to_vec();
        cells.extend([
            Cell::Int(row.worker_id),
            Cell::text(&row.worker_name),
            Cell::opt_text(row.group_name.clone()),
            Cell::Int(row.hours_up),
            Cell::Int(row.hours_total),
            Cell::opt_fraction(row.uptime),
            Cell::Int(row.outages),
            Cell::Int(row.longest_outage_hours),
            row.counted_from_ts.map_or(Cell::Null, Cell::Time),
            Cell::opt_text(row.note(period)),
        ]);
        table.rows.push(cells);
    }
    table
}

/// Totals per group (`name_column` Some: the group's name follows the account) or per account
/// (None).
pub fn totals_table(name_column: Option<&str>, totals: &[UptimeTotal]) -> Table {
    let mut columns: Vec<&str> = name_column.into_iter().collect();
    columns.extend([
        "workers",
        "hours_up",
        "hours_total",
        "uptime",
        "outages",
        "longest_outage_hours",
    ]);
    let mut table = account_table(&columns);
    for t in totals {
        let mut cells = account_cells(t.puid, &t.pool, &t.account).to_vec();
        if name_column.is_some() {
            cells.push(Cell::text(&t.name));
        }
        cells.extend([
            Cell::Int(t.workers),
            Cell::Int(t.hours_up),
            Cell::Int(t.hours_total),
            Cell::opt_fraction(t.uptime()),
            Cell::Int(t.outages),
            Cell::Int(t.longest_outage_hours),
        ]);
        table.rows.push(cells);
    }
    table
}

/// The whole `report uptime` output for one period and selection.
pub fn build_report(
    rows: &[UptimeRow],
    period: &Period,
    selection: &Selection,
    min_uptime: Option<f64>,
) -> Report {
    let listed: Vec<UptimeRow> = match min_uptime {
        // Workers with nothing counted have no uptime to compare: they stay listed.
        Some(min) => rows
            .iter()
            .filter(|r| r.uptime.is_none_or(|u| u < min))
            .cloned()
            .collect(),
        None => rows.to_vec(),
    };
    let (groups, accounts) = totals(rows);
    let mut notes = vec![
        "uptime = hours with accepted hashrate > 0 / hours counted; counted hours run from \
         the later of the period start and the worker's first hourly point; missing hours are down"
            .to_owned(),
    ];
    if let Some(min) = min_uptime {
        notes.push(format!(
            "listing {} of {} workers: uptime below {} or nothing counted; totals cover all {}",
            listed.len(),
            rows.len(),
            super::render::format_percent(min),
            rows.len()
        ));
    }
    Report {
        title: format!(
            "Uptime, {}{}",
            period.describe(),
            describe_selection(selection)
        ),
        sections: vec![
            Section {
                title: Some("Workers (worst first)".to_owned()),
                table: worker_table(&listed, period),
                notes,
            },
            Section {
                title: Some("Groups".to_owned()),
                table: totals_table(Some("group_name"), &groups),
                notes: Vec::new(),
            },
            Section {
                title: Some("Accounts".to_owned()),
                table: totals_table(None, &accounts),
                notes: Vec::new(),
            },
        ],
    }
}

pub fn report(conn: &Connection, args: &UptimeArgs, now: i64) -> Result<Report, ReportError> {
    let period = args.period.resolve(now)?;
    let min_uptime = args
        .min_uptime
        .as_deref()
        .map(parse_min_uptime)
        .transpose()?;
    let selection = Selection {
        accounts: AccountFilter::from_args(args.accounts.as_ref())?,
        group: args.group.clone(),
        worker: args.worker.clone(),
    };
    let rows = uptime_rows(conn, &period, &selection)?;
    Ok(build_report(&rows, &period, &selection, min_uptime))
}
