//! The config file of `poolhist ingest --config PATH`: the accounts of every pool one nightly
//! run collects, and optionally the database. It names key files, never keys: people paste
//! config files into chats and tickets, so a secret written inline is refused.
//!
//! Reading is two passes over one parse: a walk of the spanned document for inline secrets
//! (before anything could echo them), then serde into the `*Wire` structs with
//! `deny_unknown_fields`, then the checks serde cannot express. Every error is one line
//! `FILE:LINE: message`. A new top-level table (`[alerts]`, `[[webhook]]`) is a field of
//! `FileWire` and a check in `validate`.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::pools::PoolKind;
use crate::watch::rules::RuleSettings;
use crate::watch::webhook::WebhookFormat;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The database, resolved against the config file's directory (`--db` wins over it).
    pub db: Option<PathBuf>,
    pub accounts: Vec<AccountConfig>,
    /// `[alerts]`: the rules' settings over their defaults.
    pub alerts: RuleSettings,
    /// `[[webhook]]`: where alerts are posted.
    pub webhooks: Vec<WebhookConfig>,
}

/// A webhook of the config file: its URL holds a token, so it is read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// Resolved against the config file's directory.
    pub url_file: PathBuf,
    pub format: WebhookFormat,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountConfig {
    pub pool: PoolKind,
    /// The puid as text for CloverPool, the sub-account name (as written) for Foundry.
    pub account: String,
    /// CloverPool only.
    pub puid: Option<i64>,
    /// Resolved against the config file's directory.
    pub access_key_file: PathBuf,
    pub api_url: Option<String>,
}

/// One thing wrong with the file, at a line when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    /// 1-based.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the config file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every problem found, one line each (a syntax error stops at the first).
    #[error("{}", render_problems(problems))]
    Invalid { problems: Vec<Problem> },
}

fn render_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and checks the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Checks `text` as the config file at `path` (named in errors; its directory anchors
/// relative paths).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut report = Report {
        path,
        text,
        problems: Vec::new(),
    };
    let config = read(&mut report);
    match config {
        Some(config) if report.problems.is_empty() => Ok(config),
        _ => Err(ConfigError::Invalid {
            problems: report.problems,
        }),
    }
}

