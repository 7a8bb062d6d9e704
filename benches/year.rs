//! A year of a large farm: `cargo bench --bench year [-- --workers N --days D]` (issue 12).
//!
//! Builds a database of one CloverPool account with N workers (default 10,000, in groups of 50)
//! and D days (default 365) of hourly history through the real writer: a generator plays one
//! nightly `poolhist ingest` per day and feeds its pages to `Store` the way the ingest's single
//! writer does (`begin_run`, `upsert_directory`, pages in transactions of 64 through
//! `write_pages`, `finish_run`). Each night every series gets one page: the late window the
//! ingest re-fetches (4 hourly / 3 daily slots, unchanged), the slot that was live the night
//! before (now final, so its row is updated), the new day, and the new live slot (provisional).
//! Then it times every report as `target/release/poolhist` child processes (median of 3, peak
//! RSS of each child), sizes the file and its tables (`dbstat`), and writes a Markdown table to
//! `target/bench-year/results.md`.
//!
//! `--quick`: 500 workers x 31 days. `--keep`: reuse the database if it exists. `--reports-only`:
//! never build (the database must exist). `--vacuum`: also measure `VACUUM INTO` (what the
//! nightly write order costs in page fill). The only database kept in `target/bench-year` is the
//! one of the last run: building another deletes the others.
//!
//! The binary also runs as `year rusage-of FILE PROGRAM ARGS..`, a small wrapper that runs
//! PROGRAM and writes its own rusage to FILE: Linux folds the peak RSS of the address space a
//! process leaves at `exec` into `ru_maxrss`, so a report spawned straight from this driver
//! (which holds the generator) would report at least the driver's peak.

mod common;

use common::Rng;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use poolhist::model::{AccountRef, Dimension, Directory, Group, Point, Worker};
use poolhist::pools::PoolKind;
use poolhist::report::{self, Period, Selection};
use poolhist::store::{PageWrite, RunTotals, Store, WriteCounts};
use rusqlite::Connection;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// 2026-11-01T00:00:00Z: the history ends here (the last night's run is at 00:30 that day).
const END: i64 = 1_793_491_200;
/// The month the month-long reports cover.
const MONTH: &str = "2026-10";
const MONTH_FROM: i64 = 1_790_812_800; // 2026-10-01
/// Pages the ingest's writer groups into one transaction (store/writer.rs).
const PAGES_PER_TRANSACTION: usize = 64;
const WORKERS_PER_GROUP: usize = 50;
const PUID: &str = "1001";

