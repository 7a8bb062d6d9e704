//! The ingest benchmark of issue 5: `cargo bench --bench ingest [-- --quick]`.
//!
//! One run prints, side by side: the SQLite insert limit for the rows an ingest stores, the
//! ingest's own write path fed the same rows in-process, fetching and parsing without SQLite,
//! the end-to-end ingest (`poolhist simulate` and `poolhist ingest` as separate processes), the
//! Python baseline against the same simulator, an incremental run, the reports, and the ingest
//! at several farm sizes. Options: `cargo bench --bench ingest -- --help`.
//!
//! The binary also runs as `ingest sim-host <poolhist simulate flags>`: the simulator in a
//! separate process whose clock the driver moves over stdin (`now TS`), so that the incremental
//! run sees the same world one hour later. Restarting `poolhist simulate --now T+1h` cannot do
//! that: the world is anchored at the hour the simulator starts in (`simulate::Simulator::new`).
//!
//! And as `ingest rusage-of FILE PROGRAM ARGS..`: runs PROGRAM and writes its rusage to FILE.
//! Peak RSS must be read this way: Linux folds the high-water RSS of the address space a process
//! leaves at `exec` into its `ru_maxrss`, so a child spawned straight from this (large) driver
//! would report at least the driver's own peak. The small wrapper is what the child leaves.

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use poolhist::http::{AccessKey, ClientConfig, ClientCounters};
use poolhist::ingest::plan::PoolRetention;
use poolhist::ingest::series::{fetch_series, FetchShared, SeriesJob};
use poolhist::model::Dimension;
use poolhist::model::{Group, Point, Worker};
use poolhist::pools::cloverpool::sim::{SimulateArgs, Simulator};
use poolhist::pools::{cloverpool, PoolAccount};
use poolhist::store::{PageWrite, SeriesState, Store};
use rusqlite::{params, Connection, OpenFlags};

const POOLHIST: &str = env!("CARGO_BIN_EXE_poolhist");

