//! The sockets (signalling and media on one port, routed by path), the checks made on what the
//! client sends, and the per-stream player (media, faults, end).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use sha2::Digest;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_websockets::{CloseCode, Limits, Message, ServerBuilder, WebSocketStream};

use super::{
    opus, replay, webhook, Awaiting, Conn, End, Fault, Inbox, MediaConn, Outbox, Shared, State,
    Stream, Unsent,
};
use crate::codes::{SessionState, StatusCode, StopReason, StreamState};
use crate::event::Product;
use crate::handshake::{handshake_signature, MediaKind, MediaTypes, SignalingHandshakeResponse};
use crate::protocol::client::{ClientRequest, ReceivedHandshake};
use crate::protocol::events::Event;
use crate::protocol::media::{
    AudioChannel, AudioFormat, AudioParams, ChatParams, Codec, DataOption, MediaContentType,
    MediaParams, Resolution, SampleRate, TranscriptLanguage, TranscriptParams, VideoParams,
};
use crate::protocol::server::{
    DataResponse, MediaData, ServerMessage, SessionStateInfo, Status, StreamCloseResponse,
    StreamStateInfo, Transcript, VideoSubscriptionResponse,
};
use crate::region::HostPolicy;

type Ws = WebSocketStream<TcpStream>;

/// The largest message a client may send (its largest, a data handshake, is a few hundred
/// bytes): a larger one closes the socket.
const MAX_CLIENT_MESSAGE: usize = 1 << 20;
/// How long a new socket may take to send its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The earliest acceptable retry after status 8: the documented 1.5 s, less 20 %.
const DUPLICATE_RETRY_MIN: Duration = Duration::from_millis(1200);
/// How long the client has to close its sockets after `rtms_stopped`.
const CLOSE_ON_STOPPED: Duration = Duration::from_secs(5);
/// The speaker of the transcripts (and of multi-stream audio).
const USER_ID: i64 = 16_778_240;
const USER_NAME: &str = "Ann";
/// The Contact Center channel of the audio and transcripts.
const CHANNEL_ID: &str = "sim-channel-1";
/// The earliest acceptable watchdog reconnect into a silence (the documented 65 s, less some
/// slack for when the last message arrived).
const WATCHDOG_MIN: Duration = Duration::from_secs(60);

/// Lets the tasks that I/O woke run before a deadline is judged: with paused tokio time the
/// clock may jump to the deadline in the same turn as the message that meets it arrives.
async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

pub(super) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    // Every socket's task ends with this loop (when the simulator is dropped).
    let mut sockets = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    sockets.spawn(serve(Arc::clone(&shared), tcp));
                }
                // Out of file descriptors, say: try again shortly rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            },
            Some(_) = sockets.join_next(), if !sockets.is_empty() => {}
        }
    }
}

/// Writes `text` to the client; `false` when the socket failed, or when the client did not
/// take it within `limit` (it stopped reading: the socket is to be dropped).
async fn send_within(ws: &mut Ws, text: String, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, ws.send(Message::text(text))).await,
        Ok(Ok(()))
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Signaling,
    Media,
}

/// `/rtms/<gen>/signaling` or `/rtms/<gen>/media/<key>`.
fn route(path: &str) -> Option<(u64, Role)> {
    let rest = path.strip_prefix("/rtms/")?;
    let (gen, tail) = rest.split_once('/')?;
    let gen = gen.parse().ok()?;
    if tail == "signaling" {
        Some((gen, Role::Signaling))
    } else if tail.starts_with("media/") {
        Some((gen, Role::Media))
    } else {
        None
    }
}

async fn next_frame(ws: &mut Ws) -> Option<Vec<u8>> {
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

/// Sends a close frame; a client that does not take it within a few seconds is left to the
/// socket's drop.
async fn close(ws: &mut Ws) {
    let close = ws.send(Message::close(Some(CloseCode::NORMAL_CLOSURE), ""));
    let _ = tokio::time::timeout(Duration::from_secs(5), close).await;
}

async fn serve(shared: Arc<Shared>, tcp: TcpStream) {
    let limits = Limits::default().max_payload_len(Some(MAX_CLIENT_MESSAGE));
    let Ok((request, mut ws)) = ServerBuilder::new().limits(limits).accept(tcp).await else {
        return;
    };
    let path = request.uri().path().to_owned();
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some((gen, role)) = route(&path) else {
        close(&mut ws).await;
        return;
    };
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, next_frame(&mut ws)).await {
        Ok(Some(frame)) => frame,
        _ => return,
    };
    match (role, ClientRequest::parse(&first)) {
        (Role::Signaling, Ok(ClientRequest::SignalingHandshake(h))) => {
            signaling(shared, ws, gen, h).await
        }
        (Role::Media, Ok(ClientRequest::DataHandshake(h))) => {
            media(shared, ws, gen, h, &host, path).await
        }
        (role, other) => {
            let expected = if role == Role::Signaling { 1 } else { 3 };
            let found = other.map_or_else(|e| e.to_string(), |r| r.msg_type().to_string());
            shared.fail(
                "?",
                "handshake_order",
                format!("first message on {path} is {found}, not msg_type {expected}"),
            );
            close(&mut ws).await;
        }
    }
}

/// Checks a handshake's stream, id key and signature (shared by message types 1 and 3);
/// the status to answer when one fails.
fn check_header(
    st: &mut State,
    h: &ReceivedHandshake<'_>,
    signature_check: &'static str,
) -> Result<String, StatusCode> {
    let Some(id) = h.rtms_stream_id.as_deref() else {
        st.record("?", "handshake", Some("no rtms_stream_id".into()));
        return Err(StatusCode::InvalidRtmsStreamId);
    };
    let Some(s) = st.streams.get(id) else {
        // Under "?", the first one kept: a client cannot grow the report with made-up ids.
        let shown: String = id.chars().take(64).collect();
        st.record(
            "?",
            "handshake",
            Some(format!("unknown rtms_stream_id {shown:?}")),
        );
        return Err(StatusCode::InvalidRtmsStreamId);
    };
    let keys = s.spec.id_keys.keys(s.spec.product).to_vec();
    let instance = s.spec.instance_id.clone();
    let expected = handshake_signature(&s.spec.credentials, &instance, id);
    let product = s.spec.product;
    let id = id.to_owned();
    match keys.iter().find_map(|k| h.id(*k).map(|v| (*k, v))) {
        None => {
            let sent: Vec<_> = h.ids.iter().map(|(k, _)| k.as_str()).collect();
            let keys: Vec<_> = keys.iter().map(|k| k.as_str()).collect();
            let why = format!("{product} id not sent under {keys:?} (sent {sent:?})");
            st.record(&id, "id_key", Some(why.clone()));
            st.abort(&id, format!("the handshake was refused: {why}"));
            return Err(StatusCode::InvalidPayload);
        }
        Some((key, value)) if value != instance => {
            let why = format!("{key} is {value:?}, the stream's is {instance:?}");
            st.record(&id, "id_key", Some(why.clone()));
            st.abort(&id, format!("the handshake was refused: {why}"));
            return Err(StatusCode::InvalidSignature);
        }
        Some(_) => st.record(&id, "id_key", None),
    }
    if h.signature.as_deref() != Some(expected.as_str()) {
        let why =
            "signature is not hex(HMAC-SHA256(client_secret, \"client_id,id,rtms_stream_id\"))";
        st.record(&id, signature_check, Some(why.into()));
        st.abort(
            &id,
            "the handshake was refused with status 3 (INVALID_SIGNATURE): is the client secret \
             the app's (ZOOM_CLIENT_SECRET)?"
                .into(),
        );
        return Err(StatusCode::InvalidSignature);
    }
    st.record(&id, signature_check, None);
    Ok(id)
}

