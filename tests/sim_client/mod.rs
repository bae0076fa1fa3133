//! A hand-written RTMS client for the simulator's tests: plain tokio-websockets, the protocol
//! types for the messages, and knobs to misbehave. Not this crate's client: the simulator is
//! checked against the protocol as Zoom documents it (`docs/protocol.md`), by a client written
//! from that.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_websockets::{ClientBuilder, Message, WebSocketStream};
use zoom_rtms_webhooks::codes::{SessionState, StatusCode, StreamState};
use zoom_rtms_webhooks::event::RtmsStarted;
use zoom_rtms_webhooks::handshake::{
    Credentials, IdKeys, MediaTypes, SignalingHandshakeRequest, SignalingHandshakeResponse,
};
use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
use zoom_rtms_webhooks::protocol::media::{
    AudioParams, MediaContentType, MediaParams, TranscriptLanguage, TranscriptParams,
};
use zoom_rtms_webhooks::protocol::outgoing::{
    ClientMessage, ClientReadyAck, DataHandshake, EventSubscription, KeepAliveResponse,
    StreamCloseRequest,
};
use zoom_rtms_webhooks::region::HostPolicy;
use zoom_rtms_webhooks::signature::SignatureHeaders;
use zoom_rtms_webhooks::simulator::SignedWebhook;
use zoom_rtms_webhooks::{Verifier, WebhookEvent};

type Ws = WebSocketStream<TcpStream>;

/// How the client behaves; `Default` is a well-behaved client.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Never send CLIENT_READY_ACK.
    pub skip_ready_ack: bool,
    /// Sign the handshakes with another client secret.
    pub bad_signature: bool,
    /// Never answer KEEP_ALIVE_REQ.
    pub ignore_keep_alive: bool,
    /// Open a second signalling connection once connected.
    pub second_signaling: bool,
    /// Retry at once after status 8 (no backoff).
    pub eager_retry: bool,
    /// Redial after a fatal data-handshake status.
    pub retry_fatal: bool,
    /// Keep the sockets open after `rtms_stopped`.
    pub ignore_stopped: bool,
    /// The audio parameters (default: L16 16 kHz mono mixed 20 ms).
    pub audio: Option<AudioParams>,
    /// No watchdog at all.
    pub no_watchdog: bool,
    /// A watchdog fed by keep-alives only (fires while media flows without keep-alives).
    pub keep_alive_watchdog: bool,
    /// Dial media URLs on any host (no allowlist).
    pub dial_any_media_url: bool,
    /// Reconnect at once after event 7 or `rtms_interrupted` (no backoff).
    pub redial_at_once: bool,
    /// The id keys of the handshakes (default: the crate's `IdKeys::default()`).
    pub id_keys: Option<IdKeys>,
    /// Close the stream (STREAM_CLOSE_REQ) after this many audio messages.
    pub close_after: Option<u64>,
    /// One media socket per kind (audio, transcript) instead of one unified socket.
    pub split: bool,
    /// Answer keep-alives with the timestamp only, as Zoom's published examples show.
    pub omit_sequence: bool,
    /// Answer keep-alives with a sequence one past the request's.
    pub wrong_sequence: bool,
    /// After this many audio messages, stop reading every socket (and keep them open).
    pub stop_reading_after: Option<u64>,
}

/// The answer to a keep-alive request, as `b` gives it.
fn keep_alive_reply(
    b: &Behaviour,
    k: &zoom_rtms_webhooks::protocol::incoming::KeepAliveRequest<'_>,
) -> String {
    let echo = KeepAliveResponse::echo(k);
    let Some(timestamp) = k.timestamp() else {
        return echo.to_json();
    };
    match k.sequence() {
        _ if b.omit_sequence => KeepAliveResponse::new(timestamp).to_json(),
        Some(n) if b.wrong_sequence => KeepAliveResponse::new(timestamp)
            .with_sequence(n + 1)
            .to_json(),
        _ => echo.to_json(),
    }
}