#[derive(Debug, Parser)]
#[command(
    name = "cargo bench --bench year --",
    about = "A year of a large farm through the real writer, then every report"
)]
struct Args {
    /// Workers of the farm [default: 10000; --quick: 500]
    #[arg(long)]
    workers: Option<usize>,
    /// Days of history, ending 2026-11-01 [default: 365; --quick: 31]
    #[arg(long)]
    days: Option<i64>,
    /// 500 workers x 31 days
    #[arg(long)]
    quick: bool,
    /// Reuse the database of this size if it exists (build it otherwise)
    #[arg(long)]
    keep: bool,
    /// Only time the reports and size the file; the database must exist
    #[arg(long)]
    reports_only: bool,
    /// Runs of each report; the median is shown
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also measure `VACUUM INTO` a copy (size and time; the copy is deleted)
    #[arg(long)]
    vacuum: bool,
    /// Check hourly_by_day against the tickers after the build [default: on with --quick]
    #[arg(long)]
    check: bool,
    /// Directory of the database, logs and results.md [default: target/bench-year]
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("rusage-of") {
        return match rusage_of(&argv[2..]) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("rusage-of: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The farm: deterministic values, one nightly page per series.

/// One hour of a worker at the pool: no bucket at all, or a bucket (hashrate 0 when down).
type Hour = Option<(f64, f64)>;

/// Where one series stands between nights: what the next night's late window re-serves.
#[derive(Default)]
struct SeriesTail {
    /// The newest final points, oldest first (the late window re-served unchanged).
    late: VecDeque<Point>,
    late_slots: usize,
}

impl SeriesTail {
    fn new(late_slots: usize) -> SeriesTail {
        SeriesTail {
            late: VecDeque::new(),
            late_slots,
        }
    }

    /// The night's page: the late window, the final points, the live point; then remembers the
    /// newest final points for the next night.
    fn page(
        &mut self,
        series_id: i64,
        dimension: Dimension,
        finals: &[Point],
        live: Option<Point>,
        live_ts: i64,
        now: i64,
    ) -> PageWrite {
        let mut tickers: Vec<Point> = self.late.iter().copied().collect();
        tickers.extend_from_slice(finals);
        tickers.extend(live);
        for point in finals {
            self.late.push_back(*point);
            if self.late.len() > self.late_slots {
                self.late.pop_front();
            }
        }
        PageWrite {
            series_id,
            dimension,
            tickers,
            // The newest completed slot: the one before the live slot.
            covered_through: Some(live_ts - dimension.step_seconds()),
            finished_at: Some(now),
            stale_provisional_before: Some(live_ts),
            expired_gap: None,
        }
    }
}

struct WorkerSim {
    worker_id: i64,
    rng: Rng,
    base_hs: f64,
    base_reject: f64,
    /// Hours (from the first day) with data: [join, leave).
    join_hour: i64,
    leave_hour: i64,
    /// One long outage: hours [from, to).
    long_outage: (i64, i64),
    down_left: i64,
    /// The current short outage's hours have no bucket at all (the pool leaves them out).
    down_omitted: bool,
    /// The first hour of the next day, generated the night before (it was the live slot).
    ahead: Option<Hour>,
    hourly: SeriesTail,
    daily: SeriesTail,
}

impl WorkerSim {
    fn new(index: usize, hours: i64, seed: u64) -> WorkerSim {
        let mut rng = Rng(seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for _ in 0..4 {
            rng.next();
        }
        let base_hs = (80.0 + 40.0 * rng.unit()) * 1e12;
        let base_reject = 0.002 + 0.006 * rng.unit();
        // 1 in 17 joins during the first sixth of the period, 1 in 23 stops in the last sixth.
        let join_hour = if index % 17 == 5 {
            rng.below((hours / 6).max(1) as u64) as i64
        } else {
            0
        };
        let leave_hour = if index % 23 == 7 {
            hours - rng.below((hours / 6).max(1) as u64) as i64
        } else {
            i64::MAX
        };
        // 1 in 40 is down for 1..10 days once.
        let long_outage = if index % 40 == 11 {
            let length = (1 + rng.below(10) as i64) * 24 + rng.below(24) as i64;
            let from = rng.below(hours.max(1) as u64) as i64;
            (from, from + length)
        } else {
            (0, 0)
        };
        WorkerSim {
            worker_id: index as i64 + 1,
            rng,
            base_hs,
            base_reject,
            join_hour,
            leave_hour,
            long_outage,
            down_left: 0,
            down_omitted: false,
            ahead: None,
            hourly: SeriesTail::new(4),
            daily: SeriesTail::new(3),
        }
    }

    /// Hour `h`; called once per hour, in order.
    fn hour(&mut self, h: i64) -> Hour {
        if h < self.join_hour || h >= self.leave_hour {
            return None;
        }
        if h >= self.long_outage.0 && h < self.long_outage.1 {
            // A long outage: the pool keeps zero buckets for the first day, then nothing.
            return (h - self.long_outage.0 < 24).then_some((0.0, 0.0));
        }
        if self.down_left == 0 && self.rng.below(200) == 0 {
            self.down_left = 1 + self.rng.below(8) as i64;
            self.down_omitted = self.rng.below(2) == 0;
        }
        if self.down_left > 0 {
            self.down_left -= 1;
            return (!self.down_omitted).then_some((0.0, 0.0));
        }
        let hs = self.base_hs * (0.92 + 0.16 * self.rng.unit());
        let spike = if self.rng.below(500) == 0 { 8.0 } else { 1.0 };
        let reject = (self.base_reject * spike * (0.6 + 0.8 * self.rng.unit())).min(1.0);
        Some((hs, reject))
    }

    fn status(&self, night: i64) -> &'static str {
        if (night + 1) * 24 > self.leave_hour {
            "DEAD"
        } else {
            "ACTIVE"
        }
    }
}

/// The day's 24 hours plus the next day's first (the live slot at 00:30), and their sums.
struct NightHours {
    hours: [Hour; 25],
}

impl NightHours {
    fn finals(&self, day_ts: i64) -> Vec<Point> {
        (0..24)
            .filter_map(|i| {
                self.hours[i].map(|(hs, reject)| Point {
                    ts: day_ts + i as i64 * HOUR,
                    hashrate_hs: hs,
                    reject_rate: reject,
                    provisional: false,
                })
            })
            .collect()
    }

    /// The live hour as the pool shows it 30 minutes in: the bucket half full, so its final
    /// value differs and the next night updates the row.
    fn live(&self, ts: i64) -> Option<Point> {
        self.hours[24].map(|(hs, reject)| Point {
            ts,
            hashrate_hs: hs * 0.5,
            reject_rate: reject,
            provisional: true,
        })
    }

    /// The day's daily point: mean hashrate over 24 hours, hashrate-weighted reject rate.
    fn day_point(&self, day_ts: i64) -> Option<Point> {
        let present: Vec<(f64, f64)> = self.hours[..24].iter().flatten().copied().collect();
        if present.is_empty() {
            return None;
        }
        let hs: f64 = present.iter().map(|p| p.0).sum();
        let weighted: f64 = present.iter().map(|p| p.0 * p.1).sum();
        Some(Point {
            ts: day_ts,
            hashrate_hs: hs / 24.0,
            reject_rate: if hs > 0.0 { weighted / hs } else { 0.0 },
            provisional: false,
        })
    }

    fn live_day(&self, ts: i64) -> Option<Point> {
        self.hours[24].map(|(hs, reject)| Point {
            ts,
            hashrate_hs: hs / 48.0,
            reject_rate: reject,
            provisional: true,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The build.

#[derive(Default)]
struct BuildStats {
    nights: i64,
    pages: u64,
    transactions: u64,
    counts: WriteCounts,
    seconds: f64,
    generate_s: f64,
    write_s: f64,
    directory_s: f64,
    peak_rss_kib: i64,
    /// One line per stretch of nights: rows/s and RSS as the file grows.
    stretches: Vec<Stretch>,
}

struct Stretch {
    nights: (i64, i64),
    rows: u64,
    seconds: f64,
    write_s: f64,
    rss_mib: f64,
    file_mib: f64,
}

fn build(db: &Path, workers: usize, days: i64) -> Result<BuildStats> {
    let start = END - days * DAY;
    let hours = days * 24;
    let account: AccountRef = PoolKind::CloverPool
        .account(PUID)
        .map_err(anyhow::Error::msg)?;
    let facts = PoolKind::CloverPool.facts();
    let mut sims: Vec<WorkerSim> = (0..workers)
        .map(|i| WorkerSim::new(i, hours, 0x5eed_2026))
        .collect();
    let groups: Vec<Group> = (0..workers.div_ceil(WORKERS_PER_GROUP))
        .map(|g| Group {
            gid: g as i64 + 1,
            name: format!("rack-{:03}", g + 1),
        })
        .collect();
    let mut store = Store::open(db)?;
    let mut stats = BuildStats::default();
    let mut account_hourly = SeriesTail::new(4);
    let mut account_daily = SeriesTail::new(3);
    let mut series: Vec<(i64, i64)> = Vec::new(); // per worker: (hourly, daily) series ids
    let mut account_series = (0, 0);
    let started = Instant::now();
    let mut stretch_start = (0i64, Instant::now(), 0u64, 0.0f64);
    let stretch_nights = (days / 12).clamp(1, 31);
    let mut batch: Vec<PageWrite> = Vec::with_capacity(PAGES_PER_TRANSACTION);
    for night in 0..days {
        let day_ts = start + night * DAY;
        let live_ts = day_ts + DAY;
        let now = live_ts + 1_800;
        // The run's directory, as the pool lists it tonight.
        let t = Instant::now();
        let directory = Directory {
            groups: groups.clone(),
            workers: sims
                .iter()
                .enumerate()
                .map(|(i, s)| Worker {
                    worker_id: s.worker_id,
                    worker_name: format!("rack{:03}-rig{:05}", i / WORKERS_PER_GROUP + 1, i + 1),
                    gid: Some((i / WORKERS_PER_GROUP) as i64 + 1),
                    status: s.status(night).to_owned(),
                    last_share_time: (s.status(night) == "ACTIVE").then_some(now - 60),
                })
                .collect(),
            workers_capped: false,
        };
        let run_id = store.begin_run(std::slice::from_ref(&account), now)?;
        let (_, states) = store.upsert_directory(&account, &facts, &directory, now)?;
        if night == 0 {
            let find = |worker: Option<i64>, dimension| {
                states
                    .iter()
                    .find(|s| s.worker_id == worker && s.dimension == dimension)
                    .map(|s| s.series_id)
                    .context("a series the directory upsert did not return")
            };
            account_series = (find(None, Dimension::Hour)?, find(None, Dimension::Day)?);
            let mut by_worker = std::collections::HashMap::new();
            for s in &states {
                if let Some(w) = s.worker_id {
                    let entry = by_worker.entry(w).or_insert((0, 0));
                    match s.dimension {
                        Dimension::Hour => entry.0 = s.series_id,
                        Dimension::Day => entry.1 = s.series_id,
                    }
                }
            }
            series = sims
                .iter()
                .map(|s| by_worker.get(&s.worker_id).copied().unwrap_or((0, 0)))
                .collect();
        }
        stats.directory_s += t.elapsed().as_secs_f64();

        // Every worker's two pages, then the account's, 64 to a transaction.
        let mut account_sums = [(0.0f64, 0.0f64, false); 25];
        let mut night_counts = WriteCounts::default();
        let mut flush =
            |batch: &mut Vec<PageWrite>, store: &mut Store, stats: &mut BuildStats| -> Result<()> {
                if batch.is_empty() {
                    return Ok(());
                }
                let t = Instant::now();
                night_counts += store.write_pages(batch, run_id, now)?;
                stats.write_s += t.elapsed().as_secs_f64();
                stats.pages += batch.len() as u64;
                stats.transactions += 1;
                batch.clear();
                Ok(())
            };
        for (sim, &(hourly_id, daily_id)) in sims.iter_mut().zip(&series) {
            let t = Instant::now();
            let mut hours = [None; 25];
            hours[0] = match sim.ahead.take() {
                Some(first) => first,
                None => sim.hour(night * 24),
            };
            for (i, slot) in hours.iter_mut().enumerate().skip(1) {
                *slot = sim.hour(night * 24 + i as i64);
            }
            sim.ahead = Some(hours[24]);
            let night_hours = NightHours { hours };
            for (sum, hour) in account_sums.iter_mut().zip(&night_hours.hours) {
                if let Some((hs, reject)) = hour {
                    sum.0 += hs;
                    sum.1 += hs * reject;
                    sum.2 = true;
                }
            }
            let finals = night_hours.finals(day_ts);
            let hourly = sim.hourly.page(
                hourly_id,
                Dimension::Hour,
                &finals,
                night_hours.live(live_ts),
                live_ts,
                now,
            );
            let day: Vec<Point> = night_hours.day_point(day_ts).into_iter().collect();
            let daily = sim.daily.page(
                daily_id,
                Dimension::Day,
                &day,
                night_hours.live_day(live_ts),
                live_ts,
                now,
            );
            stats.generate_s += t.elapsed().as_secs_f64();
            for page in [hourly, daily] {
                batch.push(page);
                if batch.len() == PAGES_PER_TRANSACTION {
                    flush(&mut batch, &mut store, &mut stats)?;
                }
            }
        }
        let t = Instant::now();
        let account_hours = NightHours {
            hours: account_sums.map(|(hs, weighted, any)| {
                any.then(|| (hs, if hs > 0.0 { weighted / hs } else { 0.0 }))
            }),
        };
        let finals = account_hours.finals(day_ts);
        batch.push(account_hourly.page(
            account_series.0,
            Dimension::Hour,
            &finals,
            account_hours.live(live_ts),
            live_ts,
            now,
        ));
        let day: Vec<Point> = account_hours.day_point(day_ts).into_iter().collect();
        batch.push(account_daily.page(
            account_series.1,
            Dimension::Day,
            &day,
            account_hours.live_day(live_ts),
            live_ts,
            now,
        ));
        stats.generate_s += t.elapsed().as_secs_f64();
        flush(&mut batch, &mut store, &mut stats)?;

        let t = Instant::now();
        let totals = RunTotals {
            series_synced: (series.len() * 2 + 2) as u64,
            requests: (series.len() * 2 + 2) as u64,
            tickers_fetched: night_counts.rows_new + night_counts.rows_updated,
            tickers_rejected: 0,
            counts: night_counts,
        };
        store.finish_run(run_id, now + 300, &totals, None)?;
        stats.directory_s += t.elapsed().as_secs_f64();
        stats.counts += night_counts;
        stats.nights += 1;

        if (night + 1) % stretch_nights == 0 || night + 1 == days {
            let rows = stats.counts.rows_new - stretch_start.2;
            let seconds = stretch_start.1.elapsed().as_secs_f64();
            let stretch = Stretch {
                nights: (stretch_start.0 + 1, night + 1),
                rows,
                seconds,
                write_s: stats.write_s - stretch_start.3,
                rss_mib: current_rss_kib() as f64 / 1024.0,
                file_mib: file_mib(db),
            };
            eprintln!(
                "  nights {:>3}..{:<3}  {:>11} rows new  {:>7.1} s  {:>9.0} rows/s  writer {:>3.0} %  RSS {:>6.1} MiB  file {:>8.1} MiB",
                stretch.nights.0,
                stretch.nights.1,
                group_digits(stretch.rows),
                stretch.seconds,
                stretch.rows as f64 / stretch.seconds,
                100.0 * stretch.write_s / stretch.seconds,
                stretch.rss_mib,
                stretch.file_mib
            );
            stats.stretches.push(stretch);
            stretch_start = (
                night + 1,
                Instant::now(),
                stats.counts.rows_new,
                stats.write_s,
            );
        }
    }
    stats.seconds = started.elapsed().as_secs_f64();
    drop(store); // the last connection: checkpoints and removes the WAL
    stats.peak_rss_kib = self_peak_rss_kib();
    Ok(stats)
}

fn current_rss_kib() -> i64 {
    proc_status_kib("VmRSS:")
}

fn proc_status_kib(field: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The peak RSS of this process's own address space (`VmHWM`): `ru_maxrss` would also count
/// the address space `cargo bench` left at `exec`.
fn self_peak_rss_kib() -> i64 {
    proc_status_kib("VmHWM:")
}

fn file_mib(db: &Path) -> f64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    (size(db) + size(&wal)) as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------------------------------------
// Child processes with their own rusage.

#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    wall_ms: f64,
    max_rss_kib: i64,
    exit_code: i32,
}

fn wait_for(pid: i32) -> Result<Usage> {
    let child = common::wait4_child(pid)?;
    Ok(Usage {
        wall_ms: 0.0,
        max_rss_kib: child.max_rss_kib,
        exit_code: child.exit_code,
    })
}

/// `rusage-of FILE PROGRAM ARGS..`: runs PROGRAM, writes "max_rss_kib exit_code" to FILE.
fn rusage_of(args: &[String]) -> Result<u8> {
    let [file, program, rest @ ..] = args else {
        bail!("usage: rusage-of FILE PROGRAM [ARGS..]");
    };
    let child = Command::new(program)
        .args(rest)
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let usage = wait_for(child.id() as i32)?;
    std::fs::write(file, format!("{} {}", usage.max_rss_kib, usage.exit_code))?;
    Ok(u8::try_from(usage.exit_code).unwrap_or(1))
}

/// Runs `poolhist --db DB ARGS` through the wrapper, stdout and stderr to `<log>.out/.err`.
fn run_poolhist(db: &Path, args: &[String], log: &Path) -> Result<Usage> {
    let usage_file = log.with_extension("rusage");
    let _ = std::fs::remove_file(&usage_file);
    let started = Instant::now();
    let child = Command::new(std::env::current_exe()?)
        .arg("rusage-of")
        .arg(&usage_file)
        .arg(env!("CARGO_BIN_EXE_poolhist"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("POOLHIST_DB")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log.with_extension("out"))?)
        .stderr(std::fs::File::create(log.with_extension("err"))?)
        .spawn()
        .context("cannot start the rusage-of wrapper")?;
    let wrapper = wait_for(child.id() as i32)?;
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    let text = std::fs::read_to_string(&usage_file).unwrap_or_default();
    let fields: Vec<&str> = text.split_whitespace().collect();
    Ok(match fields.as_slice() {
        [rss, code] => Usage {
            wall_ms,
            max_rss_kib: rss.parse()?,
            exit_code: code.parse()?,
        },
        _ => Usage {
            wall_ms,
            max_rss_kib: 0,
            exit_code: wrapper.exit_code,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Reports.

struct Timed {
    name: String,
    period: String,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    peak_rss_mib: Option<f64>,
    goal: &'static str,
    note: String,
}

fn median_of(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn time_reports(db: &Path, dir: &Path, days: i64, runs: usize) -> Result<Vec<Timed>> {
    let from = date(END - days * DAY);
    let to = date(END);
    let year = format!("{from}..{to}");
    let monthly_dir = dir.join("monthly-report");
    let monthly_dir = monthly_dir.to_string_lossy().into_owned();
    let month_args = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|s| s.to_string())
            .chain(["--month".to_owned(), MONTH.to_owned()])
            .collect()
    };
    let year_args = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|s| s.to_string())
            .chain([
                "--from".to_owned(),
                from.clone(),
                "--to".to_owned(),
                to.clone(),
            ])
            .collect()
    };
    let plain = |args: &[&str]| -> Vec<String> { args.iter().map(|s| s.to_string()).collect() };
    let cases: Vec<(&str, String, Vec<String>, &'static str)> = vec![
        (
            "report uptime",
            MONTH.into(),
            month_args(&["report", "uptime"]),
            "",
        ),
        (
            "report uptime",
            year.clone(),
            year_args(&["report", "uptime"]),
            "< 2 s",
        ),
        (
            "report reject-rate --by worker",
            MONTH.into(),
            month_args(&["report", "reject-rate", "--by", "worker"]),
            "",
        ),
        (
            "report reject-rate --by worker",
            year.clone(),
            year_args(&["report", "reject-rate", "--by", "worker"]),
            "",
        ),
        (
            "report reject-rate --by day",
            MONTH.into(),
            month_args(&["report", "reject-rate", "--by", "day"]),
            "",
        ),
        (
            "report reject-rate --by day",
            year.clone(),
            year_args(&["report", "reject-rate", "--by", "day"]),
            "",
        ),
        (
            "report monthly --out DIR",
            MONTH.into(),
            [
                month_args(&["report", "monthly"]),
                plain(&["--out", &monthly_dir]),
            ]
            .concat(),
            "< 500 ms",
        ),
        ("gaps", "all history".into(), plain(&["gaps"]), ""),
        ("status", "".into(), plain(&["status"]), ""),
    ];
    let mut timed = Vec::new();
    for (i, (name, period, args, goal)) in cases.into_iter().enumerate() {
        eprintln!("  {name} {period}");
        let log = dir.join(format!("report-{i:02}.log"));
        let mut times = Vec::new();
        let mut peak = 0i64;
        let mut note = String::new();
        for _ in 0..runs.max(1) {
            let usage = run_poolhist(db, &args, &log)?;
            if usage.exit_code != 0 {
                let err = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
                note = format!(
                    "failed (exit {}): {}",
                    usage.exit_code,
                    err.lines().last().unwrap_or("")
                );
                break;
            }
            times.push(usage.wall_ms);
            peak = peak.max(usage.max_rss_kib);
        }
        if times.is_empty() {
            times.push(f64::NAN);
        } else {
            let lines = std::fs::read_to_string(log.with_extension("out"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            note = format!("{} lines of output", group_digits(lines as u64));
        }
        let (median_ms, min_ms, max_ms) = median_of(times);
        timed.push(Timed {
            name: format!("`poolhist {name}`"),
            period,
            median_ms,
            min_ms,
            max_ms,
            peak_rss_mib: Some(peak as f64 / 1024.0),
            goal,
            note,
        });
    }
    // No `report outages` subcommand: the outage list (queries/outages.sql, the monthly report's
    // table) timed in this process over the same connection setup the reports use.
    let conn = poolhist::store::open_read_only(db)?;
    report::tune_for_reports(&conn)?;
    let now = END + DAY;
    for (period, from) in [(MONTH.to_owned(), MONTH_FROM), (year, END - days * DAY)] {
        let p = Period::new(from, END, now)?;
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            rows = report::uptime::outages(&conn, &p, &Selection::default())?.len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (median_ms, min_ms, max_ms) = median_of(times);
        timed.push(Timed {
            name: "outage list (`report::uptime::outages`, in-process)".into(),
            period,
            median_ms,
            min_ms,
            max_ms,
            peak_rss_mib: None,
            goal: "",
            note: format!("{} outages", group_digits(rows as u64)),
        });
    }
    Ok(timed)
}

// ---------------------------------------------------------------------------------------------
// Sizes.

struct Sizes {
    file_bytes: u64,
    page_size: i64,
    page_count: i64,
    freelist: i64,
    hourly_rows: i64,
    hourly_worker_rows: i64,
    daily_rows: i64,
    provisional_rows: i64,
    count_s: f64,
    /// (name, pages, bytes, payload, unused, rows), largest first; empty without dbstat.
    tables: Vec<(String, i64, i64, i64, i64)>,
    dbstat_error: Option<String>,
    dbstat_s: f64,
}

fn sizes(db: &Path) -> Result<Sizes> {
    let conn = poolhist::store::open_read_only(db)?;
    report::tune_for_reports(&conn)?;
    let pragma = |name: &str| -> Result<i64> {
        Ok(conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?)
    };
    let t = Instant::now();
    let mut hourly_rows = 0;
    let mut hourly_worker_rows = 0;
    let mut daily_rows = 0;
    {
        let mut stmt = conn.prepare(
            "SELECT s.dimension, s.worker_id IS NOT NULL, \
               (SELECT COUNT(*) FROM tickers t WHERE t.series_id = s.series_id) \
             FROM series s",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let dimension: String = row.get(0)?;
            let is_worker: bool = row.get(1)?;
            let n: i64 = row.get(2)?;
            if dimension == "1h" {
                hourly_rows += n;
                if is_worker {
                    hourly_worker_rows += n;
                }
            } else {
                daily_rows += n;
            }
        }
    }
    let provisional_rows: i64 = conn.query_row(
        "SELECT COUNT(*) FROM series s CROSS JOIN tickers t \
         ON t.series_id = s.series_id AND t.ts >= IFNULL(s.watermark_ts, 0) \
         WHERE t.provisional = 1",
        [],
        |r| r.get(0),
    )?;
    let count_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut tables = Vec::new();
    let dbstat_error = match conn.prepare(
        "SELECT name, COUNT(*), SUM(pgsize), SUM(payload), SUM(unused) FROM dbstat \
         GROUP BY name ORDER BY SUM(pgsize) DESC",
    ) {
        Ok(mut stmt) => {
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                tables.push((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ));
            }
            None
        }
        Err(e) => Some(e.to_string()),
    };
    let dbstat_s = t.elapsed().as_secs_f64();
    Ok(Sizes {
        file_bytes: std::fs::metadata(db)?.len(),
        page_size: pragma("page_size")?,
        page_count: pragma("page_count")?,
        freelist: pragma("freelist_count")?,
        hourly_rows,
        hourly_worker_rows,
        daily_rows,
        provisional_rows,
        count_s,
        tables,
        dbstat_error,
        dbstat_s,
    })
}

fn row_count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| {
        r.get(0)
    })
    .unwrap_or(-1)
}

fn is_index(conn: &Connection, name: &str) -> bool {
    conn.query_row(
        "SELECT type = 'index' FROM sqlite_schema WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .unwrap_or(false)
}

/// `VACUUM INTO` a copy: its size (every page refilled) and the time it took.
fn vacuum_copy(db: &Path, dir: &Path) -> Result<(u64, f64)> {
    let copy = dir.join("vacuumed.db");
    let _ = std::fs::remove_file(&copy);
    let conn = poolhist::store::open_read_only(db)?;
    let t = Instant::now();
    conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])?;
    let seconds = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&copy)?.len();
    std::fs::remove_file(&copy)?;
    Ok((size, seconds))
}

// ---------------------------------------------------------------------------------------------
// The run and its table.

fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn run(args: Args) -> Result<()> {
    let workers = args
        .workers
        .unwrap_or(if args.quick { 500 } else { 10_000 });
    let days = args.days.unwrap_or(if args.quick { 31 } else { 365 });
    if workers == 0 || !(1..=3650).contains(&days) {
        bail!("--workers must be at least 1 and --days within 1..=3650");
    }
    let dir = args.dir.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap_or(Path::new("target"))
            .join("bench-year")
    });
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(format!("year-{workers}x{days}.db"));
    let exists = db.exists();
    if args.reports_only && !exists {
        bail!(
            "{} does not exist: run without --reports-only first",
            db.display()
        );
    }
    let reuse = exists && (args.keep || args.reports_only);
    let mut out = String::new();
    writeln!(
        out,
        "### {} workers x {days} days ({} .. {})\n",
        group_digits(workers as u64),
        date(END - days * DAY),
        date(END)
    )?;
    let build_stats = if reuse {
        eprintln!("reusing {}", db.display());
        None
    } else {
        // At most one big database: this run's replaces any other this bench left.
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with("year-") && name.contains(".db") {
                std::fs::remove_file(&path)?;
            }
        }
        eprintln!(
            "building {} ({workers} workers x {days} nights through Store::write_pages)",
            db.display()
        );
        Some(build(&db, workers, days)?)
    };
    if args.check || (args.quick && build_stats.is_some()) {
        let conn = poolhist::store::open_read_only(&db)?;
        let wrong = poolhist::store::hourly_by_day_mismatches(&conn)?;
        if !wrong.is_empty() {
            bail!(
                "hourly_by_day differs from the tickers on {} series-days",
                wrong.len()
            );
        }
        eprintln!("hourly_by_day matches the tickers");
    }
    eprintln!("sizing the file");
    let size = sizes(&db)?;
    let total_rows = size.hourly_rows + size.daily_rows;

    writeln!(out, "| build | |\n|---|---:|")?;
    match &build_stats {
        Some(b) => {
            let rows = b.counts.rows_new;
            writeln!(out, "| generator | one nightly ingest per day through `Store` (`begin_run`, `upsert_directory`, `write_pages` of {PAGES_PER_TRANSACTION} pages, `finish_run`) |")?;
            writeln!(
                out,
                "| nights / pages / transactions | {} / {} / {} |",
                b.nights,
                group_digits(b.pages),
                group_digits(b.transactions)
            )?;
            writeln!(
                out,
                "| rows inserted / updated / removed | {} / {} / {} |",
                group_digits(rows),
                group_digits(b.counts.rows_updated),
                group_digits(b.counts.rows_removed)
            )?;
            writeln!(
                out,
                "| build time | {:.1} s ({:.1} min) |",
                b.seconds,
                b.seconds / 60.0
            )?;
            writeln!(
                out,
                "| rows/s (inserted rows / build time) | {} |",
                group_digits((rows as f64 / b.seconds) as u64)
            )?;
            writeln!(
                out,
                "| `write_pages` | {:.1} s ({:.0} %), {} rows/s |",
                b.write_s,
                100.0 * b.write_s / b.seconds,
                group_digits((rows as f64 / b.write_s) as u64)
            )?;
            writeln!(
                out,
                "| `begin_run` + `upsert_directory` + `finish_run` | {:.1} s ({:.0} %), {:.0} ms a night |",
                b.directory_s,
                100.0 * b.directory_s / b.seconds,
                1e3 * b.directory_s / b.nights as f64
            )?;
            writeln!(
                out,
                "| generating the pages | {:.1} s ({:.0} %) |",
                b.generate_s,
                100.0 * b.generate_s / b.seconds
            )?;
            writeln!(
                out,
                "| peak RSS of the build (driver + SQLite) | {:.1} MiB |",
                b.peak_rss_kib as f64 / 1024.0
            )?;
        }
        None => writeln!(out, "| database | reused (`--keep` / `--reports-only`) |")?,
    }
    writeln!(out)?;
    if let Some(b) = &build_stats {
        writeln!(
            out,
            "| nights | rows new | seconds | rows/s | writer share | RSS | file |\n|---|---:|---:|---:|---:|---:|---:|"
        )?;
        for s in &b.stretches {
            writeln!(
                out,
                "| {}..{} | {} | {:.1} | {} | {:.0} % | {:.1} MiB | {:.0} MiB |",
                s.nights.0,
                s.nights.1,
                group_digits(s.rows),
                s.seconds,
                group_digits((s.rows as f64 / s.seconds) as u64),
                100.0 * s.write_s / s.seconds,
                s.rss_mib,
                s.file_mib
            )?;
        }
        writeln!(out)?;
    }

    let pages_bytes = size.page_count * size.page_size;
    writeln!(out, "| size | |\n|---|---:|")?;
    writeln!(
        out,
        "| file | {} ({} bytes) |",
        mib(size.file_bytes as f64),
        group_digits(size.file_bytes)
    )?;
    writeln!(
        out,
        "| page_count x page_size | {} x {} = {} (freelist {} pages) |",
        group_digits(size.page_count as u64),
        size.page_size,
        mib(pages_bytes as f64),
        size.freelist
    )?;
    writeln!(
        out,
        "| hourly rows (workers + account) / daily rows / provisional | {} ({}) / {} / {} |",
        group_digits(size.hourly_rows as u64),
        group_digits(size.hourly_worker_rows as u64),
        group_digits(size.daily_rows as u64),
        size.provisional_rows
    )?;
    writeln!(
        out,
        "| **file bytes per hourly point** | **{:.1} B** |",
        size.file_bytes as f64 / size.hourly_rows as f64
    )?;
    let conn = poolhist::store::open_read_only(&db)?;
    match &size.dbstat_error {
        None => {
            for (name, pages, bytes, payload, unused) in &size.tables {
                let rows = if name == "tickers" {
                    total_rows
                } else if name.starts_with("sqlite_") || is_index(&conn, name) {
                    -1
                } else {
                    row_count(&conn, name)
                };
                let per_row = if rows > 0 {
                    format!(", {:.1} B/row", *bytes as f64 / rows as f64)
                } else {
                    String::new()
                };
                let extra = if name == "tickers" {
                    format!(
                        "; **{:.1} B per hourly point** (all tickers' pages / hourly rows)",
                        *bytes as f64 / size.hourly_rows as f64
                    )
                } else {
                    String::new()
                };
                if rows < 0 && *bytes >= 64 * 1024 {
                    // An index (or SQLite's own table): pages only.
                    writeln!(
                        out,
                        "| `{name}` (index) | {} in {} pages, pages {:.0} % full |",
                        mib(*bytes as f64),
                        group_digits(*pages as u64),
                        100.0 * (1.0 - *unused as f64 / *bytes as f64),
                    )?;
                } else if *bytes >= 64 * 1024 || name == "tickers" {
                    writeln!(
                        out,
                        "| `{name}` | {} in {} pages, {} rows{per_row}, payload {:.1} B/row, pages {:.0} % full{extra} |",
                        mib(*bytes as f64),
                        group_digits(*pages as u64),
                        group_digits(rows.max(0) as u64),
                        *payload as f64 / rows.max(1) as f64,
                        100.0 * (1.0 - *unused as f64 / *bytes as f64),
                    )?;
                }
            }
            writeln!(
                out,
                "| (counting rows {:.1} s, dbstat {:.1} s) | |",
                size.count_s, size.dbstat_s
            )?;
        }
        Some(e) => writeln!(
            out,
            "| per table | dbstat not available ({e}): tickers ~ file size |"
        )?,
    }
    if args.vacuum {
        eprintln!("VACUUM INTO a copy");
        let (bytes, seconds) = vacuum_copy(&db, &dir)?;
        writeln!(
            out,
            "| after `VACUUM INTO` (pages refilled) | {} = {:.1} B per hourly point, {:.0} % of the file; took {:.1} s |",
            mib(bytes as f64),
            bytes as f64 / size.hourly_rows as f64,
            100.0 * bytes as f64 / size.file_bytes as f64,
            seconds
        )?;
    }
    drop(conn);
    writeln!(out)?;

    eprintln!("timing the reports ({} runs each)", args.runs);
    let timed = time_reports(&db, &dir, days, args.runs)?;
    writeln!(
        out,
        "| report | period | median | min..max | peak RSS | goal | |\n|---|---|---:|---:|---:|---|---|"
    )?;
    for t in &timed {
        let met = match t.goal {
            "< 2 s" => t.median_ms < 2000.0,
            "< 500 ms" => t.median_ms < 500.0,
            _ => true,
        };
        let goal = if t.goal.is_empty() {
            String::new()
        } else {
            format!("{} {}", t.goal, if met { "met" } else { "**missed**" })
        };
        writeln!(
            out,
            "| {} | {} | {:.0} ms | {:.0}..{:.0} | {} | {goal} | {} |",
            t.name,
            t.period,
            t.median_ms,
            t.min_ms,
            t.max_ms,
            t.peak_rss_mib
                .map(|m| format!("{m:.1} MiB"))
                .unwrap_or_else(|| "(in-process)".into()),
            t.note
        )?;
    }
    writeln!(
        out,
        "\nReports: `{}` as child processes (median of {}, wall time from spawn to exit, peak RSS from the child's own `ru_maxrss`), system clock {}.",
        env!("CARGO_BIN_EXE_poolhist"),
        args.runs,
        chrono::Utc::now().format("%Y-%m-%d")
    )?;
    eprintln!("timing the Parquet export");
    time_export(&db, &dir, &mut out)?;
    println!("{out}");
    let results = dir.join("results.md");
    std::fs::write(&results, &out)?;
    eprintln!("wrote {}", results.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Parquet export.

/// `poolhist export parquet` of the whole database into a fresh directory, again with nothing
/// changed, and after the two newest months are stamped as changed: what a nightly export in
/// the first days of a month rewrites (the late window still reaches the month before), the
/// most a nightly export rewrites.
fn time_export(db: &Path, dir: &Path, out: &mut String) -> Result<()> {
    let target = dir.join("parquet");
    let _ = std::fs::remove_dir_all(&target);
    let args = vec![
        "export".to_owned(),
        "parquet".to_owned(),
        "--out".to_owned(),
        target.to_string_lossy().into_owned(),
    ];
    let full = run_poolhist(db, &args, &dir.join("export-full"))?;
    let unchanged = run_poolhist(db, &args, &dir.join("export-unchanged"))?;
    let conn = Connection::open(db)?;
    conn.execute_batch(
        "UPDATE data_changes SET seq = seq + 1;
         UPDATE partition_changes SET changed_seq = (SELECT seq FROM data_changes)
         WHERE month_ts IN (SELECT DISTINCT month_ts FROM partition_changes
                            ORDER BY month_ts DESC LIMIT 2);",
    )?;
    let (hourly_rows, rows): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM tickers t JOIN series s USING (series_id) \
                 WHERE s.dimension = '1h'), (SELECT count(*) FROM tickers)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    drop(conn);
    let nightly = run_poolhist(db, &args, &dir.join("export-nightly"))?;
    for (usage, name) in [
        (&full, "full"),
        (&unchanged, "unchanged"),
        (&nightly, "nightly"),
    ] {
        anyhow::ensure!(
            usage.exit_code == 0,
            "export ({name}) failed: see {}",
            dir.join(format!("export-{name}.err")).display()
        );
    }
    let mut bytes = 0u64;
    let mut files = 0u64;
    let mut pending = vec![target.clone()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else if entry.path().extension().is_some_and(|e| e == "parquet") {
                bytes += entry.metadata()?.len();
                files += 1;
            }
        }
    }
    let summary = |name: &str| {
        std::fs::read_to_string(dir.join(format!("export-{name}.out")))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    writeln!(
        out,
        "\n| `export parquet` (zstd) | wall | peak RSS | |\n|---|---:|---:|---|"
    )?;
    writeln!(
        out,
        "| everything, into an empty directory | {:.1} s ({:.2} M rows/s) | {:.1} MiB | {} files, {} = {:.1} B per point (SQLite: see above) |",
        full.wall_ms / 1e3,
        rows as f64 / full.wall_ms / 1e3,
        full.max_rss_kib as f64 / 1024.0,
        files,
        mib(bytes as f64),
        bytes as f64 / rows.max(1) as f64,
    )?;
    writeln!(
        out,
        "| again, nothing changed | {:.2} s | {:.1} MiB | {} |",
        unchanged.wall_ms / 1e3,
        unchanged.max_rss_kib as f64 / 1024.0,
        summary("unchanged")
    )?;
    writeln!(
        out,
        "| the two newest months changed (the largest nightly export) | {:.1} s | {:.1} MiB | {} |",
        nightly.wall_ms / 1e3,
        nightly.max_rss_kib as f64 / 1024.0,
        summary("nightly")
    )?;
    writeln!(
        out,
        "| rows | {} tickers, {} of them hourly | | |",
        group_digits(rows as u64),
        group_digits(hourly_rows as u64)
    )?;
    Ok(())
}
