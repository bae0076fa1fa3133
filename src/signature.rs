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
//! and new secret during a rotation), checks the timestamp window and the signature, and
//! returns a [`Verified`] proof that tells which secret matched. Only a verified request can be
//! parsed into a [`VerifiedEvent`], and only a [`VerifiedEvent`] can build the
//! [`ChallengeResponse`] for an `endpoint.url_validation` request.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use zoom_rtms_webhooks::signature::{sign, Verifier, VerifyError};
//!
//! let verifier = Verifier::new("my-webhook-secret-token")?;
//! let body = br#"{"event":"meeting.rtms_stopped","payload":{}}"#;
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let signature = sign("my-webhook-secret-token", "1700000000", body);
//!
//! let verified = verifier.verify_at(Some(&signature), Some("1700000000"), body, now)?;
//! assert_eq!(verified.secret_label(), "default");
//!
//! // A tampered body is rejected.
//! let err = verifier
//!     .verify_at(Some(&signature), Some("1700000000"), b"{}", now)
//!     .unwrap_err();
//! assert_eq!(err, VerifyError::Mismatch);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is checked, in order
//!
//! 1. Both headers are present ([`VerifyError::MissingSignature`],
//!    [`VerifyError::MissingTimestamp`]; with a [`http::HeaderMap`] a header sent twice is
//!    [`VerifyError::AmbiguousHeader`], never "pick one").
//! 2. The timestamp is ASCII digits only and fits a `u64` ([`VerifyError::InvalidTimestamp`]:
//!    empty, `+1`, ` 1`, `1.0`, `-1` and overflowing values are all rejected).
//! 3. The timestamp (Unix **seconds**) is within the tolerance of the current time, in both
//!    directions, bounds included ([`DEFAULT_TOLERANCE`] is 300 s;
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
//!
//! The MAC covers the **raw body bytes** exactly as received. Never verify a re-serialised
//! body: key order and non-ASCII text change the bytes.
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
//! [`ChallengeResponse`] comes only from [`VerifiedEvent::challenge_response`]; a
//! [`VerifiedEvent`] only from [`Verified::parse`] or [`Verifier::verify_and_parse`]; and a
//! [`Verified`] only from a successful verification. [`Verified`] borrows the body it verified,
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

use crate::event::{ParseError, WebhookEvent};

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
/// use zoom_rtms_webhooks::signature::{Verifier, DEFAULT_TOLERANCE};
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

    /// Empty or whitespace only: almost certainly an unset environment variable.
    fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
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

/// A secret keyed into its HMAC state once, with the label it is reported under.
struct KeyedSecret {
    label: String,
    mac: HmacSha256,
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

/// Read the signature and timestamp header values from an [`http::HeaderMap`] (http 1.x).
///
/// Returns `(signature, timestamp)`. A header that is absent, **sent more than once**, or not
/// valid UTF-8 gives `None`: a repeated signature header is never resolved by picking one of
/// the values. [`Verifier::verify_headers`] reports a repeated header as
/// [`VerifyError::AmbiguousHeader`] instead.
///
/// For frameworks on http 0.2 (actix-web 4), read the two headers yourself and call
/// [`Verifier::verify`].
///
/// ```
/// use http::HeaderMap;
/// use zoom_rtms_webhooks::signature::header_values;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("X-ZM-Signature", "v0=abc".parse()?);
/// headers.insert("x-zm-request-timestamp", "1700000000".parse()?);
/// assert_eq!(header_values(&headers), (Some("v0=abc"), Some("1700000000")));
///
/// headers.append("x-zm-signature", "v0=def".parse()?);
/// assert_eq!(header_values(&headers), (None, Some("1700000000")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn header_values(headers: &http::HeaderMap) -> (Option<&str>, Option<&str>) {
    (
        single_header(headers, SIGNATURE_HEADER).ok().flatten(),
        single_header(headers, TIMESTAMP_HEADER).ok().flatten(),
    )
}

/// The single value of header `name`: `Ok(None)` if absent or not UTF-8, `Err` if repeated.
fn single_header<'h>(
    headers: &'h http::HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(VerifyError::AmbiguousHeader { header: name });
    }
    Ok(std::str::from_utf8(first.as_bytes()).ok())
}

