//! De-duplication of webhook deliveries: the [`Deduplicator`] trait and an
//! in-memory implementation, [`MemoryDeduplicator`].
//!
//! Zoom delivers a webhook again when it did not get a 2xx within 3 seconds
//! (retries 5, 25 and 85 minutes after the first attempt), and it sometimes
//! delivers an event twice without any failure. For RTMS a duplicate
//! `rtms_started` is harmful: only one signalling connection is allowed per
//! stream, so a second one is refused or kicks the first out. The receiver
//! therefore asks a [`Deduplicator`] whether it has seen an event before
//! handing it to the application.
//!
//! # The key contract
//!
//! A deduplicator compares opaque string keys; it never parses them. The keys
//! come from [`dedup_key`]:
//!
//! | event | key | effect |
//! |---|---|---|
//! | `*rtms_started` | `started:{product}:{rtms_stream_id}:{hash of server_urls}` | a second start of the same stream on the same servers is a duplicate, even with a different body; a start with new `server_urls` is Zoom's failover and is processed |
//! | `*rtms_stopped` | `stopped:{product}:{rtms_stream_id}` | one stop per stream |
//! | anything else (interrupted, account events, unknown names) | `{event name}:{sha256-hex of the raw body}` | a retried delivery carries the same body, so it is a duplicate; two different events differ in body |
//!
//! A deduplicator must keep a key for **at least 90 minutes** (the retry span
//! is about 85 minutes); [`MemoryDeduplicator`] keeps keys for
//! [`DEFAULT_TTL`] (2 hours) by default.
//!
//! # Check, then forget on failure
//!
//! [`Deduplicator::check_and_mark`] atomically tests and records a key. If
//! the receiver then cannot hand the event off (for example its queue is full
//! and it answers 503), it calls [`Deduplicator::forget`] so that Zoom's retry
//! of the same delivery is processed instead of being dropped as a duplicate.
//!
//! # Example
//!
//! ```
//! use zoom_rtms_webhooks::dedup::{Deduplicator, MemoryDeduplicator, Seen};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), zoom_rtms_webhooks::dedup::DedupError> {
//! let dedup = MemoryDeduplicator::new();
//! assert_eq!(dedup.check_and_mark("started:meeting:abc").await?, Seen::New);
//! assert_eq!(dedup.check_and_mark("started:meeting:abc").await?, Seen::Duplicate);
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Default time a [`MemoryDeduplicator`] remembers a key: 2 hours.
///
/// Zoom retries a failed delivery 5, 25 and 85 minutes after the first
/// attempt, so a key must live for at least 90 minutes. Two hours leaves
/// 35 minutes of margin for Zoom's own queueing delays. (Zoom's sample keeps
/// keys for 65 minutes, which is shorter than the retry span: a late retry
/// would be processed twice.)
///
/// ```
/// use zoom_rtms_webhooks::dedup::DEFAULT_TTL;
/// assert!(DEFAULT_TTL.as_secs() >= 90 * 60);
/// ```
pub const DEFAULT_TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// Default maximum number of keys a [`MemoryDeduplicator`] holds: 100 000.
///
/// A key is at most about 100 bytes (an event name plus 64 hex digits), so a
/// full memory costs roughly 25 MB at most. 100 000 keys over [`DEFAULT_TTL`]
/// is a sustained rate of about 14 distinct events per second (several
/// thousand RTMS streams an hour) before unexpired keys must be evicted.
/// Size it as `peak events per second x TTL in seconds` if you expect more.
///
/// ```
/// use zoom_rtms_webhooks::dedup::{MemoryDeduplicator, DEFAULT_MAX_ENTRIES};
/// assert_eq!(MemoryDeduplicator::new().max_entries(), DEFAULT_MAX_ENTRIES);
/// ```
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// Whether a key was seen before. Returned by
/// [`Deduplicator::check_and_mark`].
///
/// ```
/// use zoom_rtms_webhooks::dedup::Seen;
/// assert!(Seen::New.is_new());
/// assert!(Seen::Duplicate.is_duplicate());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Seen {
    /// The key was not known (or had expired). It is now marked: process the
    /// event.
    New,
    /// The key is already marked: this delivery is a duplicate. Acknowledge
    /// it with a 2xx and do not process it again.
    Duplicate,
}

