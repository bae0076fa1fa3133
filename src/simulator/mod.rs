//! A local Zoom for RTMS (feature `simulator`): signed webhooks, the signalling and media
//! WebSockets on loopback (`ws://127.0.0.1:<port>`, one port), scripted faults, and a check of
//! the client's conduct against Zoom's RTMS documentation (each check's source:
//! [`CheckKind::rule`]).
//!
//! The simulator follows the protocol, not this crate's client: it reuses the protocol types
//! (messages, code tables, media-parameter rules, the handshake signature), so each rule is
//! written once, and it records every breach of the client's conduct as a failed check.
//!
//! A run: [`Simulator::start`], [`Simulator::register`] a stream ([`StreamSpec`]: product,
//! ids, the app's webhook secret and client credentials, frames, faults, how it ends),
//! [`Simulator::start_stream`] sends the signed `*_rtms_started` webhook (POSTed to the
//! configured URL, and always handed out by [`Simulator::take_webhooks`]), the client connects,
//! the simulator plays audio in the confirmed format (a deterministic tone, one per stream, as
//! L16; or real Opus packets of the same tone; it refuses G.711 and G.722, which it cannot
//! encode, and stops the stream saying so), transcripts (with [`StreamSpec::with_participants`],
//! several participants, each its own audio when the client asks for one stream per
//! participant, with mute gaps, late joiners, their events and chat:
//! [`ParticipantSummary`] gives the SHA-256 of each one's gap-filled track) and, when
//! the client asked for video, small JPEG frames (the active speaker's, or with `data_opt` 4
//! the participant subscribed with message type 28) once the client is ready, applies the faults, ends the stream; [`Simulator::finished`] waits for that and
//! [`Simulator::report`] tells what was sent and every check (`ok <check>` or
//! `FAIL <check>: <why>`).
//!
//! In tests with paused tokio time (`#[tokio::test(start_paused = true)]`), which make the
//! 65 s windows instant: dial with `TCP_NODELAY` (Nagle's algorithm holds a second small
//! message for the peer's delayed ACK, real milliseconds that paused time turns into seconds),
//! and keep a short ticker task running (`loop { sleep(5 ms) }`), since tokio advances a
//! paused clock to the next timer whenever every task waits, even while a message crosses a
//! loopback socket. The simulator sets `TCP_NODELAY` on its side.
//!
//! Every decision the simulator makes (what to answer, when a keep-alive or a deadline is due,
//! what each check concludes) is taken by a sans-I/O core driven by tokio here; the crate's own
//! tests drive the same core against the client's sans-I/O
//! [`Session`](crate::protocol::session::Session) in virtual time, with no socket, so each
//! scenario is judged exactly and the same way on every run.
//!
//! ```no_run
//! use zoom_rtms_webhooks::handshake::Credentials;
//! use zoom_rtms_webhooks::simulator::{Fault, SimConfig, Simulator, StreamSpec};
//! use zoom_rtms_webhooks::Product;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start(
//!     SimConfig::default().with_webhook_url("http://127.0.0.1:8080/webhook"),
//! )
//! .await?;
//! let creds = Credentials::new("client id", "client secret")?;
//! sim.register(
//!     StreamSpec::new(Product::Meeting, "m-uuid==", "stream-1", "webhook secret", creds)
//!         .with_audio_frames(100)
//!         .with_faults([Fault::DropMedia { after_frames: 50 }]),
//! )?;
//! sim.start_stream("stream-1").await?;
//! sim.finished("stream-1").await;
//! let report = sim.report();
//! print!("{report}");
//! assert!(report.passed());
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use self::core::Core;
use self::server::Shared;

use crate::codes::StatusCode;
use crate::event::Product;
use crate::handshake::{Credentials, IdKeys, MediaKind};
use crate::protocol::media::Rules;

mod cast;
mod core;
#[cfg(test)]
mod harness;
#[cfg(test)]
mod harness_tests;
mod opus;
mod replay;
mod scenario;
mod server;
mod webhook;

pub use cast::Participant;
pub use scenario::{ParseScenarioError, Scenario};
pub use webhook::SignedWebhook;

/// The simulator's settings. Private fields, `with_*` setters, getters of the same name.
///
/// ```
/// use std::time::Duration;
/// use zoom_rtms_webhooks::simulator::SimConfig;
/// let c = SimConfig::default().with_port(0).with_keep_alive_interval(Duration::from_secs(5));
/// assert_eq!(c.keep_alive_interval(), Duration::from_secs(5));
/// assert_eq!(c.ready_ack_deadline(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone)]
pub struct SimConfig {
    port: u16,
    public_origin: Option<String>,
    webhook_url: Option<String>,
    keep_alive_interval: Duration,
    first_keep_alive: Duration,
    delivery_patience: Duration,
    ready_ack_deadline: Duration,
    reconnect_window: Duration,
    reconnect_delay_min: Duration,
    observe_window: Duration,
    duplicate_webhooks: bool,
    webhook_retries: Vec<Duration>,
    rules: Rules,
    audio_digest: bool,
}

/// Zoom's retry schedule for a webhook that was not acknowledged with a 2xx within 3 s: 5
/// minutes after the first attempt, 20 minutes after that, 60 minutes after that (about 85
/// minutes in all).
///
/// ```
/// use std::time::Duration;
/// use zoom_rtms_webhooks::simulator::ZOOM_WEBHOOK_RETRIES;
/// let total: Duration = ZOOM_WEBHOOK_RETRIES.iter().sum();
/// assert_eq!(total, Duration::from_secs(85 * 60));
/// ```
pub const ZOOM_WEBHOOK_RETRIES: [Duration; 3] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(20 * 60),
    Duration::from_secs(60 * 60),
];

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            port: 0,
            public_origin: None,
            webhook_url: None,
            keep_alive_interval: Duration::from_secs(10),
            first_keep_alive: Duration::from_secs(1),
            delivery_patience: Duration::from_secs(60),
            ready_ack_deadline: Duration::from_secs(10),
            reconnect_window: Duration::from_secs(65),
            reconnect_delay_min: Duration::from_millis(2400),
            observe_window: Duration::from_secs(30),
            duplicate_webhooks: false,
            webhook_retries: Vec::new(),
            rules: Rules::default(),
            audio_digest: true,
        }
    }
}

