//! [`StopReason`]: why an RTMS stream stopped or was interrupted.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

code_enum! {
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
    /// use zoom_rtms_webhooks::event::StopReason;
    ///
    /// assert_eq!(StopReason::from(6), StopReason::MeetingEnded);
    /// assert_eq!(StopReason::MeetingEnded.code(), 6);
    /// assert_eq!(StopReason::from(99), StopReason::Other(99));
    /// assert_eq!(StopReason::Other(6), StopReason::MeetingEnded);
    /// assert_eq!(StopReason::from(24).to_string(), "keep-alive timeout (24)");
    /// assert_eq!(StopReason::from(6).description(), "meeting, webinar or session ended");
    /// assert!(!StopReason::from(12).is_known());
    ///
    /// let r: StopReason = serde_json::from_str("\"22\"").unwrap();
    /// assert_eq!(r, StopReason::AgentDisconnected);
    /// ```
    pub enum StopReason ("zoom_rtms_webhooks::event::StopReason") {
        /// 1: the host stopped the stream.
        HostTriggered = 1 => "host triggered",
        /// 2: the app's user stopped the stream.
        AppUserTriggered = 2 => "app user triggered",
        /// 3: the app's user left the meeting.
        AppUserLeft = 3 => "app user left",
        /// 4: the app's user was removed from the meeting.
        AppUserEjected = 4 => "app user ejected",
        /// 5: the host disabled the app.
        AppDisabledByHost = 5 => "app disabled by host",
        /// 6: the meeting, webinar or session ended.
        MeetingEnded = 6 => "meeting, webinar or session ended",
        /// 7: the stream was canceled.
        StreamCanceled = 7 => "stream canceled",
        /// 8: the stream was revoked.
        StreamRevoked = 8 => "stream revoked",
        /// 9: all apps were disabled.
        AllAppsDisabled = 9 => "all apps disabled",
        /// 10: internal error on Zoom's side.
        InternalError = 10 => "internal error",
        /// 11: connection timeout.
        ConnectionTimeout = 11 => "connection timeout",
        /// 21: Contact Center: the customer disconnected.
        CustomerDisconnected = 21 => "customer disconnected",
        /// 22: Contact Center: the agent disconnected.
        AgentDisconnected = 22 => "agent disconnected",
        /// 24: keep-alive timeout.
        KeepAliveTimeout = 24 => "keep-alive timeout",
    }
    other = "unknown";
}

impl StopReason {
    /// Parse a string of decimal digits (optionally signed, surrounding spaces allowed).
    pub(crate) fn from_numeric_str(s: &str) -> Option<Self> {
        s.trim().parse::<i64>().ok().map(StopReason::from)
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
