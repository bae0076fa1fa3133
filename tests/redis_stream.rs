//! Durable hand-off against a real `redis-server`: events acknowledged to Zoom are in a Redis
//! Stream before the 200, survive the process that acknowledged them, and are handled by
//! workers on any replica; a worker that dies mid-event (a killed child process, an aborted
//! consumer) has its event claimed and handled by another; failures are retried, then
//! dead-lettered; shutdown drains.
#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_support::{signed, started_body, stopped_body, RedisServer, SECRET};
use tokio::sync::mpsc;
use zoom_rtms_webhooks::receiver::{Delivery, Outcome, Receiver, WebhookRequest};
use zoom_rtms_webhooks::redis::{
    connect, RedisConnection, RedisDeduplicator, RedisStreamHandoff, RedisStreamWorker,
    StreamWorkerConfig, StreamWorkerStats, DEFAULT_STREAM_KEY,
};
use zoom_rtms_webhooks::Verifier;

const GROUP: &str = "zoom-rtms-workers";

/// A worker configuration for tests: short block and claim times.
fn config(consumer: &str) -> StreamWorkerConfig {
    StreamWorkerConfig::default()
        .with_consumer(consumer)
        .with_block(Duration::from_millis(100))
        .with_claim_idle(Duration::from_millis(300))
        .with_claim_interval(Duration::from_millis(50))
}

/// A receiver on one "replica": Redis de-duplication and the durable hand-off.
async fn replica(server: &RedisServer) -> Receiver<RedisDeduplicator, RedisStreamHandoff> {
    let conn = connect(&server.url()).await.expect("connect");
    Receiver::new(
        Verifier::new(SECRET).expect("verifier"),
        RedisDeduplicator::new(conn.clone()).with_timeout(Duration::from_secs(5)),
        RedisStreamHandoff::new(conn).with_timeout(Duration::from_secs(5)),
    )
}

async fn accept<D, H>(receiver: &Receiver<D, H>, body: &[u8]) -> Outcome
where
    D: zoom_rtms_webhooks::dedup::Deduplicator,
    H: zoom_rtms_webhooks::receiver::Handoff,
{
    let (sig, ts) = signed(body);
    receiver
        .receive(WebhookRequest::post(Some(&sig), Some(&ts), body))
        .await
}

async fn stream_len(conn: &mut RedisConnection, key: &str) -> usize {
    redis::cmd("XLEN")
        .arg(key)
        .query_async(conn)
        .await
        .expect("XLEN")
}

async fn pending(conn: &mut RedisConnection) -> usize {
    let summary: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(DEFAULT_STREAM_KEY)
        .arg(GROUP)
        .query_async(conn)
        .await
        .expect("XPENDING");
    summary.count()
}

