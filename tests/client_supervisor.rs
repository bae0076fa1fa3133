//! The stream supervisor in one process (no Redis): webhooks drive one connection per stream,
//! against the fake RTMS server on loopback.
#![cfg(feature = "client")]

#[path = "support/fake_rtms.rs"]
mod fake;
#[path = "support/supervised.rs"]
mod supervised;

use std::time::Duration;

use serde_json::json;

use tokio::sync::mpsc;

use fake::{handshake, hold_time, Endpoint, Peer};
use supervised::{
    client_config, connected, interrupted, item, parts, seen, started, stopped, supervisor, Seen,
};
use zoom_rtms_webhooks::client::{Handled, Item, Supervisor};
use zoom_rtms_webhooks::protocol::session::{EndReason, Scope, SessionError};
use zoom_rtms_webhooks::region::{HostPolicy, ServerUrlError};

/// A supervisor whose callback reports to `rx`, connected to stream-1 on `sig_ep`/`media_ep`.
struct Up {
    sup: Supervisor,
    rx: mpsc::UnboundedReceiver<Seen>,
    sig_ep: Endpoint,
    media_ep: Endpoint,
    sig: Peer,
    _media: Peer,
}

async fn up() -> Up {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (sup, mut rx) = supervisor();
    let handled = sup.on_event(&started(&sig_ep.url(), 1)).await.unwrap();
    assert_eq!(handled, Handled::Connecting);
    let (sig, media) = accepted(&sig_ep, &media_ep, &mut rx).await;
    Up {
        sup,
        rx,
        sig_ep,
        media_ep,
        sig,
        _media: media,
    }
}

/// The supervisor's new connection: accepted, handshaken, its callback started and connected.
async fn accepted(
    sig_ep: &Endpoint,
    media_ep: &Endpoint,
    rx: &mut mpsc::UnboundedReceiver<Seen>,
) -> (Peer, Peer) {
    let mut sig = sig_ep.accept().await;
    let media = handshake(&mut sig, media_ep).await;
    assert!(matches!(seen(rx).await, Seen::Stream(id, None) if id == "stream-1"));
    assert_eq!(connected(rx).await, 1);
    (sig, media)
}

#[tokio::test]
async fn started_connects_and_stopped_ends_and_forgets_the_stream() {
    let Up {
        sup,
        mut rx,
        sig_ep,
        media_ep,
        mut sig,
        ..
    } = up().await;
    assert_eq!(sup.connections(), 1);

    assert_eq!(sup.on_event(&stopped()).await.unwrap(), Handled::Stopping);
    assert_eq!(item(&mut rx).await, Item::Ended(EndReason::Stopped));
    assert!(matches!(seen(&mut rx).await, Seen::Done));
    assert!(
        sig.recv().await.is_none(),
        "the signalling socket is closed"
    );

    // Forgotten once ended: the same stream started again is a new connection.
    let again = sup.on_event(&started(&sig_ep.url(), 2)).await.unwrap();
    assert_eq!(again, Handled::Connecting);
    let _peers = accepted(&sig_ep, &media_ep, &mut rx).await;
    sup.shutdown().await;
    assert_eq!(sup.connections(), 0);
}

#[tokio::test]
async fn a_second_rtms_started_fails_over_on_the_same_connection() {
    let mut up = up().await;
    let new_sig_ep = Endpoint::bind().await;
    let new_media_ep = Endpoint::bind().await;
    let failover = started(&new_sig_ep.url(), 2);
    assert_eq!(
        up.sup.on_event(&failover).await.unwrap(),
        Handled::FailedOver
    );
    let mut new_sig = new_sig_ep.accept().await;
    assert!(
        up.sig.recv().await.is_none(),
        "the old signalling socket is closed"
    );
    let _media = handshake(&mut new_sig, &new_media_ep).await;
    // The same connection (same callback, connects 2), not a second one.
    assert_eq!(connected(&mut up.rx).await, 2);
    assert_eq!(up.sup.connections(), 1);
    // A failover to a server the policy refuses: not dialled; the stream's items say so, and
    // the connection goes on.
    let evil = started("wss://evil.example/x", 3);
    assert_eq!(up.sup.on_event(&evil).await.unwrap(), Handled::Reported);
    match item(&mut up.rx).await {
        Item::Refused(error) => assert_eq!(error.url(), Some("wss://evil.example/x")),
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(up.sup.connections(), 1);
    // The same delivery again is a duplicate, not another failover.
    let again = up.sup.on_event(&failover).await.unwrap();
    assert_eq!(again, Handled::AlreadyConnected);
    // A late retry of the first start (an earlier event_ts) never moves the stream back.
    let stale = started(&up.sig_ep.url(), 1);
    assert_eq!(
        up.sup.on_event(&stale).await.unwrap(),
        Handled::AlreadyConnected
    );
    up.sup.shutdown().await;
    // Had it moved back, the shutdown's close request would have gone to the old server.
    assert!(new_sig.recv().await.is_some_and(|m| m["msg_type"] == 21));
}

#[tokio::test]
async fn concurrent_duplicate_deliveries_make_one_connection() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (sup, mut rx) = supervisor();
    let event = started(&sig_ep.url(), 1);
    let (a, b, c) = tokio::join!(
        sup.on_event(&event),
        sup.on_event(&event),
        sup.on_event(&event)
    );
    let mut results = [a.unwrap(), b.unwrap(), c.unwrap()];
    results.sort_by_key(|h| format!("{h:?}"));
    assert_eq!(
        results,
        [
            Handled::AlreadyConnected,
            Handled::AlreadyConnected,
            Handled::Connecting
        ]
    );
    assert_eq!(sup.connections(), 1);
    let _peers = accepted(&sig_ep, &media_ep, &mut rx).await;
    sup.shutdown().await;
}

