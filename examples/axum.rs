//! Zoom RTMS webhooks with axum 0.8.
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... \
//!     cargo run --example axum --features axum
//! ```
//!
//! Listens on `http://127.0.0.1:$PORT/webhook` (default port 8080). Each processed event is
//! printed on one line; for a started stream the RTMS handshake message it would send is
//! printed too (it never dials). Ctrl-C stops accepting requests, then processes every event
//! already acknowledged before exiting.

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::sync::Arc;

use axum::Router;
use zoom_rtms_webhooks::dedup::Deduplicator;
use zoom_rtms_webhooks::receiver::Receiver;

use common::{Config, WEBHOOK_PATH};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let config = Config::from_env()?;
    // The de-duplicator is chosen here, and only here: in memory, or shared through Redis when
    // REDIS_URL is set (several replicas; build with `--features axum,redis`).
    serve(config, common::deduplicator().await?).await
}

async fn serve<D: Deduplicator>(config: Config, dedup: D) -> Result<(), Box<dyn Error>> {
    let dispatcher = common::dispatcher(config.credentials()?);
    let receiver = Arc::new(Receiver::new(config.verifier()?, dedup, dispatcher.clone()));

    // `webhook` answers every method (405 for all but POST) and applies the receiver's body
    // limit. Add your other routes and layers as usual.
    let app = Router::new().route(WEBHOOK_PATH, zoom_rtms_webhooks::axum::webhook(receiver));

    let listener = tokio::net::TcpListener::bind(config.addr()).await?;
    println!("listening on {}", config.url());
    axum::serve(listener, app)
        .with_graceful_shutdown(common::shutdown_signal())
        .await?;
    common::drain(&dispatcher).await;
    Ok(())
}
