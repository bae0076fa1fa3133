//! [`RedisStreamWorker`]: consumes the events that
//! [`RedisStreamHandoff`](super::RedisStreamHandoff) appended, through a consumer group, and runs
//! the user's handler on each (through the crate's one handler runner).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use ::redis::Value;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::handoff::{decode, DEFAULT_STREAM_KEY};
use super::{timed, ConnectionManager, OpError, RedisConnection, RedisError, DEFAULT_OP_TIMEOUT};
use crate::receiver::Delivery;
use crate::run::{run_handler, Outcome, Runner};

/// Default consumer group: `zoom-rtms-workers`.
///
/// ```
/// assert_eq!(zoom_rtms_webhooks::redis::DEFAULT_GROUP, "zoom-rtms-workers");
/// ```
pub const DEFAULT_GROUP: &str = "zoom-rtms-workers";

/// Default idle time after which a pending entry (read by a worker that has not acknowledged
/// it) is claimed by another worker: 60 seconds.
///
/// Longer than [`DEFAULT_LEASE_TTL`](super::DEFAULT_LEASE_TTL) (10 s), so that when a worker
/// died while handling an `rtms_started`, the stream lease it may have taken has expired by the
/// time another worker re-runs the event. Shorter would also re-run events whose handler is
/// merely slow (handlers must return in less than this; spawn long-lived work).
///
/// ```
/// use zoom_rtms_webhooks::redis::{DEFAULT_CLAIM_IDLE, DEFAULT_LEASE_TTL};
/// assert!(DEFAULT_CLAIM_IDLE > DEFAULT_LEASE_TTL);
/// ```
pub const DEFAULT_CLAIM_IDLE: Duration = Duration::from_secs(60);

/// Configuration of a [`RedisStreamWorker`]: `with_*` setters, getters of the same names.
///
/// ```
/// use std::time::Duration;
/// use zoom_rtms_webhooks::redis::StreamWorkerConfig;
///
/// let config = StreamWorkerConfig::default()
///     .with_stream_key("app:events")
///     .with_consumer("pod-7")
///     .with_concurrency(16)
///     .with_claim_idle(Duration::from_secs(120));
/// assert_eq!(config.group(), "zoom-rtms-workers");
/// assert_eq!(config.consumer(), "pod-7");
/// assert_eq!(config.dead_letter_key(), "app:events:dead");
/// ```
#[derive(Debug, Clone)]
pub struct StreamWorkerConfig {
    stream_key: String,
    group: String,
    consumer: String,
    concurrency: usize,
    block: Duration,
    claim_idle: Duration,
    claim_interval: Duration,
    max_deliveries: Option<u64>,
    dead_letter_stream: Option<String>,
    delete_on_ack: bool,
    timeout: Duration,
}

impl Default for StreamWorkerConfig {
    fn default() -> Self {
        StreamWorkerConfig {
            stream_key: DEFAULT_STREAM_KEY.to_owned(),
            group: DEFAULT_GROUP.to_owned(),
            consumer: crate::random::unique_name(),
            concurrency: 8,
            block: Duration::from_secs(1),
            claim_idle: DEFAULT_CLAIM_IDLE,
            claim_interval: Duration::from_secs(5),
            max_deliveries: Some(5),
            dead_letter_stream: None,
            delete_on_ack: true,
            timeout: DEFAULT_OP_TIMEOUT,
        }
    }
}

