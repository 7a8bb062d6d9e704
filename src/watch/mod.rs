//! Watching the farm: alert rules evaluated over the stored history (`rules`), their state in
//! the database so each is told once when it opens and once when it resolves (`state`), told as
//! `record`s on the terminal, to webhooks (`webhook`) and as an exit code; and the Prometheus
//! textfile (`metrics`).

pub mod metrics;
pub mod record;
pub mod rules;
pub mod state;
pub mod webhook;

/// Every rule, by the name alerts and metrics carry.
pub const RULES: [&str; 6] = [
    "worker_down",
    "hashrate_drop",
    "reject_spike",
    "workers_changed",
    "history_at_risk",
    "stale_ingest",
];

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};

use crate::report::render::{self, Cell, Format, Section, Table};
use record::AlertRecord;
use rules::RuleSettings;
use webhook::{Webhook, WebhookFormat};

/// `poolhist alerts`: evaluate the rules now, tell what opened and resolved, list what fires.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertsArgs {
    /// The config file: `[alerts]` rule settings and `[[webhook]]` targets (see README)
    #[arg(long, value_name = "PATH", env = "POOLHIST_CONFIG")]
    pub config: Option<PathBuf>,

    /// Evaluate as of this time (RFC 3339 or YYYY-MM-DD) instead of now: replays and tests
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,

    /// Output format; table starts with a one-line summary for monitoring checks
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,

    /// List the alerts told so far, newest first, without evaluating
    #[arg(long)]
    pub history: bool,

    #[command(flatten)]
    pub watch: WatchArgs,
}

/// The rule and delivery options `alerts` and `ingest --alerts` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WatchArgs {
    /// worker_down: final hours in a row without accepted hashrate [default: 2]
    #[arg(long, value_name = "HOURS", help_heading = "Alert rules", value_parser = clap::value_parser!(u32).range(1..=8760))]
    pub worker_down_hours: Option<u32>,
    /// hashrate_drop: fire below this percentage of the 7-day median of the same hours [default: 20]
    #[arg(long, value_name = "PERCENT", help_heading = "Alert rules")]
    pub drop_below_percent: Option<f64>,
    /// reject_spike: fire above this reject rate over the last hours, percent [default: 2]
    #[arg(long, value_name = "PERCENT", help_heading = "Alert rules")]
    pub reject_above_percent: Option<f64>,
    /// history_at_risk: fire when uncopied history expires at the pool within these hours [default: 24]
    #[arg(long, value_name = "HOURS", help_heading = "Alert rules", value_parser = clap::value_parser!(u32).range(1..=8760))]
    pub at_risk_hours: Option<u32>,
    /// stale_ingest: fire after this many hours without a successful ingest [default: 26]
    #[arg(long, value_name = "HOURS", help_heading = "Alert rules", value_parser = clap::value_parser!(u32).range(1..=8760))]
    pub stale_hours: Option<u32>,
    /// Evaluations in a row a rule must hold before its alert opens [default: 1]
    #[arg(long, value_name = "N", help_heading = "Alert rules", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub open_after: Option<u32>,

    /// POST opened and resolved alerts to this URL (repeatable); it may hold a token, so
    /// prefer --webhook-file or the environment
    #[arg(
        long,
        value_name = "URL",
        env = "POOLHIST_WEBHOOK",
        hide_env_values = true,
        help_heading = "Alert delivery"
    )]
    pub webhook: Vec<String>,
    /// A file holding a webhook URL (first line); repeatable
    #[arg(long, value_name = "PATH", help_heading = "Alert delivery")]
    pub webhook_file: Vec<PathBuf>,
    /// Body of the webhooks given on the command line: json ({"alerts": [...]}) or slack
    /// ({"text": ...}, also Mattermost)
    #[arg(
        long,
        value_enum,
        default_value = "json",
        help_heading = "Alert delivery"
    )]
    pub webhook_format: WebhookFormat,
}

/// Alerts are firing: the process exits with [`AlertsFiring::EXIT_CODE`], having said so.
#[derive(Debug, thiserror::Error)]
#[error("{0} alerts firing")]
pub struct AlertsFiring(pub usize);

