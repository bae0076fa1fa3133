//! The stream supervisor: plugs into the receiver's handler and keeps one RTMS connection per
//! stream in the process (with Redis, in the whole deployment), reconnecting and failing over
//! as the webhooks say. See [`Supervisor`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(feature = "redis")]
use std::sync::Weak;
use std::sync::{Arc, Mutex};
#[cfg(feature = "redis")]
use std::time::Duration;

use tokio::sync::watch;

use super::{connect_session, ConnectError, Item, Items, Options, StreamHandle};
use crate::event::{RtmsStarted, WebhookEvent};
use crate::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
use crate::protocol::media::MediaParams;
use crate::protocol::session::{SessionConfig, Webhook};
use crate::region::{HostPolicy, ServerUrl, ServerUrlError};
use crate::Product;

#[cfg(feature = "redis")]
mod store;
#[cfg(feature = "redis")]
pub use store::DEFAULT_SUPERVISOR_PREFIX;

#[cfg(feature = "redis")]
use crate::redis::{Lease, LeaseError, LeaseKeeper, StreamLeases};

type OnStream =
    Arc<dyn Fn(SupervisedStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
type Configure = Arc<dyn Fn(SessionConfig, &RtmsStarted) -> SessionConfig + Send + Sync>;

/// One connection the [`Supervisor`] made, handed to its per-stream callback: the stream's
/// ids, its [`StreamHandle`] and its [`Items`]. The connection lives while the items are
/// read: dropping the `SupervisedStream` (returning from the callback) closes the stream.
///
/// ```no_run
/// use zoom_rtms_webhooks::client::{Item, SupervisedStream};
/// async fn on_stream(mut stream: SupervisedStream) {
///     println!("stream {} ({}) via {}", stream.id(), stream.product(), stream.server_url());
///     while let Some(item) = stream.next().await {
///         if let Item::Transcript(t) = item {
///             println!("{}: {}", t.source.user_name().unwrap_or("?"), t.text);
///         }
///     }
/// }
/// ```
#[derive(Debug)]
pub struct SupervisedStream {
    id: String,
    product: Product,
    server_url: ServerUrl,
    fencing_token: Option<u64>,
    handle: StreamHandle,
    items: Items,
}

impl SupervisedStream {
    /// The `rtms_stream_id`.
    ///
    /// ```no_run
    /// # fn f(stream: zoom_rtms_webhooks::client::SupervisedStream) {
    /// println!("{}", stream.id());
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The product of the stream (meeting, webinar, ...).
    ///
    /// ```no_run
    /// # fn f(stream: zoom_rtms_webhooks::client::SupervisedStream) {
    /// println!("{}", stream.product());
    /// # }
    /// ```
    pub fn product(&self) -> Product {
        self.product
    }

    /// The signalling URL this connection dialled first (a failover moves the stream to
    /// another one).
    ///
    /// ```no_run
    /// # fn f(stream: zoom_rtms_webhooks::client::SupervisedStream) {
    /// println!("{}", stream.server_url());
    /// # }
    /// ```
    pub fn server_url(&self) -> &ServerUrl {
        &self.server_url
    }

    /// With leases (`Supervisor::with_leases`, feature `redis`): the fencing token of the lease this connection holds
    /// (pass it with every write the stream's processing makes elsewhere); `None` without
    /// leases.
    ///
    /// ```no_run
    /// # fn f(stream: zoom_rtms_webhooks::client::SupervisedStream) {
    /// if let Some(token) = stream.fencing_token() {
    ///     println!("fencing token {token}");
    /// }
    /// # }
    /// ```
    pub fn fencing_token(&self) -> Option<u64> {
        self.fencing_token
    }

    /// The connection's handle (video subscription, close).
    ///
    /// ```no_run
    /// # fn f(stream: zoom_rtms_webhooks::client::SupervisedStream) {
    /// stream.handle().subscribe_video(16778240, true);
    /// # }
    /// ```
    pub fn handle(&self) -> &StreamHandle {
        &self.handle
    }

    /// The connection's items.
    ///
    /// ```no_run
    /// # fn f(mut stream: zoom_rtms_webhooks::client::SupervisedStream) {
    /// println!("{} items waiting", stream.items().len());
    /// # }
    /// ```
    pub fn items(&mut self) -> &mut Items {
        &mut self.items
    }

    /// The next item ([`Items::next`]): `None` once the connection has ended (after
    /// [`Item::Ended`] or [`Item::Failed`], or at once when the stream's lease was lost).
    ///
    /// ```no_run
    /// # async fn f(mut stream: zoom_rtms_webhooks::client::SupervisedStream) {
    /// while let Some(item) = stream.next().await {
    ///     println!("{item:?}");
    /// }
    /// # }
    /// ```
    pub async fn next(&mut self) -> Option<Item> {
        self.items.next().await
    }
}

/// What [`Supervisor::handle`] did with an event.
///
/// ```
/// use zoom_rtms_webhooks::client::Handled;
/// assert_ne!(Handled::Connecting, Handled::Ignored);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handled {
    /// `rtms_started` (or a takeover): a new connection was started and the callback spawned.
    Connecting,
    /// `rtms_started` for a stream connected here: failover to the new URL, same connection.
    FailedOver,
    /// The very `rtms_started` (same `event_ts` and URL) that started the stream's connection
    /// here: a duplicate delivery, nothing done; or an earlier one (a smaller `event_ts`: a
    /// late retry, never followed back to its servers). Also `rtms_interrupted` for a stream
    /// this replica has just taken over.
    AlreadyConnected,
    /// `rtms_interrupted` for a stream connected here: it reconnects.
    Reconnecting,
    /// `rtms_stopped` for a stream connected here: it ends.
    Stopping,
    /// The host policy refused the event's (or the stored) server URL: nothing was dialled,
    /// and the stream has no connection here.
    Refused {
        /// The refused URL as given (empty when the event had none).
        url: String,
        /// Why it was refused.
        error: ServerUrlError,
    },
    /// `rtms_started` for a stream connected here (a failover) named a server URL the host
    /// policy refuses: not dialled; the connection goes on, on its current server.
    FailoverRefused {
        /// The refused URL as given (empty when the event had none).
        url: String,
        /// Why it was refused.
        error: ServerUrlError,
    },
    /// With leases: another replica holds the stream (a failover URL is passed on to it
    /// through Redis).
    HeldElsewhere,
    /// `rtms_interrupted` / `rtms_stopped` for a stream not connected here (with leases, a
    /// stopped stream's record is deleted so that nobody takes it over, and the holder ends
    /// its connection at its next renewal).
    NotConnected,
    /// Not a stream lifecycle event.
    Ignored,
}