impl StreamWorkerConfig {
    /// Sets the stream to read (default [`DEFAULT_STREAM_KEY`]): the same as the hand-off's
    /// ([`RedisStreamHandoff::with_stream_key`](super::RedisStreamHandoff::with_stream_key)).
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().with_stream_key("k").stream_key(), "k");
    /// ```
    pub fn with_stream_key(mut self, key: impl Into<String>) -> Self {
        self.stream_key = key.into();
        self
    }

    /// Sets the consumer group (default [`DEFAULT_GROUP`]): every worker of the group shares the
    /// events, each event goes to one of them. Created (with the stream) if missing.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().with_group("g").group(), "g");
    /// ```
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Sets this worker's consumer name, unique among live workers (default
    /// `{HOSTNAME}-{pid}-{random}`). A worker restarted with the same name first re-handles the
    /// entries it had read but not acknowledged.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().with_consumer("c").consumer(), "c");
    /// ```
    pub fn with_consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = consumer.into();
        self
    }

    /// Sets the maximum number of handler calls running at once (default 8; `0` is treated as
    /// `1`).
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().with_concurrency(2).concurrency(), 2);
    /// ```
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Sets how long one `XREADGROUP` waits for new entries (default 1 s). It bounds how long
    /// [`shutdown`](RedisStreamWorker::shutdown) waits for the reader.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// let c = StreamWorkerConfig::default().with_block(Duration::from_millis(200));
    /// assert_eq!(c.block(), Duration::from_millis(200));
    /// ```
    pub fn with_block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// Sets the idle time after which another worker's unacknowledged entry is claimed (default
    /// [`DEFAULT_CLAIM_IDLE`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// let c = StreamWorkerConfig::default().with_claim_idle(Duration::from_secs(90));
    /// assert_eq!(c.claim_idle(), Duration::from_secs(90));
    /// ```
    pub fn with_claim_idle(mut self, idle: Duration) -> Self {
        self.claim_idle = idle;
        self
    }

    /// Sets how often to look for entries to claim (default 5 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// let c = StreamWorkerConfig::default().with_claim_interval(Duration::from_secs(1));
    /// assert_eq!(c.claim_interval(), Duration::from_secs(1));
    /// ```
    pub fn with_claim_interval(mut self, interval: Duration) -> Self {
        self.claim_interval = interval;
        self
    }

    /// Sets after how many deliveries (first read plus claims) an entry whose handler keeps
    /// failing is moved to the dead-letter stream and acknowledged (default `Some(5)`; `None`
    /// retries forever).
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().with_max_deliveries(None).max_deliveries(), None);
    /// ```
    pub fn with_max_deliveries(mut self, max: Option<u64>) -> Self {
        self.max_deliveries = max;
        self
    }

    /// Sets the dead-letter stream (default: `{stream_key}:dead`, see
    /// [`dead_letter_key`](StreamWorkerConfig::dead_letter_key)). Entries whose body cannot be
    /// parsed go there at once.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// let c = StreamWorkerConfig::default().with_dead_letter_stream("app:dead");
    /// assert_eq!(c.dead_letter_stream(), Some("app:dead"));
    /// assert_eq!(c.dead_letter_key(), "app:dead");
    /// ```
    pub fn with_dead_letter_stream(mut self, key: impl Into<String>) -> Self {
        self.dead_letter_stream = Some(key.into());
        self
    }

    /// Sets whether an entry is deleted from the stream when it is acknowledged (`XACK` + `XDEL`
    /// in one `MULTI`), so the stream holds only the backlog (default `true`). Turn it off if
    /// other consumer groups read the same stream, and trim it with
    /// [`RedisStreamHandoff::with_max_len`](super::RedisStreamHandoff::with_max_len).
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert!(!StreamWorkerConfig::default().with_delete_on_ack(false).delete_on_ack());
    /// ```
    pub fn with_delete_on_ack(mut self, delete: bool) -> Self {
        self.delete_on_ack = delete;
        self
    }

    /// Sets the timeout of every Redis call other than the blocking read (default
    /// [`DEFAULT_OP_TIMEOUT`]).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// let c = StreamWorkerConfig::default().with_timeout(Duration::from_secs(1));
    /// assert_eq!(c.timeout(), Duration::from_secs(1));
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The stream read.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::{StreamWorkerConfig, DEFAULT_STREAM_KEY};
    /// assert_eq!(StreamWorkerConfig::default().stream_key(), DEFAULT_STREAM_KEY);
    /// ```
    pub fn stream_key(&self) -> &str {
        &self.stream_key
    }

    /// The consumer group.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::{StreamWorkerConfig, DEFAULT_GROUP};
    /// assert_eq!(StreamWorkerConfig::default().group(), DEFAULT_GROUP);
    /// ```
    pub fn group(&self) -> &str {
        &self.group
    }

    /// This worker's consumer name.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_ne!(StreamWorkerConfig::default().consumer(), StreamWorkerConfig::default().consumer());
    /// ```
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The maximum number of handler calls running at once, as set (`0` runs as `1`).
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().concurrency(), 8);
    /// ```
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// How long one `XREADGROUP` waits.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().block(), std::time::Duration::from_secs(1));
    /// ```
    pub fn block(&self) -> Duration {
        self.block
    }

    /// The idle time after which an unacknowledged entry is claimed.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::{StreamWorkerConfig, DEFAULT_CLAIM_IDLE};
    /// assert_eq!(StreamWorkerConfig::default().claim_idle(), DEFAULT_CLAIM_IDLE);
    /// ```
    pub fn claim_idle(&self) -> Duration {
        self.claim_idle
    }

    /// How often to look for entries to claim.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().claim_interval(), std::time::Duration::from_secs(5));
    /// ```
    pub fn claim_interval(&self) -> Duration {
        self.claim_interval
    }

    /// The number of deliveries after which a failing entry is dead-lettered (`None`: never).
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().max_deliveries(), Some(5));
    /// ```
    pub fn max_deliveries(&self) -> Option<u64> {
        self.max_deliveries
    }

    /// The dead-letter stream as set, if any (see
    /// [`dead_letter_key`](StreamWorkerConfig::dead_letter_key) for the one used).
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().dead_letter_stream(), None);
    /// ```
    pub fn dead_letter_stream(&self) -> Option<&str> {
        self.dead_letter_stream.as_deref()
    }

    /// Whether acknowledged entries are deleted from the stream.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert!(StreamWorkerConfig::default().delete_on_ack());
    /// ```
    pub fn delete_on_ack(&self) -> bool {
        self.delete_on_ack
    }

    /// The timeout of every Redis call other than the blocking read.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::{StreamWorkerConfig, DEFAULT_OP_TIMEOUT};
    /// assert_eq!(StreamWorkerConfig::default().timeout(), DEFAULT_OP_TIMEOUT);
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The dead-letter stream key: [`dead_letter_stream`](StreamWorkerConfig::dead_letter_stream)
    /// or `{stream_key}:dead`.
    ///
    /// ```
    /// # use zoom_rtms_webhooks::redis::StreamWorkerConfig;
    /// assert_eq!(StreamWorkerConfig::default().dead_letter_key(), "zoom-rtms:events:dead");
    /// ```
    pub fn dead_letter_key(&self) -> String {
        self.dead_letter_stream
            .clone()
            .unwrap_or_else(|| format!("{}:dead", self.stream_key))
    }
}

