//! Tests of `zoom_rtms_webhooks::dedup`. Time is injected through
//! `MemoryDeduplicator::with_clock`; nothing sleeps.

use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use zoom_rtms_webhooks::dedup::{
    BoxDeduplicator, DedupError, Deduplicator, MemoryDeduplicator, Seen, StoreError,
    DEFAULT_MAX_ENTRIES, DEFAULT_TTL,
};

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

/// Polls a future that must not wait: the in-memory deduplicator's never do.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory deduplicator waited"),
    }
}

/// A `MemoryDeduplicator` on a clock the test sets: `mark_at(key, t)` moves the clock to `t`
/// and asks `Deduplicator::check_and_mark`.
struct Timed {
    dedup: MemoryDeduplicator,
    now: Arc<Mutex<Instant>>,
}

fn timed(dedup: MemoryDeduplicator) -> Timed {
    let now = Arc::new(Mutex::new(Instant::now()));
    let clock = Arc::clone(&now);
    Timed {
        dedup: dedup.with_clock(move || *clock.lock().unwrap_or_else(PoisonError::into_inner)),
        now,
    }
}

impl Timed {
    fn mark_at(&self, key: &str, at: Instant) -> Seen {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at;
        ready(self.dedup.check_and_mark(key)).expect("memory never fails")
    }

    fn forget(&self, key: &str) {
        ready(self.dedup.forget(key)).expect("memory never fails");
    }
}

impl Deref for Timed {
    type Target = MemoryDeduplicator;

    fn deref(&self) -> &MemoryDeduplicator {
        &self.dedup
    }
}

#[test]
fn new_key_is_new() {
    let dedup = timed(MemoryDeduplicator::new());
    assert_eq!(
        dedup.mark_at("started:meeting:s1", Instant::now()),
        Seen::New
    );
    assert_eq!(dedup.len(), 1);
}

#[test]
fn same_key_is_duplicate() {
    let dedup = timed(MemoryDeduplicator::new());
    let t0 = Instant::now();
    assert_eq!(dedup.mark_at("k", t0), Seen::New);
    assert_eq!(dedup.mark_at("k", t0), Seen::Duplicate);
    assert_eq!(dedup.mark_at("k", t0 + MINUTE), Seen::Duplicate);
    assert_eq!(dedup.len(), 1);
}

#[test]
fn different_keys_are_both_new() {
    let dedup = timed(MemoryDeduplicator::new());
    let t0 = Instant::now();
    assert_eq!(dedup.mark_at("started:meeting:s1", t0), Seen::New);
    assert_eq!(dedup.mark_at("stopped:meeting:s1", t0), Seen::New);
    assert_eq!(dedup.mark_at("started:webinar:s1", t0), Seen::New);
    assert_eq!(dedup.len(), 3);
}

#[test]
fn defaults_cover_zoom_retry_span() {
    let dedup = timed(MemoryDeduplicator::default());
    assert_eq!(dedup.ttl(), DEFAULT_TTL);
    assert_eq!(dedup.max_entries(), DEFAULT_MAX_ENTRIES);
    assert!(DEFAULT_TTL >= 90 * MINUTE);

    // Zoom retries 5, 25 and 85 minutes after the first attempt.
    let t0 = Instant::now();
    assert_eq!(dedup.mark_at("k", t0), Seen::New);
    for minutes in [5, 25, 85, 90] {
        assert_eq!(
            dedup.mark_at("k", t0 + minutes * MINUTE),
            Seen::Duplicate,
            "retry at {minutes} min"
        );
    }
}

#[test]
fn entry_expires_after_ttl() {
    let ttl = 2 * 60 * MINUTE;
    let dedup = timed(MemoryDeduplicator::new().with_ttl(ttl));
    let t0 = Instant::now();
    assert_eq!(dedup.mark_at("k", t0), Seen::New);
    assert_eq!(dedup.mark_at("k", t0 + ttl - SECOND), Seen::Duplicate);
    // A duplicate check does not extend the lifetime of the mark.
    assert_eq!(dedup.mark_at("k", t0 + ttl), Seen::New);
    // ...and the new mark lives for a full TTL from then.
    assert_eq!(dedup.mark_at("k", t0 + ttl + ttl - SECOND), Seen::Duplicate);
    assert_eq!(dedup.mark_at("k", t0 + 2 * ttl + SECOND), Seen::New);
}

