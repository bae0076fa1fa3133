//! Webhook signature verification and the URL validation challenge.
//!
//! Zoom signs every webhook request with the app's **Secret Token**:
//!
//! ```text
//! x-zm-request-timestamp: 1700000000
//! x-zm-signature:         v0=<hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + raw body))>
//! ```
//!
//! A [`Verifier`] holds one or more secrets (a Meetings/Webinars app, a Video SDK app, the old
//! and new secret during a rotation) and a [`Clock`], checks the timestamp window and the
//! signature, and returns a [`Verified`] proof that tells which secret matched. Only a verified
//! body can be parsed into a [`VerifiedEvent`] (a `Verified<WebhookEvent>`), and only a
//! [`VerifiedEvent`] can build the [`ChallengeResponse`] for an `endpoint.url_validation`
//! request.
//!
//! There are two entry points: [`Verifier::verify`] (headers and raw body to a
//! `Verified<&[u8]>` proof) and [`Verifier::verify_and_parse`] (the same, then
//! [`Verified::parse`]). The two
//! headers reach them as one [`SignatureHeaders`] value, built from plain strings, from an
//! [`http::HeaderMap`], or from any framework's `(name, value)` pairs.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use zoom_rtms_webhooks::signature::{sign, SignatureHeaders, VerifyError};
//! use zoom_rtms_webhooks::Verifier;
//!
//! // Tests fix the time with a clock; production code leaves the default (the system clock).
//! let verifier = Verifier::builder()
//!     .with_secret("meeting-app", "my-webhook-secret-token")
//!     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
//!     .build()?;
//! let body = br#"{"event":"meeting.rtms_stopped","payload":{}}"#;
//! let signature = sign("my-webhook-secret-token", "1700000000", body);
//! let headers = SignatureHeaders::new(Some(&signature), Some("1700000000"));
//!
//! let verified = verifier.verify(headers, body)?;
//! assert_eq!(verified.secret_label(), "meeting-app");
//!
//! // A tampered body is rejected.
//! assert_eq!(verifier.verify(headers, b"{}").unwrap_err(), VerifyError::Mismatch);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is checked, in order
//!
//! 1. Each header was sent at most once ([`VerifyError::AmbiguousHeader`], never "pick one"),
//!    then both are present ([`VerifyError::MissingSignature`],
//!    [`VerifyError::MissingTimestamp`]; a value that is not UTF-8 counts as missing).
//! 2. The timestamp is ASCII digits only and fits a `u64` ([`VerifyError::InvalidTimestamp`]:
//!    empty, `+1`, ` 1`, `1.0`, `-1` and overflowing values are all rejected).
//! 3. The timestamp (Unix **seconds**) is within the tolerance of the verifier's [`Clock`], in
//!    both directions, bounds included ([`DEFAULT_TOLERANCE`] is 300 s;
//!    [`VerifyError::TimestampOutOfTolerance`]). A millisecond timestamp lands here.
//! 4. The signature is exactly `v0=` followed by 64 hex digits
//!    ([`VerifyError::MissingPrefix`], [`VerifyError::EmptySignature`] for a bare `v0=`,
//!    [`VerifyError::InvalidLength`], [`VerifyError::InvalidHex`]). Surrounding whitespace or two
//!    comma-joined values are rejected by the length check. Zoom sends lower-case hex; upper-case
//!    hex is accepted because it decodes to the same 32 MAC bytes (the comparison is on bytes,
//!    not on text).
//! 5. The MAC is compared in constant time (`hmac`'s `verify_slice`) against every configured
//!    secret; the first secret that matches is reported ([`VerifyError::Mismatch`] if none).
//!    All secrets are always tried, so the time taken does not reveal which one matched.
//! 6. When the body is parsed ([`Verified::parse`], [`Verifier::verify_and_parse`]): the
//!    product of an RTMS lifecycle event is one the matching secret may sign
//!    ([`VerifyError::ProductNotAllowed`]; see below).
//!
//! The MAC covers the **raw body bytes** exactly as received. Never verify a re-serialised
//! body: key order and non-ASCII text change the bytes.
//!
//! # Secrets bound to products
//!
//! Every app (a Meetings app, a Video SDK app, a Contact Center app) has its own Secret Token.
//! When one endpoint serves several apps, a secret added with
//! [`VerifierBuilder::with_secret`] may sign events of **every** product: whoever holds the
//! Video SDK app's secret could then send a `meeting.rtms_started` that the endpoint accepts,
//! and mark another app's stream as already seen. Bind each secret to the products its app
//! sends with [`VerifierBuilder::with_secret_for`]:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use zoom_rtms_webhooks::signature::{sign, Error, SignatureHeaders, VerifyError};
//! use zoom_rtms_webhooks::Verifier;
//! use zoom_rtms_webhooks::Product;
//!
//! let verifier = Verifier::builder()
//!     .with_secret_for("meeting-app", "meeting-secret", [Product::Meeting, Product::Webinar])
//!     .with_secret_for("video-sdk-app", "video-sdk-secret", [Product::VideoSdk])
//!     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
//!     .build()?;
//!
//! // A meeting event signed with the Video SDK app's secret is refused (answer 401).
//! let body = br#"{"event":"meeting.rtms_stopped","payload":{"meeting_uuid":"m","rtms_stream_id":"s"}}"#;
//! let signature = sign("video-sdk-secret", "1700000000", body);
//! let headers = SignatureHeaders::new(Some(&signature), Some("1700000000"));
//! assert!(matches!(
//!     verifier.verify_and_parse(headers, body),
//!     Err(Error::Verify(VerifyError::ProductNotAllowed { .. }))
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The check applies to the RTMS lifecycle events (`*.rtms_started`, `*.rtms_stopped`,
//! `*.rtms_interrupted` and their aliases), whose event name names the product. Events without
//! a product of their own (`endpoint.url_validation`, the account-level `rtms.*` events, and
//! event names this crate does not know) are accepted from any configured secret: each app
//! validates its endpoint with its own secret.
//!
//! # Why a challenge reply requires a verified request
//!
//! The `endpoint.url_validation` reply is `hex(HMAC-SHA256(secret, plainToken))`, and the
//! webhook signature is `hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))`: the same key and the same
//! function. An endpoint that answers the challenge *before* checking the request's own
//! signature is a **signing oracle**: an attacker posts
//! `{"event":"endpoint.url_validation","payload":{"plainToken":"v0:<now>:<forged body>"}}`, and
//! the `encryptedToken` in the reply is a valid `x-zm-signature` for a forged
//! `meeting.rtms_started` whose `server_urls` point at a server of the attacker's choosing.
//!
//! This module therefore offers no function that takes a secret and a plain token. A
//! [`ChallengeResponse`] comes only from [`Verified::challenge_response`]; a
//! [`VerifiedEvent`] only from [`Verified::parse`] or [`Verifier::verify_and_parse`]; and a
//! [`Verified`] only from a successful verification. `Verified<&[u8]>` borrows the body it verified,
//! so the event that answers the challenge is the one that was signed. The reply is computed
//! with the secret that verified the request.
//!
//! # Performance
//!
//! Each secret is keyed into an `Hmac<Sha256>` once, when the [`Verifier`] is built; a request
//! clones that keyed state and feeds `v0:`, the timestamp, `:` and the body with `update`,
//! without building the message in memory or allocating. Cloning a [`Verifier`] is a
//! reference-count increment.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::event::{ParseError, Product, WebhookEvent};

type HmacSha256 = Hmac<Sha256>;

/// Name of the header carrying the request signature (`v0=<hex>`).
///
/// HTTP header names are case-insensitive; this constant is lower case, as
/// [`http::HeaderName`] requires.
///
/// ```
/// assert_eq!(zoom_rtms_webhooks::signature::SIGNATURE_HEADER, "x-zm-signature");
/// ```
pub const SIGNATURE_HEADER: &str = "x-zm-signature";

/// Name of the header carrying the request timestamp (Unix seconds).
///
/// ```
/// assert_eq!(
///     zoom_rtms_webhooks::signature::TIMESTAMP_HEADER,
///     "x-zm-request-timestamp"
/// );
/// ```
pub const TIMESTAMP_HEADER: &str = "x-zm-request-timestamp";

/// The default timestamp tolerance: 300 seconds in both directions, as Zoom's own code uses.
///
/// ```
/// use std::time::Duration;
/// use zoom_rtms_webhooks::signature::DEFAULT_TOLERANCE;
/// use zoom_rtms_webhooks::Verifier;
///
/// assert_eq!(DEFAULT_TOLERANCE, Duration::from_secs(300));
/// assert_eq!(Verifier::new("secret")?.tolerance(), DEFAULT_TOLERANCE);
/// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
/// ```
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The label [`Verifier::new`] gives its single secret.
const DEFAULT_LABEL: &str = "default";

/// The signature version prefix of `x-zm-signature`.
const SIGNATURE_PREFIX: &str = "v0=";

/// Length of a hex-encoded HMAC-SHA256.
const MAC_HEX_LEN: usize = 64;

/// A webhook **Secret Token** (from the app's Feature page in the Zoom App Marketplace).
///
/// This is not the OAuth client secret. The value is never shown: `Debug` prints
/// `SecretToken(<redacted>)` and there is no `Display` and no public accessor.
///
/// ```
/// use zoom_rtms_webhooks::signature::SecretToken;
///
/// let token = SecretToken::from("my-webhook-secret-token");
/// assert_eq!(format!("{token:?}"), "SecretToken(<redacted>)");
/// ```
#[derive(Clone)]
pub struct SecretToken(String);

impl SecretToken {
    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// See [`crate::secret::is_blank`].
    fn is_blank(&self) -> bool {
        crate::secret::is_blank(&self.0)
    }
}

impl From<String> for SecretToken {
    fn from(secret: String) -> Self {
        SecretToken(secret)
    }
}

impl From<&str> for SecretToken {
    fn from(secret: &str) -> Self {
        SecretToken(secret.to_owned())
    }
}

impl From<&String> for SecretToken {
    fn from(secret: &String) -> Self {
        SecretToken(secret.clone())
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// The current time, as a [`Verifier`] sees it when it checks the timestamp window.
///
/// Set once with [`VerifierBuilder::with_clock`]; the default is [`SystemClock`]. Any
/// `Fn() -> SystemTime + Send + Sync + 'static` closure is a clock, which is how tests fix or
/// move the time without waiting:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use std::time::{Duration, UNIX_EPOCH};
/// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders, VerifyError};
/// use zoom_rtms_webhooks::Verifier;
///
/// let now = Arc::new(AtomicU64::new(1_700_000_000));
/// let clock = Arc::clone(&now);
/// let verifier = Verifier::builder()
///     .with_secret("app", "secret")
///     .with_clock(move || UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::Relaxed)))
///     .build()?;
///
/// let signature = sign("secret", "1700000000", b"{}");
/// let headers = SignatureHeaders::new(Some(&signature), Some("1700000000"));
/// assert!(verifier.verify(headers, b"{}").is_ok());
///
/// now.store(1_700_000_301, Ordering::Relaxed); // five minutes and a second later
/// assert!(matches!(
///     verifier.verify(headers, b"{}"),
///     Err(VerifyError::TimestampOutOfTolerance { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time. A time before the Unix epoch counts as the epoch.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::{Clock, SystemClock};
    ///
    /// assert!(SystemClock.now() > std::time::UNIX_EPOCH);
    /// ```
    fn now(&self) -> SystemTime;
}

/// The system's wall clock ([`SystemTime::now`]): the default [`Clock`] of a [`Verifier`].
///
/// ```
/// use zoom_rtms_webhooks::signature::{Clock, SystemClock};
///
/// let before = std::time::SystemTime::now();
/// assert!(SystemClock.now() >= before);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

/// One received header: absent, sent once (`None` if not UTF-8), or sent more than once.
/// `Debug` is for this module's tests; [`SignatureHeaders`]' `Debug` never prints values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum HeaderSlot<'a> {
    #[default]
    Absent,
    Once(Option<&'a str>),
    Repeated,
}

impl<'a> HeaderSlot<'a> {
    fn from_option(value: Option<&'a str>) -> Self {
        value.map_or(HeaderSlot::Absent, |v| HeaderSlot::Once(Some(v)))
    }

    /// One more value of this header arrived.
    fn add(&mut self, value: &'a [u8]) {
        *self = match self {
            HeaderSlot::Absent => HeaderSlot::Once(std::str::from_utf8(value).ok()),
            HeaderSlot::Once(_) | HeaderSlot::Repeated => HeaderSlot::Repeated,
        };
    }

    /// The single UTF-8 value, if there is exactly one.
    fn single(self) -> Option<&'a str> {
        match self {
            HeaderSlot::Once(value) => value,
            HeaderSlot::Absent | HeaderSlot::Repeated => None,
        }
    }

    /// `Err` if repeated, otherwise the single UTF-8 value (`None` if absent or not UTF-8).
    fn resolve(self, header: &'static str) -> Result<Option<&'a str>, VerifyError> {
        match self {
            HeaderSlot::Repeated => Err(VerifyError::AmbiguousHeader { header }),
            other => Ok(other.single()),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            HeaderSlot::Absent => "absent",
            HeaderSlot::Once(Some(_)) => "present",
            HeaderSlot::Once(None) => "not UTF-8",
            HeaderSlot::Repeated => "repeated",
        }
    }
}

/// The two headers a webhook is verified with, `x-zm-signature` and `x-zm-request-timestamp`,
/// as received: each absent, sent once, or sent more than once.
///
/// The one input type of [`Verifier::verify`] and [`Verifier::verify_and_parse`]. Build it from
/// the two values ([`new`](Self::new)), from an [`http::HeaderMap`] (http 1.x: axum, hyper;
/// [`from_header_map`](Self::from_header_map)), or from the `(name, value)` pairs of any other
/// framework (actix-web 4 is on http 0.2; [`from_pairs`](Self::from_pairs)). A header sent more
/// than once is remembered as such and verification reports
/// [`VerifyError::AmbiguousHeader`]; a value that is not valid UTF-8 counts as missing.
///
/// `Debug` says whether each header is present, never the signature itself.
///
/// ```
/// use zoom_rtms_webhooks::signature::SignatureHeaders;
///
/// let headers = SignatureHeaders::new(Some("v0=abc"), Some("1700000000"));
/// assert_eq!(headers.signature(), Some("v0=abc"));
/// assert_eq!(headers.timestamp(), Some("1700000000"));
/// assert!(!format!("{headers:?}").contains("abc"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct SignatureHeaders<'a> {
    signature: HeaderSlot<'a>,
    timestamp: HeaderSlot<'a>,
}

impl<'a> SignatureHeaders<'a> {
    /// The two header values, each `None` if absent.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::SignatureHeaders;
    ///
    /// let headers = SignatureHeaders::new(None, Some("1700000000"));
    /// assert_eq!(headers.signature(), None);
    /// ```
    pub fn new(signature: Option<&'a str>, timestamp: Option<&'a str>) -> Self {
        SignatureHeaders {
            signature: HeaderSlot::from_option(signature),
            timestamp: HeaderSlot::from_option(timestamp),
        }
    }

    /// Reads the two headers from an [`http::HeaderMap`] (http 1.x). Names match
    /// case-insensitively (as always with `HeaderMap`).
    ///
    /// ```
    /// use http::HeaderMap;
    /// use zoom_rtms_webhooks::signature::{SignatureHeaders, VerifyError};
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("X-ZM-Signature", "v0=abc".parse()?);
    /// headers.insert("x-zm-request-timestamp", "1700000000".parse()?);
    /// let read = SignatureHeaders::from_header_map(&headers);
    /// assert_eq!(read.signature(), Some("v0=abc"));
    ///
    /// // Sent twice: no value is picked, and verification says why.
    /// headers.append("x-zm-signature", "v0=def".parse()?);
    /// let read = SignatureHeaders::from_header_map(&headers);
    /// assert_eq!(read.signature(), None);
    /// let verifier = Verifier::new("secret")?;
    /// assert_eq!(
    ///     verifier.verify(read, b"{}").unwrap_err(),
    ///     VerifyError::AmbiguousHeader { header: "x-zm-signature" },
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_header_map(headers: &'a http::HeaderMap) -> Self {
        let mut read = SignatureHeaders::default();
        for value in headers.get_all(SIGNATURE_HEADER) {
            read.signature.add(value.as_bytes());
        }
        for value in headers.get_all(TIMESTAMP_HEADER) {
            read.timestamp.add(value.as_bytes());
        }
        read
    }

    /// Reads the two headers from `(name, value)` pairs: for frameworks whose header types are
    /// not http 1.x's (actix-web 4). Names are compared ASCII case-insensitively; other headers
    /// are skipped; a header that occurs twice is remembered as repeated.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::SignatureHeaders;
    ///
    /// let pairs = [
    ///     ("Content-Type", b"application/json".as_slice()),
    ///     ("X-Zm-Signature", b"v0=abc".as_slice()),
    ///     ("x-zm-request-timestamp", b"1700000000".as_slice()),
    /// ];
    /// let read = SignatureHeaders::from_pairs(pairs);
    /// assert_eq!(read, SignatureHeaders::new(Some("v0=abc"), Some("1700000000")));
    /// ```
    ///
    /// With actix-web 4 (`req: &HttpRequest`):
    ///
    /// ```text
    /// let headers = SignatureHeaders::from_pairs(
    ///     req.headers().iter().map(|(name, value)| (name.as_str(), value.as_bytes())),
    /// );
    /// ```
    pub fn from_pairs(pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut read = SignatureHeaders::default();
        for (name, value) in pairs {
            if name.eq_ignore_ascii_case(SIGNATURE_HEADER) {
                read.signature.add(value);
            } else if name.eq_ignore_ascii_case(TIMESTAMP_HEADER) {
                read.timestamp.add(value);
            }
        }
        read
    }

    /// The `x-zm-signature` value: `None` if absent, not UTF-8, or sent more than once.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::SignatureHeaders;
    ///
    /// let pairs = [("x-zm-signature", b"v0=a".as_slice()), ("x-zm-signature", b"v0=b".as_slice())];
    /// assert_eq!(SignatureHeaders::from_pairs(pairs).signature(), None);
    /// ```
    pub fn signature(&self) -> Option<&'a str> {
        self.signature.single()
    }

    /// The `x-zm-request-timestamp` value: `None` if absent, not UTF-8, or sent more than once.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::SignatureHeaders;
    ///
    /// let pairs = [("x-zm-request-timestamp", b"\xff".as_slice())];
    /// assert_eq!(SignatureHeaders::from_pairs(pairs).timestamp(), None);
    /// ```
    pub fn timestamp(&self) -> Option<&'a str> {
        self.timestamp.single()
    }

    /// Both values, or why not: repeated headers first, then missing ones.
    fn resolve(self) -> Result<(&'a str, &'a str), VerifyError> {
        let signature = self.signature.resolve(SIGNATURE_HEADER)?;
        let timestamp = self.timestamp.resolve(TIMESTAMP_HEADER)?;
        let signature = signature.ok_or(VerifyError::MissingSignature)?;
        let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?;
        Ok((signature, timestamp))
    }
}

