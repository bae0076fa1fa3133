//! Client→server messages, serialised exactly as Zoom's
//! [RTMS event reference](https://developers.zoom.us/docs/rtms/event-reference/) documents them:
//! the fields in the documented order, integers as numbers, optional fields omitted unless set.
//! Each message's fields and the choices where Zoom's sources disagree: `docs/protocol.md`.
//!
//! The messages borrow their strings, so building one allocates nothing; [`ClientMessage::to_json`]
//! allocates the text, [`ClientMessage::write_json`] appends it to a reused buffer.
//!
//! The signalling handshake (message type 1) is
//! [`handshake::SignalingHandshakeRequest`](crate::handshake::SignalingHandshakeRequest), shared
//! with the webhook half; it implements [`ClientMessage`] too.
//!
//! ```
//! use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
//! use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, ClientReadyAck};
//! use zoom_rtms_webhooks::Product;
//!
//! let creds = Credentials::new("client_id", "client_secret").unwrap();
//! let hello = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m-uuid==", "stream-1")
//!     .with_buffer_data(false);
//! assert!(ClientMessage::to_json(&hello).starts_with(
//!     r#"{"msg_type":1,"protocol_version":1,"sequence":1,"meeting_uuid":"m-uuid==","rtms_stream_id":"stream-1","signature":""#
//! ));
//!
//! let mut buf = Vec::new();
//! ClientReadyAck::new("stream-1").write_json(&mut buf);
//! assert_eq!(buf, br#"{"msg_type":7,"rtms_stream_id":"stream-1"}"#);
//! ```

use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::incoming::{KeepAliveRequest, ParseError};
use super::media::MediaParams;
use crate::codes::MsgType;
use crate::event::IdField;
use crate::handshake::MediaTypes;
// Message type 1, where the webhook half builds it (no `protocol` feature needed there).
pub use crate::handshake::SignalingHandshakeRequest;
use crate::lenient::{Bool, Int, Obj, Str};

/// A message the client sends: its type and its JSON text.
///
/// ```
/// use zoom_rtms_webhooks::codes::MsgType;
/// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, StreamCloseRequest};
/// let close = StreamCloseRequest::new("s-1");
/// assert_eq!(close.msg_type().code(), 21);
/// assert_eq!(close.to_json(), r#"{"msg_type":21,"rtms_stream_id":"s-1"}"#);
/// ```
pub trait ClientMessage: Serialize {
    /// The message type.
    fn msg_type(&self) -> MsgType;

    /// The JSON text to send as one WebSocket text frame.
    fn to_json(&self) -> String {
        let mut buf = Vec::with_capacity(128);
        self.write_json(&mut buf);
        // serde_json writes UTF-8 only.
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Appends the JSON text to `out` (for a reused buffer).
    fn write_json(&self, out: &mut Vec<u8>) {
        // Cannot fail: only strings, integers, booleans and raw JSON scalars are written.
        let _ = serde_json::to_writer(out, self);
    }
}

impl ClientMessage for SignalingHandshakeRequest {
    fn msg_type(&self) -> MsgType {
        MsgType::SignalingHandshakeRequest
    }
}

/// The header of the data handshake (the fields it shares with message type 1): version, sequence, id key(s), stream id, signature.
#[derive(Clone, Copy)]
struct Header<'a> {
    protocol_version: i64,
    sequence: i64,
    id_keys: &'a [IdField],
    instance_id: &'a str,
    rtms_stream_id: &'a str,
    signature: &'a str,
}

impl Header<'_> {
    fn len(&self) -> usize {
        4 + self.id_keys.len().max(1)
    }

    fn write<M: SerializeMap>(&self, map: &mut M, msg_type: i64) -> Result<(), M::Error> {
        map.serialize_entry("msg_type", &msg_type)?;
        map.serialize_entry("protocol_version", &self.protocol_version)?;
        map.serialize_entry("sequence", &self.sequence)?;
        if self.id_keys.is_empty() {
            map.serialize_entry(IdField::MeetingUuid.as_str(), self.instance_id)?;
        }
        for key in self.id_keys {
            map.serialize_entry(key.as_str(), self.instance_id)?;
        }
        map.serialize_entry("rtms_stream_id", self.rtms_stream_id)?;
        map.serialize_entry("signature", self.signature)
    }

    fn debug(&self, f: &mut fmt::DebugStruct<'_, '_>) {
        f.field("protocol_version", &self.protocol_version)
            .field("sequence", &self.sequence)
            .field("id_keys", &self.id_keys)
            .field("instance_id", &self.instance_id)
            .field("rtms_stream_id", &self.rtms_stream_id)
            .field("signature", &"<redacted>");
    }
}

