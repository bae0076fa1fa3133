//! What the user receives, and the conversion from the borrowed server messages.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::codes::{MsgType, SessionState, StatusCode, StopReason, StreamState};
use crate::event::Product;
use crate::handshake::MediaKind;
use crate::protocol::events::{Event, EventType};
use crate::protocol::incoming::{base64_decode, base64_decoded_len};
use crate::protocol::incoming::{chat_content_extra, ChatData, MediaData, ServerMessage};
use crate::protocol::media::{MediaParams, TranscriptLanguage};
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
    Transcript(Box<Transcript>),
    /// 18: a chat message (its `user_name` cut to 256 bytes).
    Chat(Box<Chat>),
    /// 6: an event update (participant joined or left, active speaker, ...).
    Event(EventUpdate),
    /// 8 or 20: a stream state update or response.
    StreamState {
        /// `state`.
        state: Option<StreamState>,
        /// `reason` (why it stopped).
        reason: Option<StopReason>,
        /// `timestamp` (ms).
        timestamp: Option<i64>,
    },
    /// 9 or 11: a session state update or response.
    SessionState {
        /// `state`.
        state: Option<SessionState>,
        /// `stop_reason`.
        stop_reason: Option<StopReason>,
        /// `timestamp` (ms).
        timestamp: Option<i64>,
    },
    /// 29: the answer to [`StreamHandle::subscribe_video`](super::StreamHandle::subscribe_video).
    VideoSubscription {
        /// `user_id`.
        user_id: Option<i64>,
        /// The status code (absent: not sent).
        status: Option<StatusCode>,
        /// The reason text, when sent.
        reason: Option<String>,
        /// `subscribe`.
        subscribe: Option<bool>,
        /// `timestamp` (ms).
        timestamp: Option<i64>,
    },
    /// 23–27: metadata for audio, video, screen share, transcripts or chat (undocumented:
    /// e.g. the AI interpreter's). Boxed: it keeps every [`Item`] small.
    Metadata(Box<Metadata>),
    /// Any other server message (unknown types), the frame as received.
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
    /// A media type asked for is not delivered, and the stream goes on with the others (see
    /// [`SessionEvent::MediaRefused`](crate::protocol::session::SessionEvent::MediaRefused)):
    /// the signalling response offered no URL for it, or its data handshake was refused.
    MediaRefused {
        /// The media type.
        kind: MediaKind,
        /// The data handshake's status, or `None` when no URL was offered.
        status: Option<StatusCode>,
    },
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
        std::mem::size_of::<Item>()
            + match self {
                Item::Audio(f) | Item::Video(f) | Item::Share(f) => f.data.len(),
                Item::Transcript(t) => std::mem::size_of::<Transcript>() + t.text.len(),
                Item::Chat(c) => c.bytes(),
                Item::Event(e) => e.raw.get().len(),
                Item::Metadata(m) => {
                    std::mem::size_of::<Metadata>() + m.content.as_ref().map_or(0, value_bytes)
                }
                Item::VideoSubscription { reason, .. } => reason.as_ref().map_or(0, String::len),
                Item::Other { raw, .. } => raw.len(),
                Item::Connected { .. }
                | Item::StreamState { .. }
                | Item::SessionState { .. }
                | Item::Lagged { .. }
                | Item::Reconnecting { .. }
                | Item::Ended(_)
                | Item::MediaRefused { .. }
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
                | Item::Metadata(_)
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

/// A chat `sender` object as a [`Source`]: `user_id` (a number, or a string of digits) and
/// `user_name` (cut to 256 bytes); `None` when it is not an object.
fn chat_user(v: &serde_json::Value) -> Option<Source> {
    let o = v.as_object()?;
    let id = o.get("user_id").and_then(|id| match id {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let name = o
        .get("user_name")
        .and_then(serde_json::Value::as_str)
        .map(|n| Arc::from(bound_name(n)));
    Some(Source::User { id, name })
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

/// As the fields Zoom sends: `user_id` and `user_name` (`null` when not sent), or
/// `channel_id`; flattened into [`Transcript`] and [`Chat`].
///
/// ```
/// use zoom_rtms_webhooks::client::Source;
/// let s = Source::User { id: Some(7), name: Some("Ann".into()) };
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"user_id":7,"user_name":"Ann"}"#);
/// let c = Source::Channel("ch-1".into());
/// assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"channel_id":"ch-1"}"#);
/// ```
impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Source::User { id, name } => {
                let mut m = serializer.serialize_map(Some(2))?;
                m.serialize_entry("user_id", id)?;
                m.serialize_entry("user_name", &name.as_deref())?;
                m.end()
            }
            Source::Channel(ch) => {
                let mut m = serializer.serialize_map(Some(1))?;
                m.serialize_entry("channel_id", &**ch)?;
                m.end()
            }
        }
    }
}

