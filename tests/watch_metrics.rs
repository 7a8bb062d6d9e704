//! `poolhist metrics`: the Prometheus textfile. A checker doing what `promtool check metrics`
//! does (parse the 0.0.4 text format, then promlint's rules) runs on the output of a realistic
//! database and on broken texts; values are checked against hand-made data; the textfile is
//! replaced atomically; the number of series is bounded by a formula.

use std::collections::{BTreeMap, BTreeSet};

use poolhist::watch::metrics::{self, MetricsArgs, MetricsError};
use rusqlite::{params, Connection};

/// 2026-11-20 12:30:00 UTC.
const NOW: i64 = 1_763_641_800;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// The start of the current hour, 12:00.
const THIS_HOUR: i64 = NOW / HOUR * HOUR;
/// The newest hour that can be final, 11:00.
const CAP: i64 = THIS_HOUR - HOUR;

// ---------------------------------------------------------------------------------------------
// A promtool-equivalent checker

/// One parsed sample: family name, labels (unescaped), value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Default)]
struct Checked {
    problems: Vec<String>,
    samples: Vec<Sample>,
    /// Family name -> type.
    types: BTreeMap<String, String>,
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// The family a sample name belongs to, given the types declared (histogram and summary
/// samples carry suffixes).
fn family_of(name: &str, types: &BTreeMap<String, String>) -> String {
    for suffix in ["_bucket", "_count", "_sum"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if matches!(
                types.get(base).map(String::as_str),
                Some("histogram" | "summary")
            ) {
                return base.to_owned();
            }
        }
    }
    name.to_owned()
}

/// Parses `{a="x",b="y"}` from the start of `s`; returns the labels and the rest.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').expect("starts with {");
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let end = rest
            .find('=')
            .ok_or_else(|| format!("label without '=' in {s:?}"))?;
        let name = rest[..end].trim();
        if !valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        rest = rest[end + 1..].trim_start_matches([' ', '\t']);
        rest = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("label value of {name} not quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let close = loop {
            match chars.next() {
                None => return Err(format!("unterminated label value of {name}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("invalid escape {other:?} in label {name}")),
                },
                Some((_, '\n')) => return Err(format!("raw newline in label value of {name}")),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = rest[close + 1..].trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(format!("expected ',' or '}}' after label {name}"));
        }
    }
}

/// Go's strconv.ParseFloat, as the text parser calls it, for the forms that matter here.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => s.parse().ok(),
        _ => None,
    }
}

