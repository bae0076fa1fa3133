//! The whole decision for one webhook request, independent of any HTTP framework.
//!
//! A [`Receiver`] takes the request method, the two signature headers and the raw body, and
//! returns an [`Outcome`]: what happened, and ([`Outcome::response`]) the response to send.
//! That is the one way an answer is made: an adapter that refuses a request itself, before the
//! receiver saw its body (too large, unreadable), reports it with [`Receiver::reject`], which
//! counts it and returns its [`Outcome`] too. An accepted event has already
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
//! | server misconfigured (actix extractor without `web::Data<Verifier>`) | `500` | `internal server error` | no |
//!
//! [`Rejection::status`] is this table in code; every adapter and the extractor use it. The
//! adapters check in the same order before they read a body: the method first (an oversized
//! `GET` is `405`), then the declared `Content-Length` (`413` without reading the body).
//!
//! Zoom re-queues any non-2xx answer, so every event that is verified and well formed gets a 2xx,
//! including names this crate does not know. Bodies of error responses are fixed strings: they
//! never echo the request, the reason a signature failed, or anything derived from a secret.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::dedup::{DedupError, Deduplicator, Seen};
use crate::event::{ParseError, WebhookEvent};
use crate::signature::{
    ChallengeResponse, Error as SignatureError, SignatureHeaders, Verifier, VerifyError,
};

/// Default maximum body size: 64 KiB. Zoom's RTMS webhooks are well under 4 KiB.
///
/// ```
/// use zoom_rtms_webhooks::receiver::{ReceiverConfig, DEFAULT_BODY_LIMIT};
/// assert_eq!(ReceiverConfig::default().body_limit(), DEFAULT_BODY_LIMIT);
/// ```
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Default `Retry-After` value sent with `503`: 5 seconds.
///
/// ```
/// use zoom_rtms_webhooks::receiver::{ReceiverConfig, DEFAULT_RETRY_AFTER};
/// assert_eq!(ReceiverConfig::default().retry_after(), DEFAULT_RETRY_AFTER);
/// ```
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// One webhook request as the receiver sees it: nothing framework-specific.
///
/// ```
/// use zoom_rtms_webhooks::receiver::WebhookRequest;
///
/// let req = WebhookRequest::post(Some("v0=..."), Some("1700000000"), br#"{"event":"x"}"#);
/// assert_eq!(req.method, "POST");
/// assert_eq!(req.headers.timestamp(), Some("1700000000"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    /// The HTTP method, e.g. `"POST"`.
    pub method: &'a str,
    /// The `x-zm-signature` and `x-zm-request-timestamp` headers.
    pub headers: SignatureHeaders<'a>,
    /// The raw request body, exactly as received.
    pub body: &'a [u8],
}

impl<'a> WebhookRequest<'a> {
    /// A `POST` request with the given header values and body.
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::WebhookRequest;
    ///
    /// let req = WebhookRequest::post(None, Some("1700000000"), b"{}");
    /// assert_eq!((req.method, req.headers.signature()), ("POST", None));
    /// ```
    pub fn post(signature: Option<&'a str>, timestamp: Option<&'a str>, body: &'a [u8]) -> Self {
        WebhookRequest {
            method: "POST",
            headers: SignatureHeaders::new(signature, timestamp),
            body,
        }
    }

    /// Reads the two signature headers from an `http` 1.x [`http::HeaderMap`]
    /// ([`SignatureHeaders::from_header_map`]: a repeated header is refused as ambiguous).
    ///
    /// ```
    /// use http::HeaderMap;
    /// use zoom_rtms_webhooks::receiver::WebhookRequest;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-zm-request-timestamp", "1700000000".parse().unwrap());
    /// let req = WebhookRequest::from_headers("POST", &headers, b"{}");
    /// assert_eq!(req.headers.timestamp(), Some("1700000000"));
    /// assert_eq!(req.headers.signature(), None);
    /// ```
    pub fn from_headers(method: &'a str, headers: &'a http::HeaderMap, body: &'a [u8]) -> Self {
        WebhookRequest {
            method,
            headers: SignatureHeaders::from_header_map(headers),
            body,
        }
    }
}

