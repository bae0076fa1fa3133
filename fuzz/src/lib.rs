//! Oracles for the fuzz targets of `zoom-rtms-webhooks`.
//!
//! Each `fuzz_targets/*.rs` is a one-line call into this file, and `tests/fuzz_regressions.rs`
//! in the root crate includes this very file (`#[path]`), so a crash input saved by libFuzzer
//! is replayed as a regression test through exactly the same decoding and the same checks.
//! That is also why this file uses nothing but `std` and dependencies the root crate already
//! has (`zoom_rtms_webhooks`, `hmac`, `sha2`, `hex`, `serde_json`, `http`, `url`).
//!
//! A check is an `assert!`: "no panic" is only the floor. Each target compares the crate with
//! an independent reference model (the signature rules, the status table of the receiver, the
//! server-URL allowlist) and with itself (round trips, replays, determinism).
//!
//! # The request format (`verify_parse`, `receiver`)
//!
//! A raw fuzz input is a request. Without a head it is just the **body**, signed correctly
//! with the default secret at the default time, so the JSON fixtures are seeds as they are and
//! the fuzzer spends its time in the parser. A head starts with `#!` and ends at the first
//! empty line (`\n\n`); each head line is `<key>:<value>`:
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `m` | HTTP method | `POST` |
//! | `k` | the webhook secret token | [`DEFAULT_SECRET`] |
//! | `s` | `x-zm-signature`: `@sign` (correct), `@upper` (correct, upper-case hex), `@wrong` (another secret), `@none` (absent), or a literal | `@sign` |
//! | `t` | `x-zm-request-timestamp`: a literal or `@none` | [`T0`] |
//! | `n` | the receiver's clock, Unix seconds | [`T0`] |
//! | `S` | one more `x-zm-signature` value (repeatable: repeated headers) | none |
//! | `l` | the receiver's body limit in bytes | 64 KiB |
//! | `h` | `fail`: the hand-off refuses the first delivery | succeeds |
#![forbid(unsafe_code)]
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zoom_rtms_webhooks::codes::StatusCode;
use zoom_rtms_webhooks::dedup::{dedup_key, MemoryDeduplicator};
use zoom_rtms_webhooks::event::{
    IdField, InstanceId, Lifecycle, ParseError, RawServerUrls, RtmsStarted,
};
use zoom_rtms_webhooks::handshake::{
    Credentials, MediaKind, SignalingHandshakeRequest, SignalingHandshakeResponse,
};
use zoom_rtms_webhooks::receiver::{
    Delivery, HandoffError, Outcome, Receiver, ReceiverConfig, Rejection, WebhookRequest,
    DEFAULT_BODY_LIMIT,
};
use zoom_rtms_webhooks::region::{HostPolicy, Region, ServerUrl};
use zoom_rtms_webhooks::signature::{
    sign, Error as SignatureError, SignatureHeaders, Verifier, VerifyError, SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
};
use zoom_rtms_webhooks::{Product, WebhookEvent};

// The server→client parser (`server_message`): only with the root crate's `protocol` feature
// (the fuzz crate turns it on; `tests/fuzz_regressions.rs` sees it under `--features protocol`).
#[cfg(feature = "protocol")]
#[path = "server_message.rs"]
mod server_message;
#[cfg(feature = "protocol")]
pub use server_message::server_message;

/// The secret a request is signed with unless the head says otherwise.
pub const DEFAULT_SECRET: &str = "fuzz-Secret-Token-7f3a";

/// The default request timestamp and receiver clock (Unix seconds).
pub const T0: u64 = 1_700_000_000;

/// The verifier's tolerance (the crate's default).
pub const TOLERANCE_SECS: u64 = 300;

/// Longest `Display` text an error may have, whatever the input size: error messages are
/// logged, so they must not grow with (or echo) an attacker's body.
pub const MAX_ERROR_TEXT: usize = 640;

/// Response bodies the receiver may send on a rejection: fixed strings, never the request.
const REJECTION_BODIES: [&[u8]; 6] = [
    b"method not allowed",
    b"payload too large",
    b"unauthorized",
    b"bad request",
    b"unavailable",
    b"",
];

// ---------------------------------------------------------------------------------------------
// The request format
// ---------------------------------------------------------------------------------------------

/// How the `x-zm-signature` header is produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigSpec {
    /// Correct, lower-case hex.
    Sign,
    /// Correct, upper-case hex.
    Upper,
    /// Signed with a different secret.
    Wrong,
    /// Header absent.
    Absent,
    /// This exact value.
    Literal(String),
}

