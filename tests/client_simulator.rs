//! The crate's RTMS client against the crate's simulator, end to end over loopback WebSockets:
//! every fault scenario and every product. The simulator judges the client's conduct (its
//! report must pass) and the client must receive exactly the audio sent (same SHA-256).
//!
//! Also recording and replay: the client records a run to a file (verbatim and redacted), and the
//! simulator replays that file to the client, which receives the same audio and transcripts.
//!
//! Paused tokio time makes the 65 s windows instant. A 5 ms ticker keeps tokio from jumping
//! the paused clock to the next far timer while a message crosses a loopback socket (see the
//! simulator's module docs).
#![cfg(all(feature = "client", feature = "simulator"))]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use zoom_rtms_webhooks::client::{self, Item, Options, Source, StreamHandle};
use zoom_rtms_webhooks::codes::StatusCode;
use zoom_rtms_webhooks::handshake::{
    Credentials, MediaKind, MediaTypes, SignalingHandshakeRequest,
};
use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
use zoom_rtms_webhooks::protocol::media::{AudioParams, DataOption, MediaParams, VideoParams};
use zoom_rtms_webhooks::protocol::recording::{Recording, Redaction};
use zoom_rtms_webhooks::protocol::session::{
    EndReason, Role, SessionConfig, SessionError, Webhook,
};
use zoom_rtms_webhooks::region::HostPolicy;
use zoom_rtms_webhooks::simulator::{End, Fault, Report, SimConfig, Simulator, StreamSpec};
use zoom_rtms_webhooks::{Product, WebhookEvent};

const SECRET: &str = "webhook secret token";
const FRAMES: u64 = 100;

fn creds() -> Credentials {
    Credentials::new("client-id", "client-secret").unwrap()
}

/// What the client saw of one stream.
#[derive(Debug, Default)]
struct Seen {
    audio_frames: u64,
    audio_sha256: String,
    /// The transcripts' texts, in order.
    transcripts: Vec<String>,
    /// The audio frames' timestamps, in order.
    audio_timestamps: Vec<i64>,
    connects: u64,
    video_subscription: Option<(Option<i64>, Option<StatusCode>)>,
    /// Video frames: how many, and the users and first bytes seen.
    video_frames: u64,
    video_sources: Vec<Source>,
    video_jpeg: bool,
    terminal: Option<Item>,
}

/// Runs one stream of `spec` against the client, routing the simulator's webhooks the way a
/// supervisor does; returns the simulator's report and what the client received.
async fn run(
    spec: StreamSpec,
    params: MediaParams,
    subscribe_video: Option<i64>,
) -> (Report, Seen) {
    run_with(spec, params, subscribe_video, Options::default()).await
}