/// Waits (bounded) until `done(stats)`; the claim idle time must really pass.
async fn wait_for_stats(worker: &RedisStreamWorker, done: impl Fn(&StreamWorkerStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&worker.stats()) {
        assert!(
            Instant::now() < deadline,
            "worker never got there: {:?}",
            worker.stats()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("handled in time")
        .expect("channel open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_events_survive_their_receiver_and_are_handled_once_by_workers() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");

    // Two replicas accept 30 events, each delivered three times, then both "die" before any
    // worker ran: every 200 they sent is backed by a stream entry.
    let bodies: Vec<Vec<u8>> = (0..30)
        .map(|i| {
            if i % 2 == 0 {
                started_body(&format!("durable-{i}"))
            } else {
                stopped_body(&format!("durable-{i}"))
            }
        })
        .collect();
    {
        let replicas = [replica(&server).await, replica(&server).await];
        for round in 0..3 {
            for (i, body) in bodies.iter().enumerate() {
                let outcome = accept(&replicas[(i + round) % 2], body).await;
                match (round, outcome) {
                    (0, Outcome::Accepted { .. }) | (1 | 2, Outcome::Duplicate { .. }) => {}
                    (_, other) => panic!("round {round}: {other:?}"),
                }
            }
        }
    }
    assert_eq!(stream_len(&mut admin, DEFAULT_STREAM_KEY).await, 30);

    // Workers on two other replicas share the events through the consumer group.
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let mut workers = Vec::new();
    for name in ["worker-1", "worker-2"] {
        let tx = tx.clone();
        let client = server.client().await;
        workers.push(
            RedisStreamWorker::start(&client, config(name), move |d: Delivery| {
                let tx = tx.clone();
                async move {
                    tx.send(d.dedup_key).map_err(|_| "test ended")?;
                    Ok::<_, &'static str>(())
                }
            })
            .await
            .expect("start worker"),
        );
    }
    let mut handled: HashMap<String, usize> = HashMap::new();
    for _ in 0..30 {
        *handled.entry(recv(&mut rx).await).or_default() += 1;
    }
    for worker in &workers {
        worker.shutdown().await;
    }
    assert_eq!(handled.len(), 30);
    assert!(handled.values().all(|&n| n == 1));
    assert!(rx.try_recv().is_err(), "nothing handled twice");
    let processed: u64 = workers.iter().map(|w| w.stats().processed).sum();
    let acked: u64 = workers.iter().map(|w| w.stats().acked).sum();
    assert_eq!((processed, acked), (30, 30));
    assert_eq!(pending(&mut admin).await, 0);
    assert_eq!(
        stream_len(&mut admin, DEFAULT_STREAM_KEY).await,
        0,
        "acked entries deleted"
    );
}

/// An in-process consumer that dies mid-event (aborted: no acknowledgement) has its event
/// claimed by another worker after the idle time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_worker_mid_event_is_replaced_by_another() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let client = server.client().await;
    let receiver = replica(&server).await;

    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<String>();
    let doomed = RedisStreamWorker::start(&client, config("doomed"), move |d: Delivery| {
        let started_tx = started_tx.clone();
        async move {
            let _ = started_tx.send(d.dedup_key);
            std::future::pending::<()>().await; // stuck mid-event until it dies
            Ok::<_, &'static str>(())
        }
    })
    .await
    .expect("start");

    let body = started_body("crash-in-process");
    assert!(matches!(
        accept(&receiver, &body).await,
        Outcome::Accepted { .. }
    ));
    let key = recv(&mut started_rx).await;
    assert_eq!(key, "started:meeting:crash-in-process:e16d07add418981e");
    let doomed_stats = doomed.stats();
    doomed.abort();
    assert_eq!((doomed_stats.processed, doomed_stats.acked), (0, 0));
    assert_eq!(
        pending(&mut admin).await,
        1,
        "left pending by the dead worker"
    );

    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let survivor = RedisStreamWorker::start(&client, config("survivor"), move |d: Delivery| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(d.dedup_key);
            Ok::<_, &'static str>(())
        }
    })
    .await
    .expect("start");
    assert_eq!(recv(&mut rx).await, key);
    survivor.shutdown().await;
    let stats = survivor.stats();
    assert_eq!(stats.claimed, 1);
    assert_eq!(stats.processed, 1);
    assert_eq!(stats.acked, stats.processed);
    assert_eq!(pending(&mut admin).await, 0);
}

const CHILD_ENV: &str = "ZOOM_RTMS_REDIS_WORKER_CHILD";
const CRASH_TEST: &str = "a_killed_worker_process_has_its_event_handled_by_another";

/// A worker in a child process takes the event and is killed (SIGKILL) mid-event; a worker in
/// this process claims it after the idle time. The same test function is the child when
/// `ZOOM_RTMS_REDIS_WORKER_CHILD` is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_process_has_its_event_handled_by_another() {
    if let Ok(url) = std::env::var(CHILD_ENV) {
        return child_worker(&url).await;
    }
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let receiver = replica(&server).await;
    let body = started_body("crash-child");
    assert!(matches!(
        accept(&receiver, &body).await,
        Outcome::Accepted { .. }
    ));

    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", CRASH_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, server.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child worker");
    let stdout = child.stdout.take().expect("piped");
    let taken = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("CHILD-HANDLING ").map(str::to_owned))
        .expect("the child worker took the event");
    assert_eq!(taken, "started:meeting:crash-child:e16d07add418981e");
    child.kill().expect("kill the child mid-event");
    child.wait().expect("reap the child");
    assert_eq!(
        pending(&mut admin).await,
        1,
        "unacknowledged by the killed process"
    );

    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let survivor = RedisStreamWorker::start(
        &server.client().await,
        config("survivor"),
        move |d: Delivery| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(d.dedup_key);
                Ok::<_, &'static str>(())
            }
        },
    )
    .await
    .expect("start");
    assert_eq!(recv(&mut rx).await, taken);
    survivor.shutdown().await;
    let stats = survivor.stats();
    assert_eq!((stats.claimed, stats.processed, stats.acked), (1, 1, 1));
    assert_eq!(pending(&mut admin).await, 0);
    assert_eq!(stream_len(&mut admin, DEFAULT_STREAM_KEY).await, 0);
}

