//! Random databases for the report property tests, written through the ingest's own writer
//! (`Store::write_pages`), so the per-day summary `hourly_by_day` is kept the way a real run
//! keeps it: backfill pages split anywhere, late points, values rewritten, provisional points
//! turned final. The tests compute each report again in plain Rust from the `tickers` table
//! and compare.
#![allow(dead_code)]

use std::path::PathBuf;

use poolhist::model::Dimension;
use poolhist::model::{Group, Point, Worker};
use poolhist::store::{PageWrite, SeriesState, Store};
use rusqlite::Connection;

pub const H: i64 = 3600;
pub const D: i64 = 86_400;
/// 2026-09-01T00:00:00Z: the first day a random database can hold.
pub const START: i64 = 1_788_220_800;
/// Days of history the generator spans.
pub const DAYS: i64 = 12;
pub const END: i64 = START + DAYS * D;
pub const PUID: i64 = 4242;

/// A small deterministic generator (xorshift64), so a failing seed can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub struct RandomDb {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub conn: Connection,
    pub workers: usize,
}

/// A stored ticker as the oracles read it back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stored {
    pub ts: i64,
    pub hashrate_hs: f64,
    pub reject_rate: f64,
    pub provisional: bool,
}

/// What a report selection sees of one worker: its names and its two series.
#[derive(Debug, Clone)]
pub struct StoredWorker {
    pub worker_id: i64,
    pub worker_name: String,
    pub group_name: Option<String>,
    pub hourly: Vec<Stored>,
    pub daily: Vec<Stored>,
}

/// One hour of a worker's made-up life.
#[derive(Clone, Copy, PartialEq)]
enum Hour {
    Up,
    ZeroRow,
    Missing,
}

fn hourly_life(rng: &mut Rng) -> Vec<(i64, Hour)> {
    // Join late or leave early now and then; outages as runs of zero rows or missing rows,
    // some longer than a day.
    let first = if rng.chance(30) {
        rng.range(0, DAYS * 24)
    } else {
        0
    };
    let last = if rng.chance(20) {
        rng.range(first, DAYS * 24 + 1)
    } else {
        DAYS * 24
    };
    let mut hours = Vec::new();
    let mut state = Hour::Up;
    let mut left = 0;
    for h in first..last {
        if left == 0 {
            state = match rng.next() % 10 {
                0 => Hour::ZeroRow,
                1 => Hour::Missing,
                _ => Hour::Up,
            };
            left = match state {
                Hour::Up => rng.range(1, 80),
                _ if rng.chance(10) => rng.range(24, 60),
                _ => rng.range(1, 8),
            };
        }
        left -= 1;
        hours.push((START + h * H, state));
    }
    hours
}

fn ticker(rng: &mut Rng, ts: i64, up: bool) -> Point {
    Point {
        ts,
        hashrate_hs: if up {
            (1.0 + 99.0 * rng.unit()) * 1e12
        } else {
            0.0
        },
        reject_rate: if up {
            0.05 * rng.unit() * rng.unit()
        } else {
            0.0
        },
        provisional: false,
    }
}

/// Writes a series as a backfill in random page sizes, then a second run that rewrites some
/// points, fills some late ones and ends on a provisional point.
fn write_series(store: &mut Store, rng: &mut Rng, state: &SeriesState, mut rows: Vec<Point>) {
    if rows.is_empty() {
        return;
    }
    let page = |tickers: Vec<Point>| PageWrite {
        series_id: state.series_id,
        dimension: state.dimension,
        tickers,
        covered_through: None,
        finished_at: None,
        stale_provisional_before: None,
        expired_gap: None,
    };
    let mut late = Vec::new();
    rows.retain(|t| {
        let keep = !rng.chance(3);
        if !keep {
            late.push(*t);
        }
        keep
    });
    if rng.chance(50) {
        // The newest point was the live one in the first run.
        if let Some(last) = rows.last_mut() {
            late.push(*last);
            last.provisional = true;
            last.hashrate_hs *= 0.5;
        }
    }
    let mut first_run = Vec::new();
    let mut rest = rows.as_slice();
    while !rest.is_empty() {
        let take = (rng.range(1, 120) as usize).min(rest.len());
        first_run.push(page(rest[..take].to_vec()));
        rest = &rest[take..];
    }
    store.write_pages(&first_run, 1, END).unwrap();
    // The second run: late points, some values revised, all in one page as a late window is.
    for t in rows.iter().filter(|_| rng.chance(2)) {
        let mut revised = *t;
        revised.provisional = false;
        revised.hashrate_hs *= 1.5;
        late.push(revised);
    }
    if rng.chance(40) {
        // ... and this run's newest point is live.
        let step = state.dimension.step_seconds();
        let newest = rows.last().map_or(START, |t| t.ts + step);
        let up = rng.chance(80);
        let mut live = ticker(rng, newest, up);
        live.provisional = true;
        late.push(live);
    }
    late.sort_by_key(|t| t.ts);
    late.dedup_by_key(|t| t.ts);
    if !late.is_empty() {
        store.write_pages(&[page(late)], 2, END).unwrap();
    }
}