macro_rules! header_setters {
    ($ty:ident, $example:expr) => {
        impl<'a> $ty<'a> {
            /// Replaces `protocol_version` (default 1).
            ///
            /// ```
            /// use zoom_rtms_webhooks::event::IdField;
            #[doc = concat!("use zoom_rtms_webhooks::protocol::outgoing::", stringify!($ty), ";")]
            #[doc = concat!("let m = ", $example, ".with_protocol_version(2);")]
            /// assert_eq!(m.protocol_version(), 2);
            /// ```
            #[must_use]
            pub fn with_protocol_version(mut self, version: i64) -> Self {
                self.header.protocol_version = version;
                self
            }

            /// Replaces `sequence`.
            ///
            /// ```
            /// use zoom_rtms_webhooks::event::IdField;
            #[doc = concat!("use zoom_rtms_webhooks::protocol::outgoing::", stringify!($ty), ";")]
            #[doc = concat!("let m = ", $example, ".with_sequence(42);")]
            /// assert_eq!(m.sequence(), 42);
            /// ```
            #[must_use]
            pub fn with_sequence(mut self, sequence: i64) -> Self {
                self.header.sequence = sequence;
                self
            }

            /// The `protocol_version`.
            ///
            /// ```
            /// use zoom_rtms_webhooks::event::IdField;
            #[doc = concat!("use zoom_rtms_webhooks::protocol::outgoing::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", $example, ".protocol_version(), 1);")]
            /// ```
            pub fn protocol_version(&self) -> i64 {
                self.header.protocol_version
            }

            /// The `sequence`.
            ///
            /// ```
            /// use zoom_rtms_webhooks::event::IdField;
            #[doc = concat!("use zoom_rtms_webhooks::protocol::outgoing::", stringify!($ty), ";")]
            #[doc = concat!("let _ = ", $example, ".sequence();")]
            /// ```
            pub fn sequence(&self) -> i64 {
                self.header.sequence
            }

            /// The product's id, sent under every key of the id-key list.
            ///
            /// ```
            /// use zoom_rtms_webhooks::event::IdField;
            #[doc = concat!("use zoom_rtms_webhooks::protocol::outgoing::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", $example, ".instance_id(), \"uuid\");")]
            /// ```
            pub fn instance_id(&self) -> &'a str {
                self.header.instance_id
            }

            /// The stream id.
            ///
            /// ```
            /// use zoom_rtms_webhooks::event::IdField;
            #[doc = concat!("use zoom_rtms_webhooks::protocol::outgoing::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", $example, ".rtms_stream_id(), \"stream\");")]
            /// ```
            pub fn rtms_stream_id(&self) -> &'a str {
                self.header.rtms_stream_id
            }
        }
    };
}

/// `DATA_HAND_SHAKE_REQ` (message type 3; `docs/protocol.md#data-handshake`), the first message on
/// a media socket: the handshake header (same signature as message type 1; `sequence` 0 as in the
/// documented example), `media_type`, `payload_encryption` when set (omitted in the documented
/// example; samples send `false`), and `media_params` when given.
///
/// Nothing is validated here: call [`MediaParams::validate`] before dialling.
///
/// ```
/// use zoom_rtms_webhooks::event::IdField;
/// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, DataHandshake};
/// use zoom_rtms_webhooks::protocol::media::*;
/// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
///
/// let params = MediaParams::new().with_audio(
///     AudioParams::new()
///         .with_content_type(MediaContentType::RawAudio)
///         .with_sample_rate(SampleRate::Sr16k)
///         .with_channel(AudioChannel::Mono)
///         .with_codec(Codec::L16)
///         .with_data_opt(DataOption::AudioMixedStream)
///         .with_send_rate(20),
/// );
/// let req = DataHandshake::new(&[IdField::MeetingUuid], "m", "s", "sig", MediaTypes::AUDIO)
///     .with_media_params(&params)
///     .with_payload_encryption(false);
/// assert_eq!(
///     req.to_json(),
///     r#"{"msg_type":3,"protocol_version":1,"sequence":0,"meeting_uuid":"m","rtms_stream_id":"s","signature":"sig","media_type":1,"payload_encryption":false,"media_params":{"audio":{"content_type":2,"sample_rate":1,"channel":1,"codec":1,"data_opt":1,"send_rate":20}}}"#
/// );
/// ```
#[derive(Clone, Copy)]
pub struct DataHandshake<'a> {
    header: Header<'a>,
    media_type: MediaTypes,
    payload_encryption: Option<bool>,
    media_params: Option<&'a MediaParams>,
}

impl<'a> DataHandshake<'a> {
    /// The request for `media_type`, signed like the signalling handshake.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// use zoom_rtms_webhooks::protocol::outgoing::DataHandshake;
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// let m = DataHandshake::new(&[IdField::MeetingUuid], "m", "s", "sig", MediaTypes::ALL);
    /// assert_eq!(m.sequence(), 0);
    /// assert_eq!(m.media_type(), MediaTypes::ALL);
    /// ```
    pub fn new(
        id_keys: &'a [IdField],
        instance_id: &'a str,
        rtms_stream_id: &'a str,
        signature: &'a str,
        media_type: MediaTypes,
    ) -> Self {
        DataHandshake {
            header: Header {
                protocol_version: i64::from(crate::handshake::PROTOCOL_VERSION),
                sequence: 0,
                id_keys,
                instance_id,
                rtms_stream_id,
                signature,
            },
            media_type,
            payload_encryption: None,
            media_params: None,
        }
    }

