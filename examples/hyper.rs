//! Zoom RTMS webhooks with hyper 1.x and hyper-util.
//!
//! In this repository:
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... \
//!     cargo run --example hyper --features hyper
//! ```
//!
//! In a project of your own, this file is `src/main.rs`, `cargo run` starts it (with the same
//! environment), and `Cargo.toml` has:
//!
//! ```toml
//! [dependencies]
//! zoom-rtms-webhooks = { version = "0.3", features = ["hyper"] }
//! hyper = { version = "1", features = ["server", "http1"] }
//! hyper-util = { version = "0.1", features = ["tokio", "http1", "server-graceful"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "signal", "time"] }
//!
//! [features]
//! # Optional: `cargo run --features redis` de-duplicates through Redis when REDIS_URL is set.
//! redis = ["zoom-rtms-webhooks/redis"]
//! ```
//!
//! Listens on `http://$HOST:$PORT/webhook` (default `127.0.0.1:8080`; `HOST=0.0.0.0` in a
//! container). Each processed event is printed on one line; for a started stream the RTMS
//! handshake message it would send is printed too (it never dials). With `REDIS_URL` (and the
//! `redis` feature; here `--features hyper,redis`) replicas share de-duplication. Ctrl-C or
//! SIGTERM stops accepting connections, lets open connections finish their current request
//! (10 s at most), then processes every event already acknowledged.

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use zoom_rtms_webhooks::dedup::{BoxDeduplicator, MemoryDeduplicator};
use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
use zoom_rtms_webhooks::hyper::WebhookService;
use zoom_rtms_webhooks::region::HostPolicy;
use zoom_rtms_webhooks::{Delivery, Receiver};
use zoom_rtms_webhooks::{Verifier, WebhookEvent};

#[tokio::main]
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
    let receiver = Receiver::new(verifier, dedup, dispatcher.clone());
    // The service answers every path and method (405 for all but POST). A server with other
    // endpoints routes `/webhook` to it; this one serves nothing else.
    let service = WebhookService::new(Arc::new(receiver));

    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{addr}/webhook");
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors, for example: wait rather than spin.
                        eprintln!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let connection =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service.clone());
                let connection = graceful.watch(connection);
                tokio::spawn(connection);
            }
            () = &mut shutdown => break,
        }
    }

    // Stop accepting, let open connections finish their request (10 s at most)...
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
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