/// The poolhist binary timed: env POOLHIST_BENCH_BIN (e.g. a build from before a change), else
/// the one cargo built for this bench (target/release/poolhist).
fn poolhist_bin() -> PathBuf {
    std::env::var_os("POOLHIST_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(POOLHIST))
}
const BASELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/baseline_collector.py");
const ACCESS_KEY: &str = "r_demo_observer_key";
const PUID: i64 = 1001;
/// 2025-11-25 12:30 UTC: half an hour into the slot, so the live point is served.
const DEFAULT_NOW: i64 = 1_764_073_800;
/// Pages the ingest's writer groups into one transaction when they queue up (ingest/mod.rs).
const PAGES_PER_TRANSACTION: usize = 64;

#[derive(Debug, Parser)]
#[command(
    name = "cargo bench --bench ingest --",
    about = "Ingest benchmark: SQLite limit, end-to-end ingest, incremental run, reports, scaling, Python baseline"
)]
struct Args {
    /// Small sizes for a fast check (main run 100 workers, scaling 50,100,200, one repetition)
    #[arg(long)]
    quick: bool,
    /// Workers of the main run [default: 1000; --quick: 100]
    #[arg(long, env = "POOLHIST_BENCH_WORKERS")]
    workers: Option<u32>,
    /// Farm sizes of the scaling table [default: 250,1000,4000; --quick: 50,100,200]
    #[arg(long, env = "POOLHIST_BENCH_SCALE", value_delimiter = ',')]
    scale: Option<Vec<u32>>,
    /// Workers for the Python baseline; 0 skips it [default: the main run's]
    #[arg(long, env = "POOLHIST_BENCH_PYTHON_WORKERS")]
    python_workers: Option<u32>,
    /// Stop the Python baseline after this many seconds
    #[arg(long, default_value_t = 900)]
    python_timeout: u64,
    /// Python interpreter
    #[arg(long, default_value = "python3", env = "POOLHIST_BENCH_PYTHON")]
    python: String,
    /// Runs of each timed ingest and insert; the median is reported [default: 3; --quick: 1]
    #[arg(long, env = "POOLHIST_BENCH_REPEAT")]
    repeat: Option<u32>,
    /// Requests in flight (`poolhist ingest --concurrency`)
    #[arg(long, default_value_t = 8)]
    concurrency: u16,
    /// The clock of the simulator and the ingest (Unix seconds)
    #[arg(long, default_value_t = DEFAULT_NOW)]
    now: i64,
    /// Seed of the simulated farm
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker hourly history kept by the pool, hours
    #[arg(long, default_value_t = 720)]
    worker_hours: u32,
    /// Worker daily history kept by the pool, days
    #[arg(long, default_value_t = 90)]
    worker_days: u32,
    /// Account hourly history kept by the pool, hours
    #[arg(long, default_value_t = 720)]
    account_hours: u32,
    /// Account daily history kept by the pool, days
    #[arg(long, default_value_t = 365)]
    account_days: u32,
    /// Largest share-history `count` the simulator serves (also the limit's rows per transaction)
    #[arg(long, default_value_t = 240)]
    max_count: u32,
    /// Largest list page the simulator serves
    #[arg(long, default_value_t = 50)]
    max_page_size: u32,
    /// Month the reports cover, YYYY-MM [default: the month of --now]
    #[arg(long)]
    report_month: Option<String>,
    /// Directory for the databases, logs and results.txt [default: target/bench-ingest]
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The resolved parameters of a run.
struct Bench {
    args: Args,
    workers: u32,
    scale: Vec<u32>,
    python_workers: u32,
    repeat: u32,
    dir: PathBuf,
    report_month: String,
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
    if argv.get(1).map(String::as_str) == Some("sim-host") {
        return match sim_host(&argv[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sim-host: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let bench = match Bench::from_args(Args::parse()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match run(&bench) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Bench {
    fn from_args(args: Args) -> Result<Bench> {
        let workers = args.workers.unwrap_or(if args.quick { 100 } else { 1_000 });
        let scale = args.scale.clone().unwrap_or_else(|| {
            if args.quick {
                vec![50, 100, 200]
            } else {
                vec![250, 1_000, 4_000]
            }
        });
        let python_workers = args.python_workers.unwrap_or(workers);
        let repeat = args.repeat.unwrap_or(if args.quick { 1 } else { 3 }).max(1);
        let dir = args
            .dir
            .clone()
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-ingest"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let report_month = match &args.report_month {
            Some(m) => m.clone(),
            None => chrono::DateTime::from_timestamp(args.now, 0)
                .ok_or_else(|| anyhow!("--now {} is not a time", args.now))?
                .format("%Y-%m")
                .to_string(),
        };
        Ok(Bench {
            args,
            workers,
            scale,
            python_workers,
            repeat,
            dir,
            report_month,
        })
    }

    fn retention(&self) -> PoolRetention {
        PoolRetention {
            worker_hours: self.args.worker_hours,
            account_hours: self.args.account_hours,
            worker_days: self.args.worker_days,
            account_days: self.args.account_days,
        }
    }

    /// `poolhist simulate` flags (also understood by `sim-host`).
    fn simulate_flags(&self, workers: u32, now: i64) -> Vec<String> {
        let a = &self.args;
        [
            ("--listen", "127.0.0.1:0".to_owned()),
            ("--now", now.to_string()),
            ("--workers", workers.to_string()),
            ("--seed", a.seed.to_string()),
            ("--puid", PUID.to_string()),
            ("--worker-hours", a.worker_hours.to_string()),
            ("--worker-days", a.worker_days.to_string()),
            ("--account-hours", a.account_hours.to_string()),
            ("--account-days", a.account_days.to_string()),
            ("--max-count", a.max_count.to_string()),
            ("--max-page-size", a.max_page_size.to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect()
    }

    fn simulator(&self, workers: u32, now: i64) -> Result<SimProcess> {
        let mut cmd = Command::new(poolhist_bin());
        cmd.arg("simulate").args(self.simulate_flags(workers, now));
        SimProcess::start(cmd, "poolhist simulate")
    }

    /// The simulator anchored at `--now`, whose clock `SimProcess::set_now` moves.
    fn sim_host(&self, workers: u32) -> Result<SimProcess> {
        let exe = std::env::current_exe().context("cannot find the bench binary")?;
        let mut cmd = Command::new(exe);
        cmd.arg("sim-host")
            .args(self.simulate_flags(workers, self.args.now));
        SimProcess::start(cmd, "sim-host")
    }

    fn ingest_command(&self, url: &str, db: &Path, now: i64) -> Command {
        let a = &self.args;
        let mut cmd = Command::new(poolhist_bin());
        cmd.arg("--db")
            .arg(db)
            .arg("ingest")
            .args(["--api-url", url])
            .args(["--puid", &PUID.to_string()])
            .args(["--rate", "0"])
            .args(["--concurrency", &a.concurrency.to_string()])
            .args(["--pool-worker-hours", &a.worker_hours.to_string()])
            .args(["--pool-worker-days", &a.worker_days.to_string()])
            .args(["--pool-account-hours", &a.account_hours.to_string()])
            .args(["--pool-account-days", &a.account_days.to_string()])
            .args(["--now", &now.to_string()])
            .arg("--quiet")
            .env("POOLHIST_ACCESS_KEY", ACCESS_KEY);
        for name in [
            "POOLHIST_ACCESS_KEY_FILE",
            "POOLHIST_DB",
            "POOLHIST_API_URL",
            "POOLHIST_PUID",
            "POOLHIST_LOG",
        ] {
            cmd.env_remove(name);
        }
        cmd
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn sim_env(cmd: &mut Command) {
    cmd.env("POOLHIST_SIM_ACCESS_KEY", ACCESS_KEY)
        .env("POOLHIST_LOG", "warn");
}

// ---------------------------------------------------------------------------------------------
// Processes: the simulator, timed children with their own rusage.

/// A simulator in its own process.
struct SimProcess {
    child: Child,
    pid: i32,
    url: String,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    reaped: bool,
}

impl SimProcess {
    fn start(mut cmd: Command, what: &str) -> Result<SimProcess> {
        sim_env(&mut cmd);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        let pid = child.id() as i32;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("{what}: no stdout"))?;
        let mut sim = SimProcess {
            child,
            pid,
            url: String::new(),
            stdin,
            stdout: BufReader::new(stdout),
            reaped: false,
        };
        let mut line = String::new();
        sim.stdout.read_line(&mut line)?;
        sim.url = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| anyhow!("{what} said {line:?} instead of its address"))?
            .to_owned();
        Ok(sim)
    }

    /// CPU seconds (user + system) the simulator has used so far.
    fn cpu_seconds(&self) -> f64 {
        proc_cpu_seconds(self.pid).unwrap_or(f64::NAN)
    }

    /// Moves the clock of a `sim-host`.
    fn set_now(&mut self, ts: i64) -> Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| anyhow!("no stdin"))?;
        writeln!(stdin, "now {ts}")?;
        stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        if line.trim() != "ok" {
            bail!("sim-host answered {line:?} to `now {ts}`");
        }
        Ok(())
    }

    /// Stops the simulator; returns its whole-life resource usage.
    fn stop(mut self) -> Result<Usage> {
        self.stdin.take();
        // SAFETY: signalling and reaping our own child, which has not been reaped yet.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        self.reaped = true;
        let (usage, _) = wait_for(self.pid)?;
        Ok(usage)
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn proc_cpu_seconds(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_second)
}

/// What a child process used, from `wait4` (its own rusage, not the sum over all children).
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    wall_s: f64,
    cpu_user_s: f64,
    cpu_sys_s: f64,
    max_rss_kib: i64,
    exit_code: i32,
}

fn wait_for(pid: i32) -> Result<(Usage, i32)> {
    let child = common::wait4_child(pid)?;
    let usage = Usage {
        wall_s: 0.0,
        cpu_user_s: child.cpu_user_s,
        cpu_sys_s: child.cpu_sys_s,
        max_rss_kib: child.max_rss_kib,
        exit_code: child.exit_code,
    };
    Ok((usage, child.status))
}

/// Runs a child to completion with stdout and stderr in `<log>.out` / `<log>.err`, through the
/// `rusage-of` wrapper (see the module comment); its own process group, killed on timeout.
fn run_child(cmd: &Command, log: &Path, timeout: Option<Duration>) -> Result<Usage> {
    use std::os::unix::process::CommandExt as _;

    let usage_file = log.with_extension("rusage");
    let _ = std::fs::remove_file(&usage_file);
    let mut wrapper =
        Command::new(std::env::current_exe().context("cannot find the bench binary")?);
    wrapper
        .arg("rusage-of")
        .arg(&usage_file)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapper.env(name, value),
            None => wrapper.env_remove(name),
        };
    }
    let out = File::create(log.with_extension("out"))?;
    let err = File::create(log.with_extension("err"))?;
    wrapper
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let started = Instant::now();
    let child = wrapper
        .spawn()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    let pid = child.id() as i32;
    let done = Arc::new(AtomicBool::new(false));
    if let Some(limit) = timeout {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            if !done.load(Ordering::SeqCst) {
                // SAFETY: the group is ours and is not reaped until `done` is set.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
        });
    }
    let waited = wait_for(pid);
    done.store(true, Ordering::SeqCst);
    let (wrapper_usage, _) = waited?;
    let wall_s = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&usage_file).unwrap_or_default();
    let fields: Vec<&str> = text.split_whitespace().collect();
    let mut usage = match fields.as_slice() {
        [rss, user, sys, code] => Usage {
            wall_s,
            max_rss_kib: rss.parse()?,
            cpu_user_s: user.parse()?,
            cpu_sys_s: sys.parse()?,
            exit_code: code.parse()?,
        },
        // Killed before the wrapper wrote its file.
        _ => Usage {
            exit_code: wrapper_usage.exit_code,
            ..Usage::default()
        },
    };
    usage.wall_s = wall_s;
    Ok(usage)
}

/// `rusage-of FILE PROGRAM ARGS..`: runs PROGRAM, writes "max_rss_kib user_s sys_s exit_code".
fn rusage_of(args: &[String]) -> Result<u8> {
    let [file, program, rest @ ..] = args else {
        bail!("usage: rusage-of FILE PROGRAM [ARGS..]");
    };
    let child = Command::new(program)
        .args(rest)
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let (usage, _) = wait_for(child.id() as i32)?;
    std::fs::write(
        file,
        format!(
            "{} {} {} {}",
            usage.max_rss_kib, usage.cpu_user_s, usage.cpu_sys_s, usage.exit_code
        ),
    )?;
    Ok(u8::try_from(usage.exit_code).unwrap_or(1))
}

fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The sim host: `poolhist simulate` with a clock moved over stdin.

#[derive(Parser)]
struct SimHostArgs {
    #[command(flatten)]
    sim: SimulateArgs,
}

fn sim_host(args: &[String]) -> Result<()> {
    let host = SimHostArgs::try_parse_from(
        std::iter::once("sim-host".to_owned()).chain(args.iter().cloned()),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&host.sim.listen).await?;
        let addr = listener.local_addr()?;
        let sim = Arc::new(Simulator::new(host.sim.config()));
        {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "listening on http://{addr}/v1")?;
            stdout.flush()?;
        }
        let clock = Arc::clone(&sim);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let answer = match line.trim().strip_prefix("now ").map(str::parse::<i64>) {
                    Some(Ok(ts)) => {
                        clock.set_now(ts);
                        "ok".to_owned()
                    }
                    _ => format!("unknown command {line:?}"),
                };
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{answer}");
                let _ = stdout.flush();
            }
            // The driver closed stdin: it is done with us.
            std::process::exit(0);
        });
        poolhist::pools::cloverpool::sim::serve(sim, listener).await?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Measurements.

