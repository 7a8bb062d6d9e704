//! The command line over two pools: one nightly `poolhist ingest --config` collects a CloverPool
//! account and a Foundry sub-account, each with its own key file, into one database.

mod binary;

use std::path::Path;
use std::sync::Arc;

use binary::{poolhist_with_key, run, stderr_of};
use poolhist::pools::cloverpool::sim::{self as clover_sim, SimConfig, Simulator};
use poolhist::pools::foundry::sim::{self as foundry_sim, FoundrySim, FoundrySimConfig};
use rusqlite::Connection;

/// 2026-03-04 09:41:07 UTC.
const NOW: i64 = 1_772_617_267;

struct Pools {
    clover: SimConfig,
    clover_url: String,
    foundry: FoundrySimConfig,
    foundry_url: String,
}

async fn start_pools() -> Pools {
    let clover = SimConfig {
        workers: 6,
        now: Some(NOW),
        ..SimConfig::default()
    };
    let (clover_url, _) = clover_sim::spawn_local(Arc::new(Simulator::new(clover.clone())))
        .await
        .unwrap();
    let foundry = FoundrySimConfig {
        workers: 6,
        now: Some(NOW),
        ..FoundrySimConfig::default()
    };
    let (foundry_url, _) = foundry_sim::spawn_local(Arc::new(FoundrySim::new(foundry.clone())))
        .await
        .unwrap();
    Pools {
        clover,
        clover_url,
        foundry,
        foundry_url,
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// `poolhist ingest` in a child process, off the test's runtime (the simulators answer on it).
async fn poolhist(args: Vec<String>, db: &Path) -> std::process::Output {
    let db = db.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = poolhist_with_key(&db, "");
        command.env_remove("POOLHIST_ACCESS_KEY").args(&args);
        run(&mut command)
    })
    .await
    .unwrap()
}

