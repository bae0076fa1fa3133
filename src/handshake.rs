//! The RTMS signalling handshake: what an `rtms_started` event is for.
//!
//! After acknowledging an `rtms_started` webhook, the app opens a WebSocket to
//! one of the event's `server_urls` (validated as [`ServerUrl`]s) and sends a
//! signed [`SignalingHandshakeRequest`] (message type 1). The server answers
//! with a [`SignalingHandshakeResponse`] (message type 2) carrying a
//! [`HandshakeStatus`] and, on success, the media server URLs.
//!
//! This module builds and parses those two messages; it does no I/O, so any
//! WebSocket client can be used.
//!
//! ```
//! use zoom_rtms_webhooks::handshake::{
//!     Credentials, HandshakeStatus, SignalingHandshakeRequest, SignalingHandshakeResponse,
//! };
//! use zoom_rtms_webhooks::region::HostPolicy;
//!
//! let creds = Credentials::new("my_client_id", "my_client_secret").unwrap();
//! let request = SignalingHandshakeRequest::from_parts(&creds, "meeting-uuid==", "stream-1")
//!     .with_sequence(7);
//! let _text_frame: String = request.to_json(); // send this as the first WebSocket message
//!
//! let reply = br#"{"msg_type":2,"protocol_version":1,"status_code":0,
//!     "media_server":{"server_urls":{"all":"wss://rtms-sjc1.zoom.us/media"}}}"#;
//! let response = SignalingHandshakeResponse::parse(reply).unwrap();
//! assert!(response.is_ok());
//! let media = response.media_server_url("all", &HostPolicy::default()).unwrap();
//! assert_eq!(media.unwrap().as_str(), "wss://rtms-sjc1.zoom.us/media");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::event::RtmsStarted;
use crate::region::{HostPolicy, ServerUrl, ServerUrlError};

/// The protocol version this crate speaks in the handshake (`protocol_version`).
pub const PROTOCOL_VERSION: u32 = 1;

/// Media type bitmask values (`media_type` fields of the RTMS protocol).
///
/// Combine with `|`: audio and transcript is `AUDIO | TRANSCRIPT` (9).
///
/// ```
/// use zoom_rtms_webhooks::handshake::media_type;
///
/// assert_eq!(media_type::AUDIO | media_type::TRANSCRIPT, 9);
/// assert_eq!(media_type::ALL, 32);
/// ```
pub mod media_type {
    /// Audio (1).
    pub const AUDIO: u32 = 1;
    /// Video (2).
    pub const VIDEO: u32 = 1 << 1;
    /// Screen share (4).
    pub const DESKSHARE: u32 = 1 << 2;
    /// Transcript (8).
    pub const TRANSCRIPT: u32 = 1 << 3;
    /// Chat (16).
    pub const CHAT: u32 = 1 << 4;
    /// Everything over a single data connection (32).
    pub const ALL: u32 = 1 << 5;
}

/// The credentials that sign the handshake: a client id and its client secret.
///
/// * Meetings, webinars, Contact Center and Phone: the **OAuth app's** client
///   id and client secret (not the webhook Secret Token).
/// * Video SDK: the **Video SDK app's** SDK key (as client id) and SDK secret
///   (as client secret).
///
/// The secret is only used to key HMAC-SHA256 at construction and is not kept
/// in readable form. `Debug` shows the client id and redacts the secret.
///
/// ```
/// use zoom_rtms_webhooks::handshake::{Credentials, CredentialsError};
///
/// let creds = Credentials::new("client_id", "s3cr3t").unwrap();
/// assert_eq!(creds.client_id(), "client_id");
/// assert!(!format!("{creds:?}").contains("s3cr3t"));
/// assert_eq!(Credentials::new("", "x").unwrap_err(), CredentialsError::EmptyClientId);
/// assert_eq!(Credentials::new("id", " ").unwrap_err(), CredentialsError::EmptyClientSecret);
/// ```
#[derive(Clone)]
pub struct Credentials {
    client_id: String,
    mac: Hmac<Sha256>,
}

