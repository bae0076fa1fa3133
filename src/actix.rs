//! actix-web 4 adapter (feature `actix`): request in, [`Receiver`], response out.
//!
//! Two ways in:
//!
//! - [`configure`]: a ready service configuration. It routes **every method** at one path to
//!   a shared [`Receiver`], which verifies, answers the validation challenge, de-duplicates and
//!   hands the event off (for example to a [`Dispatcher`](crate::dispatch::Dispatcher)) before
//!   the `200` is written. The method is checked first: a wrong method gets the receiver's
//!   `405` with `Allow: POST` and its body is never read. The body is read through actix's
//!   [`web::Bytes`] extractor with a [`PayloadConfig`] set to the receiver's body limit, so an
//!   oversized body is refused with the receiver's `413` without being buffered. Every status
//!   is the one in the [status table](crate::receiver#status-table).
//! - [`VerifiedWebhook`] (the type
//!   [`receiver::VerifiedWebhook`](crate::receiver::VerifiedWebhook), shared with the axum
//!   module; this module implements actix's [`FromRequest`] for it): an extractor for handlers
//!   you write yourself. It reads the body
//!   (honouring any [`PayloadConfig`] in scope), verifies it with the [`Verifier`] registered
//!   as `web::Data<Verifier>`, and parses it. A request that fails is refused with a
//!   [`Rejection`] (`401`, `400`, `413`, `500`) answered with the receiver's fixed bodies.
//!   De-duplication and acknowledge-first dispatch are then up to you; [`configure`] does both.
//!
//! actix-web 4 is built on `http` 0.2, so this module reads the two signature headers with
//! [`SignatureHeaders::from_pairs`](crate::signature::SignatureHeaders::from_pairs): as with
//! `http` 1.x, a repeated header is refused as ambiguous
//! ([`VerifyError::AmbiguousHeader`](crate::signature::VerifyError::AmbiguousHeader), `401`) and
//! a value that is not UTF-8 counts as missing.
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
//! use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
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
use crate::receiver::{Handoff, Receiver, Rejection, WebhookRequest, WebhookResponse};
use crate::signature::{ChallengeResponse, SignatureHeaders, Verifier};

pub use crate::receiver::VerifiedWebhook;

/// A service configuration that routes every method at `path` to `receiver`.
///
/// Use it with [`App::configure`](actix_web::App::configure) (or inside a
/// [`web::scope`]). It registers one resource at `path` carrying a [`PayloadConfig`] whose
/// limit is the receiver's [`body_limit`](crate::receiver::ReceiverConfig::body_limit), so
/// an application-wide `PayloadConfig` does not change it. Responses follow the receiver's
/// [status table](crate::receiver#status-table), checked in its order: the method first (a
/// wrong method is `405` and its body is not read), then the size (a `Content-Length` over
/// the limit is `413` before the body is read, a chunked body growing past it is `413` too); a
/// body that cannot be read for another reason (the client hung up mid-body, an unparsable
/// `Content-Length`) is `400`. The receiver counts every refusal.
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
/// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
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
        let limit = receiver.config().body_limit();
        let handler = move |req: HttpRequest, payload: web::Payload| {
            let receiver = Arc::clone(&receiver);
            async move { respond(&receiver, &req, payload.into_inner()).await }
        };
        config.service(
            web::resource(path)
                .app_data(PayloadConfig::new(limit))
                .route(web::route().to(handler)),
        );
    }
}

/// Runs one request through the receiver: the method first, then the body (read under the
/// resource's `PayloadConfig`); a body actix could not read is reported to the receiver.
async fn respond<D: Deduplicator, H: Handoff>(
    receiver: &Receiver<D, H>,
    req: &HttpRequest,
    mut payload: Payload,
) -> HttpResponse {
    // actix checks the declared length itself, when the body is extracted below.
    if let Some(refusal) = receiver.refuse_before_body(req.method().as_str(), None) {
        return refusal.response().into();
    }
    let outcome = match Bytes::from_request(req, &mut payload).await {
        Ok(body) => {
            let request = WebhookRequest {
                method: req.method().as_str(),
                headers: signature_headers(req.headers()),
                body: &body,
            };
            receiver.receive(request).await
        }
        Err(err) => receiver.reject(body_rejection(&err)),
    };
    outcome.response().into()
}

/// Classifies an error of actix's body extractors.
fn body_rejection(err: &actix_web::Error) -> Rejection {
    match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => Rejection::PayloadTooLarge,
        _ => Rejection::UnreadableBody,
    }
}