/// The checks every late handshake fails: after the end, after a fatal status, on an old
/// server. `Some(status)` to refuse it with.
fn late_handshake(st: &mut State, id: &str, gen: u64, what: &str) -> Option<StatusCode> {
    let s = st.streams.get(id)?;
    let failure = if s.ended.is_some() || s.done {
        Some(("stops_after_end", format!("{what} after the stream ended")))
    } else if let Some((code, at)) = s.rejected {
        let why = format!(
            "{what} {:?} after the fatal status {}",
            at.elapsed(),
            code.code()
        );
        Some(("gives_up", why))
    } else if gen < s.gen {
        Some((
            "failover",
            format!("{what} to the old server after the failover"),
        ))
    } else {
        None
    };
    let (check, why) = failure?;
    st.record(id, check, Some(why));
    Some(StatusCode::InvalidRtmsStreamId)
}

/// The signalling response; with `refusable`, the media URLs are on `localhost`.
fn signaling_response(shared: &Shared, gen: u64, code: StatusCode, refusable: bool) -> String {
    let mut urls = BTreeMap::new();
    if code.is_ok() {
        let base = if refusable {
            format!("ws://localhost:{}/rtms/{gen}", shared.addr.port())
        } else {
            shared.base_url(gen)
        };
        for key in ["audio", "transcript", "all"] {
            urls.insert(key.to_owned(), format!("{base}/media/{key}"));
        }
    }
    let mut extra = serde_json::Map::new();
    extra.insert("sequence".into(), 0.into());
    let reason = if code.is_ok() {
        String::new()
    } else {
        code.to_string()
    };
    let response = SignalingHandshakeResponse {
        protocol_version: Some(1),
        status_code: code,
        reason: Some(reason),
        media_server_urls: urls,
        extra,
    };
    ServerMessage::SignalingHandshakeResponse(Box::new(response)).to_json()
}

fn event_frame(shared: &Shared, event_type: i64) -> String {
    let json = format!(
        r#"{{"event_type":{event_type},"timestamp":{}}}"#,
        shared.now_ms()
    );
    Event::parse(&json)
        .map(|e| ServerMessage::EventUpdate(e).to_json())
        .unwrap_or_default()
}

fn stream_state(shared: &Shared, state: StreamState, reason: Option<StopReason>) -> String {
    ServerMessage::StreamStateUpdate(StreamStateInfo {
        state: Some(state),
        reason,
        timestamp: Some(shared.now_ms()),
        rtms_stream_id: None,
    })
    .to_json()
}

