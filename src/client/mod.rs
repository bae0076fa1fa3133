//! The tokio RTMS client (feature `client`): drives one stream's
//! [`Session`](crate::protocol::session::Session) over real WebSockets (tokio-websockets over
//! rustls: TLS 1.2 and 1.3, the ring provider, the webpki roots, no OpenSSL) and hands the user
//! typed [`Item`]s.
//!
//! - [`connect`] (or [`connect_with`] for [`Options`]) spawns the stream's driver on the current
//!   tokio runtime and returns a [`StreamHandle`] (close, webhooks, video subscription) and
//!   [`Items`] (an async stream of [`Item`]s: connected, audio, video, share, transcript, chat,
//!   events, state updates, reconnecting, ended, failed).
//! - **Every URL dialled comes from the session as a [`ServerUrl`]:** the signalling URL given
//!   to [`connect`] (from [`RtmsStarted::server_urls`](crate::event::RtmsStarted::server_urls))
//!   and the media URLs of the signalling response, which the session checks against the
//!   configuration's [host policy](crate::protocol::session::SessionConfig::with_host_policy).
//!   A refused media URL fails the stream ([`Item::Failed`]) and is never dialled.
//! - **Keep-alives never wait for the user:** the driver answers them as frames arrive, and
//!   hands user items to a bounded queue ([`Options::with_queue_capacity`], default 1024
//!   items, and [`Options::with_queue_bytes`], default 32 MiB). When
//!   the queue is full the **oldest data item is dropped** (media, transcript, chat, event;
//!   state items such as [`Item::Connected`] or [`Item::Reconnecting`] only when nothing else
//!   is queued); the user then receives
//!   [`Item::Lagged`] with the number dropped before the next item, and
//!   [`StreamHandle::dropped`] counts every drop. Any item but the last ([`Item::Ended`],
//!   [`Item::Failed`] or [`Item::HandedOver`], after which nothing is queued) can be dropped
//!   this way.
//! - One driver task per stream owns the session; one small task per socket relays frames to
//!   it. Dropping [`Items`] closes the stream gracefully; dropping every [`StreamHandle`]
//!   does not.
//! - [`Supervisor`] ([`Supervisor::builder`], then [`Supervisor::on_event`] from the
//!   receiver's handler) keeps one connection per stream: `rtms_started` connects (or fails
//!   over), `rtms_interrupted` reconnects, `rtms_stopped` ends it; a refused URL is reported by
//!   the stream's items ([`Item::Refused`]), and every stream's items end with a terminal item
//!   ([`Item::Ended`], [`Item::Failed`], or [`Item::HandedOver`] when another replica carries
//!   it on); with the `redis` feature, one connection per stream across replicas, with
//!   takeover when a replica dies and at once when one hands its streams over.
//! - Media payloads are decoded from base64 once, straight into shared [`Bytes`](bytes::Bytes) carved from
//!   a reused buffer (no copy of the decoded data).
//!
//! ```no_run
//! use zoom_rtms_webhooks::client::{self, Item};
//! use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
//! use zoom_rtms_webhooks::protocol::media::MediaParams;
//! use zoom_rtms_webhooks::protocol::session::SessionConfig;
//! use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
//! use zoom_rtms_webhooks::Product;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let creds = Credentials::new("client_id", "client_secret")?;
//! let hello = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m-uuid", "stream-1");
//! let config = SessionConfig::new(hello)
//!     .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new());
//! let url = ServerUrl::parse("wss://rtms.zoom.us", &HostPolicy::default())?;
//! let (handle, mut items) = client::connect(config, url)?;
//! while let Some(item) = items.next().await {
//!     match item {
//!         Item::Audio(frame) => println!("{} audio bytes at {:?}", frame.data.len(), frame.timestamp),
//!         Item::Transcript(t) => println!("{:?}", t.text),
//!         Item::Lagged { dropped } => eprintln!("too slow: {dropped} items dropped"),
//!         Item::Ended(_) | Item::Failed(_) => break,
//!         _ => {}
//!     }
//! }
//! handle.close().await;
//! # Ok(()) }
//! ```

mod driver;
mod item;
mod queue;
mod record;
mod supervisor;
mod transport;

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::watch;

pub use item::{EventUpdate, Item, MediaFrame, Source};
#[cfg(feature = "redis")]
pub use supervisor::DEFAULT_SUPERVISOR_PREFIX;
pub use supervisor::{Handled, SupervisedStream, Supervisor, SupervisorBuilder, SupervisorError};

use crate::protocol::recording::Redaction;
use crate::protocol::session::{self, SessionConfig, Webhook};
use crate::region::ServerUrl;