/// Why a [`Verifier`] could not be built. Every configuration mistake fails closed: a
/// verifier that would accept unsigned traffic is never built.
///
/// ```
/// use zoom_rtms_webhooks::signature::{ConfigError, Verifier};
///
/// let err = Verifier::new("").unwrap_err();
/// assert!(matches!(err, ConfigError::EmptySecret { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A secret is empty or whitespace only (typically an unset environment variable).
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
}

/// Why a request's signature did not verify. Every variant should be answered with
/// `401 Unauthorized`.
///
/// No variant carries a secret, the expected MAC or the received signature.
///
/// ```
/// use zoom_rtms_webhooks::signature::{Verifier, VerifyError};
///
/// let verifier = Verifier::new("secret")?;
/// let err = verifier.verify(None, Some("1700000000"), b"{}").unwrap_err();
/// assert_eq!(err, VerifyError::MissingSignature);
/// assert_eq!(err.to_string(), "missing x-zm-signature header");
/// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The `x-zm-signature` header is absent (or, from a `HeaderMap`, not UTF-8).
    #[error("missing x-zm-signature header")]
    MissingSignature,
    /// The `x-zm-request-timestamp` header is absent (or, from a `HeaderMap`, not UTF-8).
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
}

/// Error of the one-call [`Verifier::verify_and_parse`]: either the signature failed
/// (answer `401`) or the verified body is not a valid event (answer `400`).
///
/// ```
/// use zoom_rtms_webhooks::signature::{Error, Verifier, VerifyError};
///
/// let verifier = Verifier::new("secret")?;
/// let err = verifier.verify_and_parse(None, None, b"{}").unwrap_err();
/// assert!(matches!(err, Error::Verify(VerifyError::MissingSignature)));
/// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request's signature did not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The signature verified, but the body is not a valid webhook event.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Builder for a [`Verifier`] with several secrets or a custom tolerance.
///
/// ```
/// use std::time::Duration;
/// use zoom_rtms_webhooks::signature::Verifier;
///
/// let verifier = Verifier::builder()
///     .secret("meeting-app", "meeting-secret")
///     .secret("video-sdk-app", "video-sdk-secret")
///     .tolerance(Duration::from_secs(120))
///     .build()?;
/// assert_eq!(verifier.tolerance(), Duration::from_secs(120));
/// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct VerifierBuilder {
    secrets: Vec<(String, SecretToken)>,
    tolerance: Option<Duration>,
}

impl VerifierBuilder {
    /// Add a secret under `label` (repeatable). Secrets are tried in the order added; the
    /// label and position of the one that matched are reported by [`Verified`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::Verifier;
    ///
    /// // During a rotation, accept both the new and the old secret.
    /// let verifier = Verifier::builder()
    ///     .secret("current", "new-secret")
    ///     .secret("previous", "old-secret")
    ///     .build()?;
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    #[must_use]
    pub fn secret(mut self, label: impl Into<String>, secret: impl Into<SecretToken>) -> Self {
        self.secrets.push((label.into(), secret.into()));
        self
    }

    /// Set the timestamp tolerance (default [`DEFAULT_TOLERANCE`], 300 s). A request is
    /// accepted when `|now - timestamp| <= tolerance`, bounds included, counted in whole
    /// seconds (a fractional part of `tolerance` is ignored).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zoom_rtms_webhooks::signature::Verifier;
    ///
    /// let verifier = Verifier::builder()
    ///     .secret("app", "secret")
    ///     .tolerance(Duration::from_secs(60))
    ///     .build()?;
    /// assert_eq!(verifier.tolerance(), Duration::from_secs(60));
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    /// Build the verifier, keying every secret once.
    ///
    /// Fails with [`ConfigError::NoSecrets`] if no secret was added,
    /// [`ConfigError::EmptySecret`] if any secret is empty or whitespace only, and
    /// [`ConfigError::DuplicateLabel`] if two secrets share a label.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::{ConfigError, Verifier};
    ///
    /// assert_eq!(Verifier::builder().build().unwrap_err(), ConfigError::NoSecrets);
    /// let err = Verifier::builder().secret("app", "").build().unwrap_err();
    /// assert_eq!(err, ConfigError::EmptySecret { label: "app".into() });
    /// ```
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.secrets.is_empty() {
            return Err(ConfigError::NoSecrets);
        }
        let mut keyed: Vec<Arc<KeyedSecret>> = Vec::with_capacity(self.secrets.len());
        for (label, secret) in self.secrets {
            if secret.is_blank() {
                return Err(ConfigError::EmptySecret { label });
            }
            if keyed.iter().any(|k| k.label == label) {
                return Err(ConfigError::DuplicateLabel { label });
            }
            let mac = keyed_mac(secret.as_bytes());
            keyed.push(Arc::new(KeyedSecret { label, mac }));
        }
        Ok(Verifier {
            inner: Arc::new(VerifierInner {
                secrets: keyed,
                tolerance: self.tolerance.unwrap_or(DEFAULT_TOLERANCE),
            }),
        })
    }
}