impl Source {
    /// The participant's `user_name` (`None` for a channel, or when not sent).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Source;
    /// assert_eq!(Source::User { id: Some(1), name: Some("Ann".into()) }.user_name(), Some("Ann"));
    /// assert_eq!(Source::Channel("c".into()).user_name(), None);
    /// ```
    pub fn user_name(&self) -> Option<&str> {
        match self {
            Source::User { name, .. } => name.as_deref(),
            Source::Channel(_) => None,
        }
    }

    /// The participant's `user_id` (`None` for a channel, or when not sent; 0 is the mixed
    /// stream).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Source;
    /// assert_eq!(Source::User { id: Some(1), name: None }.user_id(), Some(1));
    /// ```
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Source::User { id, .. } => *id,
            Source::Channel(_) => None,
        }
    }
}

/// 17: a transcript utterance. Serializes as one flat JSON object: `user_id` and `user_name`
/// (or `channel_id`), `timestamp`, `start_time`, `end_time`, `language` (Zoom's code) and
/// `text`; a field Zoom did not send is `null`.
///
/// ```
/// use zoom_rtms_webhooks::client::{Source, Transcript};
/// let t = Transcript::new(Source::User { id: Some(7), name: Some("Ann".into()) }, "hello");
/// assert_eq!(t.text, "hello");
/// assert_eq!(
///     serde_json::to_string(&t).unwrap(),
///     r#"{"user_id":7,"user_name":"Ann","timestamp":null,"start_time":null,"end_time":null,"language":null,"text":"hello"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Transcript {
    /// Who spoke.
    #[serde(flatten)]
    pub source: Source,
    /// `timestamp` (ms; when the utterance began).
    pub timestamp: Option<i64>,
    /// `start_time` (ms).
    pub start_time: Option<i64>,
    /// `end_time` (ms).
    pub end_time: Option<i64>,
    /// `language`.
    pub language: Option<TranscriptLanguage>,
    /// The text (`data`; empty when Zoom sent none).
    pub text: String,
}

impl Transcript {
    /// An utterance with only a speaker and a text (for tests and simulators).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Source, Transcript};
    /// let t = Transcript::new(Source::Channel("c".into()), "hi");
    /// assert_eq!(t.timestamp, None);
    /// ```
    pub fn new(source: Source, text: impl Into<String>) -> Self {
        Transcript {
            source,
            timestamp: None,
            start_time: None,
            end_time: None,
            language: None,
            text: text.into(),
        }
    }
}