/// An accepted event, handed to a [`Handoff`] and from there to the user's handler.
///
/// ```
/// use zoom_rtms_webhooks::{Delivery, WebhookEvent};
///
/// // A handler, as a `Dispatcher<Delivery>` runs it after the 200 was sent.
/// async fn handle(delivery: Delivery) -> Result<(), std::convert::Infallible> {
///     if let WebhookEvent::RtmsStarted(started) = &delivery.event {
///         println!("stream {} (secret {})", started.rtms_stream_id, delivery.secret_label);
///     }
///     Ok(())
/// }
/// ```
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
    /// use zoom_rtms_webhooks::{Delivery, WebhookEvent};
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
///
/// ```
/// use std::error::Error;
/// use zoom_rtms_webhooks::dedup::StoreError;
/// use zoom_rtms_webhooks::receiver::{HandoffError, Rejection};
///
/// let err = HandoffError::Unavailable(StoreError::new("connection refused"));
/// assert_eq!(err.to_string(), "hand-off store unavailable: connection refused");
/// assert!(err.source().is_some());
/// assert_eq!(HandoffError::Timeout.to_string(), "hand-off store timed out");
/// let rejection = Rejection::HandoffUnavailable {
///     error: HandoffError::Full,
///     retry_after: std::time::Duration::from_secs(5),
/// };
/// assert_eq!(rejection.status(), 503);
/// assert_eq!(HandoffError::Closed.to_string(), "hand-off is closed");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandoffError {
    /// The bounded queue is full; Zoom should retry later.
    #[error("hand-off queue is full")]
    Full,
    /// The consumer side is shutting down or gone.
    #[error("hand-off is closed")]
    Closed,
    /// A backing store could not be reached or returned an error: the store's own error (for
    /// Redis a `redis::RedisError`).
    #[error("hand-off store unavailable: {0}")]
    Unavailable(#[source] crate::dedup::StoreError),
    /// A backing store did not answer in time (it may still store the event later).
    #[error("hand-off store timed out")]
    Timeout,
}

/// Where an accepted event goes before the response is sent.
///
/// `hand_off` must not wait for the user's handler: it only has to make the event safe (queued
/// in memory, or written to a durable store). It should be quick and must be bounded, since
/// Zoom waits at most 3 seconds for the response.
///
/// Implemented for `dispatch::Dispatcher<Delivery>` and `tokio::sync::mpsc::Sender<Delivery>`
/// (feature `dispatch`), for closures `Fn(Delivery) -> Result<(), HandoffError>`, for `Arc<H>`
/// and for [`BoxHandoff`] (a hand-off chosen at run time).
///
/// ```
/// use std::future::Future;
/// use std::sync::Mutex;
/// use zoom_rtms_webhooks::receiver::{Handoff, HandoffError};
/// use zoom_rtms_webhooks::Delivery;
///
/// /// Keeps at most 100 events in memory.
/// struct Bounded(Mutex<Vec<Delivery>>);
///
/// impl Handoff for Bounded {
///     fn hand_off<'a>(
///         &'a self,
///         delivery: Delivery,
///         _raw_body: &'a [u8],
///     ) -> impl Future<Output = Result<(), HandoffError>> + Send + 'a {
///         let mut queue = self.0.lock().unwrap_or_else(|p| p.into_inner());
///         let result = if queue.len() < 100 {
///             queue.push(delivery);
///             Ok(())
///         } else {
///             Err(HandoffError::Full) // the receiver answers 503, Zoom retries
///         };
///         std::future::ready(result)
///     }
/// }
/// ```
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

/// A [`Handoff`] chosen at run time: any hand-off behind one type, so an application can pick
/// an in-process `dispatch::Dispatcher` (feature `dispatch`) or the durable Redis stream from
/// its configuration and still name one `Receiver<_, BoxHandoff>` type.
///
/// It costs one allocation per hand-off (the boxed future).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use zoom_rtms_webhooks::dedup::{BoxDeduplicator, MemoryDeduplicator};
/// use zoom_rtms_webhooks::receiver::{BoxHandoff, HandoffError};
/// use zoom_rtms_webhooks::Delivery;
/// use zoom_rtms_webhooks::{Receiver, Verifier};
///
/// let use_log = std::env::var("HANDOFF").as_deref() == Ok("log");
/// let handoff = if use_log {
///     BoxHandoff::new(|d: Delivery| {
///         println!("{}", d.event.name());
///         Ok::<(), HandoffError>(())
///     })
/// } else {
///     let (tx, _rx) = tokio::sync::mpsc::channel::<Delivery>(1024);
///     BoxHandoff::new(tx)
/// };
/// let dedup = BoxDeduplicator::new(MemoryDeduplicator::new());
/// let receiver: Receiver<BoxDeduplicator, BoxHandoff> =
///     Receiver::new(Verifier::new("secret")?, dedup, handoff);
/// # let _ = receiver;
/// # Ok(())
/// # }
/// ```
pub struct BoxHandoff(Box<dyn DynHandoff>);