impl Credentials {
    /// Creates credentials. An empty (or whitespace-only) client id or secret is
    /// an error: a missing configuration value must fail closed. Non-empty
    /// values are used verbatim (not trimmed).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    ///
    /// assert!(Credentials::new("id", "secret").is_ok());
    /// assert!(Credentials::new("id", "").is_err());
    /// ```
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Result<Self, CredentialsError> {
        let client_id = client_id.into();
        let client_secret = client_secret.into();
        if client_id.trim().is_empty() {
            return Err(CredentialsError::EmptyClientId);
        }
        if client_secret.trim().is_empty() {
            return Err(CredentialsError::EmptyClientSecret);
        }
        // HMAC accepts keys of any length, so this cannot fail; mapped rather
        // than unwrapped so that no code path can panic.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(client_secret.as_bytes())
            .map_err(|_| CredentialsError::EmptyClientSecret)?;
        Ok(Self { client_id, mac })
    }

    /// The client id (Video SDK: the SDK key).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    ///
    /// assert_eq!(Credentials::new("abc", "def").unwrap().client_id(), "abc");
    /// ```
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// Why [`Credentials::new`] refused its input.
///
/// ```
/// use zoom_rtms_webhooks::handshake::{Credentials, CredentialsError};
///
/// let err = Credentials::new("id", "").unwrap_err();
/// assert_eq!(err, CredentialsError::EmptyClientSecret);
/// assert_eq!(err.to_string(), "RTMS client secret is empty");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The client id (Video SDK: SDK key) is empty or whitespace only.
    #[error("RTMS client id is empty")]
    EmptyClientId,
    /// The client secret (Video SDK: SDK secret) is empty or whitespace only.
    #[error("RTMS client secret is empty")]
    EmptyClientSecret,
}

/// The handshake signature: lower-case hex of HMAC-SHA256 keyed with the client
/// secret over `"{client_id},{instance_id},{rtms_stream_id}"`.
///
/// `instance_id` is the product's id (meeting UUID, webinar UUID, Video SDK
/// session id, Contact Center engagement id, Phone call id), used **verbatim**:
/// no URL encoding, even for UUIDs containing `/` or `=`.
///
/// ```
/// use zoom_rtms_webhooks::handshake::{handshake_signature, Credentials};
///
/// let creds = Credentials::new("client_id", "client_secret").unwrap();
/// let sig = handshake_signature(&creds, "uuid", "stream");
/// assert_eq!(sig.len(), 64);
/// assert!(sig.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
/// ```
pub fn handshake_signature(creds: &Credentials, instance_id: &str, rtms_stream_id: &str) -> String {
    let mut mac = creds.mac.clone();
    mac.update(creds.client_id.as_bytes());
    mac.update(b",");
    mac.update(instance_id.as_bytes());
    mac.update(b",");
    mac.update(rtms_stream_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A fresh pseudo-random `sequence` number.
///
/// Uses the standard library's randomly keyed `RandomState` hasher over a
/// process-wide counter. The sequence only correlates messages; it is **not**
/// security-relevant, so no cryptographic RNG is needed.
fn random_sequence() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u64(n);
    // Truncation intended: keep the low 32 bits.
    (hasher.finish() & u64::from(u32::MAX)) as u32
}

/// The first message on the signalling WebSocket (message type 1).
///
/// Serialises exactly as
/// `{"msg_type":1,"protocol_version":1,"meeting_uuid":"<id>","rtms_stream_id":"...","sequence":<n>,"signature":"<hex>"}`,
/// plus `"buffer_data":<bool>` only when set with
/// [`with_buffer_data`](SignalingHandshakeRequest::with_buffer_data) (Zoom's
/// default is `true`: up to 60 s of start-up audio is buffered).
///
/// For every product the field is named `meeting_uuid` and carries that
/// product's id (webinar UUID, session id, engagement id, call id).
///
/// `Debug` redacts the signature (it authorises a connection to the stream).
///
/// ```
/// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
///
/// let creds = Credentials::new("id", "secret").unwrap();
/// let req = SignalingHandshakeRequest::from_parts(&creds, "m-uuid", "s-id")
///     .with_sequence(42)
///     .with_buffer_data(false);
/// let json = req.to_json();
/// assert!(json.starts_with(
///     r#"{"msg_type":1,"protocol_version":1,"meeting_uuid":"m-uuid","rtms_stream_id":"s-id","sequence":42,"signature":""#
/// ));
/// assert!(json.ends_with(r#"","buffer_data":false}"#));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SignalingHandshakeRequest {
    msg_type: u32,
    protocol_version: u32,
    meeting_uuid: String,
    rtms_stream_id: String,
    sequence: u32,
    signature: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    buffer_data: Option<bool>,
}

