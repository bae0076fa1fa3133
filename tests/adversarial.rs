//! An adversarial corpus: hostile requests, bodies, headers and `server_urls`, each with the
//! outcome this crate promises, through the public API and through `Receiver::receive`
//! (verifier clock fixed at `T0`) for the HTTP status. Nothing here may panic; none of the URL tricks may pass the allowlist.
//!
//! The decisions asserted here are documented in SECURITY.md.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
use zoom_rtms_webhooks::event::{IdField, InstanceId, ParseError, RtmsStarted};
use zoom_rtms_webhooks::handshake::{MediaKind, SignalingHandshakeResponse};
use zoom_rtms_webhooks::receiver::{
    HandoffError, Outcome, ReceiverConfig, Rejection, WebhookRequest, WebhookResponse,
    DEFAULT_BODY_LIMIT,
};
use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl, ServerUrlError};
use zoom_rtms_webhooks::signature::{
    sign, Error, SignatureHeaders, Verifier, VerifyError, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use zoom_rtms_webhooks::{Delivery, Product, Receiver, WebhookEvent};

const SECRET: &str = "adversarial-secret-token";
const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn ts0() -> String {
    T0.to_string()
}

fn hmac_hex(key: &str, msg: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|e| panic!("hmac key: {e}"));
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

fn verifier() -> Verifier {
    verifier_at(at(T0))
}

/// A verifier for `SECRET` whose clock reads `now`.
fn verifier_at(now: SystemTime) -> Verifier {
    Verifier::builder()
        .with_secret("default", SECRET)
        .with_clock(move || now)
        .build()
        .unwrap_or_else(|e| panic!("verifier: {e}"))
}

/// The two header values read from `headers` (`None` if absent, repeated or not UTF-8).
fn header_values(headers: &http::HeaderMap) -> (Option<&str>, Option<&str>) {
    let read = SignatureHeaders::from_header_map(headers);
    (read.signature(), read.timestamp())
}

/// Polls a future that must not wait: `Receiver::receive` with in-memory types never does.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("receive pended with in-memory types"),
    }
}

type Sink = Arc<Mutex<Vec<Delivery>>>;
type TestHandoff = Box<dyn Fn(Delivery) -> Result<(), HandoffError> + Send + Sync>;

struct Harness {
    receiver: Receiver<MemoryDeduplicator, HandoffFn>,
    sink: Sink,
}

/// A closure hand-off that records what it gets.
struct HandoffFn(TestHandoff);

impl zoom_rtms_webhooks::receiver::Handoff for HandoffFn {
    fn hand_off<'a>(
        &'a self,
        delivery: Delivery,
        _raw_body: &'a [u8],
    ) -> impl std::future::Future<Output = Result<(), HandoffError>> + Send + 'a {
        std::future::ready((self.0)(delivery))
    }
}

fn harness_with(verifier: Verifier, config: ReceiverConfig) -> Harness {
    let sink: Sink = Arc::new(Mutex::new(Vec::new()));
    let handoff = {
        let sink = Arc::clone(&sink);
        HandoffFn(Box::new(move |d| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(d);
            Ok(())
        }))
    };
    Harness {
        receiver: Receiver::new(verifier, MemoryDeduplicator::new(), handoff).with_config(config),
        sink,
    }
}

fn harness() -> Harness {
    harness_with(verifier(), ReceiverConfig::default())
}

impl Harness {
    fn send(&self, sig: Option<&str>, ts: Option<&str>, body: &[u8]) -> (Outcome, WebhookResponse) {
        self.send_req(WebhookRequest::post(sig, ts, body))
    }

    fn send_req(&self, req: WebhookRequest<'_>) -> (Outcome, WebhookResponse) {
        let outcome = block_on(self.receiver.receive(req));
        let response = outcome.response();
        (outcome, response)
    }

    /// Signed correctly with the secret at T0.
    fn signed(&self, body: &[u8]) -> (Outcome, WebhookResponse) {
        let sig = sign(SECRET, &ts0(), body);
        self.send(Some(&sig), Some(&ts0()), body)
    }

