//! Typed events: every fixture in `tests/fixtures/` parsed and checked field by field,
//! malformed known events rejected with the right `ParseError`, and de-duplication keys.
//! Expected values are built with the payload types' constructors and `with_*` builders, as
//! users build them in their own tests.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use zoom_rtms_webhooks::codes::StopReason;
use zoom_rtms_webhooks::dedup::dedup_key;
use zoom_rtms_webhooks::event::{
    ConcurrencyLimited, ConcurrencyNearLimit, IdField, InstanceId, Lifecycle, ParseError,
    RawServerUrls, RtmsStarted, RtmsStreamEnd, StartFailed, UnknownEvent, UrlValidation,
};
use zoom_rtms_webhooks::region::{HostPolicy, Region};
use zoom_rtms_webhooks::{Product, WebhookEvent};

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("fixtures/", $name, ".json")) as &[u8])),*]
    };
}

/// Every fixture file; `fixture_list_is_complete` checks nothing is missing.
const FIXTURES: &[(&str, &[u8])] = fixtures![
    "contact_center_voice_rtms_interrupted",
    "contact_center_voice_rtms_started",
    "contact_center_voice_rtms_started_url_array",
    "contact_center_voice_rtms_stopped",
    "contactcenter_rtms_started",
    "contactcenter_rtms_stopped",
    "meeting_rtms_interrupted",
    "meeting_rtms_started_flat",
    "meeting_rtms_started_nested",
    "meeting_rtms_stopped",
    "meeting_rtms_stopped_nested",
    "meeting_rtms_stopped_stream_only",
    "phone_call_rtms_interrupted",
    "phone_call_rtms_started",
    "phone_rtms_started",
    "phone_rtms_stopped",
    "rtms_concurrency_limited",
    "rtms_concurrency_near_limit",
    "rtms_start_failed",
    "session_rtms_interrupted",
    "session_rtms_started",
    "session_rtms_stopped",
    "started_extra_fields",
    "started_multi_url",
    "started_non_ascii",
    "stopped_reason_absent",
    "stopped_reason_string",
    "stopped_reason_unknown",
    "unknown_event",
    "url_validation",
    "webinar_rtms_interrupted_meeting_uuid",
    "webinar_rtms_started_meeting_uuid",
    "webinar_rtms_started_webinar_uuid",
    "webinar_rtms_stopped",
];

const TS: u64 = 1_732_313_171_881;
const MEETING_UUID: &str = "4444AAAiAAAAAiAiAiiAii==";
const MEETING_STREAM: &str = "03db704592624398931a588dd78200cb";

