//! Edge cases of the surroundings, found by an adversarial review: compressed bodies, redirects,
//! keys echoed in every encoding, other applications' databases (WAL left by a crash, another
//! application id, dangling links), separators and control characters in names and pool
//! messages, colour codes in cron mail, signals while waiting for the lock.

mod binary;
mod raw_server;
mod report_fixture;

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use binary::{poolhist_with_key, run, stderr_of, INGEST_NOWHERE};
use poolhist::http::{AccessKey, ApiError, ClientConfig};
use poolhist::pools::cloverpool::Client as PoolClient;
use raw_server::{serve, RawServer};
use report_fixture::{fixture, PUID, T0};
use rusqlite::{params, Connection};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "r_review_key_4711";
const MIB: u64 = 1024 * 1024;
const STATS_BODY: &str = r#"{"err_no":0,"data":{"workers_active":1,"workers_total":1}}"#;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn poolhist(db: &Path) -> Command {
    poolhist_with_key(db, KEY)
}

async fn run_async(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("poolhist runs"))
        .await
        .unwrap()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn dir_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Characters that drive a terminal or reorder / break displayed lines.
fn is_terminal_hazard(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

fn hazards(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| c != '\n' && is_terminal_hazard(c))
        .collect()
}

fn request_target(head: &str) -> String {
    head.split(' ').nth(1).unwrap_or_default().to_owned()
}

async fn reply_raw(mut stream: TcpStream, status: &str, extra_headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

fn client_config(base_url: &str) -> ClientConfig {
    let mut config = ClientConfig::new(
        base_url,
        AccessKey::new(KEY).unwrap(),
        poolhist::pools::cloverpool::PROTOCOL,
    );
    config.timeout = Duration::from_secs(20);
    config.max_attempts = 1;
    config.backoff_base = Duration::from_millis(1);
    config.max_backoff = Duration::from_millis(5);
    config
}

async fn within_60_s<T>(work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("finished within 60 s")
}

// ---------------------------------------------------------------------------------------------
// Body caps: the compressed size
// ---------------------------------------------------------------------------------------------

/// A gzip body whose compressed bytes inflate to (almost) nothing for a long time: `padding`
/// bytes of empty stored deflate blocks, then the real JSON. Each empty block is 5 bytes.
fn gzip_with_empty_blocks(json: &str, padding: usize) -> Vec<u8> {
    use flate2::write::DeflateEncoder;
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let empty_block = [0x00u8, 0x00, 0x00, 0xff, 0xff];
    out.reserve(padding + 1024);
    for _ in 0..padding / empty_block.len() {
        out.extend_from_slice(&empty_block);
    }
    let mut deflate = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflate.write_all(json.as_bytes()).unwrap();
    out.extend_from_slice(&deflate.finish().unwrap());
    let mut crc = flate2::Crc::new();
    crc.update(json.as_bytes());
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out
}

/// A gzip body with an FCOMMENT header field `comment_len` bytes long, then the JSON.
fn gzip_with_long_comment(json: &str, comment_len: usize) -> Vec<u8> {
    use flate2::write::DeflateEncoder;
    let mut out = vec![0x1f, 0x8b, 8, 0x10, 0, 0, 0, 0, 0, 0xff];
    out.resize(out.len() + comment_len, b'a');
    out.push(0);
    let mut deflate = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflate.write_all(json.as_bytes()).unwrap();
    out.extend_from_slice(&deflate.finish().unwrap());
    let mut crc = flate2::Crc::new();
    crc.update(json.as_bytes());
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out
}

/// Serves `body` gzip-encoded, close-delimited (no length), counting the bytes the socket took.
async fn serve_gzip(body: Arc<Vec<u8>>, sent: Arc<AtomicU64>) -> RawServer {
    serve(move |_head, mut stream, _port| {
        let body = Arc::clone(&body);
        let sent = Arc::clone(&sent);
        Box::pin(async move {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Content-Encoding: gzip\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for piece in body.chunks(64 * 1024) {
                if stream.write_all(piece).await.is_err() {
                    return;
                }
                sent.fetch_add(piece.len() as u64, Ordering::Relaxed);
            }
            let _ = stream.shutdown().await;
        })
    })
    .await
}

async fn compressed_cap_case(body: Vec<u8>) -> (Result<(), ApiError>, u64) {
    let sent = Arc::new(AtomicU64::new(0));
    let server = serve_gzip(Arc::new(body), Arc::clone(&sent)).await;
    let mut config = client_config(&server.base_url);
    config.max_body_bytes = MIB;
    let client = PoolClient::new(config, 1).unwrap();
    let result = within_60_s(client.stats()).await.map(|_| ());
    // Let the server notice a hang-up.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (result, sent.load(Ordering::Relaxed))
}

/// The issue asks for a cap on the compressed size too. A gzip stream of 48 MiB that inflates to
/// a 60-byte answer is not bounded by the decompressed count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bytes_are_capped_even_when_they_inflate_to_nothing() {
    let body = gzip_with_empty_blocks(STATS_BODY, 48 * MIB as usize);
    let (result, sent) = compressed_cap_case(body).await;
    assert!(
        sent <= 8 * MIB,
        "the client read {} MiB of compressed body with a 1 MiB cap; result: {result:?}",
        sent / MIB
    );
    let error = result.expect_err("a 48 MiB compressed body is refused");
    assert!(
        error.to_string().contains("/worker/stats") && error.to_string().contains("larger than"),
        "{error}"
    );
}

