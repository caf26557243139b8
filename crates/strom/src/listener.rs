//! The listening socket: a long accept queue, a bound on handshakes in progress, a deadline for
//! each handshake and a cap per source address, so that neither a reconnecting fleet nor a hostile
//! client can exhaust the server (issue 25, item 4).
//!
//! After an outage a whole fleet reconnects at once. Every connection costs most while its
//! HTTP upgrade is parsed (hyper's read buffer, the request, the routing); ten thousand of them at
//! once left the server 100 MB larger for good, because the allocator cannot give back pages
//! that the sessions' long-lived state now shares with that garbage. So at most
//! `Limits::handshakes` connections are accepted and not yet answered; the rest wait in the
//! kernel's accept queue, which is made long enough for a storm.
//!
//! Those places are what a hostile client goes for: a connection that sends nothing holds one.
//! So a connection whose request head has not arrived within `Limits::handshake_timeout` is
//! closed, and one source address may hold at most `Limits::handshakes_per_address` of the places.
//! A connection beyond that waits, accepted but unread (a socket, no buffers), for its address's
//! turn, within the same deadline; so stations behind one address (a NAT, a load test) that
//! reconnect together still all get in, a few at a time, while other addresses are served at
//! once. Neither touches a connection past its handshake: an upgraded station may stay quiet for
//! as long as the gateway allows, and an API request whose head has arrived may send its body
//! slowly (it only gives its place up). What does hold for the whole life of a connection is a
//! cap on the connections one address may have open at all (`Limits::connections_per_address`):
//! beyond, a new one is closed at accept, so one host cannot take every file descriptor.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The kernel caps this at `net.core.somaxconn`.
const ACCEPT_QUEUE: u32 = 16 * 1024;
/// Connections accepted and waiting for their address's turn, at most; as many as the kernel
/// would queue. Beyond, a connection over its address's cap is closed at once.
const WAITING: usize = 16 * 1024;

/// How the listener protects its handshake places; `strom serve` reads them from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections accepted whose first answer (the 101 or an HTTP error) is not written yet.
    pub handshakes: usize,
    /// A connection whose request head has not arrived by then is closed; one whose head has
    /// arrived but is not answered yet gives its place up (and stays open).
    pub handshake_timeout: Duration,
    /// Handshakes in progress from one source address (an IPv6 /64); beyond, a new connection
    /// from it waits for its turn (closed at its deadline). Established connections do not count.
    pub handshakes_per_address: usize,
    /// Connections open at once from one source address, established ones included; beyond, a
    /// new connection from it is closed at accept.
    pub connections_per_address: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            handshakes: 256,
            handshake_timeout: Duration::from_secs(5),
            handshakes_per_address: 32,
            connections_per_address: 32_768,
        }
    }
}

/// What the listener did to protect itself, for `/metrics`.
#[derive(Debug, Default)]
pub struct ListenerMetrics {
    handshakes_timed_out: AtomicU64,
    refused_per_address: AtomicU64,
    over_connection_cap: AtomicU64,
    accept_errors: AtomicU64,
    /// Handshake places taken now (a gauge).
    handshakes_in_progress: AtomicU64,
    /// Connections waiting for their address's turn now (a gauge).
    waiting: AtomicU64,
}

impl ListenerMetrics {
    pub fn handshakes_timed_out(&self) -> u64 {
        self.handshakes_timed_out.load(Ordering::Relaxed)
    }

