//! The RTMS session state machine, sans I/O: one stream's signalling socket, media socket(s),
//! keep-alives, watchdog, retries, reconnects and graceful close, as plain code driven by inputs
//! and polled for outputs, in the shape of quinn-proto and str0m.
//!
//! - **Inputs:** [`Session::handle_opened`], [`Session::handle_closed`],
//!   [`Session::handle_message`] (a frame on a socket), [`Session::handle_timeout`] (the time
//!   asked for by [`Session::poll_timeout`] has come), [`Session::handle_webhook`]
//!   (`rtms_started` again, `rtms_interrupted`, `rtms_stopped`), [`Session::close`].
//! - **Outputs:** [`Session::poll_output`] yields [`Output`]s: open a socket to a URL, send a
//!   text frame, close a socket, or an [`SessionEvent`] for the user. Media messages are not copied
//!   into outputs: [`Session::handle_message`] hands them back borrowed from the frame.
//! - **Time** is an [`Instant`] passed with every input; the machine never reads a clock, so
//!   tests drive it with a fake one and no sockets.
//!
//! The driver (tokio, or anything else) owns the sockets: it dials what `Open` asks for, writes
//! what `Send` asks for, and feeds back what happens. Every URL the session asks to dial is a
//! [`ServerUrl`]: the signalling URL is given as one (from
//! [`RtmsStarted::server_urls`](crate::event::RtmsStarted::server_urls)), and the media URLs of
//! the signalling response are checked against the configuration's
//! [host policy](SessionConfig::with_host_policy) (a refused one fails the session with
//! [`SessionError::MediaUrl`] and is never dialled).
//!
//! ```
//! use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
//! use std::time::{Duration, Instant};
//! use zoom_rtms_webhooks::Product;
//! use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
//! use zoom_rtms_webhooks::protocol::media::MediaParams;
//! use zoom_rtms_webhooks::protocol::session::{SessionEvent, Output, Session, SessionConfig};
//!
//! let creds = Credentials::new("client_id", "client_secret").unwrap();
//! let config = SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m-uuid", "stream-1"))
//!     .with_media(MediaTypes::AUDIO, MediaParams::new());
//! let start = Instant::now();
//! let mut session = Session::connect(config, ServerUrl::parse("wss://rtms.zoom.us", &HostPolicy::default()).unwrap(), start).unwrap();
//!
//! // 1. Dial signalling; once open, the handshake (msg 1) goes out.
//! let Some(Output::Open { socket: sig, url, .. }) = session.poll_output() else { panic!() };
//! assert_eq!(url.as_str(), "wss://rtms.zoom.us/");
//! session.handle_opened(start, sig);
//! let Some(Output::Send { text, .. }) = session.poll_output() else { panic!() };
//! assert!(text.starts_with(r#"{"msg_type":1,"#));
//!
//! // 2. The server answers with the media URLs; the media socket is dialled.
//! session.handle_message(start, sig, br#"{"msg_type":2,"status_code":0,
//!     "media_server":{"server_urls":{"audio":"wss://a.zoom.us"}}}"#).unwrap();
//! let Some(Output::Open { socket: media, url, .. }) = session.poll_output() else { panic!() };
//! assert_eq!(url.as_str(), "wss://a.zoom.us/");
//! session.handle_opened(start, media);
//! let Some(Output::Send { text, .. }) = session.poll_output() else { panic!() };
//! assert!(text.starts_with(r#"{"msg_type":3,"#));
//!
//! // 3. The data handshake succeeds: client-ready on signalling, then the stream is ready.
//! session.handle_message(start, media, br#"{"msg_type":4,"status_code":0}"#).unwrap();
//! let Some(Output::Send { socket, text }) = session.poll_output() else { panic!() };
//! assert_eq!((socket, text.as_str()), (sig, r#"{"msg_type":7,"rtms_stream_id":"stream-1"}"#));
//! assert!(matches!(session.poll_output(), Some(Output::Event(SessionEvent::Connected { .. }))));
//!
//! // The watchdog: no inbound traffic for 65 s on a socket is a dead socket.
//! assert_eq!(session.poll_timeout(), Some(start + Duration::from_secs(65)));
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::incoming::{ParseError, ServerMessage};
use super::media::{MediaParams, ParamsError, Rules};
use super::outgoing::{
    ClientMessage, ClientReadyAck, DataHandshake, EventSubscription, KeepAliveResponse,
    StreamCloseRequest, VideoSubscriptionRequest,
};
use crate::codes::{MsgType, StreamState};
use crate::codes::{StatusCode, StopReason};
use crate::handshake::{HandshakeError, SignalingHandshakeRequest, SignalingHandshakeResponse};
use crate::handshake::{MediaKind, MediaTypes};
use crate::region::{echo, HostPolicy, ServerUrl, ServerUrlError};

/// The timing of a session. Defaults follow Zoom's
/// [event reference](https://developers.zoom.us/docs/rtms/event-reference/) (the 65 s watchdog),
/// its [failover guide](https://developers.zoom.us/docs/rtms/meetings/failover-reconnection/)
/// (the backoff) and its samples (the status 8 retries); each default and its basis:
/// `docs/protocol.md#timing-defaults`.
///
/// A duration longer than the clock can count (such as [`Duration::MAX`]) means never: that
/// wait has no end, and nothing panics.
///
/// ```
/// use std::time::Duration;
/// use zoom_rtms_webhooks::protocol::session::Timing;
/// let t = Timing::default();
/// assert_eq!(t.watchdog(), Duration::from_secs(65));
/// assert_eq!(t.backoff(0), Duration::from_secs(3));
/// assert_eq!(t.backoff(4), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    watchdog: Duration,
    duplicate_retries: Vec<Duration>,
    backoff_base: Duration,
    backoff_cap: Duration,
    close_timeout: Duration,
    handshake_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            watchdog: Duration::from_secs(65),
            duplicate_retries: vec![
                Duration::from_millis(1500),
                Duration::from_secs(3),
                Duration::from_secs(6),
            ],
            backoff_base: Duration::from_secs(3),
            backoff_cap: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl Timing {
    /// A socket with no inbound traffic for this long is dead (default 65 s; keep-alives may
    /// pause while media flows, so any inbound message counts).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// let t = Timing::default().with_watchdog(Duration::from_secs(30));
    /// assert_eq!(t.watchdog(), Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn with_watchdog(mut self, watchdog: Duration) -> Self {
        self.watchdog = watchdog;
        self
    }

    /// The delays before each retry after status 8 (duplicate signal request); default 1.5, 3
    /// and 6 s, then give up.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// let t = Timing::default().with_duplicate_retries(vec![Duration::from_secs(1)]);
    /// assert_eq!(t.duplicate_retries(), &[Duration::from_secs(1)]);
    /// ```
    #[must_use]
    pub fn with_duplicate_retries(mut self, delays: Vec<Duration>) -> Self {
        self.duplicate_retries = delays;
        self
    }

    /// The reconnect backoff: `base`, doubling, capped at `cap` (default 3 s to 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// let t = Timing::default().with_backoff(Duration::from_secs(1), Duration::from_secs(4));
    /// assert_eq!(t.backoff(3), Duration::from_secs(4));
    /// ```
    #[must_use]
    pub fn with_backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_cap = cap;
        self
    }

    /// How long [`Session::close`] waits for the stream close response (default 5 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// assert_eq!(Timing::default().with_close_timeout(Duration::from_secs(1)).close_timeout(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// How long a socket may take to open and answer its handshake, counted from its dial
    /// (default 10 s); no other traffic on the socket (keep-alives) extends it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// assert_eq!(Timing::default().handshake_timeout(), Duration::from_secs(10));
    /// ```
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// See [`with_watchdog`](Timing::with_watchdog).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// let _ = Timing::default().watchdog();
    /// ```
    pub fn watchdog(&self) -> Duration {
        self.watchdog
    }

    /// See [`with_duplicate_retries`](Timing::with_duplicate_retries).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// assert_eq!(Timing::default().duplicate_retries().len(), 3);
    /// ```
    pub fn duplicate_retries(&self) -> &[Duration] {
        &self.duplicate_retries
    }

    /// The delay before reconnect attempt `attempt` (0-based): base × 2^attempt, capped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// let t = Timing::default();
    /// assert_eq!([0, 1, 2, 3].map(|a| t.backoff(a).as_secs()), [3, 6, 12, 24]);
    /// ```
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        self.backoff_base
            .checked_mul(factor)
            .unwrap_or(self.backoff_cap)
            .min(self.backoff_cap)
    }

    /// See [`with_close_timeout`](Timing::with_close_timeout).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// let _ = Timing::default().close_timeout();
    /// ```
    pub fn close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// See [`with_handshake_timeout`](Timing::with_handshake_timeout).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::session::Timing;
    /// let _ = Timing::default().handshake_timeout();
    /// ```
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
}

