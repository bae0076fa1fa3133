//! The simulator as a conformance suite: its default run (`simulate` with no `--scenario`, every
//! fault on a stream of its own, the default keep-alive timing) passes a client that does
//! everything right and fails one that misbehaves in any single way; webhooks reach a real
//! HTTP server in the origin form; a fatal failure stops the stream's checks at once. Paused
//! tokio time: no sleeps.
#![cfg(feature = "simulator")]

#[path = "sim_client/mod.rs"]
mod sim_client;

use std::time::Duration;

use sim_client::Behaviour;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;
use zoom_rtms_webhooks::codes::StatusCode;
use zoom_rtms_webhooks::handshake::Credentials;
use zoom_rtms_webhooks::protocol::media::{AudioChannel, AudioParams, Codec, SampleRate};
use zoom_rtms_webhooks::simulator::{Report, Scenario, SimConfig, Simulator, StreamSpec};
use zoom_rtms_webhooks::Product;

const SECRET: &str = "webhook secret token";
const FRAMES: u64 = 250;

fn creds() -> Credentials {
    Credentials::new("client-id", "client-secret").unwrap()
}

/// The default run of `simulate` (one stream asked for): one stream per fault, each judged on
/// its own.
fn default_run() -> Vec<StreamSpec> {
    Scenario::Faults.streams(1, FRAMES, SECRET, &creds())
}

/// Runs `specs` with the default configuration against a client with `behaviour`.
async fn run(specs: Vec<StreamSpec>, behaviour: Behaviour) -> (Report, sim_client::Outcomes) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let ids: Vec<String> = specs
        .iter()
        .map(|s| s.rtms_stream_id().to_owned())
        .collect();
    for spec in specs {
        sim.register(spec).unwrap();
    }
    let outcomes = sim_client::spawn_many(behaviour, creds(), SECRET, sim.take_webhooks().unwrap());
    for id in &ids {
        sim.start_stream(id).await.unwrap();
    }
    for id in &ids {
        sim.finished(id).await;
    }
    (sim.report(), outcomes)
}