/// One decoded fuzz request.
#[derive(Debug, Clone)]
pub struct Case<'a> {
    /// HTTP method.
    pub method: String,
    /// Webhook secret token the verifier is built with.
    pub secret: String,
    /// How to produce the signature header.
    pub sig: SigSpec,
    /// The timestamp header (`None`: absent).
    pub timestamp: Option<String>,
    /// The receiver's clock, Unix seconds.
    pub now: u64,
    /// More `x-zm-signature` values (repeated header).
    pub extra_sigs: Vec<String>,
    /// Receiver body limit.
    pub body_limit: usize,
    /// The hand-off refuses the first delivery.
    pub handoff_fails: bool,
    /// The raw body.
    pub body: &'a [u8],
}

impl<'a> Case<'a> {
    /// Decodes a raw fuzz input (see the module documentation).
    pub fn decode(data: &'a [u8]) -> Case<'a> {
        let mut case = Case {
            method: "POST".to_owned(),
            secret: DEFAULT_SECRET.to_owned(),
            sig: SigSpec::Sign,
            timestamp: Some(T0.to_string()),
            now: T0,
            extra_sigs: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            handoff_fails: false,
            body: data,
        };
        let Some(rest) = data.strip_prefix(b"#!") else {
            return case;
        };
        let (head, body) = match find(rest, b"\n\n") {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest, &rest[rest.len()..]),
        };
        case.body = body;
        for line in head.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.to_owned();
            match key {
                "m" => case.method = value,
                "k" => case.secret = value,
                "s" => {
                    case.sig = match value.as_str() {
                        "@sign" => SigSpec::Sign,
                        "@upper" => SigSpec::Upper,
                        "@wrong" => SigSpec::Wrong,
                        "@none" => SigSpec::Absent,
                        _ => SigSpec::Literal(value),
                    }
                }
                "t" => case.timestamp = (value != "@none").then_some(value),
                "n" => {
                    if let Ok(n) = value.parse::<u64>() {
                        // Keep `UNIX_EPOCH + n` representable (it panics on overflow).
                        case.now = n.min(1 << 40);
                    }
                }
                "S" => case.extra_sigs.push(value),
                "l" => {
                    if let Ok(l) = value.parse::<usize>() {
                        case.body_limit = l;
                    }
                }
                "h" => case.handoff_fails = value == "fail",
                _ => {}
            }
        }
        case
    }

    /// The `x-zm-signature` value this case sends (`None`: absent).
    pub fn signature(&self) -> Option<String> {
        let ts = self.timestamp.as_deref().unwrap_or("");
        match &self.sig {
            SigSpec::Sign => Some(sign(&self.secret, ts, self.body)),
            SigSpec::Upper => Some(format!(
                "v0={}",
                sign(&self.secret, ts, self.body)
                    .trim_start_matches("v0=")
                    .to_ascii_uppercase()
            )),
            SigSpec::Wrong => Some(sign(&format!("{}-other", self.secret), ts, self.body)),
            SigSpec::Absent => None,
            SigSpec::Literal(s) => Some(s.clone()),
        }
    }

    /// The receiver's clock.
    pub fn now_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.now)
    }

    /// A verifier for the case's secret whose clock reads [`now_time`](Self::now_time).
    pub fn verifier(&self) -> Result<Verifier, zoom_rtms_webhooks::signature::ConfigError> {
        let now = self.now_time();
        Verifier::builder()
            .with_secret("default", self.secret.as_str())
            .with_clock(move || now)
            .build()
    }

    /// Encodes a case as a raw fuzz input (for building seeds and regression inputs).
    pub fn encode(head: &[&str], body: &[u8]) -> Vec<u8> {
        let mut out = b"#!".to_vec();
        for line in head {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        if head.is_empty() {
            out.push(b'\n');
        }
        out.extend_from_slice(body);
        out
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// Reference model of the signature check
// ---------------------------------------------------------------------------------------------

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// What the verifier must answer, derived from Zoom's rules and the documented order of the
/// checks, independently of the crate's code.
pub fn expected_verify(
    secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<u64, VerifyError> {
    let signature = signature.ok_or(VerifyError::MissingSignature)?;
    let ts_raw = timestamp.ok_or(VerifyError::MissingTimestamp)?;
    if ts_raw.is_empty() || !ts_raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidTimestamp);
    }
    let ts: u64 = ts_raw.parse().map_err(|_| VerifyError::InvalidTimestamp)?;
    if now.abs_diff(ts) > TOLERANCE_SECS {
        return Err(VerifyError::TimestampOutOfTolerance { timestamp: ts, now });
    }
    let hex_part = signature
        .strip_prefix("v0=")
        .ok_or(VerifyError::MissingPrefix)?;
    if hex_part.is_empty() {
        return Err(VerifyError::EmptySignature);
    }
    if hex_part.len() != 64 {
        return Err(VerifyError::InvalidLength {
            len: hex_part.len(),
        });
    }
    let given = hex::decode(hex_part).map_err(|_| VerifyError::InvalidHex)?;
    let expected = hmac_hex(secret.as_bytes(), &[b"v0:", ts_raw.as_bytes(), b":", body]);
    if hex::encode(given) != expected {
        return Err(VerifyError::Mismatch);
    }
    Ok(ts)
}

// ---------------------------------------------------------------------------------------------
// Event checks (shared by verify_parse and receiver)
// ---------------------------------------------------------------------------------------------

/// Parses `body` and checks every invariant of the result. Returns the parse result.
pub fn check_event(body: &[u8]) -> Result<WebhookEvent, ParseError> {
    let parsed = WebhookEvent::parse(body);
    // Deterministic.
    assert_eq!(
        parsed,
        WebhookEvent::parse(body),
        "parse is not deterministic"
    );
    match &parsed {
        Ok(event) => check_parsed_event(event, body),
        Err(err) => check_error_text(&err.to_string(), &format!("{err:?}")),
    }
    parsed
}

fn check_error_text(display: &str, debug: &str) {
    assert!(
        display.len() <= MAX_ERROR_TEXT,
        "error Display is {} bytes: {display:.200}",
        display.len()
    );
    assert!(!debug.is_empty());
}

fn check_parsed_event(event: &WebhookEvent, body: &[u8]) {
    let name = event.name();
    assert!(!name.is_empty(), "empty event name accepted");
    let _ = format!("{event:?}");

    // The name is the one any JSON parser reads from the body.
    if let Ok(serde_json::Value::Object(obj)) = serde_json::from_slice::<serde_json::Value>(body) {
        assert_eq!(
            obj.get("event").and_then(|v| v.as_str()),
            Some(name),
            "event name differs from a plain JSON parse"
        );
    }

    // Surrounding JSON whitespace changes nothing.
    let mut padded = b" \n".to_vec();
    padded.extend_from_slice(body);
    padded.extend_from_slice(b"\t\r\n ");
    assert_eq!(
        WebhookEvent::parse(&padded).as_ref(),
        Ok(event),
        "JSON whitespace around the body changed the result"
    );

    let key = dedup_key(event, body);
    match event {
        WebhookEvent::RtmsStarted(s) => {
            assert!(!s.rtms_stream_id.is_empty());
            assert!(!s.instance.value.is_empty());
            assert!(match &s.server_urls {
                RawServerUrls::Text(text) => !text.is_empty(),
                RawServerUrls::List(list) => !list.is_empty(),
                _ => true,
            });
            // One key per stream (and announced servers), whatever else the body holds.
            assert!(key.starts_with(&format!(
                "started:{}:{}",
                s.product.as_str(),
                s.rtms_stream_id
            )));
            assert_eq!(
                dedup_key(event, b""),
                key,
                "a start's key depends on the raw body"
            );
            assert_eq!(event.lifecycle(), Some(Lifecycle::Started));
            match s.server_urls(&HostPolicy::default()) {
                Ok(urls) => {
                    assert!(!urls.is_empty());
                    for u in &urls {
                        check_zoom_url(u);
                    }
                }
                Err(e) => check_error_text(&e.to_string(), &format!("{e:?}")),
            }
        }
        WebhookEvent::RtmsStopped(s) => {
            assert!(!s.rtms_stream_id.is_empty());
            assert!(s.instance.as_ref().is_none_or(|i| !i.value.is_empty()));
            assert!(key.starts_with(&format!(
                "stopped:{}:{}",
                s.product.as_str(),
                s.rtms_stream_id
            )));
            assert_eq!(
                dedup_key(event, b""),
                key,
                "a stop's key depends on the raw body"
            );
        }
        WebhookEvent::RtmsInterrupted(s) => {
            assert!(!s.rtms_stream_id.is_empty());
            assert!(s.instance.as_ref().is_none_or(|i| !i.value.is_empty()));
            assert_eq!(key.len(), name.len() + 1 + 64);
        }
        WebhookEvent::UrlValidation(v) => {
            assert!(!v.plain_token.is_empty());
            assert_eq!(key.len(), name.len() + 1 + 64);
        }
        _ => {
            assert!(key.starts_with(name));
            assert_eq!(key.len(), name.len() + 1 + 64);
        }
    }
    if event.lifecycle().is_some() {
        assert!(event.product().is_some());
        assert!(event.rtms_stream_id().is_some());
    }
    if event.lifecycle() == Some(Lifecycle::Started) {
        assert!(event.instance().is_some());
    }
}

// ---------------------------------------------------------------------------------------------
// Target: verify_parse
// ---------------------------------------------------------------------------------------------

/// `Verifier::verify` (and the `HeaderMap` path) against the reference model, then parse,
/// then the challenge reply. Returns whether the request verified.
pub fn verify_parse(data: &[u8]) -> bool {
    let case = Case::decode(data);
    let verifier = match case.verifier() {
        Ok(v) => v,
        Err(_) => {
            assert!(is_blank(&case.secret), "a non-blank secret was refused");
            return false;
        }
    };
    assert!(!is_blank(&case.secret), "a blank secret was accepted");
    if case.secret == DEFAULT_SECRET {
        assert!(!format!("{verifier:?}").contains(DEFAULT_SECRET));
    }
    let signature = case.signature();
    let sig = signature.as_deref();
    let ts = case.timestamp.as_deref();

    // `sign` is the documented formula.
    if let Some(t) = ts {
        assert_eq!(
            sign(&case.secret, t, case.body),
            format!(
                "v0={}",
                hmac_hex(
                    case.secret.as_bytes(),
                    &[b"v0:", t.as_bytes(), b":", case.body]
                )
            )
        );
    }

    let expected = expected_verify(&case.secret, sig, ts, case.body, case.now);
    let got = verifier.verify(SignatureHeaders::new(sig, ts), case.body);
    match (&got, &expected) {
        (Ok(v), Ok(t)) => {
            assert_eq!(v.timestamp(), *t);
            assert_eq!(v.secret_label(), "default");
            assert_eq!(v.body(), case.body);
        }
        (Err(g), Err(e)) => {
            assert_eq!(g, e, "wrong verification error");
            check_error_text(&g.to_string(), &format!("{g:?}"));
            if case.secret == DEFAULT_SECRET {
                assert!(!g.to_string().contains(DEFAULT_SECRET));
            }
        }
        (g, e) => panic!("verify: got {g:?}, reference model says {e:?}"),
    }

    check_header_map_path(&verifier, &case, sig, ts);

    let parsed = check_event(case.body);
    let Ok(verified) = got else {
        // An unverified request never reaches the challenge reply: there is no API for it.
        return false;
    };
    let verified_event = verified.parse();
    assert_eq!(
        verified_event
            .as_ref()
            .map(|v| v.event())
            .map_err(|e| match e {
                SignatureError::Parse(e) => Some(e.clone()),
                _ => None,
            }),
        parsed.as_ref().map_err(|e| Some(e.clone())),
        "Verified::parse differs from WebhookEvent::parse"
    );
    let Ok(verified_event) = verified_event else {
        return true;
    };
    check_challenge(&verified_event, &case.secret);

    // The one-call API agrees.
    let one_call = verifier.verify_and_parse(SignatureHeaders::new(sig, ts), case.body);
    assert_eq!(
        one_call.ok().map(|v| v.into_event()),
        Some(verified_event.into_event())
    );
    true
}

fn check_challenge(event: &zoom_rtms_webhooks::signature::VerifiedEvent, secret: &str) {
    match (event.event(), event.challenge_response()) {
        (WebhookEvent::UrlValidation(v), Some(reply)) => {
            assert_eq!(reply.plain_token, v.plain_token);
            assert_eq!(
                reply.encrypted_token,
                hmac_hex(secret.as_bytes(), &[v.plain_token.as_bytes()])
            );
            let json: serde_json::Value = match serde_json::from_slice(&reply.to_json()) {
                Ok(json) => json,
                Err(e) => panic!("challenge reply is not JSON: {e}"),
            };
            assert_eq!(json["plainToken"].as_str(), Some(v.plain_token.as_str()));
            assert_eq!(
                json["encryptedToken"].as_str(),
                Some(reply.encrypted_token.as_str())
            );
            assert_eq!(json.as_object().map(|o| o.len()), Some(2));
        }
        (WebhookEvent::UrlValidation(_), None) => panic!("verified challenge got no reply"),
        (_, Some(_)) => panic!("a reply for an event that is not a challenge"),
        (_, None) => {}
    }
}

fn header_value(v: &str) -> Option<http::HeaderValue> {
    http::HeaderValue::from_str(v).ok()
}

/// Builds the `HeaderMap` a framework would hand over; returns it with the signature values
/// that made it in (a value `http` refuses cannot be sent at all).
fn header_map(case: &Case<'_>, sig: Option<&str>, ts: Option<&str>) -> (http::HeaderMap, usize) {
    let mut headers = http::HeaderMap::new();
    let mut sig_count = 0;
    for v in sig
        .into_iter()
        .chain(case.extra_sigs.iter().map(String::as_str))
    {
        if let Some(hv) = header_value(v) {
            headers.append(SIGNATURE_HEADER, hv);
            sig_count += 1;
        }
    }
    if let Some(hv) = ts.and_then(header_value) {
        headers.append(TIMESTAMP_HEADER, hv);
    }
    (headers, sig_count)
}

/// The two values as `SignatureHeaders` reads them (`None`: absent, repeated or not UTF-8).
fn header_values(headers: &http::HeaderMap) -> (Option<&str>, Option<&str>) {
    let read = SignatureHeaders::from_header_map(headers);
    (read.signature(), read.timestamp())
}

fn check_header_map_path(
    verifier: &Verifier,
    case: &Case<'_>,
    sig: Option<&str>,
    ts: Option<&str>,
) {
    let (headers, sig_count) = header_map(case, sig, ts);
    let got = verifier.verify(SignatureHeaders::from_header_map(&headers), case.body);
    if sig_count >= 2 {
        assert_eq!(
            got.err(),
            Some(VerifyError::AmbiguousHeader {
                header: SIGNATURE_HEADER
            }),
            "a repeated signature header was not refused"
        );
        assert_eq!(header_values(&headers).0, None);
        return;
    }
    let (hsig, hts) = header_values(&headers);
    let expected = expected_verify(&case.secret, hsig, hts, case.body, case.now);
    assert_eq!(
        got.map(|v| v.timestamp()),
        expected,
        "verify(from_header_map) disagrees with the reference model"
    );
}

// ---------------------------------------------------------------------------------------------
// Target: receiver
// ---------------------------------------------------------------------------------------------

/// Polls a future that must complete without waiting: with `MemoryDeduplicator` and a closure
/// hand-off nothing in `Receiver::receive` does I/O.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("Receiver::receive pended with in-memory types"),
    }
}

