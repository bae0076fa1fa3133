//! The tokio client against a fake RTMS server on loopback (tokio-websockets' server side,
//! 127.0.0.1 only). The fake follows Zoom's side of the protocol as `docs/protocol.md` describes
//! it, not the client.
#![cfg(feature = "client")]

#[path = "support/fake_rtms.rs"]
mod fake;

use std::time::Duration;

use serde_json::json;

use fake::{audio, config, handshake, hold_time, next, policy, signalling_ok, Endpoint};
use zoom_rtms_webhooks::client::{self, Item, Options, Source};
use zoom_rtms_webhooks::handshake::MediaKind;
use zoom_rtms_webhooks::protocol::session::{EndReason, SessionError};
use zoom_rtms_webhooks::region::ServerUrl;

#[tokio::test]
async fn happy_path_handshakes_then_media() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let (handle, mut items) =
        client::connect_session(config(), url, client::Options::default()).unwrap();

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
    assert_eq!(t.text, "Hello");
    assert_eq!(t.source.user_name(), Some("Ann"));
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
    let (handle, mut items) = client::connect_session(config(), url, options).unwrap();

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

    // The first 17 frames were dropped (the oldest data first: `Connected`, a state item, is
    // kept); the user is told so, then gets `Connected` and the newest 3 frames in order.
    assert_eq!(handle.dropped(), 17);
    assert_eq!(next(&mut items).await, Item::Lagged { dropped: 17 });
    assert!(matches!(next(&mut items).await, Item::Connected { .. }));
    for i in 17..20 {
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
    let (handle, mut items) =
        client::connect_session(config(), url, client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    sig.expect(1).await;
    sig.send(signalling_ok(&refused)).await;

    // Reported once as a refused URL, then as the reason the stream failed.
    let Item::Refused(error) = next(&mut items).await else {
        panic!("expected Refused")
    };
    assert_eq!(error.url(), Some(refused.as_str()));
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
    let _hold = hold_time();
    let start = tokio::time::Instant::now();
    let (_handle, mut items) =
        client::connect_session(config(), url, client::Options::default()).unwrap();

    // Another connection to the stream is still active: status 8 (duplicate signal request).
    let mut first = sig_ep.accept().await;
    first.expect(1).await;
    first
        .send(json!({"msg_type":2,"protocol_version":1,"status_code":8,"reason":"duplicate"}))
        .await;
    assert!(first.recv().await.is_none(), "the refused socket is closed");

    // The retry comes after 1.5 s (paused time), on a new signalling socket.
    tokio::time::advance(Duration::from_millis(1500)).await;
    let mut sig = sig_ep.accept().await;
    assert!(start.elapsed() >= Duration::from_millis(1500));
    let _media = handshake(&mut sig, &media_ep).await;
    let Item::Connected { connects, .. } = next(&mut items).await else {
        panic!("expected Connected")
    };
    assert_eq!(connects, 1);
}

#[tokio::test]
async fn split_sockets_each_handshake_and_answer_keep_alives() {
    use zoom_rtms_webhooks::handshake::MediaTypes;
    use zoom_rtms_webhooks::protocol::media::MediaParams;

    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let config = config()
        .with_media(
            MediaTypes::AUDIO | MediaTypes::TRANSCRIPT,
            MediaParams::new(),
        )
        .with_split_sockets(true);
    let (_handle, mut items) =
        client::connect_session(config, url, client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    sig.expect(1).await;
    // No `transcript` key: that socket takes the `all` URL (the same endpoint here).
    sig.send(signalling_ok(&media_ep.url())).await;

    let mut a = media_ep.accept().await;
    let mut b = media_ep.accept().await;
    let mut kinds = Vec::new();
    for m in [&mut a, &mut b] {
        kinds.push(m.expect(3).await["media_type"].as_i64().unwrap());
        m.send(fake::data_ok()).await;
        // A 7 after each successful data handshake.
        sig.expect(7).await;
    }
    kinds.sort_unstable();
    assert_eq!(kinds, [1, 8], "one socket per kind");
    let Item::Connected { connects: 1, .. } = next(&mut items).await else {
        panic!("expected Connected")
    };

    for (i, m) in [&mut a, &mut b].into_iter().enumerate() {
        m.send(json!({"msg_type":12,"timestamp":i})).await;
        assert_eq!(m.expect(13).await["timestamp"], i);
    }
}

#[tokio::test]
async fn invalid_media_parameters_are_refused_before_any_dial() {
    use zoom_rtms_webhooks::handshake::MediaTypes;
    use zoom_rtms_webhooks::protocol::media::{AudioChannel, AudioParams, MediaParams};

    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let url = ServerUrl::parse(&format!("ws://{}", trap.local_addr().unwrap()), &policy()).unwrap();
    let stereo =
        MediaParams::new().with_audio(AudioParams::new().with_channel(AudioChannel::Stereo));
    let config = config().with_media(MediaTypes::AUDIO, stereo);
    let err = client::connect_session(config, url, client::Options::default()).unwrap_err();
    assert!(matches!(err, client::ConnectError::Params(_)), "{err}");
    tokio::task::yield_now().await;
    assert!(trap.accept().is_err(), "nothing was dialled");
}

#[test]
fn connect_outside_a_runtime_is_an_error() {
    let url = ServerUrl::parse("ws://127.0.0.1:9", &policy()).unwrap();
    let err = client::connect_session(config(), url, client::Options::default()).unwrap_err();
    assert!(matches!(err, client::ConnectError::NoRuntime));
}

#[tokio::test(start_paused = true)]
async fn close_without_an_answer_ends_after_the_close_timeout() {
    let _hold = hold_time();
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let (handle, mut items) =
        client::connect_session(config(), url, client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert!(matches!(next(&mut items).await, Item::Connected { .. }));

    let closing = tokio::spawn({
        let handle = handle.clone();
        async move { handle.close().await }
    });
    sig.expect(21).await;
    // No 22: the session gives up waiting after 5 s.
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(next(&mut items).await, Item::Ended(EndReason::Closed));
    closing.await.unwrap();
}

/// An `rtms_started` as the webhook half parses it, for `stream-1` of meeting `m-uuid`.
fn started(server_urls: &str) -> zoom_rtms_webhooks::event::RtmsStarted {
    let body = json!({"event":"meeting.rtms_started","event_ts":1,"payload":{
        "meeting_uuid":"m-uuid","rtms_stream_id":"stream-1","server_urls":server_urls}});
    match zoom_rtms_webhooks::WebhookEvent::parse(body.to_string().as_bytes()).unwrap() {
        zoom_rtms_webhooks::WebhookEvent::RtmsStarted(s) => s,
        other => panic!("{other:?}"),
    }
}

fn client_config() -> client::Config {
    client::Config::new(client::Credentials::new("client-id", "client-secret").unwrap())
        .with_host_policy(policy())
}

#[tokio::test]
async fn one_call_connects_from_the_rtms_started_event() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (_handle, mut items) = client::connect(&started(&sig_ep.url()), &client_config()).unwrap();
    // `handshake_events` checks the signalling handshake: stream-1 of m-uuid, signed.
    let mut sig = sig_ep.accept().await;
    let (mut media, subscription) = fake::handshake_events(&mut sig, &media_ep).await;
    // A meeting's speaker, participant and sharing events, subscribed by default (no video
    // asked for: no video on/off).
    assert_eq!(
        subscription,
        Some(json!({"msg_type":5,"events":[
            {"event_type":2,"subscribe":true},{"event_type":3,"subscribe":true},
            {"event_type":4,"subscribe":true},{"event_type":5,"subscribe":true},
            {"event_type":6,"subscribe":true}]}))
    );
    assert!(matches!(
        next(&mut items).await,
        Item::Connected { connects: 1, .. }
    ));
    media.send(audio(3)).await;
    let Item::Audio(frame) = next(&mut items).await else {
        panic!("expected audio")
    };
    assert_eq!(&frame.data[..], &[3, 3, 3, 3]);
}

#[tokio::test]
async fn a_refused_signalling_url_is_reported_by_the_items_and_never_dialled() {
    // A plain ws:// URL with the default policy: refused.
    let sig_ep = Endpoint::bind().await;
    let config = client::Config::new(client::Credentials::new("id", "secret").unwrap());
    let (handle, mut items) = client::connect(&started(&sig_ep.url()), &config).unwrap();
    let Item::Refused(error) = next(&mut items).await else {
        panic!("expected Refused")
    };
    assert_eq!(error.url(), Some(sig_ep.url().as_str()));
    let Item::Failed(SessionError::SignalingUrl(e)) = next(&mut items).await else {
        panic!("expected Failed(SignalingUrl)")
    };
    assert_eq!(e, error);
    assert!(items.next().await.is_none());
    assert!(handle.is_finished());
    handle.finished().await;
    // Nothing dialled: no connection waits at the listener.
    let accepted = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(sig_ep.listener.poll_accept(cx).is_ready())
    })
    .await;
    assert!(!accepted, "the refused URL was dialled");
}

