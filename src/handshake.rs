//! The RTMS signalling handshake: what an `rtms_started` event is for.
//!
//! After acknowledging an `rtms_started` webhook, the app opens a WebSocket to
//! one of the event's `server_urls` (validated as [`ServerUrl`]s) and sends a
//! signed [`SignalingHandshakeRequest`] (message type 1). The server answers
//! with a [`SignalingHandshakeResponse`] (message type 2) carrying a
//! [`StatusCode`] and, on success, the media server URLs.
//!
//! This module builds and parses those two messages; it does no I/O, so any
//! WebSocket client can be used.
//!
//! ```
//! use zoom_rtms_webhooks::handshake::{
//!     Credentials, MediaKind, SignalingHandshakeRequest, SignalingHandshakeResponse,
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
//! // No `audio` key: the `all` URL (as Zoom's samples pick it: `server_urls[type] || server_urls.all`).
//! let media = response.media_url(MediaKind::Audio, &HostPolicy::default()).unwrap();
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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use hmac::{Hmac, Mac};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::codes::{MsgType, StatusCode};
use crate::event::{IdField, Product, RtmsStarted};
use crate::lenient::{Int, Str};
use crate::region::{HostPolicy, ServerUrl, ServerUrlError};

/// The protocol version this crate speaks in the handshake (`protocol_version`).
pub const PROTOCOL_VERSION: u32 = 1;

/// One kind of media, with its `media_type` flag and its key in `media_params` and in the
/// signalling response's `server_urls`.
///
/// ```
/// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
/// assert_eq!(MediaKind::Transcript.flag(), MediaTypes::TRANSCRIPT);
/// assert_eq!(MediaKind::Deskshare.params_key(), "deskshare");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MediaKind {
    /// Audio (flag 1).
    Audio,
    /// Video (flag 2).
    Video,
    /// Screen share (flag 4).
    Deskshare,
    /// Transcript (flag 8).
    Transcript,
    /// Chat (flag 16).
    Chat,
}

impl MediaKind {
    /// Every kind, in flag order.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MediaKind;
    /// assert_eq!(MediaKind::ALL.len(), 5);
    /// ```
    pub const ALL: [MediaKind; 5] = [
        MediaKind::Audio,
        MediaKind::Video,
        MediaKind::Deskshare,
        MediaKind::Transcript,
        MediaKind::Chat,
    ];

    /// The kind's `media_type` flag.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
    /// assert_eq!(MediaKind::Audio.flag().bits(), 1);
    /// ```
    pub fn flag(self) -> MediaTypes {
        match self {
            MediaKind::Audio => MediaTypes::AUDIO,
            MediaKind::Video => MediaTypes::VIDEO,
            MediaKind::Deskshare => MediaTypes::DESKSHARE,
            MediaKind::Transcript => MediaTypes::TRANSCRIPT,
            MediaKind::Chat => MediaTypes::CHAT,
        }
    }

    /// The key of the kind's object in `media_params`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MediaKind;
    /// assert_eq!(MediaKind::Chat.params_key(), "chat");
    /// ```
    pub fn params_key(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Deskshare => "deskshare",
            MediaKind::Transcript => "transcript",
            MediaKind::Chat => "chat",
        }
    }

    /// The keys looked up, in order, in the signalling response's `server_urls` for this kind
    /// (before falling back to `all`). Only `audio`, `video` and `transcript` are documented;
    /// Zoom's samples look for `sharescreen` and `chat`, and `deskshare` is tried as well.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MediaKind;
    /// assert_eq!(MediaKind::Deskshare.url_keys(), &["deskshare", "sharescreen"]);
    /// ```
    pub fn url_keys(self) -> &'static [&'static str] {
        match self {
            MediaKind::Audio => &["audio"],
            MediaKind::Video => &["video"],
            MediaKind::Deskshare => &["deskshare", "sharescreen"],
            MediaKind::Transcript => &["transcript"],
            MediaKind::Chat => &["chat"],
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.params_key())
    }
}

