//! RTMS load benchmark (`benches/rtms_load/run.sh`, loopback only): N streams from the
//! simulator, 50 L16 audio messages per second each plus a transcript every 25, received by
//! one of three clients in another process. Not run by `cargo test`; under `cargo bench` it
//! only prints where to start (the run needs several processes: run.sh orchestrates them).
//!
//! Roles (the first argument):
//!
//! - `sim`: the load driver. The crate's simulator on a current-thread runtime (one thread,
//!   pinned to one core by run.sh): registers `--streams N` streams of `--seconds S` of audio,
//!   starts them, writes one line per stream (`rtms_stream_id`, meeting UUID, signalling URL,
//!   tab-separated) to `--hooks PATH` (written whole, then renamed into place), then prints a
//!   `SAMPLE` line every second (wall ms, its own user and system CPU µs, audio and transcript
//!   messages sent so far, failed checks) until every stream has ended or run.sh stops it,
//!   and the first failed checks as they come. Its report has no audio SHA-256
//!   (`SimConfig::with_audio_digest(false)`: nothing reads it); every check of the client's
//!   conduct is made. Every stream sends on the simulator's 20 ms grid, so one timer tick
//!   serves them all and its writes come together: 2–3 µs of CPU per message at 5 000
//!   streams (`sim us`, its core full), 7.7–8 µs at 1 000, where the kernel's share of one
//!   write per message (about 3.5 µs on loopback) is most of it.
//! - `client`: the crate's client, [`client::connect`] per stream, consuming [`Item`]s (the
//!   audio arrives base64-decoded, as every user receives it).
//! - `floor`: the floor reference: the same WebSocket crate (tokio-websockets 0.12.3), the same
//!   handshakes (signalling, data, `CLIENT_READY_ACK`) and keep-alive echoes, but the media
//!   frames are only counted (a prefix compare tells audio from transcripts and keep-alives;
//!   during the window the audio `timestamp` is read from the frame's last 48 bytes, not
//!   parsed, so its latency is what the simulator and the sockets alone add).
//!
//! The clients (and the Node.js one, `benches/peers/node-rtms/client.js`) do the same thing:
//! read the hooks file, connect every stream (at most `--connect-concurrency` handshakes at a
//! time), wait until every stream has delivered audio, wait `--warmup` seconds, then measure
//! for `--duration` seconds: messages received, their own CPU time (user and system, from
//! `/proc/self/stat`), RSS (`/proc/self/status`, against the RSS before the first connection)
//! and the delivery latency of each audio message (receive time minus the audio `timestamp`,
//! which the simulator already sets to the message's scheduled send time on the wall clock, in
//! ms: the first send plus 20 ms per message, so a simulator that falls behind shows as
//! latency too). Then they print one `RESULT` line and exit.
//!
//! With `--tls` (run.sh's `TLS=1`; give it to `sim` and to the client alike) every socket is
//! `wss://` on loopback, rustls with ring on both ends (TLS 1.3 negotiated), the throw-away
//! test CA and its leaf for 127.0.0.1 of `tests/support/tls` (compiled in):
//!
//! - `sim` accepts TLS on a listener of its own, on its one thread, and hands each connection
//!   to the simulator ([`Simulator::serve_connection`]); [`SimConfig::with_public_origin`]
//!   makes every URL it hands out (the signalling URLs of the hooks file, the media URLs of the
//!   signalling answer) `wss://127.0.0.1:<that port>`. The handshakes and the encryption count
//!   in its `SAMPLE` CPU figures: no relay, no extra socket. The first connection's protocol
//!   and cipher suite go to stderr.
//! - `client` trusts the CA with `Options::with_root_certificate`, under a host policy that
//!   allows 127.0.0.1 and refuses `ws://` (so the media URLs must be `wss` too).
//! - `floor` dials through a tokio-websockets rustls connector with the client's roots (the
//!   webpki roots and the CA), provider and protocol versions, one configuration for every
//!   socket.
//! - The Node.js client is unchanged: run.sh gives it the CA as PEM in `NODE_EXTRA_CA_CERTS`.
//!
//! ```text
//! rtms_load sim    --streams N --seconds S --hooks PATH [--keep-alive SECS] [--port P] [--tls]
//! rtms_load client --hooks PATH --streams N [--warmup 2] [--duration 10] [--threads 1]
//!                  [--connect-timeout 60] [--connect-concurrency 256] [--label rust]
//!                  [--queue-capacity 1024 (the client's Options)] [--tls]
//! rtms_load floor  (the same options as client but --queue-capacity)
//! ```
//!
//! `RESULT` (tab-separated): label, streams, streams delivering, window start and end (wall
//! ms), audio, transcripts, other messages, user µs, system µs, RSS before and at the end
//! (KiB), latency p50, p99, max (ms; -1 when nothing was measured), items lagged (dropped),
//! streams failed or ended, run-queue wait (µs: how long the process's threads waited for a CPU,
//! from `/proc/self/task/*/schedstat`). The simulator's `SAMPLE` lines end with the same.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::Semaphore;
use tokio_rustls::rustls::{self, pki_types};
use tokio_websockets::{ClientBuilder, Message};
use zoom_rtms_webhooks::client::{self, Item, Options};
use zoom_rtms_webhooks::handshake::{
    Credentials, MediaTypes, SignalingHandshakeRequest, SignalingHandshakeResponse,
};
use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
use zoom_rtms_webhooks::protocol::media::{AudioParams, MediaParams};
use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, ClientReadyAck, DataHandshake};
use zoom_rtms_webhooks::protocol::session::SessionConfig;
use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
use zoom_rtms_webhooks::simulator::{SimConfig, Simulator, StreamSpec};
use zoom_rtms_webhooks::Product;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The app's credentials (the Node.js client takes the same from the environment run.sh sets).
const CLIENT_ID: &str = "rtms-load-client-id";
const CLIENT_SECRET: &str = "rtms-load-client-secret";
const WEBHOOK_SECRET: &str = "rtms-load-webhook-secret";
/// A transcript every this many audio messages (two per second).
const TRANSCRIPT_EVERY: u64 = 25;
/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_S: u64 = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role = args.first().map(String::as_str);
    let result = match role {
        Some("sim") => options(&args[1..]).and_then(|o| sim(&o)),
        Some("client") => options(&args[1..]).and_then(|o| receive(&o, Kind::Crate)),
        Some("floor") => options(&args[1..]).and_then(|o| receive(&o, Kind::Floor)),
        _ => {
            // `cargo bench` lands here (with `--bench`): the benchmark needs its processes.
            println!(
                "rtms_load: the RTMS load benchmark runs as several processes; \
                 start it with benches/rtms_load/run.sh (roles: sim, client, floor)"
            );
            Ok(())
        }
    };
    if let Err(e) = result {
        eprintln!("rtms_load {}: {e}", role.unwrap_or(""));
        std::process::exit(1);
    }
}

