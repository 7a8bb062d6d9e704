//! `poolhist metrics`: the farm as Prometheus metrics, for node_exporter's textfile collector
//! (`--textfile /var/lib/node_exporter/textfile/poolhist.prom`, replaced atomically) or on stdout.
//!
//! The text is exposition format 0.0.4 as the textfile collector parses it: every family once,
//! `# HELP` and `# TYPE` first, then all its samples; no timestamps; base units (seconds, H/s,
//! ratios 0..1); families sorted by name, samples by pool, account, worker name and worker id.
//!
//! Labels: `pool` and `account` on everything of an account; worker samples add `group` (the
//! worker's group at the last listing, empty when none), `worker` (its name as the pool sends
//! it) and `worker_id` (the pool's id: two workers of one account may share a name, and the id
//! keeps their series distinct). Label values escape `\`, `"` and newline as the format says;
//! other control characters, which a pool may put in a worker name, become U+FFFD so the file
//! always parses; bytes that are not UTF-8 are read lossily.
//!
//! Only the workers the pool listed at the account's last listing are exported: one that
//! disappeared stops being exported (bounded cardinality). Per listing of N workers over A
//! accounts and R rules, the text holds at most `3 N + 8 A + R + 5` samples (see
//! [`sample_bound`]).
//!
//! Values are at the account's *last final hour*: the newest hour at least an hour old that
//! the ingest has completed, `min(max watermark of the account's 1h series, floor(now/1h)-1h)`.
//! A worker without a final point at that hour (pools leave out hours without shares) is at
//! 0 H/s and down. An account whose hourly series were never completed has no last final hour:
//! its hashrate, reject and up samples (account and workers) are left out, not reported as 0.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

use crate::report::output::io_message;

/// When the oldest history not copied yet expires at the pool, per collected series.
const HISTORY_EXPIRY_SQL: &str = include_str!("../../queries/history_expiry.sql");

const HOUR: i64 = 3_600;

/// `poolhist metrics`
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MetricsArgs {
    /// Write the metrics to this file (atomically: a temporary file beside it, renamed over it),
    /// e.g. node_exporter's textfile directory/poolhist.prom. Without it they go to stdout.
    #[arg(long, value_name = "PATH")]
    pub textfile: Option<PathBuf>,
    /// The time to compute as of (Unix seconds; tests).
    #[arg(long, hide = true)]
    pub now: Option<i64>,
}

/// What a textfile write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSummary {
    pub path: PathBuf,
    pub families: usize,
    pub samples: usize,
    pub bytes: usize,
}

