//! The client against a broken or hostile pool on loopback: bodies too large to hold, redirects
//! that would take the key elsewhere, and error messages that echo the request.

mod raw_server;

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use poolhist::http::secret::redact;
use poolhist::http::{AccessKey, ApiError, ClientConfig};
use poolhist::model::Dimension;
use poolhist::pools::cloverpool::Client as PoolClient;
use proptest::prelude::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use raw_server::serve;

const MIB: u64 = 1024 * 1024;
const KEY: &str = "r_hostile_key_123";
const STATS_BODY: &str = r#"{"err_no":0,"data":{"workers_active":1,"workers_total":1}}"#;

/// The request target (`/v1/...?...`) from a request head.
fn request_target(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or_default()
}

fn has_referer(head: &str) -> bool {
    head.to_ascii_lowercase().contains("\r\nreferer:")
}

async fn reply_json(mut stream: TcpStream, status: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}

/// Writes `head` then `body_bytes` of filler, counting what the socket accepted, until the client
/// hangs up.
async fn reply_filler(mut stream: TcpStream, head: String, body_bytes: u64, sent: Arc<AtomicU64>) {
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let piece = vec![b' '; 64 * 1024];
    let mut remaining = body_bytes;
    while remaining > 0 {
        let len = remaining.min(piece.len() as u64) as usize;
        if stream.write_all(&piece[..len]).await.is_err() {
            return;
        }
        sent.fetch_add(len as u64, Ordering::Relaxed);
        remaining -= len as u64;
    }
}

fn config(base_url: &str, key: &str) -> ClientConfig {
    let mut config = ClientConfig::new(
        base_url,
        AccessKey::new(key).unwrap(),
        poolhist::pools::cloverpool::PROTOCOL,
    );
    config.timeout = Duration::from_secs(10);
    config.max_attempts = 1;
    config.backoff_base = Duration::from_millis(1);
    config.max_backoff = Duration::from_millis(5);
    config
}

/// Every test is bounded in time, whatever the client does.
async fn within_30_s<T>(work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("finished within 30 s")
}

async fn account_history(client: &PoolClient) -> Result<(), ApiError> {
    client
        .share_history(None, Dimension::Hour, 1_763_600_400, 720)
        .await
        .map(|_| ())
}

const HISTORY_LABEL: &str = "/worker/share-history [1h, start_ts 1763600400]";

fn assert_too_large(error: &ApiError, limit: &str) {
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "{HISTORY_LABEL}: response body larger than {limit}"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_64_mib_body_is_refused_from_its_content_length_naming_the_endpoint() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    let pool = serve(move |_, stream, _| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            64 * MIB
        );
        Box::pin(reply_filler(stream, head, 64 * MIB, Arc::clone(&counter)))
    })
    .await;
    let mut config = config(&pool.base_url, KEY);
    config.max_body_bytes = MIB;
    let client = PoolClient::new(config, 1).unwrap();

    let started = Instant::now();
    let error = within_30_s(account_history(&client)).await.unwrap_err();
    assert_too_large(&error, "1 MiB");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Hung up instead of reading on: the server got rid of no more than the socket buffers.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        sent.load(Ordering::Relaxed) < 32 * MIB,
        "{sent:?} bytes sent"
    );
}

#[tokio::test]
async fn a_64_mib_body_without_a_length_is_cut_at_the_cap() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    let pool = serve(move |_, stream, _| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
        Box::pin(reply_filler(
            stream,
            head.to_owned(),
            64 * MIB,
            Arc::clone(&counter),
        ))
    })
    .await;
    let mut config = config(&pool.base_url, KEY);
    config.max_body_bytes = MIB;
    let client = PoolClient::new(config, 1).unwrap();

    let error = within_30_s(account_history(&client)).await.unwrap_err();
    assert_too_large(&error, "1 MiB");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        sent.load(Ordering::Relaxed) < 32 * MIB,
        "{sent:?} bytes sent"
    );
}

