//! An alert as it is told: in `poolhist alerts --format json`, in webhook bodies, in the
//! history. One shape for all of them, read from the `v_alerts` view.

use rusqlite::{Connection, Row, ToSql};
use serde::Serialize;

use crate::report::render::format_time_iso;

/// One alert, or one opening / resolution of it (`event_id` set).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    pub rule: String,
    /// `open` or `resolved`.
    pub state: String,
    pub pool: Option<String>,
    pub account: Option<String>,
    /// Null for account- and group-level alerts.
    pub worker_id: Option<i64>,
    pub worker_name: Option<String>,
    pub group_name: Option<String>,
    /// When the condition began, as the data shows (ISO 8601 UTC).
    pub since: String,
    pub message: String,
    /// What this evaluation did to it: `opened`, `resolved` (told now) or `ongoing` (told
    /// before). In webhook bodies, `opened` or `resolved`.
    pub change: String,
    pub alert_id: i64,
    /// The event told (webhooks): receivers can drop one seen before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<i64>,
    pub opened_at: Option<String>,
    pub resolved_at: Option<String>,
    /// The measured figure and the threshold it crossed, in the rule's unit (hours, fraction
    /// of the baseline, reject fraction, seconds).
    pub value: Option<f64>,
    pub threshold: Option<f64>,
}

/// The columns `from_row` reads, in order; `v` is `v_alerts`.
const COLUMNS: &str = "v.rule, v.state, v.pool, v.account, v.worker_id, v.worker_name, \
     v.group_name, v.since, v.message, v.alert_id, v.opened_at, v.resolved_at, v.value, v.threshold";

fn from_row(row: &Row<'_>, change: String, event_id: Option<i64>) -> rusqlite::Result<AlertRecord> {
    let time = |i: usize| -> rusqlite::Result<Option<String>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(format_time_iso))
    };
    Ok(AlertRecord {
        rule: row.get(0)?,
        state: row.get(1)?,
        pool: row.get(2)?,
        account: row.get(3)?,
        worker_id: row.get(4)?,
        worker_name: row.get(5)?,
        group_name: row.get(6)?,
        since: format_time_iso(row.get(7)?),
        message: row.get(8)?,
        change,
        alert_id: row.get(9)?,
        event_id,
        opened_at: time(10)?,
        resolved_at: time(11)?,
        value: row.get(12)?,
        threshold: row.get(13)?,
    })
}

/// Alerts of `v_alerts` matching `filter` (SQL over `v`, with named parameters), in `order`.
/// `change` says `opened` for the alerts in `opened_now` (what this evaluation opened),
/// `resolved` for resolved ones, `ongoing` for the others.
pub fn alerts(
    conn: &Connection,
    filter: &str,
    order: &str,
    params: &[(&str, &dyn ToSql)],
    opened_now: &[i64],
) -> rusqlite::Result<Vec<AlertRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM v_alerts v WHERE {filter} ORDER BY {order}");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params, |row| {
        let state: String = row.get(1)?;
        let alert_id: i64 = row.get(9)?;
        let change = match state.as_str() {
            "resolved" => "resolved",
            _ if opened_now.contains(&alert_id) => "opened",
            _ => "ongoing",
        };
        from_row(row, change.to_owned(), None)
    })?;
    rows.collect()
}

/// The openings and resolutions `event_ids` name, oldest first, each with the event's own
/// words and state (an alert resolved since it opened is still told as it opened).
pub fn events(conn: &Connection, event_ids: &[i64]) -> rusqlite::Result<Vec<AlertRecord>> {
    let mut out = Vec::with_capacity(event_ids.len());
    let sql = format!(
        "SELECT {COLUMNS}, e.kind, e.message, e.event_id FROM alert_events e \
         JOIN v_alerts v ON v.alert_id = e.alert_id WHERE e.event_id = ?1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    for id in event_ids {
        let record = stmt.query_row([id], |row| {
            let kind: String = row.get(14)?;
            let mut record = from_row(
                row,
                if kind == "open" { "opened" } else { "resolved" }.to_owned(),
                Some(row.get(16)?),
            )?;
            record.state = if kind == "open" { "open" } else { "resolved" }.to_owned();
            record.message = row.get(15)?;
            if kind == "open" {
                record.resolved_at = None;
            }
            Ok(record)
        })?;
        out.push(record);
    }
    Ok(out)
}
