//! The driver task: owns the [`Session`], one task per socket, and the user queue. It moves
//! bytes and time only; every decision is the session's.
//!
//! Socket tasks forward frames to the driver (at most 256 frames and twice the message limit in
//! bytes in flight; a socket task waits before handing over more); the driver feeds them to
//! the session at once and writes what the session asks (keep-alive answers included) to the
//! socket tasks' unbounded outboxes. Items for the user go to the drop-oldest queue, which never waits, so a slow
//! consumer cannot delay a keep-alive.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::item::{Converter, Item};
use super::queue::{self, Sender};
use super::record::{self, Recording};
use super::transport::{Conn, Transport};
use super::{Command, ConnectError, Items, Options, StreamHandle};
use crate::protocol::session::{Inbound, Output, Session, SessionConfig, SessionEvent, SocketId};
use crate::region::ServerUrl;

/// Frames in flight from the socket tasks to the driver (the driver never waits on the user,
/// so this only smooths bursts).
const INBOUND: usize = 256;
/// Bytes in flight from the socket tasks to the driver, in messages of the largest size: a
/// socket task waits before handing over more, so 256 large frames are never held at once.
const INBOUND_MESSAGES: usize = 2;
/// How long one message may take to be written before the socket counts as dead.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long finished socket tasks get to send their close frames.
const LINGER: Duration = Duration::from_secs(1);

enum SockEvent {
    Opened,
    /// A frame, and its share of the in-flight byte budget (given back once it is handled).
    Frame(Bytes, OwnedSemaphorePermit),
    Closed,
}

struct Driver<T: Transport> {
    session: Session,
    transport: Arc<T>,
    outboxes: HashMap<SocketId, mpsc::UnboundedSender<String>>,
    tasks: JoinSet<()>,
    inbound_tx: mpsc::Sender<(SocketId, SockEvent)>,
    inbound_rx: mpsc::Receiver<(SocketId, SockEvent)>,
    /// The in-flight byte budget, shared by the stream's socket tasks, and its size.
    in_flight: Arc<Semaphore>,
    in_flight_budget: u32,
    commands: mpsc::UnboundedReceiver<Command>,
    out: Sender,
    convert: Converter,
    recording: Option<Recording>,
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

pub(crate) fn spawn<T: Transport>(
    runtime: &tokio::runtime::Handle,
    transport: T,
    config: SessionConfig,
    server_url: ServerUrl,
    options: Options,
) -> Result<(StreamHandle, Items), ConnectError> {
    let product = config.handshake().product();
    let recording_path = options
        .recording()
        .map(|(template, _)| record::path_for(template, config.handshake().rtms_stream_id()));
    let session = Session::connect(config, server_url, now())?;
    let recording = match (recording_path, options.recording()) {
        (Some(path), Some((_, redaction))) => {
            Some(Recording::start(&path, redaction).map_err(ConnectError::Recording)?)
        }
        _ => None,
    };
    let (out, shared) = queue::channel(options.queue_capacity(), options.queue_bytes());
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (finished_tx, finished) = watch::channel(false);
    let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND);
    let budget = u32::try_from(options.max_message_len().saturating_mul(INBOUND_MESSAGES))
        .unwrap_or(u32::MAX);
    let driver = Driver {
        session,
        transport: Arc::new(transport),
        outboxes: HashMap::new(),
        tasks: JoinSet::new(),
        inbound_tx,
        inbound_rx,
        in_flight: Arc::new(Semaphore::new(budget as usize)),
        in_flight_budget: budget,
        commands,
        out,
        convert: Converter::new(product),
        recording,
    };
    runtime.spawn(driver.run(finished_tx));
    let handle = StreamHandle {
        commands: commands_tx,
        finished,
        queue: shared.clone(),
    };
    Ok((
        handle,
        Items {
            rx: queue::Receiver(shared),
        },
    ))
}

