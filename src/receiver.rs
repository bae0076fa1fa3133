//! The whole decision for one webhook request, independent of any HTTP framework.
//!
//! A [`Receiver`] takes the request method, the two signature headers and the raw body, and
//! returns an [`Outcome`]: the response to send and what happened. An accepted event has already
//! been handed to a [`Handoff`] (a bounded in-process queue, a channel, or a durable Redis stream)
//! by the time the outcome is returned, so the framework adapter only has to write the response:
//! the user's handler runs later, never before the acknowledgement.
//!
//! # Order of the decision
//!
//! 1. method (`POST` only) and body size;
//! 2. signature and timestamp ([`Verifier`]): a request that fails here gets `401` and nothing
//!    else, in particular **never a challenge reply** (that would make the endpoint a signing
//!    oracle, see [`crate::signature`]);
//! 3. parse ([`WebhookEvent::parse`]): the validation challenge is answered here, with the secret
//!    that verified the request;
//! 4. de-duplicate ([`Deduplicator`], key [`dedup_key`](crate::dedup::dedup_key));
//! 5. hand off ([`Handoff`]); if that fails the de-duplication mark is undone and the answer is
//!    `503` with `Retry-After`, so Zoom delivers the event again and nothing acknowledged is lost.
//!
//! # Status table
//!
//! | situation | status | body | processed |
//! |---|---|---|---|
//! | verified `endpoint.url_validation` | `200` | `{"plainToken":..,"encryptedToken":..}` | no |
//! | verified event, accepted | `200` | empty | once, after the response |
//! | verified event, already seen (retry, duplicate `rtms_started`) | `200` | empty | no |
//! | verified event with an unknown name | `200` | empty | yes, as [`WebhookEvent::Unknown`] |
//! | missing/bad signature, stale or future timestamp | `401` | `unauthorized` | no |
//! | verified, but malformed JSON or a known event with a broken payload | `400` | `bad request` | no |
//! | body larger than the limit | `413` | `payload too large` | no |
//! | queue full, de-duplication store or hand-off unavailable | `503` + `Retry-After` | `unavailable` | no (Zoom retries) |
//! | method other than `POST` | `405` + `Allow: POST` | `method not allowed` | no |
//!
//! Zoom re-queues any non-2xx answer, so every event that is verified and well formed gets a 2xx,
//! including names this crate does not know. Bodies of error responses are fixed strings: they
//! never echo the request, the reason a signature failed, or anything derived from a secret.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::dedup::{DedupError, Deduplicator, Seen};
use crate::event::{ParseError, WebhookEvent};
use crate::signature::{ChallengeResponse, Verifier, VerifyError};

/// Default maximum body size: 64 KiB. Zoom's RTMS webhooks are well under 4 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Default `Retry-After` value sent with `503`: 5 seconds.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// One webhook request as the receiver sees it: nothing framework-specific.
///
/// ```
/// use zoom_rtms_webhooks::receiver::WebhookRequest;
///
/// let req = WebhookRequest::post(Some("v0=..."), Some("1700000000"), br#"{"event":"x"}"#);
/// assert_eq!(req.method, "POST");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    /// The HTTP method, e.g. `"POST"`.
    pub method: &'a str,
    /// The `x-zm-signature` header value, if present.
    pub signature: Option<&'a str>,
    /// The `x-zm-request-timestamp` header value, if present.
    pub timestamp: Option<&'a str>,
    /// The raw request body, exactly as received.
    pub body: &'a [u8],
}

impl<'a> WebhookRequest<'a> {
    /// A `POST` request with the given header values and body.
    pub fn post(signature: Option<&'a str>, timestamp: Option<&'a str>, body: &'a [u8]) -> Self {
        WebhookRequest {
            method: "POST",
            signature,
            timestamp,
            body,
        }
    }

    /// Reads the two signature headers from an `http` 1.x [`http::HeaderMap`].
    ///
    /// A header that is repeated or not valid UTF-8 is treated as missing.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use zoom_rtms_webhooks::receiver::WebhookRequest;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-zm-request-timestamp", "1700000000".parse().unwrap());
    /// let req = WebhookRequest::from_headers("POST", &headers, b"{}");
    /// assert_eq!(req.timestamp, Some("1700000000"));
    /// assert_eq!(req.signature, None);
    /// ```
    pub fn from_headers(method: &'a str, headers: &'a http::HeaderMap, body: &'a [u8]) -> Self {
        let (signature, timestamp) = crate::signature::header_values(headers);
        WebhookRequest {
            method,
            signature,
            timestamp,
            body,
        }
    }
}

