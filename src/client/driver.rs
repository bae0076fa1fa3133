//! The driver: one task per stream owns the [`Session`], every socket of the stream and the
//! sending end of the user queue. It moves bytes and time only; every decision is the
//! session's.
//!
//! Each wake-up polls, in turn, the commands, the user's end (dropped?), the dials under way,
//! every open socket (queued texts written and flushed, then frames read and handed to the
//! session at once, at most [`READ_BUDGET`] per socket and wake-up) and one timer. A frame goes
//! from its socket through the session to the user queue without another task or channel in
//! between; the user queue never waits (it drops the oldest data when full), so a slow consumer
//! cannot delay a keep-alive. A socket with something unwritten is not read: a peer that stops
//! reading stops being read, and after [`SEND_TIMEOUT`] counts as closed.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::item::{Converter, Item};
use super::queue::{self, Sender};
use super::record::{self, Recording};
use super::roster::Roster;
use super::transport::{Conn, Transport, TransportError};
use super::{Command, ConnectError, Items, Options, StreamHandle};
use crate::protocol::session::{
    Inbound, Output, Session, SessionConfig, SessionError, SessionEvent, SocketId,
};
use crate::region::ServerUrl;
use std::sync::{Arc, Mutex};

/// Frames read from one socket per round before the stream's other sockets get a turn.
const READ_BUDGET: usize = 32;
/// Busy rounds per wake-up before the stream yields to the runtime's other tasks.
const ROUNDS: usize = 4;
/// How long something written may wait to be flushed (a message, a keep-alive answer, a pong)
/// before the socket counts as dead: a server that stops reading cannot hold the stream.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closed socket gets to write what was queued for it and its close frame.
const LINGER: Duration = Duration::from_secs(1);

type Dial<C> = Pin<Box<dyn Future<Output = Result<C, TransportError>> + Send>>;

/// One socket of the stream: dialling, then open.
struct Sock<C> {
    id: SocketId,
    dial: Option<Dial<C>>,
    conn: Option<C>,
    /// A dial that waits for the stream's closing sockets to be closed first (never two
    /// connections of one role at once, e.g. the old and the new signalling socket of a
    /// failover).
    waiting: Option<ServerUrl>,
    /// Texts the session asked for, not yet taken by the WebSocket.
    outbox: VecDeque<String>,
    /// Since when something written waits (for [`SEND_TIMEOUT`]).
    stalled_since: Option<Instant>,
}

/// What polling a socket changed.
enum Polled {
    /// Nothing (every source is waiting).
    Idle,
    /// Progress: poll again.
    Busy,
    /// The socket is gone (dial failed, peer closed, write stalled or failed).
    Closed,
}

struct Driver<T: Transport> {
    session: Session,
    transport: T,
    /// Boxed: an open WebSocket is large (its TLS state inline), and the vector's spare slots
    /// would each hold one.
    sockets: Vec<Box<Sock<T::Conn>>>,
    /// Commands taken from the handles, carried out in order.
    commands: Vec<Command>,
    receiver_alive: bool,
    out: Sender,
    convert: Converter,
    recording: Option<Recording>,
    /// One timer for the session's deadlines and the sockets' send timeouts, moved only to an
    /// earlier deadline: a later one (the watchdog, pushed back by every frame) lets it fire
    /// early once, and it is set again from there.
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// Set by [`Command::Abort`]: leave at once.
    aborted: bool,
    /// Sockets the stream is done with, still writing their close frame (each bounded by
    /// [`LINGER`]): new dials wait for them.
    lingering: Vec<tokio::task::JoinHandle<()>>,
}

fn now() -> Instant {
    Instant::now()
}

pub(crate) fn spawn<T: Transport>(
    runtime: &tokio::runtime::Handle,
    transport: T,
    config: SessionConfig,
    server_url: ServerUrl,
    options: Options,
) -> Result<(StreamHandle, Items), ConnectError> {
    let _guard = runtime.enter();
    let (driver, finished, handle, items) = Driver::new(transport, config, server_url, options)?;
    runtime.spawn(driver.run(finished));
    Ok((handle, items))
}

/// What [`Driver::new`] makes: the driver, its end signal, and the user's two ends.
type Parts<T> = (Driver<T>, watch::Sender<bool>, StreamHandle, Items);