impl fmt::Debug for SignatureHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let timestamp = self
            .timestamp
            .single()
            .unwrap_or_else(|| self.timestamp.describe());
        f.debug_struct("SignatureHeaders")
            .field("signature", &self.signature.describe())
            .field("timestamp", &timestamp)
            .finish()
    }
}

/// A secret keyed into its HMAC state once, with the label it is reported under and the
/// products it may sign (`None`: every product).
struct KeyedSecret {
    label: String,
    mac: HmacSha256,
    products: Option<Vec<Product>>,
}

impl KeyedSecret {
    fn may_sign(&self, product: Product) -> bool {
        self.products
            .as_ref()
            .is_none_or(|products| products.contains(&product))
    }
}

/// HMAC-SHA256 keyed with `key`.
fn keyed_mac(key: &[u8]) -> HmacSha256 {
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC accepts keys of every length (long keys are hashed, short ones padded), so
        // `new_from_slice` cannot fail for `Hmac<Sha256>`; no input reaches this arm.
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    }
}

/// Feed the signed message `v0:{timestamp}:{body}` without building it in memory.
fn feed_message(mac: &mut HmacSha256, timestamp: &str, body: &[u8]) {
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
}

/// Compute the `x-zm-signature` header value for a request: `v0=` followed by the lower-case
/// hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with `secret`.
///
/// This is for **your tests**: build signed requests to exercise your endpoint, or to check
/// your own fixtures. Production code verifies with a [`Verifier`] and never needs to sign.
/// The timestamp is used verbatim, exactly as it would appear in the
/// `x-zm-request-timestamp` header.
///
/// ```
/// use zoom_rtms_webhooks::signature::sign;
///
/// let signature = sign("secret", "1700000000", b"{}");
/// assert!(signature.starts_with("v0="));
/// assert_eq!(signature.len(), 3 + 64);
/// ```
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = keyed_mac(secret.as_bytes());
    feed_message(&mut mac, timestamp, body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(SIGNATURE_PREFIX.len() + MAC_HEX_LEN);
    out.push_str(SIGNATURE_PREFIX);
    out.push_str(&hex::encode(tag));
    out
}