/// An accepted event, handed to a [`Handoff`] and from there to the user's handler.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Delivery {
    /// The typed event.
    pub event: WebhookEvent,
    /// The de-duplication key the event was accepted under ([`dedup_key`](crate::dedup::dedup_key)).
    pub dedup_key: String,
    /// The label of the secret that verified the request (see [`Verifier::builder`]).
    pub secret_label: String,
    /// The request's `x-zm-request-timestamp`, in Unix seconds.
    pub timestamp: u64,
}

impl Delivery {
    /// Builds a delivery by hand, e.g. to test a handler without a receiver.
    ///
    /// ```
    /// use zoom_rtms_webhooks::{receiver::Delivery, WebhookEvent};
    ///
    /// let event = WebhookEvent::parse(br#"{"event":"x.y","payload":{}}"#).unwrap();
    /// let d = Delivery::new(event, "x.y:0", "default", 1_700_000_000);
    /// assert_eq!(d.event.name(), "x.y");
    /// ```
    pub fn new(
        event: WebhookEvent,
        dedup_key: impl Into<String>,
        secret_label: impl Into<String>,
        timestamp: u64,
    ) -> Self {
        Delivery {
            event,
            dedup_key: dedup_key.into(),
            secret_label: secret_label.into(),
            timestamp,
        }
    }
}

/// Why a hand-off could not take an event. Every variant makes the receiver answer `503`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandoffError {
    /// The bounded queue is full; Zoom should retry later.
    #[error("hand-off queue is full")]
    Full,
    /// The consumer side is shutting down or gone.
    #[error("hand-off is closed")]
    Closed,
    /// A backing store (e.g. Redis) failed or timed out.
    #[error("hand-off store unavailable: {0}")]
    Unavailable(String),
}

/// Where an accepted event goes before the response is sent.
///
/// `hand_off` must not wait for the user's handler: it only has to make the event safe (queued
/// in memory, or written to a durable store). It should be quick and must be bounded, since
/// Zoom waits at most 3 seconds for the response.
///
/// Implemented for `dispatch::Dispatcher<Delivery>` and `tokio::sync::mpsc::Sender<Delivery>`
/// (feature `dispatch`), and for closures `Fn(Delivery) -> Result<(), HandoffError>`.
pub trait Handoff: Send + Sync + 'static {
    /// Takes the event, or says why it cannot.
    fn hand_off<'a>(
        &'a self,
        delivery: Delivery,
        raw_body: &'a [u8],
    ) -> impl Future<Output = Result<(), HandoffError>> + Send + 'a;
}

impl<F> Handoff for F
where
    F: Fn(Delivery) -> Result<(), HandoffError> + Send + Sync + 'static,
{
    fn hand_off<'a>(
        &'a self,
        delivery: Delivery,
        _raw_body: &'a [u8],
    ) -> impl Future<Output = Result<(), HandoffError>> + Send + 'a {
        std::future::ready(self(delivery))
    }
}

impl<H: Handoff> Handoff for Arc<H> {
    fn hand_off<'a>(
        &'a self,
        delivery: Delivery,
        raw_body: &'a [u8],
    ) -> impl Future<Output = Result<(), HandoffError>> + Send + 'a {
        (**self).hand_off(delivery, raw_body)
    }
}

#[cfg(feature = "dispatch")]
impl Handoff for tokio::sync::mpsc::Sender<Delivery> {
    fn hand_off<'a>(
        &'a self,
        delivery: Delivery,
        _raw_body: &'a [u8],
    ) -> impl Future<Output = Result<(), HandoffError>> + Send + 'a {
        use tokio::sync::mpsc::error::TrySendError;
        std::future::ready(self.try_send(delivery).map_err(|e| match e {
            TrySendError::Full(_) => HandoffError::Full,
            TrySendError::Closed(_) => HandoffError::Closed,
        }))
    }
}

