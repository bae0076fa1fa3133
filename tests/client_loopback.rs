//! The tokio client against a fake RTMS server on loopback (tokio-websockets' server side,
//! 127.0.0.1 only). The fake follows the protocol notes (reference §2–§6), not the client.
#![cfg(feature = "client")]

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use futures_sink::Sink;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_websockets::{Message, ServerBuilder, WebSocketStream};

use zoom_rtms_webhooks::client::{self, Item, Options, Source};
use zoom_rtms_webhooks::handshake::{
    Credentials, MediaKind, MediaTypes, SignalingHandshakeRequest,
};
use zoom_rtms_webhooks::protocol::media::MediaParams;
use zoom_rtms_webhooks::protocol::session::{EndReason, SessionConfig, SessionError};
use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
use zoom_rtms_webhooks::Product;

/// Generous bound on any one wait, so that a broken client fails instead of hanging. Tests
/// never sleep.
const BOUND: Duration = Duration::from_secs(20);

fn policy() -> HostPolicy {
    HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(true)
}

fn config() -> SessionConfig {
    let creds = Credentials::new("client-id", "client-secret").unwrap();
    let hello =
        SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m-uuid", "stream-1");
    SessionConfig::new(hello)
        .with_media(MediaTypes::AUDIO, MediaParams::new())
        .with_host_policy(policy())
}

/// A fake RTMS endpoint: a loopback listener whose connections the test drives by hand.
struct Endpoint {
    listener: TcpListener,
}

