//! What the user receives, and the conversion from the borrowed server messages.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::codes::MsgType;
use crate::event::Product;
use crate::protocol::events::{Event, EventType};
use crate::protocol::media::MediaParams;
use crate::protocol::server::{base64_decode, base64_decoded_len};
use crate::protocol::server::{
    Chat, ChatData, MediaData, ServerMessage, SessionStateInfo, Status, StreamStateInfo,
    Transcript, VideoSubscriptionResponse,
};
use crate::protocol::session::{EndReason, Scope, SessionError};
use crate::region::ServerUrlError;

/// One thing that happened on a stream, in order.
///
/// ```
/// use zoom_rtms_webhooks::client::Item;
/// let item = Item::Lagged { dropped: 3 };
/// assert!(!item.is_terminal());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Item {
    /// Every media socket finished its data handshake (after each connect and reconnect).
    Connected {
        /// How many times the stream has connected (1 the first time).
        connects: u32,
        /// The media parameters the server confirmed (message type 4): how to read payloads.
        /// Boxed, as the largest payload: it keeps every [`Item`] small.
        params: Box<MediaParams>,
    },
    /// 14: audio.
    Audio(MediaFrame),
    /// 15: video.
    Video(MediaFrame),
    /// 16: screen share.
    Share(MediaFrame),
    /// 17: a transcript utterance (its `user_name` cut to 256 bytes, as for media). Boxed,
    /// as one of the largest payloads: it keeps every [`Item`] small.
    Transcript(Box<Transcript<'static>>),
    /// 18: a chat message (its `data` kept as JSON; its `user_name` cut to 256 bytes).
    Chat(Chat<'static>),
    /// 6: an event update (participant joined or left, active speaker, ...).
    Event(EventUpdate),
    /// 8 or 20: a stream state update or response.
    StreamState(StreamStateInfo<'static>),
    /// 9 or 11: a session state update or response.
    SessionState(SessionStateInfo<'static>),
    /// 29: the answer to [`StreamHandle::subscribe_video`](super::StreamHandle::subscribe_video).
    VideoSubscription(VideoSubscriptionResponse<'static>),
    /// Any other server message (metadata 23–27, unknown types), the frame as received.
    Other {
        /// Its message type.
        msg_type: MsgType,
        /// The whole frame, or nothing (empty) when it was longer than 64 KiB: such a frame is
        /// reported but not kept, so that a queue of them stays small.
        raw: Bytes,
    },
    /// The user was too slow: `dropped` older items were dropped just before this point.
    Lagged {
        /// How many.
        dropped: u64,
    },
    /// Sockets were lost; the session reconnects after a backoff.
    Reconnecting {
        /// Media only, or everything.
        scope: Scope,
        /// 0-based attempt (the backoff step).
        attempt: u32,
    },
    /// A server URL the host policy refuses (the signalling URL of an `rtms_started`, a
    /// failover's, or a media URL of the signalling response): it was never dialled. The one
    /// place a refused URL is reported. When the stream cannot go on without it (the first
    /// signalling URL, a media URL), [`Item::Failed`] follows; after a refused failover the
    /// stream goes on on its current server.
    Refused(ServerUrlError),
    /// The stream ended (last item).
    Ended(EndReason),
    /// The stream failed for good (last item).
    Failed(SessionError),
    /// This replica no longer holds the stream (last item; feature `redis`): another replica
    /// carries it on ([`Supervisor::hand_over`](super::Supervisor::hand_over), or a lost
    /// lease). The stream was not closed: Zoom's side goes on.
    HandedOver,
}

impl Item {
    /// Whether this is the last item ([`Item::Ended`], [`Item::Failed`] or
    /// [`Item::HandedOver`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Item;
    /// use zoom_rtms_webhooks::protocol::session::EndReason;
    /// assert!(Item::Ended(EndReason::Closed).is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        matches!(self, Item::Ended(_) | Item::Failed(_) | Item::HandedOver)
    }

    /// About how many bytes this item holds (its size plus the text and payload it owns), for
    /// the queue's byte budget. Names and channel ids are shared between items, and not
    /// counted.
    pub(crate) fn cost(&self) -> usize {
        let text = |t: &Option<Cow<'_, str>>| t.as_ref().map_or(0, |t| t.len());
        std::mem::size_of::<Item>()
            + match self {
                Item::Audio(f) | Item::Video(f) | Item::Share(f) => f.data.len(),
                Item::Transcript(t) => text(&t.user_name) + text(&t.channel_id) + text(&t.text),
                Item::Chat(c) => {
                    text(&c.user_name)
                        + match &c.data {
                            Some(ChatData::Text(t)) => t.len(),
                            Some(ChatData::Json(v)) => value_bytes(v),
                            None => 0,
                        }
                }
                Item::Event(e) => e.raw.len(),
                Item::StreamState(u) => text(&u.rtms_stream_id),
                Item::SessionState(u) => text(&u.rtms_session_id),
                Item::VideoSubscription(v) => text(&v.status.reason),
                Item::Other { raw, .. } => raw.len(),
                Item::Connected { .. }
                | Item::Lagged { .. }
                | Item::Reconnecting { .. }
                | Item::Ended(_)
                | Item::Refused(_)
                | Item::HandedOver
                | Item::Failed(_) => 0,
            }
    }

    /// Whether the queue may drop this item on overflow before the stream's state items
    /// (connected, reconnecting, stream and session state, video subscription, the end).
    pub(crate) fn is_data(&self) -> bool {
        matches!(
            self,
            Item::Audio(_)
                | Item::Video(_)
                | Item::Share(_)
                | Item::Transcript(_)
                | Item::Chat(_)
                | Item::Event(_)
                | Item::Other { .. }
        )
    }
}

/// About how many bytes `v` holds (its nodes, strings and keys).
fn value_bytes(v: &serde_json::Value) -> usize {
    const NODE: usize = std::mem::size_of::<serde_json::Value>();
    NODE + match v {
        serde_json::Value::String(s) => s.len(),
        serde_json::Value::Array(a) => a.iter().map(value_bytes).sum(),
        serde_json::Value::Object(o) => {
            o.iter().map(|(k, v)| NODE + k.len() + value_bytes(v)).sum()
        }
        _ => 0,
    }
}

/// Who a media frame or utterance is from.
///
/// ```
/// use zoom_rtms_webhooks::client::Source;
/// let s = Source::User { id: Some(0), name: None };
/// assert_ne!(s, Source::Channel("ch-1".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A participant (`user_id` 0: the mixed stream, sent without a name).
    User {
        /// `user_id`.
        id: Option<i64>,
        /// `user_name` (shared between the frames of one participant), cut to its first 256
        /// bytes (on a character boundary) when longer.
        name: Option<Arc<str>>,
    },
    /// A Contact Center channel (`channel_id`).
    Channel(Arc<str>),
}

/// Decoded audio, video or screen-share data (14–16). Read it with the parameters of the last
/// [`Item::Connected`].
///
/// ```
/// use zoom_rtms_webhooks::client::{MediaFrame, Source};
/// let f = MediaFrame::new(Source::User { id: Some(1), name: None }, Some(20), bytes::Bytes::from_static(b"pcm"));
/// assert_eq!(&f.data[..], b"pcm");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaFrame {
    /// Who it is from.
    pub source: Source,
    /// `timestamp` (ms, server side).
    pub timestamp: Option<i64>,
    /// The decoded payload.
    pub data: Bytes,
}

impl MediaFrame {
    /// A frame (for tests and simulators).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{MediaFrame, Source};
    /// let _ = MediaFrame::new(Source::Channel("c".into()), None, bytes::Bytes::new());
    /// ```
    pub fn new(source: Source, timestamp: Option<i64>, data: Bytes) -> Self {
        MediaFrame {
            source,
            timestamp,
            data,
        }
    }
}

/// An event update (6), its type read with the stream's product; the event itself is kept as
/// its JSON text and read again with [`event`](EventUpdate::event).
///
/// ```
/// use zoom_rtms_webhooks::client::EventUpdate;
/// use zoom_rtms_webhooks::Product;
/// let e = EventUpdate::new(Product::Meeting, r#"{"event_type":2,"user_id":5}"#).unwrap();
/// assert_eq!(e.event().unwrap().user_id(), Some(5));
/// assert_eq!(e.event_type_code(), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventUpdate {
    event_type: EventType,
    code: Option<i64>,
    timestamp: Option<i64>,
    raw: Box<str>,
}

