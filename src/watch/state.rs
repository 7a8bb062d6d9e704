//! What was told: turns an evaluation's findings into alert openings and resolutions, in one
//! transaction. An alert opens once its rule held for `open_after` evaluations in a row
//! (before that it is pending and never told), stays open without being told again, and
//! resolves once, at the first evaluation its rule no longer holds.

use std::collections::HashMap;

use rusqlite::{params, Connection, TransactionBehavior};

use super::rules::Finding;

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    pub evaluation_id: i64,
    /// Alerts opened and resolved now, and the events that tell them (for webhooks).
    pub opened: Vec<i64>,
    pub resolved: Vec<i64>,
    pub events: Vec<i64>,
    /// Alerts open after it.
    pub firing: usize,
}

struct Live {
    alert_id: i64,
    state: String,
    held: i64,
    last_evaluated_at: i64,
}

/// Rules told the moment they hold, whatever `open_after` says: what they tell is a change
/// seen once (a listing), not a state that could flap.
const NOT_DAMPED: [&str; 1] = ["workers_changed"];

/// Applies `findings` as of `now`. Alerts of rules not in `enabled` (turned off) resolve,
/// saying so.
pub fn apply(
    conn: &mut Connection,
    findings: &[Finding],
    enabled: &[&str],
    now: i64,
    open_after: u32,
    duration_ms: i64,
) -> rusqlite::Result<Evaluation> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut live: HashMap<(String, String), Live> = HashMap::new();
    {
        let mut stmt = tx.prepare(
            "SELECT alert_id, rule, subject, state, held, last_evaluated_at FROM alerts \
             WHERE state <> 'resolved'",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                (row.get::<_, String>(1)?, row.get::<_, String>(2)?),
                Live {
                    alert_id: row.get(0)?,
                    state: row.get(3)?,
                    held: row.get(4)?,
                    last_evaluated_at: row.get(5)?,
                },
            ))
        })?;
        for row in rows {
            let (key, alert) = row?;
            live.insert(key, alert);
        }
    }
    let open_after = i64::from(open_after.max(1));
    let mut outcome = Evaluation::default();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO alerts (rule, subject, account_id, worker_id, group_id, state, held, \
                                 since, opened_at, message, value, threshold, last_evaluated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        let mut update = tx.prepare_cached(
            "UPDATE alerts SET held = ?9, state = ?2, \
                    opened_at = COALESCE(opened_at, ?3), message = ?4, value = ?5, threshold = ?6, \
                    last_evaluated_at = ?7, group_id = ?8 \
             WHERE alert_id = ?1",
        )?;
        let mut event = tx.prepare_cached(
            "INSERT INTO alert_events (alert_id, kind, at, message) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for finding in findings {
            let key = (finding.rule.to_owned(), finding.subject.clone());
            let open_after = if NOT_DAMPED.contains(&finding.rule) {
                1
            } else {
                open_after
            };
            match live.remove(&key) {
                Some(alert) => {
                    // The same instant evaluated again is not one more evaluation in a row.
                    let held = if now > alert.last_evaluated_at {
                        alert.held + 1
                    } else {
                        alert.held
                    };
                    let opens = alert.state == "pending" && held >= open_after;
                    let state = if alert.state == "open" || opens {
                        "open"
                    } else {
                        "pending"
                    };
                    update.execute(params![
                        alert.alert_id,
                        state,
                        opens.then_some(now),
                        finding.message,
                        finding.value,
                        finding.threshold,
                        now,
                        finding.group_id,
                        held,
                    ])?;
                    if opens {
                        event.execute(params![alert.alert_id, "open", now, finding.message])?;
                        outcome.events.push(tx.last_insert_rowid());
                        outcome.opened.push(alert.alert_id);
                    }
                }
                None => {
                    let opens = open_after <= 1;
                    insert.execute(params![
                        finding.rule,
                        finding.subject,
                        finding.account_id,
                        finding.worker_id,
                        finding.group_id,
                        if opens { "open" } else { "pending" },
                        finding.since,
                        opens.then_some(now),
                        finding.message,
                        finding.value,
                        finding.threshold,
                        now,
                    ])?;
                    let alert_id = tx.last_insert_rowid();
                    if opens {
                        event.execute(params![alert_id, "open", now, finding.message])?;
                        outcome.events.push(tx.last_insert_rowid());
                        outcome.opened.push(alert_id);
                    }
                }
            }
        }
        // What held before and holds no more.
        let mut ended: Vec<((String, String), Live)> = live.into_iter().collect();
        ended.sort_by_key(|(_, alert)| alert.alert_id);
        for ((rule, _), alert) in ended {
            if alert.state == "pending" {
                tx.execute("DELETE FROM alerts WHERE alert_id = ?1", [alert.alert_id])?;
                continue;
            }
            let before: String = tx.query_row(
                "SELECT message FROM alerts WHERE alert_id = ?1",
                [alert.alert_id],
                |row| row.get(0),
            )?;
            let message = if enabled.contains(&rule.as_str()) {
                resolution(&rule, &before)
            } else {
                format!("resolved (the rule is turned off); it was: {before}")
            };
            tx.execute(
                "UPDATE alerts SET state = 'resolved', resolved_at = ?2, last_evaluated_at = ?2, \
                        message = ?3 WHERE alert_id = ?1",
                params![alert.alert_id, now, message],
            )?;
            event.execute(params![alert.alert_id, "resolved", now, message])?;
            outcome.events.push(tx.last_insert_rowid());
            outcome.resolved.push(alert.alert_id);
        }
    }
    outcome.firing = tx.query_row(
        "SELECT COUNT(*) FROM alerts WHERE state = 'open'",
        [],
        |row| row.get::<_, i64>(0),
    )? as usize;
    tx.execute(
        "INSERT INTO alert_evaluations (evaluated_at, ran_at, firing, opened, resolved, duration_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            now,
            chrono::Utc::now().timestamp(),
            outcome.firing as i64,
            outcome.opened.len() as i64,
            outcome.resolved.len() as i64,
            duration_ms
        ],
    )?;
    outcome.evaluation_id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(outcome)
}

/// The words of a resolution: what stopped holding.
fn resolution(rule: &str, opened_with: &str) -> String {
    let what = match rule {
        "worker_down" => "hashing again, or no longer listed",
        "hashrate_drop" => "back above the threshold",
        "reject_spike" => "rejects back under the threshold",
        "workers_changed" => "seen by the next listing",
        "history_at_risk" => "copied, or no longer at risk",
        "stale_ingest" => "an ingest succeeded",
        _ => "no longer holds",
    };
    format!("resolved ({what}); it was: {opened_with}")
}