/// Counters of a [`RedisStreamWorker`], for metrics export.
///
/// Every entry this worker took (`read + claimed`) ends up handled (`processed` or `failed`),
/// unless the worker was aborted. `acked` counts successful `XACK`s: equal to `processed` plus
/// dead-lettered entries when Redis stayed reachable.
///
/// ```
/// use zoom_rtms_webhooks::redis::StreamWorkerStats;
/// assert_eq!(StreamWorkerStats::default().processed, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamWorkerStats {
    /// New entries read with `XREADGROUP` (including this consumer's own pending entries
    /// re-read at start).
    pub read: u64,
    /// Entries claimed from other (dead or slow) workers with `XAUTOCLAIM`.
    pub claimed: u64,
    /// Handler calls that returned `Ok`.
    pub processed: u64,
    /// Handler calls that returned `Err` or panicked, and entries that could not be parsed.
    /// Not acknowledged (except parse failures): retried after `claim_idle`.
    pub failed: u64,
    /// Entries acknowledged (`XACK` succeeded).
    pub acked: u64,
    /// Entries moved to the dead-letter stream.
    pub dead_lettered: u64,
    /// Redis calls of the worker that failed or timed out (it keeps retrying).
    pub redis_errors: u64,
    /// Handler calls running now.
    pub running: usize,
}