impl SimConfig {
    /// The loopback port (0, the default: any free port).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().with_port(9092).port(), 9092);
    /// ```
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// The scheme, host and port of the URLs the simulator hands out (the signalling URL of
    /// `rtms_started`, the media URLs of the signalling answer), for clients that reach it
    /// through something in front of its port: a TLS endpoint that hands its connections to
    /// [`Simulator::serve_connection`], say (`wss://127.0.0.1:8443`). Default: `ws://` and
    /// [`Simulator::local_addr`]. The media URL check (`media_url`) expects this origin.
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_public_origin("wss://127.0.0.1:8443");
    /// assert_eq!(c.public_origin(), Some("wss://127.0.0.1:8443"));
    /// ```
    #[must_use]
    pub fn with_public_origin(mut self, origin: impl Into<String>) -> Self {
        self.public_origin = Some(origin.into().trim_end_matches('/').to_owned());
        self
    }
    /// Where webhooks are POSTed (`http://` only). Without it, webhooks are only handed out by
    /// [`Simulator::take_webhooks`]. The app must answer 2xx within 3 s, as Zoom requires
    /// (check `webhook_ack`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_webhook_url("http://127.0.0.1:8080/webhook");
    /// assert_eq!(c.webhook_url(), Some("http://127.0.0.1:8080/webhook"));
    /// ```
    #[must_use]
    pub fn with_webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }
    /// How often `KEEP_ALIVE_REQ` (12) is sent on every socket (default 10 s, the documented
    /// interval; the first one comes sooner, see
    /// [`with_first_keep_alive`](Self::with_first_keep_alive)). Each carries an integer
    /// `sequence` (Zoom's own SDK answers only those) and the timestamp; the answer must echo the
    /// timestamp, and the sequence if it echoes one. A request not answered within the interval
    /// is a missed keep-alive (check `keep_alive_signaling` or `keep_alive_media`); three in a
    /// row close the socket, as Zoom does. At the end of a stream the simulator waits for the
    /// answer to a pending request before it closes the sockets.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_keep_alive_interval(Duration::from_secs(1));
    /// assert_eq!(c.keep_alive_interval(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn with_keep_alive_interval(mut self, interval: Duration) -> Self {
        self.keep_alive_interval = interval;
        self
    }
    /// How soon after each successful handshake the socket's first `KEEP_ALIVE_REQ` is sent
    /// (default 1 s; later ones follow every [`keep_alive_interval`](Self::keep_alive_interval)),
    /// so that every socket of every run meets a keep-alive, however short the stream.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_first_keep_alive(Duration::from_millis(200));
    /// assert_eq!(c.first_keep_alive(), Duration::from_millis(200));
    /// ```
    #[must_use]
    pub fn with_first_keep_alive(mut self, delay: Duration) -> Self {
        self.first_keep_alive = delay;
        self
    }
    /// How long a webhook whose connection is refused (the app is not listening yet, or still
    /// building) is tried again, once a second, before it counts as not delivered (default
    /// 60 s; zero: at once).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_delivery_patience(Duration::ZERO);
    /// assert_eq!(c.delivery_patience(), Duration::ZERO);
    /// ```
    #[must_use]
    pub fn with_delivery_patience(mut self, patience: Duration) -> Self {
        self.delivery_patience = patience;
        self
    }
    /// The delay of each socket's first keep-alive.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().first_keep_alive(), Duration::from_secs(1));
    /// ```
    pub fn first_keep_alive(&self) -> Duration {
        self.first_keep_alive
    }
    /// How long a refused webhook connection is tried again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().delivery_patience(), Duration::from_secs(60));
    /// ```
    pub fn delivery_patience(&self) -> Duration {
        self.delivery_patience
    }
    /// How long after a successful data handshake the `CLIENT_READY_ACK` (7) may take
    /// (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_ready_ack_deadline(Duration::from_secs(2));
    /// assert_eq!(c.ready_ack_deadline(), Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn with_ready_ack_deadline(mut self, deadline: Duration) -> Self {
        self.ready_ack_deadline = deadline;
        self
    }
    /// How long the server waits for a reconnect after a fault before ending the stream
    /// (default 65 s, the documented media wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_reconnect_window(Duration::from_secs(30));
    /// assert_eq!(c.reconnect_window(), Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn with_reconnect_window(mut self, window: Duration) -> Self {
        self.reconnect_window = window;
        self
    }
    /// The earliest acceptable reconnect after a dropped socket (event 7 or
    /// `rtms_interrupted`): the documented first backoff step, 3 s, less 20 % for jitter
    /// (default 2.4 s; zero accepts an immediate reconnect).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_reconnect_delay_min(Duration::ZERO);
    /// assert_eq!(c.reconnect_delay_min(), Duration::ZERO);
    /// ```
    #[must_use]
    pub fn with_reconnect_delay_min(mut self, delay: Duration) -> Self {
        self.reconnect_delay_min = delay;
        self
    }
    /// How long, after a fatal status or the end of the stream, the client is watched for a
    /// reconnect it must not make (default 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_observe_window(Duration::from_secs(1));
    /// assert_eq!(c.observe_window(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn with_observe_window(mut self, window: Duration) -> Self {
        self.observe_window = window;
        self
    }
    /// Keep the SHA-256 of each stream's audio ([`StreamSummary::audio_sha256`]; default yes).
    /// Without it the report's `audio_sha256` is empty, and each audio message sent costs no
    /// hashing: for a load driver, whose CPU per message is what it measures. Every check of
    /// the client's conduct is made as usual.
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert!(!SimConfig::default().with_audio_digest(false).audio_digest());
    /// ```
    #[must_use]
    pub fn with_audio_digest(mut self, digest: bool) -> Self {
        self.audio_digest = digest;
        self
    }
    /// Deliver every webhook twice, the same request each time, as Zoom's retries do (default
    /// no): the app must acknowledge both and still open one connection per stream.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert!(SimConfig::default().with_duplicate_webhooks(true).duplicate_webhooks());
    /// ```
    #[must_use]
    pub fn with_duplicate_webhooks(mut self, duplicate: bool) -> Self {
        self.duplicate_webhooks = duplicate;
        self
    }
    /// Retry a webhook the app did not acknowledge with a 2xx within 3 s, after each of these
    /// delays (each counted from the attempt before), as Zoom does with
    /// [`ZOOM_WEBHOOK_RETRIES`] (default: no retries). A retry is the same body signed again
    /// with the current time; the retries stop at the first 2xx. The check `webhook_retry`
    /// passes when a retry was acknowledged and fails when none was (`webhook_ack` keeps the
    /// first attempt's failure either way).
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::{SimConfig, ZOOM_WEBHOOK_RETRIES};
    /// let c = SimConfig::default().with_webhook_retries(ZOOM_WEBHOOK_RETRIES);
    /// assert_eq!(c.webhook_retries(), &ZOOM_WEBHOOK_RETRIES[..]);
    /// ```
    #[must_use]
    pub fn with_webhook_retries(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.webhook_retries = delays.into_iter().collect();
        self
    }
    /// The retry delays of an unacknowledged webhook (empty: none).
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert!(SimConfig::default().webhook_retries().is_empty());
    /// ```
    pub fn webhook_retries(&self) -> &[Duration] {
        &self.webhook_retries
    }
    /// The media-parameter rules the data handshake is validated with (default: Zoom's docs).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::media::Rules;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// let c = SimConfig::default().with_rules(Rules::default().with_deskshare_image_max_fps(5));
    /// assert_eq!(c.rules().deskshare_image_max_fps(), 5);
    /// ```
    #[must_use]
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }
    /// The port asked for.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().port(), 0);
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The origin of the URLs handed out, if not the default.
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().public_origin(), None);
    /// ```
    pub fn public_origin(&self) -> Option<&str> {
        self.public_origin.as_deref()
    }
    /// The webhook URL, if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().webhook_url(), None);
    /// ```
    pub fn webhook_url(&self) -> Option<&str> {
        self.webhook_url.as_deref()
    }
    /// The keep-alive interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().keep_alive_interval(), Duration::from_secs(10));
    /// ```
    pub fn keep_alive_interval(&self) -> Duration {
        self.keep_alive_interval
    }
    /// The ready-ack deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().ready_ack_deadline(), Duration::from_secs(10));
    /// ```
    pub fn ready_ack_deadline(&self) -> Duration {
        self.ready_ack_deadline
    }
    /// The reconnect window.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().reconnect_window(), Duration::from_secs(65));
    /// ```
    pub fn reconnect_window(&self) -> Duration {
        self.reconnect_window
    }
    /// The earliest acceptable reconnect after a dropped socket.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().reconnect_delay_min(), Duration::from_millis(2400));
    /// ```
    pub fn reconnect_delay_min(&self) -> Duration {
        self.reconnect_delay_min
    }
    /// The observation window.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().observe_window(), Duration::from_secs(30));
    /// ```
    pub fn observe_window(&self) -> Duration {
        self.observe_window
    }
    /// Whether the report has the SHA-256 of each stream's audio.
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert!(SimConfig::default().audio_digest());
    /// ```
    pub fn audio_digest(&self) -> bool {
        self.audio_digest
    }
    /// Whether every webhook is delivered twice.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert!(!SimConfig::default().duplicate_webhooks());
    /// ```
    pub fn duplicate_webhooks(&self) -> bool {
        self.duplicate_webhooks
    }
    /// The media-parameter rules.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::simulator::SimConfig;
    /// assert_eq!(SimConfig::default().rules().video_image_max_fps(), 5);
    /// ```
    pub fn rules(&self) -> &Rules {
        &self.rules
    }
}

