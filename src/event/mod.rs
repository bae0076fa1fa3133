//! Typed Zoom RTMS webhook events.
//!
//! [`WebhookEvent::parse`] reads the envelope `{"event", "event_ts", "payload"}`, decides by the
//! **event name first**, and only then reads the payload for that name:
//!
//! | event name | variant |
//! |---|---|
//! | `endpoint.url_validation` | [`WebhookEvent::UrlValidation`] |
//! | `meeting.rtms_started`, `webinar.rtms_started`, `session.rtms_started`, `contact_center.voice_rtms_started`, `contactcenter.rtms_started`, `phone.rtms_started`, `phone.call_rtms_started` | [`WebhookEvent::RtmsStarted`] |
//! | the same with `_stopped` | [`WebhookEvent::RtmsStopped`] |
//! | the same with `_interrupted` | [`WebhookEvent::RtmsInterrupted`] |
//! | `rtms.concurrency_near_limit` | [`WebhookEvent::ConcurrencyNearLimit`] |
//! | `rtms.concurrency_limited` | [`WebhookEvent::ConcurrencyLimited`] |
//! | `rtms.start_failed` | [`WebhookEvent::StartFailed`] |
//! | anything else | [`WebhookEvent::Unknown`] (never an error) |
//!
//! Aliases (`contactcenter.rtms_*`, `phone.call_rtms_*`) parse as their product's events and
//! keep the name as received ([`WebhookEvent::name`]).
//!
//! The lifecycle variants carry the [`Product`] (from the name) and the [`InstanceId`] (from
//! the product's id field: `meeting_uuid`, `webinar_uuid` or `meeting_uuid` for webinars,
//! `session_id`, `engagement_id`, `call_id`; optional on stopped / interrupted events).
//!
//! What is accepted:
//!
//! - a flat payload (Zoom's OpenAPI spec) or one nested under `payload.object` (other Zoom
//!   documents). Both are merged: the fields of `object` plus the top-level payload fields such
//!   as `account_id`; on a name clash the field inside `object` wins;
//! - fields this crate does not model, kept in each type's `extra` map;
//! - `server_urls` as a string (one URL or several separated by commas) or as a JSON array of
//!   strings, kept as received ([`RawServerUrls`]);
//! - numbers where an optional text field is expected (kept as decimal text); integers
//!   (`event_ts`, `stop_reason`, counts) given as integral floats (`6.0`) or strings of digits
//!   (`"6"`), read by the rule the protocol messages follow too (`6.5`, or a negative count,
//!   is not read: it is kept in `extra`);
//! - a missing `event_ts` (`None`).
//!
//! What is an error ([`ParseError`]): a body that is not a JSON object, a missing event name,
//! and, for a known name only, a payload that is not an object, lacks a field the event
//! cannot be acted on without (`rtms_stream_id` of lifecycle events; the id field and
//! `server_urls` of `*rtms_started`; `plainToken` of the challenge), or repeats a field the
//! crate reads (or `object`), whatever the order of the keys in the body. Required fields
//! must be non-empty strings; a number there is an error, not a guess.
//!
//! ```
//! use zoom_rtms_webhooks::dedup::dedup_key;
//! use zoom_rtms_webhooks::event::{IdField, Lifecycle};
//! use zoom_rtms_webhooks::{Product, WebhookEvent};
//!
//! let body = br#"{
//!   "event": "webinar.rtms_started",
//!   "event_ts": 1732313171881,
//!   "payload": {
//!     "account_id": "D8cJuqWVQ623CI4Q8yQK0Q",
//!     "object": {
//!       "meeting_uuid": "4444AAAiAAAAAiAiAiiAii==",
//!       "rtms_stream_id": "03db704592624398931a588dd78200cb",
//!       "server_urls": "wss://rtms-sjc1.zoom.us/abc"
//!     }
//!   }
//! }"#;
//! let event = WebhookEvent::parse(body)?;
//! assert_eq!(event.name(), "webinar.rtms_started");
//! assert_eq!(event.product(), Some(Product::Webinar));
//! assert_eq!(event.lifecycle(), Some(Lifecycle::Started));
//! assert_eq!(event.instance().map(|i| i.field), Some(IdField::MeetingUuid));
//! assert_eq!(event.rtms_stream_id(), Some("03db704592624398931a588dd78200cb"));
//! assert_eq!(
//!     dedup_key(&event, body),
//!     "started:webinar:03db704592624398931a588dd78200cb:fe14e674e52238ab"
//! );
//! # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
//! ```

