//! Event types and event payloads (message types 5 and 6; `docs/protocol.md#events`).
//!
//! Event numbers are per product: Contact Center's 8–29 are not the meeting events 8–14
//! (8 is `CONSUMER_ANSWERED` there, `PARTICIPANT_VIDEO_ON` in a meeting). An [`EventType`] is
//! therefore always built for a [`Product`], and the two tables are different Rust types.
//!
//! ```
//! use zoom_rtms_webhooks::Product;
//! use zoom_rtms_webhooks::protocol::events::{ContactCenterEventType, EventType, MeetingEventType};
//!
//! assert_eq!(
//!     EventType::for_product(Product::Meeting, 8),
//!     EventType::Meeting(MeetingEventType::ParticipantVideoOn)
//! );
//! assert_eq!(
//!     EventType::for_product(Product::ContactCenter, 8),
//!     EventType::ContactCenter(ContactCenterEventType::ConsumerAnswered)
//! );
//! assert_ne!(EventType::for_product(Product::Meeting, 8), EventType::for_product(Product::ContactCenter, 8));
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::Product;
use crate::lenient::{Int, Obj, Str};

code_enum! {
    /// `RTMS_EVENT_TYPE` for meetings, webinars and Video SDK sessions (Zoom's
    /// [data types](https://developers.zoom.us/docs/rtms/data-types/)).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::MeetingEventType;
    /// assert_eq!(MeetingEventType::from(2), MeetingEventType::ActiveSpeakerChange);
    /// ```
    pub enum MeetingEventType ("zoom_rtms_webhooks::protocol::events::MeetingEventType") {
        /// 0: undefined.
        Undefined = 0 => "undefined",
        /// 1: the first packet's timestamp, the start of the session (sent without subscribing).
        FirstPacketTimestamp = 1 => "first packet timestamp",
        /// 2: the active speaker changed.
        ActiveSpeakerChange = 2 => "active speaker change",
        /// 3: participants joined.
        ParticipantJoin = 3 => "participant join",
        /// 4: participants left (including when the meeting ends).
        ParticipantLeave = 4 => "participant leave",
        /// 5: someone started sharing their screen.
        SharingStart = 5 => "sharing start",
        /// 6: screen sharing stopped.
        SharingStop = 6 => "sharing stop",
        /// 7: a media connection was interrupted: reconnect it (sent without subscribing).
        MediaConnectionInterrupted = 7 => "media connection interrupted",
        /// 8: participants turned their camera on.
        ParticipantVideoOn = 8 => "participant video on",
        /// 9: participants turned their camera off.
        ParticipantVideoOff = 9 => "participant video off",
        /// 10: a chat group was created.
        ChatGroupCreate = 10 => "chat group create",
        /// 11: a chat group was deleted.
        ChatGroupDelete = 11 => "chat group delete",
        /// 12: members were added to a chat group.
        ChatGroupMembersAdd = 12 => "chat group members add",
        /// 13: members were removed from a chat group.
        ChatGroupMembersDelete = 13 => "chat group members delete",
        /// 14: a chat group member's status changed.
        ChatGroupMemberStatusUpdate = 14 => "chat group member status update",
    }
    other = "unknown meeting event";
}