/// Why the textfile was not written; each prints as one line naming the path.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot read the metrics from the database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("refusing to write metrics to {0}: it is a symbolic link; give the real path")]
    Symlink(PathBuf),
    #[error("cannot write metrics to {0}: it is a directory")]
    IsDirectory(PathBuf),
    #[error("cannot write metrics to {path}: directory {dir} does not exist")]
    NoDirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot write metrics to {path}: {dir} is not a directory")]
    NotADirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot write metrics to {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

/// The most samples [`render`] writes for `workers` listed workers over `accounts` accounts:
/// per worker hashrate, up and reject (3); per account hashrate, workers, workers up, reject,
/// last final hour, last successful ingest, stored hourly points, history expiry (8; those not
/// known yet are left out); one `alerts_firing` per rule (6, more only if the database holds
/// open alerts of a rule this poolhist does not know); and 5 unlabelled (last ingest time and
/// success, the two ingest counters, generated time). With all known it is exact.
/// At 10,000 workers in one account: 30,000 + 8 + 6 + 5 = 30,019 series.
pub fn sample_bound(workers: usize, accounts: usize, rules: usize) -> usize {
    3 * workers + 8 * accounts + rules + 5
}

/// Runs `poolhist metrics`: opens the database read-only, renders, writes the textfile or prints.
pub fn run_metrics(db: &Path, args: &MetricsArgs) -> anyhow::Result<()> {
    if !db.exists() {
        return Err(crate::report::ReportError::NoDatabase(db.display().to_string()).into());
    }
    let conn = crate::store::open_read_only(db)?;
    crate::report::tune_for_reports(&conn)?;
    let now = args.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
    match &args.textfile {
        Some(path) => {
            let summary = write_textfile(&conn, path, now)?;
            tracing::info!(
                path = %summary.path.display(),
                families = summary.families,
                samples = summary.samples,
                bytes = summary.bytes,
                "metrics written"
            );
        }
        None => crate::report::output::print(&render(&conn, now)?)?,
    }
    Ok(())
}

/// Renders the metrics (the whole exposition text, ending in a newline) as of `now`.
pub fn render(conn: &Connection, now: i64) -> Result<String, rusqlite::Error> {
    Ok(write_families(&collect(conn, now)?))
}

/// Renders the metrics and replaces `path` with them atomically: the text goes to a temporary
/// file in the same directory (`.<name>.tmp.<pid>`, which the textfile collector ignores: it
/// reads `*.prom`), is synced, made mode 0644 (node_exporter runs as another user) and renamed
/// over `path`; the directory is synced after. A reader sees the old file or the new one, never
/// a part. `path` being a symbolic link is refused; its directory must exist.
pub fn write_textfile(
    conn: &Connection,
    path: &Path,
    now: i64,
) -> Result<MetricsSummary, MetricsError> {
    let families = collect(conn, now)?;
    let text = write_families(&families);
    let dir = check_target(path)?;
    let io_err = |e: std::io::Error| MetricsError::Io {
        path: path.to_owned(),
        reason: io_message(&e),
    };
    let tmp = temp_path(path, &dir);
    let written = write_synced(&tmp, text.as_bytes()).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    // The rename is durable once the directory is: a crash right after cannot bring back the
    // old file. Some filesystems cannot sync a directory; the file is in place all the same.
    if let Ok(handle) = std::fs::File::open(&dir) {
        let _ = handle.sync_all();
    }
    Ok(MetricsSummary {
        path: path.to_owned(),
        families: families.len(),
        samples: families.iter().map(|f| f.samples.len()).sum(),
        bytes: text.len(),
    })
}

/// Refuses a symbolic link or a directory at `path`, and a missing directory; returns the
/// directory the file goes in.
fn check_target(path: &Path) -> Result<PathBuf, MetricsError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(MetricsError::Symlink(path.to_owned()))
        }
        Ok(meta) if meta.is_dir() => return Err(MetricsError::IsDirectory(path.to_owned())),
        _ => {}
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok(dir),
        Ok(_) => Err(MetricsError::NotADirectory {
            path: path.to_owned(),
            dir,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(MetricsError::NoDirectory {
            path: path.to_owned(),
            dir,
        }),
        Err(e) => Err(MetricsError::Io {
            path: path.to_owned(),
            reason: format!("directory {}: {}", dir.display(), io_message(&e)),
        }),
    }
}

fn temp_path(path: &Path, dir: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "metrics".to_owned());
    dir.join(format!(".{name}.tmp.{}", std::process::id()))
}

/// Creates `tmp` afresh (never through a link left there), writes, sets 0644 and syncs.
fn write_synced(tmp: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let open = || {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
        options.open(tmp)
    };
    let mut file = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Left by a run with our pid that was killed: ours to replace.
            std::fs::remove_file(tmp)?;
            open()?
        }
        other => other?,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // The umask may have taken read access from node_exporter's user.
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

// ---------------------------------------------------------------------------------------------
// The families

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}

struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    /// Rendered label set (`{...}` or empty) and value, in output order.
    samples: Vec<(String, f64)>,
}

impl Family {
    fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind: Kind::Gauge,
            samples: Vec::new(),
        }
    }

    fn counter(name: &'static str, help: &'static str) -> Family {
        Family {
            kind: Kind::Counter,
            ..Family::gauge(name, help)
        }
    }

    fn push(&mut self, labels: String, value: f64) {
        self.samples.push((labels, value));
    }
}

struct Account {
    account_id: i64,
    pool: String,
    account: String,
    /// The last final hour; None when no hourly series was ever completed.
    hour: Option<i64>,
    /// The account's own series at that hour (H/s).
    hashrate: f64,
}

struct Worker {
    account_id: i64,
    worker_id: i64,
    name: String,
    group: String,
    hashrate: f64,
    reject: f64,
}

/// Per account, its last final hour and its own hashrate then. `:cap` is the newest hour that
/// can be final: the one that ended at the start of the current hour.
const ACCOUNTS_SQL: &str = "
WITH last_final AS (
    SELECT account_id, MIN(MAX(watermark_ts), :cap) AS hour
    FROM series
    WHERE dimension = '1h'
    GROUP BY account_id
)
SELECT a.account_id, a.pool, COALESCE(a.account, CAST(a.account_id AS TEXT)), l.hour,
       COALESCE(t.hashrate_hs, 0)
