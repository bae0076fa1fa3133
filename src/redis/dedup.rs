//! [`RedisDeduplicator`]: one `SET NX PX` per request, shared by every replica.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::redis::Value;

use super::{compare_and_delete, timed, ConnectionManager, Expected, OpError, DEFAULT_OP_TIMEOUT};
use crate::dedup::{DedupError, Deduplicator, Seen, DEFAULT_TTL};

/// Default key prefix of [`RedisDeduplicator`]: `zoom-rtms:dedup:`.
///
/// ```
/// assert_eq!(zoom_rtms_webhooks::redis::DEFAULT_DEDUP_PREFIX, "zoom-rtms:dedup:");
/// ```
pub const DEFAULT_DEDUP_PREFIX: &str = "zoom-rtms:dedup:";

/// A [`Deduplicator`] shared by every replica through Redis.
///
/// [`check_and_mark`](Deduplicator::check_and_mark) is **one atomic command**,
/// `SET {prefix}{key} {token} NX PX {ttl_ms}`: Redis sets the key only if it does not exist, so
/// of any number of concurrent deliveries of the same event, on any number of replicas, exactly
/// one gets [`Seen::New`]. The value is a token `{instance}:{n}`: `instance`
/// (`{HOSTNAME}-{pid}-{random}`) is unique to this deduplicator and its clones, `n` to the call.
///
/// - **Owner-checked deletes**: [`forget`](Deduplicator::forget) deletes the mark only if *this*
///   deduplicator (or a clone of it) set it (compare-and-delete on the `{instance}:` prefix of the
///   value, in one Lua script: the check is per deduplicator instance, not per call). One replica cannot erase another replica's mark: the receiver's undo after a
///   failed hand-off never re-opens an event that another replica accepted. Forgetting a mark
///   set by someone else leaves it in place and is not an error.
/// - **TTL**: [`DEFAULT_TTL`] (2 hours), like the in-memory one; keep it at 90 minutes or more
///   (Zoom retries up to about 85 minutes after the first attempt). Redis expires keys itself,
///   so memory is bounded by the event rate times the TTL (about 120 bytes per key).
/// - **Timeout**: every call gives up after [`DEFAULT_OP_TIMEOUT`] (500 ms) by default.
/// - **Failure**: an unreachable Redis or an error reply is
///   [`DedupError::Unavailable`] (its [`StoreError`](crate::dedup::StoreError) holds the
///   [`RedisError`](super::RedisError)), a timeout is [`DedupError::Timeout`]; both make the
///   receiver answer `503` so that Zoom retries later. The opposite, accepting the event without
///   de-duplication, is available only through
///   [`with_fail_open_on_error`](RedisDeduplicator::with_fail_open_on_error).
/// - **Late marks**: when the `SET` times out, the receiver answers `503` and Zoom retries; but
///   a slow Redis may still apply that `SET` later, which would make the retry a "duplicate" and
///   lose the event. So after a failed `SET` a compare-and-delete on the call's exact token is
///   queued behind it on the same connection, undoing that mark (and only that one) whenever
///   Redis gets to it (see [`settle`](RedisDeduplicator::settle)).
/// - **Recovery**: the [`ConnectionManager`] reconnects by itself when Redis comes back.
///
/// # Example
///
/// ```no_run
/// use std::time::Duration;
/// use zoom_rtms_webhooks::dedup::{Deduplicator, Seen};
/// use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1:6379/").await?)
///     .with_prefix("myapp:dedup:")
///     .with_ttl(Duration::from_secs(3 * 60 * 60))
///     .with_timeout(Duration::from_millis(300));
/// assert_eq!(dedup.check_and_mark("started:meeting:abc").await?, Seen::New);
/// assert_eq!(dedup.check_and_mark("started:meeting:abc").await?, Seen::Duplicate);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisDeduplicator {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
    timeout: Duration,
    fail_open: bool,
    counters: Arc<Counters>,
}

/// How long a background undo of a late mark may wait for Redis.
const UNDO_TIMEOUT: Duration = Duration::from_secs(30);

struct Counters {
    /// Unique per deduplicator instance (and its clones): the first part of every token.
    instance: String,
    /// `{instance}:`, what every token of this instance starts with.
    token_prefix: String,
    tokens: AtomicU64,
    failed_open: AtomicU64,
    errors: AtomicU64,
    late_marks_undone: AtomicU64,
    undo_in_flight: tokio::sync::watch::Sender<usize>,
}