/// The `media_type` bitmask (`MEDIA_DATA_TYPE`, `docs/protocol.md#media-type-bitmask`): a set of
/// [`MediaKind`]s, or [`ALL`](MediaTypes::ALL) (32, a flag of its own, not the union of the
/// others). Unknown bits are kept.
///
/// ```
/// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
///
/// let t = MediaTypes::AUDIO | MediaTypes::TRANSCRIPT;
/// assert_eq!(t.bits(), 9);
/// assert!(t.contains(MediaTypes::AUDIO));
/// assert_eq!(t.kinds().collect::<Vec<_>>(), [MediaKind::Audio, MediaKind::Transcript]);
/// assert!(MediaTypes::ALL.includes(MediaKind::Chat));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MediaTypes(u32);

impl MediaTypes {
    /// No media (0, `UNDEFINED`; refused by the protocol's parameter validation).
    pub const NONE: MediaTypes = MediaTypes(0);
    /// Audio (1).
    pub const AUDIO: MediaTypes = MediaTypes(1);
    /// Video (2).
    pub const VIDEO: MediaTypes = MediaTypes(1 << 1);
    /// Screen share (4).
    pub const DESKSHARE: MediaTypes = MediaTypes(1 << 2);
    /// Transcript (8).
    pub const TRANSCRIPT: MediaTypes = MediaTypes(1 << 3);
    /// Chat (16).
    pub const CHAT: MediaTypes = MediaTypes(1 << 4);
    /// Everything the app's scopes allow, over one connection (32).
    pub const ALL: MediaTypes = MediaTypes(1 << 5);

    const KNOWN: u32 = 0b11_1111;

    /// The bitmask from its integer, unknown bits kept.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// assert_eq!(MediaTypes::from_bits(9), MediaTypes::AUDIO | MediaTypes::TRANSCRIPT);
    /// ```
    pub fn from_bits(bits: u32) -> Self {
        MediaTypes(bits)
    }

    /// The integer sent on the wire.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// assert_eq!(MediaTypes::ALL.bits(), 32);
    /// ```
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// assert!(!MediaTypes::AUDIO.contains(MediaTypes::VIDEO));
    /// ```
    pub fn contains(self, other: MediaTypes) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set covers `kind`: its flag is set, or the set has the `ALL` flag.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
    /// assert!(MediaTypes::ALL.includes(MediaKind::Video));
    /// assert!(!MediaTypes::AUDIO.includes(MediaKind::Video));
    /// ```
    pub fn includes(self, kind: MediaKind) -> bool {
        self.contains(kind.flag()) || self.contains(MediaTypes::ALL)
    }

    /// Bits that no known flag names.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// assert_eq!(MediaTypes::from_bits(65 | 1).unknown_bits(), 64);
    /// ```
    pub fn unknown_bits(self) -> u32 {
        self.0 & !Self::KNOWN
    }

    /// The kinds whose own flag is set, in flag order (the `ALL` flag is not expanded).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes};
    /// let kinds: Vec<_> = (MediaTypes::VIDEO | MediaTypes::CHAT).kinds().collect();
    /// assert_eq!(kinds, [MediaKind::Video, MediaKind::Chat]);
    /// ```
    pub fn kinds(self) -> impl Iterator<Item = MediaKind> {
        MediaKind::ALL
            .into_iter()
            .filter(move |k| self.contains(k.flag()))
    }
}

impl BitOr for MediaTypes {
    type Output = MediaTypes;
    fn bitor(self, rhs: MediaTypes) -> MediaTypes {
        MediaTypes(self.0 | rhs.0)
    }
}

impl BitOrAssign for MediaTypes {
    fn bitor_assign(&mut self, rhs: MediaTypes) {
        self.0 |= rhs.0;
    }
}

impl From<MediaKind> for MediaTypes {
    fn from(kind: MediaKind) -> Self {
        kind.flag()
    }
}