async fn signaling(shared: Arc<Shared>, mut ws: Ws, gen: u64, h: ReceivedHandshake<'_>) {
    let now = Instant::now();
    let window = shared.config.reconnect_window;
    let (tx, mut rx) = Outbox::new();
    let min = shared.config.reconnect_delay_min;
    let decision: Result<(String, u64, bool), StatusCode> = (|| {
        let mut st = shared.lock();
        let id = check_header(&mut st, &h, "signaling_signature")?;
        if let Some(code) = late_handshake(&mut st, &id, gen, "signalling handshake") {
            return Err(code);
        }
        st.next_conn += 1;
        let cid = st.next_conn;
        let s = st
            .streams
            .get_mut(&id)
            .ok_or(StatusCode::InvalidRtmsStreamId)?;
        if let Some(code) = s.reject_signaling_pending.take() {
            s.rejected = Some((code, now));
            s.notify();
            return Err(code);
        }
        if s.duplicate_pending {
            s.duplicate_pending = false;
            s.awaiting = Some((Awaiting::DuplicateRetry, now));
            return Err(StatusCode::DuplicateSignalRequest);
        }
        let mut results: Vec<(&'static str, Option<String>)> = Vec::new();
        if s.keep_alives_paused_until.is_some_and(|until| now < until) {
            let why = "redid the signalling handshake during a keep-alive pause while media flowed";
            results.push(("watchdog_not_early", Some(why.into())));
        }
        let watchdog = matches!(s.awaiting, Some((Awaiting::Watchdog, _)));
        if let Some(old) = s.signaling.as_ref().filter(|_| !watchdog) {
            if old.gen == gen {
                let why = "a second signalling connection while one is open";
                st.record(&id, "one_signaling_connection", Some(why.into()));
                return Err(StatusCode::DuplicateSignalRequest);
            }
        }
        results.push(("one_signaling_connection", None));
        match s.awaiting {
            Some((Awaiting::DuplicateRetry, t0)) => {
                let after = now - t0;
                let failure = (after < DUPLICATE_RETRY_MIN).then(|| {
                    format!("retried {after:?} after status 8; the backoff starts at 1.5 s")
                });
                results.push(("duplicate_retry", failure));
                s.awaiting = None;
            }
            Some((Awaiting::MediaRedial, _)) => {
                let why = "redid the signalling handshake after event 7 (only media is redialled)";
                results.push(("media_reconnect", Some(why.into())));
            }
            Some((Awaiting::SignalingRedial, t0)) => {
                let (late, early) =
                    reconnect_breach("reconnected", "rtms_interrupted", now - t0, min, window);
                results.push(("signaling_reconnect", late));
                results.push(("reconnect_backoff", early));
                s.awaiting = None;
            }
            Some((Awaiting::Failover, t0)) => {
                let after = now - t0;
                let failure = (after > window).then(|| {
                    format!("reconnected {after:?} after the failover, beyond {window:?}")
                });
                results.push(("failover", failure));
                s.awaiting = None;
            }
            Some((Awaiting::Watchdog, t0)) => {
                let after = now - t0;
                let failure = (after < WATCHDOG_MIN).then(|| {
                    format!("redid the signalling handshake {after:?} into the silence; the watchdog is 65 s")
                });
                results.push(("watchdog_fires", failure));
                s.awaiting = None;
                s.silent = false;
                for m in s.media.drain(..) {
                    m.conn.tx.close();
                }
                s.unacked.clear();
            }
            None => {}
        }
        // A failover: the old server's sockets are gone once the new one is in use.
        if let Some(old) = s.signaling.take() {
            old.tx.close();
        }
        s.media.retain(|m| {
            let keep = m.conn.gen == gen;
            if !keep {
                m.conn.tx.close();
            }
            keep
        });
        s.signaling = Some(Conn {
            id: cid,
            gen,
            tx: tx.clone(),
        });
        results.push(("signaling_handshake", None));
        let refusable = s.refusable_media;
        s.notify();
        for (check, failure) in results {
            st.record(&id, check, failure);
        }
        Ok((id, cid, refusable))
    })();
    let (id, cid, refusable) = match decision {
        Ok(v) => v,
        Err(code) => {
            let _ = ws
                .send(Message::text(signaling_response(&shared, gen, code, false)))
                .await;
            close(&mut ws).await;
            return;
        }
    };
    let _ = tx.text(signaling_response(&shared, gen, StatusCode::Ok, refusable));
    let _ = tx.text(event_frame(&shared, 1));
    run_socket(&shared, &mut ws, &id, cid, &mut rx, Role::Signaling).await;
    unregister(&shared, &id, cid);
}

/// The confirmed parameters: the requested ones with the server's defaults filled in, for
/// every kind the socket carries.
fn confirm(params: &MediaParams, types: MediaTypes) -> MediaParams {
    let mut out = MediaParams::new();
    if types.includes(MediaKind::Audio) {
        let a = params.audio().cloned().unwrap_or_default();
        out = out.with_audio(
            AudioParams::new()
                .with_content_type(a.content_type().unwrap_or(MediaContentType::RawAudio))
                .with_sample_rate(a.sample_rate().unwrap_or(SampleRate::Sr16k))
                .with_channel(a.channel().unwrap_or(AudioChannel::Mono))
                .with_codec(a.codec().unwrap_or(Codec::L16))
                .with_data_opt(a.data_opt().unwrap_or(DataOption::AudioMixedStream))
                .with_send_rate(a.send_rate().unwrap_or(20)),
        );
    }
    let video = |v: Option<&VideoParams>, resolution, fps| {
        let v = v.cloned().unwrap_or_default();
        let mut p = VideoParams::new()
            .with_content_type(MediaContentType::RawVideo)
            .with_codec(v.codec().unwrap_or(Codec::Jpg))
            .with_resolution(v.resolution().unwrap_or(resolution))
            .with_fps(v.fps().unwrap_or(fps));
        if let Some(opt) = v.data_opt() {
            p = p.with_data_opt(opt);
        }
        p
    };
    if types.includes(MediaKind::Video) {
        let v = video(params.video(), Resolution::Hd, 5);
        let opt = v.data_opt().unwrap_or(DataOption::VideoSingleActiveStream);
        out = out.with_video(v.with_data_opt(opt));
    }
    if types.includes(MediaKind::Deskshare) {
        out = out.with_deskshare(video(params.deskshare(), Resolution::Fhd, 1));
    }
    if types.includes(MediaKind::Transcript) {
        let t = params.transcript().cloned().unwrap_or_default();
        let mut p = TranscriptParams::new()
            .with_content_type(MediaContentType::Text)
            .with_enable_lid(t.enable_lid().unwrap_or(true));
        if let Some(lang) = t.src_language() {
            p = p.with_src_language(lang);
        }
        out = out.with_transcript(p);
    }
    if types.includes(MediaKind::Chat) {
        out = out.with_chat(ChatParams::new().with_content_type(MediaContentType::Text));
    }
    out
}

fn data_response(code: StatusCode, params: MediaParams) -> String {
    ServerMessage::DataHandshakeResponse(Box::new(DataResponse {
        protocol_version: Some(1),
        sequence: Some(0),
        status: Status {
            code: Some(code),
            reason: Some(if code.is_ok() {
                Cow::Borrowed("")
            } else {
                Cow::Owned(code.to_string())
            }),
        },
        payload_encrypted: Some(false),
        media_params: params,
    }))
    .to_json()
}

/// The kinds a socket carries (`ALL`: every kind).
fn carried(types: MediaTypes) -> MediaTypes {
    MediaKind::ALL
        .into_iter()
        .filter(|k| types.includes(*k))
        .fold(MediaTypes::NONE, |acc, k| acc | k.flag())
}

async fn media(
    shared: Arc<Shared>,
    mut ws: Ws,
    gen: u64,
    h: ReceivedHandshake<'_>,
    host: &str,
    path: String,
) {
    let now = Instant::now();
    let window = shared.config.reconnect_window;
    let media_type = h.media_type.unwrap_or(MediaTypes::NONE);
    let params = h.media_params.clone().unwrap_or_default();
    let (tx, mut rx) = Outbox::new();
    let decision: Result<(String, u64, MediaParams), StatusCode> = (|| {
        let mut st = shared.lock();
        let id = check_header(&mut st, &h, "data_signature")?;
        if host.starts_with("localhost") {
            let why = format!("dialled ws://{host}{path}, a media URL on a host it must refuse");
            st.record(&id, "refused_url", Some(why));
            return Err(StatusCode::InvalidRtmsStreamId);
        }
        if let Some(code) = late_handshake(&mut st, &id, gen, "data handshake") {
            return Err(code);
        }
        if st.streams.get(&id).is_some_and(|s| s.signaling.is_none()) {
            let why = "data handshake with no open signalling connection";
            st.record(&id, "handshake_order", Some(why.into()));
            return Err(StatusCode::InvalidRtmsStreamId);
        }
        st.record(&id, "handshake_order", None);
        // The URL dialled is the one the signalling response names for these kinds.
        let response = SignalingHandshakeResponse::parse(
            signaling_response(&shared, gen, StatusCode::Ok, false).as_bytes(),
        );
        let policy = HostPolicy::default()
            .with_allowed_host("127.0.0.1")
            .with_insecure_ws(true);
        let expected = response
            .ok()
            .and_then(|r| r.media_url(media_type, &policy).ok().flatten())
            .map(|u| u.as_str().trim_end_matches('/').to_owned());
        let dialled = format!("ws://{}{}", shared.addr, path);
        match expected {
            Some(url) if url != dialled => {
                let why = format!(
                    "dialled {dialled} for media_type {}, not {url}",
                    media_type.bits()
                );
                st.record(&id, "media_url", Some(why));
            }
            _ => st.record(&id, "media_url", None),
        }
        if let Err(e) = params.validate_with(media_type, &shared.config.rules) {
            let code = e.status_code();
            let why = format!("{e} (answered status {})", code.code());
            st.record(&id, "media_params", Some(why));
            return Err(code);
        }
        st.record(&id, "media_params", None);
        let asked = confirm(&params, media_type);
        if let Some((code, why)) = asked
            .audio()
            .map(AudioParams::format)
            .and_then(|f| unplayable(&f))
        {
            st.abort(&id, format!("{why} (answered status {})", code.code()));
            return Err(code);
        }
        st.next_conn += 1;
        let cid = st.next_conn;
        let deadline = shared.config.ready_ack_deadline;
        let s = st
            .streams
            .get_mut(&id)
            .ok_or(StatusCode::InvalidRtmsStreamId)?;
        let kinds = carried(media_type);
        let clash = s
            .media
            .iter()
            .filter(|m| m.conn.gen == gen)
            .find(|m| carried(m.kinds).bits() & kinds.bits() != 0)
            .map(|m| m.kinds);
        if let Some(existing) = clash {
            let all = MediaTypes::ALL;
            let code = if existing.contains(all) != media_type.contains(all) {
                StatusCode::MediaDataAllConnectionExist
            } else {
                StatusCode::DuplicateMediaDataConnection
            };
            let why = format!(
                "a second media socket for media_type {} (one open for {})",
                media_type.bits(),
                existing.bits()
            );
            st.record(&id, "one_media_connection_per_kind", Some(why));
            return Err(code);
        }
        if let Some(code) = s.reject_pending.take() {
            s.rejected = Some((code, now));
            s.notify();
            return Err(code);
        }
        let mut results: Vec<(&'static str, Option<String>)> =
            vec![("one_media_connection_per_kind", None)];
        if let Some((Awaiting::MediaRedial, t0)) = s.awaiting {
            let min = shared.config.reconnect_delay_min;
            let (late, early) =
                reconnect_breach("media redialled", "event 7", now - t0, min, window);
            results.push(("media_reconnect", late));
            results.push(("reconnect_backoff", early));
            s.awaiting = None;
        }
        let confirmed = confirm(&params, media_type);
        let format = confirmed
            .audio()
            .map_or_else(|| AudioParams::new().format(), AudioParams::format);
        let video_opt = confirmed.video().and_then(VideoParams::data_opt);
        s.media.push(MediaConn {
            conn: Conn {
                id: cid,
                gen,
                tx: tx.clone(),
            },
            kinds: media_type,
            acked: false,
            format,
            video_opt,
        });
        s.unacked.push_back(cid);
        s.notify();
        for (check, failure) in results {
            st.record(&id, check, failure);
        }
        let watcher = Arc::clone(&shared);
        let stream = id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            settle().await;
            let mut st = watcher.lock();
            let unacked = st
                .streams
                .get(&stream)
                .is_some_and(|s| s.media.iter().any(|m| m.conn.id == cid && !m.acked));
            if unacked {
                let why = format!("no CLIENT_READY_ACK within {deadline:?} of the data handshake");
                st.record(&stream, "client_ready_ack", Some(why));
            }
        });
        Ok((id, cid, confirmed))
    })();
    let (id, cid, confirmed) = match decision {
        Ok(v) => v,
        Err(code) => {
            let _ = ws
                .send(Message::text(data_response(code, MediaParams::new())))
                .await;
            close(&mut ws).await;
            return;
        }
    };
    let _ = tx.text(data_response(StatusCode::Ok, confirmed));
    run_socket(&shared, &mut ws, &id, cid, &mut rx, Role::Media).await;
    unregister(&shared, &id, cid);
}

fn unregister(shared: &Shared, id: &str, cid: u64) {
    let mut st = shared.lock();
    if let Some(s) = st.streams.get_mut(id) {
        if s.signaling.as_ref().is_some_and(|c| c.id == cid) {
            s.signaling = None;
        }
        s.media.retain(|m| m.conn.id != cid);
        s.unacked.retain(|c| *c != cid);
        s.notify();
    }
}