fn failed<'r>(report: &'r Report, check: &str) -> Vec<&'r str> {
    report
        .checks
        .iter()
        .filter(|c| c.name == check)
        .filter_map(|c| c.failure.as_deref())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_client_that_does_everything_right_passes_the_default_run() {
    let (report, outcomes) = run(default_run(), Behaviour::default()).await;
    assert!(report.passed_strict(), "{report}");
    // Every socket met keep-alives, and every stream's audio arrived intact.
    let ids: Vec<String> = report.streams.iter().map(|s| s.stream.clone()).collect();
    assert_eq!(ids.len(), 4);
    for stream in &ids {
        let stream = stream.as_str();
        for check in ["keep_alive_signaling", "keep_alive_media"] {
            assert!(
                report.check(check, stream).is_some(),
                "{check} {stream}\n{report}"
            );
        }
        let sent = report.streams.iter().find(|s| s.stream == stream).unwrap();
        assert_eq!(sent.audio_frames, FRAMES, "{report}");
        let got = outcomes.lock().unwrap()[stream].clone();
        assert_eq!(got.lock().unwrap().sha256(), sent.audio_sha256, "{stream}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_answers_keep_alives_fails_the_default_run() {
    let behaviour = Behaviour {
        ignore_keep_alive: true,
        ..Behaviour::default()
    };
    let (report, _) = run(default_run(), behaviour).await;
    assert!(!report.passed(), "{report}");
    // On every stream, on both kinds of socket: the stream's 5 s are shorter than the 10 s
    // interval, so this is the early keep-alive, judged before the end.
    assert_eq!(failed(&report, "keep_alive_signaling").len(), 4, "{report}");
    assert_eq!(failed(&report, "keep_alive_media").len(), 4, "{report}");
    assert!(failed(&report, "keep_alive_media")[0].contains("not answered"));
}

/// A client that stops reading cannot make the simulator hold what it would send: it misses
/// its keep-alives, so after three its sockets are closed, as Zoom does (and before that, what
/// no socket takes is dropped, not queued: `keeps_up`); the stream still ends.
#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_loses_its_sockets_and_the_stream_still_ends() {
    let frames = 8000;
    let spec = StreamSpec::new(Product::Meeting, "m==", "s-stalled", SECRET, creds())
        .with_audio_frames(frames)
        .with_transcript_every(0);
    let stalled = Behaviour {
        stop_reading_after: Some(10),
        ..Behaviour::default()
    };
    let (report, _) = run(vec![spec], stalled).await;
    assert!(!report.passed(), "{report}");
    for check in ["keep_alive_signaling", "keep_alive_media"] {
        assert!(!failed(&report, check).is_empty(), "{check}\n{report}");
    }
    // Three intervals of audio at most reached a socket before it was closed.
    assert!(
        report.streams[0].audio_frames <= 10 + 3 * 10 * 50 + 50,
        "{report}"
    );
    assert!(!failed(&report, "media_ready").is_empty(), "{report}");
}

/// A stream over before the first keep-alive (1 s after each handshake) still sends one on
/// every socket before it ends, and judges it.
#[tokio::test(start_paused = true)]
async fn even_a_stream_shorter_than_the_first_keep_alive_judges_one_on_every_socket() {
    let short = || {
        vec![
            StreamSpec::new(Product::Meeting, "m==", "s-short", SECRET, creds())
                .with_audio_frames(10),
        ]
    };
    let (report, _) = run(short(), Behaviour::default()).await;
    assert!(report.passed_strict(), "{report}");
    for check in ["keep_alive_signaling", "keep_alive_media"] {
        assert!(
            report.check(check, "s-short").is_some(),
            "{check}\n{report}"
        );
    }
    let deaf = Behaviour {
        ignore_keep_alive: true,
        ..Behaviour::default()
    };
    let (report, _) = run(short(), deaf).await;
    assert!(!report.passed(), "{report}");
    assert_eq!(failed(&report, "keep_alive_signaling").len(), 1, "{report}");
    assert_eq!(failed(&report, "keep_alive_media").len(), 1, "{report}");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_signs_wrongly_fails_and_its_streams_stop_at_once() {
    let behaviour = Behaviour {
        bad_signature: true,
        ..Behaviour::default()
    };
    let started = Instant::now();
    let (report, _) = run(default_run(), behaviour).await;
    assert!(!report.passed(), "{report}");
    assert_eq!(failed(&report, "signaling_signature").len(), 4, "{report}");
    // Stopped at once, saying why, instead of a misleading `media_ready` 65 s later.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(failed(&report, "media_ready").is_empty(), "{report}");
    for s in &report.streams {
        let why = s.stopped.as_deref().unwrap_or_default();
        assert!(why.contains("INVALID_SIGNATURE"), "{report}");
    }
    assert!(report
        .to_string()
        .contains("stopped stream=sim-stream-1-duplicate: the handshake was refused"));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_sends_the_ready_ack_fails_the_default_run() {
    let behaviour = Behaviour {
        skip_ready_ack: true,
        ..Behaviour::default()
    };
    let (report, _) = run(default_run(), behaviour).await;
    assert!(!report.passed(), "{report}");
    assert_eq!(failed(&report, "client_ready_ack").len(), 4, "{report}");
    assert!(
        report.streams.iter().all(|s| s.audio_frames == 0),
        "{report}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_that_opens_a_second_connection_fails_the_default_run() {
    let behaviour = Behaviour {
        second_signaling: true,
        ..Behaviour::default()
    };
    let (report, _) = run(default_run(), behaviour).await;
    assert!(!report.passed(), "{report}");
    assert!(
        !failed(&report, "one_signaling_connection").is_empty(),
        "{report}"
    );
}

#[tokio::test(start_paused = true)]
async fn keep_alives_carry_a_sequence_that_may_be_echoed_but_not_changed() {
    let happy = || {
        vec![
            StreamSpec::new(Product::Meeting, "m==", "s-seq", SECRET, creds())
                .with_audio_frames(FRAMES),
        ]
    };
    // The published examples answer with the timestamp only: accepted.
    let omit = Behaviour {
        omit_sequence: true,
        ..Behaviour::default()
    };
    let (report, _) = run(happy(), omit).await;
    assert!(report.passed_strict(), "{report}");
    // A sequence echoed wrongly is not.
    let wrong = Behaviour {
        wrong_sequence: true,
        ..Behaviour::default()
    };
    let (report, _) = run(happy(), wrong).await;
    assert!(!report.passed(), "{report}");
    let why = failed(&report, "keep_alive_signaling");
    assert!(
        why.first()
            .is_some_and(|w| w.contains("echoed sequence 2, the request's is 1")),
        "{report}"
    );
}

/// Reads one HTTP/1.1 request (head and `content-length` body) from a fresh connection and
/// answers `status`; returns the request line.
async fn answer_one(listener: &TcpListener, status: &str) -> String {
    let (mut tcp, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the request ended early");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the body ended early");
        buf.extend_from_slice(&chunk[..n]);
    }
    let response = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    tcp.write_all(response.as_bytes()).await.unwrap();
    head.lines().next().unwrap_or_default().to_owned()
}

/// RFC 9112 §3.2.1: towards an origin server the request target is the path and query, never
/// the absolute URL (Zoom's own SDK answered 404 to the absolute form).
#[tokio::test]
async fn webhooks_are_posted_in_the_origin_form() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/zoom?app=1", listener.local_addr().unwrap());
    let sim = Simulator::start(SimConfig::default().with_webhook_url(url))
        .await
        .unwrap();
    sim.register(StreamSpec::new(
        Product::Meeting,
        "m==",
        "s-origin",
        SECRET,
        creds(),
    ))
    .unwrap();
    let (line, sent) = tokio::join!(
        answer_one(&listener, "200 OK"),
        sim.start_stream("s-origin")
    );
    sent.unwrap();
    assert_eq!(line, "POST /hooks/zoom?app=1 HTTP/1.1");
}

/// An app still starting (its port refuses connections) gets the webhook once it listens.
#[tokio::test(start_paused = true)]
async fn a_refused_delivery_is_tried_again_until_the_app_listens() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let sim = Simulator::start(SimConfig::default().with_webhook_url(format!("http://{addr}/wh")))
        .await
        .unwrap();
    sim.register(StreamSpec::new(
        Product::Meeting,
        "m==",
        "s-late",
        SECRET,
        creds(),
    ))
    .unwrap();
    let started = Instant::now();
    let app = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let listener = TcpListener::bind(addr).await.unwrap();
        answer_one(&listener, "200 OK").await
    };
    let (line, sent) = tokio::join!(app, sim.start_stream("s-late"));
    sent.unwrap();
    assert_eq!(line, "POST /wh HTTP/1.1");
    assert!(started.elapsed() >= Duration::from_secs(5));
    assert!(sim
        .report()
        .check("webhook_ack", "s-late")
        .unwrap()
        .failure
        .is_none());
}