impl Serialize for MediaTypes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
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
/// `{"msg_type":1,"protocol_version":1,"sequence":<n>,"<id key>":"<id>",...,"rtms_stream_id":"...","signature":"<hex>"}`
/// (the documented field order): `sequence` 1 unless set with
/// [`with_sequence`](SignalingHandshakeRequest::with_sequence) (Zoom's
/// [event reference](https://developers.zoom.us/docs/rtms/event-reference/) says "must start at
/// 1"; its samples send other values: `docs/protocol.md#where-sources-disagree`), the product's
/// id under each of its id keys ([`IdKeys`]; `meeting_uuid` for a meeting, `session_id` then
/// `meeting_uuid` for the Video SDK, ...), then `"buffer_data":<bool>` only when set with
/// [`with_buffer_data`](SignalingHandshakeRequest::with_buffer_data) (Zoom's default is `true`:
/// up to 60 s of start-up audio is buffered).
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
///     r#"{"msg_type":1,"protocol_version":1,"sequence":42,"meeting_uuid":"m-uuid","rtms_stream_id":"s-id","signature":""#
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
        map.serialize_entry("sequence", &self.sequence)?;
        for key in &self.id_keys {
            map.serialize_entry(key.as_str(), &self.instance_id)?;
        }
        map.serialize_entry("rtms_stream_id", &self.rtms_stream_id)?;
        map.serialize_entry("signature", &self.signature)?;
        if let Some(buffer_data) = self.buffer_data {
            map.serialize_entry("buffer_data", &buffer_data)?;
        }
        map.end()
    }
}

impl SignalingHandshakeRequest {
    /// Builds the signed request for an `rtms_started` event, with the default
    /// id keys of the event's product and `sequence` 1.
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
    /// with the product's default id keys and `sequence` 1.
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
            sequence: 1,
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

    /// Replaces the `sequence` (default 1).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{Credentials, SignalingHandshakeRequest};
    /// use zoom_rtms_webhooks::Product;
    ///
    /// let creds = Credentials::new("id", "secret").unwrap();
    /// let req = SignalingHandshakeRequest::from_parts(&creds, Product::Meeting, "u", "s");
    /// assert_eq!(req.sequence(), 1);
    /// assert_eq!(req.with_sequence(5).sequence(), 5);
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

/// The server's reply to the handshake (message type 2).
///
/// Read tolerantly, as the protocol core reads every server message:
///
/// * `status_code` (or, leniently, `status`) is required: an integer, an
///   integral float or a string of decimal digits; it is the only field whose
///   absence or type fails the parse (with `msg_type`);
/// * `reason` and `protocol_version` are optional; one of another type is read
///   as absent (a numeric `reason` is kept as its decimal text);
/// * `media_server.server_urls` (an object keyed by media type, `all` being the
///   most used) is read into [`media_server_urls`](Self::media_server_urls) as
///   raw strings (an entry that is not a string is skipped, a `media_server` or
///   `server_urls` that is not an object is read as absent); get the one to dial
///   for a media kind with [`media_url`](Self::media_url) (the kind's URL, else
///   `all`, validated under a host policy); the old mocks' top-level `media_urls` object is read when
///   `media_server.server_urls` is absent;
/// * every other top-level field (including the raw `media_server` object,
///   which may carry more than URLs) is kept in [`extra`](Self::extra).
///
/// `Debug` lists the names of the `extra` fields but not their values (they
/// may carry keys).
///
/// ```
/// use zoom_rtms_webhooks::codes::StatusCode;
/// use zoom_rtms_webhooks::handshake::SignalingHandshakeResponse;
///
/// let r = SignalingHandshakeResponse::parse(
///     br#"{"msg_type":2,"status_code":8,"reason":"duplicate signal request"}"#,
/// ).unwrap();
/// assert_eq!(r.status_code, StatusCode::DuplicateSignalRequest);
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
    pub status_code: StatusCode,
    /// `reason`, if sent (absent or `null` is `None`).
    pub reason: Option<String>,
    /// `media_server.server_urls`: media type key (`all`, `audio`, ...) to the
    /// URL exactly as sent (not yet validated).
    pub media_server_urls: BTreeMap<String, String>,
    /// All other top-level fields, as received.
    pub extra: Map<String, Value>,
}