impl AlertsFiring {
    /// Monitoring checks' convention: 0 nothing firing, 3 firing; errors stay 1.
    pub const EXIT_CODE: u8 = 3;
}

impl WatchArgs {
    /// The rule settings: defaults, then the config file's `[alerts]`, then these flags.
    pub fn settings(&self, config: Option<&crate::config::Config>) -> anyhow::Result<RuleSettings> {
        let mut settings = config.map(|c| c.alerts.clone()).unwrap_or_default();
        if let Some(n) = self.open_after {
            settings.open_after = n;
        }
        if let (Some(h), Some(rule)) = (self.worker_down_hours, settings.worker_down.as_mut()) {
            rule.hours = h;
        }
        if let Some(p) = self.drop_below_percent {
            let p = percent_flag(p, "--drop-below-percent")?;
            if let Some(rule) = settings.hashrate_drop.as_mut() {
                rule.below_percent = p;
            }
        }
        if let Some(p) = self.reject_above_percent {
            let p = percent_flag(p, "--reject-above-percent")?;
            if let Some(rule) = settings.reject_spike.as_mut() {
                rule.above_percent = p;
            }
        }
        if let (Some(h), Some(rule)) = (self.at_risk_hours, settings.history_at_risk.as_mut()) {
            rule.hours = h;
        }
        if let (Some(h), Some(rule)) = (self.stale_hours, settings.stale_ingest.as_mut()) {
            rule.hours = h;
        }
        Ok(settings)
    }

    /// The webhooks of the flags and the config file; each URL's secret parts are registered
    /// for redaction before anything could print them.
    pub fn webhooks(&self, config: Option<&crate::config::Config>) -> anyhow::Result<Vec<Webhook>> {
        let mut webhooks = Vec::new();
        for (i, url) in self.webhook.iter().enumerate() {
            webhooks.push(
                Webhook::new(url, self.webhook_format)
                    .map_err(|e| anyhow!("--webhook #{}: {e}", i + 1))?,
            );
        }
        for path in &self.webhook_file {
            webhooks.push(Webhook::from_file(path, self.webhook_format)?);
        }
        for entry in config.map_or(&[][..], |c| &c.webhooks[..]) {
            webhooks.push(Webhook::from_file(&entry.url_file, entry.format)?);
        }
        for webhook in &webhooks {
            for secret in webhook.secrets() {
                crate::logging::register_secret(&secret);
            }
        }
        Ok(webhooks)
    }
}

fn percent_flag(value: f64, flag: &str) -> anyhow::Result<f64> {
    if value.is_finite() && value > 0.0 && value <= 100.0 {
        Ok(value)
    } else {
        Err(anyhow!(
            "{flag} {value}: give a percentage above 0, at most 100"
        ))
    }
}

/// What one evaluation told and what fires after it.
#[derive(Debug, Clone)]
pub struct Told {
    /// The time evaluated as of.
    pub evaluated_at: i64,
    pub evaluation: state::Evaluation,
    /// Open alerts, then those resolved now.
    pub records: Vec<AlertRecord>,
    pub summary: String,
    /// Webhook problems, one line each (already redacted).
    pub delivery_problems: Vec<String>,
}

