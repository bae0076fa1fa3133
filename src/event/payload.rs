//! The typed payload of each event, with constructors and `with_*` builders.
//!
//! Every payload struct is `#[non_exhaustive]`: read its public fields freely, build one with
//! `new(..)` (the fields the event cannot be used without) and `with_*` setters for the
//! optional ones, for example in your own tests:
//!
//! ```
//! use zoom_rtms_webhooks::event::{IdField, InstanceId, RtmsStarted};
//! use zoom_rtms_webhooks::{Product, WebhookEvent};
//!
//! let started = RtmsStarted::new(
//!     Product::Meeting,
//!     InstanceId::new(IdField::MeetingUuid, "m=="),
//!     "stream-1",
//!     "wss://rtms-sjc1.zoom.us/signaling",
//! )
//! .with_event_ts(1_732_313_171_881)
//! .with_operator_id("op-1");
//! let event = WebhookEvent::RtmsStarted(started);
//! assert_eq!(event.name(), "meeting.rtms_started");
//! assert_eq!(event.rtms_stream_id(), Some("stream-1"));
//! ```

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

use super::names::canonical_name;
use super::{InstanceId, Lifecycle, Product};
use crate::codes::StopReason;
use crate::region::{HostPolicy, ServerUrl, ServerUrlError};

/// `with_*` setters, each with its doc example. `$new` is the expression (as text) that builds
/// the value the example starts from.
macro_rules! setters {
    (
        $ty:ident, $new:literal;
        $( $setter:ident ( $arg:ty ) -> $field:ident = |$v:ident| $conv:expr, $value:literal => $expected:literal; )*
    ) => {
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($field), "`](", stringify!($ty), "::", stringify!($field), ").")]
                ///
                /// ```
                /// use zoom_rtms_webhooks::codes::StopReason;
                /// use zoom_rtms_webhooks::event::*;
                /// use zoom_rtms_webhooks::Product;
                ///
                #[doc = concat!("let event = ", $new, ".", stringify!($setter), "(", $value, ");")]
                #[doc = concat!("assert_eq!(event.", stringify!($field), ", ", $expected, ");")]
                /// ```
                #[must_use]
                pub fn $setter(mut self, $v: $arg) -> Self {
                    self.$field = $conv;
                    self
                }
            )*
        }
    };
}

/// `endpoint.url_validation`: Zoom's challenge to prove the endpoint holds the Secret Token.
///
/// Answer it only through
/// [`Verified::challenge_response`](crate::signature::Verified::challenge_response),
/// that is after the request's own signature verified.
///
/// ```
/// use zoom_rtms_webhooks::event::UrlValidation;
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let event = WebhookEvent::parse(
///     br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}"#,
/// )?;
/// assert_eq!(
///     event,
///     WebhookEvent::UrlValidation(
///         UrlValidation::new("qgg8vlvZRS6UYooatFL8Aw").with_event_ts(1654503849680)
///     )
/// );
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UrlValidation {
    /// `payload.plainToken`: the random token to hash and send back (required, non-empty).
    pub plain_token: String,
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
}

impl UrlValidation {
    /// A challenge with its `plainToken`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::UrlValidation;
    ///
    /// let challenge = UrlValidation::new("abc");
    /// assert_eq!(challenge.plain_token, "abc");
    /// assert_eq!(challenge.event_ts, None);
    /// ```
    pub fn new(plain_token: impl Into<String>) -> Self {
        UrlValidation {
            plain_token: plain_token.into(),
            event_ts: None,
        }
    }
}

setters! {
    UrlValidation, r#"UrlValidation::new("abc")"#;
    with_event_ts(u64) -> event_ts = |v| Some(v), "5" => "Some(5)";
}

/// The `server_urls` of an `rtms_started` event, **as received** and not validated.
///
/// Zoom documents a string (one URL, or several separated by commas); some of Zoom's samples
/// and mock servers send a JSON array of strings. Both are kept as they came. To get URLs that
/// are safe to dial, use [`RtmsStarted::server_urls`].
///
/// ```
/// use zoom_rtms_webhooks::event::RawServerUrls;
///
/// let text = RawServerUrls::from("wss://a.zoom.us, wss://b.zoom.us");
/// let list = RawServerUrls::from(vec!["wss://a.zoom.us".to_owned(), "wss://b.zoom.us".to_owned()]);
/// assert_eq!(text.iter().collect::<Vec<_>>(), ["wss://a.zoom.us", "wss://b.zoom.us"]);
/// assert_eq!(list.iter().collect::<Vec<_>>(), ["wss://a.zoom.us", "wss://b.zoom.us"]);
/// assert_eq!(list.joined(), "wss://a.zoom.us,wss://b.zoom.us");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RawServerUrls {
    /// A JSON string, exactly as sent: one URL or several separated by commas.
    Text(String),
    /// A JSON array of strings, exactly as sent.
    List(Vec<String>),
}

