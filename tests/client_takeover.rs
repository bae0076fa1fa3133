//! The stream supervisor across replicas: two supervisors share a real `redis-server`; only the
//! lease holder connects, a dead holder's stream is taken over once its lease expires, a lost
//! lease drops the connection. The fake RTMS server on loopback counts concurrent signalling
//! connections.
//!
//! Redis expires keys in real time, so these tests run on real time with a 2 s lease TTL;
//! every wait is for an event (bounded), never a sleep for ordering.
#![cfg(all(feature = "client", feature = "redis"))]

#[path = "support/fake_rtms.rs"]
mod fake;
#[path = "support/redis.rs"]
mod redis_support;
#[path = "support/supervised.rs"]
mod supervised;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use fake::{data_ok, signalling_ok, Endpoint};
use redis_support::RedisServer;
use supervised::{
    client_config, connected, interrupted, item, parts, seen, started, stopped, Seen,
};
use zoom_rtms_webhooks::client::Item;
use zoom_rtms_webhooks::client::{
    Handled, Supervisor, SupervisorBuilder, DEFAULT_SUPERVISOR_PREFIX,
};
use zoom_rtms_webhooks::protocol::session::EndReason;
use zoom_rtms_webhooks::redis::{connect, StreamLeases};

const TTL: Duration = Duration::from_secs(2);
/// One step of Zoom's reconnect backoff (its failover guide; `docs/protocol.md#timing-defaults`).
const BACKOFF_STEP: Duration = Duration::from_secs(3);
const WAIT: Duration = Duration::from_secs(20);

/// What the fake RTMS server saw on its signalling sockets.
#[derive(Debug, PartialEq)]
enum Sig {
    Opened,
    /// A stream close request (21).
    CloseRequest,
    Closed,
}

/// A fake RTMS server that completes every handshake by itself and counts concurrent
/// signalling connections.
struct AutoServer {
    url: String,
    events: mpsc::UnboundedReceiver<Sig>,
    max_open: Arc<AtomicUsize>,
}

