//! Recording and replay end to end: the crate's client records a simulator run to a file
//! (verbatim and redacted), then the simulator replays that file to the client, which must
//! receive the same audio (SHA-256) and transcripts while the simulator's checks pass.
//!
//! Paused tokio time and a 5 ms ticker, as in `client_simulator.rs`.
#![cfg(all(feature = "client", feature = "simulator"))]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use zoom_rtms_webhooks::client::{self, Item, Options};
use zoom_rtms_webhooks::handshake::MediaTypes;
use zoom_rtms_webhooks::handshake::{Credentials, MediaKind, SignalingHandshakeRequest};
use zoom_rtms_webhooks::protocol::media::MediaParams;
use zoom_rtms_webhooks::protocol::recording::{Recording, Redaction};
use zoom_rtms_webhooks::protocol::server::ServerMessage;
use zoom_rtms_webhooks::protocol::session::{Role, SessionConfig, Webhook};
use zoom_rtms_webhooks::region::HostPolicy;
use zoom_rtms_webhooks::simulator::{Fault, Report, SimConfig, Simulator, StreamSpec};
use zoom_rtms_webhooks::{Product, WebhookEvent};

const FRAMES: u64 = 100;

fn creds() -> Credentials {
    Credentials::new("client-id", "client-secret").unwrap()
}

fn spec(id: &str) -> StreamSpec {
    StreamSpec::new(Product::Meeting, "instance-uuid/+==", id, "whsec", creds())
        .with_audio_frames(FRAMES)
        .with_transcript_every(25)
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "rtms-recording-{}-{name}.jsonl",
            std::process::id()
        ));
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[derive(Debug, Default)]
struct Seen {
    audio_frames: u64,
    audio_sha256: String,
    audio_timestamps: Vec<i64>,
    transcripts: Vec<String>,
    ended: bool,
}

/// Runs `spec` against the crate's client connected with `options`; returns the report and
/// what the client received, once its items (and so its recording) are complete.
async fn run(spec: StreamSpec, options: Options) -> (Report, Seen) {
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let id = spec.rtms_stream_id().to_owned();
    sim.register(spec).unwrap();
    let mut hooks = sim.take_webhooks().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let policy = HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(true);
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut handle = None;
        let mut done_tx = Some(done_tx);
        let mut options = Some(options);
        while let Some(hook) = hooks.recv().await {
            match WebhookEvent::parse(&hook.body).unwrap() {
                WebhookEvent::RtmsStarted(started) if handle.is_none() => {
                    let url = started.server_urls(&policy).unwrap().remove(0);
                    let config =
                        SessionConfig::new(SignalingHandshakeRequest::new(&creds(), &started))
                            .with_media(
                                MediaTypes::AUDIO | MediaTypes::TRANSCRIPT,
                                MediaParams::new(),
                            )
                            .with_host_policy(policy.clone());
                    let (h, items) =
                        client::connect_with(config, url, options.take().unwrap()).unwrap();
                    handle = Some(h);
                    tokio::spawn(consume(items, Arc::clone(&record), done_tx.take().unwrap()));
                }
                WebhookEvent::RtmsStarted(started) => {
                    let server_url = started.server_urls(&policy).unwrap().remove(0);
                    handle
                        .as_ref()
                        .unwrap()
                        .webhook(Webhook::Started { server_url });
                }
                WebhookEvent::RtmsInterrupted(_) => {
                    handle.as_ref().unwrap().webhook(Webhook::Interrupted)
                }
                WebhookEvent::RtmsStopped(_) => {
                    if let Some(h) = &handle {
                        h.webhook(Webhook::Stopped);
                    }
                }
                _ => {}
            }
        }
    });
    sim.start_stream(&id).await.unwrap();
    sim.finished(&id).await;
    tokio::time::timeout(Duration::from_secs(600), done_rx)
        .await
        .expect("the client ends the stream")
        .unwrap();
    let report = sim.report();
    drop(sim);
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (report, seen)
}