/// Split sockets for audio, video and transcripts: the audio socket answers first (with the
/// audio format), the video socket's handshake is refused with 10
/// (`MEDIA_TYPE_VIDEO_NOT_SUPPORT`), the transcript socket answers last with its own params.
/// The stream goes on: `MediaRefused` for video, then `Connected` with the audio format.
#[tokio::test]
async fn split_sockets_keep_the_audio_format_and_a_refused_type_does_not_fail_the_stream() {
    use zoom_rtms_webhooks::codes::StatusCode;
    use zoom_rtms_webhooks::handshake::MediaTypes;
    use zoom_rtms_webhooks::protocol::media::MediaParams;

    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let config = config()
        .with_media(
            MediaTypes::AUDIO | MediaTypes::VIDEO | MediaTypes::TRANSCRIPT,
            MediaParams::new(),
        )
        .with_split_sockets(true);
    let (handle, mut items) =
        client::connect_session(config, url, client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    sig.expect(1).await;
    sig.send(signalling_ok(&media_ep.url())).await;
    let mut sockets = std::collections::HashMap::new();
    for _ in 0..3 {
        let mut m = media_ep.accept().await;
        let kind = m.expect(3).await["media_type"].as_i64().unwrap();
        sockets.insert(kind, m);
    }
    let mut audio = sockets.remove(&1).expect("an audio socket");
    let mut video = sockets.remove(&2).expect("a video socket");
    let mut transcript = sockets.remove(&8).expect("a transcript socket");

    audio.send(fake::data_ok()).await;
    sig.expect(7).await;
    video
        .send(json!({"msg_type":4,"status_code":10,"reason":"MEDIA_TYPE_VIDEO_NOT_SUPPORT"}))
        .await;
    assert_eq!(
        next(&mut items).await,
        Item::MediaRefused {
            kind: MediaKind::Video,
            status: Some(StatusCode::MediaTypeVideoNotSupported)
        }
    );
    assert_eq!(video.recv().await, None, "the refused socket is closed");
    transcript
        .send(json!({"msg_type":4,"status_code":0,"media_params":{"transcript":{"content_type":5,"src_language":9}}}))
        .await;
    sig.expect(7).await;
    let Item::Connected {
        connects: 1,
        params,
    } = next(&mut items).await
    else {
        panic!("expected Connected")
    };
    let audio_params = params.audio().expect("the audio format survives");
    let confirmed: serde_json::Value = fake::data_ok()["media_params"]["audio"].clone();
    assert_eq!(serde_json::to_value(audio_params).unwrap(), confirmed);
    assert!(!handle.is_finished());
    audio.send(fake::audio(5)).await;
    assert!(matches!(next(&mut items).await, Item::Audio(_)));
}