impl SignalingHandshakeResponse {
    /// Parses a message-type-2 reply. Only an unusable message fails: not a JSON
    /// object, no readable `msg_type` 2, no readable status.
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
    /// // Tolerated: `status` for `status_code`, digit strings, the legacy `media_urls`.
    /// let r = SignalingHandshakeResponse::parse(
    ///     br#"{"msg_type":2,"status":"8","media_urls":{"all":"wss://x.zoom.us"}}"#,
    /// ).unwrap();
    /// assert!(r.is_duplicate());
    /// assert_eq!(r.media_server_urls["all"], "wss://x.zoom.us");
    /// // Optional fields of another type are read as absent, odd URL entries skipped.
    /// let r = SignalingHandshakeResponse::parse(
    ///     br#"{"msg_type":2,"status_code":0,"protocol_version":"one","reason":[],
    ///     "media_server":{"server_urls":{"audio":7,"all":"wss://x.zoom.us"}}}"#,
    /// ).unwrap();
    /// assert_eq!((r.protocol_version, r.reason), (None, None));
    /// assert_eq!(r.media_server_urls.len(), 1);
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Self, HandshakeError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| HandshakeError::InvalidJson(e.to_string()))?;
        let Value::Object(mut obj) = value else {
            return Err(HandshakeError::NotAnObject);
        };

        // Read as the protocol core reads every server message (`lenient`): an integer, an
        // integral float or a string of digits.
        let msg_type = obj
            .remove("msg_type")
            .ok_or(HandshakeError::MissingMsgType)?;
        let msg_type = lenient::<Int>(&msg_type)
            .0
            .ok_or(HandshakeError::InvalidField { field: "msg_type" })?;
        if msg_type != MsgType::SignalingHandshakeResponse.code() {
            return Err(HandshakeError::UnexpectedMsgType { found: msg_type });
        }

        // The status is the one required field: `status_code`, else the legacy `status`.
        let (field, status) = match obj.remove("status_code") {
            Some(v) => ("status_code", v),
            None => (
                "status",
                obj.remove("status")
                    .ok_or(HandshakeError::MissingStatusCode)?,
            ),
        };
        let status_code = lenient::<Int>(&status)
            .0
            .map(StatusCode::from)
            .ok_or(HandshakeError::InvalidField { field })?;

        // Optional fields of another type are read as absent.
        let protocol_version = obj
            .remove("protocol_version")
            .and_then(|v| lenient::<Int>(&v).0)
            .and_then(|v| u64::try_from(v).ok());
        let reason = obj
            .remove("reason")
            .and_then(|v| lenient::<Str<'_>>(&v).into_inner().map(Cow::into_owned));

        let mut media_server_urls = obj
            .get("media_server")
            .and_then(|server| url_object(server.get("server_urls")));
        if media_server_urls.as_ref().is_none_or(BTreeMap::is_empty) {
            media_server_urls = url_object(obj.get("media_urls"));
        }
        let media_server_urls = media_server_urls.unwrap_or_default();

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

    /// The media server URL to dial for a socket carrying `carried`, validated under `policy`:
    /// the one rule for picking a media URL (the protocol session uses it too).
    ///
    /// - One kind (split sockets, or a unified socket for one kind): the kind's own key(s)
    ///   ([`MediaKind::url_keys`]), else `all`: `server_urls[type] || server_urls.all`, as
    ///   Zoom's samples do (the keys for screen share and chat are undocumented; see
    ///   `docs/protocol.md#media-sockets`).
    /// - Several kinds, or the `ALL` flag (one unified socket): `all`, the unified endpoint,
    ///   else the first kind's key(s).
    ///
    /// `Ok(None)` when none is present.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::{MediaKind, MediaTypes, SignalingHandshakeResponse};
    /// use zoom_rtms_webhooks::region::HostPolicy;
    ///
    /// let r = SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":0,
    ///     "media_server":{"server_urls":{"audio":"wss://a.zoom.us","all":"wss://all.zoom.us"}}}"#).unwrap();
    /// let policy = HostPolicy::default();
    /// let url = |carried: MediaTypes| r.media_url(carried, &policy).unwrap().unwrap();
    /// assert_eq!(url(MediaKind::Audio.into()).as_str(), "wss://a.zoom.us/");
    /// // No `video` key: the `all` URL.
    /// assert_eq!(r.media_url(MediaKind::Video, &policy).unwrap().unwrap().as_str(), "wss://all.zoom.us/");
    /// // Audio and transcript on one socket: the unified endpoint.
    /// assert_eq!(url(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT).as_str(), "wss://all.zoom.us/");
    /// ```
    pub fn media_url(
        &self,
        carried: impl Into<MediaTypes>,
        policy: &HostPolicy,
    ) -> Result<Option<ServerUrl>, ServerUrlError> {
        let carried = carried.into();
        let mut kinds = carried.kinds();
        let first = kinds.next();
        let unified = carried.contains(MediaTypes::ALL) || kinds.next().is_some();
        let own: &[&str] = first.map_or(&[], MediaKind::url_keys);
        let all: &[&str] = &["all"];
        let (preferred, fallback) = if unified { (all, own) } else { (own, all) };
        preferred
            .iter()
            .chain(fallback)
            .find_map(|key| self.media_server_urls.get(*key))
            .map(|u| ServerUrl::parse(u, policy))
            .transpose()
    }

    /// Whether the server refused a duplicate signalling connection: status 8
    /// (`DUPLICATE_SIGNAL_REQUEST`), or a `reason` containing "duplicate signal
    /// request" (as Zoom's samples check). Retry later: the previous connection
    /// has not fully closed.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::SignalingHandshakeResponse;
    ///
    /// let r = SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":8}"#).unwrap();
    /// assert!(r.is_duplicate());
    /// let r = SignalingHandshakeResponse::parse(
    ///     br#"{"msg_type":2,"status_code":99,"reason":"Duplicate signal request"}"#,
    /// ).unwrap();
    /// assert!(r.is_duplicate());
    /// ```
    pub fn is_duplicate(&self) -> bool {
        self.status_code == StatusCode::DuplicateSignalRequest
            || self
                .reason
                .as_deref()
                .is_some_and(|r| r.to_ascii_lowercase().contains("duplicate signal request"))
    }
}

/// A `{media key: URL}` object, its entries that are not strings skipped; `None` when `urls`
/// is absent or not an object.
fn url_object(urls: Option<&Value>) -> Option<BTreeMap<String, String>> {
    let urls = urls?.as_object()?;
    Some(
        urls.iter()
            .filter_map(|(media, url)| Some((media.clone(), url.as_str()?.to_owned())))
            .collect(),
    )
}

/// A field read with a never-failing reader of [`crate::lenient`].
fn lenient<'v, T: Deserialize<'v> + Default>(value: &'v Value) -> T {
    T::deserialize(value).unwrap_or_default()
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
///     SignalingHandshakeResponse::parse(br#"{"msg_type":2,"status_code":"OK"}"#).unwrap_err().to_string(),
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
    /// A required field is unreadable: a `msg_type` or `status_code` (`status`)
    /// that is not an integer nor a string of digits. Optional fields are never
    /// refused (one of another type is read as absent).
    #[error("handshake response field `{field}` has the wrong type")]
    InvalidField {
        /// The field's name (`msg_type`, `status_code` or `status`).
        field: &'static str,
    },
}
