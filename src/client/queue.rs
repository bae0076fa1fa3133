//! The bounded queue between a stream's driver and its user: pushing never waits; when full
//! (in items or in bytes), the oldest data item (media, transcript, chat, event) is dropped,
//! state items only when nothing else is queued, and the user is handed [`Item::Lagged`]
//! before the next one.
//!
//! In lossless mode ([`Delivery::Lossless`](super::Delivery::Lossless)) nothing is
//! ever dropped: pushing still never waits, and once the bytes queued exceed the budget the
//! queue says so ([`Sender::over_budget`]) and the driver fails the stream.
//!
//! The same shared state carries the other way what the stream's handles ask of the driver
//! ([`Command`]s) and tells the driver when the user's end is dropped: the driver's task is
//! woken for both, and checks them with two atomic loads per round of its poll.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::{Command, Item};

struct State {
    items: VecDeque<Item>,
    /// What the queued items hold ([`Item::cost`]).
    bytes: usize,
    /// Dropped since the user last saw a `Lagged`.
    lagged: u64,
    closed: bool,
    receiver_alive: bool,
    /// The user's task, waiting for an item.
    waker: Option<Waker>,
    /// The driver's task, told when the user's end is dropped or a command comes.
    driver: Option<Waker>,
    /// Commands from the handles, not yet taken by the driver.
    commands: Vec<Command>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    capacity: usize,
    /// The byte budget: past it, older items are dropped (never the one just queued).
    max_bytes: usize,
    /// Lossless mode: never drop; past this many bytes queued, the stream fails.
    lossless: Option<usize>,
    /// Set once the bytes queued exceeded the lossless budget.
    over: AtomicBool,
    dropped: AtomicU64,
    /// Mirrors of `receiver_alive` and `!commands.is_empty()`, read without the lock.
    receiver_alive: AtomicBool,
    has_commands: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a consistent queue: keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Hands the driver a command; once the driver has finished, the command is dropped.
    pub(crate) fn command(&self, command: Command) {
        let driver = {
            let mut s = self.lock();
            if s.closed {
                return;
            }
            s.commands.push(command);
            self.has_commands.store(true, Ordering::Release);
            s.driver.clone()
        };
        if let Some(w) = driver {
            w.wake();
        }
    }
}

/// The driver's end.
pub(crate) struct Sender(Arc<Shared>, Option<Waker>);

/// A queue of at most `capacity` items and `max_bytes` bytes (dropping the oldest), or, with
/// `lossless`, one that never drops and reports when more than that many bytes are queued.
pub(crate) fn channel(
    capacity: usize,
    max_bytes: usize,
    lossless: Option<usize>,
) -> (Sender, Arc<Shared>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            // Grows only as far as the consumer falls behind (no capacity reserved per stream).
            items: VecDeque::new(),
            bytes: 0,
            lagged: 0,
            closed: false,
            receiver_alive: true,
            waker: None,
            driver: None,
            commands: Vec::new(),
        }),
        capacity: capacity.max(1),
        max_bytes,
        lossless,
        over: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
        receiver_alive: AtomicBool::new(true),
        has_commands: AtomicBool::new(false),
    });
    (Sender(shared.clone(), None), shared)
}

