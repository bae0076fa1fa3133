//! The sans-I/O session driven with a fake clock and no sockets: the connection flow,
//! keep-alives, reconnects, failover and endings of `docs/protocol.md` that need no real server.
#![cfg(feature = "protocol")]

use std::time::{Duration, Instant};

use serde_json::Value;
use zoom_rtms_webhooks::codes::{StatusCode, StopReason};
use zoom_rtms_webhooks::event::Product;
use zoom_rtms_webhooks::handshake::{handshake_signature, Credentials, SignalingHandshakeRequest};
use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
use zoom_rtms_webhooks::protocol::events::MeetingEventType;
use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
use zoom_rtms_webhooks::protocol::media::*;
use zoom_rtms_webhooks::protocol::session::*;
use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl, ServerUrlError};

const SIG_URL: &str = "wss://rtms-sjc1.zoom.us/signal";
const OK_URLS: &[u8] = br#"{"msg_type":2,"protocol_version":1,"sequence":0,"status_code":0,"reason":"",
  "media_server":{"server_urls":{"audio":"wss://a.zoom.us/audio","transcript":"wss://t.zoom.us/tr","all":"wss://x.zoom.us/all"}}}"#;
const DATA_OK: &[u8] = br#"{"msg_type":4,"status_code":0,"payload_encrypted":false,
  "media_params":{"audio":{"content_type":2,"sample_rate":1,"channel":1,"codec":1,"data_opt":1,"send_rate":20}}}"#;

fn url(s: &str) -> ServerUrl {
    ServerUrl::parse(s, &HostPolicy::default()).unwrap()
}

fn creds() -> Credentials {
    Credentials::new("client", "secret").unwrap()
}

fn config() -> SessionConfig {
    SessionConfig::new(SignalingHandshakeRequest::from_parts(
        &creds(),
        Product::Meeting,
        "m-uuid==",
        "stream-1",
    ))
}

/// A fake clock and the session's outputs.
struct Harness {
    t0: Instant,
    now: Instant,
    s: Session,
}

impl Harness {
    fn new(config: SessionConfig) -> Self {
        let t0 = Instant::now();
        let s = Session::connect(config, url(SIG_URL), t0).unwrap();
        Harness { t0, now: t0, s }
    }

    fn at(&mut self, secs: f64) {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        self.s.handle_timeout(self.now);
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.s.poll_output()).collect()
    }

    fn opened(&mut self, socket: SocketId) -> Value {
        self.s.handle_opened(self.now, socket);
        match self.drain().as_slice() {
            [Output::Send { socket: s, text }] if *s == socket => {
                serde_json::from_str(text).unwrap()
            }
            other => panic!("{other:?}"),
        }
    }

    fn msg(&mut self, socket: SocketId, frame: &[u8]) -> Vec<Output> {
        let d = self.s.handle_message(self.now, socket, frame).unwrap();
        let _ = d;
        self.drain()
    }

    /// Signalling up: returns its socket.
    fn signalling(&mut self) -> SocketId {
        let sig = match self.drain().as_slice() {
            [Output::Open {
                socket,
                role: Role::Signalling,
                url,
            }] => {
                assert_eq!(url.as_str(), SIG_URL);
                *socket
            }
            other => panic!("{other:?}"),
        };
        let hello = self.opened(sig);
        assert_eq!(hello["msg_type"], 1);
        sig
    }
}

fn opens(outputs: &[Output]) -> Vec<(SocketId, Role, String)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Open { socket, role, url } => Some((*socket, *role, url.as_str().to_owned())),
            _ => None,
        })
        .collect()
}

fn sends(outputs: &[Output]) -> Vec<(SocketId, Value)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send { socket, text } => Some((*socket, serde_json::from_str(text).unwrap())),
            _ => None,
        })
        .collect()
}

fn events(outputs: &[Output]) -> Vec<SessionEvent> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn closes(outputs: &[Output]) -> Vec<SocketId> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Close { socket } => Some(*socket),
            _ => None,
        })
        .collect()
}

/// Unified (default): one media socket to `all`, returns (signalling, media).
fn connect_unified(h: &mut Harness) -> (SocketId, SocketId) {
    let sig = h.signalling();
    let out = h.msg(sig, OK_URLS);
    let o = opens(&out);
    assert_eq!(o.len(), 1, "{out:?}");
    let media = o[0].0;
    h.opened(media);
    let out = h.msg(media, DATA_OK);
    assert_eq!(sends(&out)[0].0, sig);
    assert!(
        matches!(events(&out).as_slice(), [SessionEvent::Connected { .. }]),
        "{out:?}"
    );
    (sig, media)
}

#[test]
fn happy_path_split_sockets_with_events() {
    let params = MediaParams::new()
        .with_audio(
            AudioParams::new()
                .with_codec(Codec::L16)
                .with_sample_rate(SampleRate::Sr16k)
                .with_send_rate(20),
        )
        .with_transcript(TranscriptParams::new().with_src_language(TranscriptLanguage::English));
    let hello =
        SignalingHandshakeRequest::from_parts(&creds(), Product::Meeting, "m-uuid==", "stream-1")
            .with_buffer_data(false);
    let mut h = Harness::new(
        SessionConfig::new(hello)
            .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, params)
            .with_split_sockets(true)
            .with_events([
                MeetingEventType::ActiveSpeakerChange,
                MeetingEventType::ParticipantJoin,
            ]),
    );
    let sig = match h.drain().as_slice() {
        [Output::Open { socket, .. }] => *socket,
        other => panic!("{other:?}"),
    };
    let hello = h.opened(sig);
    assert_eq!(hello["meeting_uuid"], "m-uuid==");
    assert_eq!(hello["rtms_stream_id"], "stream-1");
    assert_eq!(
        hello["signature"],
        handshake_signature(&creds(), "m-uuid==", "stream-1")
    );
    assert_eq!(hello["buffer_data"], false);

    let out = h.msg(sig, OK_URLS);
    // Subscription first, on signalling; then one socket per kind, each at its own URL.
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, sig);
    assert_eq!(s[0].1["msg_type"], 5);
    assert_eq!(s[0].1["events"][1]["event_type"], 3);
    let o = opens(&out);
    assert_eq!(o.len(), 2);
    assert_eq!(
        (o[0].1, o[0].2.as_str()),
        (Role::Media(MediaTypes::AUDIO), "wss://a.zoom.us/audio")
    );
    assert_eq!(
        (o[1].1, o[1].2.as_str()),
        (Role::Media(MediaTypes::TRANSCRIPT), "wss://t.zoom.us/tr")
    );

    // Each data handshake carries only its kind's params and the same signature.
    let audio = h.opened(o[0].0);
    assert_eq!(audio["msg_type"], 3);
    assert_eq!(audio["media_type"], 1);
    assert_eq!(audio["signature"], hello["signature"]);
    assert!(audio["media_params"]["transcript"].is_null());
    assert_eq!(audio["media_params"]["audio"]["send_rate"], 20);
    let tr = h.opened(o[1].0);
    assert_eq!(tr["media_type"], 8);
    assert!(tr["media_params"]["audio"].is_null());

    // A client-ready ack per data handshake, on signalling; ready after the last.
    let out = h.msg(o[0].0, DATA_OK);
    assert_eq!(
        sends(&out),
        vec![(
            sig,
            serde_json::json!({"msg_type":7,"rtms_stream_id":"stream-1"})
        )]
    );
    assert!(events(&out).is_empty());
    let out = h.msg(o[1].0, br#"{"msg_type":4,"status_code":0}"#);
    assert_eq!(sends(&out).len(), 1);
    assert_eq!(events(&out), vec![SessionEvent::Connected { connects: 1 }]);
    assert!(h.s.confirmed_params().is_some());

    // Media is handed back, borrowed.
    let frame = br#"{"msg_type":14,"content":{"user_id":0,"data":"AAAA","timestamp":1}}"#;
    let d = h.s.handle_message(h.now, o[0].0, frame).unwrap();
    assert!(matches!(d, Inbound::User(ServerMessage::Audio(_))));
}