impl<T: Transport> Driver<T> {
    /// A driver for one stream (inside a runtime: it makes its timer).
    fn new(
        transport: T,
        config: SessionConfig,
        server_url: ServerUrl,
        options: Options,
    ) -> Result<Parts<T>, ConnectError> {
        let product = config.handshake().product();
        let recording_path = options
            .recording()
            .map(|(template, _)| record::path_for(template, config.handshake().rtms_stream_id()));
        let session = Session::connect(config, server_url, now().into_std())?;
        let recording = match (recording_path, options.recording()) {
            (Some(path), Some((_, redaction))) => {
                Some(Recording::start(&path, redaction).map_err(ConnectError::Recording)?)
            }
            _ => None,
        };
        let (out, shared) = queue::channel(
            options.queue_capacity(),
            options.queue_bytes(),
            options.lossless_budget(),
        );
        let (finished_tx, finished) = watch::channel(false);
        let roster = Arc::<Mutex<Roster>>::default();
        let driver = Driver {
            session,
            transport,
            sockets: Vec::new(),
            commands: Vec::new(),
            receiver_alive: true,
            out,
            convert: Converter::new(product).with_roster(roster.clone()),
            recording,
            timer: Box::pin(tokio::time::sleep_until(now())),
            armed: None,
            aborted: false,
            lingering: Vec::new(),
        };
        let handle = StreamHandle {
            finished,
            queue: shared.clone(),
            roster,
        };
        let items = Items {
            rx: queue::Receiver(shared),
        };
        Ok((driver, finished_tx, handle, items))
    }

    async fn run(mut self, finished: watch::Sender<bool>) {
        poll_fn(|cx| self.poll(cx)).await;
        // Every socket left writes what was queued for it and its close frame, on its own.
        for sock in self.sockets.drain(..) {
            let _ = linger(*sock);
        }
        // The recording is complete before the user sees the end.
        if let Some(recording) = self.recording.take() {
            recording.finish().await;
        }
        self.out.close();
        let _ = finished.send(true);
    }