/// Why [`Supervisor::handle`] failed. Nothing was connected.
///
/// ```
/// use zoom_rtms_webhooks::client::SupervisorError;
/// assert_eq!(SupervisorError::ShutDown.to_string(), "the supervisor is shut down");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// The connection could not start (configuration, TLS, no runtime).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// With leases: Redis could not say whether the stream is ours (fail closed; a retried
    /// delivery tries again).
    #[cfg(feature = "redis")]
    #[error("stream lease: {0}")]
    Lease(#[from] LeaseError),
    /// [`Supervisor::shutdown`] was called.
    #[error("the supervisor is shut down")]
    ShutDown,
}

#[derive(Clone)]
struct Config {
    credentials: Credentials,
    on_stream: OnStream,
    policy: HostPolicy,
    media_types: MediaTypes,
    params: MediaParams,
    configure: Option<Configure>,
    options: Options,
    #[cfg(feature = "redis")]
    leases: Option<StreamLeases>,
    #[cfg(feature = "redis")]
    prefix: String,
    #[cfg(feature = "redis")]
    takeover_interval: Option<Duration>,
}

struct Conn {
    handle: StreamHandle,
    url: ServerUrl,
    /// The `event_ts` of the `rtms_started` that made or last moved the connection.
    event_ts: Option<u64>,
    #[cfg(feature = "redis")]
    lease: Option<Lease>,
    /// Set once the connection's watcher has cleaned up after it.
    cleaned: watch::Receiver<bool>,
}

#[derive(Default)]
struct Entry {
    conn: Option<Conn>,
    generation: u64,
    /// Taken out of the map: look the stream up again.
    removed: bool,
}

type Slot = Arc<tokio::sync::Mutex<Entry>>;

struct State {
    streams: Mutex<HashMap<String, Slot>>,
    closed: AtomicBool,
    /// Connections whose watcher has not finished.
    live: watch::Sender<usize>,
    /// Per-stream callbacks that have not returned.
    callbacks: watch::Sender<usize>,
    #[cfg(feature = "redis")]
    takeover: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Set by [`Supervisor::hand_over`]: connections end without closing the streams, and
    /// their leases are released with their records kept.
    #[cfg(feature = "redis")]
    handing_over: AtomicBool,
}

