//! RTMS signalling handshake: signature known answers, exact request JSON,
//! response parsing.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zoom_rtms_webhooks::codes::{MsgType, StatusCode};
use zoom_rtms_webhooks::event::{IdField, RtmsStarted, WebhookEvent};
use zoom_rtms_webhooks::handshake::{
    handshake_signature, Credentials, CredentialsError, HandshakeError, IdKeys, MediaKind,
    MediaTypes, SignalingHandshakeRequest, SignalingHandshakeResponse, PROTOCOL_VERSION,
};
use zoom_rtms_webhooks::region::{HostPolicy, ServerUrlError};
use zoom_rtms_webhooks::Product;

const CLIENT_ID: &str = "yQ7hqzxnRvG2Ij7U3tZxPg";
const CLIENT_SECRET: &str = "Zx9pMbqK2sFvR4aLc8TeWn1oHu5JdYg3";

// Every expected signature below was computed OUTSIDE Rust with
//   python3 -c 'import hmac,hashlib; print(hmac.new(b"<secret>", b"<client_id>,<id>,<stream>", hashlib.sha256).hexdigest())'
// and the first one cross-checked with
//   printf '%s' 'yQ7hqzxnRvG2Ij7U3tZxPg,4444AAAiAAAAAiAiAiiAii==,609340fc8a3f4e2b9d1c7e5a0b6f8d2c' \
//     | openssl dgst -sha256 -hmac 'Zx9pMbqK2sFvR4aLc8TeWn1oHu5JdYg3'
const MEETING_UUID: &str = "4444AAAiAAAAAiAiAiiAii==";
const MEETING_STREAM: &str = "609340fc8a3f4e2b9d1c7e5a0b6f8d2c";
const MEETING_SIG: &str = "a1199e5d29c5183c4d86afa503d9d0959dc2598b10ae0531aca9a5dae6800069";

// id with '/', '+' and '=' (must be used verbatim, never URL-encoded).
const SLASH_UUID: &str = "/xZ1+abc//def==";
const SLASH_STREAM: &str = "stream-2";
const SLASH_SIG: &str = "253a5cddc766c61b4910acac8c1710c21a8d2dc1d720ad11eddfe84d7f4a604e";

const WEBINAR_UUID: &str = "Ab3/Cd4+Ef5==";
const WEBINAR_STREAM: &str = "0c9b4a1e2d3f";
const WEBINAR_SIG: &str = "5f7c9fbad7dcc6bb9512735e08c9d4a13d9d9aba32eea9c592cf093ad76ab9a9";

// Video SDK: the SDK key / SDK secret are the credentials.
const SDK_KEY: &str = "sdk_key_ABC";
const SDK_SECRET: &str = "sdk_secret_XYZ";
const SESSION_ID: &str = "sess-8f3e2a";
const SESSION_STREAM: &str = "stream-vsdk";
const SESSION_SIG: &str = "e302928f70ffcb209ce5ea63101987ed21161820e841af0ec13d1861e8a3a417";

const ENGAGEMENT_ID: &str = "eng_7f2a9c";
const CC_STREAM: &str = "cc-stream-1";
const CC_SIG: &str = "cc1c7663371c2733f7357ee52d64e2eafd9a012b3c2d285d54e22d146a12d7b3";

const CALL_ID: &str = "call_5d1e0b";
const PHONE_STREAM: &str = "ph-stream-1";
const PHONE_SIG: &str = "f907c54cdb2ec7db60b83304b0b830c8cf179fc82e4ee5eaa601355d0ecb15c0";

fn creds() -> Credentials {
    Credentials::new(CLIENT_ID, CLIENT_SECRET).unwrap()
}

fn started(event: &str, id_field: &str, id: &str, stream: &str) -> RtmsStarted {
    let body = serde_json::json!({
        "event": event,
        "event_ts": 1_732_000_000_000_u64,
        "payload": {
            id_field: id,
            "rtms_stream_id": stream,
            "server_urls": "wss://rtms-sjc1.zoom.us",
        }
    })
    .to_string();
    match WebhookEvent::parse(body.as_bytes()) {
        Ok(WebhookEvent::RtmsStarted(s)) => s,
        other => panic!("{event}: expected RtmsStarted, got {other:?}"),
    }
}

/// The exact msg_type 1 JSON with the id under `meeting_uuid` (the 0.1 form, unchanged for
/// meetings).
fn expected_json(id: &str, stream: &str, sequence: u32, sig: &str) -> String {
    format!(
        r#"{{"msg_type":1,"protocol_version":1,"sequence":{sequence},"meeting_uuid":"{id}","rtms_stream_id":"{stream}","signature":"{sig}"}}"#
    )
}

