//! Regions and the `server_urls` an `rtms_started` event tells the app to dial.
//!
//! `server_urls` decides where your application opens a WebSocket and sends a
//! signed handshake, so it is a server-side request forgery (SSRF) surface:
//! whoever controls that string controls where you connect. [`ServerUrl`] is the
//! only way this crate hands out a URL to dial, and it is only built when the
//! URL passes a [`HostPolicy`]. The default policy (`HostPolicy::default()`)
//! accepts exactly:
//!
//! * scheme `wss` (never `ws`, `http`, `https`, ...);
//! * no user name or password in the URL (`wss://zoom.us@evil.com` has host
//!   `evil.com` and is refused);
//! * a *domain* host (never an IP literal) that, as parsed and normalised by the
//!   [`url`] crate (lower-cased, percent-decoded, IDNA-mapped), is `zoom.us` or
//!   ends with `.zoom.us`, made only of ASCII letters, digits, `-` and `.`, with
//!   no empty label. A trailing dot (`rtms.zoom.us.`) is **refused**;
//! * the default port: no port, or an explicit `:443` (which `url` normalises
//!   away). Any other port is refused;
//! * no `#fragment` (RFC 6455 forbids them in WebSocket URLs).
//!
//! Percent-encoded and Unicode host names are judged *after* normalisation:
//! `wss://%7A%6F%6F%6D.us` and full-width `wss://ｚｏｏｍ.us` become `zoom.us`
//! (accepted; the normalised form is what you dial), while
//! `wss://zoom.us。evil.com` becomes `zoom.us.evil.com` (refused).
//!
//! For local test servers the policy has an explicit escape hatch:
//! [`HostPolicy::with_allowed_host`] and [`HostPolicy::with_insecure_ws`].
//!
//! The dialable URLs of an `rtms_started` event come from
//! [`RtmsStarted::server_urls`](crate::event::RtmsStarted::server_urls); one URL is
//! checked with [`ServerUrl::parse`].
//!
//! Region codes are read from the host name: both `rtms-sjc1.zoom.us` and
//! `<label>.sjc.zoom.us` / `sjc.zoom.us` shapes are understood
//! ([`Region::from_host`]).
//!
//! ```
//! use zoom_rtms_webhooks::region::{HostPolicy, Region, ServerUrl};
//!
//! let zoom_only = HostPolicy::default();
//! let url = ServerUrl::parse("wss://rtms-sjc1.zoom.us/signaling", &zoom_only).unwrap();
//! assert_eq!(url.region(), Some(Region::Sjc));
//! let url = ServerUrl::parse("wss://abc.iad.zoom.us/path", &zoom_only).unwrap();
//! assert_eq!(url.region(), Some(Region::Iad));
//!
//! // Anything that is not wss:// on zoom.us is refused.
//! assert!(ServerUrl::parse("wss://zoom.us.evil.com", &zoom_only).is_err());
//! ```

use std::fmt;
use std::str::FromStr;

/// The Zoom data-centre region a server URL points at.
///
/// The known codes are the ones in Zoom's own routing code (IATA airport codes of
/// the data centres). Zoom may add more: an unrecognised, well-formed code is kept
/// in [`Region::Other`] (lower-cased) instead of being rejected.
///
/// `Display` prints [`Region::code`]; `FromStr` parses it back (case-insensitive).
///
/// ```
/// use zoom_rtms_webhooks::region::Region;
///
/// let r: Region = "SJC".parse().unwrap();
/// assert_eq!(r, Region::Sjc);
/// assert_eq!(r.to_string(), "sjc");
/// assert_eq!("xyz".parse::<Region>().unwrap(), Region::Other("xyz".into()));
/// assert!("".parse::<Region>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Region {
    /// San Jose, California, US (`sjc`).
    Sjc,
    /// Ashburn, Virginia (Washington DC area), US (`iad`).
    Iad,
    /// Amsterdam, Netherlands (`ams`).
    Ams,
    /// Frankfurt, Germany (`fra`).
    Fra,
    /// Melbourne, Australia (`mel`).
    Mel,
    /// Sydney, Australia (`syd`).
    Syd,
    /// Toronto, Canada (`yyz`).
    Yyz,
    /// Singapore (`sin`).
    Sin,
    /// Tokyo (Narita), Japan (`nrt`).
    Nrt,
    /// Hong Kong (`hkg`).
    Hkg,
    /// A code this crate does not know, kept lower-cased as received.
    ///
    /// Values produced by this crate always hold a non-empty, lower-case ASCII
    /// alphanumeric code that is not one of the known codes.
    Other(String),
}