struct VerifierInner {
    secrets: Vec<Arc<KeyedSecret>>,
    tolerance: Duration,
}

/// Verifies Zoom webhook requests against one or more Secret Tokens.
///
/// Cheap to clone (shared state). `Debug` shows the secret labels and the tolerance only.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use zoom_rtms_webhooks::signature::{sign, Verifier};
///
/// let verifier = Verifier::builder()
///     .secret("meeting-app", "meeting-secret")
///     .secret("video-sdk-app", "video-sdk-secret")
///     .build()?;
///
/// let body = br#"{"event":"session.rtms_stopped","payload":{}}"#;
/// let signature = sign("video-sdk-secret", "1700000000", body);
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
/// let verified = verifier.verify_at(Some(&signature), Some("1700000000"), body, now)?;
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
        struct Labels<'a>(&'a [Arc<KeyedSecret>]);
        impl fmt::Debug for Labels<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.iter().map(|s| &s.label))
                    .finish()
            }
        }
        f.debug_struct("Verifier")
            .field("secrets", &Labels(&self.inner.secrets))
            .field("tolerance", &self.inner.tolerance)
            .finish()
    }
}

impl Verifier {
    /// A verifier with a single secret, labelled `"default"`, and the default tolerance.
    ///
    /// Fails with [`ConfigError::EmptySecret`] if the secret is empty or whitespace only, so a
    /// missing environment variable never turns into accepting unsigned traffic.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::Verifier;
    ///
    /// let secret = std::env::var("ZOOM_WEBHOOK_SECRET_TOKEN").unwrap_or_default();
    /// let verifier = Verifier::new(secret); // Err if the variable is unset
    /// # assert!(verifier.is_err());
    /// ```
    pub fn new(secret: impl Into<SecretToken>) -> Result<Self, ConfigError> {
        Self::builder().secret(DEFAULT_LABEL, secret).build()
    }

    /// Start building a verifier with several secrets or a custom tolerance.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::Verifier;
    ///
    /// let verifier = Verifier::builder().secret("app", "secret").build()?;
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// The timestamp tolerance this verifier applies in each direction.
    ///
    /// ```
    /// use zoom_rtms_webhooks::signature::{Verifier, DEFAULT_TOLERANCE};
    ///
    /// assert_eq!(Verifier::new("secret")?.tolerance(), DEFAULT_TOLERANCE);
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    pub fn tolerance(&self) -> Duration {
        self.inner.tolerance
    }

