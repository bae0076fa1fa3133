//! The stream supervisor: plugs into the receiver's handler and keeps one RTMS connection per
//! stream in the process (with Redis, in the whole deployment), reconnecting and failing over
//! as the webhooks say. See [`Supervisor`].
//!
//! The flow is here; what leases add (feature `redis`) is in `leased` (its no-op form without
//! the feature in `unleased`): claiming a stream, passing a failover on to its holder, renewing
//! while connected, releasing or handing over at the end, and the takeover loop.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::{
    connect_session, ended_stream, Config as ClientConfig, ConnectError, Item, Items, StreamHandle,
};
use crate::event::{RtmsStarted, WebhookEvent};

use crate::protocol::session::{SessionConfig, SessionError, Webhook};
use crate::region::{ServerUrl, ServerUrlError};
use crate::Product;

#[cfg(feature = "redis")]
mod leased;
#[cfg(feature = "redis")]
mod store;
#[cfg(not(feature = "redis"))]
mod unleased;

#[cfg(feature = "redis")]
use leased as leases;
#[cfg(not(feature = "redis"))]
use unleased as leases;

#[cfg(feature = "redis")]
pub use store::DEFAULT_SUPERVISOR_PREFIX;

type OnStream =
    Arc<dyn Fn(SupervisedStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// One connection the [`Supervisor`] made, handed to its per-stream callback: the stream's
/// ids, its [`StreamHandle`] and its [`Items`]. The connection lives while the items are
/// read: dropping the `SupervisedStream` (returning from the callback) closes the stream.
///
/// ```no_run
/// use zoom_rtms_webhooks::client::{Item, SupervisedStream};
/// async fn on_stream(mut stream: SupervisedStream) {
///     println!("stream {} ({}) via {:?}", stream.id(), stream.product(), stream.server_url());
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
    server_url: Option<ServerUrl>,
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
    /// another one); `None` for a stream reported without a connection (its signalling URL
    /// refused by the host policy: see [`Handled::Reported`]).
    ///
    /// ```no_run
    /// # fn f(stream: zoom_rtms_webhooks::client::SupervisedStream) {
    /// if let Some(url) = stream.server_url() {
    ///     println!("{url}");
    /// }
    /// # }
    /// ```
    pub fn server_url(&self) -> Option<&ServerUrl> {
        self.server_url.as_ref()
    }

    /// With leases (`SupervisorBuilder::leases`, feature `redis`): the fencing token of the
    /// lease this connection holds (pass it with every write the stream's processing makes
    /// elsewhere); `None` without leases, and for a stream reported without a connection (a
    /// refused URL).
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

    /// The next item ([`Items::next`]): `None` after the last item, which is always terminal
    /// ([`Item::is_terminal`]): [`Item::Ended`], [`Item::Failed`] (also for a signalling URL
    /// the host policy refused: [`Item::Refused`] then `Failed`), or [`Item::HandedOver`]
    /// (the stream's lease was lost, or [`Supervisor::hand_over`]).
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

/// The stream's items, as [`SupervisedStream::next`] gives them (for stream combinators).
///
/// ```no_run
/// use futures_core::Stream;
/// fn is_a_stream(_: &impl Stream<Item = zoom_rtms_webhooks::client::Item>) {}
/// # fn f(stream: zoom_rtms_webhooks::client::SupervisedStream) {
/// is_a_stream(&stream);
/// # }
/// ```
impl futures_core::Stream for SupervisedStream {
    type Item = Item;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Item>> {
        Pin::new(&mut self.items).poll_next(cx)
    }
}

/// What [`Supervisor::on_event`] did with an event. How a stream goes is told by its items
/// only (a refused URL is [`Item::Refused`]); this says what the event changed.
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
    /// `rtms_started` for a stream connected here, naming other servers and newer (see
    /// [`Supervisor`], "Order"): failover to the new URL, same connection.
    FailedOver,
    /// `rtms_started` for a stream connected here naming the servers it is on (a duplicate
    /// delivery, with or without `event_ts`), or older than the one it is on (a late retry,
    /// never followed back to its servers): nothing done. Also `rtms_interrupted` for a stream
    /// this replica has just taken over.
    AlreadyConnected,
    /// `rtms_interrupted` for a stream connected here: it reconnects.
    Reconnecting,
    /// `rtms_stopped` for a stream connected here: it ends.
    Stopping,
    /// The host policy refused the event's (or, on a takeover, the stored) signalling URL:
    /// nothing was dialled and no lease taken. The stream's items say so: for a stream
    /// connected here, [`Item::Refused`] is queued and the stream goes on on its current
    /// server; otherwise the per-stream callback runs with a stream whose items are
    /// [`Item::Refused`] then [`Item::Failed`]
    /// ([`SessionError::SignalingUrl`](crate::protocol::session::SessionError::SignalingUrl)).
    Reported,
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

/// Why [`Supervisor::on_event`] failed. Nothing was connected.
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
    Lease(#[from] crate::redis::LeaseError),
    /// [`Supervisor::shutdown`] or [`Supervisor::hand_over`] was called.
    #[error("the supervisor is shut down")]
    ShutDown,
}

/// Configures a [`Supervisor`]: [`Supervisor::builder`] with the [`Config`](super::Config) of every
/// connection, the Redis settings (feature `redis`), then [`build`](SupervisorBuilder::build)
/// with the per-stream callback.
///
/// ```
/// use zoom_rtms_webhooks::client::{Config, Credentials, MediaParams, MediaTypes, Supervisor};
/// let config = Config::new(Credentials::new("id", "secret").unwrap())
///     .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new());
/// let supervisor = Supervisor::builder(config).build(|_stream| async {});
/// assert_eq!(supervisor.config().media_types(), MediaTypes::AUDIO | MediaTypes::TRANSCRIPT);
/// ```
#[must_use]
pub struct SupervisorBuilder {
    client: ClientConfig,
    leasing: leases::Settings,
}

impl fmt::Debug for SupervisorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorBuilder")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl SupervisorBuilder {
    /// The supervisor, which signs handshakes with the credentials and runs `on_stream` (in
    /// a task of its own) for every stream it connects, and once for a stream whose
    /// `rtms_started` names a URL the host policy refuses (its items say so).
    ///
    /// With leases (feature `redis`), built inside a tokio runtime, the takeover loop starts
    /// at once, so this replica takes over orphaned streams before its first webhook; built
    /// outside one, it starts at the first [`on_event`](Supervisor::on_event).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Supervisor, SupervisedStream};
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let supervisor = Supervisor::builder(creds).build(|mut stream: SupervisedStream| async move {
    ///     while let Some(item) = stream.next().await {
    ///         println!("{}: {item:?}", stream.id());
    ///     }
    /// });
    /// assert_eq!(supervisor.connections(), 0);
    /// ```
    pub fn build<F, Fut>(self, on_stream: F) -> Supervisor
    where
        F: Fn(SupervisedStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_stream: OnStream = Arc::new(move |stream| Box::pin(on_stream(stream)));
        let supervisor = Supervisor {
            config: Arc::new(Config {
                client: self.client,
                on_stream,
                leases: leases::Leases::new(self.leasing),
            }),
            state: Arc::new(State {
                streams: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
                handing_over: AtomicBool::new(false),
                live: watch::Sender::new(0),
                callbacks: watch::Sender::new(0),
                background: Mutex::new(None),
            }),
        };
        supervisor.start_background();
        supervisor
    }
}

struct Config {
    client: ClientConfig,
    on_stream: OnStream,
    leases: leases::Leases,
}

struct Conn {
    handle: StreamHandle,
    url: ServerUrl,
    /// The `event_ts` of the `rtms_started` that made or last moved the connection.
    event_ts: Option<u64>,
    /// What the connection's lease is, if any (to save a failover in the stream's record).
    ticket: leases::Ticket,
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
    /// Set by [`Supervisor::hand_over`]: connections end without closing the streams, and
    /// their leases are released with their records kept.
    handing_over: AtomicBool,
    /// Connections whose watcher has not finished.
    live: watch::Sender<usize>,
    /// Per-stream callbacks that have not returned.
    callbacks: watch::Sender<usize>,
    /// The background task (with leases: the takeover loop).
    background: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// How a claim on a stream came out (see `leased`).
enum Claim {
    /// Connect: the stream's lease is ours (or there are no leases).
    Ours {
        held: leases::Held,
        started: RtmsStarted,
        url: ServerUrl,
    },
    /// On a takeover: the stored signalling URL is refused here.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Refused(RtmsStarted, ServerUrlError),
    /// Nothing to connect.
    Not(Handled),
}

/// How a connection's lease ends (see `leased`).
enum Finish {
    /// The stream ended: the lease and the record go.
    Ended,
    /// [`Supervisor::hand_over`]: the lease goes, the record stays, the others are told.
    HandedOver,
    /// The lease was lost: nothing is ours to release.
    Lost,
}

/// Keeps one RTMS connection per stream, driven by the webhooks: `rtms_started` connects
/// (or, for a stream already connected, fails over to the new URL at once), `rtms_interrupted`
/// reconnects, `rtms_stopped` ends the stream. Call [`on_event`](Supervisor::on_event) from the
/// receiver's handler with every event; it returns quickly (the media flows in spawned tasks)
/// and runs the per-stream callback once for every connection it makes. Built with
/// [`Supervisor::builder`]; clones share the streams.
///
/// - **One connection per stream:** concurrent `on_event` calls for one stream serialise on a
///   per-stream entry, so duplicate deliveries never make a second connection; a failover
///   closes the old sockets before it dials the new server.
/// - **Order:** an `rtms_started` for a stream connected here moves it only when it names
///   other servers and is newer: a larger `event_ts`, or no `event_ts` on either side (then
///   the latest delivery wins). The same servers again are a duplicate, with or without
///   `event_ts`. A failover is ignored while the stream is closing.
/// - **Host policy:** a server URL that [host policy](super::Config::with_host_policy)
///   refuses is never dialled: the stream's items report it ([`Item::Refused`]; see
///   [`Handled::Reported`]).
/// - **Every stream's items end with a terminal item** ([`Item::is_terminal`]).
/// - **With Redis** ([`leases`](SupervisorBuilder::leases), feature `redis`): only the holder of
///   the stream's lease connects. While connected it renews the lease (and the stream record)
///   and drops the connection at once, without a stream close request, when the lease is lost
///   or when no renewal has succeeded for nine tenths of the TTL (Redis down: the lease may
///   expire); its items then end with [`Item::HandedOver`]. What a takeover needs (product,
///   ids, event time, server URL; never the signature or the secret) is kept in Redis next to
///   the lease. A background loop takes over streams whose holder died once their lease
///   expires (within the lease TTL plus one takeover interval, 12.5 s at most with the
///   defaults), and at once those another replica [hands over](Supervisor::hand_over) (told
///   through Redis pub/sub), never with two connections at once. `rtms_started`,
///   `rtms_stopped` delivered to a replica that does not hold the stream reach the holder
///   through the record at its next renewal; `rtms_interrupted` there takes the stream over
///   if its lease is free. Keys: see `DEFAULT_SUPERVISOR_PREFIX`.
///
/// ```no_run
/// use zoom_rtms_webhooks::client::{
///     Config, Credentials, Item, MediaParams, MediaTypes, SupervisedStream, Supervisor,
/// };
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// # async fn run(events: Vec<WebhookEvent>) -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::new(Credentials::new("client_id", "client_secret")?)
///     .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new());
/// let supervisor = Supervisor::builder(config)
///     .build(|mut stream: SupervisedStream| async move {
///         while let Some(item) = stream.next().await {
///             match item {
///                 Item::Transcript(t) => println!("{}: {}", stream.id(), t.text),
///                 Item::Refused(error) => eprintln!("{}: {error}", stream.id()),
///                 item if item.is_terminal() => println!("{}: {item:?}", stream.id()),
///                 _ => {}
///             }
///         }
///     });
///
/// // In the receiver's handler, for every delivered event:
/// for event in &events {
///     supervisor.on_event(event).await?;
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
            .field("client", &self.config.client)
            .field("streams", &streams)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// A [`SupervisorBuilder`] that connects every stream with `config` (credentials, host
    /// policy, media, options; [`Credentials`](super::Credentials) alone for the defaults); no
    /// leases.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials, MediaTypes, Supervisor};
    /// let config = Config::new(Credentials::new("id", "secret").unwrap());
    /// let supervisor = Supervisor::builder(config).build(|_stream| async {});
    /// assert_eq!(supervisor.config().media_types(), MediaTypes::AUDIO);
    /// ```
    pub fn builder(config: impl Into<ClientConfig>) -> SupervisorBuilder {
        SupervisorBuilder {
            client: config.into(),
            leasing: leases::Settings::default(),
        }
    }

    /// The configuration every stream is connected with.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials, Options, Supervisor};
    /// let config = Config::new(Credentials::new("id", "secret").unwrap())
    ///     .with_options(Options::default().with_queue_capacity(64));
    /// let s = Supervisor::builder(config).build(|_s| async {});
    /// assert_eq!(s.config().options().queue_capacity(), 64);
    /// ```
    pub fn config(&self) -> &ClientConfig {
        &self.config.client
    }

    /// Handles one webhook event: see [`Handled`] for what can happen. Returns once the
    /// decision is made (with leases, after a few Redis calls); the connection and the
    /// per-stream callback run in spawned tasks. Must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Connect`] when the connection cannot start, `Lease` when Redis
    /// cannot answer (nothing is connected: fail the delivery so that it is retried),
    /// `ShutDown` after [`shutdown`](Supervisor::shutdown) or
    /// [`hand_over`](Supervisor::hand_over).
    ///
    /// ```no_run
    /// # async fn f(supervisor: zoom_rtms_webhooks::client::Supervisor, event: zoom_rtms_webhooks::WebhookEvent) -> Result<(), zoom_rtms_webhooks::client::SupervisorError> {
    /// let handled = supervisor.on_event(&event).await?;
    /// # Ok(()) }
    /// ```
    pub async fn on_event(&self, event: &WebhookEvent) -> Result<Handled, SupervisorError> {
        if self.state.closed.load(Ordering::SeqCst) {
            return Err(SupervisorError::ShutDown);
        }
        self.start_background();
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
    /// releases their leases and deletes their records. Later
    /// [`on_event`](Supervisor::on_event) calls fail with [`SupervisorError::ShutDown`].
    ///
    /// ```no_run
    /// # async fn f(supervisor: zoom_rtms_webhooks::client::Supervisor) {
    /// supervisor.shutdown().await;
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        self.stop_background();
        let mut closing = tokio::task::JoinSet::new();
        for handle in self.handles().await {
            closing.spawn(async move { handle.close().await });
        }
        while closing.join_next().await.is_some() {}
        self.drained().await;
    }

    /// With leases: hands every stream connected here over to the other replicas, for a
    /// restart or a scale-down. Each connection is dropped **without** the stream close
    /// request (21), so the streams go on at Zoom (their items end with
    /// [`Item::HandedOver`]); each lease is released with its record kept, and the other
    /// replicas are told at once (Redis pub/sub), so one of them connects within about a
    /// round trip (else its takeover loop's next scan). Later [`on_event`](Supervisor::on_event)
    /// calls fail with [`SupervisorError::ShutDown`]. (A [`shutdown`](Supervisor::shutdown), by
    /// contrast, ends the streams.) Without leases there is nobody to hand over to: this is
    /// [`shutdown`](Supervisor::shutdown).
    ///
    /// ```no_run
    /// # async fn f(supervisor: zoom_rtms_webhooks::client::Supervisor) {
    /// supervisor.hand_over().await;
    /// # }
    /// ```
    pub async fn hand_over(&self) {
        if !self.config.leases.enabled() {
            return self.shutdown().await;
        }
        self.state.handing_over.store(true, Ordering::SeqCst);
        self.stop_background();
        for handle in self.handles().await {
            handle.abort().await;
        }
        self.drained().await;
    }

    /// How many streams have a connection (or a connection finishing) in this process.
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::builder(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap()).build(|_s| async {});
    /// assert_eq!(s.connections(), 0);
    /// ```
    pub fn connections(&self) -> usize {
        *self.state.live.borrow()
    }

    /// Starts the background task if it is not running (inside a runtime, not shut down).
    fn start_background(&self) {
        if self.state.closed.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(mut task) = self.state.background.lock() {
            if task.is_none() {
                *task = self.config.leases.spawn(self);
            }
        }
    }

    /// No more events: the background task ends.
    fn stop_background(&self) {
        self.state.closed.store(true, Ordering::SeqCst);
        if let Some(task) = self.state.background.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }

    /// Waits until every connection's watcher has finished and every callback has returned.
    async fn drained(&self) {
        let _ = self.state.live.subscribe().wait_for(|n| *n == 0).await;
        let _ = self.state.callbacks.subscribe().wait_for(|n| *n == 0).await;
    }

    /// The handles of every connection.
    async fn handles(&self) -> Vec<StreamHandle> {
        let slots: Vec<Slot> = self
            .state
            .streams
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        let mut handles = Vec::new();
        for slot in slots {
            if let Some(conn) = slot.lock().await.conn.as_ref() {
                handles.push(conn.handle.clone());
            }
        }
        handles
    }

    /// The stream's entry, created if missing.
    fn slot(&self, id: &str) -> Slot {
        let mut streams = self.state.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.entry(id.to_owned()).or_default().clone()
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
        let slot = {
            let streams = self.state.streams.lock().unwrap_or_else(|e| e.into_inner());
            streams.get(id).cloned()?
        };
        let entry = slot.lock().await;
        entry
            .conn
            .as_ref()
            .filter(|c| !c.handle.is_finished())
            .map(|c| c.handle.clone())
    }

    async fn started(&self, started: &RtmsStarted) -> Result<Handled, SupervisorError> {
        match self.config.client.server_url(started) {
            Ok(url) => self.connect(Source::Started(started, url)).await,
            Err(error) => {
                match self.live(&started.rtms_stream_id).await {
                    // A refused failover: the stream goes on on its current server.
                    Some(handle) => handle.report(Item::Refused(error)),
                    None => self.report_refused(started, error),
                }
                Ok(Handled::Reported)
            }
        }
    }

    async fn interrupted(&self, id: &str) -> Result<Handled, SupervisorError> {
        if let Some(handle) = self.live(id).await {
            handle.webhook(Webhook::Interrupted);
            return Ok(Handled::Reconnecting);
        }
        if self.config.leases.enabled() {
            // The holder may have died: take the stream over now if its lease is free.
            return self.connect(Source::TakeOver { id, report: true }).await;
        }
        Ok(Handled::NotConnected)
    }

    async fn stopped(&self, id: &str) -> Result<Handled, SupervisorError> {
        if let Some(handle) = self.live(id).await {
            handle.webhook(Webhook::Stopped);
            return Ok(Handled::Stopping);
        }
        self.config.leases.stopped_elsewhere(id).await?;
        Ok(Handled::NotConnected)
    }

    /// Connects a stream (from an `rtms_started`, or taken over from its record), or fails an
    /// existing connection over: the one place a stream's entry gets a connection.
    async fn connect(&self, source: Source<'_>) -> Result<Handled, SupervisorError> {
        let id = source.id();
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
                return match source {
                    Source::Started(started, url) => self.fail_over(conn, started, url).await,
                    // Taken over here meanwhile (the takeover loop).
                    Source::TakeOver { .. } => Ok(Handled::AlreadyConnected),
                };
            }
            let claim = match source {
                Source::Started(started, ref url) => self.config.leases.claim(started, url).await,
                Source::TakeOver { id, report } => {
                    let claim = self.config.leases.take_over(id, &self.config.client).await;
                    match claim {
                        Ok(Claim::Refused(..)) if !report => Ok(Claim::Not(Handled::NotConnected)),
                        claim => claim,
                    }
                }
            };
            let launched = match claim {
                Ok(Claim::Ours { held, started, url }) => {
                    self.launch(&slot, &mut entry, &started, url, held).await
                }
                Ok(Claim::Refused(started, error)) => {
                    self.report_refused(&started, error);
                    Ok(Handled::Reported)
                }
                Ok(Claim::Not(handled)) => Ok(handled),
                Err(e) => Err(e),
            };
            // Not connected (an error, refused, held elsewhere, the lease lost before the
            // connection was made): the entry goes, so the map keeps no empty entries.
            self.vacate(id, &slot, &mut entry);
            return launched;
        }
    }

    /// An `rtms_started` for a stream connected here: a duplicate, a late retry, or a
    /// failover (see [`Supervisor`], "Order").
    async fn fail_over(
        &self,
        conn: &mut Conn,
        started: &RtmsStarted,
        url: ServerUrl,
    ) -> Result<Handled, SupervisorError> {
        if conn.url == url || !is_newer(started.event_ts, conn.event_ts) {
            return Ok(Handled::AlreadyConnected);
        }
        conn.handle.webhook(Webhook::Started {
            server_url: url.clone(),
        });
        conn.url = url.clone();
        conn.event_ts = started.event_ts;
        self.config
            .leases
            .moved(&conn.ticket, started, &url)
            .await?;
        Ok(Handled::FailedOver)
    }

    /// Connects `started` at `url` (the entry is locked and has no connection) and spawns the
    /// callback and the connection's watcher.
    async fn launch(
        &self,
        slot: &Slot,
        entry: &mut Entry,
        started: &RtmsStarted,
        url: ServerUrl,
        held: leases::Held,
    ) -> Result<Handled, SupervisorError> {
        if self.state.closed.load(Ordering::SeqCst) {
            self.config.leases.finish(held, Finish::Ended).await;
            return Err(SupervisorError::ShutDown);
        }
        let config = self.session_config(started);
        let (handle, items) =
            match connect_session(config, url.clone(), self.config.client.options().clone()) {
                Ok(pair) => pair,
                Err(e) => {
                    self.config.leases.finish(held, Finish::Ended).await;
                    return Err(e.into());
                }
            };
        entry.generation += 1;
        let (cleaned_tx, cleaned) = watch::channel(false);
        entry.conn = Some(Conn {
            handle: handle.clone(),
            url: url.clone(),
            event_ts: started.event_ts,
            ticket: held.ticket(),
            cleaned,
        });
        self.state.live.send_modify(|n| *n += 1);
        self.spawn_callback(SupervisedStream {
            id: started.rtms_stream_id.clone(),
            product: started.product,
            server_url: Some(url),
            fencing_token: held.fencing_token(),
            handle: handle.clone(),
            items,
        });
        let watcher = Watcher {
            supervisor: self.clone(),
            id: started.rtms_stream_id.clone(),
            slot: slot.clone(),
            generation: entry.generation,
            handle,
            cleaned: cleaned_tx,
        };
        tokio::spawn(watcher.run(held));
        Ok(Handled::Connecting)
    }

    /// The callback, with a stream that never connected: its signalling URL is refused.
    fn report_refused(&self, started: &RtmsStarted, error: ServerUrlError) {
        let (handle, items) = ended_stream(vec![
            Item::Refused(error.clone()),
            Item::Failed(SessionError::SignalingUrl(error)),
        ]);
        self.spawn_callback(SupervisedStream {
            id: started.rtms_stream_id.clone(),
            product: started.product,
            server_url: None,
            fencing_token: None,
            handle,
            items,
        });
    }

    /// Runs the per-stream callback in a task of its own, counted until it returns.
    fn spawn_callback(&self, stream: SupervisedStream) {
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
    }

    fn session_config(&self, started: &RtmsStarted) -> SessionConfig {
        self.config.client.session_config(started)
    }
}

