//! The `record` example, run as a program against the simulator (real HTTP, real WebSockets
//! on loopback): several participants with mute gaps, a late joiner, chat, events; a media
//! drop and a failover; and Ctrl-C in the middle of a stream. Each participant's WAV file must
//! hold exactly the PCM the simulator says it sent (its `sent ... user=` hash, silence
//! included), and every stream must end with its `recorded` line.
//!
//! `cargo test` builds the example next to this test (`target/<profile>/examples/record`).
#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "record",
    feature = "simulator"
))]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use zoom_rtms_webhooks::handshake::Credentials;
use zoom_rtms_webhooks::simulator::{Fault, Report, SimConfig, Simulator, StreamSpec};
use zoom_rtms_webhooks::Product;

const SECRET: &str = "record-secret";

/// The example's binary, built by `cargo test` next to this test's.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir
        .join("examples")
        .join(format!("record{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: `cargo test --all-features` builds it",
        path.display()
    );
    path
}

/// The example, running: its stdout lines arrive on `lines`.
struct App {
    child: Child,
    lines: mpsc::Receiver<String>,
    webhook: String,
    dir: PathBuf,
}

impl App {
    fn start(name: &str) -> App {
        let dir = std::env::temp_dir().join(format!(
            "zoom-rtms-record-e2e-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(example())
            .env("ZOOM_SECRET_TOKEN", SECRET)
            .env("ZOOM_CLIENT_ID", "record-id")
            .env("ZOOM_CLIENT_SECRET", "record-client-secret")
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("ZOOM_RTMS_TEST_HOST", "127.0.0.1")
            .env("RECORD_DIR", &dir)
            .env_remove("REDIS_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Ready once it says where it listens (stderr); stdout lines go to the channel.
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (ready_tx, ready) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("listening on ") {
                    let _ = ready_tx.send(());
                }
                eprintln!("record: {line}");
            }
        });
        ready
            .recv_timeout(Duration::from_secs(60))
            .expect("the example never listened");
        App {
            child,
            lines,
            webhook: format!("http://127.0.0.1:{port}/webhook"),
            dir,
        }
    }