/// `--key value` pairs.
fn options(args: &[String]) -> Result<HashMap<String, String>, BoxError> {
    let mut out = HashMap::new();
    let mut it = args.iter().peekable();
    while let Some(key) = it.next() {
        let name = key
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {key}"))?;
        // A bare flag (`--tls`) is `1`.
        let value = it.next_if(|v| !v.starts_with("--")).cloned();
        out.insert(name.to_owned(), value.unwrap_or_else(|| "1".to_owned()));
    }
    Ok(out)
}

fn opt<T: std::str::FromStr>(o: &HashMap<String, String>, key: &str, default: T) -> T {
    o.get(key).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `--tls` (or `--tls 1`): the streams over `wss://`.
fn tls(o: &HashMap<String, String>) -> bool {
    o.get("tls").is_some_and(|v| v != "0")
}

fn required(o: &HashMap<String, String>, key: &str) -> Result<String, BoxError> {
    o.get(key)
        .cloned()
        .ok_or_else(|| format!("--{key} is required").into())
}

fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// This process's user and system CPU time, µs.
fn cpu_us() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    // After the command name: state is field 0, utime 11, stime 12.
    let to_us = |t: u64| t * 1_000_000 / TICKS_PER_S;
    (ticks(11).map_or(0, to_us), ticks(12).map_or(0, to_us))
}

