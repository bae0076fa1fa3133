//! [axum] 0.8 integration (feature `axum`): a ready route for a [`Receiver`], and an extractor
//! for handlers you write yourself.
//!
//! This module holds no webhook logic: it reads the request, asks the [`Receiver`] (or the
//! [`Verifier`]) and converts the answer. See [`crate::receiver`] for the status table.
//!
//! - [`webhook`]: a [`MethodRouter`] that acknowledges first and hands accepted events to the
//!   receiver's [`Handoff`] (usually a [`Dispatcher`](crate::dispatch::Dispatcher)).
//! - [`VerifiedWebhook`]: an extractor that verifies the signature and parses the event, with
//!   the [`Verifier`] taken from your state through [`FromRef`]; it fails with a
//!   [`Rejection`], answered with the receiver's status table. (The type is
//!   [`receiver::VerifiedWebhook`](crate::receiver::VerifiedWebhook), shared with the actix
//!   module; this module implements axum's [`FromRequest`] for it.)
//! - [`WebhookResponse`], [`Rejection`] and [`ChallengeResponse`] implement [`IntoResponse`].
//!
//! # Example
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use axum::Router;
//! use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
//! use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
//! use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Runs after the 200 has been sent.
//! let dispatcher = Dispatcher::new(DispatcherConfig::default(), |d: Delivery| async move {
//!     println!("{} {:?}", d.event.name(), d.event.rtms_stream_id());
//!     Ok::<_, Infallible>(())
//! });
//! let verifier = Verifier::new(std::env::var("ZOOM_SECRET_TOKEN")?)?;
//! let receiver = Arc::new(Receiver::new(verifier, MemoryDeduplicator::new(), dispatcher.clone()));
//!
//! let app = Router::new().route("/webhook", zoom_rtms_webhooks::axum::webhook(receiver));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app)
//!     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await?;
//! dispatcher.shutdown().await; // process every acknowledged event
//! # Ok(())
//! # }
//! ```
//!
//! [axum]: https://docs.rs/axum/0.8

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRef, FromRequest, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, MethodRouter};

use crate::dedup::Deduplicator;
use crate::receiver::{
    declared_length, Handoff, Receiver, Rejection, WebhookRequest, WebhookResponse,
};
use crate::signature::{ChallengeResponse, SignatureHeaders, Verifier};

pub use crate::receiver::VerifiedWebhook;

/// A route for `receiver`: mount it with [`Router::route`](axum::Router::route).
///
/// Every method reaches the route and is checked before the body is read, so a wrong method
/// gets its `405` with `Allow: POST` whatever its body. A `POST` whose `Content-Length` exceeds
/// the receiver's [`body_limit`](crate::receiver::ReceiverConfig::body_limit) is answered `413`
/// without reading the body; any other body is read as [`Bytes`] under a [`DefaultBodyLimit`]
/// equal to that limit (a chunked body that grows past it is also `413`). A repeated
/// `x-zm-signature` or `x-zm-request-timestamp` is refused as ambiguous (`401`,
/// [`VerifyError::AmbiguousHeader`](crate::signature::VerifyError::AmbiguousHeader)). Every
/// refusal is counted by the receiver.
///
/// ```
/// use std::sync::Arc;
/// use axum::Router;
/// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
/// use zoom_rtms_webhooks::receiver::HandoffError;
/// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
///
/// // Any `Handoff` works; a `Dispatcher<Delivery>` is the usual one.
/// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
/// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
/// let app: Router = Router::new()
///     .route("/webhook", zoom_rtms_webhooks::axum::webhook(Arc::new(receiver)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn webhook<D, H, S>(receiver: Arc<Receiver<D, H>>) -> MethodRouter<S>
where
    D: Deduplicator,
    H: Handoff,
    S: Clone + Send + Sync + 'static,
{
    let limit = DefaultBodyLimit::max(receiver.config().body_limit());
    any(move |request: Request| {
        let receiver = Arc::clone(&receiver);
        async move {
            let declared = declared_length(request.headers());
            if let Some(refusal) = receiver.refuse_before_body(request.method().as_str(), declared)
            {
                return refusal.response().into_response();
            }
            let (parts, body_request) = split(request);
            let outcome = match Bytes::from_request(body_request, &()).await {
                Ok(body) => {
                    let request =
                        WebhookRequest::from_headers(parts.method.as_str(), &parts.headers, &body);
                    receiver.receive(request).await
                }
                Err(rejection) => receiver.reject(body_rejection(&rejection)),
            };
            outcome.response().into_response()
        }
    })
    .layer(limit)
}

