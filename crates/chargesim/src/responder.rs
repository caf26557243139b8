//! A bare OCPP-J responder: it accepts WebSocket connections on any path, answers every CALL
//! with an empty CALLRESULT and ignores every other frame. It validates nothing and stores
//! nothing. It is `strom bench`'s yardstick for the machine: the issue's speed targets were set
//! against such a responder's figures on this shared machine (127,000–147,000 MeterValues per
//! second at 100 stations), whose speed moves by half from hour to hour, so a CSMS's figures are
//! judged against the yardstick measured in the same minutes (BENCHMARKS.md).

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{Error, Message};

/// Answers the connections `listener` accepts until the task is dropped or accepting fails.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            // A connection that breaks ends on its own; there is no one to tell.
            let _ = answer(stream).await;
        });
    }
}

/// The first subprotocol the station offers, agreed to as it is: OCPP-J clients refuse a
/// handshake without one.
fn agree_protocol(request: &Request, mut response: Response) -> Response {
    let offered = request.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
    if let Some(Ok(first)) = offered.and_then(|v| v.split(',').next()).map(|p| p.trim().parse()) {
        response.headers_mut().insert("Sec-WebSocket-Protocol", first);
    }
    response
}

async fn answer(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    // The shape tungstenite's handshake callback has; its error is an HTTP response, never
    // returned here.
    #[allow(clippy::result_large_err)]
    let agree = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        Ok(agree_protocol(request, response))
    };
    let mut ws = tokio_tungstenite::accept_hdr_async(stream, agree).await?;
    while let Some(message) = ws.next().await {
        match message? {
            Message::Text(text) => {
                if let Some((id, _, _)) = ocpp::split_call(text.as_str()) {
                    ws.send(Message::text(format!(r#"[3,"{id}",{{}}]"#))).await?;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}