/// Same, with the 48 MiB in a gzip header comment, which the decoder reads before any output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bytes_are_capped_in_a_gzip_header_comment() {
    let body = gzip_with_long_comment(STATS_BODY, 48 * MIB as usize);
    let (result, sent) = compressed_cap_case(body).await;
    assert!(
        sent <= 8 * MIB,
        "the client read {} MiB of gzip header with a 1 MiB cap; result: {result:?}",
        sent / MIB
    );
    assert!(result.is_err(), "a 48 MiB gzip header is refused");
}

// ---------------------------------------------------------------------------------------------
// Redirects
// ---------------------------------------------------------------------------------------------

/// The pool answers the first request with a redirect to `location(port)`; later requests get
/// the stats body.
async fn redirecting_server(location: fn(u16) -> String) -> RawServer {
    let first = Arc::new(AtomicU64::new(0));
    serve(move |head, stream, port| {
        let first = Arc::clone(&first);
        Box::pin(async move {
            if first.fetch_add(1, Ordering::SeqCst) == 0 {
                let target = request_target(&head);
                let query = target.split_once('?').map(|x| x.1).unwrap_or_default();
                let location = location(port).replace("{query}", query);
                let headers = format!("Location: {location}\r\n");
                reply_raw(stream, "302 Found", &headers, b"").await;
            } else {
                reply_raw(
                    stream,
                    "200 OK",
                    "Content-Type: application/json\r\n",
                    STATS_BODY.as_bytes(),
                )
                .await;
            }
        })
    })
    .await
}

async fn other_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Same host (127.0.0.1), another port: another origin, so never followed; the other port gets
/// no connection at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_the_same_host_on_another_port_is_refused() {
    let (other, other_port) = other_listener().await;
    static PORT: AtomicU64 = AtomicU64::new(0);
    PORT.store(u64::from(other_port), Ordering::SeqCst);
    let server = redirecting_server(|_| {
        format!(
            "http://127.0.0.1:{}/v1/worker/stats?{{query}}",
            PORT.load(Ordering::SeqCst)
        )
    })
    .await;
    let client = PoolClient::new(client_config(&server.base_url), 1).unwrap();
    let error = within_60_s(client.stats()).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("another origin"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    let accepted = tokio::time::timeout(Duration::from_millis(300), other.accept()).await;
    assert!(accepted.is_err(), "the other port got a connection");
}

/// http -> https on the same host and port: the scheme differs, so the origin does. Refused,
/// with a message naming the https origin (the user can fix --api-url).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_http_to_https_of_the_same_host_is_refused_clearly() {
    let server =
        redirecting_server(|port| format!("https://127.0.0.1:{port}/v1/worker/stats?{{query}}"))
            .await;
    let client = PoolClient::new(client_config(&server.base_url), 1).unwrap();
    let error = within_60_s(client.stats()).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("another origin") && text.contains("https://127.0.0.1"),
        "{text}"
    );
    assert!(
        !text.contains(KEY) && !text.contains("access_key"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);
}

