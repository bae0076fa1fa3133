//! The client's memory against a hostile or broken RTMS server (issue 15: bounded in bytes
//! against any server). Each test drives a misbehaving WebSocket server on loopback (127.0.0.1
//! only) and asserts the bound SECURITY.md states ("Memory per stream"). Memory is counted
//! by a global allocator per thread: a `#[tokio::test]` runtime runs the client's driver, its
//! socket tasks and the fake server on the test's own thread, so the count is the stream's.
#![cfg(feature = "client")]

#[path = "support/fake_rtms.rs"]
mod fake;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tokio::io::AsyncWriteExt;

use fake::{config, hold_time, next, policy, Endpoint};
use tokio_websockets::{Config, ServerBuilder};
use zoom_rtms_webhooks::client::{self, Item, Options, Source};
use zoom_rtms_webhooks::codes::MsgType;
use zoom_rtms_webhooks::protocol::session::Scope;
use zoom_rtms_webhooks::region::ServerUrl;

/// Counts the bytes live and the peak, per thread.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed to `System` unchanged; the counting touches only const
// thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes live on this thread now.
fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Starts a new peak from what is live now.
fn reset_peak() {
    let now = live();
    PEAK.with(|p| p.set(now));
}

/// The highest count of live bytes on this thread since `reset_peak`.
fn peak() -> isize {
    PEAK.with(Cell::get)
}

const MIB: isize = 1024 * 1024;

fn url(ep: &Endpoint) -> ServerUrl {
    ServerUrl::parse(&ep.url(), &policy()).unwrap()
}

/// A connected stream: the signalling and media peers and the items. The media server sends
/// messages in frames of 64 KiB, so that the WebSocket's read buffer (which keeps the
/// capacity of the largest frame read, up to the message limit) stays out of the counts.
async fn connected() -> (
    client::StreamHandle,
    client::Items,
    fake::Peer,
    fake::Peer,
    Endpoint,
) {
    connected_with(Options::default()).await
}

/// [`connected`] with `options`.
async fn connected_with(
    options: Options,
) -> (
    client::StreamHandle,
    client::Items,
    fake::Peer,
    fake::Peer,
    Endpoint,
) {
    let sig_ep = Endpoint::bind().await;
    let media_ep = Endpoint::bind().await;
    let (handle, mut items) = client::connect_with(config(), url(&sig_ep), options).unwrap();
    let mut sig = sig_ep.accept().await;
    sig.expect(1).await;
    sig.send(fake::signalling_ok(&media_ep.url())).await;
    let (tcp, _) = media_ep.listener.accept().await.unwrap();
    let (_, ws) = ServerBuilder::new()
        .config(Config::default().frame_size(64 * 1024))
        .accept(tcp)
        .await
        .unwrap();
    let mut media = fake::Peer { ws };
    media.expect(3).await;
    media.send(fake::data_ok()).await;
    sig.expect(7).await;
    assert!(matches!(next(&mut items).await, Item::Connected { .. }));
    (handle, items, sig, media, media_ep)
}

#[tokio::test(start_paused = true)]
async fn a_ping_flood_whose_pongs_are_never_read_closes_the_socket() {
    let hold = hold_time();
    let (_handle, mut items, _sig, mut media, _media_ep) = connected().await;
    drop(hold);

    // Pings of 125 bytes (the largest control frame), written raw (server frames are
    // unmasked) as fast as the client takes them; the server never reads the pongs.
    const LIMIT: usize = 256 * 1024 * 1024;
    let mut frame = vec![0x89, 125];
    frame.extend_from_slice(&[b'p'; 125]);
    let chunk: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 512)
        .collect();
    let before = live();
    reset_peak();
    let flood = tokio::spawn(async move {
        let tcp = media.ws.get_mut();
        let mut written = 0;
        while written < LIMIT {
            if tcp.write_all(&chunk).await.is_err() {
                return (written, true);
            }
            written += chunk.len();
        }
        (written, false)
    });

    // The client answers until the kernel's buffers are full, then stops reading; the pong it
    // cannot write for 10 s closes the media socket, and the session redials media only.
    assert_eq!(
        next(&mut items).await,
        Item::Reconnecting {
            scope: Scope::Media,
            attempt: 0
        }
    );
    let (written, refused) = flood.await.unwrap();
    assert!(refused, "the client read all {written} bytes of pings");
    assert!(written < LIMIT);
    // Pongs are not queued in memory: what the client held at any time is far below what
    // the server sent (tens of MiB stayed in the kernel's buffers, not in the process).
    let held = peak() - before;
    assert!(
        held < 4 * MIB,
        "{held} bytes held for {written} bytes of pings"
    );
}

