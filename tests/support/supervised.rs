//! Helpers for the supervisor tests (`#[path = "support/supervised.rs"] mod supervised;`, with
//! `fake` loaded too): webhook events for stream `stream-1` and a callback that reports every
//! connection and item to the test.
#![allow(dead_code)]

use std::time::Duration;

use tokio::sync::mpsc;

use zoom_rtms_webhooks::client::{Config, Item, SupervisedStream, Supervisor, SupervisorBuilder};
use zoom_rtms_webhooks::event::{IdField, InstanceId, RtmsStarted, RtmsStreamEnd};
use zoom_rtms_webhooks::handshake::Credentials;
use zoom_rtms_webhooks::protocol::session::Timing;
use zoom_rtms_webhooks::{Product, WebhookEvent};

/// What the supervisor's callback saw.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Seen {
    /// The callback started for a connection of this stream, with this fencing token.
    Stream(String, Option<u64>),
    Item(Item),
    /// The items ended.
    Done,
}

pub fn started(url: &str, ts: u64) -> WebhookEvent {
    WebhookEvent::RtmsStarted(
        RtmsStarted::new(
            Product::Meeting,
            InstanceId::new(IdField::MeetingUuid, "m-uuid"),
            "stream-1",
            url,
        )
        .with_event_ts(ts),
    )
}

pub fn interrupted() -> WebhookEvent {
    WebhookEvent::RtmsInterrupted(RtmsStreamEnd::interrupted(Product::Meeting, "stream-1"))
}

pub fn stopped() -> WebhookEvent {
    WebhookEvent::RtmsStopped(RtmsStreamEnd::stopped(Product::Meeting, "stream-1"))
}

/// A supervisor on the loopback policy whose callback forwards everything to the receiver.
pub fn supervisor() -> (Supervisor, mpsc::UnboundedReceiver<Seen>) {
    let (builder, on_stream, rx) = parts();
    (builder.build(on_stream), rx)
}

/// What the callback returns.
pub type Reported = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The builder of [`supervisor`] (to add settings) and its callback.
pub fn parts() -> (
    SupervisorBuilder,
    impl Fn(SupervisedStream) -> Reported + Send + Sync + 'static,
    mpsc::UnboundedReceiver<Seen>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let on_stream = move |mut stream: SupervisedStream| {
        let tx = tx.clone();
        Box::pin(async move {
            let _ = tx.send(Seen::Stream(stream.id().to_owned(), stream.fencing_token()));
            while let Some(item) = stream.next().await {
                let _ = tx.send(Seen::Item(item));
            }
            let _ = tx.send(Seen::Done);
        }) as Reported
    };
    (Supervisor::builder(client_config()), on_stream, rx)
}

/// The configuration of [`parts`]' supervisor: the loopback policy, a short close timeout.
pub fn client_config() -> Config {
    let creds = Credentials::new("client-id", "client-secret").unwrap();
    Config::new(creds)
        .with_host_policy(crate::fake::policy())
        // The fake server answers a stream close request only where a test says so.
        .with_configure(|config, started| {
            assert_eq!(started.rtms_stream_id, "stream-1");
            config.with_timing(Timing::default().with_close_timeout(Duration::from_millis(200)))
        })
}

pub async fn seen(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(crate::fake::BOUND, rx.recv())
        .await
        .expect("the callback reported nothing")
        .expect("the callback is gone")
}

/// The next item the callback saw (skipping nothing: anything else fails).
pub async fn item(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Item {
    match seen(rx).await {
        Seen::Item(item) => item,
        other => panic!("expected an item, got {other:?}"),
    }
}

pub async fn connected(rx: &mut mpsc::UnboundedReceiver<Seen>) -> u32 {
    match item(rx).await {
        Item::Connected { connects, .. } => connects,
        other => panic!("expected Connected, got {other:?}"),
    }
}