/// What the socket loop does after a client message.
enum Reply {
    None,
    Send(Vec<String>),
    SendAndClose(Vec<String>),
}

fn on_signaling(shared: &Shared, id: &str, req: ClientRequest<'_>) -> Reply {
    let mut st = shared.lock();
    match req {
        ClientRequest::ClientReadyAck { rtms_stream_id } => {
            if rtms_stream_id.as_deref() != Some(id) {
                let why = format!("rtms_stream_id {rtms_stream_id:?} is not {id:?}");
                st.record(id, "client_ready_ack", Some(why));
            }
            let Some(s) = st.streams.get_mut(id) else {
                return Reply::None;
            };
            // One ack readies every media socket whose data handshake succeeded: Zoom's own
            // SDK sends one per stream, after all of them; a client may also send one after
            // each.
            if !s.unacked.is_empty() {
                for cid in std::mem::take(&mut s.unacked) {
                    if let Some(m) = s.media.iter_mut().find(|m| m.conn.id == cid) {
                        m.acked = true;
                    }
                }
                s.notify();
                st.record(id, "client_ready_ack", None);
            } else if s.media.is_empty() {
                let why = "CLIENT_READY_ACK before any successful data handshake";
                st.record(id, "client_ready_ack", Some(why.into()));
            } // else a repeated ack: harmless as far as is known
            Reply::None
        }
        ClientRequest::SignalingHandshake(_) => {
            let why = "signalling handshake repeated on an open socket";
            st.record(id, "one_signaling_connection", Some(why.into()));
            Reply::None
        }
        ClientRequest::DataHandshake(_) => {
            let why = "DATA_HAND_SHAKE_REQ on the signalling socket";
            st.record(id, "handshake_order", Some(why.into()));
            Reply::None
        }
        ClientRequest::StreamCloseRequest { .. } => {
            let Some(s) = st.streams.get_mut(id) else {
                return Reply::None;
            };
            s.closed_by_client = true;
            s.ended = Some(Instant::now());
            for m in s.media.drain(..) {
                m.conn.tx.close();
            }
            s.notify();
            let close = ServerMessage::StreamCloseResponse(StreamCloseResponse {
                rtms_stream_id: Some(Cow::Borrowed(id)),
                status: Status {
                    code: Some(StatusCode::Ok),
                    reason: Some(Cow::Borrowed("OK")),
                },
                timestamp: Some(shared.now_ms()),
            })
            .to_json();
            let state = stream_state(
                shared,
                StreamState::Terminated,
                Some(StopReason::ReceiverRequestClose),
            );
            Reply::SendAndClose(vec![close, state])
        }
        ClientRequest::EventSubscription(events) => {
            if let Some(s) = st.streams.get_mut(id) {
                for (event_type, subscribe) in events {
                    s.subscribed.retain(|t| *t != event_type);
                    if subscribe {
                        s.subscribed.push(event_type);
                    }
                }
            }
            Reply::None
        }
        ClientRequest::SessionStateRequest { .. } => {
            let state = ServerMessage::SessionStateResponse(SessionStateInfo {
                state: Some(SessionState::Started),
                stop_reason: None,
                timestamp: Some(shared.now_ms()),
                rtms_session_id: None,
            })
            .to_json();
            Reply::Send(vec![state])
        }
        ClientRequest::VideoSubscription {
            user_id, subscribe, ..
        } => {
            // One subscription at a time: a new one replaces the last; asking again for the
            // participant already subscribed is status 44.
            let Some(s) = st.streams.get_mut(id) else {
                return Reply::None;
            };
            let subscribe = subscribe.unwrap_or(true);
            let code = if subscribe && user_id.is_some() && s.video_user == user_id {
                StatusCode::from(44)
            } else {
                s.video_user = if subscribe { user_id } else { None };
                StatusCode::Ok
            };
            let reply = ServerMessage::VideoSubscriptionResponse(VideoSubscriptionResponse {
                user_id,
                status: Status {
                    code: Some(code),
                    reason: Some(Cow::Borrowed(code.description())),
                },
                subscribe: Some(subscribe),
                timestamp: Some(shared.now_ms()),
            })
            .to_json();
            Reply::Send(vec![reply])
        }
        ClientRequest::StreamStateRequest { .. } => {
            let state = ServerMessage::StreamStateResponse(StreamStateInfo {
                state: Some(StreamState::Active),
                reason: None,
                timestamp: Some(shared.now_ms()),
                rtms_stream_id: Some(Cow::Borrowed(id)),
            })
            .to_json();
            Reply::Send(vec![state])
        }
        _ => Reply::None,
    }
}

fn on_media(shared: &Shared, id: &str, req: ClientRequest<'_>) -> Reply {
    match req {
        ClientRequest::ClientReadyAck { .. } => shared.fail(
            id,
            "client_ready_ack",
            "CLIENT_READY_ACK sent on a media socket (it belongs on signalling)",
        ),
        ClientRequest::DataHandshake(_) => shared.fail(
            id,
            "one_media_connection_per_kind",
            "data handshake repeated on an open media socket",
        ),
        _ => {}
    }
    Reply::None
}

/// A keep-alive request waiting for its answer.
struct PendingKeepAlive {
    timestamp: String,
    sequence: i64,
}

/// Counts a socket of the stream that has not yet sent a keep-alive (`+1`), or one that has
/// or is gone (`-1`): before the end every socket is sent one (see [`drain_keep_alives`]).
fn keep_alive_unprobed(shared: &Shared, id: &str, unprobed: bool) {
    count(shared, id, unprobed, |s| &mut s.keep_alives_unprobed);
}

/// Moves one of the stream's counters up or down, and wakes what waits on the stream.
fn count(shared: &Shared, id: &str, up: bool, counter: fn(&mut Stream) -> &mut usize) {
    let mut st = shared.lock();
    if let Some(s) = st.streams.get_mut(id) {
        let n = counter(s);
        *n = if up { *n + 1 } else { n.saturating_sub(1) };
        s.notify();
    }
}

