//! Webhook signature verification and the URL validation challenge.
//!
//! Every expected MAC below was computed outside Rust; the exact command is in the comment
//! above each constant (run in a UTF-8 shell; `python3 -c 'import hmac, hashlib; ...'` gives
//! the same values).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use zoom_rtms_webhooks::signature::{
    sign, ConfigError, Error, SecretToken, SignatureHeaders, VerifiedEvent, Verifier, VerifyError,
    DEFAULT_TOLERANCE, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use zoom_rtms_webhooks::{Product, WebhookEvent};

const SECRET: &str = "zoom-rtms-test-secret-token";
const SDK_SECRET: &str = "video-sdk-secret-token";
const TS: &str = "1700000000";
const TS_SECS: u64 = 1_700_000_000;

const STOPPED_BODY: &str = r#"{"event":"meeting.rtms_stopped","event_ts":1700000000123,"payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"03db704592624398931a588dd78200cb","stop_reason":6}}"#;
// printf '%s' 'v0:1700000000:{"event":"meeting.rtms_stopped","event_ts":1700000000123,"payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"03db704592624398931a588dd78200cb","stop_reason":6}}' | openssl dgst -sha256 -hmac 'zoom-rtms-test-secret-token'
const STOPPED_SIG: &str = "v0=c9435dafe49878a77772fc2e710d56b98aefc8756f9a78a665b81e7885daec49";

/// Non-ASCII topic: the MAC covers the raw UTF-8 bytes.
const STARTED_UTF8_BODY: &str = r#"{"event":"meeting.rtms_started","event_ts":1700000000123,"payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","operator_id":"30R7kT7bTIKSNUFEuH_Qlg","rtms_stream_id":"03db704592624398931a588dd78200cb","server_urls":"wss://rtms-sjc1.zoom.us","topic":"Café – 会議 🎉"}}"#;
// printf '%s' 'v0:1700000000:{"event":"meeting.rtms_started","event_ts":1700000000123,"payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","operator_id":"30R7kT7bTIKSNUFEuH_Qlg","rtms_stream_id":"03db704592624398931a588dd78200cb","server_urls":"wss://rtms-sjc1.zoom.us","topic":"Café – 会議 🎉"}}' | openssl dgst -sha256 -hmac 'zoom-rtms-test-secret-token'
// python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"zoom-rtms-test-secret-token", ("v0:1700000000:"+sys.argv[1]).encode(), hashlib.sha256).hexdigest())' "$BODY"   (same value)
const STARTED_UTF8_SIG: &str =
    "v0=d0dc411aa284ce8ebd70dc604c51ab492211a56acc3078cb6e1a224e5b65f9c4";

// printf '%s' 'v0:1700000000:' | openssl dgst -sha256 -hmac 'zoom-rtms-test-secret-token'
const EMPTY_BODY_SIG: &str = "v0=9795158c23f50160b2d53ab6b067d5832236ed999a055ccaf894dbd7f613a865";

const PLAIN_TOKEN: &str = "qgg8vlvZRS6UYooatFL8Aw";
const CHALLENGE_BODY: &str = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1700000000123,"event":"endpoint.url_validation"}"#;
// printf '%s' 'v0:1700000000:{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1700000000123,"event":"endpoint.url_validation"}' | openssl dgst -sha256 -hmac 'zoom-rtms-test-secret-token'
const CHALLENGE_SIG: &str = "v0=0d80b056a87736134c66d637e2d7bae6d67f4ba73ec66ea8c75d5ee1cbc36d46";
// printf '%s' 'v0:1700000000:{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1700000000123,"event":"endpoint.url_validation"}' | openssl dgst -sha256 -hmac 'video-sdk-secret-token'
const CHALLENGE_SIG_SDK: &str =
    "v0=f6829d93620abafc61db1321794a499bcc45c454b83667ba8270adc44f69ae32";
// printf '%s' 'qgg8vlvZRS6UYooatFL8Aw' | openssl dgst -sha256 -hmac 'zoom-rtms-test-secret-token'
const ENCRYPTED_TOKEN: &str = "17ecbe0ea51f3b13b8564b455728a4e951127c79d7f77990a4b7f943b6bc7cd8";
// printf '%s' 'qgg8vlvZRS6UYooatFL8Aw' | openssl dgst -sha256 -hmac 'video-sdk-secret-token'
const ENCRYPTED_TOKEN_SDK: &str =
    "39670fef5989779f6d5b2653517601f494de3af5b32428e20444dc77164530b2";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A clock that always reads `now`.
fn fixed(now: SystemTime) -> impl Fn() -> SystemTime + Send + Sync + 'static {
    move || now
}

/// A clock the test moves by storing Unix seconds into the returned counter.
fn movable_clock(
    start: u64,
) -> (
    Arc<AtomicU64>,
    impl Fn() -> SystemTime + Send + Sync + 'static,
) {
    let now = Arc::new(AtomicU64::new(start));
    let read = Arc::clone(&now);
    (now, move || at(read.load(Ordering::Relaxed)))
}

/// One secret (label `"default"`), clock at `now`.
fn verifier_at(now: SystemTime) -> Verifier {
    Verifier::builder()
        .with_secret("default", SECRET)
        .with_clock(fixed(now))
        .build()
        .expect("valid secret")
}

/// One secret, clock at the timestamp of the known-answer signatures.
fn verifier() -> Verifier {
    verifier_at(at(TS_SECS))
}

fn two_secrets_at(now: SystemTime) -> Verifier {
    Verifier::builder()
        .with_secret("meeting-app", SECRET)
        .with_secret("video-sdk-app", SDK_SECRET)
        .with_clock(fixed(now))
        .build()
        .expect("valid secrets")
}

fn two_secrets() -> Verifier {
    two_secrets_at(at(TS_SECS))
}

fn verify_err(sig: Option<&str>, ts: Option<&str>, body: &[u8], now: u64) -> VerifyError {
    verifier_at(at(now))
        .verify(SignatureHeaders::new(sig, ts), body)
        .expect_err("must be rejected")
}

/// The hex part of a signature: the expected MAC that must never leak.
fn mac_hex(sig: &str) -> &str {
    sig.strip_prefix("v0=").expect("v0= prefix")
}

// ---------------------------------------------------------------------------------------
// Known answers
// ---------------------------------------------------------------------------------------

#[test]
fn sign_matches_openssl_for_ascii_body() {
    assert_eq!(sign(SECRET, TS, STOPPED_BODY.as_bytes()), STOPPED_SIG);
}

#[test]
fn sign_matches_openssl_for_non_ascii_utf8_body() {
    assert!(!STARTED_UTF8_BODY.is_ascii());
    assert_eq!(
        sign(SECRET, TS, STARTED_UTF8_BODY.as_bytes()),
        STARTED_UTF8_SIG
    );
}

#[test]
fn sign_matches_openssl_for_empty_body() {
    assert_eq!(sign(SECRET, TS, b""), EMPTY_BODY_SIG);
}