    /// The request for `media_type` on the stream of `hello`: the same id keys, ids and
    /// signature as the signalling handshake.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, DataHandshake};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let hello = SignalingHandshakeRequest::from_parts(&creds, Product::ContactCenter, "e", "s");
    /// let req = DataHandshake::for_stream(&hello, MediaTypes::AUDIO);
    /// assert_eq!(req.instance_id(), "e");
    /// assert!(req.to_json().contains(r#""engagement_id":"e","rtms_stream_id":"s","signature":""#));
    /// ```
    pub fn for_stream(hello: &'a SignalingHandshakeRequest, media_type: MediaTypes) -> Self {
        DataHandshake::new(
            hello.id_keys(),
            hello.instance_id(),
            hello.rtms_stream_id(),
            hello.signature(),
            media_type,
        )
    }

    /// Sets `payload_encryption` (omitted unless set).
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// use zoom_rtms_webhooks::protocol::outgoing::DataHandshake;
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// let m = DataHandshake::new(&[], "m", "s", "x", MediaTypes::AUDIO).with_payload_encryption(false);
    /// assert_eq!(m.payload_encryption(), Some(false));
    /// ```
    #[must_use]
    pub fn with_payload_encryption(mut self, encrypt: bool) -> Self {
        self.payload_encryption = Some(encrypt);
        self
    }

    /// Sets `media_params` (omitted unless set; the server then uses its defaults).
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// use zoom_rtms_webhooks::protocol::outgoing::DataHandshake;
    /// use zoom_rtms_webhooks::protocol::media::MediaParams;
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// let params = MediaParams::new();
    /// let m = DataHandshake::new(&[], "m", "s", "x", MediaTypes::AUDIO).with_media_params(&params);
    /// assert_eq!(m.media_params(), Some(&params));
    /// ```
    #[must_use]
    pub fn with_media_params(mut self, params: &'a MediaParams) -> Self {
        self.media_params = Some(params);
        self
    }

    /// The `media_type` bitmask.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::DataHandshake;
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// let t = MediaTypes::AUDIO | MediaTypes::TRANSCRIPT;
    /// assert_eq!(DataHandshake::new(&[], "m", "s", "x", t).media_type().bits(), 9);
    /// ```
    pub fn media_type(&self) -> MediaTypes {
        self.media_type
    }

    /// The `payload_encryption` flag, `None` when omitted.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::DataHandshake;
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// assert_eq!(DataHandshake::new(&[], "m", "s", "x", MediaTypes::AUDIO).payload_encryption(), None);
    /// ```
    pub fn payload_encryption(&self) -> Option<bool> {
        self.payload_encryption
    }

    /// The `media_params`, `None` when omitted.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::DataHandshake;
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// assert!(DataHandshake::new(&[], "m", "s", "x", MediaTypes::AUDIO).media_params().is_none());
    /// ```
    pub fn media_params(&self) -> Option<&'a MediaParams> {
        self.media_params
    }
}

header_setters!(
    DataHandshake,
    "DataHandshake::new(&[IdField::MeetingUuid], \"uuid\", \"stream\", \"sig\", zoom_rtms_webhooks::handshake::MediaTypes::AUDIO)"
);

impl Serialize for DataHandshake<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = self.header.len()
            + 1
            + usize::from(self.payload_encryption.is_some())
            + usize::from(self.media_params.is_some());
        let mut map = s.serialize_map(Some(len))?;
        self.header.write(&mut map, 3)?;
        map.serialize_entry("media_type", &self.media_type)?;
        if let Some(b) = self.payload_encryption {
            map.serialize_entry("payload_encryption", &b)?;
        }
        if let Some(p) = self.media_params {
            map.serialize_entry("media_params", p)?;
        }
        map.end()
    }
}

impl ClientMessage for DataHandshake<'_> {
    fn msg_type(&self) -> MsgType {
        MsgType::DataHandshakeRequest
    }
}

impl fmt::Debug for DataHandshake<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("DataHandshake");
        self.header.debug(&mut d);
        d.field("media_type", &self.media_type)
            .field("payload_encryption", &self.payload_encryption)
            .field("media_params", &self.media_params)
            .finish()
    }
}

/// `EVENT_SUBSCRIPTION` (message type 5; `docs/protocol.md#events`): subscribe to or unsubscribe
/// from events, `{"msg_type":5,"events":[{"event_type":2,"subscribe":true}]}`. There is no
/// response. Events 1 and 7 are sent without subscribing.
///
/// ```
/// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, EventSubscription};
/// use zoom_rtms_webhooks::protocol::events::MeetingEventType;
///
/// let sub = EventSubscription::new()
///     .subscribe(MeetingEventType::ActiveSpeakerChange)
///     .unsubscribe(MeetingEventType::ParticipantJoin);
/// assert_eq!(
///     sub.to_json(),
///     r#"{"msg_type":5,"events":[{"event_type":2,"subscribe":true},{"event_type":3,"subscribe":false}]}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSubscription {
    events: Vec<(i64, bool)>,
}