impl SignalingHandshakeRequest {
    /// Builds the signed request for an `rtms_started` event, with a random
    /// sequence number.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::WebhookEvent;
    ///
    /// let body = br#"{"event":"session.rtms_started","event_ts":1,"payload":{
    ///     "session_id":"sess-1","rtms_stream_id":"st-1","server_urls":"wss://sjc.zoom.us"}}"#;
    /// let WebhookEvent::RtmsStarted(started) = WebhookEvent::parse(body).unwrap() else {
    ///     panic!("not a start event")
    /// };
    /// // Video SDK: the Video SDK app's key and secret.
    /// let creds = Credentials::new("sdk_key", "sdk_secret").unwrap();
    /// let req = SignalingHandshakeRequest::new(&started, &creds);
    /// assert_eq!(req.meeting_uuid(), "sess-1");
    /// assert_eq!(req.rtms_stream_id(), "st-1");
    /// ```
    pub fn new(started: &RtmsStarted, creds: &Credentials) -> Self {
        Self::from_parts(creds, &started.instance.value, &started.rtms_stream_id)
    }

    /// Builds the signed request from the product's id and the stream id.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{handshake_signature, Credentials, SignalingHandshakeRequest};
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, "call-1", "st-1");
    /// assert_eq!(req.signature(), handshake_signature(&creds, "call-1", "st-1"));
    /// ```
    pub fn from_parts(creds: &Credentials, instance_id: &str, rtms_stream_id: &str) -> Self {
        Self {
            msg_type: 1,
            protocol_version: PROTOCOL_VERSION,
            meeting_uuid: instance_id.to_string(),
            rtms_stream_id: rtms_stream_id.to_string(),
            sequence: random_sequence(),
            signature: handshake_signature(creds, instance_id, rtms_stream_id),
            buffer_data: None,
        }
    }

    /// Replaces the random sequence number.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, "u", "s").with_sequence(5);
    /// assert_eq!(req.sequence(), 5);
    /// ```
    #[must_use]
    pub fn with_sequence(mut self, sequence: u32) -> Self {
        self.sequence = sequence;
        self
    }

    /// Sets `buffer_data` (omitted unless set; Zoom's default is `true`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, "u", "s");
    /// assert_eq!(req.buffer_data(), None);
    /// assert!(!req.to_json().contains("buffer_data"));
    /// let req = req.with_buffer_data(true);
    /// assert_eq!(req.buffer_data(), Some(true));
    /// assert!(req.to_json().ends_with(r#""buffer_data":true}"#));
    /// ```
    #[must_use]
    pub fn with_buffer_data(mut self, buffer_data: bool) -> Self {
        self.buffer_data = Some(buffer_data);
        self
    }

    /// The JSON text to send as the first WebSocket text frame.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let json = SignalingHandshakeRequest::from_parts(&creds, "u", "s").to_json();
    /// let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    /// assert_eq!(v["msg_type"], 1);
    /// ```
    pub fn to_json(&self) -> String {
        // Cannot fail: only strings, integers and a bool are serialised.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The id sent in the `meeting_uuid` field (the product's id).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// assert_eq!(SignalingHandshakeRequest::from_parts(&creds, "eng-1", "s").meeting_uuid(), "eng-1");
    /// ```
    pub fn meeting_uuid(&self) -> &str {
        &self.meeting_uuid
    }

    /// The RTMS stream id.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// assert_eq!(SignalingHandshakeRequest::from_parts(&creds, "u", "st").rtms_stream_id(), "st");
    /// ```
    pub fn rtms_stream_id(&self) -> &str {
        &self.rtms_stream_id
    }

    /// The sequence number.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, "u", "s").with_sequence(9);
    /// assert_eq!(req.sequence(), 9);
    /// ```
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// The hex signature (see [`handshake_signature`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// assert_eq!(SignalingHandshakeRequest::from_parts(&creds, "u", "s").signature().len(), 64);
    /// ```
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The `buffer_data` flag, `None` when not set (field omitted).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// assert_eq!(SignalingHandshakeRequest::from_parts(&creds, "u", "s").buffer_data(), None);
    /// ```
    pub fn buffer_data(&self) -> Option<bool> {
        self.buffer_data
    }
}