/// A fault the simulator injects into one stream: the failures Zoom's
/// [failover and reconnection guide](https://developers.zoom.us/docs/rtms/video-sdk/failover-reconnection/)
/// describes, refused handshakes, and the keep-alive pause and silence a watchdog must tell
/// apart.
///
/// ```
/// use zoom_rtms_webhooks::codes::StatusCode;
/// use zoom_rtms_webhooks::simulator::Fault;
/// use zoom_rtms_webhooks::handshake::MediaKind;
/// let faults = [
///     Fault::DuplicateSignal,
///     Fault::RejectData(StatusCode::from(14)),
///     Fault::RefuseMedia(MediaKind::Chat),
/// ];
/// assert_eq!(faults.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer the first signalling handshake with 8 (`DUPLICATE_SIGNAL_REQUEST`), then accept:
    /// the client must retry, not before the 1.5 s backoff (check `duplicate_retry`).
    DuplicateSignal,
    /// Answer the first data handshake with this status (14, 15, 16, ...): the client must give
    /// up, with no new handshake for the stream during the observation window (check
    /// `gives_up`).
    RejectData(StatusCode),
    /// Answer the first signalling handshake with this status (3 `INVALID_SIGNATURE` to a
    /// correct signature, as after a credential change; 2, 4, ...): the client must give up
    /// (check `gives_up`; only 8 is retryable).
    RejectSignaling(StatusCode),
    /// After this many audio frames, close the audio socket and send event 7
    /// (`MEDIA_CONNECTION_INTERRUPTED`) on signalling: the client must redial media only, within
    /// the reconnect window (check `media_reconnect`).
    DropMedia {
        /// Audio frames sent before the drop.
        after_frames: u64,
    },
    /// After this many audio frames, close every socket and send `*_rtms_interrupted`: the
    /// client must redo the whole flow within the reconnect window (check
    /// `signaling_reconnect`).
    DropSignaling {
        /// Audio frames sent before the drop.
        after_frames: u64,
    },
    /// After this many audio frames, send a new `*_rtms_started` with new server URLs: the
    /// client must connect to the new server at once and never again to the old one (check
    /// `failover`). The old sockets are closed once the new signalling handshake succeeds.
    Failover {
        /// Audio frames sent before the failover.
        after_frames: u64,
    },
    /// Hand out media URLs on `localhost` (the simulator's port, a host outside a
    /// `127.0.0.1` allowlist) in the signalling response: the client must refuse them and never
    /// dial one (check `refused_url`; the simulator sees the `Host` it was dialled with).
    RefusableMediaUrl,
    /// After this many audio frames, stop the keep-alives on every socket for `duration` while
    /// media goes on flowing: the client's watchdog (inbound traffic, not keep-alives) must not
    /// fire (check `watchdog_not_early`: no new signalling handshake meanwhile).
    PauseKeepAlives {
        /// Audio frames sent before the pause.
        after_frames: u64,
        /// How long keep-alives pause.
        duration: Duration,
    },
    /// Answer every data handshake that asks for this kind with its status 9 to 13
    /// (`MEDIA_TYPE_{AUDIO,VIDEO,DESKSHARE,TRANSCRIPT,CHAT}_NOT_SUPPORT`, the statuses Zoom
    /// documents for a media type it does not serve) and close that socket, while the other
    /// kinds are served: the client must go on with what was granted, asking again without the
    /// refused kind (or keeping its other sockets), so that the audio keeps flowing (check
    /// `goes_on`, advice: it passes once every frame was sent after a refusal, and fails when
    /// the client gave up).
    RefuseMedia(MediaKind),
    /// After this many audio frames, send nothing at all on any socket for up to `duration`:
    /// the client's watchdog must fire after 65 s without inbound traffic and redo the
    /// signalling handshake (check `watchdog_fires`: not before 60 s, within `duration`).
    Silence {
        /// Audio frames sent before the silence.
        after_frames: u64,
        /// The longest the silence lasts (it ends when the client reconnects).
        duration: Duration,
    },
}