struct Report<'a> {
    path: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Report<'_> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        // Spans are byte offsets; counting newline bytes needs no char boundary.
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn at(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let line = span.map(|s| self.line_of(&s));
        self.at_line(line, message);
    }

    fn at_line(&mut self, line: Option<usize>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: self.path.to_owned(),
            line,
            // One line per problem, whatever the parser wrote.
            message: one_line(&message.into()),
        });
    }

    /// A toml error: its message and position only. Its `Display` quotes the source line,
    /// which may hold a secret.
    fn toml_error(&mut self, error: &toml::de::Error) {
        let mut message = error.message().to_owned();
        if message.starts_with("invalid type: map, expected a sequence") {
            message.push_str(" (write each account as [[account]], in double brackets)");
        }
        self.at(error.span(), message);
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// The file's shape.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWire {
    #[serde(default)]
    db: Option<Spanned<String>>,
    #[serde(default)]
    account: Vec<Spanned<AccountWire>>,
    #[serde(default)]
    alerts: Option<AlertsWire>,
    #[serde(default)]
    webhook: Vec<Spanned<WebhookWire>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AlertsWire {
    open_after: Option<Spanned<i64>>,
    worker_down: Option<RuleWire>,
    hashrate_drop: Option<RuleWire>,
    reject_spike: Option<RuleWire>,
    workers_changed: Option<RuleWire>,
    history_at_risk: Option<RuleWire>,
    stale_ingest: Option<RuleWire>,
}

/// One rule's table; which keys a rule takes is checked in `alert_settings`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RuleWire {
    enabled: Option<bool>,
    hours: Option<Spanned<i64>>,
    baseline_days: Option<Spanned<i64>>,
    below_percent: Option<Spanned<f64>>,
    above_percent: Option<Spanned<f64>>,
    factor: Option<Spanned<f64>>,
    factor_floor_percent: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookWire {
    /// Refused: a webhook URL holds a token (named here so the refusal says so).
    #[serde(default)]
    url: Option<Spanned<toml::Value>>,
    #[serde(default)]
    url_file: Option<Spanned<String>>,
    #[serde(default)]
    format: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountWire {
    pool: Spanned<String>,
    /// Text, or an integer (a CloverPool puid written twice, a numeric sub-account name).
    #[serde(default)]
    account: Option<Spanned<toml::Value>>,
    #[serde(default)]
    puid: Option<Spanned<toml::Value>>,
    access_key_file: Spanned<String>,
    #[serde(default)]
    api_url: Option<Spanned<String>>,
}

/// Keys that would hold a secret: refused wherever they appear.
const SECRET_KEYS: [&str; 7] = [
    "access_key",
    "key",
    "api_key",
    "secret",
    "token",
    "password",
    "webhook",
];

fn read(report: &mut Report) -> Option<Config> {
    let document = match DeTable::parse(report.text) {
        Ok(document) => document,
        Err(error) => {
            report.toml_error(&error);
            return None;
        }
    };
    find_secrets(report, document.get_ref());
    if !report.problems.is_empty() {
        return None;
    }
    let wire = match FileWire::deserialize(toml::de::Deserializer::from(document)) {
        Ok(wire) => wire,
        Err(error) => {
            report.toml_error(&error);
            return None;
        }
    };
    validate(report, wire)
}

/// Refuses secrets written inline, anywhere in the file. A table or array of tables under such
/// a name (the next issue's `[[webhook]]`) is not a value: left to the shape check.
fn find_secrets(report: &mut Report, table: &DeTable) {
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        match value.get_ref() {
            DeValue::Table(inner) => find_secrets(report, inner),
            DeValue::Array(items) if items.iter().all(|i| i.get_ref().is_table()) => {
                for item in items {
                    if let DeValue::Table(inner) = item.get_ref() {
                        find_secrets(report, inner);
                    }
                }
            }
            _ if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(name)) => {
                let message = if name.eq_ignore_ascii_case("webhook") {
                    "`webhook` is a secret (a webhook URL lets anyone post): keys are not written in the config file"
                        .to_owned()
                } else {
                    format!(
                        "`{name}`: keys are not written in the config file: use access_key_file"
                    )
                };
                report.at(Some(key.span()), message);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What serde cannot say.

fn validate(report: &mut Report, wire: FileWire) -> Option<Config> {
    let base = report.path.parent().unwrap_or(Path::new("")).to_owned();
    let db = wire.db.and_then(|db| {
        if db.get_ref().trim().is_empty() {
            report.at(Some(db.span()), "`db` is empty");
            None
        } else {
            Some(base.join(db.get_ref()))
        }
    });
    if wire.account.is_empty() {
        report.at_line(
            None,
            "no accounts: list each as an [[account]] table with `pool` and `access_key_file`",
        );
    }
    let mut accounts = Vec::new();
    // (pool, account) -> line of its first listing.
    let mut seen: HashMap<(PoolKind, String), usize> = HashMap::new();
    for entry in wire.account {
        let line = report.line_of(&entry.span());
        let Some(account) = account(report, &base, entry.into_inner()) else {
            continue;
        };
        match seen.get(&(account.pool, account.account.clone())) {
            Some(first) => report.at_line(
                Some(line),
                format!(
                    "{} account {:?} is listed twice (first at line {first})",
                    account.pool, account.account
                ),
            ),
            None => {
                seen.insert((account.pool, account.account.clone()), line);
                accounts.push(account);
            }
        }
    }
    let alerts = alert_settings(report, wire.alerts.unwrap_or_default());
    let webhooks = wire
        .webhook
        .into_iter()
        .filter_map(|entry| webhook(report, &base, entry))
        .collect();
    Some(Config {
        db,
        accounts,
        alerts,
        webhooks,
    })
}

fn webhook(report: &mut Report, base: &Path, entry: Spanned<WebhookWire>) -> Option<WebhookConfig> {
    let span = entry.span();
    let wire = entry.into_inner();
    if let Some(url) = &wire.url {
        report.at(
            Some(url.span()),
            "a webhook `url` holds a token and is not written in the config file: put it in a file only poolhist can read and give `url_file`",
        );
        return None;
    }
    let Some(url_file) = wire.url_file.filter(|f| !f.get_ref().trim().is_empty()) else {
        report.at(
            Some(span),
            "a [[webhook]] needs `url_file` (a file holding the URL)",
        );
        return None;
    };
    let format = match wire
        .format
        .as_ref()
        .map(|f| f.get_ref().to_ascii_lowercase())
    {
        None => WebhookFormat::Json,
        Some(f) if f == "json" => WebhookFormat::Json,
        Some(f) if f == "slack" || f == "mattermost" => WebhookFormat::Slack,
        Some(_) => {
            let f = wire.format.as_ref().map(Spanned::span);
            report.at(
                f,
                "webhook `format` must be \"json\" or \"slack\" (Slack and Mattermost `text`)",
            );
            return None;
        }
    };
    Some(WebhookConfig {
        url_file: base.join(url_file.get_ref()),
        format,
    })
}

/// The `[alerts]` table over the defaults; each value checked for its range.
fn alert_settings(report: &mut Report, wire: AlertsWire) -> RuleSettings {
    let mut settings = RuleSettings::default();
    set_whole(
        report,
        &wire.open_after,
        "open_after",
        1..=1000,
        &mut settings.open_after,
    );
    let w = rule_table(report, "worker_down", wire.worker_down, &["hours"]);
    if let Some(rule) = settings.worker_down.as_mut() {
        set_whole(
            report,
            &w.hours,
            "worker_down.hours",
            1..=8760,
            &mut rule.hours,
        );
    }
    if w.enabled == Some(false) {
        settings.worker_down = None;
    }
    let keys = ["hours", "baseline_days", "below_percent"];
    let w = rule_table(report, "hashrate_drop", wire.hashrate_drop, &keys);
    if let Some(rule) = settings.hashrate_drop.as_mut() {
        set_whole(
            report,
            &w.hours,
            "hashrate_drop.hours",
            1..=24,
            &mut rule.hours,
        );
        let days = &mut rule.baseline_days;
        set_whole(
            report,
            &w.baseline_days,
            "hashrate_drop.baseline_days",
            1..=90,
            days,
        );
        let below = &mut rule.below_percent;
        set_percent(
            report,
            &w.below_percent,
            "hashrate_drop.below_percent",
            below,
        );
    }
    if w.enabled == Some(false) {
        settings.hashrate_drop = None;
    }
    let keys = [
        "hours",
        "baseline_days",
        "above_percent",
        "factor",
        "factor_floor_percent",
    ];
    let w = rule_table(report, "reject_spike", wire.reject_spike, &keys);
    if let Some(rule) = settings.reject_spike.as_mut() {
        set_whole(
            report,
            &w.hours,
            "reject_spike.hours",
            1..=168,
            &mut rule.hours,
        );
        let days = &mut rule.baseline_days;
        set_whole(
            report,
            &w.baseline_days,
            "reject_spike.baseline_days",
            1..=90,
            days,
        );
        let above = &mut rule.above_percent;
        set_percent(
            report,
            &w.above_percent,
            "reject_spike.above_percent",
            above,
        );
        let floor = &mut rule.factor_floor_percent;
        let name = "reject_spike.factor_floor_percent";
        set_percent(report, &w.factor_floor_percent, name, floor);
        if let Some(f) = &w.factor {
            if f.get_ref().is_finite() && *f.get_ref() > 1.0 {
                rule.factor = *f.get_ref();
            } else {
                report.at(
                    Some(f.span()),
                    format!(
                        "`reject_spike.factor` {} must be a number above 1",
                        f.get_ref()
                    ),
                );
            }
        }
    }
    if w.enabled == Some(false) {
        settings.reject_spike = None;
    }
    let w = rule_table(report, "workers_changed", wire.workers_changed, &[]);
    settings.workers_changed = w.enabled != Some(false);
    let w = rule_table(report, "history_at_risk", wire.history_at_risk, &["hours"]);
    if let Some(rule) = settings.history_at_risk.as_mut() {
        set_whole(
            report,
            &w.hours,
            "history_at_risk.hours",
            1..=8760,
            &mut rule.hours,
        );
    }
    if w.enabled == Some(false) {
        settings.history_at_risk = None;
    }
    let w = rule_table(report, "stale_ingest", wire.stale_ingest, &["hours"]);
    if let Some(rule) = settings.stale_ingest.as_mut() {
        set_whole(
            report,
            &w.hours,
            "stale_ingest.hours",
            1..=8760,
            &mut rule.hours,
        );
    }
    if w.enabled == Some(false) {
        settings.stale_ingest = None;
    }
    settings
}

/// One rule's table (empty when absent); a key the rule does not take is a problem.
fn rule_table(report: &mut Report, name: &str, wire: Option<RuleWire>, keys: &[&str]) -> RuleWire {
    let wire = wire.unwrap_or_default();
    let given: [(&str, bool); 6] = [
        ("hours", wire.hours.is_some()),
        ("baseline_days", wire.baseline_days.is_some()),
        ("below_percent", wire.below_percent.is_some()),
        ("above_percent", wire.above_percent.is_some()),
        ("factor", wire.factor.is_some()),
        ("factor_floor_percent", wire.factor_floor_percent.is_some()),
    ];
    for (key, present) in given {
        if present && !keys.contains(&key) {
            report.at_line(
                None,
                format!(
                    "[alerts.{name}] takes no `{key}` (it takes: enabled{}{})",
                    if keys.is_empty() { "" } else { ", " },
                    keys.join(", ")
                ),
            );
        }
    }
    wire
}

fn set_whole(
    report: &mut Report,
    value: &Option<Spanned<i64>>,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
    field: &mut u32,
) {
    if let Some(v) = value.as_ref().and_then(|v| whole(report, v, name, range)) {
        *field = v;
    }
}

fn set_percent(report: &mut Report, value: &Option<Spanned<f64>>, name: &str, field: &mut f64) {
    if let Some(v) = value.as_ref().and_then(|v| percent(report, v, name)) {
        *field = v;
    }
}

fn whole(
    report: &mut Report,
    value: &Spanned<i64>,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Option<u32> {
    let v = *value.get_ref();
    if range.contains(&v) {
        u32::try_from(v).ok()
    } else {
        report.at(
            Some(value.span()),
            format!(
                "`{name}` {v} must be between {} and {}",
                range.start(),
                range.end()
            ),
        );
        None
    }
}

fn percent(report: &mut Report, value: &Spanned<f64>, name: &str) -> Option<f64> {
    let v = *value.get_ref();
    if v.is_finite() && v > 0.0 && v <= 100.0 {
        Some(v)
    } else {
        report.at(
            Some(value.span()),
            format!("`{name}` {v} must be a percentage above 0, at most 100"),
        );
        None
    }
}

fn account(report: &mut Report, base: &Path, wire: AccountWire) -> Option<AccountConfig> {
    let Some(pool) = PoolKind::parse(wire.pool.get_ref()) else {
        let accepted = crate::pools::PoolKind::ACCEPTED;
        report.at(
            Some(wire.pool.span()),
            format!(
                "unknown pool {:?}: accepted are {accepted} (btccom is cloverpool)",
                wire.pool.get_ref()
            ),
        );
        return None;
    };
    let problems_before = report.problems.len();
    let account_text = wire.account.as_ref().and_then(|a| match a.get_ref() {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        other => {
            report.at(
                Some(a.span()),
                format!("`account` must be text, not {}", other.type_str()),
            );
            None
        }
    });
    let (account_name, puid) = match pool {
        PoolKind::CloverPool => {
            let puid = match &wire.puid {
                None => {
                    report.at(
                        Some(wire.pool.span()),
                        "a cloverpool account needs `puid` (a positive integer)",
                    );
                    None
                }
                Some(p) => match p.get_ref() {
                    toml::Value::Integer(n) if *n > 0 => Some(*n),
                    other => {
                        report.at(
                            Some(p.span()),
                            format!("`puid` must be a positive integer, not {other}"),
                        );
                        None
                    }
                },
            };
            // `account` is redundant for CloverPool: allowed only when it says the same.
            if let (Some(puid), Some(text), Some(a)) = (puid, &account_text, &wire.account) {
                if text.trim() != puid.to_string() {
                    report.at(
                        Some(a.span()),
                        format!(
                            "a cloverpool account is named by `puid`: drop `account` (it says {text:?}, puid is {puid})"
                        ),
                    );
                }
            }
            (puid.map(|p| p.to_string()), puid)
        }
        PoolKind::Foundry => {
            if let Some(p) = &wire.puid {
                report.at(
                    Some(p.span()),
                    "a foundry account has no `puid`: name its sub-account with `account`",
                );
            }
            let name = match (&wire.account, account_text) {
                (None, _) => {
                    report.at(
                        Some(wire.pool.span()),
                        "a foundry account needs `account` (the sub-account name)",
                    );
                    None
                }
                (Some(a), Some(text)) if text.trim().is_empty() => {
                    report.at(Some(a.span()), "`account` is empty");
                    None
                }
                (Some(a), Some(text)) if text.trim() != text => {
                    report.at(
                        Some(a.span()),
                        format!("`account` {text:?} has spaces around it"),
                    );
                    None
                }
                (Some(_), text) => text,
            };
            (name, None)
        }
    };
    let key_file = wire.access_key_file.get_ref();
    if key_file.trim().is_empty() {
        report.at(
            Some(wire.access_key_file.span()),
            "`access_key_file` is empty",
        );
    }
    if let Some(url) = &wire.api_url {
        let lower = url.get_ref().trim().to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"));
        if rest.is_none_or(str::is_empty) {
            report.at(
                Some(url.span()),
                format!(
                    "`api_url` {:?} must start with https:// (or http://) and name a host",
                    url.get_ref()
                ),
            );
        }
    }
    if report.problems.len() > problems_before {
        return None;
    }
    Some(AccountConfig {
        pool,
        account: account_name?,
        puid,
        access_key_file: base.join(key_file),
        api_url: wire.api_url.map(|u| u.into_inner().trim().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse(text, Path::new("/etc/poolhist/poolhist.toml")) {
            Ok(config) => panic!("accepted: {config:?}"),
            Err(error) => error.to_string().lines().map(str::to_owned).collect(),
        }
    }

    fn one_problem(text: &str) -> String {
        let problems = problems(text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        problems.into_iter().next().unwrap_or_default()
    }

    const FULL: &str = r#"# optional: the database (the --db flag wins)
db = "/var/lib/poolhist/poolhist.db"

[[account]]
pool = "cloverpool"          # "btccom" is an alias
puid = 1001
access_key_file = "/etc/poolhist/cloverpool.key"

[[account]]
pool = "foundry"
account = "farm1"            # the Foundry sub-account name
access_key_file = "/etc/poolhist/foundry.key"
api_url = "https://api.foundryusapool.com"
"#;

    #[test]
    fn full_valid_file() {
        let config = parse(FULL, Path::new("/etc/poolhist/poolhist.toml")).expect("valid");
        assert_eq!(
            config,
            Config {
                db: Some(PathBuf::from("/var/lib/poolhist/poolhist.db")),
                accounts: vec![
                    AccountConfig {
                        pool: PoolKind::CloverPool,
                        account: "1001".to_owned(),
                        puid: Some(1001),
                        access_key_file: PathBuf::from("/etc/poolhist/cloverpool.key"),
                        api_url: None,
                    },
                    AccountConfig {
                        pool: PoolKind::Foundry,
                        account: "farm1".to_owned(),
                        puid: None,
                        access_key_file: PathBuf::from("/etc/poolhist/foundry.key"),
                        api_url: Some("https://api.foundryusapool.com".to_owned()),
                    },
                ],
                alerts: RuleSettings::default(),
                webhooks: Vec::new(),
            }
        );
    }

    const ACCOUNT: &str =
        "[[account]]\npool = \"foundry\"\naccount = \"f\"\naccess_key_file = \"k\"\n";

    #[test]
    fn alert_settings_override_the_defaults_and_rules_turn_off() {
        let text = format!(
            "{ACCOUNT}\n[alerts]\nopen_after = 2\n[alerts.worker_down]\nhours = 4\n\
             [alerts.hashrate_drop]\nbelow_percent = 50\n[alerts.reject_spike]\nenabled = false\n\
             [alerts.workers_changed]\nenabled = false\n\n[[webhook]]\nurl_file = \"hook.url\"\nformat = \"slack\"\n"
        );
        let config = parse(&text, Path::new("/etc/poolhist/poolhist.toml")).expect("valid");
        let defaults = RuleSettings::default();
        assert_eq!(config.alerts.open_after, 2);
        assert_eq!(config.alerts.worker_down.map(|r| r.hours), Some(4));
        let drop = config.alerts.hashrate_drop.expect("on");
        assert_eq!(drop.below_percent, 50.0);
        assert_eq!(drop.hours, defaults.hashrate_drop.expect("on").hours);
        assert_eq!(config.alerts.reject_spike, None);
        assert!(!config.alerts.workers_changed);
        assert_eq!(config.alerts.history_at_risk, defaults.history_at_risk);
        assert_eq!(
            config.webhooks,
            vec![WebhookConfig {
                url_file: PathBuf::from("/etc/poolhist/hook.url"),
                format: WebhookFormat::Slack
            }]
        );
    }

    #[test]
    fn a_webhook_url_written_inline_is_refused_without_echoing_it() {
        let text =
            format!("{ACCOUNT}\n[[webhook]]\nurl = \"https://hooks.example/T/B/SECRET-TOKEN\"\n");
        let problem = one_problem(&text);
        assert!(problem.contains(":7:"), "{problem}");
        assert!(problem.contains("url_file"), "{problem}");
        assert!(!problem.contains("SECRET-TOKEN"), "{problem}");
    }

    #[test]
    fn alert_values_out_of_range_name_the_line() {
        let text = format!("{ACCOUNT}\n[alerts.hashrate_drop]\nbelow_percent = 150\n");
        let problem = one_problem(&text);
        assert!(problem.contains(":7:"), "{problem}");
        assert!(problem.contains("hashrate_drop.below_percent"), "{problem}");
        let text = format!("{ACCOUNT}\n[alerts.stale_ingest]\nbelow_percent = 5\n");
        assert!(one_problem(&text).contains("takes no `below_percent`"));
    }

    #[test]
    fn load_reads_a_file_and_resolves_relative_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("poolhist.toml");
        std::fs::write(
            &path,
            "db = \"data/poolhist.db\"\n\n[[account]]\npool = \"foundry\"\naccount = \"Farm-1\"\naccess_key_file = \"keys/foundry.key\"\n",
        )
        .expect("write");
        let config = load(&path).expect("valid");
        assert_eq!(config.db, Some(dir.path().join("data/poolhist.db")));
        assert_eq!(
            config.accounts[0].access_key_file,
            dir.path().join("keys/foundry.key")
        );
        // Not lowercased: the name is the pool's.
        assert_eq!(config.accounts[0].account, "Farm-1");
    }

    #[test]
    fn a_bare_file_name_resolves_against_the_working_directory() {
        let text = "[[account]]\npool = \"btccom\"\npuid = 7\naccess_key_file = \"k.key\"\n";
        let config = parse(text, Path::new("poolhist.toml")).expect("valid");
        assert_eq!(config.accounts[0].access_key_file, PathBuf::from("k.key"));
        assert_eq!(config.db, None);
    }

    #[test]
    fn missing_file_names_the_path() {
        let error = load(Path::new("/nonexistent/poolhist.toml")).expect_err("missing");
        assert!(
            error
                .to_string()
                .starts_with("/nonexistent/poolhist.toml: cannot read the config file:"),
            "{error}"
        );
    }

    #[test]
    fn btccom_is_an_alias_and_pool_names_ignore_case() {
        let text = "[[account]]\npool = \"btccom\"\npuid = 7\naccess_key_file = \"a\"\n\n[[account]]\npool = \"Foundry\"\naccount = \"x\"\naccess_key_file = \"b\"\n";
        let config = parse(text, Path::new("/c/p.toml")).expect("valid");
        assert_eq!(config.accounts[0].pool, PoolKind::CloverPool);
        assert_eq!(config.accounts[1].pool, PoolKind::Foundry);
    }

    #[test]
    fn cloverpool_account_equal_to_the_puid_is_allowed() {
        let text = "[[account]]\npool = \"cloverpool\"\npuid = 7\naccount = \"7\"\naccess_key_file = \"a\"\n\n[[account]]\npool = \"cloverpool\"\npuid = 8\naccount = 8\naccess_key_file = \"a\"\n";
        let config = parse(text, Path::new("/c/p.toml")).expect("valid");
        assert_eq!(config.accounts[0].account, "7");
        assert_eq!(config.accounts[1].account, "8");
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let text = "[[account]]\npool = \"foundry\"\naccount = \"x\"\naccess_key_file = \"a\"\nregion = \"us\"\n";
        let problem = one_problem(text);
        assert!(
            problem.starts_with("/etc/poolhist/poolhist.toml:5: unknown field `region`"),
            "{problem}"
        );
    }

    #[test]
    fn unknown_top_level_table_is_refused() {
        let text = "[[account]]\npool = \"foundry\"\naccount = \"x\"\naccess_key_file = \"a\"\n\n[watch]\nafter_hours = 3\n";
        let problem = one_problem(text);
        assert!(
            problem.starts_with("/etc/poolhist/poolhist.toml:6: unknown field `watch`"),
            "{problem}"
        );
    }

    #[test]
    fn an_unknown_alert_setting_names_its_line() {
        let text = "[[account]]\npool = \"foundry\"\naccount = \"x\"\naccess_key_file = \"a\"\n\n[alerts]\nafter_hours = 3\n";
        let problem = one_problem(text);
        assert!(
            problem.starts_with("/etc/poolhist/poolhist.toml:7: unknown field `after_hours`"),
            "{problem}"
        );
    }

    #[test]
    fn unknown_pool_lists_the_accepted_ones() {
        let text = "[[account]]\npool = \"f2pool\"\naccount = \"x\"\naccess_key_file = \"a\"\n";
        assert_eq!(
            one_problem(text),
            "/etc/poolhist/poolhist.toml:2: unknown pool \"f2pool\": accepted are cloverpool, btccom, foundry (btccom is cloverpool)"
        );
    }

    #[test]
    fn cloverpool_needs_a_positive_puid() {
        let missing = "[[account]]\npool = \"cloverpool\"\naccess_key_file = \"a\"\n";
        assert_eq!(
            one_problem(missing),
            "/etc/poolhist/poolhist.toml:2: a cloverpool account needs `puid` (a positive integer)"
        );
        let zero = "[[account]]\npool = \"cloverpool\"\npuid = 0\naccess_key_file = \"a\"\n";
        assert_eq!(
            one_problem(zero),
            "/etc/poolhist/poolhist.toml:3: `puid` must be a positive integer, not 0"
        );
        let text = "[[account]]\npool = \"cloverpool\"\npuid = \"1001\"\naccess_key_file = \"a\"\n";
        assert_eq!(
            one_problem(text),
            "/etc/poolhist/poolhist.toml:3: `puid` must be a positive integer, not \"1001\""
        );
    }

    #[test]
    fn cloverpool_account_other_than_the_puid_is_refused() {
        let text = "[[account]]\npool = \"cloverpool\"\npuid = 7\naccount = \"farm1\"\naccess_key_file = \"a\"\n";
        assert_eq!(
            one_problem(text),
            "/etc/poolhist/poolhist.toml:4: a cloverpool account is named by `puid`: drop `account` (it says \"farm1\", puid is 7)"
        );
    }

    #[test]
    fn foundry_needs_an_account_and_no_puid() {
        let missing = "[[account]]\npool = \"foundry\"\naccess_key_file = \"a\"\n";
        assert_eq!(
            one_problem(missing),
            "/etc/poolhist/poolhist.toml:2: a foundry account needs `account` (the sub-account name)"
        );
        let empty = "[[account]]\npool = \"foundry\"\naccount = \"\"\naccess_key_file = \"a\"\n";
        assert_eq!(
            one_problem(empty),
            "/etc/poolhist/poolhist.toml:3: `account` is empty"
        );
        let puid =
            "[[account]]\npool = \"foundry\"\naccount = \"x\"\npuid = 5\naccess_key_file = \"a\"\n";
        assert_eq!(
            one_problem(puid),
            "/etc/poolhist/poolhist.toml:4: a foundry account has no `puid`: name its sub-account with `account`"
        );
    }

    #[test]
    fn duplicates_are_refused_with_both_lines() {
        let text = "[[account]]\npool = \"foundry\"\naccount = \"farm1\"\naccess_key_file = \"a\"\n\n[[account]]\npool = \"foundry\"\naccount = \"farm1\"\naccess_key_file = \"b\"\n\n[[account]]\npool = \"cloverpool\"\npuid = 9\naccess_key_file = \"a\"\n\n[[account]]\npool = \"btccom\"\npuid = 9\naccess_key_file = \"a\"\n";
        assert_eq!(
            problems(text),
            [
                "/etc/poolhist/poolhist.toml:6: foundry account \"farm1\" is listed twice (first at line 1)",
                "/etc/poolhist/poolhist.toml:16: cloverpool account \"9\" is listed twice (first at line 11)",
            ]
        );
        // Case is the pool's business: two names, two accounts.
        let text = "[[account]]\npool = \"foundry\"\naccount = \"farm1\"\naccess_key_file = \"a\"\n\n[[account]]\npool = \"foundry\"\naccount = \"Farm1\"\naccess_key_file = \"a\"\n";
        assert!(parse(text, Path::new("/c/p.toml")).is_ok());
    }

    #[test]
    fn inline_keys_are_refused_without_echoing_them() {
        for key in ["access_key", "key", "API_KEY"] {
            let text = format!(
                "[[account]]\npool = \"foundry\"\naccount = \"x\"\naccess_key_file = \"a\"\n{key} = \"s3cr3t-0000\"\n"
            );
            let problem = one_problem(&text);
            assert_eq!(
                problem,
                format!("/etc/poolhist/poolhist.toml:5: `{key}`: keys are not written in the config file: use access_key_file")
            );
        }
        let text = "webhook = \"https://hooks.example/s3cr3t-0000\"\n\n[[account]]\npool = \"foundry\"\naccount = \"x\"\naccess_key_file = \"a\"\n";
        let problem = one_problem(text);
        assert!(
            problem.starts_with("/etc/poolhist/poolhist.toml:1: `webhook` is a secret")
                && problem.contains("keys are not written in the config file"),
            "{problem}"
        );
        // Even where the file is otherwise broken in shape, the secret is named, never shown.
        let text = "access_key = \"s3cr3t-0000\"\n";
        let all = problems(text).join("\n");
        assert!(!all.contains("s3cr3t"), "{all}");
    }

    #[test]
    fn syntax_errors_are_one_line_without_the_source() {
        let text = "[[account]]\npool = \"foundry\"\naccount = x-s3cr3t\naccess_key_file = \"a\"\n";
        let problem = one_problem(text);
        assert!(
            problem.starts_with("/etc/poolhist/poolhist.toml:3: "),
            "{problem}"
        );
        assert!(!problem.contains("s3cr3t"), "{problem}");
    }

    #[test]
    fn api_url_needs_a_scheme() {
        let text = "[[account]]\npool = \"foundry\"\naccount = \"x\"\naccess_key_file = \"a\"\napi_url = \"api.foundryusapool.com\"\n";
        assert_eq!(
            one_problem(text),
            "/etc/poolhist/poolhist.toml:5: `api_url` \"api.foundryusapool.com\" must start with https:// (or http://) and name a host"
        );
        let text = "[[account]]\npool = \"foundry\"\naccount = \"x\"\naccess_key_file = \"a\"\napi_url = \"http://127.0.0.1:8080\"\n";
        assert!(parse(text, Path::new("/c/p.toml")).is_ok());
    }

    #[test]
    fn no_accounts_is_an_error() {
        assert_eq!(
            one_problem("db = \"x.db\"\n"),
            "/etc/poolhist/poolhist.toml: no accounts: list each as an [[account]] table with `pool` and `access_key_file`"
        );
        assert_eq!(problems("").len(), 1);
    }

    #[test]
    fn a_single_bracket_account_table_gets_a_hint() {
        let text = "[account]\npool = \"foundry\"\naccount = \"x\"\naccess_key_file = \"a\"\n";
        assert_eq!(
            one_problem(text),
            "/etc/poolhist/poolhist.toml:1: invalid type: map, expected a sequence (write each account as [[account]], in double brackets)"
        );
    }

    #[test]
    fn missing_access_key_file_names_the_account() {
        let text = "db = \"x.db\"\n[[account]]\npool = \"foundry\"\naccount = \"x\"\n";
        let problem = one_problem(text);
        assert!(
            problem.starts_with("/etc/poolhist/poolhist.toml:")
                && problem.contains("missing field `access_key_file`"),
            "{problem}"
        );
    }

    #[test]
    fn several_problems_are_reported_together() {
        let text = "[[account]]\npool = \"foundry\"\naccess_key_file = \"a\"\n\n[[account]]\npool = \"cloverpool\"\npuid = -1\naccess_key_file = \"\"\n";
        assert_eq!(
            problems(text),
            [
                "/etc/poolhist/poolhist.toml:2: a foundry account needs `account` (the sub-account name)",
                "/etc/poolhist/poolhist.toml:7: `puid` must be a positive integer, not -1",
                "/etc/poolhist/poolhist.toml:8: `access_key_file` is empty",
            ]
        );
    }
}
