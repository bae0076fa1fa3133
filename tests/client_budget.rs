//! The client's memory against a hostile or broken RTMS server (issue 15: bounded in bytes
//! against any server), measured from a separate process. Each test is two processes:
//!
//! - the parent (the test as `cargo test` runs it) is the misbehaving WebSocket server on
//!   loopback (127.0.0.1 only): it answers the handshakes, then attacks;
//! - the child is this same test binary, run again with the test's own name as the filter and
//!   [`CHILD_URL`] set to the signalling URL: it runs only the client's side of that test (one
//!   stream, [`client::connect_session`], consuming [`Item`]s and checking them) on a
//!   current-thread runtime.
//!
//! The parent reads the child's `/proc/<pid>/status` while the attack runs: `VmRSS` once the
//! stream is connected is the baseline, `VmHWM` (the peak resident set; the parent resets it
//! through `/proc/<pid>/clear_refs` when a test measures a new phase) is what the attack cost
//! at its worst, and `VmRSS` at a point the child stops at is what the stream still holds. Each
//! bound is the line of SECURITY.md's "Memory per stream" table that the attack exercises,
//! plus headroom stated at the assertion, and far below what the attack would cost if that
//! bound did not hold (each was checked by breaking that bound in the client: the test then
//! fails on its memory assertion). The two processes take turns through the child's stderr
//! (`CHILD <step>` lines; anything else it writes, a panic say, goes to the test's output)
//! and stdin (a line: go on), never through sleeps.
//!
//! The child runs with glibc's `MALLOC_MMAP_THRESHOLD_` fixed at 64 KiB and
//! `MALLOC_TRIM_THRESHOLD_` at 128 KiB (see [`spawn_child`]): every block of 64 KiB or more is
//! its own mapping, returned to the kernel when freed, so that the resident set follows what
//! the stream holds instead of what the allocator keeps cached for later. Linux only (`/proc`).
#![cfg(all(feature = "client", target_os = "linux"))]

#[path = "support/fake_rtms.rs"]
mod fake;

use std::future::Future;
use std::io::BufRead;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};

use fake::{hold_time, next, policy, Endpoint};
use tokio_websockets::{Config, ServerBuilder};
use zoom_rtms_webhooks::client::{self, Item, Options, Source};
use zoom_rtms_webhooks::codes::MsgType;
use zoom_rtms_webhooks::protocol::session::{Scope, Timing};
use zoom_rtms_webhooks::region::ServerUrl;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// Set in the child: the signalling URL it dials.
const CHILD_URL: &str = "CLIENT_BUDGET_CHILD_URL";
/// Set in the child of a test with paused time.
const CHILD_PAUSED: &str = "CLIENT_BUDGET_CHILD_PAUSED";

/// How long the parent waits for any one step of the child (a broken client fails the test
/// instead of hanging it).
const STEP: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

