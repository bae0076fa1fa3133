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
//! | [`RedisDeduplicator`] | `SET {prefix}{key} {token} NX PX {ttl}` (one atomic command), `DEL` | a delivery is accepted by exactly one replica, for 2 hours by default |
//! | [`StreamLeases`] / [`LeaseKeeper`] | Lua: `GET` + `INCR` + `SET PX` (acquire), compare-and-`PEXPIRE` (renew), compare-and-`DEL` (release) | at most one replica holds an `rtms_stream_id`; a fencing token tells a replica that lost it |
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
//!             Ok(lease) -> connect, LeaseKeeper renews every 10 s -> |                 |
//!           rtms_stopped: keeper.release() (compare-and-DEL) ----->  |                 |
//!         Ok  -> XACK (+ XDEL) ------------------------------------> |                 |
//!         Err / crash -> stays pending; after claim_idle another     |                 |
//!                        worker takes it with XAUTOCLAIM <---------  +-----------------+
//! ```
//!
//! # Failure semantics
//!
//! - **Redis down or slower than the timeout** (default [`DEFAULT_OP_TIMEOUT`], 500 ms): the
//!   de-duplicator returns [`DedupError`](crate::dedup::DedupError) and the hand-off returns
//!   [`HandoffError::Unavailable`](crate::receiver::HandoffError), so the receiver answers `503`
//!   with `Retry-After` and Zoom delivers the event again later. Nothing is accepted without
//!   de-duplication or durability: accepting would risk a second RTMS connection (dedup) or a
//!   lost event (hand-off). The [`ConnectionManager`] reconnects by itself; when Redis is back,
//!   the next request is accepted without restarting anything. The opposite choice exists only as
//!   the loudly named [`RedisDeduplicator::fail_open_on_error`].
//! - **The replica dies after `200`**: with [`RedisStreamHandoff`] the event is already in the
//!   stream; a [`RedisStreamWorker`] on any replica reads it. If a worker dies while handling an
//!   entry, the entry stays pending and another worker claims it after
//!   [`StreamWorkerConfig::claim_idle`]. Delivery to handlers is therefore **at least once**:
//!   a handler can see an event twice (a worker that died after its handler ran but before
//!   `XACK`, or a hand-off that timed out after Redis had stored the entry). The lease makes
//!   that harmless for `rtms_started`: the second run finds the stream held and skips it.
//! - **The replica holding a stream dies**: it stops renewing, and its lease expires after the
//!   TTL ([`DEFAULT_LEASE_TTL`], 30 s), so the replica that handles Zoom's `rtms_interrupted` (or
//!   the re-claimed `rtms_started`) can take the stream over with a higher fencing token.
//!
//! One Redis (or a primary with replicas and failover) is assumed; Redis Cluster is not
//! supported (the lease script touches two keys).
//!
//! # Example: two replicas sharing one Redis
//!
//! ```no_run
//! use std::sync::Arc;
//! use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
//! use zoom_rtms_webhooks::receiver::{Delivery, Receiver};
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
use std::time::Duration;

pub use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
pub use ::redis::{Client, RedisError};

mod dedup;
mod lease;
mod stream;

pub use dedup::{RedisDeduplicator, DEFAULT_DEDUP_PREFIX};
pub use lease::{
    Lease, LeaseError, LeaseHolder, LeaseKeeper, LeaseLost, StreamLeases, DEFAULT_FENCING_KEY,
    DEFAULT_LEASE_PREFIX, DEFAULT_LEASE_TTL, DEFAULT_RENEW_INTERVAL,
};
pub use stream::{
    RedisStreamHandoff, RedisStreamWorker, StreamWorkerConfig, StreamWorkerStats,
    DEFAULT_CLAIM_IDLE, DEFAULT_GROUP, DEFAULT_STREAM_KEY,
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

/// Connects to Redis at `url` (for example `redis://127.0.0.1:6379/`) with
/// [`connection_config`], waiting for the first connection.
///
/// The returned [`ConnectionManager`] is cheap to clone and reconnects by itself after Redis
/// restarts. Use [`connect_lazy`] to start a service while Redis is still down.
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
pub async fn connect(url: &str) -> Result<ConnectionManager, RedisError> {
    let client = Client::open(url)?;
    ConnectionManager::new_with_config(client, connection_config()).await
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
pub fn connect_lazy(url: &str) -> Result<ConnectionManager, RedisError> {
    let client = Client::open(url)?;
    ConnectionManager::new_lazy_with_config(client, connection_config())
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

/// A name unique to this process with high probability: `{host}-{pid}-{random hex}`.
pub(crate) fn unique_name() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty() && h.len() <= 64)
        .unwrap_or_else(|| "replica".to_owned());
    format!("{host}-{}-{:016x}", std::process::id(), hasher.finish())
}