#[cfg(feature = "dispatch")]
impl Handoff for crate::dispatch::Dispatcher<Delivery> {
    fn hand_off<'a>(
        &'a self,
        delivery: Delivery,
        _raw_body: &'a [u8],
    ) -> impl Future<Output = Result<(), HandoffError>> + Send + 'a {
        use crate::dispatch::DispatchError;
        std::future::ready(self.try_dispatch(delivery).map_err(|e| match e {
            DispatchError::QueueFull(_) => HandoffError::Full,
            DispatchError::ShuttingDown(_) => HandoffError::Closed,
        }))
    }
}

/// Why a request was refused. Carried by [`Outcome::Rejected`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The method was not `POST` (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body was larger than the configured limit (413).
    #[error("payload too large")]
    PayloadTooLarge,
    /// The signature or timestamp did not verify (401).
    #[error("unauthorized: {0}")]
    Unauthorized(#[source] VerifyError),
    /// The request verified but its body is not a valid event (400).
    #[error("bad request: {0}")]
    BadRequest(#[source] ParseError),
    /// The body could not be read (client hung up, bad `Content-Length`, transport error): 400.
    /// Reported by adapters through [`Receiver::reject`].
    #[error("unreadable body")]
    UnreadableBody,
    /// The de-duplication store failed (503).
    #[error("de-duplication unavailable: {0}")]
    DedupUnavailable(#[source] DedupError),
    /// The hand-off refused the event (503).
    #[error("hand-off unavailable: {0}")]
    HandoffUnavailable(#[source] HandoffError),
}

impl Rejection {
    /// The HTTP status code for this rejection.
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::Rejection;
    /// assert_eq!(Rejection::PayloadTooLarge.status(), 413);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Rejection::MethodNotAllowed => 405,
            Rejection::PayloadTooLarge => 413,
            Rejection::Unauthorized(_) => 401,
            Rejection::BadRequest(_) | Rejection::UnreadableBody => 400,
            Rejection::DedupUnavailable(_) | Rejection::HandoffUnavailable(_) => 503,
        }
    }

    /// A short, stable name for metrics and logs, e.g. `"unauthorized"`.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::MethodNotAllowed => "method_not_allowed",
            Rejection::PayloadTooLarge => "payload_too_large",
            Rejection::Unauthorized(_) => "unauthorized",
            Rejection::BadRequest(_) => "bad_request",
            Rejection::UnreadableBody => "unreadable_body",
            Rejection::DedupUnavailable(_) => "dedup_unavailable",
            Rejection::HandoffUnavailable(_) => "handoff_unavailable",
        }
    }
}

