//! A local Zoom for RTMS: sends signed webhooks to your app, serves the signalling and media
//! WebSockets on `ws://127.0.0.1:<port>`, plays audio and transcripts, injects faults, and
//! checks how your client behaves.
//!
//! In this repository:
//!
//! ```text
//! ZOOM_SECRET_TOKEN=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... \
//!   cargo run --example simulate --features simulator -- --webhook http://127.0.0.1:8080/webhook
//! ```
//!
//! In a project of your own, this file is `src/main.rs`, `cargo run -- --webhook ...` starts it
//! (with the same environment), and `Cargo.toml` has:
//!
//! ```toml
//! [dependencies]
//! zoom-rtms-webhooks = { version = "0.2", features = ["simulator"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "time"] }
//! ```
//!
//! Options: `--webhook URL` (required), `--streams N` (1), `--frames N` (250 audio messages of
//! 20 ms per stream), `--scenario NAME` (`faults`, the default: status 8 then accept, a dropped
//! media socket with event 7, a dropped signalling socket with `rtms_interrupted`, a failover
//! to new URLs, and the end with stream state 4; or `happy`, `duplicate`, `drop-media`,
//! `drop-signaling`, `failover`, `reject-14`, `reject-15`, `reject-16`, `refuse-signaling`
//! (status 3 to a correct signature), `refused-url`, `keep-alive-pause`, `silence`, `stopped`
//! (only `rtms_stopped`), `session-stopped`), `--port N` (0: any free port), `--observe SECONDS`
//! (30: how long the client is watched after the end for a reconnect it must not make).
//!
//! The client under test must allow the host `127.0.0.1` with plain `ws://`. Prints
//! `sent stream=<id> audio_frames=<n> audio_sha256=<hex>` per stream and one `ok <check>` or
//! `FAIL <check>: <why>` line per check; exits 0 only when every check passed.

use std::process::ExitCode;
use std::time::Duration;

use zoom_rtms_webhooks::codes::StatusCode;
use zoom_rtms_webhooks::handshake::Credentials;
use zoom_rtms_webhooks::simulator::{End, Fault, SimConfig, Simulator, StreamSpec};
use zoom_rtms_webhooks::Product;

struct Args {
    webhook: String,
    streams: u32,
    frames: u64,
    scenario: String,
    port: u16,
    observe: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        webhook: String::new(),
        streams: 1,
        frames: 250,
        scenario: "faults".into(),
        port: 0,
        observe: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--webhook" => args.webhook = value()?,
            "--streams" => args.streams = number(value()?)? as u32,
            "--frames" => args.frames = number(value()?)?,
            "--scenario" => args.scenario = value()?,
            "--port" => args.port = number(value()?)? as u16,
            "--observe" => args.observe = number(value()?)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if args.webhook.is_empty() {
        return Err("--webhook URL is required".into());
    }
    Ok(args)
}

/// The faults and end of a scenario, for a stream of `frames` audio messages.
fn scenario(name: &str, frames: u64) -> Result<(Vec<Fault>, End), String> {
    let at = |n: u64, d: u64| frames * n / d;
    let faults = match name {
        "happy" | "stopped" | "session-stopped" => vec![],
        "faults" => vec![
            Fault::DuplicateSignal,
            Fault::DropMedia {
                after_frames: at(1, 4),
            },
            Fault::DropSignaling {
                after_frames: at(2, 4),
            },
            Fault::Failover {
                after_frames: at(3, 4),
            },
        ],
        "duplicate" => vec![Fault::DuplicateSignal],
        "drop-media" => vec![Fault::DropMedia {
            after_frames: at(1, 2),
        }],
        "drop-signaling" => vec![Fault::DropSignaling {
            after_frames: at(1, 2),
        }],
        "failover" => vec![Fault::Failover {
            after_frames: at(1, 2),
        }],
        "reject-14" => vec![Fault::RejectData(StatusCode::from(14))],
        "reject-15" => vec![Fault::RejectData(StatusCode::from(15))],
        "reject-16" => vec![Fault::RejectData(StatusCode::from(16))],
        "refuse-signaling" => vec![Fault::RejectSignaling(StatusCode::from(3))],
        "refused-url" => vec![Fault::RefusableMediaUrl],
        "keep-alive-pause" => vec![Fault::PauseKeepAlives {
            after_frames: at(1, 4),
            duration: Duration::from_secs(70),
        }],
        "silence" => vec![Fault::Silence {
            after_frames: at(1, 4),
            duration: Duration::from_secs(90),
        }],
        other => return Err(format!("unknown scenario {other}")),
    };
    let end = match name {
        "stopped" => End::RtmsStopped,
        "session-stopped" => End::SessionStopped,
        _ => End::StreamTerminated,
    };
    Ok((faults, end))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("simulate: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<bool, String> {
    let args = parse_args()?;
    let secret = env("ZOOM_SECRET_TOKEN")?;
    let creds = Credentials::new(env("ZOOM_CLIENT_ID")?, env("ZOOM_CLIENT_SECRET")?)
        .map_err(|e| e.to_string())?;
    let (faults, end) = scenario(&args.scenario, args.frames)?;
    let config = SimConfig::default()
        .with_port(args.port)
        .with_webhook_url(&args.webhook)
        .with_observe_window(Duration::from_secs(args.observe));
    let sim = Simulator::start(config).await.map_err(|e| e.to_string())?;
    eprintln!(
        "simulate: serving ws://{} ({} stream(s), scenario {})",
        sim.local_addr(),
        args.streams,
        args.scenario
    );
    let ids: Vec<String> = (1..=args.streams)
        .map(|i| format!("sim-stream-{i}"))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let spec = StreamSpec::new(
            Product::Meeting,
            format!("sim-meeting-{}==", i + 1),
            id.as_str(),
            secret.as_str(),
            creds.clone(),
        )
        .with_audio_frames(args.frames)
        .with_faults(faults.clone())
        .with_end(end);
        sim.register(spec).map_err(|e| e.to_string())?;
    }
    for id in &ids {
        if let Err(e) = sim.start_stream(id).await {
            eprintln!("simulate: {e}");
        }
    }
    for id in &ids {
        sim.finished(id).await;
    }
    let report = sim.report();
    print!("{report}");
    Ok(report.passed())
}