impl RawServerUrls {
    /// Each URL as sent, trimmed, without empty pieces: the string split on commas, or the
    /// array's elements. Not validated.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::RawServerUrls;
    ///
    /// let urls = RawServerUrls::from(" wss://a.zoom.us ,, wss://b.zoom.us,");
    /// assert_eq!(urls.iter().collect::<Vec<_>>(), ["wss://a.zoom.us", "wss://b.zoom.us"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let (text, list) = match self {
            RawServerUrls::Text(text) => (Some(text.split(',')), None),
            RawServerUrls::List(list) => (None, Some(list.iter().map(String::as_str))),
        };
        text.into_iter()
            .flatten()
            .chain(list.into_iter().flatten())
            .map(str::trim)
            .filter(|piece| !piece.is_empty())
    }

    /// One string: the string as sent, or the array's elements joined with `,` (so
    /// `["wss://a", "wss://b"]` gives the same text as `"wss://a,wss://b"`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::RawServerUrls;
    ///
    /// assert_eq!(RawServerUrls::from("wss://a.zoom.us").joined(), "wss://a.zoom.us");
    /// assert_eq!(RawServerUrls::from(vec!["x".to_owned(), "y".to_owned()]).joined(), "x,y");
    /// ```
    pub fn joined(&self) -> Cow<'_, str> {
        match self {
            RawServerUrls::Text(text) => Cow::Borrowed(text),
            RawServerUrls::List(list) => Cow::Owned(list.join(",")),
        }
    }
}

impl fmt::Display for RawServerUrls {
    /// Prints [`joined`](RawServerUrls::joined).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined())
    }
}

impl From<&str> for RawServerUrls {
    fn from(text: &str) -> Self {
        RawServerUrls::Text(text.to_owned())
    }
}

impl From<String> for RawServerUrls {
    fn from(text: String) -> Self {
        RawServerUrls::Text(text)
    }
}

impl From<Vec<String>> for RawServerUrls {
    fn from(list: Vec<String>) -> Self {
        RawServerUrls::List(list)
    }
}

/// `*.rtms_started` for any [`Product`]: a stream is ready; connect to `server_urls`.
///
/// Required payload fields: the product's id field, `rtms_stream_id` (non-empty strings) and
/// `server_urls` (a non-empty string, or a non-empty array of strings). Everything else is
/// optional; fields not modelled here (for example `is_original_host`, `meeting_id`,
/// `webinar_id`, `host_id`, `signature`) are kept in [`extra`](RtmsStarted::extra).
///
/// ```
/// use zoom_rtms_webhooks::event::IdField;
/// use zoom_rtms_webhooks::{Product, WebhookEvent};
/// use zoom_rtms_webhooks::region::HostPolicy;
///
/// let event = WebhookEvent::parse(br#"{
///   "event": "meeting.rtms_started", "event_ts": 1732313171881,
///   "payload": {"meeting_uuid": "4444AAAiAAAAAiAiAiiAii==", "operator_id": "30R7kT7bTIKSNUFEuH_Qlg",
///     "rtms_stream_id": "03db704592624398931a588dd78200cb", "server_urls": "wss://127.0.0.1:443",
///     "is_original_host": true}
/// }"#)?;
/// let WebhookEvent::RtmsStarted(started) = event else { panic!("not started") };
/// assert_eq!(started.product, Product::Meeting);
/// assert_eq!(started.instance.field, IdField::MeetingUuid);
/// assert_eq!(started.instance.value, "4444AAAiAAAAAiAiAiiAii==");
/// assert_eq!(started.rtms_stream_id, "03db704592624398931a588dd78200cb");
/// assert_eq!(started.operator_id.as_deref(), Some("30R7kT7bTIKSNUFEuH_Qlg"));
/// assert_eq!(started.extra["is_original_host"], true);
/// // `server_urls` must point at Zoom before anything dials it:
/// assert!(started.server_urls(&HostPolicy::default()).is_err());
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RtmsStarted {
    /// The event name exactly as sent (for example `"phone.call_rtms_started"`).
    pub event: String,
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
    /// The product, from the event name.
    pub product: Product,
    /// The meeting / webinar / session / engagement / call the stream belongs to.
    pub instance: InstanceId,
    /// `rtms_stream_id`.
    pub rtms_stream_id: String,
    /// `server_urls`, as received. **Not validated**: use
    /// [`server_urls()`](RtmsStarted::server_urls) to get URLs that are safe to dial.
    pub server_urls: RawServerUrls,
    /// `operator_id`, if present (absent for Video SDK). A number is kept as its decimal text.
    pub operator_id: Option<String>,
    /// `account_id`, if present (top-level payload field in the nested form).
    pub account_id: Option<String>,
    /// `session_key` (Video SDK), if present.
    pub session_key: Option<String>,
    /// Every other payload field, as sent (plus any optional modelled field that had an
    /// unusable type, such as an `operator_id` that is an object).
    pub extra: Map<String, Value>,
}

