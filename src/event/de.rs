//! Private parsing machinery: serde derive plus the builders that turn fields into events.
//!
//! One pass over the body, no `serde_json::Value` tree for a known event:
//!
//! - [`Envelope`] (derived) reads `event`, `event_ts` and `payload`, in any order;
//! - an object payload is read straight into [`Payload`] (derived): one slot per modelled
//!   field (strings borrowed from the body where they have no escapes), `object` (the nested
//!   form, read into [`Object`]) and every other field in a flattened `extra` map. Only those
//!   other fields are buffered by serde (`flatten`); the modelled ones are read directly.
//!   Every known event uses the same struct, so the payload can be read before the event
//!   name is known; the name then decides what is built from it (an unknown event gets the
//!   payload back as a `Value`).
//!
//! Derive refuses a repeated envelope key, a repeated modelled payload field and a repeated
//! `object` (inside `object` too), so one body means one thing whatever the order of its keys.
//! (An unknown event never reads those fields: when its payload repeats one, the body is read
//! again with the payload as a [`RawValue`], and the payload kept as a `Value`.) The builders
//! below turn missing or mistyped fields into structured [`ParseError`]s.
//!
//! Why not a [`RawValue`] payload read after the name: it scans the payload twice (measured
//! +20% instructions for the benchmark fixture, +51% for a 4 KiB payload); one pass is as fast
//! as the hand-written visitors this module replaced.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use super::names::{classify, Kind};
use super::payload::{
    ConcurrencyLimited, ConcurrencyNearLimit, RawServerUrls, RtmsStarted, RtmsStreamEnd,
    StartFailed, UnknownEvent, UrlValidation,
};
use super::{IdField, InstanceId, Lifecycle, ParseError, Product, WebhookEvent};
use crate::codes::StopReason;
use crate::lenient::{integer_from_number, integer_from_text, IntegerTarget};

// ---------------------------------------------------------------------------------------------
// Field values
// ---------------------------------------------------------------------------------------------

/// One modelled payload field as found: any JSON type is accepted here (the builders decide),
/// a string is borrowed from the body when it has no escapes. (24 bytes: the payload struct
/// holds one per modelled field, and stays small to move.)
#[derive(Debug, Default)]
enum Field<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
    Num(Number),
    /// A boolean, an array or an object.
    Other(Box<Value>),
}

impl Field<'_> {
    fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// A non-empty string?
    fn is_text(&self) -> bool {
        matches!(self, Field::Str(s) if !s.is_empty())
    }

    /// Describe the JSON type for an error message (never the value itself).
    fn found(&self) -> &'static str {
        match self {
            Field::Absent | Field::Null => "null",
            Field::Str(s) if s.is_empty() => "an empty string",
            Field::Str(_) => "a string",
            Field::Num(_) => "a number",
            Field::Other(value) => type_name(value),
        }
    }

    /// The value as sent, `None` if absent.
    fn into_value(self) -> Option<Value> {
        match self {
            Field::Absent => None,
            Field::Null => Some(Value::Null),
            Field::Str(s) => Some(Value::String(s.into_owned())),
            Field::Num(n) => Some(Value::Number(n)),
            Field::Other(v) => Some(*v),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor(PhantomData))
    }
}

/// `payload.object`: absent, `null` (for a known event the same as absent), an object, or
/// some other JSON value (kept for an unknown event's payload).
#[derive(Debug, Default)]
enum Nested<'a> {
    #[default]
    Absent,
    Null,
    Object(Box<Object<'a>>),
    NotObject(Field<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Nested<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor(PhantomData))
    }
}

/// The payload: absent, an object read into [`Payload`], or any other JSON value.
#[derive(Debug, Default)]
enum Body<'a> {
    #[default]
    Absent,
    /// Boxed: the struct is large, and moves through several layers of serde.
    Object(Box<Payload<'a>>),
    Other(Field<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Body<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor(PhantomData))
    }
}

/// A type read from any JSON value: an object through `Map`'s `Deserialize` (for a derived
/// struct, straight from the parser: nothing is buffered), anything else as a [`Field`].
trait AnyJson<'de>: Sized {
    type Map: Deserialize<'de>;
    fn object(map: Self::Map) -> Self;
    fn value(value: Field<'de>) -> Self;
}