#[test]
fn sign_matches_openssl_for_challenge_body() {
    assert_eq!(sign(SECRET, TS, CHALLENGE_BODY.as_bytes()), CHALLENGE_SIG);
    assert_eq!(
        sign(SDK_SECRET, TS, CHALLENGE_BODY.as_bytes()),
        CHALLENGE_SIG_SDK
    );
}

#[test]
fn verify_accepts_known_answer_signatures() {
    let v = verifier();
    let ok = v
        .verify(
            SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)),
            STOPPED_BODY.as_bytes(),
        )
        .expect("valid");
    assert_eq!(ok.secret_label(), "default");
    assert_eq!(ok.secret_index(), 0);
    assert_eq!(ok.timestamp(), TS_SECS);
    assert_eq!(ok.body(), STOPPED_BODY.as_bytes());

    let ok = v
        .verify(
            SignatureHeaders::new(Some(STARTED_UTF8_SIG), Some(TS)),
            STARTED_UTF8_BODY.as_bytes(),
        )
        .expect("valid");
    assert_eq!(ok.body(), STARTED_UTF8_BODY.as_bytes());

    assert!(v
        .verify(SignatureHeaders::new(Some(EMPTY_BODY_SIG), Some(TS)), b"")
        .is_ok());
}

#[test]
fn re_serialised_body_with_escaped_unicode_does_not_verify() {
    // What `json.dumps` (ensure_ascii) or a serde round trip might produce: same JSON value,
    // different bytes. Verification is over the raw bytes, so it must fail.
    let escaped = STARTED_UTF8_BODY.replace('é', "\\u00e9");
    assert_ne!(escaped, STARTED_UTF8_BODY);
    assert_eq!(
        verify_err(
            Some(STARTED_UTF8_SIG),
            Some(TS),
            escaped.as_bytes(),
            TS_SECS
        ),
        VerifyError::Mismatch
    );
    // Re-ordered keys: also different bytes.
    let reordered = r#"{"event_ts":1700000000123,"event":"meeting.rtms_stopped","payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"03db704592624398931a588dd78200cb","stop_reason":6}}"#;
    assert_eq!(
        verify_err(Some(STOPPED_SIG), Some(TS), reordered.as_bytes(), TS_SECS),
        VerifyError::Mismatch
    );
}

#[test]
fn upper_case_hex_is_accepted_as_the_same_mac() {
    // Documented decision: Zoom sends lower case; upper case decodes to the same MAC bytes.
    let upper = format!("v0={}", mac_hex(STOPPED_SIG).to_uppercase());
    assert!(verifier()
        .verify(
            SignatureHeaders::new(Some(&upper), Some(TS)),
            STOPPED_BODY.as_bytes()
        )
        .is_ok());
}

// ---------------------------------------------------------------------------------------
// Every VerifyError variant
// ---------------------------------------------------------------------------------------

#[test]
fn missing_signature_header() {
    let body = STOPPED_BODY.as_bytes();
    assert_eq!(
        verify_err(None, Some(TS), body, TS_SECS),
        VerifyError::MissingSignature
    );
    // Both missing: the signature is reported first.
    assert_eq!(
        verify_err(None, None, body, TS_SECS),
        VerifyError::MissingSignature
    );
}

#[test]
fn missing_timestamp_header() {
    assert_eq!(
        verify_err(Some(STOPPED_SIG), None, STOPPED_BODY.as_bytes(), TS_SECS),
        VerifyError::MissingTimestamp
    );
}

#[test]
fn invalid_timestamps() {
    let body = STOPPED_BODY.as_bytes();
    for ts in [
        "",
        "+1700000000",
        "-1700000000",
        " 1700000000",
        "1700000000 ",
        "17000 00000",
        "1700000000\n",
        "1700000000.0",
        "1.7e9",
        "0x6553f100",
        "abc",
        "１７００００００００", // full-width digits
        "18446744073709551616", // u64::MAX + 1
        "99999999999999999999999999",
    ] {
        // The signature even matches the (bad) timestamp string: syntax is checked anyway.
        let sig = sign(SECRET, ts, body);
        assert_eq!(
            verify_err(Some(&sig), Some(ts), body, TS_SECS),
            VerifyError::InvalidTimestamp,
            "timestamp {ts:?}"
        );
    }
}

#[test]
fn timestamp_window_boundaries_are_inclusive() {
    let (now, clock) = movable_clock(TS_SECS);
    let v = Verifier::builder()
        .with_secret("default", SECRET)
        .with_clock(clock)
        .build()
        .expect("valid secret");
    let body = STOPPED_BODY.as_bytes();
    let headers = SignatureHeaders::new(Some(STOPPED_SIG), Some(TS));
    // Request timestamp 300 s in the past and 300 s in the future: accepted.
    for secs in [TS_SECS + 300, TS_SECS - 300] {
        now.store(secs, Ordering::Relaxed);
        assert!(v.verify(headers, body).is_ok(), "now = {secs}");
    }
    // One second further either way: rejected, with the values reported.
    for secs in [TS_SECS + 301, TS_SECS - 301] {
        now.store(secs, Ordering::Relaxed);
        assert_eq!(
            v.verify(headers, body).expect_err("outside window"),
            VerifyError::TimestampOutOfTolerance {
                timestamp: TS_SECS,
                now: secs
            }
        );
    }
}

#[test]
fn sub_second_clock_does_not_widen_the_window() {
    let body = STOPPED_BODY.as_bytes();
    let now = at(TS_SECS + 300) + Duration::from_millis(999);
    assert!(verifier_at(now)
        .verify(SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)), body)
        .is_ok());
    let now = at(TS_SECS + 301) + Duration::from_millis(1);
    assert!(matches!(
        verifier_at(now).verify(SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)), body),
        Err(VerifyError::TimestampOutOfTolerance { .. })
    ));
}

#[test]
fn configurable_tolerance() {
    let (now, clock) = movable_clock(TS_SECS);
    let v = Verifier::builder()
        .with_secret("app", SECRET)
        .with_tolerance(Duration::from_secs(60))
        .with_clock(clock)
        .build()
        .expect("valid");
    assert_eq!(v.tolerance(), Duration::from_secs(60));
    let body = STOPPED_BODY.as_bytes();
    let headers = SignatureHeaders::new(Some(STOPPED_SIG), Some(TS));
    for (secs, inside) in [
        (TS_SECS + 60, true),
        (TS_SECS - 60, true),
        (TS_SECS + 61, false),
        (TS_SECS - 61, false),
    ] {
        now.store(secs, Ordering::Relaxed);
        match v.verify(headers, body) {
            Ok(_) => assert!(inside, "now = {secs}"),
            Err(e) => {
                assert!(!inside, "now = {secs}");
                assert!(matches!(e, VerifyError::TimestampOutOfTolerance { .. }));
            }
        }
    }

    let (now, clock) = movable_clock(TS_SECS);
    let exact = Verifier::builder()
        .with_secret("app", SECRET)
        .with_tolerance(Duration::ZERO)
        .with_clock(clock)
        .build()
        .expect("valid");
    assert!(exact.verify(headers, body).is_ok());
    now.store(TS_SECS + 1, Ordering::Relaxed);
    assert!(exact.verify(headers, body).is_err());
    assert_eq!(verifier().tolerance(), DEFAULT_TOLERANCE);
    assert_eq!(DEFAULT_TOLERANCE, Duration::from_secs(300));
    assert_eq!(
        Verifier::new(SECRET).expect("valid").tolerance(),
        DEFAULT_TOLERANCE
    );
}

