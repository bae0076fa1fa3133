//! The tokio RTMS client (feature `client`): drives one stream's
//! [`Session`](crate::protocol::session::Session) over real WebSockets (tokio-websockets over
//! rustls: TLS 1.2 and 1.3, the ring provider, the webpki roots, no OpenSSL) and hands the user
//! typed [`Item`]s.
//!
//! - [`connect`] connects to the stream of an `rtms_started` webhook with a [`Config`]
//!   (credentials, host policy, media, [`Options`]) in one call; [`connect_session`] takes a
//!   [`SessionConfig`] and a checked [`ServerUrl`] for full control. Both spawn the stream's
//!   driver on the current tokio runtime and return a [`StreamHandle`] (close, webhooks, video
//!   subscription) and [`Items`] (a [`futures_core::Stream`] of [`Item`]s: connected, audio,
//!   video, share, transcript, chat, events, state updates, reconnecting, refused URLs, and one
//!   last item: ended, failed or handed over).
//! - **Every URL dialled is checked first:** the signalling URL of the `rtms_started` and the
//!   media URLs of the signalling response, against the [`HostPolicy`] (by default only
//!   `wss://` on Zoom's hosts). A refused URL is never dialled and is reported in one place,
//!   [`Item::Refused`]; when the stream cannot go on without it, [`Item::Failed`] follows.
//! - **Keep-alives never wait for the user:** the driver answers them as frames arrive, and
//!   hands user items to a bounded queue ([`Options::with_queue_capacity`], default 1024
//!   items, and [`Options::with_queue_bytes`], default 32 MiB). When the queue is full the
//!   **oldest data item is dropped** (media, transcript, chat, event; state items such as
//!   [`Item::Connected`] or [`Item::Reconnecting`] only when nothing else is queued); the user
//!   then receives [`Item::Lagged`] with the number dropped before the next item, and
//!   [`StreamHandle::dropped`] counts every drop. The last item ([`Item::Ended`],
//!   [`Item::Failed`] or [`Item::HandedOver`], after which nothing is queued) is never dropped.
//!   For recording, [`Delivery::Lossless`] ([`Options::with_delivery`]) never drops: past a
//!   byte budget (default 64 MiB) the stream fails instead, naming the budget.
//! - One task per stream owns the session and its sockets. Dropping [`Items`] closes the
//!   stream gracefully; dropping every [`StreamHandle`] does not.
//! - [`Supervisor`] ([`Supervisor::builder`], then [`Supervisor::on_event`] from the
//!   receiver's handler) keeps one connection per stream: `rtms_started` connects (or fails
//!   over), `rtms_interrupted` reconnects, `rtms_stopped` ends it; every stream's items end
//!   with a terminal item ([`Item::HandedOver`] when another replica carries it on); with the
//!   `redis` feature, one connection per stream across replicas, with takeover when a replica
//!   dies and at once when one hands its streams over. With `axum` too, [`crate::service`]
//!   runs the whole service.
//! - Media payloads are decoded from base64 once, straight into shared
//!   [`Bytes`](bytes::Bytes) carved from a reused buffer (no copy of the decoded data).
//! - Transcripts, chat messages and events are owned and `Serialize` (flat JSON objects with
//!   Zoom's field names), their speaker a [`Source`] as for media frames.
//! - Each stream keeps its [`Roster`] (participants, names, cameras, active speaker, sharing,
//!   first packet timestamp) from the events [`Config`] subscribes to by default:
//!   [`StreamHandle::roster`] for a snapshot, [`EventUpdate::roster_change`] per event.
//! - A media type Zoom does not offer or refuses is reported ([`Item::MediaRefused`]) and the
//!   stream goes on with the others.
//!
//! ```no_run
//! use zoom_rtms_webhooks::client::{self, Config, Credentials, Item, MediaParams, MediaTypes};
//! use zoom_rtms_webhooks::event::RtmsStarted;
//!
//! # async fn run(started: RtmsStarted) -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new(Credentials::new("client_id", "client_secret")?)
//!     .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new());
//! let (handle, mut items) = client::connect(&started, &config)?;
//! while let Some(item) = items.next().await {
//!     match item {
//!         Item::Audio(frame) => println!("{} audio bytes at {:?}", frame.data.len(), frame.timestamp),
//!         Item::Transcript(t) => println!("{}", serde_json::to_string(&t)?),
//!         Item::Lagged { dropped } => eprintln!("too slow: {dropped} items dropped"),
//!         item if item.is_terminal() => break,
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
mod roster;
mod supervisor;
mod transport;

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::watch;