impl RtmsStarted {
    /// A started event with its required fields; [`event`](RtmsStarted::event) is the
    /// product's canonical name (for example `meeting.rtms_started`), change it with
    /// [`with_event`](RtmsStarted::with_event).
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::{IdField, InstanceId, RtmsStarted};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let started = RtmsStarted::new(
    ///     Product::ContactCenter,
    ///     InstanceId::new(IdField::EngagementId, "e1"),
    ///     "r1",
    ///     vec!["wss://rtms-ams1.zoom.us/cc".to_owned()],
    /// );
    /// assert_eq!(started.event, "contact_center.voice_rtms_started");
    /// assert_eq!(started.server_urls.joined(), "wss://rtms-ams1.zoom.us/cc");
    /// ```
    pub fn new(
        product: Product,
        instance: InstanceId,
        rtms_stream_id: impl Into<String>,
        server_urls: impl Into<RawServerUrls>,
    ) -> Self {
        RtmsStarted {
            event: canonical_name(product, Lifecycle::Started).to_owned(),
            event_ts: None,
            product,
            instance,
            rtms_stream_id: rtms_stream_id.into(),
            server_urls: server_urls.into(),
            operator_id: None,
            account_id: None,
            session_key: None,
            extra: Map::new(),
        }
    }

    /// The URLs to dial: [`server_urls`](RtmsStarted::server_urls) split into its URLs (see
    /// [`RawServerUrls::iter`]), each checked by [`ServerUrl::parse`] under `policy`
    /// (`&HostPolicy::default()`: `wss://` on a `zoom.us` host only).
    ///
    /// The first refused URL fails the whole list (its error names it); a field with no URL
    /// at all is [`ServerUrlError::Empty`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::{IdField, InstanceId, RtmsStarted};
    /// use zoom_rtms_webhooks::Product;
    /// use zoom_rtms_webhooks::region::{HostPolicy, Region, ServerUrlError};
    ///
    /// let started = |urls: &str| {
    ///     RtmsStarted::new(Product::VideoSdk, InstanceId::new(IdField::SessionId, "s1"), "r1", urls)
    /// };
    /// let zoom_only = HostPolicy::default();
    /// let urls = started("wss://rtms-sjc1.zoom.us/a, wss://x.iad.zoom.us/b")
    ///     .server_urls(&zoom_only)
    ///     .unwrap();
    /// assert_eq!(urls[1].region(), Some(Region::Iad));
    ///
    /// let err = started("wss://rtms-sjc1.zoom.us/a,wss://evil.example/b")
    ///     .server_urls(&zoom_only)
    ///     .unwrap_err();
    /// assert_eq!(err.url(), Some("wss://evil.example/b"));
    /// assert_eq!(started(" , ").server_urls(&zoom_only), Err(ServerUrlError::Empty));
    ///
    /// // A local mock server, explicitly allowed:
    /// let local = HostPolicy::default().with_allowed_host("127.0.0.1").with_insecure_ws(true);
    /// assert!(started("ws://127.0.0.1:9092").server_urls(&local).is_ok());
    /// ```
    pub fn server_urls(&self, policy: &HostPolicy) -> Result<Vec<ServerUrl>, ServerUrlError> {
        let urls = self
            .server_urls
            .iter()
            .map(|piece| ServerUrl::parse(piece, policy))
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Err(ServerUrlError::Empty);
        }
        Ok(urls)
    }
}