impl EventSubscription {
    /// An empty subscription message.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::EventSubscription;
    /// assert!(EventSubscription::new().events().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `{"event_type":<code>,"subscribe":true}` (an event type of any product's table,
    /// or a raw code).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::EventSubscription;
    /// use zoom_rtms_webhooks::protocol::events::ContactCenterEventType;
    /// let s = EventSubscription::new().subscribe(ContactCenterEventType::UserHold).subscribe(40);
    /// assert_eq!(s.events(), &[(12, true), (40, true)]);
    /// ```
    #[must_use]
    pub fn subscribe(mut self, event_type: impl Into<i64>) -> Self {
        self.events.push((event_type.into(), true));
        self
    }

    /// Adds `{"event_type":<code>,"subscribe":false}`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::EventSubscription;
    /// assert_eq!(EventSubscription::new().unsubscribe(8).events(), &[(8, false)]);
    /// ```
    #[must_use]
    pub fn unsubscribe(mut self, event_type: impl Into<i64>) -> Self {
        self.events.push((event_type.into(), false));
        self
    }

    /// The `(event_type, subscribe)` pairs, in order.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::EventSubscription;
    /// assert_eq!(EventSubscription::new().subscribe(2).events(), &[(2, true)]);
    /// ```
    pub fn events(&self) -> &[(i64, bool)] {
        &self.events
    }
}

struct EventList<'a>(&'a [(i64, bool)]);

impl Serialize for EventList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Item(i64, bool);
        impl Serialize for Item {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("event_type", &self.0)?;
                map.serialize_entry("subscribe", &self.1)?;
                map.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (code, on) in self.0 {
            seq.serialize_element(&Item(*code, *on))?;
        }
        seq.end()
    }
}

impl Serialize for EventSubscription {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("msg_type", &5)?;
        map.serialize_entry("events", &EventList(&self.events))?;
        map.end()
    }
}

impl ClientMessage for EventSubscription {
    fn msg_type(&self) -> MsgType {
        MsgType::EventSubscription
    }
}

/// Messages of the form `{"msg_type":N,"<key>":"<value>"}`.
macro_rules! id_message {
    ($(#[$meta:meta])* $ty:ident, $code:literal, $variant:expr, $key:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty<'a> {
            $key: &'a str,
        }

        impl<'a> $ty<'a> {
            #[doc = concat!("The message for `", stringify!($key), "`.")]
            ///
            /// ```
            #[doc = concat!("use zoom_rtms_webhooks::protocol::outgoing::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::new(\"x\").", stringify!($key), "(), \"x\");")]
            /// ```
            pub fn new($key: &'a str) -> Self {
                $ty { $key }
            }

            #[doc = concat!("The `", stringify!($key), "`.")]
            ///
            /// ```
            #[doc = concat!("use zoom_rtms_webhooks::protocol::outgoing::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::new(\"y\").", stringify!($key), "(), \"y\");")]
            /// ```
            pub fn $key(&self) -> &'a str {
                self.$key
            }
        }

        impl Serialize for $ty<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("msg_type", &$code)?;
                map.serialize_entry(stringify!($key), self.$key)?;
                map.end()
            }
        }

        impl ClientMessage for $ty<'_> {
            fn msg_type(&self) -> MsgType {
                $variant
            }
        }
    };
}

id_message!(
    /// `CLIENT_READY_ACK` (message type 7; `docs/protocol.md#client-ready-ack`), on the
    /// **signalling** socket after each successful data handshake:
    /// `{"msg_type":7,"rtms_stream_id":"…"}`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, ClientReadyAck};
    /// assert_eq!(ClientReadyAck::new("s").to_json(), r#"{"msg_type":7,"rtms_stream_id":"s"}"#);
    /// ```
    ClientReadyAck,
    7,
    MsgType::ClientReadyAck,
    rtms_stream_id
);

id_message!(
    /// `SESSION_STATE_REQ` (message type 10; `docs/protocol.md#stream-and-session-state`):
    /// `{"msg_type":10,"rtms_session_id":"…"}`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, SessionStateRequest};
    /// assert_eq!(SessionStateRequest::new("x").to_json(), r#"{"msg_type":10,"rtms_session_id":"x"}"#);
    /// ```
    SessionStateRequest,
    10,
    MsgType::SessionStateRequest,
    rtms_session_id
);

id_message!(
    /// `STREAM_STATE_REQ` (message type 19; `docs/protocol.md#stream-and-session-state`):
    /// `{"msg_type":19,"rtms_stream_id":"…"}`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, StreamStateRequest};
    /// assert_eq!(StreamStateRequest::new("s").to_json(), r#"{"msg_type":19,"rtms_stream_id":"s"}"#);
    /// ```
    StreamStateRequest,
    19,
    MsgType::StreamStateRequest,
    rtms_stream_id
);

id_message!(
    /// `STREAM_CLOSE_REQ` (message type 21; `docs/protocol.md#stream-close`): ask Zoom to end the
    /// stream; answered by message type 22. `{"msg_type":21,"rtms_stream_id":"…"}`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, StreamCloseRequest};
    /// assert_eq!(StreamCloseRequest::new("s").to_json(), r#"{"msg_type":21,"rtms_stream_id":"s"}"#);
    /// ```
    StreamCloseRequest,
    21,
    MsgType::StreamCloseRequest,
    rtms_stream_id
);

