//! `report monthly`: one month for a farm manager. HTML (inline CSS + SVG charts, no script, no
//! network), Markdown, and with `--csv` the tables as CSV files. Files are created 0600: they
//! hold account data.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::accounts::{account_cells, account_label, account_table, AccountArgs, AccountFilter};
use super::gaps::Gap;
use super::period::{parse_month, Period};
use super::reject_rate::{RejectRateRow, RejectRateTotal};
use super::render::{
    format_date, format_hashrate, format_percent, markdown_escape, to_csv, to_markdown_table, Cell,
    Table,
};
use super::uptime::{Outage, UptimeDay, UptimeRow, UptimeTotal};
use super::{query_rows, ReportError, Selection};

pub const DAILY_HASHRATE_SQL: &str = include_str!("../../queries/daily_hashrate.sql");

/// Workers shown in the HTML heatmap and the Markdown tables (worst first); CSV has them all.
pub const DEFAULT_TOP_WORKERS: usize = 50;
/// Rows of the outage and gap lists in HTML/Markdown; CSV has them all.
pub const LIST_ROWS: usize = 50;
/// Bars in the reject-rate leaders chart.
pub const LEADERS: usize = 15;

/// `poolhist report monthly`
#[derive(Debug, Clone, clap::Args)]
pub struct MonthlyArgs {
    /// The month, YYYY-MM (UTC).
    #[arg(long, value_name = "YYYY-MM")]
    pub month: String,
    /// Directory for poolhist-YYYY-MM.html, .md and (with --csv) the CSV files; created if missing.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also write each table as CSV.
    #[arg(long)]
    pub csv: bool,
    /// --pool, --account, --puid (None: every account). The field keeps the name of the old
    /// `--puid` field so code building these arguments keeps compiling.
    #[command(flatten)]
    pub accounts: Option<AccountArgs>,
    /// How many workers (worst uptime first) the heatmap and worker tables show.
    #[arg(long, default_value_t = DEFAULT_TOP_WORKERS, value_name = "N")]
    pub top: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DailyHashrate {
    pub day_ts: i64,
    pub hashrate_hs: Option<f64>,
    pub reject_rate: Option<f64>,
    /// "1d", "1h" (mean of the day's hourly points), "mixed" or "none".
    pub source: String,
    pub hours_1h: Option<i64>,
}

/// Everything the monthly report shows, gathered once.
#[derive(Debug, Clone)]
pub struct MonthlyData {
    pub month: String,
    pub period: Period,
    pub generated_at: i64,
    /// The accounts asked for (`--pool`, `--account`, `--puid`).
    pub selection: AccountFilter,
    /// The accounts the report covers, as "pool/account", by pool.
    pub accounts: Vec<String>,
    pub top: usize,
    pub daily: Vec<DailyHashrate>,
    /// Worst uptime first.
    pub uptime: Vec<UptimeRow>,
    /// Heatmap cells: of every worker, or only of the `top` shown ones (see [`gather_days`]).
    pub uptime_days: Vec<UptimeDay>,
    pub uptime_groups: Vec<UptimeTotal>,
    pub uptime_account: UptimeTotal,
    /// Worst reject rate first.
    pub reject: Vec<RejectRateRow>,
    pub reject_account: RejectRateTotal,
    /// Longest first.
    pub outages: Vec<Outage>,
    pub gaps: Vec<Gap>,
}

impl MonthlyData {
    pub fn days(&self) -> Vec<i64> {
        self.daily.iter().map(|d| d.day_ts).collect()
    }

