//! The port between the protocol side (gateway, operator commands, API) and the store: the
//! table of operations with their typed results (`operations!` below), the slot a result waits
//! in until its write is durable (`Pending`), and the trait the store implements (`Port`).
//!
//! A caller builds an operation (`crate::ops`) and `execute`s it; the store runs it inside its
//! writer's transaction, leaves the result in the operation's `Pending` slot, and `settle`s the
//! slot once the transaction is durable, so that every answer a caller sees is one that
//! survives a crash.

use crate::ops::*;
use crate::station::{ProtocolVersion, RegistrationStatus, StationId};
use futures_channel::oneshot;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Why an operation was not carried out. Details of a storage failure are in the store's log;
/// callers answer with an internal error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// The store is shut down (or shutting down).
    Closed,
    /// The write was committed but could not be made durable.
    Durability(String),
    /// The write failed (and was rolled back).
    Storage(String),
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortError::Closed => write!(f, "the store is shut down"),
            PortError::Durability(e) => write!(f, "the write could not be made durable: {e}"),
            PortError::Storage(e) => write!(f, "storage failed: {e}"),
        }
    }
}

impl std::error::Error for PortError {}

/// Where an operation's result waits: set by each run of the operation (a batch that fails is
/// run again one operation at a time), sent to the caller by `settle` once durable.
#[derive(Debug)]
pub struct Pending<T> {
    reply: oneshot::Sender<Result<T, PortError>>,
    result: Option<Result<T, PortError>>,
}

impl<T> Pending<T> {
    fn new(reply: oneshot::Sender<Result<T, PortError>>) -> Pending<T> {
        Pending { reply, result: None }
    }

    /// Records what the operation's run gave.
    pub fn set(&mut self, result: Result<T, PortError>) {
        self.result = Some(result);
    }

    /// Answers the caller: the run's result if the write is durable, else why it is not.
    fn settle(self, durable: &Result<(), PortError>) {
        let answer = match (durable, self.result) {
            (Err(e), _) => Err(e.clone()),
            (Ok(()), Some(result)) => result,
            // Settled without being run: the store stopped first.
            (Ok(()), None) => Err(PortError::Closed),
        };
        // A caller that went away (its station disconnected) needs no answer.
        let _ = self.reply.send(answer);
    }
}

/// An operation of the port, and the result it answers with.
pub trait Operation: Send + Sized + 'static {
    type Output: Send + 'static;
    /// The operation as the store receives it, with the slot for its result.
    fn request(self, pending: Pending<Self::Output>) -> Request;
}

/// Declares the port's operations: `Variant(OperationType) -> Output`. Generates `Request`
/// (every operation with its `Pending` slot), the `Operation` impls, and `Request`'s methods.
macro_rules! operations {
    ($($(#[$doc:meta])* $variant:ident($op:ty) -> $output:ty;)*) => {
        /// An operation on its way to the store, with the slot its result waits in.
        #[derive(Debug)]
        pub enum Request {
            $($(#[$doc])* $variant($op, Pending<$output>),)*
        }

        $(impl Operation for $op {
            type Output = $output;
            fn request(self, pending: Pending<$output>) -> Request {
                Request::$variant(self, pending)
            }
        })*

        impl Request {
            /// The operation's name, for logs.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Request::$variant(..) => stringify!($variant),)*
                }
            }

            /// Records that the operation's own run failed (it was rolled back).
            pub fn fail(&mut self, error: PortError) {
                match self {
                    $(Request::$variant(_, pending) => pending.set(Err(error)),)*
                }
            }

            /// Answers the caller once the write is durable (or with why it is not).
            pub fn settle(self, durable: &Result<(), PortError>) {
                match self {
                    $(Request::$variant(_, pending) => pending.settle(durable),)*
                }
            }
        }
    };
}

operations! {
    /// A BootNotification → the registration told to the station.
    Boot(Boot) -> Registration;
    /// An Authorize → the token's authorization.
    Authorize(Authorize) -> crate::authorization::AuthDecision;
    /// A 1.6 StartTransaction → the transaction id and the start token's authorization.
    StartTransaction(StartTx) -> Started;
    /// A 1.6 StopTransaction → the stop token's authorization.
    StopTransaction(StopTx) -> Stopped;
    /// Readings outside a 2.0.1 TransactionEvent.
    MeterValues(MeterValues) -> ();
    /// A 2.0.1 TransactionEvent → the transaction and the token's authorization.
    TransactionEvent(TxEvent) -> TxEventRecorded;
    NotifyEvent(NotifyEvent) -> ();
    ReportPart(ReportPart) -> ();
    MonitoringReport(MonitoringReport) -> ();
    StatusNotification(StationStatusReport) -> ();
    /// → whether the station was known.
    SetRegistration(SetRegistration) -> bool;
    /// → whether the station was known.
    SetSecurity(SetSecurity) -> bool;
    /// → whether the station was known.
    Decommission(Decommission) -> bool;
    /// → whether the station's profile was raised.
    RaiseSecurityProfile(RaiseSecurityProfile) -> bool;
    /// → the command's id in the command log.
    CommandStarted(CommandStarted) -> i64;
    CommandFinished(CommandFinished) -> ();
    Changes(Changes) -> ();
    /// → the token's id.
    CreateApiToken(CreateApiToken) -> i64;
    /// → whether the token exists.
    RevokeApiToken(RevokeApiToken) -> bool;
    StationEvent(StationEvent) -> ();
    IssueCertificate(IssueCertificate) -> ();
    Seen(Seen) -> ();
    /// → whether a fault was opened (lost) or cleared (back).
    Connectivity(Connectivity) -> bool;
    UpsertIdToken(UpsertIdToken) -> ();
    /// → whether the token existed already (then nothing changed).
    CreateIdToken(CreateIdToken) -> bool;
    /// → whether the token existed.
    DeleteIdToken(DeleteIdToken) -> bool;
    /// → the new subscription's id.
    CreateWebhook(CreateWebhook) -> i64;
    /// → whether it existed.
    DeleteWebhook(DeleteWebhook) -> bool;
    WebhookAttempt(WebhookAttempt) -> ();
    /// → the new rule's id.
    CreateAlertRule(CreateAlertRule) -> i64;
    /// → whether it existed.
    DeleteAlertRule(DeleteAlertRule) -> bool;
    AlertChanges(AlertChanges) -> ();
    PutTariff(PutTariff) -> TariffSaved;
    /// → whether it existed.
    DeleteTariff(DeleteTariff) -> bool;
    /// → whether the station is known (removing: whether a key was registered).
    SetMeterKey(SetMeterKey) -> bool;
    /// → whether the station is known.
    SetStationTimeZone(SetStationTimeZone) -> bool;
    /// → whether the end was still the transaction's latest (it is then settled: recorded, or
    /// found to say what its latest record says).
    RecordCdr(RecordCdr) -> bool;
}

/// A future that waits, only when the store is behind, for room to take what was handed to
/// it: the writer's queue is full, or the message log two parts behind. Awaiting it holds the
/// caller back, which is how a station that talks faster than the store writes is made to wait
/// rather than lose anything. Frames handed to `Port::log_frames` are kept whatever the future
/// does; a request that found the writer's queue full waits inside it, and dropping the future
/// drops the request (its caller, gone with the future, is answered `Closed`).
#[must_use = "awaiting it is how a caller waits while the store is behind"]
pub struct Room(Option<Pin<Box<dyn Future<Output = ()> + Send>>>);

impl Room {
    /// Room already there.
    pub fn now() -> Room {
        Room(None)
    }

    /// Room once `wait` is done.
    pub fn after(wait: impl Future<Output = ()> + Send + 'static) -> Room {
        Room(Some(Box::pin(wait)))
    }
}

impl Future for Room {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            None => Poll::Ready(()),
            Some(wait) => wait.as_mut().poll(cx),
        }
    }
}