#[derive(Default)]
struct Counters {
    read: AtomicU64,
    claimed: AtomicU64,
    processed: AtomicU64,
    failed: AtomicU64,
    acked: AtomicU64,
    dead_lettered: AtomicU64,
    redis_errors: AtomicU64,
    running: AtomicUsize,
}

impl Counters {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn snapshot(&self) -> StreamWorkerStats {
        StreamWorkerStats {
            read: self.read.load(Ordering::Relaxed),
            claimed: self.claimed.load(Ordering::Relaxed),
            processed: self.processed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            redis_errors: self.redis_errors.load(Ordering::Relaxed),
            running: self.running.load(Ordering::Relaxed),
        }
    }
}

/// Consumes the events appended by [`RedisStreamHandoff`](super::RedisStreamHandoff) through a
/// consumer group and runs your handler on each, on any replica.
///
/// - One reader task reads up to `concurrency` entries at a time (`XREADGROUP ... BLOCK`, on a
///   connection of its own) and runs the handler on each in its own task, at most
///   [`concurrency`](StreamWorkerConfig::concurrency) at once.
/// - After the handler returns `Ok`, the entry is acknowledged (`XACK`, plus `XDEL` with
///   [`delete_on_ack`](StreamWorkerConfig::delete_on_ack)). After `Err` or a panic it is left
///   pending, and retried once it has been idle for
///   [`claim_idle`](StreamWorkerConfig::claim_idle); after
///   [`max_deliveries`](StreamWorkerConfig::max_deliveries) it is moved to the dead-letter stream.
/// - Every [`claim_interval`](StreamWorkerConfig::claim_interval) it claims entries that other
///   workers read but did not acknowledge for `claim_idle` (`XAUTOCLAIM`): a worker that died
///   mid-event has its events handled by another. At start it first re-handles its own pending
///   entries (a restart with the same consumer name).
/// - Redis errors are counted and retried with a back-off; the worker never stops by itself.
/// - [`shutdown`](RedisStreamWorker::shutdown) stops reading and waits for the running handlers
///   and their acknowledgements. Dropping the worker stops it the same way, without waiting.
///
/// Handlers run **at least once** per event: make them idempotent, and take a
/// [`StreamLeases`](super::StreamLeases) lease before connecting to a stream.
///
/// # Example
///
/// ```no_run
/// use zoom_rtms_webhooks::Delivery;
/// use zoom_rtms_webhooks::redis::{connect, RedisStreamWorker, StreamWorkerConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let conn = connect("redis://127.0.0.1:6379/").await?;
/// let worker = RedisStreamWorker::start(&conn, StreamWorkerConfig::default(), |d: Delivery| async move {
///     println!("{} {:?}", d.event.name(), d.event.rtms_stream_id());
///     Ok::<_, std::convert::Infallible>(())
/// })
/// .await?;
/// tokio::signal::ctrl_c().await?;
/// worker.shutdown().await;
/// println!("{:?}", worker.stats());
/// # Ok(())
/// # }
/// ```
pub struct RedisStreamWorker {
    config: Arc<StreamWorkerConfig>,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    done: watch::Receiver<bool>,
    task: tokio::task::AbortHandle,
}

impl fmt::Debug for RedisStreamWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStreamWorker")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

struct Shared<H> {
    config: Arc<StreamWorkerConfig>,
    counters: Arc<Counters>,
    handler: H,
    /// For acknowledgements, claims and group creation (never blocks).
    conn: ConnectionManager,
}