/// One `poolhist ingest` child.
#[derive(Debug, Clone, Default)]
struct IngestRun {
    usage: Usage,
    sim_cpu_s: f64,
    requests: i64,
    rows_new: i64,
    rows_updated: i64,
    rows_in_db: i64,
}

impl IngestRun {
    fn tickers_per_s(&self) -> f64 {
        self.rows_in_db as f64 / self.usage.wall_s
    }
}

fn ingest_once(
    bench: &Bench,
    sim: &SimProcess,
    db: &Path,
    now: i64,
    log: &Path,
) -> Result<IngestRun> {
    let sim_before = sim.cpu_seconds();
    let usage = run_child(&bench.ingest_command(&sim.url, db, now), log, None)?;
    let sim_cpu_s = sim.cpu_seconds() - sim_before;
    if usage.exit_code != 0 {
        bail!(
            "poolhist ingest exited with {}: {}",
            usage.exit_code,
            last_line(&log.with_extension("err"))
        );
    }
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let (requests, rows_new, rows_updated): (i64, i64, i64) = conn.query_row(
        "SELECT requests, rows_new, rows_updated FROM ingest_runs ORDER BY run_id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let rows_in_db = conn.query_row("SELECT count(*) FROM tickers", [], |r| r.get(0))?;
    Ok(IngestRun {
        usage,
        sim_cpu_s,
        requests,
        rows_new,
        rows_updated,
        rows_in_db,
    })
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// `repeat` full ingests into fresh databases (the last one stays); the median by wall time.
fn ingest_full(bench: &Bench, sim: &SimProcess, workers: u32) -> Result<(IngestRun, Vec<f64>)> {
    let db = bench.path(&format!("ingest-{workers}.db"));
    let mut runs = Vec::new();
    for rep in 1..=bench.repeat {
        remove_db(&db);
        progress(&format!(
            "ingest {workers} workers, run {rep}/{}",
            bench.repeat
        ));
        let log = bench.path(&format!("ingest-{workers}-{rep}.log"));
        runs.push(ingest_once(bench, sim, &db, bench.args.now, &log)?);
    }
    let walls: Vec<f64> = runs.iter().map(|r| r.usage.wall_s).collect();
    runs.sort_by(|a, b| a.usage.wall_s.total_cmp(&b.usage.wall_s));
    Ok((runs[runs.len() / 2].clone(), walls))
}

/// The fewest requests a backfill can make: the directory lists, then every series from the
/// pool's horizon to now in pages of `max_count` slots.
fn minimum_requests(bench: &Bench, workers: u32, groups: i64, incremental: bool) -> i64 {
    let a = &bench.args;
    let per_page = i64::from(a.max_count.min(cloverpool::FACTS.max_hours_per_request));
    let pages = |slots: i64| (slots + per_page - 1) / per_page;
    // An incremental run asks each series for the late window up to now: one page.
    let series = |retention: u32| {
        if incremental {
            1
        } else {
            pages(i64::from(retention))
        }
    };
    let directory = 1 // stats
        + pages_of(groups, a.max_page_size)
        + pages_of(i64::from(workers), a.max_page_size);
    let account = series(a.account_hours) + series(a.account_days);
    let worker = series(a.worker_hours) + series(a.worker_days);
    directory + account + i64::from(workers) * worker
}

fn pages_of(items: i64, page_size: u32) -> i64 {
    let size = i64::from(page_size.max(1));
    ((items + size - 1) / size).max(1)
}

fn group_count(db: &Path) -> Result<i64> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row("SELECT count(*) FROM groups", [], |r| r.get(0))?)
}

/// One stored row, as the limit inserts it.
#[derive(Debug, Clone, Copy)]
struct Row {
    series_id: i64,
    ticker: Point,
}

