//! The protocol scenarios, run in the deterministic harness: the simulator's core against the
//! crate's sans-I/O session, in virtual time (see `harness.rs`). The real-socket tests
//! (`tests/simulator_*.rs`, `tests/client_simulator.rs`) keep the I/O layers honest.

use std::time::Duration;

use super::harness::{creds, spec, Misbehave, Pair};
use super::{End, Fault, Report, Scenario, SimConfig};
use crate::codes::StatusCode;
use crate::handshake::MediaTypes;
use crate::protocol::media::{
    AudioChannel, AudioParams, Codec, DataOption, MediaParams, SampleRate,
};
use crate::protocol::recording::Recording;
use crate::protocol::session::{SessionEvent, Timing};
use sha2::Digest;

const LIMIT: Duration = Duration::from_secs(900);

fn media() -> MediaTypes {
    MediaTypes::AUDIO | MediaTypes::TRANSCRIPT
}

/// Runs `specs` against well-behaved clients.
fn run(config: SimConfig, specs: Vec<super::StreamSpec>) -> (Report, Pair) {
    let mut pair = Pair::new(config, specs, media());
    let report = pair.run(LIMIT);
    (report, pair)
}

fn passed(report: &Report, check: &str, stream: &str) -> bool {
    report
        .check(check, stream)
        .is_some_and(|c| c.failure.is_none())
}

fn failure<'a>(report: &'a Report, check: &str, stream: &str) -> &'a str {
    report
        .check(check, stream)
        .and_then(|c| c.failure.as_deref())
        .unwrap_or_else(|| panic!("{check} did not fail for {stream}:\n{report}"))
}

/// The check a scenario is about.
fn key_check(scenario: Scenario, stream: &str) -> &'static str {
    match scenario {
        Scenario::Faults if stream.ends_with("-duplicate") => "duplicate_retry",
        Scenario::Faults if stream.ends_with("-drop-media") => "media_reconnect",
        Scenario::Faults if stream.ends_with("-drop-signaling") => "signaling_reconnect",
        Scenario::Faults if stream.ends_with("-failover") => "failover",
        Scenario::Duplicate => "duplicate_retry",
        Scenario::DropMedia => "media_reconnect",
        Scenario::DropSignaling => "signaling_reconnect",
        Scenario::Failover => "failover",
        Scenario::Reject14
        | Scenario::Reject15
        | Scenario::Reject16
        | Scenario::RefuseSignaling => "gives_up",
        Scenario::RefusedUrl => "refused_url",
        Scenario::KeepAlivePause => "watchdog_not_early",
        Scenario::Silence => "watchdog_fires",
        Scenario::Stopped => "closes_on_stopped",
        Scenario::SessionStopped => "stops_after_end",
        _ => "audio_delivered",
    }
}

#[test]
fn the_crate_s_session_passes_every_scenario_with_every_check() {
    for scenario in Scenario::ALL {
        let specs = scenario.streams(1, 200, "whsec", &creds());
        let ids: Vec<String> = specs.iter().map(|s| s.rtms_stream_id.clone()).collect();
        let (report, pair) = run(SimConfig::default(), specs);
        assert!(report.passed_strict(), "{scenario}:\n{report}");
        for (id, summary) in ids.iter().zip(&report.streams) {
            assert!(pair.core.is_finished(id), "{scenario}: {id} not finished");
            let check = key_check(scenario, id);
            assert!(passed(&report, check, id), "{scenario}: {check}:\n{report}");
            let received = pair.received(id);
            if summary.audio_frames > 0 {
                // Every socket met a keep-alive, and the client answered it.
                for check in ["keep_alive_signaling", "keep_alive_media"] {
                    assert!(passed(&report, check, id), "{scenario}: {check}\n{report}");
                }
                assert_eq!(
                    received.audio_frames, summary.audio_frames,
                    "{scenario} {id}"
                );
                assert_eq!(
                    received.audio_sha256(),
                    summary.audio_sha256,
                    "{scenario} {id}"
                );
                assert_eq!(received.transcripts.len() as u64, summary.transcripts);
            }
        }
    }
}

#[test]
fn a_run_is_a_function_of_its_inputs() {
    let specs = || Scenario::Faults.streams(2, 300, "whsec", &creds());
    let (first, a) = run(SimConfig::default(), specs());
    let (second, b) = run(SimConfig::default(), specs());
    assert_eq!(first.to_string(), second.to_string());
    assert_eq!(a.elapsed(), b.elapsed());
    assert!(first.passed_strict(), "{first}");
}

#[test]
fn a_client_that_never_answers_keep_alives_fails_even_a_short_stream() {
    let mut pair = Pair::new(SimConfig::default(), vec![spec("s", 10)], media())
        .misbehave(Misbehave::NoKeepAliveAnswers);
    let report = pair.run(LIMIT);
    assert!(!report.passed(), "{report}");
    // Each socket was sent one at the end (10 frames take 0.2 s), judged a keep-alive later.
    let why = failure(&report, "keep_alive_signaling", "s");
    assert!(why.contains("not answered within 10s"), "{why}");
    failure(&report, "keep_alive_media", "s");
    assert!(passed(&report, "audio_delivered", "s"));
}