    pub fn mean_hashrate_hs(&self) -> Option<f64> {
        let known: Vec<f64> = self.daily.iter().filter_map(|d| d.hashrate_hs).collect();
        (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
    }

    pub fn title(&self) -> String {
        let selection = self
            .selection
            .describe()
            .map_or_else(String::new, |s| format!(", {s}"));
        format!("Mining report {}{selection}", self.month)
    }

    /// "Accounts: cloverpool/1001, foundry/farm1": what the report covers.
    pub fn accounts_line(&self) -> String {
        if self.accounts.is_empty() {
            "Accounts: none stored".to_owned()
        } else {
            format!("Accounts: {}", self.accounts.join(", "))
        }
    }

    /// Totals as (label, value shown, value for CSV).
    pub fn totals(&self) -> Vec<(&'static str, String, Cell)> {
        let acct = &self.uptime_account;
        let never_up = self
            .uptime
            .iter()
            .filter(|r| r.hours_total > 0 && r.hours_up == 0)
            .count() as i64;
        let open_outages = self.outages.iter().filter(|o| o.open_at_period_end).count() as i64;
        let missing_points: i64 = self.gaps.iter().map(|g| g.points_missing).sum();
        let opt = |v: Option<String>| v.unwrap_or_else(|| "n/a".to_owned());
        vec![
            (
                "Account uptime",
                opt(acct.uptime().map(format_percent)),
                Cell::opt_fraction(acct.uptime()),
            ),
            (
                "Reject rate (accept-weighted)",
                opt(self.reject_account.reject_rate().map(format_percent)),
                Cell::opt_fraction(self.reject_account.reject_rate()),
            ),
            (
                "Mean daily hashrate",
                opt(self.mean_hashrate_hs().map(format_hashrate)),
                self.mean_hashrate_hs().map_or(Cell::Null, Cell::Hashrate),
            ),
            ("Workers", acct.workers.to_string(), Cell::Int(acct.workers)),
            (
                "Workers down all month",
                never_up.to_string(),
                Cell::Int(never_up),
            ),
            (
                "Worker hours up / counted",
                format!("{} / {}", acct.hours_up, acct.hours_total),
                Cell::text(format!("{}/{}", acct.hours_up, acct.hours_total)),
            ),
            ("Outages", acct.outages.to_string(), Cell::Int(acct.outages)),
            (
                "Still down at period end",
                open_outages.to_string(),
                Cell::Int(open_outages),
            ),
            (
                "Longest outage (hours)",
                acct.longest_outage_hours.to_string(),
                Cell::Int(acct.longest_outage_hours),
            ),
            (
                "Missing data points",
                missing_points.to_string(),
                Cell::Int(missing_points),
            ),
        ]
    }

    /// Worker rows for the heatmap: the `top` lowest uptimes (no-data workers first: they are
    /// the most suspicious), and how many were left out.
    pub fn heatmap_workers(&self) -> (Vec<&UptimeRow>, usize) {
        let mut rows: Vec<&UptimeRow> = self.uptime.iter().collect();
        rows.sort_by(|a, b| match (a.uptime, b.uptime) {
            (Some(x), Some(y)) => x
                .total_cmp(&y)
                .then_with(|| a.worker_name.cmp(&b.worker_name)),
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, None) => a.worker_name.cmp(&b.worker_name),
        });
        let hidden = rows.len().saturating_sub(self.top);
        rows.truncate(self.top);
        (rows, hidden)
    }

    /// A worker as charts name it: with several accounts covered, behind its pool/account (two
    /// accounts may both have a "rig01").
    pub fn worker_label(&self, pool: &str, account: &str, worker_name: &str) -> String {
        if self.accounts.len() > 1 {
            format!("{} {worker_name}", account_label(pool, account))
        } else {
            worker_name.to_owned()
        }
    }

    /// Heatmap cells by (account_id, worker_id, day_ts): the share of counted hours up. Keyed
    /// by account_id: a Foundry worker id may equal a CloverPool one.
    pub fn day_index(&self) -> HashMap<(i64, i64, i64), Option<f64>> {
        self.uptime_days
            .iter()
            .map(|d| ((d.account_id, d.worker_id, d.day_ts), d.uptime))
            .collect()
    }