impl BoxHandoff {
    /// Boxes `handoff`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::{BoxHandoff, HandoffError};
    /// use zoom_rtms_webhooks::Delivery;
    /// let handoff = BoxHandoff::new(|_: Delivery| Ok::<(), HandoffError>(()));
    /// # let _ = handoff;
    /// ```
    pub fn new(handoff: impl Handoff) -> Self {
        BoxHandoff(Box::new(handoff))
    }
}

impl fmt::Debug for BoxHandoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxHandoff(..)")
    }
}

impl Handoff for BoxHandoff {
    fn hand_off<'a>(
        &'a self,
        delivery: Delivery,
        raw_body: &'a [u8],
    ) -> impl Future<Output = Result<(), HandoffError>> + Send + 'a {
        self.0.hand_off_boxed(delivery, raw_body)
    }
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe form of [`Handoff`] behind [`BoxHandoff`].
trait DynHandoff: Send + Sync + 'static {
    fn hand_off_boxed<'a>(
        &'a self,
        delivery: Delivery,
        raw_body: &'a [u8],
    ) -> BoxFuture<'a, Result<(), HandoffError>>;
}

impl<H: Handoff> DynHandoff for H {
    fn hand_off_boxed<'a>(
        &'a self,
        delivery: Delivery,
        raw_body: &'a [u8],
    ) -> BoxFuture<'a, Result<(), HandoffError>> {
        Box::pin(self.hand_off(delivery, raw_body))
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

/// Why a request was refused. Carried by [`Outcome::Rejected`], and the rejection of the
/// `VerifiedWebhook` extractor (features `axum`, `actix`).
///
/// [`Rejection::status`] is the one rejection → status table of the crate: the [`Receiver`],
/// every adapter and the extractor answer with it, and with a fixed body
/// ([`Outcome::response`]). The variant keeps the reason for your logs; the response never
/// shows it.
///
/// ```
/// use zoom_rtms_webhooks::receiver::Rejection;
/// use zoom_rtms_webhooks::signature::VerifyError;
///
/// let rejection = Rejection::Unauthorized(VerifyError::Mismatch);
/// assert_eq!(rejection.status(), 401);
/// assert_eq!(rejection.reason(), "unauthorized");
/// ```
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
    #[error("de-duplication unavailable: {error}")]
    DedupUnavailable {
        /// What failed.
        #[source]
        error: DedupError,
        /// When Zoom should try again: the response's `Retry-After` (at least one second),
        /// from [`ReceiverConfig::retry_after`].
        retry_after: Duration,
    },
    /// The hand-off refused the event (503).
    #[error("hand-off unavailable: {error}")]
    HandoffUnavailable {
        /// Why the hand-off refused it.
        #[source]
        error: HandoffError,
        /// When Zoom should try again: the response's `Retry-After` (at least one second),
        /// from [`ReceiverConfig::retry_after`].
        retry_after: Duration,
    },
    /// The server is misconfigured (500), e.g. the actix extractor found no
    /// `web::Data<Verifier>`. The request is refused (fail closed), never accepted unverified.
    #[error("server misconfigured: no verifier available")]
    Misconfigured,
}

