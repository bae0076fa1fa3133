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
//! zoom-rtms-webhooks = { version = "0.3", features = ["simulator"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "time"] }
//! clap = { version = "4.6", features = ["derive"] }
//! ```
//!
//! Options (`--help` lists them, and every scenario with what it does): `--webhook URL`
//! (required), `--streams N` (1), `--frames N` (250 audio messages of 20 ms per stream),
//! `--scenario NAME` (`faults`, the default: each fault on a stream of its own, so that each is
//! judged on its own: status 8 then accept, a dropped media socket with event 7, a dropped
//! signalling socket with `rtms_interrupted`, a failover to new URLs, all ending with stream
//! state 4; or one of the others of `simulator::Scenario`), `--port N` (0: any free port),
//! `--observe SECONDS` (30: how long the client is watched after the end for a reconnect it
//! must not make), `--webhook-retries` (retry a webhook not acknowledged within 3 s on Zoom's
//! schedule: 5, 20, then 60 minutes later), `--strict` (the advice checks must pass too, not
//! only the protocol's rules).
//!
//! What Zoom sends, per stream: `--participants N` (N participants, `user_id` 16778240 + k,
//! `Ann`, `Bob`, ...; a client that asks for one audio stream per participant, `data_opt`
//! `AUDIO_MULTI_STREAMS`, gets each its own tone with its `user_id` and `user_name`, the mixed
//! stream stays one stream with `user_id` 0; join, leave and active-speaker events go to a
//! client subscribed to them, and the transcripts are the active speaker's), `--mute-gaps` (a
//! fixed pattern over the `F` frames: participant 0 muted for the slots `[F/5, 2F/5)`, with 3
//! or more participant 1 for `[F/2, 3F/5)` and `[7F/10, 3F/4)`, with 2 or more the last one
//! joins at `F/4`), `--chat N` (N chat messages with their metadata, for a client that asks
//! for chat), `--sharing` (participant 0 shares from `F/3` to `2F/3`: events 5 and 6). Event 1
//! (`FIRST_PACKET_TIMESTAMP`, the stream's zero) comes before the first media; frame slot `k`
//! has timestamp `zero + 20k`. The scenario `refuse-chat` answers status 13 to a data
//! handshake asking for chat: the client must go on with the rest (advice check `goes_on`).
//!
//! The client under test must allow the host `127.0.0.1` with plain `ws://`. Prints
//! `sent stream=<id> audio_frames=<n> audio_sha256=<hex>` per stream; after it, per `user_id`
//! of its audio, `sent stream=<id> user=<user_id> audio_frames=<n> audio_sha256=<hex>`: the
//! SHA-256 of the 16-bit PCM that participant's gap-filled track must hold (sample 0 at the
//! stream's zero, up to the end of its last frame, zeros for each slot it did not send; empty
//! for Opus); and, when any were sent, `played stream=<id> events=<n> chats=<n>` (not a `sent` line: tools reading `sent` lines expect audio); then one
//! `ok <check> stream=<id> [<kind>]` or `FAIL <check> stream=<id> [<kind>]: <why>` line per
//! check (`protocol` or `advice`), and `stopped stream=<id>: <why>` for a stream whose checks
//! ended early; exits 0 when every protocol check passed and no stream stopped early (with
//! `--strict`, every check), 1 when a check failed, 2 on a usage or setup error or a run it
//! could not judge (a stream stopped with no check failed, e.g. a codec it cannot play).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use zoom_rtms_webhooks::handshake::Credentials;
use zoom_rtms_webhooks::simulator::{Scenario, SimConfig, Simulator, ZOOM_WEBHOOK_RETRIES};

