//! The typed payload of each event.

use serde_json::{Map, Value};

use super::{InstanceId, Product, StopReason};
use crate::region::{HostPolicy, ServerUrl, ServerUrlError};

/// `endpoint.url_validation`: Zoom's challenge to prove the endpoint holds the Secret Token.
///
/// Answer it only through [`VerifiedEvent::challenge_response`](crate::signature::VerifiedEvent::challenge_response),
/// that is after the request's own signature verified.
///
/// ```
/// use zoom_rtms_webhooks::event::{UrlValidation, WebhookEvent};
///
/// let event = WebhookEvent::parse(
///     br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}"#,
/// )?;
/// assert_eq!(
///     event,
///     WebhookEvent::UrlValidation(UrlValidation {
///         plain_token: "qgg8vlvZRS6UYooatFL8Aw".to_owned(),
///         event_ts: Some(1654503849680),
///     })
/// );
/// # Ok::<(), zoom_rtms_webhooks::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlValidation {
    /// `payload.plainToken`: the random token to hash and send back (required, non-empty).
    pub plain_token: String,
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
}

/// `*.rtms_started` for any [`Product`]: a stream is ready; connect to `server_urls`.
///
/// Required payload fields: the product's id field, `rtms_stream_id` and `server_urls`
/// (non-empty strings). Everything else is optional; fields not modelled here (for example
/// `is_original_host`, `meeting_id`, `webinar_id`, `host_id`, `signature`) are kept in
/// [`extra`](RtmsStarted::extra).
///
/// ```
/// use zoom_rtms_webhooks::{IdField, Product, WebhookEvent};
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
/// assert!(started.server_urls().is_err());
/// # Ok::<(), zoom_rtms_webhooks::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
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
    /// `server_urls`, raw: one URL or several separated by commas. **Not validated**: use
    /// [`server_urls()`](RtmsStarted::server_urls) to get URLs that are safe to dial.
    pub server_urls: String,
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
    /// Parse and check [`server_urls`](RtmsStarted::server_urls) with the default
    /// [`HostPolicy`] (`wss://` and a `zoom.us` host only).
    ///
    /// ```
    /// use zoom_rtms_webhooks::WebhookEvent;
    ///
    /// let event = WebhookEvent::parse(br#"{"event":"session.rtms_started","payload":{
    ///   "session_id":"s1","rtms_stream_id":"r1",
    ///   "server_urls":"wss://rtms-sjc1.zoom.us/a,wss://evil.example/b"}}"#)?;
    /// let WebhookEvent::RtmsStarted(started) = event else { panic!() };
    /// assert_eq!(started.server_urls, "wss://rtms-sjc1.zoom.us/a,wss://evil.example/b");
    /// # Ok::<(), zoom_rtms_webhooks::ParseError>(())
    /// ```
    pub fn server_urls(&self) -> Result<Vec<ServerUrl>, ServerUrlError> {
        crate::region::parse_server_urls(&self.server_urls)
    }

    /// Parse and check [`server_urls`](RtmsStarted::server_urls) with a custom [`HostPolicy`]
    /// (for example one that also allows a local test server).
    pub fn server_urls_with(&self, policy: &HostPolicy) -> Result<Vec<ServerUrl>, ServerUrlError> {
        crate::region::parse_server_urls_with(&self.server_urls, policy)
    }
}

/// `*.rtms_stopped` for any [`Product`]: the stream ended.
///
/// Required payload fields: the product's id field and `rtms_stream_id`.
///
/// ```
/// use zoom_rtms_webhooks::{StopReason, WebhookEvent};
///
/// let event = WebhookEvent::parse(br#"{"event":"webinar.rtms_stopped","payload":{
///   "webinar_uuid":"w==","rtms_stream_id":"r1","stop_reason":6}}"#)?;
/// let WebhookEvent::RtmsStopped(stopped) = event else { panic!() };
/// assert_eq!(stopped.stop_reason, Some(StopReason::MeetingEnded));
/// # Ok::<(), zoom_rtms_webhooks::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RtmsStopped {
    /// The event name exactly as sent.
    pub event: String,
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
    /// The product, from the event name.
    pub product: Product,
    /// The meeting / webinar / session / engagement / call the stream belonged to.
    pub instance: InstanceId,
    /// `rtms_stream_id`.
    pub rtms_stream_id: String,
    /// `stop_reason`: an integer (or a string of digits). `None` if absent, `null`, or not a
    /// number (such a value is kept in [`extra`](RtmsStopped::extra)).
    pub stop_reason: Option<StopReason>,
    /// `operator_id`, if present.
    pub operator_id: Option<String>,
    /// `account_id`, if present.
    pub account_id: Option<String>,
    /// Every other payload field, as sent.
    pub extra: Map<String, Value>,
}

