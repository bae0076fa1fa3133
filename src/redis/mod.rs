//! Several replicas, one connection per stream: Redis de-duplication, stream ownership leases
//! and a durable hand-off (feature `redis`).
//!
//! Webhook receivers usually run as several replicas behind a load balancer. Zoom's retry of an
//! `rtms_started` can land on a different replica than the first delivery, and an in-memory
//! [`MemoryDeduplicator`](crate::dedup::MemoryDeduplicator) on that replica would let it open a
//! second RTMS connection, which kicks out the first. And a process that dies after answering
//! `200` loses the event: Zoom will not send it again. This module solves both on the Redis
//! that such deployments already run:
//!
//! | piece | Redis commands | what it guarantees |
//! |---|---|---|
//! | [`RedisDeduplicator`] | `SET {prefix}{key} {token} NX PX {ttl}` (one atomic command); compare-and-`DEL` (Lua) to forget its own mark | a delivery is accepted by exactly one replica, for 2 hours by default |
//! | [`StreamLeases`] / [`LeaseKeeper`] | Lua: `GET` + `TIME` + `INCR` + `SET PX` (acquire), compare-and-`PEXPIRE` (renew), compare-and-`DEL` (release) | at most one replica holds an `rtms_stream_id`; a fencing token tells a replica that lost it |
//! | [`RedisStreamHandoff`] | `XADD [MAXLEN ~ n]` | an event is in Redis before Zoom gets its `200` |
//! | [`RedisStreamWorker`] | `XGROUP CREATE MKSTREAM`, `XREADGROUP`, `XACK`, `XAUTOCLAIM` | every accepted event is handled on some replica, even if the one that accepted it dies |
//!
//! # The flow
//!
//! ```text
//!             Zoom (retries a non-2xx after 5, 25, 85 min)
//!               |  POST /webhook (signed)
//!               v
//!   +-------- load balancer --------+
//!   v               v               v
//! replica A      replica B  ...  replica N        each: Receiver<RedisDeduplicator, H>
//!   | verify, answer challenge, parse
//!   | 1. SET zoom-rtms:dedup:{key} {token} NX PX 7200000 -----+
//!   |      nil -> duplicate: 200, not processed               |
//!   |      error/timeout -> 503 + Retry-After (Zoom retries)  |      +-----------------+
//!   | 2. hand off                                             +----> |                 |
//!   |    in-process Dispatcher (fast, lost if the process dies)      |      Redis      |
//!   |    or RedisStreamHandoff: XADD zoom-rtms:events ... -------->  |                 |
//!   |      error/timeout -> DEL the mark, 503 (Zoom retries)         | dedup keys      |
//!   | 3. 200 to Zoom                                                 | stream+group    |
//!   |                                                                | leases, fencing |
//!   +-- RedisStreamWorker (on every replica) <-- XREADGROUP -------  |                 |
//!         run your handler(Delivery)                                 |                 |
//!           rtms_started: StreamLeases::acquire(stream) --SET ---->  |                 |
//!             Held -> someone else owns the stream: skip             |                 |
//!             Ok(lease) -> connect, LeaseKeeper renews every 3 s  -> |                 |
//!           rtms_stopped: keeper.release() (compare-and-DEL) ----->  |                 |
//!         Ok  -> XACK (+ XDEL) ------------------------------------> |                 |
//!         Err / crash -> stays pending; after claim_idle another     |                 |
//!                        worker takes it with XAUTOCLAIM <---------  +-----------------+
//! ```
//!
//! # Failure semantics
//!
//! - **Redis down or slower than the timeout** (default [`DEFAULT_OP_TIMEOUT`], 500 ms): the
//!   de-duplicator returns [`DedupError`] and the hand-off returns [`HandoffError`], so the
//!   receiver answers `503` with `Retry-After` and Zoom delivers the event again later. Nothing
//!   is accepted without de-duplication or durability: accepting would risk a second RTMS
//!   connection (dedup) or a lost event (hand-off). The [`ConnectionManager`] reconnects by
//!   itself; when Redis is back, the next request is accepted without restarting anything. The
//!   opposite choice exists only as the loudly named
//!   [`RedisDeduplicator::with_fail_open_on_error`].
//! - **Errors keep their cause**: an error reply or a connection failure is an `Unavailable`
//!   variant holding the [`RedisError`] itself: in [`LeaseError`] directly, in [`DedupError`] and
//!   [`HandoffError`] inside a [`StoreError`] (get it back with
//!   [`StoreError::downcast_ref`]). No answer within the timeout is a separate `Timeout` variant:
//!   the command may then still run later (see [`RedisDeduplicator`] for how a late mark is
//!   undone, and [`RedisStreamHandoff`] for a late append).
//! - **The replica dies after `200`**: with [`RedisStreamHandoff`] the event is already in the
//!   stream; a [`RedisStreamWorker`] on any replica reads it. If a worker dies while handling an
//!   entry, the entry stays pending and another worker claims it after
//!   [`StreamWorkerConfig::claim_idle`]. Delivery to handlers is therefore **at least once**:
//!   a handler can see an event twice (a worker that died after its handler ran but before
//!   `XACK`, or a hand-off that timed out after Redis had stored the entry). The lease makes
//!   that harmless for `rtms_started`: the second run finds the stream held and skips it.
//! - **The replica holding a stream dies**: it stops renewing, and its lease expires after the
//!   TTL ([`DEFAULT_LEASE_TTL`], 10 s), so the replica that handles Zoom's `rtms_interrupted` (or
//!   the re-claimed `rtms_started`) can take the stream over with a higher fencing token.
//!
//! # Redis requirements
//!
//! - **Version and topology**: Redis 6.2 or later (`XAUTOCLAIM`). One Redis, or a primary with
//!   replicas and failover; Redis Cluster is not supported (the lease script touches two keys).
//!   Every replica of the application must use the same Redis, database and key prefixes.
//! - **`maxmemory-policy`: `noeviction`** (recommended), or a `volatile-*` policy, never
//!   `allkeys-*`. The fencing counter ([`DEFAULT_FENCING_KEY`]), the stream and its consumer
//!   group have no TTL and must never be evicted: under `allkeys-*` Redis may delete accepted
//!   events that no worker handled yet (lost after Zoom got its `200`) or the fencing counter.
//!   Under `noeviction` a full Redis refuses writes, which the receiver turns into `503` (Zoom
//!   retries); size `maxmemory` for the de-duplication marks (about 120 bytes per event for 2
//!   hours) plus the stream backlog. Under `volatile-*` Redis may still evict de-duplication marks
//!   and leases (they have TTLs) under memory pressure: an evicted mark lets a retry be processed
//!   again, an evicted lease lets a second replica take a stream (the holder's [`LeaseKeeper`]
//!   then reports [`LeaseLost::NotHeld`] at its next renewal).
//! - **Persistence**: with [`RedisStreamHandoff`], an acknowledged event exists only in Redis
//!   until a worker handled it, so Redis must persist it: AOF (`appendonly yes`;
//!   `appendfsync everysec` can lose the last second of writes in a crash of the Redis host,
//!   `always` loses nothing). Without persistence a Redis restart loses the backlog, the
//!   de-duplication marks (retries then run again) and the fencing counter. Replication to a
//!   replica is asynchronous: a failover can lose the last writes the same way.
//! - **Fencing counter loss**: if the counter key is lost (`FLUSHDB` / `FLUSHALL`, eviction under
//!   `allkeys-*`, a restart without persistence, a failover to a replica that missed the last
//!   `INCR`), a plain counter would restart at 1, below the tokens already handed out: the
//!   external systems that check tokens would then refuse the *new* holder of a stream and keep
//!   accepting the stale one, the opposite of fencing. So every grant also raises the counter to
//!   at least Redis's clock in microseconds (`TIME`, see [`Lease::fencing_token`]): after a loss
//!   the next token is still above every earlier one, as long as the clock of the Redis server
//!   granting it is not behind the clock that granted the earlier ones. Keep the Redis hosts'
//!   clocks synchronised (NTP), and prefer a failover that promotes an up-to-date replica.
//!
//! # Trust boundary
//!
//! Redis is **inside** the trust boundary: anyone who can write to it can act as Zoom. Stream
//! entries are not authenticated (the signature was checked by the receiver that appended the
//! entry and is not stored), so a [`RedisStreamWorker`] runs your handler on whatever an entry
//! holds: a forged `rtms_started` makes a replica connect to the stream it names (the
//! `server_urls` host check of [`region`](crate::region) still refuses hosts outside Zoom's). A
//! writer can also mark events as duplicates (they are then never processed), delete or take
//! leases, and read every event. Protect Redis like a database holding the application's secrets:
//! a private network, `requirepass` or ACL users (put the password in the URL,
//! `redis://:password@host/`), no access for other tenants. This crate builds its Redis client
//! without TLS; to use `rediss://` URLs, enable one of the `redis` crate's TLS features (for
//! example `tokio-native-tls-comp`) in your own `Cargo.toml`, or reach Redis through a TLS
//! tunnel.
//!
//! # Example: two replicas sharing one Redis
//!
//! ```no_run
//! use std::sync::Arc;
//! use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
//! use zoom_rtms_webhooks::{Delivery, Receiver};
//! use zoom_rtms_webhooks::redis::RedisDeduplicator;
//! use zoom_rtms_webhooks::Verifier;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let conn = zoom_rtms_webhooks::redis::connect("redis://127.0.0.1:6379/").await?;
//! let dispatcher = Dispatcher::new(DispatcherConfig::default(), |d: Delivery| async move {
//!     println!("{}", d.event.name());
//!     Ok::<_, std::convert::Infallible>(())
//! });
//! let receiver = Arc::new(Receiver::new(
//!     Verifier::new("secret")?,
//!     RedisDeduplicator::new(conn),
//!     dispatcher,
//! ));
//! // Serve `receiver` with the axum / actix / hyper module, on every replica.
//! # let _ = receiver;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