code_enum! {
    /// `RTMS_ZCC_VOICE_EVENT_TYPE` for Contact Center voice (Zoom's
    /// [Contact Center events](https://developers.zoom.us/docs/rtms/event-reference/contact-center-events/)),
    /// plus the two universal events 1 and 7 that every product sends without subscribing. Codes
    /// 30–34 exist but could not be retrieved: they are kept as `Other`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::ContactCenterEventType;
    /// assert_eq!(ContactCenterEventType::from(12), ContactCenterEventType::UserHold);
    /// assert_eq!(ContactCenterEventType::from(31), ContactCenterEventType::Other(31));
    /// ```
    pub enum ContactCenterEventType ("zoom_rtms_webhooks::protocol::events::ContactCenterEventType") {
        /// 1: the first packet's timestamp (universal).
        FirstPacketTimestamp = 1 => "first packet timestamp",
        /// 7: a media connection was interrupted (universal).
        MediaConnectionInterrupted = 7 => "media connection interrupted",
        /// 8: the consumer answered.
        ConsumerAnswered = 8 => "consumer answered",
        /// 9: the consumer ended the call.
        ConsumerEnd = 9 => "consumer end",
        /// 10: the agent answered.
        UserAnswered = 10 => "user answered",
        /// 11: the agent ended the call.
        UserEnd = 11 => "user end",
        /// 12: the agent put the call on hold.
        UserHold = 12 => "user hold",
        /// 13: the agent resumed the call.
        UserUnhold = 13 => "user unhold",
        /// 14: monitoring started.
        MonitorStarted = 14 => "monitor started",
        /// 15: monitoring transitioned.
        MonitorTransitioned = 15 => "monitor transitioned",
        /// 16: monitoring ended.
        MonitorEnded = 16 => "monitor ended",
        /// 17: a takeover started.
        TakeoverStarted = 17 => "takeover started",
        /// 18: a transfer was initiated.
        TransferInitiated = 18 => "transfer initiated",
        /// 19: a transfer was canceled.
        TransferCanceled = 19 => "transfer canceled",
        /// 20: a transfer was accepted.
        TransferAccepted = 20 => "transfer accepted",
        /// 21: a transfer completed.
        TransferCompleted = 21 => "transfer completed",
        /// 22: a transfer was rejected.
        TransferRejected = 22 => "transfer rejected",
        /// 23: a transfer timed out.
        TransferTimeout = 23 => "transfer timeout",
        /// 24: a conference was canceled.
        ConferenceCanceled = 24 => "conference canceled",
        /// 25: a conference participant canceled.
        ConferenceParticipantCanceled = 25 => "conference participant canceled",
        /// 26: a conference participant was invited.
        ConferenceParticipantInvited = 26 => "conference participant invited",
        /// 27: a conference participant rejected.
        ConferenceParticipantRejected = 27 => "conference participant rejected",
        /// 28: a conference participant timed out.
        ConferenceParticipantTimeout = 28 => "conference participant timeout",
        /// 29: a conference participant left.
        ConferenceParticipantLeft = 29 => "conference participant left",
    }
    other = "unknown Contact Center event";
}

serde_code!(MeetingEventType, ContactCenterEventType);

/// An `event_type` read with the table of the stream's product.
///
/// Meetings, webinars and Video SDK sessions share one table; Contact Center has its own.
/// Zoom Phone uses V2 `event_code`s only, so a v1 `event_type` from Phone is read with the
/// meeting table (its universal events 1 and 7 mean the same everywhere).
///
/// ```
/// use zoom_rtms_webhooks::Product;
/// use zoom_rtms_webhooks::protocol::events::EventType;
///
/// let e = EventType::for_product(Product::ContactCenter, 7);
/// assert!(e.is_media_connection_interrupted());
/// assert_eq!(e.code(), 7);
/// assert_eq!(e.to_string(), "media connection interrupted (7)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// A meeting, webinar or Video SDK event.
    Meeting(MeetingEventType),
    /// A Contact Center voice event.
    ContactCenter(ContactCenterEventType),
}

impl EventType {
    /// Reads `code` with `product`'s table.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::protocol::events::{EventType, MeetingEventType};
    /// assert_eq!(
    ///     EventType::for_product(Product::Webinar, 3),
    ///     EventType::Meeting(MeetingEventType::ParticipantJoin)
    /// );
    /// ```
    pub fn for_product(product: Product, code: i64) -> Self {
        match product {
            Product::ContactCenter => EventType::ContactCenter(code.into()),
            _ => EventType::Meeting(code.into()),
        }
    }

    /// The integer sent on the wire.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::{EventType, MeetingEventType};
    /// assert_eq!(EventType::Meeting(MeetingEventType::SharingStart).code(), 5);
    /// ```
    pub fn code(self) -> i64 {
        match self {
            EventType::Meeting(e) => e.code(),
            EventType::ContactCenter(e) => e.code(),
        }
    }

    /// Event 1, the first packet's timestamp (any product).
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::protocol::events::EventType;
    /// assert!(EventType::for_product(Product::Meeting, 1).is_first_packet_timestamp());
    /// ```
    pub fn is_first_packet_timestamp(self) -> bool {
        self.code() == 1
    }

    /// Event 7, a media connection was interrupted (any product): reconnect media.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::protocol::events::EventType;
    /// assert!(EventType::for_product(Product::VideoSdk, 7).is_media_connection_interrupted());
    /// ```
    pub fn is_media_connection_interrupted(self) -> bool {
        self.code() == 7
    }
}

impl From<EventType> for i64 {
    fn from(e: EventType) -> i64 {
        e.code()
    }
}

impl From<MeetingEventType> for EventType {
    fn from(e: MeetingEventType) -> Self {
        EventType::Meeting(e)
    }
}