/// The timestamp to echo: a number, or the request's raw JSON value.
#[derive(Debug, Clone, Copy)]
enum Stamp<'a> {
    Int(i64),
    Raw(&'a RawValue),
}

impl Serialize for Stamp<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Stamp::Int(v) => s.serialize_i64(*v),
            Stamp::Raw(raw) => raw.serialize(s),
        }
    }
}

/// `KEEP_ALIVE_RESP` (message type 13; `docs/protocol.md#keep-alives`), on the socket the request
/// came from: `{"msg_type":13,"timestamp":…}` with the request's timestamp, and its `sequence` when
/// it had one (`{"msg_type":13,"sequence":…,"timestamp":…}`, as Zoom's own RTMS SDK answers).
/// [`echo`](KeepAliveResponse::echo) copies the request's timestamp **verbatim** (whatever its JSON
/// form), so it always matches.
///
/// ```
/// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, KeepAliveResponse};
/// assert_eq!(KeepAliveResponse::new(1727384349123).to_json(), r#"{"msg_type":13,"timestamp":1727384349123}"#);
/// assert_eq!(
///     KeepAliveResponse::new(5).with_sequence(3).to_json(),
///     r#"{"msg_type":13,"sequence":3,"timestamp":5}"#
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct KeepAliveResponse<'a> {
    timestamp: Option<Stamp<'a>>,
    sequence: Option<i64>,
}

impl<'a> KeepAliveResponse<'a> {
    /// A response carrying `timestamp`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::KeepAliveResponse;
    /// assert_eq!(KeepAliveResponse::new(5).timestamp(), Some(5));
    /// ```
    pub fn new(timestamp: i64) -> Self {
        KeepAliveResponse {
            timestamp: Some(Stamp::Int(timestamp)),
            sequence: None,
        }
    }

    /// Replaces the `sequence` echoed.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::KeepAliveResponse;
    /// assert_eq!(KeepAliveResponse::new(5).with_sequence(9).sequence(), Some(9));
    /// ```
    #[must_use]
    pub fn with_sequence(mut self, sequence: i64) -> Self {
        self.sequence = Some(sequence);
        self
    }

    /// The `sequence` echoed, if any.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::KeepAliveResponse;
    /// assert_eq!(KeepAliveResponse::new(5).sequence(), None);
    /// ```
    pub fn sequence(&self) -> Option<i64> {
        self.sequence
    }

    /// The response to `request`, echoing its `timestamp` exactly as received and its
    /// `sequence` as an integer (each omitted when the request had none).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, KeepAliveResponse};
    /// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    /// let msg = ServerMessage::parse(br#"{"msg_type":12,"timestamp":"1727384349123"}"#)?;
    /// let ServerMessage::KeepAliveRequest(req) = msg else { panic!() };
    /// assert_eq!(KeepAliveResponse::echo(&req).to_json(), r#"{"msg_type":13,"timestamp":"1727384349123"}"#);
    /// let msg = ServerMessage::parse(br#"{"msg_type":12,"sequence":41,"timestamp":1727384349123}"#)?;
    /// let ServerMessage::KeepAliveRequest(req) = msg else { panic!() };
    /// assert_eq!(
    ///     KeepAliveResponse::echo(&req).to_json(),
    ///     r#"{"msg_type":13,"sequence":41,"timestamp":1727384349123}"#
    /// );
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn echo(request: &KeepAliveRequest<'a>) -> Self {
        KeepAliveResponse {
            timestamp: request.raw_timestamp().map(Stamp::Raw),
            sequence: request.sequence(),
        }
    }

    /// The timestamp as an integer, when it is one.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::KeepAliveResponse;
    /// assert_eq!(KeepAliveResponse::new(-1).timestamp(), Some(-1));
    /// ```
    pub fn timestamp(&self) -> Option<i64> {
        match self.timestamp? {
            Stamp::Int(v) => Some(v),
            Stamp::Raw(raw) => serde_json::from_str::<crate::lenient::Int>(raw.get())
                .ok()
                .and_then(|i| i.0),
        }
    }
}

impl PartialEq for KeepAliveResponse<'_> {
    fn eq(&self, other: &Self) -> bool {
        if self.sequence != other.sequence {
            return false;
        }
        match (self.timestamp, other.timestamp) {
            (Some(Stamp::Raw(a)), Some(Stamp::Raw(b))) => a.get() == b.get(),
            (Some(Stamp::Int(a)), Some(Stamp::Int(b))) => a == b,
            (None, None) => true,
            _ => self.timestamp().is_some() && self.timestamp() == other.timestamp(),
        }
    }
}

impl Serialize for KeepAliveResponse<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields =
            1 + usize::from(self.timestamp.is_some()) + usize::from(self.sequence.is_some());
        let mut map = s.serialize_map(Some(fields))?;
        map.serialize_entry("msg_type", &13)?;
        if let Some(n) = &self.sequence {
            map.serialize_entry("sequence", n)?;
        }
        if let Some(t) = &self.timestamp {
            map.serialize_entry("timestamp", t)?;
        }
        map.end()
    }
}