/// No inbound traffic for this long: redo the whole handshake.
const WATCHDOG: Duration = Duration::from_secs(65);

/// What the client saw.
#[derive(Debug, Default)]
pub struct Outcome {
    pub audio_frames: u64,
    pub audio_sha256: String,
    pub transcripts: u64,
    pub connected: u32,
    pub data_status: Option<StatusCode>,
    pub ended: bool,
    /// The event types received, in order.
    pub events: Vec<i64>,
    /// STREAM_CLOSE_RESP received with status 0.
    pub closed: bool,
    /// Audio messages that carried a Contact Center `channel_id` (and no user).
    pub channel_audio: u64,
    /// When each audio message arrived (tokio time).
    pub audio_times: Vec<tokio::time::Instant>,
    /// The first audio payload, decoded.
    pub first_audio: Option<Vec<u8>>,
    /// Each audio message: its `user_id`, `timestamp` and decoded payload.
    pub user_audio: Vec<(Option<i64>, Option<i64>, Vec<u8>)>,
    /// The `timestamp` of each event received, in order (as `events`).
    pub event_timestamps: Vec<Option<i64>>,
    hasher: Option<Sha256>,
}

enum SessionEnd {
    Ended,
    Lost,
    Failed,
    Watchdog,
}

fn policy() -> HostPolicy {
    HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(true)
}

/// Dials with TCP_NODELAY: with Nagle's algorithm a second small message waits for the
/// peer's delayed ACK (40 ms of real time), which paused tokio time turns into seconds.
async fn dial(url: &str) -> Option<Ws> {
    let uri: http::Uri = url.parse().ok()?;
    let tcp = TcpStream::connect((uri.host()?, uri.port_u16()?))
        .await
        .ok()?;
    tcp.set_nodelay(true).ok()?;
    ClientBuilder::from_uri(uri)
        .connect_on(tcp)
        .await
        .ok()
        .map(|(ws, _)| ws)
}

async fn recv(ws: &mut Ws) -> Option<Vec<u8>> {
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_close() {
            return None;
        }
        if msg.is_text() || msg.is_binary() {
            return Some(msg.into_payload().to_vec());
        }
    }
    None
}

async fn send(ws: &mut Ws, text: String) {
    let _ = ws.send(Message::text(text)).await;
}

/// What the client saw, per stream.
pub type Outcomes = Arc<Mutex<HashMap<String, Arc<Mutex<Outcome>>>>>;

fn new_outcome() -> Arc<Mutex<Outcome>> {
    Arc::new(Mutex::new(Outcome {
        hasher: Some(Sha256::new()),
        ..Outcome::default()
    }))
}

/// Starts the client for one stream: it reads the simulator's webhooks (verifying them with
/// `secret`) and acts on them. Returns what it saw, updated as it goes.
pub fn spawn(
    behaviour: Behaviour,
    creds: Credentials,
    secret: &str,
    hooks: mpsc::UnboundedReceiver<SignedWebhook>,
) -> Arc<Mutex<Outcome>> {
    let out = new_outcome();
    drive(behaviour, creds, secret, hooks, Some(Arc::clone(&out)));
    out
}

/// Starts the client for any number of streams; what it saw per stream id.
pub fn spawn_many(
    behaviour: Behaviour,
    creds: Credentials,
    secret: &str,
    hooks: mpsc::UnboundedReceiver<SignedWebhook>,
) -> Outcomes {
    drive(behaviour, creds, secret, hooks, None)
}