/// The two signature headers (actix-web 4 is on `http` 0.2, hence
/// [`SignatureHeaders::from_pairs`]): a repeated one is reported as ambiguous.
fn signature_headers(headers: &HeaderMap) -> SignatureHeaders<'_> {
    SignatureHeaders::from_pairs(headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())))
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

/// A handler may return a [`WebhookResponse`] directly, e.g.
/// `receiver.receive(..).await.response()`.
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

/// The `200` reply to a verified `endpoint.url_validation`
/// ([`WebhookResponse::challenge`]), so a handler can return
/// [`challenge_response`](crate::signature::Verified::challenge_response) as it is.
///
/// ```
/// use actix_web::HttpResponse;
/// use zoom_rtms_webhooks::actix::VerifiedWebhook;
///
/// async fn zoom(hook: VerifiedWebhook) -> HttpResponse {
///     if let Some(reply) = hook.challenge_response() {
///         return reply.into();
///     }
///     HttpResponse::Ok().finish()
/// }
/// ```
impl From<ChallengeResponse> for HttpResponse {
    fn from(reply: ChallengeResponse) -> Self {
        WebhookResponse::challenge(&reply).into()
    }
}

/// A request whose signature verified and whose body parsed (see
/// [`receiver::VerifiedWebhook`](crate::receiver::VerifiedWebhook)): the extractor for
/// handlers you write yourself.
///
/// Extraction, in order: find the `web::Data<`[`Verifier`]`>` registered with
/// [`App::app_data`](actix_web::App::app_data) (none is a server misconfiguration:
/// [`Rejection::Misconfigured`], `500`);
/// read the body as [`web::Bytes`], so the [`PayloadConfig`] in scope applies (over the limit:
/// `413`); verify the `x-zm-signature` / `x-zm-request-timestamp` headers with the verifier's
/// clock (`401`, also for a repeated header); parse (`400`). A request that fails verification
/// is never parsed, and never gets a challenge reply.
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
///         // endpoint.url_validation, answered with the secret that verified it
///         return reply.into();
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
impl FromRequest for VerifiedWebhook {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let body = Bytes::from_request(req, payload);
        let req = req.clone(); // a reference count, for the headers

        Box::pin(async move {
            let verifier = verifier.ok_or(Rejection::Misconfigured)?;
            let body = body.await.map_err(|err| body_rejection(&err))?;
            VerifiedWebhook::verify(&verifier, signature_headers(req.headers()), body)
        })
    }
}

/// A refused request as an actix error: the status of [`Rejection::status`] and the
/// receiver's fixed plain-text body, which never echoes the request or the reason (as
/// [`Outcome::response`](crate::receiver::Outcome::response)).
///
/// ```
/// use actix_web::ResponseError;
/// use zoom_rtms_webhooks::receiver::Rejection;
/// use zoom_rtms_webhooks::signature::VerifyError;
///
/// assert_eq!(Rejection::Unauthorized(VerifyError::Mismatch).status_code(), 401);
/// assert_eq!(Rejection::PayloadTooLarge.status_code(), 413);
/// assert_eq!(Rejection::Misconfigured.error_response().status(), 500);
/// ```
impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        WebhookResponse::for_rejection(self).into()
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    use super::signature_headers;
    use crate::signature::{sign, SignatureHeaders, Verifier, VerifyError};

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        headers
    }

    #[test]
    fn actix_headers_are_read_like_http_1_headers() {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let sig = sign("secret", &ts, b"{}");
        let verifier = Verifier::new("secret").expect("secret");
        let verify = |headers: SignatureHeaders<'_>| verifier.verify(headers, b"{}").map(|_| ());

        let once = map(&[("x-zm-signature", &sig), ("x-zm-request-timestamp", &ts)]);
        assert_eq!(verify(signature_headers(&once)), Ok(()));
        let sig_twice = map(&[
            ("x-zm-signature", &sig),
            ("x-zm-signature", &sig),
            ("x-zm-request-timestamp", &ts),
        ]);
        assert_eq!(
            verify(signature_headers(&sig_twice)),
            Err(VerifyError::AmbiguousHeader {
                header: "x-zm-signature"
            })
        );
        let ts_twice = map(&[
            ("x-zm-signature", &sig),
            ("x-zm-request-timestamp", &ts),
            ("x-zm-request-timestamp", &ts),
        ]);
        assert_eq!(
            verify(signature_headers(&ts_twice)),
            Err(VerifyError::AmbiguousHeader {
                header: "x-zm-request-timestamp"
            })
        );
        let missing = map(&[("x-zm-request-timestamp", &ts)]);
        assert_eq!(
            verify(signature_headers(&missing)),
            Err(VerifyError::MissingSignature)
        );
    }
}