impl<'de> AnyJson<'de> for Field<'de> {
    type Map = Value;
    fn object(map: Value) -> Self {
        Field::Other(Box::new(map))
    }
    fn value(value: Field<'de>) -> Self {
        value
    }
}

impl<'de> AnyJson<'de> for Nested<'de> {
    type Map = Object<'de>;
    fn object(map: Object<'de>) -> Self {
        Nested::Object(Box::new(map))
    }
    fn value(value: Field<'de>) -> Self {
        match value {
            Field::Null => Nested::Null,
            other => Nested::NotObject(other),
        }
    }
}

impl<'de> AnyJson<'de> for Body<'de> {
    type Map = Payload<'de>;
    fn object(map: Payload<'de>) -> Self {
        Body::Object(Box::new(map))
    }
    fn value(value: Field<'de>) -> Self {
        Body::Other(value)
    }
}

/// The one visitor of this module (see [`AnyJson`]).
struct AnyVisitor<T>(PhantomData<T>);

impl<'de, T: AnyJson<'de>> Visitor<'de> for AnyVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::Map::deserialize(de::value::MapAccessDeserializer::new(map)).map(T::object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(T::value(Field::Other(Box::new(value))))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<T, E> {
        Ok(T::value(Field::Str(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::value(Field::Str(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::value(Field::Str(Cow::Owned(v))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::value(Field::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::value(Field::Null))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        Ok(T::value(Field::Other(Box::new(Value::Bool(v)))))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Ok(T::value(Field::Num(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::value(Field::Num(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // JSON has no NaN or infinity: a parsed float is always finite.
        Ok(T::value(
            Number::from_f64(v).map_or(Field::Null, Field::Num),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The payload: one list of modelled fields, two derived structs
// ---------------------------------------------------------------------------------------------

/// Defines [`Payload`] (the payload itself, with `object`) and [`Object`] (`payload.object`)
/// from one list of modelled fields, and [`FIELD_NAMES`].
macro_rules! payload_fields {
    ($( $field:ident = $name:literal, )*) => {
        /// An object payload: the modelled fields, `object`, and every other field.
        #[derive(Debug, Default, Deserialize)]
        #[serde(default)]
        struct Payload<'a> {
            $(
                #[serde(borrow, rename = $name)]
                $field: Field<'a>,
            )*
            #[serde(borrow)]
            object: Nested<'a>,
            #[serde(flatten)]
            extra: Map<String, Value>,
        }

        /// `payload.object` (the nested form). A further `object` inside it is an ordinary
        /// extra field.
        #[derive(Debug, Default, Deserialize)]
        #[serde(default)]
        struct Object<'a> {
            $(
                #[serde(borrow, rename = $name)]
                $field: Field<'a>,
            )*
            #[serde(flatten)]
            extra: Map<String, Value>,
        }

        /// Every payload key the crate reads (a repeated one is refused).
        const FIELD_NAMES: &[&str] = &[$($name,)* "object"];

        impl<'a> Payload<'a> {
            /// Merge `payload.object` in: a field inside `object` wins over a top-level
            /// field of the same name.
            fn merge(&mut self, object: Object<'a>) {
                $(
                    if !object.$field.is_absent() {
                        self.$field = object.$field;
                    }
                )*
                // Usually the top level has no extra field: keep `object`'s map as it is.
                let top = std::mem::replace(&mut self.extra, object.extra);
                for (key, value) in top {
                    self.extra.entry(key).or_insert(value);
                }
            }

            /// Move every field not taken by a builder into `extra`, and return it.
            fn take_extra(&mut self) -> Map<String, Value> {
                let mut extra = std::mem::take(&mut self.extra);
                $(
                    if let Some(value) = std::mem::take(&mut self.$field).into_value() {
                        extra.insert($name.to_owned(), value);
                    }
                )*
                extra
            }

            /// The payload as sent, as a JSON object (for an unknown event).
            fn into_value(mut self) -> Value {
                let object = std::mem::take(&mut self.object);
                let mut map = self.take_extra();
                match object {
                    Nested::Absent => {}
                    Nested::Null => {
                        map.insert("object".to_owned(), Value::Null);
                    }
                    Nested::NotObject(value) => {
                        map.insert("object".to_owned(), value.into_value().unwrap_or_default());
                    }
                    Nested::Object(nested) => {
                        let Object { $($field,)* extra } = *nested;
                        let mut inner = extra;
                        $(
                            if let Some(value) = $field.into_value() {
                                inner.insert($name.to_owned(), value);
                            }
                        )*
                        map.insert("object".to_owned(), Value::Object(inner));
                    }
                }
                Value::Object(map)
            }
        }
    };
}

payload_fields! {
    meeting_uuid = "meeting_uuid",
    webinar_uuid = "webinar_uuid",
    session_id = "session_id",
    engagement_id = "engagement_id",
    call_id = "call_id",
    rtms_stream_id = "rtms_stream_id",
    server_urls = "server_urls",
    operator_id = "operator_id",
    account_id = "account_id",
    session_key = "session_key",
    stop_reason = "stop_reason",
    concurrency_limit = "concurrency_limit",
    concurrency_number = "concurrency_number",
    percentage = "percentage",
    plain_token = "plainToken",
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

/// `{"event", "event_ts", "payload"}`, read in one pass whatever the key order: the payload
/// is read into the one [`Payload`] struct every known event uses, and the event name then
/// decides what is built from it. Other keys are ignored, a repeated one is refused.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    event: EventName<'a>,
    #[serde(default)]
    event_ts: Timestamp,
    #[serde(default, borrow)]
    payload: Body<'a>,
}

/// The envelope with the payload kept as text: only read when [`Envelope`] refused a payload
/// that repeats a modelled field, to tell an unknown event (never an error: its payload is
/// read as a `Value`) from a known one (a [`ParseError::DuplicateField`]).
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(default, borrow)]
    event: EventName<'a>,
    #[serde(default)]
    event_ts: Timestamp,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

/// `event`, leniently: anything but a non-empty string is "no name".
#[derive(Default)]
struct EventName<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for EventName<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Field::deserialize(deserializer)? {
            Field::Str(name) if !name.is_empty() => Ok(EventName(Some(name))),
            _ => Ok(EventName(None)),
        }
    }
}

/// `event_ts`, leniently: read by the crate's one integer rule
/// ([`IntegerTarget`](crate::lenient::IntegerTarget)) as a `u64` (an integer kept exactly,
/// whatever its size; an integral float below 2^53; a string of digits); anything else is `None`.
#[derive(Default)]
struct Timestamp(Option<u64>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Timestamp(integer(&Field::deserialize(deserializer)?)))
    }
}

/// A field read as an integer by the crate's one rule ([`IntegerTarget`]).
fn integer<T: IntegerTarget>(field: &Field<'_>) -> Option<T> {
    match field {
        Field::Num(n) => integer_from_number(n),
        Field::Str(s) => integer_from_text(s),
        _ => None,
    }
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

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parse a webhook body (see [`WebhookEvent::parse`]).
pub(crate) fn parse(body: &[u8]) -> Result<WebhookEvent, ParseError> {
    let text = json_object_text(body)?;
    let envelope: Envelope<'_> = match serde_json::from_str(text) {
        Ok(envelope) => envelope,
        Err(e) => {
            return match repeated_field(&e) {
                Some(field) => reparse_repeated(text, field),
                None => Err(ParseError::json(&e)),
            }
        }
    };
    let event = envelope.event.0.ok_or(ParseError::MissingEventName)?;
    let event_ts = envelope.event_ts.0;
    let kind = classify(&event);
    let mut payload = match (kind, envelope.payload) {
        (Kind::Unknown, payload) => {
            let payload = match payload {
                Body::Absent => Value::Null,
                Body::Object(payload) => payload.into_value(),
                Body::Other(value) => value.into_value().unwrap_or_default(),
            };
            return Ok(WebhookEvent::Unknown(UnknownEvent {
                event: event.into_owned(),
                event_ts,
                payload,
            }));
        }
        (_, Body::Object(payload)) => payload,
        (_, Body::Absent) => {
            return Err(ParseError::MissingPayload {
                event: event.into_owned(),
            })
        }
        (_, Body::Other(value)) => {
            return Err(ParseError::PayloadNotAnObject {
                event: event.into_owned(),
                found: value.found(),
            })
        }
    };
    match std::mem::take(&mut payload.object) {
        Nested::Absent | Nested::Null => {}
        Nested::Object(object) => payload.merge(*object),
        Nested::NotObject(value) => {
            return Err(ParseError::InvalidField {
                event: event.into_owned(),
                field: "object",
                expected: "a JSON object",
                found: value.found(),
            })
        }
    }
    build(kind, event, event_ts, &mut payload)
}

/// The body as text, if it is UTF-8 and (after whitespace) starts a JSON object.
fn json_object_text(body: &[u8]) -> Result<&str, ParseError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        // Report a syntax error first, if there is one (as the JSON parser would).
        match serde_json::from_slice::<IgnoredAny>(body) {
            Err(json) => ParseError::json(&json),
            Ok(_) => ParseError::InvalidJson(format!("the body is not UTF-8: {e}")),
        }
    })?;
    let value = text.trim_start_matches([' ', '\n', '\r', '\t']);
    if value.starts_with('{') {
        return Ok(text);
    }
    // Derive would read a top-level array as a struct: report the syntax error, if any, or
    // the type (never the value: it may be huge or secret).
    Err(match serde_json::from_str::<Value>(text) {
        Err(e) => ParseError::json(&e),
        Ok(value) => ParseError::InvalidJson(format!(
            "expected a JSON object at the top level, found {}",
            type_name(&value)
        )),
    })
}

/// The modelled payload field a serde error reports as repeated, if that is the error.
fn repeated_field(err: &serde_json::Error) -> Option<&'static str> {
    let message = err.to_string();
    let name = message
        .strip_prefix("duplicate field `")?
        .split('`')
        .next()?;
    FIELD_NAMES.iter().copied().find(|known| *known == name)
}

/// A payload repeated a modelled field: an error for a known event, but an unknown event's
/// payload is never read for those fields, so it is kept as a `Value` (last copy wins, as
/// `serde_json::Value` does).
fn reparse_repeated(text: &str, field: &'static str) -> Result<WebhookEvent, ParseError> {
    let envelope: RawEnvelope<'_> = serde_json::from_str(text).map_err(|e| ParseError::json(&e))?;
    let event = envelope.event.0.ok_or(ParseError::MissingEventName)?;
    if classify(&event) != Kind::Unknown {
        return Err(ParseError::DuplicateField {
            event: event.into_owned(),
            field,
        });
    }
    let payload = match envelope.payload {
        None => Value::Null,
        Some(raw) => serde_json::from_str(raw.get()).map_err(|e| ParseError::json(&e))?,
    };
    Ok(WebhookEvent::Unknown(UnknownEvent {
        event: event.into_owned(),
        event_ts: envelope.event_ts.0,
        payload,
    }))
}

// ---------------------------------------------------------------------------------------------
// Building the typed event
// ---------------------------------------------------------------------------------------------

fn build(
    kind: Kind,
    event: Cow<'_, str>,
    event_ts: Option<u64>,
    p: &mut Payload<'_>,
) -> Result<WebhookEvent, ParseError> {
    match kind {
        Kind::UrlValidation => {
            let plain_token = required_str(&mut p.plain_token, "plainToken", &event)?;
            Ok(WebhookEvent::UrlValidation(UrlValidation {
                plain_token,
                event_ts,
            }))
        }
        Kind::Lifecycle(product, lifecycle) => {
            build_lifecycle(event.into_owned(), event_ts, product, lifecycle, p)
        }
        Kind::ConcurrencyNearLimit => {
            let mut extra = Map::new();
            let account_id = lenient_str(&mut p.account_id, "account_id", &mut extra);
            let concurrency_limit =
                lenient_u64(&mut p.concurrency_limit, "concurrency_limit", &mut extra);
            let concurrency_number =
                lenient_u64(&mut p.concurrency_number, "concurrency_number", &mut extra);
            let percentage = lenient_f64(&mut p.percentage, "percentage", &mut extra);
            Ok(WebhookEvent::ConcurrencyNearLimit(ConcurrencyNearLimit {
                event_ts,
                account_id,
                concurrency_limit,
                concurrency_number,
                percentage,
                extra: with_rest(extra, p),
            }))
        }
        Kind::ConcurrencyLimited => {
            let mut extra = Map::new();
            let (product, instance) = first_instance(p, &mut extra);
            let account_id = lenient_str(&mut p.account_id, "account_id", &mut extra);
            let operator_id = lenient_str(&mut p.operator_id, "operator_id", &mut extra);
            let concurrency_number =
                lenient_u64(&mut p.concurrency_number, "concurrency_number", &mut extra);
            Ok(WebhookEvent::ConcurrencyLimited(ConcurrencyLimited {
                event_ts,
                account_id,
                product,
                instance,
                operator_id,
                concurrency_number,
                extra: with_rest(extra, p),
            }))
        }
        Kind::StartFailed => {
            let mut extra = Map::new();
            let (product, instance) = first_instance(p, &mut extra);
            let account_id = lenient_str(&mut p.account_id, "account_id", &mut extra);
            let rtms_stream_id = lenient_str(&mut p.rtms_stream_id, "rtms_stream_id", &mut extra);
            Ok(WebhookEvent::StartFailed(StartFailed {
                event_ts,
                account_id,
                product,
                instance,
                rtms_stream_id,
                extra: with_rest(extra, p),
            }))
        }
        // Handled by the caller; kept total without a panic.
        Kind::Unknown => Err(ParseError::MissingEventName),
    }
}

fn build_lifecycle(
    event: String,
    event_ts: Option<u64>,
    product: Product,
    lifecycle: Lifecycle,
    p: &mut Payload<'_>,
) -> Result<WebhookEvent, ParseError> {
    let mut extra = Map::new();
    if lifecycle == Lifecycle::Started {
        let instance = required_instance(p, product, &event)?;
        let rtms_stream_id = required_str(&mut p.rtms_stream_id, "rtms_stream_id", &event)?;
        let server_urls = required_server_urls(&mut p.server_urls, &event)?;
        let operator_id = lenient_str(&mut p.operator_id, "operator_id", &mut extra);
        let account_id = lenient_str(&mut p.account_id, "account_id", &mut extra);
        let session_key = lenient_str(&mut p.session_key, "session_key", &mut extra);
        return Ok(WebhookEvent::RtmsStarted(RtmsStarted {
            event,
            event_ts,
            product,
            instance,
            rtms_stream_id,
            server_urls,
            operator_id,
            account_id,
            session_key,
            extra: with_rest(extra, p),
        }));
    }
    // Stopped / interrupted: the stream id is all acting on the event needs.
    let rtms_stream_id = required_str(&mut p.rtms_stream_id, "rtms_stream_id", &event)?;
    let instance = optional_instance(p, product);
    let stop_reason = stop_reason(&mut p.stop_reason, &mut extra);
    let operator_id = lenient_str(&mut p.operator_id, "operator_id", &mut extra);
    let account_id = lenient_str(&mut p.account_id, "account_id", &mut extra);
    let end = RtmsStreamEnd {
        event,
        event_ts,
        product,
        instance,
        rtms_stream_id,
        stop_reason,
        operator_id,
        account_id,
        extra: with_rest(extra, p),
    };
    Ok(if lifecycle == Lifecycle::Stopped {
        WebhookEvent::RtmsStopped(end)
    } else {
        WebhookEvent::RtmsInterrupted(end)
    })
}

/// The fields a builder set aside (`rejected`) plus every field it did not take.
fn with_rest(rejected: Map<String, Value>, p: &mut Payload<'_>) -> Map<String, Value> {
    let mut extra = p.take_extra();
    if extra.is_empty() {
        return rejected;
    }
    extra.extend(rejected);
    extra
}

/// The product's id slot. Webinars are identified by `webinar_uuid` (Zoom's spec) or
/// `meeting_uuid` (other Zoom documents); `webinar_uuid` is preferred when both are present.
fn id_slot<'p, 'a>(
    p: &'p mut Payload<'a>,
    product: Product,
) -> (&'p mut Field<'a>, IdField, &'static str) {
    match product {
        Product::Meeting => (&mut p.meeting_uuid, IdField::MeetingUuid, "meeting_uuid"),
        Product::Webinar
            if !p.webinar_uuid.is_absent() && !matches!(p.webinar_uuid, Field::Null) =>
        {
            (&mut p.webinar_uuid, IdField::WebinarUuid, "webinar_uuid")
        }
        Product::Webinar
            if !p.meeting_uuid.is_absent() && !matches!(p.meeting_uuid, Field::Null) =>
        {
            (&mut p.meeting_uuid, IdField::MeetingUuid, "meeting_uuid")
        }
        Product::Webinar => (&mut p.webinar_uuid, IdField::WebinarUuid, "webinar_uuid"),
        Product::VideoSdk => (&mut p.session_id, IdField::SessionId, "session_id"),
        Product::ContactCenter => (&mut p.engagement_id, IdField::EngagementId, "engagement_id"),
        Product::Phone => (&mut p.call_id, IdField::CallId, "call_id"),
    }
}

/// The id field of a started event: required, a non-empty string.
fn required_instance(
    p: &mut Payload<'_>,
    product: Product,
    event: &str,
) -> Result<InstanceId, ParseError> {
    let (slot, field, name) = id_slot(p, product);
    let value = required_str(slot, name, event)?;
    Ok(InstanceId { field, value })
}

/// The id field of a stopped / interrupted event: taken if it is a non-empty string (for
/// webinars `webinar_uuid`, else `meeting_uuid`); otherwise left in place (so in `extra`).
fn optional_instance(p: &mut Payload<'_>, product: Product) -> Option<InstanceId> {
    let (slot, field) = match product {
        Product::Webinar if p.webinar_uuid.is_text() => (&mut p.webinar_uuid, IdField::WebinarUuid),
        Product::Webinar => (&mut p.meeting_uuid, IdField::MeetingUuid),
        _ => {
            let (slot, field, _) = id_slot(p, product);
            (slot, field)
        }
    };
    if !slot.is_text() {
        return None;
    }
    match std::mem::take(slot) {
        Field::Str(value) => Some(InstanceId {
            field,
            value: value.into_owned(),
        }),
        _ => None,
    }
}

/// The first id field present (for account-level events, where it is optional); other types
/// are set aside in `extra`.
fn first_instance(
    p: &mut Payload<'_>,
    extra: &mut Map<String, Value>,
) -> (Option<Product>, Option<InstanceId>) {
    let meeting_product = if p.extra.contains_key("webinar_id") {
        Product::Webinar
    } else {
        Product::Meeting
    };
    let candidates = [
        (IdField::WebinarUuid, Product::Webinar),
        (IdField::MeetingUuid, meeting_product),
        (IdField::SessionId, Product::VideoSdk),
        (IdField::EngagementId, Product::ContactCenter),
        (IdField::CallId, Product::Phone),
    ];
    for (field, product) in candidates {
        let slot = match field {
            IdField::WebinarUuid => &mut p.webinar_uuid,
            IdField::MeetingUuid => &mut p.meeting_uuid,
            IdField::SessionId => &mut p.session_id,
            IdField::EngagementId => &mut p.engagement_id,
            IdField::CallId => &mut p.call_id,
        };
        match std::mem::take(slot) {
            Field::Str(value) if !value.is_empty() => {
                let value = value.into_owned();
                return (Some(product), Some(InstanceId { field, value }));
            }
            Field::Absent | Field::Null => {}
            other => {
                if let Some(value) = other.into_value() {
                    extra.insert(field.as_str().to_owned(), value);
                }
            }
        }
    }
    (None, None)
}

/// A required field: a non-empty string; `null` counts as missing.
fn required_str(
    field: &mut Field<'_>,
    name: &'static str,
    event: &str,
) -> Result<String, ParseError> {
    match std::mem::take(field) {
        Field::Str(s) if !s.is_empty() => Ok(s.into_owned()),
        Field::Absent | Field::Null => Err(ParseError::MissingField {
            event: event.to_owned(),
            field: name,
        }),
        other => Err(ParseError::InvalidField {
            event: event.to_owned(),
            field: name,
            expected: "a non-empty string",
            found: other.found(),
        }),
    }
}

/// `server_urls` of a started event: a non-empty string, or a non-empty array of strings.
fn required_server_urls(field: &mut Field<'_>, event: &str) -> Result<RawServerUrls, ParseError> {
    const NAME: &str = "server_urls";
    let invalid = |found| ParseError::InvalidField {
        event: event.to_owned(),
        field: NAME,
        expected: "a non-empty string or array of strings",
        found,
    };
    match std::mem::take(field) {
        Field::Str(s) if !s.is_empty() => Ok(RawServerUrls::Text(s.into_owned())),
        Field::Absent | Field::Null => Err(ParseError::MissingField {
            event: event.to_owned(),
            field: NAME,
        }),
        Field::Other(value) => match *value {
            Value::Array(items) if items.is_empty() => Err(invalid("an empty array")),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(invalid("an array with a non-string element")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(RawServerUrls::List),
            other => Err(invalid(type_name(&other))),
        },
        other => Err(invalid(other.found())),
    }
}

/// An optional text field: a string, or a number kept as its decimal text. Other types are
/// set aside in `extra` and give `None`.
fn lenient_str(
    field: &mut Field<'_>,
    name: &'static str,
    extra: &mut Map<String, Value>,
) -> Option<String> {
    match std::mem::take(field) {
        Field::Str(s) => Some(s.into_owned()),
        Field::Num(n) => Some(n.to_string()),
        Field::Absent | Field::Null => None,
        other => {
            reject(extra, name, other);
            None
        }
    }
}

/// An optional count: a `u64` by the crate's one integer rule ([`IntegerTarget`]); else set
/// aside.
fn lenient_u64(
    field: &mut Field<'_>,
    name: &'static str,
    extra: &mut Map<String, Value>,
) -> Option<u64> {
    let value = std::mem::take(field);
    let parsed = integer(&value);
    if parsed.is_none() {
        reject(extra, name, value);
    }
    parsed
}

/// An optional number: any JSON number or a numeric string (a trailing `%` is allowed);
/// else set aside.
fn lenient_f64(
    field: &mut Field<'_>,
    name: &'static str,
    extra: &mut Map<String, Value>,
) -> Option<f64> {
    let value = std::mem::take(field);
    let parsed = match &value {
        Field::Num(n) => n.as_f64(),
        Field::Str(s) => s
            .trim()
            .trim_end_matches('%')
            .trim_end()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite()),
        _ => None,
    };
    if parsed.is_none() {
        reject(extra, name, value);
    }
    parsed
}

/// `stop_reason`: a code by the crate's one integer rule ([`IntegerTarget`]), as a protocol
/// frame reads it (`6`, `6.0` and `"6"` are 6); else set aside.
fn stop_reason(field: &mut Field<'_>, extra: &mut Map<String, Value>) -> Option<StopReason> {
    let value = std::mem::take(field);
    let parsed = integer::<i64>(&value).map(StopReason::from);
    if parsed.is_none() {
        reject(extra, "stop_reason", value);
    }
    parsed
}

/// Keep a value a builder could not use (not `null`, not absent) under its own name.
fn reject(extra: &mut Map<String, Value>, name: &'static str, value: Field<'_>) {
    if let Field::Absent | Field::Null = value {
        return;
    }
    if let Some(value) = value.into_value() {
        extra.insert(name.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_timestamps() {
        let ts = |json: &str| serde_json::from_str::<Timestamp>(json).unwrap().0;
        assert_eq!(ts("1.0e12"), Some(1_000_000_000_000));
        assert_eq!(ts("1.5"), None);
        assert_eq!(ts("-1.0"), None);
        assert_eq!(ts("-1"), None);
        assert_eq!(ts("1.0e300"), None);
        assert_eq!(ts("\" 17 \""), Some(17));
    }

    #[test]
    fn every_modelled_field_is_a_duplicate_when_repeated_in_a_known_event() {
        for name in FIELD_NAMES {
            let body = format!(
                r#"{{"event":"meeting.rtms_started","payload":{{"{name}":1,"{name}":2}}}}"#
            );
            assert_eq!(
                parse(body.as_bytes()),
                Err(ParseError::DuplicateField {
                    event: "meeting.rtms_started".to_owned(),
                    field: name,
                }),
                "{name}"
            );
            // Unknown events never read those fields: last copy wins, as in a `Value`.
            let body = format!(r#"{{"event":"x.y","payload":{{"{name}":1,"{name}":2}}}}"#);
            let Ok(WebhookEvent::Unknown(unknown)) = parse(body.as_bytes()) else {
                panic!("{name}: not unknown")
            };
            assert_eq!(unknown.payload, serde_json::json!({ *name: 2 }), "{name}");
        }
    }
}