impl fmt::Debug for SignalingHandshakeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalingHandshakeRequest")
            .field("msg_type", &self.msg_type)
            .field("protocol_version", &self.protocol_version)
            .field("meeting_uuid", &self.meeting_uuid)
            .field("rtms_stream_id", &self.rtms_stream_id)
            .field("sequence", &self.sequence)
            .field("signature", &"<redacted>")
            .field("buffer_data", &self.buffer_data)
            .finish()
    }
}

/// RTMS message types (`msg_type`), open for codes this crate does not name.
///
/// ```
/// use zoom_rtms_webhooks::handshake::MsgType;
///
/// assert_eq!(MsgType::from(2), MsgType::SignalingHandshakeResponse);
/// assert_eq!(MsgType::KeepAliveRequest.code(), 12);
/// assert_eq!(MsgType::from(99), MsgType::Other(99));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MsgType {
    /// 1: signalling handshake request ([`SignalingHandshakeRequest`]).
    SignalingHandshakeRequest,
    /// 2: signalling handshake response ([`SignalingHandshakeResponse`]).
    SignalingHandshakeResponse,
    /// 3: media (data) connection handshake request.
    DataHandshakeRequest,
    /// 4: media (data) connection handshake response.
    DataHandshakeResponse,
    /// 5: event subscription (subscribe / unsubscribe).
    EventSubscription,
    /// 6: event update (an event occurred).
    EventUpdate,
    /// 7: client ready to receive media.
    ClientReadyAck,
    /// 8: stream state changed.
    StreamStateUpdate,
    /// 9: session state changed (e.g. paused / resumed).
    SessionStateUpdate,
    /// 10: session state request.
    SessionStateRequest,
    /// 11: session state response.
    SessionStateResponse,
    /// 12: keep-alive request (answer with 13).
    KeepAliveRequest,
    /// 13: keep-alive response.
    KeepAliveResponse,
    /// 14: audio data.
    MediaDataAudio,
    /// 15: video data.
    MediaDataVideo,
    /// 16: screen-share data.
    MediaDataShare,
    /// 17: transcript data.
    MediaDataTranscript,
    /// 18: chat data.
    MediaDataChat,
    /// 21: stream close request.
    StreamCloseRequest,
    /// 22: stream close response.
    StreamCloseResponse,
    /// Any other code, kept as received.
    Other(i64),
}

impl MsgType {
    /// The integer sent on the wire.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MsgType;
    ///
    /// assert_eq!(MsgType::SignalingHandshakeRequest.code(), 1);
    /// assert_eq!(MsgType::Other(30).code(), 30);
    /// ```
    pub fn code(self) -> i64 {
        match self {
            MsgType::SignalingHandshakeRequest => 1,
            MsgType::SignalingHandshakeResponse => 2,
            MsgType::DataHandshakeRequest => 3,
            MsgType::DataHandshakeResponse => 4,
            MsgType::EventSubscription => 5,
            MsgType::EventUpdate => 6,
            MsgType::ClientReadyAck => 7,
            MsgType::StreamStateUpdate => 8,
            MsgType::SessionStateUpdate => 9,
            MsgType::SessionStateRequest => 10,
            MsgType::SessionStateResponse => 11,
            MsgType::KeepAliveRequest => 12,
            MsgType::KeepAliveResponse => 13,
            MsgType::MediaDataAudio => 14,
            MsgType::MediaDataVideo => 15,
            MsgType::MediaDataShare => 16,
            MsgType::MediaDataTranscript => 17,
            MsgType::MediaDataChat => 18,
            MsgType::StreamCloseRequest => 21,
            MsgType::StreamCloseResponse => 22,
            MsgType::Other(code) => code,
        }
    }
}

impl From<i64> for MsgType {
    fn from(code: i64) -> Self {
        match code {
            1 => MsgType::SignalingHandshakeRequest,
            2 => MsgType::SignalingHandshakeResponse,
            3 => MsgType::DataHandshakeRequest,
            4 => MsgType::DataHandshakeResponse,
            5 => MsgType::EventSubscription,
            6 => MsgType::EventUpdate,
            7 => MsgType::ClientReadyAck,
            8 => MsgType::StreamStateUpdate,
            9 => MsgType::SessionStateUpdate,
            10 => MsgType::SessionStateRequest,
            11 => MsgType::SessionStateResponse,
            12 => MsgType::KeepAliveRequest,
            13 => MsgType::KeepAliveResponse,
            14 => MsgType::MediaDataAudio,
            15 => MsgType::MediaDataVideo,
            16 => MsgType::MediaDataShare,
            17 => MsgType::MediaDataTranscript,
            18 => MsgType::MediaDataChat,
            21 => MsgType::StreamCloseRequest,
            22 => MsgType::StreamCloseResponse,
            other => MsgType::Other(other),
        }
    }
}