fn fixture(name: &str) -> &'static [u8] {
    FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| *body)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn parse(name: &str) -> WebhookEvent {
    WebhookEvent::parse(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse_str(body: &str) -> Result<WebhookEvent, ParseError> {
    WebhookEvent::parse(body.as_bytes())
}

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn id(field: IdField, value: &str) -> InstanceId {
    InstanceId::new(field, value)
}

fn started(name: &str) -> RtmsStarted {
    match parse(name) {
        WebhookEvent::RtmsStarted(s) => s,
        other => panic!("{name}: expected RtmsStarted, got {other:?}"),
    }
}

fn stopped(name: &str) -> RtmsStreamEnd {
    match parse(name) {
        WebhookEvent::RtmsStopped(s) => s,
        other => panic!("{name}: expected RtmsStopped, got {other:?}"),
    }
}

fn interrupted(name: &str) -> RtmsStreamEnd {
    match parse(name) {
        WebhookEvent::RtmsInterrupted(s) => s,
        other => panic!("{name}: expected RtmsInterrupted, got {other:?}"),
    }
}

fn sha_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

// ---------------------------------------------------------------------------------------------
// Fixtures, one by one
// ---------------------------------------------------------------------------------------------

#[test]
fn fixture_list_is_complete() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn every_fixture_parses_and_accessors_agree() {
    for (name, body) in FIXTURES {
        let event = WebhookEvent::parse(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw: Value = serde_json::from_slice(body).expect("fixture is JSON");
        assert_eq!(
            event.name(),
            raw["event"].as_str().expect("event"),
            "{name}"
        );
        assert_eq!(event.event_ts(), raw["event_ts"].as_u64(), "{name}");
        assert!(!dedup_key(&event, body).is_empty(), "{name}");
        if event.lifecycle().is_some() {
            assert!(event.product().is_some(), "{name}");
            assert!(event.rtms_stream_id().is_some(), "{name}");
        }
        if event.lifecycle() == Some(Lifecycle::Started) {
            assert!(event.instance().is_some(), "{name}");
        }
    }
}

#[test]
fn url_validation() {
    let event = parse("url_validation");
    assert_eq!(
        event,
        WebhookEvent::UrlValidation(
            UrlValidation::new("qgg8vlvZRS6UYooatFL8Aw").with_event_ts(1_654_503_849_680)
        )
    );
    assert_eq!(event.name(), "endpoint.url_validation");
    assert_eq!(event.event_ts(), Some(1_654_503_849_680));
    assert_eq!(event.product(), None);
    assert_eq!(event.instance(), None);
    assert_eq!(event.rtms_stream_id(), None);
    assert_eq!(event.lifecycle(), None);
}

#[test]
fn meeting_started_flat() {
    let s = started("meeting_rtms_started_flat");
    assert_eq!(
        s,
        RtmsStarted::new(
            Product::Meeting,
            id(IdField::MeetingUuid, MEETING_UUID),
            MEETING_STREAM,
            "wss://zoomsjc144-195-19-154zssgw.sjc.zoom.us:443"
        )
        .with_event_ts(TS)
        .with_operator_id("30R7kT7bTIKSNUFEuH_Qlg")
    );
    let event = WebhookEvent::RtmsStarted(s);
    assert_eq!(event.product(), Some(Product::Meeting));
    assert_eq!(event.lifecycle(), Some(Lifecycle::Started));
    assert_eq!(event.rtms_stream_id(), Some(MEETING_STREAM));
    assert_eq!(
        event.instance(),
        Some(&id(IdField::MeetingUuid, MEETING_UUID))
    );
}

#[test]
fn meeting_started_nested_merges_object_and_top_level() {
    let s = started("meeting_rtms_started_nested");
    assert_eq!(
        s,
        RtmsStarted::new(
            Product::Meeting,
            id(IdField::MeetingUuid, "Zx1f5Wr6Q4OM9M6e8hJv4A=="),
            "5f6e22a6b0a94d0ba5ba8f0d1c4e7f10",
            "wss://rtms-sjc1.zoom.us/signaling"
        )
        .with_event_ts(TS + 1)
        .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
        .with_extra(map(json!({
            "meeting_id": "85316541256",
            "host_id": "z8yBXksRQUSEzIIeaY7GTA",
            "signature": "2b8c0e3a7f4d",
        })))
    );
    assert!(!s.extra.contains_key("object"));
}

#[test]
fn meeting_stopped_and_interrupted() {
    assert_eq!(
        stopped("meeting_rtms_stopped"),
        RtmsStreamEnd::stopped(Product::Meeting, MEETING_STREAM)
            .with_event_ts(TS + 3_600_000)
            .with_instance(id(IdField::MeetingUuid, MEETING_UUID))
            .with_stop_reason(StopReason::MeetingEnded)
            .with_operator_id("30R7kT7bTIKSNUFEuH_Qlg")
    );
    let i = interrupted("meeting_rtms_interrupted");
    assert_eq!(
        i,
        RtmsStreamEnd::interrupted(Product::Meeting, MEETING_STREAM)
            .with_event_ts(TS + 60_000)
            .with_instance(id(IdField::MeetingUuid, MEETING_UUID))
            .with_stop_reason(StopReason::ConnectionTimeout)
    );
    assert_eq!(
        WebhookEvent::RtmsInterrupted(i).lifecycle(),
        Some(Lifecycle::Interrupted)
    );
}

#[test]
fn webinar_with_webinar_uuid() {
    assert_eq!(
        started("webinar_rtms_started_webinar_uuid"),
        RtmsStarted::new(
            Product::Webinar,
            id(IdField::WebinarUuid, "hMi3W1kJRTq7y0xPzHcmLA=="),
            "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "wss://zoomiad58-101-44-33zssgw.iad.zoom.us:443"
        )
        .with_event_ts(TS)
        .with_operator_id("uLoRgfbbTayCX6r2Q_qQsQ")
        .with_extra(map(json!({ "webinar_id": 91_234_567_890_u64 })))
    );
}

#[test]
fn webinar_with_meeting_uuid() {
    assert_eq!(
        started("webinar_rtms_started_meeting_uuid"),
        RtmsStarted::new(
            Product::Webinar,
            id(IdField::MeetingUuid, "hMi3W1kJRTq7y0xPzHcmLA=="),
            "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "wss://rtms-fra1.zoom.us/signaling"
        )
        .with_event_ts(TS)
        .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
        .with_extra(map(json!({
            "meeting_id": "91234567890",
            "host_id": "z8yBXksRQUSEzIIeaY7GTA",
            "signature": "auth_signature",
        })))
    );
}

#[test]
fn webinar_stopped_nested() {
    assert_eq!(
        stopped("webinar_rtms_stopped"),
        RtmsStreamEnd::stopped(Product::Webinar, "a1b2c3d4e5f60718293a4b5c6d7e8f90")
            .with_event_ts(TS)
            .with_instance(id(IdField::WebinarUuid, "hMi3W1kJRTq7y0xPzHcmLA=="))
            .with_stop_reason(StopReason::HostTriggered)
            .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
            .with_extra(map(json!({ "meeting_id": "91234567890" })))
    );
}

#[test]
fn webinar_with_both_ids_prefers_webinar_uuid_and_keeps_the_other() {
    let s = match parse_str(
        r#"{"event":"webinar.rtms_started","payload":{"meeting_uuid":"m==","webinar_uuid":"w==",
            "rtms_stream_id":"r","server_urls":"wss://a.zoom.us"}}"#,
    ) {
        Ok(WebhookEvent::RtmsStarted(s)) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(s.instance, id(IdField::WebinarUuid, "w=="));
    assert_eq!(s.extra, map(json!({ "meeting_uuid": "m==" })));
}

#[test]
fn video_sdk_session() {
    assert_eq!(
        started("session_rtms_started"),
        RtmsStarted::new(
            Product::VideoSdk,
            id(IdField::SessionId, "5YlXxgR7SBaD8dZ9Cm3kXw=="),
            "9c0f2a1e7d6b4c5a8e3f1b2d4c6a8e0f",
            "wss://zoomsin12-34-56-78zssgw.sin.zoom.us:443"
        )
        .with_event_ts(TS)
        .with_session_key("my-session-key-42")
    );
    // `session_key` is not modelled on stopped: it is kept in `extra`.
    assert_eq!(
        stopped("session_rtms_stopped"),
        RtmsStreamEnd::stopped(Product::VideoSdk, "9c0f2a1e7d6b4c5a8e3f1b2d4c6a8e0f")
            .with_event_ts(TS)
            .with_instance(id(IdField::SessionId, "5YlXxgR7SBaD8dZ9Cm3kXw=="))
            .with_stop_reason(StopReason::MeetingEnded)
            .with_extra(map(json!({ "session_key": "my-session-key-42" })))
    );
    assert_eq!(
        interrupted("session_rtms_interrupted"),
        RtmsStreamEnd::interrupted(Product::VideoSdk, "9c0f2a1e7d6b4c5a8e3f1b2d4c6a8e0f")
            .with_event_ts(TS)
            .with_instance(id(IdField::SessionId, "5YlXxgR7SBaD8dZ9Cm3kXw=="))
    );
}

#[test]
fn contact_center() {
    const ENGAGEMENT: &str = "zQd3XbTzQ1yT6Jk7aVvH0g";
    const STREAM: &str = "cc0e7b5d2a9f4e1c8b3a6d0f9e2c5b7a";
    assert_eq!(
        started("contact_center_voice_rtms_started"),
        RtmsStarted::new(
            Product::ContactCenter,
            id(IdField::EngagementId, ENGAGEMENT),
            STREAM,
            "wss://rtms-ams1.zoom.us/cc"
        )
        .with_event_ts(TS)
        .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
    );
    assert_eq!(
        stopped("contact_center_voice_rtms_stopped"),
        RtmsStreamEnd::stopped(Product::ContactCenter, STREAM)
            .with_event_ts(TS)
            .with_instance(id(IdField::EngagementId, ENGAGEMENT))
            .with_stop_reason(StopReason::CustomerDisconnected)
    );
    assert_eq!(
        interrupted("contact_center_voice_rtms_interrupted"),
        RtmsStreamEnd::interrupted(Product::ContactCenter, STREAM)
            .with_event_ts(TS)
            .with_instance(id(IdField::EngagementId, ENGAGEMENT))
            .with_stop_reason(StopReason::AgentDisconnected)
    );
}

#[test]
fn phone_canonical_and_alias() {
    const CALL: &str = "7012345678901234567";
    const STREAM: &str = "ph1e2d3c4b5a69788796a5b4c3d2e1f0";
    let expected = |event: &str, ts: u64| {
        RtmsStarted::new(
            Product::Phone,
            id(IdField::CallId, CALL),
            STREAM,
            "wss://rtms-yyz1.zoom.us/phone",
        )
        .with_event(event)
        .with_event_ts(ts)
        .with_operator_id("kXq2LhY8T0W9b1m3n5p7rA")
    };
    assert_eq!(
        started("phone_rtms_started"),
        expected("phone.rtms_started", TS)
    );
    assert_eq!(
        started("phone_call_rtms_started"),
        expected("phone.call_rtms_started", TS + 250)
    );
    assert_eq!(
        parse("phone_call_rtms_started").name(),
        "phone.call_rtms_started"
    );
    assert_eq!(
        stopped("phone_rtms_stopped"),
        RtmsStreamEnd::stopped(Product::Phone, STREAM)
            .with_event_ts(TS)
            .with_instance(id(IdField::CallId, CALL))
            .with_stop_reason(StopReason::AppUserTriggered)
    );
    assert_eq!(
        interrupted("phone_call_rtms_interrupted"),
        RtmsStreamEnd::interrupted(Product::Phone, STREAM)
            .with_event("phone.call_rtms_interrupted")
            .with_event_ts(TS)
            .with_instance(id(IdField::CallId, CALL))
            .with_stop_reason(StopReason::KeepAliveTimeout)
    );
    for name in ["phone.call_rtms_stopped", "phone.rtms_interrupted"] {
        let body = format!(
            r#"{{"event":"{name}","payload":{{"call_id":"{CALL}","rtms_stream_id":"{STREAM}"}}}}"#
        );
        let event = parse_str(&body).expect(name);
        assert_eq!(event.name(), name);
        assert_eq!(event.product(), Some(Product::Phone));
    }
}

#[test]
fn contactcenter_spelling_is_a_contact_center_alias() {
    const ENGAGEMENT: &str = "zQd3XbTzQ1yT6Jk7aVvH0g";
    const STREAM: &str = "cc0e7b5d2a9f4e1c8b3a6d0f9e2c5b7a";
    let alias = started("contactcenter_rtms_started");
    assert_eq!(
        alias,
        RtmsStarted::new(
            Product::ContactCenter,
            id(IdField::EngagementId, ENGAGEMENT),
            STREAM,
            "wss://rtms-ams1.zoom.us/cc",
        )
        .with_event("contactcenter.rtms_started")
        .with_event_ts(TS)
    );
    assert_eq!(
        parse("contactcenter_rtms_started").name(),
        "contactcenter.rtms_started"
    );
    assert_eq!(
        stopped("contactcenter_rtms_stopped"),
        RtmsStreamEnd::stopped(Product::ContactCenter, STREAM)
            .with_event("contactcenter.rtms_stopped")
            .with_event_ts(TS)
            .with_instance(id(IdField::EngagementId, ENGAGEMENT))
            .with_stop_reason(StopReason::AgentDisconnected)
    );
    let body = json!({"event": "contactcenter.rtms_interrupted",
        "payload": {"engagement_id": ENGAGEMENT, "rtms_stream_id": STREAM}})
    .to_string();
    let event = parse_str(&body).expect("interrupted");
    assert_eq!(event.name(), "contactcenter.rtms_interrupted");
    assert_eq!(event.product(), Some(Product::ContactCenter));
    assert_eq!(event.lifecycle(), Some(Lifecycle::Interrupted));
    // The same stream under either name is the same start (and the same stop).
    assert_eq!(
        key(fixture("contactcenter_rtms_started")),
        key(fixture("contact_center_voice_rtms_started"))
    );
    assert_eq!(
        key(fixture("contactcenter_rtms_stopped")),
        format!("stopped:contact_center:{STREAM}")
    );
}

#[test]
fn constructors_use_the_canonical_names() {
    let meeting = id(IdField::MeetingUuid, "m");
    for (product, started_name) in [
        (Product::Meeting, "meeting.rtms_started"),
        (Product::Webinar, "webinar.rtms_started"),
        (Product::VideoSdk, "session.rtms_started"),
        (Product::ContactCenter, "contact_center.voice_rtms_started"),
        (Product::Phone, "phone.rtms_started"),
    ] {
        let event = WebhookEvent::RtmsStarted(RtmsStarted::new(
            product,
            meeting.clone(),
            "r",
            "wss://a.zoom.us",
        ));
        assert_eq!(event.name(), started_name);
        // What a constructor builds is what the parser reads back from that name.
        let body = json!({"event": started_name, "payload": {
            "rtms_stream_id": "r", "server_urls": "wss://a.zoom.us"}})
        .to_string();
        assert_eq!(
            parse_str(&body).map(|e| e.product()),
            Err(missing(started_name, started_id_field(product)))
        );
        let stopped = WebhookEvent::RtmsStopped(RtmsStreamEnd::stopped(product, "r"));
        assert_eq!(stopped.name(), started_name.replace("started", "stopped"));
        let body = json!({"event": stopped.name(), "payload": {"rtms_stream_id": "r"}});
        assert_eq!(parse_str(&body.to_string()), Ok(stopped));
        let interrupted = WebhookEvent::RtmsInterrupted(RtmsStreamEnd::interrupted(product, "r"));
        assert_eq!(
            interrupted.name(),
            started_name.replace("started", "interrupted")
        );
        let body = json!({"event": interrupted.name(), "payload": {"rtms_stream_id": "r"}});
        assert_eq!(parse_str(&body.to_string()), Ok(interrupted));
    }
}

fn started_id_field(product: Product) -> &'static str {
    match product {
        Product::Meeting => "meeting_uuid",
        Product::Webinar => "webinar_uuid",
        Product::VideoSdk => "session_id",
        Product::ContactCenter => "engagement_id",
        _ => "call_id",
    }
}

#[test]
fn multi_url_server_urls_kept_raw() {
    let s = started("started_multi_url");
    assert_eq!(
        s,
        RtmsStarted::new(
            Product::Meeting,
            id(IdField::MeetingUuid, MEETING_UUID),
            MEETING_STREAM,
            "wss://rtms-sjc1.zoom.us/a, wss://rtms-iad1.zoom.us/b,wss://x1.nrt.zoom.us:443/c"
        )
        .with_event_ts(TS)
        .with_operator_id("30R7kT7bTIKSNUFEuH_Qlg")
    );
    // Each URL is checked and normalised; the order is kept.
    let urls = s.server_urls(&HostPolicy::default()).expect("zoom urls");
    let dial: Vec<_> = urls.iter().map(|u| u.as_str()).collect();
    assert_eq!(
        dial,
        [
            "wss://rtms-sjc1.zoom.us/a",
            "wss://rtms-iad1.zoom.us/b",
            "wss://x1.nrt.zoom.us/c"
        ]
    );
}

#[test]
fn server_urls_as_a_json_array() {
    // The shape some of Zoom's samples and mock servers send: accepted like the string.
    let s = started("contact_center_voice_rtms_started_url_array");
    let urls = vec![
        "wss://rtms-ams1.zoom.us/cc".to_owned(),
        "wss://rtms-fra1.zoom.us/cc".to_owned(),
    ];
    assert_eq!(
        s,
        RtmsStarted::new(
            Product::ContactCenter,
            id(IdField::EngagementId, "zQd3XbTzQ1yT6Jk7aVvH0g"),
            "cc0e7b5d2a9f4e1c8b3a6d0f9e2c5b7a",
            urls.clone(),
        )
        .with_event_ts(TS)
        .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
    );
    assert_eq!(s.server_urls, RawServerUrls::List(urls));
    let regions: Vec<_> = s
        .server_urls(&HostPolicy::default())
        .expect("zoom urls")
        .iter()
        .map(|u| u.region())
        .collect();
    assert_eq!(regions, [Some(Region::Ams), Some(Region::Fra)]);
    // A hostile element fails the whole list, as in the string form.
    let body = json!({"event": "meeting.rtms_started", "payload": {"meeting_uuid": "m",
        "rtms_stream_id": "r", "server_urls": ["wss://sjc.zoom.us", "wss://evil.example"]}})
    .to_string();
    let Ok(WebhookEvent::RtmsStarted(s)) = parse_str(&body) else {
        panic!("started")
    };
    let err = s.server_urls(&HostPolicy::default()).unwrap_err();
    assert_eq!(err.url(), Some("wss://evil.example"));
}

#[test]
fn extra_fields_are_kept() {
    assert_eq!(
        started("started_extra_fields"),
        RtmsStarted::new(
            Product::Meeting,
            id(IdField::MeetingUuid, MEETING_UUID),
            MEETING_STREAM,
            "wss://rtms-sjc1.zoom.us/a"
        )
        .with_event_ts(TS)
        .with_operator_id("30R7kT7bTIKSNUFEuH_Qlg")
        .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
        .with_extra(map(json!({
            "is_original_host": true,
            "meeting_id": 85_316_541_256_u64,
            "webinar_id": null,
            "host_id": "z8yBXksRQUSEzIIeaY7GTA",
            "signature": "3f1c5e9a0b7d2c4e6a8f",
            "media_capabilities": {"audio": true,
            "video": false,
            "codecs": ["opus",
            "h264"]},
        })))
    );
}

#[test]
fn non_ascii_text_survives() {
    let s = started("started_non_ascii");
    assert_eq!(
        s,
        RtmsStarted::new(
            Product::Meeting,
            id(IdField::MeetingUuid, "Ré/日本=="),
            MEETING_STREAM,
            "wss://rtms-nrt1.zoom.us/a"
        )
        .with_event_ts(TS)
        .with_operator_id("Zoë")
        .with_extra(map(json!({ "topic": "Réunion 日本語 🎥" })))
    );
    // The same text given as JSON escapes decodes to the same value.
    let escaped = r#"{"event":"meeting.rtms_started","payload":{"object":{"topic":"R\u00e9union \u65e5\u672c\u8a9e \ud83c\udfa5","meeting_uuid":"R\u00e9/\u65e5\u672c==","rtms_stream_id":"03db704592624398931a588dd78200cb","server_urls":"wss://rtms-nrt1.zoom.us/a","operator_id":"Zo\u00eb"}},"event_ts":1732313171881}"#;
    assert_eq!(parse_str(escaped), Ok(WebhookEvent::RtmsStarted(s)));
}

#[test]
fn unknown_event_keeps_everything() {
    let event = parse("unknown_event");
    let raw: Value = serde_json::from_slice(fixture("unknown_event")).expect("json");
    assert_eq!(
        event,
        WebhookEvent::Unknown(
            UnknownEvent::new("meeting.participant_joined", raw["payload"].clone())
                .with_event_ts(1_626_230_691_572)
        )
    );
    assert_eq!(event.name(), "meeting.participant_joined");
    assert_eq!(event.product(), None);
    assert_eq!(event.instance(), None);
    assert_eq!(event.rtms_stream_id(), None);
    assert_eq!(event.lifecycle(), None);
}

#[test]
fn unknown_names_are_never_errors() {
    for body in [
        r#"{"event":"x.y"}"#,
        r#"{"event":"x.y","payload":null}"#,
        r#"{"event":"x.y","payload":[1,2,3]}"#,
        r#"{"event":"x.y","payload":"text","event_ts":"soon"}"#,
        r#"{"payload":{"weird":true},"event":"contactcenter.rtms_paused"}"#,
        r#"{"event":"contactcenter.voice_rtms_started","payload":{}}"#,
        r#"{"event":"Meeting.RTMS_STARTED","payload":{}}"#,
        r#"{"event":"meeting.rtms_started_v2","payload":{}}"#,
    ] {
        let event = parse_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert!(matches!(event, WebhookEvent::Unknown(_)), "{body}");
    }
    let Ok(WebhookEvent::Unknown(u)) = parse_str(r#"{"event":"x.y"}"#) else {
        panic!("unknown")
    };
    assert_eq!(u.payload, Value::Null);
    assert_eq!(u.event_ts, None);
}

#[test]
fn stop_reasons_of_every_kind() {
    assert_eq!(
        stopped("stopped_reason_unknown").stop_reason,
        Some(StopReason::Other(99))
    );
    let s = stopped("stopped_reason_string");
    assert_eq!(s.stop_reason, Some(StopReason::StreamCanceled));
    assert_eq!(s.extra, Map::new());
    let s = stopped("stopped_reason_absent");
    assert_eq!(
        s,
        RtmsStreamEnd::stopped(Product::Meeting, MEETING_STREAM)
            .with_instance(id(IdField::MeetingUuid, MEETING_UUID))
    );
    // Every code, named or not, in a real body.
    for code in [
        -1_i64, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 21, 22, 23, 24, 25, 26, 1000,
    ] {
        let body = format!(
            r#"{{"event":"meeting.rtms_stopped","payload":{{"meeting_uuid":"m","rtms_stream_id":"r","stop_reason":{code}}}}}"#
        );
        let Ok(WebhookEvent::RtmsStopped(s)) = parse_str(&body) else {
            panic!("{code}")
        };
        let reason = s.stop_reason.expect("reason");
        assert_eq!(reason.code(), code);
        assert_eq!(reason, StopReason::from(code));
        assert_eq!(reason.is_known(), (0..=26).contains(&code));
    }
    // An unusable stop_reason is not an error: `None`, and the value is kept in `extra`.
    let Ok(WebhookEvent::RtmsInterrupted(i)) = parse_str(
        r#"{"event":"meeting.rtms_interrupted","payload":{"meeting_uuid":"m","rtms_stream_id":"r","stop_reason":"soon"}}"#,
    ) else {
        panic!("interrupted")
    };
    assert_eq!(i.stop_reason, None);
    assert_eq!(i.extra, map(json!({ "stop_reason": "soon" })));
}

/// The crate's one integer rule, on the webhook side: an integral float is the integer (as in a
/// protocol frame, `tests/protocol_tolerance.rs`), a fractional, negative or out-of-range count
/// is set aside in `extra`.
#[test]
fn numbers_are_read_by_the_one_integer_rule() {
    let stop = |reason: &str| {
        let body = format!(
            r#"{{"event":"meeting.rtms_stopped","payload":{{"rtms_stream_id":"r","stop_reason":{reason}}}}}"#
        );
        let Ok(WebhookEvent::RtmsStopped(s)) = parse_str(&body) else {
            panic!("{reason}")
        };
        (s.stop_reason, s.extra)
    };
    for read in ["6", "6.0", "6e0", "\"6\"", "\" 6 \""] {
        assert_eq!(
            stop(read),
            (Some(StopReason::MeetingEnded), Map::new()),
            "{read}"
        );
    }
    for set_aside in ["6.5", "\"6.0\"", "1e300", "true"] {
        let (reason, extra) = stop(set_aside);
        assert_eq!(reason, None, "{set_aside}");
        let kept: Value = serde_json::from_str(set_aside).unwrap();
        assert_eq!(extra, map(json!({ "stop_reason": kept })), "{set_aside}");
    }

    let near = |count: &str| {
        let body = format!(
            r#"{{"event":"rtms.concurrency_near_limit","event_ts":{count},"payload":{{"concurrency_number":{count}}}}}"#
        );
        let Ok(WebhookEvent::ConcurrencyNearLimit(n)) = parse_str(&body) else {
            panic!("{count}")
        };
        (n.event_ts, n.concurrency_number, n.extra)
    };
    assert_eq!(near("90.0"), (Some(90), Some(90), Map::new()));
    for set_aside in ["90.5", "-90", "-90.0", "1e16"] {
        let (event_ts, number, extra) = near(set_aside);
        assert_eq!((event_ts, number), (None, None), "{set_aside}");
        let kept: Value = serde_json::from_str(set_aside).unwrap();
        assert_eq!(
            extra,
            map(json!({ "concurrency_number": kept })),
            "{set_aside}"
        );
    }
}

#[test]
fn stop_reason_names() {
    let named = [
        (1, StopReason::HostTriggered),
        (2, StopReason::AppUserTriggered),
        (3, StopReason::AppUserLeft),
        (4, StopReason::AppUserEjected),
        (5, StopReason::HostDisabledApp),
        (6, StopReason::MeetingEnded),
        (7, StopReason::StreamCanceled),
        (8, StopReason::StreamRevoked),
        (9, StopReason::AllAppsDisabled),
        (10, StopReason::InternalException),
        (11, StopReason::ConnectionTimeout),
        (21, StopReason::CustomerDisconnected),
        (22, StopReason::AgentDisconnected),
        (24, StopReason::KeepAliveTimeout),
    ];
    for (code, reason) in named {
        assert_eq!(StopReason::from(code), reason);
        assert_eq!(reason.code(), code);
        assert_eq!(i64::from(reason), code);
        assert!(reason.is_known());
        assert!(reason.to_string().ends_with(&format!("({code})")));
        assert_eq!(serde_json::to_value(reason).expect("ser"), json!(code));
        let back: StopReason = serde_json::from_value(json!(code)).expect("de");
        assert_eq!(back, reason);
        let back: StopReason = serde_json::from_value(json!(code.to_string())).expect("de");
        assert_eq!(back, reason);
    }
    assert_eq!(StopReason::from(27), StopReason::Other(27));
    assert_eq!(
        StopReason::Other(27).to_string(),
        "unknown stop reason (27)"
    );
}

#[test]
fn concurrency_near_limit() {
    assert_eq!(
        parse("rtms_concurrency_near_limit"),
        WebhookEvent::ConcurrencyNearLimit(
            ConcurrencyNearLimit::new()
                .with_event_ts(TS)
                .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
                .with_concurrency_limit(100)
                .with_concurrency_number(85)
                .with_percentage(85.0)
        )
    );
    // Lenient numbers: strings of digits, "85.5%"; unusable values kept in extra.
    assert_eq!(
        parse_str(
            r#"{"event":"rtms.concurrency_near_limit","payload":{"concurrency_limit":"100",
                "concurrency_number":-3,"percentage":"85.5%","region":"us"}}"#
        ),
        Ok(WebhookEvent::ConcurrencyNearLimit(
            ConcurrencyNearLimit::new()
                .with_concurrency_limit(100)
                .with_percentage(85.5)
                .with_extra(map(json!({ "concurrency_number": -3, "region": "us" })))
        ))
    );
}

