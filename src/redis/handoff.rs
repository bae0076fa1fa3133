//! Durable hand-off: [`RedisStreamHandoff`] appends each accepted event to a Redis Stream
//! before the `2xx` is sent. [`RedisStreamWorker`](super::RedisStreamWorker)s consume it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::streams::StreamId;

use super::{timed, ConnectionManager, DEFAULT_OP_TIMEOUT};
use crate::event::WebhookEvent;
use crate::receiver::{Delivery, Handoff, HandoffError};

/// Default stream key: `zoom-rtms:events`.
///
/// ```
/// assert_eq!(zoom_rtms_webhooks::redis::DEFAULT_STREAM_KEY, "zoom-rtms:events");
/// ```
pub const DEFAULT_STREAM_KEY: &str = "zoom-rtms:events";

/// The layout of a stream entry: written by [`RedisStreamHandoff::append`], read back by
/// [`decode`] (in the worker).
pub(super) mod entry {
    /// Field holding the layout version, [`VERSION`].
    pub(crate) const VERSION_FIELD: &str = "v";
    /// Version of the layout.
    pub(crate) const VERSION: &str = "1";
    /// The raw request body, exactly as signed.
    pub(crate) const BODY: &str = "body";
    /// The de-duplication key.
    pub(crate) const DEDUP_KEY: &str = "dedup_key";
    /// The label of the secret that verified the request (a name, never a secret).
    pub(crate) const SECRET_LABEL: &str = "secret_label";
    /// `x-zm-request-timestamp`.
    pub(crate) const TIMESTAMP: &str = "timestamp";
    /// When the receiver appended the entry (Unix ms).
    pub(crate) const RECEIVED_AT_MS: &str = "received_at_ms";
}

/// Rebuilds the [`Delivery`] from a stream entry written by [`RedisStreamHandoff::append`], or
/// says why it cannot (the entry then goes to the dead-letter stream).
pub(super) fn decode(stream_entry: &StreamId) -> Result<Delivery, String> {
    let body: Vec<u8> = stream_entry
        .get(entry::BODY)
        .ok_or_else(|| "entry has no body".to_owned())?;
    let event = WebhookEvent::parse(&body).map_err(|e| format!("body does not parse: {e}"))?;
    let dedup_key = stream_entry
        .get::<String>(entry::DEDUP_KEY)
        .unwrap_or_else(|| crate::dedup::dedup_key(&event, &body));
    let secret_label = stream_entry
        .get::<String>(entry::SECRET_LABEL)
        .unwrap_or_default();
    let timestamp = stream_entry.get::<u64>(entry::TIMESTAMP).unwrap_or(0);
    Ok(Delivery::new(event, dedup_key, secret_label, timestamp))
}

/// A [`Handoff`] that appends each accepted event to a Redis Stream, so that an event
/// acknowledged to Zoom survives the death of the process that acknowledged it.
///
/// The receiver awaits [`hand_off`](Handoff::hand_off) before it answers, so the `200` is sent
/// only after Redis stored the entry:
///
/// `XADD {stream_key} [MAXLEN ~ {max_len}] * v 1 body {raw body} dedup_key {key}
/// secret_label {label} timestamp {x-zm-request-timestamp} received_at_ms {now}`
///
/// The raw body is stored, not a re-serialisation: a worker re-parses it with
/// [`WebhookEvent::parse`], so nothing the typed model does not keep is lost. The secret label is
/// a name, never a secret.
///
/// If Redis fails ([`HandoffError::Unavailable`], holding the [`RedisError`](super::RedisError))
/// or does not answer within the timeout ([`DEFAULT_OP_TIMEOUT`], [`HandoffError::Timeout`]),
/// the receiver undoes the de-duplication mark and answers `503`, and Zoom delivers the event
/// again later. (If Redis stored the entry but the answer came too late, the retry is stored
/// again: handlers see events at least once.)
///
/// Entries carry no signature: a worker trusts whatever is in the stream. Redis is inside the
/// trust boundary (see the [module documentation](super#trust-boundary)).
///
/// `MAXLEN ~` is off by default: a trimmed entry that no worker has handled yet is lost. Set
/// [`with_max_len`](RedisStreamHandoff::with_max_len) well above any backlog you expect, as a
/// guard against unbounded growth when no worker runs. With the default
/// [`StreamWorkerConfig::delete_on_ack`](super::StreamWorkerConfig::delete_on_ack), handled
/// entries are deleted and the stream only holds the backlog.
///
/// # Example
///
/// ```no_run
/// use zoom_rtms_webhooks::Receiver;
/// use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator, RedisStreamHandoff};
/// use zoom_rtms_webhooks::Verifier;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let conn = connect("redis://127.0.0.1:6379/").await?;
/// let receiver = Receiver::new(
///     Verifier::new("secret")?,
///     RedisDeduplicator::new(conn.clone()),
///     RedisStreamHandoff::new(conn).with_max_len(1_000_000),
/// );
/// // Serve `receiver`; run a RedisStreamWorker (on this or any replica) to handle the events.
/// # let _ = receiver;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStreamHandoff {
    conn: ConnectionManager,
    stream_key: Arc<str>,
    max_len: Option<usize>,
    timeout: Duration,
}