impl RedisDeduplicator {
    /// A deduplicator on `conn` with [`DEFAULT_DEDUP_PREFIX`], [`DEFAULT_TTL`] and
    /// [`DEFAULT_OP_TIMEOUT`], failing closed.
    ///
    /// ```no_run
    /// use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1:6379/").await?);
    /// assert_eq!(dedup.prefix(), "zoom-rtms:dedup:");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(conn: impl Into<ConnectionManager>) -> Self {
        let conn = conn.into();
        let instance = crate::random::unique_name();
        RedisDeduplicator {
            conn,
            prefix: super::DEFAULT_DEDUP_PREFIX.to_owned(),
            ttl: DEFAULT_TTL,
            timeout: DEFAULT_OP_TIMEOUT,
            fail_open: false,
            counters: Arc::new(Counters {
                token_prefix: format!("{instance}:"),
                instance,
                tokens: AtomicU64::new(0),
                failed_open: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                late_marks_undone: AtomicU64::new(0),
                undo_in_flight: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// Sets the key prefix (default [`DEFAULT_DEDUP_PREFIX`]). Replicas that must de-duplicate
    /// between each other must use the same prefix; different applications sharing one Redis
    /// should use different ones.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?).with_prefix("app1:");
    /// assert_eq!(dedup.prefix(), "app1:");
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets how long a key stays a duplicate (default [`DEFAULT_TTL`], 2 hours). Keep it at
    /// 90 minutes or more. Values below one millisecond are raised to one millisecond (Redis
    /// refuses `PX 0`).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?)
    ///     .with_ttl(Duration::from_secs(4 * 3600));
    /// assert_eq!(dedup.ttl(), Duration::from_secs(4 * 3600));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// Sets how long one Redis call may take before it counts as a failure (default
    /// [`DEFAULT_OP_TIMEOUT`], 500 ms).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?)
    ///     .with_timeout(Duration::from_millis(200));
    /// assert_eq!(dedup.timeout(), Duration::from_millis(200));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// **Dangerous**: with `true`, a Redis failure or timeout of `check_and_mark` is treated as
    /// [`Seen::New`] instead of an error (a failed `forget` is still an error), so the receiver accepts the event **without
    /// de-duplication** rather than answering `503`.
    ///
    /// This keeps webhooks flowing during a Redis outage at the price of processing Zoom's
    /// retries and duplicates again: a second `rtms_started` on another replica opens a **second
    /// RTMS connection**, which kicks out the first. Use it only if you also hold a
    /// [`StreamLeases`](super::StreamLeases) lease per stream (which then fails closed on its own)
    /// or can tolerate duplicates. Every such decision is counted in
    /// [`failed_open`](RedisDeduplicator::failed_open) (alert on it) and logged at `warn` level
    /// with the `tracing` feature. The default is `false` (fail closed).
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?)
    ///     .with_fail_open_on_error(true);
    /// assert!(dedup.fail_open_on_error());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_fail_open_on_error(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    /// The key prefix.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator, DEFAULT_DEDUP_PREFIX};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(dedup.prefix(), DEFAULT_DEDUP_PREFIX);
    /// # Ok(())
    /// # }
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The time to live of a key.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(dedup.ttl(), zoom_rtms_webhooks::dedup::DEFAULT_TTL);
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The per-call timeout.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator, DEFAULT_OP_TIMEOUT};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(dedup.timeout(), DEFAULT_OP_TIMEOUT);
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `true` if [`with_fail_open_on_error`](RedisDeduplicator::with_fail_open_on_error) is on.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// assert!(!RedisDeduplicator::new(connect("redis://127.0.0.1/").await?).fail_open_on_error());
    /// # Ok(())
    /// # }
    /// ```
    pub fn fail_open_on_error(&self) -> bool {
        self.fail_open
    }

    /// How many calls failed (Redis error or timeout), whatever the fail-open setting.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(dedup.errors(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn errors(&self) -> u64 {
        self.counters.errors.load(Ordering::Relaxed)
    }

