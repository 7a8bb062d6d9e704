//! report::uptime's uptime rows, outages and heatmap cells (one pass over hourly_by_day,
//! src/report/uptime_scan.rs) and the queries they follow, uptime.sql, outages.sql and
//! uptime_by_day.sql, against a plain-Rust recomputation over random
//! databases written through the real writer. The queries read the per-day summary
//! `hourly_by_day`; the recomputation reads only the stored tickers, hour by hour, following the
//! definitions in the query headers.

mod random_db;

use std::collections::HashSet;

use poolhist::pools::PoolKind;
use poolhist::report::period::Period;
use poolhist::report::uptime::{self, Outage, UptimeDay, UptimeRow};
use poolhist::report::{AccountFilter, Selection};
use random_db::{random_db, random_period, stored_workers, Rng, StoredWorker, D, END, H, PUID};

/// One selected worker as the recomputation sees it.
struct Worker<'a> {
    stored: &'a StoredWorker,
    /// Hours (their start) with a final ticker and hashrate > 0.
    up: HashSet<i64>,
    first_hour_ts: Option<i64>,
}

impl Worker<'_> {
    fn new(stored: &StoredWorker) -> Worker<'_> {
        let finals = stored.hourly.iter().filter(|t| !t.provisional);
        Worker {
            stored,
            up: finals
                .clone()
                .filter(|t| t.hashrate_hs > 0.0)
                .map(|t| t.ts)
                .collect(),
            first_hour_ts: finals.map(|t| t.ts).min(),
        }
    }

    /// The first counted hour: max(period start, first final hourly point).
    fn start(&self, p: &Period) -> Option<i64> {
        self.first_hour_ts.map(|f| f.max(p.from))
    }

    /// The counted hours of the period: [start, period end), empty without hourly points.
    fn counted(&self, p: &Period) -> Vec<i64> {
        match self.start(p) {
            Some(start) => (start..p.to).step_by(H as usize).collect(),
            None => Vec::new(),
        }
    }

    /// Maximal runs of counted down hours, as [start, end).
    fn down_runs(&self, p: &Period) -> Vec<(i64, i64)> {
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for h in self.counted(p) {
            if self.up.contains(&h) {
                continue;
            }
            match runs.last_mut() {
                Some(run) if run.1 == h => run.1 = h + H,
                _ => runs.push((h, h + H)),
            }
        }
        runs
    }
}

fn expected_uptime(workers: &[Worker], p: &Period) -> Vec<UptimeRow> {
    let mut rows: Vec<UptimeRow> = workers
        .iter()
        .map(|w| {
            let counted = w.counted(p);
            let hours_up = counted.iter().filter(|h| w.up.contains(h)).count() as i64;
            let hours_total = counted.len() as i64;
            let runs = w.down_runs(p);
            UptimeRow {
                account_id: PUID,
                puid: Some(PUID),
                pool: "cloverpool".to_owned(),
                account: PUID.to_string(),
                worker_id: w.stored.worker_id,
                worker_name: w.stored.worker_name.clone(),
                group_name: w.stored.group_name.clone(),
                hours_up,
                hours_total,
                uptime: (hours_total > 0).then(|| hours_up as f64 / hours_total as f64),
                outages: runs.len() as i64,
                longest_outage_hours: runs.iter().map(|r| (r.1 - r.0) / H).max().unwrap_or(0),
                first_hour_ts: w.first_hour_ts,
                counted_from_ts: w.start(p).filter(|&s| s < p.to),
                daily_before_hourly_ts: w
                    .stored
                    .daily
                    .iter()
                    .filter(|t| !t.provisional && t.hashrate_hs > 0.0)
                    .filter(|t| t.ts + D > p.from && t.ts < p.to)
                    .filter(|t| w.first_hour_ts.is_none_or(|f| t.ts + D <= f))
                    .map(|t| t.ts)
                    .min(),
                // The random databases record no expired-history gaps.
                gap_hours: 0,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.uptime.is_none(), a.uptime.unwrap_or(0.0))
            .partial_cmp(&(b.uptime.is_none(), b.uptime.unwrap_or(0.0)))
            .unwrap()
            .then_with(|| a.worker_name.cmp(&b.worker_name))
            .then_with(|| a.worker_id.cmp(&b.worker_id))
    });
    rows
}