/// [`run`] with the client's `options`.
async fn run_with(
    spec: StreamSpec,
    params: MediaParams,
    subscribe_video: Option<i64>,
    options: Options,
) -> (Report, Seen) {
    let mut types = MediaTypes::AUDIO | MediaTypes::TRANSCRIPT;
    if params.video().is_some() {
        types |= MediaTypes::VIDEO;
    }
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
    let creds = creds();
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut handles: HashMap<String, StreamHandle> = HashMap::new();
        let mut done_tx = Some(done_tx);
        while let Some(hook) = hooks.recv().await {
            let event = WebhookEvent::parse(&hook.body).unwrap();
            let stream = event.rtms_stream_id().unwrap().to_owned();
            match (&event, handles.get(&stream)) {
                (WebhookEvent::RtmsStarted(started), None) => {
                    let url = started.server_urls(&policy).unwrap().remove(0);
                    let config =
                        SessionConfig::new(SignalingHandshakeRequest::new(&creds, started))
                            .with_media(types, params.clone())
                            .with_host_policy(policy.clone());
                    let (handle, items) =
                        client::connect_session(config, url, options.clone()).unwrap();
                    if let Some(user) = subscribe_video {
                        handle.subscribe_video(user, true);
                    }
                    handles.insert(stream, handle);
                    let done = done_tx.take().unwrap();
                    tokio::spawn(consume(items, Arc::clone(&record), done));
                }
                (WebhookEvent::RtmsStarted(started), Some(handle)) => {
                    let server_url = started.server_urls(&policy).unwrap().remove(0);
                    handle.webhook(Webhook::Started { server_url });
                }
                (WebhookEvent::RtmsInterrupted(_), Some(h)) => h.webhook(Webhook::Interrupted),
                (WebhookEvent::RtmsStopped(_), Some(h)) => h.webhook(Webhook::Stopped),
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

async fn consume(
    mut items: client::Items,
    seen: Arc<Mutex<Seen>>,
    done: tokio::sync::oneshot::Sender<()>,
) {
    let mut sha = Sha256::new();
    while let Some(item) = items.next().await {
        let mut s = seen.lock().unwrap();
        match item {
            Item::Connected { .. } => s.connects += 1,
            Item::Audio(frame) => {
                s.audio_frames += 1;
                s.audio_timestamps.extend(frame.timestamp);
                sha.update(&frame.data);
            }
            Item::Transcript(t) => s.transcripts.push(t.text),
            Item::Video(frame) => {
                s.video_frames += 1;
                if !s.video_sources.contains(&frame.source) {
                    s.video_sources.push(frame.source.clone());
                }
                s.video_jpeg = frame.data.starts_with(&[0xFF, 0xD8, 0xFF]);
            }
            Item::VideoSubscription {
                user_id, status, ..
            } => {
                s.video_subscription = Some((user_id, status));
            }
            // The items end after it, once a recording is complete.
            item if item.is_terminal() => s.terminal = Some(item),
            _ => {}
        }
    }
    seen.lock().unwrap().audio_sha256 = hex::encode(sha.finalize());
    let _ = done.send(());
}

fn spec(product: Product, id: &str) -> StreamSpec {
    StreamSpec::new(product, "instance-uuid/+==", id, SECRET, creds())
        .with_audio_frames(FRAMES)
        .with_transcript_every(25)
}

/// The report passed (the advice checks too), every frame sent arrived in order, and the stream
/// ended as `end` says.
fn assert_delivered(report: &Report, seen: &Seen, connects: u64) {
    assert!(report.passed_strict(), "{report}");
    let sent = &report.streams[0];
    // At least the frames asked for: a keep-alive pause is waited out with media flowing.
    assert!(sent.audio_frames >= FRAMES, "{report}");
    assert_eq!(seen.audio_frames, sent.audio_frames, "{seen:?}");
    assert_eq!(seen.audio_sha256, sent.audio_sha256, "the audio differs");
    assert_eq!(seen.transcripts.len() as u64, sent.transcripts);
    assert_eq!(seen.connects, connects, "{seen:?}");
    assert!(
        matches!(seen.terminal, Some(Item::Ended(_))),
        "{:?}",
        seen.terminal
    );
}

#[tokio::test(start_paused = true)]
async fn every_product_connects_with_its_id_key_and_receives_the_audio() {
    for (product, id) in [
        (Product::Meeting, "s-meeting"),
        (Product::Webinar, "s-webinar"),
        (Product::VideoSdk, "s-videosdk"),
        (Product::ContactCenter, "s-cc"),
        (Product::Phone, "s-phone"),
    ] {
        let (report, seen) = run(spec(product, id), MediaParams::new(), None).await;
        assert!(report.check("id_key", id).is_some(), "{report}");
        assert_delivered(&report, &seen, 1);
    }
}

#[tokio::test(start_paused = true)]
async fn the_full_fault_run_passes_with_the_audio_intact() {
    let faults = [
        Fault::DuplicateSignal,
        Fault::DropMedia { after_frames: 25 },
        Fault::DropSignaling { after_frames: 50 },
        Fault::Failover { after_frames: 75 },
    ];
    let spec = spec(Product::Meeting, "s-faults").with_faults(faults);
    let (report, seen) = run(spec, MediaParams::new(), None).await;
    // Ready four times: at first, after the media redial, after redoing everything, after the
    // failover.
    assert_delivered(&report, &seen, 4);
    for check in [
        "duplicate_retry",
        "media_reconnect",
        "signaling_reconnect",
        "failover",
    ] {
        assert!(
            report.check(check, "s-faults").is_some(),
            "{check}: {report}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn keep_alives_may_pause_while_media_flows_but_silence_redoes_everything() {
    let pause = spec(Product::Meeting, "s-pause").with_faults([Fault::PauseKeepAlives {
        after_frames: 25,
        duration: Duration::from_secs(70),
    }]);
    let (report, seen) = run(pause, MediaParams::new(), None).await;
    assert_delivered(&report, &seen, 1);
    assert!(
        report.check("watchdog_not_early", "s-pause").is_some(),
        "{report}"
    );
    // The stream lasted the whole pause (70 s of 20 ms frames after the first 25).
    assert!(report.streams[0].audio_frames >= 25 + 3500, "{report}");

    let silence = spec(Product::Meeting, "s-silence").with_faults([Fault::Silence {
        after_frames: 25,
        duration: Duration::from_secs(90),
    }]);
    let (report, seen) = run(silence, MediaParams::new(), None).await;
    assert!(report.passed_strict(), "{report}");
    assert!(
        report.check("watchdog_fires", "s-silence").is_some(),
        "{report}"
    );
    assert!(seen.connects >= 2, "{seen:?}");
}

#[tokio::test(start_paused = true)]
async fn each_ending_ends_the_stream() {
    for (end, id) in [
        (End::StreamTerminated, "s-end-state"),
        (End::SessionStopped, "s-end-session"),
        (End::RtmsStopped, "s-end-webhook"),
    ] {
        let (report, seen) = run(
            spec(Product::Meeting, id).with_end(end),
            MediaParams::new(),
            None,
        )
        .await;
        assert_delivered(&report, &seen, 1);
        let reason = match &seen.terminal {
            Some(Item::Ended(reason)) => *reason,
            other => panic!("{other:?}"),
        };
        // The stream state (or session state) and `rtms_stopped` both announce the end; the
        // webhook, handed over in-process here, may come first.
        match end {
            End::StreamTerminated => assert!(
                matches!(reason, EndReason::StreamTerminated(_) | EndReason::Stopped),
                "{reason:?}"
            ),
            End::SessionStopped => assert!(
                matches!(reason, EndReason::SessionStopped(_) | EndReason::Stopped),
                "{reason:?}"
            ),
            _ => assert!(matches!(reason, EndReason::Stopped), "{reason:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn fatal_statuses_give_up_with_a_typed_error() {
    for (fault, id, status) in [
        (Fault::RejectData(StatusCode::from(14)), "s-14", 14),
        (Fault::RejectData(StatusCode::from(15)), "s-15", 15),
        (Fault::RejectData(StatusCode::from(16)), "s-16", 16),
        (Fault::RejectSignaling(StatusCode::from(3)), "s-3", 3),
    ] {
        let (report, seen) = run(
            spec(Product::Meeting, id).with_faults([fault]),
            MediaParams::new(),
            None,
        )
        .await;
        assert!(report.passed(), "{report}");
        match &seen.terminal {
            Some(Item::Failed(SessionError::Refused { status: s, .. })) => {
                assert_eq!(s.code(), status)
            }
            other => panic!("{id}: {other:?}"),
        }
        assert_eq!(seen.audio_frames, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_media_url_on_a_refused_host_is_never_dialled() {
    let spec = spec(Product::Meeting, "s-ssrf").with_faults([Fault::RefusableMediaUrl]);
    let (report, seen) = run(spec, MediaParams::new(), None).await;
    // `refused_url` fails if the simulator saw a dial to the refused host.
    assert!(report.passed(), "{report}");
    assert!(report.check("refused_url", "s-ssrf").is_some(), "{report}");
    assert!(
        matches!(
            seen.terminal,
            Some(Item::Failed(SessionError::MediaUrl { .. }))
        ),
        "{:?}",
        seen.terminal
    );
}

#[tokio::test(start_paused = true)]
async fn per_speaker_audio_and_a_subscribed_participants_video_reach_the_user() {
    // Audio per speaker, and the individual video of one participant (data_opt 4: nothing
    // until the subscription, message type 28, which the client sends once ready).
    let params = MediaParams::new()
        .with_audio(AudioParams::new().with_data_opt(DataOption::AudioMultiStreams))
        .with_video(VideoParams::new().with_data_opt(DataOption::VideoSingleIndividualStream));
    let (report, seen) = run(spec(Product::Meeting, "s-multi"), params, Some(16778240)).await;
    assert_delivered(&report, &seen, 1);
    assert_eq!(
        seen.video_subscription,
        Some((Some(16778240), Some(StatusCode::Ok)))
    );
    let sent = report.streams[0].video_frames;
    assert!(sent > 0, "{report}");
    assert_eq!(seen.video_frames, sent);
    assert!(seen.video_jpeg, "the frames are JPEG");
    assert!(
        matches!(
            &seen.video_sources[..],
            [Source::User {
                id: Some(16778240),
                ..
            }]
        ),
        "{:?}",
        seen.video_sources
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_subscription_individual_video_sends_nothing() {
    let params = MediaParams::new()
        .with_video(VideoParams::new().with_data_opt(DataOption::VideoSingleIndividualStream));
    let (report, seen) = run(spec(Product::Meeting, "s-nosub"), params, None).await;
    assert_delivered(&report, &seen, 1);
    assert_eq!(report.streams[0].video_frames, 0);
    assert_eq!(seen.video_frames, 0);
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

#[tokio::test(start_paused = true)]
async fn a_recorded_run_replays_with_the_same_audio_and_transcripts() {
    let file = TempFile::new("verbatim");
    let options = Options::default().with_recording(&file.0, Redaction::none());
    let (report, seen) = run_with(
        spec(Product::Meeting, "s-recorded"),
        MediaParams::new(),
        None,
        options,
    )
    .await;
    assert_delivered(&report, &seen, 1);
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
    let connects = 1;
    let replay = spec(Product::Meeting, "s-replayed").with_replay(recording);
    let (replayed, again) = run(replay, MediaParams::new(), None).await;
    assert_delivered(&replayed, &again, connects);
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
    let (report, seen) = run_with(
        spec(Product::Meeting, "s-secretive"),
        MediaParams::new(),
        None,
        options,
    )
    .await;
    assert_delivered(&report, &seen, 1);

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
    let connects = 2;
    let spec = spec(Product::Meeting, "s-replayed")
        .with_replay(recording)
        .with_faults([Fault::DropMedia { after_frames: 50 }]);
    let (replayed, again) = run(spec, MediaParams::new(), None).await;
    assert_delivered(&replayed, &again, connects);
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
    let result = client::connect_session(config, url, options);
    let _ = std::fs::remove_dir(&dir.0);
    assert!(matches!(result, Err(client::ConnectError::Recording(_))));
}