/// Evaluates the rules over the database at `db` as of `now`, records what opened and
/// resolved, and posts those (and anything a webhook missed before) to the webhooks.
pub async fn evaluate(
    db: &Path,
    settings: &RuleSettings,
    webhooks: &[Webhook],
    now: i64,
) -> anyhow::Result<Told> {
    if !db.exists() {
        return Err(crate::report::ReportError::NoDatabase(db.display().to_string()).into());
    }
    let db_owned = db.to_owned();
    let _lock = tokio::task::spawn_blocking(move || crate::store::lock::acquire_alerts(&db_owned))
        .await
        .map_err(|e| anyhow!("waiting for another alert evaluation: {e}"))??;
    let mut conn = crate::store::open(db)?;
    crate::report::tune_for_reports(&conn)?;
    // Told in time order: an evaluation before the last one would resolve and reopen what
    // is open (said twice). Evaluating the same instant again is fine: nothing is told twice.
    if let Some(last) = last_evaluated(&conn)?.filter(|last| now < *last) {
        bail!(
            "evaluating as of {} would go back before the last evaluation ({}): alerts are told in time order; replay the past on a copy of the database",
            render::format_time_iso(now),
            render::format_time_iso(last)
        );
    }
    // The rules judge the stored data as it stands: a listing after `now` would be read as if
    // it had happened by then (replays of the past run on a copy made at that time).
    let listed: Option<i64> =
        conn.query_row("SELECT MAX(last_seen) FROM accounts", [], |row| row.get(0))?;
    if let Some(listed) = listed.filter(|listed| now < *listed) {
        bail!(
            "evaluating as of {} would judge data collected later (the last listing is of {}): evaluate as of then or later",
            render::format_time_iso(now),
            render::format_time_iso(listed)
        );
    }
    let started = std::time::Instant::now();
    let findings = rules::evaluate(&conn, settings, now)
        .with_context(|| format!("evaluating the alert rules over {}", db.display()))?;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let evaluation = state::apply(
        &mut conn,
        &findings,
        &settings.enabled(),
        now,
        settings.open_after,
        duration_ms,
    )
    .with_context(|| format!("recording alerts in {}", db.display()))?;
    let resolved: Vec<i64> = evaluation.resolved.clone();
    let opened = &evaluation.opened;
    let mut records = record::alerts(&conn, "v.state = 'open'", RECORD_ORDER, &[], opened)?;
    for id in resolved {
        records.extend(record::alerts(
            &conn,
            "v.alert_id = :id",
            RECORD_ORDER,
            &[(":id", &id)],
            opened,
        )?);
    }
    let summary = summary_line(&records, &evaluation, now);
    let mut delivery_problems = Vec::new();
    if !webhooks.is_empty() {
        let report = webhook::deliver(
            &mut conn,
            webhooks,
            now,
            &webhook::DeliveryOptions::default(),
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
        delivery_problems = report.problems;
    }
    Ok(Told {
        evaluated_at: now,
        evaluation,
        records,
        summary,
        delivery_problems,
    })
}

/// The time the last evaluation of the database at `db` was as of, if any (none when the file
/// or its alert tables do not exist yet).
pub fn last_evaluation(db: &Path) -> anyhow::Result<Option<i64>> {
    if !db.exists() {
        return Ok(None);
    }
    Ok(last_evaluated(&crate::store::open(db)?)?)
}

fn last_evaluated(conn: &rusqlite::Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT MAX(evaluated_at) FROM alert_evaluations",
        [],
        |row| row.get(0),
    )
}

const RECORD_ORDER: &str = "v.rule, v.pool, v.account, v.worker_name, v.alert_id";

/// One line for a monitoring check (Nagios plugin output: status, text, `|` performance data).
fn summary_line(records: &[AlertRecord], evaluation: &state::Evaluation, now: i64) -> String {
    let firing: Vec<&AlertRecord> = records.iter().filter(|r| r.state == "open").collect();
    let counts = format!(
        "firing={} opened={} resolved={}",
        firing.len(),
        evaluation.opened.len(),
        evaluation.resolved.len()
    );
    let at = render::format_time_iso(now);
    if firing.is_empty() {
        return format!(
            "POOLHIST OK - no alerts firing as of {at} ({} resolved now) | {counts}",
            evaluation.resolved.len()
        );
    }
    let by_rule: Vec<String> = RULES
        .iter()
        .filter_map(|rule| {
            let n = firing.iter().filter(|r| r.rule == *rule).count();
            (n > 0).then(|| format!("{rule} {n}"))
        })
        .collect();
    format!(
        "POOLHIST ALERT - {} firing as of {at}: {} ({} opened, {} resolved now) | {counts}",
        firing.len(),
        by_rule.join(", "),
        evaluation.opened.len(),
        evaluation.resolved.len()
    )
}