impl<T: Transport> Driver<T> {
    async fn run(mut self, finished: watch::Sender<bool>) {
        let mut commands_open = true;
        let mut receiver_alive = true;
        loop {
            self.flush();
            if self.session.is_done() {
                break;
            }
            let deadline = self.session.poll_timeout().and_then(timer);
            tokio::select! {
                Some((socket, event)) = self.inbound_rx.recv() => {
                    let now = now();
                    match event {
                        SockEvent::Opened => self.session.handle_opened(now, socket),
                        SockEvent::Frame(frame, _in_flight) => self.on_frame(now, socket, frame),
                        SockEvent::Closed => {
                            self.outboxes.remove(&socket);
                            if let Some(r) = &mut self.recording {
                                r.closed(socket);
                            }
                            self.session.handle_closed(now, socket);
                        }
                    }
                }
                command = self.commands.recv(), if commands_open => {
                    let now = now();
                    match command {
                        Some(Command::Close) => self.session.close(now),
                        // Lease lost: drop the sockets at once, no stream close request (21
                        // would end the stream for the replica that took it over).
                        Some(Command::Abort) => break,
                        Some(Command::Webhook(w)) => self.session.handle_webhook(now, w),
                        Some(Command::SubscribeVideo { user_id, subscribe }) => {
                            // Remembered by the session: sent once ready, again after reconnects.
                            self.session.subscribe_video(user_id, subscribe, None);
                        }
                        // Every handle dropped: the stream goes on for the items' reader.
                        None => commands_open = false,
                    }
                }
                () = self.out.receiver_gone(), if receiver_alive => {
                    receiver_alive = false;
                    self.session.close(now());
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.session.handle_timeout(now());
                }
            }
        }
        // Closing the outboxes makes each socket task send its close frame and stop.
        self.outboxes.clear();
        // The recording is complete before the user sees the end.
        if let Some(recording) = self.recording.take() {
            recording.finish().await;
        }
        self.out.close();
        let _ = finished.send(true);
        let _ = tokio::time::timeout(LINGER, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
    }

    /// Carries out everything the session asked for.
    fn flush(&mut self) {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Open { socket, url, role } => {
                    if let Some(r) = &mut self.recording {
                        r.opened(socket, role);
                    }
                    self.open(socket, url);
                }
                Output::Send { socket, text } => {
                    if let Some(outbox) = self.outboxes.get(&socket) {
                        let _ = outbox.send(text);
                    }
                }
                Output::Close { socket } => {
                    self.outboxes.remove(&socket);
                }
                Output::Event(event) => {
                    let item = match event {
                        SessionEvent::Connected { connects } => Item::Connected {
                            connects,
                            params: self.session.confirmed_params().cloned().unwrap_or_default(),
                        },
                        SessionEvent::Reconnecting { scope, attempt } => {
                            Item::Reconnecting { scope, attempt }
                        }
                        SessionEvent::Ended(reason) => Item::Ended(reason),
                        SessionEvent::Failed(error) => Item::Failed(error),
                    };
                    self.out.push(item);
                }
            }
        }
    }

    fn on_frame(&mut self, now: std::time::Instant, socket: SocketId, frame: Bytes) {
        if let Some(r) = &self.recording {
            r.frame(socket, &frame);
        }
        match self.session.handle_message(now, socket, &frame) {
            Ok(Inbound::User(msg)) => {
                if let Some(item) = self.convert.convert(msg, &frame) {
                    self.out.push(item);
                }
            }
            Ok(_) => {}
            Err(_error) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(socket = socket.raw(), error = %_error, "unreadable RTMS frame");
            }
        }
    }

    /// Dials `url`: the only place a connection is made, and `url` is the session's.
    fn open(&mut self, socket: SocketId, url: ServerUrl) {
        // Reap the tasks of sockets already gone (reconnects would otherwise pile them up).
        while self.tasks.try_join_next().is_some() {}
        let (outbox, rx) = mpsc::unbounded_channel();
        self.outboxes.insert(socket, outbox);
        let transport = self.transport.clone();
        let events = self.inbound_tx.clone();
        let in_flight = (self.in_flight.clone(), self.in_flight_budget);
        self.tasks
            .spawn(socket_task(transport, url, socket, rx, events, in_flight));
    }
}