fn drive(
    behaviour: Behaviour,
    creds: Credentials,
    secret: &str,
    mut hooks: mpsc::UnboundedReceiver<SignedWebhook>,
    single: Option<Arc<Mutex<Outcome>>>,
) -> Outcomes {
    let verifier = Verifier::new(secret).expect("secret");
    let outcomes: Outcomes = Arc::default();
    // With paused time, tokio advances the clock to the next timer when every task waits,
    // even while a message is on its way through a loopback socket: a short ticker keeps
    // every such jump under 5 ms, so a round trip never looks seconds long.
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let all = Arc::clone(&outcomes);
    tokio::spawn(async move {
        let mut current: HashMap<String, (RtmsStarted, tokio::task::JoinHandle<()>)> =
            HashMap::new();
        let mut stopped_sockets: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(hook) = hooks.recv().await {
            // Zoom retries a webhook with the same request: act once.
            if !seen.insert(hook.body.clone()) {
                continue;
            }
            let headers = SignatureHeaders::new(Some(&hook.signature), Some(&hook.timestamp));
            let event = verifier
                .verify_and_parse(headers, &hook.body)
                .expect("the simulator's webhook verifies")
                .into_event();
            let Some(stream) = event.rtms_stream_id().map(str::to_owned) else {
                continue;
            };
            let out = Arc::clone(
                all.lock()
                    .unwrap()
                    .entry(stream.clone())
                    .or_insert_with(|| single.clone().unwrap_or_else(new_outcome)),
            );
            let start = |started: RtmsStarted, delay: Duration| {
                let (b, c, o) = (behaviour.clone(), creds.clone(), Arc::clone(&out));
                let s = started.clone();
                let task = tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = session(&b, &c, &s, &o).await;
                });
                (started, task)
            };
            match event {
                WebhookEvent::RtmsStarted(started) => {
                    if let Some((_, task)) = current.remove(&stream) {
                        task.abort();
                    }
                    current.insert(stream, start(started, Duration::ZERO));
                }
                WebhookEvent::RtmsInterrupted(_) => {
                    if let Some((started, task)) = current.remove(&stream) {
                        task.abort();
                        let backoff = if behaviour.redial_at_once {
                            Duration::ZERO
                        } else {
                            Duration::from_secs(3)
                        };
                        current.insert(stream, start(started, backoff));
                    }
                }
                WebhookEvent::RtmsStopped(_) => {
                    if let Some((_, task)) = current.remove(&stream) {
                        if behaviour.ignore_stopped {
                            stopped_sockets.push(task);
                        } else {
                            task.abort();
                        }
                    }
                    out.lock().unwrap().ended = true;
                }
                _ => {}
            }
        }
    });
    outcomes
}

impl Outcome {
    /// Hex SHA-256 of the audio received so far.
    pub fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().unwrap_or_default().finalize())
    }
}

async fn session(
    b: &Behaviour,
    creds: &Credentials,
    started: &RtmsStarted,
    out: &Mutex<Outcome>,
) -> SessionEnd {
    loop {
        match session_once(b, creds, started, out).await {
            SessionEnd::Watchdog => continue,
            end => return end,
        }
    }
}