impl Fault {
    fn after_frames(&self) -> Option<u64> {
        match self {
            Fault::DropMedia { after_frames }
            | Fault::DropSignaling { after_frames }
            | Fault::Failover { after_frames }
            | Fault::PauseKeepAlives { after_frames, .. }
            | Fault::Silence { after_frames, .. } => Some(*after_frames),
            _ => None,
        }
    }
}

/// How a stream ends once its frames are sent.
///
/// ```
/// use zoom_rtms_webhooks::simulator::End;
/// assert_eq!(End::default(), End::StreamTerminated);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum End {
    /// `STREAM_STATE_UPDATE` state 4 (terminated, reason 6: meeting ended) on signalling, the
    /// sockets closed, then `*_rtms_stopped`; the client must not reconnect (check
    /// `stops_after_end`).
    #[default]
    StreamTerminated,
    /// `SESSION_STATE_UPDATE` state 5 (stopped, reason 6) on signalling, the sockets closed,
    /// then `*_rtms_stopped`; the client must not reconnect (check `stops_after_end`).
    SessionStopped,
    /// Only the `*_rtms_stopped` webhook: the client must close its sockets itself within 5 s
    /// (check `closes_on_stopped`).
    RtmsStopped,
}

/// One stream the simulator serves.
///
/// ```
/// use zoom_rtms_webhooks::handshake::Credentials;
/// use zoom_rtms_webhooks::simulator::StreamSpec;
/// use zoom_rtms_webhooks::Product;
/// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap())
///     .with_audio_frames(10)
///     .with_transcript_every(5);
/// assert_eq!(spec.rtms_stream_id(), "s1");
/// assert_eq!(spec.audio_frames(), 10);
/// // The webhook secret never shows in `Debug`.
/// assert!(!format!("{spec:?}").contains("whsec"));
/// ```
#[derive(Clone)]
pub struct StreamSpec {
    product: Product,
    instance_id: String,
    rtms_stream_id: String,
    webhook_secret: String,
    credentials: Credentials,
    id_keys: IdKeys,
    audio_frames: u64,
    transcript_every: u64,
    faults: Vec<Fault>,
    end: End,
    /// The recorded messages to replay ([`StreamSpec::with_replay`]).
    replay: Option<Arc<replay::Replay>>,
    cast: Vec<Participant>,
    mute_gaps: bool,
    sharing: bool,
    chats: u64,
}

impl fmt::Debug for StreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSpec")
            .field("product", &self.product)
            .field("instance_id", &self.instance_id)
            .field("rtms_stream_id", &self.rtms_stream_id)
            .field("webhook_secret", &"<redacted>")
            .field("credentials", &self.credentials)
            .field("id_keys", &self.id_keys)
            .field("audio_frames", &self.audio_frames)
            .field("transcript_every", &self.transcript_every)
            .field("faults", &self.faults)
            .field("end", &self.end)
            .field("replay", &self.replay.as_ref().map(|r| r.len()))
            .field("cast", &self.cast)
            .field("mute_gaps", &self.mute_gaps)
            .field("sharing", &self.sharing)
            .field("chats", &self.chats)
            .finish()
    }
}