impl Rejection {
    /// The HTTP status code for this rejection: the crate's only rejection → status table.
    ///
    /// | rejection | status |
    /// |---|---|
    /// | [`MethodNotAllowed`](Rejection::MethodNotAllowed) | `405` |
    /// | [`PayloadTooLarge`](Rejection::PayloadTooLarge) | `413` |
    /// | [`Unauthorized`](Rejection::Unauthorized) | `401` |
    /// | [`BadRequest`](Rejection::BadRequest), [`UnreadableBody`](Rejection::UnreadableBody) | `400` |
    /// | [`DedupUnavailable`](Rejection::DedupUnavailable), [`HandoffUnavailable`](Rejection::HandoffUnavailable) | `503` (with `Retry-After`) |
    /// | [`Misconfigured`](Rejection::Misconfigured) | `500` |
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::Rejection;
    /// assert_eq!(Rejection::PayloadTooLarge.status(), 413);
    /// assert_eq!(Rejection::Misconfigured.status(), 500);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Rejection::MethodNotAllowed => 405,
            Rejection::PayloadTooLarge => 413,
            Rejection::Unauthorized(_) => 401,
            Rejection::BadRequest(_) | Rejection::UnreadableBody => 400,
            Rejection::DedupUnavailable { .. } | Rejection::HandoffUnavailable { .. } => 503,
            Rejection::Misconfigured => 500,
        }
    }

    /// The rejection for a request that did not verify (`401`) or did not parse (`400`).
    pub(crate) fn from_signature_error(error: SignatureError) -> Self {
        match error {
            SignatureError::Verify(e) => Rejection::Unauthorized(e),
            SignatureError::Parse(e) => Rejection::BadRequest(e),
        }
    }

    /// The `Retry-After` of a `503`, `None` for every other rejection.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Rejection::DedupUnavailable { retry_after, .. }
            | Rejection::HandoffUnavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// A short, stable name for metrics and logs, e.g. `"unauthorized"`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::Rejection;
    /// assert_eq!(Rejection::UnreadableBody.reason(), "unreadable_body");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::MethodNotAllowed => "method_not_allowed",
            Rejection::PayloadTooLarge => "payload_too_large",
            Rejection::Unauthorized(_) => "unauthorized",
            Rejection::BadRequest(_) => "bad_request",
            Rejection::UnreadableBody => "unreadable_body",
            Rejection::DedupUnavailable { .. } => "dedup_unavailable",
            Rejection::HandoffUnavailable { .. } => "handoff_unavailable",
            Rejection::Misconfigured => "misconfigured",
        }
    }
}

/// The fixed body for a rejection status. It never echoes the request, the reason a signature
/// failed, or anything derived from a secret.
fn rejection_body(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "unauthorized",
        405 => "method not allowed",
        413 => "payload too large",
        503 => "unavailable",
        _ => "internal server error",
    }
}