impl EventUpdate {
    /// Reads `raw` (the `event` object) for `product`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::EventUpdate;
    /// use zoom_rtms_webhooks::Product;
    /// assert!(EventUpdate::new(Product::Meeting, "{").is_err());
    /// ```
    pub fn new(product: Product, raw: &str) -> Result<Self, serde_json::Error> {
        let e = Event::parse(raw)?;
        Ok(Self::of(product, &e))
    }

    fn of(product: Product, e: &Event<'_>) -> Self {
        EventUpdate {
            event_type: e.event_type(product),
            code: e.event_type_code(),
            timestamp: e.timestamp(),
            raw: e.raw().into(),
        }
    }

    /// The event type, read with the stream's product's table.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::EventUpdate;
    /// use zoom_rtms_webhooks::protocol::events::{EventType, MeetingEventType};
    /// use zoom_rtms_webhooks::Product;
    /// let e = EventUpdate::new(Product::Meeting, r#"{"event_type":2}"#).unwrap();
    /// assert!(matches!(e.event_type(), EventType::Meeting(_)));
    /// ```
    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    /// The raw `event_type` code.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::EventUpdate;
    /// use zoom_rtms_webhooks::Product;
    /// assert_eq!(EventUpdate::new(Product::Meeting, "{}").unwrap().event_type_code(), None);
    /// ```
    pub fn event_type_code(&self) -> Option<i64> {
        self.code
    }

