//! A fixed, hand-checkable data set for the report tests: two CloverPool accounts and one
//! Foundry account, a handful of workers over 2026-10-01 and 2026-10-02 UTC, each worker built
//! to exercise one behaviour. Nothing reads the clock: tests pass `now` explicitly.
#![allow(dead_code)]

use std::path::PathBuf;

use rusqlite::{params, Connection};

/// 2026-10-01T00:00:00Z, the period start.
pub const T0: i64 = 1_790_812_800;
pub const H: i64 = 3600;
pub const D: i64 = 86_400;
/// The period end (exclusive): 2026-10-03T00:00:00Z.
pub const T_END: i64 = T0 + 48 * H;
/// A `now` well after the period, so no cap applies.
pub const NOW: i64 = T0 + 5 * D;

pub const PUID: i64 = 1001;
pub const OTHER_PUID: i64 = 2002;
/// The Foundry account: named by its sub-account, no puid; its surrogate key.
pub const FOUNDRY_ACCOUNT: &str = "farm1";
pub const FOUNDRY_ACCOUNT_ID: i64 = 3003;

pub const TH: f64 = 1e12;
pub const GH: f64 = 1e9;

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub conn: Connection,
}

struct Builder<'a> {
    conn: &'a Connection,
}

impl Builder<'_> {
    fn worker(&self, account_id: i64, worker_id: i64, name: &str, gid: Option<i64>) {
        self.conn
            .execute(
                "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?4, 'ACTIVE', ?5, ?5)",
                params![account_id, worker_id, name, gid, T0],
            )
            .unwrap();
    }

    fn series(&self, account_id: i64, worker_id: Option<i64>, dimension: &str) -> i64 {
        self.conn
            .execute(
                "INSERT INTO series (account_id, worker_id, dimension, watermark_ts, last_synced_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![account_id, worker_id, dimension, T_END - H, T_END + 600],
            )
            .unwrap();
        self.conn.last_insert_rowid()
    }

    fn ticker(
        &self,
        series_id: i64,
        ts: i64,
        hashrate_hs: f64,
        reject_rate: f64,
        provisional: bool,
    ) {
        self.conn
            .execute(
                "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    series_id,
                    ts,
                    hashrate_hs,
                    reject_rate,
                    i64::from(provisional)
                ],
            )
            .unwrap();
    }

    /// Final hourly points for hours [from_h, to_h) counted from T0.
    fn hours(&self, series_id: i64, from_h: i64, to_h: i64, hashrate_hs: f64, reject_rate: f64) {
        for h in from_h..to_h {
            self.ticker(series_id, T0 + h * H, hashrate_hs, reject_rate, false);
        }
    }
}

/// Builds the data set in a fresh database made by `store::open`.
pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.db");
    let conn = poolhist::store::open(&path).unwrap();
    build(&conn);
    Fixture {
        _dir: dir,
        path,
        conn,
    }
}