pub use item::{Chat, EventUpdate, Item, MediaFrame, Metadata, Source, Transcript};
#[cfg(feature = "record")]
pub(crate) use record::safe_name;
pub use roster::{Member, Roster, RosterChange};
#[cfg(feature = "redis")]
pub use supervisor::DEFAULT_SUPERVISOR_PREFIX;
pub use supervisor::{Handled, SupervisedStream, Supervisor, SupervisorBuilder, SupervisorError};

// The vocabulary of a stream's configuration and items, where the client is used.
pub use crate::handshake::{Credentials, MediaTypes};
pub use crate::protocol::media::{
    AudioChannel, AudioFormat, AudioParams, Codec, DataOption, MediaContentType, MediaParams,
    ParamsError, SampleRate, VideoParams,
};
pub use crate::protocol::session::{
    EndReason, Scope, SessionConfig, SessionError, Timing, Webhook,
};
pub use crate::region::{HostPolicy, ServerUrl, ServerUrlError};

use crate::event::RtmsStarted;
use crate::handshake::SignalingHandshakeRequest;
use crate::protocol::recording::Redaction;

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
    delivery: Delivery,
}

/// What the user's queue does when the consumer falls behind ([`Options::with_delivery`]).
///
/// ```
/// use zoom_rtms_webhooks::client::Delivery;
/// assert_eq!(Delivery::default(), Delivery::DropOldest);
/// assert_eq!(Delivery::lossless(), Delivery::Lossless { budget: 64 << 20 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Delivery {
    /// Live use (the default): past the queue's bounds ([`Options::with_queue_capacity`],
    /// [`Options::with_queue_bytes`]) the oldest data is dropped and [`Item::Lagged`] tells
    /// the user.
    #[default]
    DropOldest,
    /// Recording: nothing is ever dropped (the item bounds do not apply). Once more than
    /// `budget` bytes of items wait for the user, the stream fails: its sockets are closed
    /// (without a stream close request, so Zoom's side goes on) and, after every item queued
    /// so far, the last item is [`Item::Failed`] with [`SessionError::QueueBudget`] naming
    /// the budget. Keep-alives are answered at once all the same: the driver never waits for
    /// the user.
    Lossless {
        /// The bytes of items (as counted for [`Options::with_queue_bytes`]) that may wait.
        budget: usize,
    },
}

impl Delivery {
    /// The default budget of [`Delivery::lossless`]: 64 MiB (about 35 minutes of one
    /// 16 kHz mono L16 audio stream, or one minute of full-HD JPG video at 5 frames a second).
    ///
    /// ```
    /// assert_eq!(zoom_rtms_webhooks::client::Delivery::DEFAULT_LOSSLESS_BUDGET, 64 << 20);
    /// ```
    pub const DEFAULT_LOSSLESS_BUDGET: usize = 64 * 1024 * 1024;

