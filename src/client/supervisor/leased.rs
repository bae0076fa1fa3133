//! What leases add to the supervisor (feature `redis`): only the holder of a stream's lease
//! connects; the stream record in Redis carries what a takeover needs; the holder renews
//! lease and record while connected and follows a failover passed on through the record;
//! a takeover loop connects streams whose lease is free, at once for a stream handed over
//! (pub/sub), else at its next scan. `unleased` is the same interface without Redis.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::store::{self, Store, DEFAULT_SUPERVISOR_PREFIX};
use super::{
    is_newer, Claim, ClientConfig, Config, Finish, Handled, Source, State, Supervisor,
    SupervisorBuilder, SupervisorError, Watcher,
};
use crate::event::RtmsStarted;
use crate::protocol::session::Webhook;
use crate::redis::{Lease, LeaseError, StreamLeases};
use crate::region::ServerUrl;

/// The builder's lease settings.
pub(super) struct Settings {
    leases: Option<StreamLeases>,
    prefix: String,
    takeover_interval: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            leases: None,
            prefix: DEFAULT_SUPERVISOR_PREFIX.to_owned(),
            takeover_interval: None,
        }
    }
}

impl SupervisorBuilder {
    /// Only the holder of a stream's lease connects to it: see [`Supervisor`] (feature
    /// `redis`). Every replica must use the same Redis, lease prefix and
    /// [key prefix](SupervisorBuilder::key_prefix), and its own owner id. The lease's TTL and
    /// renew interval ([`StreamLeases::with_ttl`]) set how fast a dead replica's streams are
    /// taken over.
    ///
    /// ```no_run
    /// use zoom_rtms_webhooks::client::Supervisor;
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::redis::{connect, StreamLeases};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let leases = StreamLeases::new(connect("redis://127.0.0.1/").await?);
    /// let creds = Credentials::new("id", "secret")?;
    /// // Built inside the runtime: the takeover loop runs from now on.
    /// let supervisor = Supervisor::builder(creds).leases(leases).build(|_stream| async {});
    /// assert!(supervisor.leases().is_some());
    /// # Ok(()) }
    /// ```
    pub fn leases(mut self, leases: StreamLeases) -> Self {
        self.leasing.leases = Some(leases);
        self
    }

    /// The prefix of the stream records' keys (default [`DEFAULT_SUPERVISOR_PREFIX`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Supervisor;
    /// # let creds = zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap();
    /// let s = Supervisor::builder(creds).key_prefix("app:stream:").build(|_s| async {});
    /// assert_eq!(s.key_prefix(), "app:stream:");
    /// ```
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.leasing.prefix = prefix.into();
        self
    }

    /// How often the takeover loop looks for streams whose lease is free (default a quarter
    /// of the lease TTL, 2.5 s with [`DEFAULT_LEASE_TTL`](crate::redis::DEFAULT_LEASE_TTL);
    /// at least 10 ms). A stream handed over is taken at once, not at the next scan.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::client::Supervisor;
    /// # let creds = zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap();
    /// let s = Supervisor::builder(creds)
    ///     .takeover_interval(Duration::from_secs(2))
    ///     .build(|_s| async {});
    /// assert_eq!(s.takeover_interval(), Duration::from_secs(2));
    /// ```
    pub fn takeover_interval(mut self, interval: Duration) -> Self {
        self.leasing.takeover_interval = Some(interval);
        self
    }
}

impl Supervisor {
    /// See [`SupervisorBuilder::leases`].
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::builder(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap()).build(|_s| async {});
    /// assert!(s.leases().is_none());
    /// ```
    pub fn leases(&self) -> Option<&StreamLeases> {
        self.config.leases.leases.as_ref()
    }

    /// See [`SupervisorBuilder::key_prefix`].
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::builder(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap()).build(|_s| async {});
    /// assert_eq!(s.key_prefix(), zoom_rtms_webhooks::client::DEFAULT_SUPERVISOR_PREFIX);
    /// ```
    pub fn key_prefix(&self) -> &str {
        &self.config.leases.prefix
    }

    /// See [`SupervisorBuilder::takeover_interval`].
    ///
    /// ```
    /// # let s = zoom_rtms_webhooks::client::Supervisor::builder(zoom_rtms_webhooks::handshake::Credentials::new("i", "s").unwrap()).build(|_s| async {});
    /// assert_eq!(s.takeover_interval(), zoom_rtms_webhooks::redis::DEFAULT_LEASE_TTL / 4);
    /// ```
    pub fn takeover_interval(&self) -> Duration {
        self.config.leases.takeover_interval
    }
}

/// The supervisor's leases, if configured.
pub(super) struct Leases {
    leases: Option<StreamLeases>,
    store: Option<Store>,
    prefix: String,
    takeover_interval: Duration,
}

/// A connection's lease, and when the last renewal that succeeded was sent (the lease is ours
/// at least until a TTL after that).
pub(super) struct Held(Option<(Lease, Instant)>);

