//! The alert rules: each reads the stored history as of `now` and says what holds, per subject
//! (a worker, a group, an account, a kind of series). They do not know what was told before:
//! `state` turns what holds into openings and resolutions.
//!
//! "Final hours" are the account's hours up to its horizon: the newest hour its hourly series
//! were copied through (their watermark), and never past the last complete hour before `now`.
//! A missing hour inside them is an hour without accepted hashrate (some pools leave those out).

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::report::render::{format_hashrate, format_percent, format_time_iso};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// How far back a down worker's last hashrate is looked for.
const DOWN_LOOKBACK: i64 = 30 * DAY;
/// Above this many appeared (or disappeared) workers in one listing, one account-level alert
/// says how many instead of one per worker.
const CHANGED_WORKERS_ONE_BY_ONE: usize = 50;

/// Each rule's settings; `None` turns a rule off.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// Evaluations in a row a rule must hold before its alert opens (flapping damped).
    pub open_after: u32,
    pub worker_down: Option<WorkerDown>,
    pub hashrate_drop: Option<HashrateDrop>,
    pub reject_spike: Option<RejectSpike>,
    pub workers_changed: bool,
    pub history_at_risk: Option<HistoryAtRisk>,
    pub stale_ingest: Option<StaleIngest>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerDown {
    /// Final hours in a row without accepted hashrate.
    pub hours: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HashrateDrop {
    /// Fires below this percentage of the baseline.
    pub below_percent: f64,
    /// The last complete hours compared.
    pub hours: u32,
    /// The baseline: the median of the same hours on each of these previous days.
    pub baseline_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RejectSpike {
    /// Fires above this accept-weighted reject rate, percent...
    pub above_percent: f64,
    /// ... or above this many times the worker's rate over the baseline days,
    pub factor: f64,
    /// ... when that is at least this rate, percent (a tenth of a percent tripled is noise).
    pub factor_floor_percent: f64,
    /// The last complete hours measured.
    pub hours: u32,
    pub baseline_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryAtRisk {
    /// Fires when history not yet copied expires at the pool within these hours.
    pub hours: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaleIngest {
    /// Fires when an account had no successful ingest for more than these hours.
    pub hours: u32,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings {
            open_after: 1,
            worker_down: Some(WorkerDown { hours: 2 }),
            hashrate_drop: Some(HashrateDrop {
                below_percent: 20.0,
                hours: 2,
                baseline_days: 7,
            }),
            reject_spike: Some(RejectSpike {
                above_percent: 2.0,
                factor: 3.0,
                factor_floor_percent: 1.0,
                hours: 3,
                baseline_days: 7,
            }),
            workers_changed: true,
            history_at_risk: Some(HistoryAtRisk { hours: 24 }),
            stale_ingest: Some(StaleIngest { hours: 26 }),
        }
    }
}

impl RuleSettings {
    /// The rules that are on: their alerts are the ones an evaluation may resolve.
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut rules = Vec::new();
        if self.worker_down.is_some() {
            rules.push("worker_down");
        }
        if self.hashrate_drop.is_some() {
            rules.push("hashrate_drop");
        }
        if self.reject_spike.is_some() {
            rules.push("reject_spike");
        }
        if self.workers_changed {
            rules.push("workers_changed");
        }
        if self.history_at_risk.is_some() {
            rules.push("history_at_risk");
        }
        if self.stale_ingest.is_some() {
            rules.push("stale_ingest");
        }
        rules
    }
}

/// A rule holding for one subject at this evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: &'static str,
    /// Stable across evaluations: `worker:<account_id>:<worker_id>`, `group:<account_id>:<gid>`,
    /// `account:<account_id>`, `account:<account_id>:<scope>:<dimension>`.
    pub subject: String,
    pub account_id: Option<i64>,
    pub worker_id: Option<i64>,
    pub group_id: Option<i64>,
    /// When the condition began, as the data shows.
    pub since: i64,
    pub message: String,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
}

/// Evaluates every rule that is on, as of `now`.
pub fn evaluate(
    conn: &Connection,
    settings: &RuleSettings,
    now: i64,
) -> rusqlite::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for account in accounts(conn, now)? {
        let workers = listed_workers(conn, &account)?;
        let down = match (&settings.worker_down, account.horizon) {
            (Some(rule), Some(horizon)) => {
                worker_down(&account, &workers, horizon, now, rule, &mut findings)
            }
            _ => Vec::new(),
        };
        if let (Some(rule), Some(horizon)) = (&settings.hashrate_drop, account.horizon) {
            let not_down = |w: &&ListedWorker| !down.contains(&w.worker_id);
            let candidates: Vec<&ListedWorker> = workers.iter().filter(not_down).collect();
            let told_as_down = settings.worker_down.is_some();
            let judged = Judged {
                candidates: &candidates,
                none_is_down: told_as_down,
            };
            hashrate_drop(
                conn,
                &account,
                &workers,
                &judged,
                horizon,
                rule,
                &mut findings,
            )?;
        }
        if let (Some(rule), Some(horizon)) = (&settings.reject_spike, account.horizon) {
            reject_spike(conn, &account, &workers, horizon, rule, &mut findings)?;
        }
        if settings.workers_changed {
            workers_changed(conn, &account, now, &mut findings)?;
        }
        if let Some(rule) = &settings.stale_ingest {
            stale_ingest(conn, &account, now, rule, &mut findings)?;
        }
    }
    if let Some(rule) = &settings.history_at_risk {
        history_at_risk(conn, now, rule, &mut findings)?;
    }
    Ok(findings)
}