/// Options of the driver (the protocol's are in [`SessionConfig`]).
///
/// ```
/// use zoom_rtms_webhooks::client::Options;
/// let o = Options::default().with_queue_capacity(64);
/// assert_eq!(o.queue_capacity(), 64);
/// assert_eq!(Options::default().queue_capacity(), 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    queue_capacity: usize,
    queue_bytes: usize,
    max_message_len: usize,
    roots: Vec<Vec<u8>>,
    recording: Option<(PathBuf, Redaction)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            queue_capacity: 1024,
            queue_bytes: 32 * 1024 * 1024,
            max_message_len: transport::MAX_MESSAGE,
            roots: Vec::new(),
            recording: None,
        }
    }
}

impl Options {
    /// How many items wait for the user before the oldest is dropped (default 1024, about
    /// 20 s of one audio stream at 20 ms; at least 1).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// assert_eq!(Options::default().with_queue_capacity(0).queue_capacity(), 1);
    /// ```
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// See [`with_queue_capacity`](Options::with_queue_capacity).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// let _ = Options::default().queue_capacity();
    /// ```
    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// How many bytes of items (decoded media, text, and the items themselves) wait for the
    /// user before the oldest are dropped, as for [`with_queue_capacity`](Self::with_queue_capacity)
    /// (default 32 MiB: about 30 s of full-HD JPG video at 5 frames a second; for audio the
    /// 1024 items, 20 s, come first). The newest item is always kept, so the queue holds at
    /// most this plus one message.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// assert_eq!(Options::default().queue_bytes(), 32 << 20);
    /// assert_eq!(Options::default().with_queue_bytes(4 << 20).queue_bytes(), 4 << 20);
    /// ```
    #[must_use]
    pub fn with_queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// See [`with_queue_bytes`](Options::with_queue_bytes).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// let _ = Options::default().queue_bytes();
    /// ```
    pub fn queue_bytes(&self) -> usize {
        self.queue_bytes
    }

    /// The largest message a server may send, in bytes (default 8 MiB, at least 64 KiB): a
    /// bigger one closes its socket, and the session reconnects. The default holds Zoom's
    /// largest documented media (a QHD frame, with room to spare; SECURITY.md, "Memory per
    /// stream", gives the figure); raise it only for a server known to send more. Each socket
    /// may buffer up to this much while a message arrives.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// assert_eq!(Options::default().max_message_len(), 8 << 20);
    /// let o = Options::default().with_max_message_len(16 << 20);
    /// assert_eq!(o.max_message_len(), 16 << 20);
    /// assert_eq!(Options::default().with_max_message_len(0).max_message_len(), 64 << 10);
    /// ```
    #[must_use]
    pub fn with_max_message_len(mut self, bytes: usize) -> Self {
        self.max_message_len = bytes.max(64 * 1024);
        self
    }

    /// See [`with_max_message_len`](Options::with_max_message_len).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// let _ = Options::default().max_message_len();
    /// ```
    pub fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// Trusts one more root certificate (DER) besides the webpki roots: for a TLS-inspecting
    /// proxy or a local simulator served over `wss`. An invalid certificate makes [`connect`]
    /// fail with [`ConnectError::Tls`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// let der: Vec<u8> = vec![0x30, 0x82]; // a DER certificate, read from a file
    /// let o = Options::default().with_root_certificate(der);
    /// assert_eq!(o.root_certificates().len(), 1);
    /// ```
    #[must_use]
    pub fn with_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.roots.push(der.into());
        self
    }

    /// See [`with_root_certificate`](Options::with_root_certificate).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// assert!(Options::default().root_certificates().is_empty());
    /// ```
    pub fn root_certificates(&self) -> &[Vec<u8>] {
        &self.roots
    }

    /// Records every message the server sends on every socket of the stream (signalling and
    /// media, across reconnects) to the file at `path`, in the
    /// [recording format](crate::protocol::recording), with `redaction` applied: a production
    /// incident becomes a file the simulator can replay (`simulator::StreamSpec::with_replay`).
    /// What the client sends (the handshakes carry the signature) is never recorded.
    ///
    /// [`connect_with`] creates (or truncates) the file, or fails with
    /// [`ConnectError::Recording`]. A dedicated thread redacts and writes, so recording never
    /// delays the driver or a keep-alive: when the writer falls more than 1024 messages behind,
    /// messages are dropped and counted, and the count is the file's end line. The stream
    /// finishes ([`Items`] ends, [`StreamHandle::finished`] returns) only once the file is
    /// complete. `{rtms_stream_id}` in `path` is replaced by the stream's id (characters
    /// outside `[A-Za-z0-9._-]` as `_`): use it with a [`Supervisor`], which connects every
    /// stream with the same options, or each stream truncates the others' file. Without a
    /// recording (the default), nothing of this runs.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// let o = Options::default().with_recording("rtms-{rtms_stream_id}.jsonl", Redaction::all());
    /// let (path, redaction) = o.recording().unwrap();
    /// assert_eq!(path, std::path::Path::new("rtms-{rtms_stream_id}.jsonl"));
    /// assert!(redaction.user_names());
    /// ```
    #[must_use]
    pub fn with_recording(mut self, path: impl Into<PathBuf>, redaction: Redaction) -> Self {
        self.recording = Some((path.into(), redaction));
        self
    }

    /// See [`with_recording`](Options::with_recording).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// assert!(Options::default().recording().is_none());
    /// ```
    pub fn recording(&self) -> Option<(&Path, &Redaction)> {
        self.recording.as_ref().map(|(p, r)| (p.as_path(), r))
    }
}

