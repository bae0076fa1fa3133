//! Acknowledge first, process after: a bounded queue feeding a bounded pool of
//! worker tasks that run your async handler (feature `dispatch`, Tokio).
//!
//! Zoom expects a 2xx within 3 seconds and retries otherwise; a retried
//! `rtms_started` opens a second RTMS connection that kicks out the first. So
//! the receiver answers first and hands the event to a [`Dispatcher`], whose
//! workers run the handler afterwards:
//!
//! - [`Dispatcher::try_dispatch`] never waits. When the queue is full it
//!   returns [`DispatchError::QueueFull`] with the item, and the receiver
//!   answers 503 with `Retry-After` so that Zoom retries later: nothing is
//!   acknowledged and then dropped.
//! - At most [`DispatcherConfig::workers`] handler calls run at once.
//! - A handler that returns `Err` or panics is counted (and logged with the
//!   `tracing` feature); the worker carries on with the next item.
//! - [`Dispatcher::shutdown`] stops accepting, finishes every queued item and
//!   then resolves.
//!
//! A handler that runs for the lifetime of an RTMS stream (a signalling
//! WebSocket, for example) occupies a worker for that long. Spawn such work
//! from the handler (`tokio::spawn`) and return, or size `workers` for the
//! number of concurrent streams.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dispatcher = Dispatcher::new(DispatcherConfig::default(), |name: String| async move {
//!     println!("processing {name}");
//!     Ok::<_, Infallible>(())
//! });
//!
//! // In the request handler: enqueue, then answer 200 (or 503 on error).
//! match dispatcher.try_dispatch("meeting.rtms_started".to_owned()) {
//!     Ok(()) => { /* 200 */ }
//!     Err(err) => { /* 503 + Retry-After; err.into_inner() gives the item back */ }
//! }
//!
//! // On shutdown: stop accepting, drain, wait.
//! dispatcher.shutdown().await;
//! assert_eq!(dispatcher.stats().processed, 1);
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch, Mutex as AsyncMutex};

use crate::run::{run_handler, Outcome, Runner};

/// Default number of workers: 8.
///
/// Workers are Tokio tasks, not threads, and handlers are expected to be
/// I/O-bound (open a connection, write a record), so the number bounds
/// concurrent handler calls, not CPU use. A fixed default behaves the same on
/// a laptop and in a one-CPU container.
///
/// ```
/// use zoom_rtms_webhooks::dispatch::{DispatcherConfig, DEFAULT_WORKERS};
/// assert_eq!(DispatcherConfig::default().workers(), DEFAULT_WORKERS);
/// ```
pub const DEFAULT_WORKERS: usize = 8;

/// Default queue capacity: 1024 items.
///
/// ```
/// use zoom_rtms_webhooks::dispatch::{DispatcherConfig, DEFAULT_QUEUE_CAPACITY};
/// assert_eq!(DispatcherConfig::default().queue_capacity(), DEFAULT_QUEUE_CAPACITY);
/// ```
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;

/// Size of a [`Dispatcher`]: worker count and queue capacity.
///
/// ```
/// use zoom_rtms_webhooks::dispatch::DispatcherConfig;
/// let config = DispatcherConfig::default().with_workers(16).with_queue_capacity(4096);
/// assert_eq!((config.workers(), config.queue_capacity()), (16, 4096));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatcherConfig {
    workers: usize,
    queue_capacity: usize,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            workers: DEFAULT_WORKERS,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

impl DispatcherConfig {
    /// Set the number of worker tasks, i.e. the maximum number of handler calls running at
    /// once ([`DEFAULT_WORKERS`]). `0` is treated as `1`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dispatch::DispatcherConfig;
    /// assert_eq!(DispatcherConfig::default().with_workers(2).workers(), 2);
    /// assert_eq!(DispatcherConfig::default().with_workers(0).workers(), 1);
    /// ```
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Set the number of items that may wait for a worker ([`DEFAULT_QUEUE_CAPACITY`]);
    /// items being handled do not count. `0` is treated as `1`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dispatch::DispatcherConfig;
    /// assert_eq!(DispatcherConfig::default().with_queue_capacity(64).queue_capacity(), 64);
    /// assert_eq!(DispatcherConfig::default().with_queue_capacity(0).queue_capacity(), 1);
    /// ```
    pub fn with_queue_capacity(mut self, queue_capacity: usize) -> Self {
        self.queue_capacity = queue_capacity.max(1);
        self
    }

