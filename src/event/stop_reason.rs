//! [`StopReason`]: why an RTMS stream stopped or was interrupted.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// Why an RTMS stream stopped (`stop_reason` of `*.rtms_stopped` / `*.rtms_interrupted`).
///
/// Zoom sends an integer. The codes this crate names are the documented ones (1 to 11) and
/// the protocol codes with a known meaning (21, 22, 24); every other code is kept as
/// [`StopReason::Other`], never rejected. Build one with [`From<i64>`](StopReason::from),
/// which always picks the named variant for a named code; equality and hashing compare
/// [`code()`](StopReason::code), so `StopReason::Other(6) == StopReason::MeetingEnded`.
///
/// Deserializes from an integer or a string of decimal digits; serializes as an integer.
///
/// ```
/// use zoom_rtms_webhooks::StopReason;
///
/// assert_eq!(StopReason::from(6), StopReason::MeetingEnded);
/// assert_eq!(StopReason::MeetingEnded.code(), 6);
/// assert_eq!(StopReason::from(99), StopReason::Other(99));
/// assert_eq!(StopReason::Other(6), StopReason::MeetingEnded);
/// assert_eq!(StopReason::from(24).to_string(), "keep-alive timeout (24)");
///
/// let r: StopReason = serde_json::from_str("\"22\"").unwrap();
/// assert_eq!(r, StopReason::AgentDisconnected);
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum StopReason {
    /// 1: the host stopped the stream.
    HostTriggered,
    /// 2: the app's user stopped the stream.
    AppUserTriggered,
    /// 3: the app's user left the meeting.
    AppUserLeft,
    /// 4: the app's user was removed from the meeting.
    AppUserEjected,
    /// 5: the host disabled the app.
    AppDisabledByHost,
    /// 6: the meeting, webinar or session ended.
    MeetingEnded,
    /// 7: the stream was canceled.
    StreamCanceled,
    /// 8: the stream was revoked.
    StreamRevoked,
    /// 9: all apps were disabled.
    AllAppsDisabled,
    /// 10: internal error on Zoom's side.
    InternalError,
    /// 11: connection timeout.
    ConnectionTimeout,
    /// 21: Contact Center: the customer disconnected.
    CustomerDisconnected,
    /// 22: Contact Center: the agent disconnected.
    AgentDisconnected,
    /// 24: keep-alive timeout.
    KeepAliveTimeout,
    /// Any other code, kept as sent.
    Other(i64),
}

impl StopReason {
    /// The integer code, as Zoom sends it.
    ///
    /// ```
    /// use zoom_rtms_webhooks::StopReason;
    /// assert_eq!(StopReason::HostTriggered.code(), 1);
    /// assert_eq!(StopReason::Other(-3).code(), -3);
    /// ```
    pub fn code(&self) -> i64 {
        match self {
            StopReason::HostTriggered => 1,
            StopReason::AppUserTriggered => 2,
            StopReason::AppUserLeft => 3,
            StopReason::AppUserEjected => 4,
            StopReason::AppDisabledByHost => 5,
            StopReason::MeetingEnded => 6,
            StopReason::StreamCanceled => 7,
            StopReason::StreamRevoked => 8,
            StopReason::AllAppsDisabled => 9,
            StopReason::InternalError => 10,
            StopReason::ConnectionTimeout => 11,
            StopReason::CustomerDisconnected => 21,
            StopReason::AgentDisconnected => 22,
            StopReason::KeepAliveTimeout => 24,
            StopReason::Other(code) => *code,
        }
    }

