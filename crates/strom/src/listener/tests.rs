//! The listener's rules on real loopback sockets (reading from `Gated` as hyper would), and its
//! pure parts as tables.

use super::*;
use axum::serve::Listener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_millis(300);

async fn listener(handshakes: usize, per_address: usize) -> GatedListener {
    let limits =
        Limits { handshakes, handshake_timeout: TIMEOUT, handshakes_per_address: per_address, ..Limits::default() };
    GatedListener::bind("127.0.0.1:0", limits).await.expect("bind")
}

/// Reads once from `conn` as hyper would, waiting at most `wait`.
async fn read_once(conn: &mut Gated, wait: Duration) -> Option<io::Result<usize>> {
    let mut buf = [0u8; 256];
    tokio::time::timeout(wait, conn.read(&mut buf)).await.ok()
}

#[tokio::test]
async fn a_silent_client_is_closed_at_the_deadline_and_an_answered_one_frees_its_place() {
    let mut listener = listener(8, 8).await;
    let addr = listener.local_addr().expect("addr");
    let _a = TcpStream::connect(addr).await.expect("connect a");
    let mut silent_client = TcpStream::connect(addr).await.expect("connect b");
    let (mut answered, _) = listener.accept().await;
    let (mut silent, _) = listener.accept().await;
    assert!(
        answered.io.nodelay().expect("nodelay") && silent.io.nodelay().expect("nodelay"),
        "answers are not held back"
    );
    assert_eq!(listener.gate.available_permits(), 6);
    assert_eq!(listener.metrics.handshakes_in_progress.load(Ordering::Relaxed), 2);
    answered.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").await.expect("write");
    assert_eq!(listener.gate.available_permits(), 7, "answered: its place is free");

    let read = read_once(&mut silent, TIMEOUT * 5).await.expect("the deadline ends the read");
    assert_eq!(read.expect_err("no head in time").kind(), io::ErrorKind::TimedOut);
    assert_eq!(listener.gate.available_permits(), 8, "a silent client's place is freed in time");
    assert_eq!(listener.metrics.handshakes_timed_out(), 1);
    assert_eq!(listener.metrics.handshakes_in_progress.load(Ordering::Relaxed), 0);
    assert!(listener.by_address.lock().expect("lock").is_empty(), "no handshake counted for the address");
    drop(silent); // as hyper does after the error
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(TIMEOUT, silent_client.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "the silent client sees its connection closed");
}

#[tokio::test]
async fn a_partial_head_is_closed_but_a_whole_head_may_be_followed_by_a_slow_body() {
    let mut listener = listener(8, 8).await;
    let addr = listener.local_addr().expect("addr");
    let mut partial_client = TcpStream::connect(addr).await.expect("connect");
    let mut slow_body_client = TcpStream::connect(addr).await.expect("connect");
    let (mut partial, _) = listener.accept().await;
    let (mut slow_body, _) = listener.accept().await;
    partial_client.write_all(b"GET /ocpp/CP1 HTTP/1.1\r\nHost: x\r\n").await.expect("send");
    slow_body_client
        .write_all(b"POST /api/v1/id-tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
        .await
        .expect("send");
    assert!(matches!(read_once(&mut partial, TIMEOUT).await, Some(Ok(n)) if n > 0));
    assert!(matches!(read_once(&mut slow_body, TIMEOUT).await, Some(Ok(n)) if n > 0));

    let read = read_once(&mut partial, TIMEOUT * 5).await.expect("the deadline ends the read");
    assert_eq!(read.expect_err("no whole head in time").kind(), io::ErrorKind::TimedOut);
    // The body comes after the deadline: the head had arrived, so the connection is served on.
    assert!(read_once(&mut slow_body, TIMEOUT * 2).await.is_none(), "still waiting for the body");
    assert_eq!(listener.gate.available_permits(), 8, "both places are free");
    slow_body_client.write_all(b"{}").await.expect("send body");
    assert!(matches!(read_once(&mut slow_body, TIMEOUT).await, Some(Ok(2))), "the body is read");
    assert_eq!(listener.metrics.handshakes_timed_out(), 1, "only the partial head timed out");
}

#[tokio::test]
async fn one_address_holds_at_most_its_share_of_handshakes_and_the_rest_wait_their_turn() {
    let mut listener = listener(8, 2).await;
    let addr = listener.local_addr().expect("addr");
    let key = address_key(addr.ip());
    let _clients = [
        TcpStream::connect(addr).await.expect("connect"),
        TcpStream::connect(addr).await.expect("connect"),
        TcpStream::connect(addr).await.expect("connect"),
    ];
    let (_first, _) = listener.accept().await;
    let (mut second, _) = listener.accept().await;
    // The third is accepted but waits: accept gives nothing while the address has two handshakes.
    assert!(tokio::time::timeout(TIMEOUT / 3, listener.accept()).await.is_err(), "the third waits");
    assert_eq!(listener.waiting_count, 1);
    assert_eq!(listener.metrics.waiting.load(Ordering::Relaxed), 1);

    // Established connections do not count: once one is answered, the third's turn comes.
    second.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").await.expect("write");
    let (_third, _) = tokio::time::timeout(TIMEOUT / 3, listener.accept()).await.expect("the third's turn");
    assert_eq!(listener.waiting_count, 0);
    assert_eq!(listener.by_address.lock().expect("lock").get(&key), Some(&2));
    assert_eq!(listener.gate.available_permits(), 6);
    assert_eq!(listener.metrics.refused_per_address(), 0);
}

#[tokio::test]
async fn a_connection_that_waits_its_whole_deadline_is_closed_and_other_addresses_are_served_meanwhile() {
    let mut listener = listener(8, 1).await;
    let addr = listener.local_addr().expect("addr");
    let _first_client = TcpStream::connect(addr).await.expect("connect");
    let (_first, _) = listener.accept().await;
    let mut waiting_client = TcpStream::connect(addr).await.expect("connect");
    assert!(tokio::time::timeout(TIMEOUT / 3, listener.accept()).await.is_err(), "the second waits");

    // Another address is not held up by the one that waits.
    let other = TcpSocket::new_v4().expect("socket");
    other.bind("127.0.0.2:0".parse().expect("address")).expect("127.0.0.2 is loopback (Linux)");
    let _other_client = other.connect(addr).await.expect("connect");
    let (_, from) = tokio::time::timeout(TIMEOUT / 3, listener.accept()).await.expect("served at once");
    assert_eq!(from.ip().to_string(), "127.0.0.2");

    // The first's handshake is never read here, so the address stays full: the waiting one is
    // closed at its deadline, counted, without an accept of anything else.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(TIMEOUT * 5, async {
        tokio::select! {
            read = waiting_client.read_to_end(&mut rest) => read,
            _ = listener.accept() => panic!("nothing else to accept"),
        }
    })
    .await
    .expect("the waiting connection is closed at its deadline");
    assert!(matches!(closed, Ok(0) | Err(_)), "closed without an answer");
    assert_eq!(listener.metrics.handshakes_timed_out(), 1);
    assert_eq!(listener.waiting_count, 0);
}