    /// The number of worker tasks.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dispatch::{DispatcherConfig, DEFAULT_WORKERS};
    /// assert_eq!(DispatcherConfig::default().workers(), DEFAULT_WORKERS);
    /// ```
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The queue capacity.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dispatch::{DispatcherConfig, DEFAULT_QUEUE_CAPACITY};
    /// assert_eq!(DispatcherConfig::default().queue_capacity(), DEFAULT_QUEUE_CAPACITY);
    /// ```
    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }
}

/// Why [`Dispatcher::try_dispatch`] refused an item. The item is given back.
///
/// `Debug` and `Display` never show the item (it may hold event data).
///
/// ```
/// use zoom_rtms_webhooks::dispatch::DispatchError;
/// let err = DispatchError::QueueFull(42);
/// assert!(err.is_queue_full());
/// assert_eq!(err.to_string(), "dispatch queue is full");
/// assert_eq!(err.into_inner(), 42);
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError<T> {
    /// The queue is at capacity. Answer 503 with `Retry-After` (and forget the
    /// de-duplication mark) so that Zoom delivers the event again later.
    #[error("dispatch queue is full")]
    QueueFull(T),
    /// [`Dispatcher::shutdown`] was called (or the runtime running the
    /// workers has stopped); no new items are accepted.
    #[error("dispatcher is shutting down")]
    ShuttingDown(T),
}

impl<T> DispatchError<T> {
    /// The refused item.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dispatch::DispatchError;
    /// assert_eq!(DispatchError::ShuttingDown("e").into_inner(), "e");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            DispatchError::QueueFull(item) | DispatchError::ShuttingDown(item) => item,
        }
    }

    /// A reference to the refused item.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dispatch::DispatchError;
    /// assert_eq!(*DispatchError::QueueFull(7).item(), 7);
    /// ```
    pub fn item(&self) -> &T {
        match self {
            DispatchError::QueueFull(item) | DispatchError::ShuttingDown(item) => item,
        }
    }

    /// `true` for [`DispatchError::QueueFull`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::dispatch::DispatchError;
    /// assert!(DispatchError::QueueFull(()).is_queue_full());
    /// assert!(!DispatchError::ShuttingDown(()).is_queue_full());
    /// ```
    pub fn is_queue_full(&self) -> bool {
        matches!(self, DispatchError::QueueFull(_))
    }

    /// `true` for [`DispatchError::ShuttingDown`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::dispatch::DispatchError;
    /// assert!(DispatchError::ShuttingDown(()).is_shutting_down());
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        matches!(self, DispatchError::ShuttingDown(_))
    }
}

impl<T> fmt::Debug for DispatchError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DispatchError::QueueFull(_) => f.write_str("QueueFull(..)"),
            DispatchError::ShuttingDown(_) => f.write_str("ShuttingDown(..)"),
        }
    }
}

/// A snapshot of a [`Dispatcher`]'s counters, for metrics export.
///
/// Counters (`u64`) only grow; `queued` and `running` are current values.
/// Every accepted item ends up in exactly one of `processed`, `failed` or
/// `panicked`.
///
/// ```
/// use zoom_rtms_webhooks::dispatch::DispatchStats;
/// let stats = DispatchStats::default();
/// assert_eq!(stats.completed(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DispatchStats {
    /// Items waiting in the queue now.
    pub queued: usize,
    /// Handler calls running now.
    pub running: usize,
    /// Items accepted by [`Dispatcher::try_dispatch`].
    pub dispatched: u64,
    /// Items refused with [`DispatchError::QueueFull`].
    pub rejected_full: u64,
    /// Items refused with [`DispatchError::ShuttingDown`].
    pub rejected_shutting_down: u64,
    /// Handler calls that returned `Ok`.
    pub processed: u64,
    /// Handler calls that returned `Err`.
    pub failed: u64,
    /// Handler calls that panicked.
    pub panicked: u64,
}

impl DispatchStats {
    /// Handler calls that finished, whatever the outcome:
    /// `processed + failed + panicked`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dispatch::DispatchStats;
    /// assert_eq!(DispatchStats::default().completed(), 0);
    /// ```
    pub fn completed(&self) -> u64 {
        self.processed
            .saturating_add(self.failed)
            .saturating_add(self.panicked)
    }
}