fn expected_outages(workers: &[Worker], p: &Period) -> Vec<Outage> {
    let mut rows: Vec<Outage> = workers
        .iter()
        .flat_map(|w| {
            w.down_runs(p)
                .into_iter()
                .map(move |(start_ts, end_ts)| Outage {
                    account_id: PUID,
                    puid: Some(PUID),
                    pool: "cloverpool".to_owned(),
                    account: PUID.to_string(),
                    worker_id: w.stored.worker_id,
                    worker_name: w.stored.worker_name.clone(),
                    group_name: w.stored.group_name.clone(),
                    start_ts,
                    end_ts,
                    hours: (end_ts - start_ts) / H,
                    began_before_period: start_ts == p.from
                        && w.first_hour_ts.is_some_and(|f| f < p.from)
                        && !w.up.contains(&(p.from - H)),
                    open_at_period_end: end_ts == p.to,
                })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.hours
            .cmp(&a.hours)
            .then_with(|| a.start_ts.cmp(&b.start_ts))
            .then_with(|| a.worker_name.cmp(&b.worker_name))
            .then_with(|| a.worker_id.cmp(&b.worker_id))
    });
    rows
}

fn expected_by_day(workers: &[Worker], p: &Period) -> Vec<UptimeDay> {
    let mut rows = Vec::new();
    for w in workers {
        let counted = w.counted(p);
        let first_day = p.from.div_euclid(D) * D;
        let days = if p.from < p.to {
            (first_day..p.to).step_by(D as usize).collect()
        } else {
            Vec::new()
        };
        for day_ts in days {
            let in_day: Vec<&i64> = counted
                .iter()
                .filter(|&&h| h >= day_ts && h < day_ts + D)
                .collect();
            let hours_up = in_day.iter().filter(|h| w.up.contains(h)).count() as i64;
            let hours_counted = in_day.len() as i64;
            rows.push(UptimeDay {
                account_id: PUID,
                puid: Some(PUID),
                pool: "cloverpool".to_owned(),
                account: PUID.to_string(),
                worker_id: w.stored.worker_id,
                worker_name: w.stored.worker_name.clone(),
                day_ts,
                hours_up,
                hours_counted,
                uptime: (hours_counted > 0).then(|| hours_up as f64 / hours_counted as f64),
            });
        }
    }
    rows.sort_by(|a, b| {
        (&a.worker_name, a.worker_id, a.day_ts).cmp(&(&b.worker_name, b.worker_id, b.day_ts))
    });
    rows
}

/// SQLite's GLOB for the patterns used here: `*`, `?`, `[abc]`, `[a-c]`, `[^abc]`.
fn glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some('*') => (0..=text.len()).any(|i| glob(&pattern[1..], &text[i..])),
        Some('?') => !text.is_empty() && glob(&pattern[1..], &text[1..]),
        Some('[') => {
            let close = pattern
                .iter()
                .position(|&c| c == ']')
                .expect("closed class");
            let mut class = &pattern[1..close];
            let negated = class.first() == Some(&'^');
            if negated {
                class = &class[1..];
            }
            let Some(&c) = text.first() else {
                return false;
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negated && glob(&pattern[close + 1..], &text[1..])
        }
        Some(&p) => text.first() == Some(&p) && glob(&pattern[1..], &text[1..]),
    }
}

fn selected(
    conn: &rusqlite::Connection,
    all: &[StoredWorker],
    selection: &Selection,
) -> Vec<StoredWorker> {
    all.iter()
        .filter(|w| {
            selection.group.as_ref().is_none_or(|g| {
                let gid: Option<i64> = conn
                    .query_row(
                        "SELECT gid FROM workers WHERE account_id = ?1 AND worker_id = ?2",
                        [PUID, w.worker_id],
                        |r| r.get(0),
                    )
                    .unwrap();
                w.group_name.as_ref() == Some(g) || gid.map(|id| id.to_string()).as_ref() == Some(g)
            })
        })
        .filter(|w| {
            selection.worker.as_ref().is_none_or(|pattern| {
                let p: Vec<char> = pattern.chars().collect();
                let t: Vec<char> = w.worker_name.chars().collect();
                glob(&p, &t)
            })
        })
        // Every stored worker is CloverPool account PUID's.
        .filter(|_| {
            let accounts = &selection.accounts;
            accounts.pool.as_deref().is_none_or(|p| p == "cloverpool")
                && accounts
                    .account
                    .as_deref()
                    .is_none_or(|a| a == PUID.to_string())
        })
        .cloned()
        .collect()
}

fn selections(rng: &mut Rng) -> Vec<Selection> {
    let groups = ["rack-a", "rack-b", "1", "2"];
    let patterns = ["rig-0[1-3]", "*2", "rig-?4", "rig-[^0]*", "rig-*"];
    vec![
        Selection::default(),
        Selection {
            accounts: AccountFilter::puid(PUID),
            ..Selection::default()
        },
        Selection {
            accounts: AccountFilter {
                pool: Some("foundry".to_owned()),
                account: None,
            },
            ..Selection::default()
        },
        Selection {
            group: Some(groups[rng.range(0, 4) as usize].to_owned()),
            ..Selection::default()
        },
        Selection {
            worker: Some(patterns[rng.range(0, 5) as usize].to_owned()),
            ..Selection::default()
        },
        Selection {
            accounts: AccountFilter::account(PoolKind::CloverPool, &PUID.to_string()),
            group: Some(groups[rng.range(0, 4) as usize].to_owned()),
            worker: Some(patterns[rng.range(0, 5) as usize].to_owned()),
        },
    ]
}