    /// Runs the stream until the session is done (or the stream is aborted). After
    /// [`ROUNDS`] busy rounds it yields (and is polled again at once): sockets that always
    /// have more cannot starve the runtime's other tasks.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..ROUNDS {
            if self.aborted {
                return Poll::Ready(());
            }
            self.flush();
            if self.session.is_done() {
                return Poll::Ready(());
            }
            let mut busy = false;
            let alive = self.out.poll_user(cx, &mut self.commands);
            if !self.commands.is_empty() {
                busy = true;
                let commands = std::mem::take(&mut self.commands);
                for command in commands {
                    self.command(command);
                    if self.aborted {
                        break;
                    }
                }
            }
            if self.aborted {
                continue;
            }
            if self.receiver_alive && !alive {
                self.receiver_alive = false;
                self.session.close(now().into_std());
                continue;
            }
            let closed = self.poll_lingering(cx);
            let mut i = 0;
            while i < self.sockets.len() {
                match self.poll_socket(i, closed, cx) {
                    Polled::Idle => i += 1,
                    Polled::Busy => {
                        busy = true;
                        i += 1;
                    }
                    Polled::Closed => {
                        busy = true;
                        let sock = self.sockets.swap_remove(i);
                        if let Some(r) = &mut self.recording {
                            r.closed(sock.id);
                        }
                        self.session.handle_closed(now().into_std(), sock.id);
                    }
                }
            }
            if self.poll_timer(cx) {
                busy = true;
            }
            // What the frames just read asked for (keep-alive answers, items): carried out
            // now; only something to write or dial needs another round.
            if self.flush() {
                busy = true;
            }
            if self.fail_over_budget() {
                return Poll::Ready(());
            }
            if self.session.is_done() {
                return Poll::Ready(());
            }
            if !busy {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Lossless mode, once the consumer fell more than the budget behind: the stream fails
    /// (after every item queued so far) and its sockets are closed. `true` when it did.
    fn fail_over_budget(&mut self) -> bool {
        let Some(budget) = self.out.over_budget() else {
            return false;
        };
        if !self.aborted {
            self.aborted = true;
            self.out
                .push(Item::Failed(SessionError::QueueBudget { budget }));
        }
        true
    }

    fn command(&mut self, command: Command) {
        let now = now().into_std();
        match command {
            Command::Close => self.session.close(now),
            // Lease lost or handed over: drop the sockets at once, no stream close request (21
            // would end the stream for the replica that takes it over); the items end with
            // `HandedOver`.
            Command::Abort => {
                self.aborted = true;
                self.out.push(Item::HandedOver);
            }
            Command::Report(item) => self.out.push(item),
            Command::Webhook(w) => self.session.handle_webhook(now, w),
            Command::SubscribeVideo { user_id, subscribe } => {
                // Remembered by the session: sent once ready, again after reconnects.
                self.session.subscribe_video(user_id, subscribe, None);
            }
        }
    }

    /// Whether every socket the stream closed has finished closing (their tasks are polled,
    /// so the driver is woken when the last one is done).
    fn poll_lingering(&mut self, cx: &mut Context<'_>) -> bool {
        self.lingering
            .retain_mut(|task| Pin::new(task).poll(cx).is_pending());
        self.lingering.is_empty()
    }

    /// Dial, write, read: one socket's turn. `closed`: no socket of the stream is still
    /// closing, so a waiting dial may start.
    fn poll_socket(&mut self, i: usize, closed: bool, cx: &mut Context<'_>) -> Polled {
        let sock = &mut self.sockets[i];
        let mut busy = false;
        if let Some(url) = sock.waiting.take_if(|_| closed) {
            sock.dial = Some(Box::pin(self.transport.dial(&url)));
        }
        if sock.waiting.is_some() {
            return Polled::Idle;
        }
        if let Some(dial) = &mut sock.dial {
            match dial.as_mut().poll(cx) {
                Poll::Pending => return Polled::Idle,
                Poll::Ready(Err(_error)) => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!(socket = sock.id.raw(), error = %_error, "RTMS dial failed");
                    return Polled::Closed;
                }
                Poll::Ready(Ok(conn)) => {
                    sock.dial = None;
                    sock.conn = Some(conn);
                    self.session.handle_opened(now().into_std(), sock.id);
                    // The session may have something to send at once.
                    return Polled::Busy;
                }
            }
        }
        let Some(conn) = &mut sock.conn else {
            return Polled::Closed;
        };
        // Write what the session asked for, then flush.
        while !sock.outbox.is_empty() {
            match conn.poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let text = sock.outbox.pop_front().unwrap_or_default();
                    if conn.start_send(text).is_err() {
                        return Polled::Closed;
                    }
                }
                Poll::Ready(Err(_)) => return Polled::Closed,
                Poll::Pending => break,
            }
        }
        if conn.unflushed() {
            if let Poll::Ready(Err(_)) = conn.poll_flush(cx) {
                return Polled::Closed;
            }
        }
        // Read only with nothing waiting to be written: the session's answers to what is read
        // cannot pile up behind a peer that does not read them.
        if sock.outbox.is_empty() {
            let now = now();
            // Busy (another round) only when the budget ran out before the socket did.
            busy = true;
            for _ in 0..READ_BUDGET {
                match conn.poll_recv(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        on_frame(
                            &mut self.session,
                            &mut self.convert,
                            &self.out,
                            self.recording.as_ref(),
                            now.into_std(),
                            sock.id,
                            frame,
                        );
                        // What the frame asked for (an event, an answer) is carried out
                        // before anything more is read: items keep the session's order.
                        // Past the lossless budget, nothing more is read.
                        if self.session.has_output() || self.out.over_budget().is_some() {
                            break;
                        }
                    }
                    Poll::Ready(Some(Err(_))) | Poll::Ready(None) => return Polled::Closed,
                    Poll::Pending => {
                        busy = false;
                        break;
                    }
                }
            }
        }
        if !sock.outbox.is_empty() || conn.unflushed() {
            let since = *sock.stalled_since.get_or_insert_with(now);
            if now() >= since + SEND_TIMEOUT {
                return Polled::Closed;
            }
        } else {
            sock.stalled_since = None;
        }
        if busy {
            Polled::Busy
        } else {
            Polled::Idle
        }
    }

    /// Arms the one timer for the next deadline; `true` when it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let stalls = self
            .sockets
            .iter()
            .filter_map(|s| s.stalled_since.map(|t| t + SEND_TIMEOUT));
        let session = self.session.poll_timeout().and_then(timer);
        let Some(next) = stalls.chain(session).min() else {
            self.armed = None;
            return false;
        };
        if self.armed.is_none_or(|armed| next < armed) {
            self.timer.as_mut().reset(next);
            self.armed = Some(next);
        }
        if self.timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.armed = None;
        // Early (the deadline moved later) or due: the session acts only on what is due. The
        // sockets' send timeouts are checked by their next poll.
        self.session.handle_timeout(now().into_std());
        true
    }

    /// Carries out everything the session asked for; `true` when that left something to write
    /// or to dial.
    fn flush(&mut self) -> bool {
        let mut more = false;
        while let Some(output) = self.session.poll_output() {
            more |= matches!(output, Output::Open { .. } | Output::Send { .. });
            match output {
                Output::Open { socket, url, role } => {
                    if let Some(r) = &mut self.recording {
                        r.opened(socket, role);
                    }
                    // The only place a connection is made, and `url` is the session's: at once,
                    // or once the sockets still closing are closed.
                    let (dial, waiting) = if self.lingering.is_empty() {
                        (
                            Some::<Dial<T::Conn>>(Box::pin(self.transport.dial(&url))),
                            None,
                        )
                    } else {
                        (None, Some(url))
                    };
                    self.sockets.push(Box::new(Sock {
                        id: socket,
                        dial,
                        waiting,
                        conn: None,
                        outbox: VecDeque::new(),
                        stalled_since: None,
                    }));
                }
                Output::Send { socket, text } => {
                    if let Some(sock) = self.sockets.iter_mut().find(|s| s.id == socket) {
                        sock.outbox.push_back(text);
                    }
                }
                Output::Close { socket } => {
                    if let Some(at) = self.sockets.iter().position(|s| s.id == socket) {
                        self.lingering.extend(linger(*self.sockets.swap_remove(at)));
                    }
                }
                Output::Event(event) => {
                    let item = match event {
                        SessionEvent::Connected { connects } => Item::Connected {
                            connects,
                            params: Box::new(
                                self.session.confirmed_params().cloned().unwrap_or_default(),
                            ),
                        },
                        SessionEvent::Reconnecting { scope, attempt } => {
                            Item::Reconnecting { scope, attempt }
                        }
                        SessionEvent::Ended(reason) => Item::Ended(reason),
                        SessionEvent::MediaRefused { kind, status } => {
                            Item::MediaRefused { kind, status }
                        }
                        SessionEvent::Failed(error) => {
                            if let SessionError::MediaUrl { error, .. } = &error {
                                self.out.push(Item::Refused(error.clone()));
                            }
                            Item::Failed(error)
                        }
                    };
                    self.out.push(item);
                }
            }
        }
        more
    }
}