/// Takes every item until the items end (after the recording is complete).
async fn consume(
    mut items: client::Items,
    seen: Arc<Mutex<Seen>>,
    done: tokio::sync::oneshot::Sender<()>,
) {
    let mut sha = Sha256::new();
    while let Some(item) = items.next().await {
        let mut s = seen.lock().unwrap();
        match item {
            Item::Audio(frame) => {
                s.audio_frames += 1;
                s.audio_timestamps.extend(frame.timestamp);
                sha.update(&frame.data);
            }
            Item::Transcript(t) => s.transcripts.push(t.text.unwrap_or_default().into_owned()),
            Item::Ended(_) => s.ended = true,
            _ => {}
        }
    }
    seen.lock().unwrap().audio_sha256 = hex::encode(sha.finalize());
    let _ = done.send(());
}

/// The audio of a recording, decoded and hashed; the transcripts' texts.
fn contents(recording: &Recording) -> (u64, String, Vec<String>) {
    let mut sha = Sha256::new();
    let mut frames = 0;
    let mut texts = Vec::new();
    for entry in recording.entries() {
        match entry.message().unwrap() {
            ServerMessage::Audio(audio) => {
                assert!(
                    matches!(entry.socket, Role::Media(t) if t.includes(MediaKind::Audio)),
                    "{entry:?}"
                );
                let mut pcm = Vec::new();
                audio.decode_into(&mut pcm).unwrap();
                sha.update(&pcm);
                frames += 1;
            }
            ServerMessage::Transcript(t) => texts.push(t.text.unwrap_or_default().into_owned()),
            _ => {}
        }
    }
    (frames, hex::encode(sha.finalize()), texts)
}

fn assert_passed(report: &Report, seen: &Seen) {
    assert!(report.passed(), "{report}");
    assert_eq!(report.streams[0].audio_frames, FRAMES, "{report}");
    assert_eq!(seen.audio_frames, FRAMES, "{seen:?}");
    assert_eq!(seen.audio_sha256, report.streams[0].audio_sha256);
    assert_eq!(seen.transcripts.len() as u64, report.streams[0].transcripts);
    assert!(seen.ended);
}