fn load_rows(db: &Path) -> Result<Vec<Row>> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT series_id, ts, hashrate_hs, reject_rate, provisional FROM tickers ORDER BY series_id, ts",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                series_id: r.get(0)?,
                ticker: Point {
                    ts: r.get(1)?,
                    hashrate_hs: r.get(2)?,
                    reject_rate: r.get(3)?,
                    provisional: r.get(4)?,
                },
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Each series' rows in pages of `page_rows`, as the pool serves them.
fn pages(rows: &[Row], page_rows: usize) -> Vec<&[Row]> {
    rows.chunk_by(|a, b| a.series_id == b.series_id)
        .flat_map(|series| series.chunks(page_rows.max(1)))
        .collect()
}

/// A fresh database (`store::open`: our schema and pragmas) with the source's directory.
fn fresh_copy_of_directory(source: &Path, target: &Path) -> Result<Connection> {
    remove_db(target);
    let conn = poolhist::store::open(target)?;
    copy_directory(&conn, source)?;
    Ok(conn)
}

fn copy_directory(conn: &Connection, source: &Path) -> Result<()> {
    conn.execute("ATTACH DATABASE ?1 AS src", [source.to_string_lossy()])?;
    conn.execute_batch(
        "INSERT INTO accounts SELECT * FROM src.accounts;
         INSERT INTO groups SELECT * FROM src.groups;
         INSERT INTO workers SELECT * FROM src.workers;
         INSERT INTO series (series_id, account_id, worker_id, dimension)
             SELECT series_id, account_id, worker_id, dimension FROM src.series;
         DETACH DATABASE src;",
    )?;
    Ok(())
}

/// How the raw insert runs: the issue's limit is one page per transaction, foreign keys on
/// (as `store::open` sets them), one single-row INSERT per row.
#[derive(Debug, Clone, Copy)]
struct LimitVariant {
    pages_per_tx: usize,
    foreign_keys: bool,
    /// One `INSERT .. VALUES (..), (..), ..` per page instead of one statement per row.
    multi_row: bool,
}

impl LimitVariant {
    const ISSUE: LimitVariant = LimitVariant {
        pages_per_tx: 1,
        foreign_keys: true,
        multi_row: false,
    };
}

const INSERT_TICKER: &str =
    "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional) VALUES ";