    /// The next stdout line that starts with `prefix`.
    fn line(&self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("no `{prefix}` line"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Ctrl-C (SIGINT); the exit status and every stdout line not read yet.
    fn interrupt(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        // The reader thread ends at the end of stdout, closing the channel.
        (exit, self.lines.iter().collect())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The recordings are kept for a look when the test fails.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn creds() -> Credentials {
    Credentials::new("record-id", "record-client-secret").unwrap()
}

fn spec(id: &str, frames: u64) -> StreamSpec {
    StreamSpec::new(Product::Meeting, "m-uuid==", id, SECRET, creds())
        .with_audio_frames(frames)
        .with_participants(3)
        .with_mute_gaps(true)
        .with_sharing(true)
        .with_chat(2)
        .with_transcript_every(50)
}

/// `key=value` of a stdout line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

/// SHA-256 of a WAV file's PCM bytes (16-bit little endian, as sent).
fn pcm_sha256(path: &Path) -> String {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 16_000, 16)
    );
    let mut sha = Sha256::new();
    for s in reader.samples::<i16>() {
        sha.update(s.unwrap().to_le_bytes());
    }
    hex::encode(sha.finalize())
}

/// Every participant's file holds what the simulator sent it; the `recorded` line counts it.
fn assert_recorded(report: &Report, stream: &str, recorded: &str, dir: &Path) {
    let sent = report
        .streams
        .iter()
        .find(|s| s.stream == stream)
        .unwrap_or_else(|| panic!("{stream} not in the report:\n{report}"));
    assert!(sent.participants.len() >= 2, "{report}");
    let stream_dir = dir.join(stream);
    assert_eq!(field(recorded, "dir"), stream_dir.display().to_string());
    assert_eq!(
        field(recorded, "participants"),
        sent.participants.len().to_string()
    );
    let frames: u64 = sent.participants.iter().map(|p| p.audio_frames).sum();
    assert_eq!(
        field(recorded, "audio_frames"),
        frames.to_string(),
        "{report}"
    );
    assert_eq!(field(recorded, "chats"), sent.chats.to_string());
    assert_eq!(field(recorded, "transcripts"), sent.transcripts.to_string());
    for p in &sent.participants {
        let file = stream_dir.join(format!("audio-{}.wav", p.user_id));
        assert_eq!(
            pcm_sha256(&file),
            p.audio_sha256,
            "{} of {stream}",
            file.display()
        );
    }
}

/// The simulator, posting to `webhook`, watching 1 s after each end (30 s by default).
async fn simulator(webhook: &str) -> Simulator {
    Simulator::start(
        SimConfig::default()
            .with_webhook_url(webhook)
            .with_observe_window(Duration::from_secs(1)),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_example_writes_what_the_simulator_sent_across_drops_and_failover() {
    let app = App::start("faults");
    let sim = simulator(&app.webhook).await;
    let streams = [
        ("rec-plain", spec("rec-plain", 300)),
        (
            "rec-drop",
            spec("rec-drop", 300).with_faults([Fault::DropMedia { after_frames: 120 }]),
        ),
        (
            "rec-failover",
            spec("rec-failover", 300).with_faults([Fault::Failover { after_frames: 150 }]),
        ),
    ];
    for (id, spec) in streams {
        sim.register(spec).unwrap();
        sim.start_stream(id).await.unwrap();
    }
    let mut recorded = Vec::new();
    for _ in 0..3 {
        recorded.push(app.line("recorded "));
    }
    for id in ["rec-plain", "rec-drop", "rec-failover"] {
        sim.finished(id).await;
    }
    let report = sim.report();
    assert!(report.passed(), "{report}");
    for id in ["rec-plain", "rec-drop", "rec-failover"] {
        let line = recorded
            .iter()
            .find(|l| field(l, "stream") == id)
            .unwrap_or_else(|| panic!("no recorded line for {id}: {recorded:?}"));
        assert_recorded(&report, id, line, &app.dir);
        let events = std::fs::read_to_string(app.dir.join(id).join("events.jsonl")).unwrap();
        assert!(events.contains(r#""event":"participant_join""#), "{events}");
        assert!(events.contains(r#""event":"active_speaker""#), "{events}");
        assert!(events.contains(r#""event":"sharing_start""#), "{events}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_every_file_with_what_was_sent() {
    let app = App::start("ctrl-c");
    let sim = simulator(&app.webhook).await;
    // 100 s of audio: Ctrl-C comes long before its end.
    sim.register(spec("rec-ctrl-c", 5_000)).unwrap();
    sim.start_stream("rec-ctrl-c").await.unwrap();
    app.line("connected stream=rec-ctrl-c");
    // Some audio on the files first: wait (polling, bounded) for the first participant's WAV
    // to grow past 2 s of audio; the example shows its progress in no other way.
    let wav = app.dir.join("rec-ctrl-c").join("audio-16778240.wav");
    let mut polls = 0;
    while std::fs::metadata(&wav).map_or(0, |m| m.len()) < 64 * 1024 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        polls += 1;
        assert!(polls < 1200, "no audio recorded within 60 s");
    }
    // The example closes the stream on Ctrl-C (21); the simulator then ends it.
    let mut app = app;
    let (status, lines) = app.interrupt();
    assert!(status.success(), "{status}");
    let recorded = lines
        .iter()
        .find(|l| l.starts_with("recorded "))
        .unwrap_or_else(|| panic!("no recorded line after Ctrl-C: {lines:?}"));
    sim.finished("rec-ctrl-c").await;
    let report = sim.report();
    assert_recorded(&report, "rec-ctrl-c", recorded, &app.dir);
    // Stopped early: fewer frames than the stream would have had.
    let sent: u64 = report.streams[0]
        .participants
        .iter()
        .map(|p| p.audio_frames)
        .sum();
    assert!(sent > 0 && sent < 3 * 5_000, "{report}");
}