/// The `status_code` of a handshake response, open for codes this crate does
/// not name.
///
/// Named codes are the ones used consistently by Zoom's RTMS samples; use
/// [`From<i64>`](HandshakeStatus::from) (not `Other(n)` directly) so a named
/// code always maps to its variant.
///
/// ```
/// use zoom_rtms_webhooks::handshake::HandshakeStatus;
///
/// assert_eq!(HandshakeStatus::from(3), HandshakeStatus::InvalidSignature);
/// assert_eq!(HandshakeStatus::DuplicateSignalRequest.code(), 8);
/// assert_eq!(HandshakeStatus::from(77), HandshakeStatus::Other(77));
/// assert!(HandshakeStatus::Ok.is_ok());
/// assert_eq!(HandshakeStatus::InvalidSignature.to_string(), "3 (invalid signature)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeStatus {
    /// 0: success.
    Ok,
    /// 1: invalid message type.
    InvalidMessageType,
    /// 2: invalid RTMS stream id (stream ended, or ids mixed up).
    InvalidRtmsStreamId,
    /// 3: invalid signature (wrong client id/secret, or wrong id signed).
    InvalidSignature,
    /// 4: invalid payload.
    InvalidPayload,
    /// 5: invalid events.
    InvalidEvents,
    /// 6: invalid event type.
    InvalidEventType,
    /// 7: invalid media type.
    InvalidMediaType,
    /// 8: duplicate signal request: another signalling connection for this
    /// stream exists (typically a duplicate `rtms_started` delivery).
    DuplicateSignalRequest,
    /// Any other code, kept as received.
    Other(i64),
}

impl HandshakeStatus {
    /// The integer code.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::HandshakeStatus;
    ///
    /// assert_eq!(HandshakeStatus::Ok.code(), 0);
    /// assert_eq!(HandshakeStatus::Other(40).code(), 40);
    /// ```
    pub fn code(self) -> i64 {
        match self {
            HandshakeStatus::Ok => 0,
            HandshakeStatus::InvalidMessageType => 1,
            HandshakeStatus::InvalidRtmsStreamId => 2,
            HandshakeStatus::InvalidSignature => 3,
            HandshakeStatus::InvalidPayload => 4,
            HandshakeStatus::InvalidEvents => 5,
            HandshakeStatus::InvalidEventType => 6,
            HandshakeStatus::InvalidMediaType => 7,
            HandshakeStatus::DuplicateSignalRequest => 8,
            HandshakeStatus::Other(code) => code,
        }
    }

    /// Whether this is success (code 0).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::HandshakeStatus;
    ///
    /// assert!(HandshakeStatus::from(0).is_ok());
    /// assert!(!HandshakeStatus::from(8).is_ok());
    /// ```
    pub fn is_ok(self) -> bool {
        self.code() == 0
    }

    fn description(self) -> &'static str {
        match self {
            HandshakeStatus::Ok => "ok",
            HandshakeStatus::InvalidMessageType => "invalid message type",
            HandshakeStatus::InvalidRtmsStreamId => "invalid RTMS stream id",
            HandshakeStatus::InvalidSignature => "invalid signature",
            HandshakeStatus::InvalidPayload => "invalid payload",
            HandshakeStatus::InvalidEvents => "invalid events",
            HandshakeStatus::InvalidEventType => "invalid event type",
            HandshakeStatus::InvalidMediaType => "invalid media type",
            HandshakeStatus::DuplicateSignalRequest => "duplicate signal request",
            HandshakeStatus::Other(_) => "unknown status",
        }
    }
}

impl From<i64> for HandshakeStatus {
    fn from(code: i64) -> Self {
        match code {
            0 => HandshakeStatus::Ok,
            1 => HandshakeStatus::InvalidMessageType,
            2 => HandshakeStatus::InvalidRtmsStreamId,
            3 => HandshakeStatus::InvalidSignature,
            4 => HandshakeStatus::InvalidPayload,
            5 => HandshakeStatus::InvalidEvents,
            6 => HandshakeStatus::InvalidEventType,
            7 => HandshakeStatus::InvalidMediaType,
            8 => HandshakeStatus::DuplicateSignalRequest,
            other => HandshakeStatus::Other(other),
        }
    }
}

