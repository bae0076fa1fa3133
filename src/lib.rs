//! Verified, typed, acknowledge-first receiving of Zoom RTMS webhooks.
//!
//! (Crate documentation is written by the lead at the end.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod event;
pub mod handshake;
pub mod region;
pub mod signature;

pub use event::{
    IdField, InstanceId, Lifecycle, ParseError, Product, RtmsInterrupted, RtmsStarted, RtmsStopped,
    StopReason, WebhookEvent,
};
pub use handshake::{Credentials, SignalingHandshakeRequest, SignalingHandshakeResponse};
pub use region::{HostPolicy, Region, ServerUrl, ServerUrlError};
pub use signature::{
    sign, ChallengeResponse, ConfigError, Verified, VerifiedEvent, Verifier, VerifyError,
};
