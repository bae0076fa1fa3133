//! Quickstart: a Zoom RTMS webhook endpoint (axum) that works with nothing configured.
//!
//! In this repository: `cargo run --example quickstart --features axum`.
//!
//! In a project of your own, this file is `src/main.rs` and `Cargo.toml` has:
//!
//! ```toml
//! [dependencies]
//! zoom-rtms-webhooks = { version = "0.3", features = ["axum"] }
//! axum = "0.8"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "signal"] }
//!
//! [features]
//! # Optional: `cargo run --features redis` de-duplicates through Redis when REDIS_URL is set.
//! redis = ["zoom-rtms-webhooks/redis"]
//! ```
//!
//! and `cargo run` starts it.
//!
//! It listens on `http://127.0.0.1:8080/webhook`, prints a `curl` command that sends it a
//! signed `meeting.rtms_started`, and for every event it processes prints one line plus, for a
//! started stream, the RTMS handshake message it would send (it never dials). Ctrl-C stops
//! accepting requests, then processes every event already acknowledged before exiting.
//!
//! Environment (all optional):
//! - `ZOOM_SECRET_TOKEN`: the app's webhook Secret Token (default: a demo secret, and it says so);
//! - `ZOOM_CLIENT_ID`, `ZOOM_CLIENT_SECRET`: the handshake credentials (default: demo ones);
//! - `HOST` (default `127.0.0.1`; `0.0.0.0` in a container), `PORT` (default `8080`);
//! - `REDIS_URL`: share de-duplication between replicas (needs the `redis` feature; here
//!   `--features axum,redis`).

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use zoom_rtms_webhooks::dedup::{BoxDeduplicator, MemoryDeduplicator};
use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
use zoom_rtms_webhooks::region::HostPolicy;
use zoom_rtms_webhooks::signature::sign;
use zoom_rtms_webhooks::{Delivery, Receiver};
use zoom_rtms_webhooks::{Verifier, WebhookEvent};

// Demo values, used for whatever the environment does not set. Never use them for a real app:
// anyone who reads this file can sign requests with the demo secret.
const DEMO_SECRET_TOKEN: &str = "demo-secret-token";
const DEMO_CLIENT_ID: &str = "demo-client-id";
const DEMO_CLIENT_SECRET: &str = "demo-client-secret";
/// The body of the signed test request the quickstart prints.
const DEMO_EVENT_BODY: &str = r#"{"event":"meeting.rtms_started","event_ts":1732000000000,"payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","operator_id":"demo-operator","rtms_stream_id":"609340fd4a2e4e7a8ab6bd9c1e0b1a77","server_urls":"wss://rtms-sjc1.zoom.us/"}}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = listen_addr()?;
    let secret = env("ZOOM_SECRET_TOKEN");
    let demo_secret = secret.is_none();
    let secret = secret.unwrap_or_else(|| {
        println!(
            "ZOOM_SECRET_TOKEN is not set: using the DEMO secret token {DEMO_SECRET_TOKEN:?}. \
             Anyone can sign requests with it; set ZOOM_SECRET_TOKEN for a real app."
        );
        DEMO_SECRET_TOKEN.to_owned()
    });
    let creds = match (env("ZOOM_CLIENT_ID"), env("ZOOM_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => Credentials::new(id, secret)?,
        _ => {
            println!(
                "ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET are not set: using DEMO client credentials \
                 (handshake messages below are signed with them and would be refused by Zoom)."
            );
            Credentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)?
        }
    };
    let verifier = Verifier::new(secret)?;
    // The de-duplicator is chosen at run time: one process, in memory, or shared through Redis
    // when REDIS_URL is set.
    let dedup = match env("REDIS_URL") {
        None => BoxDeduplicator::new(MemoryDeduplicator::new()),
        #[cfg(feature = "redis")]
        Some(url) => {
            use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
            // The URL may hold a password: it is never printed.
            let conn = connect(&url)
                .await
                .map_err(|e| format!("REDIS_URL is set but Redis is unreachable: {e}"))?;
            println!(
                "REDIS_URL is set: de-duplicating through Redis, shared with every replica using it"
            );
            BoxDeduplicator::new(RedisDeduplicator::new(conn))
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => {
            return Err(
                "REDIS_URL is set, but this example was built without the `redis` feature: \
                 add it, e.g. `--features axum,redis`"
                    .into(),
            )
        }
    };
    serve(addr, verifier, creds, demo_secret, dedup).await
}