/// Non-base units and the base they should be (promlint's table), and the SI prefixes.
const UNITS: &[(&str, &str)] = &[
    ("amperes", "amperes"),
    ("bytes", "bytes"),
    ("celsius", "celsius"),
    ("grams", "grams"),
    ("joules", "joules"),
    ("kelvin", "kelvin"),
    ("meters", "meters"),
    ("metres", "metres"),
    ("seconds", "seconds"),
    ("volts", "volts"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("kelvins", "kelvin"),
    ("fahrenheit", "celsius"),
    ("rankine", "celsius"),
    ("inches", "meters"),
    ("yards", "meters"),
    ("miles", "meters"),
    ("bits", "bytes"),
    ("calories", "joules"),
    ("pounds", "grams"),
    ("ounces", "grams"),
];
const UNIT_PREFIXES: &[&str] = &[
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega",
    "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
];
const UNIT_ABBREVIATIONS: &[&str] = &[
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d",
];

/// promlint's rules for one family.
fn lint_family(
    name: &str,
    kind: &str,
    help: Option<&str>,
    label_names: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |text: String| problems.push(format!("{name}: {text}"));
    match help {
        None => problem("no help text".into()),
        Some(h) if h.trim().is_empty() => problem("no help text".into()),
        _ => {}
    }
    for word in name.split('_') {
        if let Some((_, base)) = UNITS.iter().find(|(u, _)| *u == word) {
            if base != &word {
                problem(format!("use base unit {base:?} instead of {word:?}"));
            }
        } else if let Some(prefix) = UNIT_PREFIXES.iter().find(|p| {
            word.strip_prefix(**p)
                .is_some_and(|rest| UNITS.iter().any(|(u, _)| *u == rest))
        }) {
            let (_, base) = UNITS
                .iter()
                .find(|(u, _)| *u == &word[prefix.len()..])
                .unwrap();
            problem(format!("use base unit {base:?} instead of {word:?}"));
        }
    }
    let total = name.ends_with("_total");
    match kind {
        "counter" if !total => problem("counter metrics should have \"_total\" suffix".into()),
        "untyped" | "counter" => {}
        _ if total => problem("non-counter metrics should not have \"_total\" suffix".into()),
        _ => {}
    }
    if kind != "untyped" {
        if kind != "histogram" && name.ends_with("_bucket") {
            problem("non-histogram metrics should not have \"_bucket\" suffix".into());
        }
        for suffix in ["_count", "_sum"] {
            if !matches!(kind, "histogram" | "summary") && name.ends_with(suffix) {
                problem(format!(
                    "non-histogram and non-summary metrics should not have {suffix:?} suffix"
                ));
            }
        }
        if kind != "histogram" && label_names.contains("le") {
            problem("non-histogram metrics should not have \"le\" label".into());
        }
        if kind != "summary" && label_names.contains("quantile") {
            problem("non-summary metrics should not have \"quantile\" label".into());
        }
        if kind != "gauge" && name.ends_with("_timestamp_seconds") {
            problem("non-gauge metrics should not have \"_timestamp_seconds\" suffix".into());
        }
    }
    let lower = name.to_lowercase();
    for t in ["counter", "gauge", "histogram", "summary"] {
        if lower.contains(&format!("_{t}_")) || lower.ends_with(&format!("_{t}")) {
            problem(format!("metric name should not include type '{t}'"));
        }
    }
    if name.contains(':') {
        problem("metric names should not contain ':'".into());
    }
    let camel = |s: &str| {
        s.as_bytes()
            .windows(2)
            .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
    };
    if camel(name) {
        problem("metric names should be written in 'snake_case' not 'camelCase'".into());
    }
    if label_names.iter().any(|l| camel(l)) {
        problem("label names should be written in 'snake_case' not 'camelCase'".into());
    }
    for a in UNIT_ABBREVIATIONS {
        if lower.contains(&format!("_{a}_")) || lower.ends_with(&format!("_{a}")) {
            problem("metric names should not contain abbreviated units".into());
        }
    }
    problems
}

/// Entering `family` (by its HELP, TYPE or a sample) closes the one before: that one must not
/// come back.
fn enter(
    family: &str,
    current: &mut Option<String>,
    finished: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    if current.as_deref() != Some(family) {
        if let Some(previous) = current.take() {
            finished.insert(previous);
        }
        if finished.contains(family) {
            problems.push(format!(
                "{family}: family is not contiguous (seen again after another)"
            ));
        }
        *current = Some(family.to_owned());
    }
}

/// What `promtool check metrics` says about `text`, plus the rules the textfile collector and
/// this project add (no timestamps, HELP and TYPE present, ends in a newline); and the samples.
fn check_metrics(text: &str) -> Checked {
    let mut out = Checked::default();
    let mut problems: Vec<String> = Vec::new();
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut label_names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut with_samples: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut series: BTreeSet<(String, Vec<(String, String)>)> = BTreeSet::new();

    if !text.is_empty() && !text.ends_with('\n') {
        problems.push("text does not end in a newline".into());
    }
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        macro_rules! problem {
            ($($t:tt)*) => { problems.push(format!("line {}: {}", number, format!($($t)*))) };
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.trim_start().splitn(3, ' ').collect();
            match words.as_slice() {
                ["HELP", name, rest @ ..] => {
                    if !valid_metric_name(name) {
                        problem!("invalid metric name {name:?} in HELP");
                        continue;
                    }
                    enter(name, &mut current, &mut finished, &mut problems);
                    if with_samples.contains(*name) {
                        problem!("HELP of {name} after its samples");
                    }
                    let help = rest.first().copied().unwrap_or("");
                    let mut chars = help.chars();
                    while let Some(c) = chars.next() {
                        if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
                            problem!("invalid escape in HELP of {name}");
                        }
                    }
                    if helps.insert((*name).to_owned(), help.to_owned()).is_some() {
                        problem!("second HELP for {name}");
                    }
                }
                ["TYPE", name, kind] => {
                    if !valid_metric_name(name) {
                        problem!("invalid metric name {name:?} in TYPE");
                        continue;
                    }
                    enter(name, &mut current, &mut finished, &mut problems);
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(kind) {
                        problem!("unknown type {kind:?}");
                    }
                    if with_samples.contains(*name) {
                        problem!("TYPE of {name} after its samples");
                    }
                    if out
                        .types
                        .insert((*name).to_owned(), (*kind).to_owned())
                        .is_some()
                    {
                        problem!("second TYPE for {name}");
                    }
                }
                ["TYPE", ..] => problem!("malformed TYPE line"),
                _ => {} // another comment
            }
            continue;
        }
        let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            problem!("invalid metric name {name:?}");
            continue;
        }
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if rest.starts_with('{') {
            match parse_labels(rest) {
                Ok((l, after)) => {
                    labels = l;
                    rest = after;
                }
                Err(e) => {
                    problem!("{e}");
                    continue;
                }
            }
        }
        if !rest.starts_with([' ', '\t']) {
            problem!("no space before the value of {name}");
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let value = match fields.as_slice() {
            [value] => *value,
            [value, _timestamp] => {
                problem!("sample of {name} has a timestamp");
                value
            }
            _ => {
                problem!("expected a value (and no more) after {name}");
                continue;
            }
        };
        let Some(value) = parse_value(value) else {
            problem!("value {value:?} of {name} is not a float");
            continue;
        };
        let family = family_of(name, &out.types);
        enter(&family, &mut current, &mut finished, &mut problems);
        with_samples.insert(family.clone());
        label_names
            .entry(family.clone())
            .or_default()
            .extend(labels.keys().cloned());
        let key = (
            name.to_owned(),
            labels.clone().into_iter().collect::<Vec<_>>(),
        );
        if !series.insert(key) {
            problem!("duplicate series {name}{labels:?}");
        }
        out.samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    let families: BTreeSet<&String> = out
        .types
        .keys()
        .chain(helps.keys())
        .chain(with_samples.iter())
        .collect();
    for family in families {
        let kind = match out.types.get(family) {
            Some(kind) => kind.as_str(),
            None => {
                problems.push(format!("{family}: no TYPE"));
                "untyped"
            }
        };
        let empty = BTreeSet::new();
        problems.extend(lint_family(
            family,
            kind,
            helps.get(family).map(String::as_str),
            label_names.get(family).unwrap_or(&empty),
        ));
    }
    out.problems = problems;
    out
}

impl Checked {
    fn assert_clean(&self, text: &str) {
        assert!(
            self.problems.is_empty(),
            "promtool-equivalent check failed:\n{}\n--- text ---\n{text}",
            self.problems.join("\n")
        );
    }

    /// The samples of `name` whose labels include all of `labels`.
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The one sample of `name` with these labels, or None when there is none.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.find(name, labels);
        assert!(
            found.len() <= 1,
            "{name} {labels:?} matches {} samples",
            found.len()
        );
        found.first().map(|s| s.value)
    }
}