    /// [`Self::day_index`] of the given workers only (the heatmap's few, not all 300,000 cells
    /// of 10,000 workers).
    pub fn day_index_of(&self, rows: &[&UptimeRow]) -> HashMap<(i64, i64, i64), Option<f64>> {
        let shown: std::collections::HashSet<(i64, i64)> =
            rows.iter().map(|r| (r.account_id, r.worker_id)).collect();
        self.uptime_days
            .iter()
            .filter(|d| shown.contains(&(d.account_id, d.worker_id)))
            .map(|d| ((d.account_id, d.worker_id, d.day_ts), d.uptime))
            .collect()
    }
}

/// The selected accounts' hashrate per day, summed.
pub fn daily_hashrate(
    conn: &Connection,
    period: &Period,
    accounts: &AccountFilter,
) -> Result<Vec<DailyHashrate>, ReportError> {
    query_rows(
        conn,
        DAILY_HASHRATE_SQL,
        &[
            (":from", &period.from),
            (":to", &period.to),
            (":pool", &accounts.pool),
            (":account", &accounts.account),
        ],
        |r| {
            Ok(DailyHashrate {
                day_ts: r.get("day_ts")?,
                hashrate_hs: r.get("hashrate_hs")?,
                reject_rate: r.get("reject_rate")?,
                source: r.get("source")?,
                hours_1h: r.get("hours_1h")?,
            })
        },
    )
}

/// Gathers the month. `now` caps the month at the current hour (a month under way is "so far").
/// The gap and hashrate queries run on a second read-only connection in a thread beside the
/// uptime scan and the reject rates (two cores halve the wait; at 10,000 workers the gaps take
/// about as long as the other two together); an in-memory database runs them in turn.
pub fn gather(
    conn: &Connection,
    month: &str,
    accounts: &AccountFilter,
    top: usize,
    now: i64,
) -> Result<MonthlyData, ReportError> {
    gather_days(conn, month, accounts, top, now, true)
}

/// [`gather`], with the heatmap's days of every worker (`all_days`, what the CSV holds) or of
/// the `top` shown ones only (at 10,000 workers building all 300,000 cells took 60 ms).
pub fn gather_days(
    conn: &Connection,
    month: &str,
    accounts: &AccountFilter,
    top: usize,
    now: i64,
    all_days: bool,
) -> Result<MonthlyData, ReportError> {
    let (from, to) = parse_month(month)?;
    let period = Period::new(from, to, now)?;
    let selection = Selection {
        accounts: accounts.clone(),
        ..Selection::default()
    };
    let covered = covered_accounts(conn, accounts)?;
    let other_queries = |c: &Connection| -> Result<OtherQueries, ReportError> {
        Ok(OtherQueries {
            daily: daily_hashrate(c, &period, accounts)?,
            gaps: super::gaps::gaps(
                c,
                Some(accounts),
                None,
                None,
                (Some(period.from), Some(period.to)),
                now,
            )?,
        })
    };
    let uptime_queries = || -> Result<UptimeQueries, ReportError> {
        // uptime, heatmap and outages from one read of the month's hours
        let want = super::uptime_scan::Want {
            rows: true,
            days: true,
            outages: true,
            days_of_first: (!all_days).then_some(top),
        };
        let scan = super::uptime_scan::scan(conn, &period, &selection, want)?;
        Ok(UptimeQueries {
            rows: scan.rows,
            days: scan.days,
            outages: scan.outages,
            reject: super::reject_rate::worker_rows(conn, &period, &selection)?,
        })
    };
    let (uptime, other) = match second_connection(conn) {
        Some(second) => std::thread::scope(|scope| {
            let other = scope.spawn(move || other_queries(&second));
            let uptime = uptime_queries();
            let other = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (uptime, other)
        }),
        None => (uptime_queries(), other_queries(conn)),
    };
    let (uptime, other) = (uptime?, other?);
    let (uptime_groups, account_totals) = super::uptime::totals(&uptime.rows);
    let uptime_account = sum_uptime(&account_totals);
    let reject_account = sum_reject(&super::reject_rate::account_totals(&uptime.reject));
    Ok(MonthlyData {
        month: month.trim().to_owned(),
        period,
        generated_at: now,
        selection: accounts.clone(),
        accounts: covered,
        top,
        daily: other.daily,
        uptime_days: uptime.days,
        uptime: uptime.rows,
        uptime_groups,
        uptime_account,
        reject: uptime.reject,
        reject_account,
        outages: uptime.outages,
        gaps: other.gaps,
    })
}

/// The stored accounts a selection matches, as "pool/account".
fn covered_accounts(
    conn: &Connection,
    accounts: &AccountFilter,
) -> Result<Vec<String>, ReportError> {
    query_rows(
        conn,
        "SELECT pool, account FROM accounts
         WHERE (:pool IS NULL OR pool = :pool) AND (:account IS NULL OR account = :account)
         ORDER BY pool, account_id",
        &[(":pool", &accounts.pool), (":account", &accounts.account)],
        |r| {
            Ok(account_label(
                &r.get::<_, String>(0)?,
                &r.get::<_, String>(1)?,
            ))
        },
    )
}

struct UptimeQueries {
    rows: Vec<UptimeRow>,
    days: Vec<UptimeDay>,
    outages: Vec<Outage>,
    reject: Vec<RejectRateRow>,
}

struct OtherQueries {
    daily: Vec<DailyHashrate>,
    gaps: Vec<Gap>,
}

/// Another read-only, report-tuned connection to the same database file, if it has one.
fn second_connection(conn: &Connection) -> Option<Connection> {
    let path = conn.path().filter(|p| !p.is_empty())?;
    let second = crate::store::open_read_only(Path::new(path)).ok()?;
    super::tune_for_reports(&second).ok()?;
    Some(second)
}

fn sum_uptime(accounts: &[UptimeTotal]) -> UptimeTotal {
    let mut total = UptimeTotal {
        name: "all".to_owned(),
        ..UptimeTotal::default()
    };
    for a in accounts {
        total.workers += a.workers;
        total.hours_up += a.hours_up;
        total.hours_total += a.hours_total;
        total.outages += a.outages;
        total.longest_outage_hours = total.longest_outage_hours.max(a.longest_outage_hours);
    }
    total
}

fn sum_reject(accounts: &[RejectRateTotal]) -> RejectRateTotal {
    let mut total = RejectRateTotal {
        name: "all".to_owned(),
        ..RejectRateTotal::default()
    };
    for a in accounts {
        total.workers += a.workers;
        total.accepted_hashes += a.accepted_hashes;
        total.reject_weight += a.reject_weight;
        total.workers_on_1d += a.workers_on_1d;
    }
    total
}

/// The CSV tables: (file suffix, table).
pub fn csv_tables(data: &MonthlyData) -> Vec<(&'static str, Table)> {
    let mut totals = Table::new(&["measure", "value"]);
    for (label, _, value) in data.totals() {
        totals.rows.push(vec![Cell::text(label), value]);
    }
    let mut daily = Table::new(&["day", "hashrate_hs", "reject_rate", "source", "hours_1h"]);
    for d in &data.daily {
        daily.rows.push(vec![
            Cell::Date(d.day_ts),
            d.hashrate_hs.map_or(Cell::Null, Cell::Hashrate),
            Cell::opt_fraction(d.reject_rate),
            Cell::text(&d.source),
            d.hours_1h.map_or(Cell::Null, Cell::Int),
        ]);
    }
    let mut heatmap = account_table(&[
        "worker_id",
        "worker_name",
        "day",
        "hours_up",
        "hours_counted",
        "uptime",
    ]);
    for d in &data.uptime_days {
        let mut cells = account_cells(d.puid, &d.pool, &d.account).to_vec();
        cells.extend([
            Cell::Int(d.worker_id),
            Cell::text(&d.worker_name),
            Cell::Date(d.day_ts),
            Cell::Int(d.hours_up),
            Cell::Int(d.hours_counted),
            Cell::opt_fraction(d.uptime),
        ]);
        heatmap.rows.push(cells);
    }
    vec![
        ("totals", totals),
        ("daily-hashrate", daily),
        (
            "uptime",
            super::uptime::worker_table(&data.uptime, &data.period),
        ),
        ("uptime-heatmap", heatmap),
        (
            "reject-rate",
            super::reject_rate::worker_table(&data.reject),
        ),
        ("outages", outages_table(&data.outages)),
        ("gaps", super::gaps::gaps_table(&data.gaps)),
    ]
}

pub fn outages_table(outages: &[Outage]) -> Table {
    let mut table = account_table(&[
        "worker_id",
        "worker_name",
        "group_name",
        "down_from",
        "up_again",
        "hours",
        "began_before_period",
        "still_down_at_end",
    ]);
    for o in outages {
        let mut cells = account_cells(o.puid, &o.pool, &o.account).to_vec();
        cells.extend([
            Cell::Int(o.worker_id),
            Cell::text(&o.worker_name),
            Cell::opt_text(o.group_name.clone()),
            Cell::Time(o.start_ts),
            if o.open_at_period_end {
                Cell::Null
            } else {
                Cell::Time(o.end_ts)
            },
            Cell::Int(o.hours),
            Cell::Bool(o.began_before_period),
            Cell::Bool(o.open_at_period_end),
        ]);
        table.rows.push(cells);
    }
    table
}

fn uptime_glyph(uptime: Option<f64>) -> char {
    match uptime {
        None => ' ',
        Some(u) if u >= 0.999 => '█',
        Some(u) if u >= 0.9 => '▓',
        Some(u) if u >= 0.5 => '▒',
        Some(u) if u > 0.0 => '░',
        Some(_) => '·',
    }
}

pub fn render_markdown(data: &MonthlyData) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", markdown_escape(&data.title()));
    let _ = writeln!(
        md,
        "Period: {}. Generated {} UTC.\n\n{}.\n",
        markdown_escape(&data.period.describe()),
        super::render::format_time(data.generated_at),
        markdown_escape(&data.accounts_line())
    );