#[test]
fn the_first_keep_alive_comes_a_second_after_each_handshake() {
    // 2 s of audio: the keep-alives of the first second are answered in the stream.
    let mut pair = Pair::new(SimConfig::default(), vec![spec("s", 100)], media())
        .misbehave(Misbehave::NoKeepAliveAnswers);
    let report = pair.run(LIMIT);
    let why = failure(&report, "keep_alive_media", "s");
    assert!(why.contains("sequence 1 "), "{why}");
    // Judged at the next tick, 10 s after the request made 1 s after the handshake.
    assert!(
        pair.elapsed() >= Duration::from_secs(11),
        "{:?}",
        pair.elapsed()
    );
}

#[test]
fn keep_alive_answers_without_a_sequence_are_accepted() {
    let mut pair = Pair::new(SimConfig::default(), vec![spec("s", 100)], media())
        .misbehave(Misbehave::NoSequence);
    let report = pair.run(LIMIT);
    assert!(report.passed_strict(), "{report}");
    assert!(passed(&report, "keep_alive_signaling", "s"));
}

#[test]
fn a_wrong_signature_stops_the_stream_at_once_saying_why() {
    let mut pair = Pair::new(SimConfig::default(), vec![spec("s", 100)], media())
        .misbehave(Misbehave::WrongSignature);
    let report = pair.run(LIMIT);
    assert!(!report.passed());
    failure(&report, "signaling_signature", "s");
    let stopped = report.streams[0].stopped.as_deref().unwrap_or_default();
    assert!(stopped.contains("ZOOM_CLIENT_SECRET"), "{stopped}");
    // Not after a 65 s window.
    assert!(
        pair.elapsed() < Duration::from_secs(5),
        "{:?}",
        pair.elapsed()
    );
    assert_eq!(report.check("media_ready", "s"), None);
}

#[test]
fn a_client_that_never_sends_the_ready_ack_fails() {
    let mut pair = Pair::new(SimConfig::default(), vec![spec("s", 100)], media())
        .misbehave(Misbehave::NoReadyAck);
    let report = pair.run(LIMIT);
    assert!(!report.passed());
    let why = failure(&report, "client_ready_ack", "s");
    assert!(why.contains("within 10s"), "{why}");
    // No audio without it: the stream ends at the reconnect window.
    assert_eq!(report.streams[0].audio_frames, 0);
    failure(&report, "media_ready", "s");
}

#[test]
fn a_second_signalling_connection_fails() {
    let mut pair = Pair::new(SimConfig::default(), vec![spec("s", 100)], media())
        .misbehave(Misbehave::SecondConnection);
    let report = pair.run(LIMIT);
    assert!(!report.passed());
    let why = failure(&report, "one_signaling_connection", "s");
    assert!(why.contains("second signalling connection"), "{why}");
}

#[test]
fn the_watchdog_fires_65_s_into_a_silence_and_not_in_a_keep_alive_pause() {
    let silence = spec("silent", 200).with_faults([Fault::Silence {
        after_frames: 50,
        duration: Duration::from_secs(90),
    }]);
    let pause = spec("paused", 200).with_faults([Fault::PauseKeepAlives {
        after_frames: 50,
        duration: Duration::from_secs(70),
    }]);
    let (report, pair) = run(SimConfig::default(), vec![silence, pause]);
    assert!(report.passed_strict(), "{report}");
    let dials = &pair.received("silent").signalling_dials;
    assert_eq!(dials.len(), 2, "{dials:?}");
    // The silence starts 1 s after the audio does (50 frames); the last message before it
    // came then, and the watchdog redials 65 s after it and a backoff step.
    assert!(dials[1] - dials[0] >= Duration::from_secs(66), "{dials:?}");
    assert_eq!(pair.received("paused").signalling_dials.len(), 1);
    // The pause is waited out with media flowing: more audio than the 200 frames.
    assert!(report.streams[1].audio_frames > 200, "{report}");
}

#[test]
fn a_short_watchdog_fails_the_silence_and_counting_media_keeps_it_quiet_in_a_pause() {
    let pause = spec("paused", 200).with_faults([Fault::PauseKeepAlives {
        after_frames: 50,
        duration: Duration::from_secs(70),
    }]);
    let mut pair = Pair::new(SimConfig::default(), vec![pause], media());
    pair.configure("paused", |c| {
        c.with_timing(Timing::default().with_watchdog(Duration::from_secs(5)))
    });
    // A watchdog of 5 s would fire during the 70 s keep-alive pause if it counted only
    // keep-alives: the session counts media too, so it stays quiet.
    let report = pair.run(LIMIT);
    assert!(passed(&report, "watchdog_not_early", "paused"), "{report}");

    // In a silence the same watchdog fires 5 s in, long before Zoom's 65 s: a failure.
    let silence = spec("silent", 200).with_faults([Fault::Silence {
        after_frames: 50,
        duration: Duration::from_secs(90),
    }]);
    let mut pair = Pair::new(SimConfig::default(), vec![silence], media());
    pair.configure("silent", |c| {
        c.with_timing(Timing::default().with_watchdog(Duration::from_secs(5)))
    });
    let report = pair.run(LIMIT);
    let why = failure(&report, "watchdog_fires", "silent");
    assert!(why.contains("into the silence"), "{why}");
}