#[test]
fn millisecond_timestamp_is_outside_the_window() {
    let body = STOPPED_BODY.as_bytes();
    let ms = "1700000000123";
    // Even correctly signed over the millisecond string, it is rejected.
    let sig = sign(SECRET, ms, body);
    assert_eq!(
        verify_err(Some(&sig), Some(ms), body, TS_SECS),
        VerifyError::TimestampOutOfTolerance {
            timestamp: 1_700_000_000_123,
            now: TS_SECS
        }
    );
}

#[test]
fn clock_before_epoch_counts_as_epoch() {
    let body = STOPPED_BODY.as_bytes();
    let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
    assert_eq!(
        verifier_at(before_epoch)
            .verify(SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)), body)
            .expect_err("far outside window"),
        VerifyError::TimestampOutOfTolerance {
            timestamp: TS_SECS,
            now: 0
        }
    );
    let sig = sign(SECRET, "0", body);
    assert!(verifier_at(before_epoch)
        .verify(SignatureHeaders::new(Some(&sig), Some("0")), body)
        .is_ok());
}

#[test]
fn missing_prefix() {
    let body = STOPPED_BODY.as_bytes();
    let hex = mac_hex(STOPPED_SIG);
    for sig in [
        hex.to_owned(),
        format!("V0={hex}"),
        format!("v1={hex}"),
        format!("sha256={hex}"),
        format!(" v0={hex}"),
        format!("v0:{hex}"),
        String::new(),
    ] {
        assert_eq!(
            verify_err(Some(&sig), Some(TS), body, TS_SECS),
            VerifyError::MissingPrefix,
            "signature {sig:?}"
        );
    }
}

#[test]
fn bare_v0_is_rejected_svix_cve_2024_21491_regression() {
    // svix's hand-rolled comparison accepted an empty signature. Every secret must refuse it.
    let body = STOPPED_BODY.as_bytes();
    assert_eq!(
        verify_err(Some("v0="), Some(TS), body, TS_SECS),
        VerifyError::EmptySignature
    );
    assert_eq!(
        two_secrets()
            .verify(SignatureHeaders::new(Some("v0="), Some(TS)), b"")
            .expect_err("bare v0="),
        VerifyError::EmptySignature
    );
}

#[test]
fn wrong_length() {
    let body = STOPPED_BODY.as_bytes();
    let hex = mac_hex(STOPPED_SIG);
    let cases = [
        (format!("v0={}", &hex[..63]), 63),
        (format!("v0={}", &hex[..32]), 32),
        (format!("v0={hex}0"), 65),
        (format!("v0={hex} "), 65),
        (format!("v0= {hex}"), 65),
        (format!("v0={hex}\t"), 65),
        (format!("{STOPPED_SIG},{STOPPED_SIG}"), 64 + 1 + 67),
        (format!("{STOPPED_SIG}, {STOPPED_SIG}"), 64 + 2 + 67),
        (format!("v0={hex}{hex}"), 128),
    ];
    for (sig, len) in cases {
        assert_eq!(
            verify_err(Some(&sig), Some(TS), body, TS_SECS),
            VerifyError::InvalidLength { len },
            "signature {sig:?}"
        );
    }
}

#[test]
fn non_hex() {
    let body = STOPPED_BODY.as_bytes();
    let hex = mac_hex(STOPPED_SIG);
    for sig in [
        format!("v0=g{}", &hex[1..]),
        format!("v0={}z", &hex[..63]),
        format!("v0={}", "-".repeat(64)),
        format!("v0={}", "zz".repeat(32)),
    ] {
        assert_eq!(
            verify_err(Some(&sig), Some(TS), body, TS_SECS),
            VerifyError::InvalidHex,
            "signature {sig:?}"
        );
    }
    // 62 hex digits and one two-byte character: 64 bytes, not hex, no panic on slicing.
    let sig = format!("v0={}é", &hex[..62]);
    assert_eq!(
        verify_err(Some(&sig), Some(TS), body, TS_SECS),
        VerifyError::InvalidHex
    );
}

#[test]
fn mismatch_cases() {
    let body = STOPPED_BODY.as_bytes();
    // Wrong secret.
    let other = sign("some-other-secret", TS, body);
    assert_eq!(
        verify_err(Some(&other), Some(TS), body, TS_SECS),
        VerifyError::Mismatch
    );
    // Body changed by one byte.
    let tampered = STOPPED_BODY.replace("\"stop_reason\":6", "\"stop_reason\":7");
    assert_eq!(
        verify_err(Some(STOPPED_SIG), Some(TS), tampered.as_bytes(), TS_SECS),
        VerifyError::Mismatch
    );
    // Timestamp changed (still within the window).
    assert_eq!(
        verify_err(Some(STOPPED_SIG), Some("1700000001"), body, TS_SECS),
        VerifyError::Mismatch
    );
    // Same number, different text: the MAC covers the header text.
    assert_eq!(
        verify_err(Some(STOPPED_SIG), Some("01700000000"), body, TS_SECS),
        VerifyError::Mismatch
    );
    // Last hex digit changed.
    let hex = mac_hex(STOPPED_SIG);
    let flipped = format!(
        "v0={}{}",
        &hex[..63],
        if hex.ends_with('0') { "1" } else { "0" }
    );
    assert_eq!(
        verify_err(Some(&flipped), Some(TS), body, TS_SECS),
        VerifyError::Mismatch
    );
    // All-zero MAC.
    let zeros = format!("v0={}", "0".repeat(64));
    assert_eq!(
        verify_err(Some(&zeros), Some(TS), body, TS_SECS),
        VerifyError::Mismatch
    );
}

#[test]
fn checks_run_in_documented_order() {
    let body = STOPPED_BODY.as_bytes();
    // Bad timestamp syntax is reported before a bad signature.
    assert_eq!(
        verify_err(Some("garbage"), Some("x"), body, TS_SECS),
        VerifyError::InvalidTimestamp
    );
    // The window is checked before the signature syntax.
    assert_eq!(
        verify_err(Some("garbage"), Some(TS), body, TS_SECS + 1000),
        VerifyError::TimestampOutOfTolerance {
            timestamp: TS_SECS,
            now: TS_SECS + 1000
        }
    );
}

