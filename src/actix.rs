//! actix-web 4 adapter (feature `actix`): request in, [`Receiver`], response out.
//!
//! Two ways in:
//!
//! - [`configure`]: a ready service configuration. It routes **every method** at one path to
//!   a shared [`Receiver`], which verifies, answers the validation challenge, de-duplicates and
//!   hands the event off (for example to a [`Dispatcher`](crate::dispatch::Dispatcher)) before
//!   the `200` is written. A wrong method gets the receiver's `405` with `Allow: POST`. The body
//!   is read through actix's [`web::Bytes`] extractor with a [`PayloadConfig`] set to the
//!   receiver's body limit, so an oversized body is refused with the receiver's `413` without
//!   being buffered. Every status is the one in the
//!   [status table](crate::receiver#status-table).
//! - [`VerifiedWebhook`]: an extractor for handlers you write yourself. It reads the body
//!   (honouring any [`PayloadConfig`] in scope), verifies it with the [`Verifier`] registered
//!   as `web::Data<Verifier>`, and parses it. A request that fails is refused with a
//!   [`WebhookRejection`] (`401`, `400`, `413`) whose body is a fixed string. De-duplication
//!   and acknowledge-first dispatch are then up to you; [`configure`] does both.
//!
//! actix-web 4 is built on `http` 0.2, so this module reads the two signature headers as
//! `&str` and passes them to the core's `&str` API; a header that is repeated or not UTF-8
//! counts as missing, exactly as in [`WebhookRequest::from_headers`].
//!
//! # Example
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::sync::Arc;
//!
//! use actix_web::{App, HttpServer};
//! use zoom_rtms_webhooks::actix::configure;
//! use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
//! use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
//! use zoom_rtms_webhooks::receiver::{Delivery, Receiver};
//! use zoom_rtms_webhooks::Verifier;
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Runs after the 200 has been sent, on a bounded pool of workers.
//!     let dispatcher = Dispatcher::new(DispatcherConfig::default(), |d: Delivery| async move {
//!         println!("{} {:?}", d.event.name(), d.event.rtms_stream_id());
//!         Ok::<_, Infallible>(())
//!     });
//!     let verifier = Verifier::new(std::env::var("ZOOM_SECRET_TOKEN")?)?;
//!     let receiver = Arc::new(Receiver::new(
//!         verifier,
//!         MemoryDeduplicator::new(),
//!         dispatcher.clone(),
//!     ));
//!
//!     HttpServer::new(move || App::new().configure(configure(receiver.clone(), "/webhook")))
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await?;
//!
//!     // The server has stopped accepting requests: finish every acknowledged event.
//!     dispatcher.shutdown().await;
//!     Ok(())
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, PayloadConfig};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder, ResponseError};