#[test]
fn a_client_that_does_not_retry_status_8_is_judged_on_that_alone() {
    let specs = Scenario::Faults.streams(1, 200, "whsec", &creds());
    let mut pair = Pair::new(SimConfig::default(), specs, media());
    pair.configure("sim-stream-1-duplicate", |c| {
        c.with_timing(Timing::default().with_duplicate_retries(Vec::new()))
    });
    let report = pair.run(LIMIT);
    let why = failure(&report, "duplicate_retry", "sim-stream-1-duplicate");
    assert!(why.contains("after status 8"), "{why}");
    // The other faults are judged on their own streams.
    for (stream, check) in [
        ("sim-stream-1-drop-media", "media_reconnect"),
        ("sim-stream-1-drop-signaling", "signaling_reconnect"),
        ("sim-stream-1-failover", "failover"),
    ] {
        assert!(passed(&report, check, stream), "{report}");
    }
}

#[test]
fn a_refused_data_handshake_is_given_up_on() {
    let refused = spec("s", 100).with_faults([Fault::RejectData(StatusCode::from(14))]);
    let (report, pair) = run(SimConfig::default(), vec![refused]);
    assert!(report.passed_strict(), "{report}");
    assert!(passed(&report, "gives_up", "s"));
    assert!(pair
        .received("s")
        .events
        .iter()
        .any(|e| matches!(e, SessionEvent::Failed { .. })));
}

#[test]
fn rtms_stopped_alone_ends_the_stream_and_the_client_closes() {
    let stopped = spec("s", 100).with_end(End::RtmsStopped);
    let (report, _) = run(SimConfig::default(), vec![stopped]);
    assert!(passed(&report, "closes_on_stopped", "s"), "{report}");
}

#[test]
fn a_recording_replays_in_the_harness_with_its_spacing() {
    let file = concat!(
        "{\"rtms_recording\":1}\n",
        "{\"at_ms\":0,\"socket\":\"media\",\"media_type\":9,\"msg\":{\"msg_type\":14,\"content\":{\"user_id\":0,\"data\":\"AAABAA==\",\"timestamp\":1000}}}\n",
        "{\"at_ms\":5,\"socket\":\"media\",\"media_type\":9,\"msg\":{\"msg_type\":17,\"content\":{\"user_id\":1,\"user_name\":\"A\",\"data\":\"hello\",\"timestamp\":1005}}}\n",
        "{\"at_ms\":20,\"socket\":\"media\",\"media_type\":9,\"msg\":{\"msg_type\":14,\"content\":{\"user_id\":0,\"data\":\"AgADAA==\",\"timestamp\":1020}}}\n",
        "{\"at_ms\":40,\"socket\":\"media\",\"media_type\":9,\"msg\":{\"msg_type\":14,\"content\":{\"user_id\":0,\"data\":\"BAAFAA==\",\"timestamp\":1040}}}\n",
    );
    let recording = Recording::read(file.as_bytes()).unwrap();
    let replayed = spec("s", 100).with_replay(recording);
    let (report, pair) = run(SimConfig::default(), vec![replayed]);
    assert!(report.passed_strict(), "{report}");
    let received = pair.received("s");
    assert_eq!(report.streams[0].audio_frames, 3);
    assert_eq!(received.audio_frames, 3);
    assert_eq!(received.audio_sha256(), report.streams[0].audio_sha256);
    assert_eq!(received.transcripts, ["hello"]);
}

#[test]
fn a_wrong_keep_alive_sequence_fails() {
    let mut pair = Pair::new(SimConfig::default(), vec![spec("s", 100)], media())
        .misbehave(Misbehave::WrongSequence);
    let report = pair.run(LIMIT);
    let why = failure(&report, "keep_alive_signaling", "s");
    assert!(
        why.contains("echoed sequence 2, the request's is 1"),
        "{why}"
    );
}

