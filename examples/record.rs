//! Records every stream: each participant's audio as a WAV file (silence where they were
//! muted), transcripts, chat and events as JSON Lines; nothing dropped.
//!
//! In this repository:
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... \
//!     cargo run --example record --features axum,client,record
//! ```
//!
//! In a project of your own, this file is `src/main.rs`, `cargo run` starts it (with the same
//! environment), and `Cargo.toml` has:
//!
//! ```toml
//! [dependencies]
//! zoom-rtms-webhooks = { version = "0.3", features = ["axum", "client", "record"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//!
//! [features]
//! # Optional: `cargo run --features redis` shares the streams between copies when REDIS_URL is set.
//! redis = ["zoom-rtms-webhooks/redis"]
//! ```
//!
//! Environment: as the `connect` example (`ZOOM_SECRET_TOKEN`, `ZOOM_CLIENT_ID`,
//! `ZOOM_CLIENT_SECRET`, `HOST`, `PORT`, `ZOOM_RTMS_TEST_HOST`, `REDIS_URL` with `redis`), and
//! `RECORD_DIR` (default `./recordings`). It asks for audio as L16, 16 kHz, mono, one stream
//! per participant, every 20 ms; transcripts; chat; and the participant, speaker and sharing
//! events. Each stream goes to `RECORD_DIR/<stream_id>/`: `audio-<user_id>.wav`,
//! `transcript.jsonl`, `chat.jsonl`, `events.jsonl` (see `zoom_rtms_webhooks::record`). The
//! files are final whatever ends the stream (its end, a failure, Ctrl-C, a hand-over).
//!
//! Standard output has exactly these lines (tools read them; everything else goes to stderr):
//! - `connected stream=<id>` each time the stream becomes ready;
//! - `refused stream=<id> url=<url>` when a server URL fails the host policy;
//! - `failed stream=<id> reason=<short text>` when the client gives up on a stream, or a file
//!   cannot be written (the files written so far stay final);
//! - `recorded stream=<id> dir=<path> participants=<n> audio_frames=<n> transcripts=<n>
//!   chats=<n> events=<n>` when a stream's files are final.

use std::path::PathBuf;

use zoom_rtms_webhooks::client::{
    AudioChannel, AudioParams, Codec, DataOption, Delivery, Item, MediaContentType, MediaParams,
    MediaTypes, Options, SampleRate, SupervisedStream,
};
use zoom_rtms_webhooks::record::StreamRecorder;
use zoom_rtms_webhooks::service::{escape, Service, ServiceError};

#[tokio::main]
async fn main() -> Result<(), ServiceError> {
    let dir = std::env::var("RECORD_DIR")
        .ok()
        .filter(|d| !d.trim().is_empty());
    let dir = PathBuf::from(dir.unwrap_or_else(|| "recordings".into()));
    let audio = AudioParams::new()
        .with_content_type(MediaContentType::RawAudio)
        .with_codec(Codec::L16)
        .with_sample_rate(SampleRate::Sr16k)
        .with_channel(AudioChannel::Mono)
        .with_data_opt(DataOption::AudioMultiStreams)
        .with_send_rate(20);
    let media = MediaTypes::AUDIO | MediaTypes::TRANSCRIPT | MediaTypes::CHAT;
    Service::from_env()
        .with_media(media, MediaParams::new().with_audio(audio))
        // Nothing dropped: past 64 MiB waiting, the stream fails instead (the participant,
        // speaker and sharing events are subscribed to by default).
        .with_client(|c| c.with_options(Options::default().with_delivery(Delivery::lossless())))
        .run(move |stream| record(stream, dir.clone()))
        .await
}

/// One connection: every item to the recorder, the lines above on stdout.
async fn record(mut stream: SupervisedStream, dir: PathBuf) {
    let id = escape(stream.id()).to_string();
    let mut recorder = match StreamRecorder::create(&dir, stream.id()) {
        Ok(recorder) => recorder,
        Err(e) => return println!("failed stream={id} reason={}", reason(&e)),
    };
    while let Some(item) = stream.next().await {
        if let Err(e) = recorder.record(&item) {
            // The files written so far stay final (dropping the recorder finishes them).
            return println!("failed stream={id} reason={}", reason(&e));
        }
        match &item {
            Item::Connected { .. } => println!("connected stream={id}"),
            Item::Refused(e) => {
                println!("refused stream={id} url={}", escape(e.url().unwrap_or("")))
            }
            Item::Failed(e) => println!("failed stream={id} reason={}", reason(e)),
            Item::MediaRefused { kind, .. } => {
                eprintln!("stream {id}: the server refused {kind}; recording the rest")
            }
            Item::Ended(reason) => eprintln!("stream {id}: ended ({reason:?})"),
            Item::HandedOver => eprintln!("stream {id}: handed over to another copy"),
            _ => {}
        }
    }
    match recorder.finish() {
        Ok(s) => println!(
            "recorded stream={id} dir={} participants={} audio_frames={} transcripts={} chats={} events={}",
            escape(&s.dir.display().to_string()),
            s.participants,
            s.audio_frames,
            s.transcripts,
            s.chats,
            s.events
        ),
        Err(e) => println!("failed stream={id} reason={}", reason(&e)),
    }
}

/// An error and its causes on one line, control characters escaped.
fn reason(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    let escaped = escape(&text).to_string();
    escaped
}