/// What a session connects to and asks for.
///
/// ```
/// use zoom_rtms_webhooks::event::IdField;
/// use zoom_rtms_webhooks::Product;
/// use zoom_rtms_webhooks::handshake::{Credentials, IdKeys, MediaTypes, SignalingHandshakeRequest};
/// use zoom_rtms_webhooks::protocol::events::MeetingEventType;
/// use zoom_rtms_webhooks::protocol::media::{AudioParams, MediaParams};
/// use zoom_rtms_webhooks::protocol::session::SessionConfig;
///
/// let creds = Credentials::new("id", "secret").unwrap();
/// let keys = IdKeys::default().with_keys(Product::Webinar, [IdField::WebinarUuid, IdField::MeetingUuid]);
/// // The handshake (message type 1) as it is sent: id keys, sequence, buffer_data.
/// let hello = SignalingHandshakeRequest::from_parts(&creds, Product::Webinar, "w-uuid", "s-1")
///     .with_id_keys(&keys)
///     .with_buffer_data(false);
/// let config = SessionConfig::new(hello)
///     .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new().with_audio(AudioParams::new()))
///     .with_split_sockets(true)
///     .with_events([MeetingEventType::ActiveSpeakerChange]);
/// assert_eq!(config.handshake().id_keys(), &[IdField::WebinarUuid, IdField::MeetingUuid]);
/// ```
#[derive(Clone)]
pub struct SessionConfig {
    hello: SignalingHandshakeRequest,
    policy: HostPolicy,
    media_types: MediaTypes,
    params: MediaParams,
    rules: Rules,
    split: bool,
    events: Vec<i64>,
    payload_encryption: Option<bool>,
    timing: Timing,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("hello", &self.hello)
            .field("policy", &self.policy)
            .field("media_types", &self.media_types)
            .field("params", &self.params)
            .field("split", &self.split)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    /// A configuration for the stream of `hello`, the signalling handshake to send (message
    /// type 1: its id keys, `sequence` and `buffer_data` are sent as set; the data
    /// handshakes use the same id keys and signature): audio over one socket with the
    /// server's default parameters, no event subscription.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let hello = SignalingHandshakeRequest::from_parts(&creds, Product::Phone, "call-1", "s-1")
    ///     .with_sequence(7);
    /// let c = SessionConfig::new(hello);
    /// assert_eq!(c.handshake().sequence(), 7);
    /// assert_eq!(c.handshake().rtms_stream_id(), "s-1");
    /// assert_eq!(c.media_types(), MediaTypes::AUDIO);
    /// assert!(!c.split_sockets());
    /// ```
    pub fn new(hello: SignalingHandshakeRequest) -> Self {
        SessionConfig {
            hello,
            policy: HostPolicy::default(),
            media_types: MediaTypes::AUDIO,
            params: MediaParams::new(),
            rules: Rules::default(),
            split: false,
            events: Vec::new(),
            payload_encryption: None,
            timing: Timing::default(),
        }
    }

    /// The media to ask for and their parameters (validated by [`Session::connect`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::media::MediaParams;
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let c = SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).with_media(MediaTypes::TRANSCRIPT, MediaParams::new());
    /// assert_eq!(c.media_types(), MediaTypes::TRANSCRIPT);
    /// ```
    #[must_use]
    pub fn with_media(mut self, types: MediaTypes, params: MediaParams) -> Self {
        self.media_types = types;
        self.params = params;
        self
    }

    /// The validation rules for the parameters.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::media::Rules;
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let _ = SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).with_rules(Rules::default());
    /// ```
    #[must_use]
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// One media socket per media kind (`true`, Zoom's samples' default) or one socket for
    /// all of them (`false`, the default here: half the sockets, keep-alives and handshakes
    /// per stream, which matters at thousands of streams; split when per-kind isolation is
    /// wanted or the app's product only offers per-kind URLs).
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// assert!(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).with_split_sockets(true).split_sockets());
    /// ```
    #[must_use]
    pub fn with_split_sockets(mut self, split: bool) -> Self {
        self.split = split;
        self
    }

    /// Event types to subscribe to after the signalling handshake (events 1 and 7 come
    /// without subscribing).
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let c = SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).with_events([2, 3]);
    /// assert_eq!(c.events(), &[2, 3]);
    /// ```
    #[must_use]
    pub fn with_events<E: Into<i64>>(mut self, events: impl IntoIterator<Item = E>) -> Self {
        self.events = events.into_iter().map(Into::into).collect();
        self
    }

    /// The host policy every media URL of the signalling response is checked against
    /// ([`ServerUrl::parse`]) before it is dialled (default [`HostPolicy::default`]: `wss://`
    /// on Zoom's domains only).
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// use zoom_rtms_webhooks::region::HostPolicy;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let policy = HostPolicy::default().with_allowed_host("rtms.example.com");
    /// let c = SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).with_host_policy(policy.clone());
    /// assert_eq!(c.host_policy(), &policy);
    /// ```
    #[must_use]
    pub fn with_host_policy(mut self, policy: HostPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// `payload_encryption` of the data handshake (omitted unless set).
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let _ = SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).with_payload_encryption(false);
    /// ```
    #[must_use]
    pub fn with_payload_encryption(mut self, encrypt: bool) -> Self {
        self.payload_encryption = Some(encrypt);
        self
    }

    /// The timing.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{SessionConfig, Timing};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let _ = SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).with_timing(Timing::default());
    /// ```
    #[must_use]
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// The signalling handshake sent on every signalling connection.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let hello = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")
    ///     .with_buffer_data(false);
    /// let c = SessionConfig::new(hello);
    /// assert_eq!(c.handshake().buffer_data(), Some(false));
    /// assert_eq!(c.handshake().sequence(), 1);
    /// ```
    pub fn handshake(&self) -> &SignalingHandshakeRequest {
        &self.hello
    }

    /// The host policy for media URLs.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// use zoom_rtms_webhooks::region::HostPolicy;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// assert_eq!(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).host_policy(), &HostPolicy::default());
    /// ```
    pub fn host_policy(&self) -> &HostPolicy {
        &self.policy
    }

    /// The media types asked for.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// assert_eq!(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).media_types(), MediaTypes::AUDIO);
    /// ```
    pub fn media_types(&self) -> MediaTypes {
        self.media_types
    }

    /// Whether media goes over one socket per kind.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// assert!(!SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).split_sockets());
    /// ```
    pub fn split_sockets(&self) -> bool {
        self.split
    }

    /// The event types subscribed to.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::SessionConfig;
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// assert!(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).events().is_empty());
    /// ```
    pub fn events(&self) -> &[i64] {
        &self.events
    }
}