impl Region {
    /// Every region this crate knows by name, in a stable order.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::Region;
    ///
    /// assert_eq!(Region::KNOWN.len(), 10);
    /// for r in Region::KNOWN {
    ///     assert_eq!(r.code().parse::<Region>().unwrap(), *r);
    /// }
    /// ```
    pub const KNOWN: &'static [Region] = &[
        Region::Sjc,
        Region::Iad,
        Region::Ams,
        Region::Fra,
        Region::Mel,
        Region::Syd,
        Region::Yyz,
        Region::Sin,
        Region::Nrt,
        Region::Hkg,
    ];

    /// The lower-case region code, e.g. `"sjc"`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::Region;
    ///
    /// assert_eq!(Region::Fra.code(), "fra");
    /// assert_eq!(Region::Other("lhr".into()).code(), "lhr");
    /// ```
    pub fn code(&self) -> &str {
        match self {
            Region::Sjc => "sjc",
            Region::Iad => "iad",
            Region::Ams => "ams",
            Region::Fra => "fra",
            Region::Mel => "mel",
            Region::Syd => "syd",
            Region::Yyz => "yyz",
            Region::Sin => "sin",
            Region::Nrt => "nrt",
            Region::Hkg => "hkg",
            Region::Other(code) => code,
        }
    }

    /// A human-readable location for a known region, `None` for [`Region::Other`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::Region;
    ///
    /// assert_eq!(Region::Nrt.location(), Some("Tokyo, JP"));
    /// assert_eq!(Region::Other("lhr".into()).location(), None);
    /// ```
    pub fn location(&self) -> Option<&'static str> {
        Some(match self {
            Region::Sjc => "San Jose, US",
            Region::Iad => "Ashburn (Washington DC), US",
            Region::Ams => "Amsterdam, NL",
            Region::Fra => "Frankfurt, DE",
            Region::Mel => "Melbourne, AU",
            Region::Syd => "Sydney, AU",
            Region::Yyz => "Toronto, CA",
            Region::Sin => "Singapore, SG",
            Region::Nrt => "Tokyo, JP",
            Region::Hkg => "Hong Kong, HK",
            Region::Other(_) => return None,
        })
    }

    /// Whether this is one of the regions in [`Region::KNOWN`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::Region;
    ///
    /// assert!(Region::Sjc.is_known());
    /// assert!(!Region::Other("lhr".into()).is_known());
    /// ```
    pub fn is_known(&self) -> bool {
        !matches!(self, Region::Other(_))
    }

    /// Reads the region code from a Zoom host name, `None` when there is none.
    ///
    /// Understood shapes (case-insensitive, one trailing dot tolerated):
    ///
    /// * `rtms-sjc1.zoom.us`: the code follows `rtms-` in the label right before
    ///   `zoom.us`;
    /// * `<label>.sjc.zoom.us` and `sjc.zoom.us`: the code is the label right
    ///   before `zoom.us`.
    ///
    /// In both shapes trailing digits are stripped (`sjc1` is `sjc`). The host
    /// must be `zoom.us` or under it; the bare label `rtms` (as in
    /// `rtms.zoom.us`) is a service name, not a region, and gives `None`. A
    /// label that is not ASCII alphanumeric (after the `rtms-` prefix) gives
    /// `None`. Unknown codes are kept as [`Region::Other`].
    ///
    /// This only *reads* a host; it does not validate it for dialling (use
    /// [`ServerUrl`] for that). Pass a host only, without scheme or port.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::Region;
    ///
    /// assert_eq!(Region::from_host("rtms-sjc1.zoom.us"), Some(Region::Sjc));
    /// assert_eq!(Region::from_host("media.iad.zoom.us"), Some(Region::Iad));
    /// assert_eq!(Region::from_host("AMS.ZOOM.US"), Some(Region::Ams));
    /// assert_eq!(Region::from_host("rtms-lhr2.zoom.us"), Some(Region::Other("lhr".into())));
    /// assert_eq!(Region::from_host("zoom.us"), None);
    /// assert_eq!(Region::from_host("rtms.zoom.us"), None);
    /// assert_eq!(Region::from_host("rtms1.zoom.us"), None);
    /// assert_eq!(Region::from_host("sjc.example.com"), None);
    /// ```
    pub fn from_host(host: &str) -> Option<Region> {
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let rest = host.strip_suffix(".zoom.us")?;
        let label = rest.rsplit('.').next()?;
        let code = label.strip_prefix("rtms-").unwrap_or(label);
        let code = code.trim_end_matches(|c: char| c.is_ascii_digit());
        // A bare `rtms` / `rtms1` label names the service, not a region.
        if code == "rtms" {
            return None;
        }
        code.parse().ok()
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Region {
    type Err = ParseRegionError;

    /// Parses a region code case-insensitively. Unknown but well-formed codes
    /// become [`Region::Other`] (lower-cased); only an empty or non-ASCII-
    /// alphanumeric input is an error. The input is not trimmed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ParseRegionError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ParseRegionError::NotAlphanumeric);
        }
        let code = s.to_ascii_lowercase();
        Ok(match code.as_str() {
            "sjc" => Region::Sjc,
            "iad" => Region::Iad,
            "ams" => Region::Ams,
            "fra" => Region::Fra,
            "mel" => Region::Mel,
            "syd" => Region::Syd,
            "yyz" => Region::Yyz,
            "sin" => Region::Sin,
            "nrt" => Region::Nrt,
            "hkg" => Region::Hkg,
            _ => Region::Other(code),
        })
    }
}

