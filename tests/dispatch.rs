//! Tests of `zoom_rtms_webhooks::dispatch`. Synchronisation only through
//! channels and gates the tests control: no sleeps, no wall-clock bounds.
#![cfg(feature = "dispatch")]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use zoom_rtms_webhooks::dispatch::{
    DispatchError, DispatchStats, Dispatcher, DispatcherConfig, DEFAULT_QUEUE_CAPACITY,
    DEFAULT_WORKERS,
};

/// A gate handlers wait on until the test opens it.
#[derive(Clone)]
struct Gate(watch::Receiver<bool>);

impl Gate {
    fn new() -> (watch::Sender<bool>, Gate) {
        let (tx, rx) = watch::channel(false);
        (tx, Gate(rx))
    }

    async fn wait(mut self) {
        // Err means the opener was dropped: treat as open.
        let _ = self.0.wait_for(|open| *open).await;
    }
}

fn open(gate: &watch::Sender<bool>) {
    gate.send_replace(true);
}

fn config(workers: usize, queue_capacity: usize) -> DispatcherConfig {
    DispatcherConfig::default()
        .with_workers(workers)
        .with_queue_capacity(queue_capacity)
}

/// A dispatcher whose handler reports `n` as started, then waits for the gate,
/// then reports `n` as done.
fn gated(
    workers: usize,
    capacity: usize,
) -> (
    Dispatcher<u32>,
    watch::Sender<bool>,
    mpsc::UnboundedReceiver<u32>,
    mpsc::UnboundedReceiver<u32>,
) {
    let (gate_tx, gate) = Gate::new();
    let (started_tx, started_rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::new(config(workers, capacity), move |n: u32| {
        let gate = gate.clone();
        let started = started_tx.clone();
        let done = done_tx.clone();
        async move {
            let _ = started.send(n);
            gate.wait().await;
            let _ = done.send(n);
            Ok::<_, Infallible>(())
        }
    });
    (dispatcher, gate_tx, started_rx, done_rx)
}

async fn recv_n(rx: &mut mpsc::UnboundedReceiver<u32>, n: usize) -> Vec<u32> {
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(rx.recv().await.expect("handler channel closed early"));
    }
    items.sort_unstable();
    items
}

#[test]
fn config_defaults() {
    let config = DispatcherConfig::default();
    assert_eq!(config.workers(), DEFAULT_WORKERS);
    assert_eq!(config.queue_capacity(), DEFAULT_QUEUE_CAPACITY);
    assert_eq!(DEFAULT_QUEUE_CAPACITY, 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_are_processed_by_the_handler() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::new(config(3, 64), move |n: u32| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(n);
            Ok::<_, Infallible>(())
        }
    });
    for n in 0..20 {
        dispatcher.try_dispatch(n).expect("queue has room");
    }
    assert_eq!(recv_n(&mut rx, 20).await, (0..20).collect::<Vec<_>>());
    dispatcher.shutdown().await;
    let stats = dispatcher.stats();
    assert_eq!(stats.dispatched, 20);
    assert_eq!(stats.processed, 20);
    assert_eq!(stats.completed(), 20);
    assert_eq!((stats.failed, stats.panicked), (0, 0));
    assert_eq!((stats.queued, stats.running), (0, 0));
}

#[tokio::test]
async fn full_queue_returns_queue_full_with_the_item() {
    let (dispatcher, gate, mut started, mut done) = gated(1, 2);
    assert_eq!(dispatcher.capacity(), 2);

    dispatcher.try_dispatch(0).expect("queue has room");
    // The only worker now holds item 0 and blocks on the gate.
    assert_eq!(started.recv().await, Some(0));
    dispatcher.try_dispatch(1).expect("queue has room");
    dispatcher.try_dispatch(2).expect("queue has room");
    assert_eq!(dispatcher.queued(), 2);

    let err = dispatcher.try_dispatch(3).expect_err("queue is full");
    assert!(err.is_queue_full());
    assert!(matches!(err, DispatchError::QueueFull(3)));
    assert_eq!(err.into_inner(), 3);
    assert_eq!(dispatcher.stats().rejected_full, 1);

    open(&gate);
    assert_eq!(recv_n(&mut done, 3).await, vec![0, 1, 2]);
    dispatcher.shutdown().await;
    let stats = dispatcher.stats();
    assert_eq!((stats.dispatched, stats.processed), (3, 3));
}

#[tokio::test]
async fn panicking_handler_is_counted_and_worker_survives() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    // A single worker: if a panic killed it, item 2 would never be handled.
    let dispatcher = Dispatcher::new(config(1, 8), move |n: u32| {
        if n == 1 {
            panic!("handler panicked while being called (test)");
        }
        let tx = tx.clone();
        async move {
            if n == 0 {
                panic!("handler future panicked while polled (test)");
            }
            let _ = tx.send(n);
            Ok::<_, Infallible>(())
        }
    });
    for n in 0..3 {
        dispatcher.try_dispatch(n).expect("queue has room");
    }
    assert_eq!(rx.recv().await, Some(2));
    dispatcher.shutdown().await;
    let stats = dispatcher.stats();
    assert_eq!(stats.panicked, 2);
    assert_eq!(stats.processed, 1);
    assert_eq!(stats.running, 0);
    assert_eq!(stats.completed(), 3);
}

