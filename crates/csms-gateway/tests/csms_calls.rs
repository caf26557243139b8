//! CSMS-to-station CALLs through a live session: one in flight per station, independent of the
//! station's own CALLs, with a timeout that frees the queue (CONFORMANCE RPC-15..17).

use csms_commands::{CallError, CallReply, Commands};
use csms_core::port::Port;
use csms_core::SystemClock;
use csms_gateway::{Gateway, GatewayConfig};
use csms_store::{Store, StoreOptions};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn start() -> (Arc<Gateway>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        Store::open(&dir.path().join("g.db").display().to_string(), StoreOptions::default()).await.expect("store");
    let config = GatewayConfig::default();
    let commands = Commands::new(store.clone(), Arc::new(SystemClock), config.call_timeout);
    let port: Arc<dyn Port> = Arc::new(store);
    let gateway = Gateway::new(config, port, &commands, Arc::new(SystemClock), Default::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let app = gateway.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (gateway, addr, dir)
}

async fn connect(addr: &str, station: &str) -> Ws {
    let mut request = format!("ws://{addr}/ocpp/{station}").into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("connects");
    let boot = json!([2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]);
    ws.send(Message::text(boot.to_string())).await.expect("send");
    assert_eq!(next(&mut ws).await[0], 3);
    ws
}

async fn next(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).expect("JSON"),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn rpc_15_16_one_call_in_flight_and_both_directions_at_once() {
    let (gateway, addr, _dir) = start().await;
    let mut ws = connect(&addr, "CP1").await;
    let g1 = gateway.clone();
    let first = tokio::spawn(async move { g1.registry.call("CP1", "ClearCache", "{}".into(), WAIT).await });
    let call1 = next(&mut ws).await;
    assert_eq!((call1[0].as_u64(), call1[2].as_str()), (Some(2), Some("ClearCache")));
    let g2 = gateway.clone();
    let second = tokio::spawn(async move { g2.registry.call("CP1", "Reset", r#"{"type":"Soft"}"#.into(), WAIT).await });
    // While the CSMS's CALL is open, the station's own CALL is answered (RPC-16)...
    ws.send(Message::text(r#"[2,"hb","Heartbeat",{}]"#)).await.expect("send");
    let answer = next(&mut ws).await;
    // ...and the second CSMS CALL has not been sent (RPC-15): the next frame is the answer.
    assert_eq!((answer[0].as_u64(), answer[1].as_str()), (Some(3), Some("hb")));
    ws.send(Message::text(json!([3, call1[1], {"status": "Accepted"}]).to_string())).await.expect("send");
    let call2 = next(&mut ws).await;
    assert_eq!(call2[2], "Reset");
    ws.send(Message::text(json!([4, call2[1], "NotSupported", "no reset here", {}]).to_string())).await.expect("send");
    assert_eq!(first.await.expect("join"), Ok(CallReply::Result(r#"{"status":"Accepted"}"#.into())));
    assert_eq!(
        second.await.expect("join"),
        Ok(CallReply::Error { code: "NotSupported".into(), description: "no reset here".into() })
    );
}

#[tokio::test]
async fn rpc_17_unanswered_call_times_out_and_frees_the_queue() {
    let (gateway, addr, _dir) = start().await;
    let mut ws = connect(&addr, "CP1").await;
    let short = Duration::from_millis(300);
    let g = gateway.clone();
    let unanswered = tokio::spawn(async move { g.registry.call("CP1", "ClearCache", "{}".into(), short).await });
    let ignored = next(&mut ws).await;
    assert_eq!(unanswered.await.expect("join"), Err(CallError::Timeout(short)));
    let g = gateway.clone();
    let next_call = tokio::spawn(async move { g.registry.call("CP1", "ClearCache", "{}".into(), WAIT).await });
    let call = next(&mut ws).await;
    assert_ne!(call[1], ignored[1], "a fresh message id");
    // A late answer to the timed-out CALL is dropped, not mistaken for this one's.
    ws.send(Message::text(json!([3, ignored[1], {"status": "Rejected"}]).to_string())).await.expect("send");
    ws.send(Message::text(json!([3, call[1], {"status": "Accepted"}]).to_string())).await.expect("send");
    assert_eq!(next_call.await.expect("join"), Ok(CallReply::Result(r#"{"status":"Accepted"}"#.into())));
}

#[tokio::test]
async fn calls_fail_when_the_station_is_offline_or_disconnects() {
    let (gateway, addr, _dir) = start().await;
    assert_eq!(gateway.registry.call("NOPE", "ClearCache", "{}".into(), WAIT).await, Err(CallError::Offline));
    let mut ws = connect(&addr, "CP1").await;
    let g = gateway.clone();
    let in_flight = tokio::spawn(async move { g.registry.call("CP1", "ClearCache", "{}".into(), WAIT).await });
    assert_eq!(next(&mut ws).await[2], "ClearCache");
    ws.close(None).await.expect("close");
    assert_eq!(in_flight.await.expect("join"), Err(CallError::Disconnected));
}