/// Why a string is not a region code.
///
/// ```
/// use zoom_rtms_webhooks::region::{ParseRegionError, Region};
///
/// assert_eq!("".parse::<Region>(), Err(ParseRegionError::Empty));
/// assert_eq!("s-j".parse::<Region>(), Err(ParseRegionError::NotAlphanumeric));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseRegionError {
    /// The code was empty.
    #[error("region code is empty")]
    Empty,
    /// The code contained a character other than an ASCII letter or digit.
    #[error("region code must be ASCII letters and digits only")]
    NotAlphanumeric,
}

/// Which hosts a [`ServerUrl`] may point at.
///
/// The default (`HostPolicy::default()`) is the one to use in production:
/// `wss://` to `zoom.us` or a subdomain of it, default port only (see the
/// [module docs](self) for the exact rules).
///
/// For local test servers (a mock RTMS server on `127.0.0.1:PORT`), add hosts
/// explicitly with [`with_allowed_host`](HostPolicy::with_allowed_host) and, if
/// the test server has no TLS, [`with_insecure_ws`](HostPolicy::with_insecure_ws).
/// Hosts added this way may use any port. Zoom hosts always require `wss` and the
/// default port, whatever the policy. Never build a policy from untrusted input.
///
/// ```
/// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
///
/// // Production: Zoom hosts only.
/// assert!(ServerUrl::parse("ws://127.0.0.1:9000", &HostPolicy::default()).is_err());
///
/// // Tests: a local mock server, explicitly allowed.
/// let local = HostPolicy::default()
///     .with_allowed_host("127.0.0.1")
///     .with_insecure_ws(true);
/// let url = ServerUrl::parse("ws://127.0.0.1:9000/signal", &local).unwrap();
/// assert_eq!(url.host(), "127.0.0.1");
/// // Zoom hosts still need wss even under that policy.
/// assert!(ServerUrl::parse("ws://rtms.zoom.us", &local).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPolicy {
    allowed_hosts: Vec<String>,
    insecure_ws: bool,
}

impl HostPolicy {
    /// **Escape hatch for tests**: also allow `host` (any port). May be called
    /// several times; each call adds one host.
    ///
    /// `host` is normalised like a URL host (lower-cased, IDNA; IPv6 with or
    /// without brackets), so `with_allowed_host("LOCALHOST")` allows `localhost`
    /// and `with_allowed_host("::1")` allows `[::1]`. A blank host is ignored.
    /// `wss` is still required unless [`with_insecure_ws`](HostPolicy::with_insecure_ws)
    /// is also set.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    ///
    /// let p = HostPolicy::default().with_allowed_host("::1");
    /// assert!(ServerUrl::parse("wss://[::1]:8443", &p).is_ok());
    /// assert!(ServerUrl::parse("wss://[::2]:8443", &p).is_err());
    /// ```
    #[must_use]
    pub fn with_allowed_host(mut self, host: impl AsRef<str>) -> Self {
        let key = normalise_allowed_host(host.as_ref());
        if !key.is_empty() && !self.allowed_hosts.contains(&key) {
            self.allowed_hosts.push(key);
        }
        self
    }