pub use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
pub use ::redis::RedisError;

use crate::dedup::{DedupError, StoreError};
use crate::receiver::HandoffError;

mod dedup;
mod handoff;
mod lease;
mod worker;

#[cfg(feature = "client")]
pub(crate) use lease::millis;

pub use dedup::{RedisDeduplicator, DEFAULT_DEDUP_PREFIX};
pub use handoff::{RedisStreamHandoff, DEFAULT_STREAM_KEY};
pub use lease::{
    Lease, LeaseError, LeaseHolder, LeaseKeeper, LeaseLost, StreamLeases, DEFAULT_FENCING_KEY,
    DEFAULT_LEASE_PREFIX, DEFAULT_LEASE_TTL, DEFAULT_RENEW_INTERVAL,
};
pub use worker::{
    RedisStreamWorker, StreamWorkerConfig, StreamWorkerStats, DEFAULT_CLAIM_IDLE, DEFAULT_GROUP,
};

/// Default time every Redis call of this module may take before it counts as a failure:
/// 500 ms.
///
/// Zoom waits 3 seconds for the response; a request makes at most two Redis calls (the
/// de-duplication mark and the hand-off), plus one to undo the mark when the hand-off fails, so
/// three timeouts still fit in Zoom's window and the receiver can answer `503` in time.
///
/// ```
/// use zoom_rtms_webhooks::redis::DEFAULT_OP_TIMEOUT;
/// assert!(DEFAULT_OP_TIMEOUT * 3 < std::time::Duration::from_secs(3));
/// ```
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_millis(500);

