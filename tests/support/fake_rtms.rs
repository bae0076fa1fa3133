//! A fake RTMS server for the client tests (`#[path = "support/fake_rtms.rs"] mod fake;`):
//! loopback listeners (127.0.0.1 only) whose WebSocket connections (tokio-websockets' server
//! side) the test drives by hand, message by message, as Zoom's documentation describes Zoom's
//! side (`docs/protocol.md`) — not as the client happens to behave.
#![allow(dead_code)]

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use futures_sink::Sink;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_websockets::{Message, ServerBuilder, WebSocketStream};

use zoom_rtms_webhooks::client::{self, Item};
use zoom_rtms_webhooks::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
use zoom_rtms_webhooks::protocol::media::MediaParams;
use zoom_rtms_webhooks::protocol::session::SessionConfig;
use zoom_rtms_webhooks::region::HostPolicy;
use zoom_rtms_webhooks::Product;

/// Generous bound on any one wait (longer than the 65 s watchdog, for paused-time tests), so
/// that a broken client fails instead of hanging. Tests
/// never sleep.
pub const BOUND: Duration = Duration::from_secs(300);

pub fn policy() -> HostPolicy {
    HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(true)
}

pub fn config() -> SessionConfig {
    let creds = Credentials::new("client-id", "client-secret").unwrap();
    let hello =
        SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m-uuid", "stream-1");
    SessionConfig::new(hello)
        .with_media(MediaTypes::AUDIO, MediaParams::new())
        .with_host_policy(policy())
}

/// A fake RTMS endpoint: a loopback listener whose connections the test drives by hand.
pub struct Endpoint {
    pub listener: TcpListener,
}

impl Endpoint {
    pub async fn bind() -> Self {
        Endpoint {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.listener.local_addr().unwrap())
    }

    pub async fn accept(&self) -> Peer {
        let (tcp, _) = tokio::time::timeout(BOUND, self.listener.accept())
            .await
            .expect("the client never dialled")
            .unwrap();
        let (_, ws) = ServerBuilder::new().accept(tcp).await.unwrap();
        Peer { ws }
    }
}

/// One accepted WebSocket, server side (over TCP, or TLS for the `wss` tests).
pub struct Peer<S = TcpStream> {
    pub ws: WebSocketStream<S>,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Peer<S> {
    pub async fn send(&mut self, v: Value) {
        let ws = &mut self.ws;
        poll_fn(|cx| Pin::new(&mut *ws).poll_ready(cx))
            .await
            .unwrap();
        Pin::new(&mut *ws)
            .start_send(Message::text(v.to_string()))
            .unwrap();
        poll_fn(|cx| Pin::new(&mut *ws).poll_flush(cx))
            .await
            .unwrap();
    }

    /// The next message the client sent, as JSON (`None` once the client closed).
    pub async fn recv(&mut self) -> Option<Value> {
        let ws = &mut self.ws;
        loop {
            let msg = tokio::time::timeout(BOUND, poll_fn(|cx| Pin::new(&mut *ws).poll_next(cx)))
                .await
                .expect("the client sent nothing")?
                .ok()?;
            if let Some(text) = msg.as_text() {
                return Some(serde_json::from_str(text).unwrap());
            }
        }
    }

    pub async fn expect(&mut self, msg_type: i64) -> Value {
        let v = self.recv().await.expect("the client closed");
        assert_eq!(v["msg_type"], msg_type, "unexpected message {v}");
        v
    }
}

pub fn signalling_ok(media_url: &str) -> Value {
    json!({"msg_type":2,"protocol_version":1,"status_code":0,"reason":"",
        "media_server":{"server_urls":{"audio":media_url,"all":media_url}}})
}

pub fn data_ok() -> Value {
    json!({"msg_type":4,"protocol_version":1,"status_code":0,"reason":"","payload_encrypted":false,
        "media_params":{"audio":{"content_type":2,"sample_rate":1,"channel":1,"codec":1,"data_opt":1,"send_rate":20}}})
}

pub fn audio(i: u8) -> Value {
    use base64::Engine as _;
    let pcm = [i; 4];
    json!({"msg_type":14,"content":{"user_id":16778240,"user_name":"Ann",
        "data":base64::engine::general_purpose::STANDARD.encode(pcm),"timestamp":1000 + i64::from(i) * 20}})
}

pub async fn next(items: &mut client::Items) -> Item {
    tokio::time::timeout(BOUND, items.next())
        .await
        .expect("no item")
        .expect("the stream ended")
}

/// Signalling 1→2, media 3→4, 7 on signalling: the handshakes in the order Zoom's event
/// reference gives them (`docs/protocol.md#connection-flow`); an event subscription (5) the
/// client sends on signalling meanwhile is taken ([`handshake_events`] returns it).
pub async fn handshake(sig: &mut Peer, media_ep: &Endpoint) -> Peer {
    handshake_events(sig, media_ep).await.0
}

/// [`handshake`], and the event subscription (5) the client sent on signalling after the
/// signalling response, if any.
pub async fn handshake_events(sig: &mut Peer, media_ep: &Endpoint) -> (Peer, Option<Value>) {
    let hello = sig.expect(1).await;
    assert_eq!(hello["rtms_stream_id"], "stream-1");
    assert_eq!(hello["meeting_uuid"], "m-uuid");
    sig.send(signalling_ok(&media_ep.url())).await;
    let mut media = media_ep.accept().await;
    let data = media.expect(3).await;
    assert_eq!(data["signature"], hello["signature"]);
    assert_eq!(data["media_type"], 1);
    media.send(data_ok()).await;
    let mut subscription = None;
    let ready = loop {
        let v = sig.recv().await.expect("the client closed");
        if v["msg_type"] == 5 && subscription.is_none() {
            subscription = Some(v);
        } else {
            break v;
        }
    };
    assert_eq!(ready["msg_type"], 7, "unexpected message {ready}");
    assert_eq!(ready["rtms_stream_id"], "stream-1");
    (media, subscription)
}

/// Paused time with real sockets: tokio moves a paused clock to the next timer whenever the
/// runtime idles, even while loopback data is on its way, so a quiet socket's watchdog (or a
/// handshake timeout) could fire between two frames of a test. While a `TimeHold` lives, that
/// auto-advance is off (tokio holds it off while a blocking task runs) and time moves only by
/// `tokio::time::advance`: every timer fires exactly when the test says. A test stuck for 120
/// real seconds with time held aborts (its timeouts cannot fire).
pub struct TimeHold(Option<std::sync::mpsc::Sender<()>>);

pub fn hold_time() -> TimeHold {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
            rx.recv_timeout(Duration::from_secs(120))
        {
            eprintln!("a client test hung for 120 s with paused time held");
            std::process::abort();
        }
    });
    TimeHold(Some(tx))
}

impl Drop for TimeHold {
    fn drop(&mut self) {
        self.0.take();
    }
}