    /// **Escape hatch for tests**: allow plain-text `ws://` for the hosts added
    /// with [`with_allowed_host`](HostPolicy::with_allowed_host) (`true`), or not
    /// (`false`, the default). Never applies to Zoom hosts.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    ///
    /// let p = HostPolicy::default().with_allowed_host("localhost").with_insecure_ws(true);
    /// assert!(ServerUrl::parse("ws://localhost:8080", &p).is_ok());
    /// ```
    #[must_use]
    pub fn with_insecure_ws(mut self, allow: bool) -> Self {
        self.insecure_ws = allow;
        self
    }

    /// The hosts added with [`with_allowed_host`](HostPolicy::with_allowed_host),
    /// normalised (empty for the default policy).
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::HostPolicy;
    ///
    /// let p = HostPolicy::default().with_allowed_host("LocalHost");
    /// assert_eq!(p.allowed_hosts(), ["localhost"]);
    /// assert!(HostPolicy::default().allowed_hosts().is_empty());
    /// ```
    pub fn allowed_hosts(&self) -> &[String] {
        &self.allowed_hosts
    }

    /// Whether `ws://` is allowed for the allowed hosts.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::HostPolicy;
    ///
    /// assert!(!HostPolicy::default().insecure_ws());
    /// assert!(HostPolicy::default().with_insecure_ws(true).insecure_ws());
    /// ```
    pub fn insecure_ws(&self) -> bool {
        self.insecure_ws
    }

    fn allows_extra(&self, key: &str) -> bool {
        self.allowed_hosts.iter().any(|h| h == key)
    }
}

fn normalise_allowed_host(host: &str) -> String {
    let trimmed = host.trim();
    let unbracketed = trimmed
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(trimmed);
    if let Ok(ip) = unbracketed.parse::<std::net::IpAddr>() {
        return ip.to_string();
    }
    match url::Host::parse(trimmed) {
        Ok(h) => host_key(&h),
        Err(_) => trimmed.to_ascii_lowercase(),
    }
}

fn host_key(host: &url::Host<String>) -> String {
    match host {
        url::Host::Domain(d) => d.clone(),
        url::Host::Ipv4(a) => a.to_string(),
        url::Host::Ipv6(a) => a.to_string(),
    }
}

/// `zoom.us` or `<labels>.zoom.us`, LDH characters only, no empty label.
fn is_zoom_domain(domain: &str) -> bool {
    let ldh = domain
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let suffix_ok = domain == "zoom.us" || domain.ends_with(".zoom.us");
    ldh && suffix_ok && domain.split('.').all(|label| !label.is_empty())
}

/// Longest input echoed back in an error message (bytes, escapes included).
const MAX_ECHO: usize = 200;

/// Text from the network as an error message may show it (the one rule for it): control
/// characters escaped (`\n`, `\u{1b}`: a newline could forge a log line, an escape sequence
/// drive a terminal), cut on a character boundary to at most [`MAX_ECHO`] bytes, `…` marking
/// the cut.
pub(crate) fn echo(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_ECHO));
    for c in s.chars() {
        let escape = c.is_control().then(|| c.escape_default());
        let len = escape.clone().map_or(c.len_utf8(), |e| e.len());
        if out.len() + len > MAX_ECHO {
            out.push('…');
            break;
        }
        match escape {
            Some(escaped) => out.extend(escaped),
            None => out.push(c),
        }
    }
    out
}

/// A WebSocket URL that passed a [`HostPolicy`]: safe to dial.
///
/// Built only by [`ServerUrl::parse`] (and, for a whole `server_urls` field, by
/// [`RtmsStarted::server_urls`](crate::event::RtmsStarted::server_urls)). The URL
/// is kept in the form the [`url`] crate normalised it to (lower-case host,
/// explicit `:443` removed, `/` path added); dial [`as_str`](ServerUrl::as_str) or
/// [`url`](ServerUrl::url), not the original string.
///
/// ```
/// use zoom_rtms_webhooks::region::{HostPolicy, Region, ServerUrl};
///
/// let u = ServerUrl::parse("WSS://RTMS-SJC1.ZOOM.US:443", &HostPolicy::default()).unwrap();
/// assert_eq!(u.as_str(), "wss://rtms-sjc1.zoom.us/");
/// assert_eq!(u.host(), "rtms-sjc1.zoom.us");
/// assert_eq!(u.region(), Some(Region::Sjc));
/// assert_eq!(u.to_string(), "wss://rtms-sjc1.zoom.us/");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerUrl(url::Url);