/// `*.rtms_interrupted` for any [`Product`]: the stream was cut off (Zoom may start it again).
///
/// Same shape and rules as [`RtmsStopped`].
///
/// ```
/// use zoom_rtms_webhooks::{Product, WebhookEvent};
///
/// let event = WebhookEvent::parse(br#"{"event":"contact_center.voice_rtms_interrupted",
///   "payload":{"engagement_id":"e1","rtms_stream_id":"r1"}}"#)?;
/// let WebhookEvent::RtmsInterrupted(interrupted) = event else { panic!() };
/// assert_eq!(interrupted.product, Product::ContactCenter);
/// assert_eq!(interrupted.stop_reason, None);
/// # Ok::<(), zoom_rtms_webhooks::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RtmsInterrupted {
    /// The event name exactly as sent.
    pub event: String,
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
    /// The product, from the event name.
    pub product: Product,
    /// The meeting / webinar / session / engagement / call the stream belongs to.
    pub instance: InstanceId,
    /// `rtms_stream_id`.
    pub rtms_stream_id: String,
    /// `stop_reason`, if present and numeric.
    pub stop_reason: Option<StopReason>,
    /// `operator_id`, if present.
    pub operator_id: Option<String>,
    /// `account_id`, if present.
    pub account_id: Option<String>,
    /// Every other payload field, as sent.
    pub extra: Map<String, Value>,
}

/// `rtms.concurrency_near_limit`: the account is close to its concurrent-stream limit.
///
/// Every field is optional; numbers given as strings of digits are accepted.
///
/// ```
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let event = WebhookEvent::parse(br#"{"event":"rtms.concurrency_near_limit","payload":{
///   "account_id":"a1","concurrency_limit":100,"concurrency_number":90,"percentage":90}}"#)?;
/// let WebhookEvent::ConcurrencyNearLimit(near) = event else { panic!() };
/// assert_eq!(near.concurrency_limit, Some(100));
/// assert_eq!(near.percentage, Some(90.0));
/// # Ok::<(), zoom_rtms_webhooks::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
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

/// `rtms.concurrency_limited`: a stream could not start because the account is at its limit.
///
/// Every field is optional. The instance is the first of `webinar_uuid`, `meeting_uuid`,
/// `session_id`, `engagement_id`, `call_id` that is present; the product is inferred from
/// that field (`meeting_uuid` means [`Product::Meeting`] unless a `webinar_id` is also present).
///
/// ```
/// use zoom_rtms_webhooks::{IdField, Product, WebhookEvent};
///
/// let event = WebhookEvent::parse(br#"{"event":"rtms.concurrency_limited","payload":{
///   "session_id":"s1","concurrency_number":100}}"#)?;
/// let WebhookEvent::ConcurrencyLimited(limited) = event else { panic!() };
/// assert_eq!(limited.product, Some(Product::VideoSdk));
/// assert_eq!(limited.instance.map(|i| i.field), Some(IdField::SessionId));
/// # Ok::<(), zoom_rtms_webhooks::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
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
/// # Ok::<(), zoom_rtms_webhooks::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
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

/// Any event whose name this crate does not know. Not an error: acknowledge it with a 2xx.
///
/// ```
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let event = WebhookEvent::parse(br#"{"event":"meeting.started","event_ts":1,"payload":{"a":[1]}}"#)?;
/// let WebhookEvent::Unknown(unknown) = event else { panic!() };
/// assert_eq!(unknown.event, "meeting.started");
/// assert_eq!(unknown.event_ts, Some(1));
/// assert_eq!(unknown.payload, serde_json::json!({"a": [1]}));
/// # Ok::<(), zoom_rtms_webhooks::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownEvent {
    /// The event name, as sent.
    pub event: String,
    /// `event_ts`, milliseconds since the Unix epoch.
    pub event_ts: Option<u64>,
    /// The `payload`, as sent (any JSON value; `Null` if absent).
    pub payload: Value,
}