impl Held {
    pub(super) fn ticket(&self) -> Ticket {
        Ticket(self.0.as_ref().map(|(lease, _)| lease.clone()))
    }

    pub(super) fn fencing_token(&self) -> Option<u64> {
        self.0.as_ref().map(|(lease, _)| lease.fencing_token())
    }
}

/// What a connection's entry keeps of its lease.
pub(super) struct Ticket(Option<Lease>);

impl Leases {
    pub(super) fn new(settings: Settings) -> Self {
        let ttl = settings
            .leases
            .as_ref()
            .map_or(crate::redis::DEFAULT_LEASE_TTL, StreamLeases::ttl);
        Leases {
            store: settings
                .leases
                .clone()
                .map(|leases| Store::new(leases, &settings.prefix)),
            leases: settings.leases,
            prefix: settings.prefix,
            takeover_interval: settings
                .takeover_interval
                .unwrap_or(ttl / 4)
                .max(Duration::from_millis(10)),
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.store.is_some()
    }

    /// The takeover loop, inside a runtime.
    pub(super) fn spawn(&self, supervisor: &Supervisor) -> Option<tokio::task::JoinHandle<()>> {
        self.store.as_ref()?;
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let config = Arc::clone(&supervisor.config);
        Some(runtime.spawn(takeover_loop(config, Arc::downgrade(&supervisor.state))))
    }

    /// An `rtms_started`: the lease, or (held elsewhere) the failover passed on to the holder
    /// through the record, which it reads at its next renewal.
    pub(super) async fn claim(
        &self,
        started: &RtmsStarted,
        url: &ServerUrl,
    ) -> Result<Claim, SupervisorError> {
        let Some(store) = &self.store else {
            return Ok(Claim::Ours {
                held: Held(None),
                started: started.clone(),
                url: url.clone(),
            });
        };
        let id = &started.rtms_stream_id;
        match store.acquire(id).await {
            Ok(lease) => Ok(match hold(store, lease, started, url).await? {
                Some(held) => Claim::Ours {
                    held,
                    started: started.clone(),
                    url: url.clone(),
                },
                None => Claim::Not(Handled::HeldElsewhere),
            }),
            Err(LeaseError::Held(_)) => {
                // No record yet: the holder is still starting.
                let record = store::record(started, url);
                store.update(id, &record, started.event_ts).await?;
                Ok(Claim::Not(Handled::HeldElsewhere))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes `id` over from its record if its lease is free.
    pub(super) async fn take_over(
        &self,
        id: &str,
        client: &ClientConfig,
    ) -> Result<Claim, SupervisorError> {
        let Some(store) = &self.store else {
            return Ok(Claim::Not(Handled::NotConnected));
        };
        // A replica whose host policy refuses the stored URL leaves the lease alone, so a
        // replica that accepts it can take the stream at once.
        if let Ok(Some(started)) = store.load(id).await {
            if let Err(error) = client.server_url(&started) {
                return Ok(Claim::Refused(started, error));
            }
        }
        let lease = match store.acquire(id).await {
            Ok(lease) => lease,
            Err(LeaseError::Held(_)) => return Ok(Claim::Not(Handled::HeldElsewhere)),
            Err(e) => return Err(e.into()),
        };
        let started = match store.load(id).await {
            Ok(Some(started)) => started,
            // The stream ended meanwhile (record deleted): free the lease again.
            Ok(None) => {
                let _ = store.forget(&lease).await;
                return Ok(Claim::Not(Handled::NotConnected));
            }
            Err(e) => {
                let _ = store.forget(&lease).await;
                return Err(e.into());
            }
        };
        let url = match client.server_url(&started) {
            Ok(url) => url,
            Err(error) => {
                // Not dialled here; the record stays (until it expires) for the others.
                let _ = store.release(&lease).await;
                return Ok(Claim::Refused(started, error));
            }
        };
        Ok(match hold(store, lease, &started, &url).await? {
            Some(held) => Claim::Ours { held, started, url },
            None => Claim::Not(Handled::HeldElsewhere),
        })
    }

    /// The holder failed over: the record names the new servers.
    pub(super) async fn moved(
        &self,
        ticket: &Ticket,
        started: &RtmsStarted,
        url: &ServerUrl,
    ) -> Result<(), SupervisorError> {
        if let (Some(store), Some(lease)) = (&self.store, &ticket.0) {
            store
                .save(lease, Some(&store::record(started, url)), started.event_ts)
                .await?;
        }
        Ok(())
    }

    /// `rtms_stopped` for a stream not connected here: its record goes, so that nobody takes
    /// it over, and its holder ends it at its next renewal.
    pub(super) async fn stopped_elsewhere(&self, id: &str) -> Result<(), SupervisorError> {
        if let Some(store) = &self.store {
            store.drop_record(id).await?;
        }
        Ok(())
    }

    /// Until the connection ends: renews the lease and the stream record (and picks up a
    /// failover URL written by another replica, or the end of the stream when another replica
    /// got `rtms_stopped` and deleted the record); drops the connection at once when the lease
    /// is lost, or when no renewal has succeeded for nine tenths of the TTL (before Redis can
    /// expire the lease and another replica take it). `true` if the lease was lost.
    pub(super) async fn watch(&self, watcher: &Watcher, held: &Held) -> bool {
        let (Some(store), Some((lease, valid_from))) = (&self.store, &held.0) else {
            watcher.handle.finished().await;
            return false;
        };
        let ttl = store.ttl();
        let margin = ttl / 10;
        let mut valid_from = *valid_from;
        // Renew well inside the TTL even when the renew interval is set longer.
        let period = store.renew_interval().min(ttl / 3);
        let mut tick = tokio::time::interval(period.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let deadline = valid_from + (ttl - margin);
            tokio::select! {
                () = watcher.handle.finished() => return false,
                () = tokio::time::sleep_until(deadline) => break,
                _ = tick.tick() => {
                    let sent = Instant::now();
                    let saved = tokio::time::timeout_at(deadline, store.save(lease, None, None));
                    match saved.await.unwrap_or(Ok(None)) {
                        Ok(Some(record)) => {
                            valid_from = sent;
                            if record.is_empty() {
                                // Deleted by an `rtms_stopped` delivered to another replica.
                                watcher.handle.webhook(Webhook::Stopped);
                            } else if let Some(started) = store::parse_record(&record) {
                                watcher.follow(&started).await;
                            }
                        }
                        // Not ours any more, or no answer before the deadline.
                        Ok(None) => break,
                        // Redis unreachable: try again at the next tick, until the deadline.
                        Err(_) => {}
                    }
                }
            }
        }
        watcher.handle.abort().await;
        true
    }

    /// The connection ended: forgets the stream, hands it over, or (lost) leaves it.
    pub(super) async fn finish(&self, held: Held, how: Finish) {
        let (Some(store), Some((lease, _))) = (&self.store, held.0) else {
            return;
        };
        // Errors: the lease expires by itself.
        let _ = match how {
            Finish::Ended => store.forget(&lease).await,
            Finish::HandedOver => store.hand_over(&lease).await,
            Finish::Lost => Ok(()),
        };
    }
}

/// Writes the record with the lease just acquired (which renews it): the lease kept, or
/// `None` when it was lost in between; on an error the lease is freed again.
async fn hold(
    store: &Store,
    lease: Lease,
    started: &RtmsStarted,
    url: &ServerUrl,
) -> Result<Option<Held>, SupervisorError> {
    let sent = Instant::now();
    let record = store::record(started, url);
    match store.save(&lease, Some(&record), started.event_ts).await {
        Ok(Some(_)) => Ok(Some(Held(Some((lease, sent))))),
        Ok(None) => Ok(None),
        Err(e) => {
            let _ = store.forget(&lease).await;
            Err(e.into())
        }
    }
}

impl Watcher {
    /// Fails over when the stored record names other servers and is newer than the
    /// connection's start (never back to an older one; never while shutting down).
    async fn follow(&self, started: &RtmsStarted) {
        if self
            .supervisor
            .state
            .closed
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let Ok(url) = self.supervisor.config.client.server_url(started) else {
            return;
        };
        let mut entry = self.slot.lock().await;
        if entry.generation != self.generation {
            return;
        }
        if let Some(conn) = entry.conn.as_mut() {
            if conn.url != url && is_newer(started.event_ts, conn.event_ts) {
                conn.handle.webhook(Webhook::Started {
                    server_url: url.clone(),
                });
                conn.url = url;
                conn.event_ts = started.event_ts;
            }
        }
    }
}

/// Every takeover interval: takes over the streams whose lease is free; in between, at once,
/// the streams other replicas hand over. Ends with the last clone of the supervisor.
async fn takeover_loop(config: Arc<Config>, state: Weak<State>) {
    let Some(store) = config.leases.store.clone() else {
        return;
    };
    let interval = config.leases.takeover_interval;
    let (tx, mut handed_over) = mpsc::unbounded_channel();
    let listener = tokio::spawn(store.clone().listen(interval, tx));
    let _stop = AbortOnDrop(listener);
    let take_over = |id: String| {
        let (config, state) = (config.clone(), state.upgrade());
        async move {
            let Some(state) = state else {
                return false;
            };
            let supervisor = Supervisor { config, state };
            if supervisor
                .state
                .closed
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                return false;
            }
            let source = Source::TakeOver {
                id: &id,
                report: false,
            };
            let _ = supervisor.connect(source).await;
            true
        }
    };
    loop {
        if state.strong_count() == 0 {
            return;
        }
        if let Ok(free) = store.free().await {
            for id in free {
                if !take_over(id).await {
                    return;
                }
            }
        }
        let next_scan = Instant::now() + interval;
        loop {
            tokio::select! {
                id = handed_over.recv() => match id {
                    Some(id) => if !take_over(id).await { return },
                    None => {
                        tokio::time::sleep_until(next_scan).await;
                        break;
                    }
                },
                () = tokio::time::sleep_until(next_scan) => break,
            }
        }
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