type Sink = Arc<Mutex<Vec<Delivery>>>;

fn deliveries(sink: &Sink) -> Vec<Delivery> {
    match sink.lock() {
        Ok(v) => v.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// The whole decision for one request against the status table of `receiver.rs`, then the
/// same request again (a Zoom retry). Returns the status of the first answer (0: no receiver,
/// the secret was blank).
pub fn receiver(data: &[u8]) -> u16 {
    let case = Case::decode(data);
    let Ok(verifier) = case.verifier() else {
        return 0;
    };
    let sink: Sink = Arc::new(Mutex::new(Vec::new()));
    let fail = Arc::new(AtomicBool::new(case.handoff_fails));
    let handoff = {
        let sink = Arc::clone(&sink);
        let fail = Arc::clone(&fail);
        move |d: Delivery| {
            if fail.swap(false, Ordering::SeqCst) {
                return Err(HandoffError::Full);
            }
            match sink.lock() {
                Ok(mut v) => v.push(d),
                Err(poisoned) => poisoned.into_inner().push(d),
            }
            Ok(())
        }
    };
    let receiver = Receiver::new(verifier, MemoryDeduplicator::new(), handoff)
        .with_config(ReceiverConfig::default().with_body_limit(case.body_limit));
    if case.secret == DEFAULT_SECRET {
        assert!(!format!("{receiver:?}").contains(DEFAULT_SECRET));
    }

    let signature = case.signature();
    let (headers, sig_count) = header_map(&case, signature.as_deref(), case.timestamp.as_deref());
    // Through a HeaderMap, as the http-1.x adapters do: a repeated header counts as absent.
    let request = WebhookRequest::from_headers(&case.method, &headers, case.body);
    if sig_count >= 2 {
        assert_eq!(request.headers.signature(), None);
    }

    let outcome = block_on(receiver.receive(request));
    let response = outcome.response();
    assert!(
        !matches!(outcome, Outcome::Challenge(_)) || response.status == 200,
        "challenge with a non-200 status"
    );

    // The reference decision.
    let verdict = expected_verify(
        &case.secret,
        request.headers.signature(),
        request.headers.timestamp(),
        case.body,
        case.now,
    );
    let expected_status = if !case.method.eq_ignore_ascii_case("POST") {
        405
    } else if case.body.len() > case.body_limit {
        413
    } else if verdict.is_err() {
        401
    } else {
        match WebhookEvent::parse(case.body) {
            Err(_) => 400,
            // A challenge is answered before (and instead of) the hand-off.
            Ok(WebhookEvent::UrlValidation(_)) => 200,
            Ok(_) if case.handoff_fails => 503,
            Ok(_) => 200,
        }
    };
    assert_eq!(
        response.status, expected_status,
        "status {} for {outcome:?}, expected {expected_status}",
        response.status
    );
    if let Outcome::Rejected(rejection) = &outcome {
        assert_eq!(rejection.status(), response.status);
        assert!(
            REJECTION_BODIES.contains(&response.body.as_slice()),
            "a rejection body that is not a fixed string"
        );
        check_error_text(&rejection.to_string(), &format!("{rejection:?}"));
    }
    if response.status == 503 {
        assert!(response
            .headers
            .iter()
            .any(|(n, v)| *n == "retry-after" && v.parse::<u64>().is_ok_and(|s| s >= 1)));
    }
    if response.status == 405 {
        assert!(response
            .headers
            .iter()
            .any(|(n, v)| *n == "allow" && v == "POST"));
    }
    let stats = receiver.stats();
    let total = stats.accepted
        + stats.duplicates
        + stats.challenges
        + stats.unauthorized
        + stats.bad_request
        + stats.too_large
        + stats.method_not_allowed
        + stats.unavailable;
    assert_eq!(total, 1, "one request, one counter: {stats:?}");

    let event = match (&outcome, verdict) {
        (Outcome::Challenge(_), Ok(_)) | (Outcome::Accepted { .. }, Ok(_)) => {
            WebhookEvent::parse(case.body).ok()
        }
        (Outcome::Rejected(Rejection::HandoffUnavailable { .. }), Ok(_)) => {
            WebhookEvent::parse(case.body).ok()
        }
        _ => None,
    };

    match &outcome {
        Outcome::Challenge(resp) => {
            let Some(WebhookEvent::UrlValidation(v)) = &event else {
                panic!("a challenge reply for a request that is not a verified challenge");
            };
            let json: serde_json::Value = match serde_json::from_slice(&resp.body) {
                Ok(json) => json,
                Err(e) => panic!("challenge reply is not JSON: {e}"),
            };
            assert_eq!(json["plainToken"].as_str(), Some(v.plain_token.as_str()));
            let expected = hmac_hex(case.secret.as_bytes(), &[v.plain_token.as_bytes()]);
            assert_eq!(json["encryptedToken"].as_str(), Some(expected.as_str()));
            assert!(deliveries(&sink).is_empty(), "a challenge was handed off");
        }
        Outcome::Accepted {
            dedup_key,
            event: name,
        } => {
            let Some(event) = event else {
                panic!("accepted without a verified, parsable body");
            };
            let handed = deliveries(&sink);
            assert_eq!(handed.len(), 1, "accepted but not handed off exactly once");
            assert_eq!(handed[0].event, event);
            assert_eq!(&handed[0].dedup_key, dedup_key);
            assert_eq!(
                dedup_key,
                &zoom_rtms_webhooks::dedup::dedup_key(&event, case.body)
            );
            assert_eq!(name, event.name());
            assert_eq!(handed[0].secret_label, "default");
        }
        Outcome::Duplicate { .. } => panic!("a fresh receiver reported a duplicate"),
        Outcome::Rejected(_) => {
            assert!(
                deliveries(&sink).is_empty(),
                "a rejected request was handed off"
            );
        }
        _ => {}
    }

    // Zoom's retry of the same request.
    let again = block_on(receiver.receive(request));
    match (&outcome, &again) {
        (Outcome::Accepted { dedup_key: a, .. }, Outcome::Duplicate { dedup_key: b }) => {
            assert_eq!(a, b);
        }
        (Outcome::Accepted { .. }, other) => panic!("a retry of an accepted event: {other:?}"),
        (Outcome::Rejected(Rejection::HandoffUnavailable { .. }), Outcome::Accepted { .. }) => {}
        (Outcome::Rejected(Rejection::HandoffUnavailable { .. }), other) => {
            panic!("the retry after a 503 was not processed: {other:?}")
        }
        (Outcome::Challenge(a), Outcome::Challenge(b)) => assert_eq!(a, b),
        (Outcome::Rejected(a), Outcome::Rejected(b)) => assert_eq!(a.status(), b.status()),
        (a, b) => panic!("the same request decided differently: {a:?} then {b:?}"),
    }
    let handed = deliveries(&sink);
    assert!(
        handed.len() <= 1,
        "one event handed off {} times",
        handed.len()
    );
    response.status
}

// ---------------------------------------------------------------------------------------------
// Target: server_url
// ---------------------------------------------------------------------------------------------

/// Everything a URL accepted by the default policy must be.
pub fn check_zoom_url(u: &ServerUrl) {
    let url = u.url();
    assert_eq!(url.scheme(), "wss", "accepted a non-wss URL: {u}");
    assert!(url.username().is_empty(), "accepted a user name: {u}");
    assert!(url.password().is_none(), "accepted a password: {u}");
    assert!(url.port().is_none(), "accepted a port: {u}");
    assert!(url.fragment().is_none(), "accepted a fragment: {u}");
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d,
        other => panic!("accepted a non-domain host {other:?}: {u}"),
    };
    assert!(
        host == "zoom.us" || host.ends_with(".zoom.us"),
        "accepted host {host:?}"
    );
    assert!(
        host.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'),
        "accepted a non-LDH host {host:?}"
    );
    assert!(
        host.split('.').all(|l| !l.is_empty()),
        "empty label in {host:?}"
    );
    assert_eq!(u.host(), host);
    assert_eq!(u.region(), Region::from_host(host));
    // What is dialled is the normalised text: it must mean the same URL again.
    match ServerUrl::parse(u.as_str(), &HostPolicy::default()) {
        Ok(again) => assert_eq!(&again, u, "normalised URL is not a fixed point"),
        Err(e) => panic!("the normalised form {u} is refused: {e}"),
    }
    // A WebSocket client built on `http::Uri` (tungstenite) must see the same host.
    if let Ok(uri) = u.as_str().parse::<http::Uri>() {
        assert_eq!(uri.scheme_str(), Some("wss"));
        assert_eq!(
            uri.host(),
            Some(host),
            "http::Uri reads another host from {u}"
        );
        assert!(matches!(uri.port_u16(), None | Some(443)));
    }
}

/// `Region` and `ServerUrl` parsing of one string.
pub fn server_url(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();

    // Region::from_str: any non-empty ASCII alphanumeric code, lower-cased, round trip.
    match s.parse::<Region>() {
        Ok(r) => {
            assert!(!s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(r.code(), s.to_ascii_lowercase());
            assert_eq!(r.to_string(), r.code());
            assert_eq!(r.code().parse::<Region>().ok(), Some(r.clone()));
            assert_eq!(r.is_known(), Region::KNOWN.contains(&r));
        }
        Err(_) => assert!(s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric())),
    }

    // Region::from_host: only under zoom.us, only a clean code.
    if let Some(r) = Region::from_host(s) {
        let h = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        assert!(
            h.ends_with(".zoom.us"),
            "region {r:?} from a non-Zoom host {s:?}"
        );
        let code = r.code();
        assert!(!code.is_empty());
        assert!(code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }

    // One URL, default policy.
    let zoom_only = HostPolicy::default();
    let single = ServerUrl::parse(s, &zoom_only);
    match &single {
        Ok(u) => check_zoom_url(u),
        Err(e) => check_error_text(&e.to_string(), &format!("{e:?}")),
    }

    // A test policy only ever adds its own host.
    let local = HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(true);
    match ServerUrl::parse(s, &local) {
        Ok(u) => {
            if u.host() != "127.0.0.1" {
                check_zoom_url(&u);
            } else {
                assert!(matches!(u.url().scheme(), "ws" | "wss"));
                assert!(u.url().username().is_empty() && u.url().password().is_none());
            }
        }
        Err(_) => assert!(
            single.is_err(),
            "the test policy refused a URL the default accepts"
        ),
    }

    // A list: every piece is checked, none is dropped.
    let pieces: Vec<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let started = RtmsStarted::new(
        Product::Meeting,
        InstanceId::new(IdField::MeetingUuid, "m"),
        "r",
        s,
    );
    match started.server_urls(&zoom_only) {
        Ok(urls) => {
            assert_eq!(urls.len(), pieces.len());
            for (u, piece) in urls.iter().zip(&pieces) {
                check_zoom_url(u);
                assert_eq!(ServerUrl::parse(piece, &zoom_only).as_ref(), Ok(u));
            }
        }
        Err(e) => {
            check_error_text(&e.to_string(), &format!("{e:?}"));
            assert!(
                pieces.is_empty()
                    || pieces
                        .iter()
                        .any(|p| ServerUrl::parse(p, &zoom_only).is_err())
            );
        }
    }
    let _ = started.server_urls(&local);
}

// ---------------------------------------------------------------------------------------------
// Target: handshake_response
// ---------------------------------------------------------------------------------------------

/// `SignalingHandshakeResponse::parse`, plus a msg_type 1 request built from the same bytes.
pub fn handshake_response(data: &[u8]) {
    match SignalingHandshakeResponse::parse(data) {
        Ok(r) => {
            let code = r.status_code.code();
            assert_eq!(StatusCode::from(code), r.status_code);
            assert_eq!(r.is_ok(), code == 0);
            let _ = format!("{r:?}");
            let _ = r.status_code.to_string();
            for kind in MediaKind::ALL {
                let one = r.media_url(kind, &HostPolicy::default());
                // The kind's own URL, else `all`.
                let raw = kind
                    .url_keys()
                    .iter()
                    .chain(&["all"])
                    .find_map(|key| r.media_server_urls.get(*key));
                let expected = raw
                    .map(|raw| ServerUrl::parse(raw, &HostPolicy::default()))
                    .transpose();
                assert_eq!(one, expected);
                match one {
                    Ok(Some(u)) => check_zoom_url(&u),
                    Ok(None) => {}
                    Err(e) => check_error_text(&e.to_string(), &format!("{e:?}")),
                }
            }
            // Debug never shows the values of unmodelled fields (they may carry keys).
            let shown = format!("{r:?}");
            for (key, value) in &r.extra {
                if let serde_json::Value::String(v) = value {
                    let mut without = r.clone();
                    without.extra.insert(key.clone(), serde_json::Value::Null);
                    if is_marker(v) && !format!("{without:?}").contains(v.as_str()) {
                        assert!(
                            !shown.contains(v.as_str()),
                            "Debug shows the value of `{key}`"
                        );
                    }
                }
            }
        }
        Err(e) => check_error_text(&e.to_string(), &format!("{e:?}")),
    }

    // The msg_type 1 request: client id, secret, instance id, stream id split on NUL.
    let mut parts = data.split(|&b| b == 0).map(String::from_utf8_lossy);
    let (Some(id), Some(secret), Some(instance), Some(stream)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let Ok(creds) = Credentials::new(id.as_ref(), secret.as_ref()) else {
        assert!(is_blank(&id) || is_blank(&secret));
        return;
    };
    if is_marker(&secret) {
        let baseline = Credentials::new(id.as_ref(), "other-secret")
            .map(|c| format!("{c:?}"))
            .unwrap_or_default();
        if !baseline.contains(secret.as_ref()) {
            assert!(
                !format!("{creds:?}").contains(secret.as_ref()),
                "Debug shows the client secret"
            );
        }
    }
    // `is_multiple_of` needs Rust 1.87; the root crate (which includes this file) is 1.86.
    let buffer_data = data.len() & 1 == 0;
    let request =
        SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, &instance, &stream)
            .with_sequence(7)
            .with_buffer_data(buffer_data);
    let expected_sig = hmac_hex(
        secret.as_bytes(),
        &[
            id.as_bytes(),
            b",",
            instance.as_bytes(),
            b",",
            stream.as_bytes(),
        ],
    );
    assert_eq!(request.signature(), expected_sig);
    assert!(
        !format!("{request:?}").contains(&expected_sig),
        "Debug shows the signature"
    );
    let json: serde_json::Value = match serde_json::from_str(&request.to_json()) {
        Ok(json) => json,
        Err(e) => panic!("msg_type 1 request is not JSON: {e}"),
    };
    assert_eq!(json["msg_type"], 1);
    assert_eq!(json["protocol_version"], 1);
    assert_eq!(json["meeting_uuid"].as_str(), Some(instance.as_ref()));
    assert_eq!(json["rtms_stream_id"].as_str(), Some(stream.as_ref()));
    assert_eq!(json["sequence"], 7);
    assert_eq!(json["signature"].as_str(), Some(expected_sig.as_str()));
    assert_eq!(json["buffer_data"].as_bool(), Some(buffer_data));
}

/// Reference model of the crate's blank-secret rule: nothing left after removing control
/// characters, whitespace, and invisible format / default-ignorable characters.
fn is_blank(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_control()
            || c.is_whitespace()
            || matches!(
                c,
                '\u{00AD}'
                    | '\u{034F}'
                    | '\u{0600}'..='\u{0605}'
                    | '\u{061C}'
                    | '\u{06DD}'
                    | '\u{070F}'
                    | '\u{0890}'..='\u{0891}'
                    | '\u{08E2}'
                    | '\u{115F}'..='\u{1160}'
                    | '\u{17B4}'..='\u{17B5}'
                    | '\u{180B}'..='\u{180F}'
                    | '\u{200B}'..='\u{200F}'
                    | '\u{202A}'..='\u{202E}'
                    | '\u{2060}'..='\u{206F}'
                    | '\u{3164}'
                    | '\u{FE00}'..='\u{FE0F}'
                    | '\u{FEFF}'
                    | '\u{FFA0}'
                    | '\u{FFF0}'..='\u{FFFB}'
                    | '\u{110BD}'
                    | '\u{110CD}'
                    | '\u{13430}'..='\u{1343F}'
                    | '\u{1BCA0}'..='\u{1BCA3}'
                    | '\u{1D173}'..='\u{1D17A}'
                    | '\u{E0000}'..='\u{E0FFF}'
            )
    })
}

/// A value distinctive enough that finding it in a `Debug` string means it was printed: at
/// least 8 ASCII alphanumerics (`Debug` escapes cannot produce such a run).
fn is_marker(s: &str) -> bool {
    s.len() >= 8 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}