struct Account {
    id: i64,
    /// `pool/account`, for messages.
    name: String,
    pool: String,
    account: String,
    first_seen: i64,
    /// The last listing of its workers, when it is not after `now` (replays).
    listed_at: Option<i64>,
    previous_listing: Option<i64>,
    /// The newest final hour, if any hour was copied.
    horizon: Option<i64>,
}

fn accounts(conn: &Connection, now: i64) -> rusqlite::Result<Vec<Account>> {
    let last_complete_hour = now.div_euclid(HOUR) * HOUR - HOUR;
    let mut stmt = conn.prepare(
        "SELECT a.account_id, a.pool, a.account, a.first_seen, a.last_seen, a.previous_seen, \
                (SELECT MAX(s.watermark_ts) FROM series s \
                 WHERE s.account_id = a.account_id AND s.dimension = '1h') \
         FROM accounts a WHERE a.first_seen <= ?1 ORDER BY a.pool, a.account",
    )?;
    let rows = stmt.query_map([now], |row| {
        let pool: String = row.get(1)?;
        let account: String = row.get(2)?;
        let last_seen: i64 = row.get(4)?;
        let listed_at = (last_seen <= now).then_some(last_seen);
        let watermark: Option<i64> = row.get(6)?;
        Ok(Account {
            id: row.get(0)?,
            name: format!("{pool}/{account}"),
            pool,
            account,
            first_seen: row.get(3)?,
            listed_at,
            previous_listing: row
                .get::<_, Option<i64>>(5)?
                .filter(|_| listed_at.is_some()),
            horizon: watermark
                .map(|w| w.div_euclid(HOUR) * HOUR)
                .map(|w| w.min(last_complete_hour)),
        })
    })?;
    rows.collect()
}

struct ListedWorker {
    worker_id: i64,
    name: String,
    gid: Option<i64>,
    last_share_time: Option<i64>,
    series_id: Option<i64>,
    /// The newest final hour with accepted hashrate, up to the horizon, within the lookback.
    last_up: Option<i64>,
    /// The oldest stored hour.
    first_hour: Option<i64>,
    first_seen: i64,
}

