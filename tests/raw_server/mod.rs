//! A pool at the socket level: each request answered with raw bytes of the test's choosing, and
//! the request heads it received kept, for answers no HTTP framework would send.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

pub type Reply = Pin<Box<dyn Future<Output = ()> + Send>>;

pub struct RawServer {
    /// `http://127.0.0.1:port/v1`, as a ClientConfig wants it.
    pub base_url: String,
    /// `127.0.0.1:port`
    pub host_port: String,
    requests: Arc<Mutex<Vec<String>>>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl RawServer {
    /// The request heads received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serves on a free loopback port; `reply(head, stream, port)` answers each request.
pub async fn serve<F>(reply: F) -> RawServer
where
    F: Fn(String, TcpStream, u16) -> Reply + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let port = address.port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&requests);
    let reply = Arc::new(reply);
    let accept_loop = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let reply = Arc::clone(&reply);
            let recorded = Arc::clone(&recorded);
            tokio::spawn(async move {
                if let Some(head) = read_request_head(&mut stream).await {
                    recorded.lock().unwrap().push(head.clone());
                    reply(head, stream, port).await;
                }
            });
        }
    });
    RawServer {
        base_url: format!("http://{address}/v1"),
        host_port: address.to_string(),
        requests,
        accept_loop,
    }
}

pub async fn read_request_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}
