//! The simulator's faults, against a hand-written client that follows the protocol
//! (`docs/protocol.md#reconnects-and-failover`): each fault is survived and its check passes; a
//! client that breaks the rule of the fault gets the matching `FAIL`. Paused tokio time: no sleeps.
#![cfg(feature = "simulator")]

#[path = "sim_client/mod.rs"]
mod sim_client;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sim_client::{Behaviour, Outcome};
use zoom_rtms_webhooks::codes::StatusCode;
use zoom_rtms_webhooks::handshake::Credentials;
use zoom_rtms_webhooks::protocol::media::AudioParams;
use zoom_rtms_webhooks::simulator::{End, Fault, Report, SimConfig, Simulator, StreamSpec};
use zoom_rtms_webhooks::Product;

const SECRET: &str = "webhook secret token";

fn creds() -> Credentials {
    Credentials::new("client-id", "client-secret").unwrap()
}

async fn run(spec: StreamSpec, behaviour: Behaviour) -> (Report, Arc<Mutex<Outcome>>) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let id = spec.rtms_stream_id().to_owned();
    sim.register(spec).unwrap();
    let outcome = sim_client::spawn(behaviour, creds(), SECRET, sim.take_webhooks().unwrap());
    sim.start_stream(&id).await.unwrap();
    sim.finished(&id).await;
    (sim.report(), outcome)
}

fn spec(id: &str, faults: impl IntoIterator<Item = Fault>) -> StreamSpec {
    StreamSpec::new(Product::Meeting, "m-uuid==", id, SECRET, creds())
        .with_audio_frames(100)
        .with_faults(faults)
}

fn passed(report: &Report, check: &str, stream: &str) {
    assert!(
        report
            .check(check, stream)
            .is_some_and(|c| c.failure.is_none()),
        "{check} missing or failed:\n{report}"
    );
}

fn failure<'r>(report: &'r Report, check: &str, stream: &str) -> &'r str {
    report
        .check(check, stream)
        .and_then(|c| c.failure.as_deref())
        .unwrap_or_else(|| panic!("expected FAIL {check}, got:\n{report}"))
}

/// The whole stream arrived, in order, despite the fault.
fn all_audio(report: &Report, outcome: &Mutex<Outcome>) {
    let got = outcome.lock().unwrap();
    assert_eq!(report.streams[0].audio_frames, 100, "{report}");
    assert_eq!(got.audio_frames, 100, "{report}");
    assert_eq!(got.sha256(), report.streams[0].audio_sha256);
}

#[tokio::test(start_paused = true)]
async fn dropped_media_and_event_7_are_survived_by_redialling_media() {
    let (report, outcome) = run(
        spec("s-media", [Fault::DropMedia { after_frames: 40 }]),
        Behaviour::default(),
    )
    .await;
    assert!(report.passed(), "{report}");
    passed(&report, "media_reconnect", "s-media");
    all_audio(&report, &outcome);
    assert_eq!(outcome.lock().unwrap().connected, 2);
}

#[tokio::test(start_paused = true)]
async fn dropped_signaling_and_rtms_interrupted_are_survived_by_a_full_reconnect() {
    let (report, outcome) = run(
        spec("s-sig", [Fault::DropSignaling { after_frames: 30 }]),
        Behaviour::default(),
    )
    .await;
    assert!(report.passed(), "{report}");
    passed(&report, "signaling_reconnect", "s-sig");
    all_audio(&report, &outcome);
}

#[tokio::test(start_paused = true)]
async fn status_8_then_accept_is_retried_after_the_backoff() {
    let (report, outcome) = run(
        spec("s-dup", [Fault::DuplicateSignal]),
        Behaviour::default(),
    )
    .await;
    assert!(report.passed(), "{report}");
    passed(&report, "duplicate_retry", "s-dup");
    all_audio(&report, &outcome);
}

#[tokio::test(start_paused = true)]
async fn an_immediate_retry_after_status_8_fails_duplicate_retry() {
    let behaviour = Behaviour {
        eager_retry: true,
        ..Behaviour::default()
    };
    let (report, _) = run(spec("s-eager", [Fault::DuplicateSignal]), behaviour).await;
    assert!(failure(&report, "duplicate_retry", "s-eager").contains("1.5 s"));
}