/// The workers the pool listed at the account's last listing (the others are gone from it:
/// `workers_changed` tells that once, and nothing else is said about them).
fn listed_workers(conn: &Connection, account: &Account) -> rusqlite::Result<Vec<ListedWorker>> {
    let Some(listed_at) = account.listed_at else {
        return Ok(Vec::new());
    };
    let horizon = account.horizon.unwrap_or(i64::MIN);
    let mut stmt = conn.prepare_cached(
        "SELECT w.worker_id, w.worker_name, w.gid, w.last_share_time, s.series_id, \
                (SELECT t.ts FROM tickers t WHERE t.series_id = s.series_id \
                   AND t.ts <= ?3 AND t.ts > ?3 - ?4 AND t.provisional = 0 AND t.hashrate_hs > 0 \
                 ORDER BY t.ts DESC LIMIT 1), \
                (SELECT MIN(t.ts) FROM tickers t WHERE t.series_id = s.series_id), \
                w.first_seen \
         FROM workers w \
         LEFT JOIN series s ON s.account_id = w.account_id AND s.worker_id = w.worker_id \
                           AND s.dimension = '1h' \
         WHERE w.account_id = ?1 AND w.last_seen = ?2 \
         ORDER BY w.worker_name, w.worker_id",
    )?;
    let rows = stmt.query_map(
        params![account.id, listed_at, horizon, DOWN_LOOKBACK],
        |row| {
            Ok(ListedWorker {
                worker_id: row.get(0)?,
                name: row.get(1)?,
                gid: row.get(2)?,
                last_share_time: row.get(3)?,
                series_id: row.get(4)?,
                last_up: row.get(5)?,
                first_hour: row.get(6)?,
                first_seen: row.get(7)?,
            })
        },
    )?;
    rows.collect()
}

fn worker_subject(account: &Account, worker_id: i64) -> String {
    format!("worker:{}:{worker_id}", account.id)
}

fn hours_text(hours: i64) -> String {
    if hours == 1 {
        "1 hour".to_owned()
    } else {
        format!("{hours} hours")
    }
}

/// Workers without accepted hashrate for the rule's final hours, or whose last share (from the
/// pool's worker list) is that long before the listing. Returns the ids of the down workers.
fn worker_down(
    account: &Account,
    workers: &[ListedWorker],
    horizon: i64,
    now: i64,
    rule: &WorkerDown,
    findings: &mut Vec<Finding>,
) -> Vec<i64> {
    let hours = i64::from(rule.hours.max(1));
    let listed_at = account.listed_at.unwrap_or(now);
    // The list's last share times are on the pool's clock, which may lag ours: a worker's is
    // judged against the newest of them (the pool's "now" as its list shows it).
    let believable = |t: &i64| *t > 0 && *t <= listed_at + HOUR;
    let pool_clock = workers
        .iter()
        .filter_map(|w| w.last_share_time.filter(believable))
        .max();
    let mut down = Vec::new();
    for worker in workers {
        // The hourly history: hours after the last one with hashrate, through the horizon.
        let lookback_start = horizon - DOWN_LOOKBACK + HOUR;
        let hourly = worker.series_id.map(|_| {
            let first_down = match worker.last_up {
                Some(up) => up + HOUR,
                None => {
                    let start = worker
                        .first_hour
                        .unwrap_or(worker.first_seen.div_euclid(HOUR) * HOUR);
                    start.max(lookback_start)
                }
            };
            (first_down, (horizon - first_down) / HOUR + 1)
        });
        // The worker list's last share, believed only when it is not after the listing.
        let last_share = worker.last_share_time.filter(believable);
        let hourly_down = hourly.filter(|(_, n)| *n >= hours);
        let back_since = last_share.is_some_and(|t| t >= horizon + HOUR);
        let share_down =
            last_share.filter(|t| pool_clock.is_some_and(|clock| clock - t >= hours * HOUR));
        let (since, message) = match (hourly_down.filter(|_| !back_since), share_down) {
            (Some((first, n)), share) => {
                // Hashrate is looked for 30 days back: beyond, the last share says since when.
                let beyond_lookback = first <= lookback_start && worker.last_up.is_none();
                let since = match share {
                    Some(t) if beyond_lookback => t.min(first),
                    _ => first,
                };
                let mut message = if beyond_lookback {
                    format!(
                        "{}: no accepted hashrate in the last {} days",
                        worker.name,
                        DOWN_LOOKBACK / DAY
                    )
                } else {
                    format!(
                        "{}: no accepted hashrate for {} (since {})",
                        worker.name,
                        hours_text(n),
                        format_time_iso(first)
                    )
                };
                if let Some(t) = share {
                    message.push_str(&format!("; last share {}", format_time_iso(t)));
                }
                (since, message)
            }
            (None, Some(t)) => (
                t,
                format!(
                    "{}: last share {}, {} before the newest share in the pool's worker list of {}",
                    worker.name,
                    format_time_iso(t),
                    hours_text((pool_clock.unwrap_or(t) - t) / HOUR),
                    format_time_iso(listed_at)
                ),
            ),
            (None, None) => continue,
        };
        let value = ((now.min(horizon + HOUR) - since).max(0) / HOUR) as f64;
        down.push(worker.worker_id);
        findings.push(Finding {
            rule: "worker_down",
            subject: worker_subject(account, worker.worker_id),
            account_id: Some(account.id),
            worker_id: Some(worker.worker_id),
            group_id: worker.gid,
            since,
            message: format!("{} ({})", message, account.name),
            value: Some(value),
            threshold: Some(hours as f64),
        });
    }
    down
}