/// Splits `request` into its head (method, headers) and a request carrying only the body and
/// the extensions (where the `DefaultBodyLimit` is), for axum's body extractor.
fn split(request: Request) -> (Parts, Request) {
    let (mut parts, body) = request.into_parts();
    let mut body_request = Request::new(body);
    *body_request.extensions_mut() = std::mem::take(&mut parts.extensions);
    (parts, body_request)
}

/// Classifies a failure of axum's body extractor.
fn body_rejection(rejection: &BytesRejection) -> Rejection {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Rejection::PayloadTooLarge
    } else {
        Rejection::UnreadableBody
    }
}

/// Converts the receiver's plain response (status, headers, body) into an axum response.
///
/// ```
/// use axum::response::IntoResponse;
/// use zoom_rtms_webhooks::receiver::WebhookResponse;
///
/// let response = WebhookResponse::ok().into_response();
/// assert_eq!(response.status(), axum::http::StatusCode::OK);
/// ```
impl IntoResponse for WebhookResponse {
    fn into_response(self) -> Response {
        self.into_http().map(axum::body::Body::from)
    }
}

/// The response for a refused request: the status of [`Rejection::status`] and the receiver's
/// fixed body, which reveals nothing about the request or the secret (as
/// [`Outcome::response`](crate::receiver::Outcome::response)).
///
/// ```
/// use axum::response::IntoResponse;
/// use zoom_rtms_webhooks::receiver::Rejection;
///
/// let response = Rejection::PayloadTooLarge.into_response();
/// assert_eq!(response.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
/// ```
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        WebhookResponse::for_rejection(&self).into_response()
    }
}

/// The `200` reply to a verified `endpoint.url_validation`
/// ([`WebhookResponse::challenge`]), so a handler can return
/// [`challenge_response`](crate::signature::Verified::challenge_response) as it is.
///
/// ```
/// use axum::response::{IntoResponse, Response};
/// use zoom_rtms_webhooks::axum::VerifiedWebhook;
///
/// async fn zoom(hook: VerifiedWebhook) -> Response {
///     if let Some(reply) = hook.challenge_response() {
///         return reply.into_response();
///     }
///     ().into_response()
/// }
/// ```
impl IntoResponse for ChallengeResponse {
    fn into_response(self) -> Response {
        WebhookResponse::challenge(&self).into_response()
    }
}

/// Extractor: a request whose signature verified, parsed into a
/// [`VerifiedEvent`](crate::signature::VerifiedEvent) (see
/// [`receiver::VerifiedWebhook`](crate::receiver::VerifiedWebhook)).
///
/// For handlers you write yourself. The [`Verifier`] comes from the router state through
/// [`FromRef`] (a state that *is* a `Verifier` works too). The body is read as [`Bytes`], so
/// [`DefaultBodyLimit`] applies: set it on the route (Zoom's bodies are a few KiB;
/// [`DEFAULT_BODY_LIMIT`](crate::receiver::DEFAULT_BODY_LIMIT) is a good value). A request that
/// fails is refused with a [`Rejection`] (`413`, `400`, `401`, also for a repeated signature
/// header) answered with the receiver's fixed bodies; take `Result<VerifiedWebhook, Rejection>`
/// to see why.
///
/// The extractor only verifies and parses: answering the challenge, acknowledging quickly and
/// de-duplicating are up to your handler. [`webhook`] does all of that for you.
///
/// ```
/// use axum::extract::{DefaultBodyLimit, FromRef};
/// use axum::response::{IntoResponse, Response};
/// use axum::routing::post;
/// use axum::Router;
/// use zoom_rtms_webhooks::axum::VerifiedWebhook;
/// use zoom_rtms_webhooks::receiver::DEFAULT_BODY_LIMIT;
/// use zoom_rtms_webhooks::Verifier;
///
/// #[derive(Clone)]
/// struct AppState {
///     verifier: Verifier,
/// }
///
/// impl FromRef<AppState> for Verifier {
///     fn from_ref(state: &AppState) -> Verifier {
///         state.verifier.clone()
///     }
/// }
///
/// async fn zoom(hook: VerifiedWebhook) -> Response {
///     if let Some(reply) = hook.challenge_response() {
///         // endpoint.url_validation, answered with the secret that verified it
///         return reply.into_response();
///     }
///     println!("verified {} by {}", hook.event().name(), hook.secret_label());
///     ().into_response() // 200
/// }
///
/// let state = AppState { verifier: Verifier::new("secret")? };
/// let app: Router = Router::new()
///     .route("/webhook", post(zoom).layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT)))
///     .with_state(state);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<S> FromRequest<S> for VerifiedWebhook
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let (parts, body_request) = split(req);
        let body = Bytes::from_request(body_request, state)
            .await
            .map_err(|rejection| body_rejection(&rejection))?;
        let headers = SignatureHeaders::from_header_map(&parts.headers);
        VerifiedWebhook::verify(&verifier, headers, body)
    }
}