#[test]
fn concurrency_limited() {
    let event = parse("rtms_concurrency_limited");
    assert_eq!(
        event,
        WebhookEvent::ConcurrencyLimited(
            ConcurrencyLimited::new()
                .with_event_ts(TS)
                .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
                .with_product(Product::Meeting)
                .with_instance(id(IdField::MeetingUuid, MEETING_UUID))
                .with_operator_id("30R7kT7bTIKSNUFEuH_Qlg")
                .with_concurrency_number(100)
        )
    );
    assert_eq!(event.product(), Some(Product::Meeting));
    assert_eq!(
        event.instance(),
        Some(&id(IdField::MeetingUuid, MEETING_UUID))
    );
    assert_eq!(event.rtms_stream_id(), None);
    assert_eq!(event.lifecycle(), None);
    // Product inference from the id field.
    for (payload, product, field) in [
        (
            json!({"webinar_uuid": "w"}),
            Product::Webinar,
            IdField::WebinarUuid,
        ),
        (
            json!({"meeting_uuid": "w", "webinar_id": 1}),
            Product::Webinar,
            IdField::MeetingUuid,
        ),
        (
            json!({"session_id": "s"}),
            Product::VideoSdk,
            IdField::SessionId,
        ),
        (
            json!({"engagement_id": "e"}),
            Product::ContactCenter,
            IdField::EngagementId,
        ),
        (json!({"call_id": "c"}), Product::Phone, IdField::CallId),
    ] {
        let body = json!({"event": "rtms.concurrency_limited", "payload": payload}).to_string();
        let event = parse_str(&body).expect("parse");
        assert_eq!(event.product(), Some(product), "{body}");
        assert_eq!(event.instance().map(|i| i.field), Some(field), "{body}");
    }
    // Nothing required.
    assert_eq!(
        parse_str(r#"{"event":"rtms.concurrency_limited","payload":{"call_id":5}}"#),
        Ok(WebhookEvent::ConcurrencyLimited(
            ConcurrencyLimited::new().with_extra(map(json!({ "call_id": 5 })))
        ))
    );
}

#[test]
fn start_failed() {
    let event = parse("rtms_start_failed");
    assert_eq!(
        event,
        WebhookEvent::StartFailed(
            StartFailed::new()
                .with_event_ts(TS)
                .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
                .with_product(Product::ContactCenter)
                .with_instance(id(IdField::EngagementId, "zQd3XbTzQ1yT6Jk7aVvH0g"))
                .with_rtms_stream_id("cc0e7b5d2a9f4e1c8b3a6d0f9e2c5b7a")
                .with_extra(map(
                    json!({ "error_code": 3001, "error_message": "app not authorized" })
                ))
        )
    );
    assert_eq!(
        event.rtms_stream_id(),
        Some("cc0e7b5d2a9f4e1c8b3a6d0f9e2c5b7a")
    );
    assert_eq!(event.name(), "rtms.start_failed");
}

// ---------------------------------------------------------------------------------------------
// Leniency
// ---------------------------------------------------------------------------------------------

#[test]
fn event_ts_is_lenient() {
    let ts = |v: &str| {
        parse_str(&format!(r#"{{"event":"x.y","event_ts":{v}}}"#))
            .expect("parse")
            .event_ts()
    };
    assert_eq!(ts("1732313171881"), Some(TS));
    assert_eq!(ts("\"1732313171881\""), Some(TS));
    assert_eq!(ts("1.732313171881e12"), Some(TS));
    assert_eq!(ts("null"), None);
    assert_eq!(ts("-5"), None);
    assert_eq!(ts("1.5"), None);
    assert_eq!(ts("\"soon\""), None);
    assert_eq!(ts("{\"ms\":1}"), None);
    assert_eq!(ts("[1]"), None);
}

#[test]
fn optional_text_fields_take_numbers_and_keep_odd_types() {
    let Ok(WebhookEvent::RtmsStarted(s)) = parse_str(
        r#"{"event":"meeting.rtms_started","payload":{"meeting_uuid":"m","rtms_stream_id":"r",
            "server_urls":"wss://a.zoom.us","operator_id":12345,"account_id":{"id":"a"},
            "session_key":null}}"#,
    ) else {
        panic!("started")
    };
    assert_eq!(s.operator_id.as_deref(), Some("12345"));
    assert_eq!(s.account_id, None);
    assert_eq!(s.session_key, None);
    assert_eq!(s.extra, map(json!({ "account_id": {"id": "a"} })));
}

#[test]
fn object_field_wins_over_top_level_in_either_order() {
    for body in [
        r#"{"event":"meeting.rtms_started","payload":{"account_id":"top","rtms_stream_id":"top","note":"top",
            "object":{"account_id":"obj","meeting_uuid":"m","rtms_stream_id":"obj","server_urls":"wss://a.zoom.us","note":"obj"}}}"#,
        r#"{"event":"meeting.rtms_started","payload":{"object":{"account_id":"obj","meeting_uuid":"m","rtms_stream_id":"obj",
            "server_urls":"wss://a.zoom.us","note":"obj"},"account_id":"top","rtms_stream_id":"top","note":"top"}}"#,
    ] {
        let Ok(WebhookEvent::RtmsStarted(s)) = parse_str(body) else {
            panic!("{body}")
        };
        assert_eq!(s.account_id.as_deref(), Some("obj"));
        assert_eq!(s.rtms_stream_id, "obj");
        assert_eq!(s.extra, map(json!({ "note": "obj" })));
    }
}