impl From<ContactCenterEventType> for EventType {
    fn from(e: ContactCenterEventType) -> Self {
        EventType::ContactCenter(e)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventType::Meeting(e) => e.fmt(f),
            EventType::ContactCenter(e) => e.fmt(f),
        }
    }
}

/// A participant named by an event (`participants[]`, or the top-level user fields).
///
/// ```
/// use zoom_rtms_webhooks::protocol::events::Event;
/// let e = Event::parse(r#"{"event_type":3,"participants":[{"user_id":"16778240","user_name":"Ann"}]}"#)?;
/// assert_eq!(e.participants()[0].user_id, Some(16778240));
/// assert_eq!(e.participants()[0].user_name.as_deref(), Some("Ann"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Participant<'a> {
    /// The user id (a number; a string of digits is read too).
    pub user_id: Option<i64>,
    /// The display name, when sent.
    pub user_name: Option<Cow<'a, str>>,
}

/// Contact Center `participant_info` (Zoom's
/// [Contact Center events](https://developers.zoom.us/docs/rtms/event-reference/contact-center-events/)):
/// every field as sent, when sent.
///
/// ```
/// use zoom_rtms_webhooks::protocol::events::Event;
/// let e = Event::parse(r#"{"event_type":8,"event_ts":1727384349123,
///     "participant_info":{"channel_id":"123abc","participant_mode":"caller","display_name":"Jane Doe"}}"#)?;
/// let info = e.participant_info().unwrap();
/// assert_eq!(info.channel_id.as_deref(), Some("123abc"));
/// assert_eq!(info.display_name.as_deref(), Some("Jane Doe"));
/// assert_eq!(e.timestamp(), Some(1727384349123));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ParticipantInfo<'a> {
    /// The SIP trunk channel (matches `channel_id` of the media messages).
    #[serde(borrow, deserialize_with = "str_field")]
    pub channel_id: Option<Cow<'a, str>>,
    /// `caller`, `agent`, ...
    #[serde(borrow, deserialize_with = "str_field")]
    pub participant_mode: Option<Cow<'a, str>>,
    /// The queue id.
    #[serde(borrow, deserialize_with = "str_field")]
    pub queue_id: Option<Cow<'a, str>>,
    /// The queue name.
    #[serde(borrow, deserialize_with = "str_field")]
    pub queue_name: Option<Cow<'a, str>>,
    /// The account id.
    #[serde(borrow, deserialize_with = "str_field")]
    pub account_id: Option<Cow<'a, str>>,
    /// The division id.
    #[serde(borrow, deserialize_with = "str_field")]
    pub division_id: Option<Cow<'a, str>>,
    /// The phone number.
    #[serde(borrow, deserialize_with = "str_field")]
    pub phone_number: Option<Cow<'a, str>>,
    /// The Zoom user id (a string in Contact Center).
    #[serde(borrow, deserialize_with = "str_field")]
    pub user_id: Option<Cow<'a, str>>,
    /// The display name.
    #[serde(borrow, deserialize_with = "str_field")]
    pub display_name: Option<Cow<'a, str>>,
}

fn str_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    Str::deserialize(d).map(Str::into_inner)
}

/// The `event` object of an event update (message type 6), read tolerantly. The raw JSON is
/// kept ([`raw`](Event::raw)) for the fields this crate does not model (the chat-group events'
/// payloads are undocumented).
///
/// Participants come from `participants[]`, or from the top-level `user_id`/`user_name` when
/// there is no list; the timestamp from `timestamp` or (Contact Center) `event_ts`.
///
/// ```
/// use zoom_rtms_webhooks::Product;
/// use zoom_rtms_webhooks::protocol::events::{Event, EventType, MeetingEventType};
///
/// let e = Event::parse(r#"{"event_type":2,"timestamp":1727384349000,"user_id":16778240,"user_name":"Ann"}"#)?;
/// assert_eq!(e.event_type(Product::Meeting), EventType::Meeting(MeetingEventType::ActiveSpeakerChange));
/// assert_eq!(e.user_id(), Some(16778240));
/// assert_eq!(e.participants().len(), 1);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Event<'a> {
    event_type: Option<i64>,
    timestamp: Option<i64>,
    participants: Vec<Participant<'a>>,
    participant_info: Option<Box<ParticipantInfo<'a>>>,
    raw: &'a RawValue,
}

