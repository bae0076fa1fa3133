//! Redis stopped: the receiver answers 503 with `Retry-After` (`DedupUnavailable` /
//! `HandoffUnavailable`) instead of accepting without de-duplication or durability. Redis
//! restarted on the same port: accepted again, without restarting the receiver. Redis errors
//! reach the caller whole (the `RedisError` as the source), timeouts as `Timeout`.
#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_support;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use redis_support::{deliver, serve, signed, started_body, RedisServer, SECRET};
use tokio::sync::mpsc;
use zoom_rtms_webhooks::dedup::{DedupError, Deduplicator, MemoryDeduplicator};
use zoom_rtms_webhooks::receiver::{
    Delivery, HandoffError, Outcome, Receiver, Rejection, WebhookRequest,
};
use zoom_rtms_webhooks::redis::{
    connect, LeaseError, RedisDeduplicator, RedisError, RedisStreamHandoff, StreamLeases,
};
use zoom_rtms_webhooks::Verifier;

/// Delivers `body` like Zoom's retries until it gets a 200 (bounded). Each failed attempt
/// takes up to the store's timeout, so the loop is paced by the client's reconnection.
async fn deliver_until_accepted(client: &reqwest::Client, base: &str, body: &[u8]) -> usize {
    for attempt in 1..=60 {
        let (status, _) = deliver(client, base, body).await;
        if status == 200 {
            return attempt;
        }
        assert_eq!(status, 503);
    }
    panic!("not accepted again after Redis came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_redis_down_answers_503_then_recovers_without_restart() {
    let mut server = RedisServer::start();
    let conn = connect(&server.url()).await.expect("connect");
    let dedup = RedisDeduplicator::new(conn).with_timeout(Duration::from_millis(500));
    let (tx, mut rx) = mpsc::channel::<Delivery>(16);
    let receiver = Arc::new(Receiver::new(
        Verifier::new(SECRET).expect("verifier"),
        dedup,
        tx,
    ));
    let base = serve(Arc::clone(&receiver)).await;
    let client = reqwest::Client::new();

    let first = started_body("before-outage");
    assert_eq!(deliver(&client, &base, &first).await.0, 200);
    assert_eq!(
        rx.recv().await.expect("delivery").event.rtms_stream_id(),
        Some("before-outage")
    );

    server.stop();
    let during = started_body("during-outage");
    let (status, retry_after) = deliver(&client, &base, &during).await;
    assert_eq!(status, 503);
    assert!(retry_after.is_some(), "503 carries Retry-After");
    let (sig, ts) = signed(&during);
    match receiver
        .receive(WebhookRequest::post(Some(&sig), Some(&ts), &during))
        .await
    {
        Outcome::Rejected(Rejection::DedupUnavailable { .. }) => {}
        other => panic!("expected DedupUnavailable, got {other:?}"),
    }
    assert!(
        rx.try_recv().is_err(),
        "nothing accepted without de-duplication"
    );

    server.restart();
    deliver_until_accepted(&client, &base, &during).await;
    assert_eq!(
        rx.recv().await.expect("delivery").event.rtms_stream_id(),
        Some("during-outage")
    );
    // De-duplicating again: the retry of the retry is a duplicate.
    assert_eq!(deliver(&client, &base, &during).await.0, 200);
    assert!(rx.try_recv().is_err());
    let stats = receiver.stats();
    assert_eq!(stats.accepted, 2);
    assert!(stats.unavailable >= 2);
    assert_eq!(stats.duplicates, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_redis_down_answers_503_forgets_the_mark_then_recovers() {
    let mut server = RedisServer::start();
    let conn = connect(&server.url()).await.expect("connect");
    let handoff = RedisStreamHandoff::new(conn.clone()).with_timeout(Duration::from_millis(500));
    let receiver = Arc::new(Receiver::new(
        Verifier::new(SECRET).expect("verifier"),
        MemoryDeduplicator::new(),
        handoff,
    ));
    let base = serve(Arc::clone(&receiver)).await;
    let client = reqwest::Client::new();

    server.stop();
    let body = started_body("handoff-outage");
    let (status, retry_after) = deliver(&client, &base, &body).await;
    assert_eq!(status, 503);
    assert!(retry_after.is_some());
    let (sig, ts) = signed(&body);
    match receiver
        .receive(WebhookRequest::post(Some(&sig), Some(&ts), &body))
        .await
    {
        // Refused connection or no answer in time (reconnecting): both are 503.
        Outcome::Rejected(Rejection::HandoffUnavailable {
            error: HandoffError::Unavailable(_) | HandoffError::Timeout,
            ..
        }) => {}
        other => panic!("expected HandoffUnavailable, got {other:?}"),
    }

    server.restart();
    // The in-memory mark was forgotten after each failed hand-off, so the retry is accepted.
    deliver_until_accepted(&client, &base, &body).await;
    let mut admin = conn;
    let entries: Vec<redis::Value> = redis::cmd("XRANGE")
        .arg("zoom-rtms:events")
        .arg("-")
        .arg("+")
        .query_async(&mut admin)
        .await
        .expect("XRANGE");
    assert_eq!(entries.len(), 1, "exactly the accepted delivery is stored");
    assert_eq!(receiver.stats().accepted, 1);
}

/// The `RedisError` of the store itself, with its code, for `Err(e)` of each piece.
fn redis_code_of_dedup(e: &DedupError) -> Option<String> {
    match e {
        DedupError::Unavailable(store) => store
            .downcast_ref::<RedisError>()
            .and_then(|r| r.code().map(str::to_owned)),
        _ => None,
    }
}

/// Errors keep their source: an error reply from Redis (here `OOM` under `noeviction`) reaches
/// the caller as the `RedisError` itself (through `Error::source` too), in `DedupError`,
/// `HandoffError` and `LeaseError`; a Redis that does not answer in time is a distinct
/// `Timeout` in each.
#[tokio::test]
async fn store_errors_keep_the_redis_error_and_timeouts_stay_distinct() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let conn = connect(&server.url()).await.expect("connect");
    let timeout = Duration::from_millis(200);
    let dedup = RedisDeduplicator::new(conn.clone()).with_timeout(timeout);
    let handoff = RedisStreamHandoff::new(conn.clone()).with_timeout(timeout);
    let failing_open = RedisDeduplicator::new(conn.clone())
        .with_timeout(timeout)
        .with_fail_open_on_error(true);
    let leases = StreamLeases::new(conn).with_timeout(timeout);
    let body = started_body("errors");
    let event = zoom_rtms_webhooks::WebhookEvent::parse(&body).expect("parse");
    let delivery = Delivery::new(event, "started:meeting:errors", "default", 1);

    // 1. Redis refuses every write: the Redis error is kept, not turned into a string.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query_async(&mut admin)
        .await
        .expect("CONFIG SET");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1")
        .query_async(&mut admin)
        .await
        .expect("CONFIG SET");

    let err = dedup
        .check_and_mark("started:meeting:errors")
        .await
        .unwrap_err();
    assert_eq!(redis_code_of_dedup(&err).as_deref(), Some("OOM"), "{err:?}");
    let source = err.source().expect("DedupError has a source");
    assert!(source.to_string().contains("OOM"), "{source}");

    match handoff.append(&delivery, &body).await {
        Err(HandoffError::Unavailable(store)) => {
            let redis = store.downcast_ref::<RedisError>().expect("a RedisError");
            assert_eq!(redis.code(), Some("OOM"));
        }
        other => panic!("expected HandoffError::Unavailable, got {other:?}"),
    }

    match leases.acquire("errors").await {
        Err(e @ LeaseError::Unavailable(_)) => {
            let redis = e
                .source()
                .and_then(|s| s.downcast_ref::<RedisError>())
                .expect("the source is the RedisError");
            assert_eq!(redis.code(), Some("OOM"));
            assert!(e.is_transient());
        }
        other => panic!("expected LeaseError::Unavailable, got {other:?}"),
    }

    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query_async(&mut admin)
        .await
        .expect("CONFIG SET");

    // 2. Redis does not answer in time (writes paused): Timeout, in each error type.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query_async(&mut admin)
        .await
        .expect("CLIENT PAUSE");
    assert_eq!(
        dedup.check_and_mark("started:meeting:paused").await,
        Err(DedupError::Timeout)
    );
    assert!(matches!(
        handoff.append(&delivery, &body).await,
        Err(HandoffError::Timeout)
    ));
    assert_eq!(leases.acquire("paused").await, Err(LeaseError::Timeout));
    // Failing open is about accepting a delivery: an undo that failed is still an error, and is
    // not counted as "failed open".
    assert_eq!(
        failing_open.forget("started:meeting:paused").await,
        Err(DedupError::Timeout)
    );
    assert_eq!(failing_open.failed_open(), 0);
    assert_eq!(failing_open.errors(), 1);
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query_async(&mut admin)
        .await
        .expect("CLIENT UNPAUSE");
    tokio::time::timeout(Duration::from_secs(30), dedup.settle())
        .await
        .expect("late marks undone once Redis answers again");
}