#[tokio::test(start_paused = true)]
async fn a_recorded_run_replays_with_the_same_audio_and_transcripts() {
    let file = TempFile::new("verbatim");
    let options = Options::default().with_recording(&file.0, Redaction::none());
    let (report, seen) = run(spec("s-recorded"), options).await;
    assert_passed(&report, &seen);
    assert_eq!(seen.transcripts.len(), 4);

    // The file: a header, the server's messages only, in order, and an end line.
    let text = std::fs::read_to_string(&file.0).unwrap();
    assert!(text.starts_with("{\"rtms_recording\":1,"), "{text:.200}");
    assert!(text.ends_with("{\"end\":{\"dropped\":0}}\n"));
    assert!(!text.contains("signature"), "a client message was recorded");
    assert!(!text.contains("client-secret"));
    let recording = Recording::open(&file.0).unwrap();
    assert_eq!(recording.dropped(), Some(0));
    assert!(recording.redaction().is_none());
    let entries = recording.entries();
    assert!(entries.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert!(
        matches!(
            entries[0].message(),
            Ok(ServerMessage::SignalingHandshakeResponse(_))
        ),
        "{:?}",
        entries[0]
    );
    assert_eq!(entries[0].socket, Role::Signalling);
    assert!(entries
        .iter()
        .any(|e| matches!(e.message(), Ok(ServerMessage::DataHandshakeResponse(_)))));
    let (frames, sha, texts) = contents(&recording);
    assert_eq!(frames, FRAMES);
    assert_eq!(
        sha, seen.audio_sha256,
        "the recorded audio is what the client received"
    );
    assert_eq!(texts, seen.transcripts);
    // 20 ms apart, as sent.
    let audio_at: Vec<u64> = entries
        .iter()
        .filter(|e| matches!(e.message(), Ok(ServerMessage::Audio(_))))
        .map(|e| e.at_ms)
        .collect();
    assert!(audio_at[FRAMES as usize - 1] - audio_at[0] >= 99 * 20 - 20);

    // The replay, to another stream: the same audio and transcripts, every check passes.
    let (replayed, again) = run(
        spec("s-replayed").with_replay(recording),
        Options::default(),
    )
    .await;
    assert_passed(&replayed, &again);
    assert_eq!(replayed.streams[0].audio_sha256, seen.audio_sha256);
    assert_eq!(again.audio_sha256, seen.audio_sha256);
    assert_eq!(again.transcripts, seen.transcripts);
    assert!(
        replayed.check("audio_delivered", "s-replayed").is_some(),
        "{replayed}"
    );
    // Timestamps moved to the replay's clock, their spacing kept.
    assert_ne!(again.audio_timestamps[0], seen.audio_timestamps[0]);
    let spacing = |ts: &[i64]| ts.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>();
    assert_eq!(
        spacing(&again.audio_timestamps),
        spacing(&seen.audio_timestamps)
    );
}

#[tokio::test(start_paused = true)]
async fn a_redacted_recording_hides_names_ids_and_text_and_still_replays() {
    let file = TempFile::new("redacted");
    let options = Options::default().with_recording(&file.0, Redaction::all());
    let (report, seen) = run(spec("s-secretive"), options).await;
    assert_passed(&report, &seen);

    let text = std::fs::read_to_string(&file.0).unwrap();
    for hidden in [
        "Ann",
        "16778240",
        "utterance",
        "instance-uuid",
        "s-secretive",
    ] {
        assert!(
            !text.contains(hidden),
            "{hidden:?} is in the redacted recording"
        );
    }
    assert!(text.contains("\"name-1\""), "{text:.400}");
    let recording = Recording::open(&file.0).unwrap();
    assert_eq!(recording.redaction(), &Redaction::all());
    // The payloads are kept; each text got its own placeholder, each user the same one.
    let (frames, sha, texts) = contents(&recording);
    assert_eq!((frames, sha), (FRAMES, seen.audio_sha256.clone()));
    assert_eq!(texts, ["text-1", "text-2", "text-3", "text-4"]);
    for entry in recording.entries() {
        if let Ok(ServerMessage::Transcript(t)) = entry.message() {
            assert_eq!(
                (t.user_id, t.user_name.as_deref()),
                (Some(1), Some("name-1"))
            );
        }
    }

    // A media drop in the middle of the replay: redialled, and the audio still complete.
    let spec = spec("s-replayed")
        .with_replay(recording)
        .with_faults([Fault::DropMedia { after_frames: 50 }]);
    let (replayed, again) = run(spec, Options::default()).await;
    assert_passed(&replayed, &again);
    assert!(
        replayed.check("media_reconnect", "s-replayed").is_some(),
        "{replayed}"
    );
    assert_eq!(again.audio_sha256, seen.audio_sha256);
    assert_eq!(again.transcripts, ["text-1", "text-2", "text-3", "text-4"]);
}

#[tokio::test(start_paused = true)]
async fn a_recording_file_that_cannot_be_created_fails_the_connect() {
    let dir = TempFile::new("a-directory");
    std::fs::create_dir_all(&dir.0).unwrap();
    let creds = creds();
    let hello = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s");
    let config = SessionConfig::new(hello);
    let url =
        zoom_rtms_webhooks::region::ServerUrl::parse("wss://rtms.zoom.us", &HostPolicy::default())
            .unwrap();
    let options = Options::default().with_recording(&dir.0, Redaction::none());
    let result = client::connect_with(config, url, options);
    let _ = std::fs::remove_dir(&dir.0);
    assert!(matches!(result, Err(client::ConnectError::Recording(_))));
}
