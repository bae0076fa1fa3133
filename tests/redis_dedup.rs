//! `RedisDeduplicator` against a real `redis-server` on loopback: one `SET NX PX` per request,
//! prefix and TTL, exactly one `New` under concurrency, late marks undone after a timeout,
//! fail-open only when asked, and several replicas sharing one Redis.
#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis_support::{
    deliver, interrupted_body, serve, started_body, stopped_body, RedisServer, SECRET,
};
use zoom_rtms_webhooks::dedup::{DedupError, Deduplicator, Seen, DEFAULT_TTL};
use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
use zoom_rtms_webhooks::receiver::{Delivery, Receiver};
use zoom_rtms_webhooks::redis::{connect, ConnectionManager, RedisDeduplicator};
use zoom_rtms_webhooks::Verifier;

async fn admin(server: &RedisServer) -> ConnectionManager {
    connect(&server.url())
        .await
        .expect("connect to the test redis-server")
        .into()
}

async fn query<T: redis::FromRedisValue>(conn: &mut ConnectionManager, cmd: &mut redis::Cmd) -> T {
    cmd.query_async(conn).await.expect("redis command")
}

#[tokio::test]
async fn marks_once_with_prefix_and_default_ttl_and_forget_deletes() {
    let server = RedisServer::start();
    let mut admin = admin(&server).await;
    let dedup = RedisDeduplicator::new(admin.clone());
    assert_eq!(dedup.ttl(), DEFAULT_TTL);
    assert!(dedup.ttl() >= Duration::from_secs(90 * 60));

    assert_eq!(
        dedup.check_and_mark("started:meeting:s1").await,
        Ok(Seen::New)
    );
    assert_eq!(
        dedup.check_and_mark("started:meeting:s1").await,
        Ok(Seen::Duplicate)
    );

    // One key, under the prefix, expiring within the TTL (and after 90 minutes).
    let keys: Vec<String> = query(&mut admin, redis::cmd("KEYS").arg("*")).await;
    assert_eq!(keys, ["zoom-rtms:dedup:started:meeting:s1"]);
    let pttl: i64 = query(&mut admin, redis::cmd("PTTL").arg(&keys[0])).await;
    assert!(pttl > 90 * 60 * 1000, "pttl {pttl}");
    assert!(pttl <= 2 * 60 * 60 * 1000, "pttl {pttl}");

    dedup.forget("started:meeting:s1").await.expect("forget");
    dedup
        .forget("never-marked")
        .await
        .expect("forgetting an unknown key is fine");
    assert_eq!(
        dedup.check_and_mark("started:meeting:s1").await,
        Ok(Seen::New)
    );
    assert_eq!(dedup.errors(), 0);
}

/// `forget` is owner-checked, like the late-mark undo: a deduplicator deletes only marks it set
/// itself (compare-and-delete on its token), so one replica cannot erase another's mark.
#[tokio::test]
async fn forget_deletes_only_marks_this_deduplicator_set() {
    let server = RedisServer::start();
    let mut admin = admin(&server).await;
    let replica_a = RedisDeduplicator::new(connect(&server.url()).await.expect("connect"));
    let replica_b = RedisDeduplicator::new(connect(&server.url()).await.expect("connect"));
    let key = "zoom-rtms:dedup:started:meeting:owned";

    assert_eq!(
        replica_a.check_and_mark("started:meeting:owned").await,
        Ok(Seen::New)
    );
    let mark: String = query(&mut admin, redis::cmd("GET").arg(key)).await;

    // Another replica's forget leaves the mark (and is not an error).
    replica_b
        .forget("started:meeting:owned")
        .await
        .expect("forgetting someone else's mark is not an error");
    let after: Option<String> = query(&mut admin, redis::cmd("GET").arg(key)).await;
    assert_eq!(after.as_deref(), Some(mark.as_str()), "B erased A's mark");
    assert_eq!(
        replica_b.check_and_mark("started:meeting:owned").await,
        Ok(Seen::Duplicate)
    );

    // The owner (any clone of it) deletes it.
    replica_a
        .clone()
        .forget("started:meeting:owned")
        .await
        .expect("forget");
    let exists: i64 = query(&mut admin, redis::cmd("EXISTS").arg(key)).await;
    assert_eq!(exists, 0);
    assert_eq!(
        replica_b.check_and_mark("started:meeting:owned").await,
        Ok(Seen::New)
    );
    // Now B owns it, and A cannot erase it either.
    replica_a
        .forget("started:meeting:owned")
        .await
        .expect("forget");
    assert_eq!(
        replica_a.check_and_mark("started:meeting:owned").await,
        Ok(Seen::Duplicate)
    );

    // A mark written by something else (another application, a value without a token) stays.
    let foreign = "zoom-rtms:dedup:foreign";
    let _: () = query(&mut admin, redis::cmd("SET").arg(foreign).arg("1")).await;
    replica_a.forget("foreign").await.expect("forget");
    let exists: i64 = query(&mut admin, redis::cmd("EXISTS").arg(foreign)).await;
    assert_eq!(exists, 1);
    assert_eq!(replica_a.errors(), 0);
}