/// How long this process's threads have waited on a run queue for a CPU (runnable, not
/// running), µs: a machine shared with other work shows here.
fn run_queue_wait_us() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum::<u64>()
        / 1000
}

/// This process's resident set, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The load driver
// ---------------------------------------------------------------------------------------------

fn sim(o: &HashMap<String, String>) -> Result<(), BoxError> {
    let streams: usize = opt(o, "streams", 100);
    let seconds: u64 = opt(o, "seconds", 60);
    let hooks = PathBuf::from(required(o, "hooks")?);
    let keep_alive: u64 = opt(o, "keep-alive", 10);
    let port: u16 = opt(o, "port", 0);
    let tls = tls(o);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut config = SimConfig::default()
            .with_port(port)
            .with_keep_alive_interval(Duration::from_secs(keep_alive))
            .with_observe_window(Duration::from_secs(1))
            // A load driver: no SHA-256 of the audio (nothing reads it), every check kept.
            .with_audio_digest(false);
        // With TLS, a listener of its own in front of the simulator, on the same thread: every
        // URL handed out names it (wss), and each connection it accepts, once TLS is
        // terminated, is served by the simulator as its own.
        let tls_listener = if tls {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            config = config.with_public_origin(format!("wss://{}", listener.local_addr()?));
            Some(listener)
        } else {
            None
        };
        let sim = Arc::new(Simulator::start(config).await?);
        if let Some(listener) = tls_listener {
            tokio::spawn(tls_front(listener, tls_acceptor()?, Arc::clone(&sim)));
        }
        if let Some(mut webhooks) = sim.take_webhooks() {
            // Not POSTed anywhere: the hooks file tells the clients what to dial.
            tokio::spawn(async move { while webhooks.recv().await.is_some() {} });
        }
        let creds = Credentials::new(CLIENT_ID, CLIENT_SECRET)?;
        let ids: Vec<(String, String)> = (0..streams)
            .map(|i| (format!("load-{i}"), format!("m-{i}/+==")))
            .collect();
        for (id, meeting) in &ids {
            sim.register(
                StreamSpec::new(Product::Meeting, meeting, id, WEBHOOK_SECRET, creds.clone())
                    .with_audio_frames(seconds * 50)
                    .with_transcript_every(TRANSCRIPT_EVERY),
            )?;
        }
        let mut lines = String::new();
        for (id, meeting) in &ids {
            sim.start_stream(id).await?;
            let url = sim.signaling_url(id).ok_or("no signalling URL")?;
            lines.push_str(&format!("{id}\t{meeting}\t{url}\n"));
        }
        let tmp = hooks.with_extension("tmp");
        std::fs::write(&tmp, lines)?;
        std::fs::rename(&tmp, &hooks)?;
        let on = sim.signaling_url(&ids[0].0).unwrap_or_default();
        println!("READY {streams} streams on {on}");
        let finished = async {
            for (id, _) in &ids {
                sim.finished(id).await;
            }
        };
        tokio::pin!(finished);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut shown = 0;
        let lifetime = tokio::time::sleep(Duration::from_secs(seconds + 15));
        tokio::pin!(lifetime);
        loop {
            tokio::select! {
                _ = &mut finished => break,
                _ = &mut lifetime => break,
                _ = tick.tick() => {
                    let report = sim.report();
                    let audio: u64 = report.streams.iter().map(|s| s.audio_frames).sum();
                    let transcripts: u64 = report.streams.iter().map(|s| s.transcripts).sum();
                    let (user, system) = cpu_us();
                    let failed = report.failures().count();
                    println!(
                        "SAMPLE\t{:.0}\t{user}\t{system}\t{audio}\t{transcripts}\t{failed}\t{}",
                        wall_ms(),
                        run_queue_wait_us()
                    );
                    // The first failures as they come (run.sh stops the simulator before its
                    // end): what simFL counts.
                    for failure in report.failures().skip(shown).take(5usize.saturating_sub(shown)) {
                        println!("{failure}");
                    }
                    shown = shown.max(failed.min(5));
                }
            }
        }
        let report = sim.report();
        for failure in report.failures().skip(shown).take(5usize.saturating_sub(shown)) {
            println!("{failure}");
        }
        Ok::<(), BoxError>(())
    })
}