#[tokio::test(start_paused = true)]
async fn fatal_data_statuses_14_15_16_make_the_client_give_up() {
    for code in [14, 15, 16] {
        let id = format!("s-fatal-{code}");
        let (report, outcome) = run(
            spec(&id, [Fault::RejectData(StatusCode::from(code))]),
            Behaviour::default(),
        )
        .await;
        assert!(report.passed(), "{report}");
        passed(&report, "gives_up", &id);
        assert_eq!(
            outcome.lock().unwrap().data_status,
            Some(StatusCode::from(code))
        );
        assert_eq!(report.streams[0].audio_frames, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn redialling_after_a_fatal_status_fails_gives_up() {
    let behaviour = Behaviour {
        retry_fatal: true,
        ..Behaviour::default()
    };
    let (report, _) = run(
        spec("s-stubborn", [Fault::RejectData(StatusCode::from(14))]),
        behaviour,
    )
    .await;
    assert!(failure(&report, "gives_up", "s-stubborn").contains("fatal status 14"));
}

#[tokio::test(start_paused = true)]
async fn failover_to_new_urls_is_followed_at_once() {
    let (report, outcome) = run(
        spec("s-fo", [Fault::Failover { after_frames: 50 }]),
        Behaviour::default(),
    )
    .await;
    assert!(report.passed(), "{report}");
    passed(&report, "failover", "s-fo");
    all_audio(&report, &outcome);
}

#[tokio::test(start_paused = true)]
async fn the_stream_ends_with_state_4_and_the_client_stays_away() {
    let (report, outcome) = run(spec("s-end", []), Behaviour::default()).await;
    assert!(report.passed(), "{report}");
    passed(&report, "stops_after_end", "s-end");
    assert!(outcome.lock().unwrap().ended);
}

#[tokio::test(start_paused = true)]
async fn rtms_stopped_alone_must_close_the_sockets() {
    let stopped = |id: &str| spec(id, []).with_end(End::RtmsStopped);
    let (report, _) = run(stopped("s-stop"), Behaviour::default()).await;
    assert!(report.passed(), "{report}");
    passed(&report, "closes_on_stopped", "s-stop");

    let behaviour = Behaviour {
        ignore_stopped: true,
        ..Behaviour::default()
    };
    let (report, _) = run(stopped("s-linger"), behaviour).await;
    assert!(failure(&report, "closes_on_stopped", "s-linger").contains("still open"));
}

#[tokio::test(start_paused = true)]
async fn every_fault_in_one_stream() {
    let faults = [
        Fault::DuplicateSignal,
        Fault::DropMedia { after_frames: 20 },
        Fault::DropSignaling { after_frames: 40 },
        Fault::Failover { after_frames: 60 },
    ];
    let (report, outcome) = run(spec("s-all", faults), Behaviour::default()).await;
    assert!(report.passed(), "{report}");
    for check in [
        "duplicate_retry",
        "media_reconnect",
        "signaling_reconnect",
        "failover",
        "stops_after_end",
    ] {
        passed(&report, check, "s-all");
    }
    all_audio(&report, &outcome);
}

#[tokio::test(start_paused = true)]
async fn redialling_without_backoff_fails_the_reconnect_checks() {
    let behaviour = Behaviour {
        redial_at_once: true,
        ..Behaviour::default()
    };
    let (report, _) = run(
        spec("s-hasty", [Fault::DropMedia { after_frames: 10 }]),
        behaviour.clone(),
    )
    .await;
    // Within the window: the protocol is kept; the backoff is advice.
    passed(&report, "media_reconnect", "s-hasty");
    assert!(failure(&report, "reconnect_backoff", "s-hasty").contains("before"));
    assert!(report.passed() && !report.passed_strict(), "{report}");
    let (report, _) = run(
        spec("s-hasty2", [Fault::DropSignaling { after_frames: 10 }]),
        behaviour,
    )
    .await;
    passed(&report, "signaling_reconnect", "s-hasty2");
    assert!(failure(&report, "reconnect_backoff", "s-hasty2").contains("before"));
}

#[tokio::test(start_paused = true)]
async fn a_media_url_on_a_refused_host_is_never_dialled() {
    let (report, outcome) = run(
        spec("s-ssrf", [Fault::RefusableMediaUrl]),
        Behaviour::default(),
    )
    .await;
    assert!(report.passed(), "{report}");
    passed(&report, "refused_url", "s-ssrf");
    assert_eq!(outcome.lock().unwrap().connected, 0);

    let behaviour = Behaviour {
        dial_any_media_url: true,
        ..Behaviour::default()
    };
    let (report, _) = run(spec("s-ssrf-bad", [Fault::RefusableMediaUrl]), behaviour).await;
    assert!(failure(&report, "refused_url", "s-ssrf-bad").contains("ws://localhost:"));
}

/// 1000 frames of 100 ms (100 s of audio), keep-alives paused for 70 s after 10 s.
fn paused_spec(id: &str) -> StreamSpec {
    spec(
        id,
        [Fault::PauseKeepAlives {
            after_frames: 100,
            duration: Duration::from_secs(70),
        }],
    )
    .with_audio_frames(1000)
    .with_transcript_every(0)
}

fn slow_audio() -> Option<AudioParams> {
    Some(AudioParams::new().with_send_rate(100))
}

#[tokio::test(start_paused = true)]
async fn paused_keep_alives_while_media_flows_do_not_fire_the_watchdog() {
    let behaviour = Behaviour {
        audio: slow_audio(),
        ..Behaviour::default()
    };
    let (report, outcome) = run(paused_spec("s-pause"), behaviour).await;
    assert!(report.passed(), "{report}");
    passed(&report, "watchdog_not_early", "s-pause");
    assert_eq!(outcome.lock().unwrap().connected, 1);

    let behaviour = Behaviour {
        audio: slow_audio(),
        keep_alive_watchdog: true,
        ..Behaviour::default()
    };
    let (report, _) = run(paused_spec("s-pause-bad"), behaviour).await;
    assert!(failure(&report, "watchdog_not_early", "s-pause-bad").contains("keep-alive pause"));
}

#[tokio::test(start_paused = true)]
async fn silence_fires_the_watchdog_after_65_s() {
    let silent = |id: &str| {
        spec(
            id,
            [Fault::Silence {
                after_frames: 50,
                duration: Duration::from_secs(90),
            }],
        )
    };
    let (report, outcome) = run(silent("s-quiet"), Behaviour::default()).await;
    assert!(report.passed(), "{report}");
    passed(&report, "watchdog_fires", "s-quiet");
    all_audio(&report, &outcome);

    let behaviour = Behaviour {
        no_watchdog: true,
        ..Behaviour::default()
    };
    let (report, outcome) = run(silent("s-quiet-bad"), behaviour).await;
    // After a silence that no reconnect ended, media resumes at its pace (20 ms a frame),
    // not in a burst: the 50 frames after it span a second.
    let times = outcome.lock().unwrap().audio_times.clone();
    assert_eq!(times.len(), 100);
    let gap = times[50] - times[49];
    assert!(gap >= Duration::from_secs(90), "{gap:?}");
    let after = times[99] - times[50];
    assert!(after >= Duration::from_millis(49 * 20), "{after:?}");
    assert!(
        failure(&report, "watchdog_fires", "s-quiet-bad").contains("no new signalling handshake")
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_signaling_handshake_makes_the_client_give_up() {
    for code in [2, 3, 4] {
        let id = format!("s-refused-{code}");
        let (report, outcome) = run(
            spec(&id, [Fault::RejectSignaling(StatusCode::from(code))]),
            Behaviour::default(),
        )
        .await;
        assert!(report.passed(), "{report}");
        passed(&report, "gives_up", &id);
        assert_eq!(outcome.lock().unwrap().connected, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_stopped_session_ends_the_stream() {
    let (report, outcome) = run(
        spec("s-session", []).with_end(End::SessionStopped),
        Behaviour::default(),
    )
    .await;
    assert!(report.passed(), "{report}");
    passed(&report, "stops_after_end", "s-session");
    all_audio(&report, &outcome);
    assert!(outcome.lock().unwrap().ended);
}

#[tokio::test(start_paused = true)]
async fn split_media_sockets_each_need_their_ack_and_survive_a_media_drop() {
    let behaviour = Behaviour {
        split: true,
        ..Behaviour::default()
    };
    let (report, outcome) = run(
        spec("s-split", [Fault::DropMedia { after_frames: 40 }]),
        behaviour.clone(),
    )
    .await;
    assert!(report.passed(), "{report}");
    passed(&report, "media_url", "s-split");
    passed(&report, "media_reconnect", "s-split");
    all_audio(&report, &outcome);
    assert_eq!(report.streams[0].transcripts, 4, "{report}");
    assert_eq!(outcome.lock().unwrap().transcripts, 4);

    // Acknowledging only one of the two sockets fails.
    let behaviour = Behaviour {
        split: true,
        skip_ready_ack: true,
        ..Behaviour::default()
    };
    let (report, _) = run(spec("s-split-noack", []), behaviour).await;
    assert!(failure(&report, "client_ready_ack", "s-split-noack").contains("no CLIENT_READY_ACK"));
}
