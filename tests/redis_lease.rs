//! Stream leases against a real `redis-server`: one winner per stream, the loser can neither
//! renew nor release, the other takes the stream after expiry, fencing tokens strictly increase,
//! and a `LeaseKeeper` renews, reports loss and releases.
//!
//! Waits here are for Redis TTLs that must really pass (bounded polls on the key), never
//! assertions on wall-clock bounds.
#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_support;

use std::time::{Duration, Instant};

use redis_support::RedisServer;
use zoom_rtms_webhooks::redis::{
    connect, LeaseError, LeaseLost, RedisConnection, StreamLeases, DEFAULT_FENCING_KEY,
    DEFAULT_LEASE_TTL, DEFAULT_RENEW_INTERVAL,
};

/// Polls until `key` no longer exists (its TTL has passed). Bounded.
async fn wait_until_gone(conn: &mut RedisConnection, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(key)
            .query_async(conn)
            .await
            .expect("EXISTS");
        if exists == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{key} never expired");
        // The TTL must actually pass: Redis expires keys in real time.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn leases(server: &RedisServer, owner: &str) -> StreamLeases {
    let conn = connect(&server.url()).await.expect("connect");
    StreamLeases::new(conn).with_owner(owner)
}

#[tokio::test]
async fn defaults_expire_soon_after_a_death_and_renew_three_times_per_ttl() {
    let server = RedisServer::start();
    let leases = leases(&server, "a").await;
    assert_eq!(leases.ttl(), DEFAULT_LEASE_TTL);
    assert_eq!(leases.renew_interval(), DEFAULT_RENEW_INTERVAL);
    assert_eq!(DEFAULT_LEASE_TTL, Duration::from_secs(10));
    assert!(DEFAULT_RENEW_INTERVAL * 3 < DEFAULT_LEASE_TTL);
    assert_eq!(leases.key("s"), "zoom-rtms:lease:s");

    let lease = leases.acquire("s").await.expect("acquire");
    let holder = leases.holder("s").await.expect("holder").expect("held");
    assert_eq!(holder.owner, "a");
    assert_eq!(holder.fencing_token, lease.fencing_token());
    let left = holder.expires_in.expect("pttl");
    assert!(
        left > Duration::ZERO && left <= DEFAULT_LEASE_TTL,
        "{left:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_contenders_one_winner_loser_cannot_renew_or_release_then_takes_over() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    // Long enough that the winner's renew below cannot miss it on a loaded machine.
    let a = leases(&server, "replica-a")
        .await
        .with_ttl(Duration::from_secs(1));
    let b = leases(&server, "replica-b")
        .await
        .with_ttl(Duration::from_secs(1));

    // Both try at once: exactly one wins; the other is told who holds it.
    let (ra, rb) = tokio::join!(a.acquire("stream-1"), b.acquire("stream-1"));
    let (winner, loser, won, lost) = match (ra, rb) {
        (Ok(lease), Err(e)) => (&a, &b, lease, e),
        (Err(e), Ok(lease)) => (&b, &a, lease, e),
        other => panic!("expected exactly one winner, got {other:?}"),
    };
    match lost {
        LeaseError::Held(holder) => {
            assert_eq!(holder.owner, winner.owner());
            assert_eq!(holder.fencing_token, won.fencing_token());
        }
        other => panic!("expected Held, got {other:?}"),
    }
    winner.renew(&won).await.expect("the winner renews");
    winner.check(&won).await.expect("the winner still holds it");

    // The winner's lease expires (it stopped renewing: died, paused, partitioned).
    wait_until_gone(&mut admin, &winner.key("stream-1")).await;

    // Now the loser takes it, with a higher fencing token.
    let taken = loser.acquire("stream-1").await.expect("free after expiry");
    assert!(taken.fencing_token() > won.fencing_token());

    // The old holder (now the one without the lease) can neither renew nor release it.
    assert_eq!(winner.renew(&won).await, Err(LeaseError::NotHeld));
    assert_eq!(winner.release(&won).await, Err(LeaseError::NotHeld));
    assert_eq!(winner.check(&won).await, Err(LeaseError::NotHeld));
    match winner.acquire("stream-1").await {
        Err(LeaseError::Held(holder)) => assert_eq!(holder.owner, loser.owner()),
        other => panic!("expected Held, got {other:?}"),
    }
    // ... and the new holder's lease is untouched.
    let holder = loser
        .holder("stream-1")
        .await
        .expect("holder")
        .expect("held");
    assert_eq!(holder.fencing_token, taken.fencing_token());
    loser.renew(&taken).await.expect("the new holder renews");

    // Release frees the stream at once; releasing twice fails.
    loser.release(&taken).await.expect("release");
    assert_eq!(loser.release(&taken).await, Err(LeaseError::NotHeld));
    let again = winner
        .acquire("stream-1")
        .await
        .expect("free after release");
    assert!(again.fencing_token() > taken.fencing_token());
}

#[tokio::test]
async fn a_second_lease_of_the_same_owner_is_refused_and_stale_leases_are_rejected() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let a = leases(&server, "same")
        .await
        .with_ttl(Duration::from_secs(1));
    let first = a.acquire("s").await.expect("acquire");
    // A second rtms_started for a stream this replica already holds: refused.
    assert!(matches!(a.acquire("s").await, Err(LeaseError::Held(_))));
    wait_until_gone(&mut admin, &a.key("s")).await;
    let second = a.acquire("s").await.expect("acquire after expiry");
    // Same owner id, but the stale lease's token no longer matches.
    assert_eq!(a.renew(&first).await, Err(LeaseError::NotHeld));
    assert_eq!(a.release(&first).await, Err(LeaseError::NotHeld));
    a.check(&second).await.expect("current lease");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_tokens_strictly_increase_across_streams_and_contenders() {
    let server = RedisServer::start();
    let mut contenders = Vec::new();
    for i in 0..4 {
        contenders.push(leases(&server, &format!("r{i}")).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, contender) in contenders.iter().enumerate() {
        let contender = contender.clone();
        tasks.spawn(async move {
            let mut tokens = Vec::new();
            for n in 0..25 {
                let lease = contender
                    .acquire(&format!("s-{i}-{n}"))
                    .await
                    .expect("acquire a free stream");
                tokens.push(lease.fencing_token());
            }
            tokens
        });
    }
    let mut all = Vec::new();
    while let Some(tokens) = tasks.join_next().await {
        let tokens = tokens.expect("task");
        assert!(
            tokens.windows(2).all(|w| w[0] < w[1]),
            "increasing per contender"
        );
        all.extend(tokens);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 100, "no token granted twice");

    // Sequential take-overs of one stream: each token above the previous one.
    let a = &contenders[0];
    let mut last = 0;
    for _ in 0..10 {
        let lease = a.acquire("hot").await.expect("acquire");
        assert!(lease.fencing_token() > last);
        last = lease.fencing_token();
        a.release(&lease).await.expect("release");
    }
}

/// Redis's clock in microseconds (`TIME`).
async fn redis_micros(conn: &mut RedisConnection) -> u64 {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(conn).await.expect("TIME");
    secs * 1_000_000 + micros
}

/// The fencing counter has no TTL, but its key can still be lost (`FLUSHDB`, eviction under an
/// `allkeys-*` policy, a failover to a replica that missed the last `INCR`). Tokens are raised to
/// Redis's clock, so the next token is still above every earlier one: a stale holder stays
/// fenced off instead of the new holder.
#[tokio::test]
async fn fencing_tokens_keep_increasing_after_the_counter_is_lost() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    let a = leases(&server, "a").await;
    assert_eq!(a.fencing_key(), DEFAULT_FENCING_KEY);

    let before = redis_micros(&mut admin).await;
    let first = a.acquire("s-1").await.expect("acquire");
    assert!(
        first.fencing_token() >= before,
        "seeded from Redis's clock: {} < {before}",
        first.fencing_token()
    );
    let second = a.acquire("s-2").await.expect("acquire");
    assert!(second.fencing_token() > first.fencing_token());

    // The counter key alone is lost (evicted, or a replica that missed the INCR is promoted).
    let _: i64 = redis::cmd("DEL")
        .arg(DEFAULT_FENCING_KEY)
        .query_async(&mut admin)
        .await
        .expect("DEL");
    let third = a.acquire("s-3").await.expect("acquire");
    assert!(
        third.fencing_token() > second.fencing_token(),
        "{} after {}",
        third.fencing_token(),
        second.fencing_token()
    );

    // Everything is lost (FLUSHDB): the stream is free again, and its new lease is still fenced
    // above the lost one.
    let _: () = redis::cmd("FLUSHDB")
        .query_async(&mut admin)
        .await
        .expect("FLUSHDB");
    let again = a.acquire("s-1").await.expect("free after FLUSHDB");
    assert!(again.fencing_token() > third.fencing_token());
    let counter: u64 = redis::cmd("GET")
        .arg(DEFAULT_FENCING_KEY)
        .query_async(&mut admin)
        .await
        .expect("GET");
    assert_eq!(counter, again.fencing_token(), "the counter is re-seeded");
    // The old holder of s-1 can neither renew nor release the new lease.
    assert_eq!(a.renew(&first).await, Err(LeaseError::NotHeld));
    assert_eq!(a.release(&first).await, Err(LeaseError::NotHeld));
    a.check(&again).await.expect("the new lease is held");
}

#[tokio::test]
async fn acquire_within_waits_for_a_dead_holders_lease_to_expire() {
    let server = RedisServer::start();
    let dead = leases(&server, "dead")
        .await
        .with_ttl(Duration::from_millis(200));
    let heir = leases(&server, "heir").await;
    let old = dead.acquire("s").await.expect("acquire");
    // `dead` never renews. The heir waits (bounded) for the expiry instead of giving up.
    let new = heir
        .acquire_within("s", Duration::from_secs(20))
        .await
        .expect("taken over after expiry");
    assert!(new.fencing_token() > old.fencing_token());
    assert_eq!(new.owner(), "heir");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_renews_past_the_ttl_reports_loss_and_releases() {
    let server = RedisServer::start();
    let mut admin = connect(&server.url()).await.expect("connect");
    // Renewals every 100 ms leave 1.9 s of slack for a loaded CI machine.
    let ttl = Duration::from_secs(2);
    let leases = leases(&server, "keeper")
        .await
        .with_ttl(ttl)
        .with_renew_interval(Duration::from_millis(100));

    // 1. Kept alive: still held, every time we look, until two TTLs have really passed (Redis
    //    expires keys in real time, so the time must pass; we poll the lease, bounded).
    let lease = leases.acquire("kept").await.expect("acquire");
    let keeper = leases.keep_alive(lease.clone());
    let kept_since = Instant::now();
    while kept_since.elapsed() < ttl * 2 {
        leases.check(&lease).await.expect("renewed, not expired");
        assert!(keeper.is_held());
        tokio::time::sleep(Duration::from_millis(50)).await; // poll interval
    }
    leases.check(&lease).await.expect("renewed, not expired");

    // 2. Taken over behind its back: the keeper reports the loss.
    let _: () = redis::cmd("SET")
        .arg(leases.key("kept"))
        .arg("999999:intruder")
        .query_async(&mut admin)
        .await
        .expect("SET");
    let reason = tokio::time::timeout(Duration::from_secs(20), keeper.lost())
        .await
        .expect("loss reported");
    assert_eq!(reason, LeaseLost::NotHeld);
    assert!(!keeper.is_held());
    assert_eq!(
        keeper.release().await,
        Err(LeaseError::NotHeld),
        "never deletes the intruder's"
    );
    let holder = leases.holder("kept").await.expect("holder").expect("held");
    assert_eq!(holder.owner, "intruder");

    // 3. Release frees the stream at once.
    let keeper = leases.keep_alive(leases.acquire("released").await.expect("acquire"));
    keeper.release().await.expect("release");
    assert!(leases.holder("released").await.expect("holder").is_none());

    // 4. Dropped: renewal stops and the lease expires by itself.
    let keeper = leases.keep_alive(leases.acquire("dropped").await.expect("acquire"));
    drop(keeper);
    wait_until_gone(&mut admin, &leases.key("dropped")).await;
}

#[tokio::test]
async fn keeper_reports_unrenewable_when_redis_is_gone_for_a_ttl() {
    let mut server = RedisServer::start();
    let leases = leases(&server, "k")
        .await
        .with_ttl(Duration::from_millis(300))
        .with_renew_interval(Duration::from_millis(60))
        .with_timeout(Duration::from_millis(100));
    let keeper = leases.keep_alive(leases.acquire("s").await.expect("acquire"));
    server.stop();
    let reason = tokio::time::timeout(Duration::from_secs(20), keeper.lost())
        .await
        .expect("loss reported");
    assert_eq!(reason, LeaseLost::Unrenewable);
    assert!(leases.acquire("s").await.expect_err("down").is_transient());
}