/// Why a [`Verifier`] could not be built. Every configuration mistake fails closed: a
/// verifier that would accept unsigned traffic is never built.
///
/// ```
/// use zoom_rtms_webhooks::signature::ConfigError;
/// use zoom_rtms_webhooks::Verifier;
///
/// let err = Verifier::new("").unwrap_err();
/// assert!(matches!(err, ConfigError::EmptySecret { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A secret is blank: empty after removing NUL bytes, whitespace and invisible format
    /// characters (typically an unset environment variable or a zero-filled file).
    #[error("webhook secret token `{label}` is empty")]
    EmptySecret {
        /// Label of the offending secret.
        label: String,
    },
    /// The builder was given no secret at all.
    #[error("no webhook secret token configured")]
    NoSecrets,
    /// Two secrets share a label, so a match could not be told apart.
    #[error("webhook secret token label `{label}` is used more than once")]
    DuplicateLabel {
        /// The repeated label.
        label: String,
    },
    /// The same secret is configured under two labels. Only the first entry could ever match,
    /// so the second one's product binding would silently never apply: configure the secret
    /// once, with every product it signs
    /// (`with_secret_for(label, secret, [Product::Meeting, Product::VideoSdk])`).
    #[error("webhook secret token `{label}` is the same secret as `{first}`")]
    DuplicateSecret {
        /// Label of the later entry.
        label: String,
        /// Label of the earlier entry with the same secret.
        first: String,
    },
    /// [`VerifierBuilder::with_secret_for`] was given no product: the secret could sign no
    /// RTMS event at all, which is a configuration mistake.
    #[error("webhook secret token `{label}` is bound to no product")]
    NoProducts {
        /// Label of the offending secret.
        label: String,
    },
}