    md.push_str("## Totals\n\n");
    let mut totals = Table::new(&["measure", "value"]);
    for (label, shown, _) in data.totals() {
        totals.rows.push(vec![Cell::text(label), Cell::text(shown)]);
    }
    md.push_str(&to_markdown_table(&totals));

    md.push_str("\n## Account hashrate per day\n\n");
    let mut daily = Table::new(&["day", "hashrate", "reject rate", "source"]);
    for d in &data.daily {
        daily.rows.push(vec![
            Cell::Date(d.day_ts),
            d.hashrate_hs.map_or(Cell::Null, Cell::Hashrate),
            Cell::opt_fraction(d.reject_rate),
            Cell::text(match (d.source.as_str(), d.hours_1h) {
                ("1h", Some(h)) => format!("mean of {h} hourly points"),
                ("1d", _) => "pool daily value".to_owned(),
                ("none", _) => "no data".to_owned(),
                (other, _) => other.to_owned(),
            }),
        ]);
    }
    md.push_str(&to_markdown_table(&daily));

    md.push_str("\n## Uptime heatmap (workers x days)\n\n");
    let (rows, hidden) = data.heatmap_workers();
    let days = data.days();
    let cells = data.day_index_of(&rows);
    let labels: Vec<String> = rows
        .iter()
        .map(|r| data.worker_label(&r.pool, &r.account, &r.worker_name))
        .collect();
    let name_width = labels
        .iter()
        .map(|label| {
            super::render::escape_controls(label)
                .chars()
                .count()
                .min(32)
        })
        .max()
        .unwrap_or(6)
        .max(6);
    md.push_str("```text\n");
    let _ = write!(md, "{:name_width$}  ", "worker");
    for day in &days {
        let label = format_date(*day);
        md.push(label.chars().last().unwrap_or(' '));
    }
    md.push_str("  uptime\n");
    for (row, label) in rows.iter().zip(&labels) {
        let name: String = super::render::escape_controls(label)
            .chars()
            // No backtick that could close the code fence.
            .map(|c| if c == '`' { ' ' } else { c })
            .take(32)
            .collect();
        let _ = write!(md, "{name:name_width$}  ");
        for day in &days {
            let uptime = cells
                .get(&(row.account_id, row.worker_id, *day))
                .copied()
                .flatten();
            md.push(uptime_glyph(uptime));
        }
        let _ = writeln!(
            md,
            "  {}",
            row.uptime.map_or_else(|| "n/a".to_owned(), format_percent)
        );
    }
    md.push_str("```\n\n");
    md.push_str(
        "One character per UTC day (the header shows the day's last digit): █ 100 %, ▓ 90 % or \
         more, ▒ 50 % or more, ░ some, · down all day, blank: not counted (before the worker's \
         first hourly point, or after the current hour).\n",
    );
    if hidden > 0 {
        let _ = writeln!(
            md,
            "\nShowing the {} workers with the lowest uptime; {hidden} more are in the CSV \
             (`--csv`).",
            rows.len()
        );
    }