#[test]
fn uptime_outages_and_heatmap_match_an_hour_by_hour_recomputation() {
    let mut checked = (0usize, 0usize, 0usize);
    // Cases worth seeing at least a few times each (counted on the expected side too, through
    // equality): outages clipped at either end or longer than a day, days partly up or partly
    // counted, daily data before the first hourly point.
    let mut seen = [0usize; 6];
    for seed in 0..60 {
        let db = random_db(seed, 6);
        let all = stored_workers(&db.conn);
        let mut rng = Rng::new(seed + 1000);
        for round in 0..6 {
            let (from, to) = random_period(&mut rng);
            // Mostly after the data; now and then inside it, so the cap at the current hour
            // cuts the period short.
            let now = if round == 5 {
                from + rng.range(0, 4 * D)
            } else {
                END + rng.range(0, 3 * D) + rng.range(0, H)
            };
            let Ok(period) = Period::new(from, to, now) else {
                continue;
            };
            for selection in selections(&mut rng) {
                let chosen = selected(&db.conn, &all, &selection);
                let workers: Vec<Worker> = chosen.iter().map(Worker::new).collect();
                let context = format!("seed {seed}, period {period:?}, selection {selection:?}");

                let rows = uptime::uptime_rows(&db.conn, &period, &selection).unwrap();
                assert_eq!(
                    rows,
                    expected_uptime(&workers, &period),
                    "uptime, {context}"
                );
                let outages = uptime::outages(&db.conn, &period, &selection).unwrap();
                assert_eq!(
                    outages,
                    expected_outages(&workers, &period),
                    "outages, {context}"
                );
                let days = uptime::uptime_by_day(&db.conn, &period, &selection).unwrap();
                assert_eq!(
                    days,
                    expected_by_day(&workers, &period),
                    "uptime by day, {context}"
                );
                // the .sql files, which the functions follow, give the same rows
                assert_eq!(
                    uptime::uptime_rows_sql(&db.conn, &period, &selection).unwrap(),
                    rows,
                    "uptime.sql, {context}"
                );
                assert_eq!(
                    uptime::outages_sql(&db.conn, &period, &selection).unwrap(),
                    outages,
                    "outages.sql, {context}"
                );
                assert_eq!(
                    uptime::uptime_by_day_sql(&db.conn, &period, &selection).unwrap(),
                    days,
                    "uptime_by_day.sql, {context}"
                );
                checked.0 += rows.len();
                checked.1 += outages.len();
                checked.2 += days.len();
                seen[0] += outages.iter().filter(|o| o.began_before_period).count();
                seen[1] += outages.iter().filter(|o| o.open_at_period_end).count();
                seen[2] += outages.iter().filter(|o| o.hours > 24).count();
                seen[3] += days
                    .iter()
                    .filter(|d| d.hours_up > 0 && d.hours_up < d.hours_counted)
                    .count();
                seen[4] += days
                    .iter()
                    .filter(|d| d.hours_counted > 0 && d.hours_counted < 24)
                    .count();
                seen[5] += rows
                    .iter()
                    .filter(|r| r.daily_before_hourly_ts.is_some())
                    .count();
            }
        }
    }
    // The random data must exercise what is compared, not compare empty lists.
    assert!(
        checked.0 > 3_000 && checked.1 > 2_000 && checked.2 > 20_000,
        "{checked:?}"
    );
    assert!(seen.iter().all(|&n| n >= 20), "{seen:?}");
    eprintln!("compared {checked:?} rows; edge cases seen {seen:?}");
}

#[test]
fn glob_helper_follows_sqlite() {
    let db = random_db(1, 6);
    for pattern in ["rig-0[1-3]", "*2", "rig-?4", "rig-[^0]*", "rig-*", "x*"] {
        for name in ["rig-00", "rig-01", "rig-02", "rig-03", "rig-04", "rig-05"] {
            let sqlite: bool = db
                .conn
                .query_row("SELECT ?1 GLOB ?2", [name, pattern], |r| r.get(0))
                .unwrap();
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = name.chars().collect();
            assert_eq!(glob(&p, &t), sqlite, "{name} GLOB {pattern}");
        }
    }
}