#[test]
fn verify_uses_the_system_clock() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        .to_string();
    let body = STOPPED_BODY.as_bytes();
    let sig = sign(SECRET, &now, body);
    // `Verifier::new` and a builder without `with_clock` use the system clock.
    let v = Verifier::new(SECRET).expect("valid");
    assert!(v
        .verify(SignatureHeaders::new(Some(&sig), Some(&now)), body)
        .is_ok());
    // The fixed 2023 timestamp is far outside the window of the real clock.
    assert!(matches!(
        v.verify(SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)), body),
        Err(VerifyError::TimestampOutOfTolerance { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------

/// The two values as `SignatureHeaders` reads them from `map` (`None`: absent, repeated or
/// not UTF-8).
fn header_values(map: &HeaderMap) -> (Option<&str>, Option<&str>) {
    let read = SignatureHeaders::from_header_map(map);
    (read.signature(), read.timestamp())
}

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name: HeaderName = name.parse().expect("header name");
        map.append(name, HeaderValue::from_bytes(value).expect("header value"));
    }
    map
}

#[test]
fn header_constants() {
    assert_eq!(SIGNATURE_HEADER, "x-zm-signature");
    assert_eq!(TIMESTAMP_HEADER, "x-zm-request-timestamp");
}

#[test]
fn header_values_reads_case_insensitively() {
    let map = headers(&[
        ("X-ZM-Signature", STOPPED_SIG.as_bytes()),
        ("X-Zm-Request-Timestamp", TS.as_bytes()),
    ]);
    assert_eq!(header_values(&map), (Some(STOPPED_SIG), Some(TS)));
    assert!(verifier()
        .verify(
            SignatureHeaders::from_header_map(&map),
            STOPPED_BODY.as_bytes()
        )
        .is_ok());
}

#[test]
fn header_values_absent() {
    assert_eq!(header_values(&HeaderMap::new()), (None, None));
    let body = STOPPED_BODY.as_bytes();
    let v = verifier();
    assert_eq!(
        v.verify(SignatureHeaders::from_header_map(&HeaderMap::new()), body)
            .expect_err("no headers"),
        VerifyError::MissingSignature
    );
    let only_sig = headers(&[(SIGNATURE_HEADER, STOPPED_SIG.as_bytes())]);
    assert_eq!(
        v.verify(SignatureHeaders::from_header_map(&only_sig), body)
            .expect_err("no timestamp"),
        VerifyError::MissingTimestamp
    );
}

#[test]
fn repeated_signature_header_is_ambiguous_never_picked() {
    // Even when one of the two values is the valid signature.
    let map = headers(&[
        (SIGNATURE_HEADER, STOPPED_SIG.as_bytes()),
        (SIGNATURE_HEADER, b"v0=0000"),
        (TIMESTAMP_HEADER, TS.as_bytes()),
    ]);
    assert_eq!(header_values(&map), (None, Some(TS)));
    assert_eq!(
        verifier()
            .verify(
                SignatureHeaders::from_header_map(&map),
                STOPPED_BODY.as_bytes()
            )
            .expect_err("ambiguous"),
        VerifyError::AmbiguousHeader {
            header: SIGNATURE_HEADER
        }
    );
    // Two copies of the same valid value: still refused.
    let map = headers(&[
        (SIGNATURE_HEADER, STOPPED_SIG.as_bytes()),
        (SIGNATURE_HEADER, STOPPED_SIG.as_bytes()),
        (TIMESTAMP_HEADER, TS.as_bytes()),
    ]);
    assert!(matches!(
        verifier().verify(
            SignatureHeaders::from_header_map(&map),
            STOPPED_BODY.as_bytes()
        ),
        Err(VerifyError::AmbiguousHeader { .. })
    ));
}

#[test]
fn repeated_timestamp_header_is_ambiguous() {
    let map = headers(&[
        (SIGNATURE_HEADER, STOPPED_SIG.as_bytes()),
        (TIMESTAMP_HEADER, TS.as_bytes()),
        (TIMESTAMP_HEADER, TS.as_bytes()),
    ]);
    assert_eq!(header_values(&map), (Some(STOPPED_SIG), None));
    assert_eq!(
        verifier()
            .verify(
                SignatureHeaders::from_header_map(&map),
                STOPPED_BODY.as_bytes()
            )
            .expect_err("ambiguous"),
        VerifyError::AmbiguousHeader {
            header: TIMESTAMP_HEADER
        }
    );
}

#[test]
fn non_utf8_header_counts_as_missing() {
    let map = headers(&[
        (SIGNATURE_HEADER, b"v0=\xff\xfe"),
        (TIMESTAMP_HEADER, TS.as_bytes()),
    ]);
    assert_eq!(header_values(&map), (None, Some(TS)));
    assert_eq!(
        verifier()
            .verify(
                SignatureHeaders::from_header_map(&map),
                STOPPED_BODY.as_bytes()
            )
            .expect_err("not utf-8"),
        VerifyError::MissingSignature
    );
}