    md.push_str("\n## Uptime by group\n\n");
    md.push_str(&to_markdown_table(&super::uptime::totals_table(
        Some("group"),
        &data.uptime_groups,
    )));

    md.push_str("\n## Reject-rate leaders\n\n");
    let leaders: Vec<RejectRateRow> = data
        .reject
        .iter()
        .filter(|r| r.reject_rate.is_some())
        .take(LEADERS)
        .cloned()
        .collect();
    md.push_str(&to_markdown_table(&super::reject_rate::worker_table(
        &leaders,
    )));
    md.push_str(
        "\nReject rate = sum(hashrate x hours x reject rate) / sum(hashrate x hours): weighted by \
         accepted work, never a mean of percentages.\n",
    );

    md.push_str("\n## Outages (longest first)\n\n");
    let outages = outages_table(&data.outages);
    if outages.rows.is_empty() {
        md.push_str("No outages.\n");
    } else {
        md.push_str(&to_markdown_table(&outages.first_rows(LIST_ROWS)));
        if outages.rows.len() > LIST_ROWS {
            let _ = writeln!(
                md,
                "\n{} more outages are in the CSV.",
                outages.rows.len() - LIST_ROWS
            );
        }
    }

    md.push_str("\n## Data gaps\n\n");
    let gaps = super::gaps::gaps_table(&data.gaps);
    if gaps.rows.is_empty() {
        md.push_str("No missing history in this month.\n");
    } else {
        md.push_str(&to_markdown_table(&gaps.first_rows(LIST_ROWS)));
        let _ = writeln!(md, "\n{}", markdown_escape(super::gaps::GAPS_NOTE));
    }
    md.push_str(&format!("\n## Definitions\n\n{}\n", DEFINITIONS_MD));
    md
}