/// The session's deadline as a tokio timer, or `None` (no timer: never due) for one tokio
/// cannot arm. Tokio rounds a deadline up to the next millisecond, which panics within 1 ms of
/// the end of the clock; the session already makes a wait it cannot count a `None`, and this
/// covers one it could count that ends that close to the limit.
fn timer(deadline: std::time::Instant) -> Option<Instant> {
    deadline.checked_add(Duration::from_millis(1))?;
    Some(Instant::from_std(deadline))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One socket: dial, report, then relay frames in and text out until the driver drops the
/// outbox (close) or the peer goes away (report closed).
async fn socket_task<T: Transport>(
    transport: Arc<T>,
    url: ServerUrl,
    socket: SocketId,
    mut outbox: mpsc::UnboundedReceiver<String>,
    events: mpsc::Sender<(SocketId, SockEvent)>,
    (in_flight, budget): (Arc<Semaphore>, u32),
) {
    let dialled = tokio::select! {
        r = transport.dial(&url) => r,
        // Closed by the session before it opened (handshake timeout, failover).
        () = outbox_closed(&mut outbox) => return,
    };
    let mut conn = match dialled {
        Ok(conn) => conn,
        Err(_error) => {
            #[cfg(feature = "tracing")]
            tracing::debug!(socket = socket.raw(), url = url.as_str(), error = %_error, "RTMS dial failed");
            let _ = events.send((socket, SockEvent::Closed)).await;
            return;
        }
    };
    if events.send((socket, SockEvent::Opened)).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            biased;
            text = outbox.recv() => match text {
                Some(text) => {
                    // A server that stops reading cannot hold this task (and the socket) for
                    // ever: the socket counts as closed, and the session redials.
                    match tokio::time::timeout(SEND_TIMEOUT, conn.send_text(text)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) | Err(_) => break,
                    }
                }
                None => {
                    conn.close().await;
                    return;
                }
            },
            frame = conn.recv() => match frame {
                Some(Ok(frame)) => {
                    // A frame costs its length (the whole budget at most); the semaphore is
                    // never closed, so an error means the driver is gone.
                    let cost = u32::try_from(frame.len()).map_or(budget, |n| n.min(budget));
                    let Ok(permit) = in_flight.clone().acquire_many_owned(cost).await else {
                        return;
                    };
                    if events.send((socket, SockEvent::Frame(frame, permit))).await.is_err() {
                        return;
                    }
                }
                Some(Err(_)) | None => break,
            },
        }
    }
    let _ = events.send((socket, SockEvent::Closed)).await;
}

/// Resolves once the outbox's sender is dropped (nothing is sent before a socket opens).
async fn outbox_closed(outbox: &mut mpsc::UnboundedReceiver<String>) {
    while outbox.recv().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::HostPolicy;

    /// A socket whose peer has `frames` frames of 1 MiB ready at once, then nothing.
    struct Burst {
        frames: usize,
    }

    impl Transport for Burst {
        type Conn = Burst;
        async fn dial(
            &self,
            _: &ServerUrl,
        ) -> Result<Burst, super::super::transport::TransportError> {
            Ok(Burst {
                frames: self.frames,
            })
        }
    }

    impl Conn for Burst {
        async fn send_text(
            &mut self,
            _: String,
        ) -> Result<(), super::super::transport::TransportError> {
            Ok(())
        }
        async fn recv(&mut self) -> Option<Result<Bytes, super::super::transport::TransportError>> {
            if self.frames == 0 {
                return std::future::pending().await;
            }
            self.frames -= 1;
            Some(Ok(Bytes::from(vec![0; 1 << 20])))
        }
        async fn close(&mut self) {}
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_hands_over_at_most_the_in_flight_budget_before_its_driver_takes_it() {
        let policy = HostPolicy::default()
            .with_allowed_host("127.0.0.1")
            .with_insecure_ws(true);
        let url = ServerUrl::parse("ws://127.0.0.1:1", &policy).unwrap();
        let (_outbox, rx) = mpsc::unbounded_channel();
        let (events, mut inbound) = mpsc::channel(INBOUND);
        // A budget of 4 MiB; the driver (this test) takes nothing yet.
        let in_flight = Arc::new(Semaphore::new(4 << 20));
        let task = tokio::spawn(socket_task(
            Arc::new(Burst { frames: 100 }),
            url,
            SocketId::from_raw(0),
            rx,
            events,
            (in_flight.clone(), 4 << 20),
        ));
        // Paused time moves on only once every task waits: the socket task is then blocked.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(matches!(inbound.recv().await, Some((_, SockEvent::Opened))));
        assert_eq!(inbound.len(), 4, "4 frames of 1 MiB in flight, not 100");
        // Each frame handled gives its share back, and the next comes.
        let Some((_, SockEvent::Frame(_, permit))) = inbound.recv().await else {
            panic!()
        };
        drop(permit);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(inbound.len(), 4);
        task.abort();
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
        // No timer at all: the select's sleep branch stays off, and nothing panics.
        let sleep = tokio::time::timeout(Duration::from_secs(1), sleep_until(timer(last)));
        assert!(sleep.await.is_err());
        // What the guard prevents: tokio's rounding of such a deadline overflows.
        let armed = tokio::spawn(tokio::time::sleep_until(Instant::from_std(last)));
        assert!(armed.await.unwrap_err().is_panic());
    }
}