#[test]
fn header_map_with_the_default_clock() {
    let map = headers(&[
        (SIGNATURE_HEADER, STOPPED_SIG.as_bytes()),
        (TIMESTAMP_HEADER, TS.as_bytes()),
    ]);
    assert!(matches!(
        Verifier::builder()
            .with_secret("app", SECRET)
            .build()
            .expect("valid")
            .verify(
                SignatureHeaders::from_header_map(&map),
                STOPPED_BODY.as_bytes()
            ),
        Err(VerifyError::TimestampOutOfTolerance { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Several secrets, rotation, configuration
// ---------------------------------------------------------------------------------------

#[test]
fn second_secret_matches_and_is_reported() {
    let body = STOPPED_BODY.as_bytes();
    let sig = sign(SDK_SECRET, TS, body);
    let v = two_secrets();
    let ok = v
        .verify(SignatureHeaders::new(Some(&sig), Some(TS)), body)
        .expect("second secret");
    assert_eq!(ok.secret_label(), "video-sdk-app");
    assert_eq!(ok.secret_index(), 1);

    let ok = v
        .verify(SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)), body)
        .expect("first secret");
    assert_eq!(ok.secret_label(), "meeting-app");
    assert_eq!(ok.secret_index(), 0);

    let third = sign("neither", TS, body);
    assert_eq!(
        v.verify(SignatureHeaders::new(Some(&third), Some(TS)), body)
            .expect_err("no secret matches"),
        VerifyError::Mismatch
    );
}

#[test]
fn rotation_accepts_old_and_new_then_only_new() {
    let body = STOPPED_BODY.as_bytes();
    let old_sig = sign("old-secret", TS, body);
    let new_sig = sign("new-secret", TS, body);

    let during = Verifier::builder()
        .with_secret("current", "new-secret")
        .with_secret("previous", "old-secret")
        .with_clock(fixed(at(TS_SECS)))
        .build()
        .expect("valid");
    let ok = during
        .verify(SignatureHeaders::new(Some(&old_sig), Some(TS)), body)
        .expect("old secret still accepted");
    assert_eq!(ok.secret_label(), "previous");
    let ok = during
        .verify(SignatureHeaders::new(Some(&new_sig), Some(TS)), body)
        .expect("new secret accepted");
    assert_eq!(ok.secret_label(), "current");

    let after = Verifier::builder()
        .with_secret("current", "new-secret")
        .with_clock(fixed(at(TS_SECS)))
        .build()
        .expect("valid");
    assert_eq!(
        after
            .verify(SignatureHeaders::new(Some(&old_sig), Some(TS)), body)
            .expect_err("old secret retired"),
        VerifyError::Mismatch
    );
}

#[test]
fn empty_secret_fails_closed() {
    assert_eq!(
        Verifier::new("").expect_err("empty"),
        ConfigError::EmptySecret {
            label: "default".into()
        }
    );
    assert_eq!(
        Verifier::new(String::from(" \t\n")).expect_err("blank"),
        ConfigError::EmptySecret {
            label: "default".into()
        }
    );
    // An empty secret among good ones still fails the whole build.
    assert_eq!(
        Verifier::builder()
            .with_secret("meeting-app", SECRET)
            .with_secret(
                "video-sdk-app",
                std::env::var("ZOOM_RTMS_TEST_UNSET_VAR").unwrap_or_default()
            )
            .with_clock(fixed(at(TS_SECS)))
            .build()
            .expect_err("one empty"),
        ConfigError::EmptySecret {
            label: "video-sdk-app".into()
        }
    );
}

#[test]
fn no_secrets_is_a_config_error() {
    assert_eq!(
        Verifier::builder()
            .with_clock(fixed(at(TS_SECS)))
            .build()
            .expect_err("no secrets"),
        ConfigError::NoSecrets
    );
    assert_eq!(
        Verifier::builder()
            .with_tolerance(Duration::from_secs(1))
            .with_clock(fixed(at(TS_SECS)))
            .build()
            .expect_err("no secrets"),
        ConfigError::NoSecrets
    );
}

#[test]
fn the_same_secret_under_two_labels_is_a_config_error() {
    // Only the first entry could ever match, so the second entry's products would never apply
    // (a `session.*` event would be refused although a secret bound to Video SDK matched).
    let err = Verifier::builder()
        .with_secret_for("meetings", SECRET, [Product::Meeting])
        .with_secret_for("video-sdk", SECRET, [Product::VideoSdk])
        .with_clock(fixed(at(TS_SECS)))
        .build()
        .expect_err("same secret twice");
    assert_eq!(
        err,
        ConfigError::DuplicateSecret {
            label: "video-sdk".into(),
            first: "meetings".into(),
        }
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains(SECRET), "{text}");
    // One entry bound to both products is the way to say it.
    let verifier = Verifier::builder()
        .with_secret_for("app", SECRET, [Product::Meeting, Product::VideoSdk])
        .build();
    assert!(verifier.is_ok());
}

#[test]
fn duplicate_labels_are_a_config_error() {
    let err = Verifier::builder()
        .with_secret("app", SECRET)
        .with_secret("app", SDK_SECRET)
        .with_clock(fixed(at(TS_SECS)))
        .build()
        .expect_err("duplicate");
    assert_eq!(
        err,
        ConfigError::DuplicateLabel {
            label: "app".into()
        }
    );
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains(SECRET) && !text.contains(SDK_SECRET),
        "{text}"
    );
}

#[test]
fn secret_token_conversions() {
    let owned = String::from(SECRET);
    for token in [
        SecretToken::from(SECRET),
        SecretToken::from(owned.clone()),
        SecretToken::from(&owned),
    ] {
        let v = Verifier::builder()
            .with_secret("default", token)
            .with_clock(fixed(at(TS_SECS)))
            .build()
            .expect("valid");
        assert!(v
            .verify(
                SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)),
                STOPPED_BODY.as_bytes()
            )
            .is_ok());
    }
}

// ---------------------------------------------------------------------------------------
// Nothing secret in Debug / Display
// ---------------------------------------------------------------------------------------

fn assert_no_secret(text: &str, mac_hexes: &[&str]) {
    for secret in [SECRET, SDK_SECRET] {
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
    for mac in mac_hexes {
        assert!(!text.contains(mac), "MAC leaked: {text}");
    }
}

#[test]
fn secret_token_debug_is_redacted() {
    let token = SecretToken::from(SECRET);
    let text = format!("{token:?} {token:#?}");
    assert!(text.contains("SecretToken(<redacted>)"));
    assert_no_secret(&text, &[]);
}

#[test]
fn verifier_debug_shows_labels_not_secrets() {
    let v = two_secrets();
    let text = format!("{v:?} {v:#?}");
    assert!(
        text.contains("meeting-app") && text.contains("video-sdk-app"),
        "{text}"
    );
    assert!(text.contains("300s"), "{text}");
    assert_no_secret(&text, &[]);
    let builder = Verifier::builder().with_secret("app", SECRET);
    assert_no_secret(&format!("{builder:?}"), &[]);
}

#[test]
fn errors_never_show_the_secret_or_expected_mac() {
    let body = STOPPED_BODY.as_bytes();
    let expected = mac_hex(STOPPED_SIG);
    let wrong = format!("v0={}", "0".repeat(64));
    let v = two_secrets();
    let errors = [
        v.verify(SignatureHeaders::new(Some(&wrong), Some(TS)), body),
        v.verify(SignatureHeaders::new(Some("v0="), Some(TS)), body),
        v.verify(SignatureHeaders::new(Some("v0=abc"), Some(TS)), body),
        v.verify(SignatureHeaders::new(Some(expected), Some(TS)), body),
        two_secrets_at(at(TS_SECS + 301))
            .verify(SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)), body),
        v.verify(SignatureHeaders::new(Some(STOPPED_SIG), Some("x")), body),
        v.verify(SignatureHeaders::new(None, Some(TS)), body),
        v.verify(SignatureHeaders::new(Some(STOPPED_SIG), None), body),
    ];
    for result in errors {
        let err = result.expect_err("rejected");
        let text = format!("{err} {err:?} {:?}", Error::from(err.clone()));
        assert_no_secret(&text, &[expected]);
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn verified_debug_is_redacted() {
    let v = two_secrets();
    let ok = v
        .verify(
            SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)),
            STOPPED_BODY.as_bytes(),
        )
        .expect("valid");
    let text = format!("{ok:?} {ok:#?}");
    assert!(text.contains("meeting-app"), "{text}");
    assert_no_secret(&text, &[mac_hex(STOPPED_SIG)]);
}

#[test]
fn verified_event_debug_is_redacted() {
    let v = two_secrets();
    let event = v
        .verify_and_parse(
            SignatureHeaders::new(Some(CHALLENGE_SIG_SDK), Some(TS)),
            CHALLENGE_BODY.as_bytes(),
        )
        .expect("valid challenge");
    let text = format!("{event:?} {event:#?}");
    assert!(text.contains("video-sdk-app"), "{text}");
    assert_no_secret(
        &text,
        &[
            mac_hex(CHALLENGE_SIG_SDK),
            ENCRYPTED_TOKEN_SDK,
            ENCRYPTED_TOKEN,
        ],
    );
}