FROM accounts a
LEFT JOIN last_final l ON l.account_id = a.account_id
LEFT JOIN series s ON s.account_id = a.account_id AND s.worker_id IS NULL AND s.dimension = '1h'
LEFT JOIN tickers t ON t.series_id = s.series_id AND t.ts = l.hour AND t.provisional = 0";

/// The workers listed at their account's last listing, each with its final point at the
/// account's last final hour: one index seek into tickers per worker, in one statement.
const WORKERS_SQL: &str = "
WITH last_final AS (
    SELECT account_id, MIN(MAX(watermark_ts), :cap) AS hour
    FROM series
    WHERE dimension = '1h'
    GROUP BY account_id
)
SELECT w.account_id, w.worker_id, w.worker_name, COALESCE(g.name, ''),
       COALESCE(t.hashrate_hs, 0), COALESCE(t.reject_rate, 0)
FROM accounts a
JOIN workers w ON w.account_id = a.account_id AND w.last_seen = a.last_seen
LEFT JOIN groups g ON g.account_id = w.account_id AND g.gid = w.gid
LEFT JOIN last_final l ON l.account_id = a.account_id
LEFT JOIN series s ON s.account_id = w.account_id AND s.worker_id = w.worker_id AND s.dimension = '1h'
LEFT JOIN tickers t ON t.series_id = s.series_id AND t.ts = l.hour AND t.provisional = 0";

/// Per account, when its newest successful run finished (runs name their accounts as
/// `pool:account,...`).
const LAST_SUCCESS_SQL: &str = "
SELECT a.account_id, MAX(r.finished_at)
FROM accounts a
JOIN ingest_runs r
  ON r.status = 'ok' AND r.finished_at IS NOT NULL
 AND instr(',' || COALESCE(r.accounts, '') || ',',
           ',' || a.pool || ':' || COALESCE(a.account, CAST(a.account_id AS TEXT)) || ',') > 0
GROUP BY a.account_id";

const LAST_RUN_SQL: &str = "
SELECT finished_at, status = 'ok'
FROM ingest_runs
WHERE finished_at IS NOT NULL
ORDER BY finished_at DESC, run_id DESC
LIMIT 1";

const RUN_TOTALS_SQL: &str = "
SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(rows_new + rows_updated), 0)
FROM ingest_runs";

/// Final hourly points stored per account (its own series and its workers'), from the per-day
/// summary: one row per series and day instead of 24 tickers.
const STORED_HOURLY_SQL: &str = "
SELECT s.account_id, SUM(h.hours_final)
FROM series s
JOIN hourly_by_day h ON h.series_id = s.series_id
WHERE s.dimension = '1h'
GROUP BY s.account_id";

const ALERTS_SQL: &str = "
SELECT rule, COUNT(*) FROM alerts WHERE state = 'open' GROUP BY rule";

fn expiry_sql() -> String {
    let query = HISTORY_EXPIRY_SQL.trim_end().trim_end_matches(';');
    format!(
        "WITH expiry AS (\n{query}\n)\nSELECT account_id, MIN(expires_at) FROM expiry GROUP BY account_id"
    )
}

/// A text column as a string, whatever the bytes: a pool's worker name need not be UTF-8.
fn text(row: &Row<'_>, index: usize) -> rusqlite::Result<String> {
    Ok(match row.get_ref(index)? {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Null => String::new(),
    })
}

fn per_account(
    conn: &Connection,
    sql: &str,
    params: &[(&str, &dyn rusqlite::ToSql)],
) -> rusqlite::Result<BTreeMap<i64, i64>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params, |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        if let (id, Some(value)) = row? {
            out.insert(id, value);
        }
    }
    Ok(out)
}