#[test]
fn expired_entries_are_purged_incrementally() {
    let ttl = 10 * MINUTE;
    let dedup = timed(MemoryDeduplicator::new().with_ttl(ttl));
    let t0 = Instant::now();
    for i in 0..100 {
        dedup.mark_at(&format!("old-{i}"), t0);
    }
    assert_eq!(dedup.len(), 100);
    // One call after the TTL purges every expired key.
    assert_eq!(dedup.mark_at("fresh", t0 + ttl), Seen::New);
    assert_eq!(dedup.len(), 1);
    assert_eq!(dedup.evicted_unexpired(), 0);
}

#[test]
fn time_going_backwards_does_not_expire_or_panic() {
    let ttl = 10 * MINUTE;
    let dedup = timed(MemoryDeduplicator::new().with_ttl(ttl));
    let t0 = Instant::now() + 60 * MINUTE;
    assert_eq!(dedup.mark_at("k", t0), Seen::New);
    // An earlier `now` than the mark: not expired.
    assert_eq!(dedup.mark_at("k", t0 - 30 * MINUTE), Seen::Duplicate);
    // "j" is marked after "k" but with an earlier time, so it expires first
    // (at t0 - 20 min) while "k", in front of it, has not expired.
    assert_eq!(dedup.mark_at("j", t0 - 30 * MINUTE), Seen::New);
    assert_eq!(dedup.mark_at("j", t0 - 21 * MINUTE), Seen::Duplicate);
    // Expired in place, behind an unexpired key: new again, and re-marked.
    assert_eq!(dedup.mark_at("j", t0 - 20 * MINUTE), Seen::New);
    assert_eq!(dedup.mark_at("j", t0 - 19 * MINUTE), Seen::Duplicate);
    assert_eq!(dedup.mark_at("k", t0 - 19 * MINUTE), Seen::Duplicate);
    assert_eq!(dedup.len(), 2);
    // Past both TTLs, everything is purged on the next call.
    assert_eq!(dedup.mark_at("z", t0 + ttl), Seen::New);
    assert_eq!(dedup.len(), 1);
}

#[test]
fn zero_ttl_disables_dedup() {
    let dedup = timed(MemoryDeduplicator::new().with_ttl(Duration::ZERO));
    let t0 = Instant::now();
    assert_eq!(dedup.mark_at("k", t0), Seen::New);
    assert_eq!(dedup.mark_at("k", t0), Seen::New);
}

#[test]
fn max_entries_evicts_oldest_and_counts() {
    let dedup = timed(MemoryDeduplicator::new().with_max_entries(3));
    let t0 = Instant::now();
    for key in ["a", "b", "c"] {
        assert_eq!(dedup.mark_at(key, t0), Seen::New);
    }
    assert_eq!(dedup.evicted_unexpired(), 0);

    assert_eq!(dedup.mark_at("d", t0 + SECOND), Seen::New);
    assert_eq!(dedup.len(), 3);
    assert_eq!(dedup.evicted_unexpired(), 1);

    // "a" (the oldest) was evicted; the others are still remembered.
    for key in ["b", "c", "d"] {
        assert_eq!(dedup.mark_at(key, t0 + SECOND), Seen::Duplicate);
    }
    assert_eq!(dedup.mark_at("a", t0 + SECOND), Seen::New); // evicts "b"
    assert_eq!(dedup.evicted_unexpired(), 2);
    assert_eq!(dedup.len(), 3);
}

#[test]
fn eviction_of_expired_entries_is_not_counted() {
    let ttl = MINUTE;
    let dedup = timed(MemoryDeduplicator::new().with_ttl(ttl).with_max_entries(2));
    let t0 = Instant::now();
    dedup.mark_at("a", t0);
    dedup.mark_at("b", t0);
    assert_eq!(dedup.mark_at("c", t0 + ttl), Seen::New);
    assert_eq!(dedup.evicted_unexpired(), 0);
}

#[test]
fn zero_max_entries_is_treated_as_one() {
    let dedup = timed(MemoryDeduplicator::new().with_max_entries(0));
    assert_eq!(dedup.max_entries(), 1);
    let t0 = Instant::now();
    assert_eq!(dedup.mark_at("a", t0), Seen::New);
    assert_eq!(dedup.mark_at("a", t0), Seen::Duplicate);
    assert_eq!(dedup.mark_at("b", t0), Seen::New);
    assert_eq!(dedup.mark_at("a", t0), Seen::New);
    assert_eq!(dedup.len(), 1);
}