// ---------------------------------------------------------------------------------------------
// Databases made by hand

struct Db {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    conn: Connection,
}

fn new_db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poolhist.db");
    let conn = poolhist::store::open(&path).unwrap();
    Db {
        _dir: dir,
        path,
        conn,
    }
}

impl Db {
    /// An account last listed at `listed`.
    fn account(&self, id: i64, pool: &str, account: &str, listed: i64) {
        self.conn
            .execute(
                "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen, previous_seen) \
                 VALUES (?1, ?2, ?3, NULL, ?4 - 30 * 86400, ?4, ?4 - 3600)",
                params![id, pool, account, listed],
            )
            .unwrap();
    }

    fn group(&self, account: i64, gid: i64, name: &str) {
        self.conn
            .execute(
                "INSERT INTO groups (account_id, gid, name, first_seen, last_seen) VALUES (?1, ?2, ?3, 0, 0)",
                params![account, gid, name],
            )
            .unwrap();
    }

    fn worker(&self, account: i64, worker_id: i64, name: &str, gid: Option<i64>, last_seen: i64) {
        self.conn
            .execute(
                "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, last_share_time, first_seen, last_seen) \
                 VALUES (?1, ?2, ?3, ?4, 'ACTIVE', NULL, 0, ?5)",
                params![account, worker_id, name, gid, last_seen],
            )
            .unwrap();
    }

    /// A series; returns its id.
    fn series(
        &self,
        account: i64,
        worker: Option<i64>,
        dimension: &str,
        watermark: Option<i64>,
    ) -> i64 {
        self.conn
            .execute(
                "INSERT INTO series (account_id, worker_id, dimension, watermark_ts) VALUES (?1, ?2, ?3, ?4)",
                params![account, worker, dimension, watermark],
            )
            .unwrap();
        self.conn.last_insert_rowid()
    }

    fn ticker(&self, series: i64, ts: i64, hashrate: f64, reject: f64, provisional: bool) {
        self.conn
            .execute(
                "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![series, ts, hashrate, reject, provisional],
            )
            .unwrap();
    }

    fn run(
        &self,
        finished: Option<i64>,
        status: &str,
        accounts: &str,
        requests: i64,
        new: i64,
        updated: i64,
    ) {
        self.conn
            .execute(
                "INSERT INTO ingest_runs (started_at, finished_at, status, puids, requests, rows_new, rows_updated, accounts) \
                 VALUES (COALESCE(?1, 0) - 60, ?1, ?2, '', ?3, ?4, ?5, ?6)",
                params![finished, status, requests, new, updated, accounts],
            )
            .unwrap();
    }

    fn alert(&self, rule: &str, subject: &str, state: &str) {
        self.conn
            .execute(
                "INSERT INTO alerts (rule, subject, account_id, state, held, since, message, last_evaluated_at) \
                 VALUES (?1, ?2, 1, ?3, 1, 0, 'm', 0)",
                params![rule, subject, state],
            )
            .unwrap();
    }

    fn rebuild_summary(&self) {
        poolhist::store::rebuild_hourly_by_day(&self.conn).unwrap();
    }
}

/// Several accounts of two pools; workers with hostile names, groups, a disappeared worker,
/// a missing hour, a provisional point, open, pending and resolved alerts, runs ok and failed.
fn realistic_db() -> Db {
    let db = new_db();
    // Account 1 (cloverpool 1001), last final hour 10:00 (its watermarks end there).
    let listed = NOW - 1_000;
    db.account(1, "cloverpool", "1001", listed);
    db.group(1, 1, "rack \"A\"");
    db.group(1, 2, "default");
    let names: [(i64, &str, Option<i64>); 7] = [
        (10, "plain", Some(1)),
        (11, "quote\"d", Some(1)),
        (12, "back\\slash", Some(2)),
        (13, "new\nline", None),
        (14, "ünïcødé ⛏ 矿机", Some(2)),
        (15, "ctl\t\r\u{1}\u{7f}x", None),
        (16, "plain", Some(2)), // same name as worker 10
    ];
    let hour = 10 * HOUR + NOW / DAY * DAY; // 10:00 today
    assert_eq!(hour, CAP - HOUR);
    let account_series = db.series(1, None, "1h", Some(hour));
    db.series(1, None, "1d", Some(NOW / DAY * DAY - DAY));
    for h in 0..48 {
        db.ticker(account_series, hour - h * HOUR, 5.0e14, 0.0, false);
    }
    for (i, (id, name, gid)) in names.iter().enumerate() {
        db.worker(1, *id, name, *gid, listed);
        let s = db.series(1, Some(*id), "1h", Some(hour));
        for h in 0..24 {
            if *id == 13 && h == 0 {
                continue; // no point at the last final hour
            }
            db.ticker(
                s,
                hour - h * HOUR,
                1.0e14 + i as f64 * 1.0e12,
                0.001 * i as f64,
                false,
            );
        }
        db.ticker(s, hour + HOUR, 9.9e14, 0.5, true); // live, not final
    }
    // A worker the pool no longer lists: not exported.
    db.worker(1, 99, "gone", None, listed - DAY);
    let s = db.series(1, Some(99), "1h", Some(hour - DAY));
    db.ticker(s, hour - DAY, 1.0e14, 0.0, false);

    // Account 2 (cloverpool 1002): watermark ahead of the cap, so its last final hour is 11:00.
    db.account(2, "cloverpool", "1002", NOW - 600);
    db.worker(2, 20, "rig-1", None, NOW - 600);
    let s2 = db.series(2, None, "1h", Some(THIS_HOUR));
    let w2 = db.series(2, Some(20), "1h", Some(THIS_HOUR));
    db.ticker(s2, CAP, 2.0e14, 0.0, false);
    db.ticker(w2, CAP, 2.0e14, 0.02, false);
    db.ticker(w2, THIS_HOUR, 3.0e14, 0.0, false);

    // Account 3 (foundry "sub\"acct"), never completed: no last final hour.
    db.account(3, "foundry", "sub\"acct", NOW - 600);
    db.worker(3, 30, "f-1", None, NOW - 600);
    db.series(3, None, "1h", None);

    db.run(
        Some(NOW - 7_200),
        "ok",
        "cloverpool:1001,cloverpool:1002",
        100,
        1_000,
        10,
    );
    db.run(Some(NOW - 3_600), "ok", "cloverpool:1001", 20, 30, 5);
    db.run(
        Some(NOW - 1_800),
        "failed",
        "cloverpool:1002,foundry:sub\"acct",
        7,
        0,
        0,
    );
    db.run(None, "running", "cloverpool:1001", 3, 1, 0);

    db.alert("worker_down", "worker:1:13", "open");
    db.alert("worker_down", "worker:1:15", "open");
    db.alert("worker_down", "worker:1:10", "resolved");
    db.alert("reject_spike", "worker:1:14", "open");
    db.alert("hashrate_drop", "account:1", "pending");
    db.rebuild_summary();
    db
}