async fn session_once(
    b: &Behaviour,
    creds: &Credentials,
    started: &RtmsStarted,
    out: &Mutex<Outcome>,
) -> SessionEnd {
    let Ok(urls) = started.server_urls(&policy()) else {
        return SessionEnd::Failed;
    };
    let url = urls[0].as_str().to_owned();
    let signer = if b.bad_signature {
        Credentials::new(creds.client_id(), "not the client secret").unwrap()
    } else {
        creds.clone()
    };
    let mut hello = SignalingHandshakeRequest::new(&signer, started).with_buffer_data(false);
    if let Some(keys) = &b.id_keys {
        hello = hello.with_id_keys(keys);
    }
    let mut delay = Duration::from_millis(1500);
    let mut attempts = 0;
    let (mut sig, resp) = loop {
        let Some(mut ws) = dial(&url).await else {
            return SessionEnd::Failed;
        };
        send(&mut ws, ClientMessage::to_json(&hello)).await;
        let Some(frame) = recv(&mut ws).await else {
            return SessionEnd::Failed;
        };
        let Ok(resp) = SignalingHandshakeResponse::parse(&frame) else {
            return SessionEnd::Failed;
        };
        if resp.is_duplicate() && attempts < 3 {
            attempts += 1;
            if !b.eager_retry {
                tokio::time::sleep(delay).await;
            }
            delay *= 2;
            continue;
        }
        if !resp.is_ok() {
            return SessionEnd::Failed;
        }
        break (ws, resp);
    };
    // Subscribe to the participant events (meetings: 2, 3; Contact Center: 8, 10).
    let mut subscription = EventSubscription::new();
    for event_type in [2, 3, 4, 5, 6, 8, 10] {
        subscription = subscription.subscribe(event_type);
    }
    send(&mut sig, subscription.to_json()).await;
    let mut second = None;
    if b.second_signaling {
        if let Some(mut ws) = dial(&url).await {
            send(&mut ws, ClientMessage::to_json(&hello)).await;
            let _ = recv(&mut ws).await;
            second = Some(ws);
        }
    }
    // Unified (one socket at `all` for audio and transcript), or split (one socket per kind).
    let kinds = if b.split {
        vec![MediaTypes::AUDIO, MediaTypes::TRANSCRIPT]
    } else {
        vec![MediaTypes::AUDIO | MediaTypes::TRANSCRIPT]
    };
    let media_policy = if b.dial_any_media_url {
        policy().with_allowed_host("localhost")
    } else {
        policy()
    };
    let mut urls = Vec::new();
    for kind in &kinds {
        let Some(url) = resp.media_url(*kind, &media_policy).ok().flatten() else {
            return SessionEnd::Failed;
        };
        urls.push((*kind, url));
    }
    let params = MediaParams::new()
        .with_audio(
            b.audio
                .clone()
                .unwrap_or_else(|| AudioParams::new().with_send_rate(20)),
        )
        .with_transcript(
            TranscriptParams::new()
                .with_content_type(MediaContentType::Text)
                .with_src_language(TranscriptLanguage::English),
        );
    let stream_id = hello.rtms_stream_id().to_owned();
    let mut buf = Vec::new();
    'dial: loop {
        let mut sockets: Vec<Option<Ws>> = Vec::new();
        for (kind, url) in &urls {
            let Some(mut media) = dial(url.as_str()).await else {
                return SessionEnd::Failed;
            };
            let only = params.only(*kind);
            let req = DataHandshake::for_stream(&hello, *kind)
                .with_media_params(&only)
                .with_payload_encryption(false);
            send(&mut media, req.to_json()).await;
            let Some(frame) = recv(&mut media).await else {
                return SessionEnd::Failed;
            };
            let Ok(ServerMessage::DataHandshakeResponse(r)) = ServerMessage::parse(&frame) else {
                return SessionEnd::Failed;
            };
            if !r.status.is_ok() {
                out.lock().unwrap().data_status = r.status.code;
                if b.retry_fatal {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    continue 'dial;
                }
                return SessionEnd::Failed;
            }
            // One ack per successful data handshake.
            if !b.skip_ready_ack {
                send(&mut sig, ClientReadyAck::new(&stream_id).to_json()).await;
            }
            sockets.push(Some(media));
        }
        out.lock().unwrap().connected += 1;
        let mut second_socket = sockets.pop().flatten();
        let mut first_socket = sockets.pop().flatten();
        if first_socket.is_none() {
            first_socket = second_socket.take();
        }
        let mut last_inbound = tokio::time::Instant::now();
        loop {
            let watchdog = tokio::time::sleep_until(last_inbound + WATCHDOG);
            tokio::select! {
                _ = watchdog, if !b.no_watchdog => return SessionEnd::Watchdog,
                f = recv(&mut sig) => {
                    let Some(f) = f else { return SessionEnd::Lost };
                    let parsed = ServerMessage::parse(&f);
                    if !b.keep_alive_watchdog || matches!(parsed, Ok(ServerMessage::KeepAliveRequest(_))) {
                        last_inbound = tokio::time::Instant::now();
                    }
                    let reply = match parsed {
                        Ok(ServerMessage::KeepAliveRequest(k)) if !b.ignore_keep_alive => {
                            Some(keep_alive_reply(b, &k))
                        }
                        Ok(ServerMessage::EventUpdate(e)) if e.event_type_code() == Some(7) => {
                            break;
                        }
                        Ok(ServerMessage::EventUpdate(e)) => {
                            let mut o = out.lock().unwrap();
                            if let Some(code) = e.event_type_code() {
                                o.events.push(code);
                                o.event_timestamps.push(e.timestamp());
                            }
                            None
                        }
                        Ok(ServerMessage::StreamCloseResponse(r)) => {
                            out.lock().unwrap().closed = r.status.is_ok();
                            None
                        }
                        Ok(ServerMessage::StreamStateUpdate(u)) if u.state == Some(StreamState::Terminated) => {
                            return SessionEnd::Ended;
                        }
                        Ok(ServerMessage::SessionStateUpdate(u)) if u.state == Some(SessionState::Stopped) => {
                            return SessionEnd::Ended;
                        }
                        _ => None,
                    };
                    if let Some(reply) = reply {
                        send(&mut sig, reply).await;
                    }
                }
                f = recv_opt(&mut first_socket) => {
                    let close = on_media(b, out, &mut buf, &mut first_socket, f, &mut last_inbound).await;
                    if close {
                        send(&mut sig, StreamCloseRequest::new(&stream_id).to_json()).await;
                    }
                }
                f = recv_opt(&mut second_socket) => {
                    let close = on_media(b, out, &mut buf, &mut second_socket, f, &mut last_inbound).await;
                    if close {
                        send(&mut sig, StreamCloseRequest::new(&stream_id).to_json()).await;
                    }
                }
            }
        }
        // Event 7: redial media only, after the first backoff step.
        drop((first_socket, second_socket));
        if !b.redial_at_once {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let _ = &second;
    }
}

