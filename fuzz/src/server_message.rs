//! Target `server_message` (feature `protocol`): [`ServerMessage::parse`] of one server→client
//! frame, and the media decode the client runs on it.
//!
//! The raw fuzz input is the frame: the bytes of a text frame (UTF-8) or of a binary frame
//! (anything); `parse` takes both as bytes. The checks, beyond "no panic":
//!
//! - **A reference model** (`serde_json::Value`): a JSON object whose top-level keys are
//!   unique and whose `msg_type` reads as an integer (the crate's lenient rule: an integer, an
//!   integral float, a numeric string) parses, with that `msg_type`; without one it is
//!   `MissingMsgType`; other JSON is `NotAnObject`; UTF-8 that is not JSON is an error.
//!   Duplicate top-level keys are left out of the model (RFC 8259 leaves them undefined), and
//!   so are numbers beyond `f64` (`Value` refuses them; the crate skips them where unread).
//! - **Two paths, one answer**: the media hot path (`msg_type` first) and the general
//!   envelope (the same frame with a key put before `msg_type`) give the same message.
//! - **Round trip**: the message written back (`to_json`) parses to the same message, and is
//!   a fixed point of parse + write (except what the writer modernises on purpose, the legacy
//!   `status` and `media_urls` of msg_type 2, and floats in kept JSON values).
//! - **Media decode**: `decode_into` a dirty reused buffer gives exactly `decoded_len()`
//!   bytes, re-encodes (unpadded) to the payload text, agrees with the client's path
//!   (`decode_slice` into a slice of `len.div_ceil(4) * 3` bytes) and repeats identically.

use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use zoom_rtms_webhooks::codes::MsgType;
use zoom_rtms_webhooks::handshake::SignalingHandshakeResponse;
use zoom_rtms_webhooks::protocol::incoming::{
    ChatData, DecodeError, MediaData, ParseError, ServerMessage, Speaker,
};

/// The client's engine: standard alphabet, padding optional (as in `protocol::incoming`).
const CLIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The top-level keys of a JSON object, in order, duplicates kept.
struct TopKeys(Vec<String>);

impl<'de> Deserialize<'de> for TopKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TopKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(TopKeys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// The model of the crate's lenient integer: an `i64`, an integral float within ±9e15, or a
/// string that parses as an `i64` once trimmed.
fn model_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i)
            } else if n.is_u64() {
                None
            } else {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (-9.0e15..=9.0e15).contains(f))
                    .map(|f| f as i64)
            }
        }
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The frame with a key put before everything else (so `msg_type` is no longer first and the
/// general envelope reads it); `None` when the frame does not start with `{`.
fn with_leading_key(data: &[u8]) -> Option<Vec<u8>> {
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    if data[start] != b'{' {
        return None;
    }
    let rest = &data[start + 1..];
    let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
    let mut out = b"{\"~fuzz~\":0".to_vec();
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Some(out)
}

fn parse_error_kind(e: &ParseError) -> &'static str {
    match e {
        ParseError::Json(_) => "json",
        ParseError::NotAnObject => "not an object",
        ParseError::MissingMsgType => "missing msg_type",
        _ => "other",
    }
}

