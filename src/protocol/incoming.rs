//! Server→client messages: [`ServerMessage::parse`] reads one text or binary WebSocket frame.
//!
//! Parsing is tolerant (`docs/protocol.md#tolerant-parsing`): unknown fields are ignored, a field
//! of an unexpected JSON type is read as absent, an unknown `msg_type` becomes
//! [`ServerMessage::Other`], and the documented variants are all accepted (`status_code` or
//! `status`, `payload_encrypted` or `payload_encryption`, `stop_reason` or `reason`,
//! `participants[]` or top-level user fields, `content` as an object or a legacy string with the
//! user fields at the top level). Only a frame that is not a JSON object with an integer `msg_type`
//! is an error.
//!
//! Parsing is one pass over the frame into borrowed fields: strings without escapes and the
//! base64 media payload are slices of the frame, nothing is copied until
//! [`MediaData::decode_into`] decodes the payload into a buffer the caller reuses.
//!
//! ```
//! use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
//!
//! let frame = br#"{"msg_type":14,"content":{"user_id":16778240,"user_name":"Ann",
//!     "data":"AAABAAIA","timestamp":1727384349123}}"#;
//! let ServerMessage::Audio(audio) = ServerMessage::parse(frame)? else { panic!() };
//! assert_eq!(audio.user_id, Some(16778240));
//! let mut buf = Vec::new(); // reuse it for every frame
//! audio.decode_into(&mut buf)?;
//! assert_eq!(buf, [0, 0, 1, 0, 2, 0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use super::events::Event;
use super::media::{AudioFormat, AudioParams, MediaParams, TranscriptLanguage};
use crate::codes::MsgType;
// Message type 2, where the webhook half reads it (no `protocol` feature needed there).
use crate::codes::{SessionState, StatusCode, StopReason, StreamState};
pub use crate::handshake::SignalingHandshakeResponse;
use crate::lenient::{Bool, Int, Obj, Scalar, Str};

/// Media `data` (standard base64, padding optional) without its padding, and the length it
/// decodes to; `None` when it cannot be base64 (a length no base64 text has).
///
/// Decoding uses base64-simd (SIMD chosen at run time, portable fallback): on a 640-byte
/// audio frame it takes about a third of the base64 crate's time (`cargo bench --bench
/// rtms_parse --features protocol -- base64`).
pub(crate) fn base64_decoded_len(b64: &str) -> Option<(&[u8], usize)> {
    let text = b64.as_bytes();
    // Padding, when there is any, completes the last group of four.
    let unpadded = if text.len() % 4 == 0 {
        text.strip_suffix(b"==")
            .or_else(|| text.strip_suffix(b"="))
            .unwrap_or(text)
    } else {
        text
    };
    let len = base64_simd::STANDARD_NO_PAD.decoded_length(unpadded).ok()?;
    Some((unpadded, len))
}

/// Decodes what [`base64_decoded_len`] returned into `out`, exactly that long; `false` when
/// the text is not base64.
pub(crate) fn base64_decode(unpadded: &[u8], out: &mut [u8]) -> bool {
    match base64_simd::STANDARD_NO_PAD.decoded_length(unpadded) {
        Ok(len) if len == out.len() => base64_simd::STANDARD_NO_PAD
            .decode(unpadded, base64_simd::Out::from_slice(out))
            .is_ok(),
        _ => false,
    }
}

/// Why a frame is not a server message.
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::{ParseError, ServerMessage};
/// assert!(matches!(ServerMessage::parse(b"[1]"), Err(ParseError::NotAnObject)));
/// assert!(matches!(ServerMessage::parse(b"{"), Err(ParseError::Json(_))));
/// assert!(matches!(ServerMessage::parse(br#"{"msg_type":"KEEP_ALIVE_REQ"}"#), Err(ParseError::MissingMsgType)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not valid JSON (or not UTF-8).
    #[error("RTMS message is not valid JSON")]
    Json(#[source] serde_json::Error),
    /// Valid JSON, but not an object.
    #[error("RTMS message is not a JSON object")]
    NotAnObject,
    /// No integer `msg_type` (the beta mock's string names are not read).
    #[error("RTMS message has no integer `msg_type`")]
    MissingMsgType,
}

/// Why a media payload could not be decoded.
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::{DecodeError, ServerMessage};
/// let ServerMessage::Audio(a) = ServerMessage::parse(br#"{"msg_type":14,"content":{"data":"%%"}}"#)? else { panic!() };
/// assert!(matches!(a.decode_into(&mut Vec::new()), Err(DecodeError::Base64)));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message has no `data`.
    #[error("media message has no `data`")]
    NoData,
    /// `data` is not valid base64.
    #[error("media `data` is not valid base64")]
    Base64,
}