#[tokio::test]
async fn prefixes_namespace_applications_and_ttl_is_configurable() {
    let server = RedisServer::start();
    let mut admin = admin(&server).await;
    let app1 = RedisDeduplicator::new(admin.clone()).with_prefix("app1:");
    let app2 = RedisDeduplicator::new(admin.clone())
        .with_prefix("app2:")
        .with_ttl(Duration::from_secs(3 * 3600));
    assert_eq!(app1.check_and_mark("k").await, Ok(Seen::New));
    assert_eq!(app2.check_and_mark("k").await, Ok(Seen::New));
    assert_eq!(app2.check_and_mark("k").await, Ok(Seen::Duplicate));
    let pttl: i64 = query(&mut admin, redis::cmd("PTTL").arg("app2:k")).await;
    assert!(
        pttl > 2 * 3600 * 1000 && pttl <= 3 * 3600 * 1000,
        "pttl {pttl}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_marks_on_separate_connections_give_exactly_one_new() {
    let server = RedisServer::start();
    let mut dedups = Vec::new();
    for _ in 0..8 {
        let conn = connect(&server.url()).await.expect("connect");
        dedups.push(Arc::new(
            RedisDeduplicator::new(conn).with_timeout(Duration::from_secs(10)),
        ));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..200 {
        let dedup = Arc::clone(&dedups[round % dedups.len()]);
        tasks.spawn(async move { dedup.check_and_mark("started:meeting:race").await });
    }
    let mut new = 0;
    let mut duplicate = 0;
    while let Some(result) = tasks.join_next().await {
        match result.expect("task") {
            Ok(Seen::New) => new += 1,
            Ok(Seen::Duplicate) => duplicate += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => panic!("redis failed: {e}"),
        }
    }
    assert_eq!((new, duplicate), (1, 199));
}

/// Redis answers too slowly (writes paused on the server): the call fails with `Timeout`, and
/// the `SET` that Redis applies afterwards is undone, so Zoom's retry is processed.
#[tokio::test]
async fn a_timed_out_mark_applied_late_is_undone() {
    let server = RedisServer::start();
    let mut admin = admin(&server).await;
    let conn = connect(&server.url()).await.expect("connect");
    let dedup = RedisDeduplicator::new(conn).with_timeout(Duration::from_millis(200));

    let _: () = query(
        &mut admin,
        redis::cmd("CLIENT").arg("PAUSE").arg(60_000).arg("WRITE"),
    )
    .await;
    assert_eq!(
        dedup.check_and_mark("started:meeting:slow").await,
        Err(DedupError::Timeout)
    );
    assert_eq!(dedup.errors(), 1);
    let _: () = query(&mut admin, redis::cmd("CLIENT").arg("UNPAUSE")).await;

    // The late SET ran, then the compare-and-DEL queued behind it.
    tokio::time::timeout(Duration::from_secs(30), dedup.settle())
        .await
        .expect("the undo finishes once Redis is unpaused");
    assert_eq!(dedup.late_marks_undone(), 1);
    assert_eq!(
        dedup.check_and_mark("started:meeting:slow").await,
        Ok(Seen::New)
    );
}

#[tokio::test]
async fn errors_fail_closed_by_default_and_open_only_when_asked() {
    let mut server = RedisServer::start();
    let conn = connect(&server.url()).await.expect("connect");
    let closed = RedisDeduplicator::new(conn.clone()).with_timeout(Duration::from_millis(300));
    let open = RedisDeduplicator::new(conn)
        .with_timeout(Duration::from_millis(300))
        .with_fail_open_on_error(true);
    assert!(!closed.fail_open_on_error());
    assert!(open.fail_open_on_error());

    server.stop();
    assert!(closed.check_and_mark("k1").await.is_err());
    assert_eq!(closed.failed_open(), 0);
    assert_eq!(open.check_and_mark("k2").await, Ok(Seen::New));
    assert_eq!(
        open.check_and_mark("k2").await,
        Ok(Seen::New),
        "no de-duplication while down"
    );
    assert_eq!(open.failed_open(), 2);
    assert_eq!(open.errors(), 2);
    // Failing open is about accepting a delivery: a failed undo is still an error.
    assert!(open.forget("k2").await.is_err());
    assert_eq!(open.failed_open(), 2);
    assert_eq!(open.errors(), 3);
}

/// Four replicas, each its own `Receiver`, `RedisDeduplicator` (own connection), `Dispatcher`
/// and axum server on loopback, share one Redis. 50 distinct events are each delivered 20 times,
/// concurrently, spread over the four replicas: the handlers run exactly 50 times, once per
/// event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_sharing_redis_process_each_of_50_events_once() {
    const REPLICAS: usize = 4;
    const EVENTS: usize = 50;
    const DELIVERIES: usize = 20;

    let server = RedisServer::start();
    let runs: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut bases = Vec::new();
    let mut receivers = Vec::new();
    let mut dispatchers = Vec::new();
    for _ in 0..REPLICAS {
        let conn = connect(&server.url()).await.expect("connect");
        // Generous timeout: two shared cores; a 503 would only make the client retry anyway.
        let dedup = RedisDeduplicator::new(conn).with_timeout(Duration::from_secs(5));
        let runs = Arc::clone(&runs);
        let dispatcher = Dispatcher::new(
            DispatcherConfig::default().with_queue_capacity(EVENTS * DELIVERIES),
            move |d: Delivery| {
                let runs = Arc::clone(&runs);
                async move {
                    *runs.lock().unwrap().entry(d.dedup_key).or_default() += 1;
                    Ok::<_, std::convert::Infallible>(())
                }
            },
        );
        let receiver = Arc::new(Receiver::new(
            Verifier::new(SECRET).expect("verifier"),
            dedup,
            dispatcher.clone(),
        ));
        bases.push(serve(Arc::clone(&receiver)).await);
        receivers.push(receiver);
        dispatchers.push(dispatcher);
    }

    // 50 distinct events: starts, stops and interruptions of different streams.
    let bodies: Vec<Vec<u8>> = (0..EVENTS)
        .map(|i| match i % 3 {
            0 => started_body(&format!("stream-{i}")),
            1 => stopped_body(&format!("stream-{i}")),
            _ => interrupted_body(&format!("stream-{i}"), 1_732_313_170_000 + i as u64),
        })
        .map(|b| b.to_vec())
        .collect();

    let client = reqwest::Client::new();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for delivery in 0..DELIVERIES {
        for (event, body) in bodies.iter().enumerate() {
            let base = bases[(event + delivery) % REPLICAS].clone();
            let body = body.clone();
            let client = client.clone();
            let in_flight = Arc::clone(&in_flight);
            tasks.spawn(async move {
                let _slot = in_flight.acquire_owned().await.expect("semaphore");
                // Like Zoom: a non-2xx answer is delivered again (bounded here).
                for _attempt in 0..10 {
                    let (status, _) = deliver(&client, &base, &body).await;
                    if status == 200 {
                        return true;
                    }
                    assert_eq!(status, 503, "only 503 may be retried");
                }
                false
            });
        }
    }
    let mut acknowledged = 0;
    while let Some(ok) = tasks.join_next().await {
        assert!(ok.expect("delivery task"), "a delivery never got its 200");
        acknowledged += 1;
    }
    assert_eq!(acknowledged, EVENTS * DELIVERIES);

    for dispatcher in &dispatchers {
        dispatcher.shutdown().await;
    }
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), EVENTS, "every event processed");
    assert!(
        runs.values().all(|&n| n == 1),
        "each event processed once: {runs:?}"
    );
    let accepted: u64 = receivers.iter().map(|r| r.stats().accepted).sum();
    let duplicates: u64 = receivers.iter().map(|r| r.stats().duplicates).sum();
    assert_eq!(accepted, EVENTS as u64);
    assert_eq!(duplicates, (EVENTS * DELIVERIES - EVENTS) as u64);
    // Spread: every replica accepted or acknowledged deliveries.
    assert!(receivers
        .iter()
        .all(|r| r.stats().accepted + r.stats().duplicates > 0));
}