    /// Verify a request against the system clock.
    ///
    /// `signature` and `timestamp` are the raw values of the `x-zm-signature` and
    /// `x-zm-request-timestamp` headers (`None` if absent); `body` is the raw request body.
    /// See [`verify_at`](Self::verify_at) for the checks.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use zoom_rtms_webhooks::signature::{sign, Verifier};
    ///
    /// let verifier = Verifier::new("secret")?;
    /// let now = SystemTime::now()
    ///     .duration_since(SystemTime::UNIX_EPOCH)?
    ///     .as_secs()
    ///     .to_string();
    /// let body = br#"{"event":"meeting.rtms_stopped","payload":{}}"#;
    /// let signature = sign("secret", &now, body);
    /// assert!(verifier.verify(Some(&signature), Some(&now), body).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify<'b>(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &'b [u8],
    ) -> Result<Verified<'b>, VerifyError> {
        self.verify_at(signature, timestamp, body, SystemTime::now())
    }

    /// Verify a request against the given clock `now` (tests, replays).
    ///
    /// Checks, in order: both headers present, timestamp syntax, timestamp window, signature
    /// syntax, then the MAC against every secret in constant time (see the
    /// [module documentation](self)). A `now` before the Unix epoch counts as the epoch.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use zoom_rtms_webhooks::signature::{sign, Verifier, VerifyError};
    ///
    /// let verifier = Verifier::new("secret")?;
    /// let body = b"{}";
    /// let signature = sign("secret", "1700000000", body);
    ///
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_300);
    /// assert!(verifier.verify_at(Some(&signature), Some("1700000000"), body, now).is_ok());
    ///
    /// let later = UNIX_EPOCH + Duration::from_secs(1_700_000_301);
    /// assert_eq!(
    ///     verifier.verify_at(Some(&signature), Some("1700000000"), body, later).unwrap_err(),
    ///     VerifyError::TimestampOutOfTolerance { timestamp: 1_700_000_000, now: 1_700_000_301 },
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_at<'b>(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &'b [u8],
        now: SystemTime,
    ) -> Result<Verified<'b>, VerifyError> {
        let signature = signature.ok_or(VerifyError::MissingSignature)?;
        let timestamp_raw = timestamp.ok_or(VerifyError::MissingTimestamp)?;
        let timestamp = parse_timestamp(timestamp_raw)?;

        let now = now
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
            body,
        })
    }

    /// Verify a request from an [`http::HeaderMap`] (http 1.x) against the system clock.
    ///
    /// Header names match case-insensitively. A header sent more than once is
    /// [`VerifyError::AmbiguousHeader`]; a header that is not UTF-8 counts as missing.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use zoom_rtms_webhooks::signature::{Verifier, VerifyError};
    ///
    /// let verifier = Verifier::new("secret")?;
    /// let headers = HeaderMap::new();
    /// assert_eq!(
    ///     verifier.verify_headers(&headers, b"{}").unwrap_err(),
    ///     VerifyError::MissingSignature,
    /// );
    /// # Ok::<(), zoom_rtms_webhooks::signature::ConfigError>(())
    /// ```
    pub fn verify_headers<'b>(
        &self,
        headers: &http::HeaderMap,
        body: &'b [u8],
    ) -> Result<Verified<'b>, VerifyError> {
        self.verify_headers_at(headers, body, SystemTime::now())
    }

    /// Verify a request from an [`http::HeaderMap`] against the given clock `now`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use zoom_rtms_webhooks::signature::{sign, Verifier, SIGNATURE_HEADER, TIMESTAMP_HEADER};
    ///
    /// let verifier = Verifier::new("secret")?;
    /// let body = b"{}";
    /// let mut headers = HeaderMap::new();
    /// headers.insert(SIGNATURE_HEADER, sign("secret", "1700000000", body).parse()?);
    /// headers.insert(TIMESTAMP_HEADER, "1700000000".parse()?);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// assert!(verifier.verify_headers_at(&headers, body, now).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_headers_at<'b>(
        &self,
        headers: &http::HeaderMap,
        body: &'b [u8],
        now: SystemTime,
    ) -> Result<Verified<'b>, VerifyError> {
        let signature = single_header(headers, SIGNATURE_HEADER)?;
        let timestamp = single_header(headers, TIMESTAMP_HEADER)?;
        self.verify_at(signature, timestamp, body, now)
    }

    /// Verify a request against the system clock, then parse the verified body.
    ///
    /// The returned [`VerifiedEvent`] can answer an `endpoint.url_validation` challenge.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use zoom_rtms_webhooks::signature::{sign, Verifier};
    ///
    /// let verifier = Verifier::new("secret")?;
    /// let now = SystemTime::now()
    ///     .duration_since(SystemTime::UNIX_EPOCH)?
    ///     .as_secs()
    ///     .to_string();
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", &now, body);
    /// let event = verifier.verify_and_parse(Some(&signature), Some(&now), body)?;
    /// assert!(event.challenge_response().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_and_parse(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
    ) -> Result<VerifiedEvent, Error> {
        self.verify_and_parse_at(signature, timestamp, body, SystemTime::now())
    }

    /// Verify a request against the given clock `now`, then parse the verified body.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use zoom_rtms_webhooks::signature::{sign, Verifier};
    ///
    /// let verifier = Verifier::new("secret")?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
    /// assert_eq!(event.event().name(), "endpoint.url_validation");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_and_parse_at(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<VerifiedEvent, Error> {
        Ok(self.verify_at(signature, timestamp, body, now)?.parse()?)
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