impl Seen {
    /// `true` for [`Seen::New`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::Seen;
    /// assert!(Seen::New.is_new());
    /// assert!(!Seen::Duplicate.is_new());
    /// ```
    pub fn is_new(self) -> bool {
        matches!(self, Seen::New)
    }

    /// `true` for [`Seen::Duplicate`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::Seen;
    /// assert!(Seen::Duplicate.is_duplicate());
    /// assert!(!Seen::New.is_duplicate());
    /// ```
    pub fn is_duplicate(self) -> bool {
        matches!(self, Seen::Duplicate)
    }
}

/// Why a [`Deduplicator`] could not answer. The in-memory implementation never
/// fails; shared stores (Redis) do.
///
/// A receiver should treat an error as "cannot decide now" and answer with a
/// non-2xx status so that Zoom retries later, rather than risk processing an
/// `rtms_started` twice.
///
/// ```
/// use std::error::Error;
/// use zoom_rtms_webhooks::dedup::{DedupError, StoreError};
///
/// let err = DedupError::Unavailable(StoreError::new("connection refused"));
/// assert_eq!(err.to_string(), "de-duplication store unavailable: connection refused");
/// assert!(err.source().is_some());
/// assert_eq!(DedupError::Timeout.to_string(), "de-duplication store timed out");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DedupError {
    /// The backing store could not be reached or returned an error: the store's
    /// own error (for Redis a `redis::RedisError`), which never contains a key.
    #[error("de-duplication store unavailable: {0}")]
    Unavailable(#[source] StoreError),
    /// The backing store did not answer in time.
    #[error("de-duplication store timed out")]
    Timeout,
}