impl fmt::Display for HandshakeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.description())
    }
}

/// The server's reply to the handshake (message type 2).
///
/// * `status_code` (or, leniently, `status`) is required;
/// * `reason` and `protocol_version` are optional;
/// * `media_server.server_urls` (an object keyed by media type, `all` being the
///   most used) is read into [`media_server_urls`](Self::media_server_urls) as
///   raw strings; validate them with
///   [`validated_media_urls`](Self::validated_media_urls) or
///   [`media_server_url`](Self::media_server_url) before dialling;
/// * every other top-level field (including the raw `media_server` object,
///   which may carry more than URLs) is kept in [`extra`](Self::extra).
///
/// `Debug` lists the names of the `extra` fields but not their values (they
/// may carry keys).
///
/// ```
/// use zoom_rtms_webhooks::handshake::{HandshakeStatus, SignalingHandshakeResponse};
///
/// let r = SignalingHandshakeResponse::parse(
///     br#"{"msg_type":2,"status_code":8,"reason":"duplicate signal request"}"#,
/// ).unwrap();
/// assert_eq!(r.status_code, HandshakeStatus::DuplicateSignalRequest);
/// assert_eq!(r.reason.as_deref(), Some("duplicate signal request"));
/// assert!(!r.is_ok());
/// assert!(r.media_server_urls.is_empty());
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SignalingHandshakeResponse {
    /// `protocol_version`, if sent.
    pub protocol_version: Option<u64>,
    /// `status_code`.
    pub status_code: HandshakeStatus,
    /// `reason`, if sent (absent or `null` is `None`).
    pub reason: Option<String>,
    /// `media_server.server_urls`: media type key (`all`, `audio`, ...) to the
    /// URL exactly as sent (not yet validated).
    pub media_server_urls: BTreeMap<String, String>,
    /// All other top-level fields, as received.
    pub extra: Map<String, Value>,
}

impl SignalingHandshakeResponse {
    /// Parses a message-type-2 reply.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{HandshakeError, SignalingHandshakeResponse};
    ///
    /// assert!(SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":0}"#).unwrap().is_ok());
    /// assert_eq!(
    ///     SignalingHandshakeResponse::parse(br#"{"msg_type":12,"timestamp":1}"#).unwrap_err(),
    ///     HandshakeError::UnexpectedMsgType { found: 12 }
    /// );
    /// assert_eq!(
    ///     SignalingHandshakeResponse::parse(br#"{"msg_type":2}"#).unwrap_err(),
    ///     HandshakeError::MissingStatusCode
    /// );
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Self, HandshakeError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| HandshakeError::InvalidJson(e.to_string()))?;
        let Value::Object(mut obj) = value else {
            return Err(HandshakeError::NotAnObject);
        };

        let msg_type = obj
            .remove("msg_type")
            .ok_or(HandshakeError::MissingMsgType)?;
        let msg_type = msg_type
            .as_i64()
            .ok_or(HandshakeError::InvalidField { field: "msg_type" })?;
        if msg_type != MsgType::SignalingHandshakeResponse.code() {
            return Err(HandshakeError::UnexpectedMsgType { found: msg_type });
        }

        let (status_field, status) = match obj.remove("status_code") {
            Some(v) => ("status_code", v),
            None => (
                "status",
                obj.remove("status")
                    .ok_or(HandshakeError::MissingStatusCode)?,
            ),
        };
        let status_code =
            status
                .as_i64()
                .map(HandshakeStatus::from)
                .ok_or(HandshakeError::InvalidField {
                    field: status_field,
                })?;

        let protocol_version = match obj.remove("protocol_version") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or(HandshakeError::InvalidField {
                field: "protocol_version",
            })?),
        };

        let reason = match obj.remove("reason") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(HandshakeError::InvalidField { field: "reason" }),
        };

        let media_server_urls = media_urls_of(obj.get("media_server"))?;

        Ok(Self {
            protocol_version,
            status_code,
            reason,
            media_server_urls,
            extra: obj,
        })
    }

    /// Whether the handshake succeeded (status 0).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::SignalingHandshakeResponse;
    ///
    /// let r = SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":3}"#).unwrap();
    /// assert!(!r.is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.status_code.is_ok()
    }

    /// Every media server URL, validated under `policy`; the first refused URL
    /// fails the whole map.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::SignalingHandshakeResponse;
    /// use zoom_rtms_webhooks::region::HostPolicy;
    ///
    /// let r = SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":0,
    ///     "media_server":{"server_urls":{"audio":"wss://a.sjc.zoom.us","all":"wss://b.sjc.zoom.us"}}}"#).unwrap();
    /// let urls = r.validated_media_urls(&HostPolicy::default()).unwrap();
    /// assert_eq!(urls["all"].host(), "b.sjc.zoom.us");
    /// ```
    pub fn validated_media_urls(
        &self,
        policy: &HostPolicy,
    ) -> Result<BTreeMap<String, ServerUrl>, ServerUrlError> {
        self.media_server_urls
            .iter()
            .map(|(k, v)| Ok((k.clone(), ServerUrl::parse(v, policy)?)))
            .collect()
    }

    /// The media server URL for one media type key (`"all"`, `"audio"`, ...),
    /// validated under `policy`; `Ok(None)` when the key is absent.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::SignalingHandshakeResponse;
    /// use zoom_rtms_webhooks::region::HostPolicy;
    ///
    /// let r = SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":0,
    ///     "media_server":{"server_urls":{"all":"wss://evil.example"}}}"#).unwrap();
    /// assert!(r.media_server_url("all", &HostPolicy::default()).is_err());
    /// assert_eq!(r.media_server_url("video", &HostPolicy::default()), Ok(None));
    /// ```
    pub fn media_server_url(
        &self,
        media: &str,
        policy: &HostPolicy,
    ) -> Result<Option<ServerUrl>, ServerUrlError> {
        self.media_server_urls
            .get(media)
            .map(|u| ServerUrl::parse(u, policy))
            .transpose()
    }
}