/// One test: in the child, `child` (the client); otherwise the server, with `parent` once the
/// stream is connected. `paused`: the child's clock is tokio's paused one (its 10 s write and
/// close timeouts are instant; the parent's clock is real).
fn run<C, CF, P, PF>(name: &str, paused: bool, child: C, parent: P)
where
    C: FnOnce(ChildSide) -> CF,
    CF: Future<Output = ()>,
    P: FnOnce(Parent) -> PF,
    PF: Future<Output = ()>,
{
    if let Ok(url) = std::env::var(CHILD_URL) {
        let paused = std::env::var_os(CHILD_PAUSED).is_some();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(paused)
            .build()
            .unwrap();
        let url = ServerUrl::parse(&url, &policy()).unwrap();
        rt.block_on(child(ChildSide { url, paused }));
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sig_ep = Endpoint::bind().await;
        let media_ep = Endpoint::bind().await;
        let mut proc = spawn_child(name, &sig_ep.url(), paused);
        let pid = proc.id().expect("the child is running");
        // The child's stderr: its steps, to the parent's side; anything else (a panic, say)
        // into this test's own output.
        let (steps_tx, steps) = tokio::sync::mpsc::unbounded_channel();
        let mut stderr = BufReader::new(proc.stderr.take().unwrap()).lines();
        let reader = tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                match line.strip_prefix("CHILD ") {
                    Some(step) => {
                        let _ = steps_tx.send(step.to_owned());
                    }
                    None => eprintln!("child: {line}"),
                }
            }
        });
        let mut child = ChildProc {
            pid,
            stdin: Some(proc.stdin.take().unwrap()),
            steps,
            baseline: 0,
        };
        // The handshakes, as Zoom answers them. The media server writes messages in frames of
        // 64 KiB, so that the WebSocket's read buffer (which keeps the capacity of the largest
        // frame read) stays small next to the bounds.
        let mut sig = tokio::time::timeout(STEP, sig_ep.accept())
            .await
            .expect("the child never dialled");
        sig.expect(1).await;
        sig.send(fake::signalling_ok(&media_ep.url())).await;
        let (tcp, _) = tokio::time::timeout(STEP, media_ep.listener.accept())
            .await
            .expect("the child never dialled media")
            .unwrap();
        let (_, ws) = ServerBuilder::new()
            .config(Config::default().frame_size(64 * 1024))
            .accept(tcp)
            .await
            .unwrap();
        let mut media = fake::Peer { ws };
        media.expect(3).await;
        media.send(fake::data_ok()).await;
        sig.expect(7).await;
        child.until("connected").await;
        child.baseline = child.rss();
        child.reset_peak();

        // Once the parent's side is done, the child's stdin closes with it (the signalling
        // socket and the media endpoint live until the child has exited).
        parent(Parent { child, media }).await;

        // The child's own checks: it exits with success once its steps are done.
        let status = tokio::time::timeout(STEP, proc.wait())
            .await
            .expect("the child did not exit")
            .unwrap();
        reader.await.unwrap();
        assert!(
            status.success(),
            "the child (the client's side) failed: {status}"
        );
        drop((sig, media_ep));
    });
}

/// This test binary again, running only the test `name`, as the client's side.
fn spawn_child(name: &str, url: &str, paused: bool) -> tokio::process::Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD_URL, url)
        // glibc: blocks of 64 KiB or more are mappings of their own, unmapped when freed, and
        // the heap is trimmed above 128 KiB free: the resident set follows what is live.
        .env("MALLOC_MMAP_THRESHOLD_", "65536")
        .env("MALLOC_TRIM_THRESHOLD_", "131072")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if paused {
        cmd.env(CHILD_PAUSED, "1");
    } else {
        cmd.env_remove(CHILD_PAUSED);
    }
    cmd.spawn().unwrap()
}

/// The client's side of a test, in the child.
struct ChildSide {
    url: ServerUrl,
    paused: bool,
}

impl ChildSide {
    /// Connects one stream (`timing` for its session) and tells the parent.
    async fn connect(
        &self,
        options: Options,
        timing: Timing,
    ) -> (client::StreamHandle, client::Items) {
        // With paused time, no timer fires while the handshakes cross the sockets.
        let hold = self.paused.then(hold_time);
        let config = fake::config().with_timing(timing);
        let (handle, mut items) =
            client::connect_session(config, self.url.clone(), options).unwrap();
        assert!(matches!(next(&mut items).await, Item::Connected { .. }));
        drop(hold);
        self.say("connected");
        (handle, items)
    }

    /// A step reached: the parent waits for these (on stderr, a line of its own).
    fn say(&self, step: &str) {
        eprintln!("CHILD {step}");
    }

    /// Stops (the whole runtime: nothing of the stream moves) until the parent says go on.
    fn wait(&self) {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).unwrap();
    }
}

/// The session's timing in the child: the defaults, except with paused time, where the
/// watchdog never fires (tokio moves a paused clock to the next timer whenever the runtime
/// idles, so a 65 s watchdog would fire while the child waits for the parent's next frame).
fn timing(paused: bool) -> Timing {
    if paused {
        Timing::default().with_watchdog(Duration::MAX)
    } else {
        Timing::default()
    }
}

/// The child, seen from the parent.
struct ChildProc {
    pid: u32,
    stdin: Option<ChildStdin>,
    /// The steps the child said.
    steps: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// `VmRSS` once connected, KiB.
    baseline: u64,
}

impl ChildProc {
    /// Waits until the child says `step` (it fails the test if the child ends first).
    async fn until(&mut self, step: &str) {
        let said = tokio::time::timeout(STEP, self.steps.recv())
            .await
            .unwrap_or_else(|_| panic!("the child never said {step:?}"));
        let said = said.unwrap_or_else(|| panic!("the child ended before it said {step:?}"));
        assert_eq!(said, step, "the child's steps");
    }