#[test]
fn unified_socket_by_default_and_url_fallback() {
    let mut h = Harness::new(config().with_media(
        MediaTypes::AUDIO | MediaTypes::TRANSCRIPT,
        MediaParams::new(),
    ));
    let sig = h.signalling();
    let out = h.msg(sig, br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"audio":"wss://a.zoom.us"}}}"#);
    let o = opens(&out);
    assert_eq!(o.len(), 1);
    // No `all` URL and none for transcripts: only audio is asked for, at its URL (as Zoom's
    // samples narrow the request to what is offered), and the user is told.
    assert_eq!(
        (o[0].1, o[0].2.as_str()),
        (Role::Media(MediaTypes::AUDIO), "wss://a.zoom.us/")
    );
    assert_eq!(
        events(&out),
        vec![SessionEvent::MediaRefused {
            kind: MediaKind::Transcript,
            status: None
        }]
    );
    let hs = h.opened(o[0].0);
    assert_eq!(hs["media_type"], 1);
    assert!(hs.get("media_params").is_none());

    // With a URL for each, one socket for both, at `all` when there is one, else at the first
    // kind's URL (as Zoom's Contact Center sample does).
    let mut h = Harness::new(config().with_media(
        MediaTypes::AUDIO | MediaTypes::TRANSCRIPT,
        MediaParams::new(),
    ));
    let sig = h.signalling();
    let out = h.msg(sig, br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"audio":"wss://a.zoom.us","transcript":"wss://t.zoom.us"}}}"#);
    let o = opens(&out);
    assert_eq!(
        (o[0].1, o[0].2.as_str()),
        (Role::Media(MediaTypes::from_bits(9)), "wss://a.zoom.us/")
    );
    assert!(events(&out).is_empty());

    // Split mode falls back to `all` per kind.
    let mut h = Harness::new(
        config()
            .with_media(MediaTypes::AUDIO | MediaTypes::VIDEO, MediaParams::new())
            .with_split_sockets(true),
    );
    let sig = h.signalling();
    let out = h.msg(sig, OK_URLS);
    let urls: Vec<String> = opens(&out).into_iter().map(|o| o.2).collect();
    assert_eq!(urls, ["wss://a.zoom.us/audio", "wss://x.zoom.us/all"]);
}

#[test]
fn keep_alives_answered_on_every_socket() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    for socket in [sig, media] {
        let out = h.msg(socket, br#"{"msg_type":12,"timestamp":1727384349123}"#);
        assert_eq!(
            out,
            vec![Output::Send {
                socket,
                text: r#"{"msg_type":13,"timestamp":1727384349123}"#.into()
            }]
        );
    }
}

#[test]
fn duplicate_signal_request_retried_at_1_5_3_6_then_failed() {
    let mut h = Harness::new(config());
    let mut sig = h.signalling();
    let mut t = 0.0;
    for delay in [1.5, 3.0, 6.0] {
        let out = h.msg(
            sig,
            br#"{"msg_type":2,"status_code":8,"reason":"duplicate signal request"}"#,
        );
        assert_eq!(closes(&out), vec![sig]);
        t += delay;
        // Nothing before the delay...
        h.at(t - 0.001);
        assert!(h.drain().is_empty());
        assert_eq!(h.s.poll_timeout(), Some(h.t0 + Duration::from_secs_f64(t)));
        // ...then a new signalling connection.
        h.at(t);
        let o = opens(&h.drain());
        assert_eq!(o.len(), 1);
        sig = o[0].0;
        h.opened(sig);
    }
    let out = h.msg(sig, br#"{"msg_type":2,"status_code":8}"#);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Failed(SessionError::Duplicate { retries: 3 })]
    );
    assert!(h.s.is_done());
    assert_eq!(h.s.poll_timeout(), None);
}

#[test]
fn duplicate_then_accepted() {
    let mut h = Harness::new(config());
    let sig = h.signalling();
    h.msg(sig, br#"{"msg_type":2,"status_code":8}"#);
    h.at(1.5);
    let sig = opens(&h.drain())[0].0;
    h.opened(sig);
    let out = h.msg(sig, OK_URLS);
    assert_eq!(opens(&out).len(), 1);
}

#[test]
fn refused_handshakes_are_final() {
    for (code, reason) in [(3, "bad signature"), (2, "no such stream"), (1, "what")] {
        let mut h = Harness::new(config());
        let sig = h.signalling();
        let frame = format!(r#"{{"msg_type":2,"status_code":{code},"reason":"{reason}"}}"#);
        let out = h.msg(sig, frame.as_bytes());
        assert_eq!(
            events(&out),
            vec![SessionEvent::Failed(SessionError::Refused {
                status: StatusCode::from(code),
                reason: reason.into()
            })]
        );
        assert_eq!(closes(&out), vec![sig]);
    }
    for code in [14, 15, 16, 17, 24] {
        let mut h = Harness::new(config());
        let sig = h.signalling();
        let media = opens(&h.msg(sig, OK_URLS))[0].0;
        h.opened(media);
        let frame = format!(r#"{{"msg_type":4,"status_code":{code}}}"#);
        let out = h.msg(media, frame.as_bytes());
        assert!(
            matches!(events(&out).as_slice(), [SessionEvent::Failed(SessionError::Refused { status, .. })] if status.code() == code)
        );
        let mut closed = closes(&out);
        closed.sort();
        assert_eq!(closed, vec![sig, media]);
    }
}

#[test]
fn media_interrupted_redials_media_only_with_backoff() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    // Event 7 on signalling.
    let out = h.msg(
        sig,
        br#"{"msg_type":6,"event":{"event_type":7,"timestamp":1}}"#,
    );
    assert_eq!(closes(&out), vec![media]);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Media,
            attempt: 0
        }]
    );
    // A second trigger (stream state 2/14) does not schedule a second reconnect.
    let out = h.msg(sig, br#"{"msg_type":8,"state":2,"reason":14}"#);
    assert!(events(&out).is_empty());
    h.at(2.9);
    assert!(opens(&h.drain()).is_empty());
    h.at(3.0);
    let o = opens(&h.drain());
    assert_eq!(o.len(), 1);
    // The audio URL (the kind's URL before `all`, as `media_url` gives it).
    assert_eq!(o[0].2, "wss://a.zoom.us/audio");
    h.opened(o[0].0);
    let out = h.msg(o[0].0, DATA_OK);
    assert_eq!(events(&out), vec![SessionEvent::Connected { connects: 2 }]);
    assert!(!closes(&out).contains(&sig));
}