/// A hand-written handler future that completes, then panics when dropped.
struct PanicOnDrop;

impl std::future::Future for PanicOnDrop {
    type Output = Result<(), Infallible>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("handler future panicked in Drop (test)");
    }
}

#[tokio::test]
async fn future_panicking_in_drop_is_counted_and_worker_survives() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::new(config(1, 8), move |n: u32| {
        let tx = tx.clone();
        if n == 0 {
            futures_like::Either::Left(Box::pin(PanicOnDrop))
        } else {
            futures_like::Either::Right(Box::pin(async move {
                let _ = tx.send(n);
                Ok::<_, Infallible>(())
            }))
        }
    });
    dispatcher.try_dispatch(0).expect("queue has room");
    dispatcher.try_dispatch(1).expect("queue has room");
    assert_eq!(rx.recv().await, Some(1));
    dispatcher.shutdown().await;
    let stats = dispatcher.stats();
    assert_eq!((stats.panicked, stats.processed), (1, 1));
}

/// A two-way future, so one closure can return either kind.
mod futures_like {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub enum Either<A, B> {
        Left(Pin<Box<A>>),
        Right(Pin<Box<B>>),
    }

    impl<A: Future, B: Future<Output = A::Output>> Future for Either<A, B> {
        type Output = A::Output;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<A::Output> {
            match self.get_mut() {
                Either::Left(a) => a.as_mut().poll(cx),
                Either::Right(b) => b.as_mut().poll(cx),
            }
        }
    }
}