/// Why a request's signature did not verify. Every variant should be answered with
/// `401 Unauthorized`.
///
/// No variant carries a secret, the expected MAC or the received signature.
///
/// ```
/// use zoom_rtms_webhooks::signature::{SignatureHeaders, VerifyError};
/// use zoom_rtms_webhooks::Verifier;
///
/// let verifier = Verifier::new("secret")?;
/// let headers = SignatureHeaders::new(None, Some("1700000000"));
/// let err = verifier.verify(headers, b"{}").unwrap_err();
/// assert_eq!(err, VerifyError::MissingSignature);
/// assert_eq!(err.to_string(), "missing x-zm-signature header");
/// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The `x-zm-signature` header is absent or not UTF-8.
    #[error("missing x-zm-signature header")]
    MissingSignature,
    /// The `x-zm-request-timestamp` header is absent or not UTF-8.
    #[error("missing x-zm-request-timestamp header")]
    MissingTimestamp,
    /// A header was sent more than once; no value is picked.
    #[error("header {header} was sent more than once")]
    AmbiguousHeader {
        /// The repeated header's name ([`SIGNATURE_HEADER`] or [`TIMESTAMP_HEADER`]).
        header: &'static str,
    },
    /// The timestamp is not a plain run of ASCII digits, or does not fit a `u64`
    /// (empty, signs, spaces, decimals and overflow are all rejected).
    #[error("x-zm-request-timestamp is not a valid Unix timestamp")]
    InvalidTimestamp,
    /// The timestamp is further than the tolerance from the current time (either direction).
    /// A timestamp in milliseconds instead of seconds lands here.
    #[error("request timestamp {timestamp} is outside the allowed window (now {now})")]
    TimestampOutOfTolerance {
        /// The request's timestamp, Unix seconds.
        timestamp: u64,
        /// The verifier's current time, Unix seconds.
        now: u64,
    },
    /// The signature does not start with `v0=`.
    #[error("x-zm-signature does not start with `v0=`")]
    MissingPrefix,
    /// The signature is a bare `v0=` with nothing after it.
    #[error("x-zm-signature is empty after `v0=`")]
    EmptySignature,
    /// The part after `v0=` is not 64 characters long.
    #[error("x-zm-signature has {len} characters after `v0=`, expected 64")]
    InvalidLength {
        /// Length in bytes of the part after `v0=`.
        len: usize,
    },
    /// The part after `v0=` is not hexadecimal.
    #[error("x-zm-signature is not hexadecimal")]
    InvalidHex,
    /// The signature is well formed but matches none of the configured secrets.
    #[error("x-zm-signature does not match")]
    Mismatch,
    /// The signature matched a secret that is not bound to the event's product (see
    /// [`VerifierBuilder::with_secret_for`]): for example a `meeting.*` event signed with the
    /// Video SDK app's secret.
    #[error("webhook secret token `{secret_label}` may not sign {product} events")]
    ProductNotAllowed {
        /// Label of the secret that matched.
        secret_label: String,
        /// The event's product.
        product: Product,
    },
}

/// Error of [`Verifier::verify_and_parse`] and [`Verified::parse`]: either the request is not
/// authentic (answer `401`) or the verified body is not a valid event (answer `400`).
///
/// ```
/// use zoom_rtms_webhooks::signature::{Error, SignatureHeaders, VerifyError};
/// use zoom_rtms_webhooks::Verifier;
///
/// let verifier = Verifier::new("secret")?;
/// let err = verifier.verify_and_parse(SignatureHeaders::new(None, None), b"{}").unwrap_err();
/// assert!(matches!(err, Error::Verify(VerifyError::MissingSignature)));
/// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request's signature did not verify, or its secret may not sign the event's
    /// product.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The signature verified, but the body is not a valid webhook event.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// One secret as configured on the builder.
#[derive(Clone)]
struct SecretConfig {
    label: String,
    secret: SecretToken,
    products: Option<Vec<Product>>,
}