    pub fn refused_per_address(&self) -> u64 {
        self.refused_per_address.load(Ordering::Relaxed)
    }

    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }

    /// The listener's series in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let counters = [
            (
                "strom_handshakes_timed_out_total",
                "Connections closed because their request head did not arrive (or they waited for their address's turn) for handshake_timeout_secs.",
                self.handshakes_timed_out(),
            ),
            (
                "strom_connections_refused_total",
                "Connections closed at accept because their source address had max_handshakes_per_address handshakes in progress and too many connections were waiting already.",
                self.refused_per_address(),
            ),
            (
                "strom_connections_over_address_cap_total",
                "Connections closed at accept because their source address had max_connections_per_address connections open.",
                self.over_connection_cap.load(Ordering::Relaxed),
            ),
            (
                "strom_accept_errors_total",
                "Failed accepts other than a client's abort (e.g. out of file descriptors), each followed by a pause.",
                self.accept_errors(),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        let in_progress = self.handshakes_in_progress.load(Ordering::Relaxed);
        csms_metrics::render_gauge(
            out,
            "strom_handshakes_in_progress",
            "Connections accepted whose request is not answered yet.",
            &[(Vec::new(), in_progress as f64)],
        );
        let waiting = self.waiting.load(Ordering::Relaxed);
        csms_metrics::render_gauge(
            out,
            "strom_connections_waiting",
            "Connections accepted that wait for their address to have fewer than max_handshakes_per_address handshakes.",
            &[(Vec::new(), waiting as f64)],
        );
    }
}

/// Handshakes in progress per source address.
type ByAddress = Arc<Mutex<HashMap<IpAddr, usize>>>;

pub struct GatedListener {
    inner: TcpListener,
    gate: Arc<Semaphore>,
    limits: Limits,
    by_address: ByAddress,
    /// Connections open per source address, for `Limits::connections_per_address`.
    open_by_address: ByAddress,
    /// Told whenever a handshake ends, so that a waiting connection may take its place.
    room: Arc<Notify>,
    /// Connections over their address's cap, by address key, oldest first.
    waiting: HashMap<IpAddr, VecDeque<Waiting>>,
    waiting_count: usize,
    metrics: Arc<ListenerMetrics>,
}

/// A connection accepted while its address had its share of handshakes; nothing is read from
/// it (no buffers) until its turn.
struct Waiting {
    io: TcpStream,
    addr: SocketAddr,
    since: Instant,
    open: AddressPlace,
}

/// What the accept loop woke up for.
enum Woken {
    Accepted(io::Result<(TcpStream, SocketAddr)>),
    Room,
}

