//! The supervisor's stream records in Redis, kept next to the [`StreamLeases`]: what another
//! replica needs to take a stream over (never the signature or the client secret).
//!
//! Keys (with the default prefix [`DEFAULT_SUPERVISOR_PREFIX`], `zoom-rtms:stream:`):
//!
//! - `{lease prefix}{stream_id}`: the lease ([`StreamLeases`], `{token}:{owner}`).
//! - `{prefix}info:{stream_id}`: the stream record, the `rtms_started` event reduced to its
//!   event name, the product's id, the stream id and the one signalling URL in use (JSON, in the
//!   shape of a webhook body). Written by the lease holder only, with a TTL of 3 × the lease TTL
//!   that every renewal refreshes, so it outlives a dead holder's lease long enough to be taken
//!   over; deleted with the lease when the stream ends.
//! - `{prefix}index`: a set of the stream ids that have a record, scanned by the takeover loop
//!   (a member whose record has expired is removed by the scan).
//! - `{prefix}handed-over`: a pub/sub channel; a replica handing a stream over publishes its
//!   id there, and every other replica's takeover loop tries it at once.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::Script;
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::event::{RtmsStarted, WebhookEvent};
use crate::redis::{millis, timed, Lease, LeaseError, StreamLeases};
use crate::region::ServerUrl;

/// Default prefix of the supervisor's Redis keys: `zoom-rtms:stream:` (see
/// `Supervisor::with_key_prefix`).
///
/// The supervisor's keys, besides the leases ([`StreamLeases`]: `{lease prefix}{stream_id}`
/// holding `{fencing token}:{owner}`, and the fencing counter):
///
/// - `{prefix}info:{rtms_stream_id}`: the stream record, a string: the `rtms_started` event
///   reduced to its name, `event_ts`, the product's id, the stream id and the one signalling URL
///   in use, as a webhook body (JSON). No signature, no secret. Written only by the lease holder
///   (compare-and-set on the lease), with a TTL of 3 × the lease TTL refreshed at every renewal,
///   so that it outlives a dead holder's lease long enough for a takeover. Deleted with the
///   lease when the stream ends here, or alone by `rtms_stopped` at another replica. A replica
///   that gets `rtms_started` for a stream held elsewhere rewrites the record (keeping its TTL),
///   and every write keeps the newer start: a record is replaced only when the new one's
///   `event_ts` is larger, or when either has none (the latest write wins), checked in one
///   Lua script, so a late delivery of an earlier `rtms_started` never sends the stream back.
/// - `{prefix}index`: a set of the stream ids that have a record; the takeover loop reads it,
///   takes the streams whose lease is free, and drops members whose record has expired.
/// - `{prefix}handed-over`: a pub/sub channel; `Supervisor::hand_over` publishes each stream
///   id there once its lease is released, and the other replicas take it over at once.
///
/// ```
/// assert_eq!(zoom_rtms_webhooks::client::DEFAULT_SUPERVISOR_PREFIX, "zoom-rtms:stream:");
/// ```
pub const DEFAULT_SUPERVISOR_PREFIX: &str = "zoom-rtms:stream:";

/// Lua: whether the record `stored` (or none) may be replaced by one whose `event_ts` is
/// `ts` (empty: none): yes unless both have an `event_ts` and the new one is not larger (the
/// supervisor's `is_newer`).
const NEWER: &str = r"
local function newer(stored, ts)
  if not stored or ts == '' then
    return true
  end
  local ok, old = pcall(cjson.decode, stored)
  if not ok or type(old) ~= 'table' or type(old['event_ts']) ~= 'number' then
    return true
  end
  return tonumber(ts) > old['event_ts']
end
";

/// `KEYS[1]` lease, `KEYS[2]` record, `KEYS[3]` index; `ARGV[1]` lease value, `ARGV[2]` record
/// TTL in ms, `ARGV[3]` stream id, `ARGV[4]` record (empty: keep the stored one), `ARGV[5]`
/// lease TTL in ms, `ARGV[6]` the record's `event_ts` (empty: none). While the lease is this
/// one: renews it, writes the record if it is newer than the stored one ([`NEWER`]; else
/// refreshes the stored one) and indexes it, and returns the stored record (empty when there
/// is none to refresh: the stream was stopped elsewhere); else returns false.
static SAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NEWER}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[4] ~= '' and newer(redis.call('GET', KEYS[2]), ARGV[6]) then
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
elseif redis.call('PEXPIRE', KEYS[2], ARGV[2]) == 0 then
  return ''
end
redis.call('SADD', KEYS[3], ARGV[3])
return redis.call('GET', KEYS[2])
"
    ))
});

