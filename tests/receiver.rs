//! Tests of the framework-agnostic decision, `zoom_rtms_webhooks::receiver::Receiver`.
//!
//! No HTTP: every row of the status table in `src/receiver.rs` is exercised with
//! `Receiver::receive` and a verifier clock fixed at `common::T0`. No sleeps, no wall clock.

mod common;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    at, broken_started_body, challenge_body, signed_at, started_body, started_body_with_ts,
    stopped_body, unknown_body, verifier_at, MALFORMED_JSON, SECRET, T0,
};
use zoom_rtms_webhooks::dedup::{
    BoxDeduplicator, DedupError, Deduplicator, MemoryDeduplicator, Seen, StoreError,
};
use zoom_rtms_webhooks::event::ParseError;
use zoom_rtms_webhooks::receiver::{
    BoxHandoff, Handoff, HandoffError, Outcome, ReceiverConfig, ReceiverStats, Rejection,
    WebhookRequest, WebhookResponse, DEFAULT_BODY_LIMIT, DEFAULT_RETRY_AFTER,
};
use zoom_rtms_webhooks::signature::{sign, VerifyError};
use zoom_rtms_webhooks::{Delivery, Receiver, Verifier, WebhookEvent};

/// The challenge token used throughout (the one in Zoom's documentation).
const PLAIN_TOKEN: &str = "qgg8vlvZRS6UYooatFL8Aw";

/// HMAC-SHA256(SECRET, PLAIN_TOKEN), computed independently of this crate with:
///
/// ```text
/// python3 -c 'import hmac,hashlib;print(hmac.new(b"test-secret-token",
///     b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest())'
/// ```
const ENCRYPTED_WITH_SECRET: &str =
    "9c8ad56737c19db2904b301c0781e86857e999f39f07727668cf62a5e7e298c8";

/// A second secret (another app, or the new secret during a rotation).
const SECOND_SECRET: &str = "second-secret";

/// HMAC-SHA256(SECOND_SECRET, PLAIN_TOKEN):
///
/// ```text
/// python3 -c 'import hmac,hashlib;print(hmac.new(b"second-secret",
///     b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest())'
/// ```
const ENCRYPTED_WITH_SECOND: &str =
    "afa6e423427821c9d831b47592571e5afcbf3b98f36e637eef3f5e408664a35e";

/// A bounded in-memory hand-off the test can inspect and drain: a stand-in for a queue.
struct Queue {
    capacity: usize,
    items: Mutex<VecDeque<Delivery>>,
}

impl Queue {
    fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Queue {
            capacity,
            items: Mutex::new(VecDeque::new()),
        })
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn pop(&self) -> Option<Delivery> {
        self.lock().pop_front()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Delivery>> {
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Handoff for Queue {
    fn hand_off<'a>(
        &'a self,
        delivery: Delivery,
        _raw_body: &'a [u8],
    ) -> impl Future<Output = Result<(), HandoffError>> + Send + 'a {
        let mut items = self.lock();
        let result = if items.len() >= self.capacity {
            Err(HandoffError::Full)
        } else {
            items.push_back(delivery);
            Ok(())
        };
        std::future::ready(result)
    }
}

/// A de-duplication store that is always down; counts the calls it gets.
#[derive(Default)]
struct BrokenStore {
    calls: AtomicUsize,
}

impl Deduplicator for BrokenStore {
    async fn check_and_mark(&self, _key: &str) -> Result<Seen, DedupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(DedupError::Unavailable(StoreError::new(
            "connection refused",
        )))
    }

    async fn forget(&self, _key: &str) -> Result<(), DedupError> {
        Err(DedupError::Timeout)
    }
}

type TestReceiver = Receiver<MemoryDeduplicator, Arc<Queue>>;

fn receiver_with(capacity: usize) -> (TestReceiver, Arc<Queue>) {
    let queue = Queue::new(capacity);
    let verifier = verifier_at(SECRET, T0);
    (
        Receiver::new(verifier, MemoryDeduplicator::new(), Arc::clone(&queue)),
        queue,
    )
}

fn receiver() -> (TestReceiver, Arc<Queue>) {
    receiver_with(64)
}