/// The child side of the crash test: take the event, say so, hang until killed.
async fn child_worker(url: &str) {
    let client = zoom_rtms_webhooks::redis::connect(url)
        .await
        .expect("redis reachable");
    let _worker = RedisStreamWorker::start(&client, config("child"), |d: Delivery| async move {
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "CHILD-HANDLING {}", d.dedup_key);
            let _ = out.flush();
        }
        std::future::pending::<()>().await;
        Ok::<_, &'static str>(())
    })
    .await
    .expect("start the child worker");
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_first_handles_its_own_pending_entries() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let client = server.client().await;
    let receiver = replica(&server).await;
    // Claiming is effectively off: only the restart can pick the entry up.
    let cfg = config("stable-name").with_claim_idle(Duration::from_secs(3600));

    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<()>();
    let first = RedisStreamWorker::start(&client, cfg.clone(), move |_d: Delivery| {
        let started_tx = started_tx.clone();
        async move {
            let _ = started_tx.send(());
            std::future::pending::<()>().await;
            Ok::<_, &'static str>(())
        }
    })
    .await
    .expect("start");
    assert!(matches!(
        accept(&receiver, &started_body("restart")).await,
        Outcome::Accepted { .. }
    ));
    recv(&mut started_rx).await;
    first.abort();

    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let restarted = RedisStreamWorker::start(&client, cfg, move |d: Delivery| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(d.dedup_key);
            Ok::<_, &'static str>(())
        }
    })
    .await
    .expect("start");
    assert_eq!(
        recv(&mut rx).await,
        "started:meeting:restart:e16d07add418981e"
    );
    restarted.shutdown().await;
    let stats = restarted.stats();
    assert_eq!(
        (stats.read, stats.claimed, stats.processed, stats.acked),
        (1, 0, 1, 1)
    );
    assert_eq!(pending(&mut admin).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_after_the_idle_time_then_dead_lettered() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let receiver = replica(&server).await;
    for stream in ["flaky", "panicky", "poison"] {
        assert!(matches!(
            accept(&receiver, &started_body(stream)).await,
            Outcome::Accepted { .. }
        ));
    }

    let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let worker = RedisStreamWorker::start(
        &server.client().await,
        config("retrying").with_max_deliveries(Some(2)),
        {
            let calls = Arc::clone(&calls);
            move |d: Delivery| {
                let calls = Arc::clone(&calls);
                let tx = tx.clone();
                async move {
                    let stream = d.event.rtms_stream_id().unwrap_or_default().to_owned();
                    let n = {
                        let mut calls = calls.lock().unwrap();
                        let n = calls.entry(stream.clone()).or_default();
                        *n += 1;
                        *n
                    };
                    match (stream.as_str(), n) {
                        ("flaky", 1) => return Err("temporary failure".to_owned()),
                        ("panicky", 1) => panic!("handler bug (expected by the test)"),
                        ("poison", _) => return Err("always fails".to_owned()),
                        _ => {}
                    }
                    let _ = tx.send(stream);
                    Ok(())
                }
            }
        },
    )
    .await
    .expect("start");

    let mut ok = vec![recv(&mut rx).await, recv(&mut rx).await];
    ok.sort();
    assert_eq!(ok, ["flaky", "panicky"]);
    wait_for_stats(&worker, |s| s.dead_lettered == 1).await;
    worker.shutdown().await;

    let stats = worker.stats();
    assert_eq!(stats.read, 3);
    assert_eq!(stats.processed, 2);
    assert_eq!(stats.failed, 4, "flaky once, panicky once, poison twice");
    assert_eq!(stats.claimed, 4, "flaky, panicky, poison twice");
    assert_eq!(stats.dead_lettered, 1);
    assert_eq!(stats.acked, stats.processed + stats.dead_lettered);
    assert_eq!(calls.lock().unwrap().get("poison"), Some(&2));
    assert_eq!(pending(&mut admin).await, 0);
    assert_eq!(stream_len(&mut admin, DEFAULT_STREAM_KEY).await, 0);

    let dead: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("zoom-rtms:events:dead")
        .arg("-")
        .arg("+")
        .query_async(&mut admin)
        .await
        .expect("XRANGE");
    assert_eq!(dead.ids.len(), 1);
    let entry = &dead.ids[0];
    assert_eq!(entry.get::<Vec<u8>>("body"), Some(started_body("poison")));
    assert!(entry
        .get::<String>("reason")
        .is_some_and(|r| r.contains("2 deliveries")));
    assert!(entry.contains_key("source_id"));
}

/// A handler future that completes, then panics when dropped (the first time only).
struct PanicsOnDrop {
    armed: bool,
}

impl std::future::Future for PanicsOnDrop {
    type Output = Result<(), &'static str>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if self.armed {
            panic!("handler future panicked on drop (expected by the test)");
        }
    }
}