/// The exact msg_type 1 JSON with the id under each of `keys`, in order.
fn json_with_keys(keys: &[&str], id: &str, stream: &str, sequence: u32, sig: &str) -> String {
    let ids: String = keys.iter().map(|k| format!(r#""{k}":"{id}","#)).collect();
    format!(
        r#"{{"msg_type":1,"protocol_version":1,"sequence":{sequence},{ids}"rtms_stream_id":"{stream}","signature":"{sig}"}}"#
    )
}

/// HMAC-SHA256 hex, computed independently of the crate.
fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

// ---------------------------------------------------------------- signature

#[test]
fn signature_known_answer_meeting() {
    assert_eq!(
        handshake_signature(&creds(), MEETING_UUID, MEETING_STREAM),
        MEETING_SIG
    );
}

#[test]
fn signature_uses_id_verbatim() {
    assert_eq!(
        handshake_signature(&creds(), SLASH_UUID, SLASH_STREAM),
        SLASH_SIG
    );
    // The URL-encoded form would sign something else.
    assert_ne!(
        handshake_signature(&creds(), "%2FxZ1%2Babc%2F%2Fdef%3D%3D", SLASH_STREAM),
        SLASH_SIG
    );
}

#[test]
fn signature_known_answer_video_sdk_credentials() {
    let sdk = Credentials::new(SDK_KEY, SDK_SECRET).unwrap();
    assert_eq!(
        handshake_signature(&sdk, SESSION_ID, SESSION_STREAM),
        SESSION_SIG
    );
}

#[test]
fn signature_is_lower_hex_and_depends_on_every_input() {
    let c = creds();
    let base = handshake_signature(&c, MEETING_UUID, MEETING_STREAM);
    assert_eq!(base.len(), 64);
    assert!(base
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_ne!(handshake_signature(&c, "other", MEETING_STREAM), base);
    assert_ne!(handshake_signature(&c, MEETING_UUID, "other"), base);
    let other_secret = Credentials::new(CLIENT_ID, "another-secret").unwrap();
    assert_ne!(
        handshake_signature(&other_secret, MEETING_UUID, MEETING_STREAM),
        base
    );
    let other_id = Credentials::new("another-id", CLIENT_SECRET).unwrap();
    assert_ne!(
        handshake_signature(&other_id, MEETING_UUID, MEETING_STREAM),
        base
    );
}

// -------------------------------------------------------------- credentials

#[test]
fn credentials_reject_empty_values() {
    assert_eq!(
        Credentials::new("", CLIENT_SECRET).unwrap_err(),
        CredentialsError::EmptyClientId
    );
    assert_eq!(
        Credentials::new("  ", CLIENT_SECRET).unwrap_err(),
        CredentialsError::EmptyClientId
    );
    assert_eq!(
        Credentials::new(CLIENT_ID, "").unwrap_err(),
        CredentialsError::EmptyClientSecret
    );
    assert_eq!(
        Credentials::new(CLIENT_ID, "\t\n").unwrap_err(),
        CredentialsError::EmptyClientSecret
    );
    assert_eq!(
        CredentialsError::EmptyClientId.to_string(),
        "RTMS client id is empty"
    );
}

/// Regression (0.1 review): HMAC zero-pads keys, so a client secret of NUL bytes is the same
/// key as the empty one; invisible characters are as good as empty. All are refused, for the
/// client id too.
#[test]
fn credentials_reject_nul_and_invisible_only_values() {
    for blank in [
        "\0",
        "\0\0\0\0",
        "\u{FEFF}",
        "\u{200B}\n",
        "\u{00AD}\u{2060}",
        "\u{00A0}\u{3000}",
    ] {
        assert_eq!(
            Credentials::new(CLIENT_ID, blank).unwrap_err(),
            CredentialsError::EmptyClientSecret,
            "secret {blank:?}"
        );
        assert_eq!(
            Credentials::new(blank, CLIENT_SECRET).unwrap_err(),
            CredentialsError::EmptyClientId,
            "client id {blank:?}"
        );
    }
    // What the zero-padding means: the NUL secret would sign exactly like the empty one.
    let nul = hmac_hex(b"\0", b"id,u,s");
    assert_eq!(nul, hmac_hex(b"", b"id,u,s"));
    // A real value with such characters around it is kept verbatim (not trimmed).
    let padded = Credentials::new(CLIENT_ID, format!("\u{FEFF}{CLIENT_SECRET}\n")).unwrap();
    assert_ne!(
        handshake_signature(&padded, MEETING_UUID, MEETING_STREAM),
        MEETING_SIG
    );
}

#[test]
fn credentials_debug_redacts_secret() {
    let c = creds();
    let dbg = format!("{c:?}");
    assert!(dbg.contains(CLIENT_ID), "{dbg}");
    assert!(!dbg.contains(CLIENT_SECRET), "{dbg}");
    assert!(dbg.contains("redacted"), "{dbg}");
    assert_eq!(c.client_id(), CLIENT_ID);
    // Clone signs identically.
    assert_eq!(
        handshake_signature(&c.clone(), MEETING_UUID, MEETING_STREAM),
        MEETING_SIG
    );
}

// ---------------------------------------------------------- request (type 1)

#[test]
fn request_from_parts_exact_json() {
    let req = SignalingHandshakeRequest::from_parts(
        &creds(),
        Product::Meeting,
        MEETING_UUID,
        MEETING_STREAM,
    )
    .with_sequence(123_456_789);
    assert_eq!(
        req.to_json(),
        expected_json(MEETING_UUID, MEETING_STREAM, 123_456_789, MEETING_SIG)
    );
    assert_eq!(req.signature(), MEETING_SIG);
    assert_eq!(req.product(), Product::Meeting);
    assert_eq!(req.instance_id(), MEETING_UUID);
    assert_eq!(req.id_keys(), [IdField::MeetingUuid]);
    assert_eq!(req.rtms_stream_id(), MEETING_STREAM);
    assert_eq!(req.sequence(), 123_456_789);
    assert_eq!(req.buffer_data(), None);
    // Serialize impl and to_json agree.
    assert_eq!(serde_json::to_string(&req).unwrap(), req.to_json());
}

#[test]
fn request_buffer_data_is_last_and_only_when_set() {
    let base = SignalingHandshakeRequest::from_parts(
        &creds(),
        Product::Meeting,
        MEETING_UUID,
        MEETING_STREAM,
    )
    .with_sequence(1);
    assert!(!base.to_json().contains("buffer_data"));
    let expected_prefix = expected_json(MEETING_UUID, MEETING_STREAM, 1, MEETING_SIG);
    let expected_prefix = expected_prefix.trim_end_matches('}');
    assert_eq!(
        base.clone().with_buffer_data(false).to_json(),
        format!(r#"{expected_prefix},"buffer_data":false}}"#)
    );
    assert_eq!(
        base.with_buffer_data(true).to_json(),
        format!(r#"{expected_prefix},"buffer_data":true}}"#)
    );
}

#[test]
fn request_escapes_json_in_ids() {
    let req = SignalingHandshakeRequest::from_parts(&creds(), Product::VideoSdk, "a\"b\\c", "s\n1")
        .with_sequence(0);
    let v: serde_json::Value = serde_json::from_str(&req.to_json()).unwrap();
    assert_eq!(v["session_id"], "a\"b\\c");
    assert_eq!(v["meeting_uuid"], "a\"b\\c");
    assert_eq!(v["rtms_stream_id"], "s\n1");
}

#[test]
fn request_debug_redacts_signature() {
    let req = SignalingHandshakeRequest::from_parts(
        &creds(),
        Product::Meeting,
        MEETING_UUID,
        MEETING_STREAM,
    );
    let dbg = format!("{req:?}");
    assert!(!dbg.contains(MEETING_SIG), "{dbg}");
    assert!(dbg.contains(MEETING_UUID), "{dbg}");
}

#[test]
fn request_sequence_starts_at_one() {
    // Zoom's event reference: "Must start at 1".
    let c = creds();
    let req = SignalingHandshakeRequest::from_parts(&c, Product::Meeting, "u", "s");
    assert_eq!(req.sequence(), 1);
    assert!(req
        .to_json()
        .contains(r#""protocol_version":1,"sequence":1,"meeting_uuid""#));
    let req = req.with_sequence(0);
    assert_eq!(req.sequence(), 0);
    assert!(req.to_json().contains(r#""sequence":0,"#));
}

#[test]
fn request_new_meeting() {
    let s = started(
        "meeting.rtms_started",
        "meeting_uuid",
        MEETING_UUID,
        MEETING_STREAM,
    );
    let req = SignalingHandshakeRequest::new(&creds(), &s).with_sequence(7);
    assert_eq!(
        req.to_json(),
        expected_json(MEETING_UUID, MEETING_STREAM, 7, MEETING_SIG)
    );
    assert_eq!(req.id_keys(), [IdField::MeetingUuid]);
}

#[test]
fn request_new_webinar_sends_webinar_uuid_whichever_field_the_webhook_used() {
    for field in ["webinar_uuid", "meeting_uuid"] {
        let s = started("webinar.rtms_started", field, WEBINAR_UUID, WEBINAR_STREAM);
        let req = SignalingHandshakeRequest::new(&creds(), &s).with_sequence(8);
        assert_eq!(
            req.to_json(),
            json_with_keys(
                &["webinar_uuid"],
                WEBINAR_UUID,
                WEBINAR_STREAM,
                8,
                WEBINAR_SIG
            ),
            "{field}"
        );
        assert_eq!(req.id_keys(), [IdField::WebinarUuid]);
    }
}

#[test]
fn request_new_video_sdk_sends_session_id_and_meeting_uuid() {
    let s = started(
        "session.rtms_started",
        "session_id",
        SESSION_ID,
        SESSION_STREAM,
    );
    let sdk = Credentials::new(SDK_KEY, SDK_SECRET).unwrap();
    let req = SignalingHandshakeRequest::new(&sdk, &s)
        .with_sequence(9)
        .with_buffer_data(false);
    assert_eq!(
        req.to_json(),
        format!(
            r#"{{"msg_type":1,"protocol_version":1,"sequence":9,"session_id":"{SESSION_ID}","meeting_uuid":"{SESSION_ID}","rtms_stream_id":"{SESSION_STREAM}","signature":"{SESSION_SIG}","buffer_data":false}}"#
        )
    );
    assert_eq!(req.id_keys(), [IdField::SessionId, IdField::MeetingUuid]);
}

#[test]
fn request_new_contact_center_sends_engagement_id() {
    let s = started(
        "contact_center.voice_rtms_started",
        "engagement_id",
        ENGAGEMENT_ID,
        CC_STREAM,
    );
    let req = SignalingHandshakeRequest::new(&creds(), &s).with_sequence(10);
    assert_eq!(
        req.to_json(),
        json_with_keys(&["engagement_id"], ENGAGEMENT_ID, CC_STREAM, 10, CC_SIG)
    );
    assert_eq!(req.id_keys(), [IdField::EngagementId]);
}

#[test]
fn request_new_phone_sends_call_id() {
    for event in ["phone.rtms_started", "phone.call_rtms_started"] {
        let s = started(event, "call_id", CALL_ID, PHONE_STREAM);
        let req = SignalingHandshakeRequest::new(&creds(), &s).with_sequence(11);
        assert_eq!(
            req.to_json(),
            json_with_keys(&["call_id"], CALL_ID, PHONE_STREAM, 11, PHONE_SIG),
            "{event}"
        );
        assert_eq!(req.id_keys(), [IdField::CallId]);
    }
}

#[test]
fn default_id_keys_per_product() {
    let keys = IdKeys::default();
    let table = [
        (Product::Meeting, vec![IdField::MeetingUuid]),
        (Product::Webinar, vec![IdField::WebinarUuid]),
        (
            Product::VideoSdk,
            vec![IdField::SessionId, IdField::MeetingUuid],
        ),
        (Product::ContactCenter, vec![IdField::EngagementId]),
        (Product::Phone, vec![IdField::CallId]),
    ];
    for (product, expected) in table {
        assert_eq!(keys.keys(product), expected.as_slice(), "{product}");
        let req = SignalingHandshakeRequest::from_parts(&creds(), product, "id-1", "st-1")
            .with_sequence(2);
        assert_eq!(req.id_keys(), expected.as_slice(), "{product}");
        assert_eq!(
            req.to_json(),
            json_with_keys(
                &expected.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "id-1",
                "st-1",
                2,
                &handshake_signature(&creds(), "id-1", "st-1"),
            ),
            "{product}"
        );
        // `with_id_keys(&IdKeys::default())` is what `from_parts` already does.
        assert_eq!(req.clone().with_id_keys(&keys), req, "{product}");
    }
}

#[test]
fn id_keys_can_be_overridden_per_product_and_the_signature_is_unchanged() {
    let keys = IdKeys::default()
        .with_keys(Product::Webinar, [IdField::MeetingUuid])
        .with_keys(
            Product::ContactCenter,
            [
                IdField::EngagementId,
                IdField::SessionId,
                IdField::EngagementId,
            ],
        );
    // The override applies to its product only.
    assert_eq!(keys.keys(Product::Webinar), [IdField::MeetingUuid]);
    assert_eq!(
        keys.keys(Product::ContactCenter),
        [IdField::EngagementId, IdField::SessionId]
    );
    assert_eq!(keys.keys(Product::Meeting), [IdField::MeetingUuid]);
    assert_eq!(keys.keys(Product::Phone), [IdField::CallId]);
    assert_ne!(keys, IdKeys::default());
    // An empty list changes nothing: a request always carries an id.
    assert_eq!(keys.clone().with_keys(Product::Meeting, []), keys);

    let s = started(
        "webinar.rtms_started",
        "webinar_uuid",
        WEBINAR_UUID,
        WEBINAR_STREAM,
    );
    let req = SignalingHandshakeRequest::new(&creds(), &s)
        .with_id_keys(&keys)
        .with_sequence(8);
    assert_eq!(
        req.to_json(),
        json_with_keys(
            &["meeting_uuid"],
            WEBINAR_UUID,
            WEBINAR_STREAM,
            8,
            WEBINAR_SIG
        )
    );

    let s = started(
        "contact_center.voice_rtms_started",
        "engagement_id",
        ENGAGEMENT_ID,
        CC_STREAM,
    );
    let req = SignalingHandshakeRequest::new(&creds(), &s)
        .with_id_keys(&keys)
        .with_sequence(10);
    assert_eq!(
        req.to_json(),
        json_with_keys(
            &["engagement_id", "session_id"],
            ENGAGEMENT_ID,
            CC_STREAM,
            10,
            CC_SIG
        )
    );
    // A table without an override for the request's product keeps the defaults.
    let meeting = SignalingHandshakeRequest::from_parts(
        &creds(),
        Product::Meeting,
        MEETING_UUID,
        MEETING_STREAM,
    )
    .with_id_keys(&keys)
    .with_sequence(7);
    assert_eq!(
        meeting.to_json(),
        expected_json(MEETING_UUID, MEETING_STREAM, 7, MEETING_SIG)
    );
}

#[test]
fn request_new_matches_from_parts() {
    let s = started(
        "meeting.rtms_started",
        "meeting_uuid",
        SLASH_UUID,
        SLASH_STREAM,
    );
    let a = SignalingHandshakeRequest::new(&creds(), &s).with_sequence(3);
    let b =
        SignalingHandshakeRequest::from_parts(&creds(), Product::Meeting, SLASH_UUID, SLASH_STREAM)
            .with_sequence(3);
    assert_eq!(a, b);
    assert_eq!(a.signature(), SLASH_SIG);
    assert_eq!(PROTOCOL_VERSION, 1);
}

// -------------------------------------------------------- response (type 2)

#[test]
fn response_ok_with_media_urls() {
    let body = br#"{
        "msg_type": 2,
        "protocol_version": 1,
        "sequence": 123,
        "status_code": 0,
        "media_server": {
            "server_urls": {
                "audio": "wss://rtms-sjc1.zoom.us/audio",
                "video": "wss://rtms-sjc1.zoom.us/video",
                "all": "wss://rtms-sjc1.zoom.us/all"
            },
            "srtp_keys": {"audio": "k"}
        }
    }"#;
    let r = SignalingHandshakeResponse::parse(body).unwrap();
    assert!(r.is_ok());
    assert_eq!(r.status_code, StatusCode::Ok);
    assert_eq!(r.protocol_version, Some(1));
    assert_eq!(r.reason, None);
    let expected: BTreeMap<String, String> = [
        ("all", "wss://rtms-sjc1.zoom.us/all"),
        ("audio", "wss://rtms-sjc1.zoom.us/audio"),
        ("video", "wss://rtms-sjc1.zoom.us/video"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(r.media_server_urls, expected);
    // Unmodelled fields are kept, the raw media_server too.
    assert_eq!(r.extra["sequence"], 123);
    assert!(r.extra.contains_key("media_server"));
    assert!(!r.extra.contains_key("status_code"));
    assert!(!r.extra.contains_key("msg_type"));

    let policy = HostPolicy::default();
    // The kind's own URL, else `all`.
    let video = r.media_url(MediaKind::Video, &policy).unwrap().unwrap();
    assert_eq!(video.url().path(), "/video");
    let chat = r.media_url(MediaKind::Chat, &policy).unwrap().unwrap();
    assert_eq!(chat.as_str(), "wss://rtms-sjc1.zoom.us/all");
    assert_eq!(chat.region(), Some(zoom_rtms_webhooks::region::Region::Sjc));

    // Debug never prints the extra values (they may carry keys).
    let dbg = format!("{r:?}");
    assert!(dbg.contains("media_server"), "{dbg}");
    assert!(!dbg.contains("srtp"), "{dbg}");
}

#[test]
fn response_media_urls_are_validated() {
    let body = br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{
        "all":"wss://rtms.zoom.us","audio":"ws://127.0.0.1:9000"}}}"#;
    let r = SignalingHandshakeResponse::parse(body).unwrap();
    // Raw map keeps both.
    assert_eq!(r.media_server_urls.len(), 2);
    let zoom_only = HostPolicy::default();
    assert!(matches!(
        r.media_url(MediaKind::Audio, &zoom_only),
        Err(ServerUrlError::NotWss { .. })
    ));
    // A refused kind's URL is not replaced by `all`; other kinds still get `all`.
    assert!(r.media_url(MediaKind::Video, &zoom_only).unwrap().is_some());
    // The explicit test escape hatch accepts the local server.
    let local = HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(true);
    let audio = r.media_url(MediaKind::Audio, &local).unwrap().unwrap();
    assert_eq!(audio.host(), "127.0.0.1");
}

#[test]
fn response_invalid_signature() {
    let r = SignalingHandshakeResponse::parse(
        br#"{"msg_type":2,"protocol_version":1,"status_code":3,"reason":"invalid signature"}"#,
    )
    .unwrap();
    assert_eq!(r.status_code, StatusCode::InvalidSignature);
    assert_eq!(r.status_code.code(), 3);
    assert_eq!(r.reason.as_deref(), Some("invalid signature"));
    assert!(!r.is_ok());
    assert!(r.media_server_urls.is_empty());
}

#[test]
fn response_duplicate_signal_request() {
    let r = SignalingHandshakeResponse::parse(
        br#"{"msg_type":2,"status_code":8,"reason":"duplicate signal request"}"#,
    )
    .unwrap();
    assert_eq!(r.status_code, StatusCode::DuplicateSignalRequest);
    assert_eq!(r.status_code.to_string(), "duplicate signal request (8)");
    assert!(!r.is_ok());
    assert_eq!(r.protocol_version, None);
}

#[test]
fn response_unknown_status_and_missing_reason() {
    let r = SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":48}"#).unwrap();
    assert_eq!(r.status_code, StatusCode::Other(48));
    assert_eq!(r.status_code.code(), 48);
    assert_eq!(r.status_code.to_string(), "unknown status (48)");
    assert_eq!(r.reason, None);
    assert!(!r.is_ok());

    let r = SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":-1,"reason":null}"#)
        .unwrap();
    assert_eq!(r.status_code, StatusCode::Other(-1));
    assert_eq!(r.reason, None);
}

#[test]
fn response_accepts_status_alias() {
    let r = SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status":0}"#).unwrap();
    assert!(r.is_ok());
    // status_code wins when both are present.
    let r =
        SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":3,"status":0}"#).unwrap();
    assert_eq!(r.status_code, StatusCode::InvalidSignature);
    assert_eq!(r.extra["status"], 0);
}

#[test]
fn response_named_status_codes_round_trip() {
    let named = [
        (0, StatusCode::Ok),
        (1, StatusCode::InvalidMessageType),
        (2, StatusCode::InvalidRtmsStreamId),
        (3, StatusCode::InvalidSignature),
        (4, StatusCode::InvalidPayload),
        (5, StatusCode::InvalidEvents),
        (6, StatusCode::InvalidEventType),
        (7, StatusCode::InvalidMediaType),
        (8, StatusCode::DuplicateSignalRequest),
    ];
    for (code, status) in named {
        assert_eq!(StatusCode::from(code), status);
        assert!(!matches!(StatusCode::from(code), StatusCode::Other(_)));
        assert_eq!(status.code(), code);
        assert_eq!(i64::from(status), code);
        assert_eq!(status.is_ok(), code == 0);
        assert!(status.is_known());
        // Equality is by code: a hand-built `Other` of a named code is that variant.
        assert_eq!(StatusCode::Other(code), status);
        assert_eq!(
            status.to_string(),
            format!("{} ({code})", status.description())
        );
    }
    // The table is 0-47 (Zoom's current one, `docs/protocol.md#status-codes`); everything else
    // is kept as received.
    for code in 9..=47 {
        assert!(StatusCode::from(code).is_known(), "{code}");
    }
    for code in [-5, 48, 75, i64::MAX, i64::MIN] {
        let status = StatusCode::from(code);
        assert!(matches!(status, StatusCode::Other(c) if c == code));
        assert_eq!(status.code(), code);
        assert!(!status.is_known());
        assert_eq!(status.description(), "unknown status");
    }
}

#[test]
fn response_errors() {
    use HandshakeError::*;
    let cases: &[(&[u8], HandshakeError)] = &[
        (b"[1,2]", NotAnObject),
        (b"42", NotAnObject),
        (br#"{"status_code":0}"#, MissingMsgType),
        (
            br#"{"msg_type":1,"status_code":0}"#,
            UnexpectedMsgType { found: 1 },
        ),
        (
            br#"{"msg_type":12,"timestamp":5}"#,
            UnexpectedMsgType { found: 12 },
        ),
        (
            br#"{"msg_type":"x","status_code":0}"#,
            InvalidField { field: "msg_type" },
        ),
        (
            br#"{"msg_type":2.5,"status_code":0}"#,
            InvalidField { field: "msg_type" },
        ),
        (br#"{"msg_type":2}"#, MissingStatusCode),
        (br#"{"msg_type":2,"reason":"x"}"#, MissingStatusCode),
        (
            br#"{"msg_type":2,"status_code":"OK"}"#,
            InvalidField {
                field: "status_code",
            },
        ),
        (
            br#"{"msg_type":2,"status_code":null}"#,
            InvalidField {
                field: "status_code",
            },
        ),
        (
            br#"{"msg_type":2,"status":true}"#,
            InvalidField { field: "status" },
        ),
        (
            br#"{"msg_type":2,"status_code":"","reason":"x"}"#,
            InvalidField {
                field: "status_code",
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            &SignalingHandshakeResponse::parse(body).unwrap_err(),
            expected,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    for bad in [
        &b""[..],
        b"{",
        b"not json",
        b"\xff\xfe",
        br#"{"msg_type":2,}"#,
    ] {
        assert!(
            matches!(SignalingHandshakeResponse::parse(bad), Err(InvalidJson(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        UnexpectedMsgType { found: 12 }.to_string(),
        "expected a signalling handshake response (msg_type 2), got msg_type 12"
    );
    assert_eq!(
        MissingStatusCode.to_string(),
        "handshake response has no `status_code`"
    );
}

#[test]
fn response_optional_fields_of_another_type_are_absent() {
    // Each of these failed the whole reply before; only the status is required.
    let r = SignalingHandshakeResponse::parse(
        br#"{"msg_type":2,"status_code":0,"reason":5,"protocol_version":"1",
        "media_server":{"server_urls":{"audio":1,"video":null,"transcript":["wss://t.zoom.us"],
        "all":"wss://rtms-sjc1.zoom.us/all"}}}"#,
    )
    .unwrap();
    assert!(r.is_ok());
    assert_eq!(r.reason.as_deref(), Some("5"));
    assert_eq!(r.protocol_version, Some(1));
    let only_all: BTreeMap<String, String> =
        [("all".to_string(), "wss://rtms-sjc1.zoom.us/all".to_string())].into();
    assert_eq!(r.media_server_urls, only_all);

    for body in [
        &br#"{"msg_type":2,"status_code":3,"reason":{"text":"x"},"protocol_version":-1}"#[..],
        br#"{"msg_type":2,"status_code":3,"reason":true,"protocol_version":1.5,"media_server":"wss://x.zoom.us"}"#,
        br#"{"msg_type":2,"status_code":3,"media_server":{"server_urls":"wss://x.zoom.us"}}"#,
        br#"{"msg_type":2,"status_code":3,"media_server":[],"media_urls":7}"#,
    ] {
        let r = SignalingHandshakeResponse::parse(body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)));
        assert_eq!(r.status_code, StatusCode::InvalidSignature);
        assert_eq!((r.reason.as_deref(), r.protocol_version), (None, None));
        assert!(r.media_server_urls.is_empty());
    }
    // A string msg_type and an integral float status, as every server message is read.
    let r = SignalingHandshakeResponse::parse(br#"{"msg_type":"2","status_code":8.0}"#).unwrap();
    assert!(r.is_duplicate());
    // The legacy media_urls when media_server.server_urls holds no URL.
    let r = SignalingHandshakeResponse::parse(
        br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"all":1}},"media_urls":{"all":"wss://x.zoom.us"}}"#,
    )
    .unwrap();
    assert_eq!(r.media_server_urls["all"], "wss://x.zoom.us");
}

#[test]
fn response_missing_or_null_media_server_is_empty() {
    for body in [
        &br#"{"msg_type":2,"status_code":0}"#[..],
        br#"{"msg_type":2,"status_code":0,"media_server":null}"#,
        br#"{"msg_type":2,"status_code":0,"media_server":{}}"#,
        br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":null}}"#,
    ] {
        let r = SignalingHandshakeResponse::parse(body).unwrap();
        assert!(r.media_server_urls.is_empty());
        assert_eq!(
            r.media_url(MediaKind::Audio, &HostPolicy::default()),
            Ok(None)
        );
    }
}

// -------------------------------------------------------- constants / types

#[test]
fn msg_types_and_media_bits() {
    let named = [
        (1, MsgType::SignalingHandshakeRequest),
        (2, MsgType::SignalingHandshakeResponse),
        (3, MsgType::DataHandshakeRequest),
        (4, MsgType::DataHandshakeResponse),
        (5, MsgType::EventSubscription),
        (6, MsgType::EventUpdate),
        (7, MsgType::ClientReadyAck),
        (8, MsgType::StreamStateUpdate),
        (9, MsgType::SessionStateUpdate),
        (10, MsgType::SessionStateRequest),
        (11, MsgType::SessionStateResponse),
        (12, MsgType::KeepAliveRequest),
        (13, MsgType::KeepAliveResponse),
        (14, MsgType::MediaDataAudio),
        (15, MsgType::MediaDataVideo),
        (16, MsgType::MediaDataShare),
        (17, MsgType::MediaDataTranscript),
        (18, MsgType::MediaDataChat),
        (19, MsgType::StreamStateRequest),
        (20, MsgType::StreamStateResponse),
        (21, MsgType::StreamCloseRequest),
        (22, MsgType::StreamCloseResponse),
        (23, MsgType::MetaDataAudio),
        (24, MsgType::MetaDataVideo),
        (25, MsgType::MetaDataShare),
        (26, MsgType::MetaDataTranscript),
        (27, MsgType::MetaDataChat),
        (28, MsgType::VideoSubscriptionRequest),
        (29, MsgType::VideoSubscriptionResponse),
    ];
    for (code, t) in named {
        assert_eq!(MsgType::from(code), t);
        assert!(!matches!(MsgType::from(code), MsgType::Other(_)));
        assert_eq!(t.code(), code);
        assert!(t.is_known());
        assert_eq!(MsgType::Other(code), t);
    }
    for code in [0, 30, 99, -1] {
        let t = MsgType::from(code);
        assert!(matches!(t, MsgType::Other(c) if c == code));
        assert!(!t.is_known());
        assert_eq!(t.to_string(), format!("unknown message type ({code})"));
    }
    assert_eq!(
        MsgType::SignalingHandshakeRequest.to_string(),
        "signaling handshake request (1)"
    );
    assert_eq!(
        [
            MediaTypes::AUDIO,
            MediaTypes::VIDEO,
            MediaTypes::DESKSHARE,
            MediaTypes::TRANSCRIPT,
            MediaTypes::CHAT,
            MediaTypes::ALL
        ]
        .map(MediaTypes::bits),
        [1, 2, 4, 8, 16, 32]
    );
    assert_eq!(MediaKind::ALL.map(|k| k.flag().bits()), [1, 2, 4, 8, 16]);
}

// ------------------------------------------------ response: per-kind URLs, duplicates

#[test]
fn response_media_url_per_kind_falls_back_to_all() {
    let policy = HostPolicy::default();
    let r = SignalingHandshakeResponse::parse(
        br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{
            "audio":"wss://a.zoom.us/a","sharescreen":"wss://s.zoom.us/s","all":"wss://x.zoom.us/all"}}}"#,
    )
    .unwrap();
    let url = |kind| {
        r.media_url(kind, &policy)
            .unwrap()
            .map(|u| u.as_str().to_owned())
    };
    assert_eq!(url(MediaKind::Audio).as_deref(), Some("wss://a.zoom.us/a"));
    assert_eq!(
        url(MediaKind::Deskshare).as_deref(),
        Some("wss://s.zoom.us/s")
    );
    assert_eq!(
        url(MediaKind::Video).as_deref(),
        Some("wss://x.zoom.us/all")
    );

    // Without `all`, a missing kind has no URL; a refused URL is an error, never a URL.
    let r = SignalingHandshakeResponse::parse(
        br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"audio":"wss://evil.example/a"}}}"#,
    )
    .unwrap();
    assert_eq!(r.media_url(MediaKind::Chat, &policy), Ok(None));
    assert!(r.media_url(MediaKind::Audio, &policy).is_err());
}

#[test]
fn response_duplicate_by_code_or_reason_and_tolerant_status() {
    for (frame, duplicate) in [
        (&br#"{"msg_type":2,"status_code":8}"#[..], true),
        (&br#"{"msg_type":2,"status":" 8 "}"#[..], true),
        (
            &br#"{"msg_type":2,"status_code":45,"reason":"DUPLICATE SIGNAL REQUEST"}"#[..],
            true,
        ),
        (
            &br#"{"msg_type":2,"status_code":3,"reason":"bad"}"#[..],
            false,
        ),
        (&br#"{"msg_type":2,"status_code":"0"}"#[..], false),
    ] {
        let r = SignalingHandshakeResponse::parse(frame).unwrap();
        assert_eq!(
            r.is_duplicate(),
            duplicate,
            "{}",
            String::from_utf8_lossy(frame)
        );
    }
    let r = SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":"0"}"#).unwrap();
    assert!(r.is_ok());
}