/// A message from the RTMS server, borrowing from the frame it was parsed from.
///
/// ```
/// use zoom_rtms_webhooks::codes::{StopReason, StreamState};
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
///
/// let msg = ServerMessage::parse(br#"{"msg_type":8,"state":4,"reason":6,"timestamp":1727384349123}"#)?;
/// let ServerMessage::StreamStateUpdate(update) = &msg else { panic!() };
/// assert_eq!(update.state, Some(StreamState::Terminated));
/// assert_eq!(update.reason, Some(StopReason::MeetingEnded));
/// assert_eq!(msg.msg_type().code(), 8);
///
/// let unknown = ServerMessage::parse(br#"{"msg_type":99,"x":1}"#)?;
/// assert!(matches!(unknown, ServerMessage::Other { .. }));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerMessage<'a> {
    /// 2: `SIGNALING_HAND_SHAKE_RESP`, read by
    /// [`handshake::SignalingHandshakeResponse::parse`](crate::handshake::SignalingHandshakeResponse::parse)
    /// (boxed: rare and large). A type-2 frame that it refuses (no readable status) is
    /// [`ServerMessage::Other`].
    SignalingHandshakeResponse(Box<SignalingHandshakeResponse>),
    /// 4: `DATA_HAND_SHAKE_RESP` (boxed: rare, and the largest; keeps the media variants'
    /// enum small).
    DataHandshakeResponse(Box<DataResponse<'a>>),
    /// 6: `EVENT_UPDATE` (read the event type with the stream's product).
    EventUpdate(Event<'a>),
    /// 8: `STREAM_STATE_UPDATE`.
    StreamStateUpdate(StreamStateInfo<'a>),
    /// 9: `SESSION_STATE_UPDATE`.
    SessionStateUpdate(SessionStateInfo<'a>),
    /// 11: `SESSION_STATE_RESP`.
    SessionStateResponse(SessionStateInfo<'a>),
    /// 12: `KEEP_ALIVE_REQ` (answer with [`KeepAliveResponse::echo`](super::outgoing::KeepAliveResponse::echo)).
    KeepAliveRequest(KeepAliveRequest<'a>),
    /// 14: `MEDIA_DATA_AUDIO`.
    Audio(MediaData<'a>),
    /// 15: `MEDIA_DATA_VIDEO`.
    Video(MediaData<'a>),
    /// 16: `MEDIA_DATA_SHARE`.
    Share(MediaData<'a>),
    /// 17: `MEDIA_DATA_TRANSCRIPT`.
    Transcript(Transcript<'a>),
    /// 18: `MEDIA_DATA_CHAT`.
    Chat(Chat<'a>),
    /// 20: `STREAM_STATE_RESP`.
    StreamStateResponse(StreamStateInfo<'a>),
    /// 22: `STREAM_CLOSE_RESP`.
    StreamCloseResponse(StreamCloseResponse<'a>),
    /// 29: `VIDEO_SUBSCRIPTION_RESP`.
    VideoSubscriptionResponse(VideoSubscriptionResponse<'a>),
    /// Any other `msg_type`: the metadata messages 23–27 (undocumented payloads), client→server
    /// types, and types this crate does not know. The frame is kept.
    Other {
        /// The message type.
        msg_type: MsgType,
        /// The whole frame.
        raw: &'a [u8],
    },
}

/// The status shared by the responses: `status_code` (or the legacy `status`) and the text
/// `reason`.
///
/// ```
/// use zoom_rtms_webhooks::codes::StatusCode;
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let msg = ServerMessage::parse(br#"{"msg_type":22,"rtms_stream_id":"s","status":"0","reason":"OK"}"#)?;
/// let ServerMessage::StreamCloseResponse(r) = msg else { panic!() };
/// assert_eq!(r.status.code, Some(StatusCode::Ok));
/// assert!(r.status.is_ok());
/// assert_eq!(r.status.reason.as_deref(), Some("OK"));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status<'a> {
    /// `status_code`, or `status` when absent; `None` when neither is an integer.
    pub code: Option<StatusCode>,
    /// `reason`: empty or absent on success, a text otherwise.
    pub reason: Option<Cow<'a, str>>,
}

impl Status<'_> {
    /// Whether the code is 0 (`STATUS_OK`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::Status;
    /// assert!(!Status::default().is_ok()); // no code is no success
    /// ```
    pub fn is_ok(&self) -> bool {
        self.code.is_some_and(StatusCode::is_ok)
    }
}

/// 4: `DATA_HAND_SHAKE_RESP` (`docs/protocol.md#data-handshake`): the status and the **confirmed**
/// media parameters, to be used to interpret the payloads.
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::Codec;
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let msg = ServerMessage::parse(br#"{"msg_type":4,"status_code":0,"payload_encryption":false,
///   "media_params":{"audio":{"content_type":2,"sample_rate":3,"channel":2,"codec":4,"data_opt":2,"send_rate":20}}}"#)?;
/// let ServerMessage::DataHandshakeResponse(r) = msg else { panic!() };
/// assert_eq!(r.payload_encrypted, Some(false));
/// let f = r.audio_format();
/// assert_eq!((f.codec, f.sample_rate_hz, f.channels), (Codec::Opus, Some(48_000), 2));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataResponse<'a> {
    /// `protocol_version`.
    pub protocol_version: Option<i64>,
    /// `sequence`.
    pub sequence: Option<i64>,
    /// `status_code` and `reason`.
    pub status: Status<'a>,
    /// `payload_encrypted` (documented example) or `payload_encryption` (documented table).
    pub payload_encrypted: Option<bool>,
    /// The confirmed `media_params` (empty when absent).
    pub media_params: MediaParams,
}

impl DataResponse<'_> {
    /// The confirmed audio format, the protocol's defaults filling what is absent.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let ServerMessage::DataHandshakeResponse(r) = ServerMessage::parse(br#"{"msg_type":4,"status_code":0}"#)? else { panic!() };
    /// assert_eq!(r.audio_format().l16_packet_bytes(), Some(640));
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn audio_format(&self) -> AudioFormat {
        self.media_params
            .audio()
            .map_or_else(|| AudioParams::new().format(), AudioParams::format)
    }
}

/// 8 `STREAM_STATE_UPDATE` and 20 `STREAM_STATE_RESP`
/// (`docs/protocol.md#stream-and-session-state`).
///
/// ```
/// use zoom_rtms_webhooks::codes::{StopReason, StreamState};
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let msg = ServerMessage::parse(br#"{"msg_type":20,"state":1,"rtms_stream_id":"s","timestamp":1694204592}"#)?;
/// let ServerMessage::StreamStateResponse(r) = msg else { panic!() };
/// assert_eq!(r.state, Some(StreamState::Active));
/// assert_eq!(r.rtms_stream_id.as_deref(), Some("s"));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStateInfo<'a> {
    /// `state`.
    pub state: Option<StreamState>,
    /// `reason` (or `stop_reason`) as a stop reason.
    pub reason: Option<StopReason>,
    /// `timestamp` (ms in updates; the documented response example looks like seconds).
    pub timestamp: Option<i64>,
    /// `rtms_stream_id`, when sent.
    pub rtms_stream_id: Option<Cow<'a, str>>,
}

/// 9 `SESSION_STATE_UPDATE` and 11 `SESSION_STATE_RESP`
/// (`docs/protocol.md#stream-and-session-state`).
///
/// ```
/// use zoom_rtms_webhooks::codes::{SessionState, StopReason};
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// // The field table says `reason`, the example `stop_reason`: both are read.
/// for frame in [
///     &br#"{"msg_type":9,"state":5,"stop_reason":6,"timestamp":1,"rtms_session_id":"x"}"#[..],
///     &br#"{"msg_type":9,"state":5,"reason":6,"timestamp":1,"rtms_session_id":"x"}"#[..],
/// ] {
///     let ServerMessage::SessionStateUpdate(u) = ServerMessage::parse(frame)? else { panic!() };
///     assert_eq!(u.state, Some(SessionState::Stopped));
///     assert_eq!(u.stop_reason, Some(StopReason::MeetingEnded));
/// }
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStateInfo<'a> {
    /// `state`.
    pub state: Option<SessionState>,
    /// `stop_reason` (or `reason`), sent when the session stops.
    pub stop_reason: Option<StopReason>,
    /// `timestamp` (ms).
    pub timestamp: Option<i64>,
    /// `rtms_session_id` (or the beta mock's `session_id`).
    pub rtms_session_id: Option<Cow<'a, str>>,
}

/// 12: `KEEP_ALIVE_REQ` (`docs/protocol.md#keep-alives`). Answer on the same socket with
/// [`KeepAliveResponse::echo`](super::outgoing::KeepAliveResponse::echo), which echoes the
/// `timestamp` and, when the request has one, the `sequence`.
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let ServerMessage::KeepAliveRequest(k) = ServerMessage::parse(br#"{"msg_type":12,"sequence":7,"timestamp":1727384349123}"#)? else { panic!() };
/// assert_eq!(k.timestamp(), Some(1727384349123));
/// assert_eq!(k.sequence(), Some(7));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct KeepAliveRequest<'a> {
    timestamp: Option<&'a RawValue>,
    sequence: Option<i64>,
}

impl PartialEq for KeepAliveRequest<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.timestamp.map(RawValue::get) == other.timestamp.map(RawValue::get)
            && self.sequence == other.sequence
    }
}

impl<'a> KeepAliveRequest<'a> {
    /// The `sequence`, when the request carries one as an integer. Zoom's own RTMS SDK answers
    /// a keep-alive only when it has one, and echoes it; the published message examples have
    /// none, so it is optional on input.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let ServerMessage::KeepAliveRequest(k) = ServerMessage::parse(br#"{"msg_type":12,"timestamp":1}"#)? else { panic!() };
    /// assert_eq!(k.sequence(), None);
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn sequence(&self) -> Option<i64> {
        self.sequence
    }

    /// The timestamp as an integer (ms), when it is one.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let ServerMessage::KeepAliveRequest(k) = ServerMessage::parse(br#"{"msg_type":12}"#)? else { panic!() };
    /// assert_eq!(k.timestamp(), None);
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
            .and_then(|raw| serde_json::from_str::<Int>(raw.get()).ok())
            .and_then(|i| i.0)
    }

    /// The timestamp's JSON text as received (echoed verbatim in the response).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let ServerMessage::KeepAliveRequest(k) = ServerMessage::parse(br#"{"msg_type":12,"timestamp":1.5e3}"#)? else { panic!() };
    /// assert_eq!(k.raw_timestamp().map(|r| r.get()), Some("1.5e3"));
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn raw_timestamp(&self) -> Option<&'a RawValue> {
        self.timestamp
    }
}

/// Who a media message is from: a participant (meetings, webinars, Video SDK) or a Contact
/// Center channel.
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::{ServerMessage, Speaker};
/// let ServerMessage::Audio(a) = ServerMessage::parse(br#"{"msg_type":14,"content":{"channel_id":"ch-1","data":""}}"#)? else { panic!() };
/// assert_eq!(a.speaker(), Speaker::Channel("ch-1"));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Speaker<'b> {
    /// A participant; `user_id` 0 is the mixed stream (no name is sent for it).
    User {
        /// `user_id`.
        id: Option<i64>,
        /// `user_name`.
        name: Option<&'b str>,
    },
    /// A Contact Center SIP trunk channel (`channel_id`; each party on its own channel).
    Channel(&'b str),
}

impl<'b> Speaker<'b> {
    /// A Contact Center channel when only `channel_id` is sent, else a participant.
    fn of(channel_id: Option<&'b str>, user_id: Option<i64>, user_name: Option<&'b str>) -> Self {
        match (channel_id, user_id) {
            (Some(ch), None) => Speaker::Channel(ch),
            _ => Speaker::User {
                id: user_id,
                name: user_name,
            },
        }
    }
}

/// 14–16: audio, video and screen-share data (`docs/protocol.md#media-data`). The payload stays
/// base64 text borrowed from the frame until [`decode_into`](MediaData::decode_into).
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// // A legacy frame: `content` is the base64 string, the user fields are top-level.
/// let ServerMessage::Video(v) = ServerMessage::parse(br#"{"msg_type":15,"content":"/9j/","user_name":"Ann","timestamp":40}"#)? else { panic!() };
/// assert_eq!(v.data.as_deref(), Some("/9j/"));
/// assert_eq!(v.user_name.as_deref(), Some("Ann"));
/// let mut buf = vec![1, 2, 3];
/// v.decode_into(&mut buf).unwrap();
/// assert_eq!(buf, [0xff, 0xd8, 0xff]); // a JPEG start; old contents replaced
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaData<'a> {
    /// `user_id` (0 for mixed audio).
    pub user_id: Option<i64>,
    /// `user_name`.
    pub user_name: Option<Cow<'a, str>>,
    /// Contact Center `channel_id`.
    pub channel_id: Option<Cow<'a, str>>,
    /// The base64 payload text (`data`).
    pub data: Option<Cow<'a, str>>,
    /// `length`: the payload's size in bytes before base64 (sent since May 2026).
    pub length: Option<i64>,
    /// `timestamp` (ms, server side; advances by `send_rate` per user).
    pub timestamp: Option<i64>,
}

impl MediaData<'_> {
    /// Who the data is from.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::{ServerMessage, Speaker};
    /// let ServerMessage::Audio(a) = ServerMessage::parse(br#"{"msg_type":14,"content":{"user_id":0,"data":""}}"#)? else { panic!() };
    /// assert_eq!(a.speaker(), Speaker::User { id: Some(0), name: None });
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn speaker(&self) -> Speaker<'_> {
        Speaker::of(
            self.channel_id.as_deref(),
            self.user_id,
            self.user_name.as_deref(),
        )
    }

    /// Decodes the payload into `buf`, replacing its contents and reusing its capacity (no
    /// allocation once `buf` is large enough).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let ServerMessage::Share(s) = ServerMessage::parse(br#"{"msg_type":16,"content":{"data":"aGk="}}"#)? else { panic!() };
    /// let mut buf = Vec::with_capacity(1024);
    /// s.decode_into(&mut buf).unwrap();
    /// assert_eq!(buf, b"hi");
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn decode_into(&self, buf: &mut Vec<u8>) -> Result<(), DecodeError> {
        let data = self.data.as_deref().ok_or(DecodeError::NoData)?;
        buf.clear();
        let (unpadded, len) = base64_decoded_len(data).ok_or(DecodeError::Base64)?;
        buf.resize(len, 0);
        if base64_decode(unpadded, buf) {
            Ok(())
        } else {
            buf.clear();
            Err(DecodeError::Base64)
        }
    }

    /// The payload's decoded size computed from the base64 text (without decoding).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let ServerMessage::Audio(a) = ServerMessage::parse(br#"{"msg_type":14,"content":{"data":"aGk="}}"#)? else { panic!() };
    /// assert_eq!(a.decoded_len(), Some(2));
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn decoded_len(&self) -> Option<usize> {
        let data = self.data.as_deref()?.trim_end_matches('=');
        Some(data.len() * 3 / 4)
    }
}

code_enum! {
    /// `RTMS_DATA_MESSAGE_ATTRIBUTE`: probably the `attribute` of transcript messages
    /// (unconfirmed).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::DataAttribute;
    /// assert_eq!(DataAttribute::from(2), DataAttribute::Update);
    /// ```
    pub enum DataAttribute ("zoom_rtms_webhooks::protocol::incoming::DataAttribute") {
        /// 0: none.
        None = 0 => "none",
        /// 1: new.
        New = 1 => "new",
        /// 2: update.
        Update = 2 => "update",
        /// 3: delete.
        Delete = 3 => "delete",
    }
    other = "unknown attribute";
}

serde_code!(DataAttribute);

/// 17: `MEDIA_DATA_TRANSCRIPT` (`docs/protocol.md#media-data`): one utterance of one participant
/// (or Contact Center channel). `data` is UTF-8 text, not base64.
///
/// ```
/// use zoom_rtms_webhooks::protocol::media::TranscriptLanguage;
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let ServerMessage::Transcript(t) = ServerMessage::parse(br#"{"msg_type":17,"content":{"user_id":16778240,
///   "user_name":"Ann","data":"Hello \"all\"","start_time":1000,"end_time":2500,"timestamp":1000,"language":9}}"#)? else { panic!() };
/// assert_eq!(t.text.as_deref(), Some("Hello \"all\""));
/// assert_eq!(t.language, Some(TranscriptLanguage::English));
/// assert_eq!((t.start_time, t.end_time), (Some(1000), Some(2500)));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transcript<'a> {
    /// `user_id`.
    pub user_id: Option<i64>,
    /// `user_name`.
    pub user_name: Option<Cow<'a, str>>,
    /// Contact Center `channel_id`.
    pub channel_id: Option<Cow<'a, str>>,
    /// The text (`data`).
    pub text: Option<Cow<'a, str>>,
    /// `language`.
    pub language: Option<TranscriptLanguage>,
    /// `start_time` (ms).
    pub start_time: Option<i64>,
    /// `end_time` (ms).
    pub end_time: Option<i64>,
    /// `timestamp` (ms; when the utterance began).
    pub timestamp: Option<i64>,
    /// `attribute` (unconfirmed).
    pub attribute: Option<DataAttribute>,
}

impl Transcript<'_> {
    /// Who spoke.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::{ServerMessage, Speaker};
    /// let ServerMessage::Transcript(t) = ServerMessage::parse(br#"{"msg_type":17,"content":{"channel_id":"c","data":"hi"}}"#)? else { panic!() };
    /// assert_eq!(t.speaker(), Speaker::Channel("c"));
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn speaker(&self) -> Speaker<'_> {
        Speaker::of(
            self.channel_id.as_deref(),
            self.user_id,
            self.user_name.as_deref(),
        )
    }
}

/// 18: `MEDIA_DATA_CHAT` (`docs/protocol.md#media-data`). The schema is undocumented, so `data` is
/// kept as raw JSON: a string (possibly JSON text itself) or an object.
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let frame = br#"{"msg_type":18,"content":{"timestamp":5,"data":"{\"sender\":{\"user_id\":1},\"message_id\":\"m\"}"}}"#;
/// let ServerMessage::Chat(c) = ServerMessage::parse(frame)? else { panic!() };
/// let json = c.json().unwrap();
/// assert_eq!(json["message_id"], "m");
/// assert_eq!(c.timestamp, Some(5));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Chat<'a> {
    /// `user_id`, when sent.
    pub user_id: Option<i64>,
    /// `user_name`, when sent.
    pub user_name: Option<Cow<'a, str>>,
    /// `timestamp` (ms).
    pub timestamp: Option<i64>,
    /// `data`: a string, or (not documented) any other JSON value; an array or object longer
    /// than 64 KiB of JSON text is absent (it would take about twenty times that in memory).
    pub data: Option<ChatData<'a>>,
}

