//! `strom serve`: binds its listeners, then opens the store (so that a busy port fails before
//! any file is made), serves stations and the API (on one listener, or the API on
//! its own), stations of security profiles 2 and 3 on a TLS listener, prunes the message log, and
//! on SIGINT/SIGTERM closes every session and commits every write before exit.

use crate::config::Config;
use anyhow::{Context, Result};
use csms_api::Api;
use csms_commands::Commands;
use csms_core::clock::format_timestamp;
use csms_core::port::Port;
use csms_core::station::StationId;
use csms_core::{Clock, SystemClock};
use csms_gateway::Gateway;
use csms_store::{Store, StoreOptions};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Creates an API token in the configured database and returns its secret. With
/// `expires_in_days`, the token is refused from that many days after now on.
pub async fn create_token(
    config: &Config,
    role: csms_core::access::Role,
    name: Option<String>,
    expires_in_days: Option<u32>,
) -> Result<String> {
    let store = Store::open(&config.database, StoreOptions::default())
        .await
        .with_context(|| format!("opening the database {}", redact(&config.database)))?;
    let (secret, token_hash) = csms_api::auth::new_token().context("no randomness for the token")?;
    let now = SystemClock.now();
    let expires_at = expires_in_days.map(|days| now + chrono::Duration::days(i64::from(days)));
    store.execute(csms_core::ops::CreateApiToken { token_hash, role, name, now, expires_at }, Vec::new()).await?;
    store.close().await;
    Ok(secret)
}