/// The error of a backing store (Redis, a database, ...), kept whole: carried by
/// [`DedupError::Unavailable`] and
/// [`HandoffError::Unavailable`](crate::receiver::HandoffError::Unavailable).
///
/// It displays as the store's error, gives it back typed with
/// [`downcast_ref`](StoreError::downcast_ref), and is transparent in the
/// [`source`](std::error::Error::source) chain (like `std::io::Error::other`).
/// Cheap to clone. Two store errors are equal when they are clones of one
/// another or display the same message.
///
/// ```
/// use zoom_rtms_webhooks::dedup::StoreError;
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let err = StoreError::new(io);
/// assert_eq!(err.to_string(), "refused");
/// assert_eq!(
///     err.downcast_ref::<std::io::Error>().map(|e| e.kind()),
///     Some(std::io::ErrorKind::ConnectionRefused)
/// );
/// assert_eq!(err, StoreError::new("refused"));
/// ```
#[derive(Clone)]
pub struct StoreError(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl StoreError {
    /// Wraps a store's error (any `std::error::Error + Send + Sync`, or a message).
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::StoreError;
    /// assert_eq!(StoreError::new(String::from("down")).to_string(), "down");
    /// ```
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        StoreError(Arc::from(error.into()))
    }

    /// The store's error as `E`, if it is one (with the `redis` feature, Redis
    /// failures are `zoom_rtms_webhooks::redis::RedisError`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::StoreError;
    /// let err = StoreError::new(std::fmt::Error);
    /// assert!(err.downcast_ref::<std::fmt::Error>().is_some());
    /// assert!(err.downcast_ref::<std::io::Error>().is_none());
    /// ```
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StoreError").field(&self.0).finish()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl Eq for StoreError {}

/// Remembers which events were already received.
///
/// Implementations must be safe to call concurrently: two concurrent
/// [`check_and_mark`](Deduplicator::check_and_mark) calls with the same key
/// must return [`Seen::New`] to exactly one of them. The methods return
/// futures so that a network store (Redis) can implement the trait; an
/// implementation may write them as `async fn`.
///
/// The trait is implemented for [`MemoryDeduplicator`] and for `Arc<D>` of any
/// implementation, so one deduplicator can be shared by several receivers.
/// See the [module documentation](self) for the key contract.
///
/// # Example: a custom implementation
///
/// ```
/// use std::collections::HashSet;
/// use std::sync::Mutex;
/// use zoom_rtms_webhooks::dedup::{DedupError, Deduplicator, Seen, StoreError};
///
/// /// Never forgets anything (for illustration only: unbounded).
/// #[derive(Default)]
/// struct Forever(Mutex<HashSet<String>>);
///
/// impl Deduplicator for Forever {
///     async fn check_and_mark(&self, key: &str) -> Result<Seen, DedupError> {
///         let mut set = self.0.lock().map_err(|_| DedupError::Unavailable(StoreError::new("poisoned")))?;
///         Ok(if set.insert(key.to_owned()) { Seen::New } else { Seen::Duplicate })
///     }
///     async fn forget(&self, key: &str) -> Result<(), DedupError> {
///         if let Ok(mut set) = self.0.lock() {
///             set.remove(key);
///         }
///         Ok(())
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let dedup = Forever::default();
///     assert_eq!(dedup.check_and_mark("k").await?, Seen::New);
///     assert_eq!(dedup.check_and_mark("k").await?, Seen::Duplicate);
///     Ok::<_, DedupError>(())
/// })?;
/// # Ok(())
/// # }
/// ```
pub trait Deduplicator: Send + Sync + 'static {
    /// Atomically test whether `key` is already marked and mark it if not.
    ///
    /// Returns [`Seen::New`] when the key was unknown (it is now marked) and
    /// [`Seen::Duplicate`] when it was already marked and not expired.
    fn check_and_mark(&self, key: &str) -> impl Future<Output = Result<Seen, DedupError>> + Send;

    /// Remove the mark on `key`, so that the next
    /// [`check_and_mark`](Deduplicator::check_and_mark) returns
    /// [`Seen::New`].
    ///
    /// Call it when an event was marked but could not be handed off (queue
    /// full, shutting down): Zoom retries the delivery, and the retry must be
    /// processed. Forgetting an unknown key is not an error.
    fn forget(&self, key: &str) -> impl Future<Output = Result<(), DedupError>> + Send;
}

impl<D: Deduplicator> Deduplicator for Arc<D> {
    fn check_and_mark(&self, key: &str) -> impl Future<Output = Result<Seen, DedupError>> + Send {
        (**self).check_and_mark(key)
    }

    fn forget(&self, key: &str) -> impl Future<Output = Result<(), DedupError>> + Send {
        (**self).forget(key)
    }
}

/// A [`Deduplicator`] chosen at run time: any implementation behind one type, so an
/// application can pick [`MemoryDeduplicator`] or the Redis one from its configuration and
/// still name one `Receiver<BoxDeduplicator, _>` type.
///
/// It costs one allocation per call (the boxed future).
///
/// ```
/// use zoom_rtms_webhooks::dedup::{BoxDeduplicator, Deduplicator, MemoryDeduplicator, Seen};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), zoom_rtms_webhooks::dedup::DedupError> {
/// // e.g. `match config.dedup { Memory => .., Redis(url) => BoxDeduplicator::new(redis) }`
/// let dedup = BoxDeduplicator::new(MemoryDeduplicator::new());
/// assert_eq!(dedup.check_and_mark("k").await?, Seen::New);
/// assert_eq!(dedup.check_and_mark("k").await?, Seen::Duplicate);
/// # Ok(())
/// # }
/// ```
pub struct BoxDeduplicator(Box<dyn DynDeduplicator>);

impl BoxDeduplicator {
    /// Boxes `dedup`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::{BoxDeduplicator, MemoryDeduplicator};
    /// let dedup = BoxDeduplicator::new(MemoryDeduplicator::new());
    /// # let _ = dedup;
    /// ```
    pub fn new(dedup: impl Deduplicator) -> Self {
        BoxDeduplicator(Box::new(dedup))
    }
}

impl fmt::Debug for BoxDeduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxDeduplicator(..)")
    }
}