/// Proof that a request's signature verified: which secret matched, the request's timestamp,
/// and the body that was verified.
///
/// Only a [`Verifier`] creates one. It borrows the verified body, so [`parse`](Self::parse)
/// can only ever parse the bytes that were signed. `Debug` shows the label, index, timestamp
/// and body length only.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use zoom_rtms_webhooks::signature::{sign, Verifier};
///
/// let verifier = Verifier::builder().secret("meeting-app", "secret").build()?;
/// let body = b"{}";
/// let signature = sign("secret", "1700000000", body);
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let verified = verifier.verify_at(Some(&signature), Some("1700000000"), body, now)?;
/// assert_eq!(verified.secret_label(), "meeting-app");
/// assert_eq!(verified.secret_index(), 0);
/// assert_eq!(verified.timestamp(), 1_700_000_000);
/// assert_eq!(verified.body(), b"{}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Verified<'b> {
    secret: Arc<KeyedSecret>,
    index: usize,
    timestamp: u64,
    body: &'b [u8],
}

impl fmt::Debug for Verified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("secret_label", &self.secret.label)
            .field("secret_index", &self.index)
            .field("timestamp", &self.timestamp)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl<'b> Verified<'b> {
    /// Label of the secret that verified the request (`"default"` for [`Verifier::new`]).
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// let verifier = Verifier::new("secret")?;
    /// let signature = sign("secret", "1700000000", b"{}");
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let verified = verifier.verify_at(Some(&signature), Some("1700000000"), b"{}", now)?;
    /// assert_eq!(verified.secret_label(), "default");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn secret_label(&self) -> &str {
        &self.secret.label
    }

    /// Position of the secret that verified the request, in the order the secrets were added.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// let verifier = Verifier::builder().secret("a", "one").secret("b", "two").build()?;
    /// let signature = sign("two", "1700000000", b"{}");
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let verified = verifier.verify_at(Some(&signature), Some("1700000000"), b"{}", now)?;
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
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// let verifier = Verifier::new("secret")?;
    /// let signature = sign("secret", "1700000000", b"{}");
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let verified = verifier.verify_at(Some(&signature), Some("1700000000"), b"{}", now)?;
    /// assert_eq!(verified.timestamp(), 1_700_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The raw body that was verified.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// let verifier = Verifier::new("secret")?;
    /// let signature = sign("secret", "1700000000", b"{}");
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let verified = verifier.verify_at(Some(&signature), Some("1700000000"), b"{}", now)?;
    /// assert_eq!(verified.body(), b"{}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body(&self) -> &'b [u8] {
        self.body
    }

    /// Parse the verified body into a [`VerifiedEvent`], which can answer a challenge.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use zoom_rtms_webhooks::signature::{sign, Verifier};
    ///
    /// let verifier = Verifier::new("secret")?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let verified = verifier.verify_at(Some(&signature), Some("1700000000"), body, now)?;
    /// let event = verified.parse()?;
    /// assert_eq!(event.challenge_response().map(|r| r.plain_token), Some("abc".to_owned()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(self) -> Result<VerifiedEvent, ParseError> {
        let event = WebhookEvent::parse(self.body)?;
        Ok(VerifiedEvent {
            event,
            secret: self.secret,
            index: self.index,
            timestamp: self.timestamp,
        })
    }
}

/// A parsed event from a verified request, with the secret that verified it.
///
/// Only [`Verified::parse`] and [`Verifier::verify_and_parse`] create one, which makes
/// [`challenge_response`](Self::challenge_response) the one way to answer an
/// `endpoint.url_validation` request: see the [module documentation](self) for why.
/// `Debug` shows the event, the secret's label and index, and the timestamp; never the secret.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use zoom_rtms_webhooks::signature::{sign, Verifier};
/// use zoom_rtms_webhooks::WebhookEvent;
///
/// let verifier = Verifier::new("secret")?;
/// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
/// let signature = sign("secret", "1700000000", body);
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
/// assert!(matches!(event.event(), WebhookEvent::UrlValidation(_)));
/// assert_eq!(event.secret_label(), "default");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct VerifiedEvent {
    event: WebhookEvent,
    secret: Arc<KeyedSecret>,
    index: usize,
    timestamp: u64,
}

impl fmt::Debug for VerifiedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedEvent")
            .field("event", &self.event)
            .field("secret_label", &self.secret.label)
            .field("secret_index", &self.index)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