#[test]
fn split_sockets_get_their_kinds_and_one_ack_readies_them() {
    let specs = Scenario::Faults.streams(1, 200, "whsec", &creds());
    let ids: Vec<String> = specs.iter().map(|s| s.rtms_stream_id.clone()).collect();
    let mut pair = Pair::new(SimConfig::default(), specs, media());
    for id in &ids {
        pair.configure(id, |c| c.with_split_sockets(true));
    }
    let report = pair.run(LIMIT);
    assert!(report.passed_strict(), "{report}");
    for (id, summary) in ids.iter().zip(&report.streams) {
        let received = pair.received(id);
        assert_eq!(received.audio_sha256(), summary.audio_sha256, "{id}");
        assert_eq!(
            received.transcripts.len() as u64,
            summary.transcripts,
            "{id}"
        );
        assert!(summary.transcripts > 0, "{id}");
        // Each socket's response confirmed its own kind: the session keeps both.
        let confirmed = pair.session(id).and_then(|s| s.confirmed_params()).unwrap();
        assert!(confirmed.audio().is_some(), "{id}: {confirmed:?}");
        assert!(confirmed.transcript().is_some(), "{id}: {confirmed:?}");
    }
}

#[test]
fn opus_is_played_as_confirmed_and_g711_is_refused_saying_so() {
    let audio = |codec, rate, channel| {
        MediaParams::new().with_audio(
            AudioParams::new()
                .with_codec(codec)
                .with_sample_rate(rate)
                .with_channel(channel)
                .with_send_rate(20),
        )
    };
    let mut pair = Pair::new(
        SimConfig::default(),
        vec![spec("opus", 100), spec("g711", 100)],
        media(),
    );
    let opus = audio(Codec::Opus, SampleRate::Sr48k, AudioChannel::Stereo);
    pair.configure("opus", |c| c.with_media(MediaTypes::AUDIO, opus));
    let g711 = audio(Codec::G711, SampleRate::Sr8k, AudioChannel::Mono);
    pair.configure("g711", |c| c.with_media(MediaTypes::AUDIO, g711));
    let report = pair.run(LIMIT);
    let opus = &report.streams[0];
    assert_eq!(opus.audio_frames, 100, "{report}");
    assert_eq!(pair.received("opus").audio_sha256(), opus.audio_sha256);
    assert!(passed(&report, "audio_delivered", "opus"), "{report}");
    let stopped = report.streams[1].stopped.as_deref().unwrap_or_default();
    assert!(stopped.contains("status 22"), "{report}");
    assert_eq!(report.streams[1].audio_frames, 0);
    // A stream that stopped was not judged: the run did not pass.
    assert!(!report.passed());
}

