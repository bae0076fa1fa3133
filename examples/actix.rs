//! Zoom RTMS webhooks with actix-web 4.
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... \
//!     cargo run --example actix --features actix
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

use actix_web::{App, HttpServer};
use zoom_rtms_webhooks::actix::configure;
use zoom_rtms_webhooks::receiver::Receiver;

use common::{Config, WEBHOOK_PATH};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let config = Config::from_env()?;
    // The handler runs on these workers after the 200 has been sent.
    let dispatcher = common::dispatcher(config.credentials()?);
    // In memory, or shared through Redis when REDIS_URL is set (several replicas; build with
    // `--features actix,redis`).
    let receiver = Arc::new(Receiver::new(
        config.verifier()?,
        common::deduplicator().await?,
        dispatcher.clone(),
    ));

    // `configure` answers every method at the path (405 for all but POST) and sets actix's
    // PayloadConfig to the receiver's body limit. Add your other routes as usual.
    let server = HttpServer::new(move || {
        App::new().configure(configure(Arc::clone(&receiver), WEBHOOK_PATH))
    })
    // Shutdown is driven below, the same way as in the other examples.
    .disable_signals()
    .bind(config.addr())?
    .run();

    let handle = server.handle();
    actix_web::rt::spawn(async move {
        common::shutdown_signal().await;
        // Stop accepting, let in-flight requests finish.
        handle.stop(true).await;
    });

    println!("listening on {}", config.url());
    server.await?;
    // Every acknowledged event is processed before the process exits.
    common::drain(&dispatcher).await;
    Ok(())
}
