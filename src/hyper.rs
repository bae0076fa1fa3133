//! [hyper] 1.x integration (feature `hyper`): a [`Service`] for a [`Receiver`], to serve with
//! `hyper-util` or `hyper::server::conn` directly.
//!
//! This module holds no webhook logic: it checks the method and the declared
//! `Content-Length` before reading anything, reads the body (at most the receiver's
//! [`body_limit`](crate::receiver::ReceiverConfig::body_limit), through
//! [`http_body_util::Limited`]), asks the [`Receiver`] and converts the answer into a
//! `Response<Full<Bytes>>`. See [`crate::receiver`] for the status table.
//!
//! The service answers every path; route to it yourself if the server has other endpoints.
//!
//! # Example
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use hyper::server::conn::http1;
//! use hyper_util::rt::TokioIo;
//! use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
//! use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
//! use zoom_rtms_webhooks::hyper::WebhookService;
//! use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dispatcher = Dispatcher::new(DispatcherConfig::default(), |d: Delivery| async move {
//!     println!("{}", d.event.name());
//!     Ok::<_, Infallible>(())
//! });
//! let verifier = Verifier::new(std::env::var("ZOOM_SECRET_TOKEN")?)?;
//! let receiver = Receiver::new(verifier, MemoryDeduplicator::new(), dispatcher);
//! let service = WebhookService::new(Arc::new(receiver));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = service.clone();
//!     tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
//! }
//! # }
//! ```
//!
//! [hyper]: https://docs.rs/hyper/1

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::service::Service;
use hyper::{Request, Response};

use crate::dedup::Deduplicator;
use crate::receiver::{
    declared_length, Handoff, Receiver, Rejection, WebhookRequest, WebhookResponse,
};

/// The error of [`WebhookService`] (`Box<dyn Error + Send + Sync>`): returned only when the
/// request body cannot be read.
type BoxError = Box<dyn StdError + Send + Sync>;

/// A [`hyper::service::Service`] answering Zoom webhooks with a [`Receiver`].
///
/// Generic over the request body type (any [`hyper::body::Body`], e.g.
/// [`hyper::body::Incoming`]). Cheap to clone: clones share the receiver.
///
/// The method is checked first (a wrong method is `405` and its body is not read), then the
/// declared `Content-Length` (over the limit: `413` before the body is read); a body that
/// grows past the limit while it is read is `413` too. A repeated `x-zm-signature` or
/// `x-zm-request-timestamp` is refused as ambiguous (`401`). The service fails (`Err`, a
/// `Box<dyn Error + Send + Sync>`) only when the request body cannot be read at all (the
/// connection broke): hyper then closes the connection. Every other case is answered by the
/// receiver.
///
/// ```
/// use std::sync::Arc;
/// use http_body_util::{BodyExt, Full};
/// use hyper::body::Bytes;
/// use hyper::service::Service;
/// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
/// use zoom_rtms_webhooks::hyper::WebhookService;
/// use zoom_rtms_webhooks::receiver::HandoffError;
/// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
/// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
/// let service = WebhookService::new(Arc::new(receiver));
///
/// // An unsigned request is refused with 401.
/// let request = hyper::Request::post("/webhook").body(Full::new(Bytes::from_static(b"{}")))?;
/// let response = service.call(request).await?;
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.into_body().collect().await?.to_bytes(), "unauthorized");
/// # Ok(())
/// # }
/// ```
pub struct WebhookService<D, H> {
    receiver: Arc<Receiver<D, H>>,
}

impl<D, H> WebhookService<D, H> {
    /// A service answering with `receiver`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::hyper::WebhookService;
    /// use zoom_rtms_webhooks::receiver::HandoffError;
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
    /// let service = WebhookService::new(Arc::new(receiver));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(receiver: Arc<Receiver<D, H>>) -> Self {
        WebhookService { receiver }
    }

    /// The receiver behind the service (for its [`stats`](Receiver::stats), for example).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    /// use zoom_rtms_webhooks::hyper::WebhookService;
    /// use zoom_rtms_webhooks::receiver::HandoffError;
    /// use zoom_rtms_webhooks::{Delivery, Receiver, Verifier};
    ///
    /// let handoff = |_: Delivery| Ok::<(), HandoffError>(());
    /// let receiver = Receiver::new(Verifier::new("secret")?, MemoryDeduplicator::new(), handoff);
    /// let service = WebhookService::new(Arc::new(receiver));
    /// assert_eq!(service.receiver().stats().accepted, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn receiver(&self) -> &Arc<Receiver<D, H>> {
        &self.receiver
    }
}

impl<D, H> Clone for WebhookService<D, H> {
    fn clone(&self) -> Self {
        WebhookService {
            receiver: Arc::clone(&self.receiver),
        }
    }
}

impl<D, H> fmt::Debug for WebhookService<D, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("receiver", &self.receiver)
            .finish()
    }
}

impl<D, H, B> Service<Request<B>> for WebhookService<D, H>
where
    D: Deduplicator,
    H: Handoff,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        let receiver = Arc::clone(&self.receiver);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let declared = declared_length(&parts.headers);
            if let Some(refusal) = receiver.refuse_before_body(parts.method.as_str(), declared) {
                return Ok(to_hyper(refusal.response()));
            }
            let limit = receiver.config().body_limit();
            let outcome = match Limited::new(body, limit).collect().await {
                Ok(collected) => {
                    let body = collected.to_bytes();
                    let request =
                        WebhookRequest::from_headers(parts.method.as_str(), &parts.headers, &body);
                    receiver.receive(request).await
                }
                Err(error) if error.is::<LengthLimitError>() => {
                    receiver.reject(Rejection::PayloadTooLarge)
                }
                // Counted, then the error goes to hyper, which closes the broken connection.
                Err(error) => {
                    receiver.reject(Rejection::UnreadableBody);
                    return Err(error);
                }
            };
            Ok(to_hyper(outcome.response()))
        })
    }
}

fn to_hyper(response: WebhookResponse) -> Response<Full<Bytes>> {
    response
        .into_http()
        .map(|body| Full::new(Bytes::from(body)))
}