/// The response to write, as plain data any framework can convert.
///
/// Its `Debug` output shows the body's length, not the body (a challenge reply's
/// `encryptedToken` stays out of logs).
///
/// ```
/// use zoom_rtms_webhooks::receiver::WebhookResponse;
///
/// let r = WebhookResponse::ok();
/// assert_eq!(r.status, 200);
/// assert!(r.body.is_empty());
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers to set, as `(name, value)`; names are lower-case.
    pub headers: Vec<(&'static str, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl fmt::Debug for WebhookResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl WebhookResponse {
    /// `200` with an empty body.
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::WebhookResponse;
    /// assert_eq!(WebhookResponse::ok().status, 200);
    /// ```
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
    /// ([`Verified::challenge_response`](crate::signature::Verified::challenge_response)),
    /// so neither can this response.
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::WebhookResponse;
    /// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"t"}}"#;
    /// let ts = std::time::SystemTime::now()
    ///     .duration_since(std::time::UNIX_EPOCH)?.as_secs().to_string();
    /// let sig = sign("secret", &ts, body);
    /// let headers = SignatureHeaders::new(Some(&sig), Some(&ts));
    /// let verified = Verifier::new("secret")?.verify_and_parse(headers, body)?;
    /// let reply = verified.challenge_response().expect("a challenge");
    /// let response = WebhookResponse::challenge(&reply);
    /// assert_eq!(response.status, 200);
    /// assert!(!format!("{response:?}").contains("encryptedToken"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn challenge(reply: &ChallengeResponse) -> Self {
        WebhookResponse {
            status: 200,
            headers: vec![("content-type", "application/json".to_owned())],
            body: reply.to_json(),
        }
    }

    /// The response for a rejection: the status of [`Rejection::status`], a fixed plain-text
    /// body, and the headers it needs (`Allow: POST` with `405`, `Retry-After` with `503`,
    /// at least one second). Reached through [`Outcome::response`] and the frameworks'
    /// conversions of a [`Rejection`].
    pub(crate) fn for_rejection(rejection: &Rejection) -> Self {
        let status = rejection.status();
        let mut response = WebhookResponse {
            status,
            headers: vec![("content-type", "text/plain; charset=utf-8".to_owned())],
            body: rejection_body(status).as_bytes().to_vec(),
        };
        if status == 405 {
            response.headers.push(("allow", "POST".to_owned()));
        }
        if let Some(after) = rejection.retry_after() {
            let seconds = after.as_secs().max(1).to_string();
            response.headers.push(("retry-after", seconds));
        }
        response
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

/// What the receiver decided for one request, returned by [`Receiver::receive`] (and by
/// [`Receiver::reject`]); [`Outcome::response`] is the answer to send.
///
/// ```
/// use zoom_rtms_webhooks::receiver::Outcome;
///
/// fn log(outcome: &Outcome) {
///     match outcome {
///         Outcome::Accepted { event, dedup_key } => println!("accepted {event} as {dedup_key}"),
///         Outcome::Duplicate { dedup_key } => println!("duplicate {dedup_key}"),
///         Outcome::Challenge(_) => println!("challenge answered"),
///         Outcome::Rejected(rejection) => println!("refused: {}", rejection.reason()),
///         _ => {}
///     }
/// }
/// let outcome = Outcome::Duplicate { dedup_key: "stopped:meeting:s1".to_owned() };
/// log(&outcome);
/// assert_eq!(outcome.response().status, 200);
/// ```
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
    /// The response to send for this outcome: the crate's one way to answer a webhook request.
    ///
    /// `200` for an accepted or duplicate event, the JSON reply for a challenge, and for a
    /// rejection the status of [`Rejection::status`] with a fixed plain-text body that never
    /// echoes the request or the reason, plus `Allow: POST` with a `405` and `Retry-After`
    /// (at least one second) with a `503`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::receiver::{HandoffError, Outcome, Rejection};
    ///
    /// let r = Outcome::Rejected(Rejection::MethodNotAllowed).response();
    /// assert_eq!((r.status, r.body.as_slice()), (405, &b"method not allowed"[..]));
    /// assert!(r.headers.contains(&("allow", "POST".to_owned())));
    ///
    /// let full = Rejection::HandoffUnavailable {
    ///     error: HandoffError::Full,
    ///     retry_after: Duration::from_secs(7),
    /// };
    /// let r = Outcome::Rejected(full).response();
    /// assert_eq!((r.status, r.body.as_slice()), (503, &b"unavailable"[..]));
    /// assert!(r.headers.contains(&("retry-after", "7".to_owned())));
    /// ```
    pub fn response(&self) -> WebhookResponse {
        match self {
            Outcome::Challenge(r) => r.clone(),
            Outcome::Accepted { .. } | Outcome::Duplicate { .. } => WebhookResponse::ok(),
            Outcome::Rejected(rejection) => WebhookResponse::for_rejection(rejection),
        }
    }
}

/// Limits and timings of a [`Receiver`].
///
/// ```
/// use std::time::Duration;
/// use zoom_rtms_webhooks::receiver::ReceiverConfig;
///
/// let cfg = ReceiverConfig::default()
///     .with_body_limit(16 * 1024)
///     .with_retry_after(Duration::from_secs(10));
/// assert_eq!(cfg.body_limit(), 16 * 1024);
/// assert_eq!(cfg.retry_after(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Sets the largest accepted body in bytes (default [`DEFAULT_BODY_LIMIT`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::ReceiverConfig;
    /// assert_eq!(ReceiverConfig::default().with_body_limit(1024).body_limit(), 1024);
    /// ```
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sets the `Retry-After` sent with `503` (default [`DEFAULT_RETRY_AFTER`]; the header
    /// says at least one second).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::receiver::ReceiverConfig;
    /// let cfg = ReceiverConfig::default().with_retry_after(Duration::from_secs(30));
    /// assert_eq!(cfg.retry_after(), Duration::from_secs(30));
    /// ```
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// The largest accepted body in bytes.
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::{ReceiverConfig, DEFAULT_BODY_LIMIT};
    /// assert_eq!(ReceiverConfig::default().body_limit(), DEFAULT_BODY_LIMIT);
    /// ```
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The `Retry-After` sent with `503`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::receiver::{ReceiverConfig, DEFAULT_RETRY_AFTER};
    /// assert_eq!(ReceiverConfig::default().retry_after(), DEFAULT_RETRY_AFTER);
    /// ```
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

/// The live counters of a [`Receiver`] (relaxed atomics); read them with [`Receiver::stats`].
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    challenges: AtomicU64,
    unauthorized: AtomicU64,
    bad_request: AtomicU64,
    too_large: AtomicU64,
    method_not_allowed: AtomicU64,
    unavailable: AtomicU64,
    misconfigured: AtomicU64,
}