/// The response to write, as plain data any framework can convert.
///
/// ```
/// use zoom_rtms_webhooks::receiver::WebhookResponse;
///
/// let r = WebhookResponse::ok();
/// assert_eq!(r.status, 200);
/// assert!(r.body.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers to set, as `(name, value)`; names are lower-case.
    pub headers: Vec<(&'static str, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl WebhookResponse {
    /// `200` with an empty body.
    pub fn ok() -> Self {
        WebhookResponse {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `200` with the JSON reply to a verified `endpoint.url_validation`.
    ///
    /// A [`ChallengeResponse`] can only be obtained from a verified request
    /// ([`crate::VerifiedEvent::challenge_response`]), so neither can this response.
    pub fn challenge(reply: &ChallengeResponse) -> Self {
        WebhookResponse {
            status: 200,
            headers: vec![("content-type", "application/json".to_owned())],
            body: reply.to_json(),
        }
    }

    fn text(status: u16, body: &'static str) -> Self {
        WebhookResponse {
            status,
            headers: vec![("content-type", "text/plain; charset=utf-8".to_owned())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// The response for a rejection, with the headers it needs (`Allow`, `Retry-After`).
    pub fn for_rejection(rejection: &Rejection, retry_after: Duration) -> Self {
        match rejection {
            Rejection::MethodNotAllowed => {
                let mut r = Self::text(405, "method not allowed");
                r.headers.push(("allow", "POST".to_owned()));
                r
            }
            Rejection::PayloadTooLarge => Self::text(413, "payload too large"),
            Rejection::Unauthorized(_) => Self::text(401, "unauthorized"),
            Rejection::BadRequest(_) | Rejection::UnreadableBody => Self::text(400, "bad request"),
            Rejection::DedupUnavailable(_) | Rejection::HandoffUnavailable(_) => {
                let mut r = Self::text(503, "unavailable");
                r.headers
                    .push(("retry-after", retry_after.as_secs().max(1).to_string()));
                r
            }
        }
    }

    /// Converts into an `http` 1.x response.
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::WebhookResponse;
    /// let r = WebhookResponse::ok().into_http();
    /// assert_eq!(r.status(), http::StatusCode::OK);
    /// ```
    pub fn into_http(self) -> http::Response<Vec<u8>> {
        let mut builder = http::Response::builder().status(self.status);
        for (name, value) in &self.headers {
            builder = builder.header(*name, value.as_str());
        }
        builder.body(self.body).unwrap_or_else(|_| {
            // Unreachable with the fixed names and values above; fail safe rather than panic.
            let mut r = http::Response::new(Vec::new());
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }
}

/// What the receiver decided for one request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// A verified `endpoint.url_validation`: the response carries the reply.
    Challenge(WebhookResponse),
    /// A new event, already handed off; the response is `200`.
    Accepted {
        /// The de-duplication key.
        dedup_key: String,
        /// The event name as sent.
        event: String,
    },
    /// An event seen before (a retry or a second `rtms_started`); acknowledged, not handed off.
    Duplicate {
        /// The de-duplication key.
        dedup_key: String,
    },
    /// The request was refused.
    Rejected(Rejection),
}

impl Outcome {
    /// The response to send for this outcome.
    pub fn response(&self, retry_after: Duration) -> WebhookResponse {
        match self {
            Outcome::Challenge(r) => r.clone(),
            Outcome::Accepted { .. } | Outcome::Duplicate { .. } => WebhookResponse::ok(),
            Outcome::Rejected(rej) => WebhookResponse::for_rejection(rej, retry_after),
        }
    }

    /// Consumes the outcome and returns its response.
    pub fn into_response(self, retry_after: Duration) -> WebhookResponse {
        match self {
            Outcome::Challenge(r) => r,
            other => other.response(retry_after),
        }
    }
}

/// Limits and timings of a [`Receiver`].
///
/// ```
/// use zoom_rtms_webhooks::receiver::ReceiverConfig;
/// let cfg = ReceiverConfig::default().body_limit(16 * 1024);
/// assert_eq!(cfg.get_body_limit(), 16 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    body_limit: usize,
    retry_after: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            body_limit: DEFAULT_BODY_LIMIT,
            retry_after: DEFAULT_RETRY_AFTER,
        }
    }
}

impl ReceiverConfig {
    /// Largest accepted body in bytes (default [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
    /// `Retry-After` sent with `503` (default [`DEFAULT_RETRY_AFTER`]; at least one second).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }
    /// The configured body limit.
    pub fn get_body_limit(&self) -> usize {
        self.body_limit
    }
    /// The configured `Retry-After`.
    pub fn get_retry_after(&self) -> Duration {
        self.retry_after
    }
}

/// Counters of a [`Receiver`], cheap to read at any time (relaxed atomics).
#[derive(Debug, Default)]
pub struct ReceiverStats {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    challenges: AtomicU64,
    unauthorized: AtomicU64,
    bad_request: AtomicU64,
    too_large: AtomicU64,
    method_not_allowed: AtomicU64,
    unavailable: AtomicU64,
}

/// A point-in-time copy of [`ReceiverStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Events accepted and handed off.
    pub accepted: u64,
    /// Deliveries acknowledged as duplicates.
    pub duplicates: u64,
    /// Validation challenges answered.
    pub challenges: u64,
    /// Requests refused with 401.
    pub unauthorized: u64,
    /// Requests refused with 400.
    pub bad_request: u64,
    /// Requests refused with 413.
    pub too_large: u64,
    /// Requests refused with 405.
    pub method_not_allowed: u64,
    /// Requests refused with 503 (queue full, store unavailable).
    pub unavailable: u64,
}

impl ReceiverStats {
    fn record(&self, outcome: &Outcome) {
        let counter = match outcome {
            Outcome::Challenge(_) => &self.challenges,
            Outcome::Accepted { .. } => &self.accepted,
            Outcome::Duplicate { .. } => &self.duplicates,
            Outcome::Rejected(r) => match r {
                Rejection::MethodNotAllowed => &self.method_not_allowed,
                Rejection::PayloadTooLarge => &self.too_large,
                Rejection::Unauthorized(_) => &self.unauthorized,
                Rejection::BadRequest(_) | Rejection::UnreadableBody => &self.bad_request,
                Rejection::DedupUnavailable(_) | Rejection::HandoffUnavailable(_) => {
                    &self.unavailable
                }
            },
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            accepted: r(&self.accepted),
            duplicates: r(&self.duplicates),
            challenges: r(&self.challenges),
            unauthorized: r(&self.unauthorized),
            bad_request: r(&self.bad_request),
            too_large: r(&self.too_large),
            method_not_allowed: r(&self.method_not_allowed),
            unavailable: r(&self.unavailable),
        }
    }
}

/// The framework-agnostic webhook receiver: verify, answer, parse, de-duplicate, hand off.
///
/// Share it between requests behind an [`Arc`]; every method takes `&self`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::{Arc, Mutex};
/// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
/// use zoom_rtms_webhooks::receiver::{Delivery, Outcome, Receiver, WebhookRequest};
/// use zoom_rtms_webhooks::{sign, Verifier};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = {
///     let seen = seen.clone();
///     move |d: Delivery| {
///         seen.lock().unwrap().push(d.event.name().to_owned());
///         Ok(())
///     }
/// };
/// let receiver = Receiver::new(Verifier::new("secret").unwrap(), MemoryDeduplicator::new(), sink);
///
/// let body = br#"{"event":"meeting.rtms_started","event_ts":1,"payload":{"meeting_uuid":"m==","rtms_stream_id":"s1","server_urls":"wss://rtms-sjc1.zoom.us/"}}"#;
/// let ts = std::time::SystemTime::now()
///     .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
/// let sig = sign("secret", &ts, body);
///
/// let first = receiver.receive(WebhookRequest::post(Some(&sig), Some(&ts), body)).await;
/// assert!(matches!(first, Outcome::Accepted { .. }));
/// let retry = receiver.receive(WebhookRequest::post(Some(&sig), Some(&ts), body)).await;
/// assert!(matches!(retry, Outcome::Duplicate { .. }));
/// assert_eq!(seen.lock().unwrap().as_slice(), ["meeting.rtms_started"]);
/// # }
/// ```
pub struct Receiver<D, H> {
    verifier: Verifier,
    dedup: D,
    handoff: H,
    config: ReceiverConfig,
    stats: ReceiverStats,
}

impl<D, H> fmt::Debug for Receiver<D, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("verifier", &self.verifier)
            .field("config", &self.config)
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}

impl<D: Deduplicator, H: Handoff> Receiver<D, H> {
    /// A receiver with the default [`ReceiverConfig`].
    pub fn new(verifier: Verifier, dedup: D, handoff: H) -> Self {
        Receiver {
            verifier,
            dedup,
            handoff,
            config: ReceiverConfig::default(),
            stats: ReceiverStats::default(),
        }
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: ReceiverConfig) -> Self {
        self.config = config;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ReceiverConfig {
        &self.config
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The de-duplicator.
    pub fn deduplicator(&self) -> &D {
        &self.dedup
    }

    /// The hand-off.
    pub fn handoff(&self) -> &H {
        &self.handoff
    }

    /// Counters of what this receiver decided so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Decides one request using the system clock. See [`Receiver::receive_at`].
    pub async fn receive(&self, request: WebhookRequest<'_>) -> Outcome {
        self.receive_at(request, SystemTime::now()).await
    }

    /// Decides one request, with `now` as the current time for the timestamp window.
    pub async fn receive_at(&self, request: WebhookRequest<'_>, now: SystemTime) -> Outcome {
        let outcome = self.decide(request, now).await;
        self.stats.record(&outcome);
        #[cfg(feature = "tracing")]
        trace_outcome(&outcome);
        outcome
    }

    /// The outcome for a request refused before the receiver saw its body: the framework's
    /// body limit was exceeded (`413`, e.g. axum's `DefaultBodyLimit`) or the body could not be
    /// read (`400`). Counted like any other rejection.
    pub fn reject(&self, rejection: Rejection) -> Outcome {
        let outcome = Outcome::Rejected(rejection);
        self.stats.record(&outcome);
        #[cfg(feature = "tracing")]
        trace_outcome(&outcome);
        outcome
    }

    /// [`Receiver::reject`] and the response for it, with the configured `Retry-After`: what an
    /// adapter sends when the framework could not read the body (too large, or unreadable).
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::{Delivery, Receiver, Rejection};
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let receiver = Receiver::new(Verifier::new("s").unwrap(), MemoryDeduplicator::new(), |_: Delivery| Ok(()));
    /// assert_eq!(receiver.reject_response(Rejection::PayloadTooLarge).status, 413);
    /// assert_eq!(receiver.stats().too_large, 1);
    /// ```
    pub fn reject_response(&self, rejection: Rejection) -> WebhookResponse {
        self.reject(rejection)
            .into_response(self.config.retry_after)
    }

    /// Decides one request and returns only the response to send (the common case for adapters).
    pub async fn respond(&self, request: WebhookRequest<'_>) -> WebhookResponse {
        self.receive(request)
            .await
            .into_response(self.config.retry_after)
    }

    async fn decide(&self, request: WebhookRequest<'_>, now: SystemTime) -> Outcome {
        if !request.method.eq_ignore_ascii_case("POST") {
            return Outcome::Rejected(Rejection::MethodNotAllowed);
        }
        if request.body.len() > self.config.body_limit {
            return Outcome::Rejected(Rejection::PayloadTooLarge);
        }
        let verified =
            match self
                .verifier
                .verify_at(request.signature, request.timestamp, request.body, now)
            {
                Ok(v) => v,
                Err(e) => return Outcome::Rejected(Rejection::Unauthorized(e)),
            };
        let verified = match verified.parse() {
            Ok(v) => v,
            Err(e) => return Outcome::Rejected(Rejection::BadRequest(e)),
        };
        if let Some(reply) = verified.challenge_response() {
            return Outcome::Challenge(WebhookResponse::challenge(&reply));
        }
        let secret_label = verified.secret_label().to_owned();
        let timestamp = verified.timestamp();
        let event = verified.into_event();
        let dedup_key = crate::dedup::dedup_key(&event, request.body);
        match self.dedup.check_and_mark(&dedup_key).await {
            Ok(Seen::New) => {}
            Ok(Seen::Duplicate) => return Outcome::Duplicate { dedup_key },
            Err(e) => return Outcome::Rejected(Rejection::DedupUnavailable(e)),
        }
        let name = event.name().to_owned();
        let delivery = Delivery {
            event,
            dedup_key: dedup_key.clone(),
            secret_label,
            timestamp,
        };
        match self.handoff.hand_off(delivery, request.body).await {
            Ok(()) => Outcome::Accepted {
                dedup_key,
                event: name,
            },
            Err(e) => {
                // Undo the mark so Zoom's retry (prompted by the 503) is processed. If the store
                // cannot even do that, the retry will be seen as a duplicate: say so loudly.
                if let Err(_forget_error) = self.dedup.forget(&dedup_key).await {
                    #[cfg(feature = "tracing")]
                    tracing::error!(
                        dedup_key = %dedup_key,
                        error = %_forget_error,
                        "could not undo the de-duplication mark after a failed hand-off"
                    );
                }
                Outcome::Rejected(Rejection::HandoffUnavailable(e))
            }
        }
    }
}

#[cfg(feature = "tracing")]
fn trace_outcome(outcome: &Outcome) {
    match outcome {
        Outcome::Challenge(_) => tracing::info!("answered endpoint.url_validation"),
        Outcome::Accepted { dedup_key, event } => {
            tracing::info!(event = %event, dedup_key = %dedup_key, "accepted")
        }
        Outcome::Duplicate { dedup_key } => {
            tracing::info!(dedup_key = %dedup_key, "duplicate acknowledged")
        }
        Outcome::Rejected(r) => {
            tracing::warn!(reason = r.reason(), status = r.status(), error = %r, "rejected")
        }
    }
}
