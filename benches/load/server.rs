//! The Rust server of the load benchmark (`benches/load/run.sh`): `examples/axum.rs` with
//! the benchmark's knobs, and nothing else (in-memory de-duplication, no Redis).
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... PORT=8080 \
//!     HANDLER_DELAY_MS=2000 DISPATCH_WORKERS=65536 DISPATCH_QUEUE_CAPACITY=65536 \
//!     cargo run --release --example load-server --features axum
//! ```
//!
//! - `HANDLER_DELAY_MS` (default 0): simulated work per event (a `tokio::time::sleep`) before
//!   the handler prints its lines;
//! - `DISPATCH_WORKERS`, `DISPATCH_QUEUE_CAPACITY` (default: the crate's): the dispatcher's
//!   size; with a 2 s handler it must hold rate x 2 s events, or it answers 503 by design.
//!
//! Like the examples, it prints `processed <event> stream=<id>` (and, for a started stream, the
//! handshake message) per processed event: `run.sh` counts those lines. Listens on
//! `127.0.0.1:$PORT`; SIGINT (Ctrl-C) stops accepting, then drains the queue.

use std::convert::Infallible;
use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
use zoom_rtms_webhooks::receiver::{Delivery, Receiver};
use zoom_rtms_webhooks::region::HostPolicy;
use zoom_rtms_webhooks::{Verifier, WebhookEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let port: u16 = env("PORT").map_or(Ok(8080), |p| p.parse())?;
    let delay = Duration::from_millis(env("HANDLER_DELAY_MS").map_or(Ok(0), |v| v.parse())?);
    let mut config = DispatcherConfig::default();
    if let Some(workers) = env("DISPATCH_WORKERS") {
        config = config.with_workers(workers.parse()?);
    }
    if let Some(capacity) = env("DISPATCH_QUEUE_CAPACITY") {
        config = config.with_queue_capacity(capacity.parse()?);
    }
    let required = |name: &str| env(name).ok_or_else(|| format!("{name} is not set"));
    let verifier = Verifier::new(required("ZOOM_SECRET_TOKEN")?)?;
    let creds = Credentials::new(required("ZOOM_CLIENT_ID")?, required("ZOOM_CLIENT_SECRET")?)?;

    let dispatcher = Dispatcher::new(config, move |delivery| {
        let creds = creds.clone();
        async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            on_event(&delivery, &creds);
            Ok::<_, Infallible>(())
        }
    });
    let receiver = Receiver::new(verifier, MemoryDeduplicator::new(), dispatcher.clone());
    let app = Router::new().route(
        "/webhook",
        zoom_rtms_webhooks::axum::webhook(Arc::new(receiver)),
    );
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{addr}/webhook");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    dispatcher.shutdown().await;
    let stats = dispatcher.stats();
    println!(
        "done: {} processed, {} failed, {} panicked",
        stats.processed, stats.failed, stats.panicked
    );
    Ok(())
}

/// The examples' handler: one line per event, plus the handshake message for a started stream.
fn on_event(delivery: &Delivery, creds: &Credentials) {
    let event = &delivery.event;
    let stream = event.rtms_stream_id().unwrap_or("-");
    println!("processed {} stream={stream}", event.name());
    if let WebhookEvent::RtmsStarted(started) = event {
        match started.server_urls(&HostPolicy::default()) {
            Ok(urls) => {
                let handshake = SignalingHandshakeRequest::new(creds, started);
                println!("  would send to {}: {}", urls[0], handshake.to_json());
            }
            Err(e) => println!("  refusing to connect: {e}"),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn shutdown_signal() {
    // run.sh stops the server with SIGINT.
    let _ = tokio::signal::ctrl_c().await;
}
