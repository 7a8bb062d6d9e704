//! Times every report over 1,000 workers x 90 days of hourly data (2.16 M hourly tickers plus
//! daily and account series) in a temporary database. Run: `cargo bench --bench reports`.
//! Set POOLHIST_BENCH_HTML=path to also keep the monthly HTML for a look.

mod common;

use common::Rng;
use std::time::Instant;

use poolhist::report::period::Period;
use poolhist::report::{self, AccountFilter, Selection};
use rusqlite::{params, Connection};

const WORKERS: i64 = 1000;
const DAYS: i64 = 90;
const PUID: i64 = 1;
/// 2026-08-03T00:00:00Z: the 90 days end at 2026-11-01.
const START: i64 = 1_785_715_200;
const END: i64 = START + DAYS * 86_400;

fn generate(conn: &mut Connection) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let mut rows = 0u64;
    tx.execute(
        "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen) VALUES (?1, 'cloverpool', ?1, ?1, ?2, ?3)",
        params![PUID, START, END],
    )?;
    for gid in 0..10 {
        tx.execute(
            "INSERT INTO groups (account_id, gid, name, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![PUID, gid, format!("rack-{gid:02}"), START],
        )?;
    }
    {
        let mut worker = tx.prepare(
            "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, 'ACTIVE', ?5, ?6)",
        )?;
        let mut series = tx.prepare(
            "INSERT INTO series (account_id, worker_id, dimension, watermark_ts) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut ticker = tx.prepare(
            "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional)
             VALUES (?1, ?2, ?3, ?4, 0)",
        )?;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut account_hourly = vec![(0.0f64, 0.0f64); (DAYS * 24) as usize];
        for w in 0..WORKERS {
            let name = if w == 7 {
                "<script>alert(1)</script>".to_owned()
            } else {
                format!("rack{:02}-rig{w:04}", w % 10)
            };
            worker.execute(params![PUID, w, name, w % 10, START, END])?;
            series.execute(params![PUID, w, "1h", END - 3600])?;
            let hourly = tx.last_insert_rowid();
            series.execute(params![PUID, w, "1d", END - 86_400])?;
            let daily = tx.last_insert_rowid();
            let base_hs = (20.0 + 100.0 * rng.unit()) * 1e12;
            let base_reject = 0.001 + 0.02 * rng.unit() * rng.unit();
            // Some workers join late, some die early.
            let first_hour = if w % 17 == 0 {
                (rng.next() % 1000) as i64
            } else {
                0
            };
            let last_hour = if w % 23 == 0 {
                DAYS * 24 - (rng.next() % 800) as i64
            } else {
                DAYS * 24
            };
            let mut down_left = 0;
            let mut day_sum = (0.0, 0.0, 0);
            for h in 0..DAYS * 24 {
                if h >= first_hour && h < last_hour {
                    if down_left == 0 && rng.next().is_multiple_of(150) {
                        down_left = 1 + (rng.next() % 12) as i64;
                    }
                    let (hs, reject) = if down_left > 0 {
                        down_left -= 1;
                        (0.0, 0.0)
                    } else {
                        (
                            base_hs * (0.9 + 0.2 * rng.unit()),
                            base_reject * (0.5 + rng.unit()),
                        )
                    };
                    // An outage hour is sometimes a zero row, sometimes no row at all.
                    if hs > 0.0 || h % 2 == 0 {
                        ticker.execute(params![hourly, START + h * 3600, hs, reject])?;
                        rows += 1;
                    }
                    day_sum.0 += hs;
                    day_sum.1 += hs * reject;
                    day_sum.2 += 1;
                    let acct = &mut account_hourly[h as usize];
                    acct.0 += hs;
                    acct.1 += hs * reject;
                }
                if h % 24 == 23 && day_sum.2 > 0 {
                    let rate = if day_sum.0 > 0.0 {
                        day_sum.1 / day_sum.0
                    } else {
                        0.0
                    };
                    ticker.execute(params![
                        daily,
                        START + (h - 23) * 3600,
                        day_sum.0 / 24.0,
                        rate
                    ])?;
                    rows += 1;
                    day_sum = (0.0, 0.0, 0);
                }
            }
        }
        series.execute(params![PUID, Option::<i64>::None, "1h", END - 3600])?;
        let acct_hourly = tx.last_insert_rowid();
        series.execute(params![PUID, Option::<i64>::None, "1d", END - 86_400])?;
        let acct_daily = tx.last_insert_rowid();
        for (day, hours) in account_hourly.chunks(24).enumerate() {
            let day_ts = START + day as i64 * 86_400;
            let (hs, rej) = hours.iter().fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
            ticker.execute(params![
                acct_daily,
                day_ts,
                hs / 24.0,
                if hs > 0.0 { rej / hs } else { 0.0 }
            ])?;
            for (i, (h_hs, h_rej)) in hours.iter().enumerate() {
                let rate = if *h_hs > 0.0 { h_rej / h_hs } else { 0.0 };
                ticker.execute(params![acct_hourly, day_ts + i as i64 * 3600, h_hs, rate])?;
            }
            rows += 25;
        }
    }
    tx.commit()?;
    Ok(rows)
}