// ---------------------------------------------------------------------------------------
// verify_and_parse and the URL validation challenge
// ---------------------------------------------------------------------------------------

#[test]
fn challenge_reply_known_answer() {
    let event = verifier()
        .verify_and_parse(
            SignatureHeaders::new(Some(CHALLENGE_SIG), Some(TS)),
            CHALLENGE_BODY.as_bytes(),
        )
        .expect("verified challenge");
    assert!(matches!(event.event(), WebhookEvent::UrlValidation(_)));
    assert_eq!(event.secret_label(), "default");
    assert_eq!(event.secret_index(), 0);
    assert_eq!(event.timestamp(), TS_SECS);
    let reply = event.challenge_response().expect("challenge reply");
    assert_eq!(reply.plain_token, PLAIN_TOKEN);
    assert_eq!(reply.encrypted_token, ENCRYPTED_TOKEN);
    assert_eq!(
        String::from_utf8(reply.to_json()).expect("utf-8"),
        format!(r#"{{"plainToken":"{PLAIN_TOKEN}","encryptedToken":"{ENCRYPTED_TOKEN}"}}"#)
    );
}

#[test]
fn challenge_reply_uses_the_secret_that_verified_the_request() {
    let v = two_secrets();
    let from_sdk = v
        .verify_and_parse(
            SignatureHeaders::new(Some(CHALLENGE_SIG_SDK), Some(TS)),
            CHALLENGE_BODY.as_bytes(),
        )
        .expect("verified by second secret");
    assert_eq!(from_sdk.secret_label(), "video-sdk-app");
    assert_eq!(from_sdk.secret_index(), 1);
    let reply = from_sdk.challenge_response().expect("reply");
    assert_eq!(reply.encrypted_token, ENCRYPTED_TOKEN_SDK);

    let from_meeting = v
        .verify_and_parse(
            SignatureHeaders::new(Some(CHALLENGE_SIG), Some(TS)),
            CHALLENGE_BODY.as_bytes(),
        )
        .expect("verified by first secret");
    let reply = from_meeting.challenge_response().expect("reply");
    assert_eq!(reply.encrypted_token, ENCRYPTED_TOKEN);
}

#[test]
fn verified_parse_gives_the_same_reply() {
    let verified = verifier()
        .verify(
            SignatureHeaders::new(Some(CHALLENGE_SIG), Some(TS)),
            CHALLENGE_BODY.as_bytes(),
        )
        .expect("verified");
    let event = verified.parse().expect("parsed");
    assert_eq!(
        event.challenge_response().map(|r| r.encrypted_token),
        Some(ENCRYPTED_TOKEN.to_owned())
    );
    assert!(matches!(event.into_event(), WebhookEvent::UrlValidation(_)));
}

#[test]
fn unverified_challenge_gets_no_reply() {
    // Unsigned, wrongly signed, stale, and bare-v0 challenges: no VerifiedEvent, no reply.
    let body = CHALLENGE_BODY.as_bytes();
    let wrong = sign("attacker-guess", TS, body);
    for (sig, ts, now) in [
        (None, Some(TS), TS_SECS),
        (Some(wrong.as_str()), Some(TS), TS_SECS),
        (Some("v0="), Some(TS), TS_SECS),
        (Some(CHALLENGE_SIG), Some(TS), TS_SECS + 301),
    ] {
        assert!(matches!(
            verifier_at(at(now)).verify_and_parse(SignatureHeaders::new(sig, ts), body),
            Err(Error::Verify(_))
        ));
    }
}

#[test]
fn signing_oracle_attack_is_refused() {
    // The attack: post a challenge whose plainToken is a signed-message string for a forged
    // event; an endpoint that answers without verifying returns HMAC(secret, plainToken),
    // which IS the x-zm-signature of the forged event.
    let forged = r#"{"event":"meeting.rtms_started","payload":{"meeting_uuid":"x","rtms_stream_id":"y","server_urls":"wss://attacker.example"}}"#;
    let plain_token = format!("v0:{TS}:{forged}");
    let attack_body = serde_json::json!({
        "event": "endpoint.url_validation",
        "payload": { "plainToken": plain_token },
    })
    .to_string();

    // 1. Why it matters: were such a challenge answered, the reply would be a valid signature.
    //    (Shown here with a request that *is* signed, as only Zoom could do.)
    let zoom_signed = sign(SECRET, TS, attack_body.as_bytes());
    let event = verifier()
        .verify_and_parse(
            SignatureHeaders::new(Some(&zoom_signed), Some(TS)),
            attack_body.as_bytes(),
        )
        .expect("signed by the real secret");
    let leaked = event.challenge_response().expect("reply").encrypted_token;
    assert_eq!(format!("v0={leaked}"), sign(SECRET, TS, forged.as_bytes()));

    // 2. The attacker cannot sign, so the crate gives no reply: verification fails first.
    for sig in [None, Some("v0="), Some(CHALLENGE_SIG)] {
        let result = verifier()
            .verify_and_parse(SignatureHeaders::new(sig, Some(TS)), attack_body.as_bytes());
        assert!(matches!(result, Err(Error::Verify(_))), "{sig:?}");
    }
}

#[test]
fn non_challenge_event_has_no_reply() {
    let event = verifier()
        .verify_and_parse(
            SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)),
            STOPPED_BODY.as_bytes(),
        )
        .expect("verified stopped event");
    assert!(event.challenge_response().is_none());
    assert_eq!(event.event().name(), "meeting.rtms_stopped");
}

#[test]
fn verify_and_parse_reports_parse_errors_separately() {
    let body = b"not json";
    let sig = sign(SECRET, TS, body);
    let err = verifier()
        .verify_and_parse(SignatureHeaders::new(Some(&sig), Some(TS)), body)
        .expect_err("not an event");
    assert!(matches!(err, Error::Parse(_)), "{err:?}");

    let err = verifier()
        .verify_and_parse(SignatureHeaders::new(Some(&sig), Some(TS)), b"tampered")
        .expect_err("bad signature");
    assert!(
        matches!(err, Error::Verify(VerifyError::Mismatch)),
        "{err:?}"
    );
    assert_eq!(err.to_string(), VerifyError::Mismatch.to_string());
}

#[test]
fn verify_and_parse_with_system_clock() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        .to_string();
    let body = CHALLENGE_BODY.as_bytes();
    let sig = sign(SECRET, &now, body);
    let event = Verifier::new(SECRET)
        .expect("valid")
        .verify_and_parse(SignatureHeaders::new(Some(&sig), Some(&now)), body)
        .expect("verified");
    assert_eq!(
        event.challenge_response().map(|r| r.encrypted_token),
        Some(ENCRYPTED_TOKEN.to_owned())
    );
}

// ---------------------------------------------------------------------------------------
// Blank secrets (0.1 review: a NUL-only secret is the empty HMAC key)
// ---------------------------------------------------------------------------------------