    /// How many failed calls were answered as if they had succeeded because
    /// [`with_fail_open_on_error`](RedisDeduplicator::with_fail_open_on_error) is on. Each one
    /// is an event accepted without de-duplication: alert on growth.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(dedup.failed_open(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn failed_open(&self) -> u64 {
        self.counters.failed_open.load(Ordering::Relaxed)
    }

    /// The Redis key for a de-duplication key: `{prefix}{key}`.
    fn redis_key(&self, key: &str) -> String {
        let mut k = String::with_capacity(self.prefix.len() + key.len());
        k.push_str(&self.prefix);
        k.push_str(key);
        k
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// A value unique to this mark: `{instance}:{counter}`.
    fn next_token(&self) -> String {
        let n = self.counters.tokens.fetch_add(1, Ordering::Relaxed);
        format!("{}{n:x}", self.counters.token_prefix)
    }

    /// In the background, deletes `redis_key` if it still holds `token` (a `SET` that timed
    /// out but was applied late). The command is queued on the same connection after the
    /// `SET`, so Redis runs it after the `SET` whenever that runs.
    fn undo_late_mark(&self, redis_key: String, token: String) {
        let conn = self.conn.clone();
        let counters = Arc::clone(&self.counters);
        counters.undo_in_flight.send_modify(|n| *n += 1);
        tokio::spawn(async move {
            let expected = Expected::Exactly(&token);
            let undone = compare_and_delete(&conn, &redis_key, expected, UNDO_TIMEOUT).await;
            if let Ok(true) = undone {
                counters.late_marks_undone.fetch_add(1, Ordering::Relaxed);
            }
            counters
                .undo_in_flight
                .send_modify(|n| *n = n.saturating_sub(1));
        });
    }

    /// How many marks were found applied after their `SET` had already been reported as
    /// failed, and deleted again (see [`settle`](RedisDeduplicator::settle)).
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(dedup.late_marks_undone(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn late_marks_undone(&self) -> u64 {
        self.counters.late_marks_undone.load(Ordering::Relaxed)
    }

    /// Waits until every background undo of a late mark has finished (or given up after
    /// 30 s). When a `SET` fails or times out, the receiver answers `503`; if Redis applies
    /// the `SET` later anyway, a compare-and-`DEL` queued behind it removes that mark so that
    /// Zoom's retry is processed. Call `settle` before exiting to let those undos reach Redis.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let dedup = RedisDeduplicator::new(connect("redis://127.0.0.1/").await?);
    /// dedup.settle().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn settle(&self) {
        let mut in_flight = self.counters.undo_in_flight.subscribe();
        let _ = in_flight.wait_for(|n| *n == 0).await;
    }

    /// Turns a failure into the error to return, or into `None` when failing open.
    fn failure(&self, error: OpError) -> Option<DedupError> {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        let error = DedupError::from(error);
        if self.fail_open {
            self.counters.failed_open.fetch_add(1, Ordering::Relaxed);
            #[cfg(feature = "tracing")]
            tracing::warn!(
                error = %error,
                "Redis de-duplication failed: accepting WITHOUT de-duplication (fail_open_on_error)"
            );
            None
        } else {
            Some(error)
        }
    }
}

impl fmt::Debug for RedisDeduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDeduplicator")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("timeout", &self.timeout)
            .field("instance", &self.counters.instance)
            .field("fail_open", &self.fail_open)
            .field("errors", &self.errors())
            .field("failed_open", &self.failed_open())
            .finish_non_exhaustive()
    }
}

impl Deduplicator for RedisDeduplicator {
    async fn check_and_mark(&self, key: &str) -> Result<Seen, DedupError> {
        let redis_key = self.redis_key(key);
        let token = self.next_token();
        let mut conn = self.conn.clone();
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(&redis_key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(self.ttl_ms());
        let reply = timed(self.timeout, cmd.query_async::<Value>(&mut conn)).await;
        match reply {
            Ok(Value::Nil) => Ok(Seen::Duplicate),
            Ok(Value::Okay) | Ok(Value::SimpleString(_)) => Ok(Seen::New),
            Ok(other) => {
                let e = OpError::Redis(::redis::RedisError::from((
                    ::redis::ErrorKind::UnexpectedReturnType,
                    "unexpected reply to SET NX",
                    format!("{other:?}"),
                )));
                self.failure(e).map_or(Ok(Seen::New), Err)
            }
            Err(e) => {
                // The SET may still be applied after we gave up (a slow Redis executes it
                // later). We answer "unavailable" and Zoom retries, so a late mark would turn
                // that retry into a "duplicate" and lose the event: undo our own mark, and only
                // ours (compare-and-DEL on the token), once Redis gets to it.
                if !self.fail_open {
                    self.undo_late_mark(redis_key, token);
                }
                self.failure(e).map_or(Ok(Seen::New), Err)
            }
        }
    }

    /// Deletes the mark on `key` only if this deduplicator (or a clone) set it: a
    /// compare-and-delete on the `{instance}:` prefix of the value. A mark set by another
    /// deduplicator (another replica) is left in place; that is not an error.
    async fn forget(&self, key: &str) -> Result<(), DedupError> {
        let redis_key = self.redis_key(key);
        let ours = Expected::StartsWith(&self.counters.token_prefix);
        match compare_and_delete(&self.conn, &redis_key, ours, self.timeout).await {
            Ok(_deleted) => Ok(()),
            // Failing open is about accepting a delivery; an undo that failed is reported as
            // such whatever that setting (the receiver logs it), never counted as failed open.
            Err(e) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                Err(DedupError::from(e))
            }
        }
    }
}