/// An app that refuses the webhook (a wrong secret token) ends the stream's checks at once.
#[tokio::test(start_paused = true)]
async fn a_refused_webhook_stops_the_stream_at_once_and_says_why() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/wh", listener.local_addr().unwrap());
    let sim = Simulator::start(SimConfig::default().with_webhook_url(url))
        .await
        .unwrap();
    sim.register(StreamSpec::new(
        Product::Meeting,
        "m==",
        "s-401",
        SECRET,
        creds(),
    ))
    .unwrap();
    let started = Instant::now();
    let (_, sent) = tokio::join!(
        answer_one(&listener, "401 Unauthorized"),
        sim.start_stream("s-401")
    );
    assert!(sent.is_err());
    sim.finished("s-401").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let report = sim.report();
    let why = report
        .check("webhook_ack", "s-401")
        .unwrap()
        .failure
        .clone()
        .unwrap();
    assert!(why.contains("401") && why.contains("secret token"), "{why}");
    assert!(report.streams[0].stopped.is_some(), "{report}");
    assert!(report.check("media_ready", "s-401").is_none(), "{report}");
}

fn audio(codec: Codec, rate: SampleRate, channel: AudioChannel) -> Behaviour {
    Behaviour {
        audio: Some(
            AudioParams::new()
                .with_codec(codec)
                .with_sample_rate(rate)
                .with_channel(channel)
                .with_send_rate(20),
        ),
        ..Behaviour::default()
    }
}

/// Confirmed Opus (the default of Zoom's own SDK) is played as real Opus packets, not L16.
#[tokio::test(start_paused = true)]
async fn confirmed_opus_is_played_as_opus() {
    for (channel, stereo) in [(AudioChannel::Stereo, true), (AudioChannel::Mono, false)] {
        let spec = StreamSpec::new(Product::Meeting, "m==", "s-opus", SECRET, creds())
            .with_audio_frames(60);
        let (report, outcomes) =
            run(vec![spec], audio(Codec::Opus, SampleRate::Sr48k, channel)).await;
        assert!(report.passed_strict(), "{report}");
        let got = outcomes.lock().unwrap()["s-opus"].clone();
        let got = got.lock().unwrap();
        assert_eq!(got.audio_frames, 60);
        assert_eq!(got.sha256(), report.streams[0].audio_sha256);
        let first = got.first_audio.clone().unwrap();
        // L16 would be 1920 or 3840 bytes; an Opus packet's TOC byte (RFC 6716 §3.1) says
        // 20 ms frames (configurations 3, 7, 11, 15, 19, 23, 27, 31 are all 20 ms in their mode
        // except the 10 ms CELT ones: config 31 is CELT fullband 20 ms) and the stereo flag.
        assert!(first.len() < 1275, "{}", first.len());
        assert_eq!(first[0] >> 3, 31, "config {}", first[0] >> 3);
        assert_eq!(first[0] & 0x04 != 0, stereo);
    }
}

/// What the simulator cannot play is refused with Zoom's status for it, and the stream stops
/// saying why instead of passing or failing the client.
#[tokio::test(start_paused = true)]
async fn what_the_simulator_cannot_play_is_refused_and_said() {
    let spec = StreamSpec::new(Product::Meeting, "m==", "s-g722", SECRET, creds());
    let (report, outcomes) = run(
        vec![spec],
        audio(Codec::G722, SampleRate::Sr16k, AudioChannel::Mono),
    )
    .await;
    assert!(!report.passed(), "{report}");
    let got = outcomes.lock().unwrap()["s-g722"].clone();
    // The simulator stopped at once; the client reads the refusal right after (paused time).
    let mut status = None;
    for _ in 0..100 {
        status = got.lock().unwrap().data_status;
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, Some(StatusCode::InvalidMediaAudioCodec), "{report}");
    let why = report.streams[0].stopped.clone().unwrap();
    assert!(
        why.contains("not G.722") && why.contains("status 22"),
        "{why}"
    );
}