/// Builder for a [`Verifier`]: several secrets, secrets bound to products, a custom tolerance,
/// or a [`Clock`]. [`build`](Self::build) is the only place the configuration is checked.
///
/// ```
/// use std::time::Duration;
/// use zoom_rtms_webhooks::Verifier;
///
/// let verifier = Verifier::builder()
///     .with_secret("meeting-app", "meeting-secret")
///     .with_secret("video-sdk-app", "video-sdk-secret")
///     .with_tolerance(Duration::from_secs(120))
///     .build()?;
/// assert_eq!(verifier.tolerance(), Duration::from_secs(120));
/// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct VerifierBuilder {
    secrets: Vec<SecretConfig>,
    tolerance: Duration,
    clock: Arc<dyn Clock>,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        VerifierBuilder {
            secrets: Vec::new(),
            tolerance: DEFAULT_TOLERANCE,
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field(
                "secrets",
                &self
                    .secrets
                    .iter()
                    .map(|s| (&s.label, &s.products))
                    .collect::<Vec<_>>(),
            )
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl VerifierBuilder {
    /// Add a secret under `label` that may sign events of every product (repeatable). Secrets
    /// are tried in the order added; the label and position of the one that matched are
    /// reported by [`Verified`].
    ///
    /// When one endpoint serves several apps, prefer [`with_secret_for`](Self::with_secret_for).
    ///
    /// ```
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// // During a rotation, accept both the new and the old secret.
    /// let verifier = Verifier::builder()
    ///     .with_secret("current", "new-secret")
    ///     .with_secret("previous", "old-secret")
    ///     .build()?;
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_secret(mut self, label: impl Into<String>, secret: impl Into<SecretToken>) -> Self {
        self.secrets.push(SecretConfig {
            label: label.into(),
            secret: secret.into(),
            products: None,
        });
        self
    }

    /// Add a secret under `label` that may sign the RTMS lifecycle events of `products` only
    /// (repeatable). A `*.rtms_started` / `_stopped` / `_interrupted` event of another product
    /// signed with it is refused with [`VerifyError::ProductNotAllowed`] (answer `401`) when
    /// the body is parsed; events without a product (`endpoint.url_validation`, account-level
    /// `rtms.*` events, unknown names) are accepted from it. See the
    /// [module documentation](self#secrets-bound-to-products).
    ///
    /// An empty `products` fails [`build`](Self::build) with [`ConfigError::NoProducts`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::{Product, Verifier};
    ///
    /// let verifier = Verifier::builder()
    ///     .with_secret_for("meeting-app", "meeting-secret", [Product::Meeting, Product::Webinar])
    ///     .with_secret_for("video-sdk-app", "video-sdk-secret", [Product::VideoSdk])
    ///     .build()?;
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_secret_for(
        mut self,
        label: impl Into<String>,
        secret: impl Into<SecretToken>,
        products: impl IntoIterator<Item = Product>,
    ) -> Self {
        let mut products: Vec<Product> = products.into_iter().collect();
        products.sort_unstable();
        products.dedup();
        self.secrets.push(SecretConfig {
            label: label.into(),
            secret: secret.into(),
            products: Some(products),
        });
        self
    }

    /// Set the timestamp tolerance (default [`DEFAULT_TOLERANCE`], 300 s). A request is
    /// accepted when `|now - timestamp| <= tolerance`, bounds included, counted in whole
    /// seconds (a fractional part of `tolerance` is ignored).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let verifier = Verifier::builder()
    ///     .with_secret("app", "secret")
    ///     .with_tolerance(Duration::from_secs(60))
    ///     .build()?;
    /// assert_eq!(verifier.tolerance(), Duration::from_secs(60));
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Set the clock the timestamp window is checked against (default [`SystemClock`]). Any
    /// `Fn() -> SystemTime + Send + Sync + 'static` closure is a [`Clock`].
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let verifier = Verifier::builder()
    ///     .with_secret("app", "secret")
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    ///     .build()?;
    /// assert_eq!(verifier.clock().now(), UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Build the verifier, keying every secret once.
    ///
    /// Fails with [`ConfigError::NoSecrets`] if no secret was added,
    /// [`ConfigError::EmptySecret`] if any secret is blank (empty after removing NUL bytes,
    /// whitespace and invisible format characters), [`ConfigError::DuplicateLabel`] if two
    /// secrets share a label, and [`ConfigError::NoProducts`] if a secret is bound to no
    /// product.
    ///
    /// No minimum length is imposed: Zoom generates the Secret Token, a length says little
    /// about its strength, and what a length check would be after (an unset variable, a
    /// zero-filled file, a stray BOM or newline) is exactly what the blank check refuses.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::ConfigError;
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// assert_eq!(Verifier::builder().build().unwrap_err(), ConfigError::NoSecrets);
    /// let err = Verifier::builder().with_secret("app", "\0\0").build().unwrap_err();
    /// assert_eq!(err, ConfigError::EmptySecret { label: "app".into() });
    /// ```
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.secrets.is_empty() {
            return Err(ConfigError::NoSecrets);
        }
        // The same secret under two entries would verify as the first one only, so the second
        // entry's products could never be reached: refuse it and ask for one entry.
        for (i, later) in self.secrets.iter().enumerate() {
            if let Some(earlier) = self.secrets[..i]
                .iter()
                .find(|earlier| earlier.secret.as_bytes() == later.secret.as_bytes())
            {
                return Err(ConfigError::DuplicateSecret {
                    label: later.label.clone(),
                    first: earlier.label.clone(),
                });
            }
        }
        let mut keyed: Vec<Arc<KeyedSecret>> = Vec::with_capacity(self.secrets.len());
        for SecretConfig {
            label,
            secret,
            products,
        } in self.secrets
        {
            if secret.is_blank() {
                return Err(ConfigError::EmptySecret { label });
            }
            if keyed.iter().any(|k| k.label == label) {
                return Err(ConfigError::DuplicateLabel { label });
            }
            if products.as_ref().is_some_and(Vec::is_empty) {
                return Err(ConfigError::NoProducts { label });
            }
            let mac = keyed_mac(secret.as_bytes());
            keyed.push(Arc::new(KeyedSecret {
                label,
                mac,
                products,
            }));
        }
        Ok(Verifier {
            inner: Arc::new(VerifierInner {
                secrets: keyed,
                tolerance: self.tolerance,
                clock: self.clock,
            }),
        })
    }
}

struct VerifierInner {
    secrets: Vec<Arc<KeyedSecret>>,
    tolerance: Duration,
    clock: Arc<dyn Clock>,
}

