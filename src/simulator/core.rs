//! The simulator's protocol decisions, sans I/O: Zoom's side of every socket (handshakes,
//! keep-alives, the client's requests), the per-stream player (media, faults, the end), the
//! webhooks and their retries, and every check. Driven like the client's
//! [`Session`](crate::protocol::session::Session): inputs carry an [`Instant`]
//! ([`Core::handle_opened`], [`Core::handle_message`], [`Core::handle_closed`],
//! [`Core::handle_timeout`], [`Core::handle_delivered`], ...), and [`Core::poll_output`] yields
//! what to do ([`Output`]: send a text frame, close a socket, deliver a webhook). It never reads
//! a clock or touches a socket: the tokio driver (`server.rs`) runs it over real WebSockets, and
//! the tests' harness runs it against the client's `Session` in virtual time, with no socket.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::cast::{self, Participant};
use super::webhook::{self, Unsigned};
use super::{opus, replay, Check, End, Fault, SimConfig, SimError, StreamSpec, StreamSummary};
use super::{ParticipantSummary, Report, SEND_QUEUE};
use crate::codes::{SessionState, StatusCode, StopReason, StreamState};
use crate::event::Product;
use crate::handshake::{handshake_signature, MediaKind, MediaTypes, SignalingHandshakeResponse};
use crate::protocol::events::Event;
use crate::protocol::incoming::{
    DataResponse, MediaData, ServerMessage, SessionStateInfo, Status, StreamCloseResponse,
    StreamStateInfo, Transcript, VideoSubscriptionResponse,
};
use crate::protocol::media::{
    AudioChannel, AudioFormat, AudioParams, ChatParams, Codec, DataOption, MediaContentType,
    MediaParams, Resolution, SampleRate, TranscriptLanguage, TranscriptParams, VideoParams,
};
use crate::protocol::outgoing::{ClientRequest, ReceivedHandshake};
use crate::protocol::session::SocketId;
use crate::region::HostPolicy;

/// How long a new socket may take to send its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The earliest acceptable retry after status 8: the documented 1.5 s, less 20 %.
const DUPLICATE_RETRY_MIN: Duration = Duration::from_millis(1200);
/// How long the client has to close its sockets after `rtms_stopped`.
const CLOSE_ON_STOPPED: Duration = Duration::from_secs(5);
/// The speaker of the transcripts (and of multi-stream audio).
const USER_ID: i64 = 16_778_240;
const USER_NAME: &str = "Ann";
/// The Contact Center channel of the audio and transcripts.
const CHANNEL_ID: &str = "sim-channel-1";
/// The earliest acceptable watchdog reconnect into a silence (the documented 65 s, less some
/// slack for when the last message arrived).
const WATCHDOG_MIN: Duration = Duration::from_secs(60);
/// A refused webhook connection (the app not listening yet) is tried again this often.
const REPOST_EVERY: Duration = Duration::from_secs(1);
/// `now + d`, or a time past any run when that overflows the clock (a configured
/// `Duration::MAX` means never).
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(1 << 32)))
        .unwrap_or(now)
}

/// The video frame the simulator sends: a 16x16 JPEG (305 bytes).
const VIDEO_FRAME: &[u8] = include_bytes!("frame.jpg");
/// A video frame goes with every tenth audio message: 5 fps at the default 20 ms, the JPG
/// limit.
const VIDEO_EVERY: u64 = 10;
/// How long after its transcript socket's data handshake a stream that never asked for audio
/// plays transcripts alone: a client with one socket per kind may still be dialling its audio
/// socket.
const TRANSCRIPT_ONLY_AFTER: Duration = Duration::from_millis(500);

/// What the driver is to do.
#[derive(Debug)]
pub(crate) enum Output {
    /// Write a text frame to the socket (`urgent`: ahead of the media queued for it, as a
    /// keep-alive request is).
    Send {
        socket: SocketId,
        text: String,
        urgent: bool,
    },
    /// Close the socket once what was sent before is written; it is gone for the core.
    Close { socket: SocketId },
    /// Deliver a webhook (and, unless it has a `delivery`, report nothing back).
    Deliver(Delivery),
}

/// A webhook to sign and deliver.
pub(crate) struct Delivery {
    /// Report the outcome with [`Core::handle_delivered`] (only when there is a webhook URL:
    /// without one the webhook is only handed out).
    pub(crate) id: u64,
    pub(crate) hook: Unsigned,
    /// The app's webhook secret, to sign with.
    pub(crate) secret: String,
    /// Another attempt at a refused connection: not a new request of Zoom's (not handed out).
    pub(crate) repost: bool,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("id", &self.id)
            .field("event", &self.hook.event)
            .field("repost", &self.repost)
            .finish_non_exhaustive()
    }
}

/// How a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// A 2xx answer.
    Acked,
    /// The connection was refused (nothing listens there yet).
    Refused(String),
    /// Any other failure (a non-2xx answer, no answer within 3 s).
    Failed(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Signaling,
    Media,
}

/// `/rtms/<gen>/signaling` or `/rtms/<gen>/media/<key>`.
fn route(path: &str) -> Option<(u64, Role)> {
    let rest = path.strip_prefix("/rtms/")?;
    let (gen, tail) = rest.split_once('/')?;
    let gen = gen.parse().ok()?;
    if tail == "signaling" {
        Some((gen, Role::Signaling))
    } else if tail.starts_with("media/") {
        Some((gen, Role::Media))
    } else {
        None
    }
}

/// A keep-alive request waiting for its answer.
struct PendingKeepAlive {
    timestamp: String,
    sequence: i64,
}

/// One socket's keep-alives.
struct KeepAlive {
    next_tick: Instant,
    pending: Option<PendingKeepAlive>,
    sequence: i64,
    misses: u32,
    /// It has sent a request (before the end, every socket is sent one).
    probed: bool,
}

enum Socket {
    /// Open, waiting for its handshake (the first message).
    Handshake {
        gen: u64,
        role: Role,
        path: String,
        host: String,
        deadline: Instant,
    },
    /// Handshake done: it belongs to a stream.
    Open {
        stream: usize,
        role: Role,
        keep_alive: KeepAlive,
    },
}

/// What the server waits for after a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    DuplicateRetry,
    MediaRedial,
    SignalingRedial,
    Failover,
    Watchdog,
}

impl Awaiting {
    fn check(self) -> &'static str {
        match self {
            Awaiting::DuplicateRetry => "duplicate_retry",
            Awaiting::MediaRedial => "media_reconnect",
            Awaiting::SignalingRedial => "signaling_reconnect",
            Awaiting::Failover => "failover",
            Awaiting::Watchdog => "watchdog_fires",
        }
    }
}

struct Conn {
    socket: SocketId,
    gen: u64,
}

struct MediaConn {
    conn: Conn,
    kinds: MediaTypes,
    acked: bool,
    ack_deadline: Instant,
    format: AudioFormat,
    /// The confirmed video `data_opt` when this socket carries video.
    video_opt: Option<DataOption>,
}

/// Where a stream's player is.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Registered, not started.
    Idle,
    /// At the top of its loop: the next fault, the end of the frames, a ready socket.
    Run,
    /// Between two frames: nothing to do until then.
    Sleeping(Instant),
    /// Waiting for an acknowledged audio socket until `deadline` (a wait of `window`).
    Waiting {
        deadline: Instant,
        window: Duration,
    },
    /// In a replayed frame: its next message is due then.
    Replaying(Instant),
    /// After a refusal: no new handshake until then.
    Observe {
        until: Instant,
        refusable: bool,
    },
    /// Before the end: the keep-alives still owed are sent and judged.
    Drain {
        deadline: Instant,
    },
    /// After `rtms_stopped` alone: the client must close its sockets (the 5 s count from
    /// the webhook's delivery).
    AwaitClose {
        deadline: Option<Instant>,
    },
    /// Ended: no new handshake until then (counted from the delivery of `rtms_stopped`:
    /// `None` while it is under way); `judge`: then record `stops_after_end`.
    AfterEnd {
        until: Option<Instant>,
        judge: bool,
    },
    Done,
}

/// A socket the player found ready, and the others it sends on.
struct Go {
    /// The audio socket; `None` for a client that asked for transcripts and no audio (the
    /// transcripts keep the audio's pace).
    audio: Option<SocketId>,
    format: AudioFormat,
    transcript: Option<SocketId>,
    /// The video socket, and whether it carries one subscribed participant (`data_opt` 4).
    video: Option<(SocketId, bool)>,
    signaling: Option<SocketId>,
}

enum Ready {
    Go(Go),
    NotYet,
    Rejected,
    Aborted,
    ClosedByClient,
    Stopped,
}

struct Stream {
    spec: StreamSpec,
    gen: u64,
    signaling: Option<Conn>,
    media: Vec<MediaConn>,
    unacked: VecDeque<SocketId>,
    duplicate_pending: bool,
    reject_pending: Option<StatusCode>,
    reject_signaling_pending: Option<StatusCode>,
    rejected: Option<(StatusCode, Instant)>,
    awaiting: Option<(Awaiting, Instant)>,
    ended: bool,
    closed_by_client: bool,
    refusable_media: bool,
    subscribed: Vec<i64>,
    /// The participant whose video is subscribed (message type 28), if any.
    video_user: Option<i64>,
    keep_alives_paused_until: Option<Instant>,
    /// The stream is ending: no new keep-alive is sent, the pending ones are judged.
    draining: bool,
    /// Why the stream's checks stopped early (a fatal failure of the client or the app).
    aborted: Option<String>,
    silent: bool,
    frames_sent: u64,
    transcripts_sent: u64,
    /// A media socket of the stream has asked for audio (ever): the player then waits for an
    /// audio socket, and plays transcripts alone only for a client that never asked for audio.
    asked_audio: bool,
    video_frames_sent: u64,
    hasher: Sha256,
    // The player.
    phase: Phase,
    /// The timer set for the phase (a heap entry for another instant is stale).
    wake: Option<Instant>,
    faults: Vec<Fault>,
    frames: u64,
    sent: u64,
    first_ts: Option<i64>,
    active: bool,
    next_at: Instant,
    /// The next wait for a ready socket lasts this long (after a silence).
    next_window: Option<Duration>,
    replay: Option<replay::Player>,
    /// The audio socket of the replayed frame in progress.
    replay_audio: Option<SocketId>,
    /// Per speaker (participant, or 0 for the one stream without participants), the audio
    /// message last encoded, reused while the tone's phase and the format stay.
    caches: Vec<Option<AudioCache>>,
    /// The participants played (empty: none configured).
    cast: Vec<Participant>,
    /// Per `user_id` of the audio sent: its frames and gap-filled hash.
    voices: Vec<Voice>,
    /// The active speaker (a participant index), as last announced.
    speaker: Option<usize>,
    events_sent: u64,
    chats_sent: u64,
    /// The kind every data handshake asking for it is refused ([`Fault::RefuseMedia`]).
    refuse_kind: Option<MediaKind>,
    /// A data handshake was refused for it: the client must go on (check `goes_on`).
    refused_kind: bool,
    amp: i64,
    /// The delivery of `rtms_stopped` the close is counted from.
    stopped_delivery: Option<u64>,
}

impl Stream {
    fn new(spec: StreamSpec, gen: u64, now: Instant) -> Self {
        let duplicate_pending = spec.faults.contains(&Fault::DuplicateSignal);
        let refusable_media = spec.faults.contains(&Fault::RefusableMediaUrl);
        let reject_signaling_pending = spec.faults.iter().find_map(|f| match f {
            Fault::RejectSignaling(code) => Some(*code),
            _ => None,
        });
        let reject_pending = spec.faults.iter().find_map(|f| match f {
            Fault::RejectData(code) => Some(*code),
            _ => None,
        });
        let mut faults: Vec<Fault> = spec
            .faults
            .iter()
            .filter(|f| f.after_frames().is_some())
            .cloned()
            .collect();
        faults.sort_by_key(Fault::after_frames);
        let replay = replay::Player::of(&spec);
        let frames = replay
            .as_ref()
            .map_or(spec.audio_frames, |r| r.frames(spec.audio_frames));
        let amp = tone_amplitude(&spec.rtms_stream_id);
        let cast = spec.participants();
        let refuse_kind = spec.faults.iter().find_map(|f| match f {
            Fault::RefuseMedia(kind) => Some(*kind),
            _ => None,
        });
        Stream {
            spec,
            gen,
            signaling: None,
            media: Vec::new(),
            unacked: VecDeque::new(),
            duplicate_pending,
            reject_pending,
            reject_signaling_pending,
            rejected: None,
            awaiting: None,
            ended: false,
            closed_by_client: false,
            refusable_media,
            subscribed: Vec::new(),
            video_user: None,
            keep_alives_paused_until: None,
            draining: false,
            aborted: None,
            silent: false,
            frames_sent: 0,
            transcripts_sent: 0,
            asked_audio: false,
            video_frames_sent: 0,
            hasher: Sha256::new(),
            phase: Phase::Idle,
            wake: None,
            faults,
            frames,
            sent: 0,
            first_ts: None,
            active: false,
            next_at: now,
            next_window: None,
            replay,
            replay_audio: None,
            caches: Vec::new(),
            cast,
            voices: Vec::new(),
            speaker: None,
            events_sent: 0,
            chats_sent: 0,
            refuse_kind,
            refused_kind: false,
            amp,
            stopped_delivery: None,
        }
    }

    fn done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    fn paused(&self, now: Instant) -> bool {
        self.keep_alives_paused_until.is_some_and(|t| now < t)
    }

    /// Its sockets: signalling first, then media.
    fn sockets(&self) -> impl Iterator<Item = SocketId> + '_ {
        self.signaling
            .iter()
            .map(|c| c.socket)
            .chain(self.media.iter().map(|m| m.conn.socket))
    }

    /// The acknowledged media socket on the current server that carries `kind`.
    fn usable(&self, kind: MediaKind) -> Option<&MediaConn> {
        self.media
            .iter()
            .find(|m| m.conn.gen == self.gen && m.acked && m.kinds.includes(kind))
    }
}

/// A stream's audio message, encoded once for a (phase, format): the JSON text around its
/// `timestamp`, the only field that changes from one message to the next while the tone's
/// phase stays, so that a message costs a copy and a number rather than a serialisation.
struct AudioCache {
    key: (u64, AudioFormat),
    pcm: Arc<[u8]>,
    who: Speaker,
    /// The payload in base64.
    data: String,
    /// The message's text before the timestamp's digits, and after them (`None`: not found
    /// where expected, each message is encoded whole).
    split: Option<(String, String)>,
}

