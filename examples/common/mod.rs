//! Code shared by the examples: configuration from the environment, the event handler that
//! prints what it would do, and graceful shutdown.
//!
//! Include it from an example with:
//!
//! ```ignore
//! #[path = "common/mod.rs"]
//! mod common;
//! ```
//!
//! Nothing here is specific to a web framework.
// Every example uses a different subset of these helpers.
#![allow(dead_code)]

use std::convert::Infallible;
use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use zoom_rtms_webhooks::dedup::{DedupError, Deduplicator, MemoryDeduplicator, Seen};
use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
use zoom_rtms_webhooks::handshake::Credentials;
use zoom_rtms_webhooks::receiver::Delivery;
use zoom_rtms_webhooks::{sign, SignalingHandshakeRequest, Verifier, WebhookEvent};

/// The path every example serves.
pub const WEBHOOK_PATH: &str = "/webhook";
/// Port used when `PORT` is not set.
pub const DEFAULT_PORT: u16 = 8080;

/// Webhook Secret Token used by the quickstart when `ZOOM_SECRET_TOKEN` is not set.
/// Never use it for a real app: anyone who reads this file can sign requests with it.
pub const DEMO_SECRET_TOKEN: &str = "demo-secret-token";
/// Client id used by the quickstart when `ZOOM_CLIENT_ID` is not set.
pub const DEMO_CLIENT_ID: &str = "demo-client-id";
/// Client secret used by the quickstart when `ZOOM_CLIENT_SECRET` is not set.
pub const DEMO_CLIENT_SECRET: &str = "demo-client-secret";

/// A `meeting.rtms_started` body for trying an example by hand (see [`test_command`]).
pub const DEMO_EVENT_BODY: &str = r#"{"event":"meeting.rtms_started","event_ts":1732000000000,"payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","operator_id":"demo-operator","rtms_stream_id":"609340fd4a2e4e7a8ab6bd9c1e0b1a77","server_urls":"wss://rtms-sjc1.zoom.us/"}}"#;

/// What an example needs from the environment.
///
/// No `Debug`: it holds secrets.
pub struct Config {
    /// `PORT` (default [`DEFAULT_PORT`]); the examples listen on `127.0.0.1:{port}`.
    pub port: u16,
    /// `ZOOM_SECRET_TOKEN`: the app's webhook Secret Token.
    pub secret_token: String,
    /// `ZOOM_CLIENT_ID`: the OAuth client id (Video SDK: SDK key), for the RTMS handshake.
    pub client_id: String,
    /// `ZOOM_CLIENT_SECRET`: the OAuth client secret (Video SDK: SDK secret).
    pub client_secret: String,
    /// `true` when the secret token is [`DEMO_SECRET_TOKEN`].
    pub demo_secret: bool,
    /// `true` when the client credentials are the demo ones.
    pub demo_credentials: bool,
}

impl Config {
    /// Reads `PORT`, `ZOOM_SECRET_TOKEN`, `ZOOM_CLIENT_ID` and `ZOOM_CLIENT_SECRET`.
    ///
    /// The three Zoom values are required: a missing secret must stop the service rather than
    /// let it accept unsigned traffic.
    pub fn from_env() -> Result<Config, Box<dyn Error>> {
        let required = |name: &str| -> Result<String, Box<dyn Error>> {
            env_var(name).ok_or_else(|| {
                format!(
                    "{name} is not set. Set ZOOM_SECRET_TOKEN, ZOOM_CLIENT_ID and \
                     ZOOM_CLIENT_SECRET (or try `cargo run --example quickstart --features axum`, \
                     which needs nothing)"
                )
                .into()
            })
        };
        Ok(Config {
            port: port_from_env()?,
            secret_token: required("ZOOM_SECRET_TOKEN")?,
            client_id: required("ZOOM_CLIENT_ID")?,
            client_secret: required("ZOOM_CLIENT_SECRET")?,
            demo_secret: false,
            demo_credentials: false,
        })
    }