/// Verifies Zoom webhook requests against one or more Secret Tokens.
///
/// Cheap to clone (shared state). `Debug` shows the secret labels, their products and the
/// tolerance only.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
/// use zoom_rtms_webhooks::Verifier;
///
/// let verifier = Verifier::builder()
///     .with_secret("meeting-app", "meeting-secret")
///     .with_secret("video-sdk-app", "video-sdk-secret")
///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_010))
///     .build()?;
///
/// let body = br#"{"event":"session.rtms_stopped","payload":{}}"#;
/// let signature = sign("video-sdk-secret", "1700000000", body);
/// let headers = SignatureHeaders::new(Some(&signature), Some("1700000000"));
/// let verified = verifier.verify(headers, body)?;
/// assert_eq!(verified.secret_label(), "video-sdk-app");
/// assert_eq!(verified.secret_index(), 1);
/// assert!(!format!("{verifier:?}").contains("meeting-secret"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Secrets<'a>(&'a [Arc<KeyedSecret>]);
        impl fmt::Debug for Secrets<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.iter().map(|s| (&s.label, &s.products)))
                    .finish()
            }
        }
        f.debug_struct("Verifier")
            .field("secrets", &Secrets(&self.inner.secrets))
            .field("tolerance", &self.inner.tolerance)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with a single secret, labelled `"default"`, that may sign every product,
    /// with the default tolerance and the system clock.
    ///
    /// Fails with [`ConfigError::EmptySecret`] if the secret is blank (empty after removing
    /// NUL bytes, whitespace and invisible format characters), so a missing environment
    /// variable or a zero-filled secret file never turns into accepting forged traffic.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// // What `std::env::var("ZOOM_SECRET_TOKEN").unwrap_or_default()` gives when it is unset:
    /// assert!(Verifier::new("").is_err());
    /// assert!(Verifier::new("\0").is_err()); // the same HMAC key as ""
    /// ```
    pub fn new(secret: impl Into<SecretToken>) -> Result<Self, ConfigError> {
        Self::builder().with_secret(DEFAULT_LABEL, secret).build()
    }

    /// Start building a verifier with several secrets, product-bound secrets, a custom
    /// tolerance or a clock.
    ///
    /// ```
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let verifier = Verifier::builder().with_secret("app", "secret").build()?;
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// The timestamp tolerance this verifier applies in each direction.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::DEFAULT_TOLERANCE;
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// assert_eq!(Verifier::new("secret")?.tolerance(), DEFAULT_TOLERANCE);
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    pub fn tolerance(&self) -> Duration {
        self.inner.tolerance
    }

    /// The clock the timestamp window is checked against.
    ///
    /// ```
    /// use std::time::UNIX_EPOCH;
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// assert!(Verifier::new("secret")?.clock().now() > UNIX_EPOCH);
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    pub fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    /// Verify a request: the two headers and the raw body, exactly as received.
    ///
    /// Checks, in order: each header sent at most once, both present, timestamp syntax,
    /// timestamp window against the verifier's [`Clock`], signature syntax, then the MAC
    /// against every secret in constant time (see the [module documentation](self)).
    ///
    /// The product binding of [`VerifierBuilder::with_secret_for`] needs the event, so it is
    /// checked by [`Verified::parse`] (and [`verify_and_parse`](Self::verify_and_parse)).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders, VerifyError};
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let verifier = Verifier::builder()
    ///     .with_secret("app", "secret")
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_301))
    ///     .build()?;
    /// let body = b"{}";
    ///
    /// let signature = sign("secret", "1700000001", body);
    /// let headers = SignatureHeaders::new(Some(&signature), Some("1700000001"));
    /// assert!(verifier.verify(headers, body).is_ok()); // 300 s old: still inside
    ///
    /// let signature = sign("secret", "1700000000", body);
    /// let headers = SignatureHeaders::new(Some(&signature), Some("1700000000"));
    /// assert_eq!(
    ///     verifier.verify(headers, body).unwrap_err(),
    ///     VerifyError::TimestampOutOfTolerance { timestamp: 1_700_000_000, now: 1_700_000_301 },
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify<'b>(
        &self,
        headers: SignatureHeaders<'_>,
        body: &'b [u8],
    ) -> Result<Verified<&'b [u8]>, VerifyError> {
        let (signature, timestamp_raw) = headers.resolve()?;
        let timestamp = parse_timestamp(timestamp_raw)?;

        let now = self
            .inner
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since_epoch| since_epoch.as_secs());
        if now.abs_diff(timestamp) > self.inner.tolerance.as_secs() {
            return Err(VerifyError::TimestampOutOfTolerance { timestamp, now });
        }

        let tag = decode_signature(signature)?;

        // Try every secret, without stopping at the first match, so the time taken does not
        // depend on which secret matched. Each comparison is constant time (`verify_slice`).
        let mut matched: Option<(usize, &Arc<KeyedSecret>)> = None;
        for (index, secret) in self.inner.secrets.iter().enumerate() {
            let mut mac = secret.mac.clone();
            feed_message(&mut mac, timestamp_raw, body);
            let ok = mac.verify_slice(&tag).is_ok();
            if ok && matched.is_none() {
                matched = Some((index, secret));
            }
        }
        let (index, secret) = matched.ok_or(VerifyError::Mismatch)?;
        Ok(Verified {
            secret: Arc::clone(secret),
            index,
            timestamp,
            content: body,
        })
    }

    /// Verify a request, then parse the verified body ([`Verified::parse`], which also checks
    /// the secret's product binding).
    ///
    /// The returned [`VerifiedEvent`] can answer an `endpoint.url_validation` challenge.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let verifier = Verifier::builder()
    ///     .with_secret("app", "secret")
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    ///     .build()?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let headers = SignatureHeaders::new(Some(&signature), Some("1700000000"));
    /// let event = verifier.verify_and_parse(headers, body)?;
    /// assert!(event.challenge_response().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_and_parse(
        &self,
        headers: SignatureHeaders<'_>,
        body: &[u8],
    ) -> Result<VerifiedEvent, Error> {
        self.verify(headers, body)?.parse()
    }
}

/// ASCII digits only (no sign, no spaces, not empty), fitting a `u64`.
fn parse_timestamp(raw: &str) -> Result<u64, VerifyError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidTimestamp);
    }
    raw.parse::<u64>()
        .map_err(|_| VerifyError::InvalidTimestamp)
}

/// `v0=` followed by exactly 64 hex digits, decoded to the 32 MAC bytes.
fn decode_signature(signature: &str) -> Result<[u8; 32], VerifyError> {
    let hex_part = signature
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(VerifyError::MissingPrefix)?;
    if hex_part.is_empty() {
        return Err(VerifyError::EmptySignature);
    }
    if hex_part.len() != MAC_HEX_LEN {
        return Err(VerifyError::InvalidLength {
            len: hex_part.len(),
        });
    }
    let mut tag = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut tag).map_err(|_| VerifyError::InvalidHex)?;
    Ok(tag)
}

/// The product a secret must be bound to for it to sign `event`: the product of an RTMS
/// lifecycle event (named by the event name), `None` for every other event.
fn bound_product(event: &WebhookEvent) -> Option<Product> {
    event.lifecycle().and(event.product())
}

/// Proof that a request's signature verified: which secret matched, the request's timestamp,
/// and what was verified: the raw body (`Verified<&[u8]>`, from [`Verifier::verify`]) or the
/// event parsed from it ([`VerifiedEvent`], that is `Verified<WebhookEvent>`, from
/// [`Verified::parse`] or [`Verifier::verify_and_parse`]).
///
/// Only a [`Verifier`] creates one. `Verified<&[u8]>` borrows the verified body, so
/// [`parse`](Self::parse) can only ever parse the bytes that were signed; only a
/// `Verified<WebhookEvent>` can answer a challenge ([`challenge_response`](Self::challenge_response)).
/// `Debug` shows the secret's label and index, the timestamp, and the body's length or the
/// event; never the secret.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders, Verified};
/// use zoom_rtms_webhooks::{Verifier, WebhookEvent};
///
/// let verifier = Verifier::builder()
///     .with_secret("meeting-app", "secret")
///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
///     .build()?;
/// let body = br#"{"event":"x.y","payload":{}}"#;
/// let signature = sign("secret", "1700000000", body);
/// let verified: Verified<&[u8]> =
///     verifier.verify(SignatureHeaders::new(Some(&signature), Some("1700000000")), body)?;
/// assert_eq!(verified.body(), body);
/// let event: Verified<WebhookEvent> = verified.parse()?;
/// assert_eq!(event.event().name(), "x.y");
/// // The same accessors, whatever was verified.
/// assert_eq!(event.secret_label(), "meeting-app");
/// assert_eq!(event.secret_index(), 0);
/// assert_eq!(event.timestamp(), 1_700_000_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Verified<T> {
    secret: Arc<KeyedSecret>,
    index: usize,
    timestamp: u64,
    content: T,
}