#[test]
fn stream_state_2_reason_14_redials_media() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    let out = h.msg(
        sig,
        br#"{"msg_type":8,"state":2,"reason":14,"timestamp":1}"#,
    );
    assert_eq!(closes(&out), vec![media]);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Media,
            attempt: 0
        }]
    );
    // State 2 with reason 13 waits for the webhook instead.
    let mut h = Harness::new(config());
    let (sig, _) = connect_unified(&mut h);
    assert!(events(&h.msg(sig, br#"{"msg_type":8,"state":2,"reason":13}"#)).is_empty());
}

#[test]
fn interrupted_webhook_redoes_everything() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    h.s.handle_webhook(h.now, Webhook::Interrupted);
    let out = h.drain();
    let mut closed = closes(&out);
    closed.sort();
    assert_eq!(closed, vec![sig, media]);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }]
    );
    h.at(3.0);
    let o = opens(&h.drain());
    assert_eq!(
        (o.len(), o[0].1, o[0].2.as_str()),
        (1, Role::Signalling, SIG_URL)
    );
}

#[test]
fn failover_connects_to_the_new_server_at_once() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    h.s.handle_webhook(
        h.now,
        Webhook::Started {
            server_url: url("wss://rtms-iad1.zoom.us/x"),
        },
    );
    let out = h.drain();
    let mut closed = closes(&out);
    closed.sort();
    assert_eq!(closed, vec![sig, media]);
    let o = opens(&out);
    assert_eq!((o.len(), o[0].2.as_str()), (1, "wss://rtms-iad1.zoom.us/x"));
    // Frames from the old sockets are ignored.
    assert_eq!(
        h.s.handle_message(h.now, sig, br#"{"msg_type":12,"timestamp":1}"#)
            .unwrap(),
        Inbound::Handled
    );
    assert!(h.drain().is_empty());
    h.s.handle_closed(h.now, media);
    assert!(h.drain().is_empty());
}

#[test]
fn stream_terminated_or_session_stopped_or_webhook_stopped_ends() {
    let frames: [(&[u8], EndReason); 2] = [
        (
            br#"{"msg_type":8,"state":4,"reason":6}"#,
            EndReason::StreamTerminated(Some(StopReason::MeetingEnded)),
        ),
        (
            br#"{"msg_type":9,"state":5,"stop_reason":3}"#,
            EndReason::SessionStopped(Some(StopReason::AppUserLeft)),
        ),
    ];
    for (frame, reason) in frames {
        let mut h = Harness::new(config());
        let (sig, media) = connect_unified(&mut h);
        let out = h.msg(sig, frame);
        assert_eq!(events(&out), vec![SessionEvent::Ended(reason)]);
        let mut closed = closes(&out);
        closed.sort();
        assert_eq!(closed, vec![sig, media]);
        assert!(h.s.is_done());
        // Nothing after the end.
        h.s.handle_webhook(h.now, Webhook::Interrupted);
        h.at(100.0);
        assert!(h.drain().is_empty());
    }
    let mut h = Harness::new(config());
    connect_unified(&mut h);
    h.s.handle_webhook(h.now, Webhook::Stopped);
    assert_eq!(
        events(&h.drain()),
        vec![SessionEvent::Ended(EndReason::Stopped)]
    );
}

/// A failover (`rtms_started` again) while the session is closing: ignored. Before, it moved
/// the session back to running: the new server was dialled and the close never finished.
#[test]
fn a_failover_while_closing_is_ignored_and_the_close_finishes() {
    let mut h = Harness::new(config());
    let (sig, _) = connect_unified(&mut h);
    h.s.close(h.now);
    h.drain();
    h.s.handle_webhook(
        h.now,
        Webhook::Started {
            server_url: url("wss://other.zoom.us"),
        },
    );
    let out = h.drain();
    assert!(out.is_empty(), "{out:?}");
    let out = h.msg(
        sig,
        br#"{"msg_type":22,"rtms_stream_id":"stream-1","status_code":0,"reason":"OK"}"#,
    );
    assert_eq!(events(&out), vec![SessionEvent::Ended(EndReason::Closed)]);
    assert!(h.s.is_done());
}

#[test]
fn close_sends_21_and_waits_for_22_bounded() {
    let mut h = Harness::new(config());
    let (sig, _) = connect_unified(&mut h);
    h.s.close(h.now);
    let out = h.drain();
    assert_eq!(
        sends(&out),
        vec![(
            sig,
            serde_json::json!({"msg_type":21,"rtms_stream_id":"stream-1"})
        )]
    );
    assert!(!h.s.is_done());
    let out = h.msg(
        sig,
        br#"{"msg_type":22,"rtms_stream_id":"stream-1","status_code":0,"reason":"OK"}"#,
    );
    assert_eq!(events(&out), vec![SessionEvent::Ended(EndReason::Closed)]);

    // No answer: closed after the timeout.
    let mut h = Harness::new(config());
    connect_unified(&mut h);
    h.s.close(h.now);
    h.drain();
    assert_eq!(h.s.poll_timeout(), Some(h.now + Duration::from_secs(5)));
    h.at(4.9);
    assert!(events(&h.drain()).is_empty());
    h.at(5.0);
    assert_eq!(
        events(&h.drain()),
        vec![SessionEvent::Ended(EndReason::Closed)]
    );
}