/// An audio frame of `pcm` from a participant called `name`.
fn audio_from(name: &str, pcm: &[u8]) -> serde_json::Value {
    use base64::Engine as _;
    serde_json::json!({"msg_type":14,"content":{"user_id":16778240,"user_name":name,
        "data":base64::engine::general_purpose::STANDARD.encode(pcm),"timestamp":1000}})
}

#[tokio::test]
async fn names_are_cut_to_256_bytes_and_the_cache_stays_small() {
    let (_handle, mut items, _sig, mut media, _media_ep) = connected().await;
    let before = live();
    // 16 participants whose names are 1 MiB each: two digits then two-byte characters, so
    // that byte 257 falls inside a character.
    for i in 0..16 {
        let name = format!("{i:02}{}", "é".repeat(512 * 1024));
        media.send(audio_from(&name, &[1, 2, 3])).await;
        let Item::Audio(frame) = next(&mut items).await else {
            panic!("expected audio")
        };
        let Source::User {
            name: Some(got), ..
        } = &frame.source
        else {
            panic!("no name")
        };
        // 2 + 2 x 127 = 256 bytes: the longest prefix on a character boundary.
        assert_eq!(got.len(), 256);
        assert!(name.starts_with(&**got));
    }
    // The items are gone; what the stream still holds (the name cache, buffers) is far below
    // the 16 MiB of names it was sent.
    let held = live() - before;
    assert!(held < 4 * MIB, "{held} bytes held after 16 names of 1 MiB");
}

#[tokio::test]
async fn invalid_base64_leaves_no_buffer_behind_for_a_later_small_frame() {
    let (_handle, mut items, _sig, mut media, _media_ep) = connected().await;
    media.send(audio_from("Ann", &[0])).await;
    assert!(matches!(next(&mut items).await, Item::Audio(_)));
    let before = live();
    // 6 MiB of text that is not base64: nothing to hand over.
    let junk = serde_json::json!({"msg_type":14,"content":{"user_id":1,"user_name":"Ann",
        "data":"!".repeat(6 << 20),"timestamp":1000}});
    media.send(junk).await;
    // Then a 3-byte frame, kept by the user.
    media.send(audio_from("Ann", &[1, 2, 3])).await;
    let Item::Audio(kept) = next(&mut items).await else {
        panic!("expected audio")
    };
    assert_eq!(&kept.data[..], &[1, 2, 3]);
    let held = live() - before;
    assert!(held < MIB, "{held} bytes held with a 3-byte frame");
}