/// A Location carrying userinfo on the pool's own origin: followed or refused, the userinfo and
/// the key never appear in the error, and nothing goes elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_with_userinfo_never_shows_it_or_the_key() {
    let server = redirecting_server(|port| {
        format!("http://evil:hunter2@127.0.0.1:{port}/v1/worker/stats?{{query}}")
    })
    .await;
    let client = PoolClient::new(client_config(&server.base_url), 1).unwrap();
    let result = within_60_s(client.stats()).await;
    if let Err(error) = &result {
        let text = error.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains(KEY),
            "error shows userinfo or key: {text}"
        );
    }
    for head in server.requests() {
        assert!(
            !head.to_ascii_lowercase().contains("\r\nreferer:"),
            "Referer sent: {head}"
        );
    }
    eprintln!(
        "userinfo redirect outcome: {:?}",
        result.map(|_| "followed")
    );
}

/// A scheme-relative Location (`//host:port/...`) to another port is another origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheme_relative_redirect_elsewhere_is_refused() {
    let (other, other_port) = other_listener().await;
    static PORT: AtomicU64 = AtomicU64::new(0);
    PORT.store(u64::from(other_port), Ordering::SeqCst);
    let server = redirecting_server(|_| {
        format!(
            "//localhost:{}/v1/worker/stats?{{query}}",
            PORT.load(Ordering::SeqCst)
        )
    })
    .await;
    let client = PoolClient::new(client_config(&server.base_url), 1).unwrap();
    let error = within_60_s(client.stats()).await.unwrap_err();
    assert!(error.to_string().contains("another origin"), "{error}");
    let accepted = tokio::time::timeout(Duration::from_millis(300), other.accept()).await;
    assert!(accepted.is_err(), "the other port got a connection");
}

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

/// A pool error whose message holds the key just where the 300-character cut falls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_err_msg_across_the_truncation_point_is_still_hidden() {
    for offset in [285usize, 290, 295, 298, 299, 300, 301] {
        let message = format!("{}{KEY}{}", "x".repeat(offset), " tail".repeat(20));
        let body = serde_json::json!({"err_no": 20001, "err_msg": message}).to_string();
        let server = serve(move |_h, stream, _p| {
            let body = body.clone();
            Box::pin(async move {
                reply_raw(
                    stream,
                    "200 OK",
                    "Content-Type: application/json\r\n",
                    body.as_bytes(),
                )
                .await
            })
        })
        .await;
        let client = PoolClient::new(client_config(&server.base_url), 1).unwrap();
        let text = within_60_s(client.stats()).await.unwrap_err().to_string();
        for len in 6..=KEY.len() {
            for start in 0..=KEY.len() - len {
                let piece = &KEY[start..start + len];
                if piece.chars().all(|c| c == 'x') {
                    continue;
                }
                assert!(
                    !text.contains(piece),
                    "offset {offset}: a {len}-char piece of the key ({piece}) shows: {text}"
                );
            }
        }
    }
}