#[test]
fn watchdog_counts_any_inbound_traffic() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    // Media flows without keep-alives: the media socket stays alive; signalling gets pings.
    for t in (10..=120).step_by(10) {
        h.at(t as f64);
        h.msg(media, br#"{"msg_type":14,"content":{"data":"AAAA"}}"#);
        h.msg(sig, br#"{"msg_type":12,"timestamp":1}"#);
    }
    assert!(events(&h.drain()).is_empty());
    // Media goes silent: 65 s after its last frame, media only is redialled.
    h.at(184.9);
    h.msg(sig, br#"{"msg_type":12,"timestamp":2}"#);
    assert!(events(&h.drain()).is_empty());
    h.at(185.0);
    let out = h.drain();
    assert_eq!(closes(&out), vec![media]);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Media,
            attempt: 0
        }]
    );
    // The media redial comes after the backoff (3 s).
    h.at(187.9);
    assert!(opens(&h.drain()).is_empty());
    h.at(188.0);
    let media = opens(&h.drain())[0].0;
    h.opened(media);
    assert_eq!(
        events(&h.msg(media, DATA_OK)),
        vec![SessionEvent::Connected { connects: 2 }]
    );
    // Signalling goes silent too: 65 s after the stream's last frame (the data handshake
    // response at 188 s), everything.
    h.at(252.9);
    assert!(events(&h.drain()).is_empty());
    h.at(200.0); // (an early call is harmless)
    h.at(253.0);
    let out = h.drain();
    assert!(closes(&out).contains(&sig));
    assert!(closes(&out).contains(&media));
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }]
    );
}

/// Zoom may pause keep-alives while media flows, and then nothing at all comes on the
/// signalling socket: that is no reason to redo the handshake while media arrives.
#[test]
fn media_traffic_keeps_a_quiet_signalling_socket_alive() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    for t in 1..=200 {
        h.at(f64::from(t));
        h.msg(media, br#"{"msg_type":14,"content":{"data":"AAAA"}}"#);
    }
    let out = h.drain();
    assert!(closes(&out).is_empty(), "{out:?}");
    assert!(events(&out).is_empty(), "{out:?}");
    // Then everything goes quiet: 65 s after the last media frame, everything is redone.
    h.at(264.9);
    assert!(closes(&h.drain()).is_empty());
    h.at(265.0);
    let out = h.drain();
    assert!(closes(&out).contains(&sig), "{out:?}");
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }]
    );
}

#[test]
fn backoff_doubles_to_30_and_resets_after_success() {
    let mut h = Harness::new(config());
    let sig = h.signalling();
    h.s.handle_closed(h.now, sig);
    let mut t = 0.0;
    for (attempt, delay) in [3.0, 6.0, 12.0, 24.0, 30.0, 30.0].into_iter().enumerate() {
        if attempt > 0 {
            // The new signalling socket fails to open.
            let o = opens(&h.drain());
            h.s.handle_closed(h.now, o[0].0);
        }
        let out = h.drain();
        assert_eq!(
            events(&out),
            vec![SessionEvent::Reconnecting {
                scope: Scope::Everything,
                attempt: attempt as u32
            }]
        );
        t += delay;
        h.at(t);
    }
    // Success resets the series.
    let sig = opens(&h.drain())[0].0;
    h.opened(sig);
    let media = opens(&h.msg(sig, OK_URLS))[0].0;
    h.opened(media);
    assert_eq!(
        events(&h.msg(media, DATA_OK)),
        vec![SessionEvent::Connected { connects: 1 }]
    );
    h.s.handle_closed(h.now, media);
    assert_eq!(
        events(&h.drain()),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Media,
            attempt: 0
        }]
    );
}

#[test]
fn a_dial_or_handshake_that_hangs_times_out() {
    let mut h = Harness::new(config());
    let sig = h.signalling();
    // No answer to msg 1 within 10 s.
    h.at(10.0);
    let out = h.drain();
    assert_eq!(closes(&out), vec![sig]);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }]
    );
}

#[test]
fn invalid_params_refused_before_dialling_and_missing_urls_fail() {
    let bad = MediaParams::new().with_audio(AudioParams::new().with_channel(AudioChannel::Stereo));
    let err = Session::connect(
        config().with_media(MediaTypes::AUDIO, bad),
        url(SIG_URL),
        Instant::now(),
    )
    .unwrap_err();
    assert!(matches!(err, ParamsError::StereoNeedsOpus { .. }));

    let mut h = Harness::new(
        config()
            .with_media(MediaTypes::VIDEO, MediaParams::new())
            .with_split_sockets(true),
    );
    let sig = h.signalling();
    let out = h.msg(sig, br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"audio":"wss://a.zoom.us"}}}"#);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Failed(SessionError::NoMediaUrl {
            kind: MediaKind::Video
        })]
    );
}

#[test]
fn media_urls_pass_the_host_policy_before_dialling() {
    // A media URL off Zoom's domains is never dialled: the session fails instead.
    let mut h = Harness::new(config());
    let sig = h.signalling();
    let out = h.msg(
        sig,
        br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"all":"wss://evil.example/x"}}}"#,
    );
    assert!(opens(&out).is_empty());
    match events(&out).as_slice() {
        [SessionEvent::Failed(SessionError::MediaUrl { kind, error })] => {
            assert_eq!(*kind, MediaKind::Audio);
            assert!(
                matches!(error, ServerUrlError::HostNotAllowed { .. }),
                "{error:?}"
            );
        }
        other => panic!("{other:?}"),
    }

    // Allowed by the configuration's policy: dialled.
    let policy = HostPolicy::default().with_allowed_host("rtms.example.com");
    let mut h = Harness::new(config().with_host_policy(policy));
    let sig = h.signalling();
    let out = h.msg(
        sig,
        br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"all":"wss://rtms.example.com/m"}}}"#,
    );
    let o = opens(&out);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].2, "wss://rtms.example.com/m");
}

#[test]
fn contact_center_id_key_and_event_7() {
    let config = SessionConfig::new(SignalingHandshakeRequest::from_parts(
        &creds(),
        Product::ContactCenter,
        "eng-1",
        "s-1",
    ));
    let mut h = Harness::new(config);
    let sig = match h.drain().as_slice() {
        [Output::Open { socket, .. }] => *socket,
        other => panic!("{other:?}"),
    };
    let hello = h.opened(sig);
    assert_eq!(hello["engagement_id"], "eng-1");
    assert!(hello.get("meeting_uuid").is_none());
    let media = opens(&h.msg(sig, OK_URLS))[0].0;
    h.opened(media);
    h.msg(media, DATA_OK);
    // Contact Center event 8 is not a video event and changes nothing; 7 redials media.
    assert!(events(&h.msg(
        sig,
        br#"{"msg_type":6,"event":{"event_type":8,"event_ts":1}}"#
    ))
    .is_empty());
    let out = h.msg(
        sig,
        br#"{"msg_type":6,"event":{"event_type":7,"event_ts":2}}"#,
    );
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Media,
            attempt: 0
        }]
    );
}