impl VerifiedEvent {
    /// The parsed event.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// let verifier = Verifier::new("secret")?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
    /// assert_eq!(event.event().name(), "endpoint.url_validation");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn event(&self) -> &WebhookEvent {
        &self.event
    }

    /// Take the parsed event (the ability to answer a challenge is given up).
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// use zoom_rtms_webhooks::WebhookEvent;
    /// let verifier = Verifier::new("secret")?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
    /// let event: WebhookEvent = event.into_event();
    /// assert!(matches!(event, WebhookEvent::UrlValidation(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_event(self) -> WebhookEvent {
        self.event
    }

    /// Label of the secret that verified the request.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// let verifier = Verifier::builder().secret("meeting-app", "secret").build()?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
    /// assert_eq!(event.secret_label(), "meeting-app");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn secret_label(&self) -> &str {
        &self.secret.label
    }

    /// Position of the secret that verified the request, in the order the secrets were added.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// let verifier = Verifier::builder().secret("a", "one").secret("b", "two").build()?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("two", "1700000000", body);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
    /// assert_eq!(event.secret_index(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn secret_index(&self) -> usize {
        self.index
    }

    /// The request's `x-zm-request-timestamp`, Unix seconds.
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// let verifier = Verifier::new("secret")?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
    /// assert_eq!(event.timestamp(), 1_700_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timestamp(&self) -> u64 {
        self.timestamp
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
    /// use zoom_rtms_webhooks::signature::{sign, Verifier};
    ///
    /// let verifier = Verifier::new("secret")?;
    /// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// let signature = sign("secret", "1700000000", body);
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
    /// let reply = event.challenge_response().ok_or("not a challenge")?;
    /// assert_eq!(reply.plain_token, "abc");
    /// assert_eq!(reply.encrypted_token.len(), 64);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn challenge_response(&self) -> Option<ChallengeResponse> {
        let WebhookEvent::UrlValidation(validation) = &self.event else {
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
/// Obtained only from [`VerifiedEvent::challenge_response`]; it cannot be constructed outside
/// this crate:
///
/// ```compile_fail
/// use zoom_rtms_webhooks::signature::ChallengeResponse;
/// // error[E0639]: cannot create non-exhaustive struct using struct expression
/// let reply = ChallengeResponse { plain_token: "t".into(), encrypted_token: "e".into() };
/// ```
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use zoom_rtms_webhooks::signature::{sign, Verifier};
///
/// let verifier = Verifier::new("secret")?;
/// let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
/// let signature = sign("secret", "1700000000", body);
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
/// let reply = event.challenge_response().ok_or("not a challenge")?;
/// let json: serde_json::Value = serde_json::from_slice(&reply.to_json())?;
/// assert_eq!(json["plainToken"], "abc");
/// assert_eq!(json["encryptedToken"], reply.encrypted_token.as_str());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChallengeResponse {
    /// The `plainToken` from the request, echoed back.
    pub plain_token: String,
    /// Lower-case hex HMAC-SHA256 of `plain_token`, keyed with the secret that verified the
    /// request.
    pub encrypted_token: String,
}

impl ChallengeResponse {
    /// The response body: `{"plainToken":"...","encryptedToken":"..."}` (send with
    /// `content-type: application/json` and status `200`).
    ///
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use zoom_rtms_webhooks::signature::{sign, Verifier};
    /// # let verifier = Verifier::new("secret")?;
    /// # let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
    /// # let signature = sign("secret", "1700000000", body);
    /// # let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// # let event = verifier.verify_and_parse_at(Some(&signature), Some("1700000000"), body, now)?;
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
        let verifier = Verifier::new("k").unwrap_or_else(|e| panic!("{e}"));
        let body = b"hello";
        let sig = sign("k", "10", body);
        assert!(verifier
            .verify_at(Some(&sig), Some("10"), body, at(10))
            .is_ok());
        // The keyed state is cloned, not consumed: a second request verifies too.
        assert!(verifier
            .verify_at(Some(&sig), Some("10"), body, at(10))
            .is_ok());
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
    fn verifier_is_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Verifier>();
        assert_send_sync::<VerifiedEvent>();
        assert_send_sync::<Verified<'static>>();
        let verifier = Verifier::new("k").unwrap_or_else(|e| panic!("{e}"));
        let clone = verifier.clone();
        assert!(Arc::ptr_eq(&verifier.inner, &clone.inner));
    }
}