impl Endpoint {
    async fn bind() -> Self {
        Endpoint {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    fn url(&self) -> String {
        format!("ws://{}", self.listener.local_addr().unwrap())
    }

    async fn accept(&self) -> Peer {
        let (tcp, _) = tokio::time::timeout(BOUND, self.listener.accept())
            .await
            .expect("the client never dialled")
            .unwrap();
        let (_, ws) = ServerBuilder::new().accept(tcp).await.unwrap();
        Peer { ws }
    }
}

/// One accepted WebSocket, server side.
struct Peer {
    ws: WebSocketStream<TcpStream>,
}

impl Peer {
    async fn send(&mut self, v: Value) {
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
    async fn recv(&mut self) -> Option<Value> {
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

    async fn expect(&mut self, msg_type: i64) -> Value {
        let v = self.recv().await.expect("the client closed");
        assert_eq!(v["msg_type"], msg_type, "unexpected message {v}");
        v
    }
}

fn signalling_ok(media_url: &str) -> Value {
    json!({"msg_type":2,"protocol_version":1,"status_code":0,"reason":"",
        "media_server":{"server_urls":{"audio":media_url,"all":media_url}}})
}

fn data_ok() -> Value {
    json!({"msg_type":4,"protocol_version":1,"status_code":0,"reason":"","payload_encrypted":false,
        "media_params":{"audio":{"content_type":2,"sample_rate":1,"channel":1,"codec":1,"data_opt":1,"send_rate":20}}})
}

fn audio(i: u8) -> Value {
    use base64::Engine as _;
    let pcm = [i; 4];
    json!({"msg_type":14,"content":{"user_id":16778240,"user_name":"Ann",
        "data":base64::engine::general_purpose::STANDARD.encode(pcm),"timestamp":1000 + i64::from(i) * 20}})
}

async fn next(items: &mut client::Items) -> Item {
    tokio::time::timeout(BOUND, items.next())
        .await
        .expect("no item")
        .expect("the stream ended")
}

/// Signalling 1→2, media 3→4, 7 on signalling: the handshakes as the reference orders them.
async fn handshake(sig: &mut Peer, media_ep: &Endpoint) -> Peer {
    let hello = sig.expect(1).await;
    assert_eq!(hello["rtms_stream_id"], "stream-1");
    assert_eq!(hello["meeting_uuid"], "m-uuid");
    sig.send(signalling_ok(&media_ep.url())).await;
    let mut media = media_ep.accept().await;
    let data = media.expect(3).await;
    assert_eq!(data["signature"], hello["signature"]);
    assert_eq!(data["media_type"], 1);
    media.send(data_ok()).await;
    let ready = sig.expect(7).await;
    assert_eq!(ready["rtms_stream_id"], "stream-1");
    media
}

#[tokio::test]
async fn happy_path_handshakes_then_media() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let (handle, mut items) = client::connect(config(), url).unwrap();

    let mut sig = sig_ep.accept().await;
    let mut media = handshake(&mut sig, &media_ep).await;

    let Item::Connected { connects, params } = next(&mut items).await else {
        panic!("expected Connected")
    };
    assert_eq!(connects, 1);
    assert!(
        params.audio().is_some(),
        "the confirmed parameters are handed over"
    );

    media.send(audio(7)).await;
    media
        .send(
            json!({"msg_type":17,"content":{"user_id":16778240,"user_name":"Ann","data":"Hello",
            "start_time":1000,"end_time":2500,"timestamp":1000,"language":9}}),
        )
        .await;
    let Item::Audio(frame) = next(&mut items).await else {
        panic!("expected audio")
    };
    assert_eq!(&frame.data[..], &[7, 7, 7, 7]);
    assert_eq!(frame.timestamp, Some(1140));
    let Source::User { id, name } = &frame.source else {
        panic!()
    };
    assert_eq!((*id, name.as_deref()), (Some(16778240), Some("Ann")));
    let Item::Transcript(t) = next(&mut items).await else {
        panic!("expected a transcript")
    };
    assert_eq!(t.text.as_deref(), Some("Hello"));
    assert_eq!((t.start_time, t.end_time), (Some(1000), Some(2500)));

    // A graceful close: 21 on signalling, 22 back, the stream ends.
    let closing = tokio::spawn({
        let handle = handle.clone();
        async move { handle.close().await }
    });
    let req = sig.expect(21).await;
    assert_eq!(req["rtms_stream_id"], "stream-1");
    sig.send(json!({"msg_type":22,"rtms_stream_id":"stream-1","status_code":0,"reason":""}))
        .await;
    closing.await.unwrap();
    assert_eq!(next(&mut items).await, Item::Ended(EndReason::Closed));
    assert!(items.next().await.is_none());
    assert!(handle.is_finished());
}

#[tokio::test]
async fn keep_alives_echoed_on_both_sockets_while_the_consumer_is_stalled() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let options = Options::default().with_queue_capacity(4);
    let (handle, mut items) = client::connect_with(config(), url, options).unwrap();

    let mut sig = sig_ep.accept().await;
    let mut media = handshake(&mut sig, &media_ep).await;

    // Nobody reads `items`: 20 frames overflow the queue of 4.
    for i in 0..20 {
        media.send(audio(i)).await;
    }
    media
        .send(json!({"msg_type":12,"timestamp":1727384349123_i64}))
        .await;
    let echo = media.expect(13).await;
    assert_eq!(echo["timestamp"], 1727384349123_i64);
    sig.send(json!({"msg_type":12,"timestamp":42})).await;
    let echo = sig.expect(13).await;
    assert_eq!(echo["timestamp"], 42);

    // Connected and the first 16 frames were dropped (oldest first); the user is told so,
    // then gets the newest 4 in order.
    assert_eq!(handle.dropped(), 17);
    assert_eq!(next(&mut items).await, Item::Lagged { dropped: 17 });
    for i in 16..20 {
        let Item::Audio(frame) = next(&mut items).await else {
            panic!("expected audio")
        };
        assert_eq!(frame.data[0], i);
    }
    assert!(items.is_empty());
}

#[tokio::test]
async fn a_media_url_on_a_refused_host_is_never_dialled() {
    let sig_ep = Endpoint::bind().await;
    // A listener that would accept the dial: `localhost` resolves to it, but the policy only
    // allows 127.0.0.1.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let refused = format!("ws://localhost:{}", trap.local_addr().unwrap().port());

    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let (handle, mut items) = client::connect(config(), url).unwrap();
    let mut sig = sig_ep.accept().await;
    sig.expect(1).await;
    sig.send(signalling_ok(&refused)).await;

    let item = next(&mut items).await;
    assert!(
        matches!(
            item,
            Item::Failed(SessionError::MediaUrl {
                kind: MediaKind::Audio,
                ..
            })
        ),
        "{item:?}"
    );
    assert!(items.next().await.is_none());
    handle.finished().await;
    // The driver and its socket tasks are gone; a dial would sit in the listener's backlog.
    assert_eq!(
        trap.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    // The signalling socket is closed too.
    assert!(sig.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn duplicate_status_8_is_retried_then_succeeds() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let start = tokio::time::Instant::now();
    let (_handle, mut items) = client::connect(config(), url).unwrap();

    // Another connection to the stream is still active: status 8 (duplicate signal request).
    let mut first = sig_ep.accept().await;
    first.expect(1).await;
    first
        .send(json!({"msg_type":2,"protocol_version":1,"status_code":8,"reason":"duplicate"}))
        .await;
    assert!(first.recv().await.is_none(), "the refused socket is closed");

    // The retry comes after 1.5 s (paused time), on a new signalling socket.
    let mut sig = sig_ep.accept().await;
    assert!(start.elapsed() >= Duration::from_millis(1500));
    let _media = handshake(&mut sig, &media_ep).await;
    let Item::Connected { connects, .. } = next(&mut items).await else {
        panic!("expected Connected")
    };
    assert_eq!(connects, 1);
}