/// 18: a chat message. Serializes as one flat JSON object: `user_id` and `user_name` (or
/// `channel_id`), `timestamp` and `data` (a field Zoom did not send is `null`), then every
/// other `content` key Zoom sent, with Zoom's names: the metadata its samples read
/// (`sender`, `receiver`, `chat_session`, `operation_type`, `message_id`,
/// `parent_message_id`, `files`, `delete_file_id_list`) typed, the rest as sent
/// ([`other`](Chat::other)); metadata Zoom did not send is left out. A metadata key found
/// only inside `data` (a JSON object, or JSON text, as some of Zoom's samples merge it) fills
/// the typed field too.
///
/// ```
/// use zoom_rtms_webhooks::client::{Chat, Source};
/// let c = Chat::new(Source::User { id: Some(7), name: None }, serde_json::json!("hi all"));
/// assert_eq!(c.text(), Some("hi all"));
/// assert_eq!(
///     serde_json::to_string(&c).unwrap(),
///     r#"{"user_id":7,"user_name":null,"timestamp":null,"data":"hi all"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Chat {
    /// Who wrote it.
    #[serde(flatten)]
    pub source: Source,
    /// `timestamp` (ms).
    pub timestamp: Option<i64>,
    /// `data`: usually a JSON string (the text); the schema is undocumented, so any other
    /// JSON value is kept as sent (an array or object longer than 64 KiB of JSON text is
    /// absent).
    pub data: Option<serde_json::Value>,
    /// `sender` (`user_id`, `user_name`), when it is an object (else it is in
    /// [`other`](Chat::other)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<Source>,
    /// `receiver`, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<serde_json::Value>,
    /// `chat_session`, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_session: Option<serde_json::Value>,
    /// `operation_type` (sent, edited, deleted, ...), as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_type: Option<serde_json::Value>,
    /// `message_id`, when a string (or a number, as its text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `parent_message_id` (a reply's thread), when a string (or a number, as its text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_message_id: Option<String>,
    /// `files`, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<serde_json::Value>,
    /// `delete_file_id_list`, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_file_id_list: Option<serde_json::Value>,
    /// Every other `content` key Zoom sent, as sent (the whole `content` at most 64 KiB of
    /// JSON text; a larger one keeps none of these).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Chat {
    /// A message (for tests and simulators).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Chat, Source};
    /// let c = Chat::new(Source::Channel("c".into()), serde_json::json!({"text": "hi"}));
    /// assert_eq!(c.text(), None);
    /// ```
    pub fn new(source: Source, data: serde_json::Value) -> Self {
        Chat {
            source,
            timestamp: None,
            data: Some(data),
            sender: None,
            receiver: None,
            chat_session: None,
            operation_type: None,
            message_id: None,
            parent_message_id: None,
            files: None,
            delete_file_id_list: None,
            other: serde_json::Map::new(),
        }
    }

    /// Fills the metadata from `content`'s other keys, then (for keys `content` lacks) from
    /// `data` when it is a JSON object or JSON text holding one.
    fn with_metadata(mut self, mut content: serde_json::Map<String, serde_json::Value>) -> Self {
        let from_data = match &self.data {
            Some(serde_json::Value::Object(o)) => Some(o.clone()),
            Some(serde_json::Value::String(t)) if t.starts_with('{') => {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(t).ok()
            }
            _ => None,
        };
        let mut take = |key: &str| {
            content
                .remove(key)
                .or_else(|| from_data.as_ref().and_then(|d| d.get(key)).cloned())
        };
        let id_text = |v: serde_json::Value| match v {
            serde_json::Value::String(s) => Ok(s),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            other => Err(other),
        };
        let mut rest = serde_json::Map::new();
        match take("sender").map(|v| chat_user(&v).ok_or(v)) {
            Some(Ok(sender)) => self.sender = Some(sender),
            Some(Err(v)) => {
                rest.insert("sender".into(), v);
            }
            None => {}
        }
        self.receiver = take("receiver");
        self.chat_session = take("chat_session");
        self.operation_type = take("operation_type");
        for (key, slot) in [
            ("message_id", &mut self.message_id),
            ("parent_message_id", &mut self.parent_message_id),
        ] {
            match take(key).map(id_text) {
                Some(Ok(id)) => *slot = Some(id),
                Some(Err(v)) => {
                    rest.insert(key.into(), v);
                }
                None => {}
            }
        }
        self.files = take("files");
        self.delete_file_id_list = take("delete_file_id_list");
        content.extend(rest);
        self.other = content;
        self
    }

    /// About how many bytes the message holds (for the queue's byte budget).
    fn bytes(&self) -> usize {
        let opt = |v: &Option<serde_json::Value>| v.as_ref().map_or(0, value_bytes);
        std::mem::size_of::<Chat>()
            + opt(&self.data)
            + opt(&self.receiver)
            + opt(&self.chat_session)
            + opt(&self.operation_type)
            + opt(&self.files)
            + opt(&self.delete_file_id_list)
            + self.message_id.as_ref().map_or(0, String::len)
            + self.parent_message_id.as_ref().map_or(0, String::len)
            + self
                .other
                .iter()
                .map(|(k, v)| k.len() + value_bytes(v))
                .sum::<usize>()
    }

    /// The text, when `data` is a string.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Chat, Source};
    /// assert_eq!(Chat::new(Source::Channel("c".into()), serde_json::json!("yo")).text(), Some("yo"));
    /// ```
    pub fn text(&self) -> Option<&str> {
        self.data.as_ref()?.as_str()
    }
}

