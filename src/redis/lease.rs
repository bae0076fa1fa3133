//! Stream ownership: one lease per `rtms_stream_id`, with a fencing token.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use ::redis::Script;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{
    compare_and_delete, timed, Expected, OpError, RedisConnection, RedisError, DEFAULT_OP_TIMEOUT,
};

/// Default key prefix of a lease: `zoom-rtms:lease:` (the key is `{prefix}{rtms_stream_id}`).
///
/// ```
/// assert_eq!(zoom_rtms_webhooks::redis::DEFAULT_LEASE_PREFIX, "zoom-rtms:lease:");
/// ```
pub const DEFAULT_LEASE_PREFIX: &str = "zoom-rtms:lease:";

/// Default key of the fencing counter: `zoom-rtms:lease-fencing`.
///
/// One counter for every stream, so fencing tokens are strictly increasing across all leases
/// ever granted. The counter has no TTL; each grant raises it to at least Redis's clock in
/// microseconds, so that a lost counter does not restart at 1 (see [`Lease::fencing_token`]).
///
/// ```
/// assert_eq!(zoom_rtms_webhooks::redis::DEFAULT_FENCING_KEY, "zoom-rtms:lease-fencing");
/// ```
pub const DEFAULT_FENCING_KEY: &str = "zoom-rtms:lease-fencing";

/// Default lease time to live: 10 seconds.
///
/// Why 10 s: the lease must outlive ordinary hiccups of its holder, and expire soon after the
/// holder died, because every second until another replica takes the stream over is audio
/// lost to the application (Zoom itself waits about a minute).
///
/// - With renewal every [`DEFAULT_RENEW_INTERVAL`] (3 s), a holder can miss two renewals in a
///   row (a short Redis failover, a pause, a slow network) and still keep its lease. The
///   supervisor drops a connection whose renewals have failed for nine tenths of the TTL.
/// - When the holder dies, its streams are free again within 10 s, and the supervisor's
///   takeover loop (every TTL / 4 by default) connects them again within 12.5 s.
/// - The cost: one Redis call per stream per renew interval (a third of a call per second).
///
/// Raise it (with the renew interval, keeping about a third) if Redis failovers in your
/// deployment take longer than two renew intervals.
///
/// ```
/// use zoom_rtms_webhooks::redis::{DEFAULT_LEASE_TTL, DEFAULT_RENEW_INTERVAL};
/// assert_eq!(DEFAULT_LEASE_TTL.as_secs(), 10);
/// assert!(DEFAULT_RENEW_INTERVAL * 3 < DEFAULT_LEASE_TTL);
/// ```
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);

/// Default interval between two renewals by a [`LeaseKeeper`] (and by the supervisor): 3
/// seconds (under a third of [`DEFAULT_LEASE_TTL`]).
///
/// ```
/// assert_eq!(zoom_rtms_webhooks::redis::DEFAULT_RENEW_INTERVAL.as_secs(), 3);
/// ```
pub const DEFAULT_RENEW_INTERVAL: Duration = Duration::from_secs(3);

/// `KEYS[1]` lease key, `KEYS[2]` fencing counter; `ARGV[1]` owner, `ARGV[2]` TTL in ms.
/// Returns `{1, token, "", -1}` when granted, `{0, 0, current value, pttl}` when held.
///
/// The token is `INCR` of the counter, raised to Redis's clock in microseconds (`TIME`) when the
/// counter is behind it: if the counter is lost (`FLUSHDB`, eviction, a failover to a replica
/// that missed the last `INCR`), the next token is still above every token granted before, as
/// long as the Redis server's clock has not gone back. Exact in a Lua number (a double) until
/// the year 2255.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if current then
  return {0, 0, current, redis.call('PTTL', KEYS[1])}
end
local now = redis.call('TIME')
local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
local token = redis.call('INCR', KEYS[2])
if token < clock then
  token = clock
  redis.call('SET', KEYS[2], string.format('%d', token))