/// The `data` of a chat message: text (possibly JSON text itself), or any other JSON value.
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::{ChatData, ServerMessage};
/// let ServerMessage::Chat(c) = ServerMessage::parse(br#"{"msg_type":18,"content":{"data":[1]}}"#)? else { panic!() };
/// assert_eq!(c.data, Some(ChatData::Json(serde_json::json!([1]))));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatData<'a> {
    /// A JSON string.
    Text(Cow<'a, str>),
    /// Any other JSON value.
    Json(serde_json::Value),
}

impl Chat<'_> {
    /// `data` as JSON: a string holding JSON text is parsed, another string is a JSON string,
    /// an object is itself.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let ServerMessage::Chat(c) = ServerMessage::parse(br#"{"msg_type":18,"content":{"data":"plain text"}}"#)? else { panic!() };
    /// assert_eq!(c.json(), Some(serde_json::json!("plain text")));
    /// let ServerMessage::Chat(c) = ServerMessage::parse(br#"{"msg_type":18,"content":{"data":{"a":1}}}"#)? else { panic!() };
    /// assert_eq!(c.json(), Some(serde_json::json!({"a": 1})));
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn json(&self) -> Option<serde_json::Value> {
        match self.data.as_ref()? {
            ChatData::Text(text) => Some(
                serde_json::from_str(text)
                    .unwrap_or_else(|_| serde_json::Value::String(text.to_string())),
            ),
            ChatData::Json(v) => Some(v.clone()),
        }
    }

    /// `data` as text, when it is a JSON string.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let ServerMessage::Chat(c) = ServerMessage::parse(br#"{"msg_type":18,"content":{"data":"hi"}}"#)? else { panic!() };
    /// assert_eq!(c.text(), Some("hi"));
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn text(&self) -> Option<&str> {
        match self.data.as_ref()? {
            ChatData::Text(text) => Some(text),
            ChatData::Json(_) => None,
        }
    }
}