/// A socket of the session. Every dial gets a new id, so an event from a socket the session
/// has already replaced is recognised as stale and ignored.
///
/// ```
/// use zoom_rtms_webhooks::protocol::session::SocketId;
/// assert_eq!(SocketId::from_raw(3).raw(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(u64);

impl SocketId {
    /// The id's number.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::session::SocketId;
    /// assert_eq!(SocketId::from_raw(9).raw(), 9);
    /// ```
    pub fn raw(self) -> u64 {
        self.0
    }

    /// An id from its number (for drivers that keep ids in their own tables, and tests).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::session::SocketId;
    /// assert_eq!(SocketId::from_raw(1), SocketId::from_raw(1));
    /// ```
    pub fn from_raw(raw: u64) -> Self {
        SocketId(raw)
    }
}

/// What a socket is for.
///
/// ```
/// use zoom_rtms_webhooks::handshake::MediaTypes;
/// use zoom_rtms_webhooks::protocol::session::Role;
/// assert_ne!(Role::Signalling, Role::Media(MediaTypes::AUDIO));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// The signalling socket.
    Signalling,
    /// A media socket carrying these types.
    Media(MediaTypes),
}

/// What the session asks its driver to do, or tells its user.
///
/// ```
/// use zoom_rtms_webhooks::protocol::session::{Output, SocketId};
/// let o = Output::Close { socket: SocketId::from_raw(1) };
/// assert!(matches!(o, Output::Close { .. }));
/// ```
///
/// `Debug` shows a [`Send`](Output::Send) as its message type and length, not its text (the
/// handshakes carry the signature, which authorises a connection to the stream).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Dial `url` (already checked: a [`ServerUrl`]) and report with
    /// [`Session::handle_opened`] or [`Session::handle_closed`].
    Open {
        /// The new socket.
        socket: SocketId,
        /// What it is for.
        role: Role,
        /// Where to: a URL that passed [`ServerUrl::parse`] (the signalling URL as given to
        /// [`Session::connect`] or [`Webhook::Started`], media URLs under the configuration's
        /// [host policy](SessionConfig::with_host_policy)).
        url: ServerUrl,
    },
    /// Send `text` as one text frame on `socket`.
    Send {
        /// The socket.
        socket: SocketId,
        /// The JSON text.
        text: String,
    },
    /// Close `socket` (no report needed).
    Close {
        /// The socket.
        socket: SocketId,
    },
    /// Tell the user.
    Event(SessionEvent),
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Open { socket, role, url } => f
                .debug_struct("Open")
                .field("socket", socket)
                .field("role", role)
                .field("url", url)
                .finish(),
            Output::Send { socket, text } => f
                .debug_struct("Send")
                .field("socket", socket)
                .field("msg_type", &sent_msg_type(text))
                .field("len", &text.len())
                .finish_non_exhaustive(),
            Output::Close { socket } => f.debug_struct("Close").field("socket", socket).finish(),
            Output::Event(event) => f.debug_tuple("Event").field(event).finish(),
        }
    }
}

/// The `msg_type` of a frame the session sends (it always writes it first).
fn sent_msg_type(text: &str) -> Option<MsgType> {
    #[derive(serde::Deserialize)]
    struct Head {
        msg_type: i64,
    }
    serde_json::from_str::<Head>(text)
        .ok()
        .map(|h| MsgType::from(h.msg_type))
}

/// What happened to the stream, for the user.
///
/// ```
/// use zoom_rtms_webhooks::protocol::session::{SessionEvent, Scope};
/// let e = SessionEvent::Reconnecting { scope: Scope::Media, attempt: 0 };
/// assert!(matches!(e, SessionEvent::Reconnecting { scope: Scope::Media, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// Every media handshake is done and client-ready was sent: media flows. Sent again after
    /// every reconnect or failover (`connects` counts them, from 1).
    Connected {
        /// How many times the stream became ready.
        connects: u32,
    },
    /// A reconnect is scheduled.
    Reconnecting {
        /// What is redialled.
        scope: Scope,
        /// The attempt (0-based) of the current backoff series.
        attempt: u32,
    },
    /// The stream ended; every socket is closed. Nothing follows.
    Ended(EndReason),
    /// The session gave up; every socket is closed. Nothing follows.
    Failed(SessionError),
    /// A media type asked for is not delivered, and the stream goes on with the others: the
    /// signalling response offered no URL for it (`status` `None`), or its data handshake was
    /// refused for it (status 9–13, `MEDIA_TYPE_*_NOT_SUPPORT`, or 7 on a socket carrying it
    /// alone). It is not asked for again on this stream. When no media type is left, the
    /// stream fails instead ([`SessionError::NoMediaUrl`], [`SessionError::Refused`]).
    MediaRefused {
        /// The media type.
        kind: MediaKind,
        /// The data handshake's status, or `None` when no URL was offered.
        status: Option<StatusCode>,
    },
}

/// What a reconnect redials.
///
/// ```
/// use zoom_rtms_webhooks::protocol::session::Scope;
/// assert_ne!(Scope::Everything, Scope::Media);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// Signalling and media.
    Everything,
    /// Media only (signalling is alive).
    Media,
}

/// Why a stream ended.
///
/// ```
/// use zoom_rtms_webhooks::codes::StopReason;
/// use zoom_rtms_webhooks::protocol::session::EndReason;
/// let r = EndReason::StreamTerminated(Some(StopReason::MeetingEnded));
/// assert_ne!(r, EndReason::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// Stream state 4 (terminated), with its reason.
    StreamTerminated(Option<StopReason>),
    /// Session state 5 (stopped), with its reason.
    SessionStopped(Option<StopReason>),
    /// The `rtms_stopped` webhook.
    Stopped,
    /// [`Session::close`] completed (the close response arrived, or its wait ran out).
    Closed,
}

