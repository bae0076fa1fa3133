//! Every message type (`docs/protocol.md#message-types`): client→server messages serialise
//! exactly as documented; server→client messages parse from the documented examples.
#![cfg(feature = "protocol")]

use serde_json::{json, Value};
use zoom_rtms_webhooks::codes::*;
use zoom_rtms_webhooks::event::{IdField, Product};
use zoom_rtms_webhooks::handshake::{
    handshake_signature, Credentials, IdKeys, MediaKind, MediaTypes, SignalingHandshakeRequest,
};
use zoom_rtms_webhooks::protocol::events::*;
use zoom_rtms_webhooks::protocol::incoming::*;
use zoom_rtms_webhooks::protocol::media::*;
use zoom_rtms_webhooks::protocol::outgoing::*;
use zoom_rtms_webhooks::region::HostPolicy;

/// Same keys in the same order, same values.
fn assert_exact(actual: &str, documented: &str) {
    let a: Value = serde_json::from_str(actual).unwrap();
    let d: Value = serde_json::from_str(documented).unwrap();
    assert_eq!(a, d, "{actual}");
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    // serde_json's map is sorted by default, so compare the textual key order instead.
    let order = |s: &str| -> Vec<usize> {
        keys(&serde_json::from_str(s).unwrap())
            .iter()
            .map(|k| s.find(&format!("\"{k}\"")).unwrap())
            .collect()
    };
    let (oa, od) = (order(actual), order(documented));
    let rank = |o: &[usize]| {
        let mut idx: Vec<usize> = (0..o.len()).collect();
        idx.sort_by_key(|&i| o[i]);
        idx
    };
    assert_eq!(rank(&oa), rank(&od), "key order of {actual}");
}

#[test]
fn msg_1_signalling_handshake_as_documented() {
    let creds = Credentials::new("client", "secret").unwrap();
    let m =
        SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "xxxxxxxxxx", "yyyyyyyyyy")
            .with_buffer_data(false);
    let sig = handshake_signature(&creds, "xxxxxxxxxx", "yyyyyyyyyy");
    assert_eq!(
        m.to_json(),
        format!(
            r#"{{"msg_type":1,"protocol_version":1,"sequence":1,"meeting_uuid":"xxxxxxxxxx","rtms_stream_id":"yyyyyyyyyy","signature":"{sig}","buffer_data":false}}"#
        )
    );
    assert_eq!(ClientMessage::to_json(&m), m.to_json());
    assert_eq!(m.msg_type(), MsgType::SignalingHandshakeRequest);
    assert_exact(
        &m.to_json(),
        &format!(
            r#"{{ "msg_type": 1, "protocol_version": 1, "sequence": 1,
  "meeting_uuid": "xxxxxxxxxx", "rtms_stream_id": "yyyyyyyyyy",
  "signature": "{sig}", "buffer_data": false }}"#
        ),
    );
}