fn media_urls_of(media_server: Option<&Value>) -> Result<BTreeMap<String, String>, HandshakeError> {
    let mut out = BTreeMap::new();
    let server = match media_server {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(server)) => server,
        Some(_) => {
            return Err(HandshakeError::InvalidField {
                field: "media_server",
            })
        }
    };
    let urls = match server.get("server_urls") {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(urls)) => urls,
        Some(_) => {
            return Err(HandshakeError::InvalidField {
                field: "media_server.server_urls",
            })
        }
    };
    for (media, url) in urls {
        let Value::String(url) = url else {
            return Err(HandshakeError::InvalidField {
                field: "media_server.server_urls",
            });
        };
        out.insert(media.clone(), url.clone());
    }
    Ok(out)
}

impl fmt::Debug for SignalingHandshakeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalingHandshakeResponse")
            .field("protocol_version", &self.protocol_version)
            .field("status_code", &self.status_code)
            .field("reason", &self.reason)
            .field("media_server_urls", &self.media_server_urls)
            .field("extra_fields", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a handshake response could not be parsed.
///
/// ```
/// use zoom_rtms_webhooks::handshake::{HandshakeError, SignalingHandshakeResponse};
///
/// assert!(matches!(
///     SignalingHandshakeResponse::parse(b"not json"),
///     Err(HandshakeError::InvalidJson(_))
/// ));
/// assert_eq!(
///     SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":"0"}"#).unwrap_err().to_string(),
///     "handshake response field `status_code` has the wrong type"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The message is not valid JSON (the parser's message).
    #[error("handshake response is not valid JSON: {0}")]
    InvalidJson(String),
    /// The JSON is not an object.
    #[error("handshake response is not a JSON object")]
    NotAnObject,
    /// No `msg_type` field.
    #[error("handshake response has no `msg_type`")]
    MissingMsgType,
    /// `msg_type` is not 2 (signalling handshake response).
    #[error("expected a signalling handshake response (msg_type 2), got msg_type {found}")]
    UnexpectedMsgType {
        /// The `msg_type` received.
        found: i64,
    },
    /// No `status_code` (nor `status`) field.
    #[error("handshake response has no `status_code`")]
    MissingStatusCode,
    /// A field has the wrong type (e.g. a string `status_code`).
    #[error("handshake response field `{field}` has the wrong type")]
    InvalidField {
        /// The field's name (`media_server.server_urls` for nested ones).
        field: &'static str,
    },
}