/// Keeps one RTMS connection per stream, driven by the webhooks: `rtms_started` connects
/// (or, for a stream already connected, fails over to the new URL at once), `rtms_interrupted`
/// reconnects, `rtms_stopped` ends the stream. Call [`handle`](Supervisor::handle) from the
/// receiver's handler with every event; it returns quickly (the media flows in spawned tasks)
/// and runs the per-stream callback once for every connection it makes.
///
/// - **One connection per stream:** concurrent `handle` calls for one stream serialise on a
///   per-stream entry, so duplicate deliveries never make a second connection.
/// - **Host policy:** a server URL that [`with_host_policy`](Supervisor::with_host_policy)
///   refuses is never dialled ([`Handled::Refused`]).
/// - **With Redis** (`with_leases`, feature `redis`): only the holder of the stream's lease
///   connects. While connected it renews the lease (and the stream record) and drops the
///   connection at once, without a stream close request, when the lease is lost or when no
///   renewal has succeeded for nine tenths of the TTL (Redis down: the lease may expire). What
///   a takeover needs (product, ids, event time, server URL; never the signature or the
///   secret) is kept in Redis next to the lease. A background loop
///   (`start`, every `takeover_interval`) takes over streams whose
///   holder died once their lease expires: the stream is back within the lease TTL plus one
///   takeover interval, never with two connections at once. `rtms_started`, `rtms_stopped`
///   delivered to a replica that does not hold the stream reach the holder through the record
///   at its next renewal; `rtms_interrupted` there takes the stream over if its lease is free.
///   Keys: see `DEFAULT_SUPERVISOR_PREFIX`.
///
/// Configure it before cloning it: clones share the streams, and a setter called on one clone
/// does not change the others.
///
/// ```no_run
/// use zoom_rtms_webhooks::client::{Handled, Item, SupervisedStream, Supervisor};
/// use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes};
/// use zoom_rtms_webhooks::protocol::media::MediaParams;
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// # async fn run(events: Vec<WebhookEvent>) -> Result<(), Box<dyn std::error::Error>> {
/// let creds = Credentials::new("client_id", "client_secret")?;
/// let supervisor = Supervisor::new(creds, |mut stream: SupervisedStream| async move {
///     while let Some(item) = stream.next().await {
///         match item {
///             Item::Transcript(t) => println!("{}: {}", stream.id(), t.text),
///             Item::Ended(_) | Item::Failed(_) => break,
///             _ => {}
///         }
///     }
/// })
/// .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new());
///
/// // In the receiver's handler, for every delivered event:
/// for event in &events {
///     if let Handled::Refused { url, .. } = supervisor.handle(event).await? {
///         eprintln!("refused stream={:?} url={url}", event.rtms_stream_id());
///     }
/// }
/// supervisor.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Supervisor {
    config: Arc<Config>,
    state: Arc<State>,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let streams = self.state.streams.lock().map_or(0, |m| m.len());
        f.debug_struct("Supervisor")
            .field("client_id", &self.config.credentials.client_id())
            .field("policy", &self.config.policy)
            .field("media_types", &self.config.media_types)
            .field("streams", &streams)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// A supervisor that signs handshakes with `credentials` and runs `on_stream` (in its own
    /// task) for every connection it makes. Defaults: [`HostPolicy::default`] (`wss://` on
    /// `zoom.us` only), audio with default parameters, [`Options::default`], no leases.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Supervisor;
    /// use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let supervisor = Supervisor::new(creds, |_stream| async {});
    /// assert_eq!(supervisor.media_types(), MediaTypes::AUDIO);
    /// ```
    pub fn new<F, Fut>(credentials: Credentials, on_stream: F) -> Self
    where
        F: Fn(SupervisedStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_stream: OnStream = Arc::new(move |stream| Box::pin(on_stream(stream)));
        Supervisor {
            config: Arc::new(Config {
                credentials,
                on_stream,
                policy: HostPolicy::default(),
                media_types: MediaTypes::AUDIO,
                params: MediaParams::new(),
                configure: None,
                options: Options::default(),
                #[cfg(feature = "redis")]
                leases: None,
                #[cfg(feature = "redis")]
                prefix: DEFAULT_SUPERVISOR_PREFIX.to_owned(),
                #[cfg(feature = "redis")]
                takeover_interval: None,
            }),
            state: Arc::new(State {
                streams: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
                live: watch::Sender::new(0),
                callbacks: watch::Sender::new(0),
                #[cfg(feature = "redis")]
                takeover: Mutex::new(None),
                #[cfg(feature = "redis")]
                handing_over: AtomicBool::new(false),
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// The host policy every server URL must pass before it is dialled (default
    /// [`HostPolicy::default`]); also given to each stream's [`SessionConfig`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Supervisor;
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::region::HostPolicy;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let local = HostPolicy::default().with_allowed_host("127.0.0.1").with_insecure_ws(true);
    /// let supervisor = Supervisor::new(creds, |_s| async {}).with_host_policy(local.clone());
    /// assert_eq!(supervisor.host_policy(), &local);
    /// ```
    #[must_use]
    pub fn with_host_policy(mut self, policy: HostPolicy) -> Self {
        self.config_mut().policy = policy;
        self
    }

    /// See [`with_host_policy`](Supervisor::with_host_policy).
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// assert_eq!(s.host_policy(), &zoom_rtms_webhooks::region::HostPolicy::default());
    /// ```
    pub fn host_policy(&self) -> &HostPolicy {
        &self.config.policy
    }

    /// The media every stream asks for ([`SessionConfig::with_media`]; default audio, default
    /// parameters).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Supervisor;
    /// use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes};
    /// use zoom_rtms_webhooks::protocol::media::MediaParams;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let s = Supervisor::new(creds, |_s| async {})
    ///     .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new());
    /// assert_eq!(s.media_types(), MediaTypes::AUDIO | MediaTypes::TRANSCRIPT);
    /// assert_eq!(s.media_params(), &MediaParams::new());
    /// ```
    #[must_use]
    pub fn with_media(mut self, types: MediaTypes, params: MediaParams) -> Self {
        let config = self.config_mut();
        config.media_types = types;
        config.params = params;
        self
    }

    /// See [`with_media`](Supervisor::with_media).
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// let _ = s.media_types();
    /// ```
    pub fn media_types(&self) -> MediaTypes {
        self.config.media_types
    }

    /// See [`with_media`](Supervisor::with_media).
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// let _ = s.media_params();
    /// ```
    pub fn media_params(&self) -> &MediaParams {
        &self.config.params
    }

    /// A last per-stream tweak of the [`SessionConfig`] (events, split sockets, timing, id
    /// keys...), given the `rtms_started` event (rebuilt from Redis on a takeover). The host
    /// policy and media are already set.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Supervisor;
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let s = Supervisor::new(creds, |_s| async {})
    ///     .with_configure(|config, _started| config.with_split_sockets(true));
    /// # let _ = s;
    /// ```
    #[must_use]
    pub fn with_configure<F>(mut self, configure: F) -> Self
    where
        F: Fn(SessionConfig, &RtmsStarted) -> SessionConfig + Send + Sync + 'static,
    {
        self.config_mut().configure = Some(Arc::new(configure));
        self
    }

    /// The driver [`Options`] of every connection (default [`Options::default`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Options, Supervisor};
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let s = Supervisor::new(creds, |_s| async {})
    ///     .with_options(Options::default().with_queue_capacity(64));
    /// assert_eq!(s.options().queue_capacity(), 64);
    /// ```
    #[must_use]
    pub fn with_options(mut self, options: Options) -> Self {
        self.config_mut().options = options;
        self
    }

    /// See [`with_options`](Supervisor::with_options).
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// assert_eq!(s.options().queue_capacity(), 1024);
    /// ```
    pub fn options(&self) -> &Options {
        &self.config.options
    }

    /// Handles one webhook event: see [`Handled`] for what can happen. Returns once the
    /// decision is made (with leases, after a few Redis calls); the connection and the
    /// per-stream callback run in spawned tasks. Must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Connect`] when the connection cannot start, `Lease` when Redis
    /// cannot answer (nothing is connected: fail the delivery so that it is retried),
    /// `ShutDown` after [`shutdown`](Supervisor::shutdown).
    ///
    /// ```no_run
    /// # async fn f(supervisor: zoom_rtms_webhooks::client::Supervisor, event: zoom_rtms_webhooks::WebhookEvent) -> Result<(), zoom_rtms_webhooks::client::SupervisorError> {
    /// let handled = supervisor.handle(&event).await?;
    /// # Ok(()) }
    /// ```
    pub async fn handle(&self, event: &WebhookEvent) -> Result<Handled, SupervisorError> {
        if self.state.closed.load(Ordering::SeqCst) {
            return Err(SupervisorError::ShutDown);
        }
        #[cfg(feature = "redis")]
        self.start();
        match event {
            WebhookEvent::RtmsStarted(started) => self.started(started).await,
            WebhookEvent::RtmsInterrupted(e) => self.interrupted(&e.rtms_stream_id).await,
            WebhookEvent::RtmsStopped(e) => self.stopped(&e.rtms_stream_id).await,
            _ => Ok(Handled::Ignored),
        }
    }

    /// Closes every stream connected here (stream close request 21, then 22, bounded), waits
    /// for their connections to finish and for their callbacks to return (a callback that
    /// reads its items until `None` returns once its connection ends), and (with leases)
    /// releases their leases and deletes their records. Later [`handle`](Supervisor::handle) calls fail with
    /// [`SupervisorError::ShutDown`].
    ///
    /// ```no_run
    /// # async fn f(supervisor: zoom_rtms_webhooks::client::Supervisor) {
    /// supervisor.shutdown().await;
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        self.state.closed.store(true, Ordering::SeqCst);
        #[cfg(feature = "redis")]
        if let Some(task) = self.state.takeover.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        let mut closing = tokio::task::JoinSet::new();
        for slot in self.slots() {
            let handle = slot.lock().await.conn.as_ref().map(|c| c.handle.clone());
            if let Some(handle) = handle {
                closing.spawn(async move { handle.close().await });
            }
        }
        while closing.join_next().await.is_some() {}
        self.drained().await;
    }

    /// With leases: hands every stream connected here over to the other replicas, for a
    /// restart or a scale-down. Each connection is dropped **without** the stream close
    /// request (21), so the streams go on at Zoom, and each lease is released with its record
    /// kept, so another replica's takeover loop connects within one takeover interval. Later
    /// [`handle`](Supervisor::handle) calls fail with [`SupervisorError::ShutDown`]. (A
    /// [`shutdown`](Supervisor::shutdown), by contrast, ends the streams.) Without leases
    /// there is nobody to hand over to: this is [`shutdown`](Supervisor::shutdown).
    ///
    /// ```no_run
    /// # async fn f(supervisor: zoom_rtms_webhooks::client::Supervisor) {
    /// supervisor.hand_over().await;
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    pub async fn hand_over(&self) {
        if self.config.leases.is_none() {
            return self.shutdown().await;
        }
        self.state.handing_over.store(true, Ordering::SeqCst);
        self.state.closed.store(true, Ordering::SeqCst);
        if let Some(task) = self.state.takeover.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        for slot in self.slots() {
            let handle = slot.lock().await.conn.as_ref().map(|c| c.handle.clone());
            if let Some(handle) = handle {
                handle.abort().await;
            }
        }
        self.drained().await;
    }

    /// Waits until every connection's watcher has finished and every callback has returned.
    async fn drained(&self) {
        let _ = self.state.live.subscribe().wait_for(|n| *n == 0).await;
        let _ = self.state.callbacks.subscribe().wait_for(|n| *n == 0).await;
    }

    /// Every stream entry.
    fn slots(&self) -> Vec<Slot> {
        self.state
            .streams
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// How many streams have a connection (or a connection finishing) in this process.
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// assert_eq!(s.connections(), 0);
    /// ```
    pub fn connections(&self) -> usize {
        *self.state.live.borrow()
    }

    /// The stream's entry, created if missing.
    fn slot(&self, id: &str) -> Slot {
        let mut streams = self.state.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.entry(id.to_owned()).or_default().clone()
    }

    fn existing(&self, id: &str) -> Option<Slot> {
        let streams = self.state.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.get(id).cloned()
    }

    /// Takes an entry without a connection out of the map (the caller holds its lock).
    fn vacate(&self, id: &str, slot: &Slot, entry: &mut Entry) {
        if entry.conn.is_some() {
            return;
        }
        entry.removed = true;
        let mut streams = self.state.streams.lock().unwrap_or_else(|e| e.into_inner());
        if streams.get(id).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            streams.remove(id);
        }
    }

    /// The live connection of `id`, if any.
    async fn live(&self, id: &str) -> Option<StreamHandle> {
        let slot = self.existing(id)?;
        let entry = slot.lock().await;
        entry
            .conn
            .as_ref()
            .filter(|c| !c.handle.is_finished())
            .map(|c| c.handle.clone())
    }

    async fn started(&self, started: &RtmsStarted) -> Result<Handled, SupervisorError> {
        let id = started.rtms_stream_id.as_str();
        let url = match first_url(started, &self.config.policy) {
            Ok(url) => url,
            Err(Handled::Refused { url, error }) if self.live(id).await.is_some() => {
                return Ok(Handled::FailoverRefused { url, error });
            }
            Err(refused) => return Ok(refused),
        };
        loop {
            let slot = self.slot(id);
            let mut entry = slot.lock().await;
            if entry.removed {
                continue;
            }
            if let Some(conn) = entry.conn.as_mut() {
                if conn.handle.is_finished() {
                    // Ended, its watcher not done yet: wait for it, then start afresh.
                    let mut cleaned = conn.cleaned.clone();
                    drop(entry);
                    let _ = cleaned.wait_for(|c| *c).await;
                    continue;
                }
                if started.event_ts.is_some()
                    && started.event_ts == conn.event_ts
                    && conn.url == url
                {
                    return Ok(Handled::AlreadyConnected);
                }
                if let (Some(new), Some(current)) = (started.event_ts, conn.event_ts) {
                    if new < current {
                        // A late retry of an earlier start: never move back to its servers.
                        return Ok(Handled::AlreadyConnected);
                    }
                }
                conn.handle.webhook(Webhook::Started {
                    server_url: url.clone(),
                });
                conn.url = url.clone();
                conn.event_ts = started.event_ts;
                #[cfg(feature = "redis")]
                if let (Some(store), Some(lease)) = (self.store(), conn.lease.as_ref()) {
                    store.save(lease, Some(&record(started, &url))).await?;
                }
                return Ok(Handled::FailedOver);
            }
            #[cfg(feature = "redis")]
            let lease = match self.store() {
                None => None,
                Some(store) => match store.acquire(id).await {
                    Ok(lease) => Some(lease),
                    Err(LeaseError::Held(_)) => {
                        self.vacate(id, &slot, &mut entry);
                        // Pass the failover URL on to the holder (it reads the record at its
                        // next renewal); no record: the holder is still starting.
                        store.update(id, &record(started, &url)).await?;
                        return Ok(Handled::HeldElsewhere);
                    }
                    Err(e) => {
                        self.vacate(id, &slot, &mut entry);
                        return Err(e.into());
                    }
                },
            };
            let launched = self
                .launch(
                    &slot,
                    &mut entry,
                    started,
                    url,
                    #[cfg(feature = "redis")]
                    lease,
                )
                .await;
            // Not connected (an error, or the lease lost before the connection was made): the
            // entry goes, so the map keeps no empty entries.
            if entry.conn.is_none() {
                self.vacate(id, &slot, &mut entry);
            }
            return launched;
        }
    }

    async fn interrupted(&self, id: &str) -> Result<Handled, SupervisorError> {
        if let Some(handle) = self.live(id).await {
            handle.webhook(Webhook::Interrupted);
            return Ok(Handled::Reconnecting);
        }
        #[cfg(feature = "redis")]
        if self.config.leases.is_some() {
            // The holder may have died: take the stream over now if its lease is free.
            return self.take_over(id).await;
        }
        Ok(Handled::NotConnected)
    }

    async fn stopped(&self, id: &str) -> Result<Handled, SupervisorError> {
        if let Some(handle) = self.live(id).await {
            handle.webhook(Webhook::Stopped);
            return Ok(Handled::Stopping);
        }
        #[cfg(feature = "redis")]
        if let Some(store) = self.store() {
            store.drop_record(id).await?;
        }
        Ok(Handled::NotConnected)
    }

    /// Connects `started` at `url` (the entry is locked and has no connection) and spawns the
    /// callback and the connection's watcher.
    async fn launch(
        &self,
        slot: &Slot,
        entry: &mut Entry,
        started: &RtmsStarted,
        url: ServerUrl,
        #[cfg(feature = "redis")] lease: Option<Lease>,
    ) -> Result<Handled, SupervisorError> {
        // The lease is ours at least until a TTL after the save (which renews it) was sent.
        #[cfg(feature = "redis")]
        let sent = tokio::time::Instant::now();
        #[cfg(feature = "redis")]
        let keeper = match (self.store(), lease) {
            (Some(store), Some(lease)) => {
                let saved = store.save(&lease, Some(&record(started, &url))).await;
                match saved {
                    Ok(Some(_)) => Some(store.keep_alive(lease)),
                    // Lost between acquire and save.
                    Ok(None) => return Ok(Handled::HeldElsewhere),
                    Err(e) => {
                        let _ = store.forget(&lease).await;
                        return Err(e.into());
                    }
                }
            }
            _ => None,
        };
        if self.state.closed.load(Ordering::SeqCst) {
            #[cfg(feature = "redis")]
            self.forget(keeper.as_ref()).await;
            return Err(SupervisorError::ShutDown);
        }
        let config = self.session_config(started);
        let (handle, items) =
            match connect_session(config, url.clone(), self.config.options.clone()) {
                Ok(pair) => pair,
                Err(e) => {
                    #[cfg(feature = "redis")]
                    self.forget(keeper.as_ref()).await;
                    return Err(e.into());
                }
            };
        entry.generation += 1;
        let (cleaned_tx, cleaned) = watch::channel(false);
        entry.conn = Some(Conn {
            handle: handle.clone(),
            url: url.clone(),
            event_ts: started.event_ts,
            #[cfg(feature = "redis")]
            lease: keeper.as_ref().map(|k| k.lease().clone()),
            cleaned,
        });
        self.state.live.send_modify(|n| *n += 1);
        let stream = SupervisedStream {
            id: started.rtms_stream_id.clone(),
            product: started.product,
            server_url: url,
            #[cfg(feature = "redis")]
            fencing_token: keeper.as_ref().map(|k| k.lease().fencing_token()),
            #[cfg(not(feature = "redis"))]
            fencing_token: None,
            handle: handle.clone(),
            items,
        };
        let callback = (self.config.on_stream)(stream);
        let state = Arc::clone(&self.state);
        state.callbacks.send_modify(|n| *n += 1);
        tokio::spawn(async move {
            // Counted until it returns, even if it panics: `shutdown` waits for every callback.
            struct Done(Arc<State>);
            impl Drop for Done {
                fn drop(&mut self) {
                    self.0.callbacks.send_modify(|n| *n -= 1);
                }
            }
            let _done = Done(state);
            callback.await;
        });
        let watcher = Watcher {
            supervisor: self.clone(),
            id: started.rtms_stream_id.clone(),
            slot: slot.clone(),
            generation: entry.generation,
            handle,
            cleaned: cleaned_tx,
            #[cfg(feature = "redis")]
            keeper,
            #[cfg(feature = "redis")]
            valid_from: sent,
        };
        tokio::spawn(watcher.run());
        Ok(Handled::Connecting)
    }

    fn session_config(&self, started: &RtmsStarted) -> SessionConfig {
        let config = &self.config;
        let hello = SignalingHandshakeRequest::new(&config.credentials, started);
        let session = SessionConfig::new(hello)
            .with_media(config.media_types, config.params.clone())
            .with_host_policy(config.policy.clone());
        match &config.configure {
            Some(configure) => configure(session, started),
            None => session,
        }
    }
}

/// The first URL of `server_urls`, or [`Handled::Refused`].
fn first_url(started: &RtmsStarted, policy: &HostPolicy) -> Result<ServerUrl, Handled> {
    match started.server_urls(policy) {
        Ok(urls) => match urls.into_iter().next() {
            Some(url) => Ok(url),
            None => Err(refused(ServerUrlError::Empty)),
        },
        Err(error) => Err(refused(error)),
    }
}

fn refused(error: ServerUrlError) -> Handled {
    Handled::Refused {
        url: error.url().unwrap_or_default().to_owned(),
        error,
    }
}

/// Waits for one connection to end (or its lease to be lost) and cleans up after it.
struct Watcher {
    supervisor: Supervisor,
    id: String,
    slot: Slot,
    generation: u64,
    handle: StreamHandle,
    cleaned: watch::Sender<bool>,
    #[cfg(feature = "redis")]
    keeper: Option<LeaseKeeper>,
    /// When the last renewal that succeeded was sent.
    #[cfg(feature = "redis")]
    valid_from: tokio::time::Instant,
}

impl Watcher {
    async fn run(self) {
        #[cfg(feature = "redis")]
        let lost = self.watch_lease().await;
        #[cfg(not(feature = "redis"))]
        let lost = {
            self.handle.finished().await;
            false
        };
        let mut entry = self.slot.lock().await;
        if entry.generation == self.generation {
            entry.conn = None;
            #[cfg(feature = "redis")]
            if !lost {
                if self.supervisor.state.handing_over.load(Ordering::SeqCst) {
                    self.supervisor.release(self.keeper.as_ref()).await;
                } else {
                    self.supervisor.forget(self.keeper.as_ref()).await;
                }
            }
            self.supervisor.vacate(&self.id, &self.slot, &mut entry);
        }
        let _ = lost;
        drop(entry);
        let _ = self.cleaned.send(true);
        self.supervisor.state.live.send_modify(|n| *n -= 1);
    }
}

/// The stream record: the `rtms_started` event reduced to what a takeover needs (event
/// name and time, the product's id, the stream id, the one server URL in use), as a webhook
/// body.
#[cfg(feature = "redis")]
fn record(started: &RtmsStarted, url: &ServerUrl) -> String {
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

#[cfg(feature = "redis")]
fn parse_record(record: &str) -> Option<RtmsStarted> {
    match WebhookEvent::parse(record.as_bytes()) {
        Ok(WebhookEvent::RtmsStarted(started)) => Some(started),
        _ => None,
    }
}

#[cfg(feature = "redis")]
impl Supervisor {
    /// Only the holder of a stream's lease connects to it: see [`Supervisor`] (feature
    /// `redis`). Every replica must use the same Redis, lease prefix and
    /// [key prefix](Supervisor::with_key_prefix), and its own owner id.
    ///
    /// ```no_run
    /// use zoom_rtms_webhooks::client::Supervisor;
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let creds = Credentials::new("id", "secret")?;
    /// let supervisor = Supervisor::new(creds, |_stream| async {}).with_leases(leases);
    /// supervisor.start(); // take over orphaned streams from now on
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_leases(mut self, leases: StreamLeases) -> Self {
        self.config_mut().leases = Some(leases);
        self
    }

    /// See [`with_leases`](Supervisor::with_leases).
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// assert!(s.leases().is_none());
    /// ```
    pub fn leases(&self) -> Option<&StreamLeases> {
        self.config.leases.as_ref()
    }

    /// The prefix of the stream records' keys (default [`DEFAULT_SUPERVISOR_PREFIX`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Supervisor;
    /// # let s = Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// assert_eq!(s.with_key_prefix("app:stream:").key_prefix(), "app:stream:");
    /// ```
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config_mut().prefix = prefix.into();
        self
    }

    /// See [`with_key_prefix`](Supervisor::with_key_prefix).
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// assert_eq!(s.key_prefix(), zoom_rtms_webhooks::client::DEFAULT_SUPERVISOR_PREFIX);
    /// ```
    pub fn key_prefix(&self) -> &str {
        &self.config.prefix
    }

    /// How often the takeover loop looks for streams whose lease is free (default a third of
    /// the lease TTL; at least 10 ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// # let s = zoom_rtms_webhooks::client::Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// let s = s.with_takeover_interval(Duration::from_secs(2));
    /// assert_eq!(s.takeover_interval(), Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn with_takeover_interval(mut self, interval: Duration) -> Self {
        self.config_mut().takeover_interval = Some(interval.max(Duration::from_millis(10)));
        self
    }

    /// See [`with_takeover_interval`](Supervisor::with_takeover_interval).
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::new(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap(), |_s| async {});
    /// assert_eq!(s.takeover_interval(), zoom_rtms_webhooks::redis::DEFAULT_LEASE_TTL / 3);
    /// ```
    pub fn takeover_interval(&self) -> Duration {
        let ttl = self
            .config
            .leases
            .as_ref()
            .map_or(crate::redis::DEFAULT_LEASE_TTL, StreamLeases::ttl);
        self.config
            .takeover_interval
            .unwrap_or(ttl / 3)
            .max(Duration::from_millis(10))
    }

    /// With leases: starts the takeover loop now (inside a tokio runtime), so that this replica
    /// takes over orphaned streams before it receives its first webhook. The first
    /// [`handle`](Supervisor::handle) call starts it too; without leases, does nothing.
    ///
    /// ```no_run
    /// # fn f(supervisor: zoom_rtms_webhooks::client::Supervisor) {
    /// supervisor.start();
    /// # }
    /// ```
    pub fn start(&self) {
        if self.config.leases.is_none() || self.state.closed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut task) = self.state.takeover.lock() else {
            return;
        };
        if task.is_none() {
            let config = self.config.clone();
            let state = Arc::downgrade(&self.state);
            *task = Some(tokio::spawn(takeover_loop(config, state)));
        }
    }

    fn store(&self) -> Option<store::Store> {
        let leases = self.config.leases.clone()?;
        Some(store::Store::new(leases, &self.config.prefix))
    }

    /// Releases the lease, if still ours, and keeps the record (a hand-over).
    async fn release(&self, keeper: Option<&LeaseKeeper>) {
        if let (Some(store), Some(keeper)) = (self.store(), keeper) {
            let _ = store.release(keeper.lease()).await;
        }
    }

    /// Deletes the record and releases the lease, if still ours (errors: the lease expires).
    async fn forget(&self, keeper: Option<&LeaseKeeper>) {
        if let (Some(store), Some(keeper)) = (self.store(), keeper) {
            let _ = store.forget(keeper.lease()).await;
        }
    }

    /// Takes `id` over from its record if its lease is free.
    async fn take_over(&self, id: &str) -> Result<Handled, SupervisorError> {
        let Some(store) = self.store() else {
            return Ok(Handled::NotConnected);
        };
        loop {
            let slot = self.slot(id);
            let mut entry = slot.lock().await;
            if entry.removed {
                continue;
            }
            if entry.conn.is_some() {
                // Taken over here meanwhile (the takeover loop).
                return Ok(Handled::AlreadyConnected);
            }
            // A replica whose host policy refuses the stored URL leaves the lease alone, so a
            // replica that accepts it can take the stream at once.
            if let Ok(Some(record)) = store.load(id).await {
                if let Some(Err(refused)) =
                    parse_record(&record).map(|s| first_url(&s, &self.config.policy))
                {
                    self.vacate(id, &slot, &mut entry);
                    return Ok(refused);
                }
            }
            let lease = match store.acquire(id).await {
                Ok(lease) => lease,
                Err(e) => {
                    self.vacate(id, &slot, &mut entry);
                    return match e {
                        LeaseError::Held(_) => Ok(Handled::HeldElsewhere),
                        e => Err(e.into()),
                    };
                }
            };
            let started = match store.load(id).await {
                Ok(record) => record.as_deref().and_then(parse_record),
                Err(e) => {
                    let _ = store.forget(&lease).await;
                    self.vacate(id, &slot, &mut entry);
                    return Err(e.into());
                }
            };
            let Some(started) = started else {
                // The stream ended meanwhile (record deleted): free the lease again.
                let _ = store.forget(&lease).await;
                self.vacate(id, &slot, &mut entry);
                return Ok(Handled::NotConnected);
            };
            let url = match first_url(&started, &self.config.policy) {
                Ok(url) => url,
                Err(refused) => {
                    // Not dialled here; the record stays (until it expires) for the others.
                    let _ = store.release(&lease).await;
                    self.vacate(id, &slot, &mut entry);
                    return Ok(refused);
                }
            };
            let launched = self
                .launch(&slot, &mut entry, &started, url, Some(lease))
                .await;
            // Not connected (an error, or the lease lost before the connection was made): the
            // entry goes, so the map keeps no empty entries.
            if entry.conn.is_none() {
                self.vacate(id, &slot, &mut entry);
            }
            return launched;
        }
    }
}