/// Where a connection comes from.
enum Source<'a> {
    /// An `rtms_started`, its URL accepted by the host policy.
    Started(&'a RtmsStarted, ServerUrl),
    /// A takeover from the stream's record; `report`: run the callback when the stored URL
    /// is refused (for an `rtms_interrupted`; the takeover loop does not).
    TakeOver { id: &'a str, report: bool },
}

impl Source<'_> {
    fn id(&self) -> &str {
        match self {
            Source::Started(started, _) => &started.rtms_stream_id,
            Source::TakeOver { id, .. } => id,
        }
    }
}

/// Whether an `rtms_started` at `new` is newer than one at `current`: by `event_ts`, or, when
/// either has none, yes (the latest delivery wins). Redis applies the same rule to the stream
/// record (`store`).
fn is_newer(new: Option<u64>, current: Option<u64>) -> bool {
    match (new, current) {
        (Some(new), Some(current)) => new > current,
        _ => true,
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
}

impl Watcher {
    async fn run(self, held: leases::Held) {
        let leases = &self.supervisor.config.leases;
        let lost = leases.watch(&self, &held).await;
        let mut entry = self.slot.lock().await;
        if entry.generation == self.generation {
            entry.conn = None;
            let finish = if lost {
                Finish::Lost
            } else if self.supervisor.state.handing_over.load(Ordering::SeqCst) {
                Finish::HandedOver
            } else {
                Finish::Ended
            };
            leases.finish(held, finish).await;
            self.supervisor.vacate(&self.id, &self.slot, &mut entry);
        }
        drop(entry);
        let _ = self.cleaned.send(true);
        self.supervisor.state.live.send_modify(|n| *n -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::is_newer;

    #[test]
    fn a_start_is_newer_by_event_ts_or_when_either_has_none() {
        assert!(is_newer(Some(2), Some(1)));
        assert!(!is_newer(Some(1), Some(2)));
        assert!(!is_newer(Some(2), Some(2)));
        assert!(is_newer(None, Some(2)));
        assert!(is_newer(Some(1), None));
        assert!(is_newer(None, None));
    }
}