pub fn build(conn: &Connection) {
    let b = Builder { conn };
    conn.execute_batch("BEGIN").unwrap();
    for puid in [PUID, OTHER_PUID] {
        conn.execute(
            "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen) VALUES (?1, 'cloverpool', ?1, ?1, ?2, ?2)",
            params![puid, T0 - 3 * D],
        )
        .unwrap();
    }
    for (gid, name) in [(1, "rack-a"), (2, "rack-b")] {
        conn.execute(
            "INSERT INTO groups (account_id, gid, name, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![PUID, gid, name, T0],
        )
        .unwrap();
    }

    // 1 rig-steady: up every hour, including the day before the period; 100 TH/s at 1 %.
    b.worker(PUID, 1, "rig-steady", Some(1));
    let s = b.series(PUID, Some(1), "1h");
    b.hours(s, -24, 48, 100.0 * TH, 0.01);

    // 2 rig-late: joins mid-period, first hourly point at T0+30h; 50 TH/s at 2 %.
    //   Its daily point for 2026-10-02 covers the joining day, so no "not collected" note.
    b.worker(PUID, 2, "rig-late", Some(1));
    let s = b.series(PUID, Some(2), "1h");
    b.hours(s, 30, 48, 50.0 * TH, 0.02);
    let s = b.series(PUID, Some(2), "1d");
    b.ticker(s, T0 + D, 37.5 * TH, 0.02, false);

    // 3 rig-dead: hashed before the period, then zero for 10 hours and no rows after: dead all
    //   period (one 48 h outage).
    b.worker(PUID, 3, "rig-dead", Some(2));
    let s = b.series(PUID, Some(3), "1h");
    b.hours(s, -48, 0, 80.0 * TH, 0.01);
    b.hours(s, 0, 10, 0.0, 0.0);

    // 4 rig-flaky: down from T0-5h across the period start until T0+3h; up to T0+20h; down
    //   T0+20h..T0+26h (zero rows, then no rows); up to T0+46h; down for the last two hours, where
    //   a provisional point with hashrate at T0+47h must be ignored. 60 TH/s at 3 %.
    b.worker(PUID, 4, "rig-flaky", Some(2));
    let s = b.series(PUID, Some(4), "1h");
    b.hours(s, -24, -5, 60.0 * TH, 0.03);
    b.hours(s, -5, 3, 0.0, 0.0);
    b.hours(s, 3, 20, 60.0 * TH, 0.03);
    b.hours(s, 20, 23, 0.0, 0.0);
    b.hours(s, 26, 46, 60.0 * TH, 0.03);
    b.ticker(s, T0 + 47 * H, 60.0 * TH, 0.5, true);

    // 5 tiny-noisy: 1 GH/s at 50 % rejects all period: must not dominate rack-a's rate.
    b.worker(PUID, 5, "tiny-noisy", Some(1));
    let s = b.series(PUID, Some(5), "1h");
    b.hours(s, 0, 48, 1.0 * GH, 0.5);

    // 6 a name that is an HTML injection; no group; down for the single hour T0+10h.
    b.worker(PUID, 6, "<script>alert(1)</script>", None);
    let s = b.series(PUID, Some(6), "1h");
    b.hours(s, 0, 10, 10.0 * TH, 0.02);
    b.hours(s, 11, 48, 10.0 * TH, 0.02);

    // 7 a name that is a spreadsheet formula; only daily history (20 TH/s at 3 %).
    b.worker(PUID, 7, "=HYPERLINK(\"http://x\",\"y\")", Some(2));
    let s = b.series(PUID, Some(7), "1d");
    b.ticker(s, T0, 20.0 * TH, 0.03, false);
    b.ticker(s, T0 + D, 20.0 * TH, 0.03, false);

    // 8 rig-gap: hourly history starts at T0+24h, but its daily point for 2026-10-01 shows it
    //   hashed (hourly not collected; the pool's expiry is recorded in history_gaps); one hour
    //   T0+40h has no row (a hole). 40 TH/s at 1 % hourly; the daily point says 4 %.
    b.worker(PUID, 8, "rig-gap", Some(2));
    let s = b.series(PUID, Some(8), "1h");
    b.hours(s, 24, 40, 40.0 * TH, 0.01);
    b.hours(s, 41, 48, 40.0 * TH, 0.01);
    conn.execute(
        "INSERT INTO ingest_runs (run_id, started_at, finished_at, status, puids, accounts,
                                  series_synced, requests, tickers_fetched, rows_new,
                                  rows_updated, gaps_found)
         VALUES (1, ?1, ?2, 'ok', '1001,2002', 'cloverpool:1001,cloverpool:2002', 20, 40, 900,
                 880, 20, 1)",
        params![T_END + 60, T_END + 600],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO history_gaps (series_id, from_ts, to_ts, reason, detected_at, run_id)
         VALUES (?1, ?2, ?3, 'expired', ?4, 1)",
        params![s, T0, T0 + 23 * H, T_END + 120],
    )
    .unwrap();
    let s = b.series(PUID, Some(8), "1d");
    b.ticker(s, T0, 40.0 * TH, 0.04, false);
    b.ticker(s, T0 + D, 38.0 * TH, 0.01, false);

    // The account series: final daily point for 2026-10-01; 2026-10-02's daily point is still
    // provisional, so its hourly mean stands in (hours 24..48 at 250 TH/s, 2 %).
    let s = b.series(PUID, None, "1d");
    b.ticker(s, T0, 240.0 * TH, 0.015, false);
    b.ticker(s, T0 + D, 245.0 * TH, 0.015, true);
    let s = b.series(PUID, None, "1h");
    b.hours(s, 24, 48, 250.0 * TH, 0.02);

    // A second account with one worker (the same worker_id as rig-steady): up all period.
    b.worker(OTHER_PUID, 1, "other-rig", None);
    let s = b.series(OTHER_PUID, Some(1), "1h");
    b.hours(s, 0, 48, 5.0 * TH, 0.0);

    conn.execute(
        "INSERT INTO ingest_runs (run_id, started_at, finished_at, status, puids, accounts, requests, error)
         VALUES (2, ?1, ?2, 'failed', '1001', 'cloverpool:1001', 3, 'pool answered err_no 20001: access key and puid do not match')",
        params![T_END + 3600, T_END + 3605],
    )
    .unwrap();
    build_foundry(&b);
    conn.execute_batch("COMMIT").unwrap();
    // The tickers went in around the ingest: derive the per-day summary the reports read.
    poolhist::store::rebuild_hourly_by_day(conn).unwrap();
}