/// `": <reason>"`, or nothing when the reason is empty or only repeats the status.
fn reason_suffix(status: &StatusCode, reason: &str) -> String {
    let reason = reason.trim();
    let repeats = reason.eq_ignore_ascii_case(&status.to_string())
        || reason.eq_ignore_ascii_case(status.description());
    if reason.is_empty() || repeats {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// Why a session gave up.
///
/// ```
/// use zoom_rtms_webhooks::codes::StatusCode;
/// use zoom_rtms_webhooks::protocol::session::SessionError;
/// let e = SessionError::Refused { status: StatusCode::InvalidSignature, reason: "bad".into() };
/// assert_eq!(e.to_string(), "the server refused the handshake: invalid signature (3): bad");
/// // A reason that only repeats the status (or none) is not shown twice.
/// let e = SessionError::Refused { status: StatusCode::InvalidSignature, reason: "invalid signature (3)".into() };
/// assert_eq!(e.to_string(), "the server refused the handshake: invalid signature (3)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A handshake was refused with a status that retrying cannot fix.
    #[error(
        "the server refused the handshake: {status}{}",
        reason_suffix(status, reason)
    )]
    Refused {
        /// The status.
        status: StatusCode,
        /// The `reason` text as the server sent it, cut to 200 bytes (`…` marks a cut) with
        /// control characters escaped, so it is safe on a log line.
        reason: String,
    },
    /// The signalling handshake response (message type 2) is unusable: no readable status
    /// (optional fields of another type are read as absent and never fail it).
    #[error("the signalling handshake response is unusable")]
    InvalidHandshakeResponse(#[source] HandshakeError),
    /// Status 8 (duplicate signal request) after every retry.
    #[error("another connection to the stream stayed active after {retries} retries")]
    Duplicate {
        /// The retries made.
        retries: usize,
    },
    /// The signalling response offered no URL for a media type asked for.
    #[error("the server offered no media URL for {kind}")]
    NoMediaUrl {
        /// The kind.
        kind: MediaKind,
    },
    /// The signalling URL was refused by the host policy (it is never dialled). The session
    /// never reports this one (it starts from a [`ServerUrl`] already checked); the client
    /// does, for an `rtms_started` whose URL is refused.
    #[error("the signalling URL was refused")]
    SignalingUrl(#[source] ServerUrlError),
    /// The consumer fell behind in lossless mode: more than `budget` bytes of items waited
    /// for it. The session never reports this one; the client does
    /// (`client::Delivery::Lossless`), and closes the stream's sockets.
    #[error(
        "the consumer fell behind: more than the lossless budget of {budget} bytes was queued"
    )]
    QueueBudget {
        /// The budget, in bytes.
        budget: usize,
    },
    /// The signalling response's media URL for a media type was refused by the host policy
    /// (it is never dialled).
    #[error("the server's media URL for {kind} was refused")]
    MediaUrl {
        /// The kind.
        kind: MediaKind,
        /// Why the URL was refused.
        #[source]
        error: ServerUrlError,
    },
}

/// What [`Session::handle_message`] hands back.
///
/// ```
/// use zoom_rtms_webhooks::protocol::session::Inbound;
/// assert!(matches!(Inbound::Handled, Inbound::Handled));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Inbound<'a> {
    /// Protocol traffic, handled (or stale, ignored): nothing for the user.
    Handled,
    /// For the user: media (14–18), event updates (6), stream and session state (8, 9, 11,
    /// 20), responses the user asked for (29), and unknown messages; borrowed from the frame.
    User(ServerMessage<'a>),
}

/// The webhook events that concern a connected stream.
///
/// ```
/// use zoom_rtms_webhooks::protocol::session::Webhook;
/// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
/// let server_url = ServerUrl::parse("wss://rtms-iad1.zoom.us", &HostPolicy::default()).unwrap();
/// let w = Webhook::Started { server_url };
/// assert!(matches!(w, Webhook::Started { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Webhook {
    /// `*.rtms_started` again for this stream: a server failover; reconnect to `server_url`
    /// at once (the old sockets are closed first). Ignored while the session is closing
    /// ([`Session::close`]): the stream is ending at the client's request.
    Started {
        /// The new signalling URL (from
        /// [`RtmsStarted::server_urls`](crate::event::RtmsStarted::server_urls)).
        server_url: ServerUrl,
    },
    /// `*.rtms_interrupted`: redo everything.
    Interrupted,
    /// `*.rtms_stopped`: the stream ended.
    Stopped,
}