/// A key echoed in a response header and in an HTML error page, with every log level on: the
/// binary's stderr never shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_echoed_in_a_header_or_an_html_page_never_reaches_stderr() {
    let server = serve(|head, stream, _p| {
        Box::pin(async move {
            let target = request_target(&head);
            let headers =
                format!("Content-Type: text/html\r\nX-Echo: {target}\r\nX-Key: {KEY}\r\n");
            let body =
                format!("<html><body><h1>500</h1><p>key {KEY} at {target}</p></body></html>");
            reply_raw(
                stream,
                "500 Internal Server Error",
                &headers,
                body.as_bytes(),
            )
            .await;
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("farm.db");
    let mut command = poolhist(&db);
    command
        .env("POOLHIST_LOG", "trace")
        .args([
            "ingest",
            "--puid",
            "1",
            "--max-attempts",
            "2",
            "--timeout",
            "5",
        ])
        .args(["--api-url", &server.base_url]);
    let output = run_async(command).await;
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert!(stderr.lines().count() > 3, "trace level was on: {stderr}");
    assert!(!stderr.contains(KEY), "key on stderr:\n{stderr}");
    assert!(
        !stderr.contains("review_key"),
        "part of the key on stderr:\n{stderr}"
    );
}

/// The pool's err_msg carries terminal escapes, CR and a bidi override. Every stderr line (the
/// retry warnings too, not only the final error) shows them escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_err_msg_never_reach_stderr_raw() {
    let message = "busy\x1b]0;pwned\x07\x1b[2J\rOK \u{202e}gnp.exe\u{2028}next";
    let body = serde_json::json!({"err_no": 2, "err_msg": message}).to_string();
    let server = serve(move |_h, stream, _p| {
        let body = body.clone();
        Box::pin(async move {
            reply_raw(
                stream,
                "200 OK",
                "Content-Type: application/json\r\n",
                body.as_bytes(),
            )
            .await
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("farm.db");
    let mut command = poolhist(&db);
    command
        .env("NO_COLOR", "1")
        .args([
            "ingest",
            "--puid",
            "1",
            "--max-attempts",
            "2",
            "--timeout",
            "5",
        ])
        .args(["--api-url", &server.base_url]);
    let output = run_async(command).await;
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("busy"), "{stderr}");
    let raw = hazards(&stderr);
    assert!(
        raw.is_empty(),
        "stderr carries raw {raw:?}:\n{}",
        stderr.escape_debug()
    );
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(
        errors,
        1,
        "the error is said once:\n{}",
        stderr.escape_debug()
    );
}

// ---------------------------------------------------------------------------------------------
// The key file
// ---------------------------------------------------------------------------------------------

/// A key file saved by a Windows editor: BOM, the key, trailing spaces and tab, CRLF, more lines.
/// The pool receives exactly the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_with_bom_crlf_and_trailing_spaces_sends_exactly_the_key() {
    let server = serve(|_h, stream, _p| {
        Box::pin(async move {
            let body = r#"{"err_no":20001,"err_msg":"invalid access key"}"#;
            reply_raw(
                stream,
                "200 OK",
                "Content-Type: application/json\r\n",
                body.as_bytes(),
            )
            .await
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    for (i, contents) in [
        format!("\u{feff}{KEY}  \t\r\nsecond line\r\n"),
        format!("\u{feff}  {KEY} \r\n"),
        format!("\u{feff}{KEY}\r"),
        format!("{KEY}\u{a0}\n"),
    ]
    .iter()
    .enumerate()
    {
        let key_file = dir.path().join(format!("key{i}.txt"));
        std::fs::write(&key_file, contents).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let db = dir.path().join(format!("farm{i}.db"));
        let mut command = poolhist(&db);
        command
            .env_remove("POOLHIST_ACCESS_KEY")
            .args(["ingest", "--puid", "1", "--max-attempts", "1"])
            .args(["--api-url", &server.base_url, "--access-key-file"])
            .arg(&key_file);
        let before = server.requests().len();
        let output = run_async(command).await;
        let stderr = stderr_of(&output);
        let heads = server.requests();
        assert!(heads.len() > before, "{i}: nothing sent: {stderr}");
        let target = request_target(&heads[before]);
        assert!(
            target.contains(&format!("access_key={KEY}&")),
            "{i}: {contents:?} sent {target}; stderr {stderr}"
        );
        assert!(!stderr.contains("readable by others"), "{i}: {stderr}");
    }
}

// ---------------------------------------------------------------------------------------------
// Other applications' databases
// ---------------------------------------------------------------------------------------------

/// A database another application has claimed with its own application_id but not yet filled
/// (no tables): it is not poolhist's to take.
#[test]
fn a_database_with_another_application_id_and_no_tables_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other-app.db");
    {
        let conn = Connection::open(&db).unwrap();
        conn.pragma_update(None, "application_id", 0x0f05_5112_i64)
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    assert!(!before.is_empty());
    let mut problems = Vec::new();
    for args in [&["status"][..], &INGEST_NOWHERE[..]] {
        let output = run(poolhist(&db).args(args));
        let stderr = stderr_of(&output);
        if std::fs::read(&db).unwrap() != before {
            problems.push(format!(
                "{args:?} changed another application's database: {stderr}"
            ));
        }
        if !stderr.contains("not a poolhist database") {
            problems.push(format!("{args:?} said: {stderr}"));
        }
    }
    let app_id: i64 = Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert!(
        problems.is_empty(),
        "{problems:#?}\napplication_id now {app_id:#x}"
    );
}

/// Another application's WAL database as a crash left it: committed pages in `-wal`, no `-shm`.
/// Every command refuses it, and nothing is written or created beside it.
#[test]
fn a_foreign_wal_database_with_a_wal_file_and_no_shm_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db");
    let db = dir.path().join("crashed.db");
    let conn = Connection::open(&source).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute_batch(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
         INSERT INTO notes (body) VALUES ('first'), ('second');",
    )
    .unwrap();
    // Copy while the connection is open: the state a crash leaves (the -shm is not copied).
    std::fs::copy(&source, &db).unwrap();
    std::fs::copy(with_suffix(&source, "-wal"), with_suffix(&db, "-wal")).unwrap();
    drop(conn);
    let wal = with_suffix(&db, "-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    let main_before = std::fs::read(&db).unwrap();
    let wal_before = std::fs::read(&wal).unwrap();

    let commands: [&[&str]; 4] = [
        &INGEST_NOWHERE,
        &["status"],
        &["sql", "SELECT 1"],
        &["gaps"],
    ];
    let mut problems = Vec::new();
    for args in commands {
        let output = run(poolhist(&db).args(args));
        let stderr = stderr_of(&output);
        if output.status.success() || !stderr.contains("not a poolhist database") {
            problems.push(format!(
                "{args:?}: exit {:?}: {stderr}",
                output.status.code()
            ));
        }
        if std::fs::read(&db).unwrap() != main_before {
            problems.push(format!("{args:?} changed the main file"));
        }
        if std::fs::read(&wal).unwrap() != wal_before {
            problems.push(format!("{args:?} changed the -wal file"));
        }
        for suffix in ["-shm", "-journal", ".lock"] {
            let extra = with_suffix(&db, suffix);
            if extra.exists() {
                problems.push(format!("{args:?} created {suffix}"));
                let _ = std::fs::remove_file(extra);
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// `--db` names a symlink to another application's database: refused, the target untouched.
#[cfg(unix)]
#[test]
fn a_db_path_symlinked_to_a_foreign_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("notes.db");
    Connection::open(&target)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);")
        .unwrap();
    let before = std::fs::read(&target).unwrap();
    let link = dir.path().join("farm.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for args in [&INGEST_NOWHERE[..], &["status"]] {
        let output = run(poolhist(&link).args(args));
        let stderr = stderr_of(&output);
        assert!(!output.status.success());
        assert!(stderr.contains("not a poolhist database"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(std::fs::read(&target).unwrap() == before);
    }
}

/// `--db` names a dangling symlink: whatever poolhist does, a database it creates holds account
/// data and must be 0600 from the start (and ideally it does not create through the link).
#[cfg(unix)]
#[test]
fn a_dangling_symlink_at_the_db_path_never_yields_a_world_readable_database() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere.db");
    let link = dir.path().join("farm.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let output = run(poolhist(&link).args(INGEST_NOWHERE));
    let stderr = stderr_of(&output);
    if target.exists() {
        assert_eq!(
            mode_of(&target),
            0o600,
            "the database created through the link is mode {:o}; stderr: {stderr}",
            mode_of(&target)
        );
    }
}

/// A zero-length file: every read-only command says it holds no poolhist data, in one line,
/// rather than an SQL error about a missing table.
#[test]
fn reports_on_an_empty_file_say_so_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    std::fs::write(&db, "").unwrap();
    for args in [
        &["status"][..],
        &["gaps"],
        &["report", "uptime", "--month", "2026-10"],
    ] {
        let output = run(poolhist(&db).args(args));
        let stderr = stderr_of(&output);
        assert!(!output.status.success(), "{args:?} exit 0");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            !stderr.contains("no such table"),
            "{args:?} shows SQLite's internals: {stderr}"
        );
        assert_eq!(std::fs::read(&db).unwrap().len(), 0, "{args:?} wrote");
    }
}

// ---------------------------------------------------------------------------------------------
// Names on the terminal
// ---------------------------------------------------------------------------------------------

/// The report fixture plus worker 77 whose name holds line / paragraph separators and zero-width
/// joiners, up all day on 2026-10-01.
fn fixture_with_name(name: &str) -> report_fixture::Fixture {
    let f = fixture();
    f.conn
        .execute(
            "INSERT INTO workers (account_id, worker_id, worker_name, gid, status, first_seen, last_seen)
             VALUES (?1, 77, ?2, 1, 'ACTIVE', ?3, ?3)",
            params![PUID, name, T0],
        )
        .unwrap();
    f.conn
        .execute(
            "INSERT INTO series (account_id, worker_id, dimension, watermark_ts, last_synced_at)
             VALUES (?1, 77, '1h', ?2, ?2)",
            params![PUID, T0 + 23 * 3600],
        )
        .unwrap();
    let series = f.conn.last_insert_rowid();
    for hour in 0..24 {
        f.conn
            .execute(
                "INSERT INTO tickers (series_id, ts, hashrate_hs, reject_rate, provisional)
                 VALUES (?1, ?2, 1e12, 0.01, 0)",
                params![series, T0 + hour * 3600],
            )
            .unwrap();
    }
    poolhist::store::rebuild_hourly_by_day(&f.conn).unwrap();
    f
}

/// U+2028 / U+2029 are line breaks to many renderers and to anything splitting on Unicode line
/// boundaries; in a table they break the row. Shown escaped like \n.
#[test]
fn line_and_paragraph_separators_in_names_are_shown_escaped() {
    let f = fixture_with_name("rig\u{2028}fake row\u{2029}x\u{85}y");
    let mut problems = Vec::new();
    for format in ["table", "csv", "markdown"] {
        let output =
            run(poolhist(&f.path)
                .args(["report", "uptime", "--month", "2026-10", "--format", format]));
        assert!(output.status.success(), "{}", stderr_of(&output));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let raw = hazards(&stdout);
        if !raw.is_empty() {
            problems.push(format!("{format}: raw {raw:?}"));
        }
    }
    let output = run(poolhist(&f.path).args([
        "sql",
        "SELECT worker_name FROM v_workers WHERE worker_id = 77",
        "--format",
        "json",
    ]));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let raw = hazards(&stdout);
    if !raw.is_empty() {
        problems.push(format!("sql json: raw {raw:?}"));
    }
    let out = tempfile::tempdir().unwrap();
    let output = run(poolhist(&f.path)
        .args(["report", "monthly", "--month", "2026-10", "--out"])
        .arg(out.path()));
    assert!(output.status.success(), "{}", stderr_of(&output));
    let md = std::fs::read_to_string(out.path().join("poolhist-2026-10.md")).unwrap();
    let raw = hazards(&md);
    if !raw.is_empty() {
        problems.push(format!("monthly .md: raw {raw:?}"));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Zero-width joiners and spaces: every row of the table keeps the same width, as a terminal
/// shows it (zero-width characters take no cell).
#[test]
fn zero_width_characters_in_names_keep_the_table_aligned() {
    let f = fixture_with_name("rig\u{200d}\u{200b}\u{2060}-zw");
    let output = run(poolhist(&f.path).args([
        "sql",
        "SELECT worker_name, worker_id FROM v_workers ORDER BY worker_id",
    ]));
    assert!(output.status.success(), "{}", stderr_of(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let width = |line: &str| {
        line.chars()
            .filter(|c| !matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}'))
            .count()
    };
    let table: Vec<&str> = stdout.lines().skip(2).collect();
    let widths: Vec<usize> = table.iter().map(|l| width(l)).collect();
    assert!(
        widths.windows(2).all(|w| w[0] == w[1]),
        "rows of different widths {widths:?}:\n{stdout}"
    );
}

/// `poolhist sql --format json`: quotes, backslashes, controls, separators and bidi controls in
/// names and column names decode back to exactly what was stored, and nothing raw is printed.
#[test]
fn sql_json_round_trips_hostile_text_and_prints_nothing_raw() {
    let name = "q\"b\\s/\u{1b}[1m\u{7f}\u{9b}\u{202e}\u{2028}\u{2029}\u{feff}é\u{0}end";
    let f = fixture_with_name(name);
    let output = run(poolhist(&f.path).args([
        "sql",
        "SELECT worker_name AS \"n\u{202e}\u{1b}\", worker_id FROM v_workers WHERE worker_id = 77",
        "--format",
        "json",
    ]));
    assert!(output.status.success(), "{}", stderr_of(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let raw: Vec<char> = hazards(&stdout)
        .into_iter()
        .filter(|c| !matches!(c, '\u{2028}' | '\u{2029}'))
        .collect();
    assert!(raw.is_empty(), "raw {raw:?}: {}", stdout.escape_debug());
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows[0]["n\u{202e}\u{1b}"], name);
    assert_eq!(rows[0]["worker_id"], 77);
}

// ---------------------------------------------------------------------------------------------
// Monthly files
// ---------------------------------------------------------------------------------------------

#[test]
fn monthly_into_a_missing_nested_directory_creates_it() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a/b/c");
    let output = run(poolhist(&f.path)
        .args(["report", "monthly", "--month", "2026-10", "--out"])
        .arg(&out));
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(out.join("poolhist-2026-10.html").is_file());
    #[cfg(unix)]
    assert_eq!(mode_of(&out.join("poolhist-2026-10.md")), 0o600);
}

/// A directory where a report file goes: one line naming the path, no temporary file left, and
/// the directory (and what it holds) untouched.
#[test]
fn a_directory_at_a_monthly_output_path_is_an_error_and_leaves_no_temp_file() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let blocker = out.join("poolhist-2026-10.md");
    std::fs::create_dir_all(&blocker).unwrap();
    std::fs::write(blocker.join("keep.txt"), "keep").unwrap();
    let output = run(poolhist(&f.path)
        .args(["report", "monthly", "--month", "2026-10", "--out"])
        .arg(&out));
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&*blocker.to_string_lossy()), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(blocker.join("keep.txt")).unwrap(),
        "keep"
    );
    let names = dir_listing(&out);
    assert!(
        names.iter().all(|n| !n.ends_with(".tmp")),
        "temporary file left: {names:?}"
    );
    assert!(!stderr.contains("os error"), "raw OS error text: {stderr}");
}

/// `--out` is an existing regular file: one line, the file untouched.
#[test]
fn monthly_out_naming_a_regular_file_is_one_line_and_leaves_it() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.txt");
    std::fs::write(&out, "mine").unwrap();
    let output = run(poolhist(&f.path)
        .args(["report", "monthly", "--month", "2026-10", "--out"])
        .arg(&out));
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
}

// ---------------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------------

/// SIGTERM while the pool sits on the first directory request: exit 143, one line, the run
/// recorded as interrupted.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_the_directory_listing_exits_143_with_one_line() {
    let server = serve(|_h, stream, _p| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(stream);
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("farm.db");
    let child = poolhist(&db)
        .args(["ingest", "--puid", "1", "--timeout", "50"])
        .args(["--api-url", &server.base_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.requests().is_empty() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!server.requests().is_empty(), "the ingest reached the pool");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    let status: String = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT status FROM ingest_runs ORDER BY run_id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "failed");
}

/// Ctrl-C while `--wait` waits for another ingest's lock: exit 130 with one line, like any other
/// interruption (not a silent death by signal).
#[cfg(unix)]
#[test]
fn ctrl_c_while_waiting_for_the_lock_exits_130_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("farm.db");
    let _held = poolhist::store::lock::acquire(&db).unwrap();
    let child = poolhist(&db)
        .args(INGEST_NOWHERE)
        .arg("--wait")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    let stderr = stderr_of(&output);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("waiting for"))
        .collect();
    assert_eq!(
        output.status.code(),
        Some(130),
        "status {:?}; stderr: {stderr}",
        output.status
    );
    assert_eq!(errors.len(), 1, "{stderr}");
}

/// stderr is a pipe (cron mails it): log lines carry no ANSI colour sequences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_on_a_piped_stderr_carry_no_colour_codes() {
    let server = serve(move |_h, stream, _p| {
        Box::pin(async move {
            let body = r#"{"err_no":2,"err_msg":"busy"}"#;
            reply_raw(
                stream,
                "200 OK",
                "Content-Type: application/json\r\n",
                body.as_bytes(),
            )
            .await
        })
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("farm.db");
    let mut command = poolhist(&db);
    command
        .env_remove("NO_COLOR")
        .args([
            "ingest",
            "--puid",
            "1",
            "--max-attempts",
            "2",
            "--timeout",
            "5",
        ])
        .args(["--api-url", &server.base_url]);
    let output = run_async(command).await;
    let stderr = stderr_of(&output);
    assert!(stderr.contains("retrying"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escape sequences on a piped stderr: {}",
        stderr.escape_debug()
    );
}

/// A pool error message with the key percent-encoded twice (a pool echoing a URL inside a URL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doubly_encoded_key_in_err_msg_is_hidden() {
    let key_with_tilde = "r_review~key/4711";
    let twice = "r_review%257Ekey%252F4711";
    let body = serde_json::json!({"err_no": 20001, "err_msg": format!("bad request /x?next=%2Fv1%3Faccess_key%3D{twice}")}).to_string();
    let server = serve(move |_h, stream, _p| {
        let body = body.clone();
        Box::pin(async move {
            reply_raw(
                stream,
                "200 OK",
                "Content-Type: application/json\r\n",
                body.as_bytes(),
            )
            .await
        })
    })
    .await;
    let mut config = client_config(&server.base_url);
    config.access_key = AccessKey::new(key_with_tilde).unwrap();
    let client = PoolClient::new(config, 1).unwrap();
    let text = within_60_s(client.stats()).await.unwrap_err().to_string();
    assert!(!text.contains("4711"), "{text}");
}