/// One frame: to the recording, the session, and (as an item) the user.
fn on_frame(
    session: &mut Session,
    convert: &mut Converter,
    out: &Sender,
    recording: Option<&Recording>,
    now: std::time::Instant,
    socket: SocketId,
    frame: Bytes,
) {
    if let Some(r) = recording {
        r.frame(socket, &frame);
    }
    match session.handle_message(now, socket, &frame) {
        Ok(Inbound::User(msg)) => {
            if let Some(item) = convert.convert(msg, &frame) {
                out.push(item);
            }
        }
        Ok(_) => {}
        Err(_error) => {
            #[cfg(feature = "tracing")]
            tracing::debug!(socket = socket.raw(), error = %_error, "unreadable RTMS frame");
        }
    }
}

/// A socket the stream is done with: what was queued for it and its close frame are written
/// by a task of its own, within [`LINGER`] (its handle returned, for dials to wait on); a
/// socket still dialling is dropped.
fn linger<C: Conn>(sock: Sock<C>) -> Option<tokio::task::JoinHandle<()>> {
    let Sock {
        conn, mut outbox, ..
    } = sock;
    let mut conn = conn?;
    let close = tokio::time::timeout(LINGER, async move {
        poll_fn(|cx| {
            while !outbox.is_empty() {
                match conn.poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        let text = outbox.pop_front().unwrap_or_default();
                        if conn.start_send(text).is_err() {
                            outbox.clear();
                        }
                    }
                    Poll::Ready(Err(_)) => outbox.clear(),
                    Poll::Pending => return Poll::Pending,
                }
            }
            conn.poll_close(cx)
        })
        .await;
    });
    Some(tokio::spawn(async move {
        let _ = close.await;
    }))
}