impl Sender {
    /// Queues `item`, dropping the oldest when full. Never waits.
    pub(crate) fn push(&self, item: Item) {
        let waker = {
            let mut s = self.0.lock();
            if !s.receiver_alive {
                return;
            }
            if let Some(budget) = self.0.lossless {
                s.bytes += item.cost();
                s.items.push_back(item);
                if s.bytes > budget {
                    self.0.over.store(true, Ordering::Release);
                }
                s.waker.take()
            } else {
                self.push_dropping(&mut s, item);
                s.waker.take()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Lossless mode: `Some(budget)` once more than `budget` bytes were queued (the stream
    /// must fail); `None` otherwise, and always in drop-oldest mode.
    pub(crate) fn over_budget(&self) -> Option<usize> {
        self.0
            .lossless
            .filter(|_| self.0.over.load(Ordering::Acquire))
    }

    /// Drop-oldest mode: queues `item` within the bounds.
    fn push_dropping(&self, s: &mut MutexGuard<'_, State>, item: Item) {
        {
            if s.items.len() >= self.0.capacity {
                // The oldest data item goes first; state items only when nothing else is left.
                let victim = s.items.iter().position(Item::is_data).unwrap_or(0);
                self.drop_at(s, victim);
            }
            s.bytes += item.cost();
            s.items.push_back(item);
            // Over the byte budget: older items go by the same rule, never the one just queued
            // (so the queue holds at most the budget plus one item).
            while s.bytes > self.0.max_bytes && s.items.len() > 1 {
                let older = s.items.len() - 1;
                let victim = s
                    .items
                    .iter()
                    .take(older)
                    .position(Item::is_data)
                    .unwrap_or(0);
                self.drop_at(s, victim);
            }
        }
    }

    fn drop_at(&self, s: &mut State, at: usize) {
        if let Some(gone) = s.items.remove(at) {
            s.bytes = s.bytes.saturating_sub(gone.cost());
            s.lagged += 1;
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// No more items: the user's stream ends once drained.
    pub(crate) fn close(&self) {
        let waker = {
            let mut s = self.0.lock();
            s.closed = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Whether the user's end is still there, and the commands sent since the last call (moved
    /// into `commands`); the task polling is woken when either changes. Two atomic loads when
    /// nothing changed (the lock only to register a new waker or to take commands).
    pub(crate) fn poll_user(&mut self, cx: &mut Context<'_>, commands: &mut Vec<Command>) -> bool {
        if !self.1.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.1 = Some(cx.waker().clone());
            self.0.lock().driver = Some(cx.waker().clone());
        }
        if self.0.has_commands.load(Ordering::Acquire) {
            let mut s = self.0.lock();
            self.0.has_commands.store(false, Ordering::Release);
            commands.append(&mut s.commands);
        }
        self.0.receiver_alive.load(Ordering::Acquire)
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.close();
    }
}

/// The user's end (see [`Items`](super::Items)).
pub(crate) struct Receiver(pub(crate) Arc<Shared>);

impl Receiver {
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let mut s = self.0.lock();
        if s.lagged > 0 {
            let dropped = std::mem::take(&mut s.lagged);
            return Poll::Ready(Some(Item::Lagged { dropped }));
        }
        if let Some(item) = s.items.pop_front() {
            s.bytes = s.bytes.saturating_sub(item.cost());
            return Poll::Ready(Some(item));
        }
        if s.closed {
            return Poll::Ready(None);
        }
        match &s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    pub(crate) fn len(&self) -> usize {
        self.0.lock().items.len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let driver = {
            let mut s = self.0.lock();
            s.receiver_alive = false;
            self.0.receiver_alive.store(false, Ordering::Release);
            s.items.clear();
            s.bytes = 0;
            s.driver.clone()
        };
        if let Some(w) = driver {
            w.wake();
        }
    }
}

impl futures_core::Stream for Receiver {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::session::EndReason;
    use std::task::Poll;

    fn poll(rx: &mut Receiver) -> Poll<Option<Item>> {
        let waker = std::task::Waker::noop();
        rx.poll_recv(&mut Context::from_waker(waker))
    }

    fn lagged(n: u64) -> Poll<Option<Item>> {
        Poll::Ready(Some(Item::Lagged { dropped: n }))
    }

    #[test]
    fn overflow_drops_the_oldest_and_reports_the_gap_first() {
        let (tx, shared) = channel(2, usize::MAX, None);
        let mut rx = Receiver(shared.clone());
        for n in 1..=5 {
            tx.push(Item::Lagged { dropped: 100 + n });
        }
        assert_eq!(shared.dropped(), 3);
        assert_eq!(poll(&mut rx), lagged(3));
        assert_eq!(poll(&mut rx), lagged(104));
        assert_eq!(poll(&mut rx), lagged(105));
        assert_eq!(poll(&mut rx), Poll::Pending);
        tx.push(Item::Ended(EndReason::Closed));
        tx.close();
        assert_eq!(
            poll(&mut rx),
            Poll::Ready(Some(Item::Ended(EndReason::Closed)))
        );
        assert_eq!(poll(&mut rx), Poll::Ready(None));
    }

    #[test]
    fn overflow_drops_data_before_state_items() {
        use crate::codes::MsgType;
        use crate::protocol::session::Scope;
        let other = |n: u8| Item::Other {
            msg_type: MsgType::from(14),
            raw: bytes::Bytes::from(vec![n]),
        };
        let reconnecting = Item::Reconnecting {
            scope: Scope::Media,
            attempt: 1,
        };
        let (tx, shared) = channel(3, usize::MAX, None);
        let mut rx = Receiver(shared.clone());
        tx.push(other(1));
        tx.push(reconnecting.clone());
        tx.push(other(2));
        tx.push(other(3)); // drops 1, not the state item after it
        tx.push(other(4)); // drops 2
        assert_eq!(shared.dropped(), 2);
        assert_eq!(poll(&mut rx), lagged(2));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(reconnecting.clone())));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(other(3))));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(other(4))));
        // Only state items queued: the oldest goes.
        for _ in 0..4 {
            tx.push(reconnecting.clone());
        }
        assert_eq!(shared.dropped(), 3);
    }

    #[test]
    fn over_the_byte_budget_older_data_goes_first_and_the_newest_stays() {
        use crate::client::{MediaFrame, Source};
        use crate::protocol::session::Scope;
        let frame = |n: u8, len: usize| {
            Item::Audio(MediaFrame::new(
                Source::Channel("c".into()),
                Some(i64::from(n)),
                bytes::Bytes::from(vec![n; len]),
            ))
        };
        let reconnecting = Item::Reconnecting {
            scope: Scope::Media,
            attempt: 1,
        };
        let each = frame(0, 1000).cost();
        let (tx, shared) = channel(100, 3 * each, None);
        let mut rx = Receiver(shared.clone());
        tx.push(reconnecting.clone());
        for n in 1..=5 {
            tx.push(frame(n, 1000));
        }
        // The state item and the newest frames that fit with it.
        assert_eq!(shared.dropped(), 3);
        assert!(shared.lock().bytes <= 3 * each);
        assert_eq!(poll(&mut rx), lagged(3));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(reconnecting.clone())));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(frame(4, 1000))));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(frame(5, 1000))));
        assert_eq!(shared.lock().bytes, 0);
        // One item over the whole budget is kept alone.
        tx.push(frame(6, 1000));
        tx.push(frame(7, 10_000));
        assert_eq!(poll(&mut rx), lagged(1));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(frame(7, 10_000))));
        // State items too, when nothing else is left (each bounded by the message limit).
        let big_state = |n: u8| Item::VideoSubscription {
            user_id: None,
            status: None,
            reason: Some("s".repeat(2 * each)),
            subscribe: None,
            timestamp: Some(i64::from(n)),
        };
        tx.push(big_state(1));
        tx.push(big_state(2));
        assert_eq!(poll(&mut rx), lagged(1));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(big_state(2))));
    }

    #[test]
    fn lossless_never_drops_and_reports_the_budget_once_exceeded() {
        use crate::client::{MediaFrame, Source};
        let frame = |n: u8| {
            Item::Audio(MediaFrame::new(
                Source::Channel("c".into()),
                Some(i64::from(n)),
                bytes::Bytes::from(vec![n; 100]),
            ))
        };
        let each = frame(0).cost();
        // Two items and no bytes allowed in drop-oldest terms: ignored in lossless mode.
        let (tx, shared) = channel(2, 0, Some(3 * each));
        let mut rx = Receiver(shared.clone());
        for n in 0..3 {
            tx.push(frame(n));
            assert_eq!(
                tx.over_budget(),
                None,
                "{n}: exactly the budget is not over it"
            );
        }
        tx.push(frame(3));
        assert_eq!(tx.over_budget(), Some(3 * each));
        assert_eq!(shared.dropped(), 0);
        for n in 0..4 {
            assert_eq!(poll(&mut rx), Poll::Ready(Some(frame(n))));
        }
        // Once exceeded, it stays so (the stream fails), even with the queue drained.
        assert_eq!(tx.over_budget(), Some(3 * each));
        // Drop-oldest mode never reports it.
        let (tx, _shared) = channel(2, 0, None);
        tx.push(frame(0));
        tx.push(frame(1));
        assert_eq!(tx.over_budget(), None);
    }

    #[test]
    fn a_dropped_receiver_is_noticed_and_pushes_are_discarded() {
        let (mut tx, shared) = channel(2, usize::MAX, None);
        drop(Receiver(shared.clone()));
        tx.push(Item::Lagged { dropped: 1 });
        assert_eq!(shared.lock().items.len(), 0);
        let waker = std::task::Waker::noop();
        assert!(!tx.poll_user(&mut Context::from_waker(waker), &mut Vec::new()));
    }

    /// Counts its wake-ups.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn commands_and_a_dropped_receiver_wake_the_driver_and_commands_keep_their_order() {
        let (mut tx, shared) = channel(2, usize::MAX, None);
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut commands = Vec::new();
        // Nothing yet: alive, no command, no wake-up.
        assert!(tx.poll_user(&mut cx, &mut commands));
        assert!(commands.is_empty());
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        shared.command(Command::Close);
        shared.command(Command::SubscribeVideo {
            user_id: 7,
            subscribe: true,
        });
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert!(tx.poll_user(&mut cx, &mut commands));
        assert!(matches!(
            commands[..],
            [
                Command::Close,
                Command::SubscribeVideo {
                    user_id: 7,
                    subscribe: true
                }
            ]
        ));
        // Taken once.
        commands.clear();
        assert!(tx.poll_user(&mut cx, &mut commands));
        assert!(commands.is_empty());
        drop(Receiver(shared.clone()));
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
        assert!(!tx.poll_user(&mut cx, &mut commands));
    }

    /// After the driver finished (its Sender closed and dropped), commands from a handle that
    /// lives on are never read: they must not pile up.
    #[test]
    fn commands_after_the_driver_finished_are_dropped() {
        let (tx, shared) = channel(2, usize::MAX, None);
        drop(tx); // the driver's end: closed
        for _ in 0..10_000 {
            shared.command(Command::SubscribeVideo {
                user_id: 1,
                subscribe: true,
            });
        }
        let held = shared.lock().commands.len();
        assert!(
            held == 0,
            "{held} commands held by a finished stream's queue"
        );
    }
}
