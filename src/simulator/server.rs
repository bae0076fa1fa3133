//! The tokio driver of the simulator's [`Core`]: the sockets (signalling and media on one
//! port, routed by path), the core's timers, and the webhook deliveries. Every decision is the
//! core's; this only moves bytes and time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;
use tokio_websockets::{CloseCode, Limits, Message, ServerBuilder, WebSocketStream};

use super::core::{Core, Delivered, Output};
use super::{webhook, SignedWebhook, SimError, SEND_QUEUE};
use crate::protocol::session::SocketId;

/// The largest message a client may send (its largest, a data handshake, is a few hundred
/// bytes): a larger one closes the socket.
const MAX_CLIENT_MESSAGE: usize = 1 << 20;

/// The driver's clock: tokio's (paused in tests).
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// What the simulator's tasks share.
pub(super) struct Shared {
    pub(super) addr: SocketAddr,
    inner: Mutex<Inner>,
    /// Wakes the timer task when the core's next timeout moved earlier.
    wake: Notify,
    webhook_tx: mpsc::UnboundedSender<SignedWebhook>,
    webhook_url: Option<String>,
    interval: Duration,
}

pub(super) struct Inner {
    pub(super) core: Core,
    outboxes: HashMap<SocketId, Outbox>,
    /// `start_stream` calls waiting for their webhook's delivery.
    waiters: HashMap<u64, Waiter>,
    /// `finished` calls waiting for their stream.
    finishing: HashMap<String, Vec<oneshot::Sender<()>>>,
    /// The deliveries under way (aborted with the simulator).
    posts: JoinSet<()>,
    /// The time the timer task sleeps until.
    armed: Option<std::time::Instant>,
}

impl Inner {
    /// Aborts the deliveries under way.
    pub(super) fn stop_posts(&mut self) {
        self.posts.abort_all();
    }
}

struct Waiter {
    hook: Option<SignedWebhook>,
    tx: oneshot::Sender<Result<SignedWebhook, SimError>>,
}