end
redis.call('SET', KEYS[1], string.format('%d:%s', token, ARGV[1]), 'NX', 'PX', ARGV[2])
return {1, token, '', -1}
",
    )
});

/// `KEYS[1]` lease key; `ARGV[1]` expected value, `ARGV[2]` TTL in ms. 1 if renewed, else 0.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
    )
});

/// Who holds a lease, as read from Redis. Carried by [`LeaseError::Held`].
///
/// ```
/// use zoom_rtms_webhooks::redis::LeaseError;
/// # fn show(err: LeaseError) {
/// if let LeaseError::Held(holder) = err {
///     println!("held by {} (token {})", holder.owner, holder.fencing_token);
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseHolder {
    /// The holder's owner id (see [`StreamLeases::with_owner`]).
    pub owner: String,
    /// The holder's fencing token.
    pub fencing_token: u64,
    /// Time left before the lease expires unless renewed (`None` if Redis did not say).
    pub expires_in: Option<Duration>,
}

impl LeaseHolder {
    /// Parses a lease value `{token}:{owner}`.
    fn parse(value: &str, pttl_ms: i64) -> Option<Self> {
        let (token, owner) = value.split_once(':')?;
        Some(LeaseHolder {
            owner: owner.to_owned(),
            fencing_token: token.parse().ok()?,
            expires_in: u64::try_from(pttl_ms).ok().map(Duration::from_millis),
        })
    }
}

/// Why a lease operation failed.
///
/// Two errors are equal when they are the same variant with equal contents; two
/// [`Unavailable`](LeaseError::Unavailable) errors when their Redis errors have the same kind and
/// message.
///
/// ```
/// use zoom_rtms_webhooks::redis::LeaseError;
/// assert_eq!(LeaseError::NotHeld.to_string(), "the lease is not held by this owner (expired or taken over)");
/// assert!(LeaseError::Timeout.is_transient());
/// assert!(!LeaseError::NotHeld.is_transient());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// [`acquire`](StreamLeases::acquire): another owner (or another lease of the same owner)
    /// holds the stream. Do not connect.
    #[error("the stream is held by {} (fencing token {})", .0.owner, .0.fencing_token)]
    Held(LeaseHolder),
    /// [`renew`](StreamLeases::renew) / [`release`](StreamLeases::release) /
    /// [`check`](StreamLeases::check): the lease is no longer this one: it expired, or expired
    /// and was taken by someone else. Stop using the stream (close the connection).
    #[error("the lease is not held by this owner (expired or taken over)")]
    NotHeld,
    /// Redis could not be reached, returned an error or an unexpected reply: the Redis error.
    #[error("lease store unavailable: {0}")]
    Unavailable(#[source] RedisError),
    /// Redis did not answer within the timeout.
    #[error("lease store timed out")]
    Timeout,
}

impl LeaseError {
    /// `true` for [`Unavailable`](LeaseError::Unavailable) and [`Timeout`](LeaseError::Timeout):
    /// the answer is unknown, trying again may succeed.
    ///
    /// ```
    /// use zoom_rtms_webhooks::redis::{LeaseError, RedisError};
    /// let down = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    /// assert!(LeaseError::Unavailable(down).is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        matches!(self, LeaseError::Unavailable(_) | LeaseError::Timeout)
    }
}

impl PartialEq for LeaseError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (LeaseError::Held(a), LeaseError::Held(b)) => a == b,
            (LeaseError::NotHeld, LeaseError::NotHeld)
            | (LeaseError::Timeout, LeaseError::Timeout) => true,
            (LeaseError::Unavailable(a), LeaseError::Unavailable(b)) => {
                a.kind() == b.kind() && a.to_string() == b.to_string()
            }
            _ => false,
        }
    }
}

impl Eq for LeaseError {}

impl From<OpError> for LeaseError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Timeout => LeaseError::Timeout,
            OpError::Redis(e) => LeaseError::Unavailable(e),
        }
    }
}