#[test]
fn individual_video_subscription() {
    let params = MediaParams::new()
        .with_video(VideoParams::new().with_data_opt(DataOption::VideoSingleIndividualStream));
    let mut h = Harness::new(
        config()
            .with_media(MediaTypes::VIDEO, params)
            .with_events([8, 9]),
    );
    assert!(!h.s.subscribe_video(1, true, None));
    let sig = h.signalling();
    let out = h.msg(sig, OK_URLS);
    assert_eq!(
        sends(&out)[0].1,
        serde_json::json!({"msg_type":5,"events":[{"event_type":8,"subscribe":true},{"event_type":9,"subscribe":true}]})
    );
    let media = opens(&out)[0].0;
    let hs = h.opened(media);
    assert_eq!(hs["media_params"]["video"]["data_opt"], 4);
    h.msg(media, br#"{"msg_type":4,"status_code":0}"#);
    assert!(h.s.subscribe_video(16778240, true, Some(1738392033699)));
    assert_eq!(
        h.drain(),
        vec![Output::Send {
            socket: sig,
            text:
                r#"{"msg_type":28,"user_id":16778240,"subscribe":true,"timestamp":1738392033699}"#
                    .into()
        }]
    );
    let d =
        h.s.handle_message(
            h.now,
            sig,
            br#"{"msg_type":29,"user_id":16778240,"status_code":0,"reason":"OK"}"#,
        )
        .unwrap();
    assert!(
        matches!(d, Inbound::User(ServerMessage::VideoSubscriptionResponse(r)) if r.status.is_ok())
    );
    let video = br#"{"msg_type":15,"content":{"user_id":16778240,"data":"/9j/","timestamp":40}}"#;
    assert!(
        matches!(h.s.handle_message(h.now, media, video).unwrap(), Inbound::User(ServerMessage::Video(v)) if v.user_id == Some(16778240))
    );
}

#[test]
fn watchdog_counts_unparseable_frames_as_traffic() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    // At 60 s both sockets get a frame that does not parse: still inbound traffic.
    h.at(60.0);
    for socket in [sig, media] {
        assert!(h.s.handle_message(h.now, socket, b"not json").is_err());
    }
    // Without it the watchdog would fire at 65 s (the last parsed traffic was at 0 s).
    h.at(124.9);
    assert!(events(&h.drain()).is_empty());
    assert_eq!(h.s.poll_timeout(), Some(h.t0 + Duration::from_secs(125)));
    h.at(125.0);
    assert_eq!(
        events(&h.drain()),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }]
    );
}

#[test]
fn debug_never_shows_the_signature() {
    use zoom_rtms_webhooks::protocol::outgoing::ClientRequest;
    let signature = handshake_signature(&creds(), "m-uuid==", "stream-1");
    let mut h = Harness::new(config());
    let sig = match h.drain().as_slice() {
        [Output::Open { socket, .. }] => *socket,
        other => panic!("{other:?}"),
    };
    // Message 1 queued, not yet polled: in the session's Debug only as type and length.
    h.s.handle_opened(h.now, sig);
    let session = format!("{:?}", h.s);
    assert!(!session.contains(&signature), "{session}");
    assert!(session.contains("SignalingHandshakeRequest"), "{session}");
    let hello = h.s.poll_output().unwrap();
    let shown = format!("{hello:?}");
    assert!(!shown.contains(&signature), "{shown}");
    assert!(shown.contains("SignalingHandshakeRequest"), "{shown}");
    let Output::Send { text, .. } = &hello else {
        panic!("{hello:?}")
    };
    assert!(text.contains(&signature));
    let shown = format!("{:?}", ClientRequest::parse(text.as_bytes()).unwrap());
    assert!(!shown.contains(&signature), "{shown}");

    // Message 3 on the media socket.
    let media = opens(&h.msg(sig, OK_URLS))[0].0;
    h.s.handle_opened(h.now, media);
    let session = format!("{:#?}", h.s);
    assert!(!session.contains(&signature), "{session}");
    let data = h.s.poll_output().unwrap();
    let shown = format!("{data:?}");
    assert!(!shown.contains(&signature), "{shown}");
    assert!(shown.contains("DataHandshakeRequest"), "{shown}");
    let Output::Send { text, .. } = &data else {
        panic!("{data:?}")
    };
    let shown = format!("{:?}", ClientRequest::parse(text.as_bytes()).unwrap());
    assert!(!shown.contains(&signature), "{shown}");
}

#[test]
fn odd_optional_fields_of_the_signalling_response_are_tolerated() {
    for frame in [
        &br#"{"msg_type":2,"status_code":0,"reason":5,"media_server":{"server_urls":{"all":"wss://x.zoom.us/all"}}}"#[..],
        br#"{"msg_type":2,"status_code":0,"protocol_version":"1","media_server":{"server_urls":{"all":"wss://x.zoom.us/all"}}}"#,
        br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"audio":5,"all":"wss://x.zoom.us/all"}}}"#,
    ] {
        let mut h = Harness::new(config());
        let sig = h.signalling();
        let out = h.msg(sig, frame);
        assert!(events(&out).is_empty(), "{out:?}");
        let o = opens(&out);
        assert_eq!(o.len(), 1, "{out:?}");
        assert_eq!(o[0].1, Role::Media(MediaTypes::AUDIO));
        assert_eq!(o[0].2, "wss://x.zoom.us/all");
    }
}

#[test]
fn an_unusable_signalling_response_is_its_own_error() {
    use zoom_rtms_webhooks::handshake::HandshakeError;
    for (frame, error) in [
        (
            &br#"{"msg_type":2,"reason":"x"}"#[..],
            HandshakeError::MissingStatusCode,
        ),
        (
            br#"{"msg_type":2,"status_code":"OK"}"#,
            HandshakeError::InvalidField {
                field: "status_code",
            },
        ),
    ] {
        let mut h = Harness::new(config());
        let sig = h.signalling();
        let out = h.msg(sig, frame);
        assert_eq!(
            events(&out),
            vec![SessionEvent::Failed(
                SessionError::InvalidHandshakeResponse(error)
            )]
        );
        assert_eq!(closes(&out), vec![sig]);
    }
}