/// Why [`connect`] could not start.
///
/// ```
/// use zoom_rtms_webhooks::client::ConnectError;
/// assert_eq!(ConnectError::NoRuntime.to_string(), "no tokio runtime is running");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The configuration is invalid (media parameters).
    #[error(transparent)]
    Session(#[from] session::ConnectError),
    /// The TLS configuration could not be built.
    #[error("the TLS configuration could not be built")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// [`connect`] was called outside a tokio runtime.
    #[error("no tokio runtime is running")]
    NoRuntime,
    /// The recording file ([`Options::with_recording`]) could not be created.
    #[error("the recording file could not be created")]
    Recording(#[source] std::io::Error),
}

/// Connects to one RTMS stream: dials `server_url` (signalling), then the media sockets the
/// signalling response names, and keeps the stream up (keep-alives, watchdog, reconnects)
/// until it ends, fails or is closed. Must be called inside a tokio runtime (it spawns the
/// stream's driver task). With the default [`Options`].
///
/// ```no_run
/// # async fn f(config: zoom_rtms_webhooks::protocol::session::SessionConfig, url: zoom_rtms_webhooks::region::ServerUrl) {
/// let (handle, mut items) = zoom_rtms_webhooks::client::connect(config, url).unwrap();
/// let first = items.next().await;
/// # }
/// ```
pub fn connect(
    config: SessionConfig,
    server_url: ServerUrl,
) -> Result<(StreamHandle, Items), ConnectError> {
    connect_with(config, server_url, Options::default())
}

/// [`connect`] with [`Options`].
///
/// ```no_run
/// use zoom_rtms_webhooks::client::{connect_with, Options};
/// # async fn f(config: zoom_rtms_webhooks::protocol::session::SessionConfig, url: zoom_rtms_webhooks::region::ServerUrl) {
/// let (handle, items) = connect_with(config, url, Options::default().with_queue_capacity(256)).unwrap();
/// # }
/// ```
pub fn connect_with(
    config: SessionConfig,
    server_url: ServerUrl,
    options: Options,
) -> Result<(StreamHandle, Items), ConnectError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConnectError::NoRuntime)?;
    let transport = transport::Tws::new(options.root_certificates(), options.max_message_len())
        .map_err(ConnectError::Tls)?;
    driver::spawn(&runtime, transport, config, server_url, options)
}

/// A stream that never connected: its handle is finished and its items are `items` (the last
/// one terminal).
pub(crate) fn ended_stream(items: Vec<Item>) -> (StreamHandle, Items) {
    let (out, shared) = queue::channel(items.len(), usize::MAX);
    for item in items {
        out.push(item);
    }
    drop(out);
    let (_done, finished) = watch::channel(true);
    let handle = StreamHandle {
        finished,
        queue: shared.clone(),
    };
    (
        handle,
        Items {
            rx: queue::Receiver(shared),
        },
    )
}

pub(crate) enum Command {
    Close,
    /// Drop the sockets at once, without a stream close request; the items end with
    /// [`Item::HandedOver`].
    Abort,
    /// Queue an item the supervisor reports (a refused failover URL), in order with the
    /// driver's own.
    Report(Item),
    Webhook(Webhook),
    SubscribeVideo {
        user_id: i64,
        subscribe: bool,
    },
}

/// Controls a connected stream; cheap to clone. Dropping every handle does not end the
/// stream (dropping [`Items`] does).
///
/// ```no_run
/// use zoom_rtms_webhooks::protocol::session::Webhook;
/// # async fn f(handle: zoom_rtms_webhooks::client::StreamHandle) {
/// handle.webhook(Webhook::Interrupted); // rtms_interrupted: redo everything
/// handle.close().await;                 // 21, then 22 (bounded), then the sockets close
/// assert!(handle.is_finished());
/// # }
/// ```
#[derive(Clone)]
pub struct StreamHandle {
    finished: watch::Receiver<bool>,
    queue: Arc<queue::Shared>,
}