// ---------------------------------------------------------------------------------------------
// The checker

#[test]
fn checker_passes_the_output_of_a_realistic_database() {
    let db = realistic_db();
    let text = metrics::render(&db.conn, NOW).unwrap();
    if std::env::var_os("SHOW_METRICS").is_some() {
        eprintln!("{text}");
    }
    let checked = check_metrics(&text);
    checked.assert_clean(&text);
    // Every family this poolhist writes has HELP and TYPE, present even with no sample.
    for family in [
        "poolhist_worker_hashrate_hashes_per_second",
        "poolhist_worker_up",
        "poolhist_worker_reject_ratio",
        "poolhist_account_hashrate_hashes_per_second",
        "poolhist_account_workers",
        "poolhist_account_workers_up",
        "poolhist_account_reject_ratio",
        "poolhist_account_last_final_hour_timestamp_seconds",
        "poolhist_last_successful_ingest_timestamp_seconds",
        "poolhist_last_ingest_timestamp_seconds",
        "poolhist_last_ingest_success",
        "poolhist_ingest_requests_total",
        "poolhist_ingest_rows_written_total",
        "poolhist_stored_hourly_points",
        "poolhist_alerts_firing",
        "poolhist_history_expiry_seconds",
        "poolhist_metrics_generated_timestamp_seconds",
    ] {
        assert!(checked.types.contains_key(family), "{family} missing");
    }
    assert_eq!(checked.types["poolhist_ingest_requests_total"], "counter");
    assert_eq!(checked.types["poolhist_worker_up"], "gauge");
    // Hostile names come back as they were (escaped, then unescaped by the parser)...
    for name in ["quote\"d", "back\\slash", "new\nline", "ünïcødé ⛏ 矿机"] {
        assert_eq!(
            checked
                .find("poolhist_worker_up", &[("worker", name)])
                .len(),
            1,
            "{name:?}"
        );
    }
    // ...except control characters other than newline, replaced so the file stays one sample a line.
    assert_eq!(
        checked
            .find(
                "poolhist_worker_up",
                &[("worker", "ctl\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}x")]
            )
            .len(),
        1
    );
    assert!(!text.contains('\r') && !text.contains('\t') && !text.contains('\u{1}'));
    // Two workers named alike stay two series, told apart by worker_id.
    let plain = checked.find(
        "poolhist_worker_hashrate_hashes_per_second",
        &[("worker", "plain")],
    );
    let ids: BTreeSet<&str> = plain
        .iter()
        .map(|s| s.labels["worker_id"].as_str())
        .collect();
    assert_eq!(ids, BTreeSet::from(["10", "16"]));
    assert_eq!(plain[0].labels["group"], "rack \"A\"");
    // The disappeared worker is not exported.
    assert!(checked
        .find("poolhist_worker_up", &[("worker", "gone")])
        .is_empty());
    // Deterministic: the same database renders the same text; families sorted by name.
    assert_eq!(text, metrics::render(&db.conn, NOW).unwrap());
    let order: Vec<&String> = checked.types.keys().collect();
    let in_text: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(in_text.iter().collect::<Vec<_>>(), order);
}

