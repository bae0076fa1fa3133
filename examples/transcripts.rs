//! A complete RTMS service in one short file: receives Zoom's webhooks (verified,
//! acknowledged first, de-duplicated), connects to every stream they announce (one connection
//! per stream), and prints every transcript utterance.
//!
//! In this repository:
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... \
//!     cargo run --example transcripts --features axum,client
//! ```
//!
//! In a project of your own, this file is `src/main.rs`, `cargo run` starts it (with the same
//! environment), and `Cargo.toml` has:
//!
//! ```toml
//! [dependencies]
//! zoom-rtms-webhooks = { version = "0.3", features = ["axum", "client"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//!
//! [features]
//! # Optional: `cargo run --features redis` shares the streams between copies when REDIS_URL is set.
//! redis = ["zoom-rtms-webhooks/redis"]
//! ```
//!
//! Environment (as the `connect` example): `ZOOM_SECRET_TOKEN`, `ZOOM_CLIENT_ID`,
//! `ZOOM_CLIENT_SECRET` (required); `HOST`, `PORT` (default `127.0.0.1:8080`, webhooks on
//! `/webhook`); `ZOOM_RTMS_TEST_HOST` (a local simulator's host, allowed with plain `ws://`;
//! never in production); `REDIS_URL` (with the `redis` feature: several copies share the
//! streams). Ctrl-C or SIGTERM shuts down gracefully.
//!
//! Standard output has one line per utterance (everything else goes to stderr):
//! `transcript stream=<id> user=<user_name> text=<text>`, with control characters escaped.

use zoom_rtms_webhooks::client::{Item, MediaParams, MediaTypes};
use zoom_rtms_webhooks::service::{escape, Service, ServiceError};

#[tokio::main]
async fn main() -> Result<(), ServiceError> {
    Service::from_env()
        .with_media(MediaTypes::TRANSCRIPT, MediaParams::new())
        .run(|mut stream| async move {
            while let Some(item) = stream.next().await {
                if let Item::Transcript(t) = item {
                    let user = t.source.user_name().unwrap_or("");
                    println!(
                        "transcript stream={} user={} text={}",
                        escape(stream.id()),
                        escape(user),
                        escape(&t.text)
                    );
                }
            }
        })
        .await
}