use std::fmt;

use serde::{Serialize, Serializer};

mod de;
mod error;
mod names;
mod payload;

pub use error::ParseError;
pub use payload::{
    ConcurrencyLimited, ConcurrencyNearLimit, RawServerUrls, RtmsStarted, RtmsStreamEnd,
    StartFailed, UnknownEvent, UrlValidation,
};

/// The Zoom product an RTMS stream belongs to.
///
/// [`as_str`](Product::as_str) (also `Display` and `Serialize`) gives a stable lower-case name,
/// used in [`dedup_key`](crate::dedup::dedup_key).
///
/// ```
/// use zoom_rtms_webhooks::{Product, WebhookEvent};
///
/// let event = WebhookEvent::parse(br#"{"event":"phone.call_rtms_stopped",
///   "payload":{"call_id":"7012345","rtms_stream_id":"r1"}}"#)?;
/// assert_eq!(event.product(), Some(Product::Phone));
/// assert_eq!(Product::VideoSdk.as_str(), "video_sdk");
/// assert_eq!(Product::ContactCenter.to_string(), "contact_center");
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Product {
    /// Zoom Meetings (`meeting.rtms_*`).
    Meeting,
    /// Zoom Webinars (`webinar.rtms_*`).
    Webinar,
    /// Zoom Video SDK (`session.rtms_*`).
    VideoSdk,
    /// Zoom Contact Center (`contact_center.voice_rtms_*`, also seen as `contactcenter.rtms_*`).
    ContactCenter,
    /// Zoom Phone (`phone.rtms_*`, also seen as `phone.call_rtms_*`).
    Phone,
}

impl Product {
    /// A stable lower-case name: `meeting`, `webinar`, `video_sdk`, `contact_center`, `phone`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Product;
    /// assert_eq!(Product::Meeting.as_str(), "meeting");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Product::Meeting => "meeting",
            Product::Webinar => "webinar",
            Product::VideoSdk => "video_sdk",
            Product::ContactCenter => "contact_center",
            Product::Phone => "phone",
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Product {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The payload field that identified the meeting, webinar, session, engagement or call.
///
/// Webinars are identified by `webinar_uuid` (Zoom's spec) or `meeting_uuid` (other Zoom
/// documents); [`InstanceId::field`] records which one was sent.
///
/// ```
/// use zoom_rtms_webhooks::event::IdField;
/// assert_eq!(IdField::EngagementId.as_str(), "engagement_id");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IdField {
    /// `meeting_uuid` (meetings; also webinars in some payloads).
    MeetingUuid,
    /// `webinar_uuid` (webinars).
    WebinarUuid,
    /// `session_id` (Video SDK).
    SessionId,
    /// `engagement_id` (Contact Center).
    EngagementId,
    /// `call_id` (Phone).
    CallId,
}

impl IdField {
    /// The JSON field name, for example `"meeting_uuid"`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// assert_eq!(IdField::CallId.as_str(), "call_id");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            IdField::MeetingUuid => "meeting_uuid",
            IdField::WebinarUuid => "webinar_uuid",
            IdField::SessionId => "session_id",
            IdField::EngagementId => "engagement_id",
            IdField::CallId => "call_id",
        }
    }
}