// ---------------------------------------------------------------------------------------------
// TLS on loopback (`--tls`): the test CA and its leaf for 127.0.0.1 (tests/support/tls)
// ---------------------------------------------------------------------------------------------

const CA: &[u8] = include_bytes!("../../tests/support/tls/ca.der");
const LEAF: &[u8] = include_bytes!("../../tests/support/tls/leaf.der");
const LEAF_KEY: &[u8] = include_bytes!("../../tests/support/tls/leaf.key.der");

/// rustls's ring provider, as the crate's client uses (never installed process-wide).
fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    // rustls 0.23.48 deprecates ring's provider (no post-quantum key exchange); the crate
    // keeps ring (src/client/transport.rs), and so do both ends here.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The simulator's TLS: the leaf for 127.0.0.1, TLS 1.3 and 1.2 (rustls's defaults).
fn tls_acceptor() -> Result<tokio_rustls::TlsAcceptor, BoxError> {
    let config = rustls::ServerConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![pki_types::CertificateDer::from(LEAF.to_vec())],
            pki_types::PrivateKeyDer::Pkcs8(LEAF_KEY.to_vec().into()),
        )?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TLS connections and hands them to the simulator (on the simulator's own thread, so
/// the TLS work counts in its CPU figures). The first one's protocol and cipher suite go to
/// stderr.
async fn tls_front(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    sim: Arc<Simulator>,
) {
    let told = Arc::new(AtomicBool::new(false));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, sim, told) = (acceptor.clone(), Arc::clone(&sim), Arc::clone(&told));
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            if !told.swap(true, Relaxed) {
                let (_, conn) = stream.get_ref();
                eprintln!(
                    "sim: TLS {:?}, {:?}",
                    conn.protocol_version(),
                    conn.negotiated_cipher_suite().map(|s| s.suite())
                );
            }
            sim.serve_connection(stream);
        });
    }
}

/// The floor's TLS: the same roots as the crate's client with
/// `Options::with_root_certificate(CA)` (the webpki roots and the test CA), the same provider
/// and protocol versions.
fn tls_connector() -> Result<tokio_websockets::Connector, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add(pki_types::CertificateDer::from(CA.to_vec()))?;
    let config = rustls::ClientConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_websockets::Connector::Rustls(
        tokio_rustls::TlsConnector::from(Arc::new(config)),
    ))
}

// ---------------------------------------------------------------------------------------------
// The clients
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The crate's client.
    Crate,
    /// The floor: frames read, not parsed.
    Floor,
}

/// Latency buckets of 1 ms; the last one counts everything longer.
const BUCKETS: usize = 10_001;

#[derive(Default)]
struct Stats {
    ready: AtomicU64,
    audio: AtomicU64,
    transcripts: AtomicU64,
    other: AtomicU64,
    lagged: AtomicU64,
    failed: AtomicU64,
    measuring: AtomicBool,
    latency: Vec<AtomicU64>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            latency: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            ..Stats::default()
        }
    }

    fn record_latency(&self, timestamp_ms: Option<i64>) {
        if !self.measuring.load(Relaxed) {
            return;
        }
        if let Some(ts) = timestamp_ms {
            let ms = (wall_ms() - ts as f64).max(0.0) as usize;
            self.latency[ms.min(BUCKETS - 1)].fetch_add(1, Relaxed);
        }
    }

    /// p50, p99 and max in ms (-1 when nothing was measured).
    fn percentiles(&self) -> (i64, i64, i64) {
        let counts: Vec<u64> = self.latency.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return (-1, -1, -1);
        }
        let at = |q: f64| {
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (ms, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return ms as i64;
                }
            }
            (BUCKETS - 1) as i64
        };
        let max = counts.iter().rposition(|c| *c > 0).unwrap_or(0) as i64;
        (at(0.50), at(0.99), max)
    }
}