#[test]
fn checker_fails_broken_texts() {
    let good = "# HELP poolhist_x_seconds A thing.\n# TYPE poolhist_x_seconds gauge\npoolhist_x_seconds{a=\"1\"} 1\n";
    assert!(
        check_metrics(good).problems.is_empty(),
        "{:?}",
        check_metrics(good).problems
    );
    let broken: &[(&str, &str, &str)] = &[
        ("counter without _total", "# HELP p_requests R.\n# TYPE p_requests counter\np_requests 1\n", "_total"),
        ("gauge with _total", "# HELP p_requests_total R.\n# TYPE p_requests_total gauge\np_requests_total 1\n", "should not have \"_total\""),
        ("timestamp", "# HELP p_x X.\n# TYPE p_x gauge\np_x 1 1700000000000\n", "timestamp"),
        ("duplicate series", "# HELP p_x X.\n# TYPE p_x gauge\np_x{a=\"1\"} 1\np_x{a=\"1\"} 2\n", "duplicate series"),
        ("not contiguous", "# HELP p_x X.\n# TYPE p_x gauge\np_x{a=\"1\"} 1\n# HELP p_y Y.\n# TYPE p_y gauge\np_y 1\np_x{a=\"2\"} 1\n", "not contiguous"),
        ("typed twice", "# HELP p_x X.\n# TYPE p_x gauge\n# TYPE p_x gauge\np_x 1\n", "second TYPE"),
        ("no help", "# TYPE p_x gauge\np_x 1\n", "no help"),
        ("no type", "# HELP p_x X.\np_x 1\n", "no TYPE"),
        ("type after samples", "# HELP p_x X.\np_x 1\n# TYPE p_x gauge\n", "after its samples"),
        ("bad escape", "# HELP p_x X.\n# TYPE p_x gauge\np_x{a=\"x\\ty\"} 1\n", "invalid escape"),
        ("unescaped quote", "# HELP p_x X.\n# TYPE p_x gauge\np_x{a=\"x\"y\"} 1\n", "after label"),
        ("raw newline splits the sample", "# HELP p_x X.\n# TYPE p_x gauge\np_x{a=\"x\ny\"} 1\n", "unterminated"),
        ("bad value", "# HELP p_x X.\n# TYPE p_x gauge\np_x 12abc\n", "not a float"),
        ("bad metric name", "# HELP p_x X.\n# TYPE p_x gauge\n1p_x 1\n", "invalid metric name"),
        ("bad label name", "# HELP p_x X.\n# TYPE p_x gauge\np_x{1a=\"x\"} 1\n", "invalid label name"),
        ("milliseconds", "# HELP p_x_milliseconds X.\n# TYPE p_x_milliseconds gauge\np_x_milliseconds 1\n", "base unit"),
        ("hours", "# HELP p_age_hours X.\n# TYPE p_age_hours gauge\np_age_hours 1\n", "base unit"),
        ("abbreviated unit", "# HELP p_age_ms X.\n# TYPE p_age_ms gauge\np_age_ms 1\n", "abbreviated"),
        ("gauge named _count", "# HELP p_x_count X.\n# TYPE p_x_count gauge\np_x_count 1\n", "_count"),
        ("type in name", "# HELP p_x_gauge X.\n# TYPE p_x_gauge gauge\np_x_gauge 1\n", "include type"),
        ("camelCase", "# HELP p_fooBar X.\n# TYPE p_fooBar gauge\np_fooBar 1\n", "camelCase"),
        ("no final newline", "# HELP p_x X.\n# TYPE p_x gauge\np_x 1", "newline"),
        ("counter _timestamp_seconds", "# HELP p_timestamp_seconds_total X.\n# TYPE p_timestamp_seconds_total counter\np_timestamp_seconds_total 1\n", ""),
    ];
    for (what, text, says) in broken {
        let problems = check_metrics(text).problems;
        if what.starts_with("counter _timestamp") {
            // A counter may end in _total after _timestamp_seconds: promlint accepts it too.
            assert!(problems.is_empty(), "{what}: {problems:?}");
            continue;
        }
        assert!(
            problems.iter().any(|p| p.contains(says)),
            "{what}: expected a problem saying {says:?}, got {problems:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Values

#[test]
fn worker_values_are_those_of_the_last_final_hour() {
    let db = new_db();
    db.account(1, "cloverpool", "1001", NOW - 500);
    db.worker(1, 1, "a", None, NOW - 500);
    db.worker(1, 2, "b", None, NOW - 500);
    db.worker(1, 3, "silent", None, NOW - 500);
    db.worker(1, 4, "provisional-only", None, NOW - 500);
    let hour = CAP - 2 * HOUR; // watermark 09:00: the last final hour
    let acc = db.series(1, None, "1h", Some(hour));
    let a = db.series(1, Some(1), "1h", Some(hour));
    let b = db.series(1, Some(2), "1h", Some(hour - HOUR)); // behind: the account's max counts
    let silent = db.series(1, Some(3), "1h", Some(hour));
    let prov = db.series(1, Some(4), "1h", Some(hour));
    db.ticker(acc, hour, 4.0e14, 0.0, false);
    db.ticker(a, hour, 1.25e14, 0.02, false);
    db.ticker(a, hour - HOUR, 7.0e14, 0.9, false); // older: ignored
    db.ticker(a, hour + HOUR, 7.0e14, 0.9, true); // newer, provisional: ignored
    db.ticker(b, hour, 3.0e14, 0.005, false);
    db.ticker(silent, hour - HOUR, 1.0e14, 0.0, false); // nothing at the hour: 0 H/s, down
    db.ticker(prov, hour, 5.0e14, 0.1, true); // provisional at the hour: not final, so 0
    let text = metrics::render(&db.conn, NOW).unwrap();
    let c = check_metrics(&text);
    c.assert_clean(&text);
    let w = |name: &str, metric: &str| c.value(metric, &[("worker", name)]).unwrap();
    assert_eq!(
        w("a", "poolhist_worker_hashrate_hashes_per_second"),
        1.25e14
    );
    assert_eq!(w("a", "poolhist_worker_reject_ratio"), 0.02);
    assert_eq!(w("a", "poolhist_worker_up"), 1.0);
    assert_eq!(w("b", "poolhist_worker_hashrate_hashes_per_second"), 3.0e14);
    assert_eq!(w("b", "poolhist_worker_reject_ratio"), 0.005);
    for missing in ["silent", "provisional-only"] {
        assert_eq!(
            w(missing, "poolhist_worker_hashrate_hashes_per_second"),
            0.0
        );
        assert_eq!(w(missing, "poolhist_worker_reject_ratio"), 0.0);
        assert_eq!(w(missing, "poolhist_worker_up"), 0.0);
    }
    let acct = [("pool", "cloverpool"), ("account", "1001")];
    assert_eq!(
        c.value("poolhist_account_hashrate_hashes_per_second", &acct),
        Some(4.0e14)
    );
    assert_eq!(c.value("poolhist_account_workers", &acct), Some(4.0));
    assert_eq!(c.value("poolhist_account_workers_up", &acct), Some(2.0));
    let weighted = (1.25e14 * 0.02 + 3.0e14 * 0.005) / (1.25e14 + 3.0e14);
    let reject = c.value("poolhist_account_reject_ratio", &acct).unwrap();
    assert!((reject - weighted).abs() < 1e-15, "{reject} vs {weighted}");
    assert_eq!(
        c.value("poolhist_account_last_final_hour_timestamp_seconds", &acct),
        Some(hour as f64)
    );
    assert_eq!(
        c.value("poolhist_metrics_generated_timestamp_seconds", &[]),
        Some(NOW as f64)
    );
}

#[test]
fn the_last_final_hour_is_capped_an_hour_back_and_missing_account_hour_is_zero() {
    let db = new_db();
    db.account(1, "cloverpool", "1001", NOW - 500);
    db.worker(1, 1, "a", None, NOW - 500);
    let acc = db.series(1, None, "1h", Some(THIS_HOUR)); // the pool answered for 12:00 already
    let a = db.series(1, Some(1), "1h", Some(THIS_HOUR));
    db.ticker(a, CAP, 2.0e14, 0.0, false);
    db.ticker(a, THIS_HOUR, 9.0e14, 0.0, false);
    db.ticker(acc, THIS_HOUR, 9.0e14, 0.0, false); // the account has no point at 11:00
    let c = check_metrics(&metrics::render(&db.conn, NOW).unwrap());
    let acct = [("account", "1001")];
    assert_eq!(
        c.value("poolhist_account_last_final_hour_timestamp_seconds", &acct),
        Some(CAP as f64)
    );
    assert_eq!(
        c.value(
            "poolhist_worker_hashrate_hashes_per_second",
            &[("worker", "a")]
        ),
        Some(2.0e14)
    );
    assert_eq!(
        c.value("poolhist_account_hashrate_hashes_per_second", &acct),
        Some(0.0)
    );
    // Nobody with hashrate: the weighted reject is 0, not NaN.
    db.conn
        .execute("UPDATE tickers SET hashrate_hs = 0", [])
        .unwrap();
    let c = check_metrics(&metrics::render(&db.conn, NOW).unwrap());
    assert_eq!(c.value("poolhist_account_reject_ratio", &acct), Some(0.0));
    assert_eq!(c.value("poolhist_account_workers_up", &acct), Some(0.0));
}

#[test]
fn account_sums_ingest_figures_and_stored_points() {
    let db = realistic_db();
    let text = metrics::render(&db.conn, NOW).unwrap();
    let c = check_metrics(&text);
    c.assert_clean(&text);
    let one = [("pool", "cloverpool"), ("account", "1001")];
    let two = [("pool", "cloverpool"), ("account", "1002")];
    let foundry = [("pool", "foundry"), ("account", "sub\"acct")];
    assert_eq!(c.value("poolhist_account_workers", &one), Some(7.0));
    assert_eq!(c.value("poolhist_account_workers_up", &one), Some(6.0)); // 13 has no point
    assert_eq!(c.value("poolhist_account_workers", &two), Some(1.0));
    assert_eq!(
        c.value("poolhist_account_hashrate_hashes_per_second", &two),
        Some(2.0e14)
    );
    assert_eq!(c.value("poolhist_account_reject_ratio", &two), Some(0.02));
    // Never completed: counted, but no hourly figures rather than zeros.
    assert_eq!(c.value("poolhist_account_workers", &foundry), Some(1.0));
    assert_eq!(
        c.value("poolhist_account_hashrate_hashes_per_second", &foundry),
        None
    );
    assert_eq!(
        c.value(
            "poolhist_account_last_final_hour_timestamp_seconds",
            &foundry
        ),
        None
    );
    assert!(c
        .find("poolhist_worker_up", &[("account", "sub\"acct")])
        .is_empty());
    // Accept-weighted over the listed workers at the hour (13 has none).
    let mut weight = 0.0;
    let mut rejected = 0.0;
    for i in 0..7 {
        if i == 3 {
            continue;
        }
        let h = 1.0e14 + i as f64 * 1.0e12;
        weight += h;
        rejected += h * 0.001 * i as f64;
    }
    let reject = c.value("poolhist_account_reject_ratio", &one).unwrap();
    assert!((reject - rejected / weight).abs() < 1e-15);
    // Runs: the newest ok run naming the account; the newest finished run; sums over all runs.
    assert_eq!(
        c.value("poolhist_last_successful_ingest_timestamp_seconds", &one),
        Some((NOW - 3_600) as f64)
    );
    assert_eq!(
        c.value("poolhist_last_successful_ingest_timestamp_seconds", &two),
        Some((NOW - 7_200) as f64)
    );
    assert_eq!(
        c.value(
            "poolhist_last_successful_ingest_timestamp_seconds",
            &foundry
        ),
        None
    );
    assert_eq!(
        c.value("poolhist_last_ingest_timestamp_seconds", &[]),
        Some((NOW - 1_800) as f64)
    );
    assert_eq!(c.value("poolhist_last_ingest_success", &[]), Some(0.0));
    assert_eq!(c.value("poolhist_ingest_requests_total", &[]), Some(130.0));
    assert_eq!(
        c.value("poolhist_ingest_rows_written_total", &[]),
        Some(1_046.0)
    );
    // Final hourly points: account series 48, 7 workers x 24 less one, the gone worker's 1.
    assert_eq!(
        c.value("poolhist_stored_hourly_points", &one),
        Some((48 + 7 * 24 - 1 + 1) as f64)
    );
    assert_eq!(c.value("poolhist_stored_hourly_points", &two), Some(3.0));
}

#[test]
fn alerts_firing_counts_open_alerts_per_rule_and_zero_for_the_rest() {
    let db = realistic_db();
    let c = check_metrics(&metrics::render(&db.conn, NOW).unwrap());
    let firing: BTreeMap<String, f64> = c
        .find("poolhist_alerts_firing", &[])
        .into_iter()
        .map(|s| (s.labels["rule"].clone(), s.value))
        .collect();
    let expected: BTreeMap<String, f64> = poolhist::watch::RULES
        .iter()
        .map(|r| {
            let n = match *r {
                "worker_down" => 2.0, // the resolved one is not firing
                "reject_spike" => 1.0,
                _ => 0.0, // hashrate_drop is only pending
            };
            (r.to_string(), n)
        })
        .collect();
    assert_eq!(firing, expected);
}

#[test]
fn history_expiry_seconds_is_what_history_expiry_sql_gives() {
    let db = realistic_db();
    // Learned retention for one account, so the query's retention logic matters.
    db.conn
        .execute(
            "INSERT INTO pool_knowledge (account_id, scope, dimension, retention_slots, learned_at) \
             VALUES (2, 'worker', '1h', 30, 0)",
            [],
        )
        .unwrap();
    let c = check_metrics(&metrics::render(&db.conn, NOW).unwrap());
    let sql = include_str!("../queries/history_expiry.sql");
    let mut stmt = db.conn.prepare(sql).unwrap();
    let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>("pool")?,
                r.get::<_, String>("account")?,
                r.get::<_, i64>("expires_at")?,
            ))
        })
        .unwrap();
    for row in rows {
        let (pool, account, expires_at) = row.unwrap();
        let e = expected.entry((pool, account)).or_insert(i64::MAX);
        *e = (*e).min(expires_at - NOW);
    }
    // Accounts 1 and 2 have copied series; account 3's were never copied, and count from
    // their first listing.
    assert_eq!(expected.len(), 3);
    let got: BTreeMap<(String, String), i64> = c
        .find("poolhist_history_expiry_seconds", &[])
        .into_iter()
        .map(|s| {
            (
                (s.labels["pool"].clone(), s.labels["account"].clone()),
                s.value as i64,
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Account 2's workers keep 30 h: its watermark (12:00) + 30 h.
    assert_eq!(
        got[&("cloverpool".to_owned(), "1002".to_owned())],
        THIS_HOUR + 30 * HOUR - NOW
    );
    // An old watermark is already expired: negative seconds, still written.
    db.conn
        .execute(
            "UPDATE series SET watermark_ts = watermark_ts - 400 * 3600 WHERE account_id = 2",
            [],
        )
        .unwrap();
    let c = check_metrics(&metrics::render(&db.conn, NOW).unwrap());
    assert!(
        c.value("poolhist_history_expiry_seconds", &[("account", "1002")])
            .unwrap()
            < 0.0
    );
}

// ---------------------------------------------------------------------------------------------
// The textfile

#[cfg(unix)]
#[test]
fn textfile_is_replaced_atomically_by_rename() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let db = realistic_db();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poolhist.prom");
    std::fs::write(&path, "old\n").unwrap();
    let inode = std::fs::metadata(&path).unwrap().ino();
    let summary = metrics::write_textfile(&db.conn, &path, NOW).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_ne!(
        meta.ino(),
        inode,
        "replaced by a new file, not rewritten in place"
    );
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o644,
        "node_exporter can read it"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, metrics::render(&db.conn, NOW).unwrap());
    assert_eq!(summary.bytes, text.len());
    assert_eq!(summary.samples, check_metrics(&text).samples.len());
    assert_eq!(summary.families, 17);

    // A reader looping while writes happen always sees one whole file.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, path) = (Arc::clone(&stop), path.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let text = std::fs::read_to_string(&path).expect("the file is always there");
                assert!(
                    text.ends_with('\n'),
                    "partial file seen: {} bytes",
                    text.len()
                );
                let checked = check_metrics(&text);
                assert!(
                    checked.problems.is_empty(),
                    "partial file: {:?}",
                    checked.problems
                );
                assert_eq!(
                    checked
                        .find("poolhist_metrics_generated_timestamp_seconds", &[])
                        .len(),
                    1
                );
                reads += 1;
            }
            reads
        })
    };
    for i in 0..40 {
        metrics::write_textfile(&db.conn, &path, NOW + i).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("poolhist.prom")]);
}