    fn delivered(&self) -> usize {
        self.sink.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

fn status_signed(body: &[u8]) -> u16 {
    harness().signed(body).1.status
}

fn parse_err(body: &[u8]) -> ParseError {
    match WebhookEvent::parse(body) {
        Ok(e) => panic!("expected a parse error, got {e:?}"),
        Err(e) => e,
    }
}

/// The dialable URLs of a started event whose `server_urls` is `urls`.
fn started_urls(urls: &str) -> Result<Vec<ServerUrl>, ServerUrlError> {
    let started = RtmsStarted::new(
        Product::Meeting,
        InstanceId::new(IdField::MeetingUuid, "m"),
        "r",
        urls,
    );
    started.server_urls(&HostPolicy::default())
}

fn started_with_urls(urls: &str) -> Vec<u8> {
    serde_json::json!({
        "event": "meeting.rtms_started",
        "event_ts": 1_732_313_171_881_u64,
        "payload": {
            "meeting_uuid": "4444AAAiAAAAAiAiAiiAii==",
            "rtms_stream_id": "03db704592624398931a588dd78200cb",
            "server_urls": urls,
        }
    })
    .to_string()
    .into_bytes()
}

const CHALLENGE: &[u8] =
    br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}"#;

// =============================================================================================
// JSON structure
// =============================================================================================

#[test]
fn ten_thousand_open_brackets_are_a_400_not_a_stack_overflow() {
    // At the top level: refused at the first byte (not an object).
    let deep = "[".repeat(10_000);
    assert!(matches!(
        parse_err(deep.as_bytes()),
        ParseError::InvalidJson(_)
    ));
    assert_eq!(status_signed(deep.as_bytes()), 400);

    // Inside the payload of an unknown event (kept raw as a `Value`): serde_json's recursion
    // limit (128) stops it.
    let body = format!(r#"{{"event":"x.y","payload":{}}}"#, "[".repeat(10_000));
    let err = parse_err(body.as_bytes());
    assert!(
        matches!(&err, ParseError::InvalidJson(m) if m.contains("recursion limit")),
        "{err}"
    );
    assert_eq!(status_signed(body.as_bytes()), 400);
    // Payload before the event name (buffered as a `Value` first).
    let body = format!(
        r#"{{"payload":{},"event":"meeting.rtms_started"}}"#,
        "[".repeat(10_000)
    );
    assert_eq!(status_signed(body.as_bytes()), 400);
    // Inside the payload of a known event (streamed into its fields).
    let body = format!(
        r#"{{"event":"meeting.rtms_started","payload":{{"extra":{}}}}}"#,
        "{\"a\":".repeat(10_000)
    );
    assert_eq!(status_signed(body.as_bytes()), 400);
    // Deep in an ignored envelope field.
    let body = format!(r#"{{"event":"x.y","ignored":{}}}"#, "[".repeat(10_000));
    assert_eq!(status_signed(body.as_bytes()), 400);
    // And in a handshake reply.
    assert!(SignalingHandshakeResponse::parse(deep.as_bytes()).is_err());
}

#[test]
fn nesting_within_serde_json_limit_is_accepted() {
    // serde_json's limit is 128 levels; 100 levels inside an unknown payload are fine.
    let body = format!(
        r#"{{"event":"x.y","payload":{}{}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_eq!(status_signed(body.as_bytes()), 200);
}

#[test]
fn huge_numbers() {
    // event_ts 1e400 overflows f64: serde_json refuses the number, the body is a 400.
    let body = br#"{"event":"meeting.rtms_stopped","event_ts":1e400,"payload":{"meeting_uuid":"m","rtms_stream_id":"s"}}"#;
    assert!(matches!(parse_err(body), ParseError::InvalidJson(_)));
    assert_eq!(status_signed(body), 400);

    // event_ts 2^64 does not fit a u64: it is read leniently as "no timestamp".
    let body = br#"{"event":"meeting.rtms_stopped","event_ts":18446744073709551616,"payload":{"meeting_uuid":"m","rtms_stream_id":"s"}}"#;
    let event = WebhookEvent::parse(body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event.event_ts(), None);
    assert_eq!(status_signed(body), 200);

    // u64::MAX fits; negative, fractional and beyond-2^53 floats are "no timestamp".
    for (ts, expected) in [
        ("18446744073709551615", Some(u64::MAX)),
        ("-1", None),
        ("1.5", None),
        ("1e300", None),
        ("\"18446744073709551616\"", None),
    ] {
        let body = format!(r#"{{"event":"x.y","event_ts":{ts},"payload":{{}}}}"#);
        let event = WebhookEvent::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{ts}: {e}"));
        assert_eq!(event.event_ts(), expected, "{ts}");
    }

    // An out-of-range stop_reason or count is kept aside, not wrapped or truncated.
    let body = br#"{"event":"meeting.rtms_stopped","payload":{"meeting_uuid":"m","rtms_stream_id":"s","stop_reason":18446744073709551616}}"#;
    match WebhookEvent::parse(body) {
        Ok(WebhookEvent::RtmsStopped(s)) => {
            assert_eq!(s.stop_reason, None);
            assert!(s.extra.contains_key("stop_reason"));
        }
        other => panic!("{other:?}"),
    }
    let body = br#"{"event":"rtms.concurrency_near_limit","payload":{"concurrency_number":-5,"concurrency_limit":1e20,"percentage":"1e999"}}"#;
    match WebhookEvent::parse(body) {
        Ok(WebhookEvent::ConcurrencyNearLimit(c)) => {
            assert_eq!(c.concurrency_number, None);
            assert_eq!(c.concurrency_limit, None);
            assert_eq!(c.percentage, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicate_envelope_keys_are_refused() {
    // Two `event` keys: a JSON parser that keeps the first and one that keeps the last would
    // disagree on what the request is. The crate refuses to pick.
    for body in [
        &br#"{"event":"endpoint.url_validation","event":"x.y","payload":{"plainToken":"t"}}"#[..],
        br#"{"event":"x.y","payload":{},"payload":{}}"#,
        br#"{"event":"x.y","event_ts":1,"event_ts":2,"payload":{}}"#,
    ] {
        let err = parse_err(body);
        assert!(
            matches!(&err, ParseError::InvalidJson(m) if m.contains("duplicate field")),
            "{err}"
        );
        assert_eq!(status_signed(body), 400);
    }
}

#[test]
fn duplicate_payload_keys_are_refused_and_object_beats_flat() {
    // A repeated field the crate reads is refused whatever the key order (a first-copy and a
    // last-copy parser would disagree on what the request is).
    let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"first","plainToken":"second"}}"#;
    assert!(matches!(
        WebhookEvent::parse(body),
        Err(ParseError::DuplicateField {
            field: "plainToken",
            ..
        })
    ));
    assert_eq!(status_signed(body), 400);
    let body = started_body_dup_urls();
    assert!(matches!(
        WebhookEvent::parse(&body),
        Err(ParseError::DuplicateField {
            field: "server_urls",
            ..
        })
    ));
    assert_eq!(status_signed(&body), 400);
    // `payload.object` wins over a flat field of the same name, in either order.
    let body = br#"{"event":"meeting.rtms_started","payload":{"server_urls":"wss://sjc.zoom.us","object":{"meeting_uuid":"m","rtms_stream_id":"r","server_urls":"wss://evil.example"}}}"#;
    match WebhookEvent::parse(body) {
        Ok(WebhookEvent::RtmsStarted(s)) => {
            assert_eq!(s.server_urls.joined(), "wss://evil.example");
            assert!(matches!(
                s.server_urls(&HostPolicy::default()),
                Err(ServerUrlError::HostNotAllowed { .. })
            ));
        }
        other => panic!("{other:?}"),
    }
}

fn started_body_dup_urls() -> Vec<u8> {
    br#"{"event":"meeting.rtms_started","payload":{"meeting_uuid":"m","rtms_stream_id":"r","server_urls":"wss://sjc.zoom.us","server_urls":"wss://evil.example"}}"#.to_vec()
}

#[test]
fn utf8_bom_before_the_json_is_a_400() {
    let mut body = "\u{feff}".as_bytes().to_vec();
    body.extend_from_slice(CHALLENGE);
    assert!(matches!(parse_err(&body), ParseError::InvalidJson(_)));
    let h = harness();
    let (outcome, response) = h.signed(&body);
    assert_eq!(response.status, 400);
    assert!(!matches!(outcome, Outcome::Challenge(_)));
    // Unsigned, the BOM changes nothing: 401 first.
    assert_eq!(h.send(None, Some(&ts0()), &body).1.status, 401);
}

#[test]
fn invalid_utf8() {
    // Inside a string, outside a string, and a lone continuation byte.
    for body in [
        &b"{\"event\":\"x.\xff\",\"payload\":{}}"[..],
        b"{\"event\":\"x.y\",\"payload\":{}}\xff",
        b"\x80",
        b"{\"event\":\"endpoint.url_validation\",\"payload\":{\"plainToken\":\"\xc3\x28\"}}",
    ] {
        assert!(matches!(parse_err(body), ParseError::InvalidJson(_)));
        assert_eq!(status_signed(body), 400);
        assert_eq!(harness().send(None, None, body).1.status, 401);
    }
    // A header that is not UTF-8 counts as absent.
    let body = CHALLENGE;
    let mut headers = http::HeaderMap::new();
    headers.insert(
        SIGNATURE_HEADER,
        http::HeaderValue::from_bytes(b"v0=\xff\xfe").unwrap_or_else(|e| panic!("{e}")),
    );
    headers.insert(
        TIMESTAMP_HEADER,
        http::HeaderValue::from_str(&ts0()).unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(header_values(&headers), (None, Some(ts0().as_str())));
    assert_eq!(
        verifier()
            .verify(SignatureHeaders::from_header_map(&headers), body)
            .err(),
        Some(VerifyError::MissingSignature)
    );
    let req = WebhookRequest::from_headers("POST", &headers, body);
    assert_eq!(harness().send_req(req).1.status, 401);
}

#[test]
fn nul_bytes() {
    // A raw NUL is not JSON (inside a string it is an unescaped control character).
    for body in [
        &b"{\"event\":\"x.y\",\"payload\":{}}\0"[..],
        b"\0{\"event\":\"x.y\",\"payload\":{}}",
        b"{\"event\":\"x.y\0\",\"payload\":{}}",
    ] {
        assert!(matches!(parse_err(body), ParseError::InvalidJson(_)));
        assert_eq!(status_signed(body), 400);
    }
    // An escaped NUL is text: a name with a trailing NUL is *not* the known event.
    let body = br#"{"event":"endpoint.url_validation\u0000","payload":{"plainToken":"t"}}"#;
    let h = harness();
    let (outcome, response) = h.signed(body);
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    assert!(
        response.body.is_empty(),
        "no challenge reply for a look-alike name"
    );
    // An escaped NUL in a plainToken is answered over the exact bytes.
    let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"a\u0000b"}}"#;
    let (outcome, response) = harness().signed(body);
    assert!(matches!(outcome, Outcome::Challenge(_)));
    let json: serde_json::Value =
        serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["plainToken"], "a\u{0}b");
    assert_eq!(json["encryptedToken"], hmac_hex(SECRET, b"a\0b"));
    // NUL in header values (the &str API; `http` cannot even carry them).
    let sig = sign(SECRET, &ts0(), CHALLENGE);
    assert_eq!(
        verifier()
            .verify(
                SignatureHeaders::new(Some(&format!("{sig}\0")), Some(&ts0())),
                CHALLENGE
            )
            .err(),
        Some(VerifyError::InvalidLength { len: 65 })
    );
    assert_eq!(
        verifier()
            .verify(
                SignatureHeaders::new(Some(&sig), Some(&format!("{T0}\0"))),
                CHALLENGE
            )
            .err(),
        Some(VerifyError::InvalidTimestamp)
    );
    assert!(http::HeaderValue::from_bytes(b"v0=\0").is_err());
}

#[test]
fn very_long_strings_and_the_body_limit() {
    let mib = "A".repeat(1 << 20);
    let body =
        format!(r#"{{"event":"endpoint.url_validation","payload":{{"plainToken":"{mib}"}}}}"#);
    // Over the default 64 KiB limit: 413 before any HMAC is computed, signed or not.
    let h = harness();
    assert_eq!(h.signed(body.as_bytes()).1.status, 413);
    assert_eq!(h.send(None, None, body.as_bytes()).1.status, 413);
    assert_eq!(
        h.send(Some("v0="), Some("x"), body.as_bytes()).1.status,
        413
    );
    assert_eq!(h.delivered(), 0);

    // Within a raised limit, a 1 MiB token is answered like any other.
    let big = harness_with(
        verifier(),
        ReceiverConfig::default().with_body_limit(2 << 20),
    );
    let (outcome, response) = big.signed(body.as_bytes());
    assert!(matches!(outcome, Outcome::Challenge(_)));
    let json: serde_json::Value =
        serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["encryptedToken"], hmac_hex(SECRET, mib.as_bytes()));

    // A 1 MiB event name: an unknown event, acknowledged.
    let body = format!(r#"{{"event":"{mib}","payload":{{}}}}"#);
    assert_eq!(big.signed(body.as_bytes()).1.status, 200);

    // Exactly at the limit is accepted, one byte over is not.
    let base = br#"{"event":"x.y","payload":{}}"#;
    let mut exact = base.to_vec();
    exact.resize(DEFAULT_BODY_LIMIT, b' ');
    assert_eq!(status_signed(&exact), 200);
    exact.push(b' ');
    assert_eq!(status_signed(&exact), 413);
}

#[test]
fn error_messages_do_not_grow_with_the_body() {
    let mib = "B".repeat(1 << 20);
    for body in [
        format!("\"{mib}\""),
        format!("{{\"event\":\"x.y\",\"payload\":{{}}}} {mib}"),
        format!(
            "{{\"event\":\"meeting.rtms_started\",\"payload\":{{\"meeting_uuid\":\"{mib}\"}}}}"
        ),
        format!("{{\"event\":{mib}}}"),
        mib.clone(),
    ] {
        let err = parse_err(body.as_bytes());
        let text = err.to_string();
        assert!(text.len() < 400, "{} bytes: {:.120}", text.len(), text);
        assert!(
            !text.contains("BBBBBBBB"),
            "the body is echoed: {text:.120}"
        );
    }
}

#[test]
fn non_object_bodies_are_a_400() {
    for body in [
        &b""[..],
        b"null",
        b"[]",
        b"123",
        b"\"endpoint.url_validation\"",
        b"{}",
        br#"{"event":""}"#,
        br#"{"event":null,"payload":{}}"#,
        br#"{"event":["endpoint.url_validation"],"payload":{"plainToken":"t"}}"#,
        br#"{"event":"endpoint.url_validation","payload":"plainToken"}"#,
        br#"{"event":"endpoint.url_validation","payload":{"plainToken":""}}"#,
        br#"{"event":"endpoint.url_validation","payload":{"plainToken":7}}"#,
        br#"{"event":"endpoint.url_validation"}"#,
        br#"{"event":"meeting.rtms_started","payload":{"object":[]}}"#,
    ] {
        let (outcome, response) = harness().signed(body);
        assert_eq!(response.status, 400, "{}", String::from_utf8_lossy(body));
        assert!(matches!(
            outcome,
            Outcome::Rejected(Rejection::BadRequest(_))
        ));
        assert_eq!(response.body, b"bad request");
    }
}

// =============================================================================================
// Headers
// =============================================================================================

#[test]
fn timestamp_header_edge_cases() {
    let body = CHALLENGE;
    let check = |ts: &str, now: u64| {
        let sig = sign(SECRET, ts, body);
        verifier_at(at(now))
            .verify(SignatureHeaders::new(Some(&sig), Some(ts)), body)
            .err()
    };
    // 2^64 overflows u64: refused as malformed, not wrapped.
    assert_eq!(
        check("18446744073709551616", T0),
        Some(VerifyError::InvalidTimestamp)
    );
    assert_eq!(
        check(&"9".repeat(4096), T0),
        Some(VerifyError::InvalidTimestamp)
    );
    // u64::MAX and 0 parse, and are far outside the window (no overflow in the arithmetic).
    assert_eq!(
        check("18446744073709551615", T0),
        Some(VerifyError::TimestampOutOfTolerance {
            timestamp: u64::MAX,
            now: T0
        })
    );
    assert_eq!(
        check("0", T0),
        Some(VerifyError::TimestampOutOfTolerance {
            timestamp: 0,
            now: T0
        })
    );
    assert_eq!(
        check("18446744073709551615", u64::from(u32::MAX) * 1000),
        Some(VerifyError::TimestampOutOfTolerance {
            timestamp: u64::MAX,
            now: u64::from(u32::MAX) * 1000
        })
    );
    // Milliseconds are out of the window.
    assert!(matches!(
        check(&(T0 * 1000).to_string(), T0),
        Some(VerifyError::TimestampOutOfTolerance { .. })
    ));
    // Signs, spaces, decimals, exponents, non-ASCII digits, empty.
    for ts in [
        "+1700000000",
        "-1700000000",
        " 1700000000",
        "1700000000 ",
        "1700000000.0",
        "1.7e9",
        "١٧٠٠٠٠٠٠٠٠",
        "",
        "0x6553F100",
    ] {
        assert_eq!(check(ts, T0), Some(VerifyError::InvalidTimestamp), "{ts:?}");
    }
    // Bounds of the window are inclusive.
    assert_eq!(check(&(T0 - 300).to_string(), T0), None);
    assert_eq!(check(&(T0 + 300).to_string(), T0), None);
    assert!(check(&(T0 + 301).to_string(), T0).is_some());
    // A clock before the epoch counts as the epoch.
    let sig = sign(SECRET, "0", body);
    let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
    assert!(verifier_at(before_epoch)
        .verify(SignatureHeaders::new(Some(&sig), Some("0")), body)
        .is_ok());
}

#[test]
fn leading_zeros_in_the_timestamp_do_not_make_a_replay() {
    // The MAC covers the timestamp text exactly as sent: re-writing it (same number, other
    // text) to slip a captured request past a "seen timestamps" check invalidates it.
    let sig = sign(SECRET, &ts0(), CHALLENGE);
    for ts in [format!("0{T0}"), format!("00{T0}")] {
        assert_eq!(
            verifier()
                .verify(SignatureHeaders::new(Some(&sig), Some(&ts)), CHALLENGE)
                .err(),
            Some(VerifyError::Mismatch),
            "{ts}"
        );
    }
    // The crate itself parses them as the same second when they are what was signed.
    let ts = format!("0{T0}");
    let sig = sign(SECRET, &ts, CHALLENGE);
    let verified = verifier()
        .verify(SignatureHeaders::new(Some(&sig), Some(&ts)), CHALLENGE)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verified.timestamp(), T0);
}

#[test]
fn signature_header_shapes() {
    let body = CHALLENGE;
    let good = sign(SECRET, &ts0(), body);
    let hex_part = good.trim_start_matches("v0=").to_owned();
    let check = |sig: &str| {
        verifier()
            .verify(SignatureHeaders::new(Some(sig), Some(&ts0())), body)
            .err()
    };

    assert_eq!(check(&good), None);
    // Upper-case hex decodes to the same MAC bytes: accepted (documented).
    assert_eq!(check(&format!("v0={}", hex_part.to_uppercase())), None);
    // Surrounding whitespace.
    assert_eq!(check(&format!(" {good}")), Some(VerifyError::MissingPrefix));
    assert_eq!(
        check(&format!("{good} ")),
        Some(VerifyError::InvalidLength { len: 65 })
    );
    assert_eq!(
        check(&format!("{good}\t")),
        Some(VerifyError::InvalidLength { len: 65 })
    );
    assert_eq!(
        check(&format!("v0= {hex_part}")),
        Some(VerifyError::InvalidLength { len: 65 })
    );
    // Two values joined by a comma (how some proxies fold repeated headers), either order.
    let other = sign("another-secret", &ts0(), body);
    assert!(matches!(
        check(&format!("{good},{other}")),
        Some(VerifyError::InvalidLength { .. })
    ));
    assert!(matches!(
        check(&format!("{other}, {good}")),
        Some(VerifyError::InvalidLength { .. })
    ));
    // Prefix variants.
    assert_eq!(
        check(&format!("V0={hex_part}")),
        Some(VerifyError::MissingPrefix)
    );
    assert_eq!(
        check(&format!("v1={hex_part}")),
        Some(VerifyError::MissingPrefix)
    );
    assert_eq!(check(&hex_part), Some(VerifyError::MissingPrefix));
    assert_eq!(check("v0="), Some(VerifyError::EmptySignature));
    assert_eq!(check(""), Some(VerifyError::MissingPrefix));
    // Truncated, padded, non-hex, multi-byte characters.
    assert_eq!(
        check(&good[..good.len() - 1]),
        Some(VerifyError::InvalidLength { len: 63 })
    );
    assert_eq!(
        check(&format!("{good}00")),
        Some(VerifyError::InvalidLength { len: 66 })
    );
    assert_eq!(
        check(&format!("v0={}", "g".repeat(64))),
        Some(VerifyError::InvalidHex)
    );
    assert_eq!(
        check(&format!("v0={}é", &hex_part[..62])),
        Some(VerifyError::InvalidHex)
    );
    assert!(check(&format!("v0={}", "é".repeat(32))).is_some());
    // All zeros (the "empty MAC" pattern) is just a mismatch.
    assert_eq!(
        check(&format!("v0={}", "0".repeat(64))),
        Some(VerifyError::Mismatch)
    );

    // Every one of these is a 401 through the receiver.
    let h = harness();
    for sig in [
        format!(" {good}"),
        format!("{good},{other}"),
        "v0=".to_owned(),
    ] {
        assert_eq!(h.send(Some(&sig), Some(&ts0()), body).1.status, 401);
    }
}

#[test]
fn repeated_headers_are_refused() {
    let body = CHALLENGE;
    let good = sign(SECRET, &ts0(), body);
    let hv = |s: &str| http::HeaderValue::from_str(s).unwrap_or_else(|e| panic!("{e}"));

    // Two signature values (valid + garbage, in both orders, and two identical valid ones).
    for (first, second) in [
        (good.as_str(), "v0=garbage"),
        ("v0=garbage", good.as_str()),
        (good.as_str(), good.as_str()),
    ] {
        let mut headers = http::HeaderMap::new();
        headers.append(SIGNATURE_HEADER, hv(first));
        headers.append("X-ZM-Signature", hv(second)); // names are case-insensitive
        headers.insert(TIMESTAMP_HEADER, hv(&ts0()));
        assert_eq!(
            verifier()
                .verify(SignatureHeaders::from_header_map(&headers), body)
                .err(),
            Some(VerifyError::AmbiguousHeader {
                header: SIGNATURE_HEADER
            })
        );
        assert_eq!(header_values(&headers).0, None);
        let (outcome, response) =
            harness().send_req(WebhookRequest::from_headers("POST", &headers, body));
        assert_eq!(response.status, 401);
        assert!(!matches!(outcome, Outcome::Challenge(_)));
    }

    // Two timestamps.
    let mut headers = http::HeaderMap::new();
    headers.insert(SIGNATURE_HEADER, hv(&good));
    headers.append(TIMESTAMP_HEADER, hv(&ts0()));
    headers.append(TIMESTAMP_HEADER, hv("1"));
    assert_eq!(
        verifier()
            .verify(SignatureHeaders::from_header_map(&headers), body)
            .err(),
        Some(VerifyError::AmbiguousHeader {
            header: TIMESTAMP_HEADER
        })
    );
    assert_eq!(
        harness()
            .send_req(WebhookRequest::from_headers("POST", &headers, body))
            .1
            .status,
        401
    );
}

#[test]
fn methods() {
    let h = harness();
    let sig = sign(SECRET, &ts0(), CHALLENGE);
    let ts = ts0();
    for (method, status) in [
        ("POST", 200),
        ("post", 200),
        ("GET", 405),
        ("PUT", 405),
        ("POST ", 405),
        ("", 405),
        ("P\0ST", 405),
    ] {
        let req = WebhookRequest {
            method,
            ..WebhookRequest::post(Some(&sig), Some(&ts), CHALLENGE)
        };
        let (_, response) = h.send_req(req);
        assert_eq!(response.status, status, "{method:?}");
        if status == 405 {
            assert!(response.headers.contains(&("allow", "POST".to_owned())));
        }
    }
}

// =============================================================================================
// The signing oracle
// =============================================================================================

/// What an attacker wants signed: a start event pointing at their own server.
fn forged_started() -> Vec<u8> {
    started_with_urls("wss://attacker.example/")
}

fn oracle_challenge(ts: &str, forged: &[u8]) -> Vec<u8> {
    let plain = format!("v0:{ts}:{}", String::from_utf8_lossy(forged));
    serde_json::json!({
        "event": "endpoint.url_validation",
        "payload": { "plainToken": plain },
        "event_ts": 1_700_000_000_000_u64,
    })
    .to_string()
    .into_bytes()
}

#[test]
fn an_unsigned_or_badly_signed_challenge_gets_401_and_no_token() {
    let forged = forged_started();
    let body = oracle_challenge(&ts0(), &forged);
    // The token the attacker hopes to receive: a valid x-zm-signature for the forged body.
    let prize = sign(SECRET, &ts0(), &forged)
        .trim_start_matches("v0=")
        .to_owned();
    let stale = (T0 - 301).to_string();
    let cases: Vec<(Option<String>, Option<String>)> = vec![
        (None, Some(ts0())),
        (None, None),
        (Some("v0=".to_owned()), Some(ts0())),
        (Some(format!("v0={}", "0".repeat(64))), Some(ts0())),
        (Some(sign("another-secret", &ts0(), &body)), Some(ts0())),
        // Correct MAC, but over another timestamp / body.
        (Some(sign(SECRET, &stale, &body)), Some(ts0())),
        (Some(sign(SECRET, &ts0(), CHALLENGE)), Some(ts0())),
        // Properly signed, but outside the window.
        (Some(sign(SECRET, &stale, &body)), Some(stale.clone())),
    ];
    let h = harness();
    for (sig, ts) in &cases {
        let (outcome, response) = h.send(sig.as_deref(), ts.as_deref(), &body);
        assert_eq!(response.status, 401, "{sig:?} {ts:?}");
        assert!(matches!(
            outcome,
            Outcome::Rejected(Rejection::Unauthorized(_))
        ));
        assert_eq!(response.body, b"unauthorized");
        let text = String::from_utf8_lossy(&response.body).into_owned();
        assert!(!text.contains(&prize) && !text.contains("encryptedToken"));
        // The one-call API gives no VerifiedEvent either, so no reply can be built.
        assert!(matches!(
            verifier()
                .verify_and_parse(SignatureHeaders::new(sig.as_deref(), ts.as_deref()), &body),
            Err(Error::Verify(_))
        ));
    }
    assert_eq!(h.receiver.stats().challenges, 0);
    assert_eq!(h.delivered(), 0);
}

#[test]
fn a_signed_challenge_reply_cannot_sign_anything_new() {
    // A genuine, signed challenge (Zoom chose the plainToken), captured by an attacker.
    let h = harness();
    let sig = sign(SECRET, &ts0(), CHALLENGE);
    let (outcome, response) = h.send(Some(&sig), Some(&ts0()), CHALLENGE);
    assert!(matches!(outcome, Outcome::Challenge(_)));
    let json: serde_json::Value =
        serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{e}"));
    let token = json["encryptedToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(token, hmac_hex(SECRET, b"qgg8vlvZRS6UYooatFL8Aw"));

    // Replaying it (within the window) only yields the same reply: nothing new is signed,
    // and challenges are neither de-duplicated nor handed off.
    let (_, again) = h.send(Some(&sig), Some(&ts0()), CHALLENGE);
    assert_eq!(again.body, response.body);
    assert_eq!(h.delivered(), 0);

    // The reply is HMAC(secret, plainToken), a valid x-zm-signature only for a message equal to
    // the plainToken, which Zoom chose and which is not of the form `v0:{ts}:{body}`. Used as a
    // signature for the attacker's body (or the challenge itself), at any time, it fails.
    let as_sig = format!("v0={token}");
    let forged = forged_started();
    for (ts, body) in [
        (ts0(), forged.as_slice()),
        (ts0(), CHALLENGE),
        ((T0 + 1).to_string(), forged.as_slice()),
        (ts0(), b"{}".as_slice()),
    ] {
        assert_eq!(
            verifier()
                .verify(SignatureHeaders::new(Some(&as_sig), Some(&ts)), body)
                .err(),
            Some(VerifyError::Mismatch)
        );
    }
    // And a signature of the challenge request is not a signature of its plainToken's text.
    let shaped = oracle_challenge(&ts0(), &forged);
    let shaped_sig = sign(SECRET, &ts0(), &shaped);
    assert_eq!(
        verifier()
            .verify(
                SignatureHeaders::new(Some(&shaped_sig), Some(&ts0())),
                &forged
            )
            .err(),
        Some(VerifyError::Mismatch)
    );
}

#[test]
fn a_signed_oracle_shaped_token_is_answered_with_the_verifying_secret() {
    // If Zoom itself sent a plainToken shaped like a signed message (the attacker cannot make
    // it: the request must verify first), the reply is the HMAC of exactly that text, with the
    // secret that verified the request. Documented, not a hole: only the secret's owner's
    // traffic reaches this point.
    let verifier = Verifier::builder()
        .with_secret("meeting-app", "meeting-secret")
        .with_secret("sdk-app", "sdk-secret")
        .with_clock(|| at(T0))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let h = harness_with(verifier, ReceiverConfig::default());
    let body = oracle_challenge(&ts0(), b"{}");
    let sig = sign("sdk-secret", &ts0(), &body);
    let (outcome, response) = h.send(Some(&sig), Some(&ts0()), &body);
    assert!(matches!(outcome, Outcome::Challenge(_)));
    let json: serde_json::Value =
        serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{e}"));
    let plain = format!("v0:{T0}:{{}}");
    assert_eq!(json["plainToken"], plain.as_str());
    assert_eq!(
        json["encryptedToken"],
        hmac_hex("sdk-secret", plain.as_bytes())
    );
    assert_ne!(
        json["encryptedToken"],
        hmac_hex("meeting-secret", plain.as_bytes())
    );
}

#[test]
fn look_alike_challenge_names_get_no_reply() {
    for name in [
        "Endpoint.url_validation",
        "endpoint.url_validation ",
        "endpoint.url_validatio",
        "endpoint\u{2024}url_validation",
    ] {
        let body = serde_json::json!({"event": name, "payload": {"plainToken": "t"}}).to_string();
        let (outcome, response) = harness().signed(body.as_bytes());
        assert!(
            matches!(outcome, Outcome::Accepted { .. }),
            "{name:?}: {outcome:?}"
        );
        assert!(response.body.is_empty());
    }
}

// =============================================================================================
// server_urls (SSRF)
// =============================================================================================

/// Every one of these must be refused by the default policy, alone, in a list, and from a
/// signed `rtms_started`.
const REFUSED_URLS: &[&str] = &[
    // Scheme.
    "ws://rtms-sjc1.zoom.us/",
    "https://rtms-sjc1.zoom.us/",
    "http://zoom.us",
    "file:///etc/passwd",
    "wss+unix://zoom.us",
    "//rtms.zoom.us",
    "rtms.zoom.us",
    // IP addresses, in every spelling url understands for a special scheme.
    "wss://127.0.0.1/",
    "wss://127.0.0.1:443/",
    "wss://169.254.169.254/latest/meta-data",
    "wss://[::1]/",
    "wss://[::ffff:127.0.0.1]/",
    "wss://[0:0:0:0:0:ffff:7f00:1]/",
    "wss://2130706433/",
    "wss://0x7f.1/",
    "wss://0x7f000001/",
    "wss://0177.0.0.1/",
    "wss://127.1/",
    "wss://%31%32%37.0.0.1/",
    // Look-alike domains.
    "wss://zoom.us.evil.com/",
    "wss://rtms.zoom.us.evil.com",
    "wss://evilzoom.us/",
    "wss://zoom.usa/",
    "wss://zoom.us-evil.com",
    "wss://zoomus.com",
    "wss://zoom.com",
    // User info.
    "wss://zoom.us@evil.com/",
    "wss://rtms.zoom.us:443@evil.com",
    "wss://user:pass@rtms.zoom.us/",
    "wss://evil.com:@rtms.zoom.us/",
    // Delimiter tricks.
    "wss://evil.com\\@zoom.us",
    "wss:\\\\evil.com\\zoom.us",
    "wss://evil.com#@zoom.us",
    "wss://rtms.zoom.us/#frag",
    "wss://evil.com?.zoom.us",
    "wss://evil.com/.zoom.us",
    "wss://evil.com;.zoom.us",
    "wss://evil.com .zoom.us",
    "wss://evil.com\0.zoom.us",
    "wss://zoom.us\t.evil.com",
    "wss://zoom.us\n.evil.com",
    // Percent-encoding.
    "wss://zoom.us%2eevil.com",
    "wss://evil.com%2F.zoom.us",
    "wss://evil.com%40zoom.us",
    "wss://evil.com%23.zoom.us",
    "wss://%7A%6F%6F%6D.us.evil.com",
    // IDN homographs (Cyrillic о, Greek ο) and their punycode.
    "wss://zооm.us/",
    "wss://rtms.zοοm.us/",
    "wss://xn--zm-mfa2a.us/",
    "wss://zoom.us。evil.com",
    // Trailing and stray dots.
    "wss://zoom.us./",
    "wss://rtms.zoom.us../",
    "wss://.zoom.us/",
    "wss://rtms..zoom.us/",
    // Ports.
    "wss://rtms.zoom.us:8443/",
    "wss://rtms.zoom.us:80/",
    "wss://rtms.zoom.us:0/",
];

#[test]
fn url_tricks_never_pass_the_allowlist() {
    for &url in REFUSED_URLS {
        match ServerUrl::parse(url, &HostPolicy::default()) {
            Ok(u) => panic!("{url:?} passed the allowlist as {u}"),
            Err(e) => {
                assert!(e.to_string().len() < 700);
                assert!(e.url().is_some(), "{url:?}");
            }
        }
        assert!(started_urls(url).is_err(), "{url:?}");
        let list = format!("wss://rtms-sjc1.zoom.us/,{url}");
        if !url.contains(',') {
            assert!(started_urls(&list).is_err(), "list with {url:?}");
        }
        // Through a signed rtms_started: the event is acknowledged (it is authentic), but its
        // URLs are never handed out for dialling.
        let body = started_with_urls(url);
        match WebhookEvent::parse(&body) {
            Ok(WebhookEvent::RtmsStarted(s)) => {
                assert!(s.server_urls(&HostPolicy::default()).is_err(), "{url:?}");
            }
            other => panic!("{url:?}: {other:?}"),
        }
    }
}

#[test]
fn url_tricks_refused_for_the_stated_reason() {
    let reason = |url: &str| ServerUrl::parse(url, &HostPolicy::default()).err();
    assert!(matches!(
        reason("ws://zoom.us"),
        Some(ServerUrlError::NotWss { .. })
    ));
    assert!(matches!(
        reason("wss://zoom.us@evil.com"),
        Some(ServerUrlError::UserInfo { .. })
    ));
    assert!(
        matches!(reason("wss://2130706433/"), Some(ServerUrlError::IpAddress { ref host, .. }) if host == "127.0.0.1")
    );
    assert!(
        matches!(reason("wss://0x7f.1/"), Some(ServerUrlError::IpAddress { ref host, .. }) if host == "127.0.0.1")
    );
    assert!(matches!(
        reason("wss://[::1]/"),
        Some(ServerUrlError::IpAddress { .. })
    ));
    assert!(
        matches!(reason("wss://zoom.us.evil.com"), Some(ServerUrlError::HostNotAllowed { ref host, .. }) if host == "zoom.us.evil.com")
    );
    assert!(matches!(
        reason("wss://evilzoom.us"),
        Some(ServerUrlError::HostNotAllowed { .. })
    ));
    assert!(
        matches!(reason("wss://evil.com\\@zoom.us"), Some(ServerUrlError::HostNotAllowed { ref host, .. }) if host == "evil.com")
    );
    assert!(
        matches!(reason("wss://evil.com?.zoom.us"), Some(ServerUrlError::HostNotAllowed { ref host, .. }) if host == "evil.com")
    );
    assert!(
        matches!(reason("wss://zооm.us"), Some(ServerUrlError::HostNotAllowed { ref host, .. }) if host.starts_with("xn--"))
    );
    assert!(matches!(
        reason("wss://zoom.us./"),
        Some(ServerUrlError::HostNotAllowed { .. })
    ));
    assert!(matches!(
        reason("wss://rtms.zoom.us:8443"),
        Some(ServerUrlError::PortNotAllowed { port: 8443, .. })
    ));
    assert!(reason("wss://evil.com#@zoom.us").is_some());
}

/// Inputs that `url` normalises into a genuine `zoom.us` host: accepted, and what is dialled
/// is the normalised URL, whose host is asserted here.
#[test]
fn normalised_into_a_zoom_host() {
    for (input, host, dial) in [
        (
            "WSS://RTMS-SJC1.ZOOM.US:443",
            "rtms-sjc1.zoom.us",
            "wss://rtms-sjc1.zoom.us/",
        ),
        ("wss://%7A%6F%6F%6D.us", "zoom.us", "wss://zoom.us/"),
        (
            "wss://evil%2ecom.zoom.us",
            "evil.com.zoom.us",
            "wss://evil.com.zoom.us/",
        ),
        ("wss://ｚｏｏｍ.us", "zoom.us", "wss://zoom.us/"),
        ("wss://zoom。us", "zoom.us", "wss://zoom.us/"),
        ("wss://zo\tom.us", "zoom.us", "wss://zoom.us/"),
        ("wss://zoom.us\n/path", "zoom.us", "wss://zoom.us/path"),
        (
            "wss://evil.com\n.zoom.us",
            "evil.com.zoom.us",
            "wss://evil.com.zoom.us/",
        ),
        ("  wss://sjc.zoom.us  ", "sjc.zoom.us", "wss://sjc.zoom.us/"),
        ("wss:sjc.zoom.us", "sjc.zoom.us", "wss://sjc.zoom.us/"),
        ("wss:/sjc.zoom.us", "sjc.zoom.us", "wss://sjc.zoom.us/"),
        (
            "wss:\\\\sjc.zoom.us\\a",
            "sjc.zoom.us",
            "wss://sjc.zoom.us/a",
        ),
        ("wss://@sjc.zoom.us", "sjc.zoom.us", "wss://sjc.zoom.us/"),
        (
            "wss://sjc.zoom.us:0443/",
            "sjc.zoom.us",
            "wss://sjc.zoom.us/",
        ),
    ] {
        let u = ServerUrl::parse(input, &HostPolicy::default())
            .unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(u.host(), host, "{input:?}");
        assert_eq!(u.as_str(), dial, "{input:?}");
        assert!(host == "zoom.us" || host.ends_with(".zoom.us"));
        assert!(u.url().username().is_empty() && u.url().password().is_none());
        // The normalised form is a fixed point.
        assert_eq!(
            ServerUrl::parse(u.as_str(), &HostPolicy::default()).as_ref(),
            Ok(&u)
        );
    }
}

#[test]
fn a_signed_start_with_a_hostile_url_is_acknowledged_but_never_dialable() {
    // The event is authentic (Zoom signed it), so it is acknowledged (a non-2xx would only make
    // Zoom retry it); the URL check happens where a URL is handed out for dialling.
    let h = harness();
    let body = started_with_urls("wss://rtms-sjc1.zoom.us/,ws://169.254.169.254/");
    assert!(matches!(h.signed(&body).0, Outcome::Accepted { .. }));
    let sink = h.sink.lock().unwrap_or_else(|p| p.into_inner());
    match sink.first().map(|d| &d.event) {
        Some(WebhookEvent::RtmsStarted(s)) => {
            assert!(matches!(
                s.server_urls(&HostPolicy::default()),
                Err(ServerUrlError::NotWss { ref url, .. }) if url == "ws://169.254.169.254/"
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_list_with_one_bad_url_is_refused_whole() {
    let err = started_urls("wss://sjc.zoom.us, wss://evil.com ,wss://iad.zoom.us")
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(err.url(), Some("wss://evil.com"));
    // A comma inside a URL splits it: `a,b` is two URLs, each checked.
    assert!(started_urls("wss://sjc.zoom.us/a,evil.com").is_err());
    assert_eq!(started_urls(", ,"), Err(ServerUrlError::Empty));
}

#[test]
fn handshake_media_urls_are_checked_too() {
    for bad in [
        "ws://a.sjc.zoom.us",
        "wss://zoom.us@evil.com",
        "wss://2130706433/",
        "wss://zооm.us",
    ] {
        let reply = serde_json::json!({
            "msg_type": 2, "status_code": 0,
            "media_server": {"server_urls": {"all": bad, "audio": "wss://a.sjc.zoom.us"}}
        })
        .to_string();
        let r =
            SignalingHandshakeResponse::parse(reply.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        // `video` falls back to the refused `all`; `audio` has its own good URL.
        assert!(
            r.media_url(MediaKind::Video, &HostPolicy::default())
                .is_err(),
            "{bad}"
        );
        assert!(r
            .media_url(MediaKind::Audio, &HostPolicy::default())
            .is_ok_and(|u| u.is_some()));
    }
}

// =============================================================================================
// Resource exhaustion and duplicates
// =============================================================================================

#[test]
fn a_full_queue_is_a_503_and_the_retry_is_processed() {
    let sink: Sink = Arc::new(Mutex::new(Vec::new()));
    let full = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let handoff = {
        let (sink, full) = (Arc::clone(&sink), Arc::clone(&full));
        HandoffFn(Box::new(move |d| {
            if full.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(HandoffError::Full);
            }
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(d);
            Ok(())
        }))
    };
    let h = Harness {
        receiver: Receiver::new(verifier(), MemoryDeduplicator::new(), handoff),
        sink,
    };
    let body = started_with_urls("wss://rtms-sjc1.zoom.us/");
    let (_, response) = h.signed(&body);
    assert_eq!(response.status, 503);
    assert!(response
        .headers
        .iter()
        .any(|(n, v)| *n == "retry-after" && v == "5"));
    full.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(h.signed(&body).0, Outcome::Accepted { .. }));
    assert!(matches!(h.signed(&body).0, Outcome::Duplicate { .. }));
    assert_eq!(h.delivered(), 1);
}

#[test]
fn a_second_rtms_started_for_the_same_stream_is_a_duplicate() {
    // Same stream, same servers, another body (new event_ts, whitespace, the flat/nested
    // shape): still one signalling connection.
    let h = harness();
    let first = started_with_urls("wss://rtms-sjc1.zoom.us/");
    assert!(matches!(h.signed(&first).0, Outcome::Accepted { .. }));
    let later = String::from_utf8_lossy(&first).replace("1732313171881", "1732313179999");
    assert!(matches!(
        h.signed(later.as_bytes()).0,
        Outcome::Duplicate { .. }
    ));
    let mut padded = first.clone();
    padded.extend_from_slice(b"   ");
    assert!(matches!(h.signed(&padded).0, Outcome::Duplicate { .. }));
    let nested = serde_json::json!({
        "event": "meeting.rtms_started",
        "payload": {"object": {
            "meeting_uuid": "4444AAAiAAAAAiAiAiiAii==",
            "rtms_stream_id": "03db704592624398931a588dd78200cb",
            "server_urls": "wss://rtms-sjc1.zoom.us/",
        }}
    })
    .to_string();
    assert!(matches!(
        h.signed(nested.as_bytes()).0,
        Outcome::Duplicate { .. }
    ));
    assert_eq!(h.delivered(), 1);
    // Other servers for the same stream: a failover announcement, handed off once.
    let failover = started_with_urls("wss://rtms-iad1.zoom.us/");
    assert!(matches!(h.signed(&failover).0, Outcome::Accepted { .. }));
    assert!(matches!(h.signed(&failover).0, Outcome::Duplicate { .. }));
    assert_eq!(h.delivered(), 2);
}

#[test]
fn unverified_requests_leave_no_trace_in_the_dedup_memory() {
    // Only verified events are marked, so an attacker cannot fill the memory (or pre-mark a
    // stream id to suppress the genuine start) without the secret.
    let h = harness();
    for i in 0..1000 {
        let body = started_with_urls(&format!("wss://rtms-sjc{i}.zoom.us/"));
        let body = String::from_utf8_lossy(&body).replace("03db7045", &format!("{i:08}"));
        assert_eq!(
            h.send(Some("v0=00"), Some(&ts0()), body.as_bytes())
                .1
                .status,
            401
        );
    }
    assert!(h.receiver.deduplicator().is_empty());
    let genuine = started_with_urls("wss://rtms-sjc1.zoom.us/");
    assert!(matches!(h.signed(&genuine).0, Outcome::Accepted { .. }));
}

#[test]
fn the_dedup_memory_is_bounded() {
    use zoom_rtms_webhooks::dedup::Deduplicator;
    let now = std::time::Instant::now();
    let dedup = MemoryDeduplicator::new()
        .with_max_entries(16)
        .with_clock(move || now);
    for i in 0..1000 {
        let _ = block_on(dedup.check_and_mark(&format!("k{i}")));
    }
    assert!(dedup.len() <= 16);
    assert!(dedup.evicted_unexpired() >= 1000 - 16);
}

#[test]
fn debug_output_never_shows_the_secret() {
    let h = harness();
    let sig = sign(SECRET, &ts0(), CHALLENGE);
    let (outcome, _) = h.send(Some(&sig), Some(&ts0()), CHALLENGE);
    for text in [
        format!("{:?}", h.receiver),
        format!("{outcome:?}"),
        format!("{:?}", verifier()),
        format!(
            "{:?}",
            verifier().verify_and_parse(SignatureHeaders::new(Some(&sig), Some(&ts0())), CHALLENGE)
        ),
    ] {
        assert!(!text.contains(SECRET), "{text}");
    }
}