/// Sum of final hashrate over the window ending `days_back` days before the horizon, per
/// hourly series of the account (missing hours count 0).
fn window_sums(
    conn: &Connection,
    account: &Account,
    horizon: i64,
    hours: u32,
    days: u32,
) -> rusqlite::Result<HashMap<(i64, u32), f64>> {
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE back(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM back WHERE d < ?4) \
         SELECT s.series_id, back.d, SUM(t.hashrate_hs) \
         FROM series s \
         JOIN back \
         JOIN tickers t ON t.series_id = s.series_id \
                       AND t.ts BETWEEN ?2 - ?3 - back.d * 86400 AND ?2 - back.d * 86400 \
         WHERE s.account_id = ?1 AND s.dimension = '1h' AND t.provisional = 0 \
         GROUP BY s.series_id, back.d",
    )?;
    let span = (i64::from(hours.max(1)) - 1) * HOUR;
    let rows = stmt.query_map(params![account.id, horizon, span, days], |row| {
        Ok((
            (row.get::<_, i64>(0)?, row.get::<_, u32>(1)?),
            row.get::<_, f64>(2)?,
        ))
    })?;
    rows.collect()
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// One subject's hashrate: the window now, and the same window on each earlier day it existed.
struct Level {
    now: f64,
    earlier: Vec<f64>,
}

impl Level {
    /// `sums` of the given series; a day counts for the baseline once any of them had started
    /// (its first stored hour at or before that day's window).
    fn of(
        series: &[(i64, Option<i64>)],
        sums: &HashMap<(i64, u32), f64>,
        window_start: i64,
        days: u32,
    ) -> Option<Level> {
        let started = |day: u32| {
            series
                .iter()
                .any(|(_, first)| first.is_some_and(|f| f <= window_start - i64::from(day) * DAY))
        };
        if !started(0) {
            return None;
        }
        let total = |day: u32| -> f64 {
            series
                .iter()
                .map(|(id, _)| sums.get(&(*id, day)).copied().unwrap_or(0.0))
                .sum()
        };
        Some(Level {
            now: total(0),
            earlier: (1..=days).filter(|d| started(*d)).map(total).collect(),
        })
    }
}