setters! {
    RtmsStarted,
    r#"RtmsStarted::new(Product::Meeting, InstanceId::new(IdField::MeetingUuid, "m"), "r", "wss://a.zoom.us")"#;
    with_event(impl Into<String>) -> event = |v| v.into(),
        r#""meeting.rtms_started""# => r#""meeting.rtms_started""#;
    with_event_ts(u64) -> event_ts = |v| Some(v), "5" => "Some(5)";
    with_operator_id(impl Into<String>) -> operator_id = |v| Some(v.into()),
        r#""op""# => r#"Some("op".to_owned())"#;
    with_account_id(impl Into<String>) -> account_id = |v| Some(v.into()),
        r#""acc""# => r#"Some("acc".to_owned())"#;
    with_session_key(impl Into<String>) -> session_key = |v| Some(v.into()),
        r#""key""# => r#"Some("key".to_owned())"#;
    with_extra(Map<String, Value>) -> extra = |v| v,
        r#"serde_json::Map::new()"# => r#"serde_json::Map::new()"#;
}

/// `*.rtms_stopped` and `*.rtms_interrupted` for any [`Product`]: the stream ended, or was cut
/// off (Zoom may start it again). Both events have the same fields, so one struct:
/// [`WebhookEvent::RtmsStopped`](super::WebhookEvent::RtmsStopped) and
/// [`WebhookEvent::RtmsInterrupted`](super::WebhookEvent::RtmsInterrupted) each hold one.
///
/// Required payload field: `rtms_stream_id` (what acting on the event needs). The product's
/// id field is read if present and usable (else [`instance`](RtmsStreamEnd::instance) is `None`
/// and the value, if any, is kept in [`extra`](RtmsStreamEnd::extra)): refusing the event for
/// it would make Zoom retry for 85 minutes while the app never learns the stream ended.
///
/// ```
/// use zoom_rtms_webhooks::codes::StopReason;
/// use zoom_rtms_webhooks::{Product, WebhookEvent};
///
/// let event = WebhookEvent::parse(br#"{"event":"webinar.rtms_stopped","payload":{
///   "webinar_uuid":"w==","rtms_stream_id":"r1","stop_reason":6}}"#)?;
/// let WebhookEvent::RtmsStopped(stopped) = event else { panic!() };
/// assert_eq!(stopped.stop_reason, Some(StopReason::MeetingEnded));
/// assert_eq!(stopped.instance.map(|i| i.value), Some("w==".to_owned()));
///
/// let event = WebhookEvent::parse(br#"{"event":"meeting.rtms_stopped","payload":{
///   "rtms_stream_id":"r1"}}"#)?;
/// assert_eq!(event.rtms_stream_id(), Some("r1"));
/// assert_eq!(event.instance(), None);
///
/// let event = WebhookEvent::parse(br#"{"event":"contact_center.voice_rtms_interrupted",
///   "payload":{"engagement_id":"e1","rtms_stream_id":"r1"}}"#)?;
/// let WebhookEvent::RtmsInterrupted(interrupted) = event else { panic!() };
/// assert_eq!(interrupted.product, Product::ContactCenter);
/// assert_eq!(interrupted.stop_reason, None);
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RtmsStreamEnd {
    /// The event name exactly as sent.
    pub event: String,
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
    /// The product, from the event name.
    pub product: Product,
    /// The meeting / webinar / session / engagement / call the stream belonged to, if its id
    /// field was sent (as a non-empty string).
    pub instance: Option<InstanceId>,
    /// `rtms_stream_id`.
    pub rtms_stream_id: String,
    /// `stop_reason`: a code read as a protocol frame reads it (an integer, an integral float
    /// such as `6.0`, or a string of digits). `None` if absent, `null`, or not such a number
    /// (such a value is kept in [`extra`](RtmsStreamEnd::extra)).
    pub stop_reason: Option<StopReason>,
    /// `operator_id`, if present.
    pub operator_id: Option<String>,
    /// `account_id`, if present.
    pub account_id: Option<String>,
    /// Every other payload field, as sent.
    pub extra: Map<String, Value>,
}