pub const DEFINITIONS_MD: &str = "- **Uptime**: share of a worker's counted hours with accepted \
hashrate above zero. Counted hours start at the later of the month start and the worker's first \
hourly data point, and end at the month end or the current hour. Missing hours count as down.\n\
- **Outage**: an unbroken run of down hours; one that began before the month or continues after \
it is cut at the month boundary.\n\
- **Reject rate**: rejected share of the work, weighted by accepted hashrate, so a tiny worker \
with a high rate does not dominate.";

/// Writes the report files and returns their paths (HTML, Markdown, then CSVs).
pub fn write(conn: &Connection, args: &MonthlyArgs, now: i64) -> Result<Vec<PathBuf>, ReportError> {
    let accounts = AccountFilter::from_args(args.accounts.as_ref())?;
    let data = gather_days(conn, &args.month, &accounts, args.top, now, args.csv)?;
    std::fs::create_dir_all(&args.out).map_err(|error| ReportError::Write {
        path: args.out.display().to_string(),
        error,
    })?;
    let base = format!("poolhist-{}", data.month);
    let mut written = Vec::new();
    // the two pages render side by side (each takes tens of ms at 10,000 workers)
    let (html, markdown) = std::thread::scope(|scope| {
        let html = scope.spawn(|| super::html::render_html(&data));
        let markdown = render_markdown(&data);
        let html = html
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (html, markdown)
    });
    let html_path = args.out.join(format!("{base}.html"));
    write_private(&html_path, &html)?;
    written.push(html_path);
    let md_path = args.out.join(format!("{base}.md"));
    write_private(&md_path, &markdown)?;
    written.push(md_path);
    if args.csv {
        for (suffix, table) in csv_tables(&data) {
            let path = args.out.join(format!("{base}-{suffix}.csv"));
            write_private(&path, &to_csv(&table))?;
            written.push(path);
        }
    }
    sync_directory(&args.out)?;
    Ok(written)
}

/// Writes a file readable by its owner only (it holds account data), replacing an older one
/// atomically: a temporary file in the same directory, synced, then renamed over it. A reader
/// never sees half a report, and a link at `path` is never written through: a symlink is refused,
/// a hard link keeps its other name's contents.
fn write_private(path: &Path, contents: &str) -> Result<(), ReportError> {
    use std::io::Write as _;
    let shown = || path.display().to_string();
    let err = |error| ReportError::Write {
        path: shown(),
        error,
    };
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(ReportError::Symlink(shown()));
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    // create_new: never opens an existing file, nor follows a link planted at the temp name.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temp).map_err(err)?;
    let replaced = file
        .write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(source) = replaced {
        let _ = std::fs::remove_file(&temp);
        return Err(err(source));
    }
    Ok(())
}

/// Makes the renames durable: a directory's entries are synced through the directory itself.
fn sync_directory(dir: &Path) -> Result<(), ReportError> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|error| ReportError::Write {
            path: dir.display().to_string(),
            error,
        })?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
