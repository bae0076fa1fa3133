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
//!     Credentials, SignalingHandshakeRequest, SignalingHandshakeResponse,
//! };
//! use zoom_rtms_webhooks::region::HostPolicy;
//! use zoom_rtms_webhooks::Product;
//!
//! let creds = Credentials::new("my_client_id", "my_client_secret").unwrap();
//! let request =
//!     SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "meeting-uuid==", "stream-1")
//!         .with_sequence(7);
//! let _text_frame: String = request.to_json(); // send this as the first WebSocket message
//!
//! let reply = br#"{"msg_type":2,"protocol_version":1,"status_code":0,
//!     "media_server":{"server_urls":{"all":"wss://rtms-sjc1.zoom.us/media"}}}"#;
//! let response = SignalingHandshakeResponse::parse(reply).unwrap();
//! assert!(response.is_ok());
//! let media = response.media_server_url("all", &HostPolicy::default()).unwrap();
//! assert_eq!(media.unwrap().as_str(), "wss://rtms-sjc1.zoom.us/media");
//! ```
//!
//! # The id key per product
//!
//! The request carries the meeting / webinar / session / engagement / call id under a key
//! that depends on the product. Zoom documents only `meeting_uuid`; its samples and SDK send:
//!
//! | product | key(s) sent ([`IdKeys::default`]) |
//! |---|---|
//! | [`Product::Meeting`] | `meeting_uuid` |
//! | [`Product::Webinar`] | `webinar_uuid` |
//! | [`Product::VideoSdk`] | `session_id` **and** `meeting_uuid`, both with the session id (as Zoom's Video SDK sample does) |
//! | [`Product::ContactCenter`] | `engagement_id` |
//! | [`Product::Phone`] | `call_id` |
//!
//! Sources disagree for some products, so the keys can be overridden per product with
//! [`IdKeys::with_keys`] and [`SignalingHandshakeRequest::with_id_keys`]. The signature does
//! not depend on the keys: it always signs `"{client_id},{id},{rtms_stream_id}"`.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::event::{IdField, Product, RtmsStarted};
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
    /// Creates credentials. A **blank** client id or client secret is an error:
    /// empty after removing NUL bytes and other control characters, whitespace
    /// and invisible format characters (a byte-order mark, zero-width spaces,
    /// ...). A missing configuration value must fail closed, and a secret of NUL
    /// bytes is the same HMAC key as the empty secret. Other values are used
    /// verbatim (not trimmed). No minimum length is imposed: Zoom generates these
    /// values, and the mistakes a length check would catch are the blank values.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, CredentialsError};
    ///
    /// assert!(Credentials::new("id", "secret").is_ok());
    /// assert_eq!(Credentials::new("id", "").unwrap_err(), CredentialsError::EmptyClientSecret);
    /// assert_eq!(Credentials::new("id", "\0\0").unwrap_err(), CredentialsError::EmptyClientSecret);
    /// assert_eq!(Credentials::new("\u{FEFF}", "secret").unwrap_err(), CredentialsError::EmptyClientId);
    /// ```
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Result<Self, CredentialsError> {
        let client_id = client_id.into();
        let client_secret = client_secret.into();
        if crate::secret::is_blank(&client_id) {
            return Err(CredentialsError::EmptyClientId);
        }
        if crate::secret::is_blank(&client_secret) {
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
    /// The client id (Video SDK: SDK key) is blank (empty after removing
    /// control characters, whitespace and invisible format characters).
    #[error("RTMS client id is empty")]
    EmptyClientId,
    /// The client secret (Video SDK: SDK secret) is blank (empty after removing
    /// NUL bytes and other control characters, whitespace and invisible format
    /// characters).
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
/// From the crate's one random helper (`RandomState`-keyed, not cryptographic).
/// The sequence only correlates messages; it is **not** security-relevant.
fn random_sequence() -> u32 {
    // Truncation intended: keep the low 32 bits.
    (crate::random::random_u64() & u64::from(u32::MAX)) as u32
}

/// The key(s) under which each product's id is sent in the handshake request.
///
/// [`Default`] is what Zoom's samples and SDK send (see the
/// [module documentation](self#the-id-key-per-product)): Meeting `[meeting_uuid]`,
/// Webinar `[webinar_uuid]`, Video SDK `[session_id, meeting_uuid]`, Contact Center
/// `[engagement_id]`, Phone `[call_id]`. Override a product with
/// [`with_keys`](Self::with_keys); apply to a request with
/// [`SignalingHandshakeRequest::with_id_keys`].
///
/// ```
/// use zoom_rtms_webhooks::event::IdField;
/// use zoom_rtms_webhooks::handshake::IdKeys;
/// use zoom_rtms_webhooks::Product;
///
/// let keys = IdKeys::default();
/// assert_eq!(keys.keys(Product::VideoSdk), [IdField::SessionId, IdField::MeetingUuid]);
///
/// // Send webinars' UUID as `meeting_uuid` instead.
/// let keys = keys.with_keys(Product::Webinar, [IdField::MeetingUuid]);
/// assert_eq!(keys.keys(Product::Webinar), [IdField::MeetingUuid]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdKeys {
    keys: BTreeMap<Product, Vec<IdField>>,
}

/// The key for a product the table does not list: the documented form.
const FALLBACK_KEYS: &[IdField] = &[IdField::MeetingUuid];

impl Default for IdKeys {
    fn default() -> Self {
        let keys = [
            (Product::Meeting, vec![IdField::MeetingUuid]),
            (Product::Webinar, vec![IdField::WebinarUuid]),
            (
                Product::VideoSdk,
                vec![IdField::SessionId, IdField::MeetingUuid],
            ),
            (Product::ContactCenter, vec![IdField::EngagementId]),
            (Product::Phone, vec![IdField::CallId]),
        ];
        IdKeys {
            keys: keys.into_iter().collect(),
        }
    }
}

impl IdKeys {
    /// Send `product`'s id under `keys`, in this order (each with the same id
    /// value). A repeated key is sent once. An empty `keys` changes nothing: a
    /// request always carries at least one id key.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// use zoom_rtms_webhooks::handshake::IdKeys;
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let keys = IdKeys::default()
    ///     .with_keys(Product::ContactCenter, [IdField::EngagementId, IdField::SessionId]);
    /// assert_eq!(
    ///     keys.keys(Product::ContactCenter),
    ///     [IdField::EngagementId, IdField::SessionId]
    /// );
    /// let unchanged = keys.clone().with_keys(Product::Phone, []);
    /// assert_eq!(unchanged, keys);
    /// ```
    #[must_use]
    pub fn with_keys(mut self, product: Product, keys: impl IntoIterator<Item = IdField>) -> Self {
        let mut list: Vec<IdField> = Vec::new();
        for key in keys {
            if !list.contains(&key) {
                list.push(key);
            }
        }
        if !list.is_empty() {
            self.keys.insert(product, list);
        }
        self
    }

    /// The keys `product`'s id is sent under.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// use zoom_rtms_webhooks::handshake::IdKeys;
    /// use zoom_rtms_webhooks::Product;
    ///
    /// assert_eq!(IdKeys::default().keys(Product::Phone), [IdField::CallId]);
    /// ```
    pub fn keys(&self, product: Product) -> &[IdField] {
        self.keys.get(&product).map_or(FALLBACK_KEYS, Vec::as_slice)
    }
}

/// The first message on the signalling WebSocket (message type 1).
///
/// Serialises exactly as
/// `{"msg_type":1,"protocol_version":1,"<id key>":"<id>",...,"rtms_stream_id":"...","sequence":<n>,"signature":"<hex>"}`:
/// the product's id under each of its id keys ([`IdKeys`]; `meeting_uuid` for a
/// meeting, `session_id` then `meeting_uuid` for the Video SDK, ...), then
/// `"buffer_data":<bool>` only when set with
/// [`with_buffer_data`](SignalingHandshakeRequest::with_buffer_data) (Zoom's
/// default is `true`: up to 60 s of start-up audio is buffered).
///
/// `Debug` redacts the signature (it authorises a connection to the stream).
///
/// ```
/// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
/// use zoom_rtms_webhooks::Product;
///
/// let creds = Credentials::new("id", "secret").unwrap();
/// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "m-uuid", "s-id")
///     .with_sequence(42)
///     .with_buffer_data(false);
/// let json = req.to_json();
/// assert!(json.starts_with(
///     r#"{"msg_type":1,"protocol_version":1,"meeting_uuid":"m-uuid","rtms_stream_id":"s-id","sequence":42,"signature":""#
/// ));
/// assert!(json.ends_with(r#"","buffer_data":false}"#));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SignalingHandshakeRequest {
    product: Product,
    id_keys: Vec<IdField>,
    instance_id: String,
    rtms_stream_id: String,
    sequence: u32,
    signature: String,
    buffer_data: Option<bool>,
}