struct Target {
    id: String,
    meeting: String,
    url: String,
}

/// Waits for the hooks file (the simulator renames it into place when it is complete).
async fn read_hooks(path: &Path, timeout: Duration) -> Result<Vec<Target>, BoxError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let text = loop {
        match std::fs::read_to_string(path) {
            Ok(text) => break text,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(format!("{}: {e}", path.display()).into()),
        }
    };
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some(Target {
                id: f.next()?.to_owned(),
                meeting: f.next()?.to_owned(),
                url: f.next()?.to_owned(),
            })
        })
        .collect())
}

/// 127.0.0.1 besides Zoom's hosts; `ws://` only without TLS (with it, every URL the
/// simulator hands out must be `wss://`).
fn policy(tls: bool) -> HostPolicy {
    HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(!tls)
}

fn media_params() -> MediaParams {
    MediaParams::new().with_audio(AudioParams::new().with_send_rate(20))
}

fn receive(o: &HashMap<String, String>, kind: Kind) -> Result<(), BoxError> {
    let hooks = PathBuf::from(required(o, "hooks")?);
    let streams: usize = opt(o, "streams", 0);
    let warmup = Duration::from_secs_f64(opt(o, "warmup", 2.0));
    let duration = Duration::from_secs_f64(opt(o, "duration", 10.0));
    let threads: usize = opt(o, "threads", 1);
    let connect_timeout = Duration::from_secs_f64(opt(o, "connect-timeout", 60.0));
    let concurrency: usize = opt(o, "connect-concurrency", 256);
    let queue: usize = opt(o, "queue-capacity", Options::default().queue_capacity());
    let tls = tls(o);
    // The floor's TLS connector, one for every socket (the crate's client builds its own).
    let connector = match (tls, kind) {
        (true, Kind::Floor) => Some(Arc::new(tls_connector()?)),
        _ => None,
    };
    if kind == Kind::Crate {
        eprintln!(
            "client: queue capacity {queue}, size_of::<Item>() = {} bytes",
            std::mem::size_of::<Item>()
        );
    }
    let label = o.get("label").cloned().unwrap_or_else(|| match kind {
        Kind::Crate => "rust".into(),
        Kind::Floor => "floor".into(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let rss_base = rss_kib();
    rt.block_on(async move {
        let targets = read_hooks(&hooks, connect_timeout).await?;
        let n = if streams == 0 {
            targets.len()
        } else {
            streams.min(targets.len())
        };
        let stats = Arc::new(Stats::new());
        let creds = Credentials::new(CLIENT_ID, CLIENT_SECRET)?;
        let gate = Arc::new(Semaphore::new(concurrency.max(1)));
        let connecting = {
            let (stats, gate) = (Arc::clone(&stats), Arc::clone(&gate));
            tokio::spawn(async move {
                for t in targets.into_iter().take(n) {
                    let Ok(permit) = Arc::clone(&gate).acquire_owned().await else {
                        return;
                    };
                    let stats = Arc::clone(&stats);
                    let creds = creds.clone();
                    let connector = connector.clone();
                    // One spawn per kind: a task's size is its own future's, not the larger
                    // of the two (the floor's holds both sockets inline; the crate's client
                    // keeps them in its driver's task).
                    match kind {
                        Kind::Crate => tokio::spawn(async move {
                            let ok = crate_stream(t, &creds, &stats, permit, queue, tls).await;
                            failed(&stats, ok);
                        }),
                        Kind::Floor => tokio::spawn(async move {
                            let ok =
                                floor_stream(t, &creds, &stats, permit, connector.as_deref())
                                    .await;
                            failed(&stats, ok);
                        }),
                    };
                }
            })
        };
        // Every stream delivering (or the connect timeout), the warm-up, then the window.
        let deadline = tokio::time::Instant::now() + connect_timeout;
        while stats.ready.load(Relaxed) < n as u64 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(warmup).await;
        let snap = |s: &Stats| {
            (
                s.audio.load(Relaxed),
                s.transcripts.load(Relaxed),
                s.other.load(Relaxed),
                s.lagged.load(Relaxed),
            )
        };
        let (a0, t0, o0, l0) = snap(&stats);
        let (u0, s0) = cpu_us();
        let q0 = run_queue_wait_us();
        let w0 = wall_ms();
        stats.measuring.store(true, Relaxed);
        tokio::time::sleep(duration).await;
        stats.measuring.store(false, Relaxed);
        let (u1, s1) = cpu_us();
        let q1 = run_queue_wait_us();
        let w1 = wall_ms();
        let (a1, t1, o1, l1) = snap(&stats);
        let rss_end = rss_kib();
        let (p50, p99, max) = stats.percentiles();
        println!(
            "RESULT\t{label}\t{n}\t{}\t{w0:.0}\t{w1:.0}\t{}\t{}\t{}\t{}\t{}\t{rss_base}\t{rss_end}\t{p50}\t{p99}\t{max}\t{}\t{}\t{}",
            stats.ready.load(Relaxed),
            a1 - a0,
            t1 - t0,
            o1 - o0,
            u1 - u0,
            s1 - s0,
            l1.max(l0),
            stats.failed.load(Relaxed),
            q1 - q0,
        );
        connecting.abort();
        Ok::<(), BoxError>(())
    })?;
    // No graceful close of thousands of streams: the process ends here.
    std::process::exit(0)
}

/// Counts a stream that failed; the first failure says why.
fn failed(stats: &Stats, outcome: Result<(), BoxError>) {
    if let Err(e) = outcome {
        if stats.failed.fetch_add(1, Relaxed) == 0 {
            eprintln!("a stream failed: {e}");
        }
    }
}

/// One stream through the crate's client.
async fn crate_stream(
    t: Target,
    creds: &Credentials,
    stats: &Stats,
    permit: tokio::sync::OwnedSemaphorePermit,
    queue: usize,
    tls: bool,
) -> Result<(), BoxError> {
    let hello = SignalingHandshakeRequest::from_parts(creds, Product::Meeting, &t.meeting, &t.id);
    let config = SessionConfig::new(hello)
        .with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, media_params())
        .with_host_policy(policy(tls));
    let url = ServerUrl::parse(&t.url, &policy(tls))?;
    let mut options = Options::default().with_queue_capacity(queue);
    if tls {
        options = options.with_root_certificate(CA);
    }
    let (_handle, mut items) = client::connect_session(config, url, options)?;
    let mut permit = Some(permit);
    let mut delivering = false;
    while let Some(item) = items.next().await {
        match item {
            Item::Connected { .. } => drop(permit.take()),
            Item::Audio(frame) => {
                if !delivering {
                    delivering = true;
                    stats.ready.fetch_add(1, Relaxed);
                }
                stats.audio.fetch_add(1, Relaxed);
                stats.record_latency(frame.timestamp);
                std::hint::black_box(&frame.data);
            }
            Item::Transcript(t) => {
                stats.transcripts.fetch_add(1, Relaxed);
                std::hint::black_box(&t);
            }
            Item::Lagged { dropped } => {
                stats.lagged.fetch_add(dropped, Relaxed);
            }
            Item::Ended(_) | Item::Failed(_) => {
                return Err("the stream ended".into());
            }
            _ => {
                stats.other.fetch_add(1, Relaxed);
            }
        }
    }
    Err("the stream ended".into())
}

/// The first text or binary frame of a socket.
async fn first_frame<S>(ws: &mut tokio_websockets::WebSocketStream<S>) -> Result<Vec<u8>, BoxError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(msg) = ws.next().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            return Ok(msg.into_payload().to_vec());
        }
        if msg.is_close() {
            break;
        }
    }
    Err("socket closed during the handshake".into())
}