use crate::dedup::Deduplicator;
use crate::event::{ParseError, WebhookEvent};
use crate::receiver::{
    Handoff, Receiver, Rejection, WebhookRequest, WebhookResponse, DEFAULT_RETRY_AFTER,
};
use crate::signature::{VerifiedEvent, Verifier, VerifyError, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// A service configuration that routes every method at `path` to `receiver`.
///
/// Use it with [`App::configure`](actix_web::App::configure) (or inside a
/// [`web::scope`]). It registers one resource at `path` carrying a [`PayloadConfig`] whose
/// limit is the receiver's [`body_limit`](crate::receiver::ReceiverConfig::get_body_limit), so
/// an application-wide `PayloadConfig` does not change it. Responses follow the receiver's
/// [status table](crate::receiver#status-table); a body over the limit is counted by the
/// receiver as `413`; a body that cannot be read for another reason (the client hung up
/// mid-body, an unparsable `Content-Length`) as `400`.
///
/// The receiver is shared, not copied: keep a clone of the [`Arc`] to read
/// [`Receiver::stats`].
///
/// ```
/// # #[actix_web::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use actix_web::{test, App};
/// use zoom_rtms_webhooks::actix::configure;
/// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
/// use zoom_rtms_webhooks::receiver::{Delivery, Receiver};
/// use zoom_rtms_webhooks::Verifier;
///
/// let sink = |_: Delivery| Ok(()); // any `Handoff`; usually a `Dispatcher<Delivery>`
/// let receiver = Arc::new(Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), sink));
/// let app = test::init_service(App::new().configure(configure(receiver.clone(), "/webhook"))).await;
///
/// // No signature: 401 with a fixed body.
/// let req = test::TestRequest::post().uri("/webhook").set_payload("{}").to_request();
/// let res = test::call_service(&app, req).await;
/// assert_eq!(res.status(), 401);
///
/// // Wrong method: 405 with `Allow: POST`.
/// let res = test::call_service(&app, test::TestRequest::get().uri("/webhook").to_request()).await;
/// assert_eq!(res.status(), 405);
/// assert_eq!(res.headers().get("allow").unwrap(), "POST");
/// assert_eq!(receiver.stats().unauthorized, 1);
/// # Ok(())
/// # }
/// ```
pub fn configure<D, H>(
    receiver: Arc<Receiver<D, H>>,
    path: &str,
) -> impl FnOnce(&mut web::ServiceConfig) + 'static
where
    D: Deduplicator,
    H: Handoff,
{
    let path = path.to_owned();
    move |config: &mut web::ServiceConfig| {
        let limit = receiver.config().get_body_limit();
        let handler = move |req: HttpRequest, body: Result<Bytes, actix_web::Error>| {
            let receiver = Arc::clone(&receiver);
            async move { respond(&receiver, &req, body).await }
        };
        config.service(
            web::resource(path)
                .app_data(PayloadConfig::new(limit))
                .route(web::route().to(handler)),
        );
    }
}

/// Runs one request through the receiver; a body actix could not read is reported to it.
async fn respond<D: Deduplicator, H: Handoff>(
    receiver: &Receiver<D, H>,
    req: &HttpRequest,
    body: Result<Bytes, actix_web::Error>,
) -> HttpResponse {
    let body = match body {
        Ok(body) => body,
        Err(err) => {
            let rejection = match WebhookRejection::from_body_error(&err) {
                WebhookRejection::PayloadTooLarge => Rejection::PayloadTooLarge,
                _ => Rejection::UnreadableBody,
            };
            return receiver
                .reject(rejection)
                .into_response(receiver.config().get_retry_after())
                .into();
        }
    };
    let (signature, timestamp) = header_values(req.headers());
    let request = WebhookRequest {
        method: req.method().as_str(),
        signature,
        timestamp,
        body: &body,
    };
    receiver.respond(request).await.into()
}

/// The signature and timestamp header values; repeated or non-UTF-8 counts as missing.
fn header_values(headers: &HeaderMap) -> (Option<&str>, Option<&str>) {
    (
        single_header(headers, SIGNATURE_HEADER),
        single_header(headers, TIMESTAMP_HEADER),
    )
}

fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut values = headers.get_all(name);
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    std::str::from_utf8(first.as_bytes()).ok()
}

/// Converts the receiver's plain response into an actix-web response.
///
/// A status or header the `http` 0.2 types refuse (impossible with the receiver's fixed
/// values) gives a `500` rather than a panic.
///
/// ```
/// use actix_web::HttpResponse;
/// use zoom_rtms_webhooks::receiver::WebhookResponse;
///
/// let res: HttpResponse = WebhookResponse::ok().into();
/// assert_eq!(res.status(), 200);
/// ```
impl From<WebhookResponse> for HttpResponse {
    fn from(response: WebhookResponse) -> Self {
        let status =
            StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = HttpResponse::build(status);
        for (name, value) in response.headers {
            builder.insert_header((name, value));
        }
        builder.body(response.body)
    }
}

