//! Tolerant field readers for server→client messages: a field of an unexpected JSON type is read as
//! absent instead of failing the whole message (`docs/protocol.md#tolerant-parsing`). Used by the
//! signalling handshake response ([`crate::handshake`]) and the protocol core.
// Without the `protocol` feature only the handshake response's readers are used.
#![cfg_attr(not(feature = "protocol"), allow(dead_code))]

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The crate's one rule for reading a JSON value as an integer of type `T` (a count, a
/// timestamp, a code), in webhooks and in protocol messages alike:
///
/// - a JSON integer is read if it fits `T`;
/// - a float is read if it holds an integer exactly (`6.0` is 6; `6.5` is not), below 2^53 in
///   magnitude (above, a float no longer tells neighbouring integers apart), and fits `T`;
/// - a string is read if, once surrounding spaces are trimmed, it parses as `T` (`" 6 "` is 6;
///   `"6.0"` is not);
/// - anything else, and any value out of `T`'s range (a negative count, say), is not read.
///
/// [`Integer`] applies it while deserializing; [`integer_from_number`] and [`integer_from_text`]
/// apply it to a value already read (the webhook parser buffers its fields).
pub(crate) trait IntegerTarget: TryFrom<i64> + TryFrom<u64> + FromStr {}

impl IntegerTarget for i64 {}
impl IntegerTarget for u64 {}

/// A float that holds an integer exactly, as `T` (see [`IntegerTarget`]).
fn integer_from_f64<T: IntegerTarget>(v: f64) -> Option<T> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if v.fract() != 0.0 || v.abs() >= EXACT {
        return None; // also NaN and the infinities (JSON has neither)
    }
    // Integral and below 2^53: the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    let v = v as i64;
    T::try_from(v).ok()
}

/// A JSON number (already read) as `T`, by the rule of [`IntegerTarget`].
pub(crate) fn integer_from_number<T: IntegerTarget>(n: &serde_json::Number) -> Option<T> {
    if let Some(v) = n.as_u64() {
        T::try_from(v).ok()
    } else if let Some(v) = n.as_i64() {
        T::try_from(v).ok()
    } else {
        n.as_f64().and_then(integer_from_f64)
    }
}

/// A JSON string (already read) as `T`, by the rule of [`IntegerTarget`].
pub(crate) fn integer_from_text<T: IntegerTarget>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

macro_rules! skip_compound {
    () => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
}

/// An integer that never fails: read by the rule of [`IntegerTarget`], anything else is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Integer<T>(pub(crate) Option<T>);

impl<T> Default for Integer<T> {
    fn default() -> Self {
        Integer(None)
    }
}

/// The protocol's integers (codes, lengths, timestamps, ids): signed.
pub(crate) type Int = Integer<i64>;