/// The [`ConnectionManagerConfig`] that [`connect`] and [`connect_lazy`] use: connection attempts
/// time out after 1 s, reconnection backs off from 50 ms up to at most 1 s between attempts (so a
/// Redis that comes back is used again within about a second), and no response timeout of the
/// driver's own (every call of this module has its own timeout, and the worker's blocking
/// `XREADGROUP` must be allowed to wait).
///
/// ```
/// use std::time::Duration;
/// let config = zoom_rtms_webhooks::redis::connection_config();
/// assert_eq!(config.max_delay(), Some(Duration::from_secs(1)));
/// assert_eq!(config.response_timeout(), None);
/// ```
pub fn connection_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(None)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(1))
        .set_number_of_retries(6)
}

/// One Redis connection for everything of this module: open it once with [`connect`] (or
/// [`connect_lazy`]) and hand clones of it to the de-duplicator, the hand-off, the leases
/// and the stream worker. Cheap to clone (clones share the connection).
///
/// It is a multiplexed [`ConnectionManager`] (reconnecting by itself after Redis restarts;
/// [`manager`](RedisConnection::manager)) plus what is needed to open the few connections of
/// their own that blocking commands take (the stream worker's `XREADGROUP BLOCK`, the
/// supervisor's wait for handed-over streams): those must not hold up the shared one. It can
/// run commands itself (it implements `redis::aio::ConnectionLike`). `Debug` shows no URL
/// (it may hold a password).
///
/// ```no_run
/// use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator, StreamLeases};
/// # async fn run() -> Result<(), zoom_rtms_webhooks::redis::RedisError> {
/// let conn = connect("redis://127.0.0.1:6379/").await?;
/// let dedup = RedisDeduplicator::new(conn.clone());
/// let leases = StreamLeases::new(conn);
/// # let _ = (dedup, leases);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisConnection {
    client: ::redis::Client,
    manager: ConnectionManager,
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnection").finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// The shared multiplexed connection.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), zoom_rtms_webhooks::redis::RedisError> {
    /// let conn = zoom_rtms_webhooks::redis::connect("redis://127.0.0.1:6379/").await?;
    /// let manager = conn.manager().clone();
    /// # let _ = manager;
    /// # Ok(())
    /// # }
    /// ```
    pub fn manager(&self) -> &ConnectionManager {
        &self.manager
    }

    /// A connection of its own (same URL, same [`connection_config`]), for a blocking
    /// command.
    pub(crate) async fn dedicated_now(&self) -> Result<ConnectionManager, RedisError> {
        ConnectionManager::new_with_config(self.client.clone(), connection_config()).await
    }

    /// A pub/sub connection of its own.
    #[cfg(feature = "client")]
    pub(crate) async fn pubsub(&self) -> Result<::redis::aio::PubSub, RedisError> {
        self.client.get_async_pubsub().await
    }
}