#[cfg(unix)]
#[test]
fn textfile_refuses_a_symbolic_link() {
    let db = realistic_db();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "keep\n").unwrap();
    let link = dir.path().join("poolhist.prom");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = metrics::write_textfile(&db.conn, &link, NOW).unwrap_err();
    assert!(matches!(err, MetricsError::Symlink(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        !message.contains('\n') && message.contains(&link.display().to_string()),
        "{message}"
    );
    assert!(message.contains("symbolic link"), "{message}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn textfile_in_a_missing_directory_is_one_line() {
    let db = realistic_db();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("poolhist.prom");
    let err = metrics::write_textfile(&db.conn, &path, NOW).unwrap_err();
    assert!(matches!(err, MetricsError::NoDirectory { .. }), "{err:?}");
    let message = err.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(
        message.contains(&path.display().to_string()) && message.contains("does not exist"),
        "{message}"
    );
}

#[cfg(unix)]
#[test]
fn textfile_write_failure_names_the_path_and_the_os_reason() {
    use std::os::unix::fs::PermissionsExt as _;
    let db = realistic_db();
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("ro");
    std::fs::create_dir(&sub).unwrap();
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o555)).unwrap();
    let path = sub.join("poolhist.prom");
    let result = metrics::write_textfile(&db.conn, &path, NOW);
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
    if std::fs::File::create(sub.join("probe")).is_ok() && nix_root() {
        return; // root writes anywhere: nothing to see
    }
    let message = result.unwrap_err().to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.to_lowercase().contains("permission denied"),
        "{message}"
    );
}