#[tokio::test]
async fn one_address_may_hold_only_so_many_connections_open() {
    let limits = Limits {
        handshakes: 8,
        handshake_timeout: Duration::from_secs(5),
        handshakes_per_address: 8,
        connections_per_address: 2,
    };
    let mut listener = GatedListener::bind("127.0.0.1:0", limits).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _a = TcpStream::connect(addr).await.expect("connect a");
    let _b = TcpStream::connect(addr).await.expect("connect b");
    let (first, _) = listener.accept().await;
    let (mut second, _) = listener.accept().await;
    // Past its handshake, a connection still counts.
    second.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").await.expect("write");
    let mut third = TcpStream::connect(addr).await.expect("connect c");
    assert!(tokio::time::timeout(TIMEOUT, listener.accept()).await.is_err(), "a third one is not handed on");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(TIMEOUT, third.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "the third client sees its connection closed");
    assert_eq!(listener.metrics.over_connection_cap.load(Ordering::Relaxed), 1);
    drop(first);
    let _d = TcpStream::connect(addr).await.expect("connect d");
    tokio::time::timeout(TIMEOUT, listener.accept()).await.expect("room again once one closed");
    assert_eq!(listener.metrics.over_connection_cap.load(Ordering::Relaxed), 1);
}

#[test]
fn the_end_of_a_request_head_is_found_across_reads() {
    let cases: &[(&[&[u8]], HeadEnd)] = &[
        (&[b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"], HeadEnd::Done),
        (&[b"GET / HTTP/1.1\r\nHost: x\r\n", b"\r", b"\n"], HeadEnd::Done),
        (&[b"GET / HTTP/1.1\r\nHost: x\r\n"], HeadEnd::LineStart),
        (&[b"GET / HTTP/1.1\r\nHost: x\r\n\r"], HeadEnd::LineStartCr),
        (&[b"GET / HTTP/1.1\nHost: x\n\n"], HeadEnd::Done),
        (&[b"GET / HTTP/1.1\r\nHost: x\r\n\rX: y"], HeadEnd::InLine),
        (&[b"GET / HTTP/1.1\r\nHo", b"st: x"], HeadEnd::InLine),
        (&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"], HeadEnd::Done),
        (&[b"", b""], HeadEnd::InLine),
    ];
    for (reads, expected) in cases {
        let end = reads.iter().fold(HeadEnd::default(), |state, bytes| state.feed(bytes));
        assert_eq!(end, *expected, "{reads:?}");
    }
}

#[test]
fn accept_pauses_grow_on_resource_errors_and_client_aborts_do_not_pause() {
    let mut backoff = AcceptBackoff::default();
    let emfile = io::Error::from_raw_os_error(24);
    let enfile = io::Error::from_raw_os_error(23);
    let pauses: Vec<_> = (0..9).map(|i| backoff.after(if i % 2 == 0 { &emfile } else { &enfile })).collect();
    let ms: Vec<_> = pauses.iter().map(|p| p.map(|d| d.as_millis())).collect();
    assert_eq!(ms, [10, 20, 40, 80, 160, 320, 640, 1000, 1000].map(Some), "from 10 ms, doubling, to at most 1 s");
    for kind in [io::ErrorKind::ConnectionAborted, io::ErrorKind::ConnectionReset, io::ErrorKind::Interrupted] {
        assert_eq!(AcceptBackoff::default().after(&io::Error::from(kind)), None, "{kind:?}");
    }
}

#[test]
fn addresses_are_counted_per_host_and_ipv6_per_64() {
    let key = |s: &str| address_key(s.parse().expect("ip"));
    assert_eq!(key("192.0.2.7"), key("::ffff:192.0.2.7"), "IPv4-mapped counts as IPv4");
    assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"), "one /64");
    assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
}