/// Ack-first worker pool: a bounded queue and a bounded number of Tokio tasks
/// running an async handler. Cheap to clone; clones share the queue, the
/// workers and the counters.
///
/// Dropping every clone without calling [`shutdown`](Dispatcher::shutdown)
/// closes the queue; the workers still finish the queued items in the
/// background, but nobody waits for them.
///
/// # Example
///
/// ```
/// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
///
/// #[derive(Debug)]
/// struct HandlerError;
/// impl std::fmt::Display for HandlerError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("handler error")
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let config = DispatcherConfig::default().with_workers(2).with_queue_capacity(16);
/// let dispatcher = Dispatcher::new(config, |n: u32| async move {
///     if n % 2 == 0 { Ok(()) } else { Err(HandlerError) }
/// });
/// for n in 0..4 {
///     dispatcher.try_dispatch(n).expect("queue has room");
/// }
/// dispatcher.shutdown().await;
/// let stats = dispatcher.stats();
/// assert_eq!((stats.processed, stats.failed), (2, 2));
/// # }
/// ```
pub struct Dispatcher<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Dispatcher<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<T> {
    /// `None` once shutdown started: dropping the only sender closes the
    /// channel, so workers drain what is queued and then stop.
    sender: RwLock<Option<mpsc::Sender<T>>>,
    closed: AtomicBool,
    capacity: usize,
    workers: usize,
    counters: Arc<Counters>,
    /// Becomes `true` when the last worker has exited.
    drained: watch::Receiver<bool>,
}

#[derive(Default)]
struct Counters {
    queued: AtomicUsize,
    running: AtomicUsize,
    dispatched: AtomicU64,
    rejected_full: AtomicU64,
    rejected_shutting_down: AtomicU64,
    processed: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
}

impl<T: Send + 'static> Dispatcher<T> {
    /// Start `config.workers` worker tasks on the current Tokio runtime, each
    /// running `handler` on queued items one at a time.
    ///
    /// The handler is any `Fn(T) -> impl Future<Output = Result<(), E>>`
    /// with `E: Display`, typically `|event| async move { ...; Ok(()) }`.
    ///
    /// # Panics
    ///
    /// Panics if called outside a Tokio runtime, like `tokio::spawn`. Use
    /// [`Dispatcher::new_in`] to give a runtime handle explicitly.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher: Dispatcher<String> =
    ///     Dispatcher::new(DispatcherConfig::default(), |event| async move {
    ///         let _ = event;
    ///         Ok::<_, Infallible>(())
    ///     });
    /// assert_eq!(dispatcher.workers(), 8);
    /// # }
    /// ```
    pub fn new<H, Fut, E>(config: DispatcherConfig, handler: H) -> Self
    where
        H: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        Self::new_in(config, handler, &Handle::current())
    }

    /// Like [`Dispatcher::new`], but spawn the workers on the runtime behind
    /// `runtime` (for example a dedicated multi-threaded runtime when the web
    /// framework runs single-threaded runtimes).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build()?;
    /// let dispatcher = Dispatcher::new_in(
    ///     DispatcherConfig::default(),
    ///     |n: u8| async move { let _ = n; Ok::<_, Infallible>(()) },
    ///     runtime.handle(),
    /// );
    /// dispatcher.try_dispatch(1).expect("queue has room");
    /// runtime.block_on(dispatcher.shutdown());
    /// assert_eq!(dispatcher.stats().processed, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new_in<H, Fut, E>(config: DispatcherConfig, handler: H, runtime: &Handle) -> Self
    where
        H: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        let workers = config.workers();
        let capacity = config.queue_capacity();
        let (sender, receiver) = mpsc::channel(capacity);
        let receiver = Arc::new(AsyncMutex::new(receiver));
        let counters = Arc::new(Counters::default());
        let handler = Arc::new(handler);
        let (drained_tx, drained_rx) = watch::channel(false);
        let alive = Arc::new(AliveWorkers {
            count: AtomicUsize::new(workers),
            drained: drained_tx,
        });

        for index in 0..workers {
            let worker = worker_loop(
                index,
                Arc::clone(&receiver),
                Arc::clone(&handler),
                Arc::clone(&counters),
                WorkerGuard(Arc::clone(&alive)),
            );
            #[cfg(feature = "tracing")]
            let worker = tracing::Instrument::instrument(
                worker,
                tracing::debug_span!("zoom_rtms_dispatch_worker", worker = index),
            );
            drop(runtime.spawn(worker));
        }

        Self {
            inner: Arc::new(Inner {
                sender: RwLock::new(Some(sender)),
                closed: AtomicBool::new(false),
                capacity,
                workers,
                counters,
                drained: drained_rx,
            }),
        }
    }
}