/// `ServerMessage::parse` against the model, the other path, the writer and the decoder.
pub fn server_message(data: &[u8]) {
    let parsed = ServerMessage::parse(data);

    // Determinism.
    match (&parsed, &ServerMessage::parse(data)) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "parse is not deterministic"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("parse is not deterministic"),
    }

    // The reference model.
    let model: Option<Value> = serde_json::from_slice(data).ok();
    let unique_keys = serde_json::from_slice::<TopKeys>(data)
        .ok()
        .is_some_and(|k| {
            let mut sorted = k.0.clone();
            sorted.sort();
            sorted.dedup();
            sorted.len() == k.0.len()
        });
    let model_code = match &model {
        Some(Value::Object(map)) if unique_keys => {
            let code = map.get("msg_type").and_then(model_int);
            match (&parsed, code) {
                (Ok(msg), Some(code)) => {
                    assert_eq!(msg.msg_type().code(), code, "msg_type not preserved")
                }
                (Err(e), Some(code)) => {
                    panic!("an object with msg_type {code} is refused: {e:?}")
                }
                (Err(ParseError::MissingMsgType), None) => {}
                (other, None) => panic!("no integer msg_type, yet {other:?}"),
            }
            code
        }
        Some(Value::Object(_)) => None,
        Some(_) => {
            assert!(
                matches!(parsed, Err(ParseError::NotAnObject)),
                "JSON that is no object: {parsed:?}"
            );
            None
        }
        None => {
            // Syntax only: `Value` also refuses numbers out of `f64` range (`1e400`), which the
            // crate may skip or keep as raw text, and `IgnoredAny` skips strings without
            // checking UTF-8, hence only for text.
            let syntax = serde_json::from_slice::<IgnoredAny>(data).is_ok();
            if std::str::from_utf8(data).is_ok() && !syntax {
                assert!(parsed.is_err(), "text that is not JSON parsed: {parsed:?}");
            }
            None
        }
    };

    let msg = match parsed {
        Ok(msg) => msg,
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty() && text.len() <= super::MAX_ERROR_TEXT);
            assert!(!parse_error_kind(&e).is_empty());
            return;
        }
    };
    let _ = format!("{msg:?}");

    // Two paths, one answer (the media hot path reads only frames whose msg_type is first).
    if model_code.is_some() && !data.windows(8).any(|w| w == b"\"~fuzz~\"") {
        if let Some(variant) = with_leading_key(data) {
            let other = ServerMessage::parse(&variant)
                .unwrap_or_else(|e| panic!("the same message with a leading key: {e:?}"));
            match (&msg, &other) {
                // The frame itself is kept; the handshake response keeps unknown keys.
                (ServerMessage::Other { .. }, _)
                | (ServerMessage::SignalingHandshakeResponse(_), _) => {
                    assert_eq!(msg.msg_type(), other.msg_type())
                }
                _ => assert_eq!(msg, other, "the envelope and the hot path disagree"),
            }
        }
    }

    // Round trip through the writer.
    let json = msg.to_json();
    match &msg {
        ServerMessage::Other { msg_type, .. } => {
            if model.is_some() {
                let again = ServerMessage::parse(json.as_bytes())
                    .unwrap_or_else(|e| panic!("written Other does not parse: {e:?} {json}"));
                assert_eq!(again.msg_type(), *msg_type);
                assert!(matches!(again, ServerMessage::Other { .. }), "{again:?}");
            }
        }
        _ => {
            let again = ServerMessage::parse(json.as_bytes())
                .unwrap_or_else(|e| panic!("written message does not parse: {e:?} {json}"));
            if holds_float(&msg) {
                // serde_json (without `float_roundtrip`) may read back its own float text one
                // ulp off: only the shape is compared.
                assert_eq!(again.msg_type(), msg.msg_type());
            } else if let (
                ServerMessage::SignalingHandshakeResponse(a),
                ServerMessage::SignalingHandshakeResponse(b),
            ) = (&msg, &again)
            {
                // The writer turns the legacy `status` and `media_urls` into `status_code` and
                // `media_server.server_urls` (by design): the rest is kept.
                let modern = |r: &SignalingHandshakeResponse| {
                    let mut r = r.clone();
                    for key in ["status", "media_urls", "media_server"] {
                        r.extra.remove(key);
                    }
                    r
                };
                assert_eq!(
                    modern(a),
                    modern(b),
                    "round trip changed the message: {json}"
                );
                assert_eq!(again.to_json(), json, "writing is not a fixed point");
            } else {
                assert_eq!(again, msg, "round trip changed the message: {json}");
                assert_eq!(again.to_json(), json, "writing is not a fixed point");
            }
        }
    }
    assert!(
        json.is_empty()
            || json.starts_with("{\"msg_type\":")
            || matches!(msg, ServerMessage::Other { .. }),
        "{json}"
    );

    // Per type.
    match &msg {
        ServerMessage::Audio(m) | ServerMessage::Video(m) | ServerMessage::Share(m) => {
            check_media(m);
            check_speaker(m.speaker(), m.channel_id.as_deref(), m.user_id);
        }
        ServerMessage::Transcript(t) => {
            check_speaker(t.speaker(), t.channel_id.as_deref(), t.user_id);
        }
        ServerMessage::Chat(c) => {
            let json = c.json();
            assert_eq!(json.is_some(), c.data.is_some());
            match &c.data {
                Some(ChatData::Text(t)) => assert_eq!(c.text(), Some(t.as_ref())),
                _ => assert_eq!(c.text(), None),
            }
        }
        ServerMessage::KeepAliveRequest(k) => {
            let raw = k.raw_timestamp().map(|r| r.get().to_owned());
            let model = raw
                .as_deref()
                .and_then(|r| serde_json::from_str::<Value>(r).ok())
                .as_ref()
                .and_then(model_int);
            assert_eq!(k.timestamp(), model, "keep-alive timestamp {raw:?}");
        }
        ServerMessage::DataHandshakeResponse(r) => {
            let _ = r.audio_format();
            assert_eq!(
                r.status.is_ok(),
                r.status.code.is_some_and(|c| c.code() == 0)
            );
        }
        _ => {}
    }
    assert_eq!(MsgType::from(msg.msg_type().code()), msg.msg_type());
}

