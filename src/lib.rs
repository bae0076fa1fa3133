//! Verified, typed, acknowledge-first receiving of Zoom RTMS webhooks.
//!
//! (Crate documentation is written by the lead at the end.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
pub mod dedup;
#[cfg(feature = "dispatch")]
pub mod dispatch;
pub mod event;
pub mod handshake;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod receiver;
#[cfg(feature = "redis")]
pub mod redis;
pub mod region;
pub mod signature;

pub use event::{
    ConcurrencyLimited, ConcurrencyNearLimit, IdField, InstanceId, Lifecycle, ParseError, Product,
    RtmsInterrupted, RtmsStarted, RtmsStopped, StartFailed, StopReason, UnknownEvent,
    UrlValidation, WebhookEvent,
};
pub use handshake::{
    handshake_signature, Credentials, CredentialsError, HandshakeError, HandshakeStatus, MsgType,
    SignalingHandshakeRequest, SignalingHandshakeResponse,
};
pub use region::{
    parse_server_urls, parse_server_urls_with, HostPolicy, ParseRegionError, Region, ServerUrl,
    ServerUrlError,
};
pub use signature::{
    header_values, sign, ChallengeResponse, ConfigError, SecretToken, Verified, VerifiedEvent,
    Verifier, VerifierBuilder, VerifyError, DEFAULT_TOLERANCE, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