/// A granted lease on one `rtms_stream_id`: the proof that this replica may hold the stream's
/// RTMS connection, until it expires (see [`StreamLeases::ttl`]) unless renewed.
///
/// ```no_run
/// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
/// let lease = leases.acquire("stream-1").await?;
/// assert_eq!(lease.stream_id(), "stream-1");
/// assert_eq!(lease.owner(), leases.owner());
/// println!("fencing token {}", lease.fencing_token());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    stream_id: String,
    owner: String,
    fencing_token: u64,
    /// The exact value stored in Redis: `{token}:{owner}`.
    value: String,
}

impl Lease {
    /// The `rtms_stream_id` this lease is for.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(leases.acquire("s").await?.stream_id(), "s");
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// The owner id that acquired it.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?).with_owner("replica-a");
    /// assert_eq!(leases.acquire("s").await?.owner(), "replica-a");
    /// # Ok(())
    /// # }
    /// ```
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The fencing token: strictly greater than the token of every lease granted before it (on
    /// any stream). Pass it along with every write to an external system that the stream's
    /// holder makes, and have that system refuse tokens lower than the highest it has seen: a
    /// replica that lost its lease (a long pause, a partition) then cannot overwrite the work of
    /// the replica that took over.
    ///
    /// Tokens come from one counter ([`DEFAULT_FENCING_KEY`]), raised on every grant to at least
    /// Redis's clock in microseconds since the Unix epoch (so they are large numbers, about
    /// 1.7 × 10¹⁵, exact in a JSON / JavaScript number until the year 2255). If the counter key
    /// is lost (`FLUSHDB`, eviction under an `allkeys-*` policy, a failover to a replica that
    /// missed the last `INCR`), the next token is still higher than every earlier one, **provided
    /// the clock of the Redis server granting it is not behind** the one that granted the
    /// earlier tokens (keep the Redis hosts NTP-synchronised). See the
    /// [module documentation](super#redis-requirements).
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let first = leases.acquire("a").await?;
    /// let second = leases.acquire("b").await?;
    /// assert!(second.fencing_token() > first.fencing_token());
    /// # Ok(())
    /// # }
    /// ```
    pub fn fencing_token(&self) -> u64 {
        self.fencing_token
    }

    /// The exact value stored in Redis (`{token}:{owner}`), for scripts that check the lease.
    #[cfg(feature = "client")]
    pub(crate) fn value(&self) -> &str {
        &self.value
    }
}

/// Leases on `rtms_stream_id`s, so that exactly one replica holds each stream's RTMS connection.
///
/// - [`acquire`](StreamLeases::acquire): one Lua script: if the lease key exists, return its
///   holder ([`LeaseError::Held`]); otherwise `INCR` the fencing counter (raised to Redis's
///   clock, see [`Lease::fencing_token`]) and
///   `SET {prefix}{stream_id} "{token}:{owner}" NX PX {ttl}`.
/// - [`renew`](StreamLeases::renew): compare-and-`PEXPIRE` (Lua); fails with
///   [`LeaseError::NotHeld`] if the value is not exactly this lease's.
/// - [`release`](StreamLeases::release): compare-and-`DEL` (Lua); same failure.
/// - [`keep_alive`](StreamLeases::keep_alive): a [`LeaseKeeper`] that renews every
///   [`renew_interval`](StreamLeases::renew_interval) while you are connected and tells you
///   when the lease is lost.
///
/// Every call times out after [`DEFAULT_OP_TIMEOUT`] by default and then fails with
/// [`LeaseError::Timeout`]: when the answer is unknown, do not connect (fail closed).
///
/// Each process should use its own owner id (the default is `{HOSTNAME}-{pid}-{random}`).
/// Cloning a `StreamLeases` keeps the owner id.
///
/// # Example: one connection per stream, released on `rtms_stopped`
///
/// ```no_run
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use zoom_rtms_webhooks::redis::{connect, LeaseError, LeaseKeeper, StreamLeases};
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// struct App {
///     leases: StreamLeases,
///     held: Mutex<HashMap<String, LeaseKeeper>>,
/// }
///
/// impl App {
///     async fn handle(&self, event: WebhookEvent) -> Result<(), LeaseError> {
///         match event {
///             WebhookEvent::RtmsStarted(started) => {
///                 let lease = match self.leases.acquire(&started.rtms_stream_id).await {
///                     Ok(lease) => lease,
///                     // Another replica already holds this stream: do not connect.
///                     Err(LeaseError::Held(_)) => return Ok(()),
///                     // Redis unknown: fail the handler (a durable worker retries it).
///                     Err(e) => return Err(e),
///                 };
///                 let keeper = self.leases.keep_alive(lease);
///                 // Connect to started.server_urls here, and close the connection when
///                 // `keeper.lost()` resolves (another replica took over).
///                 self.held.lock().unwrap().insert(started.rtms_stream_id, keeper);
///             }
///             WebhookEvent::RtmsStopped(stopped) => {
///                 let keeper = self.held.lock().unwrap().remove(&stopped.rtms_stream_id);
///                 if let Some(keeper) = keeper {
///                     // Close the connection, then free the stream at once (compare-and-DEL).
///                     keeper.release().await?;
///                 }
///                 // Not held here: the replica that holds it sees its connection closed by
///                 // Zoom and releases it, or the lease expires after its TTL.
///             }
///             _ => {}
///         }
///         Ok(())
///     }
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App {
///     leases: StreamLeases::new(connect("redis://127.0.0.1:6379/").await?),
///     held: Mutex::new(HashMap::new()),
/// };
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct StreamLeases {
    conn: RedisConnection,
    owner: Arc<str>,
    prefix: Arc<str>,
    fencing_key: Arc<str>,
    ttl: Duration,
    renew_interval: Duration,
    timeout: Duration,
}

impl fmt::Debug for StreamLeases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamLeases")
            .field("owner", &self.owner)
            .field("prefix", &self.prefix)
            .field("fencing_key", &self.fencing_key)
            .field("ttl", &self.ttl)
            .field("renew_interval", &self.renew_interval)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl StreamLeases {
    /// Leases on `conn` with a fresh owner id, [`DEFAULT_LEASE_PREFIX`], [`DEFAULT_FENCING_KEY`],
    /// [`DEFAULT_LEASE_TTL`], [`DEFAULT_RENEW_INTERVAL`] and [`DEFAULT_OP_TIMEOUT`].
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases, DEFAULT_LEASE_TTL};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(leases.ttl(), DEFAULT_LEASE_TTL);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(conn: RedisConnection) -> Self {
        StreamLeases {
            conn,
            owner: crate::random::unique_name().into(),
            prefix: DEFAULT_LEASE_PREFIX.into(),
            fencing_key: DEFAULT_FENCING_KEY.into(),
            ttl: DEFAULT_LEASE_TTL,
            renew_interval: DEFAULT_RENEW_INTERVAL,
            timeout: DEFAULT_OP_TIMEOUT,
        }
    }

    /// Sets the owner id stored in each lease (default `{HOSTNAME}-{pid}-{random}`). It must be
    /// unique per process; it is shown in [`LeaseHolder::owner`].
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?).with_owner("pod-7");
    /// assert_eq!(leases.owner(), "pod-7");
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into().into();
        self
    }

    /// Sets the lease key prefix (default [`DEFAULT_LEASE_PREFIX`]).
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?).with_prefix("app:lease:");
    /// assert_eq!(leases.prefix(), "app:lease:");
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().into();
        self
    }

    /// Sets the key of the fencing counter (default [`DEFAULT_FENCING_KEY`]). Every replica must
    /// use the same one.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?)
    ///     .with_fencing_key("app:fencing");
    /// assert_eq!(leases.fencing_key(), "app:fencing");
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_fencing_key(mut self, key: impl Into<String>) -> Self {
        self.fencing_key = key.into().into();
        self
    }

    /// Sets the lease time to live (default [`DEFAULT_LEASE_TTL`], see there for the reasoning).
    /// Values below one millisecond are raised to one millisecond.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?)
    ///     .with_ttl(Duration::from_secs(15))
    ///     .with_renew_interval(Duration::from_secs(5));
    /// assert_eq!(leases.ttl(), Duration::from_secs(15));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// Sets how often a [`LeaseKeeper`] renews (default [`DEFAULT_RENEW_INTERVAL`]). Keep it at
    /// most a third of the TTL.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?)
    ///     .with_renew_interval(Duration::from_secs(5));
    /// assert_eq!(leases.renew_interval(), Duration::from_secs(5));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_renew_interval(mut self, interval: Duration) -> Self {
        self.renew_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Sets how long one Redis call may take (default [`DEFAULT_OP_TIMEOUT`]).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?)
    ///     .with_timeout(Duration::from_secs(1));
    /// assert_eq!(leases.timeout(), Duration::from_secs(1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The Redis connection (for the supervisor's stream records, kept next to the leases).
    #[cfg(feature = "client")]
    pub(crate) fn connection(&self) -> &super::ConnectionManager {
        self.conn.manager()
    }

    /// The Redis connection itself (to open a connection of its own for a blocking command).
    #[cfg(feature = "client")]
    pub(crate) fn redis(&self) -> &RedisConnection {
        &self.conn
    }

    /// The owner id.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// assert!(!leases.owner().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The lease key prefix.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases, DEFAULT_LEASE_PREFIX};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// assert_eq!(StreamLeases::new(connect("redis://127.0.0.1/").await?).prefix(), DEFAULT_LEASE_PREFIX);
    /// # Ok(())
    /// # }
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of the fencing counter.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases, DEFAULT_FENCING_KEY};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(leases.fencing_key(), DEFAULT_FENCING_KEY);
    /// # Ok(())
    /// # }
    /// ```
    pub fn fencing_key(&self) -> &str {
        &self.fencing_key
    }

    /// The lease time to live.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases, DEFAULT_LEASE_TTL};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// assert_eq!(StreamLeases::new(connect("redis://127.0.0.1/").await?).ttl(), DEFAULT_LEASE_TTL);
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The renew interval of a [`LeaseKeeper`].
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases, DEFAULT_RENEW_INTERVAL};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(leases.renew_interval(), DEFAULT_RENEW_INTERVAL);
    /// # Ok(())
    /// # }
    /// ```
    pub fn renew_interval(&self) -> Duration {
        self.renew_interval
    }

    /// The per-call timeout.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases, DEFAULT_OP_TIMEOUT};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// assert_eq!(StreamLeases::new(connect("redis://127.0.0.1/").await?).timeout(), DEFAULT_OP_TIMEOUT);
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The Redis key of the lease on `stream_id`: `{prefix}{stream_id}`.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(leases.key("abc"), "zoom-rtms:lease:abc");
    /// # Ok(())
    /// # }
    /// ```
    pub fn key(&self, stream_id: &str) -> String {
        format!("{}{}", self.prefix, stream_id)
    }

    /// Takes the lease on `stream_id` if nobody holds it.
    ///
    /// # Errors
    ///
    /// [`LeaseError::Held`] if it is held (by another replica, or by an earlier lease of this
    /// one: a second `rtms_started` for a stream already connected); `Unavailable` / `Timeout`
    /// when Redis cannot answer: then the lease may or may not have been granted (it expires
    /// after the TTL), and you must not connect.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, LeaseError, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let conn = connect("redis://127.0.0.1/").await?;
    /// let a = StreamLeases::new(conn.clone()).with_owner("a");
    /// let b = StreamLeases::new(conn).with_owner("b");
    /// let lease = a.acquire("stream-1").await?;
    /// match b.acquire("stream-1").await {
    ///     Err(LeaseError::Held(holder)) => assert_eq!(holder.owner, "a"),
    ///     other => panic!("{other:?}"),
    /// }
    /// a.release(&lease).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn acquire(&self, stream_id: &str) -> Result<Lease, LeaseError> {
        let mut conn = self.conn.manager().clone();
        let mut invocation = ACQUIRE.key(self.key(stream_id));
        invocation
            .key(&*self.fencing_key)
            .arg(&*self.owner)
            .arg(millis(self.ttl));
        let (granted, token, current, pttl): (i64, i64, String, i64) =
            timed(self.timeout, invocation.invoke_async(&mut conn)).await?;
        if granted == 1 {
            let fencing_token = u64::try_from(token).map_err(|_| {
                LeaseError::Unavailable(RedisError::from((
                    ::redis::ErrorKind::UnexpectedReturnType,
                    "negative fencing token",
                    token.to_string(),
                )))
            })?;
            Ok(Lease {
                stream_id: stream_id.to_owned(),
                owner: self.owner.to_string(),
                fencing_token,
                value: format!("{fencing_token}:{}", self.owner),
            })
        } else {
            let holder = LeaseHolder::parse(&current, pttl).unwrap_or(LeaseHolder {
                owner: current,
                fencing_token: 0,
                expires_in: u64::try_from(pttl).ok().map(Duration::from_millis),
            });
            Err(LeaseError::Held(holder))
        }
    }

    /// Like [`acquire`](StreamLeases::acquire), but while the stream is held, waits for the
    /// holder's lease to expire (sleeping until its remaining TTL has passed, then trying again)
    /// for at most `max_wait`.
    ///
    /// Use it when taking over a stream whose holder may have died, for example on
    /// `rtms_interrupted`: a dead holder's lease expires within the TTL, a live holder keeps
    /// renewing and you get [`LeaseError::Held`] after `max_wait`.
    ///
    /// # Errors
    ///
    /// As [`acquire`](StreamLeases::acquire); `Held` once `max_wait` has passed.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let lease = leases.acquire_within("stream-1", leases.ttl() + Duration::from_secs(1)).await?;
    /// # let _ = lease;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn acquire_within(
        &self,
        stream_id: &str,
        max_wait: Duration,
    ) -> Result<Lease, LeaseError> {
        let deadline = Instant::now() + max_wait;
        loop {
            match self.acquire(stream_id).await {
                Err(LeaseError::Held(holder)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(LeaseError::Held(holder));
                    }
                    let wait = holder
                        .expires_in
                        .unwrap_or(self.renew_interval)
                        .saturating_add(Duration::from_millis(5))
                        .min(deadline - now);
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// Extends `lease` to a full TTL from now, if it is still exactly this lease
    /// (compare-and-`PEXPIRE`).
    ///
    /// # Errors
    ///
    /// [`LeaseError::NotHeld`] if the lease expired or someone else holds the stream now; stop
    /// using the stream. `Unavailable` / `Timeout` when Redis cannot answer.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let lease = leases.acquire("stream-1").await?;
    /// leases.renew(&lease).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn renew(&self, lease: &Lease) -> Result<(), LeaseError> {
        let mut conn = self.conn.manager().clone();
        let mut invocation = RENEW.key(self.key(&lease.stream_id));
        invocation.arg(&lease.value).arg(millis(self.ttl));
        let renewed: i64 = timed(self.timeout, invocation.invoke_async(&mut conn)).await?;
        if renewed == 1 {
            Ok(())
        } else {
            Err(LeaseError::NotHeld)
        }
    }

    /// Frees the stream at once, if `lease` is still exactly the lease stored (compare-and-`DEL`).
    /// Call it after closing the stream's connection (for example on `rtms_stopped`).
    ///
    /// # Errors
    ///
    /// [`LeaseError::NotHeld`] if it expired or belongs to someone else (nothing is deleted);
    /// `Unavailable` / `Timeout` when Redis cannot answer (the lease then expires after its TTL).
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, LeaseError, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let lease = leases.acquire("stream-1").await?;
    /// leases.release(&lease).await?;
    /// assert_eq!(leases.release(&lease).await, Err(LeaseError::NotHeld));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn release(&self, lease: &Lease) -> Result<(), LeaseError> {
        let key = self.key(&lease.stream_id);
        let ours = Expected::Exactly(&lease.value);
        if compare_and_delete(self.conn.manager(), &key, ours, self.timeout).await? {
            Ok(())
        } else {
            Err(LeaseError::NotHeld)
        }
    }

    /// Checks that `lease` is still the one stored (a `GET`), without extending it.
    ///
    /// # Errors
    ///
    /// [`LeaseError::NotHeld`] if not; `Unavailable` / `Timeout` when Redis cannot answer.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let lease = leases.acquire("stream-1").await?;
    /// leases.check(&lease).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn check(&self, lease: &Lease) -> Result<(), LeaseError> {
        let mut conn = self.conn.manager().clone();
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(self.key(&lease.stream_id));
        let value: Option<String> = timed(self.timeout, cmd.query_async(&mut conn)).await?;
        if value.as_deref() == Some(lease.value.as_str()) {
            Ok(())
        } else {
            Err(LeaseError::NotHeld)
        }
    }

    /// Who holds `stream_id` now, if anyone.
    ///
    /// # Errors
    ///
    /// `Unavailable` / `Timeout` when Redis cannot answer.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let lease = leases.acquire("stream-1").await?;
    /// let holder = leases.holder("stream-1").await?.expect("held");
    /// assert_eq!(holder.fencing_token, lease.fencing_token());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn holder(&self, stream_id: &str) -> Result<Option<LeaseHolder>, LeaseError> {
        let mut conn = self.conn.manager().clone();
        let mut pipe = ::redis::pipe();
        let key = self.key(stream_id);
        pipe.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        let (value, pttl): (Option<String>, i64) =
            timed(self.timeout, pipe.query_async(&mut conn)).await?;
        Ok(value.and_then(|v| LeaseHolder::parse(&v, pttl)))
    }

    /// Keeps `lease` renewed every [`renew_interval`](StreamLeases::renew_interval) in a spawned
    /// task until the returned [`LeaseKeeper`] is released or dropped, or the lease is lost.
    ///
    /// Must be called inside a Tokio runtime.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let keeper = leases.keep_alive(leases.acquire("stream-1").await?);
    /// tokio::select! {
    ///     lost = keeper.lost() => println!("lost the stream: {lost}; closing the connection"),
    ///     _ = tokio::signal::ctrl_c() => keeper.release().await?,
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn keep_alive(&self, lease: Lease) -> LeaseKeeper {
        let (status_tx, status_rx) = watch::channel(None);
        let task = tokio::spawn(renew_loop(self.clone(), lease.clone(), status_tx));
        LeaseKeeper {
            leases: self.clone(),
            lease,
            status: status_rx,
            task,
        }
    }
}