impl GatedListener {
    /// Binds `address` (the first of its addresses that can be bound).
    pub async fn bind(address: &str, limits: Limits) -> io::Result<GatedListener> {
        let mut last_error = None;
        for addr in tokio::net::lookup_host(address).await? {
            let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            socket.set_reuseaddr(true)?;
            match socket.bind(addr).and_then(|()| socket.listen(ACCEPT_QUEUE)) {
                Ok(inner) => {
                    return Ok(GatedListener {
                        inner,
                        gate: Arc::new(Semaphore::new(limits.handshakes)),
                        limits,
                        by_address: Arc::default(),
                        open_by_address: Arc::default(),
                        room: Arc::default(),
                        waiting: HashMap::new(),
                        waiting_count: 0,
                        metrics: Arc::default(),
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to listen on")))
    }

    /// Counts into `metrics`, shared with other listeners (`/metrics` shows their sums).
    pub fn counting_into(mut self, metrics: Arc<ListenerMetrics>) -> GatedListener {
        self.metrics = metrics;
        self
    }
}

impl GatedListener {
    /// The oldest waiting connection whose address now has room, with its place; connections that
    /// waited out their whole deadline are closed on the way.
    fn take_waiting(&mut self) -> Option<(Waiting, AddressPlace)> {
        if self.waiting_count == 0 {
            return None;
        }
        let (timeout, cap) = (self.limits.handshake_timeout, self.limits.handshakes_per_address);
        let mut removed = 0;
        for queue in self.waiting.values_mut() {
            while queue.front().is_some_and(|w| w.since.elapsed() >= timeout) {
                queue.pop_front();
                removed += 1;
                self.metrics.handshakes_timed_out.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut fronts: Vec<(Instant, IpAddr)> =
            self.waiting.iter().filter_map(|(key, queue)| Some((queue.front()?.since, *key))).collect();
        fronts.sort_unstable();
        let mut taken = None;
        for (_, key) in fronts {
            let Some(queue) = self.waiting.get_mut(&key) else { continue };
            let Some(front) = queue.front() else { continue };
            if let Some(place) = AddressPlace::take(&self.by_address, &self.room, front.addr.ip(), cap) {
                taken = queue.pop_front().map(|waiting| (waiting, place));
                removed += 1;
                break;
            }
        }
        self.waiting.retain(|_, queue| !queue.is_empty());
        self.set_waiting(self.waiting_count - removed);
        taken
    }

    /// When the oldest waiting connection's deadline is up.
    fn next_expiry(&self) -> Option<Instant> {
        self.waiting.values().filter_map(VecDeque::front).map(|w| w.since + self.limits.handshake_timeout).min()
    }

    fn set_waiting(&mut self, count: usize) {
        self.waiting_count = count;
        self.metrics.waiting.store(count as u64, Ordering::Relaxed);
    }

    /// Gives `waiting` its handshake place; its deadline counts from when it was accepted.
    fn admit(&self, waiting: Waiting, from: AddressPlace, permit: Option<OwnedSemaphorePermit>) -> (Gated, SocketAddr) {
        let Waiting { io, addr, since, open } = waiting;
        // Answers go out as they are written: with Nagle's algorithm an answer written while a
        // ping or an earlier frame is still unacknowledged waits for the station's delayed ACK
        // (up to 40 ms on Linux).
        if let Err(e) = io.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let handshake = Handshake {
            _from: from,
            _place: permit.map(|permit| Place::new(permit, self.metrics.clone())),
            deadline: Box::pin(tokio::time::sleep_until(since + self.limits.handshake_timeout)),
            head: HeadEnd::default(),
            metrics: self.metrics.clone(),
        };
        (Gated { io, handshake: Some(handshake), _open: open }, addr)
    }
}

impl axum::serve::Listener for GatedListener {
    type Io = Gated;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Gated, SocketAddr) {
        let mut backoff = AcceptBackoff::default();
        loop {
            // The semaphore is never closed.
            let permit = self.gate.clone().acquire_owned().await.ok();
            // Those that waited for their address's turn go first, oldest first.
            if let Some((waiting, from)) = self.take_waiting() {
                return self.admit(waiting, from, permit);
            }
            let expiry = self.next_expiry();
            let woken = tokio::select! {
                accepted = self.inner.accept() => Woken::Accepted(accepted),
                () = self.room.notified(), if self.waiting_count > 0 => Woken::Room,
                () = tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => Woken::Room,
            };
            let (io, addr) = match woken {
                Woken::Room => continue,
                Woken::Accepted(Ok(accepted)) => accepted,
                Woken::Accepted(Err(e)) => {
                    if let Some(pause) = backoff.after(&e) {
                        self.metrics.accept_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "accept failed; pausing");
                        tokio::time::sleep(pause).await;
                    }
                    continue;
                }
            };
            let cap = self.limits.connections_per_address;
            // Nobody waits for this one: a connection that ends frees no handshake place.
            let Some(open) = AddressPlace::take(&self.open_by_address, &Arc::default(), addr.ip(), cap) else {
                self.metrics.over_connection_cap.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%addr, "too many connections from this address: connection closed");
                continue;
            };
            let waiting = Waiting { io, addr, since: Instant::now(), open };
            match AddressPlace::take(&self.by_address, &self.room, addr.ip(), self.limits.handshakes_per_address) {
                Some(from) => return self.admit(waiting, from, permit),
                None if self.waiting_count < WAITING => {
                    self.waiting.entry(address_key(addr.ip())).or_default().push_back(waiting);
                    self.set_waiting(self.waiting_count + 1);
                }
                None => {
                    self.metrics.refused_per_address.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%addr, "too many handshakes in progress and waiting: connection closed");
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// The pause after a failed accept. Out of file descriptors (EMFILE, ENFILE) or memory, accept
/// fails at once for as long as the condition lasts, and the connection stays in the queue:
/// retrying at once would spin a core. So the loop pauses, longer each time (from 10 ms to 1 s),
/// until an accept succeeds. A client that gave up before it was accepted is no such condition.
#[derive(Debug)]
struct AcceptBackoff {
    next: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const LONGEST: Duration = Duration::from_secs(1);

    /// How long to pause after `error`, if at all.
    fn after(&mut self, error: &io::Error) -> Option<Duration> {
        use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
        if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted) {
            return None;
        }
        let pause = self.next;
        self.next = (self.next * 2).min(Self::LONGEST);
        Some(pause)
    }
}

impl Default for AcceptBackoff {
    fn default() -> AcceptBackoff {
        AcceptBackoff { next: Self::FIRST }
    }
}

/// The key a source address is counted under: an IPv4 address, or an IPv6 address's /64 (one
/// host usually has a whole /64 to pick from). An IPv4-mapped IPv6 address counts as IPv4.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// One handshake in progress counted against its source address, until dropped.
struct AddressPlace {
    table: ByAddress,
    room: Arc<Notify>,
    key: IpAddr,
}

impl AddressPlace {
    /// Counts one more handshake for `ip`, unless it has `cap` already.
    fn take(table: &ByAddress, room: &Arc<Notify>, ip: IpAddr, cap: usize) -> Option<AddressPlace> {
        let key = address_key(ip);
        let mut counts = table.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(key).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(AddressPlace { table: table.clone(), room: room.clone(), key })
    }
}

impl Drop for AddressPlace {
    fn drop(&mut self) {
        let mut counts = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
        drop(counts);
        self.room.notify_one();
    }
}

/// A place among the server's handshakes in progress, counted in the gauge while held.
struct Place {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<ListenerMetrics>,
}

impl Place {
    fn new(permit: OwnedSemaphorePermit, metrics: Arc<ListenerMetrics>) -> Place {
        metrics.handshakes_in_progress.fetch_add(1, Ordering::Relaxed);
        Place { _permit: permit, metrics }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.metrics.handshakes_in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Finds the end of an HTTP/1 request head (an empty line, CRLF or a bare LF as httparse takes
/// it) in the bytes as they arrive. HTTP/2's preface ends the same way.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum HeadEnd {
    #[default]
    InLine,
    /// Just after a line's LF.
    LineStart,
    /// After a line's LF and a CR.
    LineStartCr,
    Done,
}

impl HeadEnd {
    fn feed(self, bytes: &[u8]) -> HeadEnd {
        let mut state = self;
        for &b in bytes {
            state = match (state, b) {
                (HeadEnd::Done, _) => return HeadEnd::Done,
                (HeadEnd::LineStart | HeadEnd::LineStartCr, b'\n') => HeadEnd::Done,
                (HeadEnd::LineStart, b'\r') => HeadEnd::LineStartCr,
                (_, b'\n') => HeadEnd::LineStart,
                _ => HeadEnd::InLine,
            };
        }
        state
    }
}

/// Everything a connection holds while its handshake is in progress.
struct Handshake {
    /// Dropped first (fields drop in order): an address's count goes down before the place is
    /// given back, or the accept loop, woken by the place, could refuse a connection because of a
    /// handshake already over.
    _from: AddressPlace,
    /// None only if the semaphore was closed, which it never is.
    _place: Option<Place>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    head: HeadEnd,
    metrics: Arc<ListenerMetrics>,
}

/// An accepted connection that holds a handshake place until it first writes, or its time is up;
/// if by then its request head has not arrived, reading fails and hyper closes the connection.
pub struct Gated {
    io: TcpStream,
    handshake: Option<Handshake>,
    /// Counted against its address's open connections for as long as it lives.
    _open: AddressPlace,
}

impl AsyncRead for Gated {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some(handshake) = &mut self.handshake {
            // Polled here so that a silent client's reader is woken when its time is up.
            if handshake.deadline.as_mut().poll(cx).is_ready() {
                let head_arrived = handshake.head == HeadEnd::Done;
                if !head_arrived {
                    handshake.metrics.handshakes_timed_out.fetch_add(1, Ordering::Relaxed);
                }
                self.handshake = None;
                if !head_arrived {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no request head in time")));
                }
            }
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(handshake)) = (&read, &mut self.handshake) {
            handshake.head = handshake.head.feed(&buf.filled()[before..]);
        }
        read
    }
}

impl AsyncWrite for Gated {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.handshake = None;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.handshake = None;
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.handshake = None;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