/// `d` after `t`, or `None` (never) when the clock cannot count that far: a [`Timing`] of
/// [`Duration::MAX`] is a wait without end, not a panic.
fn after(t: Instant, d: Duration) -> Option<Instant> {
    t.checked_add(d)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SockState {
    /// Dialled, not open yet.
    Dialling,
    /// Open; our handshake is sent, no answer yet.
    Handshaking,
    /// Handshake done.
    Ready,
}

#[derive(Debug, Clone)]
struct Sock {
    id: SocketId,
    role: Role,
    state: SockState,
    /// When it was dialled ([`Output::Open`]): the handshake timeout counts from here, and no
    /// traffic extends it.
    dialled: Instant,
    /// The last inbound traffic (or the dial/open time): the watchdog, once ready.
    last_rx: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connecting or connected.
    Running,
    /// Waiting to redial (`scope`) at `at` (`None`: never, a delay the clock cannot count).
    Waiting { scope: Scope, at: Option<Instant> },
    /// Close requested: 21 sent, waiting for 22 until `deadline` (`None`: no bound).
    Closing { deadline: Option<Instant> },
    /// Ended or failed.
    Done,
}

/// One stream's protocol state machine. See the [module documentation](self).
///
/// `Debug` redacts the signature: the configuration's handshake and the queued outputs show
/// no frame text.
pub struct Session {
    config: SessionConfig,
    signalling_url: ServerUrl,
    phase: Phase,
    signalling: Option<Sock>,
    media: Vec<Sock>,
    /// Media URLs from the last signalling response, by `MediaKind` (`None`: use `all`).
    media_urls: Vec<(MediaTypes, ServerUrl)>,
    outputs: VecDeque<Output>,
    next_socket: u64,
    duplicate_retries: usize,
    backoff_attempt: u32,
    connects: u32,
    confirmed: Option<MediaParams>,
    /// The media types refused on this stream ([`SessionEvent::MediaRefused`]): not asked for
    /// again.
    refused_kinds: MediaTypes,
    /// The last video subscription asked for (`user_id`, `subscribe`): sent once the stream is
    /// ready, and again after every reconnect (a new signalling connection has none).
    video: Option<(i64, bool)>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.config)
            .field("signalling_url", &self.signalling_url)
            .field("phase", &self.phase)
            .field("signalling", &self.signalling)
            .field("media", &self.media)
            .field("media_urls", &self.media_urls)
            .field("outputs", &self.outputs)
            .field("duplicate_retries", &self.duplicate_retries)
            .field("backoff_attempt", &self.backoff_attempt)
            .field("connects", &self.connects)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Validates the configuration's media parameters and starts: the first output opens the
    /// signalling socket to `signalling_url`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{Output, Role, Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let config = SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s"));
    /// let mut s = Session::connect(config, ServerUrl::parse("wss://rtms.zoom.us", &HostPolicy::default()).unwrap(), Instant::now()).unwrap();
    /// assert!(matches!(s.poll_output(), Some(Output::Open { role: Role::Signalling, .. })));
    ///
    /// // Invalid media parameters are refused before anything is dialled.
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// use zoom_rtms_webhooks::protocol::media::{AudioParams, MediaParams, ParamsError};
    /// let params = MediaParams::new().with_audio(AudioParams::new().with_send_rate(15));
    /// let config = SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")).with_media(MediaTypes::AUDIO, params);
    /// let err = Session::connect(config, ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), Instant::now()).unwrap_err();
    /// assert!(matches!(err, ParamsError::SendRate { value: 15 }));
    /// ```
    pub fn connect(
        config: SessionConfig,
        signalling_url: ServerUrl,
        now: Instant,
    ) -> Result<Self, ParamsError> {
        config
            .params
            .validate_with(config.media_types, &config.rules)?;
        let mut s = Session {
            config,
            signalling_url,
            phase: Phase::Running,
            signalling: None,
            media: Vec::new(),
            media_urls: Vec::new(),
            outputs: VecDeque::new(),
            next_socket: 0,
            duplicate_retries: 0,
            backoff_attempt: 0,
            connects: 0,
            confirmed: None,
            refused_kinds: MediaTypes::from_bits(0),
            video: None,
        };
        s.dial_signalling(now);
        Ok(s)
    }

    /// The next output, `None` when there is nothing to do until the next input.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let mut s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), Instant::now()).unwrap();
    /// assert!(s.poll_output().is_some());
    /// assert!(s.poll_output().is_none());
    /// ```
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Session::handle_timeout) must be called next; `None` when the
    /// session is done, or when nothing is ever due (a [`Timing`] duration longer than the
    /// clock can count, such as [`Duration::MAX`], is a wait without end).
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::{Duration, Instant};
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let now = Instant::now();
    /// let s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), now).unwrap();
    /// assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(10))); // the dial must complete
    /// ```
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Done => None,
            Phase::Waiting { at, .. } => {
                // Signalling may stay up during a media-only wait.
                self.sockets()
                    .filter_map(|s| self.deadline(s))
                    .chain(at)
                    .min()
            }
            Phase::Closing { deadline } => deadline,
            Phase::Running => self.sockets().filter_map(|s| self.deadline(s)).min(),
        }
    }

    /// Whether the session has ended or failed (nothing more will happen).
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), Instant::now()).unwrap();
    /// assert!(!s.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The media parameters the server confirmed (the format of the payloads), once known:
    /// each kind as the last data handshake response for it confirmed it (with split sockets,
    /// each socket's response confirms its own kinds).
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), Instant::now()).unwrap();
    /// assert!(s.confirmed_params().is_none());
    /// ```
    pub fn confirmed_params(&self) -> Option<&MediaParams> {
        self.confirmed.as_ref()
    }

    fn sockets(&self) -> impl Iterator<Item = &Sock> {
        self.signalling.iter().chain(self.media.iter())
    }

    /// When `s` counts as dead (`None`: never).
    fn deadline(&self, s: &Sock) -> Option<Instant> {
        let t = &self.config.timing;
        match s.state {
            // From the dial: inbound traffic (keep-alives) does not extend a handshake.
            SockState::Dialling | SockState::Handshaking => after(s.dialled, t.handshake_timeout),
            // Zoom may send no keep-alive while media flows, and nothing else comes on
            // signalling then: media traffic keeps the signalling socket alive too.
            SockState::Ready if s.role == Role::Signalling => {
                let media = self.media.iter().filter(|m| m.state == SockState::Ready);
                let last = media.map(|m| m.last_rx).fold(s.last_rx, Instant::max);
                after(last, t.watchdog)
            }
            SockState::Ready => after(s.last_rx, t.watchdog),
        }
    }

    fn new_socket(&mut self, role: Role, url: ServerUrl, now: Instant) -> Sock {
        self.next_socket += 1;
        let id = SocketId(self.next_socket);
        self.outputs.push_back(Output::Open {
            socket: id,
            role,
            url,
        });
        Sock {
            id,
            role,
            state: SockState::Dialling,
            dialled: now,
            last_rx: now,
        }
    }

    fn dial_signalling(&mut self, now: Instant) {
        let url = self.signalling_url.clone();
        let sock = self.new_socket(Role::Signalling, url, now);
        self.signalling = Some(sock);
    }

    fn close_media(&mut self) {
        for s in self.media.drain(..) {
            self.outputs.push_back(Output::Close { socket: s.id });
        }
    }

    fn close_all(&mut self) {
        self.close_media();
        if let Some(s) = self.signalling.take() {
            self.outputs.push_back(Output::Close { socket: s.id });
        }
    }

    /// Whether outputs wait to be taken (the driver carries them out before reading more).
    #[cfg(feature = "client")]
    pub(crate) fn has_output(&self) -> bool {
        !self.outputs.is_empty()
    }

    fn finish(&mut self, event: SessionEvent) {
        self.close_all();
        self.phase = Phase::Done;
        self.outputs.push_back(Output::Event(event));
    }

    /// Schedules a reconnect of `scope` with the backoff (never two at once: a wider scope
    /// replaces a narrower one, a pending one of the same scope is kept).
    fn schedule(&mut self, scope: Scope, now: Instant) {
        if let Phase::Waiting { scope: pending, .. } = self.phase {
            if pending == Scope::Everything || pending == scope {
                return;
            }
        }
        if scope == Scope::Everything {
            self.close_all();
        } else {
            self.close_media();
        }
        let attempt = self.backoff_attempt;
        self.backoff_attempt = self.backoff_attempt.saturating_add(1);
        self.phase = Phase::Waiting {
            scope,
            at: after(now, self.config.timing.backoff(attempt)),
        };
        self.outputs
            .push_back(Output::Event(SessionEvent::Reconnecting { scope, attempt }));
    }

    fn send(&mut self, socket: SocketId, msg: &impl ClientMessage) {
        self.outputs.push_back(Output::Send {
            socket,
            text: msg.to_json(),
        });
    }

    /// A socket opened: its handshake goes out.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{Output, Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let now = Instant::now();
    /// let mut s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), now).unwrap();
    /// let Some(Output::Open { socket, .. }) = s.poll_output() else { panic!() };
    /// s.handle_opened(now, socket);
    /// assert!(matches!(s.poll_output(), Some(Output::Send { .. })));
    /// ```
    pub fn handle_opened(&mut self, now: Instant, socket: SocketId) {
        if self.phase == Phase::Done {
            return;
        }
        let c = &self.config;
        if let Some(sig) = self.signalling.as_mut().filter(|s| s.id == socket) {
            if sig.state != SockState::Dialling {
                return;
            }
            sig.state = SockState::Handshaking;
            sig.last_rx = now;
            let text = c.hello.to_json();
            self.outputs.push_back(Output::Send { socket, text });
            return;
        }
        if let Some(m) = self.media.iter_mut().find(|s| s.id == socket) {
            if m.state != SockState::Dialling {
                return;
            }
            m.state = SockState::Handshaking;
            m.last_rx = now;
            let Role::Media(types) = m.role else { return };
            let params = c.params.only(types);
            let mut req = DataHandshake::for_stream(&c.hello, types);
            if !params.is_empty() {
                req = req.with_media_params(&params);
            }
            if let Some(e) = c.payload_encryption {
                req = req.with_payload_encryption(e);
            }
            let text = req.to_json();
            self.outputs.push_back(Output::Send { socket, text });
        }
    }

    /// A socket closed (or failed to open, or its URL was refused by the host policy). An
    /// unexpected close of signalling schedules a full reconnect; of a media socket, a media
    /// reconnect.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{SessionEvent, Output, Scope, Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let now = Instant::now();
    /// let mut s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), now).unwrap();
    /// let Some(Output::Open { socket, .. }) = s.poll_output() else { panic!() };
    /// s.handle_closed(now, socket);
    /// assert_eq!(s.poll_output(), Some(Output::Event(SessionEvent::Reconnecting { scope: Scope::Everything, attempt: 0 })));
    /// ```
    pub fn handle_closed(&mut self, now: Instant, socket: SocketId) {
        match self.phase {
            Phase::Done => return,
            Phase::Closing { .. } => {
                if self.signalling.as_ref().is_some_and(|s| s.id == socket) {
                    self.signalling = None;
                    self.finish(SessionEvent::Ended(EndReason::Closed));
                } else {
                    self.media.retain(|s| s.id != socket);
                }
                return;
            }
            _ => {}
        }
        if self.signalling.as_ref().is_some_and(|s| s.id == socket) {
            self.signalling = None;
            self.schedule(Scope::Everything, now);
        } else if self.media.iter().any(|s| s.id == socket) {
            self.media.retain(|s| s.id != socket);
            self.schedule(Scope::Media, now);
        }
    }

    /// A webhook for this stream.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{EndReason, SessionEvent, Output, Session, SessionConfig, Webhook};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let now = Instant::now();
    /// let mut s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), now).unwrap();
    /// s.handle_webhook(now, Webhook::Stopped);
    /// assert!(s.is_done());
    /// ```
    pub fn handle_webhook(&mut self, now: Instant, webhook: Webhook) {
        if self.phase == Phase::Done {
            return;
        }
        match webhook {
            Webhook::Stopped => self.finish(SessionEvent::Ended(EndReason::Stopped)),
            Webhook::Interrupted => {
                if !matches!(self.phase, Phase::Closing { .. }) {
                    self.schedule(Scope::Everything, now);
                }
            }
            Webhook::Started { server_url } => {
                // Closing: the stream is ending at our request; a failover must not bring it
                // back (the close would never finish).
                if matches!(self.phase, Phase::Closing { .. }) {
                    return;
                }
                // Failover: new servers, reconnect at once, backoff reset.
                self.close_all();
                self.signalling_url = server_url;
                self.backoff_attempt = 0;
                self.duplicate_retries = 0;
                self.phase = Phase::Running;
                self.dial_signalling(now);
            }
        }
    }

    /// Asks the server to end the stream (message type 21) and waits for its response (22),
    /// bounded by [`Timing::close_timeout`]; then every socket is closed and
    /// [`EndReason::Closed`] is emitted. Without a live signalling socket, closes at once.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{EndReason, SessionEvent, Output, Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let now = Instant::now();
    /// let mut s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), now).unwrap();
    /// s.close(now);
    /// assert!(s.is_done());
    /// ```
    pub fn close(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Done | Phase::Closing { .. }) {
            return;
        }
        match self
            .signalling
            .as_ref()
            .filter(|s| s.state == SockState::Ready)
        {
            Some(sig) => {
                let id = sig.id;
                let text = StreamCloseRequest::new(self.config.hello.rtms_stream_id()).to_json();
                self.outputs.push_back(Output::Send { socket: id, text });
                self.phase = Phase::Closing {
                    deadline: after(now, self.config.timing.close_timeout),
                };
            }
            None => self.finish(SessionEvent::Ended(EndReason::Closed)),
        }
    }

    /// Chooses the one participant whose video a `data_opt` 4 (individual video) connection
    /// carries, or unsubscribes (message type 28 on signalling; the answer, 29, comes back as a
    /// [`Inbound::User`]). `timestamp_ms` is sent when given. The choice is remembered: it is
    /// sent again (without a timestamp) each time the stream becomes ready, so one made before
    /// the stream is ready, or before a reconnect, still takes effect. Returns whether it was
    /// sent now (`false` while signalling is not ready).
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let mut s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), Instant::now()).unwrap();
    /// assert!(!s.subscribe_video(16778240, true, None)); // not connected yet
    /// ```
    pub fn subscribe_video(
        &mut self,
        user_id: i64,
        subscribe: bool,
        timestamp_ms: Option<i64>,
    ) -> bool {
        self.video = Some((user_id, subscribe));
        self.send_video_subscription(user_id, subscribe, timestamp_ms)
    }

    /// Sends message type 28 if signalling is ready.
    fn send_video_subscription(
        &mut self,
        user_id: i64,
        subscribe: bool,
        timestamp_ms: Option<i64>,
    ) -> bool {
        let Some(sig) = self
            .signalling
            .as_ref()
            .filter(|s| s.state == SockState::Ready && self.phase != Phase::Done)
            .map(|s| s.id)
        else {
            return false;
        };
        let mut req = if subscribe {
            VideoSubscriptionRequest::subscribe(user_id)
        } else {
            VideoSubscriptionRequest::unsubscribe(user_id)
        };
        if let Some(t) = timestamp_ms {
            req = req.with_timestamp(t);
        }
        self.send(sig, &req);
        true
    }

    /// The time asked for by [`poll_timeout`](Session::poll_timeout) has come (calling it
    /// early is harmless).
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::{Duration, Instant};
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{SessionEvent, Output, Scope, Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let now = Instant::now();
    /// let mut s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), now).unwrap();
    /// s.poll_output();
    /// s.handle_timeout(now + Duration::from_secs(10)); // the dial never completed
    /// assert!(matches!(s.poll_output(), Some(Output::Close { .. })));
    /// assert!(matches!(s.poll_output(), Some(Output::Event(SessionEvent::Reconnecting { scope: Scope::Everything, .. }))));
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Done => return,
            Phase::Closing { deadline } => {
                if deadline.is_some_and(|d| now >= d) {
                    self.finish(SessionEvent::Ended(EndReason::Closed));
                }
                return;
            }
            Phase::Waiting {
                scope,
                at: Some(at),
            } if now >= at => {
                self.phase = Phase::Running;
                match scope {
                    Scope::Everything => {
                        self.close_all();
                        self.dial_signalling(now);
                    }
                    Scope::Media => {
                        if self
                            .signalling
                            .as_ref()
                            .is_some_and(|s| s.state == SockState::Ready)
                        {
                            self.dial_media(now);
                        } else {
                            self.close_all();
                            self.dial_signalling(now);
                        }
                    }
                }
            }
            _ => {}
        }
        // Dead sockets: the watchdog and the handshake timeout.
        if let Some(sig) = &self.signalling {
            if self.deadline(sig).is_some_and(|d| now >= d) {
                let id = sig.id;
                self.signalling = None;
                self.outputs.push_back(Output::Close { socket: id });
                self.schedule(Scope::Everything, now);
                return;
            }
        }
        let dead: Vec<SocketId> = self
            .media
            .iter()
            .filter(|m| self.deadline(m).is_some_and(|d| now >= d))
            .map(|m| m.id)
            .collect();
        if !dead.is_empty() {
            self.schedule(Scope::Media, now);
        }
    }

    fn dial_media(&mut self, now: Instant) {
        self.close_media();
        let urls = self.media_urls.clone();
        for (types, url) in urls {
            let sock = self.new_socket(Role::Media(types), url, now);
            self.media.push(sock);
        }
    }

    /// Plans the media sockets from the signalling response with
    /// [`SignalingHandshakeResponse::media_url`] (the kind's URL, else `all`), every URL
    /// checked against the host policy: split, one socket per kind; unified, one socket for
    /// every kind at the URL of the first kind asked for (audio for `ALL`).
    fn plan_media(&mut self, resp: &SignalingHandshakeResponse) -> Result<(), SessionError> {
        let wanted = self.config.media_types;
        let types = if wanted.contains(MediaTypes::ALL) {
            wanted
        } else {
            // Only the kinds the response offers a URL for (their own, or `all`), as Zoom's
            // samples do; the others are reported once and not asked for.
            let mut offered = MediaTypes::from_bits(0);
            let mut first = None;
            let mut not_offered = Vec::new();
            for kind in wanted.kinds() {
                first.get_or_insert(kind);
                if self.refused_kinds.contains(kind.flag()) {
                    continue;
                }
                // A URL the policy refuses counts as offered: it fails the stream below.
                if !matches!(resp.media_url(kind, &self.config.policy), Ok(None)) {
                    offered |= kind.flag();
                } else {
                    not_offered.push(kind);
                }
            }
            if offered.kinds().next().is_none() {
                return Err(SessionError::NoMediaUrl {
                    kind: first.unwrap_or(MediaKind::Audio),
                });
            }
            for kind in not_offered {
                self.refused_kinds |= kind.flag();
                self.outputs
                    .push_back(Output::Event(SessionEvent::MediaRefused {
                        kind,
                        status: None,
                    }));
            }
            offered
        };
        let split = self.config.split && !types.contains(MediaTypes::ALL);
        let sockets: Vec<(MediaKind, MediaTypes)> = if split {
            types.kinds().map(|kind| (kind, kind.flag())).collect()
        } else {
            vec![(types.kinds().next().unwrap_or(MediaKind::Audio), types)]
        };
        let mut plan = Vec::with_capacity(sockets.len());
        for (kind, carried) in sockets {
            let url = resp
                .media_url(carried, &self.config.policy)
                .map_err(|error| SessionError::MediaUrl { kind, error })?
                .ok_or(SessionError::NoMediaUrl { kind })?;
            plan.push((carried, url));
        }
        self.media_urls = plan;
        Ok(())
    }

    /// A frame arrived on `socket`. Keep-alives are answered at once (on the same socket),
    /// handshakes advance the session, and what is for the user is handed back borrowed from
    /// the frame. A frame from a socket the session no longer uses is ignored.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    /// use std::time::Instant;
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::session::{Inbound, Output, Session, SessionConfig};
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let now = Instant::now();
    /// let mut s = Session::connect(SessionConfig::new(SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m", "s")), ServerUrl::parse("wss://x.zoom.us", &HostPolicy::default()).unwrap(), now).unwrap();
    /// let Some(Output::Open { socket, .. }) = s.poll_output() else { panic!() };
    /// s.handle_opened(now, socket);
    /// s.poll_output();
    /// let d = s.handle_message(now, socket, br#"{"msg_type":12,"timestamp":77}"#).unwrap();
    /// assert_eq!(d, Inbound::Handled);
    /// assert_eq!(s.poll_output(), Some(Output::Send { socket, text: r#"{"msg_type":13,"timestamp":77}"#.into() }));
    /// ```
    pub fn handle_message<'a>(
        &mut self,
        now: Instant,
        socket: SocketId,
        frame: &'a [u8],
    ) -> Result<Inbound<'a>, ParseError> {
        if self.phase == Phase::Done {
            return Ok(Inbound::Handled);
        }
        let on_signalling = self.signalling.as_ref().is_some_and(|s| s.id == socket);
        let media_index = self.media.iter().position(|s| s.id == socket);
        if !on_signalling && media_index.is_none() {
            return Ok(Inbound::Handled);
        }
        // Any inbound frame is traffic for the watchdog, even one that does not parse (a
        // handshake's deadline counts from the dial and is not extended by it).
        if on_signalling {
            if let Some(s) = self.signalling.as_mut() {
                s.last_rx = now;
            }
        } else if let Some(i) = media_index {
            self.media[i].last_rx = now;
        }
        // Message 2 counts only while signalling awaits it: one repeated later (or on a media
        // socket) is ignored, well-formed or not, and never redials or fails the stream.
        let in_signalling_handshake = on_signalling
            && self
                .signalling
                .as_ref()
                .is_some_and(|s| s.state == SockState::Handshaking);
        let msg = ServerMessage::parse(frame)?;
        match msg {
            ServerMessage::KeepAliveRequest(req) => {
                let reply = KeepAliveResponse::echo(&req);
                self.send(socket, &reply);
                Ok(Inbound::Handled)
            }
            ServerMessage::SignalingHandshakeResponse(resp) if in_signalling_handshake => {
                self.on_signalling_response(now, socket, &resp);
                Ok(Inbound::Handled)
            }
            ServerMessage::Other {
                msg_type: MsgType::SignalingHandshakeResponse,
                raw,
            } if in_signalling_handshake => {
                // A response without a readable status: unusable, not a refusal.
                match SignalingHandshakeResponse::parse(raw) {
                    Ok(resp) => self.on_signalling_response(now, socket, &resp),
                    Err(error) => self.finish(SessionEvent::Failed(
                        SessionError::InvalidHandshakeResponse(error),
                    )),
                }
                Ok(Inbound::Handled)
            }
            ServerMessage::SignalingHandshakeResponse(_)
            | ServerMessage::Other {
                msg_type: MsgType::SignalingHandshakeResponse,
                ..
            } => {
                #[cfg(feature = "tracing")]
                tracing::debug!(
                    socket = socket.raw(),
                    "RTMS signalling handshake response outside the handshake ignored"
                );
                Ok(Inbound::Handled)
            }
            ServerMessage::DataHandshakeResponse(resp) => {
                if let Some(i) = media_index {
                    self.on_data_response(now, i, *resp);
                }
                Ok(Inbound::Handled)
            }
            ServerMessage::StreamCloseResponse(_) if on_signalling => {
                if matches!(self.phase, Phase::Closing { .. }) {
                    self.finish(SessionEvent::Ended(EndReason::Closed));
                }
                Ok(Inbound::Handled)
            }
            ServerMessage::EventUpdate(ref e)
                if on_signalling
                    && e.event_type(self.config.hello.product())
                        .is_media_connection_interrupted() =>
            {
                if matches!(self.phase, Phase::Running) {
                    self.schedule(Scope::Media, now);
                }
                Ok(Inbound::User(msg))
            }
            ServerMessage::StreamStateUpdate(ref u) => {
                if u.state.is_some_and(|s| s.is_terminated()) {
                    self.finish(SessionEvent::Ended(EndReason::StreamTerminated(u.reason)));
                } else if u.state == Some(StreamState::Interrupted)
                    && u.reason == Some(StopReason::DataConnectionInterrupted)
                    && matches!(self.phase, Phase::Running)
                {
                    self.schedule(Scope::Media, now);
                }
                Ok(Inbound::User(msg))
            }
            ServerMessage::SessionStateUpdate(ref u) => {
                if u.state.is_some_and(|s| s.is_stopped()) {
                    self.finish(SessionEvent::Ended(EndReason::SessionStopped(
                        u.stop_reason,
                    )));
                }
                Ok(Inbound::User(msg))
            }
            other => Ok(Inbound::User(other)),
        }
    }

    fn on_signalling_response(
        &mut self,
        now: Instant,
        socket: SocketId,
        resp: &SignalingHandshakeResponse,
    ) {
        if resp.is_ok() {
            if let Some(sig) = self.signalling.as_mut() {
                sig.state = SockState::Ready;
            }
            self.duplicate_retries = 0;
            if let Err(e) = self.plan_media(resp) {
                self.finish(SessionEvent::Failed(e));
                return;
            }
            if !self.config.events.is_empty() {
                let sub = self
                    .config
                    .events
                    .iter()
                    .fold(EventSubscription::new(), |s, e| s.subscribe(*e));
                self.send(socket, &sub);
            }
            self.dial_media(now);
        } else if resp.is_duplicate() {
            let delays = &self.config.timing.duplicate_retries;
            match delays.get(self.duplicate_retries).copied() {
                Some(delay) => {
                    self.duplicate_retries += 1;
                    self.close_all();
                    self.phase = Phase::Waiting {
                        scope: Scope::Everything,
                        at: after(now, delay),
                    };
                }
                None => {
                    let retries = self.duplicate_retries;
                    self.finish(SessionEvent::Failed(SessionError::Duplicate { retries }));
                }
            }
        } else {
            self.refused(Some(resp.status_code), resp.reason.as_deref());
        }
    }

    fn refused(&mut self, code: Option<StatusCode>, reason: Option<&str>) {
        self.finish(SessionEvent::Failed(SessionError::Refused {
            status: code.unwrap_or(StatusCode::Other(-1)),
            reason: echo(reason.unwrap_or_default()),
        }));
    }

    /// The media type a data handshake refusal on media socket `index` is about: 9–13 name
    /// it; 7 (invalid media type) on a socket carrying one kind is about that kind.
    fn refused_kind(&self, index: usize, status: Option<StatusCode>) -> Option<MediaKind> {
        let Role::Media(carried) = self.media[index].role else {
            return None;
        };
        let kind = match status? {
            StatusCode::MediaTypeAudioNotSupported => MediaKind::Audio,
            StatusCode::MediaTypeVideoNotSupported => MediaKind::Video,
            StatusCode::MediaTypeDeskshareNotSupported => MediaKind::Deskshare,
            StatusCode::MediaTypeTranscriptNotSupported => MediaKind::Transcript,
            StatusCode::MediaTypeChatNotSupported => MediaKind::Chat,
            StatusCode::InvalidMediaType => {
                let mut kinds = carried.kinds();
                let kind = kinds.next()?;
                if kinds.next().is_some() {
                    return None;
                }
                kind
            }
            _ => return None,
        };
        carried.contains(kind.flag()).then_some(kind)
    }

    /// Drops `kind` from media socket `index` (redialled without it when it carried more) and
    /// tells the user; `false` (nothing done) when no media type would be left.
    fn refuse_kind(
        &mut self,
        now: Instant,
        index: usize,
        kind: MediaKind,
        status: Option<StatusCode>,
    ) -> bool {
        let Role::Media(carried) = self.media[index].role else {
            return false;
        };
        let remaining = MediaTypes::from_bits(carried.bits() & !kind.flag().bits());
        let left_here = remaining.kinds().next().is_some();
        if !left_here && self.media.len() == 1 {
            return false;
        }
        self.refused_kinds |= kind.flag();
        self.outputs
            .push_back(Output::Event(SessionEvent::MediaRefused { kind, status }));
        let sock = self.media.remove(index);
        self.outputs.push_back(Output::Close { socket: sock.id });
        if let Some(at) = self.media_urls.iter().position(|(t, _)| *t == carried) {
            if left_here {
                self.media_urls[at].0 = remaining;
                let url = self.media_urls[at].1.clone();
                let sock = self.new_socket(Role::Media(remaining), url, now);
                self.media.push(sock);
            } else {
                self.media_urls.remove(at);
            }
        }
        self.maybe_connected();
        true
    }

    /// Once every media socket is ready: the stream is connected.
    fn maybe_connected(&mut self) {
        if self.media.is_empty() || !self.media.iter().all(|m| m.state == SockState::Ready) {
            return;
        }
        self.backoff_attempt = 0;
        self.connects += 1;
        if let Some((user_id, subscribe)) = self.video {
            self.send_video_subscription(user_id, subscribe, None);
        }
        self.outputs
            .push_back(Output::Event(SessionEvent::Connected {
                connects: self.connects,
            }));
    }

    fn on_data_response(
        &mut self,
        now: Instant,
        index: usize,
        resp: super::incoming::DataResponse<'_>,
    ) {
        // Message 4 counts only while its socket awaits it: one repeated later, accepted or
        // refused, changes nothing (as for message 2).
        if self.media[index].state == SockState::Ready {
            return;
        }
        if !resp.status.is_ok() {
            // A refusal of one media type: go on with the others, when there are others.
            if let Some(kind) = self.refused_kind(index, resp.status.code) {
                if self.refuse_kind(now, index, kind, resp.status.code) {
                    return;
                }
            }
            // 14, 15, 16 and every other refusal are final (the samples never retry them).
            self.refused(resp.status.code, resp.status.reason.as_deref());
            return;
        }
        self.media[index].state = SockState::Ready;
        // Each kind as its socket's response confirmed it (split sockets answer one kind
        // each; a redial confirms its kinds anew).
        match self.confirmed.as_mut() {
            Some(confirmed) => confirmed.merge(resp.media_params),
            None => self.confirmed = Some(resp.media_params),
        }
        if let Some(sig) = self.signalling.as_ref().map(|s| s.id) {
            let text = ClientReadyAck::new(self.config.hello.rtms_stream_id()).to_json();
            self.outputs.push_back(Output::Send { socket: sig, text });
        }
        self.maybe_connected();
    }
}