impl Serialize for SignalingHandshakeRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = 2 + self.id_keys.len() + 3 + usize::from(self.buffer_data.is_some());
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("msg_type", &MsgType::SignalingHandshakeRequest.code())?;
        map.serialize_entry("protocol_version", &PROTOCOL_VERSION)?;
        for key in &self.id_keys {
            map.serialize_entry(key.as_str(), &self.instance_id)?;
        }
        map.serialize_entry("rtms_stream_id", &self.rtms_stream_id)?;
        map.serialize_entry("sequence", &self.sequence)?;
        map.serialize_entry("signature", &self.signature)?;
        if let Some(buffer_data) = self.buffer_data {
            map.serialize_entry("buffer_data", &buffer_data)?;
        }
        map.end()
    }
}

impl SignalingHandshakeRequest {
    /// Builds the signed request for an `rtms_started` event, with the default
    /// id keys of the event's product and a random sequence number.
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
    /// let req = SignalingHandshakeRequest::new(&creds, &started).with_sequence(1);
    /// assert_eq!(req.instance_id(), "sess-1");
    /// assert_eq!(req.rtms_stream_id(), "st-1");
    /// assert!(req.to_json().contains(r#""session_id":"sess-1","meeting_uuid":"sess-1","#));
    /// ```
    pub fn new(creds: &Credentials, started: &RtmsStarted) -> Self {
        Self::from_parts(
            creds,
            started.product,
            &started.instance.value,
            &started.rtms_stream_id,
        )
    }

