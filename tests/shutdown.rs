//! Graceful shutdown with the core `Receiver` and a `Dispatcher` as its hand-off: every event
//! acknowledged (`Outcome::Accepted`, i.e. a `200`) is processed, and every event arriving
//! after shutdown was requested is refused with `503` (`HandoffError::Closed`) so that Zoom
//! retries it: never a `200` followed by a drop.
//!
//! (The same scenario over real HTTP runs per adapter: `shutdown_processes_every_acknowledged_event`
//! in `tests/actix.rs`, `tests/axum.rs`, `tests/hyper.rs`.) No sleeps, no wall clock: the
//! handler is held by a gate the test opens.
#![cfg(feature = "dispatch")]

mod common;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Barrier};

use common::{signed_at, started_body, verifier_at, SECRET, T0};
use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
use zoom_rtms_webhooks::receiver::{HandoffError, Outcome, Rejection, WebhookRequest};
use zoom_rtms_webhooks::{Delivery, Receiver};

type TestReceiver = Receiver<MemoryDeduplicator, Dispatcher<Delivery>>;

/// A receiver whose dispatcher's handler reports `started`, waits for the gate, then reports
/// `finished` (both with the de-duplication key).
struct Setup {
    receiver: Arc<TestReceiver>,
    dispatcher: Dispatcher<Delivery>,
    started: mpsc::UnboundedReceiver<String>,
    finished: mpsc::UnboundedReceiver<String>,
    gate: watch::Sender<bool>,
}

fn setup(config: DispatcherConfig, open: bool) -> Setup {
    let (gate, gate_rx) = watch::channel(open);
    let (started_tx, started) = mpsc::unbounded_channel();
    let (finished_tx, finished) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::new(config, move |delivery: Delivery| {
        let started_tx = started_tx.clone();
        let finished_tx = finished_tx.clone();
        let mut gate = gate_rx.clone();
        async move {
            let _ = started_tx.send(delivery.dedup_key.clone());
            // Err: the gate's sender is gone, which counts as open.
            let _ = gate.wait_for(|open| *open).await;
            let _ = finished_tx.send(delivery.dedup_key);
            Ok::<_, Infallible>(())
        }
    });
    let receiver = Arc::new(Receiver::new(
        verifier_at(SECRET, T0),
        MemoryDeduplicator::new(),
        dispatcher.clone(),
    ));
    Setup {
        receiver,
        dispatcher,
        started,
        finished,
        gate,
    }
}

async fn deliver(receiver: &TestReceiver, stream: &str) -> Outcome {
    let body = started_body(stream);
    let (sig, ts) = signed_at(SECRET, &body, T0);
    receiver
        .receive(WebhookRequest::post(Some(&sig), Some(&ts), &body))
        .await
}

fn key(stream: &str) -> String {
    // started_body() uses server_urls "wss://rtms-sjc1.zoom.us/", whose key suffix is
    // sha256(..)[..8] in hex: e16d07add418981e.
    format!("started:meeting:{stream}:e16d07add418981e")
}

fn collect(rx: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(item) = rx.try_recv() {
        out.push(item);
    }
    out
}