pub async fn run(config: Config, api_open: bool) -> Result<()> {
    // The listeners first: a port in use or a mistyped address fails in milliseconds, before
    // any file or database is created for a server that cannot run.
    let listener_metrics = Arc::new(crate::listener::ListenerMetrics::default());
    let bind = |address: String| bind(address, &config, listener_metrics.clone());
    let tls = match config.tls.clone() {
        None => None,
        Some(settings) => {
            let listen = settings.listen.clone();
            let tls = crate::tls::TlsConfig::load(settings)?;
            let listener = bind(listen).await?;
            Some((tls, listener))
        }
    };
    let listener = bind(config.listen.clone()).await?;
    let api_listener = match &config.api_listen {
        Some(address) => Some(bind(address.clone()).await?),
        None => None,
    };
    let authority = crate::ca::load(&config)?;
    // Faults are classified with the operator's vendor codes, stored ones again if they changed.
    let options = StoreOptions {
        fault_categories: Some(Arc::new(config.fault_categories.clone())),
        time_zone: config.time_zone,
        ..StoreOptions::default()
    };
    let store = Store::open(&config.database, options)
        .await
        .with_context(|| format!("opening the database {}", redact(&config.database)))?;
    let shutdown = CancellationToken::new();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let commands =
        Arc::new(Commands::new(store.clone(), clock.clone(), config.gateway.call_timeout).with_authority(authority));
    let port: Arc<dyn Port> = Arc::new(store.clone());
    let gateway = Gateway::new(config.gateway.clone(), port, &commands, clock.clone(), shutdown.clone());
    let costs = csms_commands::costs::CostSettings { interval: config.cost_update, time_zone: config.time_zone };
    tokio::spawn(csms_commands::costs::run((*commands).clone(), costs, shutdown.clone()));
    let offline = store.stations_offline().await.context("reading the stations whose connection was lost")?;
    gateway.note_lost(offline.iter().filter_map(|id| StationId::parse(id)));
    gateway.watch_heartbeats();
    if api_open {
        tracing::warn!("the API is open: anyone who can reach this port can read and command every station");
    }
    let api = csms_api::router(
        Arc::new(Api {
            store: store.clone(),
            commands,
            clock: clock.clone(),
            shutdown: shutdown.clone(),
            webhook_hosts: config.webhook_hosts.clone(),
        }),
        api_open,
    );
    // Stations' routes with the API, unless the API has a listener of its own.
    let (app, api_only) = match &config.api_listen {
        None => (gateway.router().merge(api), None),
        Some(_) => (gateway.router(), Some(api)),
    };
    let rendered = listener_metrics.clone();
    csms_metrics::add_renderer(move |out| rendered.render(out));
    let addr = axum::serve::Listener::local_addr(&listener)?;
    tokio::spawn(wait_for_signal(shutdown.clone()));
    // Printed on stdout so that scripts and tests started with port 0 learn the ports.
    println!("strom listening on {addr}");
    if let Some((tls, tls_listener)) = tls {
        let tls_addr = axum::serve::Listener::local_addr(&tls_listener)?;
        println!("strom listening for TLS on {tls_addr}");
        tls.reload_on_hangup(shutdown.clone())?;
        let metrics = tls.metrics.clone();
        csms_metrics::add_renderer(move |out| metrics.render(out));
        let tls_app = app.clone();
        tokio::spawn(crate::tls::serve(tls_listener, tls_app, tls, config.listener.clone(), shutdown.clone()));
    }
    let api_server = match (api_listener, api_only) {
        (Some(api_listener), Some(api)) => {
            println!("strom API listening on {}", axum::serve::Listener::local_addr(&api_listener)?);
            let serving = axum::serve(api_listener, api).with_graceful_shutdown(shutdown.clone().cancelled_owned());
            Some(tokio::spawn(async move { serving.await }))
        }
        _ => None,
    };
    std::io::stdout().flush()?;
    tracing::info!(%addr, database = %redact(&config.database), "serving");

    tokio::spawn(csms_webhooks::run(store.clone(), clock.clone(), config.webhooks.clone(), shutdown.clone()));
    tokio::spawn(csms_webhooks::check_alerts(store.clone(), clock.clone(), config.alert_check, shutdown.clone()));
    tokio::spawn(prune_message_log(store.clone(), clock, config.clone(), shutdown.clone()));

    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    server.await.context("serving")?;
    if let Some(api_server) = api_server {
        if let Ok(Err(e)) = api_server.await {
            tracing::warn!(error = %e, "the API listener failed");
        }
    }
    // Sessions close on the same token; wait for them to finish their current message.
    if tokio::time::timeout(Duration::from_secs(10), gateway.drain()).await.is_err() {
        tracing::warn!("some sessions did not close within 10 s");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Binds a listener with the configured protection, counting into the listeners' `metrics`.
async fn bind(
    address: String,
    config: &Config,
    metrics: Arc<crate::listener::ListenerMetrics>,
) -> Result<crate::listener::GatedListener> {
    let listener = crate::listener::GatedListener::bind(&address, config.listener.clone())
        .await
        .with_context(|| format!("listening on {address}"))?;
    Ok(listener.counting_into(metrics))
}

/// Cancels `shutdown` on SIGTERM or Ctrl-C. The SIGTERM handler is installed before this returns
/// (and so before "listening" is printed): a supervisor that stops Ström the moment it is up
/// still gets a graceful shutdown rather than the default action of the signal.
fn wait_for_signal(shutdown: CancellationToken) -> impl std::future::Future<Output = ()> {
    let requested = end_requested();
    async move {
        requested.await;
        tracing::info!("shutting down");
        shutdown.cancel();
    }
}

/// Resolves on Ctrl-C or SIGTERM; the SIGTERM handler is installed when this is called, so
/// that a signal soon after is not the default action (death without a summary).
pub(crate) fn end_requested() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        #[cfg(unix)]
        let term = async move {
            match term {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
}

/// Prunes the message log: by age (and count) once an hour, a pass over the whole log; and in
/// between, every `message_log_cap_every` (30 s by default), each station over its count
/// (`Store::cap_messages`, which costs nothing for stations under it), so that a station that
/// talks a lot is held to its count within a minute of writing rather than an hour.
async fn prune_message_log(store: Store, clock: Arc<dyn Clock>, config: Config, shutdown: CancellationToken) {
    const FULL_EVERY: Duration = Duration::from_secs(3600);
    let (Ok(retention), Ok(event_retention)) =
        (chrono::Duration::from_std(config.message_log_retention), chrono::Duration::from_std(config.event_retention))
    else {
        return;
    };
    let mut every = tokio::time::interval(config.message_log_cap_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_full: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let max = config.message_log_max_per_station;
        let pruned = if last_full.is_none_or(|at| at.elapsed() >= FULL_EVERY) {
            last_full = Some(tokio::time::Instant::now());
            let events_before = format_timestamp(&(clock.now() - event_retention));
            if let Err(e) = store.prune_events(&events_before).await {
                tracing::warn!(error = %e, "pruning the events failed");
            }
            let before = format_timestamp(&(clock.now() - retention));
            store.prune_messages(&before, max).await
        } else {
            store.cap_messages(max).await
        };
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "pruning the message log failed");
        }
    }
}

/// A database URL for the log: its password, if it has one, masked; anything else as given.
fn redact(url: &str) -> String {
    let Some(scheme) = url.find("://") else { return url.to_string() };
    let rest = &url[scheme + 3..];
    // The user information ends at the last '@' before the path (a password may hold '@').
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_string() };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{}{user}:***{}", &url[..scheme + 3], &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn only_a_password_is_masked_in_a_database_url() {
        for (url, shown) in [
            ("postgres://strom:secret@db:5432/strom", "postgres://strom:***@db:5432/strom"),
            ("postgres://strom:p@ss@db/strom", "postgres://strom:***@db/strom"),
            ("postgres://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1:5432/test"),
            ("postgres://db/strom?options=-c%20a@b", "postgres://db/strom?options=-c%20a@b"),
            ("strom.db", "strom.db"),
            ("sqlite://data/strom.db", "sqlite://data/strom.db"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