/// Sends a `KEEP_ALIVE_REQ` with the next sequence and counts it as pending; `false` when the
/// socket failed or the client did not take it within `limit`.
async fn request_keep_alive(
    shared: &Shared,
    id: &str,
    ws: &mut Ws,
    sequence: &mut i64,
    pending: &mut Option<PendingKeepAlive>,
    limit: Duration,
) -> bool {
    // A positive int32, as Zoom's own SDK requires.
    *sequence = *sequence % i64::from(i32::MAX) + 1;
    let timestamp = shared.now_ms().to_string();
    let frame = format!(r#"{{"msg_type":12,"sequence":{sequence},"timestamp":{timestamp}}}"#);
    *pending = Some(PendingKeepAlive {
        timestamp,
        sequence: *sequence,
    });
    keep_alive_pending(shared, id, true);
    send_within(ws, frame, limit).await
}

/// Counts a keep-alive of the stream as pending (`+1`) or settled (`-1`): the player waits for
/// none to be pending before it ends the stream.
fn keep_alive_pending(shared: &Shared, id: &str, pending: bool) {
    count(shared, id, pending, |s| &mut s.keep_alives_pending);
}

/// Judges a `KEEP_ALIVE_RESP` against the pending request: the timestamp must match, and the
/// sequence too when the answer carries one.
fn judge_keep_alive(
    pending: Option<&PendingKeepAlive>,
    timestamp: Option<&str>,
    sequence: Option<i64>,
) -> Result<(), String> {
    let Some(p) = pending else {
        return Err(format!(
            "KEEP_ALIVE_RESP {timestamp:?} without a pending request"
        ));
    };
    if timestamp != Some(p.timestamp.as_str()) {
        return Err(format!(
            "KEEP_ALIVE_RESP echoed {timestamp:?}, the request's timestamp is {}",
            p.timestamp
        ));
    }
    match sequence {
        Some(n) if n != p.sequence => Err(format!(
            "KEEP_ALIVE_RESP echoed sequence {n}, the request's is {}",
            p.sequence
        )),
        _ => Ok(()),
    }
}

async fn run_socket(
    shared: &Arc<Shared>,
    ws: &mut Ws,
    id: &str,
    cid: u64,
    inbox: &mut Inbox,
    role: Role,
) {
    let interval = shared.config.keep_alive_interval;
    let first = Instant::now() + shared.config.first_keep_alive;
    let mut keep_alive = tokio::time::interval_at(first, interval);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let check = match role {
        Role::Signaling => "keep_alive_signaling",
        Role::Media => "keep_alive_media",
    };
    let mut pending: Option<PendingKeepAlive> = None;
    let mut sequence: i64 = 0;
    let mut misses = 0u32;
    // A client that does not take a message within an interval has stopped reading.
    let limit = interval;
    let stalled = |shared: &Shared| {
        let why = format!("the client took no message for {limit:?}: its socket was closed");
        shared.fail(id, "keeps_up", why);
    };
    // Until this socket sends its first keep-alive, the stream's end waits for it.
    let mut probed = false;
    keep_alive_unprobed(shared, id, true);
    let Some(mut changes) = shared.lock().streams.get(id).map(|s| s.changed.subscribe()) else {
        keep_alive_unprobed(shared, id, false);
        return;
    };
    'socket: loop {
        tokio::select! {
            // What the client sent first: an answer that arrived with the timer is no miss.
            biased;
            frame = ws.next() => {
                let msg = match frame {
                    Some(Ok(msg)) => msg,
                    _ => break,
                };
                if msg.is_close() {
                    break;
                }
                if !(msg.is_text() || msg.is_binary()) {
                    continue;
                }
                let bytes = msg.into_payload();
                let reply = match ClientRequest::parse(&bytes) {
                    Ok(ClientRequest::KeepAliveResponse { timestamp, sequence }) => {
                        match judge_keep_alive(pending.as_ref(), timestamp, sequence) {
                            Ok(()) => {
                                pending = None;
                                misses = 0;
                                keep_alive_pending(shared, id, false);
                                shared.ok(id, check);
                            }
                            Err(why) => shared.fail(id, check, why),
                        }
                        Reply::None
                    }
                    Ok(req) if role == Role::Signaling => on_signaling(shared, id, req),
                    Ok(req) => on_media(shared, id, req),
                    Err(e) => {
                        shared.fail(id, "messages", format!("unreadable message: {e}"));
                        Reply::None
                    }
                };
                match reply {
                    Reply::None => {}
                    Reply::Send(texts) => {
                        for t in texts {
                            if !send_within(ws, t, limit).await {
                                break 'socket;
                            }
                        }
                    }
                    Reply::SendAndClose(texts) => {
                        for t in texts {
                            if !send_within(ws, t, limit).await {
                                break 'socket;
                            }
                        }
                        close(ws).await;
                        break;
                    }
                }
            }
            () = inbox.close.notified() => {
                // What was queued before the close still goes out first.
                while let Ok(t) = inbox.rx.try_recv() {
                    if !send_within(ws, t, limit).await {
                        break 'socket;
                    }
                }
                close(ws).await;
                break;
            }
            out = inbox.rx.recv() => match out {
                Some(t) => {
                    if !send_within(ws, t, limit).await {
                        stalled(shared);
                        break;
                    }
                }
                None => {
                    close(ws).await;
                    break;
                }
            },
            // The stream is ending: a socket that has not met a keep-alive yet gets one now.
            changed = changes.changed(), if !probed => {
                let draining = shared.lock().streams.get(id).is_none_or(|s| s.draining);
                if changed.is_err() {
                    probed = true;
                    keep_alive_unprobed(shared, id, false);
                } else if draining && pending.is_none() {
                    probed = true;
                    let sent = request_keep_alive(shared, id, ws, &mut sequence, &mut pending, limit).await;
                    keep_alive_unprobed(shared, id, false);
                    if !sent {
                        break;
                    }
                }
            }
            _ = keep_alive.tick() => {
                let (quiet, draining) = shared.lock().streams.get(id).map_or((false, true), |s| {
                    let paused = s.keep_alives_paused_until.is_some_and(|t| Instant::now() < t);
                    (s.silent || paused, s.draining)
                });
                if quiet {
                    // A pause or a silence: the request pending is not judged.
                    if pending.take().is_some() {
                        keep_alive_pending(shared, id, false);
                    }
                    continue;
                }
                if let Some(p) = pending.take() {
                    misses += 1;
                    keep_alive_pending(shared, id, false);
                    let why = format!(
                        "KEEP_ALIVE_REQ sequence {} (timestamp {}) not answered within {interval:?}",
                        p.sequence, p.timestamp
                    );
                    shared.fail(id, check, why);
                    if misses >= 3 {
                        // As Zoom does; unregistered first, so nothing more is queued for it.
                        unregister(shared, id, cid);
                        close(ws).await;
                        break;
                    }
                }
                if draining {
                    continue;
                }
                let sent = request_keep_alive(shared, id, ws, &mut sequence, &mut pending, limit).await;
                if !probed {
                    probed = true;
                    keep_alive_unprobed(shared, id, false);
                }
                if !sent {
                    stalled(shared);
                    break;
                }
            }
        }
    }
    if !probed {
        keep_alive_unprobed(shared, id, false);
    }
    if pending.is_some() {
        keep_alive_pending(shared, id, false);
    }
}

// ---------------------------------------------------------------------------------------------
// The player
// ---------------------------------------------------------------------------------------------

