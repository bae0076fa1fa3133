//! The tokio driver of the simulator's [`Core`]: the sockets (signalling and media on one
//! port, routed by path), the core's timers, and the webhook deliveries. Every decision is the
//! core's; this only moves bytes and time.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
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

/// How a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Done,
    /// The socket failed (the client closed or reset it).
    Failed,
    /// The client did not take it within the limit: it stopped reading.
    Stalled,
}

/// Writes `batch` to the client, flushed once, within `limit` (a client that takes nothing
/// for that long stopped reading: the socket is to be dropped). The common case, a socket with
/// room, is done at the first poll, with no timer set.
async fn send_within<S>(
    ws: &mut WebSocketStream<S>,
    batch: &mut Vec<String>,
    limit: Duration,
) -> Written
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let write = async {
        for text in batch.drain(..) {
            ws.feed(Message::text(text)).await?;
        }
        ws.flush().await
    };
    let mut write = std::pin::pin!(write);
    let first = std::future::poll_fn(|cx| match write.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(Some(result)),
        Poll::Pending => Poll::Ready(None),
    })
    .await;
    let result = match first {
        Some(result) => result,
        None => match tokio::time::timeout(limit, write).await {
            Ok(result) => result,
            Err(_) => return Written::Stalled,
        },
    };
    match result {
        Ok(()) => Written::Done,
        Err(_) => Written::Failed,
    }
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
    let mut batch = Vec::new();
    loop {
        // The first message of a batch to write, if any.
        let first = tokio::select! {
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
                continue;
            }
            // Urgent messages (keep-alive requests) first; then what else is queued.
            first = inbox.urgent.recv() => match first {
                Some(Urgent::Text(text)) => {
                    inbox.waiting.fetch_sub(1, Ordering::Relaxed);
                    text
                }
                // What was queued before the close still goes out first.
                Some(Urgent::Close) | None => {
                    while let Some(text) = inbox.try_next() {
                        batch.push(text);
                    }
                    if send_within(&mut ws, &mut batch, limit).await == Written::Done {
                        close(&mut ws).await;
                    }
                    break;
                }
            },
            first = inbox.rx.recv() => match first {
                Some(text) => {
                    inbox.queued.fetch_sub(1, Ordering::Relaxed);
                    text
                }
                None => break,
            },
        };
        // Everything queued behind it, written together and flushed once.
        batch.push(first);
        let closing = inbox.drain(&mut batch);
        match send_within(&mut ws, &mut batch, limit).await {
            Written::Done => {}
            Written::Failed => break,
            Written::Stalled => return stalled(&shared, socket),
        }
        if closing {
            close(&mut ws).await;
            break;
        }
    }
    let mut inner = shared.lock();
    inner.outboxes.remove(&socket);
    inner.core.handle_closed(now(), socket);
    shared.pump(&mut inner);
}

/// The client took no message within the limit: the socket is dropped, the core told.
fn stalled(shared: &Arc<Shared>, socket: SocketId) {
    let mut inner = shared.lock();
    inner.outboxes.remove(&socket);
    inner.core.handle_stalled(now(), socket);
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

/// The most messages written to a socket before one flush.
const BATCH: usize = 64;

/// What goes ahead of the messages queued for a socket.
enum Urgent {
    /// A keep-alive request.
    Text(String),
    /// Close the socket once what is queued is written.
    Close,
}

/// What the server sends on one socket: a bounded queue of messages, a shorter one for urgent
/// messages written ahead of it, and a close that never waits for room (everything queued
/// before it is still written first).
struct Outbox {
    /// The messages; those waiting are counted in `queued` (at most [`SEND_QUEUE`]).
    tx: mpsc::UnboundedSender<String>,
    queued: Arc<AtomicUsize>,
    /// Urgent messages and the close; the urgent messages waiting are counted in `waiting`
    /// (a close never waits for room).
    urgent: mpsc::UnboundedSender<Urgent>,
    waiting: Arc<AtomicUsize>,
}

/// The socket task's side of an [`Outbox`].
struct Inbox {
    rx: mpsc::UnboundedReceiver<String>,
    queued: Arc<AtomicUsize>,
    urgent: mpsc::UnboundedReceiver<Urgent>,
    waiting: Arc<AtomicUsize>,
}

impl Outbox {
    fn new() -> (Outbox, Inbox) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (urgent, urgent_rx) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let queued = Arc::new(AtomicUsize::new(0));
        let inbox = Inbox {
            rx,
            queued: Arc::clone(&queued),
            urgent: urgent_rx,
            waiting: Arc::clone(&waiting),
        };
        (
            Outbox {
                tx,
                queued,
                urgent,
                waiting,
            },
            inbox,
        )
    }

    /// Queues `text` without waiting (`urgent`: ahead of the others).
    fn text(&self, text: String, urgent: bool) -> Result<(), Unsent> {
        let (count, limit) = if urgent {
            (&self.waiting, URGENT_QUEUE)
        } else {
            (&self.queued, SEND_QUEUE)
        };
        if count.fetch_add(1, Ordering::Relaxed) >= limit {
            count.fetch_sub(1, Ordering::Relaxed);
            return Err(Unsent::Full);
        }
        let sent = if urgent {
            self.urgent.send(Urgent::Text(text)).is_ok()
        } else {
            self.tx.send(text).is_ok()
        };
        if !sent {
            count.fetch_sub(1, Ordering::Relaxed);
            return Err(Unsent::Gone);
        }
        Ok(())
    }

    /// Closes the socket once what is queued is written.
    fn close(&self) {
        let _ = self.urgent.send(Urgent::Close);
    }
}

impl Inbox {
    /// The next message queued, if any.
    fn try_next(&mut self) -> Option<String> {
        let text = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Some(text)
    }

    /// Adds what else is queued to `batch` (up to [`BATCH`] messages), the urgent messages
    /// first; whether the close came (what was queued before it is in `batch`: nothing after
    /// it is taken).
    fn drain(&mut self, batch: &mut Vec<String>) -> bool {
        while batch.len() < BATCH {
            match self.urgent.try_recv() {
                Ok(Urgent::Text(text)) => {
                    self.waiting.fetch_sub(1, Ordering::Relaxed);
                    batch.push(text);
                }
                Ok(Urgent::Close) => {
                    while let Some(text) = self.try_next() {
                        batch.push(text);
                    }
                    return true;
                }
                Err(_) => break,
            }
        }
        while batch.len() < BATCH {
            match self.try_next() {
                Some(text) => batch.push(text),
                None => break,
            }
        }
        false
    }
}