#[cfg(unix)]
fn nix_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn run_metrics_opens_read_only_and_writes_the_textfile() {
    let db = realistic_db();
    let out = db.path.with_file_name("poolhist.prom");
    drop(db.conn);
    let args = MetricsArgs {
        textfile: Some(out.clone()),
        now: Some(NOW),
    };
    metrics::run_metrics(&db.path, &args).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    check_metrics(&text).assert_clean(&text);
    assert!(text.contains(&format!(
        "poolhist_metrics_generated_timestamp_seconds {NOW}\n"
    )));
    let missing = db.path.with_file_name("nope.db");
    let err = metrics::run_metrics(&missing, &args)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.db") && !err.contains('\n'), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Cardinality

/// A farm of `accounts` accounts with `per_account` listed workers each, everything known
/// (final hour, an ok run, stored points, watermarks).
fn farm(accounts: i64, per_account: i64) -> Db {
    let db = new_db();
    let tx = db.conn.unchecked_transaction().unwrap();
    let hour = CAP;
    let mut all = Vec::new();
    for a in 1..=accounts {
        db.account(a, "cloverpool", &a.to_string(), NOW - 100);
        all.push(format!("cloverpool:{a}"));
        let s = db.series(a, None, "1h", Some(hour));
        db.ticker(s, hour, 1.0e15, 0.0, false);
        for w in 0..per_account {
            let id = a * 1_000_000 + w;
            db.worker(a, id, &format!("rig-{w:05}"), None, NOW - 100);
            let s = db.series(a, Some(id), "1h", Some(hour));
            if w % 3 != 0 {
                db.ticker(s, hour, 1.0e13, 0.01, false);
            }
        }
    }
    db.run(Some(NOW - 300), "ok", &all.join(","), 1, 1, 0);
    tx.commit().unwrap();
    db.rebuild_summary();
    db
}

/// The number of series is `3 N + 8 A + R + 5` for N listed workers over A accounts and R
/// rules (`metrics::sample_bound`): per worker hashrate, up, reject; per account hashrate,
/// workers, workers up, reject, last final hour, last successful ingest, stored hourly points,
/// history expiry; one alerts_firing per rule; and last ingest time, last ingest success, the
/// two ingest counters and the generation time. 10,000 workers in one account with the 6 rules:
/// 30,000 + 8 + 6 + 5 = 30,019 series.
#[test]
fn cardinality_is_three_per_worker_plus_a_constant_per_account() {
    let rules = poolhist::watch::RULES.len();
    assert_eq!(metrics::sample_bound(10_000, 1, rules), 30_019);
    for (accounts, per_account) in [(1, 0), (1, 25), (3, 40)] {
        let db = farm(accounts, per_account);
        let text = metrics::render(&db.conn, NOW).unwrap();
        let c = check_metrics(&text);
        c.assert_clean(&text);
        let n = (accounts * per_account) as usize;
        assert_eq!(
            c.samples.len(),
            metrics::sample_bound(n, accounts as usize, rules),
            "{accounts} accounts x {per_account} workers"
        );
        assert_eq!(c.find("poolhist_worker_up", &[]).len(), n);
    }
}

/// For the lead's benchmark: 10,000 listed workers with 72 h of hourly points and a year of
/// per-day summaries. Prints how long one render takes; asserts nothing about time.
/// `cargo test --release --test watch_metrics -- --ignored --nocapture`
#[test]
#[ignore]
fn render_at_ten_thousand_workers() {
    let db = new_db();
    let workers = 10_000i64;
    let tx = db.conn.unchecked_transaction().unwrap();
    db.account(1, "cloverpool", "1001", NOW - 100);
    let acc = db.series(1, None, "1h", Some(CAP));
    {
        let mut ticker = tx
            .prepare("INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional) VALUES (?1, ?2, ?3, ?4, 0)")
            .unwrap();
        let mut day = tx
            .prepare("INSERT INTO hourly_by_day (series_id, day_ts, hours_final, hours_up, up_mask, hashrate_sum, reject_weight_sum) VALUES (?1, ?2, 24, 24, 16777215, 1, 0)")
            .unwrap();
        for h in 0..72 {
            ticker
                .execute(params![acc, CAP - h * HOUR, 1.0e17, 0.0])
                .unwrap();
        }
        for w in 0..workers {
            db.worker(1, w, &format!("rig-{w:05}"), None, NOW - 100);
            let s = db.series(1, Some(w), "1h", Some(CAP));
            for h in 0..72 {
                ticker
                    .execute(params![s, CAP - h * HOUR, 1.0e13, 0.01])
                    .unwrap();
            }
            for d in 0..365 {
                day.execute(params![s, NOW / DAY * DAY - d * DAY]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    drop(db.conn);
    let conn = poolhist::store::open_read_only(&db.path).unwrap();
    poolhist::report::tune_for_reports(&conn).unwrap();
    for round in 0..3 {
        let started = std::time::Instant::now();
        let text = metrics::render(&conn, NOW).unwrap();
        println!(
            "round {round}: {} bytes, {} lines in {:?}",
            text.len(),
            text.lines().count(),
            started.elapsed()
        );
    }
    // The same without the per-day summary: what stored_hourly_points costs.
    drop(conn);
    let conn = poolhist::store::open(&db.path).unwrap();
    conn.execute("DELETE FROM hourly_by_day", []).unwrap();
    let started = std::time::Instant::now();
    metrics::render(&conn, NOW).unwrap();
    println!("without hourly_by_day rows: {:?}", started.elapsed());
}