#[cfg(feature = "redis")]
async fn takeover_loop(config: Arc<Config>, state: Weak<State>) {
    loop {
        let Some(state) = state.upgrade() else {
            return;
        };
        let supervisor = Supervisor {
            config: config.clone(),
            state,
        };
        let interval = supervisor.takeover_interval();
        if let Some(store) = supervisor.store() {
            if let Ok(free) = store.free().await {
                for id in free {
                    if supervisor.state.closed.load(Ordering::SeqCst) {
                        return;
                    }
                    let _ = supervisor.take_over(&id).await;
                }
            }
        }
        drop(supervisor);
        tokio::time::sleep(interval).await;
    }
}

#[cfg(feature = "redis")]
impl Watcher {
    /// Until the connection ends: renews the lease and the stream record (and picks up a
    /// failover URL written by another replica, or the end of the stream when another replica
    /// got `rtms_stopped` and deleted the record); drops the connection at once when the lease
    /// is lost, or when no renewal has succeeded for nine tenths of the TTL (before Redis can
    /// expire the lease and another replica take it). `true` if the lease was lost.
    async fn watch_lease(&self) -> bool {
        let (Some(keeper), Some(store)) = (self.keeper.as_ref(), self.supervisor.store()) else {
            self.handle.finished().await;
            return false;
        };
        let ttl = store.ttl();
        let margin = ttl / 10;
        let mut valid_from = self.valid_from;
        // Renew well inside the TTL even when the renew interval is set longer.
        let period = store.renew_interval().min(ttl / 3);
        let mut tick = tokio::time::interval(period.max(std::time::Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let deadline = valid_from + (ttl - margin);
            tokio::select! {
                () = self.handle.finished() => return false,
                _lost = keeper.lost() => break,
                () = tokio::time::sleep_until(deadline) => break,
                _ = tick.tick() => {
                    let sent = tokio::time::Instant::now();
                    let saved = tokio::time::timeout_at(deadline, store.save(keeper.lease(), None));
                    match saved.await.unwrap_or(Ok(None)) {
                        Ok(Some(record)) => {
                            valid_from = sent;
                            if record.is_empty() {
                                // Deleted by an `rtms_stopped` delivered to another replica.
                                self.handle.webhook(Webhook::Stopped);
                            } else {
                                self.follow(&record).await;
                            }
                        }
                        // Not ours any more, or no answer before the deadline.
                        Ok(None) => break,
                        // Redis unreachable: try again at the next tick, until the deadline.
                        Err(_) => {}
                    }
                }
            }
        }
        self.handle.abort().await;
        true
    }

    /// Fails over when the stored record names another URL than the connection's.
    async fn follow(&self, record: &str) {
        let Some(started) = parse_record(record) else {
            return;
        };
        let Ok(url) = first_url(&started, &self.supervisor.config.policy) else {
            return;
        };
        let mut entry = self.slot.lock().await;
        if entry.generation != self.generation {
            return;
        }
        if let Some(conn) = entry.conn.as_mut() {
            if conn.url != url {
                conn.handle.webhook(Webhook::Started {
                    server_url: url.clone(),
                });
                conn.url = url;
                conn.event_ts = started.event_ts;
            }
        }
    }
}