#[tokio::test]
async fn an_endless_chunked_body_is_cut_at_the_cap() {
    let pool = serve(|_, mut stream, _| {
        Box::pin(async move {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let mut chunk = b"10000\r\n".to_vec();
            chunk.extend(std::iter::repeat_n(b' ', 0x10000));
            chunk.extend_from_slice(b"\r\n");
            while stream.write_all(&chunk).await.is_ok() {}
        })
    })
    .await;
    let mut config = config(&pool.base_url, KEY);
    config.max_body_bytes = MIB;
    // Short enough that the unbounded client of old would stop on its own.
    config.timeout = Duration::from_secs(5);
    let client = PoolClient::new(config, 1).unwrap();

    let error = within_30_s(account_history(&client)).await.unwrap_err();
    assert_too_large(&error, "1 MiB");
}

/// Asks for the account history from a pool answering with 200 MiB of spaces, gzipped.
async fn fetch_a_gzip_bomb() -> ApiError {
    let inflated_bytes = 200 * MIB;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let spaces = vec![b' '; MIB as usize];
    for _ in 0..inflated_bytes / MIB {
        encoder.write_all(&spaces).unwrap();
    }
    let bomb = Arc::new(encoder.finish().unwrap());
    assert!(
        (bomb.len() as u64) < MIB,
        "the compressed body fits the cap"
    );

    let pool = serve(move |_, mut stream, _| {
        let bomb = Arc::clone(&bomb);
        Box::pin(async move {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                bomb.len()
            );
            if stream.write_all(head.as_bytes()).await.is_ok() {
                let _ = stream.write_all(&bomb).await;
            }
        })
    })
    .await;
    let mut config = config(&pool.base_url, KEY);
    config.max_body_bytes = MIB;
    let client = PoolClient::new(config, 1).unwrap();
    within_30_s(account_history(&client)).await.unwrap_err()
}

#[tokio::test]
async fn a_gzip_bomb_is_cut_at_the_cap() {
    assert_too_large(&fetch_a_gzip_bomb().await, "1 MiB");
}

const PEAK_LINE: &str = "peak resident KiB: ";

#[tokio::test]
#[ignore = "run by a_gzip_bomb_costs_little_memory, in a process of its own"]
async fn gzip_bomb_alone_in_this_process() {
    fetch_a_gzip_bomb().await;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        let peak_kib = line.split_whitespace().nth(1).unwrap_or_default();
        println!("{PEAK_LINE}{peak_kib}");
    }
}

/// Peak memory is process-wide (and a panic's backtrace alone costs 200 MB in a debug build), so
/// the bomb is fetched in a test process of its own.
#[test]
fn a_gzip_bomb_costs_little_memory() {
    // Without /proc (not Linux) there is no peak to check.
    let has_proc = std::path::Path::new("/proc/self/status").exists();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "gzip_bomb_alone_in_this_process"])
        .args(["--nocapture", "--test-threads", "1"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    // libtest may print the test's name on the same line, before its output.
    let peak_kib = stdout
        .lines()
        .find_map(|line| Some(line.split_once(PEAK_LINE)?.1))
        .and_then(|kib| kib.split_whitespace().next()?.parse::<u64>().ok());
    let Some(peak_kib) = peak_kib else {
        assert!(!has_proc, "no peak reported: {stdout}");
        return;
    };
    assert!(peak_kib < 100 * 1024, "peak RSS {peak_kib} KiB");
}

#[tokio::test]
async fn an_oversized_body_is_tried_three_times_not_ten() {
    let pool = serve(|_, stream, _| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
        let sent = Arc::new(AtomicU64::new(0));
        Box::pin(reply_filler(stream, head.to_owned(), 2 * MIB, sent))
    })
    .await;
    let mut config = config(&pool.base_url, KEY);
    config.max_body_bytes = MIB;
    config.max_attempts = 10;
    let client = PoolClient::new(config, 1).unwrap();

    let error = within_30_s(account_history(&client)).await.unwrap_err();
    assert_too_large(&error, "1 MiB");
    assert!(error.to_string().contains("gave up after 3 attempts"));
    assert_eq!(pool.requests().len(), 3);
}