    /// `timestamp` (ms).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::EventUpdate;
    /// use zoom_rtms_webhooks::Product;
    /// assert_eq!(EventUpdate::new(Product::Meeting, r#"{"timestamp":9}"#).unwrap().timestamp(), Some(9));
    /// ```
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// The event's JSON text.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::EventUpdate;
    /// use zoom_rtms_webhooks::Product;
    /// assert_eq!(EventUpdate::new(Product::Meeting, "{}").unwrap().raw(), "{}");
    /// ```
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The event, typed (participants, user, ...).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::EventUpdate;
    /// use zoom_rtms_webhooks::Product;
    /// let e = EventUpdate::new(Product::Meeting, r#"{"event_type":2,"participants":[{"user_id":1}]}"#).unwrap();
    /// assert_eq!(e.event().unwrap().participants().len(), 1);
    /// ```
    pub fn event(&self) -> Result<Event<'_>, serde_json::Error> {
        Event::parse(&self.raw)
    }
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn own_status(s: Status<'_>) -> Status<'static> {
    Status {
        code: s.code,
        reason: s.reason.map(own),
    }
}

fn own_stream_state(u: StreamStateInfo<'_>) -> StreamStateInfo<'static> {
    StreamStateInfo {
        state: u.state,
        reason: u.reason,
        timestamp: u.timestamp,
        rtms_stream_id: u.rtms_stream_id.map(own),
    }
}

fn own_session_state(u: SessionStateInfo<'_>) -> SessionStateInfo<'static> {
    SessionStateInfo {
        state: u.state,
        stop_reason: u.stop_reason,
        timestamp: u.timestamp,
        rtms_session_id: u.rtms_session_id.map(own),
    }
}

/// Turns borrowed server messages into items: names shared per participant, media decoded
/// into [`Bytes`] split off one reused buffer.
pub(crate) struct Converter {
    product: Product,
    names: HashSet<Arc<str>>,
    /// The bytes of the names and channel ids in `names`.
    names_bytes: usize,
    arena: BytesMut,
}

/// `name` cut to at most `NAME_MAX` bytes, on a character boundary.
pub(crate) fn bound_name(name: &str) -> &str {
    if name.len() <= NAME_MAX {
        return name;
    }
    let mut end = NAME_MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// `name` owned, cut as [`bound_name`] does (into an allocation of its own size).
fn own_name(name: Cow<'_, str>) -> Cow<'static, str> {
    if name.len() > NAME_MAX {
        Cow::Owned(bound_name(&name).to_owned())
    } else {
        own(name)
    }
}

/// The longest frame an [`Item::Other`] keeps (the metadata messages and unknown types have no
/// documented payload; a few KiB is typical).
pub(crate) const OTHER_MAX: usize = 64 * 1024;
/// Past this many distinct names or channels the cache starts again.
const NAMES_MAX: usize = 4096;
/// A `user_name` longer than this many bytes is cut (on a character boundary) before it is
/// cached or handed over: display names are short, and 256 bytes holds 64 characters of any
/// script. A channel id longer than this is handed over whole but not cached.
pub(crate) const NAME_MAX: usize = 256;
/// Past this many bytes of cached names and channel ids the cache starts again (with
/// `NAME_MAX`, at most 256 KiB plus the sets' own tables per stream).
const NAMES_BYTES_MAX: usize = 256 * 1024;
/// The buffer media is decoded into, grown to at least this at a time: 6 audio messages of
/// 640 bytes (one allocation every 120 ms of audio), and what a stream holds for it is small.
const ARENA_CHUNK: usize = 4 * 1024;
/// The most the arena keeps between frames (a larger one is let go).
const ARENA_KEEP: usize = 4 * ARENA_CHUNK;

impl Converter {
    pub(crate) fn new(product: Product) -> Self {
        Converter {
            product,
            names: HashSet::new(),
            names_bytes: 0,
            arena: BytesMut::new(),
        }
    }

    /// `s` shared with earlier frames; one longer than `NAME_MAX` is not cached.
    fn intern(&mut self, s: &str) -> Arc<str> {
        if s.len() > NAME_MAX {
            return s.into();
        }
        if let Some(a) = self.names.get(s) {
            return a.clone();
        }
        if self.names.len() >= NAMES_MAX || self.names_bytes + s.len() > NAMES_BYTES_MAX {
            self.names = HashSet::new();
            self.names_bytes = 0;
        }
        let a: Arc<str> = s.into();
        self.names_bytes += a.len();
        self.names.insert(a.clone());
        a
    }

    fn source(
        &mut self,
        channel_id: Option<&str>,
        user_id: Option<i64>,
        user_name: Option<&str>,
    ) -> Source {
        match (channel_id, user_id) {
            (Some(ch), None) => Source::Channel(self.intern(ch)),
            _ => Source::User {
                id: user_id,
                name: user_name.map(|n| self.intern(bound_name(n))),
            },
        }
    }

    /// Decodes base64 straight into the arena and splits the result off as `Bytes`: one
    /// decode, no copy; the arena's allocation is reclaimed once the user drops old frames.
    /// A payload larger than the arena's chunk (video, screen share) is decoded into an
    /// allocation of its own size, so the arena never grows past `ARENA_KEEP` and a small
    /// frame never keeps a large allocation alive; a failed decode keeps nothing.
    fn decode(&mut self, b64: &str) -> Option<Bytes> {
        let (unpadded, len) = base64_decoded_len(b64)?;
        if len > ARENA_CHUNK {
            let mut own = BytesMut::zeroed(len);
            return base64_decode(unpadded, &mut own[..]).then(|| own.freeze());
        }
        if self.arena.capacity() < len {
            self.arena.reserve(ARENA_CHUNK);
        }
        self.arena.resize(len, 0);
        let decoded = if base64_decode(unpadded, &mut self.arena[..]) {
            Some(self.arena.split().freeze())
        } else {
            self.arena.clear();
            None
        };
        if self.arena.capacity() > ARENA_KEEP {
            self.arena = BytesMut::new();
        }
        decoded
    }

    fn media(&mut self, m: &MediaData<'_>) -> Option<MediaFrame> {
        let data = self.decode(m.data.as_deref()?)?;
        let source = self.source(m.channel_id.as_deref(), m.user_id, m.user_name.as_deref());
        Some(MediaFrame {
            source,
            timestamp: m.timestamp,
            data,
        })
    }

    /// The item for a message the session handed to the user; `None` for a media frame whose
    /// payload is missing or not base64 (nothing to hand over).
    pub(crate) fn convert(&mut self, msg: ServerMessage<'_>, frame: &Bytes) -> Option<Item> {
        Some(match msg {
            ServerMessage::Audio(m) => Item::Audio(self.media(&m)?),
            ServerMessage::Video(m) => Item::Video(self.media(&m)?),
            ServerMessage::Share(m) => Item::Share(self.media(&m)?),
            ServerMessage::Transcript(t) => Item::Transcript(Box::new(Transcript {
                user_id: t.user_id,
                user_name: t.user_name.map(own_name),
                channel_id: t.channel_id.map(own),
                text: t.text.map(own),
                language: t.language,
                start_time: t.start_time,
                end_time: t.end_time,
                timestamp: t.timestamp,
                attribute: t.attribute,
            })),
            ServerMessage::Chat(c) => Item::Chat(Chat {
                user_id: c.user_id,
                user_name: c.user_name.map(own_name),
                timestamp: c.timestamp,
                data: c.data.map(|d| match d {
                    ChatData::Text(t) => ChatData::Text(own(t)),
                    ChatData::Json(v) => ChatData::Json(v),
                }),
            }),
            ServerMessage::EventUpdate(e) => Item::Event(EventUpdate::of(self.product, &e)),
            ServerMessage::StreamStateUpdate(u) | ServerMessage::StreamStateResponse(u) => {
                Item::StreamState(own_stream_state(u))
            }
            ServerMessage::SessionStateUpdate(u) | ServerMessage::SessionStateResponse(u) => {
                Item::SessionState(own_session_state(u))
            }
            ServerMessage::VideoSubscriptionResponse(v) => {
                Item::VideoSubscription(VideoSubscriptionResponse {
                    user_id: v.user_id,
                    status: own_status(v.status),
                    subscribe: v.subscribe,
                    timestamp: v.timestamp,
                })
            }
            // Kept up to `OTHER_MAX`, copied (the frame may be a slice of the socket's read
            // buffer, which a shared slice would keep alive whole); a larger frame is reported
            // without its bytes, so a full queue of them stays small.
            other => Item::Other {
                msg_type: other.msg_type(),
                raw: if frame.len() <= OTHER_MAX {
                    Bytes::copy_from_slice(frame)
                } else {
                    Bytes::new()
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_splits_without_copy_and_reuses() {
        let mut c = Converter::new(Product::Meeting);
        let a = c.decode("AAEC").unwrap();
        let b = c.decode("AwQF").unwrap();
        assert_eq!((&a[..], &b[..]), (&[0u8, 1, 2][..], &[3u8, 4, 5][..]));
        assert!(c.decode("!!").is_none());
        assert_eq!(&c.decode("Bg").unwrap()[..], &[6]);
    }

    #[test]
    fn a_failed_or_large_decode_leaves_the_arena_small() {
        let mut c = Converter::new(Product::Meeting);
        assert_eq!(&c.decode("AAEC").unwrap()[..], &[0, 1, 2]);
        // 16 MiB of invalid base64: nothing decoded, nothing kept.
        assert!(c.decode(&"!".repeat(16 << 20)).is_none());
        assert!(c.arena.capacity() <= ARENA_KEEP, "{}", c.arena.capacity());
        // A failure within the arena's chunk keeps at most the chunk.
        assert!(c.decode(&"!".repeat(ARENA_CHUNK)).is_none());
        assert!(c.arena.capacity() <= ARENA_KEEP, "{}", c.arena.capacity());
        // A large frame gets its own allocation; the arena stays as it was.
        let big = base64_simd::STANDARD.encode_to_string(vec![7u8; 1 << 20]);
        assert_eq!(c.decode(&big).unwrap().len(), 1 << 20);
        assert!(c.arena.capacity() <= ARENA_KEEP, "{}", c.arena.capacity());
        assert_eq!(&c.decode("Bg").unwrap()[..], &[6]);
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        assert_eq!(bound_name("Ann"), "Ann");
        let name = format!("a{}", "é".repeat(200));
        let cut = bound_name(&name);
        assert_eq!(cut.len(), 255, "byte 256 is inside an é");
        assert!(name.starts_with(cut));
        let exact = "x".repeat(NAME_MAX);
        assert_eq!(bound_name(&exact), exact);
        assert_eq!(own_name(Cow::Owned(name.clone())), cut);
        assert_eq!(own_name(Cow::Borrowed("Bo")), "Bo");
    }

    #[test]
    fn the_name_cache_is_bounded_in_bytes() {
        let mut c = Converter::new(Product::Meeting);
        // 5,000 names of 256 bytes once cut: five times the byte bound.
        for i in 0..5_000 {
            let name = format!("{i:05}{}", "n".repeat(1024));
            let Source::User { name: Some(n), .. } = c.source(None, Some(i), Some(&name)) else {
                panic!()
            };
            assert_eq!(n.len(), NAME_MAX);
            assert!(c.names_bytes <= NAMES_BYTES_MAX);
            assert_eq!(
                c.names_bytes,
                c.names.iter().map(|n| n.len()).sum::<usize>()
            );
        }
        // A channel id too long to cache is handed over whole, and not cached.
        let long = "c".repeat(NAME_MAX + 1);
        assert_eq!(
            c.source(Some(&long), None, None),
            Source::Channel(long.as_str().into())
        );
        assert!(!c.names.contains(long.as_str()));
    }

    #[test]
    fn names_are_shared() {
        let mut c = Converter::new(Product::Meeting);
        let Source::User { name: Some(a), .. } = c.source(None, Some(1), Some("Ann")) else {
            panic!()
        };
        let Source::User { name: Some(b), .. } = c.source(None, Some(1), Some("Ann")) else {
            panic!()
        };
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            c.source(Some("ch"), None, None),
            Source::Channel("ch".into())
        );
    }
}