#[tokio::test]
async fn an_unknown_message_is_kept_only_up_to_64_kib() {
    let (_handle, mut items, _sig, mut media, _media_ep) = connected().await;
    let small = serde_json::json!({"msg_type":99,"pad":"x".repeat(60 * 1024)});
    let small_len = small.to_string().len();
    media.send(small).await;
    let Item::Other { msg_type, raw } = next(&mut items).await else {
        panic!("expected Other")
    };
    assert_eq!(msg_type, MsgType::from(99));
    assert_eq!(raw.len(), small_len, "kept whole");

    // A copy, not a slice of the socket's read buffer (which it would keep alive whole): the
    // frame is written raw with the start of the next one behind it, so that the read buffer
    // still holds that start when the item is handed over.
    let text = |v: serde_json::Value| {
        let t = v.to_string().into_bytes();
        let mut f = vec![0x81, 126];
        f.extend_from_slice(&u16::try_from(t.len()).unwrap().to_be_bytes());
        f.extend_from_slice(&t);
        f
    };
    let a = text(serde_json::json!({"msg_type":99,"pad":"a".repeat(1000)}));
    let b = text(audio_from(&"b".repeat(200), &[4]));
    let tcp = media.ws.get_mut();
    tcp.write_all(&[&a[..], &b[..10]].concat()).await.unwrap();
    let Item::Other { raw, .. } = next(&mut items).await else {
        panic!("expected Other")
    };
    assert!(raw.is_unique(), "shares its allocation");
    tcp.write_all(&b[10..]).await.unwrap();
    assert!(matches!(next(&mut items).await, Item::Audio(_)));

    // Over 64 KiB: reported, its bytes not kept. Sixteen of them, queued and not yet read,
    // hold next to nothing (16 MiB before).
    let before = live();
    for _ in 0..16 {
        media
            .send(serde_json::json!({"msg_type":99,"pad":"x".repeat(1 << 20)}))
            .await;
    }
    // A marker after them: once it is queued, all sixteen are.
    media.send(audio_from("Ann", &[9])).await;
    let queued = async {
        while items.len() < 17 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(fake::BOUND, queued)
        .await
        .expect("never queued");
    let held = live() - before;
    assert!(held < MIB, "{held} bytes held by 16 queued messages");
    for _ in 0..16 {
        let Item::Other { msg_type, raw } = next(&mut items).await else {
            panic!("expected Other")
        };
        assert_eq!((msg_type, raw.len()), (MsgType::from(99), 0));
    }
    assert!(matches!(next(&mut items).await, Item::Audio(_)));
}

/// Sends `text` as it is (not re-serialised).
async fn send_text(peer: &mut fake::Peer, text: String) {
    use futures_sink::Sink;
    use std::future::poll_fn;
    use std::pin::Pin;
    let ws = &mut peer.ws;
    poll_fn(|cx| Pin::new(&mut *ws).poll_ready(cx))
        .await
        .unwrap();
    Pin::new(&mut *ws)
        .start_send(tokio_websockets::Message::text(text))
        .unwrap();
    poll_fn(|cx| Pin::new(&mut *ws).poll_flush(cx))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_media_data_array_is_read_as_absent_without_building_it() {
    let (_handle, mut items, _sig, mut media, _media_ep) = connected().await;
    // 2 MiB of `0,` : a million numbers, which a `serde_json::Value` holds in 32 MiB.
    let array = format!("[{}0]", "0,".repeat(1 << 20));
    let frames = [
        format!(r#"{{"msg_type":15,"content":{{"user_id":1,"data":{array},"timestamp":1}}}}"#),
        // `msg_type` not first: the general envelope.
        format!(r#"{{"content":{{"user_id":1,"data":{array}}},"msg_type":16}}"#),
        format!(r#"{{"msg_type":14,"data":{array}}}"#),
    ];
    for frame in frames {
        let before = live();
        reset_peak();
        send_text(&mut media, frame).await;
        // Nothing to hand over: the next item is the audio frame sent after it.
        media.send(audio_from("Ann", &[5])).await;
        let Item::Audio(f) = next(&mut items).await else {
            panic!("expected the audio frame sent after it")
        };
        assert_eq!(&f.data[..], &[5]);
        // The frame's own 2 MiB (the sender's copy, the reassembled message) at most.
        let peak = peak() - before;
        assert!(peak < 8 * MIB, "{peak} bytes at the peak for a 2 MiB frame");
    }
}

#[tokio::test(start_paused = true)]
async fn a_message_over_8_mib_closes_the_socket_unless_the_limit_is_raised() {
    // 6.1 MiB of audio is 8 MiB and a little in base64, in a JSON envelope.
    let pcm = vec![3u8; 6 * 1024 * 1024 + 64 * 1024];
    let frame = audio_from("Ann", &pcm).to_string();
    assert!(frame.len() > 8 << 20 && frame.len() < 9 << 20);

    let hold = hold_time();
    let (_handle, mut items, _sig, mut media, _media_ep) = connected().await;
    send_text(&mut media, frame.clone()).await;
    assert_eq!(
        next(&mut items).await,
        Item::Reconnecting {
            scope: Scope::Media,
            attempt: 0
        }
    );
    drop(hold);

    // Raised to 9 MiB: the same message is read and handed over.
    let hold = hold_time();
    let options = Options::default().with_max_message_len(9 << 20);
    let (_handle, mut items, _sig, mut media, _media_ep) = connected_with(options).await;
    send_text(&mut media, frame).await;
    let Item::Audio(got) = next(&mut items).await else {
        panic!("expected audio")
    };
    assert_eq!(got.data.len(), pcm.len());
    drop(hold);
}

#[tokio::test]
async fn a_stalled_consumer_holds_at_most_the_queue_byte_budget() {
    let budget = 4 * MIB as usize;
    let options = Options::default().with_queue_bytes(budget);
    let (handle, mut items, _sig, mut media, _media_ep) = connected_with(options).await;
    let before = live();
    // Nobody reads: 16 video frames of 1 MiB, then a small audio frame.
    let pcm = vec![7u8; 1 << 20];
    for i in 0..16u8 {
        let mut frame = audio_from("Ann", &pcm);
        frame["msg_type"] = 15.into();
        frame["content"]["timestamp"] = i.into();
        media.send(frame).await;
    }
    media.send(audio_from("Ann", &[1])).await;
    let queued = async {
        while !(handle.dropped() == 13 && items.len() == 4) {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(fake::BOUND, queued)
        .await
        .expect("the queue is not bounded in bytes");
    let held = live() - before;
    assert!(held < 5 * MIB, "{held} bytes held for a budget of 4 MiB");
    // The oldest went first; the newest that fit are handed over, after the gap.
    assert_eq!(next(&mut items).await, Item::Lagged { dropped: 13 });
    for i in 13..16 {
        let Item::Video(f) = next(&mut items).await else {
            panic!("expected video")
        };
        assert_eq!(f.timestamp, Some(i));
    }
    assert!(matches!(next(&mut items).await, Item::Audio(_)));
}
