//! The stream supervisor in one process (no Redis): webhooks drive one connection per stream,
//! against the fake RTMS server on loopback.
#![cfg(feature = "client")]

#[path = "support/fake_rtms.rs"]
mod fake;
#[path = "support/supervised.rs"]
mod supervised;

use std::time::Duration;

use serde_json::json;

use fake::{handshake, hold_time, Endpoint};
use supervised::{connected, interrupted, item, seen, started, stopped, supervisor, Seen};
use zoom_rtms_webhooks::client::{Handled, Item};
use zoom_rtms_webhooks::protocol::session::{EndReason, Scope};
use zoom_rtms_webhooks::region::HostPolicy;

#[tokio::test]
async fn started_connects_and_stopped_ends_and_forgets_the_stream() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (sup, mut rx) = supervisor();
    assert_eq!(
        sup.handle(&started(&sig_ep.url(), 1)).await.unwrap(),
        Handled::Connecting
    );
    assert_eq!(sup.connections(), 1);
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert!(matches!(seen(&mut rx).await, Seen::Stream(id, None) if id == "stream-1"));
    assert_eq!(connected(&mut rx).await, 1);

    assert_eq!(sup.handle(&stopped()).await.unwrap(), Handled::Stopping);
    assert_eq!(item(&mut rx).await, Item::Ended(EndReason::Stopped));
    assert!(matches!(seen(&mut rx).await, Seen::Done));
    assert!(
        sig.recv().await.is_none(),
        "the signalling socket is closed"
    );

    // Forgotten once ended: the same stream started again is a new connection.
    assert_eq!(
        sup.handle(&started(&sig_ep.url(), 2)).await.unwrap(),
        Handled::Connecting
    );
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert!(matches!(seen(&mut rx).await, Seen::Stream(..)));
    assert_eq!(connected(&mut rx).await, 1);
    sup.shutdown().await;
    assert_eq!(sup.connections(), 0);
}

#[tokio::test]
async fn a_second_rtms_started_fails_over_on_the_same_connection() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (sup, mut rx) = supervisor();
    sup.handle(&started(&sig_ep.url(), 1)).await.unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert!(matches!(seen(&mut rx).await, Seen::Stream(..)));
    assert_eq!(connected(&mut rx).await, 1);

    let new_sig_ep = Endpoint::bind().await;
    let new_media_ep = Endpoint::bind().await;
    let failover = started(&new_sig_ep.url(), 2);
    assert_eq!(sup.handle(&failover).await.unwrap(), Handled::FailedOver);
    let mut new_sig = new_sig_ep.accept().await;
    assert!(
        sig.recv().await.is_none(),
        "the old signalling socket is closed"
    );
    let _media = handshake(&mut new_sig, &new_media_ep).await;
    // The same connection (same callback, connects 2), not a second one.
    assert_eq!(connected(&mut rx).await, 2);
    assert_eq!(sup.connections(), 1);
    // The same delivery again is a duplicate, not another failover.
    assert_eq!(
        sup.handle(&failover).await.unwrap(),
        Handled::AlreadyConnected
    );
    sup.shutdown().await;
}

#[tokio::test]
async fn concurrent_duplicate_deliveries_make_one_connection() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (sup, mut rx) = supervisor();
    let event = started(&sig_ep.url(), 1);
    let (a, b, c) = tokio::join!(sup.handle(&event), sup.handle(&event), sup.handle(&event));
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
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert!(matches!(seen(&mut rx).await, Seen::Stream(..)));
    assert_eq!(connected(&mut rx).await, 1);
    sup.shutdown().await;
}

#[tokio::test]
async fn a_refused_url_is_never_dialled() {
    let sig_ep = Endpoint::bind().await;
    // The default policy: wss:// on zoom.us only.
    let (sup, _rx) = supervisor();
    let sup = sup.with_host_policy(HostPolicy::default());
    let url = sig_ep.url();
    match sup.handle(&started(&url, 1)).await.unwrap() {
        Handled::Refused {
            url: refused,
            error,
        } => {
            assert_eq!(refused, url);
            assert_eq!(error.url(), Some(url.as_str()));
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    // A list with one refused URL is refused as a whole, naming that URL.
    let (sup, _rx) = supervisor();
    let list = format!("{url},wss://evil.example/x");
    assert_eq!(
        sup.handle(&started(&list, 1)).await.unwrap(),
        Handled::Refused {
            url: "wss://evil.example/x".to_owned(),
            error: zoom_rtms_webhooks::region::ServerUrl::parse(
                "wss://evil.example/x",
                &fake::policy()
            )
            .unwrap_err(),
        }
    );
    assert_eq!(sup.connections(), 0);
    // Nothing dialled: the listener has no connection waiting.
    let pending = tokio::time::timeout(Duration::from_millis(1), sig_ep.listener.accept()).await;
    assert!(pending.is_err(), "a refused URL was dialled");
}

#[tokio::test(start_paused = true)]
async fn interrupted_reconnects_after_the_backoff() {
    let _hold = hold_time();
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (sup, mut rx) = supervisor();
    sup.handle(&started(&sig_ep.url(), 1)).await.unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert!(matches!(seen(&mut rx).await, Seen::Stream(..)));
    assert_eq!(connected(&mut rx).await, 1);

    assert_eq!(
        sup.handle(&interrupted()).await.unwrap(),
        Handled::Reconnecting
    );
    assert_eq!(
        item(&mut rx).await,
        Item::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }
    );
    assert!(
        sig.recv().await.is_none(),
        "the old signalling socket is closed"
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut rx).await, 2);
    assert_eq!(sup.connections(), 1);
}

#[tokio::test]
async fn events_for_streams_not_connected_here_do_nothing() {
    let (sup, _rx) = supervisor();
    assert_eq!(
        sup.handle(&interrupted()).await.unwrap(),
        Handled::NotConnected
    );
    assert_eq!(sup.handle(&stopped()).await.unwrap(), Handled::NotConnected);
    let validation = zoom_rtms_webhooks::WebhookEvent::UrlValidation(
        zoom_rtms_webhooks::event::UrlValidation::new("token"),
    );
    assert_eq!(sup.handle(&validation).await.unwrap(), Handled::Ignored);
    assert_eq!(sup.connections(), 0);
}

#[tokio::test]
async fn shutdown_closes_every_stream_gracefully() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (sup, mut rx) = supervisor();
    sup.handle(&started(&sig_ep.url(), 1)).await.unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert!(matches!(seen(&mut rx).await, Seen::Stream(..)));
    assert_eq!(connected(&mut rx).await, 1);

    let closing = tokio::spawn({
        let sup = sup.clone();
        async move { sup.shutdown().await }
    });
    let close = sig.expect(21).await;
    assert_eq!(close["rtms_stream_id"], "stream-1");
    sig.send(json!({"msg_type":22,"rtms_stream_id":"stream-1","status_code":0,"reason":"OK"}))
        .await;
    closing.await.unwrap();
    assert_eq!(item(&mut rx).await, Item::Ended(EndReason::Closed));
    assert_eq!(sup.connections(), 0);
    assert!(matches!(
        sup.handle(&started(&sig_ep.url(), 2)).await,
        Err(zoom_rtms_webhooks::client::SupervisorError::ShutDown)
    ));
}