/// The stream a refused `rtms_started` is reported as: `Refused`, then `Failed`, then the end.
async fn refused_stream(rx: &mut mpsc::UnboundedReceiver<Seen>) -> ServerUrlError {
    assert!(matches!(seen(rx).await, Seen::Stream(id, None) if id == "stream-1"));
    let Item::Refused(error) = item(rx).await else {
        panic!("expected Refused")
    };
    assert_eq!(
        item(rx).await,
        Item::Failed(SessionError::SignalingUrl(error.clone()))
    );
    assert!(matches!(seen(rx).await, Seen::Done));
    error
}

#[tokio::test]
async fn a_refused_url_is_never_dialled_and_reported_through_the_items() {
    let sig_ep = Endpoint::bind().await;
    // The default policy: wss:// on zoom.us only.
    let (builder, on_stream, mut rx) = parts();
    drop(builder);
    let sup = Supervisor::builder(client_config().with_host_policy(HostPolicy::default()))
        .build(on_stream);
    let url = sig_ep.url();
    assert_eq!(
        sup.on_event(&started(&url, 1)).await.unwrap(),
        Handled::Reported
    );
    assert_eq!(refused_stream(&mut rx).await.url(), Some(url.as_str()));
    // A list with one refused URL is refused as a whole, naming that URL.
    let (sup, mut rx) = supervisor();
    let list = format!("{url},wss://evil.example/x");
    assert_eq!(
        sup.on_event(&started(&list, 1)).await.unwrap(),
        Handled::Reported
    );
    assert_eq!(
        refused_stream(&mut rx).await,
        zoom_rtms_webhooks::region::ServerUrl::parse("wss://evil.example/x", &fake::policy())
            .unwrap_err()
    );
    assert_eq!(sup.connections(), 0);
    sup.shutdown().await;
    // Nothing dialled: the listener has no connection waiting.
    let pending = tokio::time::timeout(Duration::from_millis(1), sig_ep.listener.accept()).await;
    assert!(pending.is_err(), "a refused URL was dialled");
}

#[tokio::test(start_paused = true)]
async fn interrupted_reconnects_after_the_backoff() {
    let _hold = hold_time();
    let mut up = up().await;
    let handled = up.sup.on_event(&interrupted()).await.unwrap();
    assert_eq!(handled, Handled::Reconnecting);
    assert_eq!(
        item(&mut up.rx).await,
        Item::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }
    );
    assert!(
        up.sig.recv().await.is_none(),
        "the old signalling socket is closed"
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    let mut sig = up.sig_ep.accept().await;
    let _media = handshake(&mut sig, &up.media_ep).await;
    assert_eq!(connected(&mut up.rx).await, 2);
    assert_eq!(up.sup.connections(), 1);
}

#[tokio::test]
async fn events_for_streams_not_connected_here_do_nothing() {
    let (sup, _rx) = supervisor();
    assert_eq!(
        sup.on_event(&interrupted()).await.unwrap(),
        Handled::NotConnected
    );
    assert_eq!(
        sup.on_event(&stopped()).await.unwrap(),
        Handled::NotConnected
    );
    let validation = zoom_rtms_webhooks::WebhookEvent::UrlValidation(
        zoom_rtms_webhooks::event::UrlValidation::new("token"),
    );
    assert_eq!(sup.on_event(&validation).await.unwrap(), Handled::Ignored);
    assert_eq!(sup.connections(), 0);
}

