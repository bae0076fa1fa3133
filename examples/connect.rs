//! Receive Zoom RTMS webhooks (axum, ack-first) and connect to every started stream with the
//! crate's RTMS client: audio (L16, 16 kHz, mono, mixed, 20 ms) and transcripts.
//!
//! In this repository:
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... \
//!     cargo run --example connect --features axum,client
//! ```
//!
//! In a project of your own, this file is `src/main.rs`, `cargo run` starts it (with the same
//! environment), and `Cargo.toml` has:
//!
//! ```toml
//! [dependencies]
//! zoom-rtms-webhooks = { version = "0.2", features = ["axum", "client"] }
//! axum = "0.8"
//! sha2 = "0.10"
//! hex = "0.4"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "signal"] }
//!
//! [features]
//! # Optional: `cargo run --features redis` shares the streams between copies when REDIS_URL is set.
//! redis = ["zoom-rtms-webhooks/redis"]
//! ```
//!
//! Environment:
//! - `ZOOM_SECRET_TOKEN`, `ZOOM_CLIENT_ID`, `ZOOM_CLIENT_SECRET` (required);
//! - `HOST` (default `127.0.0.1`), `PORT` (default `8080`): webhooks on `http://$HOST:$PORT/webhook`;
//! - `REDIS_URL` (optional, with the `redis` feature; here `--features axum,client,redis`):
//!   Redis de-duplication, the durable hand-off and stream leases with takeover, so several
//!   copies share the streams (a copy that stops hands its streams over to the others, and
//!   one that dies has them taken over once their leases expire);
//! - `ZOOM_RTMS_TEST_HOST` (optional): one host allowed with plain `ws://`, for a local
//!   simulator (`cargo run --example simulate --features simulator`). A warning is printed when
//!   it is set: never set it in production.
//!
//! Ctrl-C or SIGTERM stops accepting webhooks, processes every event already acknowledged,
//! then closes every stream (or, with Redis, hands them over).
//!
//! Standard output has exactly these lines (tools read them; everything else goes to stderr):
//! - `connected stream=<id>` each time the stream becomes ready (again after a reconnect);
//! - `transcript stream=<id> user=<user_name> text=<text>`;
//! - `refused stream=<id> url=<url>` when a signalling or media URL fails the host policy;
//! - `failed stream=<id> reason=<short text>` when the client gives up on a stream;
//! - `ended stream=<id> audio_frames=<n> audio_bytes=<n> audio_sha256=<hex> transcripts=<n>
//!   reconnects=<n>` once per stream: `audio_sha256` is SHA-256 over the audio payloads in
//!   arrival order.

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use sha2::{Digest, Sha256};
use zoom_rtms_webhooks::client::{Item, SupervisedStream, Supervisor, SupervisorBuilder};
use zoom_rtms_webhooks::codes::StatusCode;
use zoom_rtms_webhooks::dedup::{BoxDeduplicator, MemoryDeduplicator};
use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes};
use zoom_rtms_webhooks::protocol::media::{
    AudioChannel, AudioParams, Codec, DataOption, MediaContentType, MediaParams, SampleRate,
};
use zoom_rtms_webhooks::protocol::session::SessionError;
use zoom_rtms_webhooks::receiver::BoxHandoff;
use zoom_rtms_webhooks::region::HostPolicy;
use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The error and its causes, as sentences (not `Debug`).
            eprintln!("error: {e}");
            let mut cause = e.source();
            while let Some(c) = cause {
                eprintln!("  caused by: {c}");
                cause = c.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let addr = listen_addr()?;
    let verifier = Verifier::new(required("ZOOM_SECRET_TOKEN")?)?;
    let creds = Credentials::new(required("ZOOM_CLIENT_ID")?, required("ZOOM_CLIENT_SECRET")?)?;

    // Only wss:// on zoom.us hosts, unless a local test host is named.
    let mut policy = HostPolicy::default();
    if let Some(host) = env("ZOOM_RTMS_TEST_HOST") {
        eprintln!(
            "WARNING: ZOOM_RTMS_TEST_HOST is set: {host} is allowed with plain ws://. \
             For local testing only; never set it in production."
        );
        policy = policy.with_allowed_host(host).with_insecure_ws(true);
    }

    // Audio as L16, 16 kHz, mono, mixed, every 20 ms; and transcripts.
    let audio = AudioParams::new()
        .with_content_type(MediaContentType::RawAudio)
        .with_codec(Codec::L16)
        .with_sample_rate(SampleRate::Sr16k)
        .with_channel(AudioChannel::Mono)
        .with_data_opt(DataOption::AudioMixedStream)
        .with_send_rate(20);
    let supervisor = Supervisor::builder(creds).host_policy(policy).media(
        MediaTypes::AUDIO | MediaTypes::TRANSCRIPT,
        MediaParams::new().with_audio(audio),
    );

    let (dedup, handoff, worker) = storage(supervisor).await?;
    let receiver = Arc::new(Receiver::new(verifier, dedup, handoff));
    let app = Router::new()
        .route("/webhook", zoom_rtms_webhooks::axum::webhook(receiver))
        .layer(axum::middleware::map_response(say_why_refused));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("listening on http://{addr}/webhook");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    worker.shutdown().await;
    Ok(())
}