#[tokio::test]
async fn erroring_handler_is_counted_as_failed() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::new(config(2, 8), move |n: u32| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(n);
            if n % 2 == 1 {
                Err(format!("item {n} failed"))
            } else {
                Ok(())
            }
        }
    });
    for n in 0..5 {
        dispatcher.try_dispatch(n).expect("queue has room");
    }
    assert_eq!(recv_n(&mut rx, 5).await, vec![0, 1, 2, 3, 4]);
    dispatcher.shutdown().await;
    let stats = dispatcher.stats();
    assert_eq!((stats.processed, stats.failed, stats.panicked), (3, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_every_queued_item_then_refuses() {
    const N: u32 = 10;
    const WORKERS: usize = 2;
    let (dispatcher, gate, mut started, mut done) = gated(WORKERS, 16);
    for n in 0..N {
        dispatcher.try_dispatch(n).expect("queue has room");
    }
    // Both workers are blocked inside the handler; the rest is queued.
    recv_n(&mut started, WORKERS).await;
    assert_eq!(dispatcher.queued(), N as usize - WORKERS);

    let shutdown = tokio::spawn(dispatcher.shutdown());
    // Stopped accepting as soon as shutdown() was called.
    assert!(dispatcher.is_shutting_down());
    let err = dispatcher.try_dispatch(99).expect_err("shutting down");
    assert!(err.is_shutting_down());
    assert_eq!(err.into_inner(), 99);
    // Handlers are blocked, so the drain cannot be complete.
    assert!(!shutdown.is_finished());
    assert_eq!(dispatcher.stats().processed, 0);

    open(&gate);
    shutdown.await.expect("shutdown task");
    // Everything queued before shutdown was processed, before it resolved.
    let stats = dispatcher.stats();
    assert_eq!(stats.processed, u64::from(N));
    assert_eq!(stats.rejected_shutting_down, 1);
    assert_eq!((stats.queued, stats.running), (0, 0));
    assert_eq!(
        recv_n(&mut done, N as usize).await,
        (0..N).collect::<Vec<_>>()
    );

    // Idempotent, and still refusing.
    dispatcher.shutdown().await;
    dispatcher.clone().shutdown().await;
    assert!(dispatcher.try_dispatch(100).is_err());
    assert_eq!(dispatcher.stats().rejected_shutting_down, 2);
}

#[tokio::test]
async fn every_concurrent_shutdown_waits_for_the_drain() {
    let (dispatcher, gate, mut started, _done) = gated(1, 4);
    dispatcher.try_dispatch(1).expect("queue has room");
    dispatcher.try_dispatch(2).expect("queue has room");
    assert_eq!(started.recv().await, Some(1));

    let first = tokio::spawn(dispatcher.shutdown());
    let second = tokio::spawn(dispatcher.clone().shutdown());
    assert!(!first.is_finished());
    assert!(!second.is_finished());

    open(&gate);
    first.await.expect("first shutdown");
    // The second caller also returns only after the drain.
    assert_eq!(dispatcher.stats().processed, 2);
    second.await.expect("second shutdown");
    assert_eq!(dispatcher.stats().processed, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_workers_handlers_run_at_once() {
    const WORKERS: usize = 3;
    const N: u32 = 12;
    let current = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let (gate_tx, gate) = Gate::new();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let dispatcher = {
        let current = Arc::clone(&current);
        let max = Arc::clone(&max);
        Dispatcher::new(config(WORKERS, 16), move |n: u32| {
            let current = Arc::clone(&current);
            let max = Arc::clone(&max);
            let gate = gate.clone();
            let started = started_tx.clone();
            async move {
                let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                let _ = started.send(n);
                gate.wait().await;
                current.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Infallible>(())
            }
        })
    };
    assert_eq!(dispatcher.workers(), WORKERS);
    for n in 0..N {
        dispatcher.try_dispatch(n).expect("queue has room");
    }

    recv_n(&mut started, WORKERS).await;
    // Every worker is busy: nothing more was taken from the queue.
    assert_eq!(dispatcher.queued(), N as usize - WORKERS);
    assert_eq!(dispatcher.stats().running, WORKERS);
    assert_eq!(max.load(Ordering::SeqCst), WORKERS);

    open(&gate_tx);
    dispatcher.shutdown().await;
    assert_eq!(max.load(Ordering::SeqCst), WORKERS);
    assert_eq!(current.load(Ordering::SeqCst), 0);
    assert_eq!(dispatcher.stats().processed, u64::from(N));
}

#[tokio::test]
async fn zero_config_values_are_treated_as_one() {
    assert_eq!(
        (config(0, 0).workers(), config(0, 0).queue_capacity()),
        (1, 1)
    );
    let (dispatcher, gate, mut started, mut done) = gated(0, 0);
    assert_eq!((dispatcher.workers(), dispatcher.capacity()), (1, 1));
    dispatcher.try_dispatch(1).expect("queue has room");
    assert_eq!(started.recv().await, Some(1));
    dispatcher.try_dispatch(2).expect("queue has room");
    assert!(dispatcher
        .try_dispatch(3)
        .expect_err("full")
        .is_queue_full());
    open(&gate);
    assert_eq!(recv_n(&mut done, 2).await, vec![1, 2]);
    dispatcher.shutdown().await;
}

#[tokio::test]
async fn clones_share_queue_and_counters() {
    let (dispatcher, gate, _started, mut done) = gated(2, 8);
    let clone = dispatcher.clone();
    clone.try_dispatch(7).expect("queue has room");
    dispatcher.try_dispatch(8).expect("queue has room");
    assert_eq!(dispatcher.stats().dispatched, 2);
    clone.close();
    assert!(dispatcher.is_shutting_down());
    assert!(dispatcher.try_dispatch(9).is_err());
    open(&gate);
    assert_eq!(recv_n(&mut done, 2).await, vec![7, 8]);
    dispatcher.shutdown().await;
    assert_eq!(clone.stats().processed, 2);
}

#[tokio::test]
async fn dropping_the_dispatcher_still_drains_the_queue() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher::new(config(1, 8), move |n: u32| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(n);
            Ok::<_, Infallible>(())
        }
    });
    for n in 0..3 {
        dispatcher.try_dispatch(n).expect("queue has room");
    }
    drop(dispatcher);
    // The workers finish the queue, exit and drop the handler (and `tx`), so
    // the channel ends after exactly the three items.
    let mut got = Vec::new();
    while let Some(n) = rx.recv().await {
        got.push(n);
    }
    assert_eq!(got, vec![0, 1, 2]);
}

#[test]
fn stopped_runtime_makes_dispatch_refuse() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let dispatcher = Dispatcher::new_in(
        config(1, 4),
        |_: u32| async { Ok::<_, Infallible>(()) },
        runtime.handle(),
    );
    drop(runtime); // drops the worker tasks and with them the queue receiver
    let err = dispatcher.try_dispatch(5).expect_err("no workers");
    assert!(err.is_shutting_down());
    assert_eq!(err.into_inner(), 5);
    // shutdown() resolves: no worker is left to wait for.
    let other = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    other.block_on(dispatcher.shutdown());
}

#[test]
fn dispatch_error_hides_the_item() {
    let full = DispatchError::QueueFull("secret event body");
    assert_eq!(format!("{full:?}"), "QueueFull(..)");
    assert_eq!(full.to_string(), "dispatch queue is full");
    assert_eq!(*full.item(), "secret event body");
    let down = DispatchError::ShuttingDown("secret event body");
    assert_eq!(format!("{down:?}"), "ShuttingDown(..)");
    assert_eq!(down.to_string(), "dispatcher is shutting down");
    // Usable as a std error.
    let boxed: Box<dyn std::error::Error> = Box::new(DispatchError::QueueFull(1u8));
    assert_eq!(boxed.to_string(), "dispatch queue is full");
}

#[test]
fn stats_default_is_zero() {
    let stats = DispatchStats::default();
    assert_eq!(stats.completed(), 0);
    assert_eq!(stats.queued, 0);
}

#[tokio::test]
async fn dispatcher_debug_has_no_items() {
    let (dispatcher, gate, _started, _done) = gated(1, 2);
    let debug = format!("{dispatcher:?}");
    assert!(debug.contains("workers: 1"), "{debug}");
    assert!(debug.contains("capacity: 2"), "{debug}");
    open(&gate);
    dispatcher.shutdown().await;
}