#[test]
fn envelope_order_escapes_and_extra_keys() {
    // payload before event, escaped key and name, unknown envelope keys ignored.
    let body = r#"{"download_token":"x","payload":{"object":{"meeting_uu\u0069d":"m","rtms_stream_id":"r","server_urls":"wss://a.zoom.us"},"account_id":"a"},"event_ts":7,"event":"meeting.rtms_st\u0061rted"}"#;
    let Ok(WebhookEvent::RtmsStarted(s)) = parse_str(body) else {
        panic!("started")
    };
    assert_eq!(s.event, "meeting.rtms_started");
    assert_eq!(s.instance, id(IdField::MeetingUuid, "m"));
    assert_eq!(s.account_id.as_deref(), Some("a"));
    assert_eq!(s.event_ts, Some(7));
    assert_eq!(s.extra, Map::new());
    // `object: null` is the same as no `object`.
    let body = r#"{"event":"meeting.rtms_stopped","payload":{"object":null,"meeting_uuid":"m","rtms_stream_id":"r"}}"#;
    assert!(matches!(parse_str(body), Ok(WebhookEvent::RtmsStopped(_))));
    // A nested "object" inside "object" is just an extra field.
    let body = r#"{"event":"meeting.rtms_stopped","payload":{"object":{"object":{"a":1},"meeting_uuid":"m","rtms_stream_id":"r"}}}"#;
    let Ok(WebhookEvent::RtmsStopped(s)) = parse_str(body) else {
        panic!("stopped")
    };
    assert_eq!(s.extra, map(json!({ "object": {"a": 1} })));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

fn missing(event: &str, field: &'static str) -> ParseError {
    ParseError::MissingField {
        event: event.to_owned(),
        field,
    }
}

fn invalid(event: &str, field: &'static str, found: &'static str) -> ParseError {
    ParseError::InvalidField {
        event: event.to_owned(),
        field,
        expected: "a non-empty string",
        found,
    }
}

#[test]
fn missing_rtms_stream_id() {
    for (event, id_field) in [
        ("meeting.rtms_started", "meeting_uuid"),
        ("meeting.rtms_stopped", "meeting_uuid"),
        ("webinar.rtms_interrupted", "webinar_uuid"),
        ("session.rtms_started", "session_id"),
        ("contact_center.voice_rtms_stopped", "engagement_id"),
        ("phone.rtms_started", "call_id"),
        ("phone.call_rtms_interrupted", "call_id"),
    ] {
        let body =
            json!({"event": event, "payload": {id_field: "x", "server_urls": "wss://a.zoom.us"}});
        assert_eq!(
            parse_str(&body.to_string()),
            Err(missing(event, "rtms_stream_id")),
            "{event}"
        );
        // Nested form too, and null counts as missing.
        let body = json!({"event": event, "payload": {"object": {id_field: "x", "rtms_stream_id": null, "server_urls": "wss://a.zoom.us"}}});
        assert_eq!(
            parse_str(&body.to_string()),
            Err(missing(event, "rtms_stream_id")),
            "{event}"
        );
    }
}

#[test]
fn missing_id_field_refuses_only_a_start() {
    for (product, field) in [
        ("meeting", "meeting_uuid"),
        ("webinar", "webinar_uuid"),
        ("session", "session_id"),
        ("contact_center", "engagement_id"),
        ("phone", "call_id"),
    ] {
        let name = |stage: &str| match product {
            "contact_center" => format!("contact_center.voice_rtms_{stage}"),
            _ => format!("{product}.rtms_{stage}"),
        };
        // The id of another product does not count.
        let payload =
            json!({"rtms_stream_id": "r", "server_urls": "wss://a.zoom.us", "other_uuid": "x"});
        let started = name("started");
        let body = json!({"event": started, "payload": payload}).to_string();
        let err = parse_str(&body).unwrap_err();
        assert_eq!(err, missing(&started, field), "{started}");
        assert_eq!(err.event(), Some(started.as_str()));
        assert_eq!(err.field(), Some(field));
        // Stopped and interrupted need only the stream id: no 400 (and so no 85 minutes of
        // retries) for a missing product id.
        for stage in ["stopped", "interrupted"] {
            let event = name(stage);
            let body = json!({"event": event, "payload": payload}).to_string();
            let parsed = parse_str(&body).unwrap_or_else(|e| panic!("{event}: {e}"));
            assert_eq!(parsed.rtms_stream_id(), Some("r"), "{event}");
            assert_eq!(parsed.instance(), None, "{event}");
            assert!(parsed.product().is_some(), "{event}");
        }
    }
    let body = r#"{"event":"session.rtms_started","payload":{"meeting_uuid":"m","rtms_stream_id":"r","server_urls":"wss://a.zoom.us"}}"#;
    assert_eq!(
        parse_str(body),
        Err(missing("session.rtms_started", "session_id"))
    );
}

#[test]
fn stopped_without_a_product_id() {
    let s = stopped("meeting_rtms_stopped_stream_only");
    assert_eq!(
        s,
        RtmsStreamEnd::stopped(Product::Meeting, MEETING_STREAM)
            .with_event_ts(TS + 3_600_000)
            .with_stop_reason(StopReason::MeetingEnded)
    );
    // Its key is the stream's, as with the id.
    assert_eq!(
        key(fixture("meeting_rtms_stopped_stream_only")),
        key(fixture("meeting_rtms_stopped"))
    );
    // An unusable id is kept aside, never a reason to refuse the stop.
    let Ok(WebhookEvent::RtmsInterrupted(i)) = parse_str(
        r#"{"event":"phone.rtms_interrupted","payload":{"call_id":7,"rtms_stream_id":"r"}}"#,
    ) else {
        panic!("interrupted")
    };
    assert_eq!(i.instance, None);
    assert_eq!(i.extra, map(json!({ "call_id": 7 })));
}

#[test]
fn stopped_nested_like_the_brief() {
    assert_eq!(
        stopped("meeting_rtms_stopped_nested"),
        RtmsStreamEnd::stopped(Product::Meeting, "5f6e22a6b0a94d0ba5ba8f0d1c4e7f10")
            .with_event_ts(TS + 3_600_001)
            .with_instance(id(IdField::MeetingUuid, "Zx1f5Wr6Q4OM9M6e8hJv4A=="))
            .with_stop_reason(StopReason::HostTriggered)
            .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
            .with_extra(map(json!({
                "meeting_id": "85316541256",
                "host_id": "z8yBXksRQUSEzIIeaY7GTA",
            })))
    );
}

#[test]
fn webinar_interrupted_with_meeting_uuid() {
    assert_eq!(
        interrupted("webinar_rtms_interrupted_meeting_uuid"),
        RtmsStreamEnd::interrupted(Product::Webinar, "a1b2c3d4e5f60718293a4b5c6d7e8f90")
            .with_event_ts(TS + 60_000)
            .with_instance(id(IdField::MeetingUuid, "hMi3W1kJRTq7y0xPzHcmLA=="))
            .with_stop_reason(StopReason::ConnectionTimeout)
            .with_account_id("D8cJuqWVQ623CI4Q8yQK0Q")
            .with_extra(map(json!({ "meeting_id": "91234567890" })))
    );
}

#[test]
fn missing_server_urls_on_started_only() {
    let body =
        r#"{"event":"meeting.rtms_started","payload":{"meeting_uuid":"m","rtms_stream_id":"r"}}"#;
    assert_eq!(
        parse_str(body),
        Err(missing("meeting.rtms_started", "server_urls"))
    );
    let body =
        r#"{"event":"meeting.rtms_stopped","payload":{"meeting_uuid":"m","rtms_stream_id":"r"}}"#;
    assert!(parse_str(body).is_ok());
}

#[test]
fn url_validation_without_token() {
    for payload in [
        json!({}),
        json!({"plain_token": "x"}),
        json!({"plainToken": ""}),
    ] {
        let body = json!({"event": "endpoint.url_validation", "payload": payload}).to_string();
        let err = parse_str(&body).unwrap_err();
        assert_eq!(err.field(), Some("plainToken"), "{body}");
    }
}

#[test]
fn wrong_types_of_required_fields() {
    let e = "meeting.rtms_started";
    let cases = [
        (
            json!({"meeting_uuid": 123, "rtms_stream_id": "r", "server_urls": "wss://a.zoom.us"}),
            invalid(e, "meeting_uuid", "a number"),
        ),
        (
            json!({"meeting_uuid": {"v": "m"}, "rtms_stream_id": "r", "server_urls": "wss://a.zoom.us"}),
            invalid(e, "meeting_uuid", "an object"),
        ),
        (
            json!({"meeting_uuid": "m", "rtms_stream_id": 42, "server_urls": "wss://a.zoom.us"}),
            invalid(e, "rtms_stream_id", "a number"),
        ),
        (
            json!({"meeting_uuid": "m", "rtms_stream_id": "", "server_urls": "wss://a.zoom.us"}),
            invalid(e, "rtms_stream_id", "an empty string"),
        ),
        (
            json!({"meeting_uuid": "m", "rtms_stream_id": true, "server_urls": "wss://a.zoom.us"}),
            invalid(e, "rtms_stream_id", "a boolean"),
        ),
    ];
    for (payload, expected) in cases {
        let body = json!({"event": e, "payload": payload}).to_string();
        assert_eq!(parse_str(&body), Err(expected), "{body}");
    }
    // `server_urls`: a non-empty string or a non-empty array of strings.
    let urls = |found| ParseError::InvalidField {
        event: e.to_owned(),
        field: "server_urls",
        expected: "a non-empty string or array of strings",
        found,
    };
    for (server_urls, found) in [
        (json!([]), "an empty array"),
        (
            json!(["wss://a.zoom.us", 5]),
            "an array with a non-string element",
        ),
        (
            json!([["wss://a.zoom.us"]]),
            "an array with a non-string element",
        ),
        (json!({"all": "wss://a.zoom.us"}), "an object"),
        (json!(443), "a number"),
        (json!(""), "an empty string"),
    ] {
        let body = json!({"event": e, "payload": {"meeting_uuid": "m", "rtms_stream_id": "r",
            "server_urls": server_urls}})
        .to_string();
        assert_eq!(parse_str(&body), Err(urls(found)), "{body}");
    }
    // Webinar start: a present-but-wrong webinar_uuid is an error even when meeting_uuid is
    // fine, and so is a wrong meeting_uuid alone.
    let body = r#"{"event":"webinar.rtms_started","payload":{"webinar_uuid":5,"meeting_uuid":"m","rtms_stream_id":"r","server_urls":"wss://a.zoom.us"}}"#;
    assert_eq!(
        parse_str(body),
        Err(invalid("webinar.rtms_started", "webinar_uuid", "a number"))
    );
    let body = r#"{"event":"webinar.rtms_started","payload":{"meeting_uuid":[],"rtms_stream_id":"r","server_urls":"wss://a.zoom.us"}}"#;
    assert_eq!(
        parse_str(body),
        Err(invalid("webinar.rtms_started", "meeting_uuid", "an array"))
    );
    // Webinar stop: the usable id is taken, the unusable one kept aside.
    let body = r#"{"event":"webinar.rtms_stopped","payload":{"webinar_uuid":5,"meeting_uuid":"m","rtms_stream_id":"r"}}"#;
    let Ok(WebhookEvent::RtmsStopped(s)) = parse_str(body) else {
        panic!("stopped")
    };
    assert_eq!(s.instance, Some(id(IdField::MeetingUuid, "m")));
    assert_eq!(s.extra, map(json!({ "webinar_uuid": 5 })));
    // A wrong stream id is an error on every lifecycle event.
    let body =
        r#"{"event":"webinar.rtms_stopped","payload":{"meeting_uuid":"m","rtms_stream_id":[]}}"#;
    assert_eq!(
        parse_str(body),
        Err(invalid(
            "webinar.rtms_stopped",
            "rtms_stream_id",
            "an array"
        ))
    );
}

#[test]
fn repeated_fields_are_refused_whatever_the_key_order() {
    let event = "meeting.rtms_started";
    let repeated = |field| ParseError::DuplicateField {
        event: event.to_owned(),
        field,
    };
    let ok = r#""meeting_uuid":"m","rtms_stream_id":"r","server_urls":"wss://a.zoom.us""#;
    for (payload, field) in [
        (
            format!(r#"{{{ok},"rtms_stream_id":"r2"}}"#),
            "rtms_stream_id",
        ),
        (
            format!(r#"{{"server_urls":"wss://b.zoom.us",{ok}}}"#),
            "server_urls",
        ),
        (
            format!(r#"{{{ok},"operator_id":"a","operator_id":"b"}}"#),
            "operator_id",
        ),
        (
            format!(r#"{{"object":{{{ok}}},"object":{{{ok}}}}}"#),
            "object",
        ),
        (
            format!(r#"{{"object":{{{ok},"meeting_uuid":"x"}}}}"#),
            "meeting_uuid",
        ),
    ] {
        // Event name before the payload, and after it: the same answer.
        for body in [
            format!(r#"{{"event":"{event}","payload":{payload}}}"#),
            format!(r#"{{"payload":{payload},"event_ts":1,"event":"{event}"}}"#),
        ] {
            let err = parse_str(&body).unwrap_err();
            assert_eq!(err, repeated(field), "{body}");
            assert_eq!(err.event(), Some(event));
            assert_eq!(err.field(), Some(field));
            assert_eq!(
                err.to_string(),
                format!("`{event}` event: payload field `{field}` appears more than once")
            );
        }
    }
    // A field the crate does not read may repeat: the last copy is kept, as in a `Value`.
    let body = format!(r#"{{"event":"{event}","payload":{{{ok},"topic":"a","topic":"b"}}}}"#);
    let Ok(WebhookEvent::RtmsStarted(s)) = parse_str(&body) else {
        panic!("started")
    };
    assert_eq!(s.extra, map(json!({ "topic": "b" })));
    // An unknown event's payload is not read: never an error, whatever repeats, in any order.
    for body in [
        r#"{"event":"x.y","payload":{"rtms_stream_id":"a","rtms_stream_id":"b","object":1,"object":2}}"#,
        r#"{"payload":{"rtms_stream_id":"a","rtms_stream_id":"b","object":1,"object":2},"event":"x.y"}"#,
    ] {
        let Ok(WebhookEvent::Unknown(u)) = parse_str(body) else {
            panic!("{body}")
        };
        assert_eq!(
            u.payload,
            json!({"rtms_stream_id": "b", "object": 2}),
            "{body}"
        );
    }
    // Nor is a missing name hidden by a repeated field.
    assert_eq!(
        parse_str(r#"{"payload":{"object":{},"object":{}}}"#),
        Err(ParseError::MissingEventName)
    );
}

#[test]
fn event_ts_above_2_pow_53_is_kept_exactly() {
    for ts in [
        9_007_199_254_740_993_u64,
        18_446_744_073_709_551_615,
        1_732_313_171_881_000_001,
    ] {
        let body = format!(
            r#"{{"event":"meeting.rtms_stopped","event_ts":{ts},"payload":{{"rtms_stream_id":"r"}}}}"#
        );
        assert_eq!(parse_str(&body).expect("parse").event_ts(), Some(ts));
        let body = format!(r#"{{"event":"x.y","event_ts":"{ts}"}}"#);
        assert_eq!(parse_str(&body).expect("parse").event_ts(), Some(ts));
    }
    // Beyond u64: not a timestamp, not an error.
    let body = r#"{"event":"x.y","event_ts":18446744073709551616}"#;
    assert_eq!(parse_str(body).expect("parse").event_ts(), None);
}

#[test]
fn payload_not_an_object() {
    for (payload, found) in [
        ("[]", "an array"),
        ("[{\"meeting_uuid\":\"m\"}]", "an array"),
        ("\"text\"", "a string"),
        ("1", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
    ] {
        for event in [
            "meeting.rtms_started",
            "endpoint.url_validation",
            "rtms.start_failed",
        ] {
            let body = format!(r#"{{"event":"{event}","payload":{payload}}}"#);
            assert_eq!(
                parse_str(&body),
                Err(ParseError::PayloadNotAnObject {
                    event: event.to_owned(),
                    found
                }),
                "{body}"
            );
            // Same when the payload comes first (buffered path).
            let body = format!(r#"{{"payload":{payload},"event":"{event}"}}"#);
            assert_eq!(
                parse_str(&body),
                Err(ParseError::PayloadNotAnObject {
                    event: event.to_owned(),
                    found
                }),
                "{body}"
            );
        }
    }
    assert_eq!(
        parse_str(r#"{"event":"rtms.concurrency_near_limit"}"#),
        Err(ParseError::MissingPayload {
            event: "rtms.concurrency_near_limit".to_owned()
        })
    );
    assert_eq!(
        parse_str(r#"{"event":"meeting.rtms_stopped","payload":{"object":"m"}}"#),
        Err(ParseError::InvalidField {
            event: "meeting.rtms_stopped".to_owned(),
            field: "object",
            expected: "a JSON object",
            found: "a string",
        })
    );
}

#[test]
fn invalid_json() {
    for body in [
        &b""[..],
        b"   ",
        b"not json",
        b"{",
        b"{\"event\":\"meeting.rtms_started\",\"payload\":{\"meeting_uuid\":\"m\"",
        b"[]",
        b"\"event\"",
        b"null",
        b"{\"event\":\"x.y\",\"payload\":{}} trailing",
        b"{\"event\":\"x.y\",\"payload\":{}}{}",
        b"{\"event\":\"x.y\",\"event\":\"meeting.rtms_started\"}",
        b"{\"event\":\"x.y\",\"payload\":{},\"payload\":{}}",
        b"{\"event\":\"x.y\",\"event_ts\":1,\"event_ts\":2}",
        b"{\"event\":\"x.y\",\"payload\":{\"a\":\"\xff\xfe\"}}",
        b"{'event':'x.y'}",
    ] {
        match WebhookEvent::parse(body) {
            Err(ParseError::InvalidJson(msg)) => {
                assert!(!msg.is_empty());
                let err = ParseError::InvalidJson(msg);
                assert_eq!(err.event(), None);
                assert_eq!(err.field(), None);
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
        }
    }
}

#[test]
fn missing_event_name() {
    for body in [
        r#"{}"#,
        r#"{"payload":{"plainToken":"x"}}"#,
        r#"{"event":null,"payload":{}}"#,
        r#"{"event":"","payload":{}}"#,
        r#"{"event":5,"payload":{}}"#,
        r#"{"event":["meeting.rtms_started"],"payload":{}}"#,
        r#"{"event":{"name":"meeting.rtms_started"},"payload":{}}"#,
        r#"{"payload":{},"event_ts":1}"#,
    ] {
        assert_eq!(parse_str(body), Err(ParseError::MissingEventName), "{body}");
    }
}

#[test]
fn display_is_helpful_and_never_echoes_input() {
    let err = parse_str(
        r#"{"event":"webinar.rtms_started","payload":{"webinar_uuid":"w","rtms_stream_id":99,"server_urls":"wss://a.zoom.us"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`webinar.rtms_started` event: payload field `rtms_stream_id` must be a non-empty string, found a number"
    );
    assert_eq!(
        ParseError::MissingEventName.to_string(),
        "webhook body has no event name (`event` is missing, empty or not a string)"
    );
    let err = parse_str(r#"{"event":"rtms.start_failed","payload":[]}"#).unwrap_err();
    assert!(err.to_string().contains("rtms.start_failed"));
    assert!(err.to_string().contains("an array"));

    // Huge and secret-looking values are never echoed.
    let huge = "SECRETVALUE".repeat(10_000);
    let bodies = [
        format!(
            r#"{{"event":"meeting.rtms_started","payload":{{"meeting_uuid":"m","rtms_stream_id":"r","server_urls":"wss://a.zoom.us"}}}} "{huge}""#
        ),
        format!(
            r#"{{"event":"meeting.rtms_started","payload":{{"meeting_uuid":{{"{huge}":1}},"rtms_stream_id":"r"}}}}"#
        ),
        format!(
            r#"{{"event":"meeting.rtms_started","payload":{{"meeting_uuid":"m","rtms_stream_id":"{huge}"#
        ),
        format!(r#"{{"event":"{huge}\x","payload":{{}}}}"#),
        format!(r#"{{"event":"{huge}"#),
        format!(r#""{huge}""#),
        format!(r#"["{huge}"]"#),
    ];
    for body in &bodies {
        let err = parse_str(body).unwrap_err();
        let shown = err.to_string();
        assert!(shown.len() < 300, "{} bytes: {shown}", shown.len());
        assert!(!shown.contains("SECRETVALUE"), "{shown}");
        assert!(!format!("{err:?}").contains("SECRETVALUE"));
    }
}

#[test]
fn parse_error_is_std_error_and_clone() {
    fn assert_error<E: std::error::Error + Send + Sync + Clone + 'static>(_: &E) {}
    let err = parse_str("{").unwrap_err();
    assert_error(&err);
    assert_eq!(err.clone(), err);
}

// ---------------------------------------------------------------------------------------------
// De-duplication keys
// ---------------------------------------------------------------------------------------------

fn key(body: &[u8]) -> String {
    dedup_key(
        &WebhookEvent::parse(body).unwrap_or_else(|e| panic!("{e}")),
        body,
    )
}

#[test]
fn dedup_same_body_same_key() {
    for (name, body) in FIXTURES {
        assert_eq!(key(body), key(body), "{name}");
    }
}

#[test]
fn dedup_started_twice_same_stream_same_key() {
    let first = fixture("meeting_rtms_started_flat");
    let text = std::str::from_utf8(first).expect("utf8");
    let later = text.replace("1732313171881", "1732313999999");
    assert_ne!(text, later);
    // sha256("wss://zoomsjc144-195-19-154zssgw.sjc.zoom.us:443"), first 16 hex characters:
    // python3 -c "import hashlib; print(hashlib.sha256(b'wss://zoomsjc144-195-19-154zssgw.sjc.zoom.us:443').hexdigest()[:16])"
    assert_eq!(
        key(first),
        format!("started:meeting:{MEETING_STREAM}:3f9b08513fcba553")
    );
    assert_eq!(key(first), key(later.as_bytes()));
    // Nested instead of flat, other extra fields, same stream and servers: still the same start.
    let nested = format!(
        r#"{{"event":"meeting.rtms_started","event_ts":1,"payload":{{"account_id":"a","object":{{"meeting_uuid":"other-uuid","rtms_stream_id":"{MEETING_STREAM}","server_urls":"wss://zoomsjc144-195-19-154zssgw.sjc.zoom.us:443","future":1}}}}}}"#
    );
    assert_eq!(key(first), key(nested.as_bytes()));
}

#[test]
fn dedup_failover_start_with_new_servers_is_not_a_duplicate() {
    // Zoom's failover: rtms_started for an already-active stream with new server_urls means
    // "reconnect to these servers"; it must be processed.
    let first = fixture("meeting_rtms_started_flat");
    let text = std::str::from_utf8(first).expect("utf8");
    let failover = text.replace(
        "wss://zoomsjc144-195-19-154zssgw.sjc.zoom.us:443",
        "wss://zoomiad9-1-2-3zssgw.iad.zoom.us:443",
    );
    assert_ne!(text, failover);
    assert_ne!(key(first), key(failover.as_bytes()));
    assert!(key(failover.as_bytes()).starts_with(&format!("started:meeting:{MEETING_STREAM}:")));
}

#[test]
fn dedup_different_streams_different_keys() {
    assert_ne!(
        key(fixture("meeting_rtms_started_flat")),
        key(fixture("meeting_rtms_started_nested"))
    );
    // Same stream id in different products: different keys.
    let a = br#"{"event":"meeting.rtms_started","payload":{"meeting_uuid":"m","rtms_stream_id":"r","server_urls":"wss://a.zoom.us"}}"#;
    let b = br#"{"event":"webinar.rtms_started","payload":{"webinar_uuid":"m","rtms_stream_id":"r","server_urls":"wss://a.zoom.us"}}"#;
    assert_ne!(key(a), key(b));
    // Started and stopped of one stream: different keys.
    assert_ne!(
        key(fixture("meeting_rtms_started_flat")),
        key(fixture("meeting_rtms_stopped"))
    );
}

#[test]
fn dedup_server_urls_array_is_the_joined_string() {
    let string = br#"{"event":"contact_center.voice_rtms_started","payload":{"engagement_id":"e","rtms_stream_id":"s","server_urls":"wss://a.zoom.us/x,wss://b.zoom.us/y"}}"#;
    let array = br#"{"event":"contact_center.voice_rtms_started","payload":{"engagement_id":"e","rtms_stream_id":"s","server_urls":["wss://a.zoom.us/x","wss://b.zoom.us/y"]}}"#;
    assert_eq!(key(string), key(array));
    // python3 -c "import hashlib; print(hashlib.sha256(b'wss://a.zoom.us/x,wss://b.zoom.us/y').hexdigest()[:16])"
    assert_eq!(
        key(array),
        format!(
            "started:contact_center:s:{}",
            &sha_hex(b"wss://a.zoom.us/x,wss://b.zoom.us/y")[..16]
        )
    );
    // Other servers: another start (a failover), not a duplicate.
    let moved = br#"{"event":"contact_center.voice_rtms_started","payload":{"engagement_id":"e","rtms_stream_id":"s","server_urls":["wss://c.zoom.us/x"]}}"#;
    assert_ne!(key(array), key(moved));
}

#[test]
fn dedup_phone_alias_and_canonical_share_a_key() {
    let canonical = fixture("phone_rtms_started");
    let alias = fixture("phone_call_rtms_started");
    assert_ne!(canonical, alias);
    assert_eq!(key(canonical), key(alias));
    assert_eq!(
        key(canonical),
        // python3 -c "import hashlib; print(hashlib.sha256(b'wss://rtms-yyz1.zoom.us/phone').hexdigest()[:16])"
        "started:phone:ph1e2d3c4b5a69788796a5b4c3d2e1f0:ad8e8bb7117f73d0"
    );
    let stop_a =
        br#"{"event":"phone.rtms_stopped","payload":{"call_id":"c","rtms_stream_id":"s"}}"#;
    let stop_b = br#"{"event":"phone.call_rtms_stopped","event_ts":5,"payload":{"call_id":"c","rtms_stream_id":"s"}}"#;
    assert_eq!(key(stop_a), key(stop_b));
    assert_eq!(key(stop_a), "stopped:phone:s");
}

#[test]
fn dedup_other_events_hash_the_body() {
    for name in [
        "meeting_rtms_interrupted",
        "url_validation",
        "rtms_concurrency_near_limit",
        "rtms_concurrency_limited",
        "rtms_start_failed",
        "unknown_event",
    ] {
        let body = fixture(name);
        let event = parse(name);
        assert_eq!(
            dedup_key(&event, body),
            format!("{}:{}", event.name(), sha_hex(body)),
            "{name}"
        );
    }
    // A new interruption of the same stream is a different body, so a different key.
    let a = br#"{"event":"meeting.rtms_interrupted","event_ts":1,"payload":{"meeting_uuid":"m","rtms_stream_id":"r"}}"#;
    let b = br#"{"event":"meeting.rtms_interrupted","event_ts":2,"payload":{"meeting_uuid":"m","rtms_stream_id":"r"}}"#;
    assert_ne!(key(a), key(b));
    // Known vector: SHA-256 of the empty-payload body below.
    let body = br#"{"event":"x.y"}"#;
    assert_eq!(key(body), format!("x.y:{}", sha_hex(body)));
    assert_eq!(key(body).len(), "x.y:".len() + 64);
}

// ---------------------------------------------------------------------------------------------
// Small public types
// ---------------------------------------------------------------------------------------------

#[test]
fn product_id_field_lifecycle_names() {
    let products = [
        (Product::Meeting, "meeting"),
        (Product::Webinar, "webinar"),
        (Product::VideoSdk, "video_sdk"),
        (Product::ContactCenter, "contact_center"),
        (Product::Phone, "phone"),
    ];
    for (p, s) in products {
        assert_eq!(p.as_str(), s);
        assert_eq!(p.to_string(), s);
        assert_eq!(serde_json::to_value(p).expect("ser"), json!(s));
    }
    let fields = [
        (IdField::MeetingUuid, "meeting_uuid"),
        (IdField::WebinarUuid, "webinar_uuid"),
        (IdField::SessionId, "session_id"),
        (IdField::EngagementId, "engagement_id"),
        (IdField::CallId, "call_id"),
    ];
    for (f, s) in fields {
        assert_eq!(f.as_str(), s);
        assert_eq!(f.to_string(), s);
    }
    for (l, s) in [
        (Lifecycle::Started, "started"),
        (Lifecycle::Stopped, "stopped"),
        (Lifecycle::Interrupted, "interrupted"),
    ] {
        assert_eq!(l.as_str(), s);
        assert_eq!(l.to_string(), s);
    }
    let instance = id(IdField::CallId, "c1");
    assert_eq!(instance.as_str(), "c1");
    assert_eq!(instance.to_string(), "c1");
    assert_eq!(
        serde_json::to_value(&instance).expect("ser"),
        json!({"field": "call_id", "value": "c1"})
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

mod props {
    use super::*;
    use proptest::prelude::*;

    const LIFECYCLE_NAMES: [(&str, &str); 6] = [
        ("meeting", "meeting_uuid"),
        ("webinar", "webinar_uuid"),
        ("session", "session_id"),
        ("contact_center", "engagement_id"),
        ("phone", "call_id"),
        ("phone", "call_id"),
    ];

    fn name(index: usize, stage: &str) -> String {
        let (prefix, _) = LIFECYCLE_NAMES[index];
        match index {
            3 => format!("{prefix}.voice_rtms_{stage}"),
            5 => format!("{prefix}.call_rtms_{stage}"),
            _ => format!("{prefix}.rtms_{stage}"),
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = WebhookEvent::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_near_valid_bodies(
            event in prop_oneof![
                Just("meeting.rtms_started".to_owned()),
                Just("rtms.start_failed".to_owned()),
                Just("endpoint.url_validation".to_owned()),
                "[a-z._]{0,30}",
            ],
            payload in prop_oneof![
                Just(json!(null)),
                Just(json!([])),
                Just(json!({"object": 1})),
                any::<i64>().prop_map(|n| json!({"rtms_stream_id": n, "meeting_uuid": n})),
                "\\PC{0,20}".prop_map(|s| json!({"object": {"rtms_stream_id": s, "meeting_uuid": s, "server_urls": s}})),
            ],
            cut in 0usize..200,
        ) {
            let body = json!({"event": event, "payload": payload}).to_string();
            let _ = WebhookEvent::parse(body.as_bytes());
            let cut = cut.min(body.len());
            let _ = WebhookEvent::parse(&body.as_bytes()[..cut]);
        }

        #[test]
        fn flat_nested_and_reordered_agree(
            index in 0usize..6,
            stage in prop_oneof![Just("started"), Just("stopped"), Just("interrupted")],
            instance in "\\PC{1,24}",
            stream in "[0-9a-f]{1,32}",
            account in "[A-Za-z0-9_]{1,22}",
            ts in any::<u64>(),
            reason in any::<i64>(),
        ) {
            let event = name(index, stage);
            let id_field = LIFECYCLE_NAMES[index].1;
            let mut fields = json!({
                id_field: instance,
                "rtms_stream_id": stream,
                "server_urls": "wss://rtms-sjc1.zoom.us/x",
            });
            if stage != "started" {
                fields["stop_reason"] = json!(reason);
                if let Some(o) = fields.as_object_mut() {
                    o.remove("server_urls");
                }
            }
            let mut flat = fields.clone();
            flat["account_id"] = json!(account);
            let flat_body = json!({"event": event, "event_ts": ts, "payload": flat}).to_string();
            let nested_body = json!({
                "event": event, "event_ts": ts,
                "payload": {"account_id": account, "object": fields},
            })
            .to_string();
            let reordered_body = format!(
                r#"{{"payload":{},"event_ts":{ts},"event":{}}}"#,
                json!({"object": fields, "account_id": account}),
                json!(event),
            );
            let a = WebhookEvent::parse(flat_body.as_bytes()).expect("flat");
            let b = WebhookEvent::parse(nested_body.as_bytes()).expect("nested");
            let c = WebhookEvent::parse(reordered_body.as_bytes()).expect("reordered");
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(&a, &c);
            prop_assert_eq!(a.name(), event.as_str());
            prop_assert_eq!(a.event_ts(), Some(ts));
            prop_assert_eq!(a.rtms_stream_id(), Some(stream.as_str()));
            prop_assert_eq!(a.instance().map(|i| i.value.as_str()), Some(instance.as_str()));
            prop_assert_eq!(a.instance().map(|i| i.field.as_str()), Some(id_field));
            if stage != "interrupted" {
                prop_assert_eq!(dedup_key(&a, flat_body.as_bytes()), dedup_key(&b, nested_body.as_bytes()));
            }
        }

        #[test]
        fn unknown_names_round_trip(event in "[a-z_.]{1,40}", ts in any::<u64>()) {
            prop_assume!(!event.contains("rtms") && event != "endpoint.url_validation");
            let body = json!({"event": event, "event_ts": ts, "payload": {"k": [1, "v"]}}).to_string();
            let parsed = WebhookEvent::parse(body.as_bytes()).expect("unknown");
            prop_assert_eq!(
                parsed,
                WebhookEvent::Unknown(
                    UnknownEvent::new(event.clone(), json!({"k": [1, "v"]})).with_event_ts(ts)
                )
            );
        }
    }
}