impl Shared {
    pub(super) fn new(
        core: Core,
        addr: SocketAddr,
        webhook_tx: mpsc::UnboundedSender<SignedWebhook>,
    ) -> Self {
        let webhook_url = core.config().webhook_url.clone();
        let interval = core.config().keep_alive_interval;
        Shared {
            addr,
            inner: Mutex::new(Inner {
                core,
                outboxes: HashMap::new(),
                waiters: HashMap::new(),
                finishing: HashMap::new(),
                posts: JoinSet::new(),
                armed: None,
            }),
            wake: Notify::new(),
            webhook_tx,
            webhook_url,
            interval,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Carries out what the core asks for, after any input.
    pub(super) fn pump(self: &Arc<Self>, inner: &mut Inner) {
        while let Some(output) = inner.core.poll_output() {
            match output {
                Output::Send {
                    socket,
                    text,
                    urgent,
                } => {
                    let full = inner
                        .outboxes
                        .get(&socket)
                        .is_some_and(|tx| tx.text(text, urgent) == Err(Unsent::Full));
                    if full {
                        inner.core.handle_dropped(now(), socket);
                    }
                }
                Output::Close { socket } => {
                    if let Some(tx) = inner.outboxes.remove(&socket) {
                        tx.close();
                    }
                }
                Output::Deliver(delivery) => {
                    let signed = delivery.hook.sign(&delivery.secret);
                    if !delivery.repost {
                        let _ = self.webhook_tx.send(signed.clone());
                    }
                    let Some(url) = self.webhook_url.clone() else {
                        if let Some(w) = inner.waiters.remove(&delivery.id) {
                            let _ = w.tx.send(Ok(signed));
                        }
                        continue;
                    };
                    if let Some(w) = inner.waiters.get_mut(&delivery.id) {
                        w.hook.get_or_insert_with(|| signed.clone());
                    }
                    while inner.posts.try_join_next().is_some() {}
                    let shared = Arc::clone(self);
                    let id = delivery.id;
                    inner.posts.spawn(async move {
                        let outcome = match webhook::post(&url, &signed).await {
                            Ok(()) => Delivered::Acked,
                            Err(e) if e.refused => Delivered::Refused(e.why),
                            Err(e) => Delivered::Failed(e.why),
                        };
                        let mut inner = shared.lock();
                        let result = inner.core.handle_delivered(now(), id, outcome);
                        if let Some(result) = result {
                            if let Some(w) = inner.waiters.remove(&id) {
                                let hook = w.hook.unwrap_or(signed);
                                let _ = w.tx.send(result.map(|()| hook).map_err(SimError::Webhook));
                            }
                        }
                        shared.pump(&mut inner);
                    });
                }
            }
        }
        for id in inner.core.take_finished() {
            for waiter in inner.finishing.remove(&id).unwrap_or_default() {
                let _ = waiter.send(());
            }
        }
        let next = inner.core.poll_timeout();
        if next.is_some_and(|t| inner.armed.is_none_or(|armed| t < armed)) {
            inner.armed = next;
            self.wake.notify_one();
        }
    }

    /// Waits until the stream's script is over (an unknown stream's is).
    pub(super) async fn finished(&self, rtms_stream_id: &str) {
        let rx = {
            let mut inner = self.lock();
            if inner.core.is_finished(rtms_stream_id) {
                return;
            }
            let (tx, rx) = oneshot::channel();
            inner
                .finishing
                .entry(rtms_stream_id.to_owned())
                .or_default()
                .push(tx);
            rx
        };
        // An error: the simulator is gone.
        let _ = rx.await;
    }

    /// Starts the stream; its `rtms_started` once delivered (or handed out).
    pub(super) async fn start_stream(
        self: &Arc<Self>,
        rtms_stream_id: &str,
    ) -> Result<SignedWebhook, SimError> {
        let rx = {
            let mut inner = self.lock();
            let (id, _) = inner.core.start_stream(now(), rtms_stream_id)?;
            let (tx, rx) = oneshot::channel();
            inner.waiters.insert(id, Waiter { hook: None, tx });
            self.pump(&mut inner);
            rx
        };
        rx.await
            .unwrap_or_else(|_| Err(SimError::Webhook("the simulator stopped".into())))
    }
}

/// Runs the core's timers.
pub(super) async fn timer_loop(shared: Arc<Shared>) {
    loop {
        let next = {
            let mut inner = shared.lock();
            let next = inner.core.poll_timeout();
            inner.armed = next;
            next
        };
        let woken = shared.wake.notified();
        match next {
            Some(t) => {
                tokio::select! {
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(t)) => {
                        // Lets the socket tasks woken at the same instant hand their messages
                        // in first: with paused tokio time, an answer that arrives with its
                        // deadline is no miss.
                        for _ in 0..4 {
                            tokio::task::yield_now().await;
                        }
                        let mut inner = shared.lock();
                        inner.core.handle_timeout(now());
                        shared.pump(&mut inner);
                    }
                    () = woken => {}
                }
            }
            None => woken.await,
        }
    }
}

pub(super) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    // Every socket's task ends with this loop (when the simulator is dropped).
    let mut sockets = JoinSet::new();
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
async fn send_within<S>(ws: &mut WebSocketStream<S>, text: String, limit: Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    matches!(
        tokio::time::timeout(limit, ws.send(Message::text(text))).await,
        Ok(Ok(()))
    )
}

/// Sends a close frame; a client that does not take it within a few seconds is left to the
/// socket's drop.
async fn close<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) {
    let close = ws.send(Message::close(Some(CloseCode::NORMAL_CLOSURE), ""));
    let _ = tokio::time::timeout(Duration::from_secs(5), close).await;
}