fn time<T>(label: &str, runs: u32, mut f: impl FnMut() -> T) -> T {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        out = Some(f());
        best = best.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("{label:<48} {best:>9.1} ms (best of {runs})");
    out.expect("runs > 0")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    // POOLHIST_BENCH_DB=path keeps the generated database (and reuses it when it exists).
    let kept = std::env::var_os("POOLHIST_BENCH_DB").map(std::path::PathBuf::from);
    let path = kept.clone().unwrap_or_else(|| dir.path().join("bench.db"));
    let reuse = kept.is_some() && path.exists();
    let mut conn = poolhist::store::open(&path)?;
    let t = Instant::now();
    let rows = if reuse { 0 } else { generate(&mut conn)? };
    println!(
        "generated {rows} tickers ({WORKERS} workers x {DAYS} days) in {:.1} s, {} MB",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&path)?.len() / 1_000_000
    );
    if !reuse {
        // Generated around the ingest: derive the per-day summary as the ingest would have.
        let t = Instant::now();
        poolhist::store::rebuild_hourly_by_day(&conn)?;
        println!(
            "hourly_by_day rebuilt from all tickers in {:.0} ms",
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    drop(conn);
    let conn = poolhist::store::open_read_only(&path)?;
    if std::env::var_os("POOLHIST_BENCH_UNTUNED").is_none() {
        report::tune_for_reports(&conn)?;
    }
    let now = END + 86_400;
    let all = Selection::default();
    // The same workers selected by pool and account: the filter must cost nothing.
    let one_account = Selection {
        accounts: AccountFilter::puid(PUID),
        ..Selection::default()
    };
    let month = Period::new(END - 31 * 86_400, END, now)?;
    let full = Period::new(START, END, now)?;
    let runs = 3;

    for (name, p) in [("31 days", &month), ("90 days", &full)] {
        let rows = time(&format!("uptime, {name}"), runs, || {
            report::uptime::uptime_rows(&conn, p, &all).map(|r| r.len())
        })?;
        assert_eq!(rows as i64, WORKERS);
        let rows = time(
            &format!("uptime, one account by --puid, {name}"),
            runs,
            || report::uptime::uptime_rows(&conn, p, &one_account).map(|r| r.len()),
        )?;
        assert_eq!(rows as i64, WORKERS);
        time(&format!("reject-rate by worker, {name}"), runs, || {
            report::reject_rate::worker_rows(&conn, p, &all).map(|r| r.len())
        })?;
        time(&format!("reject-rate by day, {name}"), runs, || {
            report::reject_rate::day_rows(&conn, p, &all).map(|r| r.len())
        })?;
        time(&format!("outages, {name}"), runs, || {
            report::uptime::outages(&conn, p, &all).map(|r| r.len())
        })?;
        time(&format!("uptime by day (heatmap), {name}"), runs, || {
            report::uptime::uptime_by_day(&conn, p, &all).map(|r| r.len())
        })?;
        time(&format!("daily account hashrate, {name}"), runs, || {
            report::monthly::daily_hashrate(&conn, p, &AccountFilter::all()).map(|r| r.len())
        })?;
    }
    time("gaps (all series, whole history)", runs, || {
        report::gaps::gaps(&conn, None, None, None, (None, None), now).map(|r| r.len())
    })?;
    let data = time("monthly: gather 2026-10 (all queries)", runs, || {
        report::monthly::gather(&conn, "2026-10", &AccountFilter::all(), 50, now)
    })?;
    let html = time("monthly: render HTML", runs, || {
        report::html::render_html(&data)
    });
    time("monthly: render Markdown", runs, || {
        report::monthly::render_markdown(&data)
    });
    time("uptime report rendered as table, 31 days", runs, || {
        let rows = report::uptime::uptime_rows(&conn, &month, &all).unwrap_or_default();
        let r = report::uptime::build_report(&rows, &month, &all, None);
        report::render::render(&r, report::Format::Table, false).len()
    });
    if let Ok(out) = std::env::var("POOLHIST_BENCH_HTML") {
        std::fs::write(&out, html)?;
        println!("wrote {out}");
    }
    Ok(())
}