/// The worker runs handlers through the crate's one handler runner, like the dispatcher: a
/// panic while the handler's future is dropped is caught too (it used to unwind through the
/// worker's task, leaving the entry uncounted and `running` stuck at 1). The entry counts as
/// failed and is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_panicking_on_drop_counts_as_failed_and_is_retried() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let receiver = replica(&server).await;
    assert!(matches!(
        accept(&receiver, &started_body("drop-panic")).await,
        Outcome::Accepted { .. }
    ));
    let calls = Arc::new(AtomicUsize::new(0));
    let worker = RedisStreamWorker::start(&server.client().await, config("drop-panic"), {
        let calls = Arc::clone(&calls);
        move |_d: Delivery| PanicsOnDrop {
            armed: calls.fetch_add(1, Ordering::SeqCst) == 0,
        }
    })
    .await
    .expect("start");
    wait_for_stats(&worker, |s| s.processed == 1).await;
    worker.shutdown().await;
    let stats = worker.stats();
    assert_eq!(
        (
            stats.read,
            stats.failed,
            stats.claimed,
            stats.processed,
            stats.acked
        ),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(stats.running, 0);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(pending(&mut admin).await, 0);
}

#[tokio::test]
async fn an_unparseable_entry_is_dead_lettered_at_once() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let _: String = redis::cmd("XADD")
        .arg(DEFAULT_STREAM_KEY)
        .arg("*")
        .arg("v")
        .arg("1")
        .arg("body")
        .arg("not json")
        .query_async(&mut admin)
        .await
        .expect("XADD");
    let calls = Arc::new(AtomicUsize::new(0));
    let worker = RedisStreamWorker::start(&server.client().await, config("parser"), {
        let calls = Arc::clone(&calls);
        move |_d: Delivery| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Ok::<_, &'static str>(()) }
        }
    })
    .await
    .expect("start");
    wait_for_stats(&worker, |s| s.dead_lettered == 1).await;
    worker.shutdown().await;
    let stats = worker.stats();
    assert_eq!((stats.failed, stats.processed, stats.acked), (1, 0, 1));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        0,
        "the handler never sees it"
    );
    assert_eq!(stream_len(&mut admin, "zoom-rtms:events:dead").await, 1);
    assert_eq!(pending(&mut admin).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_running_handlers_and_their_acknowledgements() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let receiver = replica(&server).await;
    let release = Arc::new(tokio::sync::Notify::new());
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<()>();
    let worker = RedisStreamWorker::start(&server.client().await, config("draining"), {
        let release = Arc::clone(&release);
        move |_d: Delivery| {
            let release = Arc::clone(&release);
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(());
                release.notified().await;
                Ok::<_, &'static str>(())
            }
        }
    })
    .await
    .expect("start");
    assert!(matches!(
        accept(&receiver, &started_body("drain")).await,
        Outcome::Accepted { .. }
    ));
    recv(&mut started_rx).await;

    let shutdown = tokio::spawn(worker.shutdown());
    tokio::task::yield_now().await;
    assert!(
        !shutdown.is_finished(),
        "cannot finish while the handler runs"
    );
    assert_eq!(worker.stats().running, 1);
    release.notify_one();
    tokio::time::timeout(Duration::from_secs(30), shutdown)
        .await
        .expect("drained")
        .expect("shutdown task");
    let stats = worker.stats();
    assert_eq!((stats.processed, stats.acked, stats.running), (1, 1, 0));
    assert_eq!(pending(&mut admin).await, 0);
}

#[tokio::test]
async fn handoff_appends_the_raw_body_and_metadata_and_can_cap_the_stream() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let handoff = RedisStreamHandoff::new(admin.clone())
        .with_stream_key("capped")
        .with_max_len(10);
    let body = stopped_body("meta");
    let event = zoom_rtms_webhooks::WebhookEvent::parse(&body).expect("parse");
    let key = zoom_rtms_webhooks::dedup::dedup_key(&event, &body);
    let delivery = Delivery::new(event, key.clone(), "primary", 1_700_000_123);
    let id = handoff.append(&delivery, &body).await.expect("append");

    let range: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("capped")
        .arg("-")
        .arg("+")
        .query_async(&mut admin)
        .await
        .expect("XRANGE");
    let entry = &range.ids[0];
    assert_eq!(entry.id, id);
    assert_eq!(entry.get::<Vec<u8>>("body"), Some(body.clone()));
    assert_eq!(entry.get::<String>("dedup_key"), Some(key));
    assert_eq!(
        entry.get::<String>("secret_label").as_deref(),
        Some("primary")
    );
    assert_eq!(entry.get::<u64>("timestamp"), Some(1_700_000_123));
    assert!(entry.get::<u64>("received_at_ms").is_some());

    for _ in 0..500 {
        handoff.append(&delivery, &body).await.expect("append");
    }
    // `MAXLEN ~` trims whole nodes: about the cap, far below what was appended.
    assert!(stream_len(&mut admin, "capped").await < 200);
}