/// The Foundry account 'farm1' (no puid), with a worker whose id equals rig-steady's and
/// other-rig's (1): reports must keep them apart by account.
fn build_foundry(b: &Builder<'_>) {
    let conn = b.conn;
    conn.execute(
        "INSERT INTO accounts (account_id, pool, account, puid, first_seen, last_seen)
         VALUES (?1, 'foundry', ?2, NULL, ?3, ?3)",
        params![FOUNDRY_ACCOUNT_ID, FOUNDRY_ACCOUNT, T0 - 3 * D],
    )
    .unwrap();
    // What Foundry documents it keeps (made up for the test: 30 days of worker hours), so
    // gaps judge its series by it rather than by CloverPool's 72 h.
    conn.execute(
        "INSERT INTO pools VALUES ('foundry', 'Foundry USA', 'hashrate in H/s',
                                   'rejected share of submitted shares', 720, 720, 90, 365)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO groups (account_id, gid, name, first_seen, last_seen) VALUES (?1, 1, 'rack-a', ?2, ?2)",
        params![FOUNDRY_ACCOUNT_ID, T0],
    )
    .unwrap();

    // 1 farm1-steady: the same worker_id as rig-steady; up all period, 120 TH/s at 1 %.
    b.worker(FOUNDRY_ACCOUNT_ID, 1, "farm1-steady", Some(1));
    let s = b.series(FOUNDRY_ACCOUNT_ID, Some(1), "1h");
    b.hours(s, 0, 48, 120.0 * TH, 0.01);

    // 2 farm1-flaky: one hour missing at T0+20h (a hole), zero from T0+40h on; 80 TH/s at 2 %.
    b.worker(FOUNDRY_ACCOUNT_ID, 2, "farm1-flaky", None);
    let s = b.series(FOUNDRY_ACCOUNT_ID, Some(2), "1h");
    b.hours(s, 0, 20, 80.0 * TH, 0.02);
    b.hours(s, 21, 40, 80.0 * TH, 0.02);
    b.hours(s, 40, 48, 0.0, 0.0);

    // The account's hourly series: 200 TH/s at 1.5 % all period.
    let s = b.series(FOUNDRY_ACCOUNT_ID, None, "1h");
    b.hours(s, 0, 48, 200.0 * TH, 0.015);

    // What the ingest learned of Foundry's worker hours: the 30 days it documents.
    conn.execute(
        "INSERT INTO pool_knowledge (account_id, scope, dimension, retention_slots,
                                     oldest_served_ts, newest_served_ts, learned_at)
         VALUES (?1, 'worker', '1h', 720, ?2, ?3, ?4)",
        params![FOUNDRY_ACCOUNT_ID, T_END - 720 * H, T_END - H, T_END + 7260],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO ingest_runs (run_id, started_at, finished_at, status, puids, accounts,
                                  series_synced, requests, tickers_fetched, rows_new)
         VALUES (3, ?1, ?2, 'ok', '', 'foundry:farm1', 3, 6, 144, 144)",
        params![T_END + 7200, T_END + 7260],
    )
    .unwrap();
}
