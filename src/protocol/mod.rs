//! The sans-I/O RTMS protocol core (feature `protocol`): the typed messages of the signalling
//! and media WebSockets, and the media parameters, following Zoom's
//! [RTMS event reference](https://developers.zoom.us/docs/rtms/event-reference/) and
//! [data types](https://developers.zoom.us/docs/rtms/data-types/) (JSON protocol v1). No
//! sockets, no clock, no runtime. What the crate implements, where Zoom's sources disagree and
//! which choice it makes: `docs/protocol.md` in the crate's repository and package.
//!
//! - shared with the webhook half, in the core: the code tables (message types, status codes,
//!   stop reasons, states) in [`crate::codes`]; the signalling handshake (message types 1 and
//!   2), the media kinds and the `media_type` bitmask in [`crate::handshake`];
//! - [`media`]: media parameters with their enums, validated before dialling;
//! - [`events`]: event types interpreted per product, and event payloads;
//! - [`outgoing`]: the client→server messages, serialised exactly as documented (the
//!   signalling handshake, message type 1, re-exported from [`crate::handshake`]);
//! - [`incoming`]: [`ServerMessage`](incoming::ServerMessage), every server→client message
//!   parsed tolerantly from a text or binary frame, with media payloads decoded into reusable
//!   buffers (the signalling handshake response, message type 2, re-exported from
//!   [`crate::handshake`]);
//! - [`recording`]: the recording format (JSON Lines) of what a stream received, its
//!   [`Recorder`](recording::Recorder) with optional redaction, and its
//!   [`Reader`](recording::Reader);
//! - [`timeline`]: audio frames placed by their timestamps, silence in the gaps (a muted
//!   participant sends nothing), per participant and for the mixed stream;
//! - [`session`]: one stream's state machine (handshakes, keep-alives, watchdog, retries,
//!   reconnects, failover, close), driven by inputs with an injected time, polled for outputs.
//!
//! The server's side is here too, for a simulator: [`incoming::ServerMessage`] serialises, and
//! [`outgoing::ClientRequest`] reads what a client sent.
//!
//! ```
//! use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
//! use zoom_rtms_webhooks::protocol::outgoing::{ClientMessage, KeepAliveResponse};
//!
//! let frame = br#"{"msg_type":12,"timestamp":1727384349123}"#;
//! let ServerMessage::KeepAliveRequest(ping) = ServerMessage::parse(frame)? else { panic!() };
//! assert_eq!(
//!     KeepAliveResponse::echo(&ping).to_json(),
//!     r#"{"msg_type":13,"timestamp":1727384349123}"#
//! );
//! # Ok::<(), zoom_rtms_webhooks::protocol::incoming::ParseError>(())
//! ```

pub mod events;
pub mod incoming;
pub mod media;
pub mod outgoing;
pub mod recording;
pub mod session;
pub mod timeline;
