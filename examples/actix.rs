//! Zoom RTMS webhooks with actix-web 4.
//!
//! In this repository:
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... \
//!     cargo run --example actix --features actix
//! ```
//!
//! In a project of your own, this file is `src/main.rs`, `cargo run` starts it (with the same
//! environment), and `Cargo.toml` has:
//!
//! ```toml
//! [dependencies]
//! zoom-rtms-webhooks = { version = "0.3", features = ["actix"] }
//! # No compression, cookies or HTTP/2: a webhook endpoint needs none of them.
//! actix-web = { version = "4", default-features = false, features = ["macros"] }
//! tokio = { version = "1", features = ["signal"] }
//!
//! [features]
//! # Optional: `cargo run --features redis` de-duplicates through Redis when REDIS_URL is set.
//! redis = ["zoom-rtms-webhooks/redis"]
//! ```
//!
//! Listens on `http://$HOST:$PORT/webhook` (default `127.0.0.1:8080`; `HOST=0.0.0.0` in a
//! container). Each processed event is printed on one line; for a started stream the RTMS
//! handshake message it would send is printed too (it never dials). With `REDIS_URL` (and the
//! `redis` feature; here `--features actix,redis`) replicas share de-duplication. Ctrl-C or
//! SIGTERM stops accepting requests, then processes every event already acknowledged.

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use actix_web::{App, HttpServer};
use zoom_rtms_webhooks::dedup::{BoxDeduplicator, MemoryDeduplicator};
use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
use zoom_rtms_webhooks::region::HostPolicy;
use zoom_rtms_webhooks::{Delivery, Receiver};
use zoom_rtms_webhooks::{Verifier, WebhookEvent};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = listen_addr()?;
    let verifier = Verifier::new(required("ZOOM_SECRET_TOKEN")?)?;
    let creds = Credentials::new(required("ZOOM_CLIENT_ID")?, required("ZOOM_CLIENT_SECRET")?)?;
    // The de-duplicator is chosen at run time: in memory, or shared through Redis.
    let dedup = match env("REDIS_URL") {
        None => BoxDeduplicator::new(MemoryDeduplicator::new()),
        #[cfg(feature = "redis")]
        Some(url) => {
            use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
            // The URL may hold a password: never print it.
            BoxDeduplicator::new(RedisDeduplicator::new(connect(&url).await?))
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => return Err("REDIS_URL is set, but the `redis` feature is not enabled".into()),
    };
    serve(addr, verifier, creds, dedup).await
}

async fn serve(
    addr: SocketAddr,
    verifier: Verifier,
    creds: Credentials,
    dedup: BoxDeduplicator,
) -> Result<(), Box<dyn Error>> {
    // Events are acknowledged first, then processed by the dispatcher's workers.
    let dispatcher = Dispatcher::new(DispatcherConfig::default(), move |delivery| {
        on_event(delivery, creds.clone())
    });
    let receiver = Arc::new(Receiver::new(verifier, dedup, dispatcher.clone()));

    // `configure` answers every method at the path (405 for all but POST) and sets actix's
    // PayloadConfig to the receiver's body limit. Add your other routes as usual.
    let server = HttpServer::new(move || {
        App::new().configure(zoom_rtms_webhooks::actix::configure(
            Arc::clone(&receiver),
            "/webhook",
        ))
    })
    // actix's own SIGINT handling stops at once; stop gracefully instead, below.
    .disable_signals()
    .bind(addr)?
    .run();
    let server_handle = server.handle();
    actix_web::rt::spawn(async move {
        shutdown_signal().await;
        // Stop accepting and finish in-flight requests...
        server_handle.stop(true).await;
    });

    println!("listening on http://{addr}/webhook");
    server.await?;
    // ...then process every event that was acknowledged.
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

/// A required environment variable.
fn required(name: &str) -> Result<String, String> {
    env(name).ok_or_else(|| {
        format!(
            "{name} is not set. Set ZOOM_SECRET_TOKEN, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET \
             (or try the quickstart, which needs nothing)"
        )
    })
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

/// Resolves on Ctrl-C or SIGTERM (`docker stop`).
async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .expect("install the Ctrl-C handler");
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::terminate())
            .expect("install the SIGTERM handler")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    println!("shutting down: no longer accepting requests");
}