/// The session's deadline as a tokio timer, or `None` (no timer: never due) for one tokio
/// cannot arm. Tokio rounds a deadline up to the next millisecond, which panics within 1 ms of
/// the end of the clock; the session already makes a wait it cannot count a `None`, and this
/// covers one it could count that ends that close to the limit.
fn timer(deadline: std::time::Instant) -> Option<Instant> {
    deadline.checked_add(Duration::from_millis(1))?;
    Some(Instant::from_std(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{Credentials, SignalingHandshakeRequest};
    use crate::protocol::session::Timing;
    use crate::region::HostPolicy;
    use crate::Product;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    /// How the fake peer behaves.
    #[derive(Clone, Copy)]
    enum Peer {
        /// Takes what is written but never lets it be flushed (stopped reading); sends nothing.
        NeverFlushes,
        /// Accepts no write at all, and has frames without end ready to be read.
        FullAndFlooding,
        /// Takes and flushes every write at once, and has frames without end ready.
        Flooding,
    }

    #[derive(Clone)]
    struct Fake {
        peer: Peer,
        dials: Arc<AtomicUsize>,
        read: Arc<AtomicUsize>,
    }

    impl Fake {
        fn new(peer: Peer) -> Self {
            Fake {
                peer,
                dials: Arc::default(),
                read: Arc::default(),
            }
        }
    }

    struct FakeConn {
        fake: Fake,
        unflushed: bool,
    }

    impl Transport for Fake {
        type Conn = FakeConn;

        fn dial(
            &self,
            _: &ServerUrl,
        ) -> impl Future<Output = Result<FakeConn, TransportError>> + Send + 'static {
            self.dials.fetch_add(1, SeqCst);
            let fake = self.clone();
            async move {
                Ok(FakeConn {
                    fake,
                    unflushed: false,
                })
            }
        }
    }

    impl Conn for FakeConn {
        fn poll_recv(
            &mut self,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Bytes, TransportError>>> {
            match self.fake.peer {
                Peer::NeverFlushes => Poll::Pending,
                Peer::FullAndFlooding | Peer::Flooding => {
                    self.fake.read.fetch_add(1, SeqCst);
                    Poll::Ready(Some(Ok(Bytes::from_static(br#"{"msg_type":255}"#))))
                }
            }
        }
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
            match self.fake.peer {
                Peer::FullAndFlooding => Poll::Pending,
                Peer::NeverFlushes | Peer::Flooding => Poll::Ready(Ok(())),
            }
        }
        fn start_send(&mut self, _: String) -> Result<(), TransportError> {
            self.unflushed = true;
            Ok(())
        }
        fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
            match self.fake.peer {
                Peer::NeverFlushes | Peer::FullAndFlooding => Poll::Pending,
                Peer::Flooding => {
                    self.unflushed = false;
                    Poll::Ready(Ok(()))
                }
            }
        }
        fn unflushed(&self) -> bool {
            self.unflushed
        }
        fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }

    fn policy() -> HostPolicy {
        HostPolicy::default()
            .with_allowed_host("127.0.0.1")
            .with_insecure_ws(true)
    }

    /// A handshake timeout of 60 s (longer than the send timeout).
    fn config() -> SessionConfig {
        let creds = Credentials::new("id", "secret").unwrap();
        SessionConfig::new(SignalingHandshakeRequest::from_parts(
            &creds,
            Product::Meeting,
            "m",
            "s",
        ))
        .with_host_policy(policy())
        .with_timing(Timing::default().with_handshake_timeout(Duration::from_secs(60)))
    }

    fn url() -> ServerUrl {
        ServerUrl::parse("ws://127.0.0.1:1", &policy()).unwrap()
    }

    /// A stream through `fake`.
    fn start(fake: Fake) -> (StreamHandle, Items) {
        let runtime = tokio::runtime::Handle::current();
        spawn(&runtime, fake, config(), url(), Options::default()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stops_reading_loses_its_socket_after_the_send_timeout_not_before() {
        let fake = Fake::new(Peer::NeverFlushes);
        let started = Instant::now();
        let (_handle, mut items) = start(fake.clone());
        // The signalling handshake is written but never flushed: nothing happens for 10 s,
        // then the socket counts as closed and the session reconnects.
        let item = items.next().await.unwrap();
        assert!(matches!(item, Item::Reconnecting { .. }), "{item:?}");
        assert_eq!(started.elapsed(), SEND_TIMEOUT);
        assert_eq!(fake.dials.load(SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_read_while_a_write_waits() {
        let fake = Fake::new(Peer::FullAndFlooding);
        let (mut driver, _finished, _handle, _items) =
            Driver::new(fake.clone(), config(), url(), Options::default()).unwrap();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        // The signalling handshake cannot even be handed to the WebSocket: the flood the
        // peer has ready is never read, however often the driver is polled.
        for _ in 0..5 {
            assert!(driver.poll(&mut cx).is_pending());
        }
        assert_eq!(fake.dials.load(SeqCst), 1);
        assert_eq!(fake.read.load(SeqCst), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_that_always_has_more_yields_after_a_bounded_number_of_frames() {
        let fake = Fake::new(Peer::Flooding);
        let (mut driver, _finished, _handle, _items) =
            Driver::new(fake.clone(), config(), url(), Options::default()).unwrap();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut before = 0;
        for poll in 1..=5 {
            // Each poll returns (the runtime's other tasks get their turn) after at most
            // ROUNDS rounds of READ_BUDGET frames from the stream's one socket.
            assert!(driver.poll(&mut cx).is_pending());
            let read = fake.read.load(SeqCst);
            assert!(
                read - before <= ROUNDS * READ_BUDGET,
                "poll {poll}: {} frames",
                read - before
            );
            before = read;
        }
        assert!(before > 0, "the socket was read");
    }

    /// The last instant the clock can count from `t` (within a nanosecond).
    fn end_of_clock(t: std::time::Instant) -> std::time::Instant {
        let (mut ok, mut over) = (Duration::ZERO, Duration::MAX);
        while over - ok > Duration::from_nanos(1) {
            let mid = ok + (over - ok) / 2;
            if t.checked_add(mid).is_some() {
                ok = mid;
            } else {
                over = mid;
            }
        }
        t + ok
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_tokio_cannot_arm_is_never() {
        let now = Instant::now().into_std();
        let soon = now + Duration::from_secs(65);
        assert_eq!(timer(soon), Some(Instant::from_std(soon)));
        let last = end_of_clock(now);
        assert_eq!(timer(last), None);
        // What the guard prevents: tokio's rounding of such a deadline overflows.
        let armed = tokio::spawn(tokio::time::sleep_until(Instant::from_std(last)));
        assert!(armed.await.unwrap_err().is_panic());
    }

    // A scripted transport: each dial gets its frames; what is written is recorded.
    use std::collections::VecDeque as Dq;
    use std::sync::Mutex as StdMutex;

    /// Each dial gets the next script of frames; every text written is recorded per dial.
    #[derive(Clone, Default)]
    struct Scripted {
        scripts: Arc<StdMutex<Dq<Vec<&'static [u8]>>>>,
        written: Arc<StdMutex<Vec<(usize, String)>>>,
        dials: Arc<AtomicUsize>,
    }

    struct ScriptedConn {
        n: usize,
        frames: Dq<&'static [u8]>,
        written: Arc<StdMutex<Vec<(usize, String)>>>,
    }

    impl Transport for Scripted {
        type Conn = ScriptedConn;
        fn dial(
            &self,
            _: &ServerUrl,
        ) -> impl Future<Output = Result<ScriptedConn, TransportError>> + Send + 'static {
            let n = self.dials.fetch_add(1, SeqCst);
            self.written.lock().unwrap().push((n, DIALLED.to_owned()));
            let frames = self.scripts.lock().unwrap().pop_front().unwrap_or_default();
            let written = self.written.clone();
            async move {
                Ok(ScriptedConn {
                    n,
                    frames: frames.into(),
                    written,
                })
            }
        }
    }

    impl Conn for ScriptedConn {
        fn poll_recv(
            &mut self,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Bytes, TransportError>>> {
            match self.frames.pop_front() {
                Some(f) => Poll::Ready(Some(Ok(Bytes::from_static(f)))),
                None => Poll::Pending,
            }
        }
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(&mut self, text: String) -> Result<(), TransportError> {
            self.written.lock().unwrap().push((self.n, text));
            Ok(())
        }
        fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
            Poll::Ready(Ok(()))
        }
        fn unflushed(&self) -> bool {
            false
        }
        fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<()> {
            self.written
                .lock()
                .unwrap()
                .push((self.n, CLOSED.to_owned()));
            Poll::Ready(())
        }
    }

    /// Logged by [`Scripted`] when a socket is dialled, and when it is closed.
    const DIALLED: &str = "(dialled)";
    const CLOSED: &str = "(closed)";

    const SIG_OK: &[u8] = br#"{"msg_type":2,"status_code":0,"media_server":{"server_urls":{"all":"ws://127.0.0.1:2/m"}}}"#;
    const DATA_OK: &[u8] = br#"{"msg_type":4,"status_code":0}"#;
    const AUDIO: &[u8] = br#"{"msg_type":14,"content":{"user_id":1,"data":"QQ==","timestamp":1}}"#;

    /// Message 4 and the first audio frame arrive together (one TCP read): the user must see
    /// `Connected` (with the params telling how to read the audio) before the audio.
    #[tokio::test(start_paused = true)]
    async fn connected_comes_before_media_read_in_the_same_round() {
        let t = Scripted::default();
        t.scripts
            .lock()
            .unwrap()
            .extend([vec![SIG_OK], vec![DATA_OK, AUDIO]]);
        let (_handle, mut items) = spawn(
            &tokio::runtime::Handle::current(),
            t.clone(),
            config(),
            url(),
            Options::default(),
        )
        .unwrap();
        let first = items.next().await.unwrap();
        assert!(
            matches!(first, Item::Connected { .. }),
            "first item: {first:?}"
        );
    }

    /// A stream through a [`Scripted`] server that accepts both handshakes, once connected.
    async fn connected() -> (Scripted, StreamHandle, Items) {
        let t = Scripted::default();
        t.scripts
            .lock()
            .unwrap()
            .extend([vec![SIG_OK], vec![DATA_OK]]);
        let (handle, mut items) = spawn(
            &tokio::runtime::Handle::current(),
            t.clone(),
            config(),
            url(),
            Options::default(),
        )
        .unwrap();
        let first = items.next().await.unwrap();
        assert!(matches!(first, Item::Connected { .. }), "{first:?}");
        (t, handle, items)
    }

    /// Abort (lease lost) must not send a stream close request (21), even when a Close
    /// command is queued behind it (the old driver stopped at the Abort).
    #[tokio::test(start_paused = true)]
    async fn an_abort_then_a_close_sends_no_stream_close_request() {
        let (t, handle, _items) = connected().await;
        // Both before the driver runs again (e.g. lease loss while the app shuts down).
        handle.queue.command(Command::Abort);
        handle.queue.command(Command::Close);
        let mut f = handle.finished.clone();
        let _ = f.wait_for(|d| *d).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let written = t.written.lock().unwrap().clone();
        assert!(
            !written
                .iter()
                .any(|(_, text)| text.contains(r#""msg_type":21"#)),
            "written after abort: {written:?}"
        );
    }

    /// A failover (to the same server, here) closes the old signalling socket before the new
    /// one is dialled: never two connections at once (before, the close ran in a task of its
    /// own while the new socket was already dialled).
    #[tokio::test(start_paused = true)]
    async fn a_failover_closes_the_old_sockets_before_dialling_the_new_one() {
        let (t, handle, _items) = connected().await;
        handle.webhook(crate::protocol::session::Webhook::Started { server_url: url() });
        while t.dials.load(SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let log = t.written.lock().unwrap().clone();
        let at = |n: usize, what: &str| log.iter().position(|(m, t)| *m == n && t == what);
        let closed = at(0, CLOSED).expect("the old signalling socket is closed");
        let dialled = at(2, DIALLED).expect("the new signalling socket is dialled");
        assert!(closed < dialled, "{log:?}");
        assert!(at(1, CLOSED).unwrap() < dialled, "{log:?}");
    }
}
