//! Lossless mode (`Delivery::Lossless`) against the fake RTMS server, with a consumer that
//! reads nothing until the end, on the paused clock: nothing is dropped under the budget,
//! keep-alives are answered meanwhile, and past the budget the stream fails naming it and
//! closes its sockets.
#![cfg(feature = "client")]

#[path = "support/fake_rtms.rs"]
mod fake;

use serde_json::json;

use fake::{config, handshake, hold_time, next, policy, Endpoint};
use zoom_rtms_webhooks::client::{self, Delivery, Item, Options};
use zoom_rtms_webhooks::protocol::session::SessionError;
use zoom_rtms_webhooks::region::ServerUrl;

/// Audio frame `i`: 1 KiB of the byte `i`.
fn frame(i: u8) -> serde_json::Value {
    use base64::Engine as _;
    json!({"msg_type":14,"content":{"user_id":16778240,"user_name":"Ann",
        "data":base64::engine::general_purpose::STANDARD.encode([i; 1024]),"timestamp":1000 + i64::from(i) * 20}})
}

#[tokio::test(start_paused = true)]
async fn under_the_budget_nothing_is_dropped_and_keep_alives_are_answered() {
    let _hold = hold_time();
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    // The item bounds of drop-oldest mode do not apply.
    let options = Options::default()
        .with_queue_capacity(4)
        .with_queue_bytes(2048)
        .with_delivery(Delivery::Lossless { budget: 1 << 20 });
    let (handle, mut items) = client::connect_session(config(), url, options).unwrap();
    let mut sig = sig_ep.accept().await;
    let mut media = handshake(&mut sig, &media_ep).await;

    // Nobody reads: 50 frames (50 KiB) wait, and both sockets answer keep-alives meanwhile.
    for i in 0..50 {
        media.send(frame(i)).await;
    }
    media.send(json!({"msg_type":12,"timestamp":7})).await;
    assert_eq!(media.expect(13).await["timestamp"], 7);
    sig.send(json!({"msg_type":12,"timestamp":8})).await;
    assert_eq!(sig.expect(13).await["timestamp"], 8);

    assert_eq!(handle.dropped(), 0);
    assert_eq!(items.len(), 51);
    assert!(matches!(next(&mut items).await, Item::Connected { .. }));
    for i in 0..50 {
        let Item::Audio(f) = next(&mut items).await else {
            panic!("expected audio {i}")
        };
        assert_eq!(f.data[..], [i; 1024], "frame {i}");
    }
    assert!(items.is_empty());
    assert!(!handle.is_finished());
}

#[tokio::test(start_paused = true)]
async fn past_the_budget_the_stream_fails_naming_it_and_closes_its_sockets() {
    let _hold = hold_time();
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let budget = 10_000;
    let options = Options::default().with_delivery(Delivery::Lossless { budget });
    let (handle, mut items) = client::connect_session(config(), url, options).unwrap();
    let mut sig = sig_ep.accept().await;
    let mut media = handshake(&mut sig, &media_ep).await;

    // Under the budget (5 KiB): a keep-alive is answered while nobody reads.
    for i in 0..5 {
        media.send(frame(i)).await;
    }
    media.send(json!({"msg_type":12,"timestamp":1})).await;
    assert_eq!(media.expect(13).await["timestamp"], 1);
    assert!(!handle.is_finished());

    // 7 KiB more: past the budget. Both sockets are closed, no stream close request (21) is
    // sent: Zoom's side goes on.
    for i in 5..12 {
        media.send(frame(i)).await;
    }
    assert_eq!(media.recv().await, None);
    assert_eq!(sig.recv().await, None);
    handle.finished().await;

    // Every item queued before the failure, in order, none dropped, then the failure.
    assert_eq!(handle.dropped(), 0);
    assert!(matches!(next(&mut items).await, Item::Connected { .. }));
    let mut got = 0u8;
    let failure = loop {
        match next(&mut items).await {
            Item::Audio(f) => {
                assert_eq!(f.data[..], [got; 1024]);
                got += 1;
            }
            other => break other,
        }
    };
    assert_eq!(failure, Item::Failed(SessionError::QueueBudget { budget }));
    // 9 KiB of payload fit (the items' own size on top), the 10th frame is past the budget.
    assert!((9..=10).contains(&got), "{got} frames before the failure");
    assert!(items.next().await.is_none());
    let Item::Failed(error) = failure else {
        unreachable!()
    };
    assert!(error.to_string().contains("10000 bytes"), "{error}");
}