/// The audio `timestamp` of a frame, read from its last bytes (`..."timestamp":T}}`): a probe
/// of 48 bytes, not a parse, so the floor client measures the latency the simulator and the
/// sockets alone add.
fn tail_timestamp(payload: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"\"timestamp\":";
    let tail = &payload[payload.len().saturating_sub(48)..];
    let at = tail.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let mut digits = tail[at..].iter().take_while(|b| b.is_ascii_digit());
    digits.try_fold(0i64, |n, d| {
        n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
    })
}

/// What the floor does with a frame: count it, echo a keep-alive; `false` when the socket is done.
async fn floor_frame<S>(
    frame: Option<Result<Message, tokio_websockets::Error>>,
    ws: &mut tokio_websockets::WebSocketStream<S>,
    stats: &Stats,
    delivering: &mut bool,
) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some(Ok(msg)) = frame else {
        return false;
    };
    if msg.is_close() {
        return false;
    }
    let payload: &[u8] = msg.as_payload();
    // Every server message starts with `{"msg_type":N` (the simulator writes msg_type first).
    match payload.get(..14) {
        Some(b"{\"msg_type\":14") => {
            if !*delivering {
                *delivering = true;
                stats.ready.fetch_add(1, Relaxed);
            }
            stats.audio.fetch_add(1, Relaxed);
            if stats.measuring.load(Relaxed) {
                stats.record_latency(tail_timestamp(payload));
            }
        }
        Some(b"{\"msg_type\":17") => {
            stats.transcripts.fetch_add(1, Relaxed);
        }
        Some(b"{\"msg_type\":12") => {
            // KEEP_ALIVE_REQ {"msg_type":12,"sequence":N,"timestamp":T}: answer 13 with the same fields.
            let mut echo = payload.to_vec();
            echo[13] = b'3';
            let text = String::from_utf8(echo).unwrap_or_default();
            if ws.send(Message::text(text)).await.is_err() {
                return false;
            }
        }
        _ => {
            stats.other.fetch_add(1, Relaxed);
        }
    }
    true
}