impl AutoServer {
    async fn start() -> Self {
        let sig_ep = Endpoint::bind().await;
        let media_ep = Endpoint::bind().await;
        let url = sig_ep.url();
        let media_url = media_ep.url();
        let (tx, events) = mpsc::unbounded_channel();
        let open = Arc::new(AtomicUsize::new(0));
        let max_open = Arc::new(AtomicUsize::new(0));
        let max = max_open.clone();
        tokio::spawn(async move {
            loop {
                let mut sig = sig_ep.accept().await;
                let (tx, open, max, media_url) =
                    (tx.clone(), open.clone(), max.clone(), media_url.clone());
                tokio::spawn(async move {
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    let _ = tx.send(Sig::Opened);
                    sig.expect(1).await;
                    sig.send(signalling_ok(&media_url)).await;
                    while let Some(msg) = sig.recv().await {
                        if msg["msg_type"] == 21 {
                            let _ = tx.send(Sig::CloseRequest);
                        }
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                    let _ = tx.send(Sig::Closed);
                });
            }
        });
        tokio::spawn(async move {
            loop {
                let mut media = media_ep.accept().await;
                tokio::spawn(async move {
                    media.expect(3).await;
                    media.send(data_ok()).await;
                    while media.recv().await.is_some() {}
                });
            }
        });
        AutoServer {
            url,
            events,
            max_open,
        }
    }

    async fn next(&mut self) -> Sig {
        tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("the fake server saw nothing")
            .expect("the fake server stopped")
    }
}

async fn leases(redis: &RedisServer, owner: &str) -> StreamLeases {
    StreamLeases::new(connect(&redis.url()).await.unwrap())
        .with_owner(owner)
        .with_ttl(TTL)
        .with_renew_interval(TTL / 4)
}

async fn replica(redis: &RedisServer, owner: &str) -> (Supervisor, mpsc::UnboundedReceiver<Seen>) {
    replica_with(redis, owner, |b| b).await
}

/// A replica with more settings.
async fn replica_with(
    redis: &RedisServer,
    owner: &str,
    settings: impl FnOnce(SupervisorBuilder) -> SupervisorBuilder,
) -> (Supervisor, mpsc::UnboundedReceiver<Seen>) {
    replica_of(redis, owner, client_config(), settings).await
}

/// [`replica_with`] connecting with `config`.
async fn replica_of(
    redis: &RedisServer,
    owner: &str,
    config: zoom_rtms_webhooks::client::Config,
    settings: impl FnOnce(SupervisorBuilder) -> SupervisorBuilder,
) -> (Supervisor, mpsc::UnboundedReceiver<Seen>) {
    let (_, on_stream, rx) = parts();
    let builder = Supervisor::builder(config).leases(leases(redis, owner).await);
    (settings(builder).build(on_stream), rx)
}

async fn token(rx: &mut mpsc::UnboundedReceiver<Seen>) -> u64 {
    match seen(rx).await {
        Seen::Stream(id, Some(token)) if id == "stream-1" => token,
        other => panic!("expected a leased stream, got {other:?}"),
    }
}

async fn get(redis: &RedisServer, key: &str) -> Option<String> {
    let mut conn = connect(&redis.url()).await.unwrap();
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

fn record_key() -> String {
    format!("{DEFAULT_SUPERVISOR_PREFIX}info:stream-1")
}

#[tokio::test]
async fn only_the_lease_holder_connects() {
    let redis = RedisServer::start();
    let mut server = AutoServer::start().await;
    let (a, mut a_rx) = replica(&redis, "a").await;
    let (b, _b_rx) = replica(&redis, "b").await;
    let event = started(&server.url, 1);
    assert_eq!(a.on_event(&event).await.unwrap(), Handled::Connecting);
    assert_eq!(b.on_event(&event).await.unwrap(), Handled::HeldElsewhere);
    assert_eq!(server.next().await, Sig::Opened);
    token(&mut a_rx).await;
    assert_eq!(connected(&mut a_rx).await, 1);
    assert_eq!(
        b.on_event(&interrupted()).await.unwrap(),
        Handled::HeldElsewhere
    );
    assert_eq!((a.connections(), b.connections()), (1, 0));

    // The record holds what a takeover needs, never the signature or the secret.
    let record = get(&redis, &record_key()).await.expect("the stream record");
    assert!(
        record.contains(&server.url) && record.contains("m-uuid"),
        "{record}"
    );
    assert!(!record.contains("signature") && !record.contains("client-secret"));

    // Stopped at the other replica: the record goes (nobody takes the stream over) and the
    // holder ends its connection at its next renewal, then frees the lease.
    assert_eq!(b.on_event(&stopped()).await.unwrap(), Handled::NotConnected);
    assert_eq!(server.next().await, Sig::Closed);
    assert_eq!(item(&mut a_rx).await, Item::Ended(EndReason::Stopped));
    a.shutdown().await;
    assert_eq!(get(&redis, "zoom-rtms:lease:stream-1").await, None);
    assert_eq!(get(&redis, &record_key()).await, None);
    assert_eq!(server.max_open.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_stream_is_taken_over_by_one_survivor_within_the_ttl_and_one_backoff_step() {
    let redis = RedisServer::start();
    let mut server = AutoServer::start().await;
    // Replica A runs on a runtime of its own, so that it can die without releasing anything.
    let a_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = redis.url();
    let event = started(&server.url, 1);
    let (a_handled, mut a_rx) = a_runtime
        .spawn(async move {
            let (builder, on_stream, rx) = parts();
            let leases = StreamLeases::new(connect(&url).await.unwrap())
                .with_owner("a")
                .with_ttl(TTL)
                .with_renew_interval(TTL / 4);
            let sup = builder.leases(leases).build(on_stream);
            (sup.on_event(&event).await.unwrap(), rx)
        })
        .await
        .unwrap();
    assert_eq!(a_handled, Handled::Connecting);
    assert_eq!(server.next().await, Sig::Opened);
    let a_token = token(&mut a_rx).await;
    assert_eq!(connected(&mut a_rx).await, 1);

    // Two survivors race for the stream.
    let (b, mut b_rx) = replica(&redis, "b").await;
    let (c, mut c_rx) = replica(&redis, "c").await;
    assert_eq!(b.takeover_interval(), TTL / 4);
    // A renews while it lives: B keeps off.
    assert_eq!(
        b.on_event(&started(&server.url, 1)).await.unwrap(),
        Handled::HeldElsewhere
    );

    // A dies: its tasks and sockets are gone, its lease is not released.
    a_runtime.shutdown_background();
    let died = Instant::now();
    assert_eq!(server.next().await, Sig::Closed);
    assert_eq!(server.next().await, Sig::Opened);
    let took = died.elapsed();
    assert!(took < TTL + BACKOFF_STEP, "taken over after {took:?}");
    assert_eq!(
        b.connections() + c.connections(),
        1,
        "one survivor connects"
    );
    let (winner, rx, owner) = if b.connections() == 1 {
        (&b, &mut b_rx, "b")
    } else {
        (&c, &mut c_rx, "c")
    };
    let new_token = token(rx).await;
    assert!(
        new_token > a_token,
        "fencing token {new_token} after {a_token}"
    );
    assert_eq!(connected(rx).await, 1);
    assert_eq!(
        server.max_open.load(Ordering::SeqCst),
        1,
        "two connections at once"
    );
    let lease = get(&redis, "zoom-rtms:lease:stream-1").await.unwrap();
    assert_eq!(lease, format!("{new_token}:{owner}"));

    winner.shutdown().await;
    assert_eq!(server.next().await, Sig::CloseRequest);
    assert_eq!(get(&redis, &record_key()).await, None);
    assert_eq!(server.max_open.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_lost_lease_drops_the_connection_without_ending_the_stream() {
    let redis = RedisServer::start();
    let mut server = AutoServer::start().await;
    // No takeover scan after the first during the test: A must not take the stream back.
    let (a, mut a_rx) = replica_with(&redis, "a", |b| {
        b.takeover_interval(Duration::from_secs(600))
    })
    .await;
    a.on_event(&started(&server.url, 1)).await.unwrap();
    assert_eq!(server.next().await, Sig::Opened);
    token(&mut a_rx).await;
    assert_eq!(connected(&mut a_rx).await, 1);

    // The lease vanishes (expired during a pause, taken over): A drops its sockets at once.
    let mut conn = connect(&redis.url()).await.unwrap();
    let () = redis::cmd("DEL")
        .arg("zoom-rtms:lease:stream-1")
        .query_async(&mut conn)
        .await
        .unwrap();
    let lost = Instant::now();
    // No stream close request (it would end the stream for the replica taking over).
    assert_eq!(server.next().await, Sig::Closed);
    assert!(lost.elapsed() < TTL, "noticed after {:?}", lost.elapsed());
    assert_eq!(item(&mut a_rx).await, Item::HandedOver);
    assert!(matches!(seen(&mut a_rx).await, Seen::Done));
    a.shutdown().await;
    assert_eq!(a.connections(), 0);
    // The record stays for whoever takes the stream over.
    assert!(get(&redis, &record_key()).await.is_some());
}

#[tokio::test]
async fn a_failover_delivered_to_another_replica_reaches_the_holder() {
    let redis = RedisServer::start();
    let mut server = AutoServer::start().await;
    let mut new_server = AutoServer::start().await;
    let (a, mut a_rx) = replica(&redis, "a").await;
    let (b, _b_rx) = replica(&redis, "b").await;
    a.on_event(&started(&server.url, 1)).await.unwrap();
    assert_eq!(server.next().await, Sig::Opened);
    token(&mut a_rx).await;
    assert_eq!(connected(&mut a_rx).await, 1);

    let failover = started(&new_server.url, 2);
    assert_eq!(b.on_event(&failover).await.unwrap(), Handled::HeldElsewhere);
    // A reads the new URL at its next renewal and fails over on the same connection.
    assert_eq!(new_server.next().await, Sig::Opened);
    assert_eq!(server.next().await, Sig::Closed);
    assert_eq!(connected(&mut a_rx).await, 2);
    assert_eq!(
        a.on_event(&failover).await.unwrap(),
        Handled::AlreadyConnected
    );
    a.shutdown().await;
}

#[tokio::test]
async fn without_redis_the_holder_drops_the_connection_before_its_lease_could_expire() {
    let mut redis = RedisServer::start();
    let mut server = AutoServer::start().await;
    let (a, mut a_rx) = replica(&redis, "a").await;
    a.on_event(&started(&server.url, 1)).await.unwrap();
    assert_eq!(server.next().await, Sig::Opened);
    token(&mut a_rx).await;
    assert_eq!(connected(&mut a_rx).await, 1);

    // Redis crashes: no renewal can succeed, so A cannot know whether its lease still holds.
    redis.stop();
    let down = Instant::now();
    assert_eq!(server.next().await, Sig::Closed);
    assert!(down.elapsed() < TTL, "dropped after {:?}", down.elapsed());
    assert_eq!(item(&mut a_rx).await, Item::HandedOver);
    assert!(matches!(seen(&mut a_rx).await, Seen::Done));
}

#[tokio::test]
async fn an_orphaned_stream_is_taken_over_on_rtms_interrupted_unless_its_url_is_refused() {
    let redis = RedisServer::start();
    let mut server = AutoServer::start().await;
    // A holder died and its lease expired: only its record is left.
    let record = serde_json::json!({"event":"meeting.rtms_started","event_ts":1,
        "payload":{"meeting_uuid":"m-uuid","rtms_stream_id":"stream-1","server_urls":server.url}});
    let mut conn = connect(&redis.url()).await.unwrap();
    let () = redis::pipe()
        .cmd("SET")
        .arg(record_key())
        .arg(record.to_string())
        .arg("PX")
        .arg(60_000)
        .ignore()
        .cmd("SADD")
        .arg(format!("{DEFAULT_SUPERVISOR_PREFIX}index"))
        .arg("stream-1")
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();

    // The stored URL is checked again: a replica whose policy refuses it never dials it.
    let strict_config =
        client_config().with_host_policy(zoom_rtms_webhooks::region::HostPolicy::default());
    let (strict, mut strict_rx) = replica_of(&redis, "strict", strict_config, |b| {
        b.takeover_interval(Duration::from_secs(600))
    })
    .await;
    assert_eq!(
        strict.on_event(&interrupted()).await.unwrap(),
        Handled::Reported
    );
    assert!(matches!(seen(&mut strict_rx).await, Seen::Stream(_, None)));
    match item(&mut strict_rx).await {
        Item::Refused(error) => assert_eq!(error.url(), Some(server.url.as_str())),
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(strict.connections(), 0);
    assert_eq!(
        get(&redis, "zoom-rtms:lease:stream-1").await,
        None,
        "lease released"
    );

    // A replica that accepts it takes the stream over at once on rtms_interrupted.
    let (b, mut b_rx) = replica_with(&redis, "b", |b| {
        b.takeover_interval(Duration::from_secs(600))
    })
    .await;
    // (Or its takeover loop's first scan did, just before.)
    let handled = b.on_event(&interrupted()).await.unwrap();
    assert!(
        matches!(handled, Handled::Connecting | Handled::AlreadyConnected),
        "{handled:?}"
    );
    assert_eq!(server.next().await, Sig::Opened);
    token(&mut b_rx).await;
    assert_eq!(connected(&mut b_rx).await, 1);
    // The original rtms_started delivered again is a duplicate, not a failover.
    let again = b.on_event(&started(&server.url, 1)).await.unwrap();
    assert_eq!(again, Handled::AlreadyConnected);
    assert_eq!(server.max_open.load(Ordering::SeqCst), 1);
    b.shutdown().await;
}

#[tokio::test]
async fn a_hand_over_passes_the_stream_on_at_once_without_ending_it() {
    let redis = RedisServer::start();
    let mut server = AutoServer::start().await;
    let (a, mut a_rx) = replica(&redis, "a").await;
    // B scans for free leases only every 10 minutes: only the hand-over message makes it
    // take the stream at once.
    let (b, mut b_rx) = replica_with(&redis, "b", |b| {
        b.takeover_interval(Duration::from_secs(600))
    })
    .await;
    assert_eq!(
        a.on_event(&started(&server.url, 1)).await.unwrap(),
        Handled::Connecting
    );
    assert_eq!(server.next().await, Sig::Opened);
    let a_token = token(&mut a_rx).await;
    assert_eq!(connected(&mut a_rx).await, 1);
    // B's subscription is up once B has scanned once (it subscribes first).
    wait_subscribed(&redis).await;

    // A restarts: its connection goes without a stream close request (the stream goes on at
    // Zoom), its items end with HandedOver, its lease is freed, and B takes the stream over
    // from the record at once.
    let handed = Instant::now();
    a.hand_over().await;
    assert_eq!(a.connections(), 0);
    assert_eq!(item(&mut a_rx).await, Item::HandedOver);
    assert!(matches!(seen(&mut a_rx).await, Seen::Done));
    assert_eq!(server.next().await, Sig::Closed, "no close request (21)");
    assert!(
        get(&redis, &record_key()).await.is_some(),
        "the record is kept"
    );
    assert_eq!(server.next().await, Sig::Opened);
    let took = handed.elapsed();
    assert!(took < Duration::from_secs(1), "taken over after {took:?}");
    assert!(token(&mut b_rx).await > a_token);
    assert_eq!(connected(&mut b_rx).await, 1);
    assert_eq!(
        server.max_open.load(Ordering::SeqCst),
        1,
        "two connections at once"
    );
    assert!(matches!(
        a.on_event(&started(&server.url, 2)).await,
        Err(zoom_rtms_webhooks::client::SupervisorError::ShutDown)
    ));
    b.shutdown().await;
}

/// Waits until some replica subscribes to the hand-over channel.
async fn wait_subscribed(redis: &RedisServer) {
    let mut conn = connect(&redis.url()).await.unwrap();
    let channel = format!("{DEFAULT_SUPERVISOR_PREFIX}handed-over");
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async(&mut conn)
            .await
            .map(|v: Vec<(String, i64)>| v.into_iter().next().unwrap())
            .unwrap();
        if n > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "nobody subscribed");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A late delivery of an earlier `rtms_started` at a replica that does not hold the stream
/// leaves the record alone (before, it overwrote it: the holder went back to the old server
/// at its next renewal, and a takeover dialled the old server too).
#[tokio::test]
async fn a_late_start_at_another_replica_never_sends_the_stream_back() {
    let redis = RedisServer::start();
    let mut old_server = AutoServer::start().await;
    let mut server = AutoServer::start().await;
    let (a, mut a_rx) = replica(&redis, "a").await;
    let (b, mut b_rx) = replica(&redis, "b").await;
    assert_eq!(
        a.on_event(&started(&server.url, 2)).await.unwrap(),
        Handled::Connecting
    );
    assert_eq!(server.next().await, Sig::Opened);
    token(&mut a_rx).await;
    assert_eq!(connected(&mut a_rx).await, 1);
    let late = started(&old_server.url, 1);
    assert_eq!(b.on_event(&late).await.unwrap(), Handled::HeldElsewhere);
    let record = get(&redis, &record_key()).await.unwrap();
    assert!(record.contains(&server.url), "record overwritten: {record}");
    // A newer one still passes on.
    let mut new_server = AutoServer::start().await;
    let newer = started(&new_server.url, 3);
    assert_eq!(b.on_event(&newer).await.unwrap(), Handled::HeldElsewhere);
    assert_eq!(new_server.next().await, Sig::Opened);
    assert_eq!(server.next().await, Sig::Closed);
    assert_eq!(connected(&mut a_rx).await, 2);
    // The late one again, then A hands over: B dials the newest server, never the old one.
    b.on_event(&late).await.unwrap();
    a.hand_over().await;
    assert_eq!(new_server.next().await, Sig::Closed);
    assert_eq!(new_server.next().await, Sig::Opened);
    token(&mut b_rx).await;
    assert_eq!(connected(&mut b_rx).await, 1);
    assert!(
        old_server.events.try_recv().is_err(),
        "the old server was dialled"
    );
    b.shutdown().await;
}