/// A boxed future answering with `T`, for the port's reads.
pub type Answer<T> = Pin<Box<dyn Future<Output = Result<T, PortError>> + Send + 'static>>;

/// What the protocol side needs of the store. `csms_store::Store` implements it; the gateway
/// and the operator commands hold an `Arc<dyn Port>`.
pub trait Port: Send + Sync {
    /// Queues `request`, to be committed together with `frames` (the message-log entries it
    /// came with). Returns at once unless the queue is full; then the request waits, in a box
    /// of its own, inside the returned `Room`.
    fn submit(&self, request: Request, frames: Vec<FrameLog>) -> Room;

    /// Queues frames for the message log without a write of their own; they are written within
    /// a second (at the latest when the store closes).
    fn log_frames(&self, frames: Vec<FrameLog>) -> Room;

    /// The registration a station has for the OCPP version it connects with (`None`: never
    /// registered, or registered under the other version).
    fn registration(&self, station: &StationId, ocpp_version: ProtocolVersion) -> Answer<Option<RegistrationStatus>>;

    /// A station's security profile and password hash, which its connections are checked
    /// against (`None`: a station Ström does not know, held to no profile).
    fn security(&self, station: &StationId) -> Answer<Option<crate::security::SecuritySettings>>;

    /// The total including tax of the charge detail record of transaction `id` (Ström's), which
    /// has just ended, once it is written: `None` when no tariff priced it (2.0.1's `totalCost`).
    fn record_total(&self, id: i64) -> Answer<Option<crate::tariffs::Decimal>>;
}

impl dyn Port + '_ {
    /// Carries out `op` (committed with `frames`) and answers with its result once durable.
    /// The operation is queued when this is called, not when the future is first polled, so
    /// that the future does not carry it: a station's messages are handled in futures
    /// allocated per message, which should stay small. Only when the writer's queue is full
    /// does the operation wait, boxed, in the future for room.
    pub fn execute<O: Operation>(
        &self,
        op: O,
        frames: Vec<FrameLog>,
    ) -> impl Future<Output = Result<O::Output, PortError>> + Send + 'static {
        let (request, answer) = request(op);
        let room = self.submit(request, frames);
        async move {
            room.await;
            answer.await
        }
    }
}

/// `op` as a request, and its answer: for a store that queues work of its own (its settler)
/// where `Port::submit` would need the whole store.
pub fn request<O: Operation>(op: O) -> (Request, impl Future<Output = Result<O::Output, PortError>> + Send + 'static) {
    let (reply, answer) = oneshot::channel();
    // A request dropped unanswered was refused by a closed store.
    (op.request(Pending::new(reply)), async move { answer.await.unwrap_or(Err(PortError::Closed)) })
}
