//! Quickstart: a Zoom RTMS webhook endpoint that works with nothing configured.
//!
//! ```text
//! cargo run --example quickstart --features axum
//! ```
//!
//! It listens on `http://127.0.0.1:8080/webhook` (`PORT` to change), prints a `curl` command
//! that sends it a signed `meeting.rtms_started`, and for every event it processes prints one
//! line plus, for a started stream, the RTMS handshake message it would send (it never dials).
//!
//! Without `ZOOM_SECRET_TOKEN` it uses a demo secret, and without `ZOOM_CLIENT_ID` /
//! `ZOOM_CLIENT_SECRET` demo credentials; it says so on startup. Set them to receive real
//! webhooks from your Zoom app. Ctrl-C stops accepting requests, then processes every event
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
    let config = Config::from_env_or_demo()?;
    config.print_demo_notice();
    // The de-duplicator is chosen here, and only here: one process, in memory, or shared
    // through Redis when REDIS_URL is set (build with `--features axum,redis`).
    serve(config, common::deduplicator().await?).await
}

async fn serve<D: Deduplicator>(config: Config, dedup: D) -> Result<(), Box<dyn Error>> {
    // Events are acknowledged first, then processed by the dispatcher's workers.
    let dispatcher = common::dispatcher(config.credentials()?);
    let receiver = Receiver::new(config.verifier()?, dedup, dispatcher.clone());
    let app = Router::new().route(
        WEBHOOK_PATH,
        zoom_rtms_webhooks::axum::webhook(Arc::new(receiver)),
    );

    let listener = tokio::net::TcpListener::bind(config.addr()).await?;
    println!("listening on {}", config.url());
    if config.demo_secret {
        println!(
            "send it a signed test event (valid for 5 minutes: Zoom's timestamp window; \
             restart for a fresh command):\n\n  {}\n\n\
             Send it twice: the retry is acknowledged (200) but not processed again.",
            common::test_command(&config.url(), &config.secret_token)
        );
    } else {
        // With a real secret, printing a signed request would put a replayable, genuinely
        // signed event in the terminal's history: sign test requests yourself.
        println!("ZOOM_SECRET_TOKEN is set: waiting for Zoom's deliveries.");
    }

    // Ctrl-C: stop accepting and finish in-flight requests...
    axum::serve(listener, app)
        .with_graceful_shutdown(common::shutdown_signal())
        .await?;
    // ...then process every event that was acknowledged.
    common::drain(&dispatcher).await;
    Ok(())
}
