//! The crate's RTMS client against the crate's simulator, end to end over loopback WebSockets:
//! every fault scenario and every product. The simulator judges the client's conduct (its
//! report must pass) and the client must receive exactly the audio sent (same SHA-256).
//!
//! Paused tokio time makes the 65 s windows instant. A 5 ms ticker keeps tokio from jumping
//! the paused clock to the next far timer while a message crosses a loopback socket (see the
//! simulator's module docs).
#![cfg(all(feature = "client", feature = "simulator"))]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use zoom_rtms_webhooks::client::{self, Item, Source, StreamHandle};
use zoom_rtms_webhooks::codes::StatusCode;
use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
use zoom_rtms_webhooks::protocol::media::{AudioParams, DataOption, MediaParams, VideoParams};
use zoom_rtms_webhooks::protocol::session::{EndReason, SessionConfig, SessionError, Webhook};
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
    transcripts: u64,
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
                    let (handle, items) = client::connect(config, url).unwrap();
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
                sha.update(&frame.data);
            }
            Item::Transcript(_) => s.transcripts += 1,
            Item::Video(frame) => {
                s.video_frames += 1;
                if !s.video_sources.contains(&frame.source) {
                    s.video_sources.push(frame.source.clone());
                }
                s.video_jpeg = frame.data.starts_with(&[0xFF, 0xD8, 0xFF]);
            }
            Item::VideoSubscription(r) => {
                s.video_subscription = Some((r.user_id, r.status.code));
            }
            item if item.is_terminal() => {
                s.terminal = Some(item);
                break;
            }
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
    assert_eq!(seen.transcripts, sent.transcripts);
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
