//! [`ParseError`]: why a webhook body could not be turned into a [`WebhookEvent`].
//!
//! [`WebhookEvent`]: super::WebhookEvent

/// Longest message text (in bytes) kept from an underlying JSON error.
const MAX_MESSAGE_LEN: usize = 160;

/// Why [`WebhookEvent::parse`] rejected a body.
///
/// Only these are errors: a body that is not a JSON object with an `event` name, and an
/// event whose name this crate knows but whose payload lacks (or mistypes) a field the event
/// cannot be used without, or repeats a field the crate reads. An **unknown** event name is
/// never an error (it parses to [`WebhookEvent::Unknown`]), and unknown or extra payload
/// fields never are either.
///
/// `Display` names the event and the field concerned but never echoes field values or the
/// body, so it is safe to log.
///
/// ```
/// use zoom_rtms_webhooks::event::{ParseError, WebhookEvent};
///
/// let err = WebhookEvent::parse(
///     br#"{"event":"meeting.rtms_started","payload":{"meeting_uuid":"abc=="}}"#,
/// )
/// .unwrap_err();
/// assert_eq!(
///     err,
///     ParseError::MissingField {
///         event: "meeting.rtms_started".to_owned(),
///         field: "rtms_stream_id",
///     }
/// );
/// assert_eq!(err.event(), Some("meeting.rtms_started"));
/// assert_eq!(err.field(), Some("rtms_stream_id"));
/// assert_eq!(
///     err.to_string(),
///     "`meeting.rtms_started` event: missing required payload field `rtms_stream_id`"
/// );
/// ```
///
/// [`WebhookEvent::parse`]: super::WebhookEvent::parse
/// [`WebhookEvent::Unknown`]: super::WebhookEvent::Unknown
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not valid JSON, has trailing data, is not a JSON object at the top level, or
    /// repeats one of the envelope keys `event`, `event_ts`, `payload`. The text is the JSON
    /// parser's message (with line and column), shortened; it never contains the body.
    #[error("webhook body is not a valid JSON event envelope: {0}")]
    InvalidJson(String),

    /// The top-level `event` field is absent, `null`, empty, or not a string.
    #[error("webhook body has no event name (`event` is missing, empty or not a string)")]
    MissingEventName,

    /// A known event has no `payload` field at all.
    #[error("`{event}` event: the `payload` field is missing")]
    MissingPayload {
        /// The event name, as sent.
        event: String,
    },

    /// A known event's `payload` is not a JSON object.
    #[error("`{event}` event: `payload` must be a JSON object, found {found}")]
    PayloadNotAnObject {
        /// The event name, as sent.
        event: String,
        /// The JSON type that was found instead (for example `"an array"`).
        found: &'static str,
    },

    /// A known event's payload lacks a field the event requires (`rtms_stream_id` for every
    /// lifecycle event; for `*rtms_started` also the product's id field and `server_urls`; for
    /// `endpoint.url_validation`: `plainToken`). A field whose value is `null` counts as missing.
    #[error("`{event}` event: missing required payload field `{field}`")]
    MissingField {
        /// The event name, as sent.
        event: String,
        /// The field name; for webinars `webinar_uuid` (either `webinar_uuid` or
        /// `meeting_uuid` would have been accepted).
        field: &'static str,
    },

    /// A known event's payload (or its `object`) repeats a field this crate reads, or repeats
    /// `object`. The body is refused rather than guessing which copy was meant, whatever the
    /// order of the keys.
    #[error("`{event}` event: payload field `{field}` appears more than once")]
    DuplicateField {
        /// The event name, as sent.
        event: String,
        /// The repeated field name.
        field: &'static str,
    },

    /// A required payload field is present but has the wrong JSON type, or is an empty
    /// string. Also used when `payload.object` is present but is not an object.
    #[error("`{event}` event: payload field `{field}` must be {expected}, found {found}")]
    InvalidField {
        /// The event name, as sent.
        event: String,
        /// The field name.
        field: &'static str,
        /// What the field must be (for example `"a non-empty string"`).
        expected: &'static str,
        /// What was found instead (for example `"a number"`); never the value itself.
        found: &'static str,
    },
}

impl ParseError {
    /// The event name the error is about, if the body got that far.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::WebhookEvent;
    ///
    /// let err = WebhookEvent::parse(b"[1, 2]").unwrap_err();
    /// assert_eq!(err.event(), None);
    /// ```
    pub fn event(&self) -> Option<&str> {
        match self {
            ParseError::InvalidJson(_) | ParseError::MissingEventName => None,
            ParseError::MissingPayload { event }
            | ParseError::PayloadNotAnObject { event, .. }
            | ParseError::MissingField { event, .. }
            | ParseError::DuplicateField { event, .. }
            | ParseError::InvalidField { event, .. } => Some(event),
        }
    }

    /// The payload field the error is about, if any.
    ///
    /// ```
    /// use zoom_rtms_webhooks::event::WebhookEvent;
    ///
    /// let err = WebhookEvent::parse(
    ///     br#"{"event":"session.rtms_stopped","payload":{"session_id":"a","rtms_stream_id":7}}"#,
    /// )
    /// .unwrap_err();
    /// assert_eq!(err.field(), Some("rtms_stream_id"));
    ///
    /// let err = WebhookEvent::parse(
    ///     br#"{"event":"x.y","payload":{}}"#.as_slice().strip_suffix(b"}").unwrap(),
    /// )
    /// .unwrap_err();
    /// assert_eq!(err.field(), None);
    /// ```
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ParseError::MissingField { field, .. }
            | ParseError::DuplicateField { field, .. }
            | ParseError::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Build an [`ParseError::InvalidJson`] from a serde_json error, keeping the message short.
    pub(crate) fn json(err: &serde_json::Error) -> Self {
        ParseError::InvalidJson(shorten(err.to_string()))
    }
}

/// Cut `s` to at most [`MAX_MESSAGE_LEN`] bytes on a char boundary, marking the cut.
fn shorten(mut s: String) -> String {
    if s.len() > MAX_MESSAGE_LEN {
        let mut end = MAX_MESSAGE_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_keeps_short_and_cuts_long_on_char_boundary() {
        assert_eq!(shorten("short".to_owned()), "short");
        let long = "é".repeat(200);
        let cut = shorten(long);
        assert!(cut.len() <= MAX_MESSAGE_LEN + 3);
        assert!(cut.ends_with("..."));
    }
}
