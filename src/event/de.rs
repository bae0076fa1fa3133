//! Private parsing machinery.
//!
//! One pass over the body in the usual case (`event` before `payload`): the envelope visitor
//! reads the event name, and the payload is then read straight into a [`Collected`] (one slot
//! per modelled field plus the `extra` map), with `payload.object` merged in as it streams
//! past. Nothing is parsed into a `serde_json::Value` tree and read a second time. Only when
//! `payload` comes before `event` is the payload buffered as a `Value` and collected from it.
//!
//! Serde errors here are only JSON syntax errors: every visitor accepts every JSON type and
//! the builders below turn missing / mistyped fields into structured [`ParseError`]s.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::payload::{
    ConcurrencyLimited, ConcurrencyNearLimit, RtmsInterrupted, RtmsStarted, RtmsStopped,
    StartFailed, UnknownEvent, UrlValidation,
};
use super::{IdField, InstanceId, Lifecycle, ParseError, Product, StopReason, WebhookEvent};

/// What an event name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    UrlValidation,
    Lifecycle(Product, Lifecycle),
    ConcurrencyNearLimit,
    ConcurrencyLimited,
    StartFailed,
    Unknown,
}

/// Map an event name (exact, case-sensitive) to its kind.
pub(crate) fn classify(name: &str) -> Kind {
    use Lifecycle::{Interrupted, Started, Stopped};
    use Product::{ContactCenter, Meeting, Phone, VideoSdk, Webinar};
    match name {
        "endpoint.url_validation" => Kind::UrlValidation,
        "meeting.rtms_started" => Kind::Lifecycle(Meeting, Started),
        "meeting.rtms_stopped" => Kind::Lifecycle(Meeting, Stopped),
        "meeting.rtms_interrupted" => Kind::Lifecycle(Meeting, Interrupted),
        "webinar.rtms_started" => Kind::Lifecycle(Webinar, Started),
        "webinar.rtms_stopped" => Kind::Lifecycle(Webinar, Stopped),
        "webinar.rtms_interrupted" => Kind::Lifecycle(Webinar, Interrupted),
        "session.rtms_started" => Kind::Lifecycle(VideoSdk, Started),
        "session.rtms_stopped" => Kind::Lifecycle(VideoSdk, Stopped),
        "session.rtms_interrupted" => Kind::Lifecycle(VideoSdk, Interrupted),
        "contact_center.voice_rtms_started" => Kind::Lifecycle(ContactCenter, Started),
        "contact_center.voice_rtms_stopped" => Kind::Lifecycle(ContactCenter, Stopped),
        "contact_center.voice_rtms_interrupted" => Kind::Lifecycle(ContactCenter, Interrupted),
        "phone.rtms_started" | "phone.call_rtms_started" => Kind::Lifecycle(Phone, Started),
        "phone.rtms_stopped" | "phone.call_rtms_stopped" => Kind::Lifecycle(Phone, Stopped),
        "phone.rtms_interrupted" | "phone.call_rtms_interrupted" => {
            Kind::Lifecycle(Phone, Interrupted)
        }
        "rtms.concurrency_near_limit" => Kind::ConcurrencyNearLimit,
        "rtms.concurrency_limited" => Kind::ConcurrencyLimited,
        "rtms.start_failed" => Kind::StartFailed,
        _ => Kind::Unknown,
    }
}

// ---------------------------------------------------------------------------------------------
// Payload collection
// ---------------------------------------------------------------------------------------------

/// A payload field this crate models (for some event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    MeetingUuid,
    WebinarUuid,
    SessionId,
    EngagementId,
    CallId,
    RtmsStreamId,
    ServerUrls,
    OperatorId,
    AccountId,
    SessionKey,
    StopReason,
    ConcurrencyLimit,
    ConcurrencyNumber,
    Percentage,
    PlainToken,
}

const SLOT_COUNT: usize = 15;

const ALL_SLOTS: [Slot; SLOT_COUNT] = [
    Slot::MeetingUuid,
    Slot::WebinarUuid,
    Slot::SessionId,
    Slot::EngagementId,
    Slot::CallId,
    Slot::RtmsStreamId,
    Slot::ServerUrls,
    Slot::OperatorId,
    Slot::AccountId,
    Slot::SessionKey,
    Slot::StopReason,
    Slot::ConcurrencyLimit,
    Slot::ConcurrencyNumber,
    Slot::Percentage,
    Slot::PlainToken,
];

