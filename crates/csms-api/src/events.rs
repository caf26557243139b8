//! The domain events: stored ones by id (`GET /api/v1/events`) and the live stream as
//! Server-Sent Events (`GET /api/v1/events/stream`), which resumes after `Last-Event-ID` from
//! the store without loss and without sending an event twice.
//!
//! A stream subscribes to the live events first, then reads the store from where the client
//! is; every live event with an id at or below what it has sent is skipped. The store numbers
//! events in commit order and makes them live only after their commit, in order, so nothing
//! falls between the two. A client too slow for the live buffer (`EVENT_BUFFER`) is served
//! from the store again until it has caught up.

use crate::auth::Caller;
use crate::{Api, ApiError, ApiResult, Params};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use axum::Json;
use csms_core::events::{allowed_kinds, KindFilter};
use csms_core::fault_kinds::FaultCategory;
use csms_store::{EventFilter, StoredEvent};
use serde_json::json;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// How many stored events one read takes, for a page and for a stream catching up.
const READ_AT_ONCE: i64 = 500;
const MAX_LIMIT: i64 = 1000;

/// The filters of both endpoints: `station_id`, `kind` (a comma-separated list of kinds or
/// families), `category` (of fault events).
fn filter(params: &HashMap<String, String>) -> Result<EventFilter, ApiError> {
    let kinds = match params.get("kind") {
        Some(list) => KindFilter::parse(list).map_err(|unknown| {
            ApiError::bad_request(format!("kind {unknown:?} is unknown; kinds are {}", allowed_kinds()))
        })?,
        None => KindFilter::default(),
    };
    let category = params
        .get("category")
        .map(|text| {
            FaultCategory::parse(text).map(|c| c.as_str().to_string()).ok_or_else(|| {
                let known: Vec<&str> = FaultCategory::ALL.iter().map(|c| c.as_str()).collect();
                ApiError::bad_request(format!("category must be one of {}, not {text:?}", known.join(", ")))
            })
        })
        .transpose()?;
    Ok(EventFilter { station_id: params.get("station_id").cloned(), kinds, category })
}

/// An event id from a parameter or header: a whole number, 0 or more.
fn event_id(name: &str, text: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("{name} must be an event id (a whole number), not {text:?}")))
}

fn only_known(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => {
            Err(ApiError::bad_request(format!("unknown parameter {unknown:?}; this list takes {}", known.join(", "))))
        }
        None => Ok(()),
    }
}

/// Stored events after `after` (default 0), oldest first; `next_after` is the `after` of the
/// next page when this one is full, else null.
pub(crate) async fn list(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    only_known(&params, &["after", "station_id", "kind", "category", "limit"])?;
    let after = params.get("after").map(|a| event_id("after", a)).transpose()?.unwrap_or(0);
    let limit = match params.get("limit") {
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}")))?,
        None => READ_AT_ONCE,
    };
    let events = api.store.events_after(after, &filter(&params)?, limit).await?;
    let next = (events.len() as i64 == limit).then(|| events.last().map(|e| e.id)).flatten();
    let items = events.iter().map(raw).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "items": items, "next_after": next })))
}

fn raw(event: &StoredEvent) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(event.json.clone()).map_err(|e| {
        tracing::error!(error = %e, id = event.id, "a stored event is no JSON");
        ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "a stored event is unreadable")
    })
}

/// The live stream. Starts after `Last-Event-ID` (or `?after=`) if given, else with the events
/// from now on.
pub(crate) async fn stream(
    State(api): State<Arc<Api>>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    only_known(&params, &["after", "station_id", "kind", "category"])?;
    let filter = filter(&params)?;
    let resume = match headers.get("last-event-id") {
        Some(value) => Some(event_id("Last-Event-ID", value.to_str().unwrap_or("?"))?),
        None => params.get("after").map(|a| event_id("after", a)).transpose()?,
    };
    // Subscribed before the store is read: see the module's comment.
    let live = api.store.subscribe_events();
    let sent = match resume {
        Some(id) => id,
        None => api.store.last_event_id().await?,
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(follow(api, caller.map(|Extension(c)| c), filter, sent, live, tx));
    let events = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("keep-alive")))
}

/// How often a stream looks at its token again: a revoked or expired token's stream ends within
/// this.
const RECHECK: Duration = Duration::from_secs(5);

/// Feeds one stream until its client goes, its token is revoked or expires, or Ström stops: from
/// the store while behind, then live.
async fn follow(
    api: Arc<Api>,
    caller: Option<Caller>,
    filter: EventFilter,
    mut sent: i64,
    mut live: broadcast::Receiver<Arc<StoredEvent>>,
    tx: mpsc::Sender<Event>,
) {
    let mut behind = true;
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    loop {
        if behind {
            let events = match api.store.events_after(sent, &filter, READ_AT_ONCE).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "the event stream could not read the store");
                    return;
                }
            };
            behind = events.len() as i64 == READ_AT_ONCE;
            for event in events {
                sent = event.id;
                if tx.send(sse(&event)).await.is_err() {
                    return;
                }
            }
            continue;
        }
        let next = tokio::select! {
            next = live.recv() => next,
            _ = tx.closed() => return,
            _ = api.shutdown.cancelled() => return,
            _ = recheck.tick() => {
                if let Some(caller) = &caller {
                    if !caller.still_allowed(&api).await {
                        return;
                    }
                }
                continue;
            }
        };
        match next {
            Ok(event) if event.id <= sent => {}
            Ok(event) => {
                // Events the filter leaves out still move the stream on.
                let id = event.id;
                if filter.matches(&event) && tx.send(sse(&event)).await.is_err() {
                    return;
                }
                sent = id;
            }
            Err(broadcast::error::RecvError::Lagged(_)) => behind = true,
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn sse(event: &StoredEvent) -> Event {
    Event::default().id(event.id.to_string()).event(&event.kind).data(&event.json)
}