fn collect(conn: &Connection, now: i64) -> rusqlite::Result<Vec<Family>> {
    let cap = now.div_euclid(HOUR) * HOUR - HOUR;

    let mut accounts = {
        let mut stmt = conn.prepare(ACCOUNTS_SQL)?;
        let rows = stmt.query_map(&[(":cap", &cap)], |r| {
            Ok(Account {
                account_id: r.get(0)?,
                pool: text(r, 1)?,
                account: text(r, 2)?,
                hour: r.get(3)?,
                hashrate: r.get(4)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    accounts.sort_by(|l, r| {
        (&l.pool, &l.account, l.account_id).cmp(&(&r.pool, &r.account, r.account_id))
    });

    let mut workers = {
        let mut stmt = conn.prepare(WORKERS_SQL)?;
        let rows = stmt.query_map(&[(":cap", &cap)], |r| {
            Ok(Worker {
                account_id: r.get(0)?,
                worker_id: r.get(1)?,
                name: text(r, 2)?,
                group: text(r, 3)?,
                hashrate: r.get(4)?,
                reject: r.get(5)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    workers.sort_by(|l, r| {
        (l.account_id, &l.name, l.worker_id).cmp(&(r.account_id, &r.name, r.worker_id))
    });
    let mut workers_of: BTreeMap<i64, Vec<&Worker>> = BTreeMap::new();
    for worker in &workers {
        workers_of
            .entry(worker.account_id)
            .or_default()
            .push(worker);
    }

    let last_success = per_account(conn, LAST_SUCCESS_SQL, &[])?;
    let stored_hourly = per_account(conn, STORED_HOURLY_SQL, &[])?;
    let expiry = per_account(conn, &expiry_sql(), &[])?;
    let last_run: Option<(i64, bool)> = {
        let mut stmt = conn.prepare(LAST_RUN_SQL)?;
        let mut rows = stmt.query([])?;
        match rows.next()? {
            Some(r) => Some((r.get(0)?, r.get(1)?)),
            None => None,
        }
    };
    let (requests, rows_written): (i64, i64) =
        conn.query_row(RUN_TOTALS_SQL, [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut firing: BTreeMap<String, i64> =
        super::RULES.iter().map(|r| (r.to_string(), 0)).collect();
    {
        let mut stmt = conn.prepare(ALERTS_SQL)?;
        let rows = stmt.query_map([], |r| Ok((text(r, 0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (rule, count) = row?;
            firing.insert(rule, count);
        }
    }

    let mut w_hashrate = Family::gauge(
        "poolhist_worker_hashrate_hashes_per_second",
        "Accepted hashrate of a worker listed at the account's last listing, in its account's last final hour (0 when the pool has no point for it).",
    );
    let mut w_up = Family::gauge(
        "poolhist_worker_up",
        "1 when the worker had accepted hashrate above 0 in its account's last final hour, else 0.",
    );
    let mut w_reject = Family::gauge(
        "poolhist_worker_reject_ratio",
        "Reject rate of the worker (fraction 0..1 of submitted shares) in its account's last final hour.",
    );
    let mut a_hashrate = Family::gauge(
        "poolhist_account_hashrate_hashes_per_second",
        "Accepted hashrate of the account's own series in its last final hour (0 when the pool has no point).",
    );
    let mut a_workers = Family::gauge(
        "poolhist_account_workers",
        "Workers the pool listed at the account's last listing.",
    );
    let mut a_workers_up = Family::gauge(
        "poolhist_account_workers_up",
        "Listed workers with accepted hashrate above 0 in the account's last final hour.",
    );
    let mut a_reject = Family::gauge(
        "poolhist_account_reject_ratio",
        "Hashrate-weighted reject rate (0..1) of the listed workers in the account's last final hour; 0 when none had hashrate.",
    );
    let mut a_hour = Family::gauge(
        "poolhist_account_last_final_hour_timestamp_seconds",
        "Start of the account's last final hour: the newest hour, ended at least an hour ago, the ingest has completed.",
    );
    let mut a_success = Family::gauge(
        "poolhist_last_successful_ingest_timestamp_seconds",
        "When the newest successful ingest run that collected the account finished.",
    );
    let mut a_stored = Family::gauge(
        "poolhist_stored_hourly_points",
        "Final hourly points stored for the account, its own series and its workers'.",
    );
    let mut a_expiry = Family::gauge(
        "poolhist_history_expiry_seconds",
        "Seconds until the oldest history of the account not copied yet expires at the pool (earliest of its collected series; negative: already expired).",
    );
    let mut last_ingest = Family::gauge(
        "poolhist_last_ingest_timestamp_seconds",
        "When the newest finished ingest run finished.",
    );
    let mut last_ingest_ok = Family::gauge(
        "poolhist_last_ingest_success",
        "1 when the newest finished ingest run succeeded, else 0.",
    );
    let mut requests_total = Family::counter(
        "poolhist_ingest_requests_total",
        "Requests made to pools by all recorded ingest runs.",
    );
    let mut rows_total = Family::counter(
        "poolhist_ingest_rows_written_total",
        "Points stored (new or updated) by all recorded ingest runs.",
    );
    let mut alerts = Family::gauge("poolhist_alerts_firing", "Open alerts of the rule.");
    let mut generated = Family::gauge(
        "poolhist_metrics_generated_timestamp_seconds",
        "The time these metrics were computed as of.",
    );

    for account in &accounts {
        let labels = LabelSet::new()
            .with("pool", &account.pool)
            .with("account", &account.account);
        let listed = workers_of
            .get(&account.account_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        a_workers.push(labels.render(), listed.len() as f64);
        if let Some(hour) = account.hour {
            a_hashrate.push(labels.render(), account.hashrate);
            a_hour.push(labels.render(), hour as f64);
            let up = listed.iter().filter(|w| w.hashrate > 0.0).count();
            a_workers_up.push(labels.render(), up as f64);
            let weight: f64 = listed.iter().map(|w| w.hashrate).sum();
            let rejected: f64 = listed.iter().map(|w| w.hashrate * w.reject).sum();
            a_reject.push(
                labels.render(),
                if weight > 0.0 { rejected / weight } else { 0.0 },
            );
            for worker in listed {
                let labels = labels
                    .clone()
                    .with("group", &worker.group)
                    .with("worker", &worker.name)
                    .with("worker_id", &worker.worker_id.to_string())
                    .render();
                w_hashrate.push(labels.clone(), worker.hashrate);
                w_up.push(
                    labels.clone(),
                    if worker.hashrate > 0.0 { 1.0 } else { 0.0 },
                );
                w_reject.push(labels, worker.reject);
            }
        }
        if let Some(&at) = last_success.get(&account.account_id) {
            a_success.push(labels.render(), at as f64);
        }
        if let Some(&points) = stored_hourly.get(&account.account_id) {
            a_stored.push(labels.render(), points as f64);
        }
        if let Some(&expires_at) = expiry.get(&account.account_id) {
            a_expiry.push(labels.render(), (expires_at - now) as f64);
        }
    }
    if let Some((at, ok)) = last_run {
        last_ingest.push(String::new(), at as f64);
        last_ingest_ok.push(String::new(), if ok { 1.0 } else { 0.0 });
    }
    requests_total.push(String::new(), requests as f64);
    rows_total.push(String::new(), rows_written as f64);
    for (rule, count) in &firing {
        alerts.push(LabelSet::new().with("rule", rule).render(), *count as f64);
    }
    generated.push(String::new(), now as f64);

    let mut families = vec![
        w_hashrate,
        w_up,
        w_reject,
        a_hashrate,
        a_workers,
        a_workers_up,
        a_reject,
        a_hour,
        a_success,
        a_stored,
        a_expiry,
        last_ingest,
        last_ingest_ok,
        requests_total,
        rows_total,
        alerts,
        generated,
    ];
    families.sort_by_key(|f| f.name);
    Ok(families)
}

fn write_families(families: &[Family]) -> String {
    let samples: usize = families.iter().map(|f| f.samples.len()).sum();
    let mut out = String::with_capacity(families.len() * 200 + samples * 160);
    for family in families {
        let kind = match family.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(family.help));
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        for (labels, value) in &family.samples {
            let _ = writeln!(out, "{}{labels} {}", family.name, format_value(*value));
        }
    }
    out
}

/// Labels in the order added (pool, account, group, worker, worker_id; or rule).
#[derive(Clone, Default)]
struct LabelSet(Vec<(&'static str, String)>);

impl LabelSet {
    fn new() -> LabelSet {
        LabelSet::default()
    }

    fn with(mut self, name: &'static str, value: &str) -> LabelSet {
        self.0.push((name, escape_label_value(value)));
        self
    }

    fn render(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let mut out = String::from("{");
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{name}=\"{value}\"");
        }
        out.push('}');
        out
    }
}

/// A label value as the text format wants it: `\` `"` and newline escaped; any other control
/// character (which the format would carry raw, and which breaks tools reading the file by line
/// or by eye) becomes U+FFFD.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Go's ParseFloat reads it: shortest round-trip decimal, `NaN`, `+Inf`,
/// `-Inf`; never `-0`.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value == 0.0 {
        "0".to_owned()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_controls_replaced() {
        assert_eq!(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(
            escape_label_value("x\ty\r\u{0}z\u{7f}"),
            "x\u{FFFD}y\u{FFFD}\u{FFFD}z\u{FFFD}"
        );
        assert_eq!(escape_label_value("rig-ä✓"), "rig-ä✓");
    }

    #[test]
    fn values_parse_as_go_floats() {
        assert_eq!(format_value(-0.0), "0");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(1.5e15), "1500000000000000");
        assert_eq!(format_value(0.0125), "0.0125");
        assert_eq!(format_value(-3600.0), "-3600");
    }

    #[test]
    fn the_expiry_query_embeds_as_a_subquery() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open(&dir.path().join("x.db")).unwrap();
        conn.prepare(&expiry_sql()).unwrap();
    }
}