#[test]
fn what_the_driver_could_not_queue_is_neither_counted_nor_judged_as_sent() {
    // Every third audio message and every keep-alive request finds the queue full.
    let mut n = 0;
    let mut pair =
        Pair::new(SimConfig::default(), vec![spec("s", 300)], media()).unsent(move |text| {
            if text.starts_with(r#"{"msg_type":12"#) {
                return true;
            }
            n += u32::from(text.starts_with(r#"{"msg_type":14"#));
            text.starts_with(r#"{"msg_type":14"#) && n % 3 == 0
        });
    let report = pair.run(LIMIT);
    let summary = &report.streams[0];
    let received = pair.received("s");
    // What the report counts is what the client got.
    assert_eq!(summary.audio_frames, 200, "{report}");
    assert_eq!(received.audio_frames, 200);
    assert_eq!(received.audio_sha256(), summary.audio_sha256);
    assert!(failure(&report, "keeps_up", "s").contains("audio was dropped"));
    // A keep-alive request never sent is not a miss.
    assert_eq!(report.check("keep_alive_signaling", "s"), None, "{report}");
    assert_eq!(report.check("keep_alive_media", "s"), None, "{report}");
}

#[test]
fn webhook_retries_follow_zoom_s_schedule_and_are_judged() {
    use super::core::{Core, Delivered, Output};
    use std::time::Instant;
    // `ack`: which attempt at `rtms_started` the app acknowledges (none: it never does).
    let attempts = |ack: Option<usize>| {
        let config = SimConfig::default()
            .with_webhook_url("http://127.0.0.1:9/webhook")
            .with_webhook_retries(super::ZOOM_WEBHOOK_RETRIES);
        let start = Instant::now();
        let mut core = Core::new(config, "127.0.0.1:9".parse().unwrap(), start, 0);
        core.register(spec("s", 10), start).unwrap();
        core.start_stream(start, "s").unwrap();
        let mut now = start;
        let mut at = Vec::new();
        loop {
            while let Some(output) = core.poll_output() {
                let Output::Deliver(d) = output else { continue };
                let outcome = if d.hook.event.ends_with("rtms_started") {
                    at.push((now - start).as_secs() / 60);
                    if ack == Some(at.len() - 1) {
                        Delivered::Acked
                    } else {
                        Delivered::Failed("answered 503".into())
                    }
                } else {
                    Delivered::Acked
                };
                core.handle_delivered(now, d.id, outcome);
            }
            let Some(next) = core.poll_timeout() else {
                break;
            };
            now = next;
            core.handle_timeout(now);
        }
        assert!(core.is_finished("s"));
        (at, core.report())
    };
    // 5, 20 and 60 minutes, each from the attempt before; then judged, and no more.
    let (at, report) = attempts(None);
    assert_eq!(at, [0, 5, 25, 85]);
    let why = failure(&report, "webhook_retry", "s");
    assert!(
        why.contains("no retry was acknowledged: answered 503"),
        "{why}"
    );
    failure(&report, "webhook_ack", "s");
    let (at, report) = attempts(Some(2));
    assert_eq!(at, [0, 5, 25]);
    assert!(passed(&report, "webhook_retry", "s"), "{report}");
}

#[test]
fn durations_too_long_for_the_clock_or_zero_neither_panic_nor_spin() {
    let long = SimConfig::default()
        .with_ready_ack_deadline(Duration::MAX)
        .with_observe_window(Duration::MAX)
        .with_reconnect_window(Duration::MAX)
        .with_first_keep_alive(Duration::MAX)
        .with_keep_alive_interval(Duration::MAX);
    let mut pair = Pair::new(long, vec![spec("s", 100)], media());
    let report = pair.run(Duration::from_secs(60));
    assert!(passed(&report, "audio_delivered", "s"), "{report}");
    let zero = SimConfig::default()
        .with_first_keep_alive(Duration::ZERO)
        .with_keep_alive_interval(Duration::ZERO);
    let silence = spec("s", 100).with_faults([Fault::Silence {
        after_frames: 50,
        duration: Duration::from_secs(90),
    }]);
    let mut pair = Pair::new(zero, vec![silence], media());
    let report = pair.run(LIMIT);
    assert!(pair.core.is_finished("s"), "{report}");
}

/// Without the audio digest the report's `audio_sha256` is empty; the frames are counted and
/// every check is made as usual.
#[test]
fn without_the_audio_digest_every_check_is_still_made() {
    let config = SimConfig::default().with_audio_digest(false);
    let (report, pair) = run(config, vec![spec("s1", 60)]);
    assert!(report.passed_strict(), "{report}");
    let summary = &report.streams[0];
    assert_eq!(summary.audio_frames, 60);
    assert_eq!(summary.audio_sha256, "");
    assert_eq!(pair.received("s1").audio_frames, 60);
    for check in [
        "signaling_handshake",
        "client_ready_ack",
        "keep_alive_signaling",
        "keep_alive_media",
        "audio_delivered",
    ] {
        assert!(passed(&report, check, "s1"), "{check}:\n{report}");
    }
}

/// A stream's media starts on the 20 ms grid (counted from the simulator's start), whenever
/// its client became ready, and each audio message goes out exactly at the time its
/// `timestamp` says: every stream sends on the same instants, one timer serving them all.
#[test]
fn media_starts_on_the_grid_and_goes_out_at_its_timestamp() {
    const WALL_START: i64 = 1_700_000_000_000;
    let (report, pair) = run(SimConfig::default(), vec![spec("s1", 120), spec("s2", 90)]);
    assert!(report.passed_strict(), "{report}");
    for id in ["s1", "s2"] {
        let audio = &pair.received(id).audio_at;
        assert!(!audio.is_empty(), "{id}");
        let (_, first) = audio[0];
        let first = first.expect("a timestamp") - WALL_START;
        assert_eq!(first % 20, 0, "{id}: first audio at {first} ms");
        for (n, (arrived, ts)) in audio.iter().enumerate() {
            let ts = ts.expect("a timestamp") - WALL_START;
            assert_eq!(ts, first + 20 * n as i64, "{id}: message {n}");
            // Sent at its timestamp, over the harness's 1 ms link.
            assert_eq!(arrived.as_millis() as i64, ts + 1, "{id}: message {n}");
        }
    }
}

/// A client asking for one audio stream per participant, transcripts, chat, and the
/// participant and sharing events.
fn multi(pair: &mut Pair, stream: &str, data_opt: DataOption) {
    pair.configure(stream, |c| {
        c.with_media(
            MediaTypes::AUDIO | MediaTypes::TRANSCRIPT | MediaTypes::CHAT,
            MediaParams::new().with_audio(AudioParams::new().with_data_opt(data_opt)),
        )
        .with_events([2, 3, 4, 5, 6])
    });
}

/// The stream's zero: the timestamp of event 1 the client received.
fn zero_of(received: &super::harness::Received) -> i64 {
    let firsts: Vec<i64> = received
        .messages
        .iter()
        .filter(|m| m["msg_type"] == 6 && m["event"]["event_type"] == 1)
        .map(|m| m["event"]["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(
        firsts.len(),
        1,
        "one FIRST_PACKET_TIMESTAMP: {:?}",
        &received.messages[..8]
    );
    firsts[0]
}

/// The gap-filled track of `user_id` from what the client received, by the recorder's rule
/// (16 kHz mono: a frame starts at `max(end of the previous, round((ts - zero) * 16))`), and
/// its SHA-256.
fn track_sha256(received: &super::harness::Received, user_id: i64, zero: i64) -> (u64, String) {
    let mut pcm: Vec<u8> = Vec::new();
    let mut frames = 0;
    for (user, ts, data) in &received.user_audio {
        if *user != Some(user_id) {
            continue;
        }
        frames += 1;
        let at = ((ts.unwrap() - zero) * 16) as usize * 2;
        let at = at.max(pcm.len());
        pcm.resize(at, 0);
        pcm.extend_from_slice(data);
    }
    (frames, hex::encode(sha2::Sha256::digest(&pcm)))
}

fn events_of(received: &super::harness::Received) -> Vec<serde_json::Value> {
    received
        .messages
        .iter()
        .filter(|m| m["msg_type"] == 6)
        .map(|m| m["event"].clone())
        .collect()
}

#[test]
fn participants_send_their_own_audio_with_mute_gaps_and_the_report_hashes_each_track() {
    let frames = 200;
    let s = spec("s-cast", frames)
        .with_participants(3)
        .with_mute_gaps(true)
        .with_sharing(true)
        .with_chat(4)
        .with_transcript_every(20);
    let cast = s.participants();
    let mut pair = Pair::new(SimConfig::default(), vec![s], media());
    multi(&mut pair, "s-cast", DataOption::AudioMultiStreams);
    let report = pair.run(LIMIT);
    assert!(report.passed_strict(), "{report}");
    let summary = &report.streams[0];
    let received = pair.received("s-cast");
    let zero = zero_of(received);
    // Event 1 comes before the first audio message.
    let first_audio = received.messages.iter().position(|m| m["msg_type"] == 14);
    let first_event = received.messages.iter().position(|m| m["msg_type"] == 6);
    assert!(first_event < first_audio, "event 1 before media");

    assert_eq!(summary.participants.len(), 3, "{report}");
    let mut total = 0;
    for (p, sent) in cast.iter().zip(&summary.participants) {
        assert_eq!(sent.user_id, p.user_id);
        let expected = (0..frames).filter(|k| p.speaks(*k)).count() as u64;
        assert_eq!(sent.audio_frames, expected, "{}", p.user_name);
        let (got, sha) = track_sha256(received, p.user_id, zero);
        assert_eq!(got, expected);
        assert_eq!(sha, sent.audio_sha256, "{}", p.user_name);
        total += expected;
        // Every message has the participant's name; none falls in a muted or absent slot.
        for (user, ts, _) in received
            .user_audio
            .iter()
            .filter(|a| a.0 == Some(p.user_id))
        {
            let slot = (ts.unwrap() - zero) as u64 / 20;
            assert!(p.speaks(slot), "{} sent in slot {slot}", p.user_name);
            assert_eq!(*user, Some(p.user_id));
        }
    }
    assert_eq!(summary.audio_frames, total);
    // The pattern: 0 muted for [40, 80), 1 for [100, 120) and [140, 150), 2 joins at 50.
    assert_eq!(summary.participants[0].audio_frames, 160);
    assert_eq!(summary.participants[1].audio_frames, 170);
    assert_eq!(summary.participants[2].audio_frames, 150);
    // The tones differ: the tracks of three participants hash differently.
    let hashes: std::collections::HashSet<_> = summary
        .participants
        .iter()
        .map(|p| &p.audio_sha256)
        .collect();
    assert_eq!(hashes.len(), 3);
    // The names on the wire.
    let names: std::collections::HashSet<String> = received
        .messages
        .iter()
        .filter(|m| m["msg_type"] == 14)
        .map(|m| m["content"]["user_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Ann", "Bob", "Cid"].map(String::from).into());

    // Events: 1, joins of 0 and 1 at slot 0, speaker Ann, 2 joins at 50 (3), speaker Bob at
    // 40 (Ann muted) then Ann at 80, sharing at 66 and 133.
    let events = events_of(received);
    assert_eq!(events.len() as u64, summary.events, "{report}");
    let kinds: Vec<(i64, i64)> = events
        .iter()
        .map(|e| {
            let slot = (e["timestamp"].as_i64().unwrap() - zero) / 20;
            (e["event_type"].as_i64().unwrap(), slot)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (1, 0),
            (3, 0),
            (2, 0),
            (2, 40),
            (3, 50),
            (5, 66),
            (2, 80),
            (6, 133)
        ],
        "{events:#?}"
    );
    assert_eq!(events[1]["participants"].as_array().unwrap().len(), 2);
    assert_eq!(events[3]["user_name"], "Bob");
    assert_eq!(events[4]["participants"][0]["user_name"], "Cid");

    // Chat: 4 messages with their metadata, counted.
    let chats: Vec<&serde_json::Value> = received
        .messages
        .iter()
        .filter(|m| m["msg_type"] == 18)
        .collect();
    assert_eq!(chats.len(), 4);
    assert_eq!(summary.chats, 4);
    for (j, chat) in chats.iter().enumerate() {
        let c = &chat["content"];
        assert_eq!(c["operation_type"], 1);
        assert_eq!(c["message_id"], format!("s-cast-chat-{}", j + 1));
        assert!(c["sender"]["user_id"].is_i64() && c["receiver"].is_object());
        assert!(c["data"].as_str().unwrap().starts_with("chat message"));
        let slot = (c["timestamp"].as_i64().unwrap() - zero) / 20;
        assert_eq!(slot, (j as i64 + 1) * 200 / 5);
    }
    // Transcripts: the active speaker's, with language and times.
    let transcripts: Vec<&serde_json::Value> = received
        .messages
        .iter()
        .filter(|m| m["msg_type"] == 17)
        .collect();
    assert_eq!(transcripts.len(), 10);
    for t in transcripts {
        let c = &t["content"];
        let slot = (c["end_time"].as_i64().unwrap() - zero) / 20 - 1;
        let speaker = super::cast::speaker(&cast, slot as u64).unwrap();
        assert_eq!(c["user_id"], cast[speaker].user_id, "{c}");
        assert_eq!(c["user_name"], cast[speaker].user_name.as_str());
        assert!(c["language"].is_i64() && c["start_time"].is_i64());
    }
    assert!(report.to_string().contains(&format!(
        "sent stream=s-cast user=16778240 audio_frames=160 audio_sha256={}\n",
        summary.participants[0].audio_sha256
    )));
}

#[test]
fn refuse_chat_answers_13_and_judges_whether_the_client_goes_on() {
    // A client that asks for chat on its one socket: status 13 refuses the whole socket; one
    // that gives up (the session today: every refusal is final) fails the advice check.
    let specs = Scenario::RefuseChat.streams(1, 100, "whsec", &creds());
    let mut pair = Pair::new(SimConfig::default(), specs, media());
    pair.configure("sim-stream-1", |c| {
        c.with_media(
            MediaTypes::AUDIO | MediaTypes::TRANSCRIPT | MediaTypes::CHAT,
            MediaParams::new(),
        )
    });
    let report = pair.run(LIMIT);
    let refused = pair
        .received("sim-stream-1")
        .events
        .iter()
        .any(|e| format!("{e:?}").contains("13"));
    let goes_on = report
        .check("goes_on", "sim-stream-1")
        .expect("goes_on judged");
    assert_eq!(goes_on.kind, super::CheckKind::Advice);
    if goes_on.failure.is_some() {
        // Gave up: advice only, the protocol checks still pass.
        assert!(refused, "the session saw status 13:\n{report}");
        assert!(failure(&report, "goes_on", "sim-stream-1").contains("status 13"));
        assert!(report.passed(), "{report}");
        assert!(!report.passed_strict());
        assert_eq!(report.streams[0].audio_frames, 0);
    } else {
        // A client that went on (narrowed its request): every frame was sent.
        assert_eq!(report.streams[0].audio_frames, 100, "{report}");
    }

    // Split sockets: the chat socket alone is refused; the audio socket is served, and the
    // stream is judged on whether the client keeps it.
    let specs = Scenario::RefuseChat.streams(1, 100, "whsec", &creds());
    let mut pair = Pair::new(SimConfig::default(), specs, media());
    pair.configure("sim-stream-1", |c| {
        c.with_media(
            MediaTypes::AUDIO | MediaTypes::TRANSCRIPT | MediaTypes::CHAT,
            MediaParams::new(),
        )
        .with_split_sockets(true)
    });
    let report = pair.run(LIMIT);
    assert!(
        report.check("goes_on", "sim-stream-1").is_some(),
        "{report}"
    );
    assert!(report.passed(), "{report}");

    // A client that never asks for chat meets no refusal: nothing to judge.
    let specs = Scenario::RefuseChat.streams(1, 100, "whsec", &creds());
    let (report, _) = run(SimConfig::default(), specs);
    assert!(report.check("goes_on", "sim-stream-1").is_none());
    assert!(report.passed_strict(), "{report}");
}

#[test]
fn refuse_chat_passes_a_client_that_goes_on_without_chat() {
    // The client of Zoom's samples: it drops the refused kind and asks again; audio flows.
    for split in [false, true] {
        let specs = Scenario::RefuseChat.streams(1, 100, "whsec", &creds());
        let mut pair = Pair::new(SimConfig::default(), specs, media()).narrowing();
        pair.configure("sim-stream-1", |c| {
            c.with_media(
                MediaTypes::AUDIO | MediaTypes::TRANSCRIPT | MediaTypes::CHAT,
                MediaParams::new(),
            )
            .with_split_sockets(split)
        });
        let report = pair.run(LIMIT);
        assert!(
            passed(&report, "goes_on", "sim-stream-1"),
            "{split}:\n{report}"
        );
        assert!(
            passed(&report, "audio_delivered", "sim-stream-1"),
            "{report}"
        );
        assert_eq!(report.streams[0].audio_frames, 100);
        assert_eq!(pair.received("sim-stream-1").audio_frames, 100);
        assert!(report.passed(), "{split}:\n{report}");
    }
}

#[test]
fn the_mixed_stream_keeps_user_0_and_a_media_drop_keeps_the_slots() {
    // Mixed audio with participants: one stream, user_id 0, every slot; the events go on.
    let s = spec("s-mixed", 100)
        .with_participants(3)
        .with_mute_gaps(true);
    let mut pair = Pair::new(SimConfig::default(), vec![s], media());
    multi(&mut pair, "s-mixed", DataOption::AudioMixedStream);
    let report = pair.run(LIMIT);
    assert!(report.passed_strict(), "{report}");
    let summary = &report.streams[0];
    let received = pair.received("s-mixed");
    assert_eq!(summary.participants.len(), 1);
    assert_eq!(summary.participants[0].user_id, 0);
    assert_eq!(summary.participants[0].audio_frames, 100);
    // Every slot sent: the gap-filled track is the stream's audio.
    assert_eq!(summary.participants[0].audio_sha256, summary.audio_sha256);
    let zero = zero_of(received);
    assert_eq!(track_sha256(received, 0, zero).1, summary.audio_sha256);
    assert!(received.user_audio.iter().all(|a| a.0 == Some(0)));
    let kinds: Vec<i64> = events_of(received)
        .iter()
        .map(|e| e["event_type"].as_i64().unwrap())
        .collect();
    assert_eq!(kinds, [1, 3, 2, 2, 3, 2], "{report}");

    // A media drop halfway: the player waits for the redial and goes on with the next slot;
    // each participant's track is still what the client received, slot by slot.
    let s = spec("s-drop", 100)
        .with_participants(2)
        .with_mute(0, 45..55)
        .with_faults([Fault::DropMedia { after_frames: 50 }]);
    let mut pair = Pair::new(SimConfig::default(), vec![s], media());
    multi(&mut pair, "s-drop", DataOption::AudioMultiStreams);
    let report = pair.run(LIMIT);
    assert!(report.passed_strict(), "{report}");
    let received = pair.received("s-drop");
    let zero = zero_of(received);
    let timestamps: Vec<i64> = received
        .user_audio
        .iter()
        .filter(|a| a.0 == Some(16_778_241))
        .map(|a| a.1.unwrap() - zero)
        .collect();
    assert_eq!(timestamps, (0..100).map(|k| k * 20).collect::<Vec<_>>());
    for p in &report.streams[0].participants {
        let (frames, sha) = track_sha256(received, p.user_id, zero);
        assert_eq!(
            (frames, &sha),
            (p.audio_frames, &p.audio_sha256),
            "{report}"
        );
    }
    assert_eq!(report.streams[0].participants[0].audio_frames, 90);
}

#[test]
fn the_per_participant_hash_fills_the_slots_not_sent_with_zeros() {
    // The hash the report gives is over zeros for the slots a participant did not send: a
    // participant that joins at slot 3 and one muted for [1, 2) differ from a plain hash.
    let s = spec("s-gaps", 5)
        .with_participants(2)
        .with_mute(0, 1..2)
        .with_join_at(1, 3)
        .with_transcript_every(0);
    let mut pair = Pair::new(SimConfig::default(), vec![s], media());
    multi(&mut pair, "s-gaps", DataOption::AudioMultiStreams);
    let report = pair.run(LIMIT);
    let received = pair.received("s-gaps");
    let frames_of = |user: i64| -> Vec<Vec<u8>> {
        received
            .user_audio
            .iter()
            .filter(|a| a.0 == Some(user))
            .map(|a| a.2.clone())
            .collect()
    };
    let ann = frames_of(16_778_240);
    let bob = frames_of(16_778_241);
    assert_eq!((ann.len(), bob.len()), (4, 2));
    let silence = vec![0u8; 640];
    let ann_track = [&ann[0][..], &silence, &ann[1], &ann[2], &ann[3]].concat();
    let bob_track = [&silence[..], &silence, &silence, &bob[0], &bob[1]].concat();
    let sha = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
    let p = &report.streams[0].participants;
    assert_eq!(p[0].audio_sha256, sha(&ann_track));
    assert_eq!(p[1].audio_sha256, sha(&bob_track));
    // A participant that leaves: PARTICIPANT_LEAVE at its slot.
    let s = spec("s-leave", 10).with_participants(2).with_leave_at(1, 6);
    let mut pair = Pair::new(SimConfig::default(), vec![s], media());
    multi(&mut pair, "s-leave", DataOption::AudioMultiStreams);
    let report = pair.run(LIMIT);
    let received = pair.received("s-leave");
    let zero = zero_of(received);
    let leave: Vec<_> = events_of(received)
        .into_iter()
        .filter(|e| e["event_type"] == 4)
        .collect();
    assert_eq!(leave.len(), 1, "{report}");
    assert_eq!(leave[0]["participants"][0]["user_id"], 16_778_241);
    assert_eq!(leave[0]["timestamp"].as_i64().unwrap() - zero, 6 * 20);
    assert_eq!(report.streams[0].participants[1].audio_frames, 6);
}