    /// [`Delivery::Lossless`] with the default budget
    /// ([`DEFAULT_LOSSLESS_BUDGET`](Delivery::DEFAULT_LOSSLESS_BUDGET), 64 MiB).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Delivery, Options};
    /// let o = Options::default().with_delivery(Delivery::lossless());
    /// assert!(matches!(o.delivery(), Delivery::Lossless { .. }));
    /// ```
    pub fn lossless() -> Self {
        Delivery::Lossless {
            budget: Self::DEFAULT_LOSSLESS_BUDGET,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            queue_capacity: 1024,
            queue_bytes: 32 * 1024 * 1024,
            max_message_len: transport::MAX_MESSAGE,
            roots: Vec::new(),
            recording: None,
            delivery: Delivery::DropOldest,
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
    /// [`connect`] creates (or truncates) the file, or fails with
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

    /// What happens when the consumer falls behind: drop the oldest (the default, for live
    /// use) or [`Delivery::Lossless`] (for recording: nothing dropped, the stream fails past
    /// a byte budget).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Delivery, Options};
    /// let o = Options::default().with_delivery(Delivery::Lossless { budget: 16 << 20 });
    /// assert_eq!(o.delivery(), Delivery::Lossless { budget: 16 << 20 });
    /// ```
    #[must_use]
    pub fn with_delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// See [`with_delivery`](Options::with_delivery).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Delivery, Options};
    /// assert_eq!(Options::default().delivery(), Delivery::DropOldest);
    /// ```
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// The lossless budget, in lossless mode.
    pub(crate) fn lossless_budget(&self) -> Option<usize> {
        match self.delivery {
            Delivery::DropOldest => None,
            Delivery::Lossless { budget } => Some(budget),
        }
    }
}

/// Why [`connect`] (or [`connect_session`]) could not start. Nothing was dialled. A server
/// URL the host policy refuses is not one of these: the stream's items report it
/// ([`Item::Refused`]).
///
/// ```
/// use zoom_rtms_webhooks::client::ConnectError;
/// assert_eq!(ConnectError::NoRuntime.to_string(), "no tokio runtime is running");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The media parameters are invalid.
    #[error("invalid media parameters")]
    Params(#[from] ParamsError),
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

/// Connects to the stream an `rtms_started` webhook announced: signs the handshakes with
/// `config`'s credentials, dials the first of its `server_urls` (signalling), then the media
/// sockets the signalling response names, and keeps the stream up (keep-alives, watchdog,
/// reconnects) until it ends, fails or is closed. Must be called inside a tokio runtime (it
/// spawns the stream's driver task).
///
/// A server URL `config`'s host policy refuses is never dialled: the items are then
/// [`Item::Refused`] and [`Item::Failed`] ([`SessionError::SignalingUrl`]). For a service
/// that receives every webhook, [`Supervisor`] calls this for you and keeps one connection
/// per stream.
///
/// ```no_run
/// use zoom_rtms_webhooks::client::{self, Config, Credentials, Item, MediaParams, MediaTypes};
/// use zoom_rtms_webhooks::event::RtmsStarted;
///
/// # async fn run(started: RtmsStarted) -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::new(Credentials::new("client_id", "client_secret")?)
///     .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new());
/// let (handle, mut items) = client::connect(&started, &config)?;
/// while let Some(item) = items.next().await {
///     match item {
///         Item::Audio(frame) => println!("{} audio bytes at {:?}", frame.data.len(), frame.timestamp),
///         Item::Transcript(t) => println!("{}: {}", t.source.user_name().unwrap_or("?"), t.text),
///         Item::Lagged { dropped } => eprintln!("too slow: {dropped} items dropped"),
///         item if item.is_terminal() => println!("{item:?}"),
///         _ => {}
///     }
/// }
/// handle.close().await;
/// # Ok(()) }
/// ```
pub fn connect(
    started: &RtmsStarted,
    config: &Config,
) -> Result<(StreamHandle, Items), ConnectError> {
    match config.server_url(started) {
        Ok(url) => connect_session(config.session_config(started), url, config.options.clone()),
        Err(error) => Ok(refused(error)),
    }
}

/// [`connect`] with every protocol setting in your hands: a [`SessionConfig`] (the handshake
/// to send, media, rules, timing) and a signalling [`ServerUrl`] already checked against the
/// host policy.
///
/// ```no_run
/// use zoom_rtms_webhooks::client::{connect_session, Credentials, HostPolicy, Options, ServerUrl, SessionConfig};
/// use zoom_rtms_webhooks::handshake::SignalingHandshakeRequest;
/// use zoom_rtms_webhooks::Product;
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let creds = Credentials::new("client_id", "client_secret")?;
/// let hello = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m-uuid", "stream-1");
/// let url = ServerUrl::parse("wss://rtms.zoom.us", &HostPolicy::default())?;
/// let (handle, items) = connect_session(SessionConfig::new(hello), url, Options::default())?;
/// # Ok(()) }
/// ```
pub fn connect_session(
    config: SessionConfig,
    server_url: ServerUrl,
    options: Options,
) -> Result<(StreamHandle, Items), ConnectError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConnectError::NoRuntime)?;
    let transport = transport::Tws::new(options.root_certificates(), options.max_message_len())
        .map_err(ConnectError::Tls)?;
    driver::spawn(&runtime, transport, config, server_url, options)
}

/// A stream whose signalling URL was refused: never dialled, its items are
/// [`Item::Refused`] and [`Item::Failed`], and it is finished.
pub(crate) fn refused(error: ServerUrlError) -> (StreamHandle, Items) {
    ended_stream(vec![
        Item::Refused(error.clone()),
        Item::Failed(SessionError::SignalingUrl(error)),
    ])
}

/// A stream that never connected: its handle is finished and its items are `items` (the last
/// one terminal).
pub(crate) fn ended_stream(items: Vec<Item>) -> (StreamHandle, Items) {
    let (out, shared) = queue::channel(items.len(), usize::MAX, None);
    for item in items {
        out.push(item);
    }
    drop(out);
    let (_done, finished) = watch::channel(true);
    let handle = StreamHandle {
        finished,
        queue: shared.clone(),
        roster: Arc::default(),
    };
    (
        handle,
        Items {
            rx: queue::Receiver(shared),
        },
    )
}

type Configure = Arc<dyn Fn(SessionConfig, &RtmsStarted) -> SessionConfig + Send + Sync>;

/// How to connect to a stream: the app's credentials, the host policy, the media to ask for,
/// and the driver's [`Options`]. One `Config` serves every stream ([`connect`], and the
/// [`Supervisor`]); cheap to clone.
///
/// ```
/// use zoom_rtms_webhooks::client::{Config, Credentials, MediaParams, MediaTypes};
/// let config = Config::new(Credentials::new("client_id", "client_secret").unwrap())
///     .with_media(MediaTypes::TRANSCRIPT, MediaParams::new());
/// assert_eq!(config.media_types(), MediaTypes::TRANSCRIPT);
/// // By default: audio with the server's default parameters, only wss:// on Zoom's hosts.
/// let config = Config::new(Credentials::new("client_id", "client_secret").unwrap());
/// assert_eq!(config.media_types(), MediaTypes::AUDIO);
/// assert_eq!(config.host_policy(), &zoom_rtms_webhooks::client::HostPolicy::default());
/// ```
#[derive(Clone)]
pub struct Config {
    credentials: Credentials,
    policy: HostPolicy,
    media_types: MediaTypes,
    params: MediaParams,
    configure: Option<Configure>,
    options: Options,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("credentials", &self.credentials)
            .field("policy", &self.policy)
            .field("media_types", &self.media_types)
            .field("params", &self.params)
            .field("configure", &self.configure.is_some())
            .field("options", &self.options)
            .finish()
    }
}

