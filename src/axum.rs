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
//!   [`WebhookRejection`].
//! - [`WebhookResponse`] implements [`IntoResponse`].
//!
//! # Example
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use axum::Router;
//! use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
//! use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
//! use zoom_rtms_webhooks::receiver::{Delivery, Receiver};
//! use zoom_rtms_webhooks::Verifier;
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
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, MethodRouter};

use crate::dedup::Deduplicator;
use crate::event::ParseError;
use crate::receiver::{
    Handoff, Receiver, Rejection, WebhookRequest, WebhookResponse, DEFAULT_RETRY_AFTER,
};
use crate::signature::{
    Error as SignatureError, SignatureHeaders, VerifiedEvent, Verifier, VerifyError,
};

/// A route for `receiver`: mount it with [`Router::route`](axum::Router::route).
///
/// Every method reaches the receiver, so a wrong method gets its `405` with `Allow: POST`.
/// The body is read as [`Bytes`] under a [`DefaultBodyLimit`] equal to the receiver's
/// [`body_limit`](crate::receiver::ReceiverConfig::body_limit); a larger body is answered
/// `413` and counted by the receiver.
///
/// ```
/// use std::sync::Arc;
/// use axum::Router;
/// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
/// use zoom_rtms_webhooks::receiver::{Delivery, HandoffError, Receiver};
/// use zoom_rtms_webhooks::Verifier;
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
    let limit = DefaultBodyLimit::max(receiver.config().get_body_limit());
    any(
        move |method: Method, headers: HeaderMap, body: Result<Bytes, BytesRejection>| {
            let receiver = Arc::clone(&receiver);
            async move {
                let body = match body {
                    Ok(body) => body,
                    Err(rejection) => {
                        let rejection = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                            Rejection::PayloadTooLarge
                        } else {
                            Rejection::UnreadableBody
                        };
                        return receiver.reject_response(rejection).into_response();
                    }
                };
                let request = WebhookRequest::from_headers(method.as_str(), &headers, &body);
                receiver.respond(request).await.into_response()
            }
        },
    )
    .layer(limit)
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

/// Extractor: a request whose signature verified, parsed into a [`VerifiedEvent`].
///
/// For handlers you write yourself. The [`Verifier`] comes from the router state through
/// [`FromRef`] (a state that *is* a `Verifier` works too). The body is read as [`Bytes`], so
/// [`DefaultBodyLimit`] applies: set it on the route (Zoom's bodies are a few KiB;
/// [`DEFAULT_BODY_LIMIT`](crate::receiver::DEFAULT_BODY_LIMIT) is a good value).
///
/// The extractor only verifies and parses: answering the challenge
/// ([`VerifiedEvent::challenge_response`]), acknowledging quickly and de-duplicating are up to
/// your handler. [`webhook`] does all of that for you.
///
/// ```
/// use axum::extract::{DefaultBodyLimit, FromRef};
/// use axum::response::{IntoResponse, Response};
/// use axum::routing::post;
/// use axum::{Json, Router};
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
/// async fn zoom(VerifiedWebhook(event): VerifiedWebhook) -> Response {
///     if let Some(reply) = event.challenge_response() {
///         return Json(reply).into_response();
///     }
///     println!("verified {}", event.event().name());
///     ().into_response() // 200
/// }
///
/// let state = AppState { verifier: Verifier::new("secret")? };
/// let app: Router = Router::new()
///     .route("/webhook", post(zoom).layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT)))
///     .with_state(state);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct VerifiedWebhook(pub VerifiedEvent);

impl<S> FromRequest<S> for VerifiedWebhook
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                WebhookRejection::PayloadTooLarge
            } else {
                WebhookRejection::BodyUnreadable(rejection)
            }
        })?;
        let event = verifier
            .verify_and_parse(SignatureHeaders::from_header_map(&headers), &body)
            .map_err(|e| match e {
                SignatureError::Verify(e) => WebhookRejection::Unauthorized(e),
                SignatureError::Parse(e) => WebhookRejection::BadRequest(e),
            })?;
        Ok(VerifiedWebhook(event))
    }
}

/// Why [`VerifiedWebhook`] refused a request.
///
/// As a response, every variant has a fixed body that reveals nothing about the request or the
/// secret (the same bodies as the [`Receiver`]'s). The variant keeps the reason for your logs.
///
/// ```
/// use axum::response::IntoResponse;
/// use zoom_rtms_webhooks::axum::WebhookRejection;
///
/// let response = WebhookRejection::PayloadTooLarge.into_response();
/// assert_eq!(response.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The signature or timestamp did not verify: `401`.
    #[error("unauthorized: {0}")]
    Unauthorized(#[source] VerifyError),
    /// The signature verified but the body is not a valid event: `400`.
    #[error("bad request: {0}")]
    BadRequest(#[source] ParseError),
    /// The body exceeded the route's [`DefaultBodyLimit`]: `413`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body could not be read (for example the connection broke): `400`.
    #[error("could not read the request body: {0}")]
    BodyUnreadable(#[source] BytesRejection),
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let rejection = match self {
            WebhookRejection::Unauthorized(e) => Rejection::Unauthorized(e),
            WebhookRejection::BadRequest(e) => Rejection::BadRequest(e),
            WebhookRejection::PayloadTooLarge => Rejection::PayloadTooLarge,
            WebhookRejection::BodyUnreadable(_) => Rejection::UnreadableBody,
        };
        WebhookResponse::for_rejection(&rejection, DEFAULT_RETRY_AFTER).into_response()
    }
}
