//! The listening socket, with a long accept queue and a bound on handshakes in progress.
//!
//! After an outage a whole fleet reconnects at once. Every connection costs most while its
//! HTTP upgrade is parsed (hyper's read buffer, the request, the routing); ten thousand of them at
//! once left the server 100 MB larger for good, because the allocator cannot give back pages
//! that the sessions' long-lived state now shares with that garbage. So at most
//! `HANDSHAKES` connections are accepted and not yet answered; the rest wait in the kernel's
//! accept queue, which is made long enough for a storm.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections accepted whose first answer (the 101 or an HTTP error) is not written yet.
const HANDSHAKES: usize = 256;
/// A client that says nothing gives its place up after this long (hyper closes it later).
const HANDSHAKE_PLACE: Duration = Duration::from_secs(5);
/// The kernel caps this at `net.core.somaxconn`.
const ACCEPT_QUEUE: u32 = 16 * 1024;

pub struct GatedListener {
    inner: TcpListener,
    gate: Arc<Semaphore>,
    place_for: Duration,
}

impl GatedListener {
    /// Binds `address` (the first of its addresses that can be bound).
    pub async fn bind(address: &str) -> io::Result<GatedListener> {
        Self::bind_with(address, HANDSHAKES, HANDSHAKE_PLACE).await
    }

    async fn bind_with(address: &str, handshakes: usize, place_for: Duration) -> io::Result<GatedListener> {
        let mut last_error = None;
        for addr in tokio::net::lookup_host(address).await? {
            let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            socket.set_reuseaddr(true)?;
            match socket.bind(addr).and_then(|()| socket.listen(ACCEPT_QUEUE)) {
                Ok(inner) => {
                    return Ok(GatedListener { inner, gate: Arc::new(Semaphore::new(handshakes)), place_for });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to listen on")))
    }
}

impl axum::serve::Listener for GatedListener {
    type Io = Gated;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Gated, SocketAddr) {
        // The semaphore is never closed.
        let permit = self.gate.clone().acquire_owned().await.ok();
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        // Answers go out as they are written: with Nagle's algorithm an answer written while a
        // ping or an earlier frame is still unacknowledged waits for the station's delayed ACK
        // (up to 40 ms on Linux).
        if let Err(e) = io.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let place = permit.map(|p| (p, Box::pin(tokio::time::sleep(self.place_for))));
        (Gated { io, place }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted connection that holds a handshake place until it first writes, or its time is up.
pub struct Gated {
    io: TcpStream,
    place: Option<(OwnedSemaphorePermit, Pin<Box<tokio::time::Sleep>>)>,
}

impl AsyncRead for Gated {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some((_, deadline)) = &mut self.place {
            // Polled here so that a silent client's reader is woken when its time is up.
            if deadline.as_mut().poll(cx).is_ready() {
                self.place = None;
            }
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Gated {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.place = None;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.place = None;
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.place = None;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn places_are_freed_by_the_first_write_or_by_time() {
        let place_for = Duration::from_millis(300);
        let mut listener = GatedListener::bind_with("127.0.0.1:0", 8, place_for).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _a = TcpStream::connect(addr).await.expect("connect a");
        let _b = TcpStream::connect(addr).await.expect("connect b");
        let (mut first, _) = listener.accept().await;
        let (silent, _) = listener.accept().await;
        assert!(
            first.io.nodelay().expect("nodelay") && silent.io.nodelay().expect("nodelay"),
            "answers are not held back"
        );
        assert_eq!(listener.gate.available_permits(), 6);
        first.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").await.expect("write");
        assert_eq!(listener.gate.available_permits(), 7, "answered: its place is free");
        let mut silent = silent;
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(place_for * 3, tokio::io::AsyncReadExt::read(&mut silent, &mut buf));
        assert!(read.await.is_err(), "the silent client sent nothing");
        assert_eq!(listener.gate.available_permits(), 8, "a silent client's place is freed in time");
    }
}