impl Deduplicator for BoxDeduplicator {
    async fn check_and_mark(&self, key: &str) -> Result<Seen, DedupError> {
        self.0.check_and_mark_boxed(key).await
    }

    async fn forget(&self, key: &str) -> Result<(), DedupError> {
        self.0.forget_boxed(key).await
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe form of [`Deduplicator`] behind [`BoxDeduplicator`].
trait DynDeduplicator: Send + Sync + 'static {
    fn check_and_mark_boxed<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Seen, DedupError>>;
    fn forget_boxed<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), DedupError>>;
}

impl<D: Deduplicator> DynDeduplicator for D {
    fn check_and_mark_boxed<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Seen, DedupError>> {
        Box::pin(self.check_and_mark(key))
    }

    fn forget_boxed<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), DedupError>> {
        Box::pin(self.forget(key))
    }
}

/// An in-memory [`Deduplicator`] for a single process: concurrent, O(1)
/// amortised per call, with a time to live and a bounded number of keys.
///
/// - **TTL**: a key is a duplicate for `ttl` after it was marked
///   ([`DEFAULT_TTL`], 2 hours, by default), then new again.
/// - **Bounded memory**: at most `max_entries` keys ([`DEFAULT_MAX_ENTRIES`]).
///   Expired keys are purged incrementally, oldest first, on every call.
/// - **Eviction**: when the memory is full of unexpired keys, the oldest key is
///   evicted to make room and counted in
///   [`evicted_unexpired`](MemoryDeduplicator::evicted_unexpired). This keeps
///   memory bounded under a flood at the price of possibly processing a late
///   retry of an evicted event twice. A non-zero count means `max_entries` is
///   too small for your event rate: raise it, or export the counter and alert.
/// - **Concurrency**: the state sits behind one `std::sync::Mutex` held for an
///   O(1) critical section and never across an `.await`. A poisoned mutex is
///   recovered, never propagated as a panic.
/// - **Time**: a monotonic clock, `Instant::now` unless
///   [`with_clock`](MemoryDeduplicator::with_clock) sets another (tests, simulations).
///
/// Memory is per process: with several replicas behind a load balancer, each
/// replica only knows the deliveries it received; use a shared store (the
/// `redis` feature) instead.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use zoom_rtms_webhooks::dedup::{Deduplicator, MemoryDeduplicator, Seen};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), zoom_rtms_webhooks::dedup::DedupError> {
/// let dedup = MemoryDeduplicator::new()
///     .with_ttl(Duration::from_secs(3 * 60 * 60))
///     .with_max_entries(10_000);
/// assert_eq!(dedup.check_and_mark("k").await?, Seen::New);
/// assert_eq!(dedup.check_and_mark("k").await?, Seen::Duplicate);
/// # Ok(())
/// # }
/// ```
pub struct MemoryDeduplicator {
    ttl: Duration,
    max_entries: usize,
    clock: Box<dyn Fn() -> Instant + Send + Sync>,
    state: Mutex<State>,
    evicted_unexpired: AtomicU64,
}

/// One remembered key.
struct Entry {
    marked_at: Instant,
    /// Matches the sequence number of this key's live slot in `State::order`.
    seq: u64,
}

#[derive(Default)]
struct State {
    /// Key -> its live entry.
    map: HashMap<Arc<str>, Entry>,
    /// Keys in marking order, with the sequence number of the mark. A slot
    /// whose sequence number differs from the map's (or whose key is absent
    /// from the map) is stale: the key was forgotten or re-marked.
    order: VecDeque<(Arc<str>, u64)>,
    /// Number of stale slots in `order`; `order.len() == map.len() + stale`.
    stale: usize,
    next_seq: u64,
}

impl State {
    fn is_expired(entry: &Entry, now: Instant, ttl: Duration) -> bool {
        now.saturating_duration_since(entry.marked_at) >= ttl
    }