impl<T> Dispatcher<T> {
    /// Enqueue `item` for a worker without waiting.
    ///
    /// # Errors
    ///
    /// [`DispatchError::QueueFull`] when the queue is at capacity and
    /// [`DispatchError::ShuttingDown`] after [`shutdown`](Dispatcher::shutdown)
    /// (or [`close`](Dispatcher::close)); both give the item back.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::new(DispatcherConfig::default(), |_: u8| async {
    ///     Ok::<_, Infallible>(())
    /// });
    /// assert!(dispatcher.try_dispatch(1).is_ok());
    /// dispatcher.close();
    /// assert!(dispatcher.try_dispatch(2).unwrap_err().is_shutting_down());
    /// # }
    /// ```
    pub fn try_dispatch(&self, item: T) -> Result<(), DispatchError<T>> {
        let counters = &self.inner.counters;
        let guard = self
            .inner
            .sender
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = guard.as_ref() else {
            counters
                .rejected_shutting_down
                .fetch_add(1, Ordering::Relaxed);
            return Err(DispatchError::ShuttingDown(item));
        };
        // Count before sending so a worker's decrement can never run first.
        counters.queued.fetch_add(1, Ordering::Relaxed);
        match sender.try_send(item) {
            Ok(()) => {
                counters.dispatched.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(item)) => {
                counters.queued.fetch_sub(1, Ordering::Relaxed);
                counters.rejected_full.fetch_add(1, Ordering::Relaxed);
                #[cfg(feature = "tracing")]
                tracing::debug!(
                    capacity = self.inner.capacity,
                    "dispatch queue full: item refused"
                );
                Err(DispatchError::QueueFull(item))
            }
            Err(mpsc::error::TrySendError::Closed(item)) => {
                // The workers are gone (their runtime stopped).
                counters.queued.fetch_sub(1, Ordering::Relaxed);
                counters
                    .rejected_shutting_down
                    .fetch_add(1, Ordering::Relaxed);
                Err(DispatchError::ShuttingDown(item))
            }
        }
    }

    /// Stop accepting items without waiting: every later
    /// [`try_dispatch`](Dispatcher::try_dispatch) returns
    /// [`DispatchError::ShuttingDown`]. Queued items are still processed.
    /// Idempotent.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::new(DispatcherConfig::default(), |_: ()| async {
    ///     Ok::<_, Infallible>(())
    /// });
    /// dispatcher.close();
    /// assert!(dispatcher.is_shutting_down());
    /// # }
    /// ```
    pub fn close(&self) {
        let sender = self
            .inner
            .sender
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.inner.closed.store(true, Ordering::Release);
        #[cfg(feature = "tracing")]
        if sender.is_some() {
            tracing::debug!(
                queued = self.queued(),
                "dispatcher closed: draining queued items"
            );
        }
        drop(sender);
    }