impl From<RedisConnection> for ConnectionManager {
    fn from(conn: RedisConnection) -> Self {
        conn.manager
    }
}

impl ::redis::aio::ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a ::redis::Cmd,
    ) -> ::redis::RedisFuture<'a, ::redis::Value> {
        self.manager.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a ::redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> ::redis::RedisFuture<'a, Vec<::redis::Value>> {
        self.manager.req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.manager.get_db()
    }
}

/// Connects to Redis at `url` (for example `redis://127.0.0.1:6379/`) with
/// [`connection_config`], waiting for the first connection.
///
/// The returned [`RedisConnection`] is cheap to clone and reconnects by itself after Redis
/// restarts: open it once and share it. Use [`connect_lazy`] to start a service while Redis
/// is still down.
///
/// # Errors
///
/// An invalid URL, or Redis unreachable at startup.
///
/// ```no_run
/// # async fn run() -> Result<(), zoom_rtms_webhooks::redis::RedisError> {
/// let conn = zoom_rtms_webhooks::redis::connect("redis://127.0.0.1:6379/").await?;
/// # let _ = conn;
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<RedisConnection, RedisError> {
    let client = ::redis::Client::open(url)?;
    let manager = ConnectionManager::new_with_config(client.clone(), connection_config()).await?;
    Ok(RedisConnection { client, manager })
}

/// Like [`connect`], but does not wait for a connection: the first Redis call connects. A
/// service started while Redis is down answers `503` until Redis is reachable.
///
/// Must be called inside a Tokio runtime.
///
/// # Errors
///
/// Only an invalid URL.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let conn = zoom_rtms_webhooks::redis::connect_lazy("redis://127.0.0.1:1/");
/// assert!(conn.is_ok());
/// assert!(zoom_rtms_webhooks::redis::connect_lazy("not a url").is_err());
/// # }
/// ```
pub fn connect_lazy(url: &str) -> Result<RedisConnection, RedisError> {
    let client = ::redis::Client::open(url)?;
    let manager = ConnectionManager::new_lazy_with_config(client.clone(), connection_config())?;
    Ok(RedisConnection { client, manager })
}

/// Why one Redis call of this module failed.
pub(crate) enum OpError {
    /// Redis answered with an error, or the connection failed.
    Redis(RedisError),
    /// No answer within the configured timeout.
    Timeout,
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::Redis(e) => write!(f, "{e}"),
            OpError::Timeout => f.write_str("timed out"),
        }
    }
}

impl From<OpError> for DedupError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Redis(e) => DedupError::Unavailable(StoreError::new(e)),
            OpError::Timeout => DedupError::Timeout,
        }
    }
}

impl From<OpError> for HandoffError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Redis(e) => HandoffError::Unavailable(StoreError::new(e)),
            OpError::Timeout => HandoffError::Timeout,
        }
    }
}

/// Runs one Redis call with a timeout.
pub(crate) async fn timed<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, OpError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(OpError::Redis(e)),
        Err(_elapsed) => Err(OpError::Timeout),
    }
}

/// What the value of a key must be for [`compare_and_delete`] to delete it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expected<'a> {
    /// Exactly this value (a lease, one de-duplication mark).
    Exactly(&'a str),
    /// Any value starting with this (every mark of one de-duplicator).
    StartsWith(&'a str),
}

/// The crate's one compare-and-delete: `KEYS[1]` the key, `ARGV[1]` the expected value,
/// `ARGV[2]` `exact` or `prefix`. Deletes the key and returns 1 if its value is `ARGV[1]` (or, in
/// `prefix` mode, starts with it); otherwise leaves it and returns 0.
static COMPARE_AND_DELETE: LazyLock<::redis::Script> = LazyLock::new(|| {
    ::redis::Script::new(
        r"
local value = redis.call('GET', KEYS[1])
if value and (value == ARGV[1]
    or (ARGV[2] == 'prefix' and string.sub(value, 1, string.len(ARGV[1])) == ARGV[1])) then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// Deletes `key` if its value is `expected`, atomically (one Lua script). `Ok(true)` if deleted.
pub(crate) async fn compare_and_delete(
    conn: &ConnectionManager,
    key: &str,
    expected: Expected<'_>,
    timeout: Duration,
) -> Result<bool, OpError> {
    let (value, mode) = match expected {
        Expected::Exactly(value) => (value, "exact"),
        Expected::StartsWith(prefix) => (prefix, "prefix"),
    };
    let mut invocation = COMPARE_AND_DELETE.key(key);
    invocation.arg(value).arg(mode);
    let deleted: i64 = timed(timeout, invocation.invoke_async(&mut conn.clone())).await?;
    Ok(deleted == 1)
}