#[test]
fn memory_stays_bounded_under_a_flood() {
    let dedup = timed(MemoryDeduplicator::new().with_max_entries(50));
    let t0 = Instant::now();
    for i in 0..10_000u32 {
        assert_eq!(dedup.mark_at(&i.to_string(), t0), Seen::New);
        assert!(dedup.len() <= 50);
    }
    assert_eq!(dedup.evicted_unexpired(), 10_000 - 50);
}

#[tokio::test]
async fn forget_makes_key_new_again() {
    let dedup = MemoryDeduplicator::new();
    assert_eq!(dedup.check_and_mark("k").await, Ok(Seen::New));
    assert_eq!(dedup.check_and_mark("k").await, Ok(Seen::Duplicate));
    assert_eq!(dedup.forget("k").await, Ok(()));
    assert!(dedup.is_empty());
    assert_eq!(dedup.check_and_mark("k").await, Ok(Seen::New));
    assert_eq!(dedup.check_and_mark("k").await, Ok(Seen::Duplicate));
    // Forgetting an unknown key is fine.
    assert_eq!(dedup.forget("never-seen").await, Ok(()));
}

#[test]
fn forget_then_remark_is_not_undone_by_stale_slots() {
    let ttl = 10 * MINUTE;
    let dedup = timed(MemoryDeduplicator::new().with_ttl(ttl).with_max_entries(2));
    let t0 = Instant::now();
    dedup.mark_at("k", t0);
    dedup.forget("k");
    assert!(dedup.is_empty());
    dedup.forget("k"); // forgetting an unknown key is fine
                       // Re-marked later: the stale slot of the first mark must not expire or
                       // evict the new mark.
    assert_eq!(dedup.mark_at("k", t0 + 5 * MINUTE), Seen::New);
    assert_eq!(dedup.mark_at("x", t0 + 11 * MINUTE), Seen::New);
    assert_eq!(dedup.mark_at("k", t0 + 11 * MINUTE), Seen::Duplicate);
    assert_eq!(dedup.evicted_unexpired(), 0);
}

#[test]
fn repeated_forget_keeps_memory_bounded() {
    let dedup = timed(MemoryDeduplicator::new().with_max_entries(4));
    let t0 = Instant::now();
    for _ in 0..10_000 {
        assert_eq!(dedup.mark_at("k", t0), Seen::New);
        dedup.forget("k");
    }
    assert!(dedup.is_empty());
    for key in ["a", "b", "c", "d"] {
        assert_eq!(dedup.mark_at(key, t0), Seen::New);
    }
    // Stale slots never displaced live keys.
    assert_eq!(dedup.evicted_unexpired(), 0);
    assert_eq!(dedup.len(), 4);
}

#[test]
fn concurrent_same_key_yields_exactly_one_new() {
    const THREADS: usize = 16;
    let dedup = timed(MemoryDeduplicator::new());
    let barrier = Barrier::new(THREADS);
    let new_count = AtomicUsize::new(0);
    let now = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                barrier.wait();
                if dedup.mark_at("started:meeting:s1", now).is_new() {
                    new_count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(new_count.load(Ordering::Relaxed), 1);
    assert_eq!(dedup.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_through_the_trait_and_arc() {
    const TASKS: usize = 32;
    const KEYS: usize = 8;
    let dedup = Arc::new(MemoryDeduplicator::new());
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let dedup = Arc::clone(&dedup);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            // Goes through `impl Deduplicator for Arc<D>`.
            Deduplicator::check_and_mark(&dedup, &format!("key-{}", i % KEYS)).await
        }));
    }
    let mut new_count = 0;
    for task in tasks {
        if task
            .await
            .expect("task panicked")
            .expect("memory never fails")
            == Seen::New
        {
            new_count += 1;
        }
    }
    assert_eq!(new_count, KEYS);
}

/// A generic consumer, the way the receiver uses the trait.
async fn accept<D: Deduplicator>(dedup: &D, key: &str) -> Result<bool, DedupError> {
    Ok(dedup.check_and_mark(key).await?.is_new())
}

#[tokio::test]
async fn trait_is_usable_generically() {
    let dedup = MemoryDeduplicator::new();
    assert_eq!(accept(&dedup, "a").await, Ok(true));
    assert_eq!(accept(&dedup, "a").await, Ok(false));
    let shared = Arc::new(dedup);
    assert_eq!(accept(&shared, "a").await, Ok(false));
    assert_eq!(accept(&shared, "b").await, Ok(true));
}