/// Serves one connection: the WebSocket handshake, then the core's socket until either side
/// closes it (a TCP connection of the accept loop, or one handed to
/// [`Simulator::serve_connection`](super::Simulator::serve_connection)).
pub(super) async fn serve<S>(shared: Arc<Shared>, io: S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = Limits::default().max_payload_len(Some(MAX_CLIENT_MESSAGE));
    let Ok((request, mut ws)) = ServerBuilder::new().limits(limits).accept(io).await else {
        return;
    };
    let path = request.uri().path().to_owned();
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (tx, mut inbox) = Outbox::new();
    let socket = {
        let mut inner = shared.lock();
        let socket = inner.core.handle_opened(now(), &path, &host);
        inner.outboxes.insert(socket, tx);
        shared.pump(&mut inner);
        socket
    };
    // A client that does not take a message within a keep-alive interval has stopped reading.
    let limit = shared.interval;
    loop {
        tokio::select! {
            // What the client sent first: an answer that arrived with a timer is no miss.
            biased;
            frame = ws.next() => {
                let msg = match frame {
                    Some(Ok(msg)) if !msg.is_close() => msg,
                    _ => break,
                };
                if msg.is_text() || msg.is_binary() {
                    let bytes = msg.into_payload();
                    let mut inner = shared.lock();
                    inner.core.handle_message(now(), socket, &bytes);
                    shared.pump(&mut inner);
                }
            }
            () = inbox.close.notified() => {
                // What was queued before the close still goes out first.
                while let Ok(text) = inbox.urgent.try_recv().or_else(|_| inbox.rx.try_recv()) {
                    if !send_within(&mut ws, text, limit).await {
                        break;
                    }
                }
                close(&mut ws).await;
                break;
            }
            // Urgent messages (keep-alive requests) first.
            out = async {
                tokio::select! {
                    biased;
                    Some(text) = inbox.urgent.recv() => Some(text),
                    text = inbox.rx.recv() => text,
                }
            } => match out {
                Some(text) => {
                    if !send_within(&mut ws, text, limit).await {
                        let mut inner = shared.lock();
                        inner.outboxes.remove(&socket);
                        inner.core.handle_stalled(now(), socket);
                        shared.pump(&mut inner);
                        return;
                    }
                }
                None => break,
            },
        }
    }
    let mut inner = shared.lock();
    inner.outboxes.remove(&socket);
    inner.core.handle_closed(now(), socket);
    shared.pump(&mut inner);
}

/// Why a message was not queued on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsent {
    /// The socket is gone.
    Gone,
    /// Its queue is full: the client does not read.
    Full,
}

/// How many urgent messages (keep-alive requests) may wait for one socket.
const URGENT_QUEUE: usize = 16;

/// What the server sends on one socket: a bounded queue of messages, a shorter one for urgent
/// messages written ahead of it, and a close that never waits for room (everything queued
/// before it is still written first).
struct Outbox {
    tx: mpsc::Sender<String>,
    urgent: mpsc::Sender<String>,
    close: Arc<Notify>,
}

/// The socket task's side of an [`Outbox`].
struct Inbox {
    rx: mpsc::Receiver<String>,
    urgent: mpsc::Receiver<String>,
    close: Arc<Notify>,
}

impl Outbox {
    fn new() -> (Outbox, Inbox) {
        let (tx, rx) = mpsc::channel(SEND_QUEUE);
        let (urgent, urgent_rx) = mpsc::channel(URGENT_QUEUE);
        let close = Arc::new(Notify::new());
        let inbox = Inbox {
            rx,
            urgent: urgent_rx,
            close: Arc::clone(&close),
        };
        (Outbox { tx, urgent, close }, inbox)
    }

    /// Queues `text` without waiting (`urgent`: ahead of the others).
    fn text(&self, text: String, urgent: bool) -> Result<(), Unsent> {
        let queue = if urgent { &self.urgent } else { &self.tx };
        queue.try_send(text).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Unsent::Full,
            mpsc::error::TrySendError::Closed(_) => Unsent::Gone,
        })
    }

    /// Closes the socket once what is queued is written.
    fn close(&self) {
        self.close.notify_one();
    }
}