    /// Builds the signed request from the product, its id (meeting UUID,
    /// webinar UUID, session id, engagement id or call id) and the stream id,
    /// with the product's default id keys and a random sequence number.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{handshake_signature, Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Phone, "call-1", "st-1");
    /// assert_eq!(req.signature(), handshake_signature(&creds, "call-1", "st-1"));
    /// assert!(req.to_json().contains(r#""call_id":"call-1""#));
    /// ```
    pub fn from_parts(
        creds: &Credentials,
        product: Product,
        instance_id: &str,
        rtms_stream_id: &str,
    ) -> Self {
        Self {
            product,
            id_keys: IdKeys::default().keys(product).to_vec(),
            instance_id: instance_id.to_owned(),
            rtms_stream_id: rtms_stream_id.to_owned(),
            sequence: random_sequence(),
            signature: handshake_signature(creds, instance_id, rtms_stream_id),
            buffer_data: None,
        }
    }

    /// Sends the id under the keys `id_keys` gives for this request's product
    /// (the signature does not change).
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// use zoom_rtms_webhooks::handshake::{Credentials, IdKeys, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let keys = IdKeys::default().with_keys(Product::Webinar, [IdField::MeetingUuid]);
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Webinar, "w==", "s")
    ///     .with_id_keys(&keys);
    /// assert_eq!(req.id_keys(), [IdField::MeetingUuid]);
    /// assert!(req.to_json().contains(r#""meeting_uuid":"w==""#));
    /// ```
    #[must_use]
    pub fn with_id_keys(mut self, id_keys: &IdKeys) -> Self {
        self.id_keys = id_keys.keys(self.product).to_vec();
        self
    }

    /// Replaces the random sequence number.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "u", "s")
    ///     .with_sequence(5);
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
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "u", "s");
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
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let json = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "u", "s").to_json();
    /// let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    /// assert_eq!(v["msg_type"], 1);
    /// ```
    pub fn to_json(&self) -> String {
        // Cannot fail: only strings, integers and a bool are serialised, under
        // string keys.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The product the request is for.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::ContactCenter, "e", "s");
    /// assert_eq!(req.product(), Product::ContactCenter);
    /// ```
    pub fn product(&self) -> Product {
        self.product
    }

    /// The product's id (meeting UUID, webinar UUID, session id, engagement id
    /// or call id): the value sent under every id key, and signed.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::ContactCenter, "eng-1", "s");
    /// assert_eq!(req.instance_id(), "eng-1");
    /// ```
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The keys the id is sent under, in order.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::IdField;
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::ContactCenter, "e", "s");
    /// assert_eq!(req.id_keys(), [IdField::EngagementId]);
    /// ```
    pub fn id_keys(&self) -> &[IdField] {
        &self.id_keys
    }

    /// The RTMS stream id.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "u", "st");
    /// assert_eq!(req.rtms_stream_id(), "st");
    /// ```
    pub fn rtms_stream_id(&self) -> &str {
        &self.rtms_stream_id
    }

    /// The sequence number.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "u", "s")
    ///     .with_sequence(9);
    /// assert_eq!(req.sequence(), 9);
    /// ```
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// The hex signature (see [`handshake_signature`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "u", "s");
    /// assert_eq!(req.signature().len(), 64);
    /// ```
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The `buffer_data` flag, `None` when not set (field omitted).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "u", "s");
    /// assert_eq!(req.buffer_data(), None);
    /// ```
    pub fn buffer_data(&self) -> Option<bool> {
        self.buffer_data
    }
}