impl RtmsStreamEnd {
    /// The end of a stream as `*.rtms_stopped` reports it; [`event`](RtmsStreamEnd::event) is
    /// the product's canonical name (for example `phone.rtms_stopped`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::codes::StopReason;
    /// use zoom_rtms_webhooks::event::{IdField, InstanceId, RtmsStreamEnd};
    /// use zoom_rtms_webhooks::{Product, WebhookEvent};
    ///
    /// let stopped = RtmsStreamEnd::stopped(Product::Phone, "r1")
    ///     .with_instance(InstanceId::new(IdField::CallId, "c1"))
    ///     .with_stop_reason(StopReason::AppUserTriggered);
    /// assert_eq!(stopped.event, "phone.rtms_stopped");
    /// assert_eq!(stopped.stop_reason.map(StopReason::code), Some(2));
    /// let event = WebhookEvent::RtmsStopped(stopped);
    /// # let _ = event;
    /// ```
    pub fn stopped(product: Product, rtms_stream_id: impl Into<String>) -> Self {
        Self::new(product, Lifecycle::Stopped, rtms_stream_id.into())
    }

    /// The end of a stream as `*.rtms_interrupted` reports it; [`event`](RtmsStreamEnd::event)
    /// is the product's canonical name (for example `session.rtms_interrupted`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::RtmsStreamEnd;
    /// use zoom_rtms_webhooks::{Product, WebhookEvent};
    ///
    /// let interrupted = RtmsStreamEnd::interrupted(Product::VideoSdk, "r1").with_event_ts(7);
    /// assert_eq!(interrupted.event, "session.rtms_interrupted");
    /// assert_eq!(interrupted.instance, None);
    /// let event = WebhookEvent::RtmsInterrupted(interrupted);
    /// # let _ = event;
    /// ```
    pub fn interrupted(product: Product, rtms_stream_id: impl Into<String>) -> Self {
        Self::new(product, Lifecycle::Interrupted, rtms_stream_id.into())
    }

    fn new(product: Product, lifecycle: Lifecycle, rtms_stream_id: String) -> Self {
        RtmsStreamEnd {
            event: canonical_name(product, lifecycle).to_owned(),
            event_ts: None,
            product,
            instance: None,
            rtms_stream_id,
            stop_reason: None,
            operator_id: None,
            account_id: None,
            extra: Map::new(),
        }
    }
}

setters! {
    RtmsStreamEnd, r#"RtmsStreamEnd::stopped(Product::Meeting, "r")"#;
    with_event(impl Into<String>) -> event = |v| v.into(),
        r#""meeting.rtms_stopped""# => r#""meeting.rtms_stopped""#;
    with_event_ts(u64) -> event_ts = |v| Some(v), "5" => "Some(5)";
    with_instance(InstanceId) -> instance = |v| Some(v),
        r#"InstanceId::new(IdField::MeetingUuid, "m")"# => r#"Some(InstanceId::new(IdField::MeetingUuid, "m"))"#;
    with_stop_reason(StopReason) -> stop_reason = |v| Some(v),
        "StopReason::MeetingEnded" => "Some(StopReason::from(6))";
    with_operator_id(impl Into<String>) -> operator_id = |v| Some(v.into()),
        r#""op""# => r#"Some("op".to_owned())"#;
    with_account_id(impl Into<String>) -> account_id = |v| Some(v.into()),
        r#""acc""# => r#"Some("acc".to_owned())"#;
    with_extra(Map<String, Value>) -> extra = |v| v,
        r#"serde_json::Map::new()"# => r#"serde_json::Map::new()"#;
}