/// Why a [`LeaseKeeper`] stopped holding its lease.
///
/// ```
/// use zoom_rtms_webhooks::redis::LeaseLost;
/// assert_eq!(LeaseLost::NotHeld.to_string(), "the lease expired or was taken over");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseLost {
    /// A renewal found the lease gone or held by someone else.
    #[error("the lease expired or was taken over")]
    NotHeld,
    /// No renewal succeeded for a whole TTL (Redis unreachable or too slow): the lease must be
    /// assumed expired.
    #[error("the lease could not be renewed for a whole TTL")]
    Unrenewable,
}

/// Keeps a [`Lease`] renewed in the background while you hold the stream's connection; made by
/// [`StreamLeases::keep_alive`].
///
/// - Renews every [`StreamLeases::renew_interval`]. If a renewal fails with
///   [`LeaseError::NotHeld`], or no renewal has succeeded for a whole TTL, the keeper stops and
///   reports it through [`lost`](LeaseKeeper::lost) / [`is_held`](LeaseKeeper::is_held): close
///   the stream's connection, another replica may hold it now.
/// - [`release`](LeaseKeeper::release) stops renewing and frees the stream at once.
/// - Dropping the keeper stops renewing; the lease then expires after its TTL.
///
/// ```no_run
/// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
/// let keeper = leases.keep_alive(leases.acquire("stream-1").await?);
/// assert!(keeper.is_held());
/// println!("token {}", keeper.lease().fencing_token());
/// keeper.release().await?;
/// # Ok(())
/// # }
/// ```
pub struct LeaseKeeper {
    leases: StreamLeases,
    lease: Lease,
    status: watch::Receiver<Option<LeaseLost>>,
    task: JoinHandle<()>,
}