/// 22: `STREAM_CLOSE_RESP` (`docs/protocol.md#stream-close`).
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let ServerMessage::StreamCloseResponse(r) = ServerMessage::parse(br#"{"msg_type":22,"rtms_stream_id":"s","status_code":0,"reason":"OK","timestamp":7}"#)? else { panic!() };
/// assert!(r.status.is_ok());
/// assert_eq!(r.timestamp, Some(7));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamCloseResponse<'a> {
    /// `rtms_stream_id`.
    pub rtms_stream_id: Option<Cow<'a, str>>,
    /// `status_code` and `reason`.
    pub status: Status<'a>,
    /// `timestamp`.
    pub timestamp: Option<i64>,
}

/// 29: `VIDEO_SUBSCRIPTION_RESP` (`docs/protocol.md#individual-video`).
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let ServerMessage::VideoSubscriptionResponse(r) = ServerMessage::parse(br#"{"msg_type":29,"user_id":16778240,"status_code":0,"reason":"OK","timestamp":1}"#)? else { panic!() };
/// assert_eq!(r.user_id, Some(16778240));
/// assert!(r.status.is_ok());
/// assert_eq!(r.subscribe, None);
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoSubscriptionResponse<'a> {
    /// `user_id`.
    pub user_id: Option<i64>,
    /// `status_code` and `reason`.
    pub status: Status<'a>,
    /// `subscribe`, when echoed.
    pub subscribe: Option<bool>,
    /// `timestamp`.
    pub timestamp: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// The one-pass envelope
// ---------------------------------------------------------------------------------------------

/// `data`: a string (borrowed when unescaped), a scalar, or an array or object, skipped
/// without building anything: only chat may send one, and [`chat_data`] reads it again from the
/// frame then. (A media message whose `data` is a large array had been parsed into a
/// `serde_json::Value` of twenty times its size.)
#[derive(Default)]
enum Data<'a> {
    #[default]
    None,
    Text(Cow<'a, str>),
    Json(serde_json::Value),
    Compound,
}

impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Data<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Data<'de>, E> {
                Ok(Data::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Data<'de>, E> {
                Ok(Data::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Data<'de>, E> {
                Ok(Data::Text(Cow::Owned(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Data::Compound)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Data::Compound)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Data<'de>, E> {
                Ok(Data::Json(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Data<'de>, E> {
                Ok(Data::Json(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Data<'de>, E> {
                Ok(Data::Json(v.into()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Data<'de>, E> {
                Ok(Data::Json(v.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Data<'de>, E> {
                Ok(Data::None)
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of a media message, in `content` or (legacy frames) at the top level.
#[derive(Default)]
struct MediaFields<'a> {
    user_id: Option<i64>,
    user_name: Option<Cow<'a, str>>,
    channel_id: Option<Cow<'a, str>>,
    data: Data<'a>,
    length: Option<i64>,
    timestamp: Option<i64>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    language: Option<i64>,
    attribute: Option<i64>,
}

/// The keys of a media message.
enum MediaKey {
    UserId,
    UserName,
    ChannelId,
    Data,
    Length,
    Timestamp,
    StartTime,
    EndTime,
    Language,
    Attribute,
    Content,
    Other,
}

impl<'de> Deserialize<'de> for MediaKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MediaKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MediaKey, E> {
                Ok(match v {
                    "user_id" => MediaKey::UserId,
                    "user_name" => MediaKey::UserName,
                    "channel_id" => MediaKey::ChannelId,
                    "data" => MediaKey::Data,
                    "length" => MediaKey::Length,
                    "timestamp" => MediaKey::Timestamp,
                    "start_time" => MediaKey::StartTime,
                    "end_time" => MediaKey::EndTime,
                    "language" => MediaKey::Language,
                    "attribute" => MediaKey::Attribute,
                    "content" => MediaKey::Content,
                    _ => MediaKey::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'a> MediaFields<'a> {
    /// Reads the value of `key` in place (a repeated key: the last wins); `false` for a key
    /// that is no media field (its value is then still to be read).
    fn read<'de: 'a, A: MapAccess<'de>>(
        &mut self,
        key: &MediaKey,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        match key {
            MediaKey::UserId => self.user_id = map.next_value::<Int>()?.0,
            MediaKey::UserName => self.user_name = map.next_value::<Str<'a>>()?.0,
            MediaKey::ChannelId => self.channel_id = map.next_value::<Str<'a>>()?.0,
            MediaKey::Data => self.data = map.next_value::<Data<'a>>()?,
            MediaKey::Length => self.length = map.next_value::<Int>()?.0,
            MediaKey::Timestamp => self.timestamp = map.next_value::<Int>()?.0,
            MediaKey::StartTime => self.start_time = map.next_value::<Int>()?.0,
            MediaKey::EndTime => self.end_time = map.next_value::<Int>()?.0,
            MediaKey::Language => self.language = map.next_value::<Int>()?.0,
            MediaKey::Attribute => self.attribute = map.next_value::<Int>()?.0,
            MediaKey::Content | MediaKey::Other => return Ok(false),
        }
        Ok(true)
    }
}

/// Reads a `content` value in place: an object into `fields`, a legacy string into `text`,
/// anything else ignored.
struct ContentSeed<'s, 'a> {
    fields: &'s mut MediaFields<'a>,
    text: &'s mut Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> de::DeserializeSeed<'de> for ContentSeed<'_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ContentSeed<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<MediaKey>()? {
            if !self.fields.read(&key, &mut map)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        *self.text = Some(Cow::Borrowed(v));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        *self.text = Some(Cow::Owned(v.to_owned()));
        Ok(())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<(), E> {
        *self.text = Some(Cow::Owned(v));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// `content` for the general envelope.
#[derive(Default)]
struct ContentSlot<'a> {
    fields: MediaFields<'a>,
    text: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for ContentSlot<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut slot = ContentSlot::default();
        d.deserialize_any(ContentSeed {
            fields: &mut slot.fields,
            text: &mut slot.text,
        })?;
        Ok(slot)
    }
}

/// A whole media frame (the hot path), read in place: `content` and the top-level media
/// fields; every other key is skipped.
struct FrameSeed<'s, 'a> {
    content: &'s mut MediaFields<'a>,
    text: &'s mut Option<Cow<'a, str>>,
    top: &'s mut MediaFields<'a>,
}

impl<'de: 'a, 'a> Visitor<'de> for FrameSeed<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<MediaKey>()? {
            if let MediaKey::Content = key {
                map.next_value_seed(ContentSeed {
                    fields: &mut *self.content,
                    text: &mut *self.text,
                })?;
            } else if !self.top.read(&key, &mut map)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The media fields merged: `content` wins, then a legacy string `content` for `data`, then
/// the top-level fields.
fn merge_media<'a>(
    content: MediaFields<'a>,
    text: Option<Cow<'a, str>>,
    top: MediaFields<'a>,
) -> MediaFields<'a> {
    let data = match (text, content.data) {
        (Some(t), _) => Data::Text(t),
        (None, Data::None) => top.data,
        (None, d) => d,
    };
    MediaFields {
        user_id: content.user_id.or(top.user_id),
        user_name: content.user_name.or(top.user_name),
        channel_id: content.channel_id.or(top.channel_id),
        data,
        length: content.length.or(top.length),
        timestamp: content.timestamp.or(top.timestamp),
        start_time: content.start_time.or(top.start_time),
        end_time: content.end_time.or(top.end_time),
        language: content.language.or(top.language),
        attribute: content.attribute.or(top.attribute),
    }
}

/// Every top-level field of every server message, read in one pass.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Envelope<'a> {
    msg_type: Int,
    protocol_version: Int,
    sequence: Int,
    status_code: Int,
    status: Int,
    #[serde(borrow)]
    reason: Scalar<'a>,
    stop_reason: Int,
    state: Int,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    rtms_stream_id: Str<'a>,
    #[serde(borrow)]
    rtms_session_id: Str<'a>,
    #[serde(borrow)]
    session_id: Str<'a>,
    user_id: Int,
    #[serde(borrow)]
    user_name: Str<'a>,
    #[serde(borrow)]
    channel_id: Str<'a>,
    subscribe: Bool,
    payload_encrypted: Bool,
    payload_encryption: Bool,
    /// Kept as text and read only for msg_type 4: a `media_params` the typed reader refuses
    /// (a duplicate key inside, say) is then absent, instead of failing the whole frame.
    #[serde(borrow)]
    media_params: Option<&'a RawValue>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow)]
    content: ContentSlot<'a>,
    #[serde(borrow)]
    data: Data<'a>,
    length: Int,
    start_time: Int,
    end_time: Int,
    language: Int,
}

fn int_of(raw: Option<&RawValue>) -> Option<i64> {
    let raw = raw?;
    serde_json::from_str::<Int>(raw.get())
        .ok()
        .and_then(|i| i.0)
}

impl<'a> Envelope<'a> {
    fn status(&mut self) -> Status<'a> {
        Status {
            code: self.status_code.0.or(self.status.0).map(StatusCode::from),
            reason: std::mem::take(&mut self.reason).text(),
        }
    }

    fn timestamp(&self) -> Option<i64> {
        int_of(self.timestamp)
    }

    fn media(self) -> MediaFields<'a> {
        let timestamp = self.timestamp();
        let top = MediaFields {
            user_id: self.user_id.0,
            user_name: self.user_name.0,
            channel_id: self.channel_id.0,
            data: self.data,
            length: self.length.0,
            timestamp,
            start_time: self.start_time.0,
            end_time: self.end_time.0,
            language: self.language.0,
            attribute: None,
        };
        merge_media(self.content.fields, self.content.text, top)
    }
}

/// The longest array or object, as JSON text, a chat message's `data` is read into a
/// `serde_json::Value` from (which takes up to about twenty times the text's size); a longer one
/// reads as absent.
pub(crate) const CHAT_JSON_MAX: usize = 64 * 1024;

/// A chat message's `data` array or object, read again from the frame: `content.data` when it
/// is one, else the top-level `data` (as the one pass merges them); absent when its text is
/// longer than [`CHAT_JSON_MAX`] (or a key is repeated, which the one pass tolerates).
fn chat_data(frame: &[u8]) -> Option<serde_json::Value> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(borrow, default)]
        content: Option<&'a RawValue>,
        #[serde(borrow, default)]
        data: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Content<'a> {
        #[serde(borrow, default)]
        data: Option<&'a RawValue>,
    }
    let compound = |raw: &&RawValue| raw.get().starts_with(['[', '{']);
    let whole: Raw<'_> = serde_json::from_slice(frame).ok()?;
    let in_content = whole
        .content
        .filter(|c| c.get().starts_with('{'))
        .and_then(|c| serde_json::from_str::<Content<'_>>(c.get()).ok())
        .and_then(|c| c.data)
        .filter(compound);
    let raw = in_content.or(whole.data.filter(compound))?;
    if raw.get().len() > CHAT_JSON_MAX {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// The keys of a chat frame's `content` object other than those [`Chat`] reads (`user_id`,
/// `user_name`, `timestamp`, `data`): Zoom's chat metadata (`sender`, `receiver`,
/// `message_id`, ...), as sent. Empty when there are none, when `content` is not an object,
/// or when it is longer than [`CHAT_JSON_MAX`] of JSON text.
#[cfg(feature = "client")]
pub(crate) fn chat_content_extra(frame: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(borrow, default)]
        content: Option<&'a RawValue>,
    }
    let content = serde_json::from_slice::<Raw<'_>>(frame)
        .ok()
        .and_then(|r| r.content)
        .filter(|c| c.get().starts_with('{') && c.get().len() <= CHAT_JSON_MAX);
    let Some(content) = content else {
        return serde_json::Map::new();
    };
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(content.get()).unwrap_or_default();
    for known in ["user_id", "user_name", "timestamp", "data"] {
        map.remove(known);
    }
    map
}

/// The `msg_type` when it is the first key and a small non-negative integer; `None` otherwise
/// (then the full envelope reads it wherever it is).
fn leading_msg_type(frame: &[u8]) -> Option<i64> {
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while frame.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if frame.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    skip_ws(&mut i);
    let key = b"\"msg_type\"";
    if frame.get(i..i + key.len()) != Some(&key[..]) {
        return None;
    }
    i += key.len();
    skip_ws(&mut i);
    if frame.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    skip_ws(&mut i);
    let start = i;
    let mut code: i64 = 0;
    while let Some(d) = frame.get(i).filter(|b| b.is_ascii_digit()) {
        code = code * 10 + i64::from(d - b'0');
        i += 1;
        if i - start > 4 {
            return None;
        }
    }
    match frame.get(i) {
        Some(b',' | b'}' | b' ' | b'\t' | b'\r' | b'\n') if i > start => Some(code),
        _ => None,
    }
}

/// Refuses a frame that is not a JSON object (the derived readers would also accept an array):
/// [`ParseError::NotAnObject`] for other JSON, [`ParseError::Json`] for invalid JSON.
pub(crate) fn expect_object(frame: &[u8]) -> Result<(), ParseError> {
    if frame.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return Ok(());
    }
    Err(
        match serde_json::from_slice::<serde::de::IgnoredAny>(frame) {
            Ok(_) => ParseError::NotAnObject,
            Err(e) => ParseError::Json(e),
        },
    )
}

impl<'a> ServerMessage<'a> {
    /// Parses one frame (the bytes of a text or a binary WebSocket message).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let text = r#"{"msg_type":12,"timestamp":1}"#;
    /// assert!(matches!(ServerMessage::parse(text.as_bytes())?, ServerMessage::KeepAliveRequest(_)));
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn parse(frame: &'a [u8]) -> Result<Self, ParseError> {
        expect_object(frame)?;
        if let Some(code @ 14..=18) = leading_msg_type(frame) {
            // The hot path: read in place, no intermediate envelope.
            let (mut content, mut text, mut top) = Default::default();
            let mut de = serde_json::Deserializer::from_slice(frame);
            de.deserialize_map(FrameSeed {
                content: &mut content,
                text: &mut text,
                top: &mut top,
            })
            .and_then(|()| de.end())
            .map_err(ParseError::Json)?;
            return Ok(Self::media(code, merge_media(content, text, top), frame));
        }
        let mut env: Envelope<'a> = serde_json::from_slice(frame).map_err(ParseError::Json)?;
        let code = env.msg_type.0.ok_or(ParseError::MissingMsgType)?;
        Ok(match code {
            2 => match SignalingHandshakeResponse::parse(frame) {
                Ok(r) => ServerMessage::SignalingHandshakeResponse(Box::new(r)),
                Err(_) => ServerMessage::Other {
                    msg_type: MsgType::from(code),
                    raw: frame,
                },
            },
            4 => ServerMessage::DataHandshakeResponse(Box::new(DataResponse {
                protocol_version: env.protocol_version.0,
                sequence: env.sequence.0,
                status: env.status(),
                payload_encrypted: env.payload_encrypted.0.or(env.payload_encryption.0),
                media_params: env
                    .media_params
                    .and_then(|raw| serde_json::from_str::<Obj<MediaParams>>(raw.get()).ok())
                    .and_then(|params| params.0)
                    .unwrap_or_default(),
            })),
            6 => match env.event {
                Some(raw) => match Event::from_raw(raw) {
                    Ok(event) => ServerMessage::EventUpdate(event),
                    Err(_) => ServerMessage::Other {
                        msg_type: MsgType::from(code),
                        raw: frame,
                    },
                },
                None => ServerMessage::Other {
                    msg_type: MsgType::from(code),
                    raw: frame,
                },
            },
            8 | 20 => {
                let info = StreamStateInfo {
                    state: env.state.0.map(StreamState::from),
                    reason: env.reason.int().or(env.stop_reason.0).map(StopReason::from),
                    timestamp: env.timestamp(),
                    rtms_stream_id: env.rtms_stream_id.0.take(),
                };
                if code == 8 {
                    ServerMessage::StreamStateUpdate(info)
                } else {
                    ServerMessage::StreamStateResponse(info)
                }
            }
            9 | 11 => {
                let info = SessionStateInfo {
                    state: env.state.0.map(SessionState::from),
                    stop_reason: env.stop_reason.0.or(env.reason.int()).map(StopReason::from),
                    timestamp: env.timestamp(),
                    rtms_session_id: env.rtms_session_id.0.take().or(env.session_id.0.take()),
                };
                if code == 9 {
                    ServerMessage::SessionStateUpdate(info)
                } else {
                    ServerMessage::SessionStateResponse(info)
                }
            }
            12 => ServerMessage::KeepAliveRequest(KeepAliveRequest {
                timestamp: env.timestamp,
                sequence: env.sequence.0,
            }),
            14..=18 => Self::media(code, env.media(), frame),
            22 => ServerMessage::StreamCloseResponse(StreamCloseResponse {
                status: env.status(),
                timestamp: env.timestamp(),
                rtms_stream_id: env.rtms_stream_id.0,
            }),
            29 => ServerMessage::VideoSubscriptionResponse(VideoSubscriptionResponse {
                status: env.status(),
                user_id: env.user_id.0,
                subscribe: env.subscribe.0,
                timestamp: env.timestamp(),
            }),
            other => ServerMessage::Other {
                msg_type: MsgType::from(other),
                raw: frame,
            },
        })
    }

    fn media(code: i64, f: MediaFields<'a>, frame: &'a [u8]) -> Self {
        let text = |data: Data<'a>| match data {
            Data::Text(t) => Some(t),
            _ => None,
        };
        match code {
            14..=16 => {
                let media = MediaData {
                    user_id: f.user_id,
                    user_name: f.user_name,
                    channel_id: f.channel_id,
                    data: text(f.data),
                    length: f.length,
                    timestamp: f.timestamp,
                };
                match code {
                    14 => ServerMessage::Audio(media),
                    15 => ServerMessage::Video(media),
                    _ => ServerMessage::Share(media),
                }
            }
            17 => ServerMessage::Transcript(Transcript {
                user_id: f.user_id,
                user_name: f.user_name,
                channel_id: f.channel_id,
                text: text(f.data),
                language: f.language.map(TranscriptLanguage::from),
                start_time: f.start_time,
                end_time: f.end_time,
                timestamp: f.timestamp,
                attribute: f.attribute.map(DataAttribute::from),
            }),
            _ => ServerMessage::Chat(Chat {
                user_id: f.user_id,
                user_name: f.user_name,
                timestamp: f.timestamp,
                data: match f.data {
                    Data::Text(t) => Some(ChatData::Text(t)),
                    Data::Json(v) => Some(ChatData::Json(v)),
                    Data::Compound => chat_data(frame).map(ChatData::Json),
                    Data::None => None,
                },
            }),
        }
    }

    /// The message type.
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::MsgType;
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let m = ServerMessage::parse(br#"{"msg_type":12}"#)?;
    /// assert_eq!(m.msg_type(), MsgType::KeepAliveRequest);
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn msg_type(&self) -> MsgType {
        MsgType::from(match self {
            ServerMessage::SignalingHandshakeResponse(_) => 2,
            ServerMessage::DataHandshakeResponse(_) => 4,
            ServerMessage::EventUpdate(_) => 6,
            ServerMessage::StreamStateUpdate(_) => 8,
            ServerMessage::SessionStateUpdate(_) => 9,
            ServerMessage::SessionStateResponse(_) => 11,
            ServerMessage::KeepAliveRequest(_) => 12,
            ServerMessage::Audio(_) => 14,
            ServerMessage::Video(_) => 15,
            ServerMessage::Share(_) => 16,
            ServerMessage::Transcript(_) => 17,
            ServerMessage::Chat(_) => 18,
            ServerMessage::StreamStateResponse(_) => 20,
            ServerMessage::StreamCloseResponse(_) => 22,
            ServerMessage::VideoSubscriptionResponse(_) => 29,
            ServerMessage::Other { msg_type, .. } => return *msg_type,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Writing (the server's side: a simulator, or tests)
// ---------------------------------------------------------------------------------------------

/// Writes `key: value` when the value is present.
fn opt<M: SerializeMap, T: Serialize + ?Sized>(
    map: &mut M,
    key: &'static str,
    value: Option<&T>,
) -> Result<(), M::Error> {
    match value {
        Some(v) => map.serialize_entry(key, v),
        None => Ok(()),
    }
}

fn write_status<M: SerializeMap>(map: &mut M, status: &Status<'_>) -> Result<(), M::Error> {
    opt(map, "status_code", status.code.as_ref())?;
    opt(map, "reason", status.reason.as_deref())
}

/// A media message's `content` object.
struct MediaContent<'s, 'a> {
    user_id: Option<i64>,
    user_name: Option<&'s str>,
    channel_id: Option<&'s str>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    timestamp: Option<i64>,
    language: Option<TranscriptLanguage>,
    attribute: Option<DataAttribute>,
    data: Option<&'s str>,
    json: Option<&'s serde_json::Value>,
    length: Option<i64>,
    _a: std::marker::PhantomData<&'a ()>,
}

impl Serialize for MediaContent<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        opt(&mut map, "user_id", self.user_id.as_ref())?;
        opt(&mut map, "user_name", self.user_name)?;
        opt(&mut map, "channel_id", self.channel_id)?;
        opt(&mut map, "start_time", self.start_time.as_ref())?;
        opt(&mut map, "end_time", self.end_time.as_ref())?;
        opt(&mut map, "language", self.language.as_ref())?;
        opt(&mut map, "attribute", self.attribute.as_ref())?;
        opt(&mut map, "data", self.data)?;
        opt(&mut map, "data", self.json)?;
        opt(&mut map, "length", self.length.as_ref())?;
        opt(&mut map, "timestamp", self.timestamp.as_ref())?;
        map.end()
    }
}

impl<'a> MediaData<'a> {
    fn content(&self) -> MediaContent<'_, 'a> {
        MediaContent {
            user_id: self.user_id,
            user_name: self.user_name.as_deref(),
            channel_id: self.channel_id.as_deref(),
            start_time: None,
            end_time: None,
            timestamp: self.timestamp,
            language: None,
            attribute: None,
            data: self.data.as_deref(),
            json: None,
            length: self.length,
            _a: std::marker::PhantomData,
        }
    }
}

/// Writes the message as the server sends it: `msg_type` first, then the documented fields in
/// the documented order, absent fields omitted; media fields inside `content`. An
/// [`Other`](ServerMessage::Other) message is written as its frame when that is JSON text. This
/// is the server's side (a simulator); a client only parses.
///
/// ```
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let frame = r#"{"msg_type":8,"state":4,"reason":6,"timestamp":1727384349123}"#;
/// let msg = ServerMessage::parse(frame.as_bytes())?;
/// assert_eq!(msg.to_json(), frame);
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
impl Serialize for ServerMessage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let ServerMessage::Other { raw, .. } = self {
            let raw: &RawValue = std::str::from_utf8(raw)
                .ok()
                .and_then(|t| serde_json::from_str(t).ok())
                .ok_or_else(|| serde::ser::Error::custom("frame is not JSON text"))?;
            return raw.serialize(s);
        }
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("msg_type", &self.msg_type().code())?;
        match self {
            ServerMessage::SignalingHandshakeResponse(r) => {
                // The documented order; the legacy `status` and `media_urls` are written as
                // `status_code` and `media_server.server_urls`.
                opt(&mut map, "protocol_version", r.protocol_version.as_ref())?;
                opt(&mut map, "sequence", r.extra.get("sequence"))?;
                map.serialize_entry("status_code", &r.status_code)?;
                opt(&mut map, "reason", r.reason.as_deref())?;
                match r.extra.get("media_server") {
                    Some(media_server) => map.serialize_entry("media_server", media_server)?,
                    None if !r.media_server_urls.is_empty() => {
                        let urls = serde_json::json!({ "server_urls": r.media_server_urls });
                        map.serialize_entry("media_server", &urls)?;
                    }
                    None => {}
                }
                for (key, value) in &r.extra {
                    if !matches!(
                        key.as_str(),
                        "sequence" | "media_server" | "media_urls" | "status"
                    ) {
                        map.serialize_entry(key, value)?;
                    }
                }
            }
            ServerMessage::DataHandshakeResponse(r) => {
                opt(&mut map, "protocol_version", r.protocol_version.as_ref())?;
                write_status(&mut map, &r.status)?;
                opt(&mut map, "sequence", r.sequence.as_ref())?;
                opt(&mut map, "payload_encrypted", r.payload_encrypted.as_ref())?;
                if !r.media_params.is_empty() {
                    map.serialize_entry("media_params", &r.media_params)?;
                }
            }
            ServerMessage::EventUpdate(e) => {
                let raw: &RawValue =
                    serde_json::from_str(e.raw()).map_err(serde::ser::Error::custom)?;
                map.serialize_entry("event", raw)?;
            }
            ServerMessage::StreamStateUpdate(u) => {
                opt(&mut map, "state", u.state.as_ref())?;
                opt(&mut map, "reason", u.reason.as_ref())?;
                opt(&mut map, "timestamp", u.timestamp.as_ref())?;
                opt(&mut map, "rtms_stream_id", u.rtms_stream_id.as_deref())?;
            }
            ServerMessage::StreamStateResponse(u) => {
                opt(&mut map, "state", u.state.as_ref())?;
                opt(&mut map, "reason", u.reason.as_ref())?;
                opt(&mut map, "rtms_stream_id", u.rtms_stream_id.as_deref())?;
                opt(&mut map, "timestamp", u.timestamp.as_ref())?;
            }
            ServerMessage::SessionStateUpdate(u) => {
                opt(&mut map, "state", u.state.as_ref())?;
                opt(&mut map, "stop_reason", u.stop_reason.as_ref())?;
                opt(&mut map, "timestamp", u.timestamp.as_ref())?;
                opt(&mut map, "rtms_session_id", u.rtms_session_id.as_deref())?;
            }
            ServerMessage::SessionStateResponse(u) => {
                opt(&mut map, "rtms_session_id", u.rtms_session_id.as_deref())?;
                opt(&mut map, "state", u.state.as_ref())?;
                opt(&mut map, "stop_reason", u.stop_reason.as_ref())?;
                opt(&mut map, "timestamp", u.timestamp.as_ref())?;
            }
            ServerMessage::KeepAliveRequest(k) => {
                opt(&mut map, "sequence", k.sequence.as_ref())?;
                opt(&mut map, "timestamp", k.timestamp)?;
            }
            ServerMessage::Audio(m) | ServerMessage::Video(m) | ServerMessage::Share(m) => {
                map.serialize_entry("content", &m.content())?;
            }
            ServerMessage::Transcript(t) => {
                let content = MediaContent {
                    user_id: t.user_id,
                    user_name: t.user_name.as_deref(),
                    channel_id: t.channel_id.as_deref(),
                    start_time: t.start_time,
                    end_time: t.end_time,
                    timestamp: t.timestamp,
                    language: t.language,
                    attribute: t.attribute,
                    data: t.text.as_deref(),
                    json: None,
                    length: None,
                    _a: std::marker::PhantomData,
                };
                map.serialize_entry("content", &content)?;
            }
            ServerMessage::Chat(c) => {
                let (data, json) = match &c.data {
                    Some(ChatData::Text(t)) => (Some(t.as_ref()), None),
                    Some(ChatData::Json(v)) => (None, Some(v)),
                    None => (None, None),
                };
                let content = MediaContent {
                    user_id: c.user_id,
                    user_name: c.user_name.as_deref(),
                    channel_id: None,
                    start_time: None,
                    end_time: None,
                    timestamp: c.timestamp,
                    language: None,
                    attribute: None,
                    data,
                    json,
                    length: None,
                    _a: std::marker::PhantomData,
                };
                map.serialize_entry("content", &content)?;
            }
            ServerMessage::StreamCloseResponse(r) => {
                opt(&mut map, "rtms_stream_id", r.rtms_stream_id.as_deref())?;
                write_status(&mut map, &r.status)?;
                opt(&mut map, "timestamp", r.timestamp.as_ref())?;
            }
            ServerMessage::VideoSubscriptionResponse(r) => {
                opt(&mut map, "user_id", r.user_id.as_ref())?;
                write_status(&mut map, &r.status)?;
                opt(&mut map, "subscribe", r.subscribe.as_ref())?;
                opt(&mut map, "timestamp", r.timestamp.as_ref())?;
            }
            ServerMessage::Other { .. } => {}
        }
        map.end()
    }
}

impl ServerMessage<'_> {
    /// The JSON text of the message (see the `Serialize` implementation); empty for an
    /// [`Other`](ServerMessage::Other) frame that is not JSON text.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let frame = r#"{"msg_type":14,"content":{"user_id":0,"data":"AAAA","timestamp":20}}"#;
    /// assert_eq!(ServerMessage::parse(frame.as_bytes())?.to_json(), frame);
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn to_json(&self) -> String {
        let mut buf = Vec::with_capacity(128);
        self.write_json(&mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Appends the JSON text to `out` (for a reused buffer); nothing for an
    /// [`Other`](ServerMessage::Other) frame that is not JSON text.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let mut out = Vec::new();
    /// ServerMessage::parse(br#"{"msg_type":12,"timestamp":1}"#)?.write_json(&mut out);
    /// assert_eq!(out, br#"{"msg_type":12,"timestamp":1}"#);
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let len = out.len();
        if serde_json::to_writer(&mut *out, self).is_err() {
            out.truncate(len);
        }
    }
}

#[cfg(test)]
mod base64_tests {
    use super::{base64_decode, base64_decoded_len};

    fn dec(s: &str) -> Option<Vec<u8>> {
        let (unpadded, len) = base64_decoded_len(s)?;
        let mut out = vec![0; len];
        base64_decode(unpadded, &mut out).then_some(out)
    }

    #[test]
    fn padding_is_optional_but_completes_the_last_group_and_trailing_bits_are_canonical() {
        assert_eq!(dec(""), Some(vec![]));
        assert_eq!(dec("QQ=="), Some(vec![0x41]));
        assert_eq!(dec("QQ"), Some(vec![0x41]));
        assert_eq!(dec("QUI="), Some(vec![0x41, 0x42]));
        assert_eq!(dec("QUI"), Some(vec![0x41, 0x42]));
        assert_eq!(dec("QUJD"), Some(vec![0x41, 0x42, 0x43]));
        for bad in [
            "QQ=", "Q", "Q=", "Q==", "Q===", "====", "=", "==", "QUJD=", "QUJD==", "QQ==QQ==",
            "QQ=A", "QR==", "QR", "QUJ=", "QUJ", " QQ==", "QQ== ", "QQ\n==", "QU=I",
        ] {
            assert_eq!(dec(bad), None, "{bad:?}");
        }
    }
}