impl ServerUrl {
    /// Parses and validates one URL under `policy` (`&HostPolicy::default()`:
    /// Zoom hosts only).
    ///
    /// Leading and trailing whitespace is ignored (as `url` does). Checks, in
    /// order: the URL parses; the scheme is `wss` (or `ws` under
    /// [`HostPolicy::with_insecure_ws`]); there is no user name or password;
    /// there is no fragment; the host is a Zoom domain or one of the policy's
    /// allowed hosts (IP literals only if explicitly allowed); a Zoom host uses
    /// `wss` and the default port.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl, ServerUrlError};
    ///
    /// let zoom_only = HostPolicy::default();
    /// assert!(ServerUrl::parse("wss://sjc.zoom.us", &zoom_only).is_ok());
    /// assert!(matches!(
    ///     ServerUrl::parse("wss://zoom.us@evil.com", &zoom_only),
    ///     Err(ServerUrlError::UserInfo { .. })
    /// ));
    /// assert!(matches!(
    ///     ServerUrl::parse("wss://evilzoom.us", &zoom_only),
    ///     Err(ServerUrlError::HostNotAllowed { .. })
    /// ));
    ///
    /// let local = HostPolicy::default().with_allowed_host("127.0.0.1");
    /// assert!(ServerUrl::parse("wss://127.0.0.1:8443", &local).is_ok());
    /// assert!(matches!(
    ///     ServerUrl::parse("ws://127.0.0.1:8443", &local),
    ///     Err(ServerUrlError::NotWss { .. })
    /// ));
    /// ```
    pub fn parse(s: &str, policy: &HostPolicy) -> Result<Self, ServerUrlError> {
        let parsed = url::Url::parse(s).map_err(|e| ServerUrlError::Invalid {
            url: echo(s),
            reason: e.to_string(),
        })?;
        let scheme = parsed.scheme();
        if scheme != "wss" && !(scheme == "ws" && policy.insecure_ws) {
            return Err(ServerUrlError::NotWss {
                url: echo(s),
                scheme: echo(scheme),
            });
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ServerUrlError::UserInfo { url: echo(s) });
        }
        if parsed.fragment().is_some() {
            return Err(ServerUrlError::Invalid {
                url: echo(s),
                reason: "a WebSocket URL must not have a fragment (RFC 6455)".to_string(),
            });
        }
        let host = match parsed.host() {
            Some(h) => h.to_owned(),
            None => {
                return Err(ServerUrlError::Invalid {
                    url: echo(s),
                    reason: "missing host".to_string(),
                })
            }
        };
        let key = host_key(&host);
        let is_zoom = matches!(&host, url::Host::Domain(d) if is_zoom_domain(d));
        if is_zoom {
            if scheme != "wss" {
                return Err(ServerUrlError::NotWss {
                    url: echo(s),
                    scheme: scheme.to_string(),
                });
            }
            if let Some(port) = parsed.port() {
                return Err(ServerUrlError::PortNotAllowed { url: echo(s), port });
            }
        } else if policy.allows_extra(&key) {
            // Scheme already checked: wss, or ws under with_insecure_ws.
        } else if matches!(host, url::Host::Domain(_)) {
            return Err(ServerUrlError::HostNotAllowed {
                url: echo(s),
                host: echo(&key),
            });
        } else {
            return Err(ServerUrlError::IpAddress {
                url: echo(s),
                host: key,
            });
        }
        Ok(ServerUrl(parsed))
    }

    /// The normalised URL as a string (what to dial).
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    ///
    /// assert_eq!(ServerUrl::parse("wss://zoom.us", &HostPolicy::default()).unwrap().as_str(), "wss://zoom.us/");
    /// ```
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    ///
    /// let u = ServerUrl::parse("wss://sjc.zoom.us/signal?x=1", &HostPolicy::default()).unwrap();
    /// assert_eq!(u.url().path(), "/signal");
    /// assert_eq!(u.url().query(), Some("x=1"));
    /// ```
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// Consumes `self`, returning the parsed URL.
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    ///
    /// let u: url::Url = ServerUrl::parse("wss://sjc.zoom.us", &HostPolicy::default()).unwrap().into_url();
    /// assert_eq!(u.scheme(), "wss");
    /// ```
    pub fn into_url(self) -> url::Url {
        self.0
    }

    /// The normalised host (lower-case; IPv6 in brackets).
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};
    ///
    /// assert_eq!(ServerUrl::parse("wss://Media.IAD.zoom.us", &HostPolicy::default()).unwrap().host(), "media.iad.zoom.us");
    /// ```
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("")
    }

    /// The region read from the host (see [`Region::from_host`]).
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, Region, ServerUrl};
    ///
    /// let zoom_only = HostPolicy::default();
    /// let fra = ServerUrl::parse("wss://rtms-fra2.zoom.us", &zoom_only).unwrap();
    /// assert_eq!(fra.region(), Some(Region::Fra));
    /// assert_eq!(ServerUrl::parse("wss://zoom.us", &zoom_only).unwrap().region(), None);
    /// ```
    pub fn region(&self) -> Option<Region> {
        Region::from_host(self.host())
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ServerUrl").field(&self.as_str()).finish()
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for ServerUrl {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<ServerUrl> for url::Url {
    fn from(u: ServerUrl) -> Self {
        u.0
    }
}

/// Why a server URL was refused.
///
/// Every variant except [`Empty`](ServerUrlError::Empty) names the offending
/// input (control characters escaped, truncated to 200 bytes) so a refused entry in a list can be
/// found.
///
/// ```
/// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl, ServerUrlError};
///
/// let err = ServerUrl::parse("https://sjc.zoom.us", &HostPolicy::default()).unwrap_err();
/// assert!(matches!(err, ServerUrlError::NotWss { ref scheme, .. } if scheme == "https"));
/// assert_eq!(
///     err.to_string(),
///     "server URL `https://sjc.zoom.us` refused: scheme `https` is not wss"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerUrlError {
    /// A `server_urls` field held no URL (only commas, whitespace or empty
    /// strings).
    #[error("no server URL given")]
    Empty,
    /// The text is not a URL at all, or it has no host.
    #[error("server URL `{url}` is not a valid URL: {reason}")]
    Invalid {
        /// The refused input.
        url: String,
        /// What the URL parser reported.
        reason: String,
    },
    /// The scheme is not `wss` (or `ws` where the policy allows it).
    #[error("server URL `{url}` refused: scheme `{scheme}` is not wss")]
    NotWss {
        /// The refused input.
        url: String,
        /// The scheme found (lower-case).
        scheme: String,
    },
    /// The URL carries a user name or password (`wss://user@host`), a classic
    /// way to disguise the real host.
    #[error("server URL `{url}` refused: user info (`user@`) is not allowed")]
    UserInfo {
        /// The refused input.
        url: String,
    },
    /// The host is an IP address literal not allowed by the policy.
    #[error("server URL `{url}` refused: IP address host `{host}` is not allowed")]
    IpAddress {
        /// The refused input.
        url: String,
        /// The normalised address.
        host: String,
    },
    /// The host is neither `zoom.us`, a subdomain of it, nor allowed by the policy.
    #[error("server URL `{url}` refused: host `{host}` is not zoom.us or a subdomain of it")]
    HostNotAllowed {
        /// The refused input.
        url: String,
        /// The host as normalised by the URL parser.
        host: String,
    },
    /// A Zoom host with a port other than the default 443.
    #[error("server URL `{url}` refused: port {port} is not allowed (only 443)")]
    PortNotAllowed {
        /// The refused input.
        url: String,
        /// The port found.
        port: u16,
    },
}

impl ServerUrlError {
    /// The refused input (escaped and truncated), `None` for [`ServerUrlError::Empty`].
    ///
    /// ```
    /// use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl, ServerUrlError};
    ///
    /// assert_eq!(ServerUrl::parse("ws://zoom.us", &HostPolicy::default()).unwrap_err().url(), Some("ws://zoom.us"));
    /// assert_eq!(ServerUrlError::Empty.url(), None);
    /// ```
    pub fn url(&self) -> Option<&str> {
        match self {
            ServerUrlError::Empty => None,
            ServerUrlError::Invalid { url, .. }
            | ServerUrlError::NotWss { url, .. }
            | ServerUrlError::UserInfo { url }
            | ServerUrlError::IpAddress { url, .. }
            | ServerUrlError::HostNotAllowed { url, .. }
            | ServerUrlError::PortNotAllowed { url, .. } => Some(url),
        }
    }
}