#[tokio::test]
async fn every_acknowledged_event_is_processed_and_later_ones_get_503() {
    const N: usize = 6;
    // Two workers and room for the rest: two events held in the handler, four queued.
    let mut s = setup(
        DispatcherConfig::default()
            .with_workers(2)
            .with_queue_capacity(N),
        false,
    );
    for i in 0..N {
        let outcome = deliver(&s.receiver, &format!("s-{i}")).await;
        assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
        let response = outcome.response();
        assert_eq!(response.status, 200);
    }
    // Both workers are inside the handler, held by the gate.
    let mut running = vec![
        s.started.recv().await.expect("first"),
        s.started.recv().await.expect("second"),
    ];
    running.sort();
    assert_eq!(running, [key("s-0"), key("s-1")]);
    assert_eq!(s.dispatcher.stats().queued, N - 2);

    // Shutdown is requested: new deliveries are refused from now on...
    let drained = tokio::spawn(s.dispatcher.shutdown());
    assert!(s.dispatcher.is_shutting_down());
    let late = deliver(&s.receiver, "late").await;
    assert!(
        matches!(
            late,
            Outcome::Rejected(Rejection::HandoffUnavailable {
                error: HandoffError::Closed,
                ..
            })
        ),
        "{late:?}"
    );
    let response = late.response();
    assert_eq!(response.status, 503);
    assert!(response
        .headers
        .iter()
        .any(|(name, value)| *name == "retry-after" && value == "5"));
    // ...and the retry of the refused delivery is refused again, not taken for a duplicate.
    let retry = deliver(&s.receiver, "late").await;
    assert!(matches!(retry, Outcome::Rejected(_)), "{retry:?}");

    // The drain cannot finish while the handlers are held.
    assert!(!drained.is_finished());
    assert!(collect(&mut s.finished).is_empty());

    // Release: shutdown completes once all N acknowledged events are processed.
    s.gate.send_replace(true);
    drained.await.expect("shutdown task");
    let mut finished = collect(&mut s.finished);
    finished.sort();
    let mut expected: Vec<String> = (0..N).map(|i| key(&format!("s-{i}"))).collect();
    expected.sort();
    assert_eq!(finished, expected);

    let dispatch = s.dispatcher.stats();
    assert_eq!(
        (dispatch.dispatched, dispatch.processed),
        (N as u64, N as u64)
    );
    assert_eq!(dispatch.rejected_shutting_down, 2);
    assert_eq!((dispatch.queued, dispatch.running), (0, 0));
    let stats = s.receiver.stats();
    assert_eq!((stats.accepted, stats.unavailable), (N as u64, 2));
}

/// Deliveries race with the shutdown request from several tasks on a multi-threaded runtime.
/// Whatever the interleaving, the set of acknowledged events equals the set of processed
/// events, and everything else was refused with 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_racing_with_shutdown_are_either_processed_or_refused() {
    const TASKS: usize = 4;
    const PER_TASK: usize = 50;
    let mut s = setup(
        DispatcherConfig::default()
            .with_workers(2)
            .with_queue_capacity(TASKS * PER_TASK),
        true,
    );
    // Each task delivers its first half before the shutdown is requested (`before`), the
    // second half but one while it is being requested (the race), and its last event after it
    // was requested (`after`).
    let before = Arc::new(Barrier::new(TASKS + 1));
    let after = Arc::new(Barrier::new(TASKS + 1));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let receiver = Arc::clone(&s.receiver);
        let (before, after) = (Arc::clone(&before), Arc::clone(&after));
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut refused = 0usize;
            for i in 0..PER_TASK {
                if i == PER_TASK / 2 {
                    before.wait().await;
                }
                if i == PER_TASK - 1 {
                    after.wait().await;
                }
                match deliver(&receiver, &format!("t{t}-{i}")).await {
                    Outcome::Accepted { dedup_key, .. } => acknowledged.push(dedup_key),
                    Outcome::Rejected(Rejection::HandoffUnavailable {
                        error: HandoffError::Closed,
                        ..
                    }) => refused += 1,
                    other => panic!("unexpected outcome {other:?}"),
                }
            }
            (acknowledged, refused)
        }));
    }
    before.wait().await;
    let drained = s.dispatcher.shutdown();
    after.wait().await;

    let mut acknowledged = BTreeSet::new();
    let mut refused = 0;
    for task in tasks {
        let (acks, refusals) = task.await.expect("delivery task");
        acknowledged.extend(acks);
        refused += refusals;
    }
    drained.await;

    let processed: BTreeSet<String> = collect(&mut s.finished).into_iter().collect();
    assert_eq!(processed, acknowledged, "acknowledged == processed");
    assert_eq!(acknowledged.len() + refused, TASKS * PER_TASK);
    assert!(acknowledged.len() >= TASKS * PER_TASK / 2, "first halves");
    assert!(refused >= TASKS, "last events");
    let stats = s.receiver.stats();
    assert_eq!(stats.accepted as usize, acknowledged.len());
    assert_eq!(stats.unavailable as usize, refused);
    assert_eq!(s.dispatcher.stats().processed as usize, acknowledged.len());
}