/// The limit: a prepared INSERT into a fresh `store::open` database, pages grouped into
/// transactions as the variant says.
fn sqlite_limit(bench: &Bench, source: &Path, rows: &[Row], variant: LimitVariant) -> Result<f64> {
    let target = bench.path("limit.db");
    let mut conn = fresh_copy_of_directory(source, &target)?;
    conn.pragma_update(None, "foreign_keys", variant.foreign_keys)?;
    let all_pages = pages(rows, bench.args.max_count as usize);
    let started = Instant::now();
    for batch in all_pages.chunks(variant.pages_per_tx.max(1)) {
        let tx = conn.transaction()?;
        if variant.multi_row {
            for page in batch {
                let values = vec!["(?, ?, ?, ?, ?)"; page.len()].join(", ");
                let mut insert = tx.prepare_cached(&format!("{INSERT_TICKER}{values}"))?;
                for (i, row) in page.iter().enumerate() {
                    let t = &row.ticker;
                    insert.raw_bind_parameter(5 * i + 1, row.series_id)?;
                    insert.raw_bind_parameter(5 * i + 2, t.ts)?;
                    insert.raw_bind_parameter(5 * i + 3, t.hashrate_hs)?;
                    insert.raw_bind_parameter(5 * i + 4, t.reject_rate)?;
                    insert.raw_bind_parameter(5 * i + 5, t.provisional)?;
                }
                insert.raw_execute()?;
            }
        } else {
            let mut insert = tx.prepare_cached(&format!("{INSERT_TICKER}(?1, ?2, ?3, ?4, ?5)"))?;
            for row in batch.iter().copied().flatten() {
                let t = &row.ticker;
                insert.execute(params![
                    row.series_id,
                    t.ts,
                    t.hashrate_hs,
                    t.reject_rate,
                    t.provisional
                ])?;
            }
        }
        tx.commit()?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The ingest's own write path (`Store::write_pages`: insert-or-skip, guarded update,
/// watermark), fed the same pages in-process, `pages_per_tx` pages per transaction.
fn store_path(bench: &Bench, source: &Path, rows: &[Row], pages_per_tx: usize) -> Result<f64> {
    let target = bench.path(&format!("store-{pages_per_tx}.db"));
    drop(fresh_copy_of_directory(source, &target)?);
    let mut store = Store::open(&target)?;
    let now = bench.args.now;
    let run_id = store.begin_run(&[cloverpool::account(PUID)], now)?;
    let all_pages = pages(rows, bench.args.max_count as usize);
    let dimensions: HashMap<i64, Dimension> = store
        .connection()
        .prepare("SELECT series_id, dimension FROM series")?
        .query_map([], |r| {
            let dimension: String = r.get(1)?;
            Ok((
                r.get(0)?,
                Dimension::parse(&dimension).unwrap_or(Dimension::Hour),
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut writes = Vec::with_capacity(all_pages.len());
    for (i, page) in all_pages.iter().enumerate() {
        let last_of_series = all_pages
            .get(i + 1)
            .is_none_or(|next| next[0].series_id != page[0].series_id);
        let live = page
            .iter()
            .rev()
            .find(|r| r.ticker.provisional)
            .map(|r| r.ticker.ts);
        writes.push(PageWrite {
            series_id: page[0].series_id,
            dimension: dimensions[&page[0].series_id],
            tickers: page.iter().map(|r| r.ticker).collect(),
            covered_through: page.last().map(|r| r.ticker.ts),
            finished_at: last_of_series.then_some(now),
            stale_provisional_before: last_of_series.then(|| live.unwrap_or(i64::MAX)),
            expired_gap: None,
        });
    }
    let started = Instant::now();
    for batch in writes.chunks(pages_per_tx.max(1)) {
        store.write_pages(batch, run_id, now)?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Fetch and parse only: the ingest's own `fetch_series` over every series, pages dropped.
fn fetch_only(
    bench: &Bench,
    runtime: &tokio::runtime::Runtime,
    sim: &SimProcess,
    db: &Path,
) -> Result<(f64, u64, u64, f64)> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT series_id, account_id, worker_id, dimension FROM series ORDER BY worker_id IS NOT NULL, series_id",
    )?;
    let retention = bench.retention();
    let now = bench.args.now;
    let key = AccessKey::new(ACCESS_KEY.to_owned()).map_err(|e| anyhow!("{e}"))?;
    let counters = Arc::new(ClientCounters::default());
    let pool = Arc::new(
        PoolAccount::connect(
            &cloverpool::account(PUID),
            ClientConfig::new(&sim.url, key, cloverpool::PROTOCOL),
            Arc::clone(&counters),
        )
        .map_err(|e| anyhow!(e))?,
    );
    let jobs = stmt
        .query_map([], |r| {
            let dimension: String = r.get(3)?;
            Ok(SeriesState {
                series_id: r.get(0)?,
                account_id: r.get(1)?,
                worker_id: r.get(2)?,
                dimension: Dimension::parse(&dimension).unwrap_or(Dimension::Hour),
                watermark_ts: None,
                stored: None,
                newest_with_hashrate: None,
                last_share_time: None,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .map(|state| {
            let slots = retention.slots(state.worker_id.is_some(), state.dimension);
            SeriesJob {
                pool: Arc::clone(&pool),
                retention_slots: slots,
                since: None,
                state,
            }
        });
    let (account_jobs, worker_jobs): (Vec<SeriesJob>, Vec<SeriesJob>) =
        jobs.partition(|job| job.state.worker_id.is_none());
    let concurrency = usize::from(bench.args.concurrency);
    let sim_before = sim.cpu_seconds();
    let started = Instant::now();
    let tickers = runtime.block_on(async {
        let shared = Arc::new(FetchShared::default());
        let (sender, sink) = poolhist::store::writer::discarding();
        // Account series first, as the ingest does: they teach the pool's page size.
        for jobs in [account_jobs, worker_jobs] {
            let queue = Arc::new(Mutex::new(std::collections::VecDeque::from(jobs)));
            let mut fetchers = tokio::task::JoinSet::<Result<()>>::new();
            for _ in 0..concurrency.max(1) {
                let (queue, shared, sender) =
                    (Arc::clone(&queue), Arc::clone(&shared), sender.clone());
                fetchers.spawn(async move {
                    loop {
                        let job = queue.lock().ok().and_then(|mut q| q.pop_front());
                        let Some(job) = job else { return Ok(()) };
                        fetch_series(&job, now, &shared, &sender)
                            .await
                            .map_err(|e| anyhow!("fetch failed: {e:?}"))?;
                    }
                });
            }
            while let Some(joined) = fetchers.join_next().await {
                joined??;
            }
        }
        drop(sender);
        Ok::<u64, anyhow::Error>(sink.await?)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((
        seconds,
        counters.requests(),
        tickers,
        sim.cpu_seconds() - sim_before,
    ))
}

/// The Python collector against the same simulator.
#[derive(Debug, Clone, Default)]
struct PythonRun {
    usage: Usage,
    requests: i64,
    rows: i64,
    http: String,
    /// Rows equal (same series, slot and values) to the ingest's, when compared.
    matching_rows: Option<i64>,
}

fn ensure_requests(bench: &Bench) -> String {
    let has = |python: &str| {
        Command::new(python)
            .args(["-c", "import requests"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has(&bench.args.python) {
        return "requests".to_owned();
    }
    progress("python: `requests` missing, trying pip install requests");
    let _ = Command::new(&bench.args.python)
        .args(["-m", "pip", "install", "--quiet", "requests"])
        .status();
    if has(&bench.args.python) {
        "requests (installed by the bench)".to_owned()
    } else {
        "urllib (requests not installable)".to_owned()
    }
}

fn python_baseline(
    bench: &Bench,
    sim: &SimProcess,
    workers: u32,
    ingest_db: &Path,
) -> Result<PythonRun> {
    let http = ensure_requests(bench);
    let db = bench.path(&format!("python-{workers}.db"));
    remove_db(&db);
    let log = bench.path(&format!("python-{workers}.log"));
    let a = &bench.args;
    let mut cmd = Command::new(&a.python);
    cmd.arg(BASELINE)
        .args(["--api-url", &sim.url])
        .args(["--puid", &PUID.to_string()])
        .arg("--db")
        .arg(&db)
        .args(["--now", &a.now.to_string()])
        .args(["--worker-hours", &a.worker_hours.to_string()])
        .args(["--worker-days", &a.worker_days.to_string()])
        .args(["--account-hours", &a.account_hours.to_string()])
        .args(["--account-days", &a.account_days.to_string()])
        .env("POOLHIST_ACCESS_KEY", ACCESS_KEY);
    progress(&format!("python baseline, {workers} workers"));
    let usage = run_child(&cmd, &log, Some(Duration::from_secs(a.python_timeout)))?;
    if usage.exit_code != 0 {
        bail!(
            "the Python baseline exited with {} after {:.0} s: {}",
            usage.exit_code,
            usage.wall_s,
            last_line(&log.with_extension("err"))
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&last_line(&log.with_extension("out")))
            .context("the Python baseline's last line is not its JSON summary")?;
    let number = |name: &str| {
        summary
            .get(name)
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(-1)
    };
    let matching_rows = compare_python_rows(ingest_db, &db).ok();
    Ok(PythonRun {
        usage,
        requests: number("requests"),
        rows: number("rows"),
        http: format!(
            "{} ({})",
            summary.get("http").and_then(|v| v.as_str()).unwrap_or("?"),
            http
        ),
        matching_rows,
    })
}

/// Rows of the Python database equal to the ingest's (same series and slot, same values).
fn compare_python_rows(ingest_db: &Path, python_db: &Path) -> Result<i64> {
    let conn = Connection::open_with_flags(ingest_db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.execute("ATTACH DATABASE ?1 AS py", [python_db.to_string_lossy()])?;
    conn.execute_batch(
        "CREATE TEMP TABLE series_map AS
             SELECT series_id, IFNULL(worker_id, 0) AS worker_id, dimension FROM main.series;
         CREATE INDEX temp.series_map_key ON series_map (worker_id, dimension);",
    )?;
    Ok(conn.query_row(
        "SELECT count(*) FROM py.tickers p
         JOIN series_map m ON m.worker_id = p.worker_id AND m.dimension = p.dimension
         JOIN main.tickers t ON t.series_id = m.series_id AND t.ts = p.ts
         WHERE abs(t.hashrate_hs - p.hashrate_hs) <= 1e-9 * max(abs(t.hashrate_hs), abs(p.hashrate_hs))
           AND abs(t.reject_rate - p.reject_rate) <= 1e-12
           AND t.provisional = p.provisional",
        [],
        |r| r.get(0),
    )?)
}

/// `report uptime`, `report reject-rate`, `report monthly` over a database: median of three
/// runs each, in milliseconds; None when the `report` subcommand does not exist.
fn reports(bench: &Bench, db: &Path) -> Result<Option<Vec<(String, String)>>> {
    let available = Command::new(poolhist_bin())
        .args(["report", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        return Ok(None);
    }
    let month = bench.report_month.as_str();
    let out_dir = bench.path("monthly-report");
    let out_dir = out_dir.to_string_lossy();
    let cases: [(&str, Vec<&str>); 3] = [
        ("uptime", vec!["report", "uptime", "--month", month]),
        (
            "reject-rate",
            vec!["report", "reject-rate", "--month", month],
        ),
        (
            "monthly",
            vec!["report", "monthly", "--month", month, "--out", &out_dir],
        ),
    ];
    let mut results = Vec::new();
    for (name, args) in cases {
        progress(&format!("report {name}"));
        let log = bench.path(&format!("report-{name}.log"));
        let mut times = Vec::new();
        let mut failure = None;
        for _ in 0..3 {
            let mut cmd = Command::new(poolhist_bin());
            cmd.arg("--db")
                .arg(db)
                .args(&args)
                .env_remove("POOLHIST_DB");
            let usage = run_child(&cmd, &log, Some(Duration::from_secs(120)))?;
            if usage.exit_code != 0 {
                failure = Some(format!(
                    "failed (exit {}): {}",
                    usage.exit_code,
                    last_line(&log.with_extension("err"))
                ));
                break;
            }
            times.push(usage.wall_s * 1e3);
        }
        let shown = match failure {
            Some(text) => text,
            None => {
                times.sort_by(f64::total_cmp);
                format!(
                    "{:.0} ms (median of 3; {:.0}..{:.0})",
                    times[1], times[0], times[2]
                )
            }
        };
        results.push((format!("poolhist report {}", args[1..].join(" ")), shown));
    }
    Ok(Some(results))
}

// ---------------------------------------------------------------------------------------------
// The run.

struct ScalingRow {
    workers: u32,
    run: IngestRun,
    walls: Vec<f64>,
    /// The issue's limit over this size's rows, rows/s.
    limit_rate: f64,
    /// `Store::upsert_directory` seconds: first run, later run.
    directory_s: (f64, f64),
}

/// `Store::upsert_directory` of the farm an ingest stored in `db` (its groups and workers), in
/// process: seconds into a fresh database (first run) and again over it (every later run).
fn directory_upsert(bench: &Bench, db: &Path) -> Result<(f64, f64)> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let groups = conn
        .prepare("SELECT gid, name FROM groups ORDER BY gid")?
        .query_map([], |r| {
            Ok(Group {
                gid: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let workers = conn
        .prepare(
            "SELECT worker_id, worker_name, gid, status, last_share_time FROM workers ORDER BY worker_id",
        )?
        .query_map([], |r| {
            Ok(Worker {
                worker_id: r.get(0)?,
                worker_name: r.get(1)?,
                gid: r.get(2)?,
                status: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                last_share_time: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let target = bench.path("directory.db");
    remove_db(&target);
    let mut store = Store::open(&target)?;
    let mut seconds = [0.0; 2];
    let directory = poolhist::model::Directory {
        groups,
        workers,
        workers_capped: false,
    };
    for slot in &mut seconds {
        let started = Instant::now();
        store.upsert_directory(
            &cloverpool::account(PUID),
            &cloverpool::FACTS,
            &directory,
            bench.args.now,
        )?;
        *slot = started.elapsed().as_secs_f64();
    }
    Ok((seconds[0], seconds[1]))
}

/// The issue's limit over the rows an ingest stored in `db`: rows/s, median of `repeat`.
fn limit_rate_of(bench: &Bench, db: &Path) -> Result<f64> {
    let rows = load_rows(db)?;
    let mut times = Vec::new();
    for _ in 0..bench.repeat {
        times.push(sqlite_limit(bench, db, &rows, LimitVariant::ISSUE)?);
    }
    Ok(rows.len() as f64 / median(&times))
}

fn run(bench: &Bench) -> Result<()> {
    let a = &bench.args;
    let mut out = Vec::<String>::new();
    let mode = if a.quick { "quick" } else { "full" };
    out.push(format!(
        "poolhist ingest benchmark ({mode} mode), {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    ));
    out.extend(environment(bench));
    out.push(String::new());
    for line in &out {
        println!("{line}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    // Main size: end-to-end ingest, fetch-only and (usually) Python against one simulator.
    let main_db = bench.path(&format!("ingest-{}.db", bench.workers));
    progress(&format!(
        "starting poolhist simulate, {} workers",
        bench.workers
    ));
    let sim = bench.simulator(bench.workers, a.now)?;
    let (main_run, main_walls) = ingest_full(bench, &sim, bench.workers)?;
    progress("fetch and parse only (in-process, no SQLite)");
    let (fetch_s, fetch_requests, fetch_tickers, fetch_sim_cpu) =
        fetch_only(bench, &runtime, &sim, &main_db)?;
    let mut python = None;
    if bench.python_workers == bench.workers {
        python = Some((
            bench.workers,
            python_baseline(bench, &sim, bench.workers, &main_db),
            main_run.clone(),
        ));
    }
    let sim_usage = sim.stop()?;
    let groups = group_count(&main_db)?;

    // The limit and the store path, from the rows the ingest stored.
    progress("SQLite limit and store path");
    let rows = load_rows(&main_db)?;
    let batched = LimitVariant {
        pages_per_tx: PAGES_PER_TRANSACTION,
        ..LimitVariant::ISSUE
    };
    let variants = [
        LimitVariant::ISSUE,
        batched,
        LimitVariant {
            foreign_keys: false,
            ..batched
        },
        LimitVariant {
            multi_row: true,
            ..batched
        },
    ];
    let mut variant_times = vec![Vec::new(); variants.len()];
    let mut store_times = Vec::new();
    let mut store_1_times = Vec::new();
    for _ in 0..bench.repeat {
        for (variant, times) in variants.iter().zip(&mut variant_times) {
            times.push(sqlite_limit(bench, &main_db, &rows, *variant)?);
        }
        store_times.push(store_path(bench, &main_db, &rows, PAGES_PER_TRANSACTION)?);
        store_1_times.push(store_path(bench, &main_db, &rows, 1)?);
    }
    let limit_times = variant_times[0].clone();
    let limit_s = median(&limit_times);
    let limit_rate = rows.len() as f64 / limit_s;

    // Incremental: same world, clock one hour on; and a restarted simulator, for comparison.
    let later = a.now + 3_600;
    let restart_db = bench.path("incremental-restarted.db");
    remove_db(&restart_db);
    std::fs::copy(&main_db, &restart_db).context("cannot copy the database")?;
    progress("incremental run (sim-host, clock +1 h)");
    let mut host = bench.sim_host(bench.workers)?;
    host.set_now(later)?;
    let incremental = ingest_once(
        bench,
        &host,
        &main_db,
        later,
        &bench.path("incremental.log"),
    )?;
    host.stop()?;
    progress("incremental run (restarted poolhist simulate --now +1 h)");
    let restarted_sim = bench.simulator(bench.workers, later)?;
    let restarted = ingest_once(
        bench,
        &restarted_sim,
        &restart_db,
        later,
        &bench.path("incremental-restarted.log"),
    )?;
    restarted_sim.stop()?;

    let report_results = reports(bench, &main_db)?;

    // Scaling.
    let mut scaling = Vec::new();
    for &workers in &bench.scale {
        if workers == bench.workers {
            scaling.push(ScalingRow {
                workers,
                run: main_run.clone(),
                walls: main_walls.clone(),
                limit_rate,
                directory_s: directory_upsert(bench, &main_db)?,
            });
            continue;
        }
        progress(&format!("starting poolhist simulate, {workers} workers"));
        let sim = bench.simulator(workers, a.now)?;
        let (run, walls) = ingest_full(bench, &sim, workers)?;
        if python.is_none() && bench.python_workers == workers {
            let db = bench.path(&format!("ingest-{workers}.db"));
            python = Some((
                workers,
                python_baseline(bench, &sim, workers, &db),
                run.clone(),
            ));
        }
        sim.stop()?;
        progress(&format!("SQLite limit, {workers} workers"));
        let db = bench.path(&format!("ingest-{workers}.db"));
        let limit_rate = limit_rate_of(bench, &db)?;
        scaling.push(ScalingRow {
            workers,
            run,
            walls,
            limit_rate,
            directory_s: directory_upsert(bench, &db)?,
        });
    }
    if python.is_none() && bench.python_workers > 0 {
        let workers = bench.python_workers;
        let sim = bench.simulator(workers, a.now)?;
        let (run, _) = ingest_full(bench, &sim, workers)?;
        let db = bench.path(&format!("ingest-{workers}.db"));
        python = Some((workers, python_baseline(bench, &sim, workers, &db), run));
        sim.stop()?;
    }

    // The table.
    let mut t = Vec::<String>::new();
    let n_rows = rows.len() as f64;
    t.push(format!(
        "== Backfill, {} workers: {} rows ({} series, {} groups) ==",
        bench.workers,
        thousands(rows.len() as i64),
        count_series(&main_db)?,
        groups
    ));
    t.push(format!(
        "{:<56} {:>8} {:>11} {:>9} {:>15} {:>10}",
        "", "seconds", "rows/s", "vs limit", "requests (min)", "peak RSS"
    ));
    let min_full = minimum_requests(bench, bench.workers, groups, false);
    let line = |name: &str, s: f64, rows: f64, req: String, rss: String| {
        format!(
            "{name:<56} {s:>8.2} {:>11} {:>8.2}x {req:>15} {rss:>10}",
            thousands((rows / s) as i64),
            (rows / s) / limit_rate
        )
    };
    t.push(line(
        &format!("limit: raw INSERT, 1 tx per {}-row page", a.max_count),
        limit_s,
        n_rows,
        String::new(),
        String::new(),
    ));
    for (name, times) in [
        format!("raw INSERT, {PAGES_PER_TRANSACTION} pages/tx (the ingest's grouping)"),
        format!("raw INSERT, {PAGES_PER_TRANSACTION} pages/tx, foreign_keys OFF"),
        format!("raw INSERT, {PAGES_PER_TRANSACTION} pages/tx, one multi-row INSERT per page"),
    ]
    .iter()
    .zip(&variant_times[1..])
    {
        t.push(line(
            name,
            median(times),
            n_rows,
            String::new(),
            String::new(),
        ));
    }
    t.push(line(
        &format!("store path: Store::write_pages, {PAGES_PER_TRANSACTION} pages/tx"),
        median(&store_times),
        n_rows,
        String::new(),
        String::new(),
    ));
    t.push(line(
        "store path: Store::write_pages, 1 page/tx",
        median(&store_1_times),
        n_rows,
        String::new(),
        String::new(),
    ));
    t.push(line(
        "fetch + parse only (in-process, no SQLite)",
        fetch_s,
        fetch_tickers as f64,
        format!("{fetch_requests}"),
        String::new(),
    ));
    t.push(line(
        "END-TO-END poolhist ingest (separate processes)",
        main_run.usage.wall_s,
        main_run.rows_in_db as f64,
        format!("{} ({min_full})", main_run.requests),
        mib(main_run.usage.max_rss_kib),
    ));
    if let Some((workers, Ok(py), _)) = &python {
        if *workers == bench.workers {
            t.push(line(
                "Python baseline (1 request at a time, row by row)",
                py.usage.wall_s,
                py.rows as f64,
                format!("{}", py.requests),
                mib(py.usage.max_rss_kib),
            ));
        }
    }
    t.push(format!(
        "  end-to-end runs: {} s (median shown); ingest CPU {:.2} s user + {:.2} s sys; simulator CPU {:.2} s",
        main_walls.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(", "),
        main_run.usage.cpu_user_s,
        main_run.usage.cpu_sys_s,
        main_run.sim_cpu_s
    ));
    t.push(format!(
        "  fetch-only: {} tickers, simulator CPU {:.2} s; limit runs {} s; store 64/tx runs {} s",
        thousands(fetch_tickers as i64),
        fetch_sim_cpu,
        join_secs(&limit_times),
        join_secs(&store_times)
    ));
    t.push(format!(
        "  ingest tickers/s = rows in the database / wall seconds; ratio to the limit: {:.2}x (issue 5 asks >= 0.5x)",
        main_run.tickers_per_s() / limit_rate
    ));
    t.push(format!(
        "  simulator process over the main phase (all {} ingests, fetch-only, Python): {:.2} s CPU",
        bench.repeat,
        sim_usage.cpu_user_s + sim_usage.cpu_sys_s
    ));
    t.push(String::new());

    t.push(format!(
        "== Incremental run right after (clock +1 h), {} workers ==",
        bench.workers
    ));
    let min_incr = minimum_requests(bench, bench.workers, groups, true);
    t.push(format!(
        "{:<56} {:>8} {:>15} {:>9} {:>9} {:>10}",
        "", "seconds", "requests (min)", "rows new", "updated", "peak RSS"
    ));
    for (name, run) in [
        ("same world, clock moved (sim-host)", &incremental),
        (
            "restarted `poolhist simulate --now +1h` (re-anchored)",
            &restarted,
        ),
    ] {
        t.push(format!(
            "{name:<56} {:>8.2} {:>15} {:>9} {:>9} {:>10}",
            run.usage.wall_s,
            format!("{} ({min_incr})", run.requests),
            run.rows_new,
            run.rows_updated,
            mib(run.usage.max_rss_kib)
        ));
    }
    t.push(
        "  the restarted simulator re-anchors late joiners, stopped workers and the account sums \
         at the new hour: its `updated` rows are the world moving, not the ingest"
            .to_owned(),
    );
    t.push(String::new());

    t.push(format!(
        "== Reports over the {}-worker database, --month {} (wall time of the process; issue 5 asks < 200 ms) ==",
        bench.workers, bench.report_month
    ));
    match &report_results {
        None => t.push(
            "not available (`poolhist report --help` fails: the report subcommand is not in this build)"
                .to_owned(),
        ),
        Some(results) => {
            for (name, shown) in results {
                t.push(format!("{name:<72} {shown}"));
            }
        }
    }
    t.push(String::new());

    t.push("== Scaling: full backfill by farm size ==".to_owned());
    t.push(format!(
        "{:>8} {:>11} {:>8} {:>11} {:>11} {:>9} {:>9} {:>10} {:>11} {:>11} {:>9} {:>15} {:>22}",
        "workers",
        "rows",
        "seconds",
        "tickers/s",
        "limit/s",
        "vs limit",
        "requests",
        "peak RSS",
        "µs per row",
        "ingest CPU",
        "sim CPU",
        "directory s",
        "runs (s)"
    ));
    for row in &scaling {
        let run = &row.run;
        t.push(format!(
            "{:>8} {:>11} {:>8.2} {:>11} {:>11} {:>8.2}x {:>9} {:>10} {:>11.2} {:>10.2}s {:>8.2}s {:>15} {:>22}",
            row.workers,
            thousands(run.rows_in_db),
            run.usage.wall_s,
            thousands(run.tickers_per_s() as i64),
            thousands(row.limit_rate as i64),
            run.tickers_per_s() / row.limit_rate,
            run.requests,
            mib(run.usage.max_rss_kib),
            run.usage.wall_s * 1e6 / run.rows_in_db as f64,
            run.usage.cpu_user_s + run.usage.cpu_sys_s,
            run.sim_cpu_s,
            format!("{:.2} / {:.2}", row.directory_s.0, row.directory_s.1),
            join_secs(&row.walls)
        ));
    }
    t.push(
        "  directory s: Store::upsert_directory of that farm in-process, into a fresh database / again over it (every run pays it before fetching)"
            .to_owned(),
    );
    if let (Some(first), Some(last)) = (scaling.first(), scaling.last()) {
        if scaling.len() > 1 {
            t.push(format!(
                "  peak RSS {}/{}: {:.2}x (issue 5 asks <= 1.5x); seconds per row {}/{}: {:.2}x (1.0 = linear)",
                last.workers,
                first.workers,
                last.run.usage.max_rss_kib as f64 / first.run.usage.max_rss_kib as f64,
                last.workers,
                first.workers,
                (last.run.usage.wall_s / last.run.rows_in_db as f64)
                    / (first.run.usage.wall_s / first.run.rows_in_db as f64)
            ));
        }
    }
    t.push(String::new());

    t.push("== Python baseline (benches/baseline_collector.py) ==".to_owned());
    match &python {
        None => t.push("skipped (--python-workers 0)".to_owned()),
        Some((workers, Err(e), _)) => t.push(format!("{workers} workers: failed: {e:#}")),
        Some((workers, Ok(py), ingest)) => {
            t.push(format!(
                "{workers} workers, {}: {:.1} s, {} requests, {} rows ({}/s), peak RSS {}, CPU {:.1} s",
                py.http,
                py.usage.wall_s,
                py.requests,
                thousands(py.rows),
                thousands((py.rows as f64 / py.usage.wall_s) as i64),
                mib(py.usage.max_rss_kib),
                py.usage.cpu_user_s + py.usage.cpu_sys_s
            ));
            t.push(format!(
                "poolhist ingest, same simulator: {:.2} s, {} rows; rows equal to poolhist's: {}",
                ingest.usage.wall_s,
                thousands(ingest.rows_in_db),
                py.matching_rows
                    .map_or("not compared".to_owned(), thousands)
            ));
            t.push(format!(
                "speed-up of poolhist over the baseline: {:.1}x (issue 5 asks >= 10x)",
                py.usage.wall_s / ingest.usage.wall_s
            ));
        }
    }

    for line in &t {
        println!("{line}");
    }
    out.extend(t);
    let results = bench.path("results.txt");
    std::fs::write(&results, out.join("\n") + "\n")?;
    eprintln!("(results also in {})", results.display());
    Ok(())
}

fn count_series(db: &Path) -> Result<i64> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row("SELECT count(*) FROM series", [], |r| r.get(0))?)
}

fn environment(bench: &Bench) -> Vec<String> {
    let a = &bench.args;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: i64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let command_line = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| {
                let text = if o.stdout.is_empty() {
                    o.stderr
                } else {
                    o.stdout
                };
                String::from_utf8_lossy(&text).trim().to_owned()
            })
            .unwrap_or_else(|| "not found".to_owned())
    };
    let now_text = chrono::DateTime::from_timestamp(a.now, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    vec![
        format!(
            "machine: {cpus} CPUs ({model}), {:.1} GiB RAM, {}",
            mem_kib as f64 / 1_048_576.0,
            command_line("uname", &["-sr"])
        ),
        format!(
            "versions: {}, {}, SQLite {} (bundled), {}; HTTP lib: see Python line",
            command_line(&poolhist_bin().to_string_lossy(), &["--version"]),
            command_line("rustc", &["--version"]),
            rusqlite::version(),
            command_line(&a.python, &["--version"]),
        ),
        format!(
            "parameters: now {} ({now_text}), seed {}, main run {} workers, scaling {:?}, Python at {} workers, {} run(s) per timing (median)",
            a.now, a.seed, bench.workers, bench.scale, bench.python_workers, bench.repeat
        ),
        format!(
            "  retention: worker {} h / {} d, account {} h / {} d; simulator caps count at {}, page_size at {}; ingest --concurrency {} --rate 0",
            a.worker_hours, a.worker_days, a.account_hours, a.account_days, a.max_count, a.max_page_size, a.concurrency
        ),
        format!(
            "  poolhist binary {}; databases and logs in {}",
            poolhist_bin().display(),
            bench.dir.display()
        ),
    ]
}

fn progress(what: &str) {
    eprintln!("[bench] {what}");
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn join_secs(values: &[f64]) -> String {
    values
        .iter()
        .map(|s| format!("{s:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut text = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(c);
    }
    if n < 0 {
        text.insert(0, '-');
    }
    text
}