#[tokio::test]
async fn a_body_of_exactly_the_cap_is_read_and_one_byte_more_is_not() {
    let cap_bytes = 100_000;
    let exact = format!("{STATS_BODY}{}", " ".repeat(cap_bytes - STATS_BODY.len()));
    for (body, fits) in [(exact.clone(), true), (format!("{exact} "), false)] {
        let pool = serve(move |_, mut stream, _| {
            let body = body.clone();
            Box::pin(async move {
                // Chunked in small pieces, so the cap is checked across many reads.
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                            Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                let mut response = head.as_bytes().to_vec();
                for piece in body.as_bytes().chunks(999) {
                    response.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    response.extend_from_slice(piece);
                    response.extend_from_slice(b"\r\n");
                }
                response.extend_from_slice(b"0\r\n\r\n");
                let _ = stream.write_all(&response).await;
            })
        })
        .await;
        let mut config = config(&pool.base_url, KEY);
        config.max_body_bytes = cap_bytes as u64;
        let client = PoolClient::new(config, 1).unwrap();
        let outcome = within_30_s(client.stats()).await;
        if fits {
            outcome.expect("a body of exactly the cap is accepted");
        } else {
            let text = outcome.unwrap_err().to_string();
            assert!(
                text.contains("/worker/stats: response body larger than 100000 bytes"),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_refused_and_the_other_host_gets_nothing() {
    let other = serve(|_, stream, _| Box::pin(reply_json(stream, "200 OK", STATS_BODY))).await;
    // The Location carries the key, as a pool echoing its own request would send it.
    let elsewhere = format!("{}/worker/stats?access_key={KEY}&puid=1", other.base_url);
    let pool = serve(move |_, mut stream, _| {
        let response = format!(
            "HTTP/1.1 302 Found\r\nLocation: {elsewhere}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        );
        Box::pin(async move {
            let _ = stream.write_all(response.as_bytes()).await;
        })
    })
    .await;
    let mut config = config(&pool.base_url, KEY);
    config.max_attempts = 10;
    let client = PoolClient::new(config, 1).unwrap();

    let error = within_30_s(client.stats()).await.unwrap_err();
    let text = error.to_string();
    assert!(other.requests().is_empty(), "{:?}", other.requests());
    assert_eq!(pool.requests().len(), 1, "refused at once, not retried");
    assert!(text.starts_with("/worker/stats: "), "{text}");
    assert!(text.contains(&other.host_port), "{text}");
    assert!(
        !text.contains(KEY) && !text.contains("access_key"),
        "{text}"
    );
    assert!(!pool.requests().iter().any(|head| has_referer(head)));
}

#[tokio::test]
async fn a_same_origin_redirect_is_followed_without_a_referer() {
    let pool = serve(|head, mut stream, _| {
        let target = request_target(&head).to_owned();
        Box::pin(async move {
            if target.starts_with("/v1/moved/") {
                reply_json(stream, "200 OK", STATS_BODY).await;
            } else {
                let moved = target.replacen("/v1/", "/v1/moved/", 1);
                let response = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {moved}\r\nContent-Length: 0\r\n\
                     Connection: close\r\n\r\n"
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        })
    })
    .await;
    let client = PoolClient::new(config(&pool.base_url, KEY), 1).unwrap();

    within_30_s(client.stats())
        .await
        .expect("a redirect on the pool's own origin is followed");
    let requests = pool.requests();
    assert_eq!(requests.len(), 2);
    assert!(request_target(&requests[1]).starts_with("/v1/moved/worker/stats?"));
    assert!(
        !requests.iter().any(|head| has_referer(head)),
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_redirect_loop_on_the_pool_stops_after_a_few_hops() {
    let pool = serve(|head, mut stream, _| {
        let target = request_target(&head).to_owned();
        Box::pin(async move {
            let response = format!(
                "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            );
            let _ = stream.write_all(response.as_bytes()).await;
        })
    })
    .await;
    let mut config = config(&pool.base_url, KEY);
    config.max_attempts = 10;
    let client = PoolClient::new(config, 1).unwrap();

    let text = within_30_s(client.stats()).await.unwrap_err().to_string();
    assert!(
        text.contains("/worker/stats: more than 5 redirects"),
        "{text}"
    );
    assert!(!text.contains(KEY), "{text}");
    assert_eq!(
        pool.requests().len(),
        6,
        "the request and five hops, no retry"
    );
}

/// How a pool may echo the request target in `err_msg`.
#[derive(Debug, Clone, Copy)]
enum Echo {
    AsReceived,
    LowercaseHex,
    Decoded,
}

impl Echo {
    fn apply(self, target: &str) -> String {
        match self {
            Echo::AsReceived => target.to_owned(),
            Echo::LowercaseHex => lowercase_hex(target),
            Echo::Decoded => form_decode(target),
        }
    }
}

/// `%2F` -> `%2f`, leaving everything else alone.
fn lowercase_hex(text: &str) -> String {
    let mut out = String::new();
    let mut hex_digits_left = 0;
    for c in text.chars() {
        if c == '%' {
            hex_digits_left = 2;
            out.push(c);
        } else if hex_digits_left > 0 {
            hex_digits_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Only builds requests, never sends one.
static REQUEST_BUILDER: LazyLock<reqwest::Client> = LazyLock::new(reqwest::Client::new);

/// The key as reqwest puts it in the query: the very encoder the client uses.
fn as_sent_by_reqwest(key: &str) -> String {
    let request = REQUEST_BUILDER
        .get("http://pool.invalid/v1/worker/stats")
        .query(&[("access_key", key)])
        .build()
        .unwrap();
    let query = request.url().query().unwrap_or_default();
    query.strip_prefix("access_key=").unwrap().to_owned()
}

/// RFC 3986 percent-encoding: unreserved kept, everything else `%XX`.
fn rfc3986_encode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every form the key can take on the way, in which it must never show up again.
fn forms_of(key: &str) -> Vec<String> {
    let form = as_sent_by_reqwest(key);
    let rfc3986 = rfc3986_encode(key);
    vec![
        key.to_owned(),
        lowercase_hex(&form),
        lowercase_hex(&rfc3986),
        form,
        rfc3986,
    ]
}

#[tokio::test]
async fn an_echoed_request_never_shows_the_key_in_any_encoding() {
    let keys = [
        "r_tilde~key*star",
        "a+b/c=d~e*f",
        "ключ~*+/=",
        "k%41~x",
        "Z*~",
    ];
    for echo in [Echo::AsReceived, Echo::LowercaseHex, Echo::Decoded] {
        let pool = serve(move |head, stream, _| {
            let request_line = head.lines().next().unwrap_or_default().to_owned();
            let target = request_target(&request_line).to_owned();
            let echoed = request_line.replacen(&target, &echo.apply(&target), 1);
            let body = serde_json::json!({ "err_no": 10, "err_msg": echoed }).to_string();
            Box::pin(async move { reply_json(stream, "200 OK", &body).await })
        })
        .await;
        for key in keys {
            let client = PoolClient::new(config(&pool.base_url, key), 1).unwrap();
            let text = within_30_s(client.stats()).await.unwrap_err().to_string();
            let sent = pool.requests().last().cloned().unwrap_or_default();
            let form = as_sent_by_reqwest(key);
            assert!(sent.contains(&form), "sent {sent:?}, expected {form}");
            assert!(text.contains("access_key=***&puid=1"), "{echo:?} {text}");
            for form in forms_of(key) {
                assert!(!text.contains(&form), "{echo:?} {key:?}: {form} in {text}");
            }
        }
    }
}

proptest! {
    // `*` is the redaction mark itself, so keys made of it are left out here.
    #[test]
    fn redact_removes_the_key_as_reqwest_sends_it(
        key in "[^\\s\\p{Cc}*]{1,24}",
        before in "[a-z&=/ ]{0,8}",
        after in "[a-z&=/ ]{0,8}",
    ) {
        let form = as_sent_by_reqwest(&key);
        let query = format!("access_key={form}&puid=1");
        for echoed in [query.clone(), lowercase_hex(&query), rfc3986_encode(&key), key.clone()] {
            let clean = redact(&format!("{before}{echoed}{after}"), &key);
            for form in forms_of(&key) {
                prop_assert!(!clean.contains(&form), "{form} in {clean}");
            }
        }
    }
}