#[test]
fn msg_1_id_key_per_product() {
    let creds = Credentials::new("client", "secret").unwrap();
    let cases = [
        (Product::Meeting, vec!["meeting_uuid"]),
        (Product::Webinar, vec!["webinar_uuid"]),
        (Product::VideoSdk, vec!["session_id", "meeting_uuid"]),
        (Product::ContactCenter, vec!["engagement_id"]),
        (Product::Phone, vec!["call_id"]),
    ];
    for (product, keys) in cases {
        let sig = handshake_signature(&creds, "id-1", "st-1");
        let json = SignalingHandshakeRequest::from_parts(&creds, product, "id-1", "st-1").to_json();
        let v: Value = serde_json::from_str(&json).unwrap();
        for key in &keys {
            assert_eq!(v[key], "id-1", "{product}: {json}");
        }
        let id_keys = [
            "meeting_uuid",
            "webinar_uuid",
            "session_id",
            "engagement_id",
            "call_id",
        ];
        let sent = id_keys.iter().filter(|k| v.get(**k).is_some()).count();
        assert_eq!(sent, keys.len(), "{product}: {json}");
        assert_eq!(v["signature"], sig);
    }
    // A custom list overrides the default (both keys for a webinar, say).
    let keys = IdKeys::default().with_keys(
        Product::Webinar,
        [IdField::WebinarUuid, IdField::MeetingUuid],
    );
    let json = SignalingHandshakeRequest::from_parts(&creds, Product::Webinar, "w", "s")
        .with_id_keys(&keys)
        .to_json();
    assert!(json.contains(r#""webinar_uuid":"w","meeting_uuid":"w","rtms_stream_id""#));
}

#[test]
fn msg_3_data_handshake_as_documented() {
    let params = MediaParams::new()
        .with_audio(
            AudioParams::new()
                .with_content_type(MediaContentType::RawAudio)
                .with_sample_rate(SampleRate::Sr16k)
                .with_channel(AudioChannel::Mono)
                .with_codec(Codec::L16)
                .with_data_opt(DataOption::AudioMixedStream)
                .with_send_rate(100),
        )
        .with_video(
            VideoParams::new()
                .with_codec(Codec::Jpg)
                .with_resolution(Resolution::Hd)
                .with_fps(5),
        )
        .with_deskshare(
            VideoParams::new()
                .with_codec(Codec::Jpg)
                .with_resolution(Resolution::Fhd)
                .with_fps(1),
        )
        .with_transcript(
            TranscriptParams::new()
                .with_content_type(MediaContentType::Text)
                .with_src_language(TranscriptLanguage::English)
                .with_enable_lid(true),
        );
    params.validate(MediaTypes::ALL).unwrap();
    let m = DataHandshake::new(&[IdField::MeetingUuid], "…", "…", "…", MediaTypes::ALL)
        .with_media_params(&params);
    let documented = r#"{ "msg_type": 3, "protocol_version": 1, "sequence": 0,
  "meeting_uuid": "…", "rtms_stream_id": "…", "signature": "…",
  "media_type": 32,
  "media_params": {
    "audio":      { "content_type": 2, "sample_rate": 1, "channel": 1, "codec": 1, "data_opt": 1, "send_rate": 100 },
    "video":      { "codec": 5, "resolution": 2, "fps": 5 },
    "deskshare":  { "codec": 5, "resolution": 3, "fps": 1 },
    "transcript": { "content_type": 5, "src_language": 9, "enable_lid": true } } }"#;
    assert_exact(&m.to_json(), documented);
    assert_eq!(
        serde_json::to_string(&params).unwrap(),
        r#"{"audio":{"content_type":2,"sample_rate":1,"channel":1,"codec":1,"data_opt":1,"send_rate":100},"video":{"codec":5,"resolution":2,"fps":5},"deskshare":{"codec":5,"resolution":3,"fps":1},"transcript":{"content_type":5,"src_language":9,"enable_lid":true}}"#
    );
    // The parameters read back (the simulator's side, and the confirmed params of msg 4).
    let back: MediaParams = serde_json::from_str(&serde_json::to_string(&params).unwrap()).unwrap();
    assert_eq!(back, params);
}

#[test]
fn msg_3_split_mode_sends_only_its_kind() {
    let params = MediaParams::new()
        .with_audio(AudioParams::new().with_send_rate(20))
        .with_transcript(TranscriptParams::new().with_src_language(TranscriptLanguage::German));
    let audio = params.only(MediaTypes::AUDIO);
    let json = DataHandshake::new(&[IdField::EngagementId], "e", "s", "x", MediaTypes::AUDIO)
        .with_media_params(&audio)
        .with_payload_encryption(false)
        .to_json();
    assert_eq!(
        json,
        r#"{"msg_type":3,"protocol_version":1,"sequence":0,"engagement_id":"e","rtms_stream_id":"s","signature":"x","media_type":1,"payload_encryption":false,"media_params":{"audio":{"send_rate":20}}}"#
    );
}

#[test]
fn small_client_messages_as_documented() {
    assert_exact(
        &EventSubscription::new()
            .subscribe(MeetingEventType::ActiveSpeakerChange)
            .to_json(),
        r#"{ "msg_type": 5, "events": [ { "event_type": 2, "subscribe": true } ] }"#,
    );
    assert_exact(
        &ClientReadyAck::new("xxxxxxxxxx").to_json(),
        r#"{ "msg_type": 7, "rtms_stream_id": "xxxxxxxxxx" }"#,
    );
    assert_exact(
        &SessionStateRequest::new("…").to_json(),
        r#"{"msg_type":10,"rtms_session_id":"…"}"#,
    );
    assert_exact(
        &KeepAliveResponse::new(1727384349123).to_json(),
        r#"{ "msg_type": 13, "timestamp": 1727384349123 }"#,
    );
    assert_exact(
        &StreamStateRequest::new("…").to_json(),
        r#"{"msg_type":19,"rtms_stream_id":"…"}"#,
    );
    assert_exact(
        &StreamCloseRequest::new("…").to_json(),
        r#"{"msg_type":21,"rtms_stream_id":"…"}"#,
    );
    assert_exact(
        &VideoSubscriptionRequest::subscribe(16778240)
            .with_timestamp(1738392033699)
            .to_json(),
        r#"{"msg_type":28,"user_id":16778240,"subscribe":true,"timestamp":1738392033699}"#,
    );
    assert_eq!(ClientReadyAck::new("s").msg_type().code(), 7);
    assert_eq!(StreamStateRequest::new("s").msg_type().code(), 19);
    assert_eq!(VideoSubscriptionRequest::subscribe(1).msg_type().code(), 28);
}

#[test]
fn keep_alive_echo_is_verbatim() {
    for stamp in [
        "1727384349123",
        "\"1727384349123\"",
        "1.7e12",
        "18446744073709551615",
    ] {
        let frame = format!(r#"{{"msg_type":12,"timestamp":{stamp}}}"#);
        let ServerMessage::KeepAliveRequest(req) = ServerMessage::parse(frame.as_bytes()).unwrap()
        else {
            panic!("{frame}")
        };
        let reply = KeepAliveResponse::echo(&req).to_json();
        assert_eq!(reply, format!(r#"{{"msg_type":13,"timestamp":{stamp}}}"#));
    }
    let ServerMessage::KeepAliveRequest(req) = ServerMessage::parse(br#"{"msg_type":12}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        KeepAliveResponse::echo(&req).to_json(),
        r#"{"msg_type":13}"#
    );
}

/// Zoom's own RTMS SDK answers only a keep-alive that carries an integer `sequence`, and echoes
/// it before the timestamp: the client echoes it whenever the request has one.
#[test]
fn keep_alive_echoes_the_sequence() {
    for (frame, reply) in [
        (
            r#"{"msg_type":12,"sequence":2147483647,"timestamp":1727384349123}"#,
            r#"{"msg_type":13,"sequence":2147483647,"timestamp":1727384349123}"#,
        ),
        (
            r#"{"timestamp":"17","sequence":0,"msg_type":12}"#,
            r#"{"msg_type":13,"sequence":0,"timestamp":"17"}"#,
        ),
        (
            r#"{"msg_type":12,"sequence":null,"timestamp":5}"#,
            r#"{"msg_type":13,"timestamp":5}"#,
        ),
    ] {
        let ServerMessage::KeepAliveRequest(req) = ServerMessage::parse(frame.as_bytes()).unwrap()
        else {
            panic!("{frame}")
        };
        assert_eq!(KeepAliveResponse::echo(&req).to_json(), reply, "{frame}");
        // What the simulator reads back is what was sent.
        let ClientRequest::KeepAliveResponse { sequence, .. } =
            ClientRequest::parse(reply.as_bytes()).unwrap()
        else {
            panic!("{reply}")
        };
        assert_eq!(sequence, req.sequence());
    }
}

#[test]
fn msg_2_signalling_response() {
    let frame = br#"{ "msg_type": 2, "protocol_version": 1, "sequence": 0, "status_code": 0, "reason": "",
  "media_server": { "server_urls": {
      "audio": "wss://a.zoom.us/a", "video": "wss://v.zoom.us/v", "transcript": "wss://t.zoom.us/t", "all": "wss://all.zoom.us/x" },
      "datacenter_region": "sjc", "srtp_keys": {"audio": "k"} } }"#;
    let ServerMessage::SignalingHandshakeResponse(r) = ServerMessage::parse(frame).unwrap() else {
        panic!()
    };
    assert!(r.is_ok());
    assert_eq!(r.reason.as_deref(), Some(""));
    assert_eq!(r.protocol_version, Some(1));
    assert_eq!(r.extra["sequence"], 0);
    let policy = HostPolicy::default();
    let url = |kind| {
        r.media_url(kind, &policy)
            .unwrap()
            .unwrap()
            .as_str()
            .to_owned()
    };
    assert_eq!(url(MediaKind::Audio), "wss://a.zoom.us/a");
    assert_eq!(url(MediaKind::Video), "wss://v.zoom.us/v");
    assert_eq!(url(MediaKind::Transcript), "wss://t.zoom.us/t");
    assert_eq!(url(MediaKind::Chat), "wss://all.zoom.us/x");
    assert_eq!(r.media_server_urls.len(), 4);
    assert_eq!(r.extra["media_server"]["datacenter_region"], "sjc");
    assert_eq!(r.extra["media_server"]["srtp_keys"]["audio"], "k");
    assert!(!r.is_duplicate());

    // Failures, by code or by reason text.
    for frame in [
        &br#"{"msg_type":2,"status_code":8,"reason":"x"}"#[..],
        &br#"{"msg_type":2,"status_code":99,"reason":"Duplicate signal request for stream"}"#[..],
    ] {
        let ServerMessage::SignalingHandshakeResponse(r) = ServerMessage::parse(frame).unwrap()
        else {
            panic!()
        };
        assert!(r.is_duplicate());
        assert!(!r.is_ok());
    }
    let ServerMessage::SignalingHandshakeResponse(r) =
        ServerMessage::parse(br#"{"msg_type":2,"status_code":3,"reason":"bad signature"}"#)
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(r.status_code, StatusCode::InvalidSignature);
    assert_eq!(r.status_code.category(), StatusCategory::Auth);
}

#[test]
fn msg_4_data_response_as_documented() {
    let frame = br#"{ "msg_type": 4, "protocol_version": 1, "status_code": 0, "reason": "", "sequence": 0,
  "payload_encrypted": true,
  "media_params": { "audio": {"content_type":2,"sample_rate":1,"channel":1,"codec":1,"data_opt":1,"send_rate":20},
                    "video": { "content_type":3, "codec":5, "resolution":2, "data_opt":3, "fps":5 },
                    "deskshare": {"content_type":3,"codec":5,"resolution":3,"fps":1},
                    "transcript": {"content_type":5,"src_language":9,"enable_lid":true},
                    "chat": { "content_type": 5 } } }"#;
    let ServerMessage::DataHandshakeResponse(r) = ServerMessage::parse(frame).unwrap() else {
        panic!()
    };
    assert!(r.status.is_ok());
    assert_eq!(r.payload_encrypted, Some(true));
    let p = &r.media_params;
    assert_eq!(
        p.video().unwrap().data_opt(),
        Some(DataOption::VideoSingleActiveStream)
    );
    assert_eq!(p.deskshare().unwrap().resolution(), Some(Resolution::Fhd));
    assert_eq!(
        p.chat().unwrap().content_type(),
        Some(MediaContentType::Text)
    );
    assert_eq!(p.transcript().unwrap().enable_lid(), Some(true));
    assert_eq!(r.audio_format().l16_packet_bytes(), Some(640));
    assert_eq!(p.kinds().count(), 5);

    let ServerMessage::DataHandshakeResponse(r) =
        ServerMessage::parse(br#"{"msg_type":4,"status_code":15,"reason":"all exists"}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.status.code, Some(StatusCode::MediaDataAllConnectionExist));
    assert!(!r.status.code.unwrap().is_retryable());
}

#[test]
fn msg_6_events_as_documented() {
    let parse = |frame: &'static [u8]| match ServerMessage::parse(frame).unwrap() {
        ServerMessage::EventUpdate(e) => e,
        other => panic!("{other:?}"),
    };
    let e = parse(br#"{"msg_type":6,"event":{"event_type":1,"timestamp":1727384349000}}"#);
    assert!(e.event_type(Product::Meeting).is_first_packet_timestamp());
    assert_eq!(e.timestamp(), Some(1727384349000));

    let e = parse(br#"{"msg_type":6,"event":{"event_type":2,"timestamp":1,"user_id":16778240,"user_name":"Ann"}}"#);
    assert_eq!(
        e.event_type(Product::Meeting),
        EventType::Meeting(MeetingEventType::ActiveSpeakerChange)
    );
    assert_eq!((e.user_id(), e.user_name()), (Some(16778240), Some("Ann")));

    // The documented join example writes user_id as a string.
    let e = parse(br#"{"msg_type":6,"event":{"event_type":3,"timestamp":1,"participants":[{"user_id":"16778240","user_name":"Ann"},{"user_id":16778241,"user_name":"Bo"}]}}"#);
    assert_eq!(e.participants().len(), 2);
    assert_eq!(e.participants()[0].user_id, Some(16778240));
    assert_eq!(e.participants()[1].user_name.as_deref(), Some("Bo"));

    let e = parse(br#"{"msg_type":6,"event":{"event_type":4,"timestamp":1,"participants":[{"user_id":16778240}]}}"#);
    assert_eq!(
        e.event_type(Product::Webinar),
        EventType::Meeting(MeetingEventType::ParticipantLeave)
    );
    assert_eq!(e.participants()[0].user_name, None);

    let e = parse(br#"{"msg_type":6,"event":{"event_type":6,"timestamp":1}}"#);
    assert_eq!(
        e.event_type(Product::VideoSdk),
        EventType::Meeting(MeetingEventType::SharingStop)
    );
    assert!(e.participants().is_empty());

    let e = parse(br#"{"msg_type":6,"event":{"event_type":7,"timestamp":1}}"#);
    assert!(e
        .event_type(Product::Meeting)
        .is_media_connection_interrupted());
    assert!(e
        .event_type(Product::ContactCenter)
        .is_media_connection_interrupted());

    let e = parse(br#"{"msg_type":6,"event":{"event_type":12,"timestamp":1,"group":{"id":"g"}}}"#);
    assert_eq!(
        e.event_type(Product::Meeting),
        EventType::Meeting(MeetingEventType::ChatGroupMembersAdd)
    );
    assert!(e.raw().contains(r#""group":{"id":"g"}"#));
}

#[test]
fn msgs_8_9_11_20_states_as_documented() {
    let ServerMessage::StreamStateUpdate(u) =
        ServerMessage::parse(br#"{"msg_type":8,"state":1,"reason":1,"timestamp":1727384349123}"#)
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(u.state, Some(StreamState::Active));
    assert_eq!(u.reason, Some(StopReason::HostTriggered));
    assert_eq!(u.timestamp, Some(1727384349123));

    let ServerMessage::StreamStateUpdate(u) =
        ServerMessage::parse(br#"{"msg_type":8,"state":2,"reason":14,"rtms_stream_id":"s"}"#)
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (u.state, u.reason),
        (
            Some(StreamState::Interrupted),
            Some(StopReason::DataConnectionInterrupted)
        )
    );
    assert_eq!(u.rtms_stream_id.as_deref(), Some("s"));

    let ServerMessage::SessionStateUpdate(s) = ServerMessage::parse(
        br#"{"msg_type":9,"state":1,"stop_reason":1,"timestamp":1727384349123,"rtms_session_id":"sess"}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(s.state, Some(SessionState::Initialize));
    assert_eq!(s.stop_reason, Some(StopReason::HostTriggered));
    assert_eq!(s.rtms_session_id.as_deref(), Some("sess"));

    let ServerMessage::SessionStateResponse(s) = ServerMessage::parse(
        br#"{"msg_type":11,"rtms_session_id":"sess","state":2,"timestamp":5}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        (s.state, s.timestamp),
        (Some(SessionState::Started), Some(5))
    );

    let ServerMessage::StreamStateResponse(s) = ServerMessage::parse(
        br#"{"msg_type":20,"state":1,"rtms_stream_id":"s","timestamp":1694204592}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        (s.state, s.timestamp),
        (Some(StreamState::Active), Some(1694204592))
    );
}

fn l16_640() -> (Vec<u8>, String) {
    use base64::Engine as _;
    let pcm: Vec<u8> = (0..320i16).flat_map(|i| (i * 7).to_le_bytes()).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pcm);
    (pcm, b64)
}

#[test]
fn msgs_14_to_16_media_decode_into_a_reused_buffer() {
    let (pcm, b64) = l16_640();
    let frame = format!(
        r#"{{"msg_type":14,"content":{{"user_id":16778240,"user_name":"Ann","data":"{b64}","length":640,"timestamp":1727384349123}}}}"#
    );
    let mut buf = Vec::with_capacity(1024);
    let cap = buf.capacity();
    let ServerMessage::Audio(a) = ServerMessage::parse(frame.as_bytes()).unwrap() else {
        panic!()
    };
    // The base64 text is borrowed from the frame, not copied.
    assert!(matches!(a.data, Some(std::borrow::Cow::Borrowed(_))));
    assert!(matches!(
        a.user_name,
        Some(std::borrow::Cow::Borrowed("Ann"))
    ));
    a.decode_into(&mut buf).unwrap();
    assert_eq!(buf, pcm);
    assert_eq!(buf.capacity(), cap);
    assert_eq!(a.length, Some(640));
    assert_eq!(a.decoded_len(), Some(640));
    assert_eq!(a.timestamp, Some(1727384349123));
    assert_eq!(
        a.speaker(),
        Speaker::User {
            id: Some(16778240),
            name: Some("Ann")
        }
    );

    for (code, name) in [(15, "video"), (16, "share")] {
        let frame = format!(
            r#"{{"msg_type":{code},"content":{{"user_id":1,"user_name":"B","data":"/9j/4A==","timestamp":40}}}}"#
        );
        let msg = ServerMessage::parse(frame.as_bytes()).unwrap();
        let m = match (&msg, code) {
            (ServerMessage::Video(m), 15) | (ServerMessage::Share(m), 16) => m,
            _ => panic!("{name}: {msg:?}"),
        };
        m.decode_into(&mut buf).unwrap();
        assert_eq!(buf, [0xff, 0xd8, 0xff, 0xe0]);
    }

    // A JSON-escaped slash in base64 is still read (unescaped into an owned string).
    let ServerMessage::Video(v) =
        ServerMessage::parse(br#"{"msg_type":15,"content":{"data":"\/9j\/4A=="}}"#).unwrap()
    else {
        panic!()
    };
    v.decode_into(&mut buf).unwrap();
    assert_eq!(buf, [0xff, 0xd8, 0xff, 0xe0]);

    // No data is an error of decoding only.
    let ServerMessage::Audio(a) = ServerMessage::parse(br#"{"msg_type":14,"content":{}}"#).unwrap()
    else {
        panic!()
    };
    assert!(matches!(a.decode_into(&mut buf), Err(DecodeError::NoData)));
}

#[test]
fn msg_17_transcript_and_18_chat() {
    let ServerMessage::Transcript(t) = ServerMessage::parse(
        br#"{"msg_type":17,"content":{"user_id":16778240,"user_name":"Ann","start_time":1727384349000,"end_time":1727384350000,"timestamp":1727384349000,"language":9,"attribute":1,"data":"Hello world"}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(t.text.as_deref(), Some("Hello world"));
    assert_eq!(t.language, Some(TranscriptLanguage::English));
    assert_eq!(t.start_time, Some(1727384349000));
    assert_eq!(t.end_time, Some(1727384350000));
    assert_eq!(t.attribute, Some(DataAttribute::New));
    assert_eq!(
        t.speaker(),
        Speaker::User {
            id: Some(16778240),
            name: Some("Ann")
        }
    );

    let ServerMessage::Chat(c) = ServerMessage::parse(
        br#"{"msg_type":18,"content":{"timestamp":9,"data":"{\"sender\":{\"user_id\":1,\"user_name\":\"Ann\"},\"operation_type\":1,\"message_id\":\"m1\"}"}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(c.json().unwrap()["sender"]["user_name"], "Ann");
    assert_eq!(c.timestamp, Some(9));
}

#[test]
fn msgs_22_and_29_responses_as_documented() {
    let ServerMessage::StreamCloseResponse(r) = ServerMessage::parse(
        br#"{"msg_type":22,"rtms_stream_id":"s","status_code":0,"reason":"OK","timestamp":1}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert!(r.status.is_ok());
    assert_eq!(r.rtms_stream_id.as_deref(), Some("s"));

    let ServerMessage::VideoSubscriptionResponse(r) = ServerMessage::parse(
        br#"{"msg_type":29,"user_id":16778240,"status_code":44,"reason":"dup","subscribe":true,"timestamp":1}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(r.status.code, Some(StatusCode::DuplicateVideoSubscription));
    assert_eq!((r.user_id, r.subscribe), (Some(16778240), Some(true)));
}

#[test]
fn other_message_types_are_kept() {
    for code in [0, 1, 3, 5, 7, 10, 13, 19, 21, 23, 24, 27, 28, 30, 1000] {
        let frame = format!(r#"{{"msg_type":{code},"whatever":[1,{{"a":2}}]}}"#);
        match ServerMessage::parse(frame.as_bytes()).unwrap() {
            ServerMessage::Other { msg_type, raw } => {
                assert_eq!(msg_type.code(), code);
                assert_eq!(raw, frame.as_bytes());
            }
            other => panic!("{code}: {other:?}"),
        }
    }
    // An event update without an event object is kept too.
    assert!(matches!(
        ServerMessage::parse(br#"{"msg_type":6}"#).unwrap(),
        ServerMessage::Other { .. }
    ));
}

#[test]
fn every_parsed_variant_reports_its_type() {
    let frames: [&[u8]; 15] = [
        br#"{"msg_type":2,"status_code":0}"#,
        br#"{"msg_type":4}"#,
        br#"{"msg_type":6,"event":{}}"#,
        br#"{"msg_type":8}"#,
        br#"{"msg_type":9}"#,
        br#"{"msg_type":11}"#,
        br#"{"msg_type":12}"#,
        br#"{"msg_type":14}"#,
        br#"{"msg_type":15}"#,
        br#"{"msg_type":16}"#,
        br#"{"msg_type":17}"#,
        br#"{"msg_type":18}"#,
        br#"{"msg_type":20}"#,
        br#"{"msg_type":22}"#,
        br#"{"msg_type":29}"#,
    ];
    for frame in frames {
        let msg = ServerMessage::parse(frame).unwrap();
        assert!(!matches!(msg, ServerMessage::Other { .. }), "{msg:?}");
        let v: Value = serde_json::from_slice(frame).unwrap();
        assert_eq!(json!(msg.msg_type().code()), v["msg_type"]);
    }
}
