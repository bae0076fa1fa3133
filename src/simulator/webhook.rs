//! The webhooks the simulator sends: bodies as Zoom sends them (flat payload), signed with
//! [`signature::sign`](crate::signature::sign), POSTed over plain HTTP/1.1 with hyper.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use super::{SimError, StreamSpec};
use crate::codes::StopReason;
use crate::event::{IdField, Lifecycle, Product, RtmsStreamEnd};

/// A signed webhook request: the body and the two headers Zoom sends.
///
/// ```
/// # use zoom_rtms_webhooks::simulator::SignedWebhook;
/// fn headers(h: &SignedWebhook) -> [(&str, &str); 2] {
///     [("x-zm-signature", &h.signature), ("x-zm-request-timestamp", &h.timestamp)]
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedWebhook {
    /// The event name (for example `meeting.rtms_started`).
    pub event: String,
    /// The stream it is about.
    pub rtms_stream_id: String,
    /// The JSON body.
    pub body: Vec<u8>,
    /// `x-zm-request-timestamp` (seconds since the Unix epoch, wall clock).
    pub timestamp: String,
    /// `x-zm-signature` (`v0=<hex>`).
    pub signature: String,
}

/// The payload key of the product's id in webhooks.
fn id_field(product: Product) -> IdField {
    match product {
        Product::Webinar => IdField::WebinarUuid,
        Product::VideoSdk => IdField::SessionId,
        Product::ContactCenter => IdField::EngagementId,
        Product::Phone => IdField::CallId,
        _ => IdField::MeetingUuid,
    }
}

/// A webhook before it is signed: each POST of it is signed anew, at that moment (a retry
/// is a new request, with the same body).
#[derive(Debug, Clone)]
pub(super) struct Unsigned {
    pub(super) event: String,
    pub(super) rtms_stream_id: String,
    pub(super) body: Vec<u8>,
}

impl Unsigned {
    /// Signed now (wall clock) with the app's webhook `secret`.
    pub(super) fn sign(&self, secret: &str) -> SignedWebhook {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let signature = crate::signature::sign(secret, &timestamp, &self.body);
        SignedWebhook {
            event: self.event.clone(),
            rtms_stream_id: self.rtms_stream_id.clone(),
            body: self.body.clone(),
            timestamp,
            signature,
        }
    }

    /// Whether it announces a stream to connect to (`*_rtms_started`, `*_rtms_interrupted`).
    pub(super) fn announces(&self) -> bool {
        self.event.ends_with("rtms_started") || self.event.ends_with("rtms_interrupted")
    }
}

fn build(
    now_ms: i64,
    spec: &StreamSpec,
    lifecycle: Lifecycle,
    extra: &[(&str, serde_json::Value)],
) -> Unsigned {
    // The product's canonical event name, from the event types themselves.
    let id = &spec.rtms_stream_id;
    let event = match lifecycle {
        Lifecycle::Stopped => RtmsStreamEnd::stopped(spec.product, id.as_str()).event,
        Lifecycle::Interrupted => RtmsStreamEnd::interrupted(spec.product, id.as_str()).event,
        _ => {
            crate::event::RtmsStarted::new(
                spec.product,
                crate::event::InstanceId::new(id_field(spec.product), spec.instance_id.as_str()),
                id.as_str(),
                String::new(),
            )
            .event
        }
    };
    let mut payload = serde_json::Map::new();
    payload.insert(
        id_field(spec.product).as_str().to_owned(),
        spec.instance_id.clone().into(),
    );
    payload.insert("rtms_stream_id".into(), spec.rtms_stream_id.clone().into());
    for (k, v) in extra {
        payload.insert((*k).to_owned(), v.clone());
    }
    let body = serde_json::json!({
        "event": event,
        "event_ts": now_ms,
        "payload": payload,
    });
    Unsigned {
        event,
        rtms_stream_id: spec.rtms_stream_id.clone(),
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

/// `*_rtms_started` announcing `signaling_url`.
pub(super) fn started(now_ms: i64, spec: &StreamSpec, signaling_url: String) -> Unsigned {
    let mut extra = vec![("server_urls", signaling_url.into())];
    if spec.product != Product::VideoSdk {
        extra.push(("operator_id", "simulator-operator".into()));
    }
    build(now_ms, spec, Lifecycle::Started, &extra)
}

pub(super) fn stopped(now_ms: i64, spec: &StreamSpec, reason: StopReason) -> Unsigned {
    build(
        now_ms,
        spec,
        Lifecycle::Stopped,
        &[("stop_reason", reason.code().into())],
    )
}

pub(super) fn interrupted(now_ms: i64, spec: &StreamSpec) -> Unsigned {
    build(now_ms, spec, Lifecycle::Interrupted, &[])
}

/// Why a webhook was not acknowledged.
#[derive(Debug)]
pub(super) struct PostError {
    /// The connection itself failed: nothing listens there (yet).
    pub(super) refused: bool,
    /// What happened, for the report.
    pub(super) why: String,
}

impl From<PostError> for SimError {
    fn from(e: PostError) -> Self {
        SimError::Webhook(e.why)
    }
}

/// POSTs the webhook to an `http://` URL; no 2xx answer within Zoom's 3 s is an error.
pub(super) async fn post(url: &str, hook: &SignedWebhook) -> Result<(), PostError> {
    let fail = |why: String| PostError {
        refused: false,
        why,
    };
    let uri: http::Uri = url.parse().map_err(|e| fail(format!("{url}: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(fail(format!("{url}: only http:// is supported")));
    }
    let host = uri.host().unwrap_or("127.0.0.1").to_owned();
    let port = uri.port_u16().unwrap_or(80);
    // RFC 9112 §3.2.1: towards an origin server the request target is the origin form (path
    // and query), never the absolute URL.
    let target = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let request = http::Request::post(target)
        .header(http::header::HOST, format!("{host}:{port}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-zm-signature", &hook.signature)
        .header("x-zm-request-timestamp", &hook.timestamp)
        .body(Full::new(Bytes::from(hook.body.clone())))
        .map_err(|e| fail(e.to_string()))?;
    let send = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| PostError {
                refused: true,
                why: format!("{url}: {e}"),
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| fail(e.to_string()))?;
        tokio::spawn(conn);
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        let _ = response.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else if status == http::StatusCode::UNAUTHORIZED || status == http::StatusCode::FORBIDDEN
        {
            Err(fail(format!(
                "{url} answered {status}: the app refused the signature (is the stream's webhook \
                 secret the app's secret token?)"
            )))
        } else {
            Err(fail(format!("{url} answered {status}")))
        }
    };
    tokio::time::timeout(Duration::from_secs(3), send)
        .await
        .map_err(|_| fail(format!("{url}: no answer within 3 s")))?
}