/// One stream through the floor client.
async fn floor_stream(
    t: Target,
    creds: &Credentials,
    stats: &Stats,
    permit: tokio::sync::OwnedSemaphorePermit,
    connector: Option<&tokio_websockets::Connector>,
) -> Result<(), BoxError> {
    let tls = connector.is_some();
    let dial = |url: &str| {
        let builder = ClientBuilder::new().uri(url);
        async move {
            let builder = builder?;
            let builder = match connector {
                Some(c) => builder.connector(c),
                None => builder,
            };
            Ok::<_, BoxError>(builder.connect().await?.0)
        }
    };
    let hello = SignalingHandshakeRequest::from_parts(creds, Product::Meeting, &t.meeting, &t.id);
    let mut sig = dial(&t.url).await?;
    sig.send(Message::text(ClientMessage::to_json(&hello)))
        .await?;
    let response = SignalingHandshakeResponse::parse(&first_frame(&mut sig).await?)?;
    if !response.is_ok() {
        return Err("signalling handshake refused".into());
    }
    let kinds = MediaTypes::AUDIO | MediaTypes::TRANSCRIPT;
    let url = response
        .media_url(kinds, &policy(tls))?
        .ok_or("no media URL")?;
    let mut media = dial(url.as_str()).await?;
    let params = media_params();
    let data = DataHandshake::for_stream(&hello, kinds)
        .with_media_params(&params)
        .with_payload_encryption(false);
    media.send(Message::text(data.to_json())).await?;
    match ServerMessage::parse(&first_frame(&mut media).await?)? {
        ServerMessage::DataHandshakeResponse(r) if r.status.is_ok() => {}
        _ => return Err("data handshake refused".into()),
    }
    sig.send(Message::text(ClientReadyAck::new(&t.id).to_json()))
        .await?;
    drop(permit);
    let mut delivering = false;
    loop {
        let open = tokio::select! {
            f = sig.next() => floor_frame(f, &mut sig, stats, &mut delivering).await,
            f = media.next() => floor_frame(f, &mut media, stats, &mut delivering).await,
        };
        if !open {
            return Err("a socket closed".into());
        }
    }
}