    /// Lets the child go on past a [`ChildSide::wait`].
    async fn go(&mut self) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// A field of the child's `/proc/<pid>/status`, KiB.
    fn status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in the child's status"))
    }

    /// The child's resident set now, KiB.
    fn rss(&self) -> u64 {
        self.status("VmRSS")
    }

    /// Starts a new peak (`VmHWM`) from the resident set now.
    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").unwrap();
    }

    /// The child's peak resident set since the last reset, over the baseline, bytes.
    fn peak(&self) -> u64 {
        self.status("VmHWM").saturating_sub(self.baseline) * KIB
    }

    /// The child's resident set over the baseline, bytes.
    fn held(&self) -> u64 {
        self.rss().saturating_sub(self.baseline) * KIB
    }
}

/// The server's side of a test, once the stream is connected.
struct Parent {
    child: ChildProc,
    media: fake::Peer,
}

/// Declares a test run by [`run`] under its own name.
macro_rules! budget_test {
    ($(#[doc = $doc:literal])* $name:ident, paused: $paused:expr, $child:expr, $parent:expr) => {
        $(#[doc = $doc])*
        #[test]
        fn $name() {
            run(stringify!($name), $paused, $child, $parent);
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

/// An audio frame of `pcm` from a participant called `name`.
fn audio_from(name: &str, pcm: &[u8]) -> serde_json::Value {
    use base64::Engine as _;
    serde_json::json!({"msg_type":14,"content":{"user_id":16778240,"user_name":name,
        "data":base64::engine::general_purpose::STANDARD.encode(pcm),"timestamp":1000}})
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

/// Waits until `done` (the client's queue has no notification of its length: it is polled,
/// every millisecond, so that a waiting child does not spin a CPU the parent needs).
async fn queued(mut done: impl FnMut() -> bool) {
    let wait = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(STEP, wait)
        .await
        .expect("never queued");
}

/// The `i`-th name of the names test: 1 MiB, two digits then two-byte characters, so that
/// byte 257 falls inside a character.
fn long_name(i: usize) -> String {
    format!("{i:02}{}", "é".repeat(512 * 1024))
}

// ---------------------------------------------------------------------------------------------
// The attacks
// ---------------------------------------------------------------------------------------------

budget_test!(
    /// Pings of 125 bytes (the largest control frame), written raw as fast as the client takes
    /// them; the server never reads the pongs. The client answers until the kernel's buffers
    /// are full, then stops reading; the pong it cannot write for 10 s closes the media socket,
    /// and the session redials media only.
    a_ping_flood_whose_pongs_are_never_read_closes_the_socket,
    paused: true,
    |child| async move {
        let (_handle, mut items) = child.connect(Options::default(), timing(true)).await;
        // The flood is on its way before the client reads again (and its clock may move).
        child.wait();
        // No timeout of the test's own: tokio would move the paused clock to it whenever the
        // child waits for the next pings (the parent's side has its own, in real time).
        assert_eq!(
            items.next().await.expect("the stream ended"),
            Item::Reconnecting {
                scope: Scope::Media,
                attempt: 0
            }
        );
        child.say("reconnecting");
        child.wait();
    },
    |mut p| async move {
        const LIMIT: usize = 256 * 1024 * 1024;
        let mut frame = vec![0x89, 125];
        frame.extend_from_slice(&[b'p'; 125]);
        let chunk: Vec<u8> = frame.iter().copied().cycle().take(frame.len() * 512).collect();
        let mut media = p.media;
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
        p.child.go().await;
        // The flood ends when the client closes the socket (or, were the pongs queued, once
        // all of it was read): what the child held is measured then.
        let (written, refused) = tokio::time::timeout(STEP, flood).await.unwrap().unwrap();
        // What the client held at any time, against what it read: "Control frames waiting to
        // be written: one pong per socket" (SECURITY.md), so nothing that grows with the
        // flood. 4 MiB of headroom: the socket's read buffer of 64 KiB, the allocator's and the
        // runtime's own pages. Were the pongs queued, the client would read the whole flood
        // and hold more than the 256 MiB of pings.
        let peak = p.child.peak();
        eprintln!("peak {peak} bytes, {written} bytes of pings written");
        assert!(peak < 4 * MIB, "{peak} bytes at the peak for {written} bytes of pings");
        assert!(refused, "the client read all {written} bytes of pings");
        p.child.until("reconnecting").await;
        p.child.go().await;
    }
);

budget_test!(
    /// 16 participants whose names are 1 MiB each: each is cut to 256 bytes, and the names
    /// cache stays small.
    names_are_cut_to_256_bytes_and_the_cache_stays_small,
    paused: false,
    |child| async move {
        let (_handle, mut items) = child.connect(Options::default(), timing(false)).await;
        for i in 0..16 {
            let Item::Audio(frame) = next(&mut items).await else {
                panic!("expected audio")
            };
            let Source::User { name: Some(got), .. } = &frame.source else {
                panic!("no name")
            };
            // 2 + 2 x 127 = 256 bytes: the longest prefix on a character boundary.
            assert_eq!(got.len(), 256);
            assert!(long_name(i).starts_with(&**got));
        }
        // The items are gone; what the stream holds is measured now.
        child.say("done");
        child.wait();
    },
    |mut p| async move {
        for i in 0..16 {
            p.media.send(audio_from(&long_name(i), &[1, 2, 3])).await;
        }
        p.child.until("done").await;
        // "Names cache: 256 KiB of text, 4,096 entries, about 0.5 MiB with its table", here
        // 16 names of 256 bytes. Held: that, plus 3.5 MiB of headroom (heap pages the
        // allocator keeps, under 64 KiB blocks); 16 MiB if the names were kept whole.
        let held = p.child.held();
        eprintln!("held {held} bytes");
        assert!(held < 4 * MIB, "{held} bytes held after 16 names of 1 MiB");
        // At the peak: one frame being read and decoded at a time (its 1 MiB message, the
        // name in it), 8 MiB in all with headroom; 16 MiB and more if the names were kept.
        let peak = p.child.peak();
        eprintln!("peak {peak} bytes");
        assert!(peak < 8 * MIB, "{peak} bytes at the peak for 16 names of 1 MiB");
        p.child.go().await;
    }
);

budget_test!(
    /// 6 MiB of text that is not base64 (nothing to hand over), then a 3-byte frame, kept by
    /// the user: the failed decode left no buffer behind for it.
    invalid_base64_leaves_no_buffer_behind_for_a_later_small_frame,
    paused: false,
    |child| async move {
        let (_handle, mut items) = child.connect(Options::default(), timing(false)).await;
        let first = next(&mut items).await;
        assert!(matches!(first, Item::Audio(_)), "{first:?}");
        child.say("first");
        let Item::Audio(kept) = next(&mut items).await else {
            panic!("expected audio")
        };
        assert_eq!(&kept.data[..], &[1, 2, 3]);
        child.say("kept");
        // `kept` lives while the parent measures.
        child.wait();
        drop(kept);
    },
    |mut p| async move {
        p.media.send(audio_from("Ann", &[0])).await;
        p.child.until("first").await;
        let before = p.child.rss();
        let junk = serde_json::json!({"msg_type":14,"content":{"user_id":1,"user_name":"Ann",
            "data":"!".repeat(6 << 20),"timestamp":1000}});
        p.media.send(junk).await;
        p.media.send(audio_from("Ann", &[1, 2, 3])).await;
        p.child.until("kept").await;
        // "The decode buffer kept between frames: 16 KiB; a failed decode keeps nothing".
        // 1 MiB with headroom; the 4.5 MiB of a buffer sized for the junk if it were kept.
        let held = p.child.rss().saturating_sub(before) * KIB;
        eprintln!("held {held} bytes");
        assert!(held < MIB, "{held} bytes held with a 3-byte frame");
        p.child.go().await;
    }
);

budget_test!(
    /// An unknown message is kept whole up to 64 KiB, as a copy (not a slice of the socket's
    /// read buffer); past that, reported with an empty `raw`.
    an_unknown_message_is_kept_only_up_to_64_kib,
    paused: false,
    |child| async move {
        let (_handle, mut items) = child.connect(Options::default(), timing(false)).await;
        let Item::Other { msg_type, raw } = next(&mut items).await else {
            panic!("expected Other")
        };
        assert_eq!(msg_type, MsgType::from(99));
        assert_eq!(raw.len(), small_unknown().to_string().len(), "kept whole");
        let Item::Other { raw, .. } = next(&mut items).await else {
            panic!("expected Other")
        };
        assert!(raw.is_unique(), "shares its allocation");
        child.say("copied");
        assert!(matches!(next(&mut items).await, Item::Audio(_)));
        child.say("small");
        // Sixteen of 1 MiB and a marker after them, queued and not yet read.
        queued(|| items.len() >= 17).await;
        child.say("queued");
        child.wait();
        for _ in 0..16 {
            let Item::Other { msg_type, raw } = next(&mut items).await else {
                panic!("expected Other")
            };
            assert_eq!((msg_type, raw.len()), (MsgType::from(99), 0));
        }
        assert!(matches!(next(&mut items).await, Item::Audio(_)));
    },
    |mut p| async move {
        p.media.send(small_unknown()).await;
        // A frame written raw with the start of the next one behind it, so that the read
        // buffer still holds that start when the item is handed over.
        let text = |v: serde_json::Value| {
            let t = v.to_string().into_bytes();
            let mut f = vec![0x81, 126];
            f.extend_from_slice(&u16::try_from(t.len()).unwrap().to_be_bytes());
            f.extend_from_slice(&t);
            f
        };
        let a = text(serde_json::json!({"msg_type":99,"pad":"a".repeat(1000)}));
        let b = text(audio_from(&"b".repeat(200), &[4]));
        let tcp = p.media.ws.get_mut();
        tcp.write_all(&[&a[..], &b[..10]].concat()).await.unwrap();
        p.child.until("copied").await;
        tcp.write_all(&b[10..]).await.unwrap();
        p.child.until("small").await;

        let before = p.child.rss();
        p.child.reset_peak();
        for _ in 0..16 {
            p.media
                .send(serde_json::json!({"msg_type":99,"pad":"x".repeat(1 << 20)}))
                .await;
        }
        p.media.send(audio_from("Ann", &[9])).await;
        p.child.until("queued").await;
        // "An Item::Other keeps a copy of its frame only up to 64 KiB": sixteen queued hold
        // next to nothing (16 MiB if kept whole). 1 MiB of headroom: the queue's own entries,
        // heap pages the allocator keeps.
        let held = p.child.rss().saturating_sub(before) * KIB;
        eprintln!("held {held} bytes");
        assert!(held < MIB, "{held} bytes held by 16 queued messages");
        // At the peak, one 1 MiB message read at a time (its message buffer, growing by
        // doubling: 2 MiB), 4 MiB with headroom.
        let peak = p.child.peak();
        eprintln!("peak {peak} bytes");
        assert!(peak < 4 * MIB, "{peak} bytes at the peak for 16 messages of 1 MiB");
        p.child.go().await;
    }
);

/// An unknown message of 60 KiB, under the 64 KiB it is kept whole up to.
fn small_unknown() -> serde_json::Value {
    serde_json::json!({"msg_type":99,"pad":"x".repeat(60 * 1024)})
}

budget_test!(
    /// 2 MiB of `0,` in a media `data`: a million numbers, which a `serde_json::Value` holds in
    /// 32 MiB, read as absent without being built.
    a_media_data_array_is_read_as_absent_without_building_it,
    paused: false,
    |child| async move {
        let (_handle, mut items) = child.connect(Options::default(), timing(false)).await;
        for _ in 0..3 {
            // Nothing to hand over: the next item is the audio frame sent after it.
            let Item::Audio(f) = next(&mut items).await else {
                panic!("expected the audio frame sent after it")
            };
            assert_eq!(&f.data[..], &[5]);
            child.say("audio");
            child.wait();
        }
    },
    |mut p| async move {
        let array = format!("[{}0]", "0,".repeat(1 << 20));
        let frames = [
            format!(r#"{{"msg_type":15,"content":{{"user_id":1,"data":{array},"timestamp":1}}}}"#),
            // `msg_type` not first: the general envelope.
            format!(r#"{{"content":{{"user_id":1,"data":{array}}},"msg_type":16}}"#),
            format!(r#"{{"msg_type":14,"data":{array}}}"#),
        ];
        for frame in frames {
            p.child.reset_peak();
            send_text(&mut p.media, frame).await;
            p.media.send(audio_from("Ann", &[5])).await;
            p.child.until("audio").await;
            // "A media data that is not a string is skipped without being built": the frame's
            // own 2 MiB (its message buffer, growing by doubling: 4 MiB at most), 8 MiB with
            // headroom; 32 MiB and more if the array were built.
            let peak = p.child.peak();
            eprintln!("peak {peak} bytes");
            assert!(peak < 8 * MIB, "{peak} bytes at the peak for a 2 MiB frame");
            p.child.go().await;
        }
    }
);

/// 6.1 MiB of audio: 8 MiB and a little in base64, in a JSON envelope.
fn over_8_mib() -> (Vec<u8>, String) {
    let pcm = vec![3u8; 6 * 1024 * 1024 + 64 * 1024];
    let frame = audio_from("Ann", &pcm).to_string();
    assert!(frame.len() > 8 << 20 && frame.len() < 9 << 20);
    (pcm, frame)
}

budget_test!(
    /// A message over the 8 MiB limit closes the socket (the session redials media), and no
    /// more of it than the limit is held on the way.
    a_message_over_8_mib_closes_the_socket,
    paused: false,
    |child| async move {
        let (_handle, mut items) = child.connect(Options::default(), timing(false)).await;
        assert_eq!(
            next(&mut items).await,
            Item::Reconnecting {
                scope: Scope::Media,
                attempt: 0
            }
        );
        child.say("closed");
        child.wait();
    },
    |mut p| async move {
        let (_, frame) = over_8_mib();
        // The client stops reading at the limit: the rest may never be taken.
        let mut media = p.media;
        let sending = tokio::spawn(async move { send_text(&mut media, frame).await });
        p.child.until("closed").await;
        // "Each socket: the WebSocket read buffer and the message being assembled: 2 x M",
        // 16 MiB, and 4 MiB of headroom for the allocator's and the runtime's own pages.
        let peak = p.child.peak();
        eprintln!("peak {peak} bytes");
        assert!(peak < 20 * MIB, "{peak} bytes at the peak for a refused message");
        p.child.go().await;
        sending.abort();
    }
);

budget_test!(
    /// The same message, with the limit raised to 9 MiB, is read and handed over.
    a_message_over_8_mib_is_read_when_the_limit_is_raised,
    paused: false,
    |child| async move {
        let options = Options::default().with_max_message_len(9 << 20);
        let (_handle, mut items) = child.connect(options, timing(false)).await;
        let Item::Audio(got) = next(&mut items).await else {
            panic!("expected audio")
        };
        assert_eq!(got.data.len(), over_8_mib().0.len());
        child.say("read");
        child.wait();
    },
    |mut p| async move {
        send_text(&mut p.media, over_8_mib().1).await;
        p.child.until("read").await;
        p.child.go().await;
    }
);

budget_test!(
    /// Nobody reads: 16 video frames of 1 MiB, then a small audio frame, against a queue
    /// budget of 4 MiB. The oldest go first; the newest that fit are handed over, after the
    /// gap.
    a_stalled_consumer_holds_at_most_the_queue_byte_budget,
    paused: false,
    |child| async move {
        let options = Options::default().with_queue_bytes(4 << 20);
        let (handle, mut items) = child.connect(options, timing(false)).await;
        queued(|| handle.dropped() == 13 && items.len() == 4).await;
        child.say("queued");
        child.wait();
        assert_eq!(next(&mut items).await, Item::Lagged { dropped: 13 });
        for i in 13..16 {
            let Item::Video(f) = next(&mut items).await else {
                panic!("expected video")
            };
            assert_eq!(f.timestamp, Some(i));
        }
        assert!(matches!(next(&mut items).await, Item::Audio(_)));
    },
    |mut p| async move {
        let pcm = vec![7u8; 1 << 20];
        for i in 0..16u8 {
            let mut frame = audio_from("Ann", &pcm);
            frame["msg_type"] = 15.into();
            frame["content"]["timestamp"] = i.into();
            p.media.send(frame).await;
        }
        p.media.send(audio_from("Ann", &[1])).await;
        p.child.until("queued").await;
        // "Queued items: the byte budget plus the largest item": 4 MiB here, of which 3 MiB of
        // video; 1 MiB of headroom. 16 MiB if the budget did not hold.
        let held = p.child.held();
        eprintln!("held {held} bytes");
        assert!(held < 5 * MIB, "{held} bytes held for a budget of 4 MiB");
        p.child.go().await;
    }
);
