//! Connections that can be broken on purpose: the listener hands each connection a `Tap`
//! (to the handlers, as connect info) through which a handler asks that the response it is
//! about to send be cut after its head and `n` body bytes, or that nothing be sent at all.
//! The cut happens in the socket's writes, so the client really meets a short body or a
//! closed connection.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// What the connection's next writes may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Open,
    /// Let the head and then `body` bytes through, then fail.
    CutBody {
        body: usize,
    },
    /// `left` more bytes, then fail.
    Left {
        left: usize,
    },
}

/// A connection's switch, shared by its socket and the handlers serving its requests.
#[derive(Debug, Clone)]
pub(super) struct Tap(Arc<Mutex<Plan>>);

impl Tap {
    fn new() -> Tap {
        Tap(Arc::new(Mutex::new(Plan::Open)))
    }

    /// Send the next response's head and `body` bytes of its body, then close.
    pub fn cut_after(&self, body: usize) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Plan::CutBody { body };
    }

    /// Close without sending the next response.
    pub fn reset(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Plan::Left { left: 0 };
    }
}

impl Connected<IncomingStream<'_, SimListener>> for Tap {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Tap {
        stream.remote_addr().clone()
    }
}

pub(super) struct SimListener(pub TcpListener);

impl Listener for SimListener {
    type Io = TappedStream;
    type Addr = Tap;

    async fn accept(&mut self) -> (TappedStream, Tap) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    let tap = Tap::new();
                    return (
                        TappedStream {
                            stream,
                            tap: tap.clone(),
                        },
                        tap,
                    );
                }
                // Out of descriptors and the like: wait and try again, as axum does.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Tap> {
        self.0.local_addr().map(|_| Tap::new())
    }
}

pub(super) struct TappedStream {
    stream: TcpStream,
    tap: Tap,
}

impl AsyncRead for TappedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TappedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let tap = self.tap.clone();
        let mut plan = tap.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Plan::CutBody { body } = *plan {
            // hyper writes one flat buffer (see `is_write_vectored`), so the head ends here.
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                *plan = Plan::Left {
                    left: end + 4 + body,
                };
            }
        }
        let allowed = match *plan {
            Plan::Open | Plan::CutBody { .. } => buf.len(),
            Plan::Left { left: 0 } => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "simulated broken connection",
                )))
            }
            Plan::Left { left } => left.min(buf.len()),
        };
        let written = Pin::new(&mut self.stream).poll_write(cx, &buf[..allowed]);
        if let (Poll::Ready(Ok(n)), Plan::Left { left }) = (&written, *plan) {
            *plan = Plan::Left { left: left - n };
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    /// No: hyper then joins head and body in one buffer, where the head's end can be found.
    fn is_write_vectored(&self) -> bool {
        false
    }
}