impl fmt::Debug for RedisStreamHandoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStreamHandoff")
            .field("stream_key", &self.stream_key)
            .field("max_len", &self.max_len)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStreamHandoff {
    /// A hand-off to [`DEFAULT_STREAM_KEY`] on `conn`, without trimming, with
    /// [`DEFAULT_OP_TIMEOUT`].
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisStreamHandoff, DEFAULT_STREAM_KEY};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let handoff = RedisStreamHandoff::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(handoff.stream_key(), DEFAULT_STREAM_KEY);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(conn: impl Into<ConnectionManager>) -> Self {
        let conn = conn.into();
        RedisStreamHandoff {
            conn,
            stream_key: DEFAULT_STREAM_KEY.into(),
            max_len: None,
            timeout: DEFAULT_OP_TIMEOUT,
        }
    }

    /// Sets the stream key (default [`DEFAULT_STREAM_KEY`]); the workers must read the same key
    /// ([`StreamWorkerConfig::stream_key`](super::StreamWorkerConfig::stream_key)).
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisStreamHandoff};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let handoff = RedisStreamHandoff::new(connect("redis://127.0.0.1/").await?)
    ///     .with_stream_key("app:events");
    /// assert_eq!(handoff.stream_key(), "app:events");
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_stream_key(mut self, key: impl Into<String>) -> Self {
        self.stream_key = key.into().into();
        self
    }

    /// Trims the stream to about `max_len` entries on every append (`MAXLEN ~`). See the type's
    /// documentation: entries not yet handled can be trimmed too.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisStreamHandoff};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let handoff = RedisStreamHandoff::new(connect("redis://127.0.0.1/").await?)
    ///     .with_max_len(100_000);
    /// assert_eq!(handoff.max_len(), Some(100_000));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = Some(max_len);
        self
    }

    /// Sets how long an append may take (default [`DEFAULT_OP_TIMEOUT`]).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use zoom_rtms_webhooks::redis::{connect, RedisStreamHandoff};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let handoff = RedisStreamHandoff::new(connect("redis://127.0.0.1/").await?)
    ///     .with_timeout(Duration::from_millis(800));
    /// assert_eq!(handoff.timeout(), Duration::from_millis(800));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The stream key.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisStreamHandoff};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let handoff = RedisStreamHandoff::new(connect("redis://127.0.0.1/").await?);
    /// assert_eq!(handoff.stream_key(), "zoom-rtms:events");
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream_key(&self) -> &str {
        &self.stream_key
    }

    /// The `MAXLEN ~` cap, if any.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisStreamHandoff};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// assert_eq!(RedisStreamHandoff::new(connect("redis://127.0.0.1/").await?).max_len(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_len(&self) -> Option<usize> {
        self.max_len
    }

    /// The per-append timeout.
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisStreamHandoff, DEFAULT_OP_TIMEOUT};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// assert_eq!(RedisStreamHandoff::new(connect("redis://127.0.0.1/").await?).timeout(), DEFAULT_OP_TIMEOUT);
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Appends one delivery and returns the new entry's id (what [`Handoff::hand_off`] does).
    ///
    /// # Errors
    ///
    /// [`HandoffError::Unavailable`] (holding the [`RedisError`](super::RedisError)) when Redis
    /// fails, [`HandoffError::Timeout`] when it does not answer in time (the entry may still be
    /// stored later).
    ///
    /// ```no_run
    /// # use zoom_rtms_webhooks::redis::{connect, RedisStreamHandoff};
    /// # use zoom_rtms_webhooks::{Delivery, WebhookEvent};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let handoff = RedisStreamHandoff::new(connect("redis://127.0.0.1/").await?);
    /// let body = br#"{"event":"x.y","payload":{}}"#;
    /// let event = WebhookEvent::parse(body)?;
    /// let key = zoom_rtms_webhooks::dedup::dedup_key(&event, body);
    /// let id = handoff.append(&Delivery::new(event, key, "default", 1_700_000_000), body).await?;
    /// println!("stored as {id}");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn append(
        &self,
        delivery: &Delivery,
        raw_body: &[u8],
    ) -> Result<String, HandoffError> {
        let received_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut cmd = ::redis::cmd("XADD");
        cmd.arg(&*self.stream_key);
        if let Some(max_len) = self.max_len {
            cmd.arg("MAXLEN").arg("~").arg(max_len);
        }
        cmd.arg("*")
            .arg(entry::VERSION_FIELD)
            .arg(entry::VERSION)
            .arg(entry::BODY)
            .arg(raw_body)
            .arg(entry::DEDUP_KEY)
            .arg(&delivery.dedup_key)
            .arg(entry::SECRET_LABEL)
            .arg(&delivery.secret_label)
            .arg(entry::TIMESTAMP)
            .arg(delivery.timestamp)
            .arg(entry::RECEIVED_AT_MS)
            .arg(received_at_ms.to_string());
        let mut conn = self.conn.clone();
        timed(self.timeout, cmd.query_async::<String>(&mut conn))
            .await
            .map_err(HandoffError::from)
    }
}

impl Handoff for RedisStreamHandoff {
    async fn hand_off<'a>(
        &'a self,
        delivery: Delivery,
        raw_body: &'a [u8],
    ) -> Result<(), HandoffError> {
        self.append(&delivery, raw_body).await.map(|_id| ())
    }
}