    /// A short English description, `"unknown"` for codes this crate does not name.
    ///
    /// ```
    /// use zoom_rtms_webhooks::StopReason;
    /// assert_eq!(StopReason::from(6).description(), "meeting, webinar or session ended");
    /// assert_eq!(StopReason::from(40).description(), "unknown");
    /// ```
    pub fn description(&self) -> &'static str {
        match StopReason::from(self.code()) {
            StopReason::HostTriggered => "host triggered",
            StopReason::AppUserTriggered => "app user triggered",
            StopReason::AppUserLeft => "app user left",
            StopReason::AppUserEjected => "app user ejected",
            StopReason::AppDisabledByHost => "app disabled by host",
            StopReason::MeetingEnded => "meeting, webinar or session ended",
            StopReason::StreamCanceled => "stream canceled",
            StopReason::StreamRevoked => "stream revoked",
            StopReason::AllAppsDisabled => "all apps disabled",
            StopReason::InternalError => "internal error",
            StopReason::ConnectionTimeout => "connection timeout",
            StopReason::CustomerDisconnected => "customer disconnected",
            StopReason::AgentDisconnected => "agent disconnected",
            StopReason::KeepAliveTimeout => "keep-alive timeout",
            StopReason::Other(_) => "unknown",
        }
    }

    /// Whether this crate has a name for the code (`false` for [`StopReason::Other`] of an
    /// unnamed code).
    ///
    /// ```
    /// use zoom_rtms_webhooks::StopReason;
    /// assert!(StopReason::from(11).is_known());
    /// assert!(!StopReason::from(12).is_known());
    /// ```
    pub fn is_known(&self) -> bool {
        !matches!(StopReason::from(self.code()), StopReason::Other(_))
    }

    /// Parse a string of decimal digits (optionally signed, surrounding spaces allowed).
    pub(crate) fn from_numeric_str(s: &str) -> Option<Self> {
        s.trim().parse::<i64>().ok().map(StopReason::from)
    }
}

impl From<i64> for StopReason {
    fn from(code: i64) -> Self {
        match code {
            1 => StopReason::HostTriggered,
            2 => StopReason::AppUserTriggered,
            3 => StopReason::AppUserLeft,
            4 => StopReason::AppUserEjected,
            5 => StopReason::AppDisabledByHost,
            6 => StopReason::MeetingEnded,
            7 => StopReason::StreamCanceled,
            8 => StopReason::StreamRevoked,
            9 => StopReason::AllAppsDisabled,
            10 => StopReason::InternalError,
            11 => StopReason::ConnectionTimeout,
            21 => StopReason::CustomerDisconnected,
            22 => StopReason::AgentDisconnected,
            24 => StopReason::KeepAliveTimeout,
            other => StopReason::Other(other),
        }
    }
}

impl From<StopReason> for i64 {
    fn from(reason: StopReason) -> Self {
        reason.code()
    }
}

impl PartialEq for StopReason {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}

impl Eq for StopReason {}

impl Hash for StopReason {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code().hash(state);
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.code())
    }
}

impl Serialize for StopReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.code())
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;

        impl Visitor<'_> for CodeVisitor {
            type Value = StopReason;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer stop reason code")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StopReason, E> {
                Ok(StopReason::from(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StopReason, E> {
                i64::try_from(v)
                    .map(StopReason::from)
                    .map_err(|_| E::custom("stop reason code out of range"))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<StopReason, E> {
                StopReason::from_numeric_str(v)
                    .ok_or_else(|| E::custom("stop reason string is not an integer"))
            }
        }

        deserializer.deserialize_any(CodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_code_round_trips() {
        for code in -2..=40 {
            let reason = StopReason::from(code);
            assert_eq!(reason.code(), code);
            assert_eq!(reason.is_known(), matches!(code, 1..=11 | 21 | 22 | 24));
            assert_eq!(reason, StopReason::Other(code));
        }
    }

    #[test]
    fn serde_integer_and_string() {
        let r: StopReason = serde_json::from_str("8").unwrap();
        assert_eq!(r, StopReason::StreamRevoked);
        let r: StopReason = serde_json::from_str("\" 3 \"").unwrap();
        assert_eq!(r, StopReason::AppUserLeft);
        assert!(serde_json::from_str::<StopReason>("\"x\"").is_err());
        assert!(serde_json::from_str::<StopReason>("1.5").is_err());
        assert!(serde_json::from_str::<StopReason>("18446744073709551615").is_err());
        assert_eq!(serde_json::to_string(&StopReason::Other(77)).unwrap(), "77");
    }
}