/// What a [`Receiver`] decided so far: a point-in-time copy of its counters, returned by
/// [`Receiver::stats`]. Every decision is counted once, by the status it answered with.
///
/// ```
/// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
/// use zoom_rtms_webhooks::receiver::{ReceiverStats, Rejection};
/// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
///
/// let receiver = Receiver::new(Verifier::new("s")?, MemoryDeduplicator::new(), |_: Delivery| Ok(()));
/// assert_eq!(receiver.stats(), ReceiverStats::default());
/// receiver.reject(Rejection::PayloadTooLarge);
/// assert_eq!(receiver.stats().too_large, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverStats {
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
    /// Requests refused with 500 ([`Rejection::Misconfigured`]).
    pub misconfigured: u64,
}

impl Counters {
    fn record(&self, outcome: &Outcome) {
        let counter = match outcome {
            Outcome::Challenge(_) => &self.challenges,
            Outcome::Accepted { .. } => &self.accepted,
            Outcome::Duplicate { .. } => &self.duplicates,
            // Counted by status, so the counters follow the one status table.
            Outcome::Rejected(r) => match r.status() {
                405 => &self.method_not_allowed,
                413 => &self.too_large,
                401 => &self.unauthorized,
                400 => &self.bad_request,
                503 => &self.unavailable,
                _ => &self.misconfigured,
            },
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ReceiverStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ReceiverStats {
            accepted: r(&self.accepted),
            duplicates: r(&self.duplicates),
            challenges: r(&self.challenges),
            unauthorized: r(&self.unauthorized),
            bad_request: r(&self.bad_request),
            too_large: r(&self.too_large),
            method_not_allowed: r(&self.method_not_allowed),
            unavailable: r(&self.unavailable),
            misconfigured: r(&self.misconfigured),
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
/// use zoom_rtms_webhooks::receiver::{Outcome, WebhookRequest};
/// use zoom_rtms_webhooks::signature::sign;
/// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
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
    stats: Counters,
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
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::HandoffError;
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
    /// assert_eq!(receiver.stats().accepted, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(verifier: Verifier, dedup: D, handoff: H) -> Self {
        Receiver {
            verifier,
            dedup,
            handoff,
            config: ReceiverConfig::default(),
            stats: Counters::default(),
        }
    }

    /// Replaces the configuration.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::{HandoffError, ReceiverConfig};
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff)
    ///     .with_config(ReceiverConfig::default().with_body_limit(16 * 1024));
    /// assert_eq!(receiver.config().body_limit(), 16 * 1024);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_config(mut self, config: ReceiverConfig) -> Self {
        self.config = config;
        self
    }