    /// Pop expired and stale slots from the front of `order`.
    fn purge(&mut self, now: Instant, ttl: Duration) {
        while let Some((key, seq)) = self.order.front() {
            match self.map.get(key) {
                Some(entry) if entry.seq == *seq => {
                    if !Self::is_expired(entry, now, ttl) {
                        break;
                    }
                    self.map.remove(key);
                }
                _ => self.stale = self.stale.saturating_sub(1),
            }
            self.order.pop_front();
        }
    }

    /// Evict the oldest live key (dropping stale slots on the way). Returns
    /// `Some(true)` if the evicted key had not expired yet.
    fn evict_oldest(&mut self, now: Instant, ttl: Duration) -> Option<bool> {
        while let Some((key, seq)) = self.order.pop_front() {
            match self.map.get(&key) {
                Some(entry) if entry.seq == seq => {
                    let unexpired = !Self::is_expired(entry, now, ttl);
                    self.map.remove(&key);
                    return Some(unexpired);
                }
                _ => self.stale = self.stale.saturating_sub(1),
            }
        }
        None
    }

    /// Drop stale slots once they outnumber live ones: O(n) work paid for by
    /// the n/2 operations that created them, so O(1) amortised, and `order`
    /// never holds more than about twice `max_entries` slots.
    fn compact_if_needed(&mut self) {
        if self.stale > self.map.len() {
            let map = &self.map;
            self.order
                .retain(|(key, seq)| map.get(key).is_some_and(|e| e.seq == *seq));
            self.stale = 0;
        }
    }

    fn remove(&mut self, key: &str) -> bool {
        if self.map.remove(key).is_some() {
            self.stale = self.stale.saturating_add(1);
            self.compact_if_needed();
            true
        } else {
            false
        }
    }
}

impl MemoryDeduplicator {
    /// A deduplicator with [`DEFAULT_TTL`] and [`DEFAULT_MAX_ENTRIES`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::{MemoryDeduplicator, DEFAULT_TTL};
    /// let dedup = MemoryDeduplicator::new();
    /// assert_eq!(dedup.ttl(), DEFAULT_TTL);
    /// assert!(dedup.is_empty());
    /// ```
    pub fn new() -> Self {
        Self {
            ttl: DEFAULT_TTL,
            max_entries: DEFAULT_MAX_ENTRIES,
            clock: Box::new(Instant::now),
            state: Mutex::new(State::default()),
            evicted_unexpired: AtomicU64::new(0),
        }
    }

    /// Set how long a key stays a duplicate after it was marked.
    ///
    /// Keep it at 90 minutes or more, or late Zoom retries are processed
    /// twice. `Duration::ZERO` disables de-duplication (every key is new).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// let dedup = MemoryDeduplicator::new().with_ttl(Duration::from_secs(4 * 3600));
    /// assert_eq!(dedup.ttl(), Duration::from_secs(4 * 3600));
    /// ```
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Set the maximum number of keys held. `0` is treated as `1` (a
    /// deduplicator that holds nothing would not de-duplicate anything).
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// assert_eq!(MemoryDeduplicator::new().with_max_entries(500).max_entries(), 500);
    /// assert_eq!(MemoryDeduplicator::new().with_max_entries(0).max_entries(), 1);
    /// ```
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }

    /// Set the clock the TTL is measured with (default `Instant::now`): a test or a
    /// simulation moves time forward without waiting. It is a monotonic [`Instant`] on purpose,
    /// unlike the verifier's wall clock ([`crate::signature::Clock`], which must match Zoom's
    /// timestamps): a TTL must not jump when the system time is adjusted. The clock should not go backwards; if
    /// it does, keys simply do not expire until it has caught up.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use std::time::{Duration, Instant};
    /// use zoom_rtms_webhooks::dedup::{Deduplicator, MemoryDeduplicator, Seen};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), zoom_rtms_webhooks::dedup::DedupError> {
    /// let start = Instant::now();
    /// let elapsed_secs = Arc::new(AtomicU64::new(0));
    /// let dedup = MemoryDeduplicator::new()
    ///     .with_ttl(Duration::from_secs(100))
    ///     .with_clock({
    ///         let elapsed_secs = Arc::clone(&elapsed_secs);
    ///         move || start + Duration::from_secs(elapsed_secs.load(Ordering::Relaxed))
    ///     });
    /// assert_eq!(dedup.check_and_mark("k").await?, Seen::New);
    /// elapsed_secs.store(99, Ordering::Relaxed);
    /// assert_eq!(dedup.check_and_mark("k").await?, Seen::Duplicate);
    /// elapsed_secs.store(100, Ordering::Relaxed);
    /// assert_eq!(dedup.check_and_mark("k").await?, Seen::New);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// The configured time to live.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::{MemoryDeduplicator, DEFAULT_TTL};
    /// assert_eq!(MemoryDeduplicator::default().ttl(), DEFAULT_TTL);
    /// ```
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The configured maximum number of keys.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::{MemoryDeduplicator, DEFAULT_MAX_ENTRIES};
    /// assert_eq!(MemoryDeduplicator::default().max_entries(), DEFAULT_MAX_ENTRIES);
    /// ```
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// Number of keys currently held. Expired keys still count until a later
    /// call purges them.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::{Deduplicator, MemoryDeduplicator};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), zoom_rtms_webhooks::dedup::DedupError> {
    /// let dedup = MemoryDeduplicator::new();
    /// dedup.check_and_mark("a").await?;
    /// assert_eq!(dedup.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// `true` when no key is held.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// assert!(MemoryDeduplicator::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.lock().map.is_empty()
    }

    /// How many keys were evicted before their TTL expired because the
    /// memory was full. Each such eviction means a late retry of that event
    /// would be processed again; export this counter and alert on growth.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::{Deduplicator, MemoryDeduplicator};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), zoom_rtms_webhooks::dedup::DedupError> {
    /// let dedup = MemoryDeduplicator::new().with_max_entries(1);
    /// dedup.check_and_mark("a").await?;
    /// dedup.check_and_mark("b").await?; // evicts "a"
    /// assert_eq!(dedup.evicted_unexpired(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn evicted_unexpired(&self) -> u64 {
        self.evicted_unexpired.load(Ordering::Relaxed)
    }

    /// Test and mark `key` at `now`: a key marked at `t` is a duplicate for every `now` in
    /// `t .. t + ttl` and new again from `t + ttl` on. A `now` earlier than a previous call
    /// (a clock going backwards) leaves the key unexpired.
    fn mark(&self, key: &str, now: Instant) -> Seen {
        let ttl = self.ttl;
        let mut state = self.lock();
        state.purge(now, ttl);

        if let Some(entry) = state.map.get(key) {
            if !State::is_expired(entry, now, ttl) {
                return Seen::Duplicate;
            }
            // Expired but not purged yet (only possible when `now` went
            // backwards between calls): replace it.
            state.remove(key);
        }

        while state.map.len() >= self.max_entries {
            match state.evict_oldest(now, ttl) {
                Some(true) => {
                    self.evicted_unexpired.fetch_add(1, Ordering::Relaxed);
                    #[cfg(feature = "tracing")]
                    tracing::debug!(
                        max_entries = self.max_entries,
                        "de-duplication memory full: evicted an unexpired key"
                    );
                }
                Some(false) => {}
                None => break,
            }
        }

        let seq = state.next_seq;
        state.next_seq = state.next_seq.wrapping_add(1);
        let key: Arc<str> = Arc::from(key);
        state.order.push_back((Arc::clone(&key), seq));
        state.map.insert(
            key,
            Entry {
                marked_at: now,
                seq,
            },
        );
        Seen::New
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The critical sections cannot leave the state inconsistent in a way
        // that matters (at worst a stale slot), so a poisoned lock is
        // recovered instead of panicking the server.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryDeduplicator {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryDeduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDeduplicator")
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .field("len", &self.len())
            .field("evicted_unexpired", &self.evicted_unexpired())
            .finish()
    }
}

impl Deduplicator for MemoryDeduplicator {
    async fn check_and_mark(&self, key: &str) -> Result<Seen, DedupError> {
        Ok(self.mark(key, (self.clock)()))
    }

