//! The deterministic harness: the simulator's [`Core`] against the crate's sans-I/O client
//! [`Session`]s, in virtual time, with no socket and no runtime (after quinn-proto's pair
//! harness). Every message crosses a link of fixed latency; time jumps to the next message or
//! timer. A run is a pure function of its inputs, so every deadline is judged exactly.
//!
//! A client can be made to misbehave ([`Misbehave`]) to show that each check fails it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::core::{Core, Output};
use super::{Report, SimConfig, StreamSpec};
use crate::handshake::{Credentials, MediaTypes, SignalingHandshakeRequest};
use crate::protocol::incoming::ServerMessage;
use crate::protocol::media::MediaParams;
use crate::protocol::session::{
    self, Inbound, Session, SessionConfig, SessionEvent, SocketId, Webhook,
};
use crate::region::{HostPolicy, ServerUrl};
use crate::Product;

/// How a client misbehaves: what it does to the frames it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Misbehave {
    #[default]
    None,
    /// Never answers a keep-alive.
    NoKeepAliveAnswers,
    /// Signs its handshakes with another secret.
    WrongSignature,
    /// Never sends `CLIENT_READY_ACK`.
    NoReadyAck,
    /// Opens a second signalling connection with each signalling handshake.
    SecondConnection,
    /// Answers keep-alives without their `sequence`.
    NoSequence,
    /// Answers keep-alives with a sequence one past the request's.
    WrongSequence,
}

/// What one client received.
#[derive(Debug, Default)]
pub(super) struct Received {
    pub(super) audio: Sha256,
    pub(super) audio_frames: u64,
    /// When each audio message arrived (since the start) and its `timestamp`.
    pub(super) audio_at: Vec<(Duration, Option<i64>)>,
    pub(super) transcripts: Vec<String>,
    pub(super) events: Vec<SessionEvent>,
    /// When each signalling socket was dialled.
    pub(super) signalling_dials: Vec<Duration>,
    /// Every message the session handed to the user, as JSON, in order of arrival (audio
    /// without its `data`).
    pub(super) messages: Vec<serde_json::Value>,
    /// Each audio message: its `user_id`, `timestamp` and PCM.
    pub(super) user_audio: Vec<(Option<i64>, Option<i64>, Vec<u8>)>,
}

impl Received {
    pub(super) fn audio_sha256(&self) -> String {
        hex::encode(self.audio.clone().finalize())
    }
}

struct Client {
    id: String,
    config: SessionConfig,
    session: Option<Session>,
    received: Received,
}

#[derive(Debug)]
enum Packet {
    /// A client's dial reaches the server.
    Dial {
        client: usize,
        socket: SocketId,
        url: ServerUrl,
    },
    /// A dial by nobody's session (a second connection): its frames come from the harness.
    Ghost {
        url: ServerUrl,
        text: String,
    },
    ToServer {
        client: usize,
        socket: SocketId,
        text: String,
    },
    ToClient {
        socket: SocketId,
        text: String,
    },
    ClosedByClient {
        client: usize,
        socket: SocketId,
    },
    ClosedByServer {
        socket: SocketId,
    },
    Webhook {
        body: Vec<u8>,
    },
}

/// Which of the simulator's messages its driver fails to queue.
type Unsent = Box<dyn FnMut(&str) -> bool>;

/// The simulator and its clients, linked.
pub(super) struct Pair {
    pub(super) start: Instant,
    pub(super) now: Instant,
    pub(super) core: Core,
    latency: Duration,
    clients: Vec<Client>,
    by_stream: HashMap<String, usize>,
    misbehave: Misbehave,
    to_server: HashMap<(usize, SocketId), SocketId>,
    to_client: HashMap<SocketId, (usize, SocketId)>,
    in_flight: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Which of the simulator's messages its driver fails to queue (a full send queue).
    unsent: Option<Unsent>,
    packets: BTreeMap<u64, Packet>,
    seq: u64,
    /// The clients narrow their request after a media type is refused (see
    /// [`Pair::narrowing`]); those that met a refusal, and the media-type bit refused.
    narrowing: bool,
    narrowed: HashMap<usize, u64>,
}

/// The media-type bit a data handshake response refuses (status 9 to 13: audio, video,
/// deskshare, transcript, chat not supported), if it is one.
fn refused_kind(text: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    if v["msg_type"] != 4 {
        return None;
    }
    let code = v["status_code"].as_u64()?;
    (9..=13).contains(&code).then(|| 1 << (code - 9))
}