    /// The configuration.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::HandoffError;
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
    /// assert_eq!(receiver.config().retry_after().as_secs(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> &ReceiverConfig {
        &self.config
    }

    /// The verifier.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::HandoffError;
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
    /// let verifier: &Verifier = receiver.verifier();
    /// # let _ = verifier;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The de-duplicator (e.g. to export
    /// [`MemoryDeduplicator::evicted_unexpired`](crate::dedup::MemoryDeduplicator::evicted_unexpired)).
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::HandoffError;
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
    /// assert_eq!(receiver.deduplicator().evicted_unexpired(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deduplicator(&self) -> &D {
        &self.dedup
    }

    /// The hand-off (e.g. the dispatcher, to read its stats).
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::HandoffError;
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
    /// let _handoff = receiver.handoff();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handoff(&self) -> &H {
        &self.handoff
    }

    /// Counters of what this receiver decided so far.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::HandoffError;
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
    /// assert_eq!(receiver.stats().unauthorized, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> ReceiverStats {
        self.stats.snapshot()
    }

    /// Decides one request; [`Outcome::response`] is the answer to send. The timestamp window
    /// is checked against the verifier's clock
    /// ([`VerifierBuilder::with_clock`](crate::signature::VerifierBuilder::with_clock)).
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::{HandoffError, Outcome, Rejection, WebhookRequest};
    /// use zoom_rtms_webhooks::signature::{sign, VerifyError};
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A verifier whose clock reads a fixed time: tests control time this way.
    /// let verifier = Verifier::builder()
    ///     .with_secret("default", "secret")
    ///     .with_clock(|| std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
    ///     .build()?;
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(verifier, MemoryDeduplicator::new(), handoff);
    ///
    /// let body = br#"{"event":"x.y","payload":{}}"#;
    /// let sig = sign("secret", "1700000000", body);
    /// let outcome = receiver.receive(WebhookRequest::post(Some(&sig), Some("1700000000"), body)).await;
    /// assert!(matches!(outcome, Outcome::Accepted { .. }));
    /// assert_eq!(outcome.response().status, 200);
    /// let stale = sign("secret", "1699990000", body);
    /// let outcome = receiver.receive(WebhookRequest::post(Some(&stale), Some("1699990000"), body)).await;
    /// assert!(matches!(
    ///     outcome,
    ///     Outcome::Rejected(Rejection::Unauthorized(VerifyError::TimestampOutOfTolerance { .. }))
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn receive(&self, request: WebhookRequest<'_>) -> Outcome {
        let outcome = self.decide(request).await;
        self.stats.record(&outcome);
        #[cfg(feature = "tracing")]
        trace_outcome(&outcome);
        outcome
    }

    /// The outcome for a request an adapter refused before the receiver saw its body: the
    /// framework's body limit was exceeded (`413`, e.g. axum's `DefaultBodyLimit`) or the body
    /// could not be read (`400`). Counted like any other rejection; answer it with
    /// [`Outcome::response`], as any outcome.
    ///
    /// ```
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::receiver::{HandoffError, Outcome, Rejection};
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
    /// let outcome = receiver.reject(Rejection::UnreadableBody);
    /// assert!(matches!(outcome, Outcome::Rejected(Rejection::UnreadableBody)));
    /// assert_eq!(outcome.response().status, 400);
    /// assert_eq!(receiver.stats().bad_request, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reject(&self, rejection: Rejection) -> Outcome {
        let outcome = Outcome::Rejected(rejection);
        self.stats.record(&outcome);
        #[cfg(feature = "tracing")]
        trace_outcome(&outcome);
        outcome
    }

    /// What an adapter checks before it reads the body, in the receiver's order: the method,
    /// then the declared length (`Content-Length`). `Some(response)` (already counted) when the
    /// request is refused, so an oversized `GET` is a `405` and an oversized `POST` a `413`
    /// that was never read.
    #[cfg(any(feature = "axum", feature = "actix", feature = "hyper"))]
    pub(crate) fn refuse_before_body(
        &self,
        method: &str,
        declared_length: Option<u64>,
    ) -> Option<Outcome> {
        self.check_head(method, declared_length)
            .err()
            .map(|rejection| self.reject(rejection))
    }

    /// Method first, then size: the order of the status table.
    fn check_head(&self, method: &str, length: Option<u64>) -> Result<(), Rejection> {
        if !method.eq_ignore_ascii_case("POST") {
            return Err(Rejection::MethodNotAllowed);
        }
        let limit = u64::try_from(self.config.body_limit).unwrap_or(u64::MAX);
        if length.is_some_and(|length| length > limit) {
            return Err(Rejection::PayloadTooLarge);
        }
        Ok(())
    }

    async fn decide(&self, request: WebhookRequest<'_>) -> Outcome {
        let length = u64::try_from(request.body.len()).unwrap_or(u64::MAX);
        if let Err(rejection) = self.check_head(request.method, Some(length)) {
            return Outcome::Rejected(rejection);
        }
        let verified = match self.verifier.verify(request.headers, request.body) {
            Ok(v) => v,
            Err(e) => return Outcome::Rejected(Rejection::Unauthorized(e)),
        };
        let verified = match verified.parse() {
            Ok(v) => v,
            Err(e) => return Outcome::Rejected(Rejection::from_signature_error(e)),
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
            Err(error) => {
                return Outcome::Rejected(Rejection::DedupUnavailable {
                    error,
                    retry_after: self.config.retry_after,
                })
            }
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
            Err(error) => {
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
                Outcome::Rejected(Rejection::HandoffUnavailable {
                    error,
                    retry_after: self.config.retry_after,
                })
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

/// The body length a request declares in `Content-Length` (the largest, if repeated), for
/// refusing an oversized body before reading it. `None` when absent or unparsable: the
/// length limit is then enforced while the body is read.
#[cfg(any(feature = "axum", feature = "hyper"))]
pub(crate) fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get_all(http::header::CONTENT_LENGTH)
        .iter()
        .filter_map(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
        .max()
}

/// A request whose signature verified and whose body parsed: the extractor for handlers you
/// write yourself, one type for both frameworks (`axum::VerifiedWebhook` and
/// `actix::VerifiedWebhook` are this type; each framework module implements its `FromRequest`).
///
/// It dereferences to the [`VerifiedEvent`](crate::signature::VerifiedEvent) (the event, the
/// secret that verified it, the timestamp, the challenge reply) and keeps the raw body
/// ([`body`](Self::body)). A request that fails is refused with a [`Rejection`] (`413`, `400`,
/// `401`, `500`) answered with the receiver's fixed bodies. The extractor only verifies and parses: answering the challenge
/// ([`challenge_response`](crate::signature::Verified::challenge_response), which both
/// frameworks can return as a response), acknowledging quickly and de-duplicating are up to
/// your handler; the ready routes (`axum::webhook`, `actix::configure`) do all of that.
///
/// `Debug` shows the verified event and the body's length, never the body or a secret.
///
/// ```
/// use zoom_rtms_webhooks::dedup::dedup_key;
/// use zoom_rtms_webhooks::receiver::{VerifiedWebhook, WebhookResponse};
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// /// What a handler does with it, in either framework.
/// fn handle(hook: &VerifiedWebhook) -> WebhookResponse {
///     if let Some(reply) = hook.challenge_response() {
///         return WebhookResponse::challenge(&reply); // keyed with the secret that verified it
///     }
///     if let WebhookEvent::RtmsStarted(started) = hook.event() {
///         println!("stream {} (secret {})", started.rtms_stream_id, hook.secret_label());
///     }
///     println!("key {}", dedup_key(hook.event(), hook.body()));
///     WebhookResponse::ok()
/// }
/// ```
#[cfg(any(feature = "axum", feature = "actix"))]
pub struct VerifiedWebhook {
    verified: crate::signature::VerifiedEvent,
    body: bytes::Bytes,
}

#[cfg(any(feature = "axum", feature = "actix"))]
impl VerifiedWebhook {
    /// Verifies `body` with `verifier` and parses it: what both frameworks' extractors do once
    /// they hold the headers and the body.
    pub(crate) fn verify(
        verifier: &Verifier,
        headers: SignatureHeaders<'_>,
        body: bytes::Bytes,
    ) -> Result<Self, Rejection> {
        let verified = verifier
            .verify_and_parse(headers, &body)
            .map_err(Rejection::from_signature_error)?;
        Ok(VerifiedWebhook { verified, body })
    }

    /// The raw body exactly as received and verified, e.g. for
    /// [`dedup_key`](crate::dedup::dedup_key).
    ///
    /// ```
    /// # fn f(hook: zoom_rtms_webhooks::receiver::VerifiedWebhook) {
    /// let key = zoom_rtms_webhooks::dedup::dedup_key(hook.event(), hook.body());
    /// # }
    /// ```
    pub fn body(&self) -> &bytes::Bytes {
        &self.body
    }

    /// Consumes the extractor and returns the verified event.
    ///
    /// ```
    /// # fn f(hook: zoom_rtms_webhooks::receiver::VerifiedWebhook) {
    /// let event = hook.into_inner().into_event();
    /// # }
    /// ```
    pub fn into_inner(self) -> crate::signature::VerifiedEvent {
        self.verified
    }
}

/// The verified event: `hook.event()`, `hook.secret_label()`, `hook.challenge_response()`.
#[cfg(any(feature = "axum", feature = "actix"))]
impl std::ops::Deref for VerifiedWebhook {
    type Target = crate::signature::VerifiedEvent;

    fn deref(&self) -> &Self::Target {
        &self.verified
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
impl fmt::Debug for VerifiedWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedWebhook")
            .field("verified", &self.verified)
            .field("body_len", &self.body.len())
            .finish()
    }
}