impl fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamHandle")
            .field("finished", &self.is_finished())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl StreamHandle {
    /// Hands the stream a webhook event for it: `rtms_started` again (failover to new
    /// servers at once), `rtms_interrupted` (reconnect everything), `rtms_stopped` (end).
    ///
    /// ```no_run
    /// use zoom_rtms_webhooks::protocol::session::Webhook;
    /// # fn f(handle: zoom_rtms_webhooks::client::StreamHandle) {
    /// handle.webhook(Webhook::Stopped);
    /// # }
    /// ```
    pub fn webhook(&self, webhook: Webhook) {
        self.queue.command(Command::Webhook(webhook));
    }

    /// Chooses (or releases) the one participant whose video an individual-video connection
    /// carries (message type 28; the answer, 29, arrives as [`Item::VideoSubscription`]).
    /// It may be called before the stream is ready: the last choice is sent as soon as it is,
    /// and again after every reconnect.
    ///
    /// ```no_run
    /// # fn f(handle: zoom_rtms_webhooks::client::StreamHandle) {
    /// handle.subscribe_video(16778240, true);
    /// # }
    /// ```
    pub fn subscribe_video(&self, user_id: i64, subscribe: bool) {
        self.queue
            .command(Command::SubscribeVideo { user_id, subscribe });
    }

    /// Closes the stream gracefully (stream close request 21, waiting for 22 at most the
    /// session's close timeout) and waits until the driver has finished.
    ///
    /// ```no_run
    /// # async fn f(handle: zoom_rtms_webhooks::client::StreamHandle) {
    /// handle.close().await;
    /// # }
    /// ```
    pub async fn close(&self) {
        self.queue.command(Command::Close);
        self.finished().await;
    }

    /// Drops the sockets at once without a stream close request (the supervisor's answer to
    /// a lost lease or a hand-over: another replica carries the stream on) and waits until the
    /// driver has finished. The items end with [`Item::HandedOver`].
    pub(crate) async fn abort(&self) {
        self.queue.command(Command::Abort);
        self.finished().await;
    }

    /// Queues `item` for the user, after what the driver has queued so far (dropped once the
    /// stream has finished).
    pub(crate) fn report(&self, item: Item) {
        self.queue.command(Command::Report(item));
    }

    /// Waits until the stream has ended (ended, failed or closed).
    ///
    /// ```no_run
    /// # async fn f(handle: zoom_rtms_webhooks::client::StreamHandle) {
    /// handle.finished().await;
    /// # }
    /// ```
    pub async fn finished(&self) {
        let mut rx = self.finished.clone();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Whether the stream has ended.
    ///
    /// ```no_run
    /// # fn f(handle: zoom_rtms_webhooks::client::StreamHandle) {
    /// let _ = handle.is_finished();
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        *self.finished.borrow()
    }

    /// How many items were dropped in all because the user was too slow (each drop is also
    /// reported in order by [`Item::Lagged`]).
    ///
    /// ```no_run
    /// # fn f(handle: zoom_rtms_webhooks::client::StreamHandle) {
    /// assert_eq!(handle.dropped(), 0);
    /// # }
    /// ```
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }
}

/// The stream's [`Item`]s, in order, ending after [`Item::Ended`] or [`Item::Failed`].
/// Implements [`futures_core::Stream`]; dropping it closes the stream gracefully.
///
/// ```no_run
/// # async fn f(mut items: zoom_rtms_webhooks::client::Items) {
/// while let Some(item) = items.next().await {
///     println!("{item:?}");
/// }
/// # }
/// ```
pub struct Items {
    rx: queue::Receiver,
}

impl fmt::Debug for Items {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("queued", &self.rx.len())
            .finish()
    }
}

impl Items {
    /// The next item, `None` once the stream has ended and every item was taken.
    ///
    /// ```no_run
    /// # async fn f(mut items: zoom_rtms_webhooks::client::Items) {
    /// let item = items.next().await;
    /// # }
    /// ```
    pub async fn next(&mut self) -> Option<Item> {
        std::future::poll_fn(|cx| self.rx.poll_recv(cx)).await
    }

    /// How many items are waiting.
    ///
    /// ```no_run
    /// # fn f(items: zoom_rtms_webhooks::client::Items) {
    /// let _ = items.len();
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no item is waiting.
    ///
    /// ```no_run
    /// # fn f(items: zoom_rtms_webhooks::client::Items) {
    /// let _ = items.is_empty();
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl futures_core::Stream for Items {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.rx.poll_recv(cx)
    }
}