impl<'de, T: IntegerTarget> Deserialize<'de> for Integer<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: IntegerTarget> Visitor<'de> for V<T> {
            type Value = Integer<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Integer<T>, E> {
                Ok(Integer(T::try_from(v).ok()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Integer<T>, E> {
                Ok(Integer(T::try_from(v).ok()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Integer<T>, E> {
                Ok(Integer(integer_from_f64(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Integer<T>, E> {
                Ok(Integer(None))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Integer<T>, E> {
                Ok(Integer(integer_from_text(v)))
            }
            skip_compound!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A boolean that never fails: `true`/`false`, `0`/`1` and `"true"`/`"false"` are read,
/// anything else is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bool(pub(crate) Option<bool>);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bool, E> {
                Ok(Bool(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bool, E> {
                Ok(Bool(match v {
                    0 => Some(false),
                    1 => Some(true),
                    _ => None,
                }))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bool, E> {
                Ok(Bool(match v {
                    0 => Some(false),
                    1 => Some(true),
                    _ => None,
                }))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Bool, E> {
                Ok(Bool(None))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bool, E> {
                Ok(Bool(match v {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                }))
            }
            skip_compound!();
        }
        d.deserialize_any(V)
    }
}

/// A string that never fails: borrowed when the JSON string has no escapes, owned otherwise;
/// a number is kept as its decimal text; anything else is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Str<'a>(pub(crate) Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Some(Cow::Owned(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Str<'de>, E> {
                Ok(Str(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Str<'de>, E> {
                Ok(Str(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Str<'de>, E> {
                Ok(Str(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Str<'de>, E> {
                Ok(Str(None))
            }
            skip_compound!();
        }
        d.deserialize_any(V)
    }
}

impl<'a> Str<'a> {
    pub(crate) fn into_inner(self) -> Option<Cow<'a, str>> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json` read as an `Integer<T>`, while deserializing.
    fn read<T: IntegerTarget>(json: &str) -> Option<T> {
        serde_json::from_str::<Integer<T>>(json).unwrap().0
    }

    /// `json` read as a `T` from a value already parsed (the webhook parser's path).
    fn read_value<T: IntegerTarget>(json: &str) -> Option<T> {
        match serde_json::from_str::<serde_json::Value>(json).unwrap() {
            serde_json::Value::Number(n) => integer_from_number(&n),
            serde_json::Value::String(s) => integer_from_text(&s),
            _ => None,
        }
    }

    #[test]
    fn one_integer_rule_for_both_paths() {
        // (JSON, as i64, as u64)
        let table: &[(&str, Option<i64>, Option<u64>)] = &[
            ("6", Some(6), Some(6)),
            ("6.0", Some(6), Some(6)),
            ("6e0", Some(6), Some(6)),
            ("-0.0", Some(0), Some(0)),
            ("6.5", None, None),
            ("-6", Some(-6), None),
            ("-6.0", Some(-6), None),
            ("\"42\"", Some(42), Some(42)),
            ("\" 42 \"", Some(42), Some(42)),
            ("\"-3\"", Some(-3), None),
            ("\"6.0\"", None, None),
            ("\"x\"", None, None),
            (
                "1e15",
                Some(1_000_000_000_000_000),
                Some(1_000_000_000_000_000),
            ),
            ("1e16", None, None),
            ("1e300", None, None),
            ("18446744073709551615", None, Some(u64::MAX)),
            ("\"18446744073709551615\"", None, Some(u64::MAX)),
            ("18446744073709551616", None, None),
            ("-9223372036854775808", Some(i64::MIN), None),
        ];
        for &(json, as_i64, as_u64) in table {
            assert_eq!(read::<i64>(json), as_i64, "{json} as i64");
            assert_eq!(read::<u64>(json), as_u64, "{json} as u64");
            assert_eq!(read_value::<i64>(json), as_i64, "{json} as i64, buffered");
            assert_eq!(read_value::<u64>(json), as_u64, "{json} as u64, buffered");
        }
        // The float bound, exactly (JSON text of these is not parsed exactly by serde_json).
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        assert_eq!(
            integer_from_f64::<i64>(EXACT - 1.0),
            Some(9_007_199_254_740_991)
        );
        assert_eq!(
            integer_from_f64::<i64>(1.0 - EXACT),
            Some(-9_007_199_254_740_991)
        );
        assert_eq!(integer_from_f64::<i64>(EXACT), None);
        assert_eq!(integer_from_f64::<u64>(EXACT), None);
        assert_eq!(integer_from_f64::<i64>(f64::NAN), None);
        assert_eq!(integer_from_f64::<i64>(f64::INFINITY), None);
        for json in ["null", "true", "[1]", "{\"a\":[1,2]}"] {
            assert_eq!(read::<i64>(json), None, "{json}");
            assert_eq!(read::<u64>(json), None, "{json}");
        }
    }

    #[test]
    fn lenient_readers() {
        let v: Bool = serde_json::from_str("1").unwrap();
        assert_eq!(v, Bool(Some(true)));
        let v: Bool = serde_json::from_str("[true]").unwrap();
        assert_eq!(v, Bool(None));
        let v: Str<'_> = serde_json::from_str("\"a\\/b\"").unwrap();
        assert_eq!(v.0.as_deref(), Some("a/b"));
        let v: Str<'_> = serde_json::from_str("17").unwrap();
        assert_eq!(v.0.as_deref(), Some("17"));
        let v: Str<'_> = serde_json::from_str("null").unwrap();
        assert_eq!(v.0, None);
    }
}

/// An object read with `T`'s own `Deserialize`, or `None` when the JSON value is not an object
/// (a `null`, a string, ...), so one odd sub-object cannot fail the whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Obj<T>(pub(crate) Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Obj<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A scalar that may be an integer or a string (`reason` is a string in responses and an
/// integer in state updates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    #[default]
    None,
    Int(i64),
    Str(Cow<'a, str>),
}

impl<'a> Scalar<'a> {
    /// The integer, or a string read as one ([`IntegerTarget`]).
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Scalar::Int(v) => Some(*v),
            Scalar::Str(s) => integer_from_text(s),
            Scalar::None => None,
        }
    }

    /// The string, or an integer as its decimal text.
    pub(crate) fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Str(s) => Some(s),
            Scalar::Int(v) => Some(Cow::Owned(v.to_string())),
            Scalar::None => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(i64::try_from(v).map(Scalar::Int).unwrap_or_default())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
                Ok(integer_from_f64(v).map(Scalar::Int).unwrap_or_default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::None)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            skip_compound!();
        }
        d.deserialize_any(V)
    }
}