    /// Graceful shutdown: stop accepting items **now** (when `shutdown` is
    /// called, not when the future is first polled), then resolve once every
    /// item already queued has been handled and every worker has exited.
    ///
    /// Idempotent, and safe to call from several clones: each returned future
    /// resolves after the drain. The future does not borrow the dispatcher,
    /// so it can be spawned.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::new(DispatcherConfig::default(), |_: u8| async {
    ///     Ok::<_, Infallible>(())
    /// });
    /// for n in 0..10 {
    ///     dispatcher.try_dispatch(n).expect("queue has room");
    /// }
    /// dispatcher.shutdown().await;
    /// dispatcher.shutdown().await; // idempotent
    /// assert_eq!(dispatcher.stats().processed, 10);
    /// # }
    /// ```
    pub fn shutdown(&self) -> impl Future<Output = ()> + Send + 'static {
        self.close();
        let mut drained = self.inner.drained.clone();
        async move {
            // An error means every worker (and the sender side of the watch)
            // is gone, which also means drained.
            let _ = drained.wait_for(|done| *done).await;
            #[cfg(feature = "tracing")]
            tracing::debug!("dispatcher drained");
        }
    }

    /// `true` once [`shutdown`](Dispatcher::shutdown) or
    /// [`close`](Dispatcher::close) was called.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::new(DispatcherConfig::default(), |_: ()| async {
    ///     Ok::<_, Infallible>(())
    /// });
    /// assert!(!dispatcher.is_shutting_down());
    /// # }
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// The queue capacity (after treating `0` as `1`).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let config = DispatcherConfig::default().with_queue_capacity(0);
    /// let dispatcher = Dispatcher::new(config, |_: ()| async { Ok::<_, Infallible>(()) });
    /// assert_eq!(dispatcher.capacity(), 1);
    /// # }
    /// ```
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// The number of workers (after treating `0` as `1`).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let config = DispatcherConfig::default().with_workers(3);
    /// let dispatcher = Dispatcher::new(config, |_: ()| async { Ok::<_, Infallible>(()) });
    /// assert_eq!(dispatcher.workers(), 3);
    /// # }
    /// ```
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Items waiting in the queue now (not counting running handler calls).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::new(DispatcherConfig::default(), |_: ()| async {
    ///     Ok::<_, Infallible>(())
    /// });
    /// assert_eq!(dispatcher.queued(), 0);
    /// # }
    /// ```
    pub fn queued(&self) -> usize {
        self.inner.counters.queued.load(Ordering::Relaxed)
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::new(DispatcherConfig::default(), |_: ()| async {
    ///     Ok::<_, Infallible>(())
    /// });
    /// dispatcher.try_dispatch(()).expect("queue has room");
    /// dispatcher.shutdown().await;
    /// let stats = dispatcher.stats();
    /// assert_eq!((stats.dispatched, stats.processed, stats.queued), (1, 1, 0));
    /// # }
    /// ```
    pub fn stats(&self) -> DispatchStats {
        let c = &self.inner.counters;
        DispatchStats {
            queued: c.queued.load(Ordering::Relaxed),
            running: c.running.load(Ordering::Relaxed),
            dispatched: c.dispatched.load(Ordering::Relaxed),
            rejected_full: c.rejected_full.load(Ordering::Relaxed),
            rejected_shutting_down: c.rejected_shutting_down.load(Ordering::Relaxed),
            processed: c.processed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            panicked: c.panicked.load(Ordering::Relaxed),
        }
    }
}

impl<T> fmt::Debug for Dispatcher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("workers", &self.inner.workers)
            .field("capacity", &self.inner.capacity)
            .field("shutting_down", &self.is_shutting_down())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Number of live workers; the last one to exit publishes "drained".
struct AliveWorkers {
    count: AtomicUsize,
    drained: watch::Sender<bool>,
}

/// Decrements the live-worker count when a worker exits, however it exits
/// (end of queue, or its task dropped by a stopping runtime).
struct WorkerGuard(Arc<AliveWorkers>);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.send_replace(true);
        }
    }
}

/// Decrements a gauge on drop, so a panicking handler cannot leave it high.
struct GaugeGuard<'a>(&'a AtomicUsize);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn worker_loop<T, H, Fut, E>(
    _index: usize,
    receiver: Arc<AsyncMutex<mpsc::Receiver<T>>>,
    handler: Arc<H>,
    counters: Arc<Counters>,
    _alive: WorkerGuard,
) where
    H: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: fmt::Display,
{
    loop {
        // Only the worker holding the lock waits on the channel; the others
        // wait for the lock. Either way an idle worker costs nothing.
        let next = receiver.lock().await.recv().await;
        let Some(item) = next else { break };
        counters.queued.fetch_sub(1, Ordering::Relaxed);

        counters.running.fetch_add(1, Ordering::Relaxed);
        let outcome = {
            let _running = GaugeGuard(&counters.running);
            run_handler(Runner::Dispatch, &*handler, item).await
        };
        let counter = match outcome {
            Outcome::Ok => &counters.processed,
            Outcome::Failed => &counters.failed,
            Outcome::Panicked => &counters.panicked,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    #[cfg(feature = "tracing")]
    tracing::debug!(worker = _index, "dispatch worker stopped");
}