impl RedisStreamWorker {
    /// Uses `conn` for acknowledgements and claims, and opens one more connection for its
    /// blocking reads (they must not hold up the shared one); creates the
    /// stream and the consumer group if missing (`XGROUP CREATE {stream} {group} 0 MKSTREAM`: a
    /// new group starts at the beginning of the stream, so events accepted before the first
    /// worker ever started are handled too), and starts the worker on the current Tokio
    /// runtime.
    ///
    /// The handler is any `Fn(Delivery) -> impl Future<Output = Result<(), E>>` with
    /// `E: Display`, like [`Dispatcher`](crate::dispatch::Dispatcher)'s. It should return quickly
    /// (well within `claim_idle`); spawn work that lasts as long as an RTMS stream.
    ///
    /// # Errors
    ///
    /// Redis unreachable at start, or the group cannot be created.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::Delivery;
    /// # use zoom_rtms_webhooks::redis::{connect, RedisStreamWorker, StreamWorkerConfig};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let conn = connect("redis://127.0.0.1:6379/").await?;
    /// let worker = RedisStreamWorker::start(&conn, StreamWorkerConfig::default(), |d: Delivery| async move {
    ///     let _ = d;
    ///     Ok::<_, std::convert::Infallible>(())
    /// })
    /// .await?;
    /// # let _ = worker;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start<H, Fut, E>(
        conn: &RedisConnection,
        config: StreamWorkerConfig,
        handler: H,
    ) -> Result<Self, RedisError>
    where
        H: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        let reader = conn.dedicated_now().await?;
        let conn = conn.manager().clone();
        let config = Arc::new(config);
        create_group(&mut conn.clone(), &config).await?;

        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            config: Arc::clone(&config),
            counters: Arc::clone(&counters),
            handler,
            conn,
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            reader_loop(shared, reader, stop_rx).await;
            done_tx.send_replace(true);
        });
        Ok(RedisStreamWorker {
            config,
            counters,
            stop: stop_tx,
            done: done_rx,
            task: task.abort_handle(),
        })
    }

    /// A snapshot of the counters.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::RedisStreamWorker;
    /// # fn show(worker: &RedisStreamWorker) {
    /// let stats = worker.stats();
    /// println!("processed {} acked {} claimed {}", stats.processed, stats.acked, stats.claimed);
    /// # }
    /// ```
    pub fn stats(&self) -> StreamWorkerStats {
        self.counters.snapshot()
    }

    /// The configuration.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::RedisStreamWorker;
    /// # fn show(worker: &RedisStreamWorker) {
    /// println!("consumer {}", worker.config().consumer());
    /// # }
    /// ```
    pub fn config(&self) -> &StreamWorkerConfig {
        &self.config
    }

    /// Graceful shutdown: stop reading now (the read in progress ends within
    /// [`block`](StreamWorkerConfig::block)), run the handlers on the entries already read, wait
    /// for them and their acknowledgements, then resolve. Idempotent; the future does not borrow
    /// the worker.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::RedisStreamWorker;
    /// # async fn stop(worker: RedisStreamWorker) {
    /// worker.shutdown().await;
    /// assert_eq!(worker.stats().running, 0);
    /// # }
    /// ```
    pub fn shutdown(&self) -> impl Future<Output = ()> + Send + 'static {
        self.stop.send_replace(true);
        let mut done = self.done.clone();
        async move {
            let _ = done.wait_for(|d| *d).await;
        }
    }

    /// Hard stop, as if the process died: the reader and every running handler are cancelled
    /// and nothing more is acknowledged. Entries read but not acknowledged stay pending and are
    /// claimed by another worker after [`claim_idle`](StreamWorkerConfig::claim_idle).
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::RedisStreamWorker;
    /// # fn crash(worker: RedisStreamWorker) {
    /// worker.abort();
    /// # }
    /// ```
    pub fn abort(self) {
        self.task.abort();
    }
}

