//! Verified, typed, acknowledge-first receiving of Zoom RTMS (Realtime Media Streams) webhooks.
//!
//! When an RTMS stream starts in a Zoom Meeting, Webinar, Video SDK session, Contact Center
//! engagement or Phone call, Zoom POSTs a webhook. The service must answer `2xx` within three
//! seconds and then open exactly one WebSocket connection to the URL in `server_urls`; a slow
//! answer makes Zoom retry, and a retried `rtms_started` opens a second connection that kicks out
//! the first. This crate turns the raw request into a trusted, typed event and gets that right:
//!
//! - [`signature`]: `x-zm-signature` verified over the raw body, in constant time, inside a
//!   timestamp window, against one or more secrets, failing closed;
//! - the `endpoint.url_validation` reply, obtainable only from a request whose signature
//!   verified ([`signature::Verified::challenge_response`]), so the endpoint is no signing
//!   oracle;
//! - [`event`]: every RTMS product's events typed, flat or nested payloads, unknown names kept;
//! - [`region`]: `server_urls` parsed and refused unless `wss://` on `zoom.us` (an SSRF guard);
//! - [`handshake`]: the RTMS signalling handshake signature and first message per product, and
//!   its response (status, media server URLs per media kind);
//! - [`codes`]: the RTMS code tables, written once and shared by the webhook events and the
//!   protocol (message types, status codes, stop reasons, stream and session states);
//! - [`receiver`], [`dedup`], `dispatch`: acknowledge first, process after, once per event even
//!   across retries, with bounded queues and nothing acknowledged lost;
//! - features `axum`, `actix`, `hyper`: thin adapters; `redis`: several replicas sharing one
//!   Redis, so a retry landing on another replica still never opens a second connection;
//!   `protocol`: the sans-I/O RTMS WebSocket protocol (messages, media parameters, session
//!   state machine) for whatever WebSocket client the app uses.
//!
//! # Quick start
//!
//! Verify and parse one request (any framework, or none):
//!
//! ```
//! use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
//! use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
//! use zoom_rtms_webhooks::{Verifier, WebhookEvent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::new("your webhook secret token")?;
//!
//! // What Zoom sends: two headers and the raw body (here signed by the test helper `sign`).
//! let body = br#"{"event":"meeting.rtms_started","event_ts":1732000000000,
//!   "payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","operator_id":"30R7kT7bTIKSNUFEuH_Qlg",
//!   "rtms_stream_id":"609340fc8a3f4e2b9d1c7e5a0b6f8d2c","server_urls":"wss://rtms-sjc1.zoom.us/"}}"#;
//! let timestamp = std::time::SystemTime::now()
//!     .duration_since(std::time::UNIX_EPOCH)?
//!     .as_secs()
//!     .to_string();
//! let signature = sign("your webhook secret token", &timestamp, body);
//!
//! // With http 1.x types, `SignatureHeaders::from_header_map(request.headers())`.
//! let headers = SignatureHeaders::new(Some(&signature), Some(&timestamp));
//! let verified = verifier.verify_and_parse(headers, body)?;
//! if let Some(reply) = verified.challenge_response() {
//!     // `endpoint.url_validation`: answer 200 with `reply.to_json()`.
//!     # let _ = reply;
//! }
//! match verified.event() {
//!     WebhookEvent::RtmsStarted(started) => {
//!         let urls = started.server_urls(&zoom_rtms_webhooks::region::HostPolicy::default())?; // only wss:// on zoom.us
//!         assert_eq!(urls[0].region().map(|r| r.to_string()).as_deref(), Some("sjc"));
//!         let creds = Credentials::new("client id", "client secret")?;
//!         let hello = SignalingHandshakeRequest::new(&creds, started);
//!         // After answering 200: dial urls[0] and send `hello.to_json()` as the first message.
//!         assert!(hello.to_json().starts_with(r#"{"msg_type":1,"protocol_version":1"#));
//!     }
//!     other => println!("{}", other.name()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A whole endpoint that acknowledges first and processes once is a [`Receiver`] plus
//! an adapter; see the `quickstart` example (`cargo run --example quickstart --features axum`)
//! and README.md.
//!
//! A whole service that also connects to every stream (features `axum` and `client`) is one
//! call: `service::Service::from_env().run(on_stream)` (the `transcripts` example, 21 lines of
//! code); `client::connect(&started, &config)` connects to one stream from its `RtmsStarted`.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | *(none)* | the core: verification, events, code tables, regions, handshake, receiver, in-memory de-duplication |
//! | `dispatch` | the ack-first worker pool (`dispatch::Dispatcher`, tokio) |
//! | `axum` | `axum::webhook` route and `VerifiedWebhook` extractor (axum 0.8) |
//! | `actix` | `actix::configure` and `VerifiedWebhook` extractor (actix-web 4) |
//! | `hyper` | `hyper::WebhookService` (hyper 1) |
//! | `redis` | Redis de-duplication, stream leases and a durable hand-off |
//! | `protocol` | `protocol`: the sans-I/O RTMS protocol: typed outgoing and incoming messages, media parameters, the session state machine (no sockets, no runtime) |
//! | `client` | `client`: the tokio RTMS client (`client::connect`, `client::Supervisor`): signalling and media WebSockets over rustls, keep-alives, reconnects, typed media frames; with `axum`, `service`: the whole service in one call |
//! | `simulator` | `simulator`: a local Zoom for tests: signed webhooks, signalling and media on loopback, faults, checks of the client's conduct |
//! | `record` | `record::StreamRecorder`: a stream to files (WAV per participant, gap-filled; transcripts, chat, events as JSON Lines) |
//! | `tracing` | `tracing` events for every decision (no secrets in any field) |
//!
//! # MSRV
//!
//! Rust 1.86. Raising it is a minor-version change.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
mod code_enum;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "client")]
pub mod client;
pub mod codes;
pub mod dedup;
#[cfg(feature = "dispatch")]
pub mod dispatch;
pub mod event;
pub mod handshake;
#[cfg(feature = "hyper")]
pub mod hyper;
mod lenient;
#[cfg(feature = "protocol")]
pub mod protocol;
#[cfg(feature = "redis")]
mod random;
pub mod receiver;
#[cfg(feature = "record")]
pub mod record;
#[cfg(feature = "redis")]
pub mod redis;
pub mod region;
#[cfg(feature = "dispatch")]
mod run;
mod secret;
#[cfg(all(feature = "axum", feature = "client"))]
pub mod service;
pub mod signature;
#[cfg(feature = "simulator")]
pub mod simulator;

pub use event::{Product, WebhookEvent};
pub use receiver::{Delivery, Receiver};
pub use signature::Verifier;

/// README.md's Rust examples, compiled (and, unless `no_run`, run) as doctests by
/// `cargo test --doc`. Only doctest collection sees it: the README is not in the crate's docs.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
