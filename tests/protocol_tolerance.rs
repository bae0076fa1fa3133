//! Tolerant parsing (`docs/protocol.md#tolerant-parsing`) and the Contact Center distinction
//! (event numbers are per product, `docs/protocol.md#events`).
#![cfg(feature = "protocol")]

use zoom_rtms_webhooks::codes::*;
use zoom_rtms_webhooks::event::Product;
use zoom_rtms_webhooks::handshake::MediaKind;
use zoom_rtms_webhooks::protocol::events::*;
use zoom_rtms_webhooks::protocol::incoming::*;
use zoom_rtms_webhooks::region::HostPolicy;

#[test]
fn payload_encrypted_or_payload_encryption() {
    for (frame, expected) in [
        (
            &br#"{"msg_type":4,"status_code":0,"payload_encrypted":true}"#[..],
            Some(true),
        ),
        (
            &br#"{"msg_type":4,"status_code":0,"payload_encryption":false}"#[..],
            Some(false),
        ),
        (&br#"{"msg_type":4,"status_code":0}"#[..], None),
        (
            &br#"{"msg_type":4,"status_code":0,"payload_encrypted":"yes"}"#[..],
            None,
        ),
    ] {
        let ServerMessage::DataHandshakeResponse(r) = ServerMessage::parse(frame).unwrap() else {
            panic!()
        };
        assert_eq!(r.payload_encrypted, expected);
    }
}

#[test]
fn stop_reason_or_reason() {
    let read = Some(StopReason::KeepAliveTimeout);
    for (frame, expected) in [
        (&br#"{"msg_type":9,"state":5,"stop_reason":24}"#[..], read),
        (&br#"{"msg_type":9,"state":5,"reason":24}"#[..], read),
        (&br#"{"msg_type":9,"state":5,"reason":"24"}"#[..], read),
        // The crate's one integer rule, as in a webhook (`tests/events.rs`): an integral float
        // is the integer; a fractional or out-of-range number is absent, never an error.
        (&br#"{"msg_type":9,"state":5,"stop_reason":24.0}"#[..], read),
        (&br#"{"msg_type":9.0,"state":5.0,"reason":24.0}"#[..], read),
        (&br#"{"msg_type":9,"state":5,"stop_reason":24.5}"#[..], None),
        (
            &br#"{"msg_type":9,"state":5,"stop_reason":"24.0"}"#[..],
            None,
        ),
        (
            &br#"{"msg_type":9,"state":5,"stop_reason":1e300}"#[..],
            None,
        ),
        (
            &br#"{"msg_type":9,"state":5,"stop_reason":18446744073709551615}"#[..],
            None,
        ),
    ] {
        let ServerMessage::SessionStateUpdate(u) = ServerMessage::parse(frame).unwrap() else {
            panic!()
        };
        assert_eq!(
            u.stop_reason,
            expected,
            "{}",
            String::from_utf8_lossy(frame)
        );
        assert!(u.state.unwrap().is_stopped());
    }
    // The beta mock's string reasons are not guessed: absent, never an error.
    let ServerMessage::StreamStateUpdate(u) =
        ServerMessage::parse(br#"{"msg_type":8,"state":4,"reason":"STOP_BC_MEETING_ENDED"}"#)
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(u.reason, None);
    assert!(u.state.unwrap().is_terminated());
}

#[test]
fn participants_list_or_top_level_user() {
    for frame in [
        &br#"{"msg_type":6,"event":{"event_type":8,"timestamp":1,"participants":[{"user_id":16778240,"user_name":"Ann"}]}}"#[..],
        &br#"{"msg_type":6,"event":{"event_type":8,"timestamp":1,"user_id":16778240,"user_name":"Ann"}}"#[..],
    ] {
        let ServerMessage::EventUpdate(e) = ServerMessage::parse(frame).unwrap() else { panic!() };
        assert_eq!(e.participants().len(), 1);
        assert_eq!(e.user_id(), Some(16778240));
        assert_eq!(e.user_name(), Some("Ann"));
    }
}

#[test]
fn chat_data_as_json_string() {
    let ServerMessage::Chat(c) = ServerMessage::parse(
        br#"{"msg_type":18,"content":{"data":"{\"message_id\":\"m\",\"files\":[]}","timestamp":3}}"#,
    )
    .unwrap() else {
        panic!()
    };
    let v = c.json().unwrap();
    assert_eq!(v["message_id"], "m");
    assert!(v["files"].as_array().unwrap().is_empty());
}

#[test]
fn legacy_string_content_with_top_level_user_fields() {
    let ServerMessage::Audio(a) = ServerMessage::parse(
        br#"{"msg_type":14,"content":"AAAA","user_id":5,"user_name":"Ann","timestamp":20}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(a.data.as_deref(), Some("AAAA"));
    assert_eq!(
        (a.user_id, a.user_name.as_deref(), a.timestamp),
        (Some(5), Some("Ann"), Some(20))
    );
    let mut buf = Vec::new();
    a.decode_into(&mut buf).unwrap();
    assert_eq!(buf, [0, 0, 0]);

    let ServerMessage::Transcript(t) =
        ServerMessage::parse(br#"{"msg_type":17,"content":"hello","user_name":"Bo"}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(t.text.as_deref(), Some("hello"));
    assert_eq!(t.user_name.as_deref(), Some("Bo"));
}

#[test]
fn unknown_msg_types_and_fields_are_ignored() {
    assert!(matches!(
        ServerMessage::parse(br#"{"msg_type":77,"payload":{"x":[1,2,3]}}"#).unwrap(),
        ServerMessage::Other { .. }
    ));
    // Unknown fields anywhere, of any type.
    let ServerMessage::Audio(a) = ServerMessage::parse(
        br#"{"extra":[{"a":null}],"msg_type":14,"v2":{"event_code":5},"content":{"novel":{"x":1},"data":"AAAA","user_id":1,"z":[true]}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(a.user_id, Some(1));
}

#[test]
fn fields_of_odd_types_are_absent_not_errors() {
    let ServerMessage::Audio(a) = ServerMessage::parse(
        br#"{"msg_type":14,"content":{"user_id":"16778240","user_name":42,"timestamp":"17","length":null,"data":"AAAA"}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(a.user_id, Some(16778240));
    assert_eq!(a.user_name.as_deref(), Some("42"));
    assert_eq!(a.timestamp, Some(17));
    assert_eq!(a.length, None);

    let ServerMessage::DataHandshakeResponse(r) = ServerMessage::parse(
        br#"{"msg_type":4,"status_code":"0","media_params":{"audio":null,"video":"x","transcript":{"src_language":"x","enable_lid":1}}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert!(r.status.is_ok());
    assert!(r.media_params.audio().is_none());
    assert!(r.media_params.video().is_none());
    assert_eq!(r.media_params.transcript().unwrap().src_language(), None);
    assert_eq!(
        r.media_params.transcript().unwrap().enable_lid(),
        Some(true)
    );
}

#[test]
fn status_code_or_status_and_legacy_media_urls() {
    let ServerMessage::SignalingHandshakeResponse(r) = ServerMessage::parse(
        br#"{"msg_type":2,"status":"0","media_urls":{"audio":"wss://a.zoom.us","all":"wss://b.zoom.us"}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert!(r.is_ok());
    let audio = r
        .media_url(MediaKind::Audio, &HostPolicy::default())
        .unwrap();
    assert_eq!(audio.unwrap().as_str(), "wss://a.zoom.us/");
    // The beta mock's "STATUS_OK" is not read as a code: the frame is kept, unparsed.
    let frame = br#"{"msg_type":2,"status":"STATUS_OK"}"#;
    assert_eq!(
        ServerMessage::parse(frame).unwrap(),
        ServerMessage::Other {
            msg_type: MsgType::SignalingHandshakeResponse,
            raw: frame
        }
    );
    // status_code wins over status.
    let ServerMessage::SignalingHandshakeResponse(r) =
        ServerMessage::parse(br#"{"msg_type":2,"status":0,"status_code":3}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.status_code, StatusCode::InvalidSignature);
}

#[test]
fn text_or_binary_frames() {
    let text: &str = r#"{"msg_type":12,"timestamp":1}"#;
    let binary: Vec<u8> = text.as_bytes().to_vec();
    assert_eq!(
        ServerMessage::parse(text.as_bytes()).unwrap(),
        ServerMessage::parse(&binary).unwrap()
    );
    // Whitespace around the object is fine.
    assert!(ServerMessage::parse(b"\n {\"msg_type\":12} \r\n").is_ok());
}

#[test]
fn only_non_objects_and_missing_msg_types_fail() {
    for frame in [
        &b""[..],
        b"null",
        b"[]",
        b"\"x\"",
        b"{",
        b"\xff\xfe",
        b"{}",
        br#"{"msg_type":null}"#,
        br#"{"msg_type":"SIGNALING_HAND_SHAKE_RESP"}"#,
    ] {
        assert!(
            ServerMessage::parse(frame).is_err(),
            "{:?}",
            String::from_utf8_lossy(frame)
        );
    }
    assert!(matches!(
        ServerMessage::parse(b"{}"),
        Err(ParseError::MissingMsgType)
    ));
    assert!(matches!(
        ServerMessage::parse(b"[]"),
        Err(ParseError::NotAnObject)
    ));
    assert!(matches!(
        ServerMessage::parse(b"[12]"),
        Err(ParseError::NotAnObject)
    ));
    assert!(matches!(
        ServerMessage::parse(b"{"),
        Err(ParseError::Json(_))
    ));
    // A msg_type written as a string of digits or an integral float is read.
    assert!(matches!(
        ServerMessage::parse(br#"{"msg_type":"12"}"#).unwrap(),
        ServerMessage::KeepAliveRequest(_)
    ));
    assert!(matches!(
        ServerMessage::parse(br#"{"msg_type":12.0}"#).unwrap(),
        ServerMessage::KeepAliveRequest(_)
    ));
}

// ------------------------------------------------------------------------------------------
// Contact Center (event numbers per product)
// ------------------------------------------------------------------------------------------

#[test]
fn contact_center_audio_has_a_channel_not_a_user() {
    let ServerMessage::Audio(a) = ServerMessage::parse(
        br#"{"msg_type":14,"content":{"channel_id":"123abc","data":"AAAA","timestamp":1}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(a.speaker(), Speaker::Channel("123abc"));
    assert_eq!(a.user_id, None);
}

#[test]
fn contact_center_event_8_is_consumer_answered_not_video_on() {
    let frame = br#"{"msg_type":6,"event":{"event_type":8,"event_ts":1727384349123,
        "participant_info":{"channel_id":"123abc","participant_mode":"caller","queue_id":"q","queue_name":"Q",
        "account_id":"a","division_id":"d","phone_number":"+15550100","user_id":"u","display_name":"Jane Doe"}}}"#;
    let ServerMessage::EventUpdate(e) = ServerMessage::parse(frame).unwrap() else {
        panic!()
    };
    assert_eq!(
        e.event_type(Product::ContactCenter),
        EventType::ContactCenter(ContactCenterEventType::ConsumerAnswered)
    );
    assert_eq!(
        e.event_type(Product::Meeting),
        EventType::Meeting(MeetingEventType::ParticipantVideoOn)
    );
    assert_ne!(
        e.event_type(Product::ContactCenter),
        e.event_type(Product::Meeting)
    );
    assert_eq!(e.timestamp(), Some(1727384349123));
    let info = e.participant_info().unwrap();
    assert_eq!(info.channel_id.as_deref(), Some("123abc"));
    assert_eq!(info.participant_mode.as_deref(), Some("caller"));
    assert_eq!(info.phone_number.as_deref(), Some("+15550100"));
    assert_eq!(info.user_id.as_deref(), Some("u"));
    assert_eq!(info.display_name.as_deref(), Some("Jane Doe"));
}

#[test]
fn every_contact_center_and_meeting_code_maps_to_its_own_table() {
    for code in 8..=29 {
        let cc = EventType::for_product(Product::ContactCenter, code);
        assert!(
            matches!(cc, EventType::ContactCenter(t) if t.is_known()),
            "{code}"
        );
        assert_eq!(cc.code(), code);
    }
    for code in 0..=14 {
        for product in [Product::Meeting, Product::Webinar, Product::VideoSdk] {
            let m = EventType::for_product(product, code);
            assert!(matches!(m, EventType::Meeting(t) if t.is_known()), "{code}");
        }
    }
    // Universal events mean the same for every product.
    for product in [Product::Meeting, Product::ContactCenter, Product::Phone] {
        assert!(EventType::for_product(product, 1).is_first_packet_timestamp());
        assert!(EventType::for_product(product, 7).is_media_connection_interrupted());
    }
    assert_eq!(
        EventType::for_product(Product::ContactCenter, 30).code(),
        30
    );
    assert!(matches!(
        EventType::for_product(Product::ContactCenter, 30),
        EventType::ContactCenter(ContactCenterEventType::Other(30))
    ));
}

#[test]
fn a_media_data_array_or_object_is_absent_and_chat_keeps_it_as_json() {
    // Media `data` must be base64 text: an array or object is skipped, never built.
    for code in 14..=17 {
        for data in ["[1,2,3]", r#"{"a":[1]}"#] {
            for frame in [
                format!(r#"{{"msg_type":{code},"content":{{"user_id":1,"data":{data}}}}}"#),
                format!(r#"{{"content":{{"user_id":1,"data":{data}}},"msg_type":{code}}}"#),
                format!(r#"{{"msg_type":{code},"data":{data},"user_id":1}}"#),
            ] {
                let m = ServerMessage::parse(frame.as_bytes()).unwrap();
                let (data, text) = match &m {
                    ServerMessage::Audio(d) | ServerMessage::Video(d) | ServerMessage::Share(d) => {
                        (d.data.as_deref(), None)
                    }
                    ServerMessage::Transcript(t) => (None, t.text.as_deref()),
                    other => panic!("{other:?}"),
                };
                assert_eq!((data, text), (None, None), "{frame}");
            }
        }
    }
    // Chat (schema undocumented) keeps it, from `content` first, on both paths.
    for frame in [
        r#"{"msg_type":18,"content":{"data":[1,{"a":2}]},"data":{"no":1}}"#,
        r#"{"content":{"data":[1,{"a":2}]},"msg_type":18}"#,
        r#"{"msg_type":18,"content":{"user_id":1},"data":[1,{"a":2}]}"#,
    ] {
        let ServerMessage::Chat(c) = ServerMessage::parse(frame.as_bytes()).unwrap() else {
            panic!("{frame}")
        };
        assert_eq!(
            c.data,
            Some(ChatData::Json(serde_json::json!([1, {"a": 2}]))),
            "{frame}"
        );
    }
    // Up to 64 KiB of JSON text; a longer array is absent instead of built.
    for (n, kept) in [(64 * 1024 / 2 - 2, true), (64 * 1024 / 2, false)] {
        let array = format!("[{}0]", "0,".repeat(n));
        for frame in [
            format!(r#"{{"msg_type":18,"content":{{"data":{array}}}}}"#),
            format!(r#"{{"content":{{"user_id":1}},"data":{array},"msg_type":18}}"#),
        ] {
            let ServerMessage::Chat(c) = ServerMessage::parse(frame.as_bytes()).unwrap() else {
                panic!()
            };
            assert_eq!(c.data.is_some(), kept, "{} bytes", array.len());
        }
    }
}

#[test]
fn msg_type_first_or_last_parses_the_same() {
    // `msg_type` first takes the in-place fast path; anywhere else, the general reader.
    let bodies = [
        r#""content":{"user_id":1,"user_name":"Ann","data":"AAAA","timestamp":5,"length":3}"#,
        r#""content":"AAAA","user_id":1,"user_name":"Ann","timestamp":5"#,
        r#""content":{"channel_id":"c","data":"hi","start_time":1,"end_time":2,"language":14,"attribute":2}"#,
        r#""content":{"data":{"a":[1,2]},"timestamp":9}"#,
        r#""content":{"data":"{\"a\":1}"},"data":"ignored","user_id":"7""#,
        r#""content":null,"data":"AAAA""#,
        r#""content":[1,2],"extra":{"x":1}"#,
        r#""data":[1,[2]],"content":{"user_id":3}"#,
        r#""content":{"data":[{"b":1}]},"data":{"c":2}"#,
    ];
    for code in 14..=18 {
        for body in bodies {
            let first = format!(r#"{{"msg_type":{code},{body}}}"#);
            let last = format!(r#"{{{body},"msg_type":{code}}}"#);
            let spaced = format!("  {{ \"msg_type\" : {code} ,{body}}}\n");
            let a = ServerMessage::parse(first.as_bytes()).unwrap();
            let b = ServerMessage::parse(last.as_bytes()).unwrap();
            let c = ServerMessage::parse(spaced.as_bytes()).unwrap();
            assert_eq!(a, b, "{first}");
            assert_eq!(a, c, "{first}");
            assert_eq!(a.msg_type().code(), code);
        }
    }
    // Trailing garbage is refused on both paths.
    assert!(ServerMessage::parse(br#"{"msg_type":14,"content":{}} x"#).is_err());
    assert!(ServerMessage::parse(br#"{"content":{},"msg_type":14} x"#).is_err());
}