impl Drop for RedisStreamWorker {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// `XGROUP CREATE {stream} {group} 0 MKSTREAM`, ignoring "group already exists".
async fn create_group(
    conn: &mut ConnectionManager,
    config: &StreamWorkerConfig,
) -> Result<(), RedisError> {
    let mut cmd = ::redis::cmd("XGROUP");
    cmd.arg("CREATE")
        .arg(&config.stream_key)
        .arg(&config.group)
        .arg("0")
        .arg("MKSTREAM");
    match timed(config.timeout, cmd.query_async::<Value>(conn)).await {
        Ok(_) => Ok(()),
        Err(OpError::Redis(e)) if e.code() == Some("BUSYGROUP") => Ok(()),
        Err(OpError::Redis(e)) => Err(e),
        Err(OpError::Timeout) => Err(RedisError::from((
            ::redis::ErrorKind::Io,
            "XGROUP CREATE timed out",
        ))),
    }
}

/// Where the reader takes its next batch from.
enum Source {
    /// This consumer's own pending entries, after this id (start-up recovery).
    Own(String),
    /// New entries (`>`).
    New,
}

async fn reader_loop<H, Fut, E>(
    shared: Arc<Shared<H>>,
    mut reader: ConnectionManager,
    mut stop: watch::Receiver<bool>,
) where
    H: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + 'static,
{
    let config = Arc::clone(&shared.config);
    let concurrency = config.concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    let mut source = Source::Own("0-0".to_owned());
    let mut claim_cursor = "0-0".to_owned();
    let mut next_claim = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(50);

    'outer: loop {
        if *stop.borrow() {
            break;
        }
        // Reap finished handler tasks (their results are already counted).
        while tasks.try_join_next().is_some() {}

        // Wait for a free handler slot, then take every free slot.
        let first = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let mut slots = vec![first];
        while slots.len() < concurrency {
            match Arc::clone(&permits).try_acquire_owned() {
                Ok(p) => slots.push(p),
                Err(_) => break,
            }
        }
        let count = slots.len();

        // 1. Claim entries idle for too long (other workers died or are stuck).
        if tokio::time::Instant::now() >= next_claim {
            match autoclaim(&shared, &claim_cursor, count).await {
                Ok(reply) => {
                    backoff = Duration::from_millis(50);
                    if reply.next_stream_id == "0-0" || reply.next_stream_id.is_empty() {
                        claim_cursor = "0-0".to_owned();
                        next_claim = tokio::time::Instant::now() + config.claim_interval;
                    } else {
                        claim_cursor = reply.next_stream_id;
                    }
                    if !reply.claimed.is_empty() {
                        Counters::add(&shared.counters.claimed, reply.claimed.len());
                        let counts = delivery_counts(&shared, &reply.claimed).await;
                        spawn_handlers(&shared, &mut tasks, &mut slots, reply.claimed, &counts);
                        continue 'outer;
                    }
                }
                Err(e) => {
                    if recover_from_error(&shared, &e).await {
                        next_claim = tokio::time::Instant::now() + config.claim_interval;
                    }
                    pause(&mut backoff, &mut stop).await;
                    continue 'outer;
                }
            }
        }

        // 2. Read: first this consumer's own pending entries, then new ones.
        let read = match &source {
            Source::Own(after) => read_group(&mut reader, &config, after, count, None).await,
            Source::New => read_group(&mut reader, &config, ">", count, Some(config.block)).await,
        };
        match read {
            Ok(entries) => {
                backoff = Duration::from_millis(50);
                if let Source::Own(_) = source {
                    match entries.last() {
                        Some(last) => source = Source::Own(last.id.clone()),
                        None => source = Source::New,
                    }
                }
                Counters::add(&shared.counters.read, entries.len());
                spawn_handlers(&shared, &mut tasks, &mut slots, entries, &HashMap::new());
            }
            Err(e) => {
                if let Source::Own(_) = source {
                    // Unreadable own history (for example deleted entries): leave it to
                    // XAUTOCLAIM and go on with new entries.
                    if !is_transient(&e) {
                        source = Source::New;
                    }
                }
                recover_from_error(&shared, &e).await;
                pause(&mut backoff, &mut stop).await;
            }
        }
    }

    // Graceful drain: every handler already started finishes and acknowledges.
    while tasks.join_next().await.is_some() {}
}

fn is_transient(e: &OpError) -> bool {
    match e {
        OpError::Timeout => true,
        OpError::Redis(e) => e.is_io_error() || e.is_timeout() || e.is_unrecoverable_error(),
    }
}

