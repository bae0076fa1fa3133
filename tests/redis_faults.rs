//! Redis stopped: the receiver answers 503 with `Retry-After` (`DedupUnavailable` /
//! `HandoffUnavailable`) instead of accepting without de-duplication or durability. Redis
//! restarted on the same port: accepted again, without restarting the receiver.
#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_support;

use std::sync::Arc;
use std::time::Duration;

use redis_support::{deliver, serve, signed, started_body, RedisServer, SECRET};
use tokio::sync::mpsc;
use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
use zoom_rtms_webhooks::receiver::{
    Delivery, HandoffError, Outcome, Receiver, Rejection, WebhookRequest,
};
use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator, RedisStreamHandoff};
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
        Outcome::Rejected(Rejection::DedupUnavailable(_)) => {}
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
        Outcome::Rejected(Rejection::HandoffUnavailable(HandoffError::Unavailable(_))) => {}
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