/// 23–27: a metadata message. Its payload is undocumented, so it is kept as JSON: the
/// message's `content` (or, without one, the message's other keys).
///
/// ```
/// use zoom_rtms_webhooks::client::Metadata;
/// use zoom_rtms_webhooks::handshake::MediaKind;
/// let m = Metadata::parse(br#"{"msg_type":23,"content":{"timestamp":5,"lid":"en"}}"#).unwrap();
/// assert_eq!(m.kind, MediaKind::Audio);
/// assert_eq!(m.timestamp, Some(5));
/// assert_eq!(m.content.unwrap()["lid"], "en");
/// assert!(Metadata::parse(br#"{"msg_type":14}"#).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// What it is about: 23 audio, 24 video, 25 screen share, 26 transcript, 27 chat.
    pub kind: MediaKind,
    /// `timestamp` (ms), in `content` or beside it.
    pub timestamp: Option<i64>,
    /// `content` as sent (or the message's keys but `msg_type`); `None` when the message is
    /// longer than 64 KiB or not a JSON object.
    pub content: Option<serde_json::Value>,
}

impl Metadata {
    /// Reads a metadata message (23–27); `None` for another message type or a frame that is
    /// not JSON. A frame longer than 64 KiB keeps only its kind.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Metadata;
    /// assert_eq!(Metadata::parse(br#"{"msg_type":27,"x":1}"#).unwrap().content, Some(serde_json::json!({"x":1})));
    /// ```
    pub fn parse(frame: &[u8]) -> Option<Metadata> {
        Self::of(ServerMessage::parse(frame).ok()?.msg_type(), frame)
    }

    /// A frame of type `msg_type` as metadata, when it is 23–27.
    fn of(msg_type: MsgType, frame: &[u8]) -> Option<Metadata> {
        let kind = match msg_type {
            MsgType::MetaDataAudio => MediaKind::Audio,
            MsgType::MetaDataVideo => MediaKind::Video,
            MsgType::MetaDataShare => MediaKind::Deskshare,
            MsgType::MetaDataTranscript => MediaKind::Transcript,
            MsgType::MetaDataChat => MediaKind::Chat,
            _ => return None,
        };
        let mut whole = match serde_json::from_slice::<serde_json::Value>(frame) {
            Ok(serde_json::Value::Object(o)) if frame.len() <= OTHER_MAX => Some(o),
            _ => None,
        };
        let top_ts = whole
            .as_ref()
            .and_then(|o| o.get("timestamp"))
            .and_then(serde_json::Value::as_i64);
        let content = whole.as_mut().map(|o| {
            o.remove("msg_type");
            match o.remove("content") {
                Some(c) => c,
                None => serde_json::Value::Object(std::mem::take(o)),
            }
        });
        let timestamp = content
            .as_ref()
            .and_then(|c| c.get("timestamp"))
            .and_then(serde_json::Value::as_i64)
            .or(top_ts);
        Some(Metadata {
            kind,
            timestamp,
            content,
        })
    }
}

/// Decoded audio, video or screen-share data (14–16). Read it with the parameters of the last
/// [`Item::Connected`].
///
/// ```
/// use zoom_rtms_webhooks::client::{MediaFrame, Source};
/// let f = MediaFrame::new(Source::User { id: Some(1), name: None }, Some(20), bytes::Bytes::from_static(b"pcm"));
/// assert_eq!(&f.data[..], b"pcm");
/// assert_eq!(f.length, None);
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
    /// `length`: the payload's size in bytes as Zoom states it (sent since May 2026; `None`
    /// before). Compare it with `data.len()` to notice a truncated payload.
    pub length: Option<i64>,
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
            length: None,
        }
    }
}

/// An event update (6), its type read with the stream's product; the event itself is kept as
/// its JSON text and read again with [`event`](EventUpdate::event). Serializes as that JSON
/// object, as Zoom sent it.
///
/// ```
/// use zoom_rtms_webhooks::client::EventUpdate;
/// use zoom_rtms_webhooks::Product;
/// let e = EventUpdate::new(Product::Meeting, r#"{"event_type":2,"user_id":5}"#).unwrap();
/// assert_eq!(e.event().unwrap().user_id(), Some(5));
/// assert_eq!(e.event_type_code(), Some(2));
/// assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"event_type":2,"user_id":5}"#);
/// ```
#[derive(Debug, Clone)]
pub struct EventUpdate {
    event_type: EventType,
    code: Option<i64>,
    timestamp: Option<i64>,
    raw: Box<RawValue>,
}

impl PartialEq for EventUpdate {
    fn eq(&self, other: &Self) -> bool {
        self.event_type == other.event_type
            && self.code == other.code
            && self.timestamp == other.timestamp
            && self.raw.get() == other.raw.get()
    }
}