/// A local Zoom for RTMS: signed webhooks to your app, signalling and media on loopback,
/// faults, and checks of your client's conduct.
///
/// Needs ZOOM_SECRET_TOKEN (the app's webhook secret), ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET
/// (what the client signs its handshakes with). Exits 0 when every protocol check passed (with
/// --strict, every check), 1 when one failed, 2 on a usage or setup error.
#[derive(Parser)]
#[command(after_help = scenarios_help())]
struct Args {
    /// Where the webhooks are POSTed (http:// only)
    #[arg(long, value_name = "URL")]
    webhook: String,
    /// How many streams (the `faults` scenario runs four per stream, one per fault)
    #[arg(long, value_name = "N", default_value_t = 1)]
    streams: usize,
    /// Audio messages of 20 ms per stream
    #[arg(long, value_name = "N", default_value_t = 250)]
    frames: u64,
    /// What happens to each stream (the scenarios are listed below)
    #[arg(long, value_name = "NAME", default_value_t = Scenario::default())]
    scenario: Scenario,
    /// The loopback port to serve on (0: any free port)
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// How long the client is watched after the end for a reconnect it must not make
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    observe: u64,
    /// Retry a webhook not acknowledged within 3 s on Zoom's schedule (5, 20, then 60 minutes
    /// later)
    #[arg(long)]
    webhook_retries: bool,
    /// Fail on the advice checks too, not only on the protocol's rules
    #[arg(long)]
    strict: bool,
    /// Participants per stream: each its own audio for a client that asks for one stream per
    /// participant (AUDIO_MULTI_STREAMS), and their join, leave and active-speaker events
    #[arg(long, value_name = "N", default_value_t = 0)]
    participants: usize,
    /// A fixed pattern of mutes (slots with no audio) and one late joiner (with
    /// --participants)
    #[arg(long)]
    mute_gaps: bool,
    /// Chat messages per stream, with their metadata (for a client that asks for chat)
    #[arg(long, value_name = "N", default_value_t = 0)]
    chat: u64,
    /// Participant 0 shares its screen once (events 5 and 6)
    #[arg(long)]
    sharing: bool,
}

/// `--help`'s list of scenarios.
fn scenarios_help() -> String {
    let mut help = String::from("Scenarios:\n");
    for scenario in Scenario::ALL {
        help += &format!("  {scenario}\n          {}\n", scenario.description());
    }
    help
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> ExitCode {
    // A usage error exits 2 (clap's own), `--help` 0.
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("simulate: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let secret = env("ZOOM_SECRET_TOKEN")?;
    let creds = Credentials::new(env("ZOOM_CLIENT_ID")?, env("ZOOM_CLIENT_SECRET")?)
        .map_err(|e| e.to_string())?;
    let streams: Vec<_> = args
        .scenario
        .streams(args.streams, args.frames, &secret, &creds)
        .into_iter()
        .map(|spec| {
            spec.with_participants(args.participants)
                .with_mute_gaps(args.mute_gaps)
                .with_chat(args.chat)
                .with_sharing(args.sharing)
        })
        .collect();
    let mut config = SimConfig::default()
        .with_port(args.port)
        .with_webhook_url(&args.webhook)
        .with_observe_window(Duration::from_secs(args.observe));
    if args.webhook_retries {
        config = config.with_webhook_retries(ZOOM_WEBHOOK_RETRIES);
    }
    let sim = Simulator::start(config).await.map_err(|e| e.to_string())?;
    eprintln!(
        "simulate: serving ws://{} ({} stream(s), scenario {})",
        sim.local_addr(),
        streams.len(),
        args.scenario
    );
    let ids: Vec<String> = streams
        .iter()
        .map(|spec| spec.rtms_stream_id().to_owned())
        .collect();
    for spec in streams {
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
    // `passed`: every check of a rule in Zoom's docs; `passed_strict`: the advice ones too.
    let passed = if args.strict {
        report.passed_strict()
    } else {
        report.passed()
    };
    if !passed && report.failures().next().is_none() {
        // Nothing failed, yet a stream stopped early: the run could not judge the client.
        return Err("a stream stopped before it could be judged (see its `stopped` line)".into());
    }
    Ok(passed)
}