impl StreamSpec {
    /// A stream of `product` (`instance_id`: the meeting UUID, webinar UUID, session id,
    /// engagement id or call id), announced with webhooks signed with `webhook_secret`, whose
    /// handshakes must be signed with `credentials`. 50 audio frames, a transcript every 25
    /// frames, no fault, ends with stream state 4.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!((spec.product(), spec.instance_id()), (Product::Meeting, "m=="));
    /// assert_eq!(spec.end(), End::StreamTerminated);
    /// ```
    pub fn new(
        product: Product,
        instance_id: impl Into<String>,
        rtms_stream_id: impl Into<String>,
        webhook_secret: impl Into<String>,
        credentials: Credentials,
    ) -> Self {
        StreamSpec {
            product,
            instance_id: instance_id.into(),
            rtms_stream_id: rtms_stream_id.into(),
            webhook_secret: webhook_secret.into(),
            credentials,
            id_keys: IdKeys::default(),
            audio_frames: 50,
            transcript_every: 25,
            faults: Vec::new(),
            end: End::default(),
            replay: None,
            cast: Vec::new(),
            mute_gaps: false,
            sharing: false,
            chats: 0,
        }
    }
    /// The id keys the handshakes must carry the product's id under (one of them suffices;
    /// default [`IdKeys::default`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// use zoom_rtms_webhooks::handshake::IdKeys;
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// // Accept `meeting_uuid` for webinars too (the sources disagree).
    /// let _ = spec.with_id_keys(IdKeys::default().with_keys(Product::Webinar, [IdField::WebinarUuid, IdField::MeetingUuid]));
    /// ```
    #[must_use]
    pub fn with_id_keys(mut self, id_keys: IdKeys) -> Self {
        self.id_keys = id_keys;
        self
    }
    /// How many audio messages to send (default 50, one second at 20 ms).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.with_audio_frames(500).audio_frames(), 500);
    /// ```
    #[must_use]
    pub fn with_audio_frames(mut self, frames: u64) -> Self {
        self.audio_frames = frames;
        self
    }
    /// A transcript every this many audio frames, when a transcript socket is ready (0: none).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.with_transcript_every(0).transcript_every(), 0);
    /// ```
    #[must_use]
    pub fn with_transcript_every(mut self, frames: u64) -> Self {
        self.transcript_every = frames;
        self
    }
    /// Plays `n` participants (at most 30; default none: one mixed stream, or for a client
    /// that asks for one stream per participant, `data_opt` `AUDIO_MULTI_STREAMS`, one
    /// participant `16778240` "Ann"). Participant `k` is `user_id` `16778240 + k`, named `Ann`,
    /// `Bob`, `Cid`, ... ([`Participant`]), in the meeting from the start, never muted.
    ///
    /// When the client's confirmed audio `data_opt` is `AUDIO_MULTI_STREAMS`, each frame slot
    /// sends one audio message per participant that speaks in it
    /// ([`Participant::speaks`]), its own tone (a distinct amplitude; Opus packets are the
    /// same for all), with its `user_id` and `user_name`; with the mixed stream the audio is
    /// as without participants (`user_id` 0). Either way, for the events subscribed to, the
    /// signalling socket gets `PARTICIPANT_JOIN` (3) as participants start,
    /// `PARTICIPANT_LEAVE` (4) as they leave before the end, and `ACTIVE_SPEAKER_CHANGE` (2)
    /// when the first participant that speaks in a slot changes; transcripts are the active
    /// speaker's. Every event's `timestamp` is its slot's (`zero + k * send_rate_ms`). Contact
    /// Center streams, whose audio is per channel, ignore the participants.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// let cast = spec.with_participants(3).participants();
    /// assert_eq!(cast.len(), 3);
    /// assert_eq!((cast[2].user_id, cast[2].user_name.as_str()), (16_778_242, "Cid"));
    /// ```
    #[must_use]
    pub fn with_participants(mut self, n: usize) -> Self {
        let n = n.min(cast::MAX_PARTICIPANTS);
        self.cast.truncate(n);
        while self.cast.len() < n {
            self.cast.push(Participant::nth(self.cast.len()));
        }
        self
    }
    /// Participant `participant` (0-based, of [`with_participants`](Self::with_participants);
    /// ignored for one that does not exist) is muted, sends no audio, in the frame slots
    /// `frames`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// let spec = spec.with_participants(2).with_mute(1, 5..10).with_mute(7, 0..1);
    /// assert_eq!(spec.participants()[1].muted, [5..10]);
    /// ```
    #[must_use]
    pub fn with_mute(mut self, participant: usize, frames: Range<u64>) -> Self {
        if let Some(p) = self.cast.get_mut(participant) {
            p.muted.push(frames);
        }
        self
    }
    /// Participant `participant` joins at frame slot `frame` (its first audio later than the
    /// stream's first; ignored for one that does not exist).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.with_participants(2).with_join_at(1, 25).participants()[1].joins_at, 25);
    /// ```
    #[must_use]
    pub fn with_join_at(mut self, participant: usize, frame: u64) -> Self {
        if let Some(p) = self.cast.get_mut(participant) {
            p.joins_at = frame;
        }
        self
    }
    /// Participant `participant` leaves at frame slot `frame` (sends nothing from it on;
    /// ignored for one that does not exist).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.with_participants(2).with_leave_at(0, 40).participants()[0].leaves_at, Some(40));
    /// ```
    #[must_use]
    pub fn with_leave_at(mut self, participant: usize, frame: u64) -> Self {
        if let Some(p) = self.cast.get_mut(participant) {
            p.leaves_at = Some(frame);
        }
        self
    }
    /// The fixed mute pattern of `simulate --mute-gaps`, over the stream's
    /// [`audio_frames`](Self::audio_frames) `f` (whenever set): participant 0 is muted for the
    /// slots `[f/5, 2f/5)`; with 3 or more participants, participant 1 for `[f/2, 3f/5)` and
    /// `[7f/10, 3f/4)`; with 2 or more, the last participant joins late, at slot `f/4`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// let cast = spec.with_participants(3).with_mute_gaps(true).with_audio_frames(100).participants();
    /// assert_eq!(cast[0].muted, [20..40]);
    /// assert_eq!(cast[1].muted, [50..60, 70..75]);
    /// assert_eq!(cast[2].joins_at, 25);
    /// ```
    #[must_use]
    pub fn with_mute_gaps(mut self, on: bool) -> Self {
        self.mute_gaps = on;
        self
    }
    /// Participant 0 shares its screen once: `SHARING_START` (5) at slot `f/3` and
    /// `SHARING_STOP` (6) at slot `2f/3` of the stream's `f` audio frames, on signalling, for
    /// a client subscribed to them (default no).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert!(spec.with_sharing(true).sharing());
    /// ```
    #[must_use]
    pub fn with_sharing(mut self, on: bool) -> Self {
        self.sharing = on;
        self
    }
    /// Sends `n` chat messages (message type 18, default none) on the socket that carries chat,
    /// when the client asked for chat (media type 16), spread evenly over the stream: message
    /// `j` (1-based) at slot `j * f / (n + 1)`, from the active speaker (or participant 0) to
    /// everyone, with `data` (the text), `timestamp`, `sender`, `receiver`, `chat_session`,
    /// `operation_type` 1 (new), `message_id`, `parent_message_id`, `files` and
    /// `delete_file_id_list`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.with_chat(3).chat(), 3);
    /// ```
    #[must_use]
    pub fn with_chat(mut self, n: u64) -> Self {
        self.chats = n;
        self
    }
    /// The participants played, with the [`with_mute_gaps`](Self::with_mute_gaps) pattern
    /// applied (empty: none configured).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert!(spec.participants().is_empty());
    /// ```
    pub fn participants(&self) -> Vec<Participant> {
        let mut cast = self.cast.clone();
        if self.mute_gaps {
            cast::mute_gaps(&mut cast, self.audio_frames);
        }
        cast
    }
    /// Whether participant 0 shares its screen once.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert!(!spec.sharing());
    /// ```
    pub fn sharing(&self) -> bool {
        self.sharing
    }
    /// How many chat messages are sent.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.chat(), 0);
    /// ```
    pub fn chat(&self) -> u64 {
        self.chats
    }
    /// The faults to inject, in order.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// let spec = spec.with_faults([Fault::DropMedia { after_frames: 10 }]);
    /// assert_eq!(spec.faults(), [Fault::DropMedia { after_frames: 10 }]);
    /// ```
    #[must_use]
    pub fn with_faults(mut self, faults: impl IntoIterator<Item = Fault>) -> Self {
        self.faults = faults.into_iter().collect();
        self
    }
    /// How the stream ends.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.with_end(End::RtmsStopped).end(), End::RtmsStopped);
    /// ```
    #[must_use]
    pub fn with_end(mut self, end: End) -> Self {
        self.end = end;
        self
    }
    /// The product.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.product(), Product::Meeting);
    /// ```
    pub fn product(&self) -> Product {
        self.product
    }
    /// The product's id.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.instance_id(), "m==");
    /// ```
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }
    /// The stream id.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.rtms_stream_id(), "s1");
    /// ```
    pub fn rtms_stream_id(&self) -> &str {
        &self.rtms_stream_id
    }
    /// The audio frames to send.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.audio_frames(), 50);
    /// ```
    pub fn audio_frames(&self) -> u64 {
        self.audio_frames
    }
    /// The transcript period in frames.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.transcript_every(), 25);
    /// ```
    pub fn transcript_every(&self) -> u64 {
        self.transcript_every
    }
    /// The faults.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert!(spec.faults().is_empty());
    /// ```
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }
    /// How the stream ends.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap());
    /// assert_eq!(spec.end(), End::StreamTerminated);
    /// ```
    pub fn end(&self) -> End {
        self.end
    }
}