    /// Like [`Config::from_env`], but uses the demo secret and demo credentials for whatever is
    /// not set (the quickstart).
    pub fn from_env_or_demo() -> Result<Config, Box<dyn Error>> {
        let secret = env_var("ZOOM_SECRET_TOKEN");
        let demo_secret = secret.is_none();
        let (client_id, client_secret, demo_credentials) =
            match (env_var("ZOOM_CLIENT_ID"), env_var("ZOOM_CLIENT_SECRET")) {
                (Some(id), Some(secret)) => (id, secret, false),
                _ => (
                    DEMO_CLIENT_ID.to_owned(),
                    DEMO_CLIENT_SECRET.to_owned(),
                    true,
                ),
            };
        Ok(Config {
            port: port_from_env()?,
            secret_token: secret.unwrap_or_else(|| DEMO_SECRET_TOKEN.to_owned()),
            client_id,
            client_secret,
            demo_secret,
            demo_credentials,
        })
    }

    /// `127.0.0.1:{port}`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `http://127.0.0.1:{port}/webhook`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr(), WEBHOOK_PATH)
    }

    /// A [`Verifier`] for the secret token (default 5-minute timestamp window).
    pub fn verifier(&self) -> Result<Verifier, Box<dyn Error>> {
        Ok(Verifier::new(self.secret_token.as_str())?)
    }

    /// The client credentials for the RTMS handshake signature.
    pub fn credentials(&self) -> Result<Credentials, Box<dyn Error>> {
        Ok(Credentials::new(
            self.client_id.as_str(),
            self.client_secret.as_str(),
        )?)
    }

    /// Prints which values are demo values (never the secrets themselves).
    pub fn print_demo_notice(&self) {
        if self.demo_secret {
            println!(
                "ZOOM_SECRET_TOKEN is not set: using the DEMO secret token {DEMO_SECRET_TOKEN:?}. \
                 Anyone can sign requests with it; set ZOOM_SECRET_TOKEN for a real app."
            );
        }
        if self.demo_credentials {
            println!(
                "ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET are not set: using DEMO client credentials \
                 (handshake messages below are signed with them and would be refused by Zoom)."
            );
        }
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn port_from_env() -> Result<u16, Box<dyn Error>> {
    match env_var("PORT") {
        None => Ok(DEFAULT_PORT),
        Some(p) => p
            .trim()
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {p:?}").into()),
    }
}

/// The de-duplicator an example uses: in memory, or shared through Redis when `REDIS_URL` is
/// set (see [`deduplicator`]).
pub enum ExampleDeduplicator {
    /// One process: [`MemoryDeduplicator`].
    Memory(MemoryDeduplicator),
    /// Several replicas sharing one Redis.
    #[cfg(feature = "redis")]
    Redis(zoom_rtms_webhooks::redis::RedisDeduplicator),
}

impl Deduplicator for ExampleDeduplicator {
    async fn check_and_mark(&self, key: &str) -> Result<Seen, DedupError> {
        match self {
            ExampleDeduplicator::Memory(d) => d.check_and_mark(key).await,
            #[cfg(feature = "redis")]
            ExampleDeduplicator::Redis(d) => d.check_and_mark(key).await,
        }
    }

    async fn forget(&self, key: &str) -> Result<(), DedupError> {
        match self {
            ExampleDeduplicator::Memory(d) => d.forget(key).await,
            #[cfg(feature = "redis")]
            ExampleDeduplicator::Redis(d) => d.forget(key).await,
        }
    }
}

/// The in-memory de-duplicator, or, when `REDIS_URL` is set (and the example is built with
/// `--features redis`), a Redis one: several examples on different ports sharing one Redis then
/// process each event once between them. While Redis is unreachable they answer 503 (Zoom
/// retries later) and recover by themselves when it is back.
pub async fn deduplicator() -> Result<ExampleDeduplicator, Box<dyn Error>> {
    match env_var("REDIS_URL") {
        None => Ok(ExampleDeduplicator::Memory(MemoryDeduplicator::new())),
        #[cfg(feature = "redis")]
        Some(url) => {
            // The URL may hold a password: it is never printed.
            let conn = zoom_rtms_webhooks::redis::connect(&url)
                .await
                .map_err(|e| format!("REDIS_URL is set but Redis is unreachable: {e}"))?;
            println!(
                "REDIS_URL is set: de-duplicating through Redis, shared with every replica using it"
            );
            Ok(ExampleDeduplicator::Redis(
                zoom_rtms_webhooks::redis::RedisDeduplicator::new(conn),
            ))
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => Err(
            "REDIS_URL is set, but this example was built without the `redis` \
                        feature: add it, e.g. `--features axum,redis`"
                .into(),
        ),
    }
}

/// Current Unix time in seconds, as sent in `x-zm-request-timestamp`.
pub fn unix_now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string()
}

/// A ready-to-paste `curl` command sending [`DEMO_EVENT_BODY`] to `url`, signed with `secret`
/// and timestamped now. Zoom's timestamp window is 5 minutes, so the command works for 5
/// minutes.
pub fn test_command(url: &str, secret: &str) -> String {
    let timestamp = unix_now();
    let signature = sign(secret, &timestamp, DEMO_EVENT_BODY.as_bytes());
    format!(
        "curl -i -X POST {url} -H 'content-type: application/json' \
         -H 'x-zm-request-timestamp: {timestamp}' -H 'x-zm-signature: {signature}' \
         --data-raw '{DEMO_EVENT_BODY}'"
    )
}

/// The lines the example handler prints for one processed event: one line with the event
/// name and stream id, and for a started stream a second line with the signalling handshake
/// request (msg_type 1) it would send to the stream's server URL.
pub fn event_lines(delivery: &Delivery, creds: &Credentials) -> Vec<String> {
    let event = &delivery.event;
    let mut lines = vec![format!(
        "processed {} stream={}",
        event.name(),
        event.rtms_stream_id().unwrap_or("-")
    )];
    if let WebhookEvent::RtmsStarted(started) = event {
        // Only ever dial a wss:// URL on a zoom.us host: server_urls decides where we connect.
        let target = match started.server_urls(&zoom_rtms_webhooks::region::HostPolicy::default()) {
            Ok(urls) => urls
                .first()
                .map_or_else(|| "<no url>".to_owned(), |u| u.to_string()),
            Err(e) => {
                lines.push(format!("  refusing to connect: {e}"));
                return lines;
            }
        };
        let handshake = SignalingHandshakeRequest::new(started, creds);
        lines.push(format!("  would send to {target}: {}", handshake.to_json()));
    }
    lines
}

/// The example's event handler: prints [`event_lines`]. A real service would open the RTMS
/// signalling WebSocket here (spawned with `tokio::spawn`, so a worker is not held for the
/// stream's lifetime).
pub async fn handle_event(delivery: Delivery, creds: Credentials) -> Result<(), Infallible> {
    for line in event_lines(&delivery, &creds) {
        println!("{line}");
    }
    Ok(())
}

/// A [`Dispatcher`] with the default size running [`handle_event`].
/// Must be called inside a Tokio runtime.
pub fn dispatcher(creds: Credentials) -> Dispatcher<Delivery> {
    let delay = handler_delay();
    Dispatcher::new(dispatcher_config(), move |delivery| {
        let creds = creds.clone();
        async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            handle_event(delivery, creds).await
        }
    })
}