impl fmt::Debug for SignalingHandshakeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalingHandshakeRequest")
            .field("product", &self.product)
            .field("id_keys", &self.id_keys)
            .field("instance_id", &self.instance_id)
            .field("rtms_stream_id", &self.rtms_stream_id)
            .field("sequence", &self.sequence)
            .field("signature", &"<redacted>")
            .field("buffer_data", &self.buffer_data)
            .finish()
    }
}

code_enum! {
    /// RTMS message types (`msg_type`), open for codes this crate does not name.
    ///
    /// Equality and hashing are by code: `MsgType::Other(2)` equals
    /// `MsgType::SignalingHandshakeResponse`; [`From<i64>`](MsgType::from) always gives the
    /// named variant.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MsgType;
    ///
    /// assert_eq!(MsgType::from(2), MsgType::SignalingHandshakeResponse);
    /// assert_eq!(MsgType::KeepAliveRequest.code(), 12);
    /// assert_eq!(MsgType::from(99), MsgType::Other(99));
    /// assert_eq!(MsgType::KeepAliveRequest.to_string(), "keep-alive request (12)");
    /// ```
    pub enum MsgType ("zoom_rtms_webhooks::handshake::MsgType") {
        /// 1: signalling handshake request ([`SignalingHandshakeRequest`]).
        SignalingHandshakeRequest = 1 => "signaling handshake request",
        /// 2: signalling handshake response ([`SignalingHandshakeResponse`]).
        SignalingHandshakeResponse = 2 => "signaling handshake response",
        /// 3: media (data) connection handshake request.
        DataHandshakeRequest = 3 => "data handshake request",
        /// 4: media (data) connection handshake response.
        DataHandshakeResponse = 4 => "data handshake response",
        /// 5: event subscription (subscribe / unsubscribe).
        EventSubscription = 5 => "event subscription",
        /// 6: event update (an event occurred).
        EventUpdate = 6 => "event update",
        /// 7: client ready to receive media.
        ClientReadyAck = 7 => "client ready ack",
        /// 8: stream state changed.
        StreamStateUpdate = 8 => "stream state update",
        /// 9: session state changed (e.g. paused / resumed).
        SessionStateUpdate = 9 => "session state update",
        /// 10: session state request.
        SessionStateRequest = 10 => "session state request",
        /// 11: session state response.
        SessionStateResponse = 11 => "session state response",
        /// 12: keep-alive request (answer with 13).
        KeepAliveRequest = 12 => "keep-alive request",
        /// 13: keep-alive response.
        KeepAliveResponse = 13 => "keep-alive response",
        /// 14: audio data.
        MediaDataAudio = 14 => "audio data",
        /// 15: video data.
        MediaDataVideo = 15 => "video data",
        /// 16: screen-share data.
        MediaDataShare = 16 => "screen-share data",
        /// 17: transcript data.
        MediaDataTranscript = 17 => "transcript data",
        /// 18: chat data.
        MediaDataChat = 18 => "chat data",
        /// 21: stream close request.
        StreamCloseRequest = 21 => "stream close request",
        /// 22: stream close response.
        StreamCloseResponse = 22 => "stream close response",
    }
    other = "unknown message type";
}