#[test]
fn media_urls_follow_the_one_rule_kind_then_all() {
    // OK_URLS has `audio`, `transcript` and `all`. A socket for one kind dials that kind's URL
    // (else `all`); one unified socket for several kinds dials `all`, the unified endpoint.
    let a = "wss://a.zoom.us/audio";
    let t = "wss://t.zoom.us/tr";
    let all = "wss://x.zoom.us/all";
    for (types, split, expected) in [
        (MediaTypes::AUDIO, false, vec![a]),
        (MediaTypes::TRANSCRIPT, false, vec![t]),
        (MediaTypes::VIDEO, false, vec![all]),
        (MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, false, vec![all]),
        (MediaTypes::ALL, false, vec![all]),
        (MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, true, vec![a, t]),
        (MediaTypes::AUDIO | MediaTypes::VIDEO, true, vec![a, all]),
    ] {
        let mut h = Harness::new(
            config()
                .with_media(types, MediaParams::new())
                .with_split_sockets(split),
        );
        let sig = h.signalling();
        let dialled: Vec<String> = opens(&h.msg(sig, OK_URLS))
            .into_iter()
            .map(|o| o.2)
            .collect();
        assert_eq!(dialled, expected, "{types:?} split={split}");
    }
    // A single kind on one socket: its own URL, not `all`.
    let mut h = Harness::new(config());
    let sig = h.signalling();
    assert_eq!(opens(&h.msg(sig, OK_URLS))[0].2, "wss://a.zoom.us/audio");
}

#[test]
fn a_video_subscription_is_sent_once_ready_and_again_after_a_reconnect() {
    fn subscriptions(out: &[Output]) -> Vec<(SocketId, Value)> {
        sends(out)
            .into_iter()
            .filter(|(_, m)| m["msg_type"] == 28)
            .collect()
    }
    /// Handshakes from an opened signalling socket to ready; the ready step's outputs.
    fn ready(h: &mut Harness, sig: SocketId) -> Vec<Output> {
        let out = h.msg(sig, OK_URLS);
        let media = opens(&out)[0].0;
        h.opened(media);
        h.msg(media, DATA_OK)
    }

    let mut h = Harness::new(config());
    // Asked for before anything is open: remembered, nothing sent yet.
    assert!(!h.s.subscribe_video(16778240, true, None));
    let sig = h.signalling();
    let subs = subscriptions(&ready(&mut h, sig));
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].0, sig);
    assert_eq!(subs[0].1["user_id"], 16778240);
    assert_eq!(subs[0].1["subscribe"], true);

    // Ready: a new choice is sent at once and replaces the old one.
    assert!(h.s.subscribe_video(42, true, Some(7)));
    let subs = subscriptions(&h.drain());
    assert_eq!((subs[0].0, subs[0].1["user_id"].as_i64()), (sig, Some(42)));

    // After redoing everything, the last choice is sent again on the new signalling socket.
    h.s.handle_webhook(h.now, Webhook::Interrupted);
    h.drain();
    h.at(3.0);
    let sig2 = h.signalling();
    let subs = subscriptions(&ready(&mut h, sig2));
    assert_eq!(subs.len(), 1);
    assert_eq!((subs[0].0, subs[0].1["user_id"].as_i64()), (sig2, Some(42)));
}

const KEEP_ALIVE: &[u8] = br#"{"msg_type":12,"timestamp":1}"#;

/// A server that answers keep-alives but never the handshake cannot hold the stream: the
/// handshake deadline counts from the dial, and no other traffic extends it.
#[test]
fn keep_alives_do_not_extend_a_handshake() {
    // Signalling: dialled and opened at 0 s, keep-alives every 2 s, no message 2.
    let mut h = Harness::new(config());
    let sig = h.signalling();
    for t in [2.0, 4.0, 6.0, 8.0, 9.9] {
        h.at(t);
        let out = h.msg(sig, KEEP_ALIVE);
        assert_eq!(sends(&out)[0].1["msg_type"], 13, "{out:?}");
        assert!(
            events(&out).is_empty() && closes(&out).is_empty(),
            "{out:?}"
        );
    }
    assert_eq!(h.s.poll_timeout(), Some(h.t0 + Duration::from_secs(10)));
    h.at(10.0);
    let out = h.drain();
    assert_eq!(closes(&out), vec![sig]);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }]
    );

    // Media: dialled at 1 s (message 2), keep-alives on it, no message 4.
    let mut h = Harness::new(config());
    let sig = h.signalling();
    h.at(1.0);
    let media = opens(&h.msg(sig, OK_URLS))[0].0;
    h.opened(media);
    for t in [3.0, 5.0, 7.0, 9.0, 10.9] {
        h.at(t);
        h.msg(media, KEEP_ALIVE);
        h.msg(sig, KEEP_ALIVE);
    }
    assert!(events(&h.drain()).is_empty());
    assert_eq!(h.s.poll_timeout(), Some(h.t0 + Duration::from_secs(11)));
    h.at(11.0);
    let out = h.drain();
    assert_eq!(closes(&out), vec![media]);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Reconnecting {
            scope: Scope::Media,
            attempt: 0
        }]
    );
}

/// A socket that opens late has only what is left of the handshake timeout.
#[test]
fn the_handshake_deadline_counts_from_the_dial() {
    let mut h = Harness::new(config());
    h.at(8.0);
    let sig = h.signalling(); // opened at 8 s, dialled at 0 s
    assert_eq!(h.s.poll_timeout(), Some(h.t0 + Duration::from_secs(10)));
    h.at(10.0);
    assert_eq!(closes(&h.drain()), vec![sig]);

    let mut h = Harness::new(config());
    let sig = h.signalling();
    let media = opens(&h.msg(sig, OK_URLS))[0].0; // dialled at 0 s
    h.at(9.5);
    h.opened(media);
    h.at(10.0);
    assert_eq!(closes(&h.drain()), vec![media]);
}

/// Message 4 is acted on only during its socket's data handshake: a repeated one, accepted or
/// refused, neither fails the stream nor sends a second ready ack.
#[test]
fn a_data_response_after_the_handshake_is_ignored() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    let late: [&[u8]; 3] = [
        DATA_OK,
        br#"{"msg_type":4,"status_code":14,"reason":"late refusal"}"#,
        br#"{"msg_type":4,"status_code":3}"#,
    ];
    for frame in late {
        let d = h.s.handle_message(h.now, media, frame).unwrap();
        assert_eq!(d, Inbound::Handled);
        assert_eq!(h.drain(), vec![], "{}", String::from_utf8_lossy(frame));
    }
    assert!(!h.s.is_done());
    assert_eq!(sends(&h.msg(sig, KEEP_ALIVE))[0].1["msg_type"], 13);
}