/// Counts the error; re-creates the group when Redis lost it (restart without persistence,
/// `FLUSHALL`). Returns `true` if the group was re-created.
async fn recover_from_error<H>(shared: &Shared<H>, e: &OpError) -> bool {
    shared.counters.redis_errors.fetch_add(1, Ordering::Relaxed);
    #[cfg(feature = "tracing")]
    tracing::warn!(error = %e, "Redis stream worker: Redis call failed");
    if let OpError::Redis(err) = e {
        if err.code() == Some("NOGROUP") {
            return create_group(&mut shared.conn.clone(), &shared.config)
                .await
                .is_ok();
        }
    }
    false
}

/// Sleeps for `backoff` (doubling it up to 1 s) unless asked to stop.
async fn pause(backoff: &mut Duration, stop: &mut watch::Receiver<bool>) {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(Duration::from_secs(1));
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

async fn read_group(
    reader: &mut ConnectionManager,
    config: &StreamWorkerConfig,
    id: &str,
    count: usize,
    block: Option<Duration>,
) -> Result<Vec<StreamId>, OpError> {
    let mut cmd = ::redis::cmd("XREADGROUP");
    cmd.arg("GROUP")
        .arg(&config.group)
        .arg(&config.consumer)
        .arg("COUNT")
        .arg(count);
    let mut timeout = config.timeout;
    if let Some(block) = block {
        let ms = u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1);
        cmd.arg("BLOCK").arg(ms);
        timeout = timeout.saturating_add(block);
    }
    cmd.arg("STREAMS").arg(&config.stream_key).arg(id);
    let reply: Option<StreamReadReply> = timed(timeout, cmd.query_async(reader)).await?;
    Ok(reply
        .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
        .unwrap_or_default())
}

async fn autoclaim<H>(
    shared: &Shared<H>,
    cursor: &str,
    count: usize,
) -> Result<StreamAutoClaimReply, OpError> {
    let config = &shared.config;
    let idle = u64::try_from(config.claim_idle.as_millis()).unwrap_or(u64::MAX);
    let mut cmd = ::redis::cmd("XAUTOCLAIM");
    cmd.arg(&config.stream_key)
        .arg(&config.group)
        .arg(&config.consumer)
        .arg(idle)
        .arg(cursor)
        .arg("COUNT")
        .arg(count);
    timed(config.timeout, cmd.query_async(&mut shared.conn.clone())).await
}

/// Delivery counts of freshly claimed entries (`XPENDING` over their id range, this consumer).
/// Empty when `max_deliveries` is off or Redis fails (the entries are then simply handled).
async fn delivery_counts<H>(shared: &Shared<H>, claimed: &[StreamId]) -> HashMap<String, u64> {
    let config = &shared.config;
    let (Some(_), Some(first), Some(last)) =
        (config.max_deliveries, claimed.first(), claimed.last())
    else {
        return HashMap::new();
    };
    let mut cmd = ::redis::cmd("XPENDING");
    cmd.arg(&config.stream_key)
        .arg(&config.group)
        .arg(&first.id)
        .arg(&last.id)
        .arg(claimed.len())
        .arg(&config.consumer);
    match timed(
        config.timeout,
        cmd.query_async::<StreamPendingCountReply>(&mut shared.conn.clone()),
    )
    .await
    {
        Ok(reply) => reply
            .ids
            .into_iter()
            .map(|p| (p.id, u64::try_from(p.times_delivered).unwrap_or(u64::MAX)))
            .collect(),
        Err(_) => {
            shared.counters.redis_errors.fetch_add(1, Ordering::Relaxed);
            HashMap::new()
        }
    }
}