impl ClientMessage for KeepAliveResponse<'_> {
    fn msg_type(&self) -> MsgType {
        MsgType::KeepAliveResponse
    }
}

/// `VIDEO_SUBSCRIPTION_REQ` (message type 28; `docs/protocol.md#individual-video`): choose the one
/// participant whose video a `data_opt` 4 media connection carries (a new request replaces the
/// previous one), or unsubscribe. `{"msg_type":28,"user_id":…,"subscribe":true,"timestamp":…}`; the
/// timestamp (ms, from the caller's clock) is omitted unless set.
///
/// ```
/// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, VideoSubscriptionRequest};
/// let req = VideoSubscriptionRequest::subscribe(16778240).with_timestamp(1738392033699);
/// assert_eq!(
///     req.to_json(),
///     r#"{"msg_type":28,"user_id":16778240,"subscribe":true,"timestamp":1738392033699}"#
/// );
/// assert_eq!(
///     VideoSubscriptionRequest::unsubscribe(7).to_json(),
///     r#"{"msg_type":28,"user_id":7,"subscribe":false}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSubscriptionRequest {
    user_id: i64,
    subscribe: bool,
    timestamp: Option<i64>,
}

impl VideoSubscriptionRequest {
    /// Subscribe to `user_id`'s video.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::VideoSubscriptionRequest;
    /// assert!(VideoSubscriptionRequest::subscribe(1).is_subscribe());
    /// ```
    pub fn subscribe(user_id: i64) -> Self {
        VideoSubscriptionRequest {
            user_id,
            subscribe: true,
            timestamp: None,
        }
    }

    /// Unsubscribe from `user_id`'s video.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::VideoSubscriptionRequest;
    /// assert!(!VideoSubscriptionRequest::unsubscribe(1).is_subscribe());
    /// ```
    pub fn unsubscribe(user_id: i64) -> Self {
        VideoSubscriptionRequest {
            user_id,
            subscribe: false,
            timestamp: None,
        }
    }

    /// Sets `timestamp` (ms).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::VideoSubscriptionRequest;
    /// assert_eq!(VideoSubscriptionRequest::subscribe(1).with_timestamp(9).timestamp(), Some(9));
    /// ```
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The user id.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::VideoSubscriptionRequest;
    /// assert_eq!(VideoSubscriptionRequest::subscribe(3).user_id(), 3);
    /// ```
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// `true` to subscribe, `false` to unsubscribe.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::VideoSubscriptionRequest;
    /// assert!(VideoSubscriptionRequest::subscribe(3).is_subscribe());
    /// ```
    pub fn is_subscribe(&self) -> bool {
        self.subscribe
    }

    /// The timestamp, `None` when omitted.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::VideoSubscriptionRequest;
    /// assert_eq!(VideoSubscriptionRequest::subscribe(3).timestamp(), None);
    /// ```
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
}

impl Serialize for VideoSubscriptionRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3 + usize::from(self.timestamp.is_some())))?;
        map.serialize_entry("msg_type", &28)?;
        map.serialize_entry("user_id", &self.user_id)?;
        map.serialize_entry("subscribe", &self.subscribe)?;
        if let Some(t) = self.timestamp {
            map.serialize_entry("timestamp", &t)?;
        }
        map.end()
    }
}

impl ClientMessage for VideoSubscriptionRequest {
    fn msg_type(&self) -> MsgType {
        MsgType::VideoSubscriptionRequest
    }
}

// ---------------------------------------------------------------------------------------------
// Reading (the server's side: a simulator checks what a client sent)
// ---------------------------------------------------------------------------------------------

/// The header of a received handshake (message type 1 or 3), read tolerantly.
///
/// ```
/// use zoom_rtms_webhooks::event::IdField;
/// use zoom_rtms_webhooks::protocol::outgoing::ClientRequest;
/// let req = ClientRequest::parse(br#"{"msg_type":1,"protocol_version":1,"sequence":7,"session_id":"s","meeting_uuid":"s","rtms_stream_id":"r","signature":"ab"}"#)?;
/// let ClientRequest::SignalingHandshake(h) = req else { panic!() };
/// assert_eq!(h.ids, [(IdField::SessionId, "s".into()), (IdField::MeetingUuid, "s".into())]);
/// assert_eq!(h.instance_id(), Some("s"));
/// assert_eq!((h.sequence, h.signature.as_deref()), (Some(7), Some("ab")));
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
///
/// `Debug` redacts the signature (it authorises a connection to the stream).
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedHandshake<'a> {
    /// `protocol_version`.
    pub protocol_version: Option<i64>,
    /// `sequence`.
    pub sequence: Option<i64>,
    /// Every id key present (`meeting_uuid`, `webinar_uuid`, `session_id`, `engagement_id`,
    /// `call_id`) with its value, in the order received.
    pub ids: Vec<(IdField, std::borrow::Cow<'a, str>)>,
    /// `rtms_stream_id`.
    pub rtms_stream_id: Option<std::borrow::Cow<'a, str>>,
    /// `signature`.
    pub signature: Option<std::borrow::Cow<'a, str>>,
    /// `buffer_data` (message type 1).
    pub buffer_data: Option<bool>,
    /// `media_type` (message type 3).
    pub media_type: Option<MediaTypes>,
    /// `payload_encryption` (message type 3).
    pub payload_encryption: Option<bool>,
    /// `media_params` (message type 3), `None` when absent.
    pub media_params: Option<MediaParams>,
}