impl PartialEq for Event<'_> {
    fn eq(&self, other: &Self) -> bool {
        // Everything else is read from the raw text.
        self.raw.get() == other.raw.get()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawParticipant<'a> {
    user_id: Int,
    #[serde(borrow)]
    user_name: Str<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEvent<'a> {
    event_type: Int,
    timestamp: Int,
    event_ts: Int,
    user_id: Int,
    #[serde(borrow)]
    user_name: Str<'a>,
    #[serde(borrow)]
    participants: Option<Vec<Obj<RawParticipant<'a>>>>,
    #[serde(borrow)]
    participant_info: Obj<ParticipantInfo<'a>>,
}

impl<'a> Event<'a> {
    /// Reads an event object from its JSON text. Fails only when the text is not JSON;
    /// a field of an odd type is read as absent.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::Event;
    /// assert!(Event::parse("{\"event_type\":\"x\"}").unwrap().event_type_code().is_none());
    /// assert!(Event::parse("{").is_err());
    /// ```
    pub fn parse(json: &'a str) -> Result<Self, serde_json::Error> {
        let raw: &'a RawValue = serde_json::from_str(json)?;
        Self::from_raw(raw)
    }

    pub(crate) fn from_raw(raw: &'a RawValue) -> Result<Self, serde_json::Error> {
        let r: Obj<RawEvent<'a>> = serde_json::from_str(raw.get())?;
        let r = r.0.unwrap_or_default();
        let mut participants: Vec<Participant<'a>> = r
            .participants
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.0)
            .map(|p| Participant {
                user_id: p.user_id.0,
                user_name: p.user_name.0,
            })
            .collect();
        if participants.is_empty() && (r.user_id.0.is_some() || r.user_name.0.is_some()) {
            participants.push(Participant {
                user_id: r.user_id.0,
                user_name: r.user_name.0,
            });
        }
        Ok(Event {
            event_type: r.event_type.0,
            timestamp: r.timestamp.0.or(r.event_ts.0),
            participants,
            participant_info: r.participant_info.0.map(Box::new),
            raw,
        })
    }

    /// The `event_type` read with `product`'s table; `None` when absent.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::protocol::events::{ContactCenterEventType, Event, EventType};
    /// let e = Event::parse(r#"{"event_type":9}"#)?;
    /// assert_eq!(
    ///     e.event_type(Product::ContactCenter),
    ///     EventType::ContactCenter(ContactCenterEventType::ConsumerEnd)
    /// );
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn event_type(&self, product: Product) -> EventType {
        EventType::for_product(product, self.event_type.unwrap_or(0))
    }

    /// The raw `event_type` code, `None` when absent or not an integer.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::Event;
    /// assert_eq!(Event::parse(r#"{"event_type":7}"#)?.event_type_code(), Some(7));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn event_type_code(&self) -> Option<i64> {
        self.event_type
    }

    /// `timestamp` (or Contact Center's `event_ts`), in ms.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::Event;
    /// assert_eq!(Event::parse(r#"{"event_type":1,"timestamp":5}"#)?.timestamp(), Some(5));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// The participants: `participants[]`, or the top-level user as a one-element list.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::Event;
    /// let e = Event::parse(r#"{"event_type":4,"participants":[{"user_id":1},{"user_id":2}]}"#)?;
    /// assert_eq!(e.participants().iter().map(|p| p.user_id).collect::<Vec<_>>(), [Some(1), Some(2)]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn participants(&self) -> &[Participant<'a>] {
        &self.participants
    }

    /// The first participant's user id (the speaker or sharer of events 2 and 5).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::Event;
    /// assert_eq!(Event::parse(r#"{"event_type":5,"user_id":12}"#)?.user_id(), Some(12));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn user_id(&self) -> Option<i64> {
        self.participants.first().and_then(|p| p.user_id)
    }

    /// The first participant's user name.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::Event;
    /// assert_eq!(Event::parse(r#"{"event_type":5,"user_name":"Bo"}"#)?.user_name(), Some("Bo"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn user_name(&self) -> Option<&str> {
        self.participants
            .first()
            .and_then(|p| p.user_name.as_deref())
    }

    /// Contact Center's `participant_info`, when sent.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::Event;
    /// assert!(Event::parse(r#"{"event_type":8}"#)?.participant_info().is_none());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn participant_info(&self) -> Option<&ParticipantInfo<'a>> {
        self.participant_info.as_deref()
    }

    /// The event object's JSON text, as received.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::events::Event;
    /// assert_eq!(Event::parse(r#"{"event_type":10,"group":{}}"#)?.raw(), r#"{"event_type":10,"group":{}}"#);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn raw(&self) -> &'a str {
        self.raw.get()
    }
}