#[test]
fn trait_futures_are_send() {
    fn assert_send<F: std::future::Future + Send>(_: F) {}
    let dedup = MemoryDeduplicator::new();
    assert_send(dedup.check_and_mark("k"));
    assert_send(dedup.forget("k"));
}

#[test]
fn errors_display_without_keys() {
    let err = DedupError::Unavailable(StoreError::new("connection refused"));
    assert_eq!(
        err.to_string(),
        "de-duplication store unavailable: connection refused"
    );
    assert_eq!(
        DedupError::Timeout.to_string(),
        "de-duplication store timed out"
    );
}

#[test]
fn debug_shows_configuration_not_keys() {
    let dedup = MemoryDeduplicator::new().with_max_entries(7);
    ready(dedup.check_and_mark("secret-looking-key")).expect("memory never fails");
    let debug = format!("{dedup:?}");
    assert!(debug.contains("max_entries: 7"), "{debug}");
    assert!(debug.contains("len: 1"), "{debug}");
    assert!(!debug.contains("secret-looking-key"), "{debug}");
}

#[tokio::test]
async fn the_injected_clock_alone_decides_expiry() {
    // The clock never moves unless the test moves it: a TTL of one nanosecond does not expire
    // between two calls...
    let t0 = Instant::now();
    let dedup = timed(MemoryDeduplicator::new().with_ttl(Duration::from_nanos(1)));
    assert_eq!(dedup.mark_at("k", t0), Seen::New);
    assert_eq!(dedup.check_and_mark("k").await, Ok(Seen::Duplicate));
    // ...and a TTL of a day expires as soon as the clock says a day has passed.
    let dedup = timed(MemoryDeduplicator::new().with_ttl(24 * 60 * MINUTE));
    assert_eq!(dedup.mark_at("k", t0), Seen::New);
    assert_eq!(dedup.mark_at("k", t0 + 24 * 60 * MINUTE), Seen::New);
}

/// Which de-duplication store the application's configuration names.
enum StoreConfig {
    Memory { ttl: Duration },
    Shared(Arc<MemoryDeduplicator>),
}

fn store_from(config: StoreConfig) -> BoxDeduplicator {
    match config {
        StoreConfig::Memory { ttl } => {
            BoxDeduplicator::new(MemoryDeduplicator::new().with_ttl(ttl))
        }
        StoreConfig::Shared(shared) => BoxDeduplicator::new(shared),
    }
}

#[tokio::test]
async fn box_deduplicator_is_chosen_at_run_time_and_behaves_like_the_store() {
    let shared = Arc::new(MemoryDeduplicator::new());
    let stores = [
        store_from(StoreConfig::Memory { ttl: DEFAULT_TTL }),
        store_from(StoreConfig::Shared(Arc::clone(&shared))),
    ];
    for dedup in &stores {
        assert_eq!(dedup.check_and_mark("k").await, Ok(Seen::New));
        assert_eq!(dedup.check_and_mark("k").await, Ok(Seen::Duplicate));
        assert_eq!(dedup.forget("k").await, Ok(()));
        assert_eq!(dedup.check_and_mark("k").await, Ok(Seen::New));
        assert_eq!(dedup.check_and_mark("other").await, Ok(Seen::New));
    }
    // The boxed shared store is the shared store, not a copy.
    assert_eq!(shared.len(), 2);
    assert_eq!(shared.check_and_mark("other").await, Ok(Seen::Duplicate));
    assert_eq!(format!("{:?}", stores[0]), "BoxDeduplicator(..)");
}

#[tokio::test]
async fn box_deduplicator_passes_errors_through() {
    struct Down;
    impl Deduplicator for Down {
        async fn check_and_mark(&self, _key: &str) -> Result<Seen, DedupError> {
            Err(DedupError::Timeout)
        }
        async fn forget(&self, _key: &str) -> Result<(), DedupError> {
            Err(DedupError::Timeout)
        }
    }
    let dedup = BoxDeduplicator::new(Down);
    assert_eq!(dedup.check_and_mark("k").await, Err(DedupError::Timeout));
    assert_eq!(dedup.forget("k").await, Err(DedupError::Timeout));
}

#[test]
fn box_deduplicator_futures_are_send() {
    fn assert_send<F: Future + Send>(_: F) {}
    let dedup = BoxDeduplicator::new(MemoryDeduplicator::new());
    assert_send(dedup.check_and_mark("k"));
    assert_send(dedup.forget("k"));
}