    async fn forget(&self, key: &str) -> Result<(), DedupError> {
        self.lock().remove(key);
        Ok(())
    }
}

/// The key under which to de-duplicate a delivery (see [the key contract](self#the-key-contract)).
/// `raw_body` must be the exact request body `event` was parsed from.
///
/// - for [`RtmsStarted`](crate::event::RtmsStarted):
///   `started:{product}:{rtms_stream_id}:{servers}`, where `{servers}` is the first 16 hex
///   characters of the SHA-256 of the raw `server_urls` string (of its elements joined with `,`
///   when Zoom sent an array, so `["wss://a","wss://b"]` and `"wss://a,wss://b"` are the same
///   servers), for example `started:meeting:03db7045...:3c77d3a8e9df88a9`. A second start of
///   the same stream on the same servers is a duplicate, whatever its `event_ts`, body or name
///   alias (`phone.rtms_started` and `phone.call_rtms_started` share a key): only one
///   signalling connection per stream is allowed, and a second one kicks out the first. A start
///   of an already-started stream with **different** `server_urls` is not a duplicate: it is how
///   Zoom announces an RTMS server failover ("`rtms_started` arrives for an already-active
///   stream": reconnect signalling and media to the new servers), and swallowing it would
///   leave the stream on a dead server.
/// - for [`RtmsStopped`](crate::event::WebhookEvent::RtmsStopped): `stopped:{product}:{rtms_stream_id}`.
/// - everything else (interrupted, challenge, account events, unknown):
///   `{name}:{hex}` where `{name}` is [`WebhookEvent::name`](crate::event::WebhookEvent::name)
///   and `{hex}` is the lower-case hex SHA-256 of `raw_body` (64 characters): a retried delivery
///   repeats the body byte for byte, while a new interruption of the same stream does not.
///
/// `{product}` is [`Product::as_str`](crate::event::Product::as_str); `{rtms_stream_id}` is used
/// verbatim.
///
/// ```
/// use zoom_rtms_webhooks::dedup::dedup_key;
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let body = br#"{"event":"rtms.concurrency_near_limit","payload":{}}"#;
/// let key = dedup_key(&WebhookEvent::parse(body)?, body);
/// assert!(key.starts_with("rtms.concurrency_near_limit:"));
/// assert_eq!(key.len(), "rtms.concurrency_near_limit:".len() + 64);
///
/// let stop = br#"{"event":"phone.call_rtms_stopped","payload":{"rtms_stream_id":"s"}}"#;
/// assert_eq!(dedup_key(&WebhookEvent::parse(stop)?, stop), "stopped:phone:s");
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
pub fn dedup_key(event: &crate::event::WebhookEvent, raw_body: &[u8]) -> String {
    use crate::event::WebhookEvent;
    use sha2::{Digest, Sha256};

    match event {
        WebhookEvent::RtmsStarted(e) => {
            let servers = Sha256::digest(e.server_urls.joined().as_bytes());
            format!(
                "started:{}:{}:{}",
                e.product.as_str(),
                e.rtms_stream_id,
                hex::encode(&servers[..8])
            )
        }
        WebhookEvent::RtmsStopped(e) => {
            format!("stopped:{}:{}", e.product.as_str(), e.rtms_stream_id)
        }
        other => {
            let digest = Sha256::digest(raw_body);
            format!("{}:{}", other.name(), hex::encode(digest))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisoned_lock_is_recovered() {
        let dedup = Arc::new(MemoryDeduplicator::new());
        let now = Instant::now();
        assert_eq!(dedup.mark("before", now), Seen::New);

        let poisoner = Arc::clone(&dedup);
        let joined = std::thread::spawn(move || {
            let _guard = poisoner.state.lock();
            panic!("poison the de-duplication lock");
        })
        .join();
        assert!(joined.is_err());
        assert!(dedup.state.is_poisoned());

        assert_eq!(dedup.mark("before", now), Seen::Duplicate);
        assert_eq!(dedup.mark("after", now), Seen::New);
        assert!(dedup.lock().remove("after"));
        assert_eq!(dedup.len(), 1);
    }
}