#[tokio::test]
async fn shutdown_closes_every_stream_gracefully() {
    let mut up = up().await;
    let closing = tokio::spawn({
        let sup = up.sup.clone();
        async move { sup.shutdown().await }
    });
    let close = up.sig.expect(21).await;
    assert_eq!(close["rtms_stream_id"], "stream-1");
    up.sig
        .send(json!({"msg_type":22,"rtms_stream_id":"stream-1","status_code":0,"reason":"OK"}))
        .await;
    closing.await.unwrap();
    assert_eq!(item(&mut up.rx).await, Item::Ended(EndReason::Closed));
    assert_eq!(up.sup.connections(), 0);
    assert!(matches!(
        up.sup.on_event(&started(&up.sig_ep.url(), 2)).await,
        Err(zoom_rtms_webhooks::client::SupervisorError::ShutDown)
    ));
}

/// `rtms_started` without `event_ts`, for stream-1 at `url`.
fn started_without_ts(url: &str) -> zoom_rtms_webhooks::WebhookEvent {
    use zoom_rtms_webhooks::event::{IdField, InstanceId, RtmsStarted};
    zoom_rtms_webhooks::WebhookEvent::RtmsStarted(RtmsStarted::new(
        zoom_rtms_webhooks::Product::Meeting,
        InstanceId::new(IdField::MeetingUuid, "m-uuid"),
        "stream-1",
        url,
    ))
}

/// The same `rtms_started` delivered again without `event_ts` is a duplicate (before, each
/// delivery was a failover: 5 deliveries, 5 reconnects).
#[tokio::test]
async fn repeated_deliveries_without_event_ts_are_duplicates() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (sup, mut rx) = supervisor();
    let event = started_without_ts(&sig_ep.url());
    assert_eq!(sup.on_event(&event).await.unwrap(), Handled::Connecting);
    let (mut sig, _media) = accepted(&sig_ep, &media_ep, &mut rx).await;
    for _ in 0..5 {
        assert_eq!(
            sup.on_event(&event).await.unwrap(),
            Handled::AlreadyConnected
        );
    }
    // The same connection throughout: the next thing on it is the stream close request.
    let closing = tokio::spawn({
        let sup = sup.clone();
        async move { sup.shutdown().await }
    });
    sig.expect(21).await;
    sig.send(json!({"msg_type":22,"rtms_stream_id":"stream-1","status_code":0,"reason":"OK"}))
        .await;
    closing.await.unwrap();
    assert_eq!(item(&mut rx).await, Item::Ended(EndReason::Closed));
}

/// A failover while the stream is closing (its handle's `close()`): ignored, the close
/// finishes. Before, the new server was dialled and `close()` never returned.
#[tokio::test]
async fn a_failover_during_close_is_ignored_and_the_close_returns() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let new_sig_ep = Endpoint::bind().await;
    let (builder, _on_stream, _) = parts();
    let (handles_tx, mut handles) = mpsc::unbounded_channel();
    let (items_tx, mut items) = mpsc::unbounded_channel();
    let sup = builder.build(move |mut stream| {
        let (handles_tx, items_tx) = (handles_tx.clone(), items_tx.clone());
        async move {
            let _ = handles_tx.send(stream.handle().clone());
            while let Some(item) = stream.next().await {
                let _ = items_tx.send(item);
            }
        }
    });
    sup.on_event(&started(&sig_ep.url(), 1)).await.unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    let handle = handles.recv().await.unwrap();
    assert!(matches!(items.recv().await, Some(Item::Connected { .. })));

    let closing = tokio::spawn({
        let handle = handle.clone();
        async move { handle.close().await }
    });
    sig.expect(21).await;
    sup.on_event(&started(&new_sig_ep.url(), 2)).await.unwrap();
    sig.send(json!({"msg_type":22,"rtms_stream_id":"stream-1","status_code":0,"reason":"OK"}))
        .await;
    tokio::time::timeout(Duration::from_secs(10), closing)
        .await
        .expect("close() returned")
        .unwrap();
    assert_eq!(items.recv().await, Some(Item::Ended(EndReason::Closed)));
    let dialled =
        tokio::time::timeout(Duration::from_millis(1), new_sig_ep.listener.accept()).await;
    assert!(dialled.is_err(), "the new server was dialled while closing");
    sup.shutdown().await;
}