/// A data handshake request (type 3) without the media-type bit `refused` (`None`: it asked
/// for that kind alone); other messages as they are.
fn narrow(text: &str, refused: u64) -> Option<String> {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Some(text.to_owned());
    };
    if v["msg_type"] != 3 {
        return Some(text.to_owned());
    }
    if let Some(types) = v["media_type"].as_u64() {
        if types & !refused == 0 {
            return None;
        }
        v["media_type"] = (types & !refused).into();
    }
    let key =
        ["audio", "video", "deskshare", "transcript", "chat"][refused.trailing_zeros() as usize];
    if let Some(params) = v["media_params"].as_object_mut() {
        params.remove(key);
    }
    Some(v.to_string())
}

/// Whether a message's text is an audio message (type 14).
fn v_is_audio(text: &str) -> bool {
    text.contains(r#""msg_type":14"#)
}

fn policy() -> HostPolicy {
    HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(true)
}

/// The path and `Host` header a dial of `url` carries.
fn target(url: &ServerUrl) -> (String, String) {
    let u = url::Url::parse(url.as_str()).unwrap();
    let host = match u.port() {
        Some(port) => format!("{}:{port}", url.host()),
        None => url.host().to_owned(),
    };
    (u.path().to_owned(), host)
}

pub(super) fn creds() -> Credentials {
    Credentials::new("client-id", "client-secret").unwrap()
}

/// A meeting stream signed with [`creds`].
pub(super) fn spec(id: &str, frames: u64) -> StreamSpec {
    StreamSpec::new(Product::Meeting, format!("{id}=="), id, "whsec", creds())
        .with_audio_frames(frames)
}

impl Pair {
    /// A simulator with `config` (no webhook URL: webhooks go to the clients directly) and
    /// one client per stream, each asking for `media` with the crate's session defaults.
    pub(super) fn new(config: SimConfig, specs: Vec<StreamSpec>, media: MediaTypes) -> Self {
        let start = Instant::now();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut core = Core::new(config, addr, start, 1_700_000_000_000);
        let mut clients = Vec::new();
        let mut by_stream = HashMap::new();
        for spec in specs {
            let creds = spec.credentials.clone();
            let hello = SignalingHandshakeRequest::from_parts(
                &creds,
                spec.product,
                &spec.instance_id,
                &spec.rtms_stream_id,
            );
            let config = SessionConfig::new(hello)
                .with_media(media, MediaParams::new())
                .with_host_policy(policy());
            by_stream.insert(spec.rtms_stream_id.clone(), clients.len());
            clients.push(Client {
                id: spec.rtms_stream_id.clone(),
                config,
                session: None,
                received: Received::default(),
            });
            core.register(spec, start).unwrap();
        }
        Pair {
            start,
            now: start,
            core,
            latency: Duration::from_millis(1),
            clients,
            by_stream,
            misbehave: Misbehave::None,
            to_server: HashMap::new(),
            to_client: HashMap::new(),
            in_flight: BinaryHeap::new(),
            unsent: None,
            packets: BTreeMap::new(),
            seq: 0,
            narrowing: false,
            narrowed: HashMap::new(),
        }
    }

    pub(super) fn misbehave(mut self, misbehave: Misbehave) -> Self {
        self.misbehave = misbehave;
        self
    }

    /// The simulator's messages for which `unsent` says so are reported dropped, as a driver
    /// whose send queue is full does, and never reach the client.
    pub(super) fn unsent(mut self, unsent: impl FnMut(&str) -> bool + 'static) -> Self {
        self.unsent = Some(Box::new(unsent));
        self
    }

    /// The clients go on without a refused media type, as Zoom's samples do: a data handshake
    /// response with status 9 to 13 never reaches the session (it sees its socket closed and
    /// redials), and every later data handshake of that client asks without the refused kind.
    pub(super) fn narrowing(mut self) -> Self {
        self.narrowing = true;
        self
    }

    /// Overrides a client's session configuration (before the run).
    pub(super) fn configure(
        &mut self,
        stream: &str,
        f: impl FnOnce(SessionConfig) -> SessionConfig,
    ) {
        let c = &mut self.clients[self.by_stream[stream]];
        c.config = f(c.config.clone());
    }

    /// The stream's client session, once started.
    pub(super) fn session(&self, stream: &str) -> Option<&Session> {
        self.clients[self.by_stream[stream]].session.as_ref()
    }

    pub(super) fn received(&self, stream: &str) -> &Received {
        &self.clients[self.by_stream[stream]].received
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn post(&mut self, packet: Packet) {
        self.seq += 1;
        self.in_flight
            .push(Reverse((self.now + self.latency, self.seq)));
        self.packets.insert(self.seq, packet);
    }

    /// Starts every stream and runs until each is finished (or `limit` of virtual time).
    pub(super) fn run(&mut self, limit: Duration) -> Report {
        let ids: Vec<String> = self.by_stream.keys().cloned().collect();
        let mut ids = ids;
        ids.sort();
        for id in &ids {
            self.core.start_stream(self.now, id).unwrap();
        }
        let deadline = self.start + limit;
        loop {
            self.flush();
            if ids.iter().all(|id| self.core.is_finished(id)) {
                break;
            }
            let next = [
                self.in_flight.peek().map(|Reverse((t, _))| *t),
                self.core.poll_timeout(),
            ]
            .into_iter()
            .chain(
                self.clients
                    .iter()
                    .map(|c| c.session.as_ref().and_then(Session::poll_timeout)),
            )
            .flatten()
            .min();
            let Some(next) = next.filter(|t| *t <= deadline) else {
                break;
            };
            self.now = self.now.max(next);
            // Messages first: one that arrives with a timer is no miss.
            while let Some(&Reverse((t, seq))) = self.in_flight.peek() {
                if t > self.now {
                    break;
                }
                self.in_flight.pop();
                if let Some(packet) = self.packets.remove(&seq) {
                    self.deliver(packet);
                }
                self.flush();
            }
            self.core.handle_timeout(self.now);
            for c in &mut self.clients {
                if let Some(s) = c.session.as_mut() {
                    s.handle_timeout(self.now);
                }
            }
        }
        self.core.report()
    }

    /// Moves every output of both sides onto the links.
    fn flush(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.core.poll_output() {
                moved = true;
                match output {
                    Output::Send { socket, text, .. } => {
                        if self.unsent.as_mut().is_some_and(|unsent| unsent(&text)) {
                            self.core.handle_dropped(self.now, socket);
                        } else {
                            self.post(Packet::ToClient { socket, text });
                        }
                    }
                    Output::Close { socket } => self.post(Packet::ClosedByServer { socket }),
                    Output::Deliver(d) => self.post(Packet::Webhook { body: d.hook.body }),
                }
            }
            for client in 0..self.clients.len() {
                let mut outputs = Vec::new();
                if let Some(s) = self.clients[client].session.as_mut() {
                    while let Some(o) = s.poll_output() {
                        outputs.push(o);
                    }
                }
                for output in outputs {
                    moved = true;
                    self.client_output(client, output);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn client_output(&mut self, client: usize, output: session::Output) {
        match output {
            session::Output::Open { socket, url, role } => {
                if role == session::Role::Signalling {
                    let at = self.elapsed();
                    self.clients[client].received.signalling_dials.push(at);
                }
                self.post(Packet::Dial {
                    client,
                    socket,
                    url,
                });
            }
            session::Output::Send { socket, text } => {
                let text = match self.narrowed.get(&client) {
                    Some(&refused) => match narrow(&text, refused) {
                        Some(text) => text,
                        // A socket for the refused kind alone is not asked for again.
                        None => return,
                    },
                    None => text,
                };
                let Some(text) = self.tamper(client, socket, text) else {
                    return;
                };
                self.post(Packet::ToServer {
                    client,
                    socket,
                    text,
                });
            }
            session::Output::Close { socket } => {
                self.post(Packet::ClosedByClient { client, socket })
            }
            session::Output::Event(e) => self.clients[client].received.events.push(e),
        }
    }

    /// What the misbehaving client sends instead of `text` (`None`: nothing).
    fn tamper(&mut self, client: usize, socket: SocketId, text: String) -> Option<String> {
        let msg_type = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("msg_type").and_then(serde_json::Value::as_i64));
        match (self.misbehave, msg_type) {
            (Misbehave::NoKeepAliveAnswers, Some(13)) => None,
            (Misbehave::NoReadyAck, Some(7)) => None,
            (Misbehave::NoSequence, Some(13)) => {
                let mut v: serde_json::Value = serde_json::from_str(&text).ok()?;
                v.as_object_mut()?.remove("sequence");
                Some(v.to_string())
            }
            (Misbehave::WrongSequence, Some(13)) => {
                let mut v: serde_json::Value = serde_json::from_str(&text).ok()?;
                let next = v.get("sequence")?.as_i64()? + 1;
                v.as_object_mut()?.insert("sequence".into(), next.into());
                Some(v.to_string())
            }
            (Misbehave::WrongSignature, Some(1 | 3)) => {
                let mut v: serde_json::Value = serde_json::from_str(&text).ok()?;
                v.as_object_mut()?
                    .insert("signature".into(), "0".repeat(64).into());
                Some(v.to_string())
            }
            (Misbehave::SecondConnection, Some(1)) => {
                let url = self
                    .to_server
                    .get(&(client, socket))
                    .and_then(|s| self.core_url_of(*s));
                if let Some(url) = url {
                    self.post(Packet::Ghost {
                        url,
                        text: text.clone(),
                    });
                }
                Some(text)
            }
            _ => Some(text),
        }
    }

    /// The signalling URL a server socket was dialled at (for a second connection).
    fn core_url_of(&self, socket: SocketId) -> Option<ServerUrl> {
        let (client, _) = self.to_client.get(&socket)?;
        let url = self.core.signaling_url(&self.clients[*client].id)?;
        ServerUrl::parse(&url, &policy()).ok()
    }

    fn deliver(&mut self, packet: Packet) {
        let now = self.now;
        match packet {
            Packet::Dial {
                client,
                socket,
                url,
            } => {
                let (path, host) = target(&url);
                let server = self.core.handle_opened(now, &path, &host);
                self.to_server.insert((client, socket), server);
                self.to_client.insert(server, (client, socket));
                if let Some(s) = self.clients[client].session.as_mut() {
                    s.handle_opened(now, socket);
                }
            }
            Packet::Ghost { url, text } => {
                let (path, host) = target(&url);
                let server = self.core.handle_opened(now, &path, &host);
                self.core.handle_message(now, server, text.as_bytes());
            }
            Packet::ToServer {
                client,
                socket,
                text,
            } => {
                if let Some(server) = self.to_server.get(&(client, socket)) {
                    self.core.handle_message(now, *server, text.as_bytes());
                }
            }
            Packet::ToClient { socket, text } => {
                let Some(&(client, cs)) = self.to_client.get(&socket) else {
                    return;
                };
                if self.narrowing {
                    if let Some(refused) = refused_kind(&text) {
                        self.narrowed.insert(client, refused);
                        return;
                    }
                }
                let c = &mut self.clients[client];
                let Some(s) = c.session.as_mut() else {
                    return;
                };
                if let Ok(Inbound::User(msg)) = s.handle_message(now, cs, text.as_bytes()) {
                    if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) {
                        if let Some(content) = v.get_mut("content").and_then(|c| c.as_object_mut())
                        {
                            if v_is_audio(&text) {
                                content.remove("data");
                            }
                        }
                        c.received.messages.push(v);
                    }
                    match msg {
                        ServerMessage::Audio(a) => {
                            let mut pcm = Vec::new();
                            a.decode_into(&mut pcm).unwrap();
                            c.received
                                .user_audio
                                .push((a.user_id, a.timestamp, pcm.clone()));
                            c.received.audio.update(&pcm);
                            c.received.audio_frames += 1;
                            c.received.audio_at.push((now - self.start, a.timestamp));
                        }
                        ServerMessage::Transcript(t) => {
                            let text = t.text.as_deref().unwrap_or_default().to_owned();
                            c.received.transcripts.push(text);
                        }
                        _ => {}
                    }
                }
            }
            Packet::ClosedByClient { client, socket } => {
                if let Some(server) = self.to_server.remove(&(client, socket)) {
                    self.to_client.remove(&server);
                    self.core.handle_closed(now, server);
                }
            }
            Packet::ClosedByServer { socket } => {
                if let Some((client, cs)) = self.to_client.remove(&socket) {
                    self.to_server.remove(&(client, cs));
                    if let Some(s) = self.clients[client].session.as_mut() {
                        s.handle_closed(now, cs);
                    }
                }
            }
            Packet::Webhook { body } => self.webhook(&body),
        }
    }

    /// A webhook reaches the app: it starts the stream's session, or tells it.
    fn webhook(&mut self, body: &[u8]) {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        let event = v["event"].as_str().unwrap_or_default().to_owned();
        let id = v["payload"]["rtms_stream_id"].as_str().unwrap_or_default();
        let Some(&client) = self.by_stream.get(id) else {
            return;
        };
        let now = self.now;
        let c = &mut self.clients[client];
        if event.ends_with("rtms_started") {
            let url = v["payload"]["server_urls"].as_str().unwrap_or_default();
            let server_url = ServerUrl::parse(url, &policy()).unwrap();
            match c.session.as_mut() {
                Some(s) => s.handle_webhook(now, Webhook::Started { server_url }),
                None => {
                    c.session = Some(Session::connect(c.config.clone(), server_url, now).unwrap())
                }
            }
        } else if let Some(s) = c.session.as_mut() {
            if event.ends_with("rtms_interrupted") {
                s.handle_webhook(now, Webhook::Interrupted);
            } else if event.ends_with("rtms_stopped") {
                s.handle_webhook(now, Webhook::Stopped);
            }
        }
    }
}