/// [`Config::new`].
///
/// ```
/// use zoom_rtms_webhooks::client::{Config, Credentials};
/// let config: Config = Credentials::new("id", "secret").unwrap().into();
/// # let _ = config;
/// ```
impl From<Credentials> for Config {
    fn from(credentials: Credentials) -> Self {
        Config::new(credentials)
    }
}

impl Config {
    /// A configuration that signs with `credentials` (the app's client id and secret) and
    /// asks for audio with the server's default parameters.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials};
    /// let _ = Config::new(Credentials::new("client_id", "client_secret").unwrap());
    /// ```
    pub fn new(credentials: Credentials) -> Self {
        Config {
            credentials,
            policy: HostPolicy::default(),
            media_types: MediaTypes::AUDIO,
            params: MediaParams::new(),
            configure: None,
            options: Options::default(),
        }
    }

    /// Which server URLs may be dialled (default: only `wss://` on Zoom's hosts). The
    /// `rtms_started` URL and the media URLs of the signalling response are both checked.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials, HostPolicy};
    /// let policy = HostPolicy::default().with_allowed_host("127.0.0.1").with_insecure_ws(true);
    /// let config = Config::new(Credentials::new("id", "secret").unwrap()).with_host_policy(policy.clone());
    /// assert_eq!(config.host_policy(), &policy);
    /// ```
    #[must_use]
    pub fn with_host_policy(mut self, policy: HostPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// See [`with_host_policy`](Config::with_host_policy).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials};
    /// let _ = Config::new(Credentials::new("id", "secret").unwrap()).host_policy();
    /// ```
    pub fn host_policy(&self) -> &HostPolicy {
        &self.policy
    }

    /// The media to ask for, and their parameters.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::*;
    /// let audio = AudioParams::new().with_codec(Codec::L16).with_sample_rate(SampleRate::Sr16k);
    /// let config = Config::new(Credentials::new("id", "secret").unwrap())
    ///     .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new().with_audio(audio));
    /// assert!(config.media_params().audio().is_some());
    /// ```
    #[must_use]
    pub fn with_media(mut self, types: MediaTypes, params: MediaParams) -> Self {
        self.media_types = types;
        self.params = params;
        self
    }

    /// See [`with_media`](Config::with_media).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials, MediaTypes};
    /// assert_eq!(Config::new(Credentials::new("id", "secret").unwrap()).media_types(), MediaTypes::AUDIO);
    /// ```
    pub fn media_types(&self) -> MediaTypes {
        self.media_types
    }

    /// See [`with_media`](Config::with_media).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials};
    /// assert!(Config::new(Credentials::new("id", "secret").unwrap()).media_params().audio().is_none());
    /// ```
    pub fn media_params(&self) -> &MediaParams {
        &self.params
    }

    /// Adjusts each stream's [`SessionConfig`] before it connects (split sockets, event
    /// subscriptions, timing, per-product media), given the `rtms_started` it is for.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials};
    /// let config = Config::new(Credentials::new("id", "secret").unwrap())
    ///     .with_configure(|session, _started| session.with_split_sockets(true));
    /// ```
    #[must_use]
    pub fn with_configure<F>(mut self, configure: F) -> Self
    where
        F: Fn(SessionConfig, &RtmsStarted) -> SessionConfig + Send + Sync + 'static,
    {
        self.configure = Some(Arc::new(configure));
        self
    }

    /// The driver's options (queue bounds, message size, extra root certificates, recording).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials, Options};
    /// let config = Config::new(Credentials::new("id", "secret").unwrap())
    ///     .with_options(Options::default().with_queue_capacity(256));
    /// assert_eq!(config.options().queue_capacity(), 256);
    /// ```
    #[must_use]
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// See [`with_options`](Config::with_options).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials};
    /// assert_eq!(Config::new(Credentials::new("id", "secret").unwrap()).options().queue_capacity(), 1024);
    /// ```
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The session configuration for the stream of `started`: its signalling handshake signed
    /// with the credentials, the media, the host policy, the default event subscriptions,
    /// then [`with_configure`](Config::with_configure).
    ///
    /// **Events subscribed by default** (as Zoom's samples do), for meetings, webinars and
    /// Video SDK sessions: active speaker (2), participant join and leave (3, 4), sharing start
    /// and stop (5, 6), and, when video is asked for, participant video on and off (8, 9):
    /// what the stream's [`Roster`] is made of. Contact Center and Phone streams subscribe to
    /// none. Override them in [`with_configure`](Config::with_configure) with
    /// [`SessionConfig::with_events`] (an empty list for none).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials};
    /// use zoom_rtms_webhooks::event::RtmsStarted;
    /// # fn f(started: &RtmsStarted) {
    /// let config = Config::new(Credentials::new("id", "secret").unwrap());
    /// let session = config.session_config(started);
    /// assert_eq!(session.handshake().rtms_stream_id(), started.rtms_stream_id);
    /// // For a meeting: speaker, join, leave and sharing events by default.
    /// # if started.product == zoom_rtms_webhooks::Product::Meeting {
    /// assert_eq!(session.events(), &[2, 3, 4, 5, 6]);
    /// # }
    /// // None, for an app that wants none.
    /// let config = config.with_configure(|session, _| session.with_events(Vec::<i64>::new()));
    /// assert!(config.session_config(started).events().is_empty());
    /// # }
    /// ```
    pub fn session_config(&self, started: &RtmsStarted) -> SessionConfig {
        let hello = SignalingHandshakeRequest::new(&self.credentials, started);
        let events = default_events(started.product, self.media_types);
        let session = SessionConfig::new(hello)
            .with_media(self.media_types, self.params.clone())
            .with_host_policy(self.policy.clone())
            .with_events(events);
        match &self.configure {
            Some(configure) => configure(session, started),
            None => session,
        }
    }

    /// The first of `started`'s `server_urls`, checked against the host policy.
    pub(crate) fn server_url(&self, started: &RtmsStarted) -> Result<ServerUrl, ServerUrlError> {
        started
            .server_urls(&self.policy)?
            .into_iter()
            .next()
            .ok_or(ServerUrlError::Empty)
    }
}

/// The events subscribed by default ([`Config::session_config`]).
fn default_events(product: crate::Product, media: MediaTypes) -> Vec<i64> {
    use crate::protocol::events::MeetingEventType as E;
    use crate::Product as P;
    if !matches!(product, P::Meeting | P::Webinar | P::VideoSdk) {
        return Vec::new();
    }
    let mut events = vec![
        E::ActiveSpeakerChange,
        E::ParticipantJoin,
        E::ParticipantLeave,
        E::SharingStart,
        E::SharingStop,
    ];
    if media.contains(MediaTypes::VIDEO) {
        events.extend([E::ParticipantVideoOn, E::ParticipantVideoOff]);
    }
    events.into_iter().map(E::code).collect()
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
    roster: Arc<std::sync::Mutex<Roster>>,
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

    /// A snapshot of the stream's [`Roster`]: the participants present (names, cameras), the
    /// active speaker, who shares, and the first packet's timestamp, as the event updates
    /// read so far told them (the driver applies each as it arrives, ahead of the items the
    /// user has not taken yet). Subscribe to the events it is made of (2, 3, 4, 5, 6, and 8
    /// and 9 for video): [`Config`] does by default.
    ///
    /// ```no_run
    /// # fn f(handle: zoom_rtms_webhooks::client::StreamHandle) {
    /// let roster = handle.roster();
    /// if let Some(speaker) = roster.active_speaker() {
    ///     println!("{} speaks; {} present", speaker.user_id, roster.len());
    /// }
    /// # }
    /// ```
    pub fn roster(&self) -> Roster {
        self.roster
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Product;

    #[test]
    fn default_events_follow_the_product_and_video() {
        assert_eq!(
            default_events(Product::Webinar, MediaTypes::AUDIO),
            [2, 3, 4, 5, 6]
        );
        assert_eq!(
            default_events(Product::Meeting, MediaTypes::AUDIO | MediaTypes::VIDEO),
            [2, 3, 4, 5, 6, 8, 9]
        );
        // Contact Center's 8 and 9 are other events; Phone has none of these.
        assert!(default_events(Product::ContactCenter, MediaTypes::VIDEO).is_empty());
        assert!(default_events(Product::Phone, MediaTypes::AUDIO).is_empty());
    }
}