/// Sends `body` signed with `secret` at `T0` (the receivers' verifier clock reads `T0`).
async fn send<D: Deduplicator, H: Handoff>(
    receiver: &Receiver<D, H>,
    secret: &str,
    body: &[u8],
) -> Outcome {
    let (sig, ts) = signed_at(secret, body, T0);
    receiver
        .receive(WebhookRequest::post(Some(&sig), Some(&ts), body))
        .await
}

fn header<'r>(response: &'r WebhookResponse, name: &str) -> Option<&'r str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn assert_empty_200(response: &WebhookResponse) {
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty(), "2xx ack has an empty body");
}

fn assert_unauthorized(response: &WebhookResponse) {
    assert_eq!(response.status, 401);
    assert_eq!(response.body, b"unauthorized");
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

// ---------------------------------------------------------------------------------------------
// 200: verified challenge
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn verified_challenge_is_answered_with_the_hmac_of_the_plain_token() {
    let (receiver, queue) = receiver();
    let outcome = send(&receiver, SECRET, &challenge_body(PLAIN_TOKEN)).await;

    assert!(matches!(outcome, Outcome::Challenge(_)), "{outcome:?}");
    let response = outcome.response();
    assert_eq!(response.status, 200);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let reply = json(&response.body);
    assert_eq!(reply["plainToken"], PLAIN_TOKEN);
    assert_eq!(reply["encryptedToken"], ENCRYPTED_WITH_SECRET);
    assert_eq!(reply.as_object().map(|o| o.len()), Some(2));

    assert_eq!(queue.len(), 0, "a challenge is not handed off");
    assert_eq!(receiver.stats().challenges, 1);
}

#[tokio::test]
async fn challenge_is_answered_with_the_secret_that_verified_it() {
    let verifier = Verifier::builder()
        .with_secret("meeting-app", SECRET)
        .with_secret("video-sdk-app", SECOND_SECRET)
        .with_clock(|| at(T0))
        .build()
        .expect("two secrets");
    let queue = Queue::new(8);
    let receiver = Receiver::new(verifier, MemoryDeduplicator::new(), Arc::clone(&queue));

    let first = send(&receiver, SECRET, &challenge_body(PLAIN_TOKEN)).await;
    let second = send(&receiver, SECOND_SECRET, &challenge_body(PLAIN_TOKEN)).await;

    let first = json(&first.response().body);
    let second = json(&second.response().body);
    assert_eq!(first["encryptedToken"], ENCRYPTED_WITH_SECRET);
    assert_eq!(second["encryptedToken"], ENCRYPTED_WITH_SECOND);

    // Events are labelled with the secret that verified them, too.
    let outcome = send(&receiver, SECOND_SECRET, &started_body("multi")).await;
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    let delivery = queue.pop().expect("handed off");
    assert_eq!(delivery.secret_label, "video-sdk-app");
    assert_eq!(receiver.stats().challenges, 2);
}

// ---------------------------------------------------------------------------------------------
// 401: a challenge that does not verify gets no reply
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unsigned_or_wrongly_signed_challenge_gets_401_and_no_token() {
    let (receiver, queue) = receiver();
    let body = challenge_body(PLAIN_TOKEN);

    let unsigned = receiver
        .receive(WebhookRequest::post(None, None, &body))
        .await;
    let wrong_secret = send(&receiver, "not-the-secret", &body).await;
    // Signed correctly, but for another body: the forged-token attack.
    let forged = {
        let (sig, ts) = signed_at(SECRET, b"{}", T0);
        receiver
            .receive(WebhookRequest::post(Some(&sig), Some(&ts), &body))
            .await
    };

    for outcome in [&unsigned, &wrong_secret, &forged] {
        assert!(
            matches!(outcome, Outcome::Rejected(Rejection::Unauthorized(_))),
            "{outcome:?}"
        );
        let response = outcome.response();
        assert_unauthorized(&response);
        let text = String::from_utf8_lossy(&response.body);
        assert!(!text.contains(PLAIN_TOKEN), "plain token echoed: {text}");
        assert!(
            !text.contains(ENCRYPTED_WITH_SECRET),
            "token leaked: {text}"
        );
        assert!(!text.contains("encryptedToken"));
    }
    assert!(matches!(
        unsigned,
        Outcome::Rejected(Rejection::Unauthorized(VerifyError::MissingSignature))
    ));
    assert!(matches!(
        wrong_secret,
        Outcome::Rejected(Rejection::Unauthorized(VerifyError::Mismatch))
    ));
    assert_eq!(queue.len(), 0);
    let stats = receiver.stats();
    assert_eq!((stats.challenges, stats.unauthorized), (0, 3));
}

// ---------------------------------------------------------------------------------------------
// 200: accepted, duplicate, unknown
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn verified_event_is_accepted_and_handed_off_once() {
    let (receiver, queue) = receiver();
    let body = started_body("stream-1");
    let outcome = send(&receiver, SECRET, &body).await;

    match &outcome {
        Outcome::Accepted { dedup_key, event } => {
            assert_eq!(dedup_key, "started:meeting:stream-1:e16d07add418981e");
            assert_eq!(event, "meeting.rtms_started");
        }
        other => panic!("expected Accepted, got {other:?}"),
    }
    assert_empty_200(&outcome.response());

    let delivery = queue.pop().expect("handed off before receive returned");
    assert_eq!(
        delivery.dedup_key,
        "started:meeting:stream-1:e16d07add418981e"
    );
    assert_eq!(delivery.secret_label, "default");
    assert_eq!(delivery.timestamp, T0);
    assert_eq!(delivery.event.rtms_stream_id(), Some("stream-1"));
    assert!(matches!(delivery.event, WebhookEvent::RtmsStarted(_)));
    assert_eq!(queue.len(), 0);
    assert_eq!(receiver.stats().accepted, 1);
}

#[tokio::test]
async fn retried_delivery_is_acknowledged_but_not_handed_off_again() {
    let now = Arc::new(AtomicU64::new(T0));
    let clock = {
        let now = Arc::clone(&now);
        move || at(now.load(Ordering::Relaxed))
    };
    let verifier = Verifier::builder()
        .with_secret("default", SECRET)
        .with_clock(clock)
        .build()
        .expect("secret");
    let queue = Queue::new(64);
    let receiver = Receiver::new(verifier, MemoryDeduplicator::new(), Arc::clone(&queue));
    let body = started_body("stream-retry");

    let first = send(&receiver, SECRET, &body).await;
    // Zoom's retry: same body, signed and received 5 minutes later.
    now.store(T0 + 300, Ordering::Relaxed);
    let retry = {
        let (sig, ts) = signed_at(SECRET, &body, T0 + 300);
        receiver
            .receive(WebhookRequest::post(Some(&sig), Some(&ts), &body))
            .await
    };

    assert!(matches!(first, Outcome::Accepted { .. }), "{first:?}");
    match &retry {
        Outcome::Duplicate { dedup_key } => {
            assert_eq!(dedup_key, "started:meeting:stream-retry:e16d07add418981e")
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_empty_200(&retry.response());
    assert_eq!(queue.len(), 1, "processed once");
    let stats = receiver.stats();
    assert_eq!((stats.accepted, stats.duplicates), (1, 1));
}

#[tokio::test]
async fn failover_start_with_new_server_urls_is_processed() {
    // Zoom's RTMS server failover: `rtms_started` for an already-active stream, with new
    // `server_urls`. It is a new instruction (reconnect there), not a retry.
    let (receiver, queue) = receiver();
    let first = started_body("stream-f");
    let failover = String::from_utf8(first.clone())
        .expect("utf8")
        .replace("wss://rtms-sjc1.zoom.us/", "wss://rtms-iad1.zoom.us/")
        .into_bytes();
    assert!(matches!(
        send(&receiver, SECRET, &first).await,
        Outcome::Accepted { .. }
    ));
    assert!(matches!(
        send(&receiver, SECRET, &failover).await,
        Outcome::Accepted { .. }
    ));
    // ...and a retry of the failover start is a duplicate again.
    assert!(matches!(
        send(&receiver, SECRET, &failover).await,
        Outcome::Duplicate { .. }
    ));
    assert_eq!(queue.len(), 2);
}

#[tokio::test]
async fn second_start_of_the_same_stream_is_a_duplicate_even_with_another_event_ts() {
    let (receiver, queue) = receiver();
    let first = send(
        &receiver,
        SECRET,
        &started_body_with_ts("stream-x", 1_700_000_000_000),
    )
    .await;
    let second = send(
        &receiver,
        SECRET,
        &started_body_with_ts("stream-x", 1_700_000_999_999),
    )
    .await;

    assert!(matches!(first, Outcome::Accepted { .. }), "{first:?}");
    assert!(matches!(second, Outcome::Duplicate { .. }), "{second:?}");
    assert_empty_200(&second.response());
    assert_eq!(queue.len(), 1);

    // Different events are both processed: another stream, and the stop of this one.
    let other_stream = send(&receiver, SECRET, &started_body("stream-y")).await;
    let stop = send(&receiver, SECRET, &stopped_body("stream-x")).await;
    assert!(matches!(other_stream, Outcome::Accepted { .. }));
    assert!(matches!(stop, Outcome::Accepted { .. }));
    assert_eq!(queue.len(), 3);
}

#[tokio::test]
async fn unknown_event_is_acknowledged_and_handed_off_as_unknown() {
    let (receiver, queue) = receiver();
    let body = unknown_body("meeting.something_new");
    let outcome = send(&receiver, SECRET, &body).await;

    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    let response = outcome.response();
    assert!((200..300).contains(&response.status));
    let delivery = queue.pop().expect("handed off");
    match delivery.event {
        WebhookEvent::Unknown(unknown) => {
            assert_eq!(unknown.event, "meeting.something_new");
            assert_eq!(unknown.payload["anything"][2], 3);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 401 variants
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_signature_failure_is_401_with_a_fixed_body() {
    let (receiver, queue) = receiver();
    let body = started_body("stream-401");
    let good_sig = sign(SECRET, &T0.to_string(), &body);
    let good_ts = T0.to_string();
    let stale_ts = (T0 - 301).to_string();
    let future_ts = (T0 + 301).to_string();
    let stale_sig = sign(SECRET, &stale_ts, &body);
    let future_sig = sign(SECRET, &future_ts, &body);
    let no_prefix = good_sig.trim_start_matches("v0=").to_owned();
    let short = good_sig[..good_sig.len() - 2].to_owned();
    let non_hex = format!("v0={}", "z".repeat(64));
    let tampered_body = started_body("stream-402");

    /// `(signature, timestamp, body, expected error)`.
    type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a [u8], VerifyError);
    let cases: Vec<Case<'_>> = vec![
        (None, Some(&good_ts), &body, VerifyError::MissingSignature),
        (Some(&good_sig), None, &body, VerifyError::MissingTimestamp),
        (
            Some(&good_sig),
            Some("17e8"),
            &body,
            VerifyError::InvalidTimestamp,
        ),
        (
            Some(&stale_sig),
            Some(&stale_ts),
            &body,
            VerifyError::TimestampOutOfTolerance {
                timestamp: T0 - 301,
                now: T0,
            },
        ),
        (
            Some(&future_sig),
            Some(&future_ts),
            &body,
            VerifyError::TimestampOutOfTolerance {
                timestamp: T0 + 301,
                now: T0,
            },
        ),
        (
            Some(&no_prefix),
            Some(&good_ts),
            &body,
            VerifyError::MissingPrefix,
        ),
        (
            Some("v0="),
            Some(&good_ts),
            &body,
            VerifyError::EmptySignature,
        ),
        (
            Some(&short),
            Some(&good_ts),
            &body,
            VerifyError::InvalidLength { len: 62 },
        ),
        (
            Some(&non_hex),
            Some(&good_ts),
            &body,
            VerifyError::InvalidHex,
        ),
        (
            Some(&good_sig),
            Some(&good_ts),
            &tampered_body,
            VerifyError::Mismatch,
        ),
    ];
    let count = cases.len();
    for (sig, ts, body, expected) in cases {
        let outcome = receiver.receive(WebhookRequest::post(sig, ts, body)).await;
        match &outcome {
            Outcome::Rejected(Rejection::Unauthorized(err)) => assert_eq!(err, &expected),
            other => panic!("expected 401 {expected:?}, got {other:?}"),
        }
        let response = outcome.response();
        assert_unauthorized(&response);
        assert!(header(&response, "retry-after").is_none());
    }
    // The untampered request still verifies: the failures above are the headers' fault.
    let outcome = receiver
        .receive(WebhookRequest::post(Some(&good_sig), Some(&good_ts), &body))
        .await;
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");

    assert_eq!(queue.len(), 1);
    assert_eq!(receiver.stats().unauthorized, count as u64);
}

// ---------------------------------------------------------------------------------------------
// 400: only after a valid signature
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signed_malformed_json_is_400() {
    let (receiver, queue) = receiver();
    let outcome = send(&receiver, SECRET, MALFORMED_JSON).await;
    assert!(
        matches!(
            outcome,
            Outcome::Rejected(Rejection::BadRequest(ParseError::InvalidJson(_)))
        ),
        "{outcome:?}"
    );
    let response = outcome.response();
    assert_eq!(response.status, 400);
    assert_eq!(response.body, b"bad request");
    assert_eq!(queue.len(), 0);
}

#[tokio::test]
async fn signed_known_event_with_broken_payload_is_400() {
    let (receiver, queue) = receiver();
    let outcome = send(&receiver, SECRET, &broken_started_body()).await;
    match &outcome {
        Outcome::Rejected(Rejection::BadRequest(err)) => {
            assert_eq!(err.field(), Some("rtms_stream_id"));
        }
        other => panic!("expected 400, got {other:?}"),
    }
    let response = outcome.response();
    assert_eq!(response.status, 400);
    assert_eq!(
        response.body, b"bad request",
        "the parse error is not echoed"
    );
    assert_eq!(queue.len(), 0);
    assert_eq!(receiver.stats().bad_request, 1);
}

#[tokio::test]
async fn unsigned_malformed_body_is_401_not_400() {
    let (receiver, _queue) = receiver();
    for body in [MALFORMED_JSON.to_vec(), broken_started_body()] {
        let outcome = receiver
            .receive(WebhookRequest::post(None, None, &body))
            .await;
        assert!(
            matches!(outcome, Outcome::Rejected(Rejection::Unauthorized(_))),
            "{outcome:?}"
        );
        // Wrong secret: also 401, the body is never parsed.
        let outcome = send(&receiver, "wrong", &body).await;
        assert_unauthorized(&outcome.response());
    }
    let stats = receiver.stats();
    assert_eq!((stats.unauthorized, stats.bad_request), (4, 0));
}

// ---------------------------------------------------------------------------------------------
// 413
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn body_over_the_limit_is_413_before_verification() {
    let limit = 512;
    let queue = Queue::new(8);
    let receiver = Receiver::new(
        verifier_at(SECRET, T0),
        MemoryDeduplicator::new(),
        Arc::clone(&queue),
    )
    .with_config(ReceiverConfig::default().with_body_limit(limit));
    assert_eq!(receiver.config().body_limit(), limit);

    // A valid started body padded with spaces (still valid JSON), one byte over the limit.
    let mut over = started_body("big");
    over.resize(limit + 1, b' ');
    let signed_over = send(&receiver, SECRET, &over).await;
    let unsigned_over = receiver
        .receive(WebhookRequest::post(None, None, &over))
        .await;
    for outcome in [&signed_over, &unsigned_over] {
        assert!(
            matches!(outcome, Outcome::Rejected(Rejection::PayloadTooLarge)),
            "{outcome:?}"
        );
        let response = outcome.response();
        assert_eq!(response.status, 413);
        assert_eq!(response.body, b"payload too large");
    }

    // Exactly at the limit is fine.
    let mut exact = started_body("big");
    exact.resize(limit, b' ');
    let outcome = send(&receiver, SECRET, &exact).await;
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");

    // What an adapter reports when the framework refused the body itself.
    let outcome = receiver.reject(Rejection::PayloadTooLarge);
    assert_eq!(outcome.response().status, 413);

    assert_eq!(queue.len(), 1);
    assert_eq!(receiver.stats().too_large, 3);
    assert_eq!(DEFAULT_BODY_LIMIT, 64 * 1024);
}

// ---------------------------------------------------------------------------------------------
// 503
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn full_hand_off_is_503_with_retry_after_and_the_retry_is_accepted_later() {
    let (receiver, queue) = receiver_with(1);
    let first = send(&receiver, SECRET, &started_body("s-1")).await;
    assert!(matches!(first, Outcome::Accepted { .. }), "{first:?}");

    let body = started_body("s-2");
    let full = send(&receiver, SECRET, &body).await;
    assert!(
        matches!(
            full,
            Outcome::Rejected(Rejection::HandoffUnavailable {
                error: HandoffError::Full,
                ..
            })
        ),
        "{full:?}"
    );
    let response = full.response();
    assert_eq!(response.status, 503);
    assert_eq!(response.body, b"unavailable");
    assert_eq!(
        header(&response, "retry-after"),
        Some(DEFAULT_RETRY_AFTER.as_secs().to_string().as_str())
    );

    // Still full: Zoom's retry is refused again, not acknowledged as a duplicate.
    let again = send(&receiver, SECRET, &body).await;
    assert!(matches!(again, Outcome::Rejected(_)), "{again:?}");

    // The queue drains; the retry is now accepted (the de-duplication mark was undone).
    let drained = queue.pop().expect("first event");
    assert_eq!(drained.event.rtms_stream_id(), Some("s-1"));
    let retry = send(&receiver, SECRET, &body).await;
    assert!(matches!(retry, Outcome::Accepted { .. }), "{retry:?}");
    assert_eq!(
        queue
            .pop()
            .and_then(|d| d.event.rtms_stream_id().map(str::to_owned)),
        Some("s-2".to_owned())
    );

    let stats = receiver.stats();
    assert_eq!(
        (stats.accepted, stats.unavailable, stats.duplicates),
        (2, 2, 0)
    );
}

#[tokio::test]
async fn retry_after_follows_the_configuration_and_is_at_least_one_second() {
    for (configured, expected) in [(Duration::from_secs(30), "30"), (Duration::ZERO, "1")] {
        let (receiver, _queue) = receiver_with(0);
        let receiver = receiver.with_config(ReceiverConfig::default().with_retry_after(configured));
        let outcome = send(&receiver, SECRET, &started_body("s")).await;
        let response = outcome.response();
        assert_eq!(response.status, 503);
        assert_eq!(header(&response, "retry-after"), Some(expected));
    }
}

#[tokio::test]
async fn deduplicator_failure_is_503_and_nothing_is_handed_off() {
    let queue = Queue::new(8);
    let receiver = Receiver::new(
        verifier_at(SECRET, T0),
        BrokenStore::default(),
        Arc::clone(&queue),
    );
    let outcome = send(&receiver, SECRET, &started_body("s")).await;
    assert!(
        matches!(
            outcome,
            Outcome::Rejected(Rejection::DedupUnavailable {
                error: DedupError::Unavailable { .. },
                ..
            })
        ),
        "{outcome:?}"
    );
    let response = outcome.response();
    assert_eq!(response.status, 503);
    assert_eq!(
        response.body, b"unavailable",
        "the store error is not echoed"
    );
    assert!(header(&response, "retry-after").is_some());
    assert_eq!(queue.len(), 0);
    assert_eq!(receiver.deduplicator().calls.load(Ordering::SeqCst), 1);
    assert_eq!(receiver.stats().unavailable, 1);

    // A challenge never reaches the store: it is answered even while the store is down.
    let outcome = send(&receiver, SECRET, &challenge_body(PLAIN_TOKEN)).await;
    assert_eq!(outcome.response().status, 200);
    assert_eq!(receiver.deduplicator().calls.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------------
// 405
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn other_methods_are_405_with_allow_post() {
    let (receiver, queue) = receiver();
    let body = started_body("s-405");
    let (sig, ts) = signed_at(SECRET, &body, T0);
    for method in ["GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"] {
        let request = WebhookRequest {
            method,
            ..WebhookRequest::post(Some(&sig), Some(&ts), &body)
        };
        let outcome = receiver.receive(request).await;
        assert!(
            matches!(outcome, Outcome::Rejected(Rejection::MethodNotAllowed)),
            "{method}: {outcome:?}"
        );
        let response = outcome.response();
        assert_eq!(response.status, 405);
        assert_eq!(header(&response, "allow"), Some("POST"));
        assert_eq!(response.body, b"method not allowed");
    }
    assert_eq!(queue.len(), 0);
    assert_eq!(receiver.stats().method_not_allowed, 6);
}

// ---------------------------------------------------------------------------------------------
// Counters, and the system clock
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn stats_count_every_outcome_once() {
    let (receiver, queue) = receiver_with(2);
    assert_eq!(receiver.stats(), ReceiverStats::default());

    send(&receiver, SECRET, &challenge_body(PLAIN_TOKEN)).await; // challenge
    send(&receiver, SECRET, &started_body("a")).await; // accepted
    send(&receiver, SECRET, &started_body("a")).await; // duplicate
    send(&receiver, SECRET, &unknown_body("x.y")).await; // accepted (queue now full)
    send(&receiver, SECRET, &started_body("b")).await; // 503 full
    send(&receiver, "wrong", &started_body("c")).await; // 401
    send(&receiver, SECRET, MALFORMED_JSON).await; // 400
    receiver.reject(Rejection::PayloadTooLarge); // 413
    receiver.reject(Rejection::Misconfigured); // 500
    let get = WebhookRequest {
        method: "GET",
        ..WebhookRequest::post(None, None, b"")
    };
    receiver.receive(get).await; // 405

    let mut expected = ReceiverStats::default();
    expected.challenges = 1;
    expected.accepted = 2;
    expected.duplicates = 1;
    expected.unavailable = 1;
    expected.unauthorized = 1;
    expected.bad_request = 1;
    expected.too_large = 1;
    expected.method_not_allowed = 1;
    expected.misconfigured = 1;
    assert_eq!(receiver.stats(), expected);
    assert_eq!(queue.len(), 2);
}

#[tokio::test]
async fn receive_uses_the_system_clock() {
    let queue = Queue::new(8);
    let receiver = Receiver::new(
        Verifier::new(SECRET).expect("secret"),
        MemoryDeduplicator::new(),
        Arc::clone(&queue),
    );
    let body = started_body("live");
    let (sig, ts) = common::signed(SECRET, &body);
    let response = receiver
        .receive(WebhookRequest::post(Some(&sig), Some(&ts), &body))
        .await
        .response();
    assert_empty_200(&response);
    assert_eq!(queue.len(), 1);

    // `T0` is far in the past for the system clock: stale.
    let (sig, ts) = signed_at(SECRET, &body, T0);
    let response = receiver
        .receive(WebhookRequest::post(Some(&sig), Some(&ts), &body))
        .await
        .response();
    assert_unauthorized(&response);
}

// ---------------------------------------------------------------------------------------------
// The one status table
// ---------------------------------------------------------------------------------------------

#[test]
fn every_rejection_is_answered_with_its_status_and_a_fixed_body() {
    let retry_after = Duration::from_secs(7);
    /// `(rejection, status, body, extra header)`.
    type Row = (
        Rejection,
        u16,
        &'static str,
        Option<(&'static str, &'static str)>,
    );
    let table: Vec<Row> = vec![
        (
            Rejection::MethodNotAllowed,
            405,
            "method not allowed",
            Some(("allow", "POST")),
        ),
        (Rejection::PayloadTooLarge, 413, "payload too large", None),
        (
            Rejection::Unauthorized(VerifyError::Mismatch),
            401,
            "unauthorized",
            None,
        ),
        (
            Rejection::BadRequest(WebhookEvent::parse(MALFORMED_JSON).expect_err("not JSON")),
            400,
            "bad request",
            None,
        ),
        (Rejection::UnreadableBody, 400, "bad request", None),
        (
            Rejection::DedupUnavailable {
                error: DedupError::Timeout,
                retry_after,
            },
            503,
            "unavailable",
            Some(("retry-after", "7")),
        ),
        (
            Rejection::HandoffUnavailable {
                error: HandoffError::Closed,
                retry_after,
            },
            503,
            "unavailable",
            Some(("retry-after", "7")),
        ),
        (Rejection::Misconfigured, 500, "internal server error", None),
    ];
    for (rejection, status, body, extra) in table {
        assert_eq!(rejection.status(), status, "{rejection:?}");
        let response = Outcome::Rejected(rejection).response();
        let rejection = format!("status {status}");
        assert_eq!(response.status, status, "{rejection:?}");
        assert_eq!(response.body, body.as_bytes(), "{rejection:?}");
        assert_eq!(
            header(&response, "content-type"),
            Some("text/plain; charset=utf-8")
        );
        let mut expected_headers = vec!["content-type"];
        if let Some((name, value)) = extra {
            assert_eq!(header(&response, name), Some(value), "{rejection:?}");
            expected_headers.push(name);
        }
        let names: Vec<&str> = response.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, expected_headers, "{rejection:?}");
    }
}

#[tokio::test]
async fn debug_of_a_challenge_outcome_does_not_show_the_encrypted_token() {
    let (receiver, _queue) = receiver();
    let outcome = send(&receiver, SECRET, &challenge_body(PLAIN_TOKEN)).await;
    let response = outcome.response();
    assert!(String::from_utf8_lossy(&response.body).contains(ENCRYPTED_WITH_SECRET));
    for debug in [format!("{outcome:?}"), format!("{response:?}")] {
        assert!(!debug.contains(ENCRYPTED_WITH_SECRET), "{debug}");
        assert!(debug.contains("body_len"), "{debug}");
    }
}

// ---------------------------------------------------------------------------------------------
// Store and hand-off chosen at run time
// ---------------------------------------------------------------------------------------------

/// What an application's configuration might say.
enum HandoffConfig {
    /// Hand events to a closure (here: it records the stream ids).
    Closure(Arc<Mutex<Vec<String>>>),
    /// A bounded queue.
    Queue(Arc<Queue>),
}

fn boxed_receiver(handoff: HandoffConfig) -> Receiver<BoxDeduplicator, BoxHandoff> {
    let handoff = match handoff {
        HandoffConfig::Closure(seen) => BoxHandoff::new(move |d: Delivery| {
            let stream = d.event.rtms_stream_id().unwrap_or("-").to_owned();
            seen.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(stream);
            Ok::<(), HandoffError>(())
        }),
        HandoffConfig::Queue(queue) => BoxHandoff::new(queue),
    };
    let dedup = BoxDeduplicator::new(MemoryDeduplicator::new());
    Receiver::new(verifier_at(SECRET, T0), dedup, handoff)
}

#[tokio::test]
async fn boxed_store_and_closure_hand_off_accept_once() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let receiver = boxed_receiver(HandoffConfig::Closure(Arc::clone(&seen)));
    let body = started_body("boxed-1");
    assert!(matches!(
        send(&receiver, SECRET, &body).await,
        Outcome::Accepted { .. }
    ));
    assert!(matches!(
        send(&receiver, SECRET, &body).await,
        Outcome::Duplicate { .. }
    ));
    assert!(matches!(
        send(&receiver, "wrong", &started_body("boxed-2")).await,
        Outcome::Rejected(Rejection::Unauthorized(_))
    ));
    assert_eq!(seen.lock().expect("not poisoned").as_slice(), ["boxed-1"]);
    let stats = receiver.stats();
    assert_eq!(
        (stats.accepted, stats.duplicates, stats.unauthorized),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn boxed_hand_off_refusal_is_503_and_the_boxed_store_forgets_the_mark() {
    let queue = Queue::new(1);
    let receiver = boxed_receiver(HandoffConfig::Queue(Arc::clone(&queue)));
    assert!(matches!(
        send(&receiver, SECRET, &started_body("q-1")).await,
        Outcome::Accepted { .. }
    ));
    let body = started_body("q-2");
    let full = send(&receiver, SECRET, &body).await;
    assert!(
        matches!(
            full,
            Outcome::Rejected(Rejection::HandoffUnavailable {
                error: HandoffError::Full,
                ..
            })
        ),
        "{full:?}"
    );
    assert_eq!(full.response().status, 503);
    // Room again: the retry is accepted, not taken for a duplicate (the mark was forgotten
    // through the boxed store).
    assert!(queue.pop().is_some());
    assert!(matches!(
        send(&receiver, SECRET, &body).await,
        Outcome::Accepted { .. }
    ));
    assert_eq!(
        queue
            .pop()
            .and_then(|d| d.event.rtms_stream_id().map(str::to_owned)),
        Some("q-2".to_owned())
    );
    assert_eq!(format!("{:?}", receiver.handoff()), "BoxHandoff(..)");
}