/// The event handler, run after the `200` was sent: the supervisor connects, fails over,
/// reconnects or closes, and returns at once (each stream runs in its own task).
async fn on_event(
    supervisor: Supervisor,
    delivery: Delivery,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let stream = clean(delivery.event.rtms_stream_id().unwrap_or("-"));
    match supervisor.on_event(&delivery.event).await {
        // A refused URL is reported by the stream's items (`consume`).
        Ok(handled) => eprintln!("{} stream={stream}: {handled:?}", delivery.event.name()),
        // Redis unreachable, say: an error makes the delivery run again later.
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// One connection to a stream: prints its lines, and the `ended` summary when the stream
/// ends.
async fn consume(mut stream: SupervisedStream) {
    let id = clean(stream.id());
    let (mut frames, mut bytes, mut transcripts, mut connects) = (0u64, 0u64, 0u64, 0u64);
    let mut reconnects = 0u64;
    let mut sha = Sha256::new();
    while let Some(item) = stream.next().await {
        match item {
            Item::Connected { .. } => {
                connects += 1;
                println!("connected stream={id}");
            }
            Item::Audio(frame) => {
                frames += 1;
                bytes += frame.data.len() as u64;
                sha.update(&frame.data);
            }
            Item::Transcript(t) => {
                transcripts += 1;
                let user = clean(t.user_name.as_deref().unwrap_or(""));
                let text = clean(t.text.as_deref().unwrap_or(""));
                println!("transcript stream={id} user={user} text={text}");
            }
            Item::Lagged { dropped } => eprintln!("stream {id}: too slow, {dropped} items dropped"),
            Item::Reconnecting { scope, attempt } => {
                // `attempt` counts from 0 again after every successful connect.
                reconnects += 1;
                eprintln!(
                    "stream {id}: reconnect #{reconnects} ({scope:?}), attempt {} since the \
                     last connect",
                    attempt + 1
                )
            }
            Item::Refused(error) => {
                // Never dialled (a signalling, failover or media URL).
                println!(
                    "refused stream={id} url={}",
                    clean(error.url().unwrap_or(""))
                );
            }
            Item::Failed(e) => {
                if let SessionError::SignalingUrl(_) = &e {
                    println!("failed stream={id} reason=signalling URL refused by the host policy");
                    eprintln!(
                        "stream {id}: only wss:// on Zoom's hosts is dialled; for a local \
                         simulator set ZOOM_RTMS_TEST_HOST to its host (never in production)"
                    );
                    return;
                }
                println!("failed stream={id} reason={}", clean(&e.to_string()));
                if let SessionError::Refused { status, .. } = &e {
                    if *status == StatusCode::InvalidSignature {
                        eprintln!(
                            "stream {id}: the handshake signature was refused: are \
                             ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET the app's client id and secret?"
                        );
                    }
                }
                break;
            }
            Item::Ended(reason) => {
                eprintln!("stream {id}: ended ({reason:?})");
                break;
            }
            Item::HandedOver => {
                // This copy lost the stream's lease (Redis) or handed it over: the copy that
                // holds it now carries on with the stream.
                eprintln!("stream {id}: handed over to another copy");
                return;
            }
            _ => {}
        }
    }
    println!(
        "ended stream={id} audio_frames={frames} audio_bytes={bytes} audio_sha256={} \
         transcripts={transcripts} reconnects={}",
        hex::encode(sha.finalize()),
        connects.saturating_sub(1)
    );
}

/// Says on stderr why a webhook was refused with 401: otherwise only Zoom (or the simulator)
/// would know.
async fn say_why_refused(response: axum::response::Response) -> axum::response::Response {
    if response.status() == axum::http::StatusCode::UNAUTHORIZED {
        eprintln!(
            "a webhook was refused (401): its signature does not verify with ZOOM_SECRET_TOKEN \
             (is it the app's Secret Token?), or its timestamp is too old"
        );
    }
    response
}

/// Text from the network on one output line: control characters (a newline could forge a
/// line) are escaped.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// De-duplication, hand-off and worker: in memory, or through Redis when `REDIS_URL` is set
/// (then the supervisor also takes the streams' leases).
async fn storage(
    builder: SupervisorBuilder,
) -> Result<(BoxDeduplicator, BoxHandoff, Worker), Box<dyn Error>> {
    match env("REDIS_URL") {
        None => {
            let supervisor = builder.build(consume);
            let handler = {
                let supervisor = supervisor.clone();
                move |delivery| on_event(supervisor.clone(), delivery)
            };
            let dispatcher = Dispatcher::new(DispatcherConfig::default(), handler);
            let dedup = BoxDeduplicator::new(MemoryDeduplicator::new());
            let worker = Worker::Memory(dispatcher.clone(), supervisor);
            Ok((dedup, BoxHandoff::new(dispatcher), worker))
        }
        #[cfg(feature = "redis")]
        Some(url) => {
            use zoom_rtms_webhooks::redis::{
                connect, RedisDeduplicator, RedisStreamHandoff, RedisStreamWorker, StreamLeases,
                StreamWorkerConfig,
            };
            // The URL may hold a password: never print it.
            let conn = connect(&url).await?;
            // Only the holder of a stream's lease connects to it; when a copy dies, another
            // one takes its streams over once their leases expire (the takeover loop runs
            // from here on).
            let supervisor = builder
                .leases(StreamLeases::new(conn.clone()))
                .build(consume);
            let handler = {
                let supervisor = supervisor.clone();
                move |delivery| on_event(supervisor.clone(), delivery)
            };
            let config = StreamWorkerConfig::default();
            let worker = RedisStreamWorker::start(&conn, config, handler).await?;
            Ok((
                BoxDeduplicator::new(RedisDeduplicator::new(conn.clone())),
                BoxHandoff::new(RedisStreamHandoff::new(conn)),
                Worker::Redis(worker, supervisor),
            ))
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => Err("REDIS_URL is set, but the `redis` feature is not enabled".into()),
    }
}

/// Whatever runs the handler after the acknowledgement, and the supervisor it feeds.
enum Worker {
    Memory(Dispatcher<Delivery>, Supervisor),
    #[cfg(feature = "redis")]
    Redis(zoom_rtms_webhooks::redis::RedisStreamWorker, Supervisor),
}

impl Worker {
    /// Processes every acknowledged event, then: alone, closes every stream (each prints its
    /// `ended` line); with Redis, hands the streams over to the other copies (they go on).
    async fn shutdown(self) {
        match self {
            Worker::Memory(dispatcher, supervisor) => {
                dispatcher.shutdown().await;
                supervisor.shutdown().await;
            }
            #[cfg(feature = "redis")]
            Worker::Redis(worker, supervisor) => {
                worker.shutdown().await;
                supervisor.hand_over().await;
            }
        }
    }
}

/// A required environment variable.
fn required(name: &str) -> Result<String, String> {
    env(name).ok_or_else(|| {
        format!("{name} is not set: set ZOOM_SECRET_TOKEN, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET")
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

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
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
    eprintln!("shutting down: no longer accepting requests");
}
