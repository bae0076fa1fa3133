//! The tokio client's reconnects, failover, endings and the user's requests, against the fake RTMS
//! server on loopback (`docs/protocol.md#reconnects-and-failover`). Timers run on paused tokio
//! time.
#![cfg(feature = "client")]

#[path = "support/fake_rtms.rs"]
mod fake;

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use fake::{audio, config, handshake, hold_time, next, policy, Endpoint};
use zoom_rtms_webhooks::client::{self, Item};
use zoom_rtms_webhooks::protocol::events::{EventType, MeetingEventType};
use zoom_rtms_webhooks::protocol::session::{EndReason, Scope, Webhook};
use zoom_rtms_webhooks::region::ServerUrl;

fn url(ep: &Endpoint) -> ServerUrl {
    ServerUrl::parse(&ep.url(), &policy()).unwrap()
}

async fn connected(items: &mut client::Items) -> u32 {
    match next(items).await {
        Item::Connected { connects, .. } => connects,
        other => panic!("expected Connected, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_lost_media_socket_redials_media_only_after_the_backoff() {
    let _hold = hold_time();
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (_handle, mut items) =
        client::connect_session(config(), url(&sig_ep), client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 1);

    drop(media);
    let lost = Instant::now();
    assert_eq!(
        next(&mut items).await,
        Item::Reconnecting {
            scope: Scope::Media,
            attempt: 0
        }
    );
    // Media only: 3 s later, a new media socket with its data handshake, then 7 again on the
    // signalling socket that stayed up.
    tokio::time::advance(Duration::from_secs(3)).await;
    let mut media = media_ep.accept().await;
    assert!(lost.elapsed() >= Duration::from_secs(3));
    media.expect(3).await;
    media.send(fake::data_ok()).await;
    sig.expect(7).await;
    assert_eq!(connected(&mut items).await, 2);
    media.send(audio(1)).await;
    let item = next(&mut items).await;
    assert!(matches!(item, Item::Audio(_)), "{item:?}");
}

#[tokio::test(start_paused = true)]
async fn sixty_five_silent_seconds_redo_the_whole_handshake() {
    let _hold = hold_time();
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (_handle, mut items) =
        client::connect_session(config(), url(&sig_ep), client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 1);
    let quiet = Instant::now();

    // No inbound traffic at all: the watchdog declares signalling dead.
    tokio::time::advance(Duration::from_secs(65)).await;
    assert_eq!(
        next(&mut items).await,
        Item::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }
    );
    assert!(quiet.elapsed() >= Duration::from_secs(65));
    assert!(sig.recv().await.is_none(), "the dead socket is closed");
    tokio::time::advance(Duration::from_secs(3)).await;
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 2);
}

#[tokio::test]
async fn rtms_started_again_fails_over_to_the_new_servers_at_once() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (handle, mut items) =
        client::connect_session(config(), url(&sig_ep), client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 1);

    let new_sig_ep = Endpoint::bind().await;
    let new_media_ep = Endpoint::bind().await;
    handle.webhook(Webhook::Started {
        server_url: url(&new_sig_ep),
    });
    let mut new_sig = new_sig_ep.accept().await;
    assert!(
        sig.recv().await.is_none(),
        "the old signalling socket is closed"
    );
    let _media = handshake(&mut new_sig, &new_media_ep).await;
    assert_eq!(connected(&mut items).await, 2);
}

#[tokio::test]
async fn stream_state_terminated_ends_the_stream() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (handle, mut items) =
        client::connect_session(config(), url(&sig_ep), client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 1);

    sig.send(json!({"msg_type":8,"state":4,"reason":6,"timestamp":1}))
        .await;
    assert!(matches!(next(&mut items).await, Item::StreamState { .. }));
    assert!(matches!(
        next(&mut items).await,
        Item::Ended(EndReason::StreamTerminated(_))
    ));
    assert!(items.next().await.is_none());
    handle.finished().await;
}

#[tokio::test]
async fn rtms_stopped_ends_the_stream() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (handle, mut items) =
        client::connect_session(config(), url(&sig_ep), client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 1);

    handle.webhook(Webhook::Stopped);
    assert_eq!(next(&mut items).await, Item::Ended(EndReason::Stopped));
    assert!(sig.recv().await.is_none());
}

#[tokio::test]
async fn dropping_the_items_closes_the_stream_gracefully() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (handle, mut items) =
        client::connect_session(config(), url(&sig_ep), client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 1);

    drop(items);
    sig.expect(21).await;
    sig.send(json!({"msg_type":22,"rtms_stream_id":"stream-1","status_code":0}))
        .await;
    handle.finished().await;
}

#[tokio::test]
async fn events_video_subscription_and_chat_reach_the_user() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (handle, mut items) =
        client::connect_session(config(), url(&sig_ep), client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let mut media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 1);

    sig.send(json!({"msg_type":6,"event":{"event_type":3,"timestamp":5,
        "participants":[{"user_id":9,"user_name":"Bo"}]}}))
        .await;
    let Item::Event(e) = next(&mut items).await else {
        panic!("expected an event")
    };
    assert_eq!(
        e.event_type(),
        EventType::Meeting(MeetingEventType::ParticipantJoin)
    );
    assert_eq!(e.event().unwrap().participants().len(), 1);

    handle.subscribe_video(9, true);
    let req = sig.expect(28).await;
    assert_eq!(
        (req["user_id"].clone(), req["subscribe"].clone()),
        (json!(9), json!(true))
    );
    sig.send(json!({"msg_type":29,"user_id":9,"status_code":0,"subscribe":true}))
        .await;
    let Item::VideoSubscription {
        user_id, status, ..
    } = next(&mut items).await
    else {
        panic!("expected the subscription answer")
    };
    assert_eq!(user_id, Some(9));
    assert_eq!(status, Some(zoom_rtms_webhooks::codes::StatusCode::Ok));

    media
        .send(json!({"msg_type":18,"content":{"user_id":9,"user_name":"Bo","data":"hi","timestamp":7}}))
        .await;
    let Item::Chat(c) = next(&mut items).await else {
        panic!("expected chat")
    };
    assert_eq!(c.text(), Some("hi"));
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_signalling_server_is_retried_after_the_backoff() {
    let _hold = hold_time();
    // A free loopback port with nobody listening: the dial is refused.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = ServerUrl::parse(&format!("ws://{addr}"), &policy()).unwrap();
    let (_handle, mut items) =
        client::connect_session(config(), url, client::Options::default()).unwrap();
    assert_eq!(
        next(&mut items).await,
        Item::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }
    );

    // The server comes up; the retry after 3 s finds it.
    let sig_ep = Endpoint {
        listener: tokio::net::TcpListener::bind(addr).await.unwrap(),
    };
    let media_ep = Endpoint::bind().await;
    tokio::time::advance(Duration::from_secs(3)).await;
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 1);
}

#[tokio::test(start_paused = true)]
async fn rtms_interrupted_redoes_everything_after_the_backoff() {
    let _hold = hold_time();
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (handle, mut items) =
        client::connect_session(config(), url(&sig_ep), client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let mut media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 1);

    handle.webhook(Webhook::Interrupted);
    assert_eq!(
        next(&mut items).await,
        Item::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }
    );
    assert!(sig.recv().await.is_none(), "signalling is closed");
    assert!(media.recv().await.is_none(), "media is closed");
    tokio::time::advance(Duration::from_secs(3)).await;
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert_eq!(connected(&mut items).await, 2);
}