/// A worker's, group's or account's last complete hours below a share of the median of the
/// same hours on the previous days. A worker down is `worker_down`'s to tell, not told twice;
/// groups and accounts of one worker say nothing the worker's alert does not.
/// The workers `hashrate_drop` judges one by one.
struct Judged<'a> {
    /// Those not down.
    candidates: &'a [&'a ListedWorker],
    /// A window without any hashrate is `worker_down`'s to tell (a worker back since, per its
    /// last share, whose final hours are still zeros), not a drop.
    none_is_down: bool,
}

fn hashrate_drop(
    conn: &Connection,
    account: &Account,
    workers: &[ListedWorker],
    judged: &Judged<'_>,
    horizon: i64,
    rule: &HashrateDrop,
    findings: &mut Vec<Finding>,
) -> rusqlite::Result<()> {
    if workers.is_empty() {
        return Ok(());
    }
    let sums = window_sums(conn, account, horizon, rule.hours, rule.baseline_days)?;
    let window_start = horizon - (i64::from(rule.hours.max(1)) - 1) * HOUR;
    let share = rule.below_percent / 100.0;
    let mut check = |level: Option<Level>, subject: String, label: String, worker_id, group_id| {
        let Some(mut level) = level else { return };
        let Some(baseline) = median(&mut level.earlier) else {
            return;
        };
        if baseline > 0.0 && level.now < share * baseline {
            let hours = f64::from(rule.hours.max(1));
            findings.push(Finding {
                rule: "hashrate_drop",
                subject,
                account_id: Some(account.id),
                worker_id,
                group_id,
                since: window_start,
                message: format!(
                    "{label}: {} over the last {} against a median of {} at the same hours of the previous {} days ({} of it, below {})",
                    format_hashrate(level.now / hours),
                    hours_text(i64::from(rule.hours.max(1))),
                    format_hashrate(baseline / hours),
                    level.earlier.len(),
                    format_percent(level.now / baseline),
                    format_percent(share),
                ),
                value: Some(level.now / baseline),
                threshold: Some(share),
            });
        }
    };
    let series_of = |w: &ListedWorker| w.series_id.map(|id| (id, w.first_hour));
    for worker in judged.candidates {
        let Some(series) = series_of(worker) else {
            continue;
        };
        let level = Level::of(&[series], &sums, window_start, rule.baseline_days)
            .filter(|level| !(judged.none_is_down && level.now <= 0.0));
        check(
            level,
            worker_subject(account, worker.worker_id),
            format!("{} ({})", worker.name, account.name),
            Some(worker.worker_id),
            worker.gid,
        );
    }
    let mut groups: HashMap<i64, Vec<(i64, Option<i64>)>> = HashMap::new();
    for worker in workers {
        if let (Some(gid), Some(series)) = (worker.gid, series_of(worker)) {
            groups.entry(gid).or_default().push(series);
        }
    }
    let mut group_ids: Vec<i64> = groups.keys().copied().collect();
    group_ids.sort_unstable();
    for gid in group_ids {
        let members = &groups[&gid];
        if members.len() < 2 || members.len() == workers.len() {
            continue;
        }
        let name = group_name(conn, account.id, gid)?;
        check(
            Level::of(members, &sums, window_start, rule.baseline_days),
            format!("group:{}:{gid}", account.id),
            format!("group {name} ({}, {} workers)", account.name, members.len()),
            None,
            Some(gid),
        );
    }
    if workers.len() >= 2 {
        let own: Option<(i64, Option<i64>)> = conn
            .query_row(
                "SELECT s.series_id, (SELECT MIN(ts) FROM tickers t WHERE t.series_id = s.series_id) \
                 FROM series s WHERE s.account_id = ?1 AND s.worker_id IS NULL AND s.dimension = '1h'",
                [account.id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        let series: Vec<(i64, Option<i64>)> = match own {
            Some(own) => vec![own],
            None => workers.iter().filter_map(series_of).collect(),
        };
        check(
            Level::of(&series, &sums, window_start, rule.baseline_days),
            format!("account:{}", account.id),
            format!("account {}", account.name),
            None,
            None,
        );
    }
    Ok(())
}

fn group_name(conn: &Connection, account_id: i64, gid: i64) -> rusqlite::Result<String> {
    let name: Option<String> = conn
        .prepare_cached("SELECT name FROM groups WHERE account_id = ?1 AND gid = ?2")?
        .query_row(params![account_id, gid], |row| row.get(0))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    Ok(name.unwrap_or_else(|| gid.to_string()))
}

/// A worker's accept-weighted reject rate over the last hours above the threshold, or above a
/// multiple of its own rate over the previous days.
fn reject_spike(
    conn: &Connection,
    account: &Account,
    workers: &[ListedWorker],
    horizon: i64,
    rule: &RejectSpike,
    findings: &mut Vec<Finding>,
) -> rusqlite::Result<()> {
    if workers.is_empty() {
        return Ok(());
    }
    let window_start = horizon - (i64::from(rule.hours.max(1)) - 1) * HOUR;
    let first_day = window_start.div_euclid(DAY) * DAY;
    // Per series: accepted and reject-weighted sums in the window, the first hour over the
    // absolute threshold, and the same sums over the baseline days (whole days before it).
    let mut stmt = conn.prepare_cached(
        "SELECT s.series_id, \
                (SELECT SUM(t.hashrate_hs) FROM tickers t WHERE t.series_id = s.series_id \
                   AND t.ts BETWEEN ?2 AND ?3 AND t.provisional = 0), \
                (SELECT SUM(t.hashrate_hs * t.reject_rate) FROM tickers t \
                   WHERE t.series_id = s.series_id AND t.ts BETWEEN ?2 AND ?3 AND t.provisional = 0), \
                (SELECT MIN(t.ts) FROM tickers t WHERE t.series_id = s.series_id \
                   AND t.ts BETWEEN ?2 AND ?3 AND t.provisional = 0 AND t.hashrate_hs > 0 \
                   AND t.reject_rate > ?6), \
                (SELECT SUM(d.hashrate_sum) FROM hourly_by_day d WHERE d.series_id = s.series_id \
                   AND d.day_ts >= ?4 - ?5 * 86400 AND d.day_ts < ?4), \
                (SELECT SUM(d.reject_weight_sum) FROM hourly_by_day d WHERE d.series_id = s.series_id \
                   AND d.day_ts >= ?4 - ?5 * 86400 AND d.day_ts < ?4) \
         FROM series s \
         WHERE s.account_id = ?1 AND s.worker_id IS NOT NULL AND s.dimension = '1h'",
    )?;
    type Sums = (
        Option<f64>,
        Option<f64>,
        Option<i64>,
        Option<f64>,
        Option<f64>,
    );
    let above = rule.above_percent / 100.0;
    let floor = rule.factor_floor_percent / 100.0;
    let sums: HashMap<i64, Sums> = stmt
        .query_map(
            params![
                account.id,
                window_start,
                horizon,
                first_day,
                rule.baseline_days,
                above.min(floor)
            ],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    (
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ),
                ))
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    for worker in workers {
        let Some((Some(accepted), Some(weighted), first_high, base_accepted, base_weighted)) =
            worker.series_id.and_then(|id| sums.get(&id)).copied()
        else {
            continue;
        };
        if accepted <= 0.0 {
            continue;
        }
        let rate = weighted / accepted;
        let baseline = match (base_accepted, base_weighted) {
            (Some(a), Some(w)) if a > 0.0 => Some(w / a),
            _ => None,
        };
        let by_factor = baseline.is_some_and(|b| rate > rule.factor * b && rate > floor);
        if !(rate > above || by_factor) {
            continue;
        }
        let threshold = match baseline {
            Some(b) => above.min((rule.factor * b).max(floor)),
            None => above,
        };
        let mut message = format!(
            "{} ({}): {} rejected over the last {}",
            worker.name,
            account.name,
            format_percent(rate),
            hours_text(i64::from(rule.hours.max(1)))
        );
        match baseline {
            Some(b) => message.push_str(&format!(
                ", against {} over the previous {} days (alert above {} or {}x that)",
                format_percent(b),
                rule.baseline_days,
                format_percent(above),
                rule.factor
            )),
            None => message.push_str(&format!(" (alert above {})", format_percent(above))),
        }
        findings.push(Finding {
            rule: "reject_spike",
            subject: worker_subject(account, worker.worker_id),
            account_id: Some(account.id),
            worker_id: Some(worker.worker_id),
            group_id: worker.gid,
            since: first_high.unwrap_or(window_start),
            message,
            value: Some(rate),
            threshold: Some(threshold),
        });
    }
    Ok(())
}

/// Workers the account's last listing shows and the one before did not, and the reverse.
/// Told once, after the run that saw the change; resolved at the next listing.
fn workers_changed(
    conn: &Connection,
    account: &Account,
    now: i64,
    findings: &mut Vec<Finding>,
) -> rusqlite::Result<()> {
    let (Some(listed_at), Some(previous)) = (account.listed_at, account.previous_listing) else {
        return Ok(());
    };
    if previous >= listed_at || listed_at > now {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT worker_id, worker_name, gid, last_seen = ?2 FROM workers \
         WHERE account_id = ?1 \
           AND ((last_seen = ?2 AND (previous_seen IS NULL OR previous_seen < ?3)) \
                OR last_seen = ?3) \
         ORDER BY worker_name, worker_id",
    )?;
    let changed: Vec<(i64, String, Option<i64>, bool)> = stmt
        .query_map(params![account.id, listed_at, previous], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for appeared in [true, false] {
        let these: Vec<_> = changed.iter().filter(|c| c.3 == appeared).collect();
        let verb = if appeared {
            "appeared in the pool's worker list"
        } else {
            "is no longer in the pool's worker list"
        };
        if these.len() > CHANGED_WORKERS_ONE_BY_ONE {
            findings.push(Finding {
                rule: "workers_changed",
                subject: format!(
                    "account:{}:{}",
                    account.id,
                    if appeared { "appeared" } else { "disappeared" }
                ),
                account_id: Some(account.id),
                worker_id: None,
                group_id: None,
                since: listed_at,
                message: format!(
                    "{} workers {} of {} (listing of {}; previous {})",
                    these.len(),
                    if appeared {
                        "appeared in the worker list"
                    } else {
                        "left the worker list"
                    },
                    account.name,
                    format_time_iso(listed_at),
                    format_time_iso(previous)
                ),
                value: Some(these.len() as f64),
                threshold: None,
            });
            continue;
        }
        for (worker_id, name, gid, _) in these {
            findings.push(Finding {
                rule: "workers_changed",
                // Its own subject each way: one that comes and goes is told both.
                subject: format!(
                    "{}:{}",
                    worker_subject(account, *worker_id),
                    if appeared { "appeared" } else { "disappeared" }
                ),
                account_id: Some(account.id),
                worker_id: Some(*worker_id),
                group_id: *gid,
                since: listed_at,
                message: format!(
                    "{name} {verb} of {} (listing of {}; previous {})",
                    account.name,
                    format_time_iso(listed_at),
                    format_time_iso(previous)
                ),
                value: None,
                threshold: None,
            });
        }
    }
    Ok(())
}

/// An account without a successful ingest for longer than the rule allows.
fn stale_ingest(
    conn: &Connection,
    account: &Account,
    now: i64,
    rule: &StaleIngest,
    findings: &mut Vec<Finding>,
) -> rusqlite::Result<()> {
    let key = format!("{}:{}", account.pool, account.account);
    // The start of the last run that succeeded (what it copied is as fresh as that; a replay's
    // `--now` is its start too); or, in a run failed by another account, the time this
    // account's hourly series (its own and its listed workers') had all been synced (one never
    // synced counts from its first listing).
    let last_ok: Option<i64> = conn
        .prepare_cached(
            "SELECT MAX(t) FROM ( \
               SELECT MAX(started_at) AS t FROM ingest_runs \
               WHERE status = 'ok' AND started_at <= ?2 \
                 AND instr(',' || IFNULL(accounts, '') || ',', ',' || ?1 || ',') > 0 \
               UNION ALL \
               SELECT MIN(COALESCE(s.last_synced_at, w.first_seen, ?5)) FROM series s \
               LEFT JOIN workers w ON w.account_id = s.account_id AND w.worker_id = s.worker_id \
               WHERE s.account_id = ?3 AND s.dimension = '1h' \
                 AND (s.worker_id IS NULL OR w.last_seen = ?4) \
               HAVING MIN(COALESCE(s.last_synced_at, w.first_seen, ?5)) <= ?2)",
        )?
        .query_row(
            params![key, now, account.id, account.listed_at, account.first_seen],
            |row| row.get(0),
        )?;
    let since = last_ok.unwrap_or(account.first_seen);
    let limit = i64::from(rule.hours) * HOUR;
    if now - since <= limit {
        return Ok(());
    }
    let message = match last_ok {
        Some(t) => format!(
            "{}: no successful ingest for {} (last {})",
            account.name,
            hours_text((now - t) / HOUR),
            format_time_iso(t)
        ),
        None => format!(
            "{}: no successful ingest since it was first collected {}",
            account.name,
            format_time_iso(account.first_seen)
        ),
    };
    findings.push(Finding {
        rule: "stale_ingest",
        subject: format!("account:{}", account.id),
        account_id: Some(account.id),
        worker_id: None,
        group_id: None,
        since,
        message,
        value: Some((now - since) as f64),
        threshold: Some(limit as f64),
    });
    Ok(())
}

const HISTORY_EXPIRY: &str = include_str!("../../queries/history_expiry.sql");

/// History the pool still has and poolhist has not copied, expiring within the rule's hours:
/// one alert per account and kind of series (worker hourly, account daily...), with the
/// soonest expiry and how many series share it.
fn history_at_risk(
    conn: &Connection,
    now: i64,
    rule: &HistoryAtRisk,
    findings: &mut Vec<Finding>,
) -> rusqlite::Result<()> {
    let window = i64::from(rule.hours) * HOUR;
    let sql = format!(
        "SELECT account_id, pool, account, scope, dimension, MIN(expires_at), \
                MIN(oldest_uncopied_ts), COUNT(*) \
         FROM ({}) WHERE expires_at - ?1 <= ?2 \
         GROUP BY account_id, scope, dimension ORDER BY pool, account, scope, dimension",
        HISTORY_EXPIRY.trim().trim_end_matches(';')
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![now, window], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, i64>(5)?,
            row.get::<_, i64>(6)?,
            row.get::<_, i64>(7)?,
        ))
    })?;
    for row in rows {
        let (account_id, pool, account, scope, dimension, expires_at, oldest, series) = row?;
        let kind = format!(
            "{scope} {}",
            if dimension == "1h" { "hourly" } else { "daily" }
        );
        let left = expires_at - now;
        let when = if left > 0 {
            format!(
                "expires at the pool at {} (in {})",
                format_time_iso(expires_at),
                hours_text((left + HOUR - 1) / HOUR)
            )
        } else {
            format!(
                "is due to expire at the pool since {}: copy it now or lose it",
                format_time_iso(expires_at)
            )
        };
        findings.push(Finding {
            rule: "history_at_risk",
            subject: format!("account:{account_id}:{scope}:{dimension}"),
            account_id: Some(account_id),
            worker_id: None,
            group_id: None,
            since: expires_at - window,
            message: format!(
                "{pool}/{account}: {kind} history not copied since {} ({series} series) {when}; run poolhist ingest",
                format_time_iso(oldest)
            ),
            value: Some(left as f64),
            threshold: Some(window as f64),
        });
    }
    Ok(())
}
