//! Zoom RTMS webhooks with hyper 1.x and hyper-util.
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... \
//!     cargo run --example hyper --features hyper
//! ```
//!
//! Listens on `http://127.0.0.1:$PORT/webhook` (default port 8080). Each processed event is
//! printed on one line; for a started stream the RTMS handshake message it would send is
//! printed too (it never dials). Ctrl-C stops accepting connections, lets open connections
//! finish their current request, then processes every event already acknowledged.

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::pin::pin;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio::task::JoinSet;
use zoom_rtms_webhooks::dedup::Deduplicator;
use zoom_rtms_webhooks::hyper::WebhookService;
use zoom_rtms_webhooks::receiver::Receiver;

use common::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let config = Config::from_env()?;
    // The de-duplicator is chosen here, and only here: in memory, or shared through Redis when
    // REDIS_URL is set (several replicas; build with `--features hyper,redis`).
    serve(config, common::deduplicator().await?).await
}

async fn serve<D: Deduplicator>(config: Config, dedup: D) -> Result<(), Box<dyn Error>> {
    let dispatcher = common::dispatcher(config.credentials()?);
    let receiver = Receiver::new(config.verifier()?, dedup, dispatcher.clone());
    // The service answers every path and method (405 for all but POST). A server with other
    // endpoints routes `/webhook` to it; this one serves nothing else.
    let service = WebhookService::new(Arc::new(receiver));

    let listener = tokio::net::TcpListener::bind(config.addr()).await?;
    println!("listening on {}", config.url());

    let (close_tx, close_rx) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(common::shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        eprintln!("accept failed: {e}");
                        continue;
                    }
                };
                let connection =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service.clone());
                let mut close_rx = close_rx.clone();
                connections.spawn(async move {
                    let mut connection = pin!(connection);
                    tokio::select! {
                        result = connection.as_mut() => result,
                        _ = close_rx.changed() => {
                            // Finish the request in flight, then close.
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }

    // Stop accepting, close every connection gracefully and wait for them...
    drop(listener);
    drop(close_tx);
    while connections.join_next().await.is_some() {}
    // ...then process every event that was acknowledged.
    common::drain(&dispatcher).await;
    Ok(())
}
