//! Round trips: every client message is read back by the server's reader, every server
//! message written by the server's writer parses back to itself, and the documented examples
//! (compacted) are written back byte for byte.
#![cfg(feature = "protocol")]

use zoom_rtms_webhooks::event::{IdField, Product};
use zoom_rtms_webhooks::handshake::{Credentials, IdKeys, MediaTypes, SignalingHandshakeRequest};
use zoom_rtms_webhooks::protocol::events::MeetingEventType;
use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
use zoom_rtms_webhooks::protocol::media::*;
use zoom_rtms_webhooks::protocol::outgoing::*;

#[test]
fn client_messages_read_back() {
    let creds = Credentials::new("client", "secret").unwrap();
    let hello = SignalingHandshakeRequest::from_parts(&creds, Product::VideoSdk, "sess==", "st-1")
        .with_sequence(3)
        .with_buffer_data(false);
    let keys = IdKeys::default();
    let keys = keys.keys(Product::VideoSdk);
    assert_eq!(hello.id_keys(), keys);
    let sig = hello.signature().to_owned();
    let hello = hello.to_json();
    let ClientRequest::SignalingHandshake(h) = ClientRequest::parse(hello.as_bytes()).unwrap()
    else {
        panic!()
    };
    assert_eq!(h.ids.iter().map(|(k, _)| *k).collect::<Vec<_>>(), keys);
    assert_eq!(h.instance_id(), Some("sess=="));
    assert_eq!(h.id(IdField::MeetingUuid), Some("sess=="));
    assert_eq!(h.rtms_stream_id.as_deref(), Some("st-1"));
    assert_eq!(h.signature.as_deref(), Some(sig.as_str()));
    assert_eq!(
        (h.protocol_version, h.sequence, h.buffer_data),
        (Some(1), Some(3), Some(false))
    );

    let params = MediaParams::new()
        .with_audio(
            AudioParams::new()
                .with_codec(Codec::Opus)
                .with_sample_rate(SampleRate::Sr48k),
        )
        .with_video(VideoParams::new().with_data_opt(DataOption::VideoSingleIndividualStream))
        .with_deskshare(VideoParams::new().with_codec(Codec::H264).with_fps(15))
        .with_transcript(
            TranscriptParams::new()
                .with_src_language(TranscriptLanguage::Japanese)
                .with_enable_lid(false),
        )
        .with_chat(ChatParams::new().with_content_type(MediaContentType::Text));
    let data = DataHandshake::new(&[IdField::MeetingUuid], "m", "s", "sig", MediaTypes::ALL)
        .with_payload_encryption(false)
        .with_media_params(&params)
        .to_json();
    let ClientRequest::DataHandshake(h) = ClientRequest::parse(data.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(h.media_type, Some(MediaTypes::ALL));
    assert_eq!(h.payload_encryption, Some(false));
    assert_eq!(h.media_params.as_ref(), Some(&params));
    assert_eq!(h.sequence, Some(0));

    let sub = EventSubscription::new()
        .subscribe(MeetingEventType::ParticipantJoin)
        .unsubscribe(MeetingEventType::ParticipantLeave)
        .to_json();
    assert_eq!(
        ClientRequest::parse(sub.as_bytes()).unwrap(),
        ClientRequest::EventSubscription(vec![(3, true), (4, false)])
    );

    let cases: Vec<(String, ClientRequest<'static>)> = vec![
        (
            ClientReadyAck::new("s").to_json(),
            ClientRequest::ClientReadyAck {
                rtms_stream_id: Some("s".into()),
            },
        ),
        (
            SessionStateRequest::new("x").to_json(),
            ClientRequest::SessionStateRequest {
                rtms_session_id: Some("x".into()),
            },
        ),
        (
            KeepAliveResponse::new(42).to_json(),
            ClientRequest::KeepAliveResponse {
                timestamp: Some("42"),
                sequence: None,
            },
        ),
        (
            KeepAliveResponse::new(42).with_sequence(7).to_json(),
            ClientRequest::KeepAliveResponse {
                timestamp: Some("42"),
                sequence: Some(7),
            },
        ),
        (
            StreamStateRequest::new("s").to_json(),
            ClientRequest::StreamStateRequest {
                rtms_stream_id: Some("s".into()),
            },
        ),
        (
            StreamCloseRequest::new("s").to_json(),
            ClientRequest::StreamCloseRequest {
                rtms_stream_id: Some("s".into()),
            },
        ),
        (
            VideoSubscriptionRequest::subscribe(9)
                .with_timestamp(5)
                .to_json(),
            ClientRequest::VideoSubscription {
                user_id: Some(9),
                subscribe: Some(true),
                timestamp: Some(5),
            },
        ),
    ];
    for (frame, expected) in &cases {
        let parsed = ClientRequest::parse(frame.as_bytes()).unwrap();
        assert_eq!(&parsed, expected, "{frame}");
        assert_eq!(parsed.msg_type(), expected.msg_type());
    }
    assert!(matches!(
        ClientRequest::parse(br#"{"msg_type":2}"#).unwrap(),
        ClientRequest::Other { .. }
    ));
    assert!(ClientRequest::parse(b"[1]").is_err());
    assert!(ClientRequest::parse(b"{}").is_err());
}

#[test]
fn legacy_language_key_is_read_from_a_client() {
    let frame = br#"{"msg_type":3,"meeting_uuid":"m","rtms_stream_id":"s","signature":"x","media_type":8,"media_params":{"transcript":{"content_type":5,"language":9}}}"#;
    let ClientRequest::DataHandshake(h) = ClientRequest::parse(frame).unwrap() else {
        panic!()
    };
    let t = h.media_params.unwrap();
    assert_eq!(
        t.transcript().unwrap().src_language(),
        Some(TranscriptLanguage::English)
    );
    // And written back as `src_language`.
    assert_eq!(
        serde_json::to_string(&t).unwrap(),
        r#"{"transcript":{"content_type":5,"src_language":9}}"#
    );
}

#[test]
fn documented_server_examples_are_written_back_byte_for_byte() {
    let frames = [
        // (msg 2: `handshake::SignalingHandshakeResponse` keeps JSON objects with sorted keys.)
        r#"{"msg_type":2,"protocol_version":1,"sequence":0,"status_code":0,"reason":"","media_server":{"server_urls":{"all":"wss://x.zoom.us","audio":"wss://a.zoom.us","transcript":"wss://t.zoom.us","video":"wss://v.zoom.us"}}}"#,
        r#"{"msg_type":4,"protocol_version":1,"status_code":0,"reason":"","sequence":0,"payload_encrypted":true,"media_params":{"audio":{"content_type":2,"sample_rate":1,"channel":1,"codec":1,"data_opt":1,"send_rate":20},"video":{"content_type":3,"codec":5,"resolution":2,"data_opt":3,"fps":5},"chat":{"content_type":5}}}"#,
        r#"{"msg_type":6,"event":{"event_type":8,"event_ts":1727384349123,"participant_info":{"channel_id":"123abc","participant_mode":"caller"}}}"#,
        r#"{"msg_type":8,"state":1,"reason":1,"timestamp":1727384349123}"#,
        r#"{"msg_type":9,"state":1,"stop_reason":1,"timestamp":1727384349123,"rtms_session_id":"x"}"#,
        r#"{"msg_type":11,"rtms_session_id":"x","state":1,"timestamp":1727384349123}"#,
        r#"{"msg_type":12,"timestamp":1727384349123}"#,
        r#"{"msg_type":14,"content":{"user_id":16778240,"user_name":"Ann","data":"AAAB","length":3,"timestamp":1727384349123}}"#,
        r#"{"msg_type":15,"content":{"user_id":1,"user_name":"B","data":"/9j/","length":3,"timestamp":40}}"#,
        r#"{"msg_type":16,"content":{"user_id":1,"user_name":"B","data":"iVBO","timestamp":40}}"#,
        r#"{"msg_type":14,"content":{"channel_id":"ch","data":"AAAA","timestamp":20}}"#,
        r#"{"msg_type":17,"content":{"user_id":1,"user_name":"Ann","start_time":1,"end_time":2,"language":9,"data":"Hello","timestamp":1}}"#,
        r#"{"msg_type":18,"content":{"data":"{\"message_id\":\"m\"}","timestamp":5}}"#,
        r#"{"msg_type":20,"state":1,"rtms_stream_id":"s","timestamp":1694204592}"#,
        r#"{"msg_type":22,"rtms_stream_id":"s","status_code":0,"reason":"OK","timestamp":1}"#,
        r#"{"msg_type":29,"user_id":16778240,"status_code":0,"reason":"OK","timestamp":1738392033699}"#,
        r#"{"msg_type":23,"anything":[1,2]}"#,
    ];
    for frame in frames {
        let msg = ServerMessage::parse(frame.as_bytes()).unwrap();
        assert_eq!(msg.to_json(), frame);
        // And the written text parses back to an equal message.
        let text = msg.to_json();
        assert_eq!(ServerMessage::parse(text.as_bytes()).unwrap(), msg);
    }
}

#[test]
fn tolerant_inputs_are_written_canonically() {
    let cases = [
        (
            r#"{"status":0,"msg_type":4,"payload_encryption":false}"#,
            r#"{"msg_type":4,"status_code":0,"payload_encrypted":false}"#,
        ),
        (
            r#"{"msg_type":9,"state":5,"reason":"6"}"#,
            r#"{"msg_type":9,"state":5,"stop_reason":6}"#,
        ),
        (
            r#"{"msg_type":14,"content":"AAAA","user_id":"5","timestamp":20}"#,
            r#"{"msg_type":14,"content":{"user_id":5,"data":"AAAA","timestamp":20}}"#,
        ),
        (
            r#"{"msg_type":2,"status":"0","media_urls":{"all":"wss://x.zoom.us"}}"#,
            r#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"all":"wss://x.zoom.us"}}}"#,
        ),
        (
            r#"{"msg_type":18,"content":{"data":{"a":1}}}"#,
            r#"{"msg_type":18,"content":{"data":{"a":1}}}"#,
        ),
    ];
    for (input, canonical) in cases {
        assert_eq!(
            ServerMessage::parse(input.as_bytes()).unwrap().to_json(),
            canonical
        );
    }
}