/// Why a simulator call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Binding the loopback port failed.
    #[error("cannot bind the simulator's port")]
    Bind(#[source] std::io::Error),
    /// The stream id is already registered.
    #[error("stream {0} is already registered")]
    Duplicate(String),
    /// No stream with this id is registered.
    #[error("no stream {0} is registered")]
    UnknownStream(String),
    /// POSTing a webhook failed.
    #[error("webhook POST failed: {0}")]
    Webhook(String),
}

/// Whether a check enforces a rule of Zoom's RTMS documentation or what a robust client does.
///
/// ```
/// use zoom_rtms_webhooks::simulator::CheckKind;
/// assert_eq!(CheckKind::of("keep_alive_media"), CheckKind::Protocol);
/// assert_eq!(CheckKind::of("watchdog_fires"), CheckKind::Advice);
/// assert_eq!(CheckKind::Advice.to_string(), "advice");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckKind {
    /// A rule of Zoom's RTMS documentation: a client that breaks it loses media or the stream.
    /// [`Report::passed`] counts these.
    Protocol,
    /// What a robust client does beyond the documented rules (backoff, a watchdog, an
    /// allowlist of hosts, giving up after a fatal status). [`Report::passed_strict`] counts
    /// these too.
    Advice,
}

/// Zoom's RTMS message reference (handshakes, ready ack, keep-alives, status codes).
const UNIVERSAL_EVENTS: &str =
    "https://developers.zoom.us/docs/rtms/event-reference/universal-events/";
/// Zoom's failover and reconnection guide (event 7, `rtms_interrupted`, a new `rtms_started`).
const FAILOVER: &str = "https://developers.zoom.us/docs/rtms/video-sdk/failover-reconnection/";
/// Zoom's webhook documentation (a 2xx within 3 s, retries).
const WEBHOOKS: &str = "https://developers.zoom.us/docs/api/webhooks/";

impl CheckKind {
    /// The kind of the check named `name`, and where its rule comes from: a page of Zoom's
    /// documentation for a protocol check, the reason for an advice check.
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::CheckKind;
    /// let (kind, basis) = CheckKind::rule("signaling_signature");
    /// assert_eq!(kind, CheckKind::Protocol);
    /// assert!(basis.starts_with("https://developers.zoom.us/"));
    /// ```
    pub fn rule(name: &str) -> (CheckKind, &'static str) {
        use CheckKind::{Advice, Protocol};
        match name {
            "webhook_ack" | "webhook_retry" => (Protocol, WEBHOOKS),
            "media_reconnect" | "signaling_reconnect" | "failover" => (Protocol, FAILOVER),
            "reconnect_backoff" | "duplicate_retry" => (
                Advice,
                "reconnect with backoff (Zoom's guide starts at 3 s; 1.5 s after status 8), not at once",
            ),
            "refused_url" => (
                Advice,
                "dial only hosts the app's policy allows (Zoom's SDK dials any host)",
            ),
            "media_url" => (
                Advice,
                "dial the media URL named for the kinds a socket carries, `all` only as a fallback",
            ),
            "watchdog_not_early" | "watchdog_fires" => (
                Advice,
                "redo the handshake after 65 s without inbound traffic, not merely without keep-alives (a recommendation in Zoom's docs)",
            ),
            "gives_up" | "stops_after_end" | "closes_on_stopped" => (
                Advice,
                "do not redial after a fatal status or the end; close the sockets on rtms_stopped",
            ),
            "goes_on" => (
                Advice,
                "go on with the media types granted when one is refused (status 9 to 13), as Zoom's samples narrow their request to what is offered",
            ),
            "keeps_up" => (
                Advice,
                "read every socket promptly (a client that stops reading loses media)",
            ),
            _ => (Protocol, UNIVERSAL_EVENTS),
        }
    }

    /// The kind of the check named `name` (see [`CheckKind::rule`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::CheckKind;
    /// assert_eq!(CheckKind::of("refused_url"), CheckKind::Advice);
    /// ```
    pub fn of(name: &str) -> CheckKind {
        Self::rule(name).0
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckKind::Protocol => "protocol",
            CheckKind::Advice => "advice",
        })
    }
}

/// One check of the client's conduct: passed, or failed with the first reason.
///
/// `Display`: `ok <name> stream=<id> [<kind>]` or `FAIL <name> stream=<id> [<kind>]: <why>`.
///
/// ```
/// use zoom_rtms_webhooks::simulator::{Check, CheckKind};
/// let c = Check::new("keep_alive_media", "s1", Some("KEEP_ALIVE_REQ 1 not answered".into()));
/// assert_eq!(c.kind, CheckKind::Protocol);
/// assert_eq!(c.to_string(), "FAIL keep_alive_media stream=s1 [protocol]: KEEP_ALIVE_REQ 1 not answered");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// The check's name (for example `client_ready_ack`).
    pub name: &'static str,
    /// The stream it concerns.
    pub stream: String,
    /// A rule of Zoom's documentation, or advice.
    pub kind: CheckKind,
    /// `None` when it passed; else why it failed (the first failure).
    pub failure: Option<String>,
}

impl Check {
    /// A check named `name` of `stream`, passed (`failure` `None`) or failed; its kind comes
    /// from [`CheckKind::of`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::Check;
    /// assert_eq!(Check::new("refused_url", "s1", None).to_string(), "ok refused_url stream=s1 [advice]");
    /// ```
    pub fn new(name: &'static str, stream: impl Into<String>, failure: Option<String>) -> Self {
        Check {
            name,
            stream: stream.into(),
            kind: CheckKind::of(name),
            failure,
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => write!(f, "ok {} stream={} [{}]", self.name, self.stream, self.kind),
            Some(why) => write!(
                f,
                "FAIL {} stream={} [{}]: {}",
                self.name, self.stream, self.kind, why
            ),
        }
    }
}