/// Regression: `Verifier::new("\0")` used to be accepted. HMAC zero-pads its key, so the
/// verifier accepted requests signed with the *empty* secret, and answered the URL validation
/// challenge for them: a signing oracle for anyone. Invisible-only secrets are refused too.
#[test]
fn nul_and_invisible_only_secrets_are_refused() {
    // Why: the NUL secret and the empty secret sign identically.
    assert_eq!(
        sign("\0", TS, CHALLENGE_BODY.as_bytes()),
        sign("", TS, CHALLENGE_BODY.as_bytes())
    );
    assert_eq!(
        sign("\0\0\0\0", TS, CHALLENGE_BODY.as_bytes()),
        sign("", TS, CHALLENGE_BODY.as_bytes())
    );
    for blank in [
        "\0",
        "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
        "\u{FEFF}",
        "\u{200B}\n",
        "\u{200B}\u{200C}\u{200D}\u{200E}\u{200F}",
        "\u{2060}\u{2061}\u{2062}\u{2063}\u{2064}",
        "\u{00AD}\u{180E}",
        "\u{00A0}\u{2003}\u{3000}",
        "\r\n\t \u{000B}\u{000C}",
    ] {
        assert_eq!(
            Verifier::new(blank).expect_err("blank secret"),
            ConfigError::EmptySecret {
                label: "default".into()
            },
            "{blank:?}"
        );
        assert_eq!(
            Verifier::builder()
                .with_secret("meeting-app", SECRET)
                .with_secret_for("sdk-app", blank, [Product::VideoSdk])
                .build()
                .expect_err("blank secret among good ones"),
            ConfigError::EmptySecret {
                label: "sdk-app".into()
            },
            "{blank:?}"
        );
    }
    // A real secret is used verbatim: surrounding invisible characters are part of it.
    let padded = format!("\u{FEFF}{SECRET}\n");
    let v = Verifier::builder()
        .with_secret("default", padded.as_str())
        .with_clock(fixed(at(TS_SECS)))
        .build()
        .expect("not blank");
    assert_eq!(
        v.verify(
            SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)),
            STOPPED_BODY.as_bytes()
        )
        .expect_err("a different key"),
        VerifyError::Mismatch
    );
    let sig = sign(&padded, TS, STOPPED_BODY.as_bytes());
    assert!(v
        .verify(
            SignatureHeaders::new(Some(&sig), Some(TS)),
            STOPPED_BODY.as_bytes()
        )
        .is_ok());
}

// ---------------------------------------------------------------------------------------
// Secrets bound to products (0.1 review: every secret was trusted for every product)
// ---------------------------------------------------------------------------------------

const MEETING_SECRET: &str = "meeting-app-secret-token";
const VIDEO_SDK_SECRET: &str = "video-sdk-app-secret-token";

fn bound_verifier() -> Verifier {
    Verifier::builder()
        .with_secret_for(
            "meeting-app",
            MEETING_SECRET,
            [Product::Meeting, Product::Webinar],
        )
        .with_secret_for("video-sdk-app", VIDEO_SDK_SECRET, [Product::VideoSdk])
        .with_clock(fixed(at(TS_SECS)))
        .build()
        .expect("valid secrets")
}

/// HMAC-SHA256 hex, computed independently of the crate.
fn hmac_hex(key: &str, msg: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

fn signed_parse(v: &Verifier, secret: &str, body: &str) -> Result<VerifiedEvent, Error> {
    let sig = sign(secret, TS, body.as_bytes());
    v.verify_and_parse(SignatureHeaders::new(Some(&sig), Some(TS)), body.as_bytes())
}

#[test]
fn a_secret_bound_to_the_video_sdk_cannot_sign_meeting_events() {
    let v = bound_verifier();
    for fixture in [
        include_str!("fixtures/meeting_rtms_started_flat.json"),
        include_str!("fixtures/meeting_rtms_stopped.json"),
        include_str!("fixtures/meeting_rtms_interrupted.json"),
        include_str!("fixtures/webinar_rtms_started_webinar_uuid.json"),
        include_str!("fixtures/contact_center_voice_rtms_started.json"),
        include_str!("fixtures/phone_rtms_started.json"),
    ] {
        let err = signed_parse(&v, VIDEO_SDK_SECRET, fixture).expect_err("refused");
        let Error::Verify(VerifyError::ProductNotAllowed {
            secret_label,
            product,
        }) = &err
        else {
            panic!("expected ProductNotAllowed, got {err:?}")
        };
        assert_eq!(secret_label, "video-sdk-app");
        let event = WebhookEvent::parse(fixture.as_bytes()).expect("fixture parses");
        assert_eq!(Some(*product), event.product());
        assert!(!err.to_string().contains(VIDEO_SDK_SECRET), "{err}");
        // The same bytes through `Verified::parse`: the signature itself is fine.
        let sig = sign(VIDEO_SDK_SECRET, TS, fixture.as_bytes());
        let verified = v
            .verify(
                SignatureHeaders::new(Some(&sig), Some(TS)),
                fixture.as_bytes(),
            )
            .expect("the signature verifies");
        assert!(matches!(
            verified.parse(),
            Err(Error::Verify(VerifyError::ProductNotAllowed { .. }))
        ));
    }
    // The meeting app's secret may sign meetings and webinars, not Video SDK sessions.
    for fixture in [
        include_str!("fixtures/meeting_rtms_started_flat.json"),
        include_str!("fixtures/webinar_rtms_stopped.json"),
    ] {
        let event = signed_parse(&v, MEETING_SECRET, fixture).expect("bound product");
        assert_eq!(event.secret_label(), "meeting-app");
    }
    assert!(matches!(
        signed_parse(
            &v,
            MEETING_SECRET,
            include_str!("fixtures/session_rtms_started.json")
        ),
        Err(Error::Verify(VerifyError::ProductNotAllowed {
            product: Product::VideoSdk,
            ..
        }))
    ));
    let event = signed_parse(
        &v,
        VIDEO_SDK_SECRET,
        include_str!("fixtures/session_rtms_started.json"),
    )
    .expect("the Video SDK app's own event");
    assert_eq!(event.secret_label(), "video-sdk-app");
}

#[test]
fn events_without_a_product_are_accepted_from_any_secret() {
    let v = bound_verifier();
    for secret in [MEETING_SECRET, VIDEO_SDK_SECRET] {
        // Each app validates the endpoint with its own secret.
        let event = signed_parse(&v, secret, CHALLENGE_BODY).expect("url_validation");
        let reply = event.challenge_response().expect("a challenge");
        assert_eq!(
            reply.encrypted_token,
            hmac_hex(secret, PLAIN_TOKEN.as_bytes())
        );
        for fixture in [
            include_str!("fixtures/rtms_concurrency_limited.json"),
            include_str!("fixtures/rtms_concurrency_near_limit.json"),
            include_str!("fixtures/rtms_start_failed.json"),
            include_str!("fixtures/unknown_event.json"),
        ] {
            assert!(
                signed_parse(&v, secret, fixture).is_ok(),
                "{secret}: {fixture}"
            );
        }
    }
    // An unbound secret (`with_secret`) signs every product.
    let any = Verifier::builder()
        .with_secret("any", MEETING_SECRET)
        .with_clock(fixed(at(TS_SECS)))
        .build()
        .expect("valid");
    assert!(signed_parse(
        &any,
        MEETING_SECRET,
        include_str!("fixtures/session_rtms_started.json")
    )
    .is_ok());
}

#[test]
fn a_secret_bound_to_no_product_is_a_config_error() {
    assert_eq!(
        Verifier::builder()
            .with_secret_for("sdk-app", VIDEO_SDK_SECRET, [])
            .build()
            .expect_err("no product"),
        ConfigError::NoProducts {
            label: "sdk-app".into()
        }
    );
    // Repeated products are harmless; Debug shows labels and products, never secrets.
    let v = Verifier::builder()
        .with_secret_for(
            "sdk-app",
            VIDEO_SDK_SECRET,
            [Product::VideoSdk, Product::VideoSdk],
        )
        .build()
        .expect("valid");
    let text = format!("{v:?}");
    assert!(
        text.contains("sdk-app") && text.contains("VideoSdk"),
        "{text}"
    );
    assert!(!text.contains(VIDEO_SDK_SECRET), "{text}");
}

/// Regression: with the Video SDK app's secret, a forged `meeting.rtms_started` could be
/// accepted and mark another app's stream as seen, so Zoom's genuine start was dropped as a
/// duplicate. Bound secrets refuse it with `401` before de-duplication.
#[test]
fn a_wrongly_bound_start_cannot_mark_a_stream_as_seen() {
    use std::sync::Mutex;
    use std::task::{Context, Poll, Waker};
    use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    use zoom_rtms_webhooks::receiver::{
        Delivery, HandoffError, Outcome, Receiver, Rejection, WebhookRequest,
    };

    fn block_on<F: std::future::Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("in-memory receiver pended"),
        }
    }

    let handed: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let sink = Arc::clone(&handed);
    let receiver = Receiver::new(
        bound_verifier(),
        MemoryDeduplicator::new(),
        move |d: Delivery| -> Result<(), HandoffError> {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(d);
            Ok(())
        },
    );
    let body = include_str!("fixtures/meeting_rtms_started_flat.json").as_bytes();
    let send = |secret: &str| {
        let sig = sign(secret, TS, body);
        block_on(receiver.receive(WebhookRequest::post(Some(&sig), Some(TS), body)))
    };

    let forged = send(VIDEO_SDK_SECRET);
    assert!(
        matches!(
            forged,
            Outcome::Rejected(Rejection::Unauthorized(
                VerifyError::ProductNotAllowed { .. }
            ))
        ),
        "{forged:?}"
    );
    assert_eq!(forged.response().status, 401);
    assert!(handed.lock().unwrap_or_else(|p| p.into_inner()).is_empty());

    // Zoom's genuine delivery of the same stream is processed, not taken for a duplicate.
    let genuine = send(MEETING_SECRET);
    assert!(matches!(genuine, Outcome::Accepted { .. }), "{genuine:?}");
    let handed = handed.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(handed.len(), 1);
    assert_eq!(handed[0].secret_label, "meeting-app");
}