/// Benchmark knob `HANDLER_DELAY_MS`: simulated work per event before the handler prints
/// (default 0).
pub fn handler_delay() -> std::time::Duration {
    std::time::Duration::from_millis(
        env_var("HANDLER_DELAY_MS")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    )
}

/// Benchmark knobs `DISPATCH_WORKERS` and `DISPATCH_QUEUE_CAPACITY` (defaults: the crate's).
pub fn dispatcher_config() -> DispatcherConfig {
    let get = |name: &str| env_var(name).and_then(|v| v.trim().parse::<usize>().ok());
    let mut config = DispatcherConfig::default();
    if let Some(workers) = get("DISPATCH_WORKERS") {
        config = config.with_workers(workers);
    }
    if let Some(capacity) = get("DISPATCH_QUEUE_CAPACITY") {
        config = config.with_queue_capacity(capacity);
    }
    config
}

/// Resolves on Ctrl-C (or SIGTERM on Unix) and says so.
pub async fn shutdown_signal() {
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
            Ok(mut s) => {
                s.recv().await;
            }
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

/// Second half of a graceful shutdown, after the server stopped accepting: process every
/// event that was already acknowledged, then report.
pub async fn drain(dispatcher: &Dispatcher<Delivery>) {
    let queued = dispatcher.queued();
    println!("processing {queued} queued event(s) before exit");
    dispatcher.shutdown().await;
    let stats = dispatcher.stats();
    println!(
        "done: {} processed, {} failed, {} panicked",
        stats.processed, stats.failed, stats.panicked
    );
}