/// The events subscribed to, sent when media starts: meetings and the like get participant
/// join (3) and active speaker (2); Contact Center gets user answered (10) and consumer
/// answered (8) with `participant_info`.
fn participant_events(shared: &Shared, id: &str) -> Vec<String> {
    let (product, subscribed) = match shared.lock().streams.get(id) {
        Some(s) => (s.spec.product, s.subscribed.clone()),
        None => return Vec::new(),
    };
    let ts = shared.now_ms();
    let events: Vec<(i64, String)> = if product == Product::ContactCenter {
        let info = |mode: &str, name: &str| {
            format!(
                r#""event_ts":{ts},"participant_info":{{"channel_id":"{CHANNEL_ID}","participant_mode":"{mode}","display_name":"{name}"}}"#
            )
        };
        vec![
            (
                10,
                format!(r#"{{"event_type":10,{}}}"#, info("agent", "Agent")),
            ),
            (
                8,
                format!(r#"{{"event_type":8,{}}}"#, info("caller", "Caller")),
            ),
        ]
    } else {
        vec![
            (
                3,
                format!(
                    r#"{{"event_type":3,"timestamp":{ts},"participants":[{{"user_id":{USER_ID},"user_name":"{USER_NAME}"}}]}}"#
                ),
            ),
            (
                2,
                format!(
                    r#"{{"event_type":2,"timestamp":{ts},"user_id":{USER_ID},"user_name":"{USER_NAME}"}}"#
                ),
            ),
        ]
    };
    events
        .into_iter()
        .filter(|(t, _)| subscribed.contains(t))
        .filter_map(|(_, json)| {
            Event::parse(&json)
                .ok()
                .map(|e| ServerMessage::EventUpdate(e).to_json())
        })
        .collect()
}

pub(super) fn ensure_player(shared: &Arc<Shared>, id: &str) {
    let mut st = shared.lock();
    if let Some(s) = st.streams.get_mut(id) {
        if !s.player {
            s.player = true;
            tokio::spawn(play(Arc::clone(shared), id.to_owned()));
        }
    }
}

/// The tone's amplitude for a stream: 4000 to 7999, derived from its id, so that two streams
/// never send the same audio (a client that mixes streams up gets a different SHA-256).
fn tone_amplitude(stream_id: &str) -> i64 {
    let h = stream_id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    4000 + (h % 4000) as i64
}

/// One L16 message of a deterministic 400 Hz triangle tone of amplitude `amp` (integer
/// arithmetic only), the `frame`-th of the stream, at the confirmed rate and channels.
pub(super) fn tone(frame: u64, format: &AudioFormat, amp: i64) -> Vec<u8> {
    let rate = u64::from(format.sample_rate_hz.unwrap_or(16_000));
    let samples = rate * u64::try_from(format.send_rate_ms).unwrap_or(20) / 1000;
    let period = (rate / 400).max(2) as i64;
    let mut out = Vec::with_capacity((samples * u64::from(format.channels) * 2) as usize);
    for i in 0..samples {
        let phase = ((frame * samples + i) % period as u64) as i64;
        let v = if 2 * phase < period {
            -amp + 4 * amp * phase / period
        } else {
            3 * amp - 4 * amp * phase / period
        };
        for _ in 0..format.channels {
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
    }
    out
}

/// What Zoom may stream but the simulator cannot play, and the status it refuses it with: G.711
/// and G.722 (no encoder here; Zoom's media parameter matrix allows them at 8 and 16 kHz), and
/// Opus at a send rate other than its 20 ms packets (the matrix's only Opus send rate).
fn unplayable(f: &AudioFormat) -> Option<(StatusCode, String)> {
    match f.codec {
        Codec::G711 | Codec::G722 => Some((
            StatusCode::InvalidMediaAudioCodec,
            format!(
                "the simulator plays L16 and Opus audio, not {}",
                f.codec.description()
            ),
        )),
        Codec::Opus if f.send_rate_ms != opus::PACKET_MS => Some((
            StatusCode::InvalidMediaAudioSendRate,
            format!(
                "Opus is sent in {} ms packets, not every {} ms",
                opus::PACKET_MS,
                f.send_rate_ms
            ),
        )),
        _ => None,
    }
}

/// One audio message's payload, the `frame`-th of the stream: the tone as L16, or for Opus the
/// `frame`-th packet of a real Opus encoding of the same tone (at a fixed amplitude, so every
/// Opus stream sends the same bytes). `None` for what [`unplayable`] refuses.
fn audio_payload(frame: u64, format: &AudioFormat, amp: i64) -> Option<Vec<u8>> {
    match format.codec {
        Codec::Opus => {
            let channels = u8::try_from(format.channels).ok()?;
            opus::packet(channels, frame).map(<[u8]>::to_vec)
        }
        Codec::G711 | Codec::G722 => None,
        _ => Some(tone(frame, format, amp)),
    }
}

/// What makes two audio messages equal: the tone's phase and the format, or for Opus the
/// packet.
fn audio_key(frame: u64, format: &AudioFormat) -> (u64, AudioFormat) {
    if format.codec == Codec::Opus {
        (frame, *format)
    } else {
        tone_key(frame, format)
    }
}

/// What makes two messages of the tone equal: the phase they start at, and the format.
fn tone_key(frame: u64, format: &AudioFormat) -> (u64, AudioFormat) {
    let rate = u64::from(format.sample_rate_hz.unwrap_or(16_000));
    let samples = rate * u64::try_from(format.send_rate_ms).unwrap_or(20) / 1000;
    let period = (rate / 400).max(2);
    ((frame * samples) % period, *format)
}

enum Ready {
    Go {
        audio_id: u64,
        audio: Outbox,
        format: AudioFormat,
        transcript: Option<Outbox>,
        video: Option<Video>,
        signaling: Option<Outbox>,
    },
    Rejected,
    Aborted,
    ClosedByClient,
    Stopped,
    Timeout(Option<Awaiting>),
}

/// Why a reconnect `after` the fault `cause` broke the bounds: later than the reconnect
/// `window` (the protocol: the stream ends), and sooner than the first backoff step `min`
/// (advice); `None` within each.
fn reconnect_breach(
    did: &str,
    cause: &str,
    after: Duration,
    min: Duration,
    window: Duration,
) -> (Option<String>, Option<String>) {
    let late =
        (after > window).then(|| format!("{did} {after:?} after {cause}, beyond {window:?}"));
    let early =
        (after < min).then(|| format!("{did} {after:?} after {cause}, before the {min:?} backoff"));
    (late, early)
}

/// A socket that carries video, and whether it carries one subscribed participant
/// (`data_opt` 4: nothing until a subscription, message type 28) or the active speaker.
struct Video {
    tx: Outbox,
    individual: bool,
}

/// The video frame the simulator sends: a 16x16 JPEG (305 bytes).
const VIDEO_FRAME: &[u8] = include_bytes!("frame.jpg");
/// A video frame goes with every tenth audio message: 5 fps at the default 20 ms, the JPG
/// limit.
const VIDEO_EVERY: u64 = 10;

/// Waits for an acknowledged audio socket on the current server.
async fn wait_ready(shared: &Shared, id: &str, window: Duration) -> (Ready, bool) {
    let deadline = Instant::now() + window;
    let Some(mut rx) = shared.lock().streams.get(id).map(|s| s.changed.subscribe()) else {
        return (Ready::ClosedByClient, false);
    };
    let mut waited = false;
    loop {
        {
            let st = shared.lock();
            let Some(s) = st.streams.get(id) else {
                return (Ready::ClosedByClient, waited);
            };
            if s.done {
                return (Ready::Stopped, waited);
            }
            if s.aborted.is_some() {
                return (Ready::Aborted, waited);
            }
            if s.closed_by_client {
                return (Ready::ClosedByClient, waited);
            }
            if s.rejected.is_some() || s.refusable_media {
                return (Ready::Rejected, waited);
            }
            let usable = |kind| {
                s.media
                    .iter()
                    .find(|m| m.conn.gen == s.gen && m.acked && m.kinds.includes(kind))
            };
            if let Some(m) = usable(MediaKind::Audio).filter(|_| !s.silent) {
                let ready = Ready::Go {
                    audio_id: m.conn.id,
                    audio: m.conn.tx.clone(),
                    format: m.format,
                    transcript: usable(MediaKind::Transcript).map(|t| t.conn.tx.clone()),
                    video: usable(MediaKind::Video).map(|v| Video {
                        tx: v.conn.tx.clone(),
                        individual: v.video_opt == Some(DataOption::VideoSingleIndividualStream),
                    }),
                    signaling: s.signaling.as_ref().map(|c| c.tx.clone()),
                };
                return (ready, waited);
            }
            if waited && Instant::now() >= deadline {
                return (Ready::Timeout(s.awaiting.map(|(a, _)| a)), waited);
            }
        }
        waited = true;
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            // Re-check once more, then time out.
            continue;
        }
    }
}

async fn play(shared: Arc<Shared>, id: String) {
    let amp = tone_amplitude(&id);
    let contact_center = shared
        .lock()
        .streams
        .get(&id)
        .is_some_and(|s| s.spec.product == Product::ContactCenter);
    let Some((frames, every, mut faults, end)) = shared.lock().streams.get(&id).map(|s| {
        let mut faults: Vec<Fault> = s
            .spec
            .faults
            .iter()
            .filter(|f| f.after_frames().is_some())
            .cloned()
            .collect();
        faults.sort_by_key(|f| f.after_frames());
        (
            s.spec.audio_frames,
            s.spec.transcript_every,
            faults,
            s.spec.end,
        )
    }) else {
        return;
    };
    let mut replay = shared
        .lock()
        .streams
        .get(&id)
        .and_then(|s| replay::Player::of(&s.spec));
    let frames = replay.as_ref().map_or(frames, |r| r.frames(frames));
    let window = shared.config.reconnect_window;
    let mut sent = 0u64;
    let mut first_ts: Option<i64> = None;
    let mut active = false;
    let mut next_at = Instant::now();
    let mut wait_window = window;
    let mut cache: Option<((u64, AudioFormat), Vec<u8>, String)> = None;
    loop {
        if faults.first().and_then(Fault::after_frames) == Some(sent) {
            let fault = faults.remove(0);
            if let Some(w) = inject(&shared, &id, &fault).await {
                wait_window = w;
            }
            continue;
        }
        // A keep-alive pause is waited out with media flowing: the stream does not end in it.
        if sent >= frames && !keep_alives_paused(&shared, &id) {
            break;
        }
        let (ready, waited) = wait_ready(&shared, &id, wait_window).await;
        let silence = wait_window;
        wait_window = window;
        let (audio_id, audio, format, transcript, video, signaling) = match ready {
            Ready::Go {
                audio_id,
                audio,
                format,
                transcript,
                video,
                signaling,
            } => (audio_id, audio, format, transcript, video, signaling),
            Ready::Rejected => {
                let refusable = shared
                    .lock()
                    .streams
                    .get(&id)
                    .is_some_and(|s| s.refusable_media);
                tokio::time::sleep(shared.config.observe_window).await;
                shared.ok(&id, if refusable { "refused_url" } else { "gives_up" });
                close_all(&shared, &id);
                finish(&shared, &id);
                return;
            }
            Ready::Stopped => return,
            Ready::Aborted => {
                close_all(&shared, &id);
                finish(&shared, &id);
                return;
            }
            Ready::ClosedByClient => {
                shared.ok(&id, "stream_close");
                finish(&shared, &id);
                return;
            }
            Ready::Timeout(Some(Awaiting::Watchdog)) => {
                let why = format!("no new signalling handshake within {silence:?} of silence");
                shared.fail(&id, "watchdog_fires", why);
                if let Some(s) = shared.lock().streams.get_mut(&id) {
                    s.silent = false;
                    s.awaiting = None;
                    s.notify();
                }
                // Media resumes at its pace after the silence, not in a burst.
                next_at = Instant::now();
                continue;
            }
            Ready::Timeout(awaiting) => {
                let check = awaiting.map_or("media_ready", Awaiting::check);
                let why = not_ready_why(&shared, &id, window, awaiting);
                shared.fail(&id, check, why);
                terminate(&shared, &id, StopReason::AwaitReconnectionTimeout).await;
                finish(&shared, &id);
                return;
            }
        };
        if waited {
            next_at = Instant::now();
        }
        if !active {
            active = true;
            if let Some(sig) = &signaling {
                let _ = sig.text(stream_state(&shared, StreamState::Active, None));
                // A replay sends the recorded events instead.
                for event in participant_events(&shared, &id)
                    .into_iter()
                    .filter(|_| replay.is_none())
                {
                    let _ = sig.text(event);
                }
            }
        }
        if let Some(replay) = replay.as_mut() {
            if replay.step(&shared, &id, audio_id, &mut next_at).await {
                sent += 1;
                tokio::time::sleep_until(next_at).await;
            }
            continue;
        }
        let send_rate = format.send_rate_ms.max(20);
        let start = *first_ts.get_or_insert_with(|| shared.now_ms());
        let ts = start + sent as i64 * send_rate;
        // The tone repeats with its phase: encode each (phase, format) once.
        let key = audio_key(sent, &format);
        if cache.as_ref().is_none_or(|(k, _, _)| *k != key) {
            let Some(pcm) = audio_payload(sent, &format, amp) else {
                break; // refused at the data handshake (`unplayable`)
            };
            let data = base64::engine::general_purpose::STANDARD.encode(&pcm);
            cache = Some((key, pcm, data));
        }
        let Some((_, pcm, data)) = cache.as_ref() else {
            continue;
        };
        let multi = format.data_opt == DataOption::AudioMultiStreams;
        let frame = ServerMessage::Audio(MediaData {
            user_id: (!contact_center).then_some(if multi { USER_ID } else { 0 }),
            user_name: (multi && !contact_center).then_some(Cow::Borrowed(USER_NAME)),
            channel_id: contact_center.then_some(Cow::Borrowed(CHANNEL_ID)),
            data: Some(Cow::Borrowed(data)),
            length: Some(pcm.len() as i64),
            timestamp: Some(ts),
        })
        .to_json();
        // Sent and counted together, while the socket is registered: a socket is closed by
        // queueing `Out::Close` after removing it, so a frame queued here goes out before that.
        let queued = {
            let mut st = shared.lock();
            match st.streams.get_mut(&id) {
                Some(s) if s.media.iter().any(|m| m.conn.id == audio_id) => {
                    let queued = audio.text(frame);
                    if queued.is_ok() {
                        s.hasher.update(pcm);
                        s.frames_sent += 1;
                    }
                    queued
                }
                _ => Err(Unsent::Gone),
            }
        };
        match queued {
            Ok(()) => {}
            // The socket is gone: wait for the next one.
            Err(Unsent::Gone) => continue,
            // The client does not read: the frame is dropped (not counted, not hashed) and
            // the stream goes on at its pace, so memory and time stay bounded.
            Err(Unsent::Full) => shared.fail(
                &id,
                "keeps_up",
                format!("the client stopped reading its audio socket ({} messages queued); audio was dropped", super::SEND_QUEUE),
            ),
        }
        sent += 1;
        if let Some(v) = video.filter(|_| sent % VIDEO_EVERY == 1 && !contact_center) {
            // The subscribed participant's video, or the active speaker's.
            let user = if v.individual {
                shared.lock().streams.get(&id).and_then(|s| s.video_user)
            } else {
                Some(USER_ID)
            };
            if let Some(user) = user {
                let frame = ServerMessage::Video(MediaData {
                    user_id: Some(user),
                    user_name: Some(Cow::Borrowed(USER_NAME)),
                    channel_id: None,
                    data: Some(Cow::Owned(
                        base64::engine::general_purpose::STANDARD.encode(VIDEO_FRAME),
                    )),
                    length: Some(VIDEO_FRAME.len() as i64),
                    timestamp: Some(ts),
                })
                .to_json();
                if v.tx.text(frame).is_ok() {
                    if let Some(s) = shared.lock().streams.get_mut(&id) {
                        s.video_frames_sent += 1;
                    }
                }
            }
        }
        if every > 0 && sent % every == 0 {
            if let Some(t) = transcript {
                let n = sent / every;
                let span = every as i64 * send_rate;
                let text = format!("utterance {n} of stream {id}");
                let msg = ServerMessage::Transcript(Transcript {
                    user_id: (!contact_center).then_some(USER_ID),
                    user_name: (!contact_center).then_some(Cow::Borrowed(USER_NAME)),
                    channel_id: contact_center.then_some(Cow::Borrowed(CHANNEL_ID)),
                    text: Some(Cow::Owned(text)),
                    language: Some(TranscriptLanguage::English),
                    start_time: Some(ts - span + send_rate),
                    end_time: Some(ts + send_rate),
                    timestamp: Some(ts - span + send_rate),
                    attribute: None,
                })
                .to_json();
                if t.text(msg).is_ok() {
                    if let Some(s) = shared.lock().streams.get_mut(&id) {
                        s.transcripts_sent += 1;
                    }
                }
            }
        }
        next_at += Duration::from_millis(send_rate as u64);
        tokio::time::sleep_until(next_at).await;
    }
    shared.ok(&id, "audio_delivered");
    shared.ok(&id, "keeps_up");
    drain_keep_alives(&shared, &id).await;
    match end {
        End::RtmsStopped => {
            let hook = {
                let mut st = shared.lock();
                let Some(s) = st.streams.get_mut(&id) else {
                    return;
                };
                s.ended = Some(Instant::now());
                webhook::stopped(&shared, &s.spec, StopReason::MeetingEnded)
            };
            let _ = shared.deliver(hook).await;
            let deadline = Instant::now() + CLOSE_ON_STOPPED;
            let mut rx = shared
                .lock()
                .streams
                .get(&id)
                .map(|s| s.changed.subscribe());
            loop {
                let open = shared
                    .lock()
                    .streams
                    .get(&id)
                    .is_some_and(|s| s.signaling.is_some() || !s.media.is_empty());
                if !open {
                    shared.ok(&id, "closes_on_stopped");
                    break;
                }
                let changed = async {
                    match rx.as_mut() {
                        Some(rx) => rx.changed().await.is_ok(),
                        None => false,
                    }
                };
                if tokio::time::timeout_at(deadline, changed).await.is_err() {
                    settle().await;
                    let open = shared
                        .lock()
                        .streams
                        .get(&id)
                        .is_some_and(|s| s.signaling.is_some() || !s.media.is_empty());
                    if !open {
                        shared.ok(&id, "closes_on_stopped");
                        break;
                    }
                    let why = format!("sockets still open {CLOSE_ON_STOPPED:?} after rtms_stopped");
                    shared.fail(&id, "closes_on_stopped", why);
                    close_all(&shared, &id);
                    break;
                }
            }
        }
        End::SessionStopped => {
            if let Some(c) = shared
                .lock()
                .streams
                .get(&id)
                .and_then(|s| s.signaling.as_ref())
            {
                let stopped = ServerMessage::SessionStateUpdate(SessionStateInfo {
                    state: Some(SessionState::Stopped),
                    stop_reason: Some(StopReason::MeetingEnded),
                    timestamp: Some(shared.now_ms()),
                    rtms_session_id: Some(Cow::Owned(format!("{id}-session"))),
                })
                .to_json();
                let _ = c.tx.text(stopped);
            }
            close_after_end(&shared, &id, StopReason::MeetingEnded).await;
        }
        _ => terminate(&shared, &id, StopReason::MeetingEnded).await,
    }
    tokio::time::sleep(shared.config.observe_window).await;
    shared.ok(&id, "stops_after_end");
    finish(&shared, &id);
}

/// Whether the stream's keep-alives are paused now (fault [`Fault::PauseKeepAlives`]).
fn keep_alives_paused(shared: &Shared, id: &str) -> bool {
    shared.lock().streams.get(id).is_some_and(|s| {
        s.keep_alives_paused_until
            .is_some_and(|t| Instant::now() < t)
    })
}

/// Before the end: every socket that has not met a keep-alive is sent one, then no new one,
/// and the pending ones are answered or judged (each by the next tick of its socket), so that
/// a client that never answers fails however short the stream.
async fn drain_keep_alives(shared: &Shared, id: &str) {
    let Some(mut rx) = shared.lock().streams.get_mut(id).map(|s| {
        s.draining = true;
        let rx = s.changed.subscribe();
        // Wakes the sockets that still owe a first keep-alive.
        s.notify();
        rx
    }) else {
        return;
    };
    // Each pending request is settled by the next tick at the latest; the margin covers a
    // tick delayed by a busy runtime.
    let deadline = Instant::now() + shared.config.keep_alive_interval * 2;
    loop {
        let waiting = shared
            .lock()
            .streams
            .get(id)
            .map_or(0, |s| s.keep_alives_pending + s.keep_alives_unprobed);
        if waiting == 0 {
            return;
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Why no acknowledged audio socket came within `window` (after the fault `awaiting`, if any):
/// what the client did and did not do.
fn not_ready_why(
    shared: &Shared,
    id: &str,
    window: Duration,
    awaiting: Option<Awaiting>,
) -> String {
    let st = shared.lock();
    let made = |check| st.has(check, id);
    let signalling_open = st.streams.get(id).is_some_and(|s| s.signaling.is_some());
    match awaiting {
        Some(Awaiting::DuplicateRetry) => format!(
            "no new signalling handshake within {window:?} after status 8 \
             (DUPLICATE_SIGNAL_REQUEST), which asks for a retry"
        ),
        Some(Awaiting::MediaRedial) if !signalling_open => format!(
            "no media redial within {window:?} after event 7; the client closed its signalling \
             socket too (event 7 asks to redial the media socket only)"
        ),
        Some(Awaiting::MediaRedial) => format!("no media redial within {window:?} after event 7"),
        Some(Awaiting::SignalingRedial) => {
            format!("no new signalling handshake within {window:?} after rtms_interrupted")
        }
        Some(Awaiting::Failover) => format!(
            "no handshake with the new server within {window:?} of the failover's rtms_started"
        ),
        _ if !made("signaling_handshake") => format!(
            "no signalling handshake within {window:?} of rtms_started: did the app get the \
             webhook, and does its host policy allow 127.0.0.1 over ws:// (a refused URL is \
             never dialled)?"
        ),
        _ if !made("media_params") => {
            format!("a signalling handshake but no data handshake within {window:?}")
        }
        _ => format!("no audio socket acknowledged with CLIENT_READY_ACK within {window:?}"),
    }
}

pub(super) fn close_all(shared: &Shared, id: &str) {
    let mut st = shared.lock();
    if let Some(s) = st.streams.get_mut(id) {
        if let Some(c) = s.signaling.take() {
            c.tx.close();
        }
        for m in s.media.drain(..) {
            m.conn.tx.close();
        }
        s.unacked.clear();
        s.notify();
    }
}

/// Stream state 4 with `reason` on signalling, every socket closed, then `*_rtms_stopped`.
async fn terminate(shared: &Shared, id: &str, reason: StopReason) {
    if let Some(c) = shared
        .lock()
        .streams
        .get(id)
        .and_then(|s| s.signaling.as_ref())
    {
        let state = stream_state(shared, StreamState::Terminated, Some(reason));
        let _ = c.tx.text(state);
    }
    close_after_end(shared, id, reason).await;
}

/// The stream is over: every socket closed, then `*_rtms_stopped`.
async fn close_after_end(shared: &Shared, id: &str, reason: StopReason) {
    let hook = {
        let mut st = shared.lock();
        let Some(s) = st.streams.get_mut(id) else {
            return;
        };
        s.ended = Some(Instant::now());
        webhook::stopped(shared, &s.spec, reason)
    };
    close_all(shared, id);
    let _ = shared.deliver(hook).await;
}

fn finish(shared: &Shared, id: &str) {
    let mut st = shared.lock();
    let paused = st.streams.get(id).is_some_and(|s| {
        s.spec
            .faults
            .iter()
            .any(|f| matches!(f, Fault::PauseKeepAlives { .. }))
    });
    if paused {
        st.record(id, "watchdog_not_early", None);
    }
    if let Some(s) = st.streams.get_mut(id) {
        s.done = true;
        s.notify();
    }
}

/// Applies a fault; `Some(window)` when the next wait for a ready socket lasts `window`.
async fn inject(shared: &Shared, id: &str, fault: &Fault) -> Option<Duration> {
    let now = Instant::now();
    let hook = {
        let mut st = shared.lock();
        st.next_gen += 1;
        let next_gen = st.next_gen;
        let s = st.streams.get_mut(id)?;
        match fault {
            Fault::PauseKeepAlives { duration, .. } => {
                s.keep_alives_paused_until = Some(now + *duration);
                None
            }
            Fault::Silence { duration, .. } => {
                s.silent = true;
                s.awaiting = Some((Awaiting::Watchdog, now));
                s.notify();
                drop(st);
                return Some(*duration);
            }
            Fault::DropMedia { .. } => {
                s.media.retain(|m| {
                    let drop = m.kinds.includes(MediaKind::Audio);
                    if drop {
                        m.conn.tx.close();
                    }
                    !drop
                });
                let live: Vec<u64> = s.media.iter().map(|m| m.conn.id).collect();
                s.unacked.retain(|c| live.contains(c));
                if let Some(c) = &s.signaling {
                    let _ = c.tx.text(event_frame(shared, 7));
                }
                s.awaiting = Some((Awaiting::MediaRedial, now));
                s.notify();
                None
            }
            Fault::DropSignaling { .. } => {
                s.awaiting = Some((Awaiting::SignalingRedial, now));
                let hook = webhook::interrupted(shared, &s.spec);
                drop(st);
                close_all(shared, id);
                Some(hook)
            }
            Fault::Failover { .. } => {
                s.gen = next_gen;
                s.awaiting = Some((Awaiting::Failover, now));
                s.notify();
                Some(webhook::started(shared, &s.spec, next_gen))
            }
            _ => None,
        }
    };
    if let Some(hook) = hook {
        let _ = shared.deliver(hook).await;
    }
    None
}