/// Message 2 is acted on only during the signalling handshake: a repeated one, well-formed,
/// refused or unreadable, dials nothing and fails nothing.
#[test]
fn a_signalling_response_after_the_handshake_is_ignored() {
    let mut h = Harness::new(config());
    let (sig, media) = connect_unified(&mut h);
    let late: [&[u8]; 5] = [
        OK_URLS,
        br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"all":"wss://evil.com"}}}"#,
        br#"{"msg_type":2,"status_code":8}"#,
        br#"{"msg_type":2,"status_code":3,"reason":"bad signature"}"#,
        br#"{"msg_type":2,"status_code":"OK"}"#,
    ];
    for _ in 0..200 {
        for frame in late {
            for socket in [sig, media] {
                let d = h.s.handle_message(h.now, socket, frame).unwrap();
                assert_eq!(d, Inbound::Handled);
                assert_eq!(h.drain(), vec![], "{}", String::from_utf8_lossy(frame));
            }
        }
    }
    assert!(!h.s.is_done());
    // The stream goes on: keep-alives answered, media delivered, the same sockets.
    assert_eq!(sends(&h.msg(sig, KEEP_ALIVE))[0].1["msg_type"], 13);
    let d =
        h.s.handle_message(
            h.now,
            media,
            br#"{"msg_type":14,"content":{"data":"AAAA"}}"#,
        )
        .unwrap();
    assert!(matches!(d, Inbound::User(_)), "{d:?}");

    // Also while media alone is redialled (signalling stays ready).
    h.s.handle_closed(h.now, media);
    h.drain();
    h.msg(sig, OK_URLS);
    h.at(3.0);
    let out = h.drain();
    assert_eq!(opens(&out).len(), 1, "{out:?}");
    let media = opens(&out)[0].0;
    assert_eq!(h.msg(sig, OK_URLS), vec![]);
    h.opened(media);
    assert_eq!(
        events(&h.msg(media, DATA_OK)),
        vec![SessionEvent::Connected { connects: 2 }]
    );
}

/// A refusal's `reason` comes from the server: it is cut and its control characters escaped
/// before it reaches `Display` (and so a log line).
#[test]
fn a_refusal_reason_is_bounded_and_escaped() {
    let reason = format!("no\nFAILED stream=x \u{1b}[2J{}", "x".repeat(4 << 20));
    let check = |out: &[Output]| {
        let [SessionEvent::Failed(e @ SessionError::Refused { reason, .. })] = &events(out)[..]
        else {
            panic!("{out:?}");
        };
        assert!(
            reason.starts_with(r"no\nFAILED stream=x \u{1b}[2Jxxx"),
            "{reason}"
        );
        assert!(reason.ends_with('…'), "{reason}");
        assert!(reason.len() <= 200 + '…'.len_utf8(), "{}", reason.len());
        let shown = e.to_string();
        assert!(shown.len() < 300, "{}", shown.len());
        assert!(!shown.chars().any(char::is_control), "{shown}");
    };
    // Signalling (message 2).
    let mut h = Harness::new(config());
    let sig = h.signalling();
    let frame = serde_json::json!({"msg_type": 2, "status_code": 3, "reason": reason});
    check(&h.msg(sig, frame.to_string().as_bytes()));
    // Media (message 4).
    let mut h = Harness::new(config());
    let sig = h.signalling();
    let media = opens(&h.msg(sig, OK_URLS))[0].0;
    h.opened(media);
    let frame = serde_json::json!({"msg_type": 4, "status_code": 14, "reason": reason});
    check(&h.msg(media, frame.to_string().as_bytes()));
    // A short, plain reason is kept as sent.
    let mut h = Harness::new(config());
    let sig = h.signalling();
    let out = h.msg(
        sig,
        br#"{"msg_type":2,"status_code":3,"reason":"bad signature"}"#,
    );
    assert_eq!(
        events(&out),
        vec![SessionEvent::Failed(SessionError::Refused {
            status: StatusCode::InvalidSignature,
            reason: "bad signature".into()
        })]
    );
}