/// `KEYS[1]` record; `ARGV[1]` record, `ARGV[2]` its `event_ts` (empty: none). Replaces an
/// existing record if the new one is newer ([`NEWER`]), keeping its TTL; 1 if replaced.
static UPDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{NEWER}
local stored = redis.call('GET', KEYS[1])
if not stored or not newer(stored, ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return 1
"
    ))
});

/// `KEYS[1]` lease, `KEYS[2]` record; `ARGV[1]` lease value, `ARGV[2]` channel, `ARGV[3]`
/// stream id. While the lease is this one: deletes it and, if the record is there, publishes
/// the stream id (a hand-over); returns 1, else 0.
static HAND_OVER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return 1
",
    )
});

/// `KEYS[1]` lease, `KEYS[2]` record, `KEYS[3]` index; `ARGV[1]` lease value, `ARGV[3]` stream
/// id. While the lease is this one: deletes record, index entry and lease; returns 1, else 0.
static FORGET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[2], KEYS[1])
redis.call('SREM', KEYS[3], ARGV[3])
return 1
",
    )
});

/// `KEYS[1]` index; `ARGV[1]` record key prefix, `ARGV[2]` lease key prefix. Drops index
/// members without a record; returns those whose lease is free.
static FREE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local free = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then
    redis.call('SREM', KEYS[1], id)
  elseif redis.call('EXISTS', ARGV[2] .. id) == 0 then
    table.insert(free, id)
  end
end
return free
",
    )
});

#[derive(Clone)]
pub(super) struct Store {
    leases: StreamLeases,
    prefix: Arc<str>,
}

impl Store {
    pub(super) fn new(leases: StreamLeases, prefix: &str) -> Self {
        Store {
            leases,
            prefix: prefix.into(),
        }
    }

    pub(super) fn ttl(&self) -> Duration {
        self.leases.ttl()
    }

    pub(super) fn renew_interval(&self) -> Duration {
        self.leases.renew_interval()
    }

    fn record_prefix(&self) -> String {
        format!("{}info:", self.prefix)
    }

    fn record_key(&self, stream_id: &str) -> String {
        format!("{}info:{stream_id}", self.prefix)
    }

    fn index_key(&self) -> String {
        format!("{}index", self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}handed-over", self.prefix)
    }

    pub(super) async fn acquire(&self, stream_id: &str) -> Result<Lease, LeaseError> {
        self.leases.acquire(stream_id).await
    }

    pub(super) async fn release(&self, lease: &Lease) -> Result<(), LeaseError> {
        self.leases.release(lease).await
    }

    /// Runs `script` ([`SAVE`] or [`FORGET`]) on the stream's keys (lease, record, index) with
    /// `ARGV` lease value, record TTL in ms, stream id, `record`, lease TTL in ms, `event_ts`.
    async fn run<T: ::redis::FromRedisValue>(
        &self,
        script: &Script,
        lease: &Lease,
        record: &str,
        event_ts: Option<u64>,
    ) -> Result<T, LeaseError> {
        let stream_id = lease.stream_id();
        let mut invocation = script.key(self.leases.key(stream_id));
        invocation
            .key(self.record_key(stream_id))
            .key(self.index_key())
            .arg(lease.value())
            .arg(millis(self.ttl() * 3))
            .arg(stream_id)
            .arg(record)
            .arg(millis(self.ttl()))
            .arg(event_ts.map(|ts| ts.to_string()).unwrap_or_default());
        let mut conn = self.leases.connection().clone();
        Ok(timed(self.leases.timeout(), invocation.invoke_async(&mut conn)).await?)
    }

    /// Renews `lease` and writes `record` (started at `event_ts`) if it is newer than the
    /// stored one (or, when `None`, refreshes the stored one) while `lease` is held; returns
    /// the stored record (empty if none), `None` when the lease is not held.
    pub(super) async fn save(
        &self,
        lease: &Lease,
        record: Option<&str>,
        event_ts: Option<u64>,
    ) -> Result<Option<String>, LeaseError> {
        self.run(&SAVE, lease, record.unwrap_or(""), event_ts).await
    }

    /// Replaces the record (a failover webhook that reached a replica that does not hold the
    /// stream) if it exists and the new one is newer; the holder picks it up at its next
    /// renewal.
    pub(super) async fn update(
        &self,
        stream_id: &str,
        record: &str,
        event_ts: Option<u64>,
    ) -> Result<(), LeaseError> {
        let mut invocation = UPDATE.key(self.record_key(stream_id));
        invocation
            .arg(record)
            .arg(event_ts.map(|ts| ts.to_string()).unwrap_or_default());
        let mut conn = self.leases.connection().clone();
        let _: i64 = timed(self.leases.timeout(), invocation.invoke_async(&mut conn)).await?;
        Ok(())
    }