/// A parsed event from a verified request, with the secret that verified it: what
/// [`Verified::parse`] and [`Verifier::verify_and_parse`] return, and the only value that
/// can answer an `endpoint.url_validation` request
/// ([`challenge_response`](Verified::challenge_response); see the [module documentation](self)
/// for why).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders, VerifiedEvent};
/// use zoom_rtms_webhooks::{Verifier, WebhookEvent};
///
/// let verifier = Verifier::builder()
///     .with_secret("default", "secret")
///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
///     .build()?;
/// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
/// let signature = sign("secret", "1700000000", body);
/// let event: VerifiedEvent =
///     verifier.verify_and_parse(SignatureHeaders::new(Some(&signature), Some("1700000000")), body)?;
/// assert!(matches!(event.event(), WebhookEvent::UrlValidation(_)));
/// assert_eq!(event.secret_label(), "default");
/// assert!(!format!("{event:?}").contains("secret\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type VerifiedEvent = Verified<WebhookEvent>;

impl<T> Verified<T> {
    /// Label of the secret that verified the request (`"default"` for [`Verifier::new`]).
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// # use zoom_rtms_webhooks::Verifier;
    /// let verifier = Verifier::builder()
    ///     .with_secret("meeting-app", "secret")
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    ///     .build()?;
    /// let signature = sign("secret", "1700000000", b"{}");
    /// let verified = verifier.verify(SignatureHeaders::new(Some(&signature), Some("1700000000")), b"{}")?;
    /// assert_eq!(verified.secret_label(), "meeting-app");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn secret_label(&self) -> &str {
        &self.secret.label
    }

    /// Position of the secret that verified the request, in the order the secrets were added.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// # use zoom_rtms_webhooks::Verifier;
    /// let verifier = Verifier::builder()
    ///     .with_secret("a", "one")
    ///     .with_secret("b", "two")
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    ///     .build()?;
    /// let signature = sign("two", "1700000000", b"{}");
    /// let verified = verifier.verify(SignatureHeaders::new(Some(&signature), Some("1700000000")), b"{}")?;
    /// assert_eq!(verified.secret_index(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn secret_index(&self) -> usize {
        self.index
    }

    /// The request's `x-zm-request-timestamp`, Unix seconds.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// # use zoom_rtms_webhooks::Verifier;
    /// let verifier = Verifier::builder()
    ///     .with_secret("app", "secret")
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    ///     .build()?;
    /// let signature = sign("secret", "1700000000", b"{}");
    /// let verified = verifier.verify(SignatureHeaders::new(Some(&signature), Some("1700000000")), b"{}")?;
    /// assert_eq!(verified.timestamp(), 1_700_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The same proof for other content (the parsed event in place of the body).
    fn with_content<U>(self, content: U) -> Verified<U> {
        Verified {
            secret: self.secret,
            index: self.index,
            timestamp: self.timestamp,
            content,
        }
    }

    /// `Debug` with the content shown as `name: value`.
    fn debug_with(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &str,
        value: &dyn fmt::Debug,
    ) -> fmt::Result {
        f.debug_struct("Verified")
            .field("secret_label", &self.secret.label)
            .field("secret_index", &self.index)
            .field("timestamp", &self.timestamp)
            .field(name, value)
            .finish()
    }
}

impl fmt::Debug for Verified<&[u8]> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.debug_with(f, "body_len", &self.content.len())
    }
}

impl fmt::Debug for Verified<WebhookEvent> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.debug_with(f, "event", &self.content)
    }
}

impl<'b> Verified<&'b [u8]> {
    /// The raw body that was verified.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// # use zoom_rtms_webhooks::Verifier;
    /// let verifier = Verifier::builder()
    ///     .with_secret("app", "secret")
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    ///     .build()?;
    /// let signature = sign("secret", "1700000000", b"{}");
    /// let verified = verifier.verify(SignatureHeaders::new(Some(&signature), Some("1700000000")), b"{}")?;
    /// assert_eq!(verified.body(), b"{}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body(&self) -> &'b [u8] {
        self.content
    }

    /// Parse the verified body into a [`VerifiedEvent`], which can answer a challenge.
    ///
    /// Fails with [`Error::Parse`] (answer `400`) if the body is not a valid event, and with
    /// [`Error::Verify`]`(`[`VerifyError::ProductNotAllowed`]`)` (answer `401`) if the event is
    /// an RTMS lifecycle event of a product the matching secret is not bound to (see
    /// [`VerifierBuilder::with_secret_for`]).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let verifier = Verifier::builder()
    ///     .with_secret("app", "secret")
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    ///     .build()?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let verified = verifier.verify(SignatureHeaders::new(Some(&signature), Some("1700000000")), body)?;
    /// let event = verified.parse()?;
    /// assert_eq!(event.challenge_response().map(|r| r.plain_token), Some("abc".to_owned()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(self) -> Result<VerifiedEvent, Error> {
        let event = WebhookEvent::parse(self.content)?;
        if let Some(product) = bound_product(&event) {
            if !self.secret.may_sign(product) {
                return Err(Error::Verify(VerifyError::ProductNotAllowed {
                    secret_label: self.secret.label.clone(),
                    product,
                }));
            }
        }
        Ok(self.with_content(event))
    }
}

impl Verified<WebhookEvent> {
    /// The parsed event.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// # use zoom_rtms_webhooks::Verifier;
    /// # let verifier = Verifier::builder()
    /// #     .with_secret("app", "secret")
    /// #     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    /// #     .build()?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let event = verifier.verify_and_parse(SignatureHeaders::new(Some(&signature), Some("1700000000")), body)?;
    /// assert_eq!(event.event().name(), "endpoint.url_validation");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn event(&self) -> &WebhookEvent {
        &self.content
    }

    /// Take the parsed event (the ability to answer a challenge is given up).
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// # use zoom_rtms_webhooks::Verifier;
    /// use zoom_rtms_webhooks::WebhookEvent;
    /// # let verifier = Verifier::builder()
    /// #     .with_secret("app", "secret")
    /// #     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    /// #     .build()?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let event = verifier.verify_and_parse(SignatureHeaders::new(Some(&signature), Some("1700000000")), body)?;
    /// let event: WebhookEvent = event.into_event();
    /// assert!(matches!(event, WebhookEvent::UrlValidation(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_event(self) -> WebhookEvent {
        self.content
    }

    /// The reply to an `endpoint.url_validation` request: `Some` for that event, `None` for
    /// every other event.
    ///
    /// `encryptedToken` is `hex(HMAC-SHA256(secret, plainToken))` with the secret that
    /// verified this request. Send it as the `200` response body
    /// ([`ChallengeResponse::to_json`]) within 3 seconds.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// use zoom_rtms_webhooks::Verifier;
    ///
    /// let verifier = Verifier::builder()
    ///     .with_secret("app", "secret")
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    ///     .build()?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let event = verifier.verify_and_parse(SignatureHeaders::new(Some(&signature), Some("1700000000")), body)?;
    /// let reply = event.challenge_response().ok_or("not a challenge")?;
    /// assert_eq!(reply.plain_token, "abc");
    /// assert_eq!(reply.encrypted_token.len(), 64);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn challenge_response(&self) -> Option<ChallengeResponse> {
        let WebhookEvent::UrlValidation(validation) = &self.content else {
            return None;
        };
        let mut mac = self.secret.mac.clone();
        mac.update(validation.plain_token.as_bytes());
        Some(ChallengeResponse {
            plain_token: validation.plain_token.clone(),
            encrypted_token: hex::encode(mac.finalize().into_bytes()),
        })
    }
}