impl fmt::Debug for LeaseKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("lease", &self.lease)
            .field("lost", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl LeaseKeeper {
    /// The lease being kept.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let keeper = leases.keep_alive(leases.acquire("s").await?);
    /// assert_eq!(keeper.lease().stream_id(), "s");
    /// # Ok(())
    /// # }
    /// ```
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// `false` once the lease is known to be lost.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let keeper = leases.keep_alive(leases.acquire("s").await?);
    /// assert!(keeper.is_held());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_held(&self) -> bool {
        self.status.borrow().is_none()
    }

    /// Resolves when the lease is lost, with the reason. Use it in a `select!` beside the stream's
    /// connection, and close the connection when it resolves.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let keeper = leases.keep_alive(leases.acquire("s").await?);
    /// let reason = keeper.lost().await;
    /// eprintln!("stream lost: {reason}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn lost(&self) -> LeaseLost {
        let mut status = self.status.clone();
        let verdict = match status.wait_for(Option::is_some).await {
            Ok(lost) => *lost,
            // The renew task is gone without a verdict (it panicked): nobody renews any more.
            Err(_) => None,
        };
        verdict.unwrap_or(LeaseLost::Unrenewable)
    }

    /// Stops renewing and frees the stream at once (compare-and-`DEL`).
    ///
    /// # Errors
    ///
    /// [`LeaseError::NotHeld`] if the lease was already lost; `Unavailable` / `Timeout` when Redis
    /// cannot answer (the lease then expires after its TTL).
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let keeper = leases.keep_alive(leases.acquire("s").await?);
    /// keeper.release().await?;
    /// assert!(leases.holder("s").await?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn release(self) -> Result<(), LeaseError> {
        self.task.abort();
        self.leases.release(&self.lease).await
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn renew_loop(leases: StreamLeases, lease: Lease, status: watch::Sender<Option<LeaseLost>>) {
    // The lease was granted (or last renewed) no earlier than this instant.
    let mut valid_from = Instant::now();
    let mut next = tokio::time::Instant::now() + leases.renew_interval;
    loop {
        tokio::time::sleep_until(next).await;
        let sent = Instant::now();
        match leases.renew(&lease).await {
            Ok(()) => {
                valid_from = sent;
                next = tokio::time::Instant::now() + leases.renew_interval;
            }
            Err(LeaseError::NotHeld) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(stream = %lease.stream_id, "stream lease lost");
                status.send_replace(Some(LeaseLost::NotHeld));
                return;
            }
            Err(_error) => {
                if valid_from.elapsed() >= leases.ttl {
                    #[cfg(feature = "tracing")]
                    tracing::warn!(stream = %lease.stream_id, error = %_error,
                        "stream lease could not be renewed for a whole TTL");
                    status.send_replace(Some(LeaseLost::Unrenewable));
                    return;
                }
                // Try again sooner than the regular interval, but never busy-loop.
                let retry = (leases.renew_interval / 4).max(Duration::from_millis(10));
                next = tokio::time::Instant::now() + retry;
            }
        }
    }
}