/// A handler may return a [`WebhookResponse`] directly, e.g. `receiver.respond(..).await`.
///
/// ```
/// use actix_web::{test, web, App};
/// use zoom_rtms_webhooks::receiver::WebhookResponse;
///
/// # #[actix_web::main]
/// # async fn main() {
/// let app = test::init_service(
///     App::new().route("/", web::post().to(|| async { WebhookResponse::ok() })),
/// )
/// .await;
/// let res = test::call_service(&app, test::TestRequest::post().uri("/").to_request()).await;
/// assert_eq!(res.status(), 200);
/// # }
/// ```
impl Responder for WebhookResponse {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        self.into()
    }
}

/// A request whose signature verified and whose body parsed: the extractor for handlers you
/// write yourself.
///
/// Extraction, in order: find the `web::Data<`[`Verifier`]`>` registered with
/// [`App::app_data`](actix_web::App::app_data) (none is a server misconfiguration: `500`);
/// read the body as [`web::Bytes`], so the [`PayloadConfig`] in scope applies (over the limit:
/// `413`); verify the `x-zm-signature` / `x-zm-request-timestamp` headers against the system
/// clock (`401`); parse (`400`). A request that fails verification is never parsed, and
/// never gets a challenge reply.
///
/// This extractor does **not** de-duplicate or dispatch: answer quickly, and remember that Zoom
/// retries. [`configure`] does all of it.
///
/// ```
/// use actix_web::{post, web, App, HttpResponse, HttpServer};
/// use zoom_rtms_webhooks::actix::VerifiedWebhook;
/// use zoom_rtms_webhooks::{Verifier, WebhookEvent};
///
/// #[post("/webhook")]
/// async fn webhook(hook: VerifiedWebhook) -> HttpResponse {
///     if let Some(reply) = hook.challenge_response() {
///         return reply; // endpoint.url_validation, answered with the secret that verified it
///     }
///     if let WebhookEvent::RtmsStarted(started) = hook.event() {
///         println!("stream {} started", started.rtms_stream_id);
///     }
///     HttpResponse::Ok().finish()
/// }
///
/// # #[actix_web::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = web::Data::new(Verifier::new("secret")?);
/// let app = actix_web::test::init_service(
///     App::new()
///         .app_data(verifier.clone())
///         .app_data(web::PayloadConfig::new(64 * 1024))
///         .service(webhook),
/// )
/// .await;
/// let req = actix_web::test::TestRequest::post().uri("/webhook").set_payload("{}").to_request();
/// assert_eq!(actix_web::test::call_service(&app, req).await.status(), 401);
/// # Ok(())
/// # }
/// ```
pub struct VerifiedWebhook {
    verified: VerifiedEvent,
    body: Bytes,
}

impl fmt::Debug for VerifiedWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedWebhook")
            .field("verified", &self.verified)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl VerifiedWebhook {
    /// The parsed event.
    ///
    /// ```
    /// # fn f(hook: zoom_rtms_webhooks::actix::VerifiedWebhook) {
    /// println!("{}", hook.event().name());
    /// # }
    /// ```
    pub fn event(&self) -> &WebhookEvent {
        self.verified.event()
    }

    /// The verified event: which secret verified it, the request timestamp, the event.
    ///
    /// ```
    /// # fn f(hook: zoom_rtms_webhooks::actix::VerifiedWebhook) {
    /// println!("verified by {}", hook.verified().secret_label());
    /// # }
    /// ```
    pub fn verified(&self) -> &VerifiedEvent {
        &self.verified
    }

    /// The raw body exactly as received and verified, e.g. for
    /// [`dedup_key`](crate::dedup::dedup_key).
    ///
    /// ```
    /// # fn f(hook: zoom_rtms_webhooks::actix::VerifiedWebhook) {
    /// let key = zoom_rtms_webhooks::dedup::dedup_key(hook.event(), hook.body());
    /// # }
    /// ```
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Consumes the extractor and returns the verified event.
    ///
    /// ```
    /// # fn f(hook: zoom_rtms_webhooks::actix::VerifiedWebhook) {
    /// let event = hook.into_inner().into_event();
    /// # }
    /// ```
    pub fn into_inner(self) -> VerifiedEvent {
        self.verified
    }

    /// `Some(200 reply)` iff the event is `endpoint.url_validation`: the JSON
    /// `{"plainToken":..,"encryptedToken":..}` keyed with the secret that verified the request.
    ///
    /// ```
    /// # use actix_web::HttpResponse;
    /// # fn f(hook: zoom_rtms_webhooks::actix::VerifiedWebhook) -> HttpResponse {
    /// if let Some(reply) = hook.challenge_response() {
    ///     return reply;
    /// }
    /// HttpResponse::Ok().finish()
    /// # }
    /// ```
    pub fn challenge_response(&self) -> Option<HttpResponse> {
        let reply = self.verified.challenge_response()?;
        Some(WebhookResponse::challenge(&reply).into())
    }
}