impl Slot {
    fn from_key(key: &str) -> Option<Slot> {
        Some(match key {
            "meeting_uuid" => Slot::MeetingUuid,
            "webinar_uuid" => Slot::WebinarUuid,
            "session_id" => Slot::SessionId,
            "engagement_id" => Slot::EngagementId,
            "call_id" => Slot::CallId,
            "rtms_stream_id" => Slot::RtmsStreamId,
            "server_urls" => Slot::ServerUrls,
            "operator_id" => Slot::OperatorId,
            "account_id" => Slot::AccountId,
            "session_key" => Slot::SessionKey,
            "stop_reason" => Slot::StopReason,
            "concurrency_limit" => Slot::ConcurrencyLimit,
            "concurrency_number" => Slot::ConcurrencyNumber,
            "percentage" => Slot::Percentage,
            "plainToken" => Slot::PlainToken,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Slot::MeetingUuid => "meeting_uuid",
            Slot::WebinarUuid => "webinar_uuid",
            Slot::SessionId => "session_id",
            Slot::EngagementId => "engagement_id",
            Slot::CallId => "call_id",
            Slot::RtmsStreamId => "rtms_stream_id",
            Slot::ServerUrls => "server_urls",
            Slot::OperatorId => "operator_id",
            Slot::AccountId => "account_id",
            Slot::SessionKey => "session_key",
            Slot::StopReason => "stop_reason",
            Slot::ConcurrencyLimit => "concurrency_limit",
            Slot::ConcurrencyNumber => "concurrency_number",
            Slot::Percentage => "percentage",
            Slot::PlainToken => "plainToken",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The merged payload: modelled fields in slots, the rest in `extra`.
///
/// Merge rule: a field inside `payload.object` wins over a top-level payload field of the same
/// name, whichever comes first in the body.
#[derive(Debug)]
pub(crate) struct Collected {
    slots: [Option<Value>; SLOT_COUNT],
    /// For each slot: was the value taken from inside `payload.object`?
    nested: [bool; SLOT_COUNT],
    extra: Map<String, Value>,
    /// `payload.object` has been read (so an `extra` key already present came from it).
    object_seen: bool,
    /// `payload` itself was not an object: the JSON type found.
    not_object: Option<&'static str>,
    /// `payload.object` was present, not `null`, and not an object: the JSON type found.
    bad_object: Option<&'static str>,
}

impl Collected {
    fn new() -> Self {
        Collected {
            slots: Default::default(),
            nested: [false; SLOT_COUNT],
            extra: Map::new(),
            object_seen: false,
            not_object: None,
            bad_object: None,
        }
    }

    fn put(&mut self, key: Key<'_>, value: Value, nested: bool) {
        if let Some(slot) = Slot::from_key(key.as_str()) {
            let i = slot.index();
            let (Some(stored), Some(was_nested)) = (self.slots.get_mut(i), self.nested.get_mut(i))
            else {
                return;
            };
            if nested || !*was_nested || stored.is_none() {
                *stored = Some(value);
                *was_nested = nested;
            }
            return;
        }
        // A top-level field read after `object` loses to an `object` field of the same name.
        if nested || !self.object_seen || !self.extra.contains_key(key.as_str()) {
            self.extra.insert(key.into_owned(), value);
        }
    }

    /// Take a slot's value; `null` counts as absent.
    fn take(&mut self, slot: Slot) -> Option<Value> {
        match self.slots.get_mut(slot.index()).and_then(Option::take) {
            Some(Value::Null) | None => None,
            some => some,
        }
    }

    /// Is a non-null value present in the slot?
    fn has(&self, slot: Slot) -> bool {
        matches!(self.slots.get(slot.index()), Some(Some(v)) if !v.is_null())
    }

    /// Keep a value the builder could not use, under its own name.
    fn reject(&mut self, slot: Slot, value: Value) {
        self.extra.insert(slot.name().to_owned(), value);
    }

    /// Everything not taken, as the `extra` map.
    fn into_extra(mut self) -> Map<String, Value> {
        for slot in ALL_SLOTS {
            if let Some(value) = self.slots.get_mut(slot.index()).and_then(Option::take) {
                self.extra.insert(slot.name().to_owned(), value);
            }
        }
        self.extra
    }

    /// Rebuild a JSON object (only used if a collected payload must become raw again).
    fn into_value(self) -> Value {
        match self.not_object {
            Some(_) => Value::Null,
            None => Value::Object(self.into_extra()),
        }
    }
}

/// A map key, borrowed from the body when it has no escapes.
pub(crate) enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    fn into_owned(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_owned(),
            Key::Owned(s) => s,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v))
    }
}

/// Reads a payload (or, with `nested`, a `payload.object`) into a [`Collected`].
struct PayloadSeed<'a> {
    out: &'a mut Collected,
    nested: bool,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl PayloadSeed<'_> {
    /// The payload (or `object`) was some other JSON type.
    fn not_a_map(self, found: &'static str) {
        if self.nested {
            if found != "null" {
                self.out.bad_object = Some(found);
            }
        } else {
            self.out.not_object = Some(found);
        }
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a payload object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let out = self.out;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if !self.nested && key.as_str() == "object" {
                map.next_value_seed(PayloadSeed {
                    out: &mut *out,
                    nested: true,
                })?;
                out.object_seen = true;
            } else {
                let value: Value = map.next_value()?;
                out.put(key, value, self.nested);
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.not_a_map("an array");
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_a_map("a boolean");
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_a_map("a number");
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_a_map("a number");
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_a_map("a number");
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_a_map("a string");
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_a_map("null");
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.not_a_map("null");
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

/// The payload as read by the envelope visitor.
enum PayloadState {
    Absent,
    /// Streamed into the caller's [`Collected`].
    Collected,
    Raw(Value),
}

struct Envelope {
    /// `None`: missing, empty or not a string.
    name: Option<String>,
    kind: Kind,
    event_ts: Option<u64>,
    payload: PayloadState,
}

/// Reads `event` leniently: any non-string (or empty string) becomes `None`.
struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok((!v.is_empty()).then(|| v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Option<String>, E> {
        Ok((!v.is_empty()).then_some(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
}

struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(NameVisitor)
    }
}

/// Reads `event_ts` leniently: a non-negative integer, an integral float, or a string of
/// digits; anything else becomes `None`.
struct TsVisitor;

impl<'de> Visitor<'de> for TsVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a millisecond timestamp")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<u64>, E> {
        Ok(Some(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<u64>, E> {
        Ok(u64::try_from(v).ok())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<u64>, E> {
        Ok(float_to_u64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<u64>, E> {
        Ok(v.trim().parse().ok())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u64>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<u64>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
}

struct TsSeed;

impl<'de> DeserializeSeed<'de> for TsSeed {
    type Value = Option<u64>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_any(TsVisitor)
    }
}

/// An integral, non-negative float that fits a u64 exactly enough (below 2^53).
fn float_to_u64(v: f64) -> Option<u64> {
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if (0.0..MAX_EXACT).contains(&v) && v.fract() == 0.0 {
        // In range and integral: the conversion is exact.
        Some(v as u64)
    } else {
        None
    }
}

/// Reads the envelope; a typed payload is streamed into `collected` (which lives on the
/// caller's stack, so the envelope stays small).
struct EnvelopeVisitor<'a> {
    collected: &'a mut Collected,
}

impl<'de> Visitor<'de> for EnvelopeVisitor<'_> {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with `event` and `payload`")
    }

    // Other JSON types get serde's default "invalid type" error, except strings: the default
    // message would quote the (possibly huge) string.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Envelope, E> {
        Err(E::invalid_type(de::Unexpected::Other("a string"), &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut name: Option<Option<String>> = None;
        let mut kind = Kind::Unknown;
        let mut event_ts: Option<Option<u64>> = None;
        let mut payload: Option<PayloadState> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key.as_str() {
                "event" => {
                    if name.is_some() {
                        return Err(de::Error::duplicate_field("event"));
                    }
                    let n = map.next_value_seed(NameSeed)?;
                    kind = n.as_deref().map_or(Kind::Unknown, classify);
                    name = Some(n);
                }
                "event_ts" => {
                    if event_ts.is_some() {
                        return Err(de::Error::duplicate_field("event_ts"));
                    }
                    event_ts = Some(map.next_value_seed(TsSeed)?);
                }
                "payload" => {
                    if payload.is_some() {
                        return Err(de::Error::duplicate_field("payload"));
                    }
                    payload = Some(match (&name, kind) {
                        // Name known and typed: stream the payload into its slots.
                        (Some(Some(_)), k) if k != Kind::Unknown => {
                            map.next_value_seed(PayloadSeed {
                                out: &mut *self.collected,
                                nested: false,
                            })?;
                            PayloadState::Collected
                        }
                        // Name missing or not a string: the body is rejected anyway.
                        (Some(None), _) => {
                            map.next_value::<IgnoredAny>()?;
                            PayloadState::Absent
                        }
                        // Unknown name, or name not seen yet: keep the raw value.
                        _ => PayloadState::Raw(map.next_value()?),
                    });
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Envelope {
            name: name.flatten(),
            kind,
            event_ts: event_ts.flatten(),
            payload: payload.unwrap_or(PayloadState::Absent),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Building the typed event
// ---------------------------------------------------------------------------------------------

/// Parse a webhook body (see [`WebhookEvent::parse`]).
pub(crate) fn parse(body: &[u8]) -> Result<WebhookEvent, ParseError> {
    let mut collected = Collected::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let envelope = deserializer
        .deserialize_any(EnvelopeVisitor {
            collected: &mut collected,
        })
        .map_err(|e| ParseError::json(&e))?;
    deserializer.end().map_err(|e| ParseError::json(&e))?;
    build(envelope, collected)
}

fn build(envelope: Envelope, collected: Collected) -> Result<WebhookEvent, ParseError> {
    let Envelope {
        name,
        kind,
        event_ts,
        payload,
    } = envelope;
    let event = name.ok_or(ParseError::MissingEventName)?;
    if kind == Kind::Unknown {
        let payload = match payload {
            PayloadState::Absent => Value::Null,
            PayloadState::Raw(value) => value,
            PayloadState::Collected => collected.into_value(),
        };
        return Ok(WebhookEvent::Unknown(UnknownEvent {
            event,
            event_ts,
            payload,
        }));
    }
    let mut c = match payload {
        PayloadState::Absent => return Err(ParseError::MissingPayload { event }),
        PayloadState::Collected => collected,
        PayloadState::Raw(value) => {
            let mut collected = collected;
            PayloadSeed {
                out: &mut collected,
                nested: false,
            }
            .deserialize(value)
            .map_err(|e| ParseError::json(&e))?;
            collected
        }
    };
    if let Some(found) = c.not_object {
        return Err(ParseError::PayloadNotAnObject { event, found });
    }
    if let Some(found) = c.bad_object {
        return Err(ParseError::InvalidField {
            event,
            field: "object",
            expected: "a JSON object",
            found,
        });
    }
    match kind {
        Kind::UrlValidation => {
            let plain_token = required_str(&mut c, Slot::PlainToken, &event)?;
            Ok(WebhookEvent::UrlValidation(UrlValidation {
                plain_token,
                event_ts,
            }))
        }
        Kind::Lifecycle(product, lifecycle) => {
            build_lifecycle(event, event_ts, product, lifecycle, c)
        }
        Kind::ConcurrencyNearLimit => {
            let account_id = lenient_str(&mut c, Slot::AccountId);
            let concurrency_limit = lenient_u64(&mut c, Slot::ConcurrencyLimit);
            let concurrency_number = lenient_u64(&mut c, Slot::ConcurrencyNumber);
            let percentage = lenient_f64(&mut c, Slot::Percentage);
            Ok(WebhookEvent::ConcurrencyNearLimit(ConcurrencyNearLimit {
                event_ts,
                account_id,
                concurrency_limit,
                concurrency_number,
                percentage,
                extra: c.into_extra(),
            }))
        }
        Kind::ConcurrencyLimited => {
            let (product, instance) = optional_instance(&mut c);
            let account_id = lenient_str(&mut c, Slot::AccountId);
            let operator_id = lenient_str(&mut c, Slot::OperatorId);
            let concurrency_number = lenient_u64(&mut c, Slot::ConcurrencyNumber);
            Ok(WebhookEvent::ConcurrencyLimited(ConcurrencyLimited {
                event_ts,
                account_id,
                product,
                instance,
                operator_id,
                concurrency_number,
                extra: c.into_extra(),
            }))
        }
        Kind::StartFailed => {
            let (product, instance) = optional_instance(&mut c);
            let account_id = lenient_str(&mut c, Slot::AccountId);
            let rtms_stream_id = lenient_str(&mut c, Slot::RtmsStreamId);
            Ok(WebhookEvent::StartFailed(StartFailed {
                event_ts,
                account_id,
                product,
                instance,
                rtms_stream_id,
                extra: c.into_extra(),
            }))
        }
        // Handled above; kept total without a panic.
        Kind::Unknown => Err(ParseError::MissingEventName),
    }
}

fn build_lifecycle(
    event: String,
    event_ts: Option<u64>,
    product: Product,
    lifecycle: Lifecycle,
    mut c: Collected,
) -> Result<WebhookEvent, ParseError> {
    let instance = required_instance(&mut c, product, &event)?;
    let rtms_stream_id = required_str(&mut c, Slot::RtmsStreamId, &event)?;
    match lifecycle {
        Lifecycle::Started => {
            let server_urls = required_str(&mut c, Slot::ServerUrls, &event)?;
            let operator_id = lenient_str(&mut c, Slot::OperatorId);
            let account_id = lenient_str(&mut c, Slot::AccountId);
            let session_key = lenient_str(&mut c, Slot::SessionKey);
            Ok(WebhookEvent::RtmsStarted(RtmsStarted {
                event,
                event_ts,
                product,
                instance,
                rtms_stream_id,
                server_urls,
                operator_id,
                account_id,
                session_key,
                extra: c.into_extra(),
            }))
        }
        Lifecycle::Stopped => {
            let stop_reason = stop_reason(&mut c);
            let operator_id = lenient_str(&mut c, Slot::OperatorId);
            let account_id = lenient_str(&mut c, Slot::AccountId);
            Ok(WebhookEvent::RtmsStopped(RtmsStopped {
                event,
                event_ts,
                product,
                instance,
                rtms_stream_id,
                stop_reason,
                operator_id,
                account_id,
                extra: c.into_extra(),
            }))
        }
        Lifecycle::Interrupted => {
            let stop_reason = stop_reason(&mut c);
            let operator_id = lenient_str(&mut c, Slot::OperatorId);
            let account_id = lenient_str(&mut c, Slot::AccountId);
            Ok(WebhookEvent::RtmsInterrupted(RtmsInterrupted {
                event,
                event_ts,
                product,
                instance,
                rtms_stream_id,
                stop_reason,
                operator_id,
                account_id,
                extra: c.into_extra(),
            }))
        }
    }
}

/// The id field of a lifecycle event: required, a non-empty string.
fn required_instance(
    c: &mut Collected,
    product: Product,
    event: &str,
) -> Result<InstanceId, ParseError> {
    let (slot, field) = match product {
        Product::Meeting => (Slot::MeetingUuid, IdField::MeetingUuid),
        // The spec says `webinar_uuid`, other Zoom documents `meeting_uuid`: accept both,
        // preferring `webinar_uuid` (the other then stays in `extra`).
        Product::Webinar if c.has(Slot::WebinarUuid) || !c.has(Slot::MeetingUuid) => {
            (Slot::WebinarUuid, IdField::WebinarUuid)
        }
        Product::Webinar => (Slot::MeetingUuid, IdField::MeetingUuid),
        Product::VideoSdk => (Slot::SessionId, IdField::SessionId),
        Product::ContactCenter => (Slot::EngagementId, IdField::EngagementId),
        Product::Phone => (Slot::CallId, IdField::CallId),
    };
    let value = required_str(c, slot, event)?;
    Ok(InstanceId { field, value })
}

/// The first id field present (for account-level events, where it is optional).
fn optional_instance(c: &mut Collected) -> (Option<Product>, Option<InstanceId>) {
    let meeting_product = if c.extra.contains_key("webinar_id") {
        Product::Webinar
    } else {
        Product::Meeting
    };
    let candidates = [
        (Slot::WebinarUuid, IdField::WebinarUuid, Product::Webinar),
        (Slot::MeetingUuid, IdField::MeetingUuid, meeting_product),
        (Slot::SessionId, IdField::SessionId, Product::VideoSdk),
        (
            Slot::EngagementId,
            IdField::EngagementId,
            Product::ContactCenter,
        ),
        (Slot::CallId, IdField::CallId, Product::Phone),
    ];
    for (slot, field, product) in candidates {
        match c.take(slot) {
            Some(Value::String(value)) if !value.is_empty() => {
                return (Some(product), Some(InstanceId { field, value }));
            }
            Some(other) => c.reject(slot, other),
            None => {}
        }
    }
    (None, None)
}

/// Describe a JSON value's type for an error message (never the value itself).
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(s) if s.is_empty() => "an empty string",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A required field: a non-empty string.
fn required_str(c: &mut Collected, slot: Slot, event: &str) -> Result<String, ParseError> {
    match c.take(slot) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(other) => Err(ParseError::InvalidField {
            event: event.to_owned(),
            field: slot.name(),
            expected: "a non-empty string",
            found: type_name(&other),
        }),
        None => Err(ParseError::MissingField {
            event: event.to_owned(),
            field: slot.name(),
        }),
    }
}

/// An optional text field: a string, or a number kept as its decimal text. Other types are
/// kept in `extra` and give `None`.
fn lenient_str(c: &mut Collected, slot: Slot) -> Option<String> {
    match c.take(slot)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        other => {
            c.reject(slot, other);
            None
        }
    }
}

/// An optional count: a non-negative integer or a string of digits; else kept in `extra`.
fn lenient_u64(c: &mut Collected, slot: Slot) -> Option<u64> {
    let value = c.take(slot)?;
    let parsed = match &value {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().and_then(float_to_u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    if parsed.is_none() {
        c.reject(slot, value);
    }
    parsed
}

/// An optional number: any JSON number or a numeric string (a trailing `%` is allowed);
/// else kept in `extra`.
fn lenient_f64(c: &mut Collected, slot: Slot) -> Option<f64> {
    let value = c.take(slot)?;
    let parsed = match &value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s
            .trim()
            .trim_end_matches('%')
            .trim_end()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite()),
        _ => None,
    };
    if parsed.is_none() {
        c.reject(slot, value);
    }
    parsed
}

/// `stop_reason`: an integer or a string of digits; else kept in `extra`.
fn stop_reason(c: &mut Collected) -> Option<StopReason> {
    let value = c.take(Slot::StopReason)?;
    let parsed = match &value {
        Value::Number(n) => n.as_i64().map(StopReason::from),
        Value::String(s) => StopReason::from_numeric_str(s),
        _ => None,
    };
    if parsed.is_none() {
        c.reject(Slot::StopReason, value);
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_round_trip() {
        for (i, slot) in ALL_SLOTS.into_iter().enumerate() {
            assert_eq!(slot.index(), i);
            assert_eq!(Slot::from_key(slot.name()), Some(slot));
        }
    }

    #[test]
    fn float_timestamps() {
        assert_eq!(float_to_u64(1.0e12), Some(1_000_000_000_000));
        assert_eq!(float_to_u64(1.5), None);
        assert_eq!(float_to_u64(-1.0), None);
        assert_eq!(float_to_u64(f64::NAN), None);
        assert_eq!(float_to_u64(1.0e300), None);
    }

    #[test]
    fn payload_before_event_is_collected_from_the_buffer() {
        let body = br#"{"payload":{"object":{"meeting_uuid":"m","rtms_stream_id":"r","server_urls":"wss://a.zoom.us"},"account_id":"acc"},"event_ts":5,"event":"meeting.rtms_started"}"#;
        let WebhookEvent::RtmsStarted(s) = parse(body).unwrap() else {
            panic!("wrong variant")
        };
        assert_eq!(s.instance.value, "m");
        assert_eq!(s.account_id.as_deref(), Some("acc"));
        assert_eq!(s.event_ts, Some(5));
    }

    #[test]
    fn object_wins_regardless_of_order() {
        let bodies: [&[u8]; 2] = [
            br#"{"event":"meeting.rtms_stopped","payload":{"rtms_stream_id":"top","extra_f":"top","object":{"meeting_uuid":"m","rtms_stream_id":"obj","extra_f":"obj"}}}"#,
            br#"{"event":"meeting.rtms_stopped","payload":{"object":{"meeting_uuid":"m","rtms_stream_id":"obj","extra_f":"obj"},"rtms_stream_id":"top","extra_f":"top"}}"#,
        ];
        for body in bodies {
            let WebhookEvent::RtmsStopped(s) = parse(body).unwrap() else {
                panic!("wrong variant")
            };
            assert_eq!(s.rtms_stream_id, "obj");
            assert_eq!(s.extra["extra_f"], "obj");
        }
    }
}