async fn serve(
    addr: SocketAddr,
    verifier: Verifier,
    creds: Credentials,
    demo_secret: bool,
    dedup: BoxDeduplicator,
) -> Result<(), Box<dyn Error>> {
    // Events are acknowledged first, then processed by the dispatcher's workers.
    let dispatcher = Dispatcher::new(DispatcherConfig::default(), move |delivery| {
        on_event(delivery, creds.clone())
    });
    let receiver = Receiver::new(verifier, dedup, dispatcher.clone());
    let app = Router::new().route(
        "/webhook",
        zoom_rtms_webhooks::axum::webhook(Arc::new(receiver)),
    );

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let url = format!("http://{addr}/webhook");
    println!("listening on {url}");
    if demo_secret {
        println!(
            "send it a signed test event (valid for 5 minutes: Zoom's timestamp window; \
             restart for a fresh command):\n\n  {}\n\n\
             Send it twice: the retry is acknowledged (200) but not processed again.",
            test_command(&url, DEMO_SECRET_TOKEN)
        );
    } else {
        // With a real secret, printing a signed request would put a replayable, genuinely
        // signed event in the terminal's history: sign test requests yourself.
        println!("ZOOM_SECRET_TOKEN is set: waiting for Zoom's deliveries.");
    }

    // Ctrl-C: stop accepting and finish in-flight requests...
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    // ...then process every event that was acknowledged.
    println!(
        "processing {} queued event(s) before exit",
        dispatcher.queued()
    );
    dispatcher.shutdown().await;
    let stats = dispatcher.stats();
    println!(
        "done: {} processed, {} failed, {} panicked",
        stats.processed, stats.failed, stats.panicked
    );
    Ok(())
}

/// The event handler, run after the `200` was sent. A real service would open the RTMS
/// signalling WebSocket here (in a `tokio::spawn`ed task, so a worker is not held for the
/// stream's lifetime).
async fn on_event(
    delivery: Delivery,
    creds: Credentials,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let event = &delivery.event;
    let stream = event.rtms_stream_id().unwrap_or("-");
    println!("processed {} stream={stream}", event.name());
    if let WebhookEvent::RtmsStarted(started) = event {
        // Only ever dial a wss:// URL on a zoom.us host: server_urls decides where we connect.
        match started.server_urls(&HostPolicy::default()) {
            Ok(urls) => {
                // `server_urls` is never empty; the first URL is the one to dial.
                let handshake = SignalingHandshakeRequest::new(&creds, started);
                println!("  would send to {}: {}", urls[0], handshake.to_json());
            }
            Err(e) => println!("  refusing to connect: {e}"),
        }
    }
    Ok(())
}

/// A ready-to-paste `curl` command sending [`DEMO_EVENT_BODY`] to `url`, signed with `secret`
/// and timestamped now (valid for Zoom's 5-minute timestamp window).
fn test_command(url: &str, secret: &str) -> String {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let signature = sign(secret, &timestamp, DEMO_EVENT_BODY.as_bytes());
    format!(
        "curl -i -X POST {url} -H 'content-type: application/json' \
         -H 'x-zm-request-timestamp: {timestamp}' -H 'x-zm-signature: {signature}' \
         --data-raw '{DEMO_EVENT_BODY}'"
    )
}

/// An environment variable, `None` when unset or blank.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `HOST` (default `127.0.0.1`) and `PORT` (default `8080`).
fn listen_addr() -> Result<SocketAddr, Box<dyn Error>> {
    let host: IpAddr = match env("HOST") {
        None => Ipv4Addr::LOCALHOST.into(),
        Some(h) => h
            .trim()
            .parse()
            .map_err(|_| format!("HOST must be an IP address, got {h:?}"))?,
    };
    let port: u16 = match env("PORT") {
        None => 8080,
        Some(p) => p
            .trim()
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {p:?}"))?,
    };
    Ok(SocketAddr::new(host, port))
}

/// Resolves on Ctrl-C or SIGTERM (`docker stop`), and says so.
async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, never resolve rather than shut down at once.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => _ = s.recv().await,
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    println!("shutting down: no longer accepting requests");
}