/// The next frame of an open media socket; never ready for a closed one.
async fn recv_opt(ws: &mut Option<Ws>) -> Option<Vec<u8>> {
    match ws {
        Some(ws) => recv(ws).await,
        None => std::future::pending().await,
    }
}

/// Handles one media frame (`None`: the socket closed); whether to close the stream now.
async fn on_media(
    b: &Behaviour,
    out: &Mutex<Outcome>,
    buf: &mut Vec<u8>,
    socket: &mut Option<Ws>,
    frame: Option<Vec<u8>>,
    last_inbound: &mut tokio::time::Instant,
) -> bool {
    let Some(f) = frame else {
        *socket = None;
        return false;
    };
    let parsed = ServerMessage::parse(&f);
    if !b.keep_alive_watchdog || matches!(parsed, Ok(ServerMessage::KeepAliveRequest(_))) {
        *last_inbound = tokio::time::Instant::now();
    }
    match parsed {
        Ok(ServerMessage::KeepAliveRequest(k)) if !b.ignore_keep_alive => {
            if let Some(ws) = socket.as_mut() {
                send(ws, keep_alive_reply(b, &k)).await;
            }
            false
        }
        Ok(ServerMessage::Audio(a)) => {
            a.decode_into(buf).expect("base64");
            let frames = {
                let mut o = out.lock().unwrap();
                o.audio_frames += 1;
                o.audio_times.push(tokio::time::Instant::now());
                if o.first_audio.is_none() {
                    o.first_audio = Some(buf.to_vec());
                }
                o.user_audio.push((a.user_id, a.timestamp, buf.to_vec()));
                if a.channel_id.is_some() && a.user_id.is_none() {
                    o.channel_audio += 1;
                }
                if let Some(h) = o.hasher.as_mut() {
                    h.update(&buf[..]);
                }
                o.audio_frames
            };
            if Some(frames) == b.stop_reading_after {
                // Nothing is read again; the sockets stay open.
                std::future::pending::<()>().await;
            }
            Some(frames) == b.close_after
        }
        Ok(ServerMessage::Transcript(_)) => {
            out.lock().unwrap().transcripts += 1;
            false
        }
        _ => false,
    }
}