/// `rtms.concurrency_near_limit`: the account is close to its concurrent-stream limit.
///
/// Every field is optional; numbers given as strings of digits are accepted.
///
/// ```
/// use zoom_rtms_webhooks::event::ConcurrencyNearLimit;
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let event = WebhookEvent::parse(br#"{"event":"rtms.concurrency_near_limit","payload":{
///   "account_id":"a1","concurrency_limit":100,"concurrency_number":90,"percentage":90}}"#)?;
/// let WebhookEvent::ConcurrencyNearLimit(near) = event else { panic!() };
/// assert_eq!(near.concurrency_limit, Some(100));
/// assert_eq!(near.percentage, Some(90.0));
/// assert_eq!(
///     near,
///     ConcurrencyNearLimit::new()
///         .with_account_id("a1")
///         .with_concurrency_limit(100)
///         .with_concurrency_number(90)
///         .with_percentage(90.0)
/// );
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ConcurrencyNearLimit {
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
    /// `account_id`, if present.
    pub account_id: Option<String>,
    /// `concurrency_limit`: the account's limit.
    pub concurrency_limit: Option<u64>,
    /// `concurrency_number`: streams running now.
    pub concurrency_number: Option<u64>,
    /// `percentage`: `concurrency_number` as a percentage of the limit.
    pub percentage: Option<f64>,
    /// Every other payload field, as sent.
    pub extra: Map<String, Value>,
}

impl ConcurrencyNearLimit {
    /// An event with no field set (every field is optional); also `Default`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::ConcurrencyNearLimit;
    ///
    /// assert_eq!(ConcurrencyNearLimit::new(), ConcurrencyNearLimit::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

setters! {
    ConcurrencyNearLimit, "ConcurrencyNearLimit::new()";
    with_event_ts(u64) -> event_ts = |v| Some(v), "5" => "Some(5)";
    with_account_id(impl Into<String>) -> account_id = |v| Some(v.into()),
        r#""acc""# => r#"Some("acc".to_owned())"#;
    with_concurrency_limit(u64) -> concurrency_limit = |v| Some(v), "100" => "Some(100)";
    with_concurrency_number(u64) -> concurrency_number = |v| Some(v), "85" => "Some(85)";
    with_percentage(f64) -> percentage = |v| Some(v), "85.0" => "Some(85.0)";
    with_extra(Map<String, Value>) -> extra = |v| v,
        r#"serde_json::Map::new()"# => r#"serde_json::Map::new()"#;
}

/// `rtms.concurrency_limited`: a stream could not start because the account is at its limit.
///
/// Every field is optional. The instance is the first of `webinar_uuid`, `meeting_uuid`,
/// `session_id`, `engagement_id`, `call_id` that is present; the product is inferred from
/// that field (`meeting_uuid` means [`Product::Meeting`] unless a `webinar_id` is also present).
///
/// ```
/// use zoom_rtms_webhooks::event::IdField;
/// use zoom_rtms_webhooks::{Product, WebhookEvent};
///
/// let event = WebhookEvent::parse(br#"{"event":"rtms.concurrency_limited","payload":{
///   "session_id":"s1","concurrency_number":100}}"#)?;
/// let WebhookEvent::ConcurrencyLimited(limited) = event else { panic!() };
/// assert_eq!(limited.product, Some(Product::VideoSdk));
/// assert_eq!(limited.instance.map(|i| i.field), Some(IdField::SessionId));
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ConcurrencyLimited {
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
    /// `account_id`, if present.
    pub account_id: Option<String>,
    /// The product, inferred from the id field (see the type docs).
    pub product: Option<Product>,
    /// The meeting / webinar / session / engagement / call that was refused a stream.
    pub instance: Option<InstanceId>,
    /// `operator_id`, if present.
    pub operator_id: Option<String>,
    /// `concurrency_number`: streams running now.
    pub concurrency_number: Option<u64>,
    /// Every other payload field, as sent.
    pub extra: Map<String, Value>,
}

impl ConcurrencyLimited {
    /// An event with no field set (every field is optional); also `Default`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::{ConcurrencyLimited, IdField, InstanceId};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let limited = ConcurrencyLimited::new()
    ///     .with_product(Product::Phone)
    ///     .with_instance(InstanceId::new(IdField::CallId, "c1"));
    /// assert_eq!(limited.concurrency_number, None);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

setters! {
    ConcurrencyLimited, "ConcurrencyLimited::new()";
    with_event_ts(u64) -> event_ts = |v| Some(v), "5" => "Some(5)";
    with_account_id(impl Into<String>) -> account_id = |v| Some(v.into()),
        r#""acc""# => r#"Some("acc".to_owned())"#;
    with_product(Product) -> product = |v| Some(v), "Product::Webinar" => "Some(Product::Webinar)";
    with_instance(InstanceId) -> instance = |v| Some(v),
        r#"InstanceId::new(IdField::WebinarUuid, "w")"# => r#"Some(InstanceId::new(IdField::WebinarUuid, "w"))"#;
    with_operator_id(impl Into<String>) -> operator_id = |v| Some(v.into()),
        r#""op""# => r#"Some("op".to_owned())"#;
    with_concurrency_number(u64) -> concurrency_number = |v| Some(v), "100" => "Some(100)";
    with_extra(Map<String, Value>) -> extra = |v| v,
        r#"serde_json::Map::new()"# => r#"serde_json::Map::new()"#;
}

/// `rtms.start_failed`: a stream failed to start. Its payload is not officially documented,
/// so every field is optional and everything not modelled is in [`extra`](StartFailed::extra).
///
/// The instance and product are found as for [`ConcurrencyLimited`].
///
/// ```
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let event = WebhookEvent::parse(br#"{"event":"rtms.start_failed","payload":{
///   "meeting_uuid":"m==","rtms_stream_id":"r1","reason":"whatever"}}"#)?;
/// let WebhookEvent::StartFailed(failed) = event else { panic!() };
/// assert_eq!(failed.rtms_stream_id.as_deref(), Some("r1"));
/// assert_eq!(failed.extra["reason"], "whatever");
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct StartFailed {
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
    /// `account_id`, if present.
    pub account_id: Option<String>,
    /// The product, inferred from the id field.
    pub product: Option<Product>,
    /// The meeting / webinar / session / engagement / call, if an id field is present.
    pub instance: Option<InstanceId>,
    /// `rtms_stream_id`, if present.
    pub rtms_stream_id: Option<String>,
    /// Every other payload field, as sent.
    pub extra: Map<String, Value>,
}

impl StartFailed {
    /// An event with no field set (every field is optional); also `Default`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::StartFailed;
    /// use zoom_rtms_webhooks::WebhookEvent;
    ///
    /// let failed = WebhookEvent::StartFailed(StartFailed::new().with_rtms_stream_id("r1"));
    /// assert_eq!(failed.rtms_stream_id(), Some("r1"));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

setters! {
    StartFailed, "StartFailed::new()";
    with_event_ts(u64) -> event_ts = |v| Some(v), "5" => "Some(5)";
    with_account_id(impl Into<String>) -> account_id = |v| Some(v.into()),
        r#""acc""# => r#"Some("acc".to_owned())"#;
    with_product(Product) -> product = |v| Some(v), "Product::Meeting" => "Some(Product::Meeting)";
    with_instance(InstanceId) -> instance = |v| Some(v),
        r#"InstanceId::new(IdField::MeetingUuid, "m")"# => r#"Some(InstanceId::new(IdField::MeetingUuid, "m"))"#;
    with_rtms_stream_id(impl Into<String>) -> rtms_stream_id = |v| Some(v.into()),
        r#""r""# => r#"Some("r".to_owned())"#;
    with_extra(Map<String, Value>) -> extra = |v| v,
        r#"serde_json::Map::new()"# => r#"serde_json::Map::new()"#;
}

/// Any event whose name this crate does not know. Not an error: acknowledge it with a 2xx.
///
/// ```
/// use serde_json::json;
/// use zoom_rtms_webhooks::event::UnknownEvent;
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let event = WebhookEvent::parse(br#"{"event":"meeting.started","event_ts":1,"payload":{"a":[1]}}"#)?;
/// assert_eq!(
///     event,
///     WebhookEvent::Unknown(UnknownEvent::new("meeting.started", json!({"a": [1]})).with_event_ts(1))
/// );
/// # Ok::<(), zoom_rtms_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UnknownEvent {
    /// The event name, as sent.
    pub event: String,
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
    /// The `payload`, as sent (any JSON value; `Null` if absent).
    pub payload: Value,
}

impl UnknownEvent {
    /// An event with its name and payload (`Value::Null` for none).
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::UnknownEvent;
    ///
    /// let unknown = UnknownEvent::new("meeting.participant_joined", serde_json::Value::Null);
    /// assert_eq!(unknown.event_ts, None);
    /// ```
    pub fn new(event: impl Into<String>, payload: Value) -> Self {
        UnknownEvent {
            event: event.into(),
            event_ts: None,
            payload,
        }
    }
}

setters! {
    UnknownEvent, r#"UnknownEvent::new("x.y", serde_json::Value::Null)"#;
    with_event_ts(u64) -> event_ts = |v| Some(v), "5" => "Some(5)";
}