fn accounts(db: &Path) -> Vec<(String, String, Option<i64>, i64)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT pool, account, puid, count(DISTINCT worker_id) FROM v_tickers \
             WHERE worker_id IS NOT NULL GROUP BY pool, account ORDER BY pool",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_config_file_collects_both_pools_with_their_own_keys() {
    let pools = start_pools().await;
    let dir = tempfile::tempdir().unwrap();
    write_private(&dir.path().join("clover.key"), &pools.clover.access_key);
    write_private(&dir.path().join("foundry.key"), &pools.foundry.access_key);
    let config = dir.path().join("poolhist.toml");
    std::fs::write(
        &config,
        format!(
            "db = \"farm.db\"\n\n\
             [[account]]\npool = \"btccom\"\npuid = {}\naccess_key_file = \"clover.key\"\napi_url = \"{}\"\n\n\
             [[account]]\npool = \"foundry\"\naccount = \"{}\"\naccess_key_file = \"foundry.key\"\napi_url = \"{}\"\n",
            pools.clover.puid, pools.clover_url, pools.foundry.sub_account, pools.foundry_url
        ),
    )
    .unwrap();
    let db = dir.path().join("farm.db");
    let args = vec![
        "ingest".into(),
        "--quiet".into(),
        "--now".into(),
        NOW.to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    // --db is given by the harness; the file's `db` names the same file.
    let output = poolhist(args, &db).await;
    assert!(output.status.success(), "{}", stderr_of(&output));
    let found = accounts(&db);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "cloverpool");
    assert_eq!(found[0].2, Some(pools.clover.puid));
    assert_eq!(found[1].0, "foundry");
    assert_eq!(found[1].1, pools.foundry.sub_account);
    assert_eq!(found[1].2, None);
    let text = format!(
        "{}{}",
        stderr_of(&output),
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(!text.contains(&pools.clover.access_key) && !text.contains(&pools.foundry.access_key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_foundry_key_is_one_line_naming_the_account_and_no_key() {
    let pools = start_pools().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("foundry.key");
    let wrong = "not-the-foundry-key-4711";
    write_private(&key_file, wrong);
    let db = dir.path().join("farm.db");
    let args = vec![
        "ingest".into(),
        "--pool".into(),
        "foundry".into(),
        "--account".into(),
        pools.foundry.sub_account.clone(),
        "--api-url".into(),
        pools.foundry_url.clone(),
        "--access-key-file".into(),
        key_file.display().to_string(),
        "--now".into(),
        NOW.to_string(),
    ];
    let output = poolhist(args, &db).await;
    assert!(!output.status.success());
    let stderr = stderr_of(&output);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("foundry account farm1"), "{stderr}");
    assert!(stderr.contains("HTTP 403"), "{stderr}");
    assert!(!stderr.contains(wrong), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_written_into_the_config_file_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("poolhist.toml");
    std::fs::write(
        &config,
        "[[account]]\npool = \"foundry\"\naccount = \"farm1\"\naccess_key = \"s3cr3t-in-the-file\"\n",
    )
    .unwrap();
    let args = vec![
        "ingest".into(),
        "--config".into(),
        config.display().to_string(),
    ];
    let output = poolhist(args, &dir.path().join("farm.db")).await;
    assert!(!output.status.success());
    let stderr = stderr_of(&output);
    assert!(stderr.contains("poolhist.toml:4"), "{stderr}");
    assert!(stderr.contains("access_key_file"), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
    assert!(!dir.path().join("farm.db").exists(), "nothing created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_run_evaluates_alerts_and_writes_the_textfile() {
    let pools = start_pools().await;
    let dir = tempfile::tempdir().unwrap();
    write_private(&dir.path().join("clover.key"), &pools.clover.access_key);
    write_private(&dir.path().join("foundry.key"), &pools.foundry.access_key);
    let config = dir.path().join("poolhist.toml");
    std::fs::write(
        &config,
        format!(
            "[[account]]\npool = \"cloverpool\"\npuid = {}\naccess_key_file = \"clover.key\"\napi_url = \"{}\"\n\n\
             [[account]]\npool = \"foundry\"\naccount = \"{}\"\naccess_key_file = \"foundry.key\"\napi_url = \"{}\"\n\n\
             [alerts.worker_down]\nhours = 3\n",
            pools.clover.puid, pools.clover_url, pools.foundry.sub_account, pools.foundry_url
        ),
    )
    .unwrap();
    let db = dir.path().join("farm.db");
    let textfile = dir.path().join("poolhist.prom");
    let args = vec![
        "ingest".into(),
        "--quiet".into(),
        "--alerts".into(),
        "--textfile".into(),
        textfile.display().to_string(),
        "--now".into(),
        NOW.to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    let output = poolhist(args, &db).await;
    let open: i64 = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM v_alerts WHERE state = 'open'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let expected_code = if open > 0 { 3 } else { 0 };
    assert_eq!(
        output.status.code(),
        Some(expected_code),
        "{}",
        stderr_of(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    if open > 0 {
        // --quiet still says what opened: cron mails it.
        assert!(stdout.starts_with("POOLHIST ALERT - "), "{stdout}");
    }
    let thresholds: Vec<f64> = {
        let conn = Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare("SELECT threshold FROM alerts WHERE rule = 'worker_down'")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert!(
        thresholds.iter().all(|t| *t == 3.0),
        "the config's hours: {thresholds:?}"
    );
    let metrics = std::fs::read_to_string(&textfile).unwrap();
    assert!(
        metrics.contains("poolhist_worker_up{pool=\"cloverpool\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("poolhist_worker_up{pool=\"foundry\""),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "poolhist_alerts_firing{{rule=\"worker_down\"}} {}",
        thresholds.len()
    )));
    let text = format!("{}{stdout}{metrics}", stderr_of(&output));
    assert!(!text.contains(&pools.clover.access_key) && !text.contains(&pools.foundry.access_key));
}
