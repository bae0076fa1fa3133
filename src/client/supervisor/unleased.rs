//! Without the `redis` feature there are no leases: every claim is granted, nothing is
//! renewed or released, and there is no takeover loop. The same interface as `leased`, so
//! that the supervisor's flow is one.

use super::{Claim, ClientConfig, Finish, Supervisor, SupervisorError, Watcher};
use crate::event::RtmsStarted;
use crate::region::ServerUrl;

/// The builder's lease settings: none.
#[derive(Default)]
pub(super) struct Settings {}

/// No leases.
pub(super) struct Leases;

/// A connection's lease: none.
pub(super) struct Held;

impl Held {
    pub(super) fn ticket(&self) -> Ticket {
        Ticket
    }

    pub(super) fn fencing_token(&self) -> Option<u64> {
        None
    }
}

/// What a connection's entry keeps of its lease: nothing.
pub(super) struct Ticket;

impl Leases {
    pub(super) fn new(_: Settings) -> Self {
        Leases
    }

    pub(super) fn enabled(&self) -> bool {
        false
    }

    pub(super) fn spawn(&self, _: &Supervisor) -> Option<tokio::task::JoinHandle<()>> {
        None
    }

    pub(super) async fn claim(
        &self,
        started: &RtmsStarted,
        url: &ServerUrl,
    ) -> Result<Claim, SupervisorError> {
        Ok(Claim::Ours {
            held: Held,
            started: started.clone(),
            url: url.clone(),
        })
    }

    pub(super) async fn take_over(
        &self,
        _: &str,
        _: &ClientConfig,
    ) -> Result<Claim, SupervisorError> {
        Ok(Claim::Not(super::Handled::NotConnected))
    }

    pub(super) async fn moved(
        &self,
        _: &Ticket,
        _: &RtmsStarted,
        _: &ServerUrl,
    ) -> Result<(), SupervisorError> {
        Ok(())
    }

    pub(super) async fn stopped_elsewhere(&self, _: &str) -> Result<(), SupervisorError> {
        Ok(())
    }

    /// Until the connection ends; never lost.
    pub(super) async fn watch(&self, watcher: &Watcher, _: &Held) -> bool {
        watcher.handle.finished().await;
        false
    }

    pub(super) async fn finish(&self, _: Held, _: Finish) {}
}
