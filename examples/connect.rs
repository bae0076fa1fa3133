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
//! zoom-rtms-webhooks = { version = "0.3", features = ["axum", "client"] }
//! sha2 = "0.10"
//! hex = "0.4"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
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

use sha2::{Digest, Sha256};
use zoom_rtms_webhooks::client::{
    AudioChannel, AudioParams, Codec, DataOption, Item, MediaContentType, MediaParams, MediaTypes,
    SampleRate, SessionError, SupervisedStream,
};
use zoom_rtms_webhooks::codes::StatusCode;
use zoom_rtms_webhooks::service::{escape, Service, ServiceError};

#[tokio::main]
async fn main() -> Result<(), ServiceError> {
    // Audio as L16, 16 kHz, mono, mixed, every 20 ms; and transcripts.
    let audio = AudioParams::new()
        .with_content_type(MediaContentType::RawAudio)
        .with_codec(Codec::L16)
        .with_sample_rate(SampleRate::Sr16k)
        .with_channel(AudioChannel::Mono)
        .with_data_opt(DataOption::AudioMixedStream)
        .with_send_rate(20);
    let media = MediaParams::new().with_audio(audio);
    Service::from_env()
        .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, media)
        .run(consume)
        .await
}

/// One connection to a stream: prints its lines, and the `ended` summary when the stream
/// ends.
async fn consume(mut stream: SupervisedStream) {
    let id = escape(stream.id()).to_string();
    let (mut frames, mut bytes, mut transcripts, mut connects) = (0u64, 0u64, 0u64, 0u64);
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
                let user = escape(t.source.user_name().unwrap_or(""));
                println!(
                    "transcript stream={id} user={user} text={}",
                    escape(&t.text)
                );
            }
            Item::Lagged { dropped } => eprintln!("stream {id}: too slow, {dropped} items dropped"),
            Item::Reconnecting { scope, attempt } => eprintln!(
                "stream {id}: reconnecting ({scope:?}), attempt {} since the last connect",
                attempt + 1
            ),
            // Never dialled; after a refused failover the stream goes on where it is.
            Item::Refused(error) => {
                println!(
                    "refused stream={id} url={}",
                    escape(error.url().unwrap_or(""))
                );
                eprintln!(
                    "stream {id}: only wss:// on Zoom's hosts is dialled; for a local simulator \
                     set ZOOM_RTMS_TEST_HOST to its host (never in production)"
                );
            }
            Item::Failed(e) => {
                println!("failed stream={id} reason={}", escape(&e.to_string()));
                if let SessionError::Refused {
                    status: StatusCode::InvalidSignature,
                    ..
                } = e
                {
                    eprintln!(
                        "stream {id}: the handshake signature was refused: are ZOOM_CLIENT_ID \
                         and ZOOM_CLIENT_SECRET the app's client id and secret?"
                    );
                }
                break;
            }
            Item::Ended(reason) => {
                eprintln!("stream {id}: ended ({reason:?})");
                break;
            }
            // This copy no longer holds the stream (Redis): the copy that does carries on.
            Item::HandedOver => {
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