    /// The stream's record (`None`: none, or unreadable).
    pub(super) async fn load(&self, stream_id: &str) -> Result<Option<RtmsStarted>, LeaseError> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(self.record_key(stream_id));
        let mut conn = self.leases.connection().clone();
        let record: Option<String> =
            timed(self.leases.timeout(), cmd.query_async(&mut conn)).await?;
        Ok(record.as_deref().and_then(parse_record))
    }

    /// The stream ended: deletes record and lease, if the lease is still `lease`.
    pub(super) async fn forget(&self, lease: &Lease) -> Result<(), LeaseError> {
        let _: i64 = self.run(&FORGET, lease, "", None).await?;
        Ok(())
    }

    /// A hand-over: deletes the lease, if still `lease`, keeps the record, and tells the
    /// other replicas.
    pub(super) async fn hand_over(&self, lease: &Lease) -> Result<(), LeaseError> {
        let stream_id = lease.stream_id();
        let mut invocation = HAND_OVER.key(self.leases.key(stream_id));
        invocation
            .key(self.record_key(stream_id))
            .arg(lease.value())
            .arg(self.channel())
            .arg(stream_id);
        let mut conn = self.leases.connection().clone();
        let _: i64 = timed(self.leases.timeout(), invocation.invoke_async(&mut conn)).await?;
        Ok(())
    }

    /// Sends the id of every stream handed over to `tx`, from a subscription of its own
    /// (re-subscribing after `retry` when it fails), until `tx` is closed.
    pub(super) async fn listen(self, retry: Duration, tx: mpsc::UnboundedSender<String>) {
        while !tx.is_closed() {
            let subscribed = async {
                let mut pubsub = self.leases.redis().pubsub().await?;
                pubsub.subscribe(self.channel()).await?;
                Ok::<_, ::redis::RedisError>(pubsub)
            };
            if let Ok(Ok(pubsub)) =
                tokio::time::timeout(retry.max(self.leases.timeout()), subscribed).await
            {
                let mut messages = std::pin::pin!(pubsub.into_on_message());
                while let Some(message) =
                    std::future::poll_fn(|cx| messages.as_mut().poll_next(cx)).await
                {
                    if let Ok(id) = message.get_payload::<String>() {
                        if tx.send(id).is_err() {
                            return;
                        }
                    }
                }
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// The stream ended but another replica holds it: delete the record so that nobody
    /// takes it over (the holder's connection ends and frees the lease).
    pub(super) async fn drop_record(&self, stream_id: &str) -> Result<(), LeaseError> {
        let mut pipe = ::redis::pipe();
        pipe.cmd("DEL")
            .arg(self.record_key(stream_id))
            .ignore()
            .cmd("SREM")
            .arg(self.index_key())
            .arg(stream_id)
            .ignore();
        let mut conn = self.leases.connection().clone();
        let () = timed(self.leases.timeout(), pipe.query_async(&mut conn)).await?;
        Ok(())
    }

    /// Stream ids with a record and no lease: candidates for a takeover.
    pub(super) async fn free(&self) -> Result<Vec<String>, LeaseError> {
        let mut invocation = FREE.key(self.index_key());
        invocation
            .arg(self.record_prefix())
            .arg(self.leases.prefix());
        let mut conn = self.leases.connection().clone();
        Ok(timed(self.leases.timeout(), invocation.invoke_async(&mut conn)).await?)
    }
}

/// The stream record: the `rtms_started` event reduced to what a takeover needs (event
/// name and time, the product's id, the stream id, the one server URL in use), as a webhook
/// body.
pub(super) fn record(started: &RtmsStarted, url: &ServerUrl) -> String {
    let mut payload = serde_json::Map::new();
    payload.insert(
        started.instance.field.as_str().to_owned(),
        started.instance.value.clone().into(),
    );
    payload.insert(
        "rtms_stream_id".to_owned(),
        started.rtms_stream_id.clone().into(),
    );
    payload.insert("server_urls".to_owned(), url.as_str().into());
    let mut body = serde_json::json!({ "event": started.event, "payload": payload });
    if let Some(ts) = started.event_ts {
        body["event_ts"] = ts.into();
    }
    body.to_string()
}

/// A stream record read back (`None` if it is not one).
pub(super) fn parse_record(record: &str) -> Option<RtmsStarted> {
    match WebhookEvent::parse(record.as_bytes()) {
        Ok(WebhookEvent::RtmsStarted(started)) => Some(started),
        _ => None,
    }
}