impl FromRequest for VerifiedWebhook {
    type Error = WebhookRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let signature = single_header(req.headers(), SIGNATURE_HEADER).map(str::to_owned);
        let timestamp = single_header(req.headers(), TIMESTAMP_HEADER).map(str::to_owned);
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let verifier = verifier.ok_or(WebhookRejection::MissingVerifier)?;
            let body = body
                .await
                .map_err(|err| WebhookRejection::from_body_error(&err))?;
            let verified = verifier
                .verify(signature.as_deref(), timestamp.as_deref(), &body)
                .map_err(WebhookRejection::Unauthorized)?;
            let verified = verified.parse().map_err(WebhookRejection::BadRequest)?;
            Ok(VerifiedWebhook { verified, body })
        })
    }
}

/// Why [`VerifiedWebhook`] refused a request. As a [`ResponseError`] it answers with the
/// status below and a fixed plain-text body that never echoes the request or the reason.
///
/// ```
/// use actix_web::ResponseError;
/// use zoom_rtms_webhooks::actix::WebhookRejection;
/// use zoom_rtms_webhooks::VerifyError;
///
/// let rejection = WebhookRejection::Unauthorized(VerifyError::Mismatch);
/// assert_eq!(rejection.status_code(), 401);
/// assert_eq!(WebhookRejection::PayloadTooLarge.status_code(), 413);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The body exceeded the [`PayloadConfig`] limit: `413 payload too large`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body could not be read (the client hung up mid-body, an unparsable
    /// `Content-Length`, a corrupt content encoding): `400 bad request`.
    #[error("request body could not be read")]
    UnreadableBody,
    /// The signature or timestamp did not verify: `401 unauthorized`.
    #[error("unauthorized: {0}")]
    Unauthorized(#[source] VerifyError),
    /// The request verified but its body is not a valid event: `400 bad request`.
    #[error("bad request: {0}")]
    BadRequest(#[source] ParseError),
    /// No `web::Data<Verifier>` is registered in the application: `500`. A configuration
    /// mistake; the request is refused (fail closed), never accepted unverified.
    #[error("no web::Data<Verifier> registered with the application")]
    MissingVerifier,
}

impl WebhookRejection {
    /// Classifies an error of actix's body extractors.
    fn from_body_error(err: &actix_web::Error) -> Self {
        match err.as_error::<PayloadError>() {
            Some(PayloadError::Overflow) => WebhookRejection::PayloadTooLarge,
            _ => WebhookRejection::UnreadableBody,
        }
    }
}

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookRejection::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookRejection::UnreadableBody | WebhookRejection::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            WebhookRejection::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebhookRejection::MissingVerifier => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The receiver's fixed bodies, so both ways in answer alike.
        let core = match self {
            WebhookRejection::PayloadTooLarge => Rejection::PayloadTooLarge,
            WebhookRejection::Unauthorized(err) => Rejection::Unauthorized(err.clone()),
            WebhookRejection::BadRequest(err) => Rejection::BadRequest(err.clone()),
            WebhookRejection::UnreadableBody => Rejection::UnreadableBody,
            WebhookRejection::MissingVerifier => {
                return HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body("internal server error")
            }
        };
        WebhookResponse::for_rejection(&core, DEFAULT_RETRY_AFTER).into()
    }
}