// ---------------------------------------------------------------------------------------
// SignatureHeaders
// ---------------------------------------------------------------------------------------

#[test]
fn signature_headers_from_pairs() {
    let read = SignatureHeaders::from_pairs([
        ("Content-Type", b"application/json".as_slice()),
        ("X-ZM-SIGNATURE", STOPPED_SIG.as_bytes()),
        ("x-Zm-Request-Timestamp", TS.as_bytes()),
    ]);
    assert_eq!(read, SignatureHeaders::new(Some(STOPPED_SIG), Some(TS)));
    assert!(verifier().verify(read, STOPPED_BODY.as_bytes()).is_ok());

    // Repeated (in any spelling): ambiguous, never picked.
    let read = SignatureHeaders::from_pairs([
        ("x-zm-signature", STOPPED_SIG.as_bytes()),
        ("X-ZM-Signature", STOPPED_SIG.as_bytes()),
        ("x-zm-request-timestamp", TS.as_bytes()),
    ]);
    assert_eq!(read.signature(), None);
    assert_eq!(
        verifier()
            .verify(read, STOPPED_BODY.as_bytes())
            .unwrap_err(),
        VerifyError::AmbiguousHeader {
            header: SIGNATURE_HEADER
        }
    );
    let read = SignatureHeaders::from_pairs([
        ("x-zm-signature", STOPPED_SIG.as_bytes()),
        ("x-zm-request-timestamp", TS.as_bytes()),
        ("x-zm-request-timestamp", b"\xff".as_slice()),
    ]);
    assert_eq!(
        verifier()
            .verify(read, STOPPED_BODY.as_bytes())
            .unwrap_err(),
        VerifyError::AmbiguousHeader {
            header: TIMESTAMP_HEADER
        }
    );
    // Not UTF-8: missing.
    let read = SignatureHeaders::from_pairs([
        ("x-zm-signature", b"v0=\xff".as_slice()),
        ("x-zm-request-timestamp", TS.as_bytes()),
    ]);
    assert_eq!(
        verifier()
            .verify(read, STOPPED_BODY.as_bytes())
            .unwrap_err(),
        VerifyError::MissingSignature
    );
    // Names that only look alike are other headers.
    let read = SignatureHeaders::from_pairs([
        ("x-zm-signature ", STOPPED_SIG.as_bytes()),
        ("x_zm_signature", STOPPED_SIG.as_bytes()),
        ("x-zm-request-timestamp", TS.as_bytes()),
    ]);
    assert_eq!(read.signature(), None);
    assert_eq!(
        verifier()
            .verify(read, STOPPED_BODY.as_bytes())
            .unwrap_err(),
        VerifyError::MissingSignature
    );
}

#[test]
fn signature_headers_debug_hides_the_signature() {
    let read = SignatureHeaders::new(Some(STOPPED_SIG), Some(TS));
    let text = format!("{read:?}");
    assert!(!text.contains(mac_hex(STOPPED_SIG)), "{text}");
    assert!(text.contains(TS), "{text}");
    let repeated = SignatureHeaders::from_pairs([
        ("x-zm-signature", b"a".as_slice()),
        ("x-zm-signature", b"b".as_slice()),
    ]);
    assert!(format!("{repeated:?}").contains("repeated"));
}

#[test]
fn challenge_response_debug_redacts_the_encrypted_token() {
    let event = verifier()
        .verify_and_parse(
            SignatureHeaders::new(Some(CHALLENGE_SIG), Some(TS)),
            CHALLENGE_BODY.as_bytes(),
        )
        .expect("verified challenge");
    let reply = event.challenge_response().expect("reply");
    assert_eq!(reply.encrypted_token, ENCRYPTED_TOKEN);
    for text in [format!("{reply:?}"), format!("{reply:#?}")] {
        assert!(!text.contains(ENCRYPTED_TOKEN), "{text}");
        assert!(text.contains(PLAIN_TOKEN), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
}