impl fmt::Display for IdField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for IdField {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The id of the meeting / webinar / session / engagement / call a stream belongs to, and the
/// field it came from. The value is used verbatim (for example in the RTMS handshake
/// signature); it is never decoded or normalised.
///
/// ```
/// use zoom_rtms_webhooks::event::{IdField, InstanceId};
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let event = WebhookEvent::parse(br#"{"event":"session.rtms_interrupted",
///   "payload":{"session_id":"a/b+c==","rtms_stream_id":"r1"}}"#)?;
/// assert_eq!(
///     event.instance(),
///     Some(&InstanceId::new(IdField::SessionId, "a/b+c=="))
/// );
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct InstanceId {
    /// Which payload field held the id.
    pub field: IdField,
    /// The id, exactly as sent.
    pub value: String,
}

impl InstanceId {
    /// An id from its field and value.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::{IdField, InstanceId};
    ///
    /// let id = InstanceId::new(IdField::EngagementId, "e1");
    /// assert_eq!((id.field, id.as_str()), (IdField::EngagementId, "e1"));
    /// ```
    pub fn new(field: IdField, value: impl Into<String>) -> Self {
        InstanceId {
            field,
            value: value.into(),
        }
    }

    /// The id value.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::{IdField, InstanceId};
    ///
    /// assert_eq!(InstanceId::new(IdField::CallId, "c1").as_str(), "c1");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for InstanceId {
    /// Prints the id value only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// Which stage of a stream's life an event reports.
///
/// ```
/// use zoom_rtms_webhooks::event::Lifecycle;
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let event = WebhookEvent::parse(br#"{"event":"meeting.rtms_stopped",
///   "payload":{"meeting_uuid":"m","rtms_stream_id":"r"}}"#)?;
/// assert_eq!(event.lifecycle(), Some(Lifecycle::Stopped));
/// assert_eq!(Lifecycle::Stopped.as_str(), "stopped");
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lifecycle {
    /// `*rtms_started`: the stream is ready to connect to.
    Started,
    /// `*rtms_stopped`: the stream ended.
    Stopped,
    /// `*rtms_interrupted`: the stream was cut off.
    Interrupted,
}

impl Lifecycle {
    /// `"started"`, `"stopped"` or `"interrupted"`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::Lifecycle;
    /// assert_eq!(Lifecycle::Interrupted.as_str(), "interrupted");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Lifecycle::Started => "started",
            Lifecycle::Stopped => "stopped",
            Lifecycle::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Lifecycle {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A Zoom webhook event relevant to RTMS, typed by its event name.
///
/// See the [module documentation](self) for the names and the parsing rules.
///
/// ```
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// match WebhookEvent::parse(br#"{"event":"meeting.rtms_started","payload":{
///     "meeting_uuid":"m==","rtms_stream_id":"r1","server_urls":"wss://sjc.zoom.us"}}"#)? {
///     WebhookEvent::RtmsStarted(started) => assert_eq!(started.rtms_stream_id, "r1"),
///     other => panic!("unexpected {}", other.name()),
/// }
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// `endpoint.url_validation`: the endpoint validation challenge.
    UrlValidation(UrlValidation),
    /// `*rtms_started` of any product.
    RtmsStarted(RtmsStarted),
    /// `*rtms_stopped` of any product: the stream ended.
    RtmsStopped(RtmsStreamEnd),
    /// `*rtms_interrupted` of any product: the stream was cut off (the same fields as
    /// [`RtmsStopped`](WebhookEvent::RtmsStopped)).
    RtmsInterrupted(RtmsStreamEnd),
    /// `rtms.concurrency_near_limit`.
    ConcurrencyNearLimit(ConcurrencyNearLimit),
    /// `rtms.concurrency_limited`.
    ConcurrencyLimited(ConcurrencyLimited),
    /// `rtms.start_failed`.
    StartFailed(StartFailed),
    /// Any other event name, with its raw payload.
    Unknown(UnknownEvent),
}

impl WebhookEvent {
    /// Name of the validation challenge event.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::UrlValidation;
    /// use zoom_rtms_webhooks::WebhookEvent;
    /// let event = WebhookEvent::UrlValidation(UrlValidation::new("t"));
    /// assert_eq!(event.name(), WebhookEvent::URL_VALIDATION);
    /// ```
    pub const URL_VALIDATION: &'static str = "endpoint.url_validation";
    /// Name of the concurrency-near-limit event.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::ConcurrencyNearLimit;
    /// use zoom_rtms_webhooks::WebhookEvent;
    /// let event = WebhookEvent::ConcurrencyNearLimit(ConcurrencyNearLimit::new());
    /// assert_eq!(event.name(), WebhookEvent::CONCURRENCY_NEAR_LIMIT);
    /// ```
    pub const CONCURRENCY_NEAR_LIMIT: &'static str = "rtms.concurrency_near_limit";
    /// Name of the concurrency-limited event.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::ConcurrencyLimited;
    /// use zoom_rtms_webhooks::WebhookEvent;
    /// let event = WebhookEvent::ConcurrencyLimited(ConcurrencyLimited::new());
    /// assert_eq!(event.name(), WebhookEvent::CONCURRENCY_LIMITED);
    /// ```
    pub const CONCURRENCY_LIMITED: &'static str = "rtms.concurrency_limited";
    /// Name of the start-failed event.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::StartFailed;
    /// use zoom_rtms_webhooks::WebhookEvent;
    /// let event = WebhookEvent::StartFailed(StartFailed::new());
    /// assert_eq!(event.name(), WebhookEvent::START_FAILED);
    /// ```
    pub const START_FAILED: &'static str = "rtms.start_failed";

    /// Parse a webhook request body (the raw bytes, after the signature verified).
    ///
    /// Decides by the `event` name first, then reads the payload for that name. An unknown
    /// name gives [`WebhookEvent::Unknown`]; see [`ParseError`] for what is rejected.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::ParseError;
    /// use zoom_rtms_webhooks::WebhookEvent;
    ///
    /// let event = WebhookEvent::parse(br#"{"event":"endpoint.url_validation",
    ///   "payload":{"plainToken":"abc"},"event_ts":1700000000000}"#)?;
    /// assert_eq!(event.name(), "endpoint.url_validation");
    /// assert_eq!(event.event_ts(), Some(1_700_000_000_000));
    ///
    /// assert_eq!(WebhookEvent::parse(br#"{"payload":{}}"#), Err(ParseError::MissingEventName));
    /// assert!(matches!(WebhookEvent::parse(b"{"), Err(ParseError::InvalidJson(_))));
    /// # Ok::<(), ParseError>(())
    /// ```
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        de::parse(body)
    }

    /// The event name exactly as sent (for example `"phone.call_rtms_started"`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::RtmsStreamEnd;
    /// use zoom_rtms_webhooks::{Product, WebhookEvent};
    ///
    /// let stop = RtmsStreamEnd::stopped(Product::ContactCenter, "r1").with_event("contactcenter.rtms_stopped");
    /// assert_eq!(WebhookEvent::RtmsStopped(stop).name(), "contactcenter.rtms_stopped");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            WebhookEvent::UrlValidation(_) => Self::URL_VALIDATION,
            WebhookEvent::RtmsStarted(e) => &e.event,
            WebhookEvent::RtmsStopped(e) => &e.event,
            WebhookEvent::RtmsInterrupted(e) => &e.event,
            WebhookEvent::ConcurrencyNearLimit(_) => Self::CONCURRENCY_NEAR_LIMIT,
            WebhookEvent::ConcurrencyLimited(_) => Self::CONCURRENCY_LIMITED,
            WebhookEvent::StartFailed(_) => Self::START_FAILED,
            WebhookEvent::Unknown(e) => &e.event,
        }
    }

    /// `event_ts`: when Zoom created the event, in milliseconds since the Unix epoch (kept
    /// exactly, even above 2^53).
    ///
    /// ```
    /// use zoom_rtms_webhooks::WebhookEvent;
    ///
    /// let event = WebhookEvent::parse(br#"{"event":"x.y","event_ts":9007199254740993}"#)?;
    /// assert_eq!(event.event_ts(), Some(9_007_199_254_740_993));
    /// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
    /// ```
    pub fn event_ts(&self) -> Option<u64> {
        match self {
            WebhookEvent::UrlValidation(e) => e.event_ts,
            WebhookEvent::RtmsStarted(e) => e.event_ts,
            WebhookEvent::RtmsStopped(e) => e.event_ts,
            WebhookEvent::RtmsInterrupted(e) => e.event_ts,
            WebhookEvent::ConcurrencyNearLimit(e) => e.event_ts,
            WebhookEvent::ConcurrencyLimited(e) => e.event_ts,
            WebhookEvent::StartFailed(e) => e.event_ts,
            WebhookEvent::Unknown(e) => e.event_ts,
        }
    }

    /// The product: always for lifecycle events, when inferable for
    /// `rtms.concurrency_limited` / `rtms.start_failed`, otherwise `None`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::{Product, WebhookEvent};
    ///
    /// let event = WebhookEvent::parse(br#"{"event":"contactcenter.rtms_interrupted",
    ///   "payload":{"rtms_stream_id":"r1"}}"#)?;
    /// assert_eq!(event.product(), Some(Product::ContactCenter));
    /// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
    /// ```
    pub fn product(&self) -> Option<Product> {
        match self {
            WebhookEvent::RtmsStarted(e) => Some(e.product),
            WebhookEvent::RtmsStopped(e) => Some(e.product),
            WebhookEvent::RtmsInterrupted(e) => Some(e.product),
            WebhookEvent::ConcurrencyLimited(e) => e.product,
            WebhookEvent::StartFailed(e) => e.product,
            _ => None,
        }
    }

    /// `rtms_stream_id`: always for lifecycle events, if present for `rtms.start_failed`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::RtmsStreamEnd;
    /// use zoom_rtms_webhooks::{Product, WebhookEvent};
    ///
    /// let event = WebhookEvent::RtmsInterrupted(RtmsStreamEnd::interrupted(Product::Meeting, "r1"));
    /// assert_eq!(event.rtms_stream_id(), Some("r1"));
    /// ```
    pub fn rtms_stream_id(&self) -> Option<&str> {
        match self {
            WebhookEvent::RtmsStarted(e) => Some(&e.rtms_stream_id),
            WebhookEvent::RtmsStopped(e) => Some(&e.rtms_stream_id),
            WebhookEvent::RtmsInterrupted(e) => Some(&e.rtms_stream_id),
            WebhookEvent::StartFailed(e) => e.rtms_stream_id.as_deref(),
            _ => None,
        }
    }

    /// The meeting / webinar / session / engagement / call: always for `*rtms_started`, if
    /// present for stopped / interrupted events, `rtms.concurrency_limited` and
    /// `rtms.start_failed`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::{IdField, InstanceId};
    /// use zoom_rtms_webhooks::WebhookEvent;
    ///
    /// let event = WebhookEvent::parse(br#"{"event":"phone.rtms_stopped",
    ///   "payload":{"call_id":"c1","rtms_stream_id":"r1"}}"#)?;
    /// assert_eq!(event.instance(), Some(&InstanceId::new(IdField::CallId, "c1")));
    /// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
    /// ```
    pub fn instance(&self) -> Option<&InstanceId> {
        match self {
            WebhookEvent::RtmsStarted(e) => Some(&e.instance),
            WebhookEvent::RtmsStopped(e) => e.instance.as_ref(),
            WebhookEvent::RtmsInterrupted(e) => e.instance.as_ref(),
            WebhookEvent::ConcurrencyLimited(e) => e.instance.as_ref(),
            WebhookEvent::StartFailed(e) => e.instance.as_ref(),
            _ => None,
        }
    }

    /// The lifecycle stage for `*rtms_started` / `_stopped` / `_interrupted`, else `None`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::{Lifecycle, StartFailed};
    /// use zoom_rtms_webhooks::WebhookEvent;
    ///
    /// assert_eq!(WebhookEvent::StartFailed(StartFailed::new()).lifecycle(), None);
    /// let event = WebhookEvent::parse(br#"{"event":"session.rtms_stopped",
    ///   "payload":{"rtms_stream_id":"r1"}}"#)?;
    /// assert_eq!(event.lifecycle(), Some(Lifecycle::Stopped));
    /// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
    /// ```
    pub fn lifecycle(&self) -> Option<Lifecycle> {
        match self {
            WebhookEvent::RtmsStarted(_) => Some(Lifecycle::Started),
            WebhookEvent::RtmsStopped(_) => Some(Lifecycle::Stopped),
            WebhookEvent::RtmsInterrupted(_) => Some(Lifecycle::Interrupted),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_fixed_events() {
        let e = WebhookEvent::parse(br#"{"event":"rtms.start_failed","payload":{}}"#).unwrap();
        assert_eq!(e.name(), WebhookEvent::START_FAILED);
        assert_eq!(e.product(), None);
        assert_eq!(e.lifecycle(), None);
    }
}