/// What was sent on one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamSummary {
    /// The stream id.
    pub stream: String,
    /// Audio messages sent.
    pub audio_frames: u64,
    /// Lower-case hex SHA-256 of the audio payload bytes sent, in order (empty without
    /// [`SimConfig::with_audio_digest`]).
    pub audio_sha256: String,
    /// Transcript messages sent.
    pub transcripts: u64,
    /// Video messages sent (a small JPEG each).
    pub video_frames: u64,
    /// Per `user_id` of the audio sent (0: the mixed stream; none for Contact Center), in
    /// the order first sent: what that participant's gap-filled track must hold.
    pub participants: Vec<ParticipantSummary>,
    /// Event updates (message type 6) the player sent: `FIRST_PACKET_TIMESTAMP` (1) and the
    /// participant events (2, 3, 4, 5, 6), not event 7 of a fault.
    pub events: u64,
    /// Chat messages (message type 18) sent.
    pub chats: u64,
    /// Why the stream's checks stopped early, if they did (a wrong signature, a webhook the
    /// app refused).
    pub stopped: Option<String>,
}

/// What was sent of one participant's audio (one `user_id`) on a stream.
///
/// The hash describes the track a recorder must write: 16-bit PCM whose sample 0 is the
/// stream's zero (the `timestamp` of `FIRST_PACKET_TIMESTAMP`, the timestamp of slot 0), up to
/// the end of the participant's last frame sent, where slot `k` (timestamp
/// `zero + k * send_rate_ms`) holds the frame the participant sent in it or, for a slot it did
/// not send (before it joined, while muted, or left), zeros of a frame's length. Slots are
/// never skipped: after a media drop (or a signalling drop, or a failover), the player waits
/// for the client and goes on with the next slot and its timestamp, so the slots the client
/// missed are only those whose messages were lost (not counted here: see `keeps_up`).
///
/// ```
/// use zoom_rtms_webhooks::simulator::{ParticipantSummary, Report, StreamSummary};
/// let report = Report::default();
/// assert!(report.streams.iter().all(|s: &StreamSummary| s.participants.is_empty()));
/// let _ = |p: &ParticipantSummary| (p.user_id, p.audio_frames, p.audio_sha256.clone());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParticipantSummary {
    /// The `user_id` of its audio messages (0: the mixed stream).
    pub user_id: i64,
    /// Its audio messages sent.
    pub audio_frames: u64,
    /// Lower-case hex SHA-256 of its gap-filled PCM (see above); empty for Opus audio, whose
    /// PCM the simulator does not decode, and without [`SimConfig::with_audio_digest`].
    pub audio_sha256: String,
}

/// Everything a run produced: one summary per stream, and every check.
///
/// `Display` prints `sent stream=<id> audio_frames=<n> audio_sha256=<hex>` per stream, each
/// followed by `sent stream=<id> user=<user_id> audio_frames=<n> audio_sha256=<hex>` per
/// participant ([`ParticipantSummary`]) and, when any were sent,
/// `played stream=<id> events=<n> chats=<n>` (not a `sent` line: tools reading `sent` lines expect audio); then one `ok <check> stream=<id> [<kind>]` or `FAIL <check> stream=<id> [<kind>]: <why>` line
/// per check, then `stopped stream=<id>: <why>` for each stream whose checks stopped early.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// One per registered stream, in registration order.
    pub streams: Vec<StreamSummary>,
    /// Every check, in the order first recorded.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every protocol check passed, there is at least one check, and no stream stopped
    /// early ([`StreamSummary::stopped`]): a failed [`CheckKind::Advice`] check does not count
    /// here (see [`Report::passed_strict`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// assert!(!sim.report().passed()); // no check recorded yet
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn passed(&self) -> bool {
        self.complete()
            && self
                .checks
                .iter()
                .all(|c| c.failure.is_none() || c.kind == CheckKind::Advice)
    }
    /// There is a check, and no stream stopped before it could be judged.
    fn complete(&self) -> bool {
        !self.checks.is_empty() && self.streams.iter().all(|s| s.stopped.is_none())
    }
    /// Whether every check passed, the advice ones too (and there is at least one): what
    /// `simulate --strict` exits with.
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::{Check, Report};
    /// let mut report = Report::default();
    /// report.checks.push(Check::new("client_ready_ack", "s1", None));
    /// report.checks.push(Check::new("refused_url", "s1", Some("dialled a refused host".into())));
    /// assert!(report.passed());
    /// assert!(!report.passed_strict());
    /// ```
    pub fn passed_strict(&self) -> bool {
        self.complete() && self.checks.iter().all(|c| c.failure.is_none())
    }
    /// The failed checks.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// assert_eq!(sim.report().failures().count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.failure.is_some())
    }
    /// The check `name` of `stream`, if recorded.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// assert!(sim.report().check("client_ready_ack", "s1").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn check(&self, name: &str, stream: &str) -> Option<&Check> {
        self.checks
            .iter()
            .find(|c| c.name == name && c.stream == stream)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.streams {
            writeln!(
                f,
                "sent stream={} audio_frames={} audio_sha256={}",
                s.stream, s.audio_frames, s.audio_sha256
            )?;
            for p in &s.participants {
                writeln!(
                    f,
                    "sent stream={} user={} audio_frames={} audio_sha256={}",
                    s.stream, p.user_id, p.audio_frames, p.audio_sha256
                )?;
            }
            if s.events > 0 || s.chats > 0 {
                writeln!(
                    f,
                    "played stream={} events={} chats={}",
                    s.stream, s.events, s.chats
                )?;
            }
        }
        for c in &self.checks {
            writeln!(f, "{c}")?;
        }
        for s in &self.streams {
            if let Some(why) = &s.stopped {
                writeln!(f, "stopped stream={}: {why}", s.stream)?;
            }
        }
        Ok(())
    }
}