/// Who an audio message is from, as its fields say.
#[derive(Clone, Copy)]
struct Speaker {
    user_id: Option<i64>,
    user_name: Option<&'static str>,
    channel_id: Option<&'static str>,
}

/// The timestamp the cached audio message is encoded with, to find where its digits go.
const TS_PROBE: i64 = 7_777_777_777_777;

impl AudioCache {
    fn new(key: (u64, AudioFormat), pcm: Vec<u8>, who: Speaker) -> Self {
        let data = base64_simd::STANDARD.encode_to_string(&pcm);
        let pcm: Arc<[u8]> = pcm.into();
        let probe = Self::encode(who, &data, pcm.len(), TS_PROBE);
        let key_text = "\"timestamp\":";
        let marker = format!("{key_text}{TS_PROBE}");
        let split = probe.rfind(&marker).map(|at| {
            let digits = at + key_text.len();
            let end = at + marker.len();
            (probe[..digits].to_owned(), probe[end..].to_owned())
        });
        AudioCache {
            key,
            pcm,
            who,
            data,
            split,
        }
    }

    /// The audio message, serialised.
    fn encode(who: Speaker, data: &str, len: usize, ts: i64) -> String {
        ServerMessage::Audio(MediaData {
            user_id: who.user_id,
            user_name: who.user_name.map(Cow::Borrowed),
            channel_id: who.channel_id.map(Cow::Borrowed),
            data: Some(Cow::Borrowed(data)),
            length: Some(len as i64),
            timestamp: Some(ts),
        })
        .to_json()
    }

    /// The message with timestamp `ts`: the same text as [`AudioCache::encode`] gives.
    fn message(&self, ts: i64) -> String {
        let Some((head, tail)) = &self.split else {
            return Self::encode(self.who, &self.data, self.pcm.len(), ts);
        };
        let mut out = String::with_capacity(head.len() + 20 + tail.len());
        out.push_str(head);
        push_int(&mut out, ts);
        out.push_str(tail);
        out
    }
}