/// A random database: `workers` workers in two groups (some in none), hourly and daily worker
/// series, and the account's series.
pub fn random_db(seed: u64, workers: usize) -> RandomDb {
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.db");
    let mut store = Store::open(&path).unwrap();
    let groups = [
        Group {
            gid: 1,
            name: "rack-a".to_owned(),
        },
        Group {
            gid: 2,
            name: "rack-b".to_owned(),
        },
    ];
    let listed: Vec<Worker> = (0..workers as i64)
        .map(|id| Worker {
            worker_id: id + 1,
            worker_name: format!("rig-{:02}", (id * 7) % workers as i64),
            gid: [None, Some(1), Some(2)][rng.range(0, 3) as usize],
            status: "ACTIVE".to_owned(),
            last_share_time: None,
        })
        .collect();
    let directory = poolhist::model::Directory {
        groups: groups.to_vec(),
        workers: listed,
        workers_capped: false,
    };
    let (_, states) = store
        .upsert_directory(
            &poolhist::pools::cloverpool::account(PUID),
            &poolhist::pools::cloverpool::FACTS,
            &directory,
            START,
        )
        .unwrap();
    let mut account_hours = vec![(0.0, 0.0); (DAYS * 24) as usize];
    for state in &states {
        let Some(_) = state.worker_id else { continue };
        match state.dimension {
            Dimension::Hour => {
                let rows: Vec<Point> = hourly_life(&mut rng)
                    .into_iter()
                    .filter(|(_, hour)| *hour != Hour::Missing)
                    .map(|(ts, hour)| ticker(&mut rng, ts, hour == Hour::Up))
                    .collect();
                for t in &rows {
                    let slot = &mut account_hours[((t.ts - START) / H) as usize];
                    slot.0 += t.hashrate_hs;
                    slot.1 += t.hashrate_hs * t.reject_rate;
                }
                write_series(&mut store, &mut rng, state, rows);
            }
            Dimension::Day => {
                // Daily points on most days, including days the hourly series lacks.
                let mut rows = Vec::new();
                for d in 0..DAYS {
                    if rng.chance(80) {
                        let up = rng.chance(90);
                        rows.push(ticker(&mut rng, START + d * D, up));
                    }
                }
                write_series(&mut store, &mut rng, state, rows);
            }
        }
    }
    for state in states.iter().filter(|s| s.worker_id.is_none()) {
        let mut rows = Vec::new();
        match state.dimension {
            Dimension::Hour => {
                for (h, (hs, weight)) in account_hours.iter().enumerate() {
                    if rng.chance(90) {
                        rows.push(Point {
                            ts: START + h as i64 * H,
                            hashrate_hs: *hs,
                            reject_rate: if *hs > 0.0 { weight / hs } else { 0.0 },
                            provisional: false,
                        });
                    }
                }
            }
            Dimension::Day => {
                for d in 0..DAYS {
                    if rng.chance(70) {
                        rows.push(ticker(&mut rng, START + d * D, true));
                    }
                }
            }
        }
        write_series(&mut store, &mut rng, state, rows);
    }
    drop(store);
    let conn = poolhist::store::open(&path).unwrap();
    RandomDb {
        _dir: dir,
        path,
        conn,
        workers,
    }
}

/// Every worker with its stored tickers, read straight from the tables (not the summary).
pub fn stored_workers(conn: &Connection) -> Vec<StoredWorker> {
    let mut workers: Vec<StoredWorker> = conn
        .prepare(
            "SELECT worker_id, worker_name, group_name FROM v_workers WHERE puid = ?1 \
             ORDER BY worker_id",
        )
        .unwrap()
        .query_map([PUID], |r| {
            Ok(StoredWorker {
                worker_id: r.get(0)?,
                worker_name: r.get(1)?,
                group_name: r.get(2)?,
                hourly: Vec::new(),
                daily: Vec::new(),
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for worker in &mut workers {
        worker.hourly = stored_series(conn, Some(worker.worker_id), "1h");
        worker.daily = stored_series(conn, Some(worker.worker_id), "1d");
    }
    workers
}

/// The stored tickers of one series (the account's when `worker_id` is None), oldest first.
pub fn stored_series(conn: &Connection, worker_id: Option<i64>, dimension: &str) -> Vec<Stored> {
    conn.prepare(
        "SELECT t.ts, t.hashrate_hs, t.reject_rate, t.provisional FROM tickers t \
         JOIN series s ON s.series_id = t.series_id \
         WHERE s.account_id = ?1 AND s.worker_id IS ?2 AND s.dimension = ?3 ORDER BY t.ts",
    )
    .unwrap()
    .query_map(rusqlite::params![PUID, worker_id, dimension], |r| {
        Ok(Stored {
            ts: r.get(0)?,
            hashrate_hs: r.get(1)?,
            reject_rate: r.get(2)?,
            provisional: r.get::<_, i64>(3)? == 1,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// A random period inside (or overlapping the edges of) the generated span: whole days, whole
/// hours, or arbitrary seconds.
pub fn random_period(rng: &mut Rng) -> (i64, i64) {
    let unit = [D, H, 1][rng.range(0, 3) as usize];
    let lo = START - 2 * D;
    let hi = END + 2 * D;
    let a = lo + rng.range(0, (hi - lo) / unit) * unit;
    let b = lo + rng.range(0, (hi - lo) / unit) * unit;
    if a == b {
        (a, a + unit)
    } else {
        (a.min(b), a.max(b))
    }
}

/// Checks the generator's own promise: the summary written along the way is current.
pub fn assert_summary_current(conn: &Connection) {
    let stale = poolhist::store::hourly_by_day_mismatches(conn).unwrap();
    assert!(stale.is_empty(), "hourly_by_day out of step: {stale:?}");
}