/// The records as a report table (table, CSV, Markdown).
fn records_table(records: &[AlertRecord]) -> Table {
    let mut table = Table::new(&[
        "rule",
        "state",
        "change",
        "pool",
        "account",
        "worker_id",
        "worker_name",
        "group_name",
        "since",
        "message",
        "alert_id",
        "opened_at",
        "resolved_at",
        "value",
        "threshold",
    ])
    .machine_only(&["alert_id", "opened_at", "resolved_at", "value", "threshold"]);
    for r in records {
        table.rows.push(vec![
            Cell::text(&r.rule),
            Cell::text(&r.state),
            Cell::text(&r.change),
            Cell::opt_text(r.pool.clone()),
            Cell::opt_text(r.account.clone()),
            r.worker_id.map_or(Cell::Null, Cell::Int),
            Cell::opt_text(r.worker_name.clone()),
            Cell::opt_text(r.group_name.clone()),
            Cell::text(&r.since),
            Cell::text(&r.message),
            Cell::Int(r.alert_id),
            Cell::opt_text(r.opened_at.clone()),
            Cell::opt_text(r.resolved_at.clone()),
            r.value.map_or(Cell::Null, Cell::Real),
            r.threshold.map_or(Cell::Null, Cell::Real),
        ]);
    }
    table
}

/// Renders records in `format`; for a table, `title` heads it.
pub fn render_records(
    records: &[AlertRecord],
    format: Format,
    title: &str,
    unicode: bool,
) -> String {
    match format {
        Format::Json => {
            let json = serde_json::to_string_pretty(records).unwrap_or_else(|_| "[]".to_owned());
            format!("{}\n", render::json_escape_controls(json))
        }
        _ => render::render(
            &render::Report {
                title: title.to_owned(),
                sections: vec![Section {
                    title: None,
                    table: records_table(records),
                    notes: Vec::new(),
                }],
            },
            format,
            unicode,
        ),
    }
}

/// The config file of `--config`, when given.
fn load_config(path: Option<&Path>) -> anyhow::Result<Option<crate::config::Config>> {
    path.map(|p| crate::config::load(p).map_err(|e| anyhow!(e)))
        .transpose()
}

/// Runs `poolhist alerts`.
pub async fn run_alerts(db: Option<PathBuf>, args: &AlertsArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    let config = load_config(args.config.as_deref())?;
    let db = db
        .or_else(|| config.as_ref().and_then(|c| c.db.clone()))
        .unwrap_or_else(|| PathBuf::from(crate::commands::DEFAULT_DB));
    let unicode = std::io::stdout().is_terminal();
    if args.history {
        if !db.exists() {
            return Err(crate::report::ReportError::NoDatabase(db.display().to_string()).into());
        }
        let conn = crate::store::open_read_only(&db)?;
        let records = record::alerts(
            &conn,
            "1 = 1",
            "COALESCE(v.resolved_at, v.opened_at) DESC, v.alert_id DESC",
            &[],
            &[],
        )?;
        let title = format!("Alerts told so far: {}", records.len());
        crate::report::output::print(&render_records(&records, args.format, &title, unicode))?;
        return Ok(());
    }
    let now = match &args.now {
        Some(text) => crate::report::period::parse_instant(text, "--now")?,
        None => chrono::Utc::now().timestamp(),
    };
    let settings = args.watch.settings(config.as_ref())?;
    let webhooks = args.watch.webhooks(config.as_ref())?;
    let told = evaluate(&db, &settings, &webhooks, now).await?;
    for problem in &told.delivery_problems {
        crate::logging::print_warning(problem);
    }
    crate::report::output::print(&render_records(
        &told.records,
        args.format,
        &told.summary,
        unicode,
    ))?;
    if args.format != Format::Table {
        // The summary for people and checks; stdout stays machine-readable.
        crate::logging::print_note(&told.summary);
    }
    match told.evaluation.firing {
        0 => Ok(()),
        n => Err(AlertsFiring(n).into()),
    }
}