/// Appends `n` in decimal (as `Display` writes it, without its machinery).
fn push_int(out: &mut String, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// What was sent of one `user_id`'s audio: its frames, and the hash of its gap-filled PCM.
struct Voice {
    user_id: i64,
    frames: u64,
    hasher: Sha256,
    /// The slot after its last frame hashed (the zeros of the slots up to a frame's are
    /// hashed before it).
    next_slot: u64,
    /// Its payloads are PCM (L16): the hash means something.
    pcm: bool,
}

/// Zeros to hash for the slots a voice did not send.
const ZEROS: [u8; 4096] = [0; 4096];

impl Voice {
    /// Hashes the frame of slot `slot`, after zeros for every slot since its last frame.
    fn hash(&mut self, slot: u64, payload: &[u8]) {
        let gap = slot.saturating_sub(self.next_slot);
        let mut zeros = gap.saturating_mul(payload.len() as u64);
        while zeros > 0 {
            let n = zeros.min(ZEROS.len() as u64) as usize;
            self.hasher.update(&ZEROS[..n]);
            zeros -= n as u64;
        }
        self.hasher.update(payload);
        self.next_slot = slot + 1;
    }
}

/// What a message sent counts for in the report, once the driver took it.
enum Count {
    /// Its PCM (or Opus) bytes, shared with the stream's [`AudioCache`]: hashed once taken;
    /// and its voice (an index into the stream's voices) and slot, if it has one.
    Audio(Arc<[u8]>, Option<(usize, u64)>),
    /// An event update of the player (1 to 6).
    Event,
    /// A chat message.
    Chat,
    Video,
    Transcript,
    /// A keep-alive request: one the driver could not queue is not pending.
    KeepAlive,
    Other,
}

/// A message the report counts, or whose loss it judges.
struct Tally {
    stream: usize,
    count: Count,
    /// Dropped, it fails `keeps_up` (audio, replayed messages).
    judged: bool,
}

/// A webhook being delivered (with a webhook URL).
struct Pending {
    stream: usize,
    hook: Unsigned,
    /// The first attempt's time: the retries count from it.
    attempted: Instant,
    /// Retries made so far (0: still the first delivery).
    retries: usize,
    /// Refused connections are tried again until then.
    give_up: Instant,
    /// When the next attempt is due.
    due: Option<Instant>,
    /// Copies still to send after this one is acknowledged (duplicate webhooks).
    copies: u8,
    last: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Handshake(SocketId),
    KeepAlive(SocketId),
    ReadyAck(SocketId),
    /// Where the streams' timers (the players', kept in [`Core::players`]) stand among the
    /// others due at the same instant.
    Players,
    Delivery(u64),
}

/// The players' timers share one entry per [`PLAYER_TICK`]: thousands of streams each sending
/// every 20 ms cost one timer a tick, not one each.
const PLAYER_TICK: Duration = Duration::from_millis(1);

/// A stream's media starts (and restarts, after a wait for a ready socket) on a multiple of
/// this since the simulator's start, so that at the default 20 ms send rate every stream sends
/// at the same instants: one tick serves them all, and a load driver's writes come together.
const MEDIA_GRID: Duration = Duration::from_millis(20);

/// The players due in one tick: each stream with the instant it asked for (stale when its
/// `wake` moved), and how many are still live.
#[derive(Default)]
struct Tick {
    due: Vec<(Instant, usize)>,
    live: usize,
}

/// Zoom's side of every stream, sans I/O.
pub(crate) struct Core {
    config: SimConfig,
    addr: SocketAddr,
    start: Instant,
    wall_ms: i64,
    streams: Vec<Stream>,
    index: HashMap<String, usize>,
    checks: Vec<Check>,
    /// Where each check of each stream is in `checks`: recording one (every keep-alive echo
    /// does) stays O(1) with thousands of streams, as a load driver needs.
    check_index: HashMap<&'static str, HashMap<String, usize>>,
    next_gen: u64,
    next_socket: u64,
    next_delivery: u64,
    sockets: HashMap<SocketId, Socket>,
    deliveries: HashMap<u64, Pending>,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    /// The players' timers, by tick (the end of the [`PLAYER_TICK`] they fall in).
    players: BTreeMap<Instant, Tick>,
    out: VecDeque<(Output, Option<Tally>)>,
    /// The last message polled, counted once the driver did not report it dropped.
    polled: Option<(SocketId, Tally)>,
    /// Streams finished since [`Core::take_finished`] was last asked.
    finished: Vec<String>,
    /// The video frame, in base64.
    video: String,
}

impl Core {
    /// A core serving `addr` (the address the URLs it hands out name, unless the configuration
    /// gives a public origin), whose clock reads
    /// `wall_ms` (ms since the Unix epoch) at `now`.
    pub(crate) fn new(config: SimConfig, addr: SocketAddr, now: Instant, wall_ms: i64) -> Self {
        Core {
            config,
            addr,
            start: now,
            wall_ms,
            streams: Vec::new(),
            index: HashMap::new(),
            checks: Vec::new(),
            check_index: HashMap::new(),
            next_gen: 0,
            next_socket: 0,
            next_delivery: 0,
            sockets: HashMap::new(),
            deliveries: HashMap::new(),
            timers: BinaryHeap::new(),
            players: BTreeMap::new(),
            out: VecDeque::new(),
            polled: None,
            finished: Vec::new(),
            video: base64_simd::STANDARD.encode_to_string(VIDEO_FRAME),
        }
    }

    pub(crate) fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The keep-alive interval (at least 1 ms: a zero one would tick for ever at one instant).
    fn interval(&self) -> Duration {
        self.config
            .keep_alive_interval
            .max(Duration::from_millis(1))
    }

    /// Milliseconds since the Unix epoch at `now`.
    fn now_ms(&self, now: Instant) -> i64 {
        self.wall_ms + now.saturating_duration_since(self.start).as_millis() as i64
    }

    /// `ws://<addr>`, or the configured public origin.
    fn origin(&self) -> String {
        match &self.config.public_origin {
            Some(origin) => origin.clone(),
            None => format!("ws://{}", self.addr),
        }
    }

    fn base_url(&self, gen: u64) -> String {
        format!("{}/rtms/{gen}", self.origin())
    }

    fn signaling_url_of(&self, gen: u64) -> String {
        format!("{}/signaling", self.base_url(gen))
    }

    // -----------------------------------------------------------------------------------------
    // The API
    // -----------------------------------------------------------------------------------------

    pub(crate) fn register(&mut self, spec: StreamSpec, now: Instant) -> Result<(), SimError> {
        let id = spec.rtms_stream_id.clone();
        if self.index.contains_key(&id) {
            return Err(SimError::Duplicate(id));
        }
        self.next_gen += 1;
        self.index.insert(id, self.streams.len());
        self.streams.push(Stream::new(spec, self.next_gen, now));
        Ok(())
    }

    pub(crate) fn signaling_url(&self, rtms_stream_id: &str) -> Option<String> {
        let i = *self.index.get(rtms_stream_id)?;
        Some(self.signaling_url_of(self.streams[i].gen))
    }

    /// Sends the stream's `*_rtms_started` (the returned delivery, and whether its outcome is
    /// to be reported) and starts its player.
    pub(crate) fn start_stream(
        &mut self,
        now: Instant,
        rtms_stream_id: &str,
    ) -> Result<(u64, bool), SimError> {
        self.commit();
        let i = *self
            .index
            .get(rtms_stream_id)
            .ok_or_else(|| SimError::UnknownStream(rtms_stream_id.to_owned()))?;
        let s = &self.streams[i];
        let hook = webhook::started(self.now_ms(now), &s.spec, self.signaling_url_of(s.gen));
        let s = &mut self.streams[i];
        if matches!(s.phase, Phase::Idle) {
            s.phase = Phase::Run;
            s.next_at = now;
        }
        let delivery = self.deliver(now, i, hook);
        self.advance(now, i);
        Ok(delivery)
    }

    /// Whether the stream's script is over (an unknown stream is).
    pub(crate) fn is_finished(&self, rtms_stream_id: &str) -> bool {
        self.index
            .get(rtms_stream_id)
            .is_none_or(|&i| self.streams[i].done())
    }

    /// The streams finished since the last call.
    pub(crate) fn take_finished(&mut self) -> Vec<String> {
        std::mem::take(&mut self.finished)
    }

    pub(crate) fn report(&mut self) -> Report {
        self.commit();
        let streams = self
            .streams
            .iter()
            .map(|s| StreamSummary {
                stream: s.spec.rtms_stream_id.clone(),
                audio_frames: s.frames_sent,
                audio_sha256: if self.config.audio_digest {
                    hex::encode(s.hasher.clone().finalize())
                } else {
                    String::new()
                },
                transcripts: s.transcripts_sent,
                video_frames: s.video_frames_sent,
                participants: s
                    .voices
                    .iter()
                    .map(|v| ParticipantSummary {
                        user_id: v.user_id,
                        audio_frames: v.frames,
                        audio_sha256: if self.config.audio_digest && v.pcm {
                            hex::encode(v.hasher.clone().finalize())
                        } else {
                            String::new()
                        },
                    })
                    .collect(),
                events: s.events_sent,
                chats: s.chats_sent,
                stopped: s.aborted.clone(),
            })
            .collect();
        Report {
            streams,
            checks: self.checks.clone(),
        }
    }

    /// Closes every socket and ends every stream (the simulator is going away).
    pub(crate) fn shut_down(&mut self) {
        self.commit();
        for i in 0..self.streams.len() {
            self.close_all(i);
            if !self.streams[i].done() {
                self.finish(i);
            }
        }
        let open: Vec<SocketId> = self.sockets.keys().copied().collect();
        for socket in open {
            self.close_socket(socket);
        }
    }

    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        self.commit();
        let (output, tally) = self.out.pop_front()?;
        if let (Output::Send { socket, .. }, Some(tally)) = (&output, tally) {
            self.polled = Some((*socket, tally));
        }
        Some(output)
    }

    /// The earliest time [`Core::handle_timeout`] is due.
    pub(crate) fn poll_timeout(&mut self) -> Option<Instant> {
        // Stale entries go first, so that a driver does not wake for nothing.
        let mut next = None;
        while let Some(&Reverse((t, timer))) = self.timers.peek() {
            if self.timer_live(t, timer) {
                next = Some(t);
                break;
            }
            self.timers.pop();
        }
        while let Some(entry) = self.players.first_entry() {
            if entry.get().live > 0 {
                let tick = *entry.key();
                return Some(next.map_or(tick, |t: Instant| t.min(tick)));
            }
            entry.remove();
        }
        next
    }

    /// A client opened a WebSocket at `path`, dialling `host` (its `Host` header).
    pub(crate) fn handle_opened(&mut self, now: Instant, path: &str, host: &str) -> SocketId {
        self.commit();
        self.next_socket += 1;
        let socket = SocketId::from_raw(self.next_socket);
        match route(path) {
            Some((gen, role)) => {
                let deadline = after(now, HANDSHAKE_TIMEOUT);
                self.sockets.insert(
                    socket,
                    Socket::Handshake {
                        gen,
                        role,
                        path: path.to_owned(),
                        host: host.to_owned(),
                        deadline,
                    },
                );
                self.timer(deadline, Timer::Handshake(socket));
            }
            None => self.out.push_back((Output::Close { socket }, None)),
        }
        socket
    }

    /// A text or binary frame from the client.
    pub(crate) fn handle_message(&mut self, now: Instant, socket: SocketId, frame: &[u8]) {
        self.commit();
        match self.sockets.get(&socket) {
            None => {}
            Some(Socket::Handshake {
                gen,
                role,
                path,
                host,
                ..
            }) => {
                let (gen, role, path, host) = (*gen, *role, path.clone(), host.clone());
                match (role, ClientRequest::parse(frame)) {
                    (Role::Signaling, Ok(ClientRequest::SignalingHandshake(h))) => {
                        self.signaling(now, socket, gen, &h);
                    }
                    (Role::Media, Ok(ClientRequest::DataHandshake(h))) => {
                        self.media(now, socket, gen, &h, &host, &path);
                    }
                    (role, other) => {
                        let expected = if role == Role::Signaling { 1 } else { 3 };
                        let found =
                            other.map_or_else(|e| e.to_string(), |r| r.msg_type().to_string());
                        let why =
                            format!("first message on {path} is {found}, not msg_type {expected}");
                        self.record("?", "handshake_order", Some(why));
                        self.close_socket(socket);
                    }
                }
            }
            Some(Socket::Open { stream, role, .. }) => {
                let (i, role) = (*stream, *role);
                match ClientRequest::parse(frame) {
                    Ok(ClientRequest::KeepAliveResponse {
                        timestamp,
                        sequence,
                    }) => self.keep_alive_answered(i, socket, timestamp, sequence),
                    Ok(req) if role == Role::Signaling => self.on_signaling(now, i, socket, req),
                    Ok(req) => self.on_media(i, req),
                    Err(e) => {
                        let id = self.streams[i].spec.rtms_stream_id.clone();
                        self.record(&id, "messages", Some(format!("unreadable message: {e}")));
                    }
                }
                self.advance(now, i);
            }
        }
    }

    /// The socket closed (the client closed it, or it failed).
    pub(crate) fn handle_closed(&mut self, now: Instant, socket: SocketId) {
        self.commit();
        if let Some(i) = self.forget(socket) {
            self.advance(now, i);
        }
    }

    /// The last message polled for `socket` could not be queued: the client does not read.
    /// It is not counted.
    pub(crate) fn handle_dropped(&mut self, now: Instant, socket: SocketId) {
        let tally = match self.polled.take() {
            Some((polled, tally)) if polled == socket => tally,
            other => {
                // Not a message the report counts: nothing to take back.
                self.polled = other;
                self.commit();
                return;
            }
        };
        let i = tally.stream;
        match tally.count {
            // Never sent: not pending, not to be judged.
            Count::KeepAlive => {
                if let Some(Socket::Open { keep_alive, .. }) = self.sockets.get_mut(&socket) {
                    keep_alive.pending = None;
                }
            }
            Count::Audio(..) if tally.judged => {
                let why = format!(
                    "the client stopped reading its audio socket ({SEND_QUEUE} messages queued); \
                     audio was dropped"
                );
                self.record_of(i, "keeps_up", Some(why));
            }
            _ if tally.judged => {
                let why = format!(
                    "the client stopped reading ({SEND_QUEUE} messages queued); a replayed \
                     message was dropped"
                );
                self.record_of(i, "keeps_up", Some(why));
            }
            _ => {}
        }
        self.advance(now, i);
    }

    /// The client took no message on `socket` for a keep-alive interval: the driver closed it.
    pub(crate) fn handle_stalled(&mut self, now: Instant, socket: SocketId) {
        self.commit();
        let Some(Socket::Open { stream, .. }) = self.sockets.get(&socket) else {
            return;
        };
        let i = *stream;
        let id = self.streams[i].spec.rtms_stream_id.clone();
        let limit = self.interval();
        let why = format!("the client took no message for {limit:?}: its socket was closed");
        self.record(&id, "keeps_up", Some(why));
        self.handle_closed(now, socket);
    }

    /// The outcome of a delivery; the final outcome of the first delivery (its retries and
    /// copies aside), or `None` when it is tried again.
    pub(crate) fn handle_delivered(
        &mut self,
        now: Instant,
        id: u64,
        outcome: Delivered,
    ) -> Option<Result<(), String>> {
        self.commit();
        let p = self.deliveries.get_mut(&id)?;
        let i = p.stream;
        let stream = self.streams[i].spec.rtms_stream_id.clone();
        if p.retries > 0 {
            // A retry.
            match outcome {
                Delivered::Acked => {
                    self.deliveries.remove(&id);
                    self.record(&stream, "webhook_retry", None);
                }
                Delivered::Refused(why) | Delivered::Failed(why) => {
                    p.last = why;
                    match self.config.webhook_retries.get(p.retries).copied() {
                        Some(delay) => {
                            p.retries += 1;
                            p.attempted = after(p.attempted, delay);
                            p.due = Some(p.attempted);
                            let due = p.attempted;
                            self.timer(due, Timer::Delivery(id));
                        }
                        None => {
                            let why = format!("no retry was acknowledged: {}", p.last);
                            self.deliveries.remove(&id);
                            self.record(&stream, "webhook_retry", Some(why));
                        }
                    }
                }
            }
            return None;
        }
        if let Delivered::Refused(_) = outcome {
            let repost = after(now, REPOST_EVERY);
            if repost <= p.give_up {
                p.due = Some(repost);
                self.timer(repost, Timer::Delivery(id));
                return None;
            }
        }
        let raw = match outcome {
            Delivered::Acked => None,
            Delivered::Refused(why) | Delivered::Failed(why) => Some(why),
        };
        let failure = raw.as_ref().map(|why| format!("{}: {why}", p.hook.event));
        let announces = p.hook.announces();
        let retried = !self.config.webhook_retries.is_empty();
        let copies = p.copies;
        let hook = p.hook.clone();
        if failure.is_some() && retried {
            p.retries = 1;
            p.last = failure.clone().unwrap_or_default();
            let delay = self.config.webhook_retries[0];
            p.attempted = after(p.attempted, delay);
            p.due = Some(p.attempted);
            let due = p.attempted;
            self.timer(due, Timer::Delivery(id));
        } else {
            self.deliveries.remove(&id);
        }
        self.record(&stream, "webhook_ack", failure.clone());
        // Without retries, a client that never heard of the start or the interruption has
        // nothing left to be judged on.
        if let Some(why) = failure.as_ref().filter(|_| announces && !retried) {
            self.abort(i, format!("a webhook was not acknowledged: {why}"));
        }
        if failure.is_none() && copies > 0 {
            self.deliver_copy(now, i, hook, copies - 1);
        }
        if self.streams[i].stopped_delivery == Some(id) {
            let observe = self.config.observe_window;
            let s = &mut self.streams[i];
            match s.phase {
                Phase::AwaitClose { deadline: None } => {
                    s.phase = Phase::AwaitClose {
                        deadline: Some(after(now, CLOSE_ON_STOPPED)),
                    };
                }
                Phase::AfterEnd { until: None, judge } => {
                    let wait = if judge { observe } else { Duration::ZERO };
                    s.phase = Phase::AfterEnd {
                        until: Some(after(now, wait)),
                        judge,
                    };
                }
                _ => {}
            }
        }
        self.advance(now, i);
        Some(raw.map_or(Ok(()), Err))
    }

    /// Every timer due by `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.commit();
        loop {
            let tick = self.players.first_key_value().map(|(t, _)| *t);
            let heap = self.timers.peek().map(|Reverse(entry)| *entry);
            let players_first = match (tick, heap) {
                (Some(tick), Some(entry)) => (tick, Timer::Players) < entry,
                (Some(_), None) => true,
                _ => false,
            };
            if players_first {
                if tick.is_some_and(|tick| tick <= now) {
                    self.fire_players(now);
                    continue;
                }
                break;
            }
            let Some((t, timer)) = heap.filter(|(t, _)| *t <= now) else {
                break;
            };
            self.timers.pop();
            if !self.timer_live(t, timer) {
                continue;
            }
            match timer {
                Timer::Handshake(socket) => self.close_socket(socket),
                Timer::KeepAlive(socket) => self.keep_alive_tick(now, socket),
                Timer::ReadyAck(socket) => self.ready_ack_late(socket),
                Timer::Players => {}
                Timer::Delivery(id) => self.redeliver(id),
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Bookkeeping
    // -----------------------------------------------------------------------------------------

    fn timer(&mut self, at: Instant, timer: Timer) {
        self.timers.push(Reverse((at, timer)));
    }

    /// Whether a heap entry still stands (timers are not removed, they go stale).
    fn timer_live(&self, t: Instant, timer: Timer) -> bool {
        match timer {
            Timer::Handshake(socket) => matches!(
                self.sockets.get(&socket),
                Some(Socket::Handshake { deadline, .. }) if *deadline == t
            ),
            Timer::KeepAlive(socket) => matches!(
                self.sockets.get(&socket),
                Some(Socket::Open { keep_alive, .. }) if keep_alive.next_tick == t
            ),
            Timer::ReadyAck(socket) => match self.sockets.get(&socket) {
                Some(Socket::Open { stream, .. }) => self.streams[*stream]
                    .media
                    .iter()
                    .any(|m| m.conn.socket == socket && !m.acked && m.ack_deadline == t),
                _ => false,
            },
            Timer::Players => false,
            Timer::Delivery(id) => self.deliveries.get(&id).is_some_and(|p| p.due == Some(t)),
        }
    }

    /// Counts the message last polled (the driver did not report it dropped).
    fn commit(&mut self) {
        let Some((_, tally)) = self.polled.take() else {
            return;
        };
        let s = &mut self.streams[tally.stream];
        match tally.count {
            Count::Audio(pcm, voice) => {
                if self.config.audio_digest {
                    s.hasher.update(&pcm);
                }
                s.frames_sent += 1;
                if let Some(v) = voice.and_then(|(v, _)| s.voices.get_mut(v)) {
                    v.frames += 1;
                }
                if let Some((v, slot)) = voice.filter(|_| self.config.audio_digest) {
                    if let Some(v) = s.voices.get_mut(v).filter(|v| v.pcm) {
                        v.hash(slot, &pcm);
                    }
                }
            }
            Count::Event => s.events_sent += 1,
            Count::Chat => s.chats_sent += 1,
            Count::Video => s.video_frames_sent += 1,
            Count::Transcript => s.transcripts_sent += 1,
            Count::KeepAlive | Count::Other => {}
        }
    }

    fn send(&mut self, socket: SocketId, text: String) {
        let send = Output::Send {
            socket,
            text,
            urgent: false,
        };
        self.out.push_back((send, None));
    }

    /// Sends a message the report counts (`judged`: its loss fails `keeps_up`).
    fn send_counted(
        &mut self,
        i: usize,
        socket: SocketId,
        text: String,
        count: Count,
        judged: bool,
    ) {
        let urgent = matches!(count, Count::KeepAlive);
        let send = Output::Send {
            socket,
            text,
            urgent,
        };
        let tally = Tally {
            stream: i,
            count,
            judged,
        };
        self.out.push_back((send, Some(tally)));
    }

    /// Records a pass (only when the check is new) or a failure (the first one is kept).
    fn record(&mut self, stream: &str, name: &'static str, failure: Option<String>) {
        let index = self.check_index.entry(name).or_default();
        match index.get(stream) {
            Some(&i) => {
                let c = &mut self.checks[i];
                if c.failure.is_none() {
                    c.failure = failure;
                }
            }
            None => {
                index.insert(stream.to_owned(), self.checks.len());
                self.checks.push(Check::new(name, stream, failure));
            }
        }
    }

    fn record_of(&mut self, i: usize, name: &'static str, failure: Option<String>) {
        let id = self.streams[i].spec.rtms_stream_id.clone();
        self.record(&id, name, failure);
    }

    /// Whether the check `name` of stream `i` was recorded (passed or failed).
    fn has(&self, name: &str, i: usize) -> bool {
        self.check_index
            .get(name)
            .is_some_and(|index| index.contains_key(&self.streams[i].spec.rtms_stream_id))
    }

    /// Stops the checks of stream `i` at once after a failure that leaves nothing else to
    /// judge (a wrong signature, a webhook the app refused): the player ends it, and the report
    /// says why.
    fn abort(&mut self, i: usize, why: String) {
        let s = &mut self.streams[i];
        if s.aborted.is_none() && !s.done() {
            s.aborted = Some(why);
        }
    }

    /// Removes a socket from the core (and from its stream); the stream it belonged to.
    fn forget(&mut self, socket: SocketId) -> Option<usize> {
        let Socket::Open { stream, .. } = self.sockets.remove(&socket)? else {
            return None;
        };
        let s = &mut self.streams[stream];
        if s.signaling.as_ref().is_some_and(|c| c.socket == socket) {
            s.signaling = None;
        }
        s.media.retain(|m| m.conn.socket != socket);
        s.unacked.retain(|c| *c != socket);
        Some(stream)
    }

    /// Closes a socket from the server's side.
    fn close_socket(&mut self, socket: SocketId) {
        if self.sockets.contains_key(&socket) {
            self.forget(socket);
            self.out.push_back((Output::Close { socket }, None));
        }
    }

    fn close_all(&mut self, i: usize) {
        let sockets: Vec<SocketId> = self.streams[i].sockets().collect();
        for socket in sockets {
            self.close_socket(socket);
        }
        self.streams[i].unacked.clear();
    }

    // -----------------------------------------------------------------------------------------
    // Webhooks
    // -----------------------------------------------------------------------------------------

    /// Sends a webhook of stream `i` (twice with duplicate webhooks); its delivery, and whether
    /// its outcome is to be reported (there is a webhook URL).
    fn deliver(&mut self, now: Instant, i: usize, hook: Unsigned) -> (u64, bool) {
        let copies = u8::from(self.config.duplicate_webhooks);
        self.deliver_copy(now, i, hook, copies)
    }

    fn deliver_copy(&mut self, now: Instant, i: usize, hook: Unsigned, copies: u8) -> (u64, bool) {
        let secret = self.streams[i].spec.webhook_secret.clone();
        self.next_delivery += 1;
        let id = self.next_delivery;
        if self.config.webhook_url.is_none() {
            for n in 0..=u64::from(copies) {
                let delivery = Delivery {
                    id: id + n,
                    hook: hook.clone(),
                    secret: secret.clone(),
                    repost: false,
                };
                self.out.push_back((Output::Deliver(delivery), None));
            }
            self.next_delivery += u64::from(copies);
            return (id, false);
        }
        self.deliveries.insert(
            id,
            Pending {
                stream: i,
                hook: hook.clone(),
                attempted: now,
                retries: 0,
                give_up: after(now, self.config.delivery_patience),
                due: None,
                copies,
                last: String::new(),
            },
        );
        let delivery = Delivery {
            id,
            hook,
            secret,
            repost: false,
        };
        self.out.push_back((Output::Deliver(delivery), None));
        (id, true)
    }

    /// A delivery's next attempt is due: a re-post of a refused connection, or a retry.
    fn redeliver(&mut self, id: u64) {
        let Some(p) = self.deliveries.get_mut(&id) else {
            return;
        };
        p.due = None;
        let delivery = Delivery {
            id,
            hook: p.hook.clone(),
            secret: self.streams[p.stream].spec.webhook_secret.clone(),
            repost: p.retries == 0,
        };
        self.out.push_back((Output::Deliver(delivery), None));
    }

    // -----------------------------------------------------------------------------------------
    // Handshakes
    // -----------------------------------------------------------------------------------------

    /// Checks a handshake's stream, id key and signature (shared by message types 1 and 3);
    /// the stream, or the status to answer when one fails.
    fn check_header(
        &mut self,
        h: &ReceivedHandshake<'_>,
        signature_check: &'static str,
    ) -> Result<usize, (StatusCode, Option<usize>)> {
        let Some(id) = h.rtms_stream_id.as_deref() else {
            self.record("?", "handshake", Some("no rtms_stream_id".into()));
            return Err((StatusCode::InvalidRtmsStreamId, None));
        };
        let Some(&i) = self.index.get(id) else {
            // Under "?", the first one kept: a client cannot grow the report with made-up ids.
            let shown: String = id.chars().take(64).collect();
            let why = format!("unknown rtms_stream_id {shown:?}");
            self.record("?", "handshake", Some(why));
            return Err((StatusCode::InvalidRtmsStreamId, None));
        };
        let s = &self.streams[i];
        let keys = s.spec.id_keys.keys(s.spec.product).to_vec();
        let instance = s.spec.instance_id.clone();
        let expected = handshake_signature(&s.spec.credentials, &instance, id);
        let product = s.spec.product;
        match keys.iter().find_map(|k| h.id(*k).map(|v| (*k, v))) {
            None => {
                let sent: Vec<_> = h.ids.iter().map(|(k, _)| k.as_str()).collect();
                let keys: Vec<_> = keys.iter().map(|k| k.as_str()).collect();
                let why = format!("{product} id not sent under {keys:?} (sent {sent:?})");
                self.record_of(i, "id_key", Some(why.clone()));
                self.abort(i, format!("the handshake was refused: {why}"));
                return Err((StatusCode::InvalidPayload, Some(i)));
            }
            Some((key, value)) if value != instance => {
                let why = format!("{key} is {value:?}, the stream's is {instance:?}");
                self.record_of(i, "id_key", Some(why.clone()));
                self.abort(i, format!("the handshake was refused: {why}"));
                return Err((StatusCode::InvalidSignature, Some(i)));
            }
            Some(_) => self.record_of(i, "id_key", None),
        }
        if h.signature.as_deref() != Some(expected.as_str()) {
            let why =
                "signature is not hex(HMAC-SHA256(client_secret, \"client_id,id,rtms_stream_id\"))";
            self.record_of(i, signature_check, Some(why.into()));
            self.abort(
                i,
                "the handshake was refused with status 3 (INVALID_SIGNATURE): is the client \
                 secret the app's (ZOOM_CLIENT_SECRET)?"
                    .into(),
            );
            return Err((StatusCode::InvalidSignature, Some(i)));
        }
        self.record_of(i, signature_check, None);
        Ok(i)
    }

    /// The checks every late handshake fails: after the end, after a fatal status, on an old
    /// server. `Some(status)` to refuse it with.
    fn late_handshake(
        &mut self,
        now: Instant,
        i: usize,
        gen: u64,
        what: &str,
    ) -> Option<StatusCode> {
        let s = &self.streams[i];
        let (check, why) = if s.ended || s.done() {
            ("stops_after_end", format!("{what} after the stream ended"))
        } else if let Some((code, at)) = s.rejected {
            let after = now.saturating_duration_since(at);
            let why = format!("{what} {after:?} after the fatal status {}", code.code());
            ("gives_up", why)
        } else if gen < s.gen {
            let why = format!("{what} to the old server after the failover");
            ("failover", why)
        } else {
            return None;
        };
        self.record_of(i, check, Some(why));
        Some(StatusCode::InvalidRtmsStreamId)
    }

    /// The signalling response; with `refusable`, the media URLs are on `localhost`.
    fn signaling_response(&self, gen: u64, code: StatusCode, refusable: bool) -> String {
        let mut urls = BTreeMap::new();
        if code.is_ok() {
            let base = if refusable {
                format!("ws://localhost:{}/rtms/{gen}", self.addr.port())
            } else {
                self.base_url(gen)
            };
            for key in ["audio", "transcript", "all"] {
                urls.insert(key.to_owned(), format!("{base}/media/{key}"));
            }
        }
        let mut extra = serde_json::Map::new();
        extra.insert("sequence".into(), 0.into());
        let reason = if code.is_ok() {
            String::new()
        } else {
            code.to_string()
        };
        let response = SignalingHandshakeResponse {
            protocol_version: Some(1),
            status_code: code,
            reason: Some(reason),
            media_server_urls: urls,
            extra,
        };
        ServerMessage::SignalingHandshakeResponse(Box::new(response)).to_json()
    }

    fn event_frame(&self, now: Instant, event_type: i64) -> String {
        let json = format!(
            r#"{{"event_type":{event_type},"timestamp":{}}}"#,
            self.now_ms(now)
        );
        Event::parse(&json)
            .map(|e| ServerMessage::EventUpdate(e).to_json())
            .unwrap_or_default()
    }

    fn stream_state(&self, now: Instant, state: StreamState, reason: Option<StopReason>) -> String {
        ServerMessage::StreamStateUpdate(StreamStateInfo {
            state: Some(state),
            reason,
            timestamp: Some(self.now_ms(now)),
            rtms_stream_id: None,
        })
        .to_json()
    }

    /// Refuses a handshake: the response, then the socket closed; the stream, if known,
    /// moves on (an aborted one ends).
    fn refuse(&mut self, now: Instant, socket: SocketId, response: String, stream: Option<usize>) {
        self.sockets.remove(&socket);
        self.send(socket, response);
        self.out.push_back((Output::Close { socket }, None));
        if let Some(i) = stream {
            self.advance(now, i);
        }
    }

    /// The socket is the stream's: its keep-alives start.
    fn open(&mut self, now: Instant, socket: SocketId, i: usize, role: Role) {
        let next_tick = after(now, self.config.first_keep_alive);
        self.sockets.insert(
            socket,
            Socket::Open {
                stream: i,
                role,
                keep_alive: KeepAlive {
                    next_tick,
                    pending: None,
                    sequence: 0,
                    misses: 0,
                    probed: false,
                },
            },
        );
        self.timer(next_tick, Timer::KeepAlive(socket));
    }

    fn signaling(&mut self, now: Instant, socket: SocketId, gen: u64, h: &ReceivedHandshake<'_>) {
        match self.signaling_decision(now, socket, gen, h) {
            Ok((i, refusable)) => {
                self.open(now, socket, i, Role::Signaling);
                let response = self.signaling_response(gen, StatusCode::Ok, refusable);
                self.send(socket, response);
                // The stream's zero (FIRST_PACKET_TIMESTAMP), once known: the player sends it
                // before the first media, and again to each later signalling connection.
                let first = self.streams[i]
                    .first_ts
                    .map(|zero| format!(r#"{{"event_type":1,"timestamp":{zero}}}"#));
                if let Some(event) = first.as_deref().and_then(event_update) {
                    self.send_counted(i, socket, event, Count::Event, false);
                }
                self.advance(now, i);
            }
            Err((code, i)) => {
                let response = self.signaling_response(gen, code, false);
                self.refuse(now, socket, response, i);
            }
        }
    }

    /// Accepts or refuses a signalling handshake: the stream and whether its media URLs are
    /// to be refused, or the status (and the stream, if known).
    fn signaling_decision(
        &mut self,
        now: Instant,
        socket: SocketId,
        gen: u64,
        h: &ReceivedHandshake<'_>,
    ) -> Result<(usize, bool), (StatusCode, Option<usize>)> {
        let window = self.config.reconnect_window;
        let min = self.config.reconnect_delay_min;
        let i = self.check_header(h, "signaling_signature")?;
        if let Some(code) = self.late_handshake(now, i, gen, "signalling handshake") {
            return Err((code, Some(i)));
        }
        let s = &mut self.streams[i];
        if let Some(code) = s.reject_signaling_pending.take() {
            s.rejected = Some((code, now));
            return Err((code, Some(i)));
        }
        if s.duplicate_pending {
            s.duplicate_pending = false;
            s.awaiting = Some((Awaiting::DuplicateRetry, now));
            return Err((StatusCode::DuplicateSignalRequest, Some(i)));
        }
        let mut results: Vec<(&'static str, Option<String>)> = Vec::new();
        if s.paused(now) {
            let why = "redid the signalling handshake during a keep-alive pause while media flowed";
            results.push(("watchdog_not_early", Some(why.into())));
        }
        let watchdog = matches!(s.awaiting, Some((Awaiting::Watchdog, _)));
        if s.signaling
            .as_ref()
            .is_some_and(|old| !watchdog && old.gen == gen)
        {
            let why = "a second signalling connection while one is open";
            self.record_of(i, "one_signaling_connection", Some(why.into()));
            return Err((StatusCode::DuplicateSignalRequest, Some(i)));
        }
        results.push(("one_signaling_connection", None));
        let mut to_close: Vec<SocketId> = Vec::new();
        match s.awaiting {
            Some((Awaiting::DuplicateRetry, t0)) => {
                let after = now.saturating_duration_since(t0);
                let failure = (after < DUPLICATE_RETRY_MIN).then(|| {
                    format!("retried {after:?} after status 8; the backoff starts at 1.5 s")
                });
                results.push(("duplicate_retry", failure));
                s.awaiting = None;
            }
            Some((Awaiting::MediaRedial, _)) => {
                let why = "redid the signalling handshake after event 7 (only media is redialled)";
                results.push(("media_reconnect", Some(why.into())));
            }
            Some((Awaiting::SignalingRedial, t0)) => {
                let after = now.saturating_duration_since(t0);
                let (late, early) =
                    reconnect_breach("reconnected", "rtms_interrupted", after, min, window);
                results.push(("signaling_reconnect", late));
                results.push(("reconnect_backoff", early));
                s.awaiting = None;
            }
            Some((Awaiting::Failover, t0)) => {
                let after = now.saturating_duration_since(t0);
                let failure = (after > window).then(|| {
                    format!("reconnected {after:?} after the failover, beyond {window:?}")
                });
                results.push(("failover", failure));
                s.awaiting = None;
            }
            Some((Awaiting::Watchdog, t0)) => {
                let after = now.saturating_duration_since(t0);
                let failure = (after < WATCHDOG_MIN).then(|| {
                    format!("redid the signalling handshake {after:?} into the silence; the watchdog is 65 s")
                });
                results.push(("watchdog_fires", failure));
                s.awaiting = None;
                s.silent = false;
                to_close.extend(s.media.iter().map(|m| m.conn.socket));
                s.unacked.clear();
            }
            None => {}
        }
        // A failover: the old server's sockets are gone once the new one is in use.
        to_close.extend(s.signaling.as_ref().map(|c| c.socket));
        to_close.extend(
            s.media
                .iter()
                .filter(|m| m.conn.gen != gen)
                .map(|m| m.conn.socket),
        );
        // Registered first: closing the old ones leaves it in place.
        s.signaling = Some(Conn { socket, gen });
        let refusable = s.refusable_media;
        results.push(("signaling_handshake", None));
        for old in to_close {
            self.close_socket(old);
        }
        for (check, failure) in results {
            self.record_of(i, check, failure);
        }
        Ok((i, refusable))
    }

    #[allow(clippy::too_many_arguments)]
    fn media(
        &mut self,
        now: Instant,
        socket: SocketId,
        gen: u64,
        h: &ReceivedHandshake<'_>,
        host: &str,
        path: &str,
    ) {
        match self.media_decision(now, socket, gen, h, host, path) {
            Ok((i, confirmed)) => {
                self.open(now, socket, i, Role::Media);
                let response = data_response(StatusCode::Ok, confirmed);
                self.send(socket, response);
                self.advance(now, i);
            }
            Err((code, i)) => {
                let response = data_response(code, MediaParams::new());
                self.refuse(now, socket, response, i);
            }
        }
    }

    fn media_decision(
        &mut self,
        now: Instant,
        socket: SocketId,
        gen: u64,
        h: &ReceivedHandshake<'_>,
        host: &str,
        path: &str,
    ) -> Result<(usize, MediaParams), (StatusCode, Option<usize>)> {
        let window = self.config.reconnect_window;
        let media_type = h.media_type.unwrap_or(MediaTypes::NONE);
        let params = h.media_params.clone().unwrap_or_default();
        let i = self.check_header(h, "data_signature")?;
        let fail = |code| (code, Some(i));
        if host.starts_with("localhost") {
            let why = format!("dialled ws://{host}{path}, a media URL on a host it must refuse");
            self.record_of(i, "refused_url", Some(why));
            return Err(fail(StatusCode::InvalidRtmsStreamId));
        }
        if let Some(code) = self.late_handshake(now, i, gen, "data handshake") {
            return Err(fail(code));
        }
        if self.streams[i].signaling.is_none() {
            let why = "data handshake with no open signalling connection";
            self.record_of(i, "handshake_order", Some(why.into()));
            return Err(fail(StatusCode::InvalidRtmsStreamId));
        }
        self.record_of(i, "handshake_order", None);
        // The URL dialled is the one the signalling response names for these kinds.
        let response = SignalingHandshakeResponse::parse(
            self.signaling_response(gen, StatusCode::Ok, false)
                .as_bytes(),
        );
        let policy = HostPolicy::default()
            .with_allowed_host("127.0.0.1")
            .with_insecure_ws(true);
        let expected = response
            .ok()
            .and_then(|r| r.media_url(media_type, &policy).ok().flatten())
            .map(|u| u.as_str().trim_end_matches('/').to_owned());
        let dialled = format!("{}{}", self.origin(), path);
        match expected {
            Some(url) if url != dialled => {
                let why = format!(
                    "dialled {dialled} for media_type {}, not {url}",
                    media_type.bits()
                );
                self.record_of(i, "media_url", Some(why));
            }
            _ => self.record_of(i, "media_url", None),
        }
        if let Err(e) = params.validate_with(media_type, &self.config.rules) {
            let code = e.status_code();
            let why = format!("{e} (answered status {})", code.code());
            self.record_of(i, "media_params", Some(why));
            return Err(fail(code));
        }
        self.record_of(i, "media_params", None);
        let confirmed = confirm(&params, media_type);
        if let Some((code, why)) = confirmed
            .audio()
            .map(AudioParams::format)
            .and_then(|f| unplayable(&f))
        {
            self.abort(i, format!("{why} (answered status {})", code.code()));
            return Err(fail(code));
        }
        let s = &mut self.streams[i];
        let kinds = carried(media_type);
        let clash = s
            .media
            .iter()
            .filter(|m| m.conn.gen == gen)
            .find(|m| carried(m.kinds).bits() & kinds.bits() != 0)
            .map(|m| m.kinds);
        if let Some(existing) = clash {
            let all = MediaTypes::ALL;
            let code = if existing.contains(all) != media_type.contains(all) {
                StatusCode::MediaDataAllConnectionExist
            } else {
                StatusCode::DuplicateMediaDataConnection
            };
            let why = format!(
                "a second media socket for media_type {} (one open for {})",
                media_type.bits(),
                existing.bits()
            );
            self.record_of(i, "one_media_connection_per_kind", Some(why));
            return Err(fail(code));
        }
        if let Some(code) = s.reject_pending.take() {
            s.rejected = Some((code, now));
            return Err(fail(code));
        }
        if let Some(kind) = s.refuse_kind.filter(|k| media_type.includes(*k)) {
            s.refused_kind = true;
            return Err(fail(not_supported(kind)));
        }
        let mut results: Vec<(&'static str, Option<String>)> =
            vec![("one_media_connection_per_kind", None)];
        if let Some((Awaiting::MediaRedial, t0)) = s.awaiting {
            let min = self.config.reconnect_delay_min;
            let after = now.saturating_duration_since(t0);
            let (late, early) = reconnect_breach("media redialled", "event 7", after, min, window);
            results.push(("media_reconnect", late));
            results.push(("reconnect_backoff", early));
            s.awaiting = None;
        }
        let format = confirmed
            .audio()
            .map_or_else(|| AudioParams::new().format(), AudioParams::format);
        let video_opt = confirmed.video().and_then(VideoParams::data_opt);
        let ack_deadline = after(now, self.config.ready_ack_deadline);
        s.asked_audio |= media_type.includes(MediaKind::Audio);
        s.media.push(MediaConn {
            conn: Conn { socket, gen },
            kinds: media_type,
            acked: false,
            ack_deadline,
            format,
            video_opt,
        });
        s.unacked.push_back(socket);
        for (check, failure) in results {
            self.record_of(i, check, failure);
        }
        self.timer(ack_deadline, Timer::ReadyAck(socket));
        Ok((i, confirmed))
    }

    fn ready_ack_late(&mut self, socket: SocketId) {
        let Some(Socket::Open { stream, .. }) = self.sockets.get(&socket) else {
            return;
        };
        let deadline = self.config.ready_ack_deadline;
        let why = format!("no CLIENT_READY_ACK within {deadline:?} of the data handshake");
        self.record_of(*stream, "client_ready_ack", Some(why));
    }

    // -----------------------------------------------------------------------------------------
    // The client's requests
    // -----------------------------------------------------------------------------------------

    fn on_signaling(&mut self, now: Instant, i: usize, socket: SocketId, req: ClientRequest<'_>) {
        let id = self.streams[i].spec.rtms_stream_id.clone();
        let now_ms = self.now_ms(now);
        match req {
            ClientRequest::ClientReadyAck { rtms_stream_id } => {
                if rtms_stream_id.as_deref() != Some(id.as_str()) {
                    let why = format!("rtms_stream_id {rtms_stream_id:?} is not {id:?}");
                    self.record(&id, "client_ready_ack", Some(why));
                }
                let s = &mut self.streams[i];
                // One ack readies every media socket whose data handshake succeeded: Zoom's
                // own SDK sends one per stream, after all of them; a client may also send one
                // after each.
                if !s.unacked.is_empty() {
                    for socket in std::mem::take(&mut s.unacked) {
                        if let Some(m) = s.media.iter_mut().find(|m| m.conn.socket == socket) {
                            m.acked = true;
                        }
                    }
                    self.record(&id, "client_ready_ack", None);
                } else if s.media.is_empty() {
                    let why = "CLIENT_READY_ACK before any successful data handshake";
                    self.record(&id, "client_ready_ack", Some(why.into()));
                } // else a repeated ack: harmless as far as is known
            }
            ClientRequest::SignalingHandshake(_) => {
                let why = "signalling handshake repeated on an open socket";
                self.record(&id, "one_signaling_connection", Some(why.into()));
            }
            ClientRequest::DataHandshake(_) => {
                let why = "DATA_HAND_SHAKE_REQ on the signalling socket";
                self.record(&id, "handshake_order", Some(why.into()));
            }
            ClientRequest::StreamCloseRequest { .. } => {
                let s = &mut self.streams[i];
                s.closed_by_client = true;
                s.ended = true;
                let media: Vec<SocketId> = s.media.iter().map(|m| m.conn.socket).collect();
                for m in media {
                    self.close_socket(m);
                }
                let close = ServerMessage::StreamCloseResponse(StreamCloseResponse {
                    rtms_stream_id: Some(Cow::Borrowed(&id)),
                    status: Status {
                        code: Some(StatusCode::Ok),
                        reason: Some(Cow::Borrowed("OK")),
                    },
                    timestamp: Some(now_ms),
                })
                .to_json();
                let state = self.stream_state(
                    now,
                    StreamState::Terminated,
                    Some(StopReason::ReceiverRequestClose),
                );
                self.send(socket, close);
                self.send(socket, state);
                self.close_socket(socket);
            }
            ClientRequest::EventSubscription(events) => {
                let s = &mut self.streams[i];
                for (event_type, subscribe) in events {
                    s.subscribed.retain(|t| *t != event_type);
                    if subscribe {
                        s.subscribed.push(event_type);
                    }
                }
            }
            ClientRequest::SessionStateRequest { .. } => {
                let state = ServerMessage::SessionStateResponse(SessionStateInfo {
                    state: Some(SessionState::Started),
                    stop_reason: None,
                    timestamp: Some(now_ms),
                    rtms_session_id: None,
                })
                .to_json();
                self.send(socket, state);
            }
            ClientRequest::VideoSubscription {
                user_id, subscribe, ..
            } => {
                // One subscription at a time: a new one replaces the last; asking again for the
                // participant already subscribed is status 44.
                let s = &mut self.streams[i];
                let subscribe = subscribe.unwrap_or(true);
                let code = if subscribe && user_id.is_some() && s.video_user == user_id {
                    StatusCode::from(44)
                } else {
                    s.video_user = if subscribe { user_id } else { None };
                    StatusCode::Ok
                };
                let reply = ServerMessage::VideoSubscriptionResponse(VideoSubscriptionResponse {
                    user_id,
                    status: Status {
                        code: Some(code),
                        reason: Some(Cow::Borrowed(code.description())),
                    },
                    subscribe: Some(subscribe),
                    timestamp: Some(now_ms),
                })
                .to_json();
                self.send(socket, reply);
            }
            ClientRequest::StreamStateRequest { .. } => {
                let state = ServerMessage::StreamStateResponse(StreamStateInfo {
                    state: Some(StreamState::Active),
                    reason: None,
                    timestamp: Some(now_ms),
                    rtms_stream_id: Some(Cow::Borrowed(&id)),
                })
                .to_json();
                self.send(socket, state);
            }
            _ => {}
        }
    }

    fn on_media(&mut self, i: usize, req: ClientRequest<'_>) {
        match req {
            ClientRequest::ClientReadyAck { .. } => {
                let why = "CLIENT_READY_ACK sent on a media socket (it belongs on signalling)";
                self.record_of(i, "client_ready_ack", Some(why.into()));
            }
            ClientRequest::DataHandshake(_) => {
                let why = "data handshake repeated on an open media socket";
                self.record_of(i, "one_media_connection_per_kind", Some(why.into()));
            }
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // Keep-alives
    // -----------------------------------------------------------------------------------------

    fn keep_alive_check(role: Role) -> &'static str {
        match role {
            Role::Signaling => "keep_alive_signaling",
            Role::Media => "keep_alive_media",
        }
    }

    fn keep_alive_answered(
        &mut self,
        i: usize,
        socket: SocketId,
        timestamp: Option<&str>,
        sequence: Option<i64>,
    ) {
        let Some(Socket::Open {
            role, keep_alive, ..
        }) = self.sockets.get_mut(&socket)
        else {
            return;
        };
        let check = Self::keep_alive_check(*role);
        let judged = judge_keep_alive(keep_alive.pending.as_ref(), timestamp, sequence);
        if judged.is_ok() {
            keep_alive.pending = None;
            keep_alive.misses = 0;
        }
        self.record_of(i, check, judged.err());
    }

    /// Sends a `KEEP_ALIVE_REQ` with the socket's next sequence; the socket's next tick, which
    /// judges it, comes an interval later.
    fn request_keep_alive(&mut self, now: Instant, socket: SocketId) {
        let timestamp = self.now_ms(now).to_string();
        let judged_at = after(now, self.interval());
        let Some(Socket::Open {
            stream, keep_alive, ..
        }) = self.sockets.get_mut(&socket)
        else {
            return;
        };
        let i = *stream;
        let rearm = keep_alive.next_tick != judged_at;
        keep_alive.next_tick = judged_at;
        // A positive int32, as Zoom's own SDK requires.
        keep_alive.sequence = keep_alive.sequence % i64::from(i32::MAX) + 1;
        let sequence = keep_alive.sequence;
        keep_alive.probed = true;
        let frame = format!(r#"{{"msg_type":12,"sequence":{sequence},"timestamp":{timestamp}}}"#);
        keep_alive.pending = Some(PendingKeepAlive {
            timestamp,
            sequence,
        });
        self.send_counted(i, socket, frame, Count::KeepAlive, false);
        if rearm {
            self.timer(judged_at, Timer::KeepAlive(socket));
        }
    }

    fn keep_alive_tick(&mut self, now: Instant, socket: SocketId) {
        let interval = self.interval();
        let Some(Socket::Open {
            stream,
            role,
            keep_alive,
        }) = self.sockets.get_mut(&socket)
        else {
            return;
        };
        let i = *stream;
        let check = Self::keep_alive_check(*role);
        let s = &self.streams[i];
        let quiet = s.silent || s.paused(now);
        let draining = s.draining;
        if quiet {
            // A pause or a silence: the request pending is not judged.
            keep_alive.pending = None;
        } else if let Some(p) = keep_alive.pending.take() {
            keep_alive.misses += 1;
            let misses = keep_alive.misses;
            let why = format!(
                "KEEP_ALIVE_REQ sequence {} (timestamp {}) not answered within {interval:?}",
                p.sequence, p.timestamp
            );
            self.record_of(i, check, Some(why));
            if misses >= 3 {
                // As Zoom does.
                self.close_socket(socket);
                self.advance(now, i);
                return;
            }
        }
        if !quiet && !draining {
            self.request_keep_alive(now, socket);
        } else if let Some(Socket::Open { keep_alive, .. }) = self.sockets.get_mut(&socket) {
            keep_alive.next_tick = after(now, interval);
            self.timer(after(now, interval), Timer::KeepAlive(socket));
        }
        self.advance(now, i);
    }

    /// Before the end: every socket of stream `i` that has not met a keep-alive is sent one.
    fn probe_unprobed(&mut self, now: Instant, i: usize) {
        let sockets: Vec<SocketId> = self.streams[i].sockets().collect();
        for socket in sockets {
            let owes = matches!(
                self.sockets.get(&socket),
                Some(Socket::Open { keep_alive, .. }) if !keep_alive.probed && keep_alive.pending.is_none()
            );
            if owes {
                self.request_keep_alive(now, socket);
            }
        }
    }

    /// The keep-alives of stream `i` still unsettled: sockets not yet probed, and requests
    /// pending.
    fn keep_alives_owed(&self, i: usize) -> usize {
        self.streams[i]
            .sockets()
            .filter(|socket| {
                matches!(
                    self.sockets.get(socket),
                    Some(Socket::Open { keep_alive, .. })
                        if !keep_alive.probed || keep_alive.pending.is_some()
                )
            })
            .count()
    }

    // -----------------------------------------------------------------------------------------
    // The player
    // -----------------------------------------------------------------------------------------

    /// Sets stream `i`'s timer.
    fn wake(&mut self, i: usize, at: Instant) {
        if self.streams[i].wake != Some(at) {
            self.set_wake(i, Some(at));
            let tick = self.tick_of(at);
            let entry = self.players.entry(tick).or_default();
            entry.due.push((at, i));
            entry.live += 1;
        }
    }

    /// The end of the [`PLAYER_TICK`] `at` falls in (counted from the core's start): when its
    /// timer fires, at or after `at`.
    fn tick_of(&self, at: Instant) -> Instant {
        self.round_up(at, PLAYER_TICK)
    }

    /// The first multiple of `step` since the core's start at or after `at`.
    fn round_up(&self, at: Instant, step: Duration) -> Instant {
        let since = at.saturating_duration_since(self.start);
        let tick = step.as_nanos().max(1);
        let n = since.as_nanos().div_ceil(tick);
        let tick_at = u64::try_from(n.saturating_mul(tick)).map(Duration::from_nanos);
        tick_at
            .ok()
            .and_then(|d| self.start.checked_add(d))
            .filter(|t| *t >= at)
            .unwrap_or(at)
    }

    /// Moves stream `i`'s timer (the entry of the one it replaces goes stale).
    fn set_wake(&mut self, i: usize, at: Option<Instant>) {
        if let Some(old) = std::mem::replace(&mut self.streams[i].wake, at) {
            let tick = self.tick_of(old);
            if let Some(entry) = self.players.get_mut(&tick) {
                entry.live = entry.live.saturating_sub(1);
            }
        }
    }

    /// Runs the players of the first tick (due by `now`), in the order of the instants they
    /// asked for.
    fn fire_players(&mut self, now: Instant) {
        let Some((_, mut tick)) = self.players.pop_first() else {
            return;
        };
        tick.due.sort_unstable();
        for (at, i) in tick.due {
            if self.streams[i].wake == Some(at) {
                self.streams[i].wake = None;
                self.advance(now, i);
            }
        }
    }

    /// Runs stream `i`'s player as far as it goes at `now`.
    fn advance(&mut self, now: Instant, i: usize) {
        loop {
            match self.streams[i].phase {
                Phase::Idle | Phase::Done => return,
                Phase::Sleeping(until) | Phase::Replaying(until) if now < until => {
                    return self.wake(i, until);
                }
                Phase::Sleeping(_) => self.streams[i].phase = Phase::Run,
                Phase::Replaying(_) => {
                    let Some(audio) = self.streams[i].replay_audio else {
                        self.streams[i].phase = Phase::Run;
                        continue;
                    };
                    self.replay_frame(now, i, audio);
                }
                Phase::Run => self.top(now, i),
                Phase::Waiting { deadline, window } => {
                    if !self.wait_ready(now, i, deadline, window) {
                        return;
                    }
                }
                Phase::Observe { until, refusable } => {
                    if now < until {
                        return self.wake(i, until);
                    }
                    let check = if refusable { "refused_url" } else { "gives_up" };
                    self.record_of(i, check, None);
                    self.close_all(i);
                    self.finish(i);
                }
                Phase::Drain { deadline } => {
                    if self.keep_alives_owed(i) > 0 && now < deadline {
                        return self.wake(i, deadline);
                    }
                    self.end(now, i);
                }
                Phase::AwaitClose { deadline } => {
                    let s = &self.streams[i];
                    let open = s.signaling.is_some() || !s.media.is_empty();
                    if !open {
                        self.record_of(i, "closes_on_stopped", None);
                    } else if deadline.is_some_and(|d| now >= d) {
                        let why =
                            format!("sockets still open {CLOSE_ON_STOPPED:?} after rtms_stopped");
                        self.record_of(i, "closes_on_stopped", Some(why));
                        self.close_all(i);
                    } else {
                        if let Some(d) = deadline {
                            self.wake(i, d);
                        }
                        return;
                    }
                    let until = Some(after(now, self.config.observe_window));
                    self.streams[i].phase = Phase::AfterEnd { until, judge: true };
                }
                Phase::AfterEnd { until: None, .. } => return,
                Phase::AfterEnd {
                    until: Some(until),
                    judge,
                } => {
                    if now < until {
                        return self.wake(i, until);
                    }
                    if judge {
                        self.record_of(i, "stops_after_end", None);
                    }
                    self.finish(i);
                }
            }
        }
    }

    /// The top of the player's loop: the next fault, the end of the frames, or a ready socket.
    fn top(&mut self, now: Instant, i: usize) {
        let s = &mut self.streams[i];
        if s.faults.first().and_then(Fault::after_frames) == Some(s.sent) {
            let fault = s.faults.remove(0);
            self.inject(now, i, &fault);
            return;
        }
        // A keep-alive pause is waited out with media flowing: the stream does not end in it.
        if s.sent >= s.frames && !s.paused(now) {
            return self.drain(now, i);
        }
        let window = s.next_window.take().unwrap_or(self.config.reconnect_window);
        match self.ready(now, i) {
            Ready::NotYet => {
                self.streams[i].phase = Phase::Waiting {
                    deadline: after(now, window),
                    window,
                };
            }
            Ready::Go(go) => self.play_frame(now, i, go, false),
            other => self.stop(now, i, other),
        }
    }

    /// The frames are sent: every socket still owing a keep-alive is sent one, and the stream
    /// ends once they are answered or judged.
    fn drain(&mut self, now: Instant, i: usize) {
        self.record_of(i, "audio_delivered", None);
        if self.streams[i].refused_kind {
            self.record_of(i, "goes_on", None);
        }
        self.record_of(i, "keeps_up", None);
        let deadline = after(now, self.interval().saturating_mul(2));
        self.streams[i].draining = true;
        self.streams[i].phase = Phase::Drain { deadline };
        self.probe_unprobed(now, i);
    }

    /// Waiting for a ready socket, until `deadline`; whether the player moved on.
    fn wait_ready(&mut self, now: Instant, i: usize, deadline: Instant, window: Duration) -> bool {
        match self.ready(now, i) {
            Ready::NotYet if now < deadline => {
                // A transcript-only stream starts once its audio socket is surely not coming.
                let at = self.transcript_only_at(i).filter(|at| *at > now);
                self.wake(i, at.map_or(deadline, |at| at.min(deadline)));
                return false;
            }
            Ready::NotYet => {
                let awaiting = self.streams[i].awaiting.map(|(a, _)| a);
                if awaiting == Some(Awaiting::Watchdog) {
                    let why = format!("no new signalling handshake within {window:?} of silence");
                    self.record_of(i, "watchdog_fires", Some(why));
                    let s = &mut self.streams[i];
                    s.silent = false;
                    s.awaiting = None;
                    // Media resumes at its pace after the silence, not in a burst.
                    s.next_at = now;
                    s.phase = Phase::Run;
                    return true;
                }
                let refused = self.streams[i].refused_kind && awaiting.is_none();
                let check = if refused {
                    // Gave up after one kind was refused: advice, not a protocol breach.
                    "goes_on"
                } else {
                    awaiting.map_or("media_ready", Awaiting::check)
                };
                let mut why = self.not_ready_why(i, self.config.reconnect_window, awaiting);
                if let Some(kind) = self.streams[i].refuse_kind.filter(|_| refused) {
                    let code = not_supported(kind);
                    why = format!(
                        "after status {} ({code}) to a data handshake asking for {kind:?}, \
                         the client did not go on with what was granted: {why}",
                        code.code()
                    );
                }
                self.record_of(i, check, Some(why));
                let reason = StopReason::AwaitReconnectionTimeout;
                let until = self.terminate(now, i, reason, Duration::ZERO);
                self.streams[i].phase = Phase::AfterEnd {
                    until,
                    judge: false,
                };
            }
            Ready::Go(go) => self.play_frame(now, i, go, true),
            other => self.stop(now, i, other),
        }
        true
    }

    /// Whether stream `i` has an acknowledged audio socket to play on, or why it stops.
    fn ready(&self, now: Instant, i: usize) -> Ready {
        let s = &self.streams[i];
        if s.done() {
            return Ready::Stopped;
        }
        if s.aborted.is_some() {
            return Ready::Aborted;
        }
        if s.closed_by_client {
            return Ready::ClosedByClient;
        }
        if s.rejected.is_some() || s.refusable_media {
            return Ready::Rejected;
        }
        if s.silent {
            return Ready::NotYet;
        }
        let transcript = s.usable(MediaKind::Transcript).map(|t| t.conn.socket);
        let (audio, format) = match s.usable(MediaKind::Audio) {
            Some(m) => (Some(m.conn.socket), m.format),
            // No audio asked for on any socket: the transcripts play alone, at audio's pace.
            None if self.transcript_only_at(i).is_some_and(|at| at <= now) => {
                (None, AudioFormat::default())
            }
            None => return Ready::NotYet,
        };
        Ready::Go(Go {
            audio,
            format,
            transcript,
            video: s.usable(MediaKind::Video).map(|v| {
                let individual = v.video_opt == Some(DataOption::VideoSingleIndividualStream);
                (v.conn.socket, individual)
            }),
            signaling: s.signaling.as_ref().map(|c| c.socket),
        })
    }

    /// When stream `i` may play transcripts without audio: `TRANSCRIPT_ONLY_AFTER` after its
    /// transcript socket's data handshake, if it never asked for audio; `None` otherwise.
    fn transcript_only_at(&self, i: usize) -> Option<Instant> {
        let s = &self.streams[i];
        if s.asked_audio || s.replay.is_some() {
            return None;
        }
        let t = s.usable(MediaKind::Transcript)?;
        let handshake = t.ack_deadline.checked_sub(self.config.ready_ack_deadline)?;
        Some(handshake + TRANSCRIPT_ONLY_AFTER)
    }

    /// The player stops for `why` (not a ready socket).
    fn stop(&mut self, now: Instant, i: usize, why: Ready) {
        match why {
            Ready::Go(_) | Ready::NotYet => {}
            Ready::Stopped => self.streams[i].phase = Phase::Done,
            Ready::Aborted => {
                self.close_all(i);
                self.finish(i);
            }
            Ready::ClosedByClient => {
                self.record_of(i, "stream_close", None);
                self.finish(i);
            }
            Ready::Rejected => {
                let refusable = self.streams[i].refusable_media;
                let until = after(now, self.config.observe_window);
                self.streams[i].phase = Phase::Observe { until, refusable };
            }
        }
    }

    /// Plays one frame on a ready socket (`waited`: after a wait, the pace restarts now).
    fn play_frame(&mut self, now: Instant, i: usize, go: Go, waited: bool) {
        if waited {
            // The pace starts at the next instant of the media grid: every stream sends on
            // the same 20 ms instants, one timer serving them all.
            let at = self.round_up(now, MEDIA_GRID);
            self.streams[i].next_at = at;
            if at > now {
                self.streams[i].phase = Phase::Sleeping(at);
                return;
            }
        }
        let now_ms = self.now_ms(now);
        let s = &mut self.streams[i];
        if !s.active {
            s.active = true;
            if let Some(sig) = go.signaling {
                let state = self.stream_state(now, StreamState::Active, None);
                self.send(sig, state);
                // A replay sends the recorded events instead.
                if self.streams[i].replay.is_none() {
                    // The stream's zero, before the first media (no subscription needed).
                    let zero = *self.streams[i].first_ts.get_or_insert(now_ms);
                    let first = format!(r#"{{"event_type":1,"timestamp":{zero}}}"#);
                    if let Some(event) = event_update(&first) {
                        self.send_counted(i, sig, event, Count::Event, false);
                    }
                    if self.streams[i].cast.is_empty() {
                        for event in self.participant_events(now, i) {
                            self.send_counted(i, sig, event, Count::Event, false);
                        }
                    }
                }
            }
        }
        if let (Some(audio), true) = (go.audio, self.streams[i].replay.is_some()) {
            self.streams[i].replay_audio = Some(audio);
            return self.replay_frame(now, i, audio);
        }
        let s = &mut self.streams[i];
        let contact_center = s.spec.product == Product::ContactCenter;
        let format = go.format;
        let send_rate = format.send_rate_ms.max(20);
        let start = *s.first_ts.get_or_insert(now_ms);
        let slot = s.sent;
        let ts = start + slot as i64 * send_rate;
        let with_cast = !s.cast.is_empty() && !contact_center;
        if with_cast {
            self.slot_events(i, go.signaling, slot, ts);
        }
        if let Some(audio) = go.audio {
            let multi = format.data_opt == DataOption::AudioMultiStreams;
            // One message per participant that speaks in the slot, or the one stream.
            let played = if multi && with_cast {
                let mut played = true;
                for p in 0..self.streams[i].cast.len() {
                    if self.streams[i].cast[p].speaks(slot) {
                        played &= self.send_audio(i, audio, &format, slot, ts, Some(p));
                    }
                }
                played
            } else {
                self.send_audio(i, audio, &format, slot, ts, None)
            };
            if !played {
                // Refused at the data handshake (`unplayable`): nothing to play.
                return self.drain(now, i);
            }
        }
        let s = &mut self.streams[i];
        s.sent += 1;
        let sent = s.sent;
        let every = s.spec.transcript_every;
        // The active speaker (the transcripts' and the active speaker video's).
        let (speaker_id, speaker_name) = match s.speaker.filter(|_| with_cast) {
            Some(p) => (s.cast[p].user_id, cast::name(p)),
            None => (USER_ID, USER_NAME),
        };
        if let Some((socket, individual)) = go
            .video
            .filter(|_| sent % VIDEO_EVERY == 1 && !contact_center)
        {
            // The subscribed participant's video, or the active speaker's.
            let user = if individual {
                s.video_user
            } else {
                Some(speaker_id)
            };
            if let Some(user) = user {
                let name = s
                    .cast
                    .iter()
                    .position(|p| p.user_id == user)
                    .map_or(USER_NAME, cast::name);
                let frame = ServerMessage::Video(MediaData {
                    user_id: Some(user),
                    user_name: Some(Cow::Borrowed(name)),
                    channel_id: None,
                    data: Some(Cow::Borrowed(&self.video)),
                    length: Some(VIDEO_FRAME.len() as i64),
                    timestamp: Some(ts),
                })
                .to_json();
                self.send_counted(i, socket, frame, Count::Video, false);
            }
        }
        if let Some(socket) = go.transcript.filter(|_| every > 0 && sent % every == 0) {
            let id = &self.streams[i].spec.rtms_stream_id;
            let n = sent / every;
            let span = every as i64 * send_rate;
            let text = format!("utterance {n} of stream {id}");
            let msg = ServerMessage::Transcript(Transcript {
                user_id: (!contact_center).then_some(speaker_id),
                user_name: (!contact_center).then_some(Cow::Borrowed(speaker_name)),
                channel_id: contact_center.then_some(Cow::Borrowed(CHANNEL_ID)),
                text: Some(Cow::Owned(text)),
                language: Some(TranscriptLanguage::English),
                start_time: Some(ts - span + send_rate),
                end_time: Some(ts + send_rate),
                timestamp: Some(ts - span + send_rate),
                attribute: None,
            })
            .to_json();
            self.send_counted(i, socket, msg, Count::Transcript, false);
        }
        if !contact_center {
            self.chat(i, slot, ts, (speaker_id, speaker_name));
        }
        let s = &mut self.streams[i];
        s.next_at += Duration::from_millis(send_rate as u64);
        s.phase = Phase::Sleeping(s.next_at);
    }

    /// Sends slot `slot`'s audio message of participant `who` (`None`: the one stream without
    /// participants, or the mixed stream) on `socket`; false when the format cannot be played.
    fn send_audio(
        &mut self,
        i: usize,
        socket: SocketId,
        format: &AudioFormat,
        slot: u64,
        ts: i64,
        who: Option<usize>,
    ) -> bool {
        let s = &mut self.streams[i];
        let contact_center = s.spec.product == Product::ContactCenter;
        let k = who.unwrap_or(0);
        if s.caches.len() <= k {
            s.caches.resize_with(k + 1, || None);
        }
        // The tone repeats with its phase: encode each (phase, format) once, and each
        // message from that encoding with only its timestamp written anew.
        let key = audio_key(slot, format);
        if s.caches[k].as_ref().is_none_or(|c| c.key != key) {
            let Some(pcm) = audio_payload(slot, format, cast::amplitude(s.amp, k)) else {
                return false;
            };
            let multi = format.data_opt == DataOption::AudioMultiStreams;
            let speaker = match who {
                Some(p) => Speaker {
                    user_id: Some(s.cast[p].user_id),
                    user_name: Some(cast::name(p)),
                    channel_id: None,
                },
                None => Speaker {
                    user_id: (!contact_center).then_some(if multi { USER_ID } else { 0 }),
                    user_name: (multi && !contact_center).then_some(USER_NAME),
                    channel_id: contact_center.then_some(CHANNEL_ID),
                },
            };
            s.caches[k] = Some(AudioCache::new(key, pcm, speaker));
        }
        let Some(cache) = s.caches[k].as_ref() else {
            return true;
        };
        let frame = cache.message(ts);
        let pcm = Arc::clone(&cache.pcm);
        let voice = cache.who.user_id.map(|user_id| {
            let pcm = format.codec == Codec::L16;
            match s.voices.iter().position(|v| v.user_id == user_id) {
                Some(v) => {
                    s.voices[v].pcm &= pcm;
                    v
                }
                None => {
                    s.voices.push(Voice {
                        user_id,
                        frames: 0,
                        hasher: Sha256::new(),
                        next_slot: 0,
                        pcm,
                    });
                    s.voices.len() - 1
                }
            }
        });
        let count = Count::Audio(pcm, voice.map(|v| (v, slot)));
        self.send_counted(i, socket, frame, count, true);
        true
    }

    /// The participant events of slot `slot` (timestamp `ts`), on `signaling` for those
    /// subscribed to: joins (3), leaves before the end (4), a new active speaker (2), the
    /// start and the stop of the sharing (5, 6). The active speaker is updated either way.
    fn slot_events(&mut self, i: usize, signaling: Option<SocketId>, slot: u64, ts: i64) {
        let s = &mut self.streams[i];
        let who = |p: usize| {
            format!(
                r#""user_id":{},"user_name":"{}""#,
                s.cast[p].user_id,
                cast::name(p)
            )
        };
        let mut events: Vec<(i64, String)> = Vec::new();
        let joined: Vec<String> = (0..s.cast.len())
            .filter(|&p| s.cast[p].joins_at == slot)
            .map(|p| format!("{{{}}}", who(p)))
            .collect();
        if !joined.is_empty() {
            let list = joined.join(",");
            let json = format!(r#"{{"event_type":3,"timestamp":{ts},"participants":[{list}]}}"#);
            events.push((3, json));
        }
        let left: Vec<String> = s
            .cast
            .iter()
            .filter(|p| p.leaves_at == Some(slot) && slot < s.frames && p.joins_at < slot)
            .map(|p| format!(r#"{{"user_id":{}}}"#, p.user_id))
            .collect();
        if !left.is_empty() {
            let list = left.join(",");
            let json = format!(r#"{{"event_type":4,"timestamp":{ts},"participants":[{list}]}}"#);
            events.push((4, json));
        }
        let speaker = cast::speaker(&s.cast, slot);
        if let Some(p) = speaker.filter(|p| s.speaker != Some(*p)) {
            let json = format!(r#"{{"event_type":2,"timestamp":{ts},{}}}"#, who(p));
            events.push((2, json));
        }
        if s.spec.sharing {
            for (event_type, at) in [(5, s.frames / 3), (6, 2 * s.frames / 3)] {
                if at == slot {
                    let json = format!(
                        r#"{{"event_type":{event_type},"timestamp":{ts},{}}}"#,
                        who(0)
                    );
                    events.push((event_type, json));
                }
            }
        }
        if speaker.is_some() {
            s.speaker = speaker;
        }
        let Some(sig) = signaling else {
            return;
        };
        let subscribed = s.subscribed.clone();
        for (event_type, json) in events {
            if !subscribed.contains(&event_type) {
                continue;
            }
            if let Some(event) = event_update(&json) {
                self.send_counted(i, sig, event, Count::Event, false);
            }
        }
    }

    /// The chat messages of slot `slot` (timestamp `ts`), from `sender`, on the socket that
    /// carries chat: message `j` of `n` at slot `j * frames / (n + 1)`.
    fn chat(&mut self, i: usize, slot: u64, ts: i64, sender: (i64, &str)) {
        let s = &self.streams[i];
        let n = s.spec.chats;
        if n == 0 {
            return;
        }
        let Some(socket) = s.usable(MediaKind::Chat).map(|m| m.conn.socket) else {
            return;
        };
        let frames = s.frames;
        let id = s.spec.rtms_stream_id.clone();
        // The first message at or after this slot, and those due at it.
        let first = (slot * (n + 1)).div_ceil(frames.max(1)).max(1);
        for j in first..=n {
            if j * frames / (n + 1) != slot {
                break;
            }
            let (user_id, user_name) = sender;
            let msg = serde_json::json!({
                "msg_type": 18,
                "content": {
                    "user_id": user_id,
                    "user_name": user_name,
                    "data": format!("chat message {j} of stream {id}"),
                    "timestamp": ts,
                    "sender": {"user_id": user_id, "user_name": user_name},
                    "receiver": {"user_id": 0, "user_name": "Everyone"},
                    "chat_session": "meeting",
                    "operation_type": 1,
                    "message_id": format!("{id}-chat-{j}"),
                    "parent_message_id": "",
                    "files": [],
                    "delete_file_id_list": [],
                }
            });
            self.send_counted(i, socket, msg.to_string(), Count::Chat, false);
        }
    }

    /// Goes on with the replayed frame in progress, on the audio socket `audio`.
    fn replay_frame(&mut self, now: Instant, i: usize, audio: SocketId) {
        let now_ms = self.now_ms(now);
        let at = self.streams[i].next_at;
        let Some(mut player) = self.streams[i].replay.take() else {
            self.streams[i].phase = Phase::Run;
            return;
        };
        let step = player.step(now, at, now_ms, |target, text| {
            self.replay_send(i, target, text, audio)
        });
        let s = &mut self.streams[i];
        s.replay = Some(player);
        match step {
            replay::Progress::Due(at) => s.phase = Phase::Replaying(at),
            replay::Progress::Done(next_at) => {
                s.sent += 1;
                s.next_at = next_at;
                s.replay_audio = None;
                s.phase = Phase::Sleeping(next_at);
            }
            replay::Progress::Gone(at) => {
                s.next_at = at;
                s.replay_audio = None;
                s.phase = Phase::Run;
            }
        }
    }

    /// Sends a replayed message to the socket that carries its kind (audio: only on `audio`
    /// while it is registered); whether it was sent.
    fn replay_send(
        &mut self,
        i: usize,
        target: replay::Target,
        text: String,
        audio: SocketId,
    ) -> bool {
        let s = &self.streams[i];
        let (socket, count) = match target {
            replay::Target::Media(MediaKind::Audio) => {
                let Some(m) = s.media.iter().find(|m| m.conn.socket == audio) else {
                    return false;
                };
                let mut pcm = Vec::new();
                if let Ok(ServerMessage::Audio(a)) = ServerMessage::parse(text.as_bytes()) {
                    if a.decode_into(&mut pcm).is_err() {
                        pcm.clear();
                    }
                }
                (m.conn.socket, Count::Audio(pcm.into(), None))
            }
            replay::Target::Media(kind) => {
                let Some(m) = s.usable(kind) else {
                    return false;
                };
                let count = match kind {
                    MediaKind::Video => Count::Video,
                    MediaKind::Transcript => Count::Transcript,
                    _ => Count::Other,
                };
                (m.conn.socket, count)
            }
            replay::Target::Event(Some(code)) if !s.subscribed.contains(&code) => return false,
            replay::Target::Event(_) | replay::Target::Signaling => {
                let Some(c) = &s.signaling else {
                    return false;
                };
                (c.socket, Count::Other)
            }
            replay::Target::MediaOf(types) => {
                let m = s
                    .media
                    .iter()
                    .filter(|m| m.conn.gen == s.gen && m.acked)
                    .find(|m| types.kinds().any(|k| m.kinds.includes(k)))
                    .or_else(|| s.usable(MediaKind::Audio));
                let Some(m) = m else {
                    return false;
                };
                (m.conn.socket, Count::Other)
            }
        };
        self.send_counted(i, socket, text, count, true);
        true
    }

    /// The events subscribed to, sent when media starts: meetings and the like get
    /// participant join (3) and active speaker (2); Contact Center gets user answered (10) and
    /// consumer answered (8) with `participant_info`.
    fn participant_events(&self, now: Instant, i: usize) -> Vec<String> {
        let s = &self.streams[i];
        let ts = self.now_ms(now);
        let events: Vec<(i64, String)> = if s.spec.product == Product::ContactCenter {
            let info = |mode: &str, name: &str| {
                format!(
                    r#""event_ts":{ts},"participant_info":{{"channel_id":"{CHANNEL_ID}","participant_mode":"{mode}","display_name":"{name}"}}"#
                )
            };
            vec![
                (
                    10,
                    format!(r#"{{"event_type":10,{}}}"#, info("agent", "Agent")),
                ),
                (
                    8,
                    format!(r#"{{"event_type":8,{}}}"#, info("caller", "Caller")),
                ),
            ]
        } else {
            vec![
                (
                    3,
                    format!(
                        r#"{{"event_type":3,"timestamp":{ts},"participants":[{{"user_id":{USER_ID},"user_name":"{USER_NAME}"}}]}}"#
                    ),
                ),
                (
                    2,
                    format!(
                        r#"{{"event_type":2,"timestamp":{ts},"user_id":{USER_ID},"user_name":"{USER_NAME}"}}"#
                    ),
                ),
            ]
        };
        events
            .into_iter()
            .filter(|(t, _)| s.subscribed.contains(t))
            .filter_map(|(_, json)| {
                Event::parse(&json)
                    .ok()
                    .map(|e| ServerMessage::EventUpdate(e).to_json())
            })
            .collect()
    }

    /// Applies a fault.
    fn inject(&mut self, now: Instant, i: usize, fault: &Fault) {
        self.next_gen += 1;
        let next_gen = self.next_gen;
        let now_ms = self.now_ms(now);
        let new_url = self.signaling_url_of(next_gen);
        let s = &mut self.streams[i];
        match fault {
            Fault::PauseKeepAlives { duration, .. } => {
                s.keep_alives_paused_until = Some(after(now, *duration));
            }
            Fault::Silence { duration, .. } => {
                s.silent = true;
                s.awaiting = Some((Awaiting::Watchdog, now));
                s.next_window = Some(*duration);
            }
            Fault::DropMedia { .. } => {
                let audio: Vec<SocketId> = s
                    .media
                    .iter()
                    .filter(|m| m.kinds.includes(MediaKind::Audio))
                    .map(|m| m.conn.socket)
                    .collect();
                s.awaiting = Some((Awaiting::MediaRedial, now));
                let signaling = s.signaling.as_ref().map(|c| c.socket);
                for socket in audio {
                    self.close_socket(socket);
                }
                if let Some(sig) = signaling {
                    let event = self.event_frame(now, 7);
                    self.send(sig, event);
                }
            }
            Fault::DropSignaling { .. } => {
                s.awaiting = Some((Awaiting::SignalingRedial, now));
                let hook = webhook::interrupted(now_ms, &s.spec);
                self.close_all(i);
                self.deliver(now, i, hook);
            }
            Fault::Failover { .. } => {
                s.gen = next_gen;
                s.awaiting = Some((Awaiting::Failover, now));
                let hook = webhook::started(now_ms, &s.spec, new_url);
                self.deliver(now, i, hook);
            }
            _ => {}
        }
    }

    /// Why no acknowledged audio socket came within `window` (after the fault `awaiting`, if
    /// any): what the client did and did not do.
    fn not_ready_why(&self, i: usize, window: Duration, awaiting: Option<Awaiting>) -> String {
        let made = |check| self.has(check, i);
        let signalling_open = self.streams[i].signaling.is_some();
        match awaiting {
            Some(Awaiting::DuplicateRetry) => format!(
                "no new signalling handshake within {window:?} after status 8 \
                 (DUPLICATE_SIGNAL_REQUEST), which asks for a retry"
            ),
            Some(Awaiting::MediaRedial) if !signalling_open => format!(
                "no media redial within {window:?} after event 7; the client closed its \
                 signalling socket too (event 7 asks to redial the media socket only)"
            ),
            Some(Awaiting::MediaRedial) => {
                format!("no media redial within {window:?} after event 7")
            }
            Some(Awaiting::SignalingRedial) => {
                format!("no new signalling handshake within {window:?} after rtms_interrupted")
            }
            Some(Awaiting::Failover) => format!(
                "no handshake with the new server within {window:?} of the failover's \
                 rtms_started"
            ),
            _ if !made("signaling_handshake") => format!(
                "no signalling handshake within {window:?} of rtms_started: did the app get the \
                 webhook, and does its host policy allow 127.0.0.1 over ws:// (a refused URL is \
                 never dialled)?"
            ),
            _ if !made("media_params") => {
                format!("a signalling handshake but no data handshake within {window:?}")
            }
            _ => format!("no audio socket acknowledged with CLIENT_READY_ACK within {window:?}"),
        }
    }

    /// After the frames and the keep-alives: the stream ends as its spec says.
    fn end(&mut self, now: Instant, i: usize) {
        let now_ms = self.now_ms(now);
        let observe = self.config.observe_window;
        match self.streams[i].spec.end {
            End::RtmsStopped => {
                let s = &mut self.streams[i];
                s.ended = true;
                let hook = webhook::stopped(now_ms, &s.spec, StopReason::MeetingEnded);
                let (delivery, reported) = self.deliver(now, i, hook);
                let s = &mut self.streams[i];
                s.stopped_delivery = Some(delivery);
                // Without a webhook URL the webhook is out at once.
                let deadline = (!reported).then_some(after(now, CLOSE_ON_STOPPED));
                s.phase = Phase::AwaitClose { deadline };
            }
            End::SessionStopped => {
                if let Some(c) = &self.streams[i].signaling {
                    let id = &self.streams[i].spec.rtms_stream_id;
                    let stopped = ServerMessage::SessionStateUpdate(SessionStateInfo {
                        state: Some(SessionState::Stopped),
                        stop_reason: Some(StopReason::MeetingEnded),
                        timestamp: Some(now_ms),
                        rtms_session_id: Some(Cow::Owned(format!("{id}-session"))),
                    })
                    .to_json();
                    let socket = c.socket;
                    self.send(socket, stopped);
                }
                let until = self.close_after_end(now, i, StopReason::MeetingEnded, observe);
                self.streams[i].phase = Phase::AfterEnd { until, judge: true };
            }
            _ => {
                let until = self.terminate(now, i, StopReason::MeetingEnded, observe);
                self.streams[i].phase = Phase::AfterEnd { until, judge: true };
            }
        }
    }

    /// Stream state 4 with `reason` on signalling, every socket closed, then
    /// `*_rtms_stopped`; see [`Core::close_after_end`].
    fn terminate(
        &mut self,
        now: Instant,
        i: usize,
        reason: StopReason,
        wait: Duration,
    ) -> Option<Instant> {
        if let Some(c) = &self.streams[i].signaling {
            let socket = c.socket;
            let state = self.stream_state(now, StreamState::Terminated, Some(reason));
            self.send(socket, state);
        }
        self.close_after_end(now, i, reason, wait)
    }

    /// The stream is over: every socket closed, then `*_rtms_stopped`. When to finish: `wait`
    /// from now, or `None` to count it from the webhook's delivery (there is a webhook URL).
    fn close_after_end(
        &mut self,
        now: Instant,
        i: usize,
        reason: StopReason,
        wait: Duration,
    ) -> Option<Instant> {
        let now_ms = self.now_ms(now);
        let s = &mut self.streams[i];
        s.ended = true;
        let hook = webhook::stopped(now_ms, &s.spec, reason);
        self.close_all(i);
        let (delivery, reported) = self.deliver(now, i, hook);
        if reported {
            self.streams[i].stopped_delivery = Some(delivery);
            None
        } else {
            Some(after(now, wait))
        }
    }

    fn finish(&mut self, i: usize) {
        let refused = self.streams[i].refused_kind;
        if let Some(kind) = self.streams[i].refuse_kind.filter(|_| refused) {
            if !self.has("goes_on", i) {
                let code = not_supported(kind);
                let why = format!(
                    "after status {} ({code}) to a data handshake asking for {kind:?}, the \
                     stream ended before its frames were sent: the client gave up",
                    code.code()
                );
                self.record_of(i, "goes_on", Some(why));
            }
        }
        let paused = self.streams[i]
            .spec
            .faults
            .iter()
            .any(|f| matches!(f, Fault::PauseKeepAlives { .. }));
        if paused {
            self.record_of(i, "watchdog_not_early", None);
        }
        self.streams[i].phase = Phase::Done;
        self.set_wake(i, None);
        let id = self.streams[i].spec.rtms_stream_id.clone();
        self.finished.push(id);
    }
}

// ---------------------------------------------------------------------------------------------
// Messages and audio
// ---------------------------------------------------------------------------------------------

/// Why a reconnect `after` the fault `cause` broke the bounds: later than the reconnect
/// `window` (the protocol: the stream ends), and sooner than the first backoff step `min`
/// (advice); `None` within each.
fn reconnect_breach(
    did: &str,
    cause: &str,
    after: Duration,
    min: Duration,
    window: Duration,
) -> (Option<String>, Option<String>) {
    let late =
        (after > window).then(|| format!("{did} {after:?} after {cause}, beyond {window:?}"));
    let early =
        (after < min).then(|| format!("{did} {after:?} after {cause}, before the {min:?} backoff"));
    (late, early)
}

/// Judges a `KEEP_ALIVE_RESP` against the pending request: the timestamp must match, and the
/// sequence too when the answer carries one.
fn judge_keep_alive(
    pending: Option<&PendingKeepAlive>,
    timestamp: Option<&str>,
    sequence: Option<i64>,
) -> Result<(), String> {
    let Some(p) = pending else {
        return Err(format!(
            "KEEP_ALIVE_RESP {timestamp:?} without a pending request"
        ));
    };
    if timestamp != Some(p.timestamp.as_str()) {
        return Err(format!(
            "KEEP_ALIVE_RESP echoed {timestamp:?}, the request's timestamp is {}",
            p.timestamp
        ));
    }
    match sequence {
        Some(n) if n != p.sequence => Err(format!(
            "KEEP_ALIVE_RESP echoed sequence {n}, the request's is {}",
            p.sequence
        )),
        _ => Ok(()),
    }
}

/// The confirmed parameters: the requested ones with the server's defaults filled in, for
/// every kind the socket carries.
fn confirm(params: &MediaParams, types: MediaTypes) -> MediaParams {
    let mut out = MediaParams::new();
    if types.includes(MediaKind::Audio) {
        let a = params.audio().cloned().unwrap_or_default();
        out = out.with_audio(
            AudioParams::new()
                .with_content_type(a.content_type().unwrap_or(MediaContentType::RawAudio))
                .with_sample_rate(a.sample_rate().unwrap_or(SampleRate::Sr16k))
                .with_channel(a.channel().unwrap_or(AudioChannel::Mono))
                .with_codec(a.codec().unwrap_or(Codec::L16))
                .with_data_opt(a.data_opt().unwrap_or(DataOption::AudioMixedStream))
                .with_send_rate(a.send_rate().unwrap_or(20)),
        );
    }
    let video = |v: Option<&VideoParams>, resolution, fps| {
        let v = v.cloned().unwrap_or_default();
        let mut p = VideoParams::new()
            .with_content_type(MediaContentType::RawVideo)
            .with_codec(v.codec().unwrap_or(Codec::Jpg))
            .with_resolution(v.resolution().unwrap_or(resolution))
            .with_fps(v.fps().unwrap_or(fps));
        if let Some(opt) = v.data_opt() {
            p = p.with_data_opt(opt);
        }
        p
    };
    if types.includes(MediaKind::Video) {
        let v = video(params.video(), Resolution::Hd, 5);
        let opt = v.data_opt().unwrap_or(DataOption::VideoSingleActiveStream);
        out = out.with_video(v.with_data_opt(opt));
    }
    if types.includes(MediaKind::Deskshare) {
        out = out.with_deskshare(video(params.deskshare(), Resolution::Fhd, 1));
    }
    if types.includes(MediaKind::Transcript) {
        let t = params.transcript().cloned().unwrap_or_default();
        let mut p = TranscriptParams::new()
            .with_content_type(MediaContentType::Text)
            .with_enable_lid(t.enable_lid().unwrap_or(true));
        if let Some(lang) = t.src_language() {
            p = p.with_src_language(lang);
        }
        out = out.with_transcript(p);
    }
    if types.includes(MediaKind::Chat) {
        out = out.with_chat(ChatParams::new().with_content_type(MediaContentType::Text));
    }
    out
}

fn data_response(code: StatusCode, params: MediaParams) -> String {
    ServerMessage::DataHandshakeResponse(Box::new(DataResponse {
        protocol_version: Some(1),
        sequence: Some(0),
        status: Status {
            code: Some(code),
            reason: Some(if code.is_ok() {
                Cow::Borrowed("")
            } else {
                Cow::Owned(code.to_string())
            }),
        },
        payload_encrypted: Some(false),
        media_params: params,
    }))
    .to_json()
}

/// The kinds a socket carries (`ALL`: every kind).
fn carried(types: MediaTypes) -> MediaTypes {
    MediaKind::ALL
        .into_iter()
        .filter(|k| types.includes(*k))
        .fold(MediaTypes::NONE, |acc, k| acc | k.flag())
}

/// The status a data handshake asking for `kind` is refused with when Zoom does not serve it:
/// 9 to 13, `MEDIA_TYPE_{AUDIO,VIDEO,DESKSHARE,TRANSCRIPT,CHAT}_NOT_SUPPORT`.
fn not_supported(kind: MediaKind) -> StatusCode {
    StatusCode::from(match kind {
        MediaKind::Audio => 9,
        MediaKind::Video => 10,
        MediaKind::Deskshare => 11,
        MediaKind::Transcript => 12,
        _ => 13,
    })
}

/// An event update (message type 6) of the event `json`, as Zoom writes it.
fn event_update(json: &str) -> Option<String> {
    Event::parse(json)
        .ok()
        .map(|e| ServerMessage::EventUpdate(e).to_json())
}

/// The tone's amplitude for a stream: 4000 to 7999, derived from its id, so that two streams
/// never send the same audio (a client that mixes streams up gets a different SHA-256).
fn tone_amplitude(stream_id: &str) -> i64 {
    let h = stream_id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    4000 + (h % 4000) as i64
}

/// One L16 message of a deterministic 400 Hz triangle tone of amplitude `amp` (integer
/// arithmetic only), the `frame`-th of the stream, at the confirmed rate and channels.
pub(super) fn tone(frame: u64, format: &AudioFormat, amp: i64) -> Vec<u8> {
    let rate = u64::from(format.sample_rate_hz.unwrap_or(16_000));
    let samples = rate * u64::try_from(format.send_rate_ms).unwrap_or(20) / 1000;
    let period = (rate / 400).max(2) as i64;
    let mut out = Vec::with_capacity((samples * u64::from(format.channels) * 2) as usize);
    for i in 0..samples {
        let phase = ((frame * samples + i) % period as u64) as i64;
        let v = if 2 * phase < period {
            -amp + 4 * amp * phase / period
        } else {
            3 * amp - 4 * amp * phase / period
        };
        for _ in 0..format.channels {
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
    }
    out
}

/// What Zoom may stream but the simulator cannot play, and the status it refuses it with: G.711
/// and G.722 (no encoder here; Zoom's media parameter matrix allows them at 8 and 16 kHz), and
/// Opus at a send rate other than its 20 ms packets (the matrix's only Opus send rate).
fn unplayable(f: &AudioFormat) -> Option<(StatusCode, String)> {
    match f.codec {
        Codec::G711 | Codec::G722 => Some((
            StatusCode::InvalidMediaAudioCodec,
            format!(
                "the simulator plays L16 and Opus audio, not {}",
                f.codec.description()
            ),
        )),
        Codec::Opus if f.send_rate_ms != opus::PACKET_MS => Some((
            StatusCode::InvalidMediaAudioSendRate,
            format!(
                "Opus is sent in {} ms packets, not every {} ms",
                opus::PACKET_MS,
                f.send_rate_ms
            ),
        )),
        _ => None,
    }
}

/// One audio message's payload, the `frame`-th of the stream: the tone as L16, or for Opus the
/// `frame`-th packet of a real Opus encoding of the same tone (at a fixed amplitude, so every
/// Opus stream sends the same bytes). `None` for what [`unplayable`] refuses.
fn audio_payload(frame: u64, format: &AudioFormat, amp: i64) -> Option<Vec<u8>> {
    match format.codec {
        Codec::Opus => {
            let channels = u8::try_from(format.channels).ok()?;
            opus::packet(channels, frame).map(<[u8]>::to_vec)
        }
        Codec::G711 | Codec::G722 => None,
        _ => Some(tone(frame, format, amp)),
    }
}

/// What makes two audio messages equal: the tone's phase and the format, or for Opus the
/// packet.
fn audio_key(frame: u64, format: &AudioFormat) -> (u64, AudioFormat) {
    if format.codec == Codec::Opus {
        (frame, *format)
    } else {
        tone_key(frame, format)
    }
}

/// What makes two messages of the tone equal: the phase they start at, and the format.
fn tone_key(frame: u64, format: &AudioFormat) -> (u64, AudioFormat) {
    let rate = u64::from(format.sample_rate_hz.unwrap_or(16_000));
    let samples = rate * u64::try_from(format.send_rate_ms).unwrap_or(20) / 1000;
    let period = (rate / 400).max(2);
    ((frame * samples) % period, *format)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message built from the cached text is the one a whole serialisation gives, for every
    /// speaker and timestamp (the clients read `timestamp` as the scheduled send time).
    #[test]
    fn cached_audio_message_is_the_serialised_one() {
        let format = AudioParams::new().format();
        let speakers = [
            (Some(0), None, None),
            (Some(USER_ID), Some(USER_NAME), None),
            (None, None, Some(CHANNEL_ID)),
        ];
        for (user_id, user_name, channel_id) in speakers {
            let who = Speaker {
                user_id,
                user_name,
                channel_id,
            };
            let pcm = tone(0, &format, 5000);
            let cache = AudioCache::new(tone_key(0, &format), pcm.clone(), who);
            assert!(cache.split.is_some());
            for ts in [
                0,
                1,
                -5,
                9,
                10,
                -10,
                1_796_679_374_675,
                TS_PROBE,
                i64::MAX,
                i64::MIN,
            ] {
                let whole = AudioCache::encode(who, &cache.data, pcm.len(), ts);
                assert_eq!(cache.message(ts), whole);
                let parsed = ServerMessage::parse(whole.as_bytes());
                let Ok(ServerMessage::Audio(a)) = parsed else {
                    panic!("not an audio message: {whole}");
                };
                assert_eq!(a.timestamp, Some(ts));
            }
        }
    }

    fn core_with(streams: usize) -> (Core, Instant) {
        let start = Instant::now();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut core = Core::new(SimConfig::default(), addr, start, 1_700_000_000_000);
        let creds = crate::handshake::Credentials::new("id", "secret").unwrap();
        for n in 0..streams {
            let id = format!("s{n}");
            let spec = StreamSpec::new(
                Product::Meeting,
                format!("{id}=="),
                &id,
                "whsec",
                creds.clone(),
            );
            core.register(spec, start).unwrap();
        }
        (core, start)
    }

    /// The players' timers share one entry per tick: it fires at the end of the tick they fall
    /// in, never before the instant asked for; a moved or cleared timer is no wake-up.
    #[test]
    fn players_share_one_timer_per_tick() {
        let (mut core, start) = core_with(4);
        let us = Duration::from_micros;
        assert_eq!(core.tick_of(start), start);
        assert_eq!(core.tick_of(start + us(1)), start + us(1000));
        assert_eq!(core.tick_of(start + us(1000)), start + us(1000));
        assert_eq!(core.tick_of(start + us(20_001)), start + us(21_000));
        core.wake(0, start + us(20_100));
        core.wake(1, start + us(20_900));
        core.wake(2, start + us(20_500));
        core.wake(3, start + us(41_000));
        assert_eq!(core.players.len(), 2);
        assert_eq!(core.poll_timeout(), Some(start + us(21_000)));
        // Moved to the later tick, or cleared: the first tick has no one left.
        core.wake(0, start + us(40_500));
        core.set_wake(1, None);
        core.set_wake(2, None);
        assert_eq!(core.poll_timeout(), Some(start + us(41_000)));
        assert_eq!(core.players.len(), 1);
        core.handle_timeout(start + us(40_999));
        assert_eq!(core.streams[0].wake, Some(start + us(40_500)));
        core.handle_timeout(start + us(41_000));
        assert!(core.streams.iter().all(|s| s.wake.is_none()));
        assert_eq!(core.poll_timeout(), None);
    }
}
