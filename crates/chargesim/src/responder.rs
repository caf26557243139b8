//! A bare OCPP-J responder: it accepts WebSocket connections on any path, answers every CALL
//! with an empty CALLRESULT and ignores every other frame. It validates nothing and stores
//! nothing. It is `strom bench`'s yardstick for the machine: the issue's speed targets were set
//! against such a responder's figures on this shared machine (127,000–147,000 MeterValues per
//! second at 100 stations), whose speed moves by half from hour to hour, so a CSMS's figures are
//! judged against the yardstick measured in the same minutes (BENCHMARKS.md).
//!
//! With a [`Journal`] it is the durable yardstick: every CALL is written to a file and answered
//! only once an `fdatasync` has made it durable, the least any server must do before it answers
//! when nothing acknowledged may be lost. One thread writes whatever has arrived since its last
//! sync and syncs it once (group commit), so its latency is the disk's floor for such a server.

use futures_util::{SinkExt, StreamExt};
use std::os::unix::fs::FileExt;
use std::sync::mpsc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{Error, Message, Utf8Bytes};

/// The journal's file wraps to its start past this size, as SQLite's WAL starts over, so that
/// a long run overwrites blocks instead of allocating them.
const JOURNAL_WRAP: u64 = 64 << 20;

/// A CALL's frame (its bytes shared with the connection, not copied) and who waits for it to
/// be durable.
type Entry = (Utf8Bytes, oneshot::Sender<()>);

/// The durable responder's file and the thread that writes and syncs it.
#[derive(Clone)]
pub struct Journal {
    sender: mpsc::Sender<Entry>,
}

impl Journal {
    /// Creates (or truncates) `path` and starts the thread that writes it. Each record is the
    /// frame's length as four little-endian bytes, then the frame.
    pub fn create(path: &std::path::Path) -> std::io::Result<Journal> {
        let file = std::fs::File::create(path)?;
        let (sender, receiver) = mpsc::channel();
        std::thread::Builder::new().name("responder-journal".into()).spawn(move || {
            if let Err(e) = write_journal(&file, &receiver) {
                // The receiver goes with the thread: every waiting and later CALL's connection
                // then closes instead of being answered.
                eprintln!("responder journal failed: {e}");
            }
        })?;
        Ok(Journal { sender })
    }

    /// Returns once `frame` is on disk, or an error when the journal has failed.
    async fn write(&self, frame: Utf8Bytes) -> Result<(), Error> {
        let (done, durable) = oneshot::channel();
        let gone = || Error::Io(std::io::Error::other("the responder's journal failed"));
        self.sender.send((frame, done)).map_err(|_| gone())?;
        durable.await.map_err(|_| gone())
    }
}

fn write_journal(file: &std::fs::File, receiver: &mpsc::Receiver<Entry>) -> std::io::Result<()> {
    let mut at = 0u64;
    let mut bytes = Vec::new();
    let mut waiting = Vec::new();
    while let Ok(first) = receiver.recv() {
        for (frame, done) in std::iter::once(first).chain(receiver.try_iter()) {
            bytes.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            bytes.extend_from_slice(frame.as_bytes());
            waiting.push(done);
        }
        if at + bytes.len() as u64 > JOURNAL_WRAP {
            at = 0;
        }
        file.write_all_at(&bytes, at)?;
        file.sync_data()?;
        at += bytes.len() as u64;
        bytes.clear();
        for done in waiting.drain(..) {
            // A connection that closed meanwhile no longer waits.
            let _ = done.send(());
        }
    }
    Ok(())
}

/// Answers the connections `listener` accepts until the task is dropped or accepting fails;
/// with a journal, each CALL only once it is durable in it.
pub async fn serve(listener: TcpListener, journal: Option<Journal>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let journal = journal.clone();
        tokio::spawn(async move {
            // A connection that breaks ends on its own; there is no one to tell.
            let _ = answer(stream, journal).await;
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

async fn answer(stream: TcpStream, journal: Option<Journal>) -> Result<(), Error> {
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
                    if let Some(journal) = &journal {
                        journal.write(text.clone()).await?;
                    }
                    ws.send(Message::text(format!(r#"[3,"{id}",{{}}]"#))).await?;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}
