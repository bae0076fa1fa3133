//! The added cost per request of sharing state through Redis, on loopback:
//!
//! - `memory_dedup`: a `Receiver` with the in-memory de-duplicator (the single-process baseline);
//! - `redis_dedup`: the same with `RedisDeduplicator` (one `SET NX PX` round trip);
//! - `redis_dedup_durable_handoff`: plus `RedisStreamHandoff` (a second round trip, `XADD`).
//!
//! Each iteration is one new, signed `meeting.rtms_started` (a distinct stream, so it is
//! accepted and handed off, never a duplicate), decided by `Receiver::receive`: verify, parse,
//! de-duplicate, hand off. Signing happens in the untimed setup. The hand-off of the first two is
//! a no-op closure, so the differences are the Redis round trips.
//!
//! Starts its own `redis-server` on a free loopback port (it must be installed).
//!
//! ```text
//! cargo bench --features redis --bench redis_cost -- --warm-up-time 1 --measurement-time 3
//! ```

#[path = "../tests/support/redis.rs"]
mod redis_support;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use redis_support::{signed, started_body, RedisServer, SECRET};
use tokio::runtime::Runtime;
use zoom_rtms_webhooks::dedup::{Deduplicator, MemoryDeduplicator};
use zoom_rtms_webhooks::receiver::{
    Delivery, Handoff, HandoffError, Outcome, Receiver, WebhookRequest,
};
use zoom_rtms_webhooks::redis::{connect, RedisDeduplicator, RedisStreamHandoff};
use zoom_rtms_webhooks::Verifier;

static NEXT_STREAM: AtomicU64 = AtomicU64::new(0);

/// A new signed event: `(body, signature, timestamp)`.
fn new_request() -> (Vec<u8>, String, String) {
    let n = NEXT_STREAM.fetch_add(1, Ordering::Relaxed);
    let body = started_body(&format!("bench-{n}"));
    let (signature, timestamp) = signed(&body);
    (body, signature, timestamp)
}

fn no_op(_: Delivery) -> Result<(), HandoffError> {
    Ok(())
}

fn bench_receiver<D: Deduplicator, H: Handoff>(
    c: &mut Criterion,
    name: &str,
    rt: &Runtime,
    receiver: &Receiver<D, H>,
) {
    c.bench_function(name, |b| {
        b.iter_batched(
            new_request,
            |(body, signature, timestamp)| {
                let outcome = rt.block_on(receiver.receive(WebhookRequest::post(
                    Some(&signature),
                    Some(&timestamp),
                    &body,
                )));
                assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
                black_box(outcome)
            },
            BatchSize::SmallInput,
        )
    });
}

fn redis_cost(c: &mut Criterion) {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let conn = rt
        .block_on(connect(&server.url()))
        .expect("connect to redis-server");
    let verifier = || Verifier::new(SECRET).expect("verifier");
    let timeout = Duration::from_secs(5);

    let memory = Receiver::new(verifier(), MemoryDeduplicator::new(), no_op);
    bench_receiver(c, "memory_dedup", &rt, &memory);

    let redis = Receiver::new(
        verifier(),
        RedisDeduplicator::new(conn.clone()).with_timeout(timeout),
        no_op,
    );
    bench_receiver(c, "redis_dedup", &rt, &redis);

    let durable = Receiver::new(
        verifier(),
        RedisDeduplicator::new(conn.clone()).with_timeout(timeout),
        RedisStreamHandoff::new(conn)
            .with_timeout(timeout)
            .with_max_len(10_000),
    );
    bench_receiver(c, "redis_dedup_durable_handoff", &rt, &durable);
    drop(server);
}

criterion_group!(benches, redis_cost);
criterion_main!(benches);