impl Eq for EventUpdate {}

impl Serialize for EventUpdate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
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
            raw: raw_value(e.raw()),
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
        self.raw.get()
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
        Event::parse(self.raw.get())
    }
}

/// `raw` (an event object the parser already read) as a raw JSON value.
fn raw_value(raw: &str) -> Box<RawValue> {
    RawValue::from_string(raw.to_owned())
        .unwrap_or_else(|_| RawValue::from_string("{}".to_owned()).expect("valid JSON"))
}

/// Turns borrowed server messages into items: names shared per participant, media decoded
/// into [`Bytes`] split off one reused buffer.
pub(crate) struct Converter {
    product: Product,
    names: HashSet<Arc<str>>,
    /// The bytes of the names and channel ids in `names`.
    names_bytes: usize,
    arena: BytesMut,
    /// The stream's roster, updated from the event updates converted (shared with the
    /// stream's handles).
    roster: Option<Arc<std::sync::Mutex<super::Roster>>>,
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
            roster: None,
        }
    }

    /// Keeps `roster` up to date with the event updates converted.
    pub(crate) fn with_roster(mut self, roster: Arc<std::sync::Mutex<super::Roster>>) -> Self {
        self.roster = Some(roster);
        self
    }

    fn event(&mut self, e: &crate::protocol::events::Event<'_>) -> Item {
        let update = EventUpdate::of(self.product, e);
        if let Some(roster) = &self.roster {
            if let Some(change) = update.roster_change() {
                roster
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .apply(&change);
            }
        }
        Item::Event(update)
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
            length: m.length,
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
                source: self.source(t.channel_id.as_deref(), t.user_id, t.user_name.as_deref()),
                timestamp: t.timestamp,
                start_time: t.start_time,
                end_time: t.end_time,
                language: t.language,
                text: t.text.map(Cow::into_owned).unwrap_or_default(),
            })),
            ServerMessage::Chat(c) => {
                let mut chat = Chat::new(
                    self.source(None, c.user_id, c.user_name.as_deref()),
                    serde_json::Value::Null,
                );
                chat.timestamp = c.timestamp;
                chat.data = c.data.map(|d| match d {
                    ChatData::Text(t) => serde_json::Value::String(t.into_owned()),
                    ChatData::Json(v) => v,
                });
                Item::Chat(Box::new(chat.with_metadata(chat_content_extra(frame))))
            }
            ServerMessage::EventUpdate(e) => self.event(&e),
            ServerMessage::StreamStateUpdate(u) | ServerMessage::StreamStateResponse(u) => {
                Item::StreamState {
                    state: u.state,
                    reason: u.reason,
                    timestamp: u.timestamp,
                }
            }
            ServerMessage::SessionStateUpdate(u) | ServerMessage::SessionStateResponse(u) => {
                Item::SessionState {
                    state: u.state,
                    stop_reason: u.stop_reason,
                    timestamp: u.timestamp,
                }
            }
            ServerMessage::VideoSubscriptionResponse(v) => Item::VideoSubscription {
                user_id: v.user_id,
                status: v.status.code,
                reason: v.status.reason.map(Cow::into_owned),
                subscribe: v.subscribe,
                timestamp: v.timestamp,
            },
            // Kept up to `OTHER_MAX`, copied (the frame may be a slice of the socket's read
            // buffer, which a shared slice would keep alive whole); a larger frame is reported
            // without its bytes, so a full queue of them stays small.
            other => match Metadata::of(other.msg_type(), frame) {
                Some(m) => Item::Metadata(Box::new(m)),
                None => Item::Other {
                    msg_type: other.msg_type(),
                    raw: if frame.len() <= OTHER_MAX {
                        Bytes::copy_from_slice(frame)
                    } else {
                        Bytes::new()
                    },
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

    fn chat(frame: &'static [u8]) -> Chat {
        let mut c = Converter::new(Product::Meeting);
        let msg = ServerMessage::parse(frame).unwrap();
        match c.convert(msg, &Bytes::from_static(frame)) {
            Some(Item::Chat(chat)) => *chat,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chat_keeps_every_content_key_zoom_sent() {
        let c = chat(
            br#"{"msg_type":18,"content":{"user_id":1,"user_name":"Ann","timestamp":5,"data":"hi",
            "sender":{"user_id":"16778240","user_name":"Ann"},"receiver":{"user_id":0,"user_name":"Everyone"},
            "chat_session":{"session_id":"s1"},"operation_type":1,"message_id":"m2","parent_message_id":17,
            "files":[{"file_id":"f"}],"delete_file_id_list":["g"],"extra_key":{"x":[1]}}}"#,
        );
        assert_eq!(c.text(), Some("hi"));
        assert_eq!(
            c.sender,
            Some(Source::User {
                id: Some(16778240),
                name: Some("Ann".into())
            })
        );
        assert_eq!(c.message_id.as_deref(), Some("m2"));
        assert_eq!(c.parent_message_id.as_deref(), Some("17"));
        assert_eq!(c.operation_type, Some(serde_json::json!(1)));
        assert_eq!(c.files, Some(serde_json::json!([{"file_id":"f"}])));
        assert_eq!(c.delete_file_id_list, Some(serde_json::json!(["g"])));
        assert_eq!(c.other.len(), 1);
        // Flat, with Zoom's names: what was sent comes back.
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"user_id":1,"user_name":"Ann","timestamp":5,"data":"hi",
                "sender":{"user_id":16778240,"user_name":"Ann"},"receiver":{"user_id":0,"user_name":"Everyone"},
                "chat_session":{"session_id":"s1"},"operation_type":1,"message_id":"m2","parent_message_id":"17",
                "files":[{"file_id":"f"}],"delete_file_id_list":["g"],"extra_key":{"x":[1]}})
        );
        assert!(
            Item::Chat(Box::new(c.clone())).cost()
                > Item::Chat(Box::new(Chat::new(
                    c.source.clone(),
                    serde_json::json!("hi")
                )))
                .cost()
        );
    }

    #[test]
    fn chat_metadata_inside_data_and_odd_shapes() {
        // Metadata only in `data` (JSON text, as some samples send it) fills the typed fields.
        let c = chat(
            br#"{"msg_type":18,"content":{"timestamp":5,"data":"{\"sender\":{\"user_id\":3},\"message_id\":\"m\"}"}}"#,
        );
        assert_eq!(c.message_id.as_deref(), Some("m"));
        assert_eq!(c.sender.and_then(|s| s.user_id()), Some(3));
        assert!(c.other.is_empty());
        // A sender that is not an object, and an id that is neither string nor number, are
        // kept as sent, untyped; no panic.
        let c = chat(br#"{"msg_type":18,"content":{"sender":"Ann","message_id":[1],"data":"x"}}"#);
        assert_eq!(c.sender, None);
        assert_eq!(c.message_id, None);
        assert_eq!(c.other["sender"], "Ann");
        assert_eq!(c.other["message_id"], serde_json::json!([1]));
        // No metadata: nothing more serialized than before.
        let c = chat(br#"{"msg_type":18,"content":{"user_id":2,"data":"x"}}"#);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"user_id":2,"user_name":null,"timestamp":null,"data":"x"}"#
        );
    }

    #[test]
    fn media_frames_carry_length_and_metadata_is_typed() {
        let mut c = Converter::new(Product::Meeting);
        let mut convert = |frame: &'static [u8]| {
            c.convert(
                ServerMessage::parse(frame).unwrap(),
                &Bytes::from_static(frame),
            )
        };
        let Some(Item::Audio(f)) =
            convert(br#"{"msg_type":14,"content":{"user_id":1,"data":"AAEC","length":3}}"#)
        else {
            panic!()
        };
        assert_eq!((f.data.len(), f.length), (3, Some(3)));
        let Some(Item::Metadata(m)) =
            convert(br#"{"msg_type":26,"content":{"timestamp":9,"aiInterpreter":{"lid":"fr"}}}"#)
        else {
            panic!()
        };
        assert_eq!(m.kind, MediaKind::Transcript);
        assert_eq!(m.timestamp, Some(9));
        assert_eq!(m.content.unwrap()["aiInterpreter"]["lid"], "fr");
        // Any JSON as `content`; unknown types stay `Other`.
        let Some(Item::Metadata(m)) = convert(br#"{"msg_type":25,"content":[1]}"#) else {
            panic!()
        };
        assert_eq!(
            (m.kind, m.content),
            (MediaKind::Deskshare, Some(serde_json::json!([1])))
        );
        assert!(matches!(
            convert(br#"{"msg_type":99}"#),
            Some(Item::Other { .. })
        ));
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