/// Whether the message keeps a JSON value (unmodelled fields, chat data) with a float in it.
fn holds_float(msg: &ServerMessage<'_>) -> bool {
    fn float(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.is_f64(),
            Value::Array(a) => a.iter().any(float),
            Value::Object(o) => o.values().any(float),
            _ => false,
        }
    }
    match msg {
        ServerMessage::SignalingHandshakeResponse(r) => r.extra.values().any(float),
        ServerMessage::Chat(c) => matches!(&c.data, Some(ChatData::Json(v)) if float(v)),
        _ => false,
    }
}

fn check_speaker(speaker: Speaker<'_>, channel_id: Option<&str>, user_id: Option<i64>) {
    match (channel_id, user_id) {
        (Some(ch), None) => assert_eq!(speaker, Speaker::Channel(ch)),
        _ => assert!(matches!(speaker, Speaker::User { id, .. } if id == user_id)),
    }
}

/// The payload decode: the protocol core's `decode_into` and the client's `decode_slice`.
fn check_media(m: &MediaData<'_>) {
    let mut buf = vec![0xAA; 7];
    let result = m.decode_into(&mut buf);
    let Some(text) = m.data.as_deref() else {
        assert!(matches!(result, Err(DecodeError::NoData)), "{result:?}");
        assert_eq!(m.decoded_len(), None);
        return;
    };

    // The client: a slice of the largest possible size, then truncated.
    let mut arena = vec![0x55; text.len().div_ceil(4) * 3];
    let client = CLIENT_BASE64
        .decode_slice(text.as_bytes(), &mut arena[..])
        .map(|n| &arena[..n]);

    match result {
        Ok(()) => {
            assert_eq!(Some(buf.len()), m.decoded_len(), "decoded_len for {text:?}");
            assert!(buf.len() <= text.len().div_ceil(4) * 3);
            assert_eq!(
                general_purpose::STANDARD_NO_PAD.encode(&buf),
                text.trim_end_matches('='),
                "not the canonical decoding of {text:?}"
            );
            assert_eq!(
                client.ok(),
                Some(&buf[..]),
                "the client decodes {text:?} otherwise"
            );
            // Reuse: decoding again replaces the contents.
            let first = buf.clone();
            m.decode_into(&mut buf).expect("second decode");
            assert_eq!(buf, first);
        }
        Err(DecodeError::Base64) => {
            assert!(client.is_err(), "only the client decodes {text:?}");
        }
        Err(e) => panic!("{e:?} with data present"),
    }
}
