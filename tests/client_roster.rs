//! The roster (participants, names, cameras, active speaker, sharing, first packet) a stream
//! keeps from the event updates a fake RTMS server scripts on signalling.
#![cfg(feature = "client")]

#[path = "support/fake_rtms.rs"]
mod fake;

use serde_json::{json, Value};

use fake::{config, handshake, next, policy, Endpoint};
use zoom_rtms_webhooks::client::{self, Item, Member, Roster, RosterChange};
use zoom_rtms_webhooks::region::ServerUrl;

fn event(e: Value) -> Value {
    json!({"msg_type":6,"event":e})
}

/// The next item, an event update, and what it changes in the roster.
async fn change(items: &mut client::Items) -> RosterChange {
    let item = next(items).await;
    let Item::Event(e) = item else {
        panic!("expected an event, got {item:?}")
    };
    e.roster_change().expect("a roster event")
}

#[tokio::test]
async fn the_roster_follows_joins_leaves_names_cameras_speaker_and_sharing() {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &policy()).unwrap();
    let (handle, mut items) =
        client::connect_session(config(), url, client::Options::default()).unwrap();
    let mut sig = sig_ep.accept().await;
    let _media = handshake(&mut sig, &media_ep).await;
    assert!(matches!(next(&mut items).await, Item::Connected { .. }));
    assert_eq!(handle.roster(), Roster::default());

    // Followed in the items' order by the user's own roster, and by the stream's.
    let mut mine = Roster::default();
    sig.send(event(json!({"event_type":1,"timestamp":1000})))
        .await;
    sig.send(event(
        json!({"event_type":3,"timestamp":1001,"participants":[
        {"user_id":1,"user_name":"Ann"},{"user_id":"2","user_name":"Bo"},{"user_id":3}]}),
    ))
    .await;
    sig.send(event(
        json!({"event_type":2,"timestamp":1002,"user_id":2,"user_name":"Bo"}),
    ))
    .await;
    for expected in [
        RosterChange::FirstPacket { timestamp: 1000 },
        RosterChange::Joined(vec![
            Member::new(1, Some("Ann")),
            Member::new(2, Some("Bo")),
            Member::new(3, None),
        ]),
        RosterChange::ActiveSpeaker(Member::new(2, Some("Bo"))),
    ] {
        let c = change(&mut items).await;
        assert_eq!(c, expected);
        mine.apply(&c);
    }
    let snapshot = handle.roster();
    assert_eq!(snapshot, mine);
    assert_eq!(snapshot.first_packet_timestamp(), Some(1000));
    assert_eq!(snapshot.len(), 3);
    assert_eq!(snapshot.active_speaker().map(|m| m.user_id), Some(2));
    assert_eq!(snapshot.name_of(1), Some("Ann"));
    assert_eq!(snapshot.name_of(3), None);

    // A name sent later, a camera, sharing, and leaves.
    sig.send(event(
        json!({"event_type":5,"timestamp":1003,"user_id":3,"user_name":"Cy"}),
    ))
    .await;
    sig.send(event(
        json!({"event_type":8,"timestamp":1004,"participants":[{"user_id":1}]}),
    ))
    .await;
    sig.send(event(
        json!({"event_type":4,"timestamp":1005,"participants":[{"user_id":2}]}),
    ))
    .await;
    sig.send(event(
        json!({"event_type":9,"timestamp":1006,"participants":[{"user_id":1}]}),
    ))
    .await;
    sig.send(event(
        json!({"event_type":8,"timestamp":1007,"participants":[{"user_id":3}]}),
    ))
    .await;
    for _ in 0..5 {
        mine.apply(&change(&mut items).await);
    }
    let snapshot = handle.roster();
    assert_eq!(snapshot, mine);
    assert_eq!(snapshot.len(), 2);
    assert!(snapshot.get(2).is_none(), "Bo left");
    assert_eq!(snapshot.active_speaker(), None, "the speaker left");
    assert_eq!(snapshot.name_of(3), Some("Cy"));
    assert_eq!(snapshot.sharing().map(|m| m.user_id), Some(3));
    assert!(!snapshot.get(1).unwrap().video, "Ann's camera is off again");
    assert!(snapshot.get(3).unwrap().video);

    sig.send(event(json!({"event_type":6,"timestamp":1008})))
        .await;
    assert_eq!(
        snapshot.sharing().map(|m| m.video),
        Some(true),
        "as now known"
    );
    let c = change(&mut items).await;
    assert_eq!(c, RosterChange::SharingStopped);
    mine.apply(&c);
    assert_eq!(handle.roster().sharing(), None);
    // Events outside the roster, or without their user, change nothing.
    sig.send(event(json!({"event_type":2,"timestamp":1009})))
        .await;
    sig.send(event(json!({"event_type":10,"timestamp":1010})))
        .await;
    for _ in 0..2 {
        let Item::Event(e) = next(&mut items).await else {
            panic!("expected an event")
        };
        assert_eq!(e.roster_change(), None);
    }
    assert_eq!(handle.roster(), mine);
    assert_eq!(
        serde_json::to_value(handle.roster().get(3)).unwrap(),
        json!({"user_id":3,"user_name":"Cy","video":true})
    );
}