code_enum! {
    /// The `status_code` of a handshake response, open for codes this crate does
    /// not name.
    ///
    /// Named codes are the ones used consistently by Zoom's RTMS samples. Equality and
    /// hashing are by code: `HandshakeStatus::Other(3)` equals
    /// `HandshakeStatus::InvalidSignature`; [`From<i64>`](HandshakeStatus::from) always gives
    /// the named variant.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::HandshakeStatus;
    ///
    /// assert_eq!(HandshakeStatus::from(3), HandshakeStatus::InvalidSignature);
    /// assert_eq!(HandshakeStatus::DuplicateSignalRequest.code(), 8);
    /// assert_eq!(HandshakeStatus::from(77), HandshakeStatus::Other(77));
    /// assert!(HandshakeStatus::Ok.is_ok());
    /// assert_eq!(HandshakeStatus::InvalidSignature.to_string(), "invalid signature (3)");
    /// ```
    pub enum HandshakeStatus ("zoom_rtms_webhooks::handshake::HandshakeStatus") {
        /// 0: success.
        Ok = 0 => "ok",
        /// 1: invalid message type.
        InvalidMessageType = 1 => "invalid message type",
        /// 2: invalid RTMS stream id (stream ended, or ids mixed up).
        InvalidRtmsStreamId = 2 => "invalid RTMS stream id",
        /// 3: invalid signature (wrong client id/secret, or wrong id signed).
        InvalidSignature = 3 => "invalid signature",
        /// 4: invalid payload.
        InvalidPayload = 4 => "invalid payload",
        /// 5: invalid events.
        InvalidEvents = 5 => "invalid events",
        /// 6: invalid event type.
        InvalidEventType = 6 => "invalid event type",
        /// 7: invalid media type.
        InvalidMediaType = 7 => "invalid media type",
        /// 8: duplicate signal request: another signalling connection for this
        /// stream exists (typically a duplicate `rtms_started` delivery).
        DuplicateSignalRequest = 8 => "duplicate signal request",
    }
    other = "unknown status";
}

impl HandshakeStatus {
    /// Whether this is success (code 0).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::HandshakeStatus;
    ///
    /// assert!(HandshakeStatus::from(0).is_ok());
    /// assert!(HandshakeStatus::Other(0).is_ok());
    /// assert!(!HandshakeStatus::from(8).is_ok());
    /// ```
    pub fn is_ok(self) -> bool {
        self.code() == 0
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