impl fmt::Debug for ReceivedHandshake<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedHandshake")
            .field("protocol_version", &self.protocol_version)
            .field("sequence", &self.sequence)
            .field("ids", &self.ids)
            .field("rtms_stream_id", &self.rtms_stream_id)
            .field("signature", &self.signature.as_ref().map(|_| "<redacted>"))
            .field("buffer_data", &self.buffer_data)
            .field("media_type", &self.media_type)
            .field("payload_encryption", &self.payload_encryption)
            .field("media_params", &self.media_params)
            .finish()
    }
}

impl ReceivedHandshake<'_> {
    /// The id sent under the first id key.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::ReceivedHandshake;
    /// assert_eq!(ReceivedHandshake::default().instance_id(), None);
    /// ```
    pub fn instance_id(&self) -> Option<&str> {
        self.ids.first().map(|(_, v)| v.as_ref())
    }

    /// The id sent under `key`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// use zoom_rtms_webhooks::protocol::outgoing::ReceivedHandshake;
    /// assert_eq!(ReceivedHandshake::default().id(IdField::CallId), None);
    /// ```
    pub fn id(&self, key: IdField) -> Option<&str> {
        self.ids
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_ref())
    }
}

/// A message a client sent, read tolerantly (the server's side of [`ClientMessage`]).
///
/// ```
/// use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, ClientRequest, ClientReadyAck};
/// let frame = ClientReadyAck::new("s-1").to_json();
/// assert_eq!(
///     ClientRequest::parse(frame.as_bytes())?,
///     ClientRequest::ClientReadyAck { rtms_stream_id: Some("s-1".into()) }
/// );
/// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientRequest<'a> {
    /// 1: `SIGNALING_HAND_SHAKE_REQ`.
    SignalingHandshake(ReceivedHandshake<'a>),
    /// 3: `DATA_HAND_SHAKE_REQ`.
    DataHandshake(ReceivedHandshake<'a>),
    /// 5: `EVENT_SUBSCRIPTION`: `(event_type, subscribe)` pairs (an entry without both is
    /// skipped).
    EventSubscription(Vec<(i64, bool)>),
    /// 7: `CLIENT_READY_ACK`.
    ClientReadyAck {
        /// `rtms_stream_id`.
        rtms_stream_id: Option<std::borrow::Cow<'a, str>>,
    },
    /// 10: `SESSION_STATE_REQ`.
    SessionStateRequest {
        /// `rtms_session_id`.
        rtms_session_id: Option<std::borrow::Cow<'a, str>>,
    },
    /// 13: `KEEP_ALIVE_RESP`: the timestamp's JSON text as received (compare it with the
    /// request's), and the `sequence` when it has one.
    KeepAliveResponse {
        /// `timestamp`, verbatim.
        timestamp: Option<&'a str>,
        /// `sequence`.
        sequence: Option<i64>,
    },
    /// 19: `STREAM_STATE_REQ`.
    StreamStateRequest {
        /// `rtms_stream_id`.
        rtms_stream_id: Option<std::borrow::Cow<'a, str>>,
    },
    /// 21: `STREAM_CLOSE_REQ`.
    StreamCloseRequest {
        /// `rtms_stream_id`.
        rtms_stream_id: Option<std::borrow::Cow<'a, str>>,
    },
    /// 28: `VIDEO_SUBSCRIPTION_REQ`.
    VideoSubscription {
        /// `user_id`.
        user_id: Option<i64>,
        /// `subscribe`.
        subscribe: Option<bool>,
        /// `timestamp`.
        timestamp: Option<i64>,
    },
    /// Any other `msg_type`, with the whole frame.
    Other {
        /// The message type.
        msg_type: MsgType,
        /// The frame.
        raw: &'a [u8],
    },
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct RawRequest<'a> {
    msg_type: Int,
    protocol_version: Int,
    sequence: Int,
    #[serde(borrow)]
    meeting_uuid: Str<'a>,
    #[serde(borrow)]
    webinar_uuid: Str<'a>,
    #[serde(borrow)]
    session_id: Str<'a>,
    #[serde(borrow)]
    engagement_id: Str<'a>,
    #[serde(borrow)]
    call_id: Str<'a>,
    #[serde(borrow)]
    rtms_stream_id: Str<'a>,
    #[serde(borrow)]
    rtms_session_id: Str<'a>,
    #[serde(borrow)]
    signature: Str<'a>,
    buffer_data: Bool,
    media_type: Int,
    payload_encryption: Bool,
    media_params: Option<Obj<MediaParams>>,
    events: Option<Vec<Obj<RawEvent>>>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    user_id: Int,
    subscribe: Bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct RawEvent {
    event_type: Int,
    subscribe: Bool,
}

impl<'a> ClientRequest<'a> {
    /// Parses one frame sent by a client. Only a frame that is not a JSON object with an
    /// integer `msg_type` is an error; the id keys are recorded in the order received, in
    /// the order `meeting_uuid`, `webinar_uuid`, `session_id`, `engagement_id`, `call_id` when
    /// several are sent.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::ClientRequest;
    /// use zoom_rtms_webhooks::protocol::media::SampleRate;
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// let req = ClientRequest::parse(br#"{"msg_type":3,"meeting_uuid":"m","rtms_stream_id":"r","signature":"x",
    ///   "media_type":1,"media_params":{"audio":{"sample_rate":3}}}"#)?;
    /// let ClientRequest::DataHandshake(h) = req else { panic!() };
    /// assert_eq!(h.media_type, Some(MediaTypes::AUDIO));
    /// assert_eq!(h.media_params.unwrap().audio().unwrap().sample_rate(), Some(SampleRate::Sr48k));
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn parse(frame: &'a [u8]) -> Result<Self, ParseError> {
        super::incoming::expect_object(frame)?;
        let r: RawRequest<'a> = serde_json::from_slice(frame).map_err(ParseError::Json)?;
        let code = r.msg_type.0.ok_or(ParseError::MissingMsgType)?;
        Ok(match code {
            1 | 3 => {
                let ids = [
                    (IdField::MeetingUuid, r.meeting_uuid.0),
                    (IdField::WebinarUuid, r.webinar_uuid.0),
                    (IdField::SessionId, r.session_id.0),
                    (IdField::EngagementId, r.engagement_id.0),
                    (IdField::CallId, r.call_id.0),
                ];
                let mut ids: Vec<_> = ids
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect();
                // Received order, from the key positions in the frame.
                ids.sort_by_key(|(k, _)| find(frame, k.as_str()));
                let h = ReceivedHandshake {
                    protocol_version: r.protocol_version.0,
                    sequence: r.sequence.0,
                    ids,
                    rtms_stream_id: r.rtms_stream_id.0,
                    signature: r.signature.0,
                    buffer_data: r.buffer_data.0,
                    media_type: r
                        .media_type
                        .0
                        .and_then(|b| u32::try_from(b).ok())
                        .map(MediaTypes::from_bits),
                    payload_encryption: r.payload_encryption.0,
                    media_params: r.media_params.and_then(|o| o.0),
                };
                if code == 1 {
                    ClientRequest::SignalingHandshake(h)
                } else {
                    ClientRequest::DataHandshake(h)
                }
            }
            5 => ClientRequest::EventSubscription(
                r.events
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| e.0)
                    .filter_map(|e| Some((e.event_type.0?, e.subscribe.0?)))
                    .collect(),
            ),
            7 => ClientRequest::ClientReadyAck {
                rtms_stream_id: r.rtms_stream_id.0,
            },
            10 => ClientRequest::SessionStateRequest {
                rtms_session_id: r.rtms_session_id.0,
            },
            13 => ClientRequest::KeepAliveResponse {
                timestamp: r.timestamp.map(RawValue::get),
                sequence: r.sequence.0,
            },
            19 => ClientRequest::StreamStateRequest {
                rtms_stream_id: r.rtms_stream_id.0,
            },
            21 => ClientRequest::StreamCloseRequest {
                rtms_stream_id: r.rtms_stream_id.0,
            },
            28 => ClientRequest::VideoSubscription {
                user_id: r.user_id.0,
                subscribe: r.subscribe.0,
                timestamp: r
                    .timestamp
                    .and_then(|t| serde_json::from_str::<Int>(t.get()).ok())
                    .and_then(|i| i.0),
            },
            other => ClientRequest::Other {
                msg_type: MsgType::from(other),
                raw: frame,
            },
        })
    }

    /// The message type.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::outgoing::ClientRequest;
    /// assert_eq!(ClientRequest::parse(br#"{"msg_type":21}"#)?.msg_type().code(), 21);
    /// # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
    /// ```
    pub fn msg_type(&self) -> MsgType {
        MsgType::from(match self {
            ClientRequest::SignalingHandshake(_) => 1,
            ClientRequest::DataHandshake(_) => 3,
            ClientRequest::EventSubscription(_) => 5,
            ClientRequest::ClientReadyAck { .. } => 7,
            ClientRequest::SessionStateRequest { .. } => 10,
            ClientRequest::KeepAliveResponse { .. } => 13,
            ClientRequest::StreamStateRequest { .. } => 19,
            ClientRequest::StreamCloseRequest { .. } => 21,
            ClientRequest::VideoSubscription { .. } => 28,
            ClientRequest::Other { msg_type, .. } => return *msg_type,
        })
    }
}

/// The position of `"key"` in the frame (for ordering), `usize::MAX` when absent.
fn find(frame: &[u8], key: &str) -> usize {
    let needle_len = key.len() + 2;
    frame
        .windows(needle_len)
        .position(|w| {
            w[0] == b'"' && w[needle_len - 1] == b'"' && &w[1..needle_len - 1] == key.as_bytes()
        })
        .unwrap_or(usize::MAX)
}