/// The simulator: a loopback server for the signalling and media sockets of every registered
/// stream, and a webhook sender. Dropping it stops accepting connections.
///
/// ```
/// use zoom_rtms_webhooks::handshake::Credentials;
/// use zoom_rtms_webhooks::signature::SignatureHeaders;
/// use zoom_rtms_webhooks::simulator::{SimConfig, Simulator, StreamSpec};
/// use zoom_rtms_webhooks::{Product, Verifier, WebhookEvent};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let sim = Simulator::start(SimConfig::default()).await?;
/// let creds = Credentials::new("client id", "client secret")?;
/// sim.register(StreamSpec::new(Product::Webinar, "w-uuid==", "s-1", "webhook secret", creds))?;
/// let mut webhooks = sim.take_webhooks().unwrap();
///
/// let sent = sim.start_stream("s-1").await?;
/// assert_eq!(webhooks.recv().await, Some(sent.clone()));
/// assert_eq!(sent.event, "webinar.rtms_started");
///
/// // Signed for the app: it verifies with the app's webhook secret.
/// let headers = SignatureHeaders::new(Some(&sent.signature), Some(&sent.timestamp));
/// let event = Verifier::new("webhook secret")?.verify_and_parse(headers, &sent.body)?;
/// let WebhookEvent::RtmsStarted(started) = event.event() else { panic!() };
/// let url = sim.signaling_url("s-1").unwrap();
/// assert_eq!(started.server_urls.joined(), url);
/// assert!(url.starts_with(&format!("ws://{}/", sim.local_addr())));
///
/// // Nothing connected yet: no audio sent, no check failed.
/// let report = sim.report();
/// assert_eq!(report.streams[0].audio_frames, 0);
/// assert_eq!(report.failures().count(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Simulator {
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
    timers: tokio::task::JoinHandle<()>,
    /// The connections handed to [`Simulator::serve_connection`] (aborted with the simulator).
    served: Mutex<tokio::task::JoinSet<()>>,
    webhooks: Mutex<Option<mpsc::UnboundedReceiver<SignedWebhook>>>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.accept.abort();
        self.timers.abort();
        // Close every socket, stop every player and every delivery.
        let mut inner = self.shared.lock();
        inner.core.shut_down();
        self.shared.pump(&mut inner);
        inner.stop_posts();
    }
}

impl Simulator {
    /// Binds `127.0.0.1:<port>` and starts serving. Needs a tokio runtime with I/O and time.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// assert!(sim.local_addr().ip().is_loopback());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let core = Core::new(
            config,
            addr,
            tokio::time::Instant::now().into_std(),
            wall_ms,
        );
        let shared = Arc::new(Shared::new(core, addr, tx));
        let accept = tokio::spawn(server::accept_loop(Arc::clone(&shared), listener));
        let timers = tokio::spawn(server::timer_loop(Arc::clone(&shared)));
        Ok(Simulator {
            shared,
            accept,
            timers,
            served: Mutex::new(tokio::task::JoinSet::new()),
            webhooks: Mutex::new(Some(rx)),
        })
    }

    /// The address served (`127.0.0.1:<port>`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// assert_ne!(sim.local_addr().port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Serves a connection accepted elsewhere as if it had been accepted on
    /// [`local_addr`](Self::local_addr): the WebSocket handshake (signalling or media, by the
    /// path), then the stream's messages. For a TLS endpoint in front of the simulator (a
    /// `wss://` test; the simulator itself serves plain `ws://`): accept and terminate TLS on
    /// your own listener, hand each stream here, and name that endpoint with
    /// [`SimConfig::with_public_origin`] so that the URLs handed out lead back to it. Set
    /// `TCP_NODELAY` on the socket, as the simulator does on its own. Needs the simulator's
    /// tokio runtime.
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::*;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default().with_public_origin("wss://127.0.0.1:8443")).await?;
    /// // Any AsyncRead + AsyncWrite: a TLS stream in practice, one end of a pipe here.
    /// let (ours, _theirs) = tokio::io::duplex(4096);
    /// sim.serve_connection(ours);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn serve_connection<S>(&self, io: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
        while served.try_join_next().is_some() {}
        served.spawn(server::serve(Arc::clone(&self.shared), io));
    }

    /// Registers a stream (its id must be new).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// let again = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?);
    /// assert!(matches!(sim.register(again), Err(SimError::Duplicate(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn register(&self, spec: StreamSpec) -> Result<(), SimError> {
        let now = tokio::time::Instant::now().into_std();
        self.shared.lock().core.register(spec, now)
    }

    /// The signalling URL the stream's current `rtms_started` announces
    /// (`ws://127.0.0.1:<port>/rtms/<n>/signaling`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// assert!(sim.signaling_url("s1").unwrap().ends_with("/signaling"));
    /// assert_eq!(sim.signaling_url("nope"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn signaling_url(&self, rtms_stream_id: &str) -> Option<String> {
        self.shared.lock().core.signaling_url(rtms_stream_id)
    }

    /// Sends the stream's signed `*_rtms_started` webhook and starts serving it. Returns the
    /// webhook; with a webhook URL, an error when the POST failed (the stream is served anyway).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// let hook = sim.start_stream("s1").await?;
    /// assert_eq!(hook.event, "meeting.rtms_started");
    /// assert!(hook.signature.starts_with("v0="));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn start_stream(&self, rtms_stream_id: &str) -> Result<SignedWebhook, SimError> {
        self.shared.start_stream(rtms_stream_id).await
    }

    /// Every webhook the simulator sends, in order (also when it POSTs them). Only the first
    /// call gets the receiver.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// let mut hooks = sim.take_webhooks().unwrap();
    /// assert!(sim.take_webhooks().is_none());
    /// let sent = sim.start_stream("s1").await?;
    /// assert_eq!(hooks.recv().await, Some(sent));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn take_webhooks(&self) -> Option<mpsc::UnboundedReceiver<SignedWebhook>> {
        self.webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Waits until the stream's script is over (ended, plus the observation window).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// sim.finished("unknown stream").await; // returns at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn finished(&self, rtms_stream_id: &str) {
        self.shared.finished(rtms_stream_id).await;
    }

    /// What was sent and every check so far.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::*;
    /// use zoom_rtms_webhooks::Product;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let sim = Simulator::start(SimConfig::default()).await?;
    /// sim.register(StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?))?;
    /// let report = sim.report();
    /// assert_eq!(report.streams[0].stream, "s1");
    /// assert_eq!(report.streams[0].audio_frames, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn report(&self) -> Report {
        self.shared.lock().core.report()
    }
}

/// How many messages may wait to be written to one socket. A client that stops reading fills
/// it (its TCP window first), and what the player sends then is dropped (check `keeps_up`):
/// the simulator's memory stays bounded whatever the client does. At the largest audio format
/// (L16, 48 kHz, stereo, 20 ms: about 5.2 KB of JSON a message) one socket holds at most about
/// 5.3 MB.
const SEND_QUEUE: usize = 1024;