/// The JSON reply to an `endpoint.url_validation` request:
/// `{"plainToken": "...", "encryptedToken": "<hex HMAC-SHA256(secret, plainToken)>"}`.
///
/// Obtained only from [`Verified::challenge_response`]; it cannot be constructed outside
/// this crate:
///
/// ```compile_fail
/// use zoom_rtms_webhooks::signature::ChallengeResponse;
/// // error[E0639]: cannot create non-exhaustive struct using struct expression
/// let reply = ChallengeResponse { plain_token: "t".into(), encrypted_token: "e".into() };
/// ```
///
/// `Debug` shows the plain token and redacts the encrypted token: it is an HMAC keyed with the
/// webhook secret over a value the requester chose, which is what a signature is.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
/// use zoom_rtms_webhooks::Verifier;
///
/// let verifier = Verifier::builder()
///     .with_secret("app", "secret")
///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
///     .build()?;
/// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
/// let signature = sign("secret", "1700000000", body);
/// let event = verifier.verify_and_parse(SignatureHeaders::new(Some(&signature), Some("1700000000")), body)?;
/// let reply = event.challenge_response().ok_or("not a challenge")?;
/// let json: serde_json::Value = serde_json::from_slice(&reply.to_json())?;
/// assert_eq!(json["plainToken"], "abc");
/// assert_eq!(json["encryptedToken"], reply.encrypted_token.as_str());
/// assert!(!format!("{reply:?}").contains(&reply.encrypted_token));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChallengeResponse {
    /// The `plainToken` from the request, echoed back.
    pub plain_token: String,
    /// Lower-case hex HMAC-SHA256 of `plain_token`, keyed with the secret that verified the
    /// request.
    pub encrypted_token: String,
}

impl fmt::Debug for ChallengeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChallengeResponse")
            .field("plain_token", &self.plain_token)
            .field("encrypted_token", &"<redacted>")
            .finish()
    }
}

impl ChallengeResponse {
    /// The response body: `{"plainToken":"...","encryptedToken":"..."}` (send with
    /// `content-type: application/json` and status `200`).
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
    /// # use zoom_rtms_webhooks::Verifier;
    /// # let verifier = Verifier::builder()
    /// #     .with_secret("app", "secret")
    /// #     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    /// #     .build()?;
    /// # let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// # let signature = sign("secret", "1700000000", body);
    /// # let event = verifier.verify_and_parse(SignatureHeaders::new(Some(&signature), Some("1700000000")), body)?;
    /// let reply = event.challenge_response().ok_or("not a challenge")?;
    /// let json = String::from_utf8(reply.to_json())?;
    /// assert!(json.starts_with(r#"{"plainToken":"abc","encryptedToken":""#));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising a struct of two `String`s cannot fail (no maps with non-string keys,
        // no custom `Serialize`, writing to a `Vec` is infallible).
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn keyed_state_matches_fresh_key() {
        let verifier = Verifier::builder()
            .with_secret("k", "k")
            .with_clock(|| at(10))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let body = b"hello";
        let sig = sign("k", "10", body);
        let headers = SignatureHeaders::new(Some(&sig), Some("10"));
        assert!(verifier.verify(headers, body).is_ok());
        // The keyed state is cloned, not consumed: a second request verifies too.
        assert!(verifier.verify(headers, body).is_ok());
    }

    #[test]
    fn timestamp_syntax() {
        assert_eq!(parse_timestamp("0"), Ok(0));
        assert_eq!(parse_timestamp("0010"), Ok(10));
        assert_eq!(parse_timestamp(&u64::MAX.to_string()), Ok(u64::MAX));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "18446744073709551616",
            "١",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                Err(VerifyError::InvalidTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn signature_syntax() {
        let hex64 = "ab".repeat(32);
        assert_eq!(decode_signature(&format!("v0={hex64}")), Ok([0xab; 32]));
        assert_eq!(
            decode_signature(&format!("v0={}", hex64.to_uppercase())),
            Ok([0xab; 32])
        );
        assert_eq!(decode_signature("v0="), Err(VerifyError::EmptySignature));
        assert_eq!(decode_signature(&hex64), Err(VerifyError::MissingPrefix));
        assert_eq!(
            decode_signature(&format!("v1={hex64}")),
            Err(VerifyError::MissingPrefix)
        );
        assert_eq!(
            decode_signature("v0=ab"),
            Err(VerifyError::InvalidLength { len: 2 })
        );
        assert_eq!(
            decode_signature(&format!("v0={}", "zz".repeat(32))),
            Err(VerifyError::InvalidHex)
        );
        // A multi-byte character keeps the byte length honest and never panics.
        assert!(decode_signature(&format!("v0={}é", &hex64[..62])).is_err());
    }

    #[test]
    fn header_slots() {
        let mut slot = HeaderSlot::default();
        assert_eq!(slot.resolve(SIGNATURE_HEADER), Ok(None));
        slot.add(b"\xff");
        assert_eq!(slot.resolve(SIGNATURE_HEADER), Ok(None));
        assert_eq!(slot.describe(), "not UTF-8");
        slot.add(b"v0=");
        assert_eq!(
            slot.resolve(SIGNATURE_HEADER),
            Err(VerifyError::AmbiguousHeader {
                header: SIGNATURE_HEADER
            })
        );
        slot.add(b"v0=");
        assert_eq!(slot, HeaderSlot::Repeated);
    }

    #[test]
    fn verifier_is_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Verifier>();
        assert_send_sync::<VerifierBuilder>();
        assert_send_sync::<VerifiedEvent>();
        assert_send_sync::<Verified<&'static [u8]>>();
        assert_send_sync::<SignatureHeaders<'static>>();
        let verifier = Verifier::new("k").unwrap_or_else(|e| panic!("{e}"));
        let clone = verifier.clone();
        assert!(Arc::ptr_eq(&verifier.inner, &clone.inner));
    }
}