/// A `Timing` of `Duration::MAX`, in any field, is a wait without end: no input panics, the
/// other timers still run, and the stream can still end.
#[test]
fn a_timing_of_duration_max_never_panics() {
    const LATER: f64 = 1e9; // about 32 years
    let with = |t: Timing| Harness::new(config().with_timing(t));

    // Watchdog: a ready stream never times out, but a handshake still does.
    let mut h = with(Timing::default().with_watchdog(Duration::MAX));
    let (sig, _) = connect_unified(&mut h);
    assert_eq!(h.s.poll_timeout(), None);
    h.at(LATER);
    assert_eq!(h.drain(), vec![]);
    let out = h.msg(sig, br#"{"msg_type":8,"state":4,"reason":6}"#);
    assert_eq!(
        events(&out),
        vec![SessionEvent::Ended(EndReason::StreamTerminated(Some(
            StopReason::MeetingEnded
        )))]
    );
    let mut h = with(Timing::default().with_watchdog(Duration::MAX));
    let sig = h.signalling();
    h.at(10.0);
    assert_eq!(closes(&h.drain()), vec![sig]);

    // Handshake timeout: the dial may take for ever; once ready, the watchdog runs.
    let mut h = with(Timing::default().with_handshake_timeout(Duration::MAX));
    let Some(Output::Open { socket: sig, .. }) = h.s.poll_output() else {
        panic!()
    };
    assert_eq!(h.s.poll_timeout(), None);
    h.at(LATER);
    assert_eq!(h.drain(), vec![]);
    assert_eq!(h.opened(sig)["msg_type"], 1);
    let media = opens(&h.msg(sig, OK_URLS))[0].0;
    h.opened(media);
    h.msg(media, DATA_OK);
    assert_eq!(
        h.s.poll_timeout(),
        Some(h.now + Duration::from_secs(65)),
        "the watchdog"
    );

    // Duplicate retry delay: the retry never comes, a failover still connects.
    let mut h = with(Timing::default().with_duplicate_retries(vec![Duration::MAX]));
    let sig = h.signalling();
    let out = h.msg(sig, br#"{"msg_type":2,"status_code":8}"#);
    assert_eq!(closes(&out), vec![sig]);
    assert_eq!(h.s.poll_timeout(), None);
    h.at(LATER);
    assert_eq!(h.drain(), vec![]);
    h.s.handle_webhook(
        h.now,
        Webhook::Started {
            server_url: url("wss://rtms-iad1.zoom.us/x"),
        },
    );
    assert_eq!(opens(&h.drain()).len(), 1);

    // Backoff: base or cap alone is capped by the other; both is a reconnect never made,
    // which `rtms_stopped` still ends.
    for (base, cap, delay) in [
        (Duration::MAX, Duration::from_secs(30), Some(30.0)),
        (Duration::from_secs(3), Duration::MAX, Some(3.0)),
        (Duration::MAX, Duration::MAX, None),
    ] {
        let mut h = with(Timing::default().with_backoff(base, cap));
        let (sig, _) = connect_unified(&mut h);
        h.s.handle_closed(h.now, sig);
        assert_eq!(
            events(&h.drain()),
            vec![SessionEvent::Reconnecting {
                scope: Scope::Everything,
                attempt: 0
            }]
        );
        let due = delay.map(|d| h.now + Duration::from_secs_f64(d));
        assert_eq!(h.s.poll_timeout(), due);
        h.at(delay.unwrap_or(LATER));
        assert_eq!(opens(&h.drain()).len(), usize::from(delay.is_some()));
        h.s.handle_webhook(h.now, Webhook::Stopped);
        assert_eq!(
            events(&h.drain()),
            vec![SessionEvent::Ended(EndReason::Stopped)]
        );
    }

    // Close timeout: the close waits for its response (or the socket's end) however long.
    let mut h = with(Timing::default().with_close_timeout(Duration::MAX));
    let (sig, _) = connect_unified(&mut h);
    h.s.close(h.now);
    assert_eq!(sends(&h.drain())[0].1["msg_type"], 21);
    assert_eq!(h.s.poll_timeout(), None);
    h.at(LATER);
    assert!(!h.s.is_done());
    assert_eq!(h.drain(), vec![]);
    let out = h.msg(sig, br#"{"msg_type":22,"status_code":0}"#);
    assert_eq!(events(&out), vec![SessionEvent::Ended(EndReason::Closed)]);
}

/// Split sockets: the transcript socket's handshake is refused with 12
/// (`MEDIA_TYPE_TRANSCRIPT_NOT_SUPPORT`): the user is told, that socket is closed, and the
/// stream connects with audio alone; a media reconnect does not ask for transcripts again.
#[test]
fn a_refused_media_type_on_a_split_socket_does_not_fail_the_stream() {
    let mut h = Harness::new(
        config()
            .with_media(
                MediaTypes::AUDIO | MediaTypes::TRANSCRIPT,
                MediaParams::new(),
            )
            .with_split_sockets(true),
    );
    let sig = h.signalling();
    let out = h.msg(sig, OK_URLS);
    let o = opens(&out);
    assert_eq!(o.len(), 2);
    let (audio, transcript) = (o[0].0, o[1].0);
    assert_eq!(h.opened(audio)["media_type"], 1);
    assert_eq!(h.opened(transcript)["media_type"], 8);

    let out = h.msg(
        transcript,
        br#"{"msg_type":4,"status_code":12,"reason":"MEDIA_TYPE_TRANSCRIPT_NOT_SUPPORT"}"#,
    );
    assert_eq!(
        events(&out),
        vec![SessionEvent::MediaRefused {
            kind: MediaKind::Transcript,
            status: Some(StatusCode::MediaTypeTranscriptNotSupported)
        }]
    );
    assert_eq!(closes(&out), vec![transcript]);
    assert!(opens(&out).is_empty());
    assert!(!h.s.is_done());

    let out = h.msg(audio, DATA_OK);
    assert_eq!(events(&out), vec![SessionEvent::Connected { connects: 1 }]);
    assert!(h.s.confirmed_params().unwrap().audio().is_some());

    // A media reconnect redials audio only.
    h.s.handle_closed(h.now, audio);
    h.drain();
    h.at(60.0);
    let o = opens(&h.drain());
    assert_eq!(o.len(), 1, "{o:?}");
    assert_eq!(o[0].1, Role::Media(MediaTypes::AUDIO));
}

/// A unified socket refused for one of its types is redialled without it; a refusal of the
/// last type left fails the stream as before.
#[test]
fn a_refused_media_type_on_a_unified_socket_is_dropped_and_the_socket_redialled() {
    let mut h = Harness::new(
        config().with_media(MediaTypes::AUDIO | MediaTypes::VIDEO, MediaParams::new()),
    );
    let sig = h.signalling();
    let out = h.msg(sig, OK_URLS);
    let o = opens(&out);
    assert_eq!(o[0].1, Role::Media(MediaTypes::from_bits(3)));
    assert_eq!(h.opened(o[0].0)["media_type"], 3);

    let out = h.msg(o[0].0, br#"{"msg_type":4,"status_code":10}"#);
    assert_eq!(
        events(&out),
        vec![SessionEvent::MediaRefused {
            kind: MediaKind::Video,
            status: Some(StatusCode::MediaTypeVideoNotSupported)
        }]
    );
    assert_eq!(closes(&out), vec![o[0].0]);
    let again = opens(&out);
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].1, again[0].2.as_str()),
        (Role::Media(MediaTypes::AUDIO), "wss://x.zoom.us/all")
    );
    assert_eq!(h.opened(again[0].0)["media_type"], 1);

    // Audio refused too: nothing is left, the stream fails.
    let out = h.msg(
        again[0].0,
        br#"{"msg_type":4,"status_code":9,"reason":"no"}"#,
    );
    assert_eq!(
        events(&out),
        vec![SessionEvent::Failed(SessionError::Refused {
            status: StatusCode::MediaTypeAudioNotSupported,
            reason: "no".into()
        })]
    );
}

/// With split sockets each kind's confirmed parameters are kept, whichever socket answers
/// last (issue 17: the audio format must survive the video socket's answer).
#[test]
fn split_sockets_keep_each_kinds_confirmed_params() {
    let mut h = Harness::new(
        config()
            .with_media(MediaTypes::AUDIO | MediaTypes::VIDEO, MediaParams::new())
            .with_split_sockets(true),
    );
    let sig = h.signalling();
    let o = opens(&h.msg(sig, OK_URLS));
    let (audio, video) = (o[0].0, o[1].0);
    h.opened(audio);
    h.opened(video);
    h.msg(audio, DATA_OK);
    let out = h.msg(
        video,
        br#"{"msg_type":4,"status_code":0,"media_params":{"video":{"content_type":3,"codec":5,"resolution":2,"data_opt":3,"fps":5}}}"#,
    );
    assert_eq!(events(&out), vec![SessionEvent::Connected { connects: 1 }]);
    let params = h.s.confirmed_params().unwrap();
    assert!(
        params.audio().is_some(),
        "the audio format survives: {params:?}"
    );
    assert!(params.video().is_some(), "{params:?}");
}