fn spawn_handlers<H, Fut, E>(
    shared: &Arc<Shared<H>>,
    tasks: &mut JoinSet<()>,
    slots: &mut Vec<OwnedSemaphorePermit>,
    entries: Vec<StreamId>,
    delivery_counts: &HashMap<String, u64>,
) where
    H: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + 'static,
{
    for entry in entries {
        // One slot per entry; there are never more entries than slots (COUNT = slots).
        let permit = slots.pop();
        let deliveries = delivery_counts.get(&entry.id).copied();
        let shared = Arc::clone(shared);
        tasks.spawn(async move {
            let _permit = permit;
            handle_entry(&shared, entry, deliveries).await;
        });
    }
    // Unused slots go back to the semaphore when `slots` is cleared.
    slots.clear();
}

/// What happened to one entry.
enum Verdict {
    Ack,
    Retry,
    DeadLetter(String),
}

async fn handle_entry<H, Fut, E>(shared: &Shared<H>, entry: StreamId, deliveries: Option<u64>)
where
    H: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + 'static,
{
    let counters = &shared.counters;
    let config = &shared.config;
    let verdict = match (deliveries, config.max_deliveries) {
        (Some(n), Some(max)) if n > max => {
            Verdict::DeadLetter(format!("handler did not succeed in {max} deliveries"))
        }
        _ => match decode(&entry) {
            Err(reason) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                Verdict::DeadLetter(reason)
            }
            Ok(delivery) => {
                counters.running.fetch_add(1, Ordering::Relaxed);
                let outcome =
                    run_handler(Runner::RedisStreamWorker, &shared.handler, delivery).await;
                counters.running.fetch_sub(1, Ordering::Relaxed);
                match outcome {
                    Outcome::Ok => {
                        counters.processed.fetch_add(1, Ordering::Relaxed);
                        Verdict::Ack
                    }
                    Outcome::Failed | Outcome::Panicked => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        Verdict::Retry
                    }
                }
            }
        },
    };
    match verdict {
        Verdict::Retry => {}
        Verdict::Ack => {
            if acknowledge(shared, &entry.id, None).await {
                counters.acked.fetch_add(1, Ordering::Relaxed);
            }
        }
        Verdict::DeadLetter(reason) => {
            #[cfg(feature = "tracing")]
            tracing::error!(entry = %entry.id, reason = %reason, "moving stream entry to the dead-letter stream");
            if acknowledge(shared, &entry.id, Some((&entry, &reason))).await {
                counters.acked.fetch_add(1, Ordering::Relaxed);
                counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// `XACK` (and `XDEL` with `delete_on_ack`), after copying the entry to the dead-letter stream
/// when `dead_letter` is given, in one `MULTI`. Tried up to three times; `true` on success.
async fn acknowledge<H>(
    shared: &Shared<H>,
    id: &str,
    dead_letter: Option<(&StreamId, &str)>,
) -> bool {
    let config = &shared.config;
    let mut pipe = ::redis::pipe();
    pipe.atomic();
    if let Some((entry, reason)) = dead_letter {
        let xadd = pipe
            .cmd("XADD")
            .arg(config.dead_letter_key())
            .arg("*")
            .arg("source_id")
            .arg(id)
            .arg("reason")
            .arg(reason);
        let mut fields: Vec<_> = entry.map.iter().collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        for (name, value) in fields {
            if let Some(bytes) = value_bytes(value) {
                xadd.arg(name.as_str()).arg(bytes);
            }
        }
        xadd.ignore();
    }
    pipe.cmd("XACK")
        .arg(&config.stream_key)
        .arg(&config.group)
        .arg(id)
        .ignore();
    if config.delete_on_ack || dead_letter.is_some() {
        pipe.cmd("XDEL").arg(&config.stream_key).arg(id).ignore();
    }
    for _attempt in 0..3 {
        match timed(
            config.timeout,
            pipe.query_async::<()>(&mut shared.conn.clone()),
        )
        .await
        {
            Ok(()) => return true,
            Err(_e) => {
                shared.counters.redis_errors.fetch_add(1, Ordering::Relaxed);
                #[cfg(feature = "tracing")]
                tracing::warn!(entry = %id, error = %_e, "could not acknowledge stream entry");
            }
        }
    }
    false
}

fn value_bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}
