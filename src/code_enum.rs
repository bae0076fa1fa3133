//! One place for every "integer code ↔ named variant" table of the protocol (stop reasons,
//! message types, status codes, states): each table is written once, in the macro call, and the
//! conversions both ways, the description, equality and hashing are derived from it.

/// Defines an open enum over integer codes: one unit variant per named code plus
/// `Other(i64)` for every code the table does not name.
///
/// Generated: `code()`, `description()`, `is_known()`, `From<i64>`, `From<Enum> for i64`,
/// `Display` (`"{description} ({code})"`), and `PartialEq`/`Eq`/`Hash` **by code**, so
/// `Other(6)` equals the variant named for 6 (users may build `Other(n)` themselves).
///
/// ```text
/// code_enum! {
///     /// Docs of the enum.
///     pub enum StopReason ("zoom_rtms_webhooks::codes::StopReason") {
///         /// 1: the host stopped the stream.
///         HostTriggered = 1 => "host triggered",
///     }
///     other = "unknown";
/// }
/// ```
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($path:literal) {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $code:literal => $desc:literal,
            )+
        }
        other = $other_desc:literal;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        #[non_exhaustive]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
            /// Any other code, kept as received.
            Other(i64),
        }

        impl $name {
            /// The integer code, as sent on the wire.
            ///
            /// ```
            #[doc = concat!("use ", $path, ";")]
            #[doc = concat!("assert_eq!(", stringify!($name), "::Other(-3).code(), -3);")]
            /// ```
            pub fn code(self) -> i64 {
                match self {
                    $( $name::$variant => $code, )+
                    $name::Other(code) => code,
                }
            }

            #[doc = concat!("A short English description; `\"", $other_desc, "\"` for codes this")]
            /// crate does not name.
            ///
            /// ```
            #[doc = concat!("use ", $path, ";")]
            #[doc = concat!("assert_eq!(", stringify!($name), "::from(i64::MIN).description(), \"", $other_desc, "\");")]
            /// ```
            pub fn description(self) -> &'static str {
                match $name::from(self.code()) {
                    $( $name::$variant => $desc, )+
                    $name::Other(_) => $other_desc,
                }
            }

            /// Whether the crate has a name for this code (`false` for an unnamed
            /// `Other(code)`).
            ///
            /// ```
            #[doc = concat!("use ", $path, ";")]
            #[doc = concat!("assert!(!", stringify!($name), "::from(i64::MIN).is_known());")]
            /// ```
            pub fn is_known(self) -> bool {
                !matches!($name::from(self.code()), $name::Other(_))
            }
        }

        impl From<i64> for $name {
            fn from(code: i64) -> Self {
                match code {
                    $( $code => $name::$variant, )+
                    other => $name::Other(other),
                }
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> Self {
                value.code()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.code() == other.code()
            }
        }

        impl Eq for $name {}

        impl ::std::hash::Hash for $name {
            fn hash<H: ::std::hash::Hasher>(&self, state: &mut H) {
                self.code().hash(state);
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{} ({})", self.description(), self.code())
            }
        }
    };
}

/// Implements `Serialize` (as the integer) and a tolerant `Deserialize` for `code_enum!`
/// tables: the code is read by the crate's one integer rule (`lenient::IntegerTarget`: an
/// integer, an integral float such as `6.0`, or a string of decimal digits); any other value
/// is an error.
macro_rules! serde_code {
    ($($name:ident),+ $(,)?) => {
        $(
            impl ::serde::Serialize for $name {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_i64(self.code())
                }
            }

            impl<'de> ::serde::Deserialize<'de> for $name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    $crate::code_enum::read_code(d).map($name::from)
                }
            }
        )+
    };
}

/// Reads an integer code by the crate's one integer rule, or fails.
pub(crate) fn read_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::Deserialize;
    crate::lenient::Int::deserialize(d)?
        .0
        .ok_or_else(|| serde::de::Error::custom("expected an integer code"))
}

#[cfg(test)]
mod tests {
    code_enum! {
        /// A test table.
        pub enum Sample ("zoom_rtms_webhooks::Unused") {
            /// 1: one.
            One = 1 => "one",
            /// 7: seven.
            Seven = 7 => "seven",
        }
        other = "unknown";
    }

    use std::hash::BuildHasher;

    #[test]
    fn both_directions_and_equality_by_code() {
        assert_eq!(Sample::from(1), Sample::One);
        assert_eq!(Sample::Seven.code(), 7);
        assert_eq!(i64::from(Sample::Seven), 7);
        assert_eq!(Sample::from(2), Sample::Other(2));
        assert_eq!(Sample::Other(7), Sample::Seven);
        assert!(Sample::Other(7).is_known());
        assert!(!Sample::from(2).is_known());
        assert_eq!(Sample::Other(1).description(), "one");
        assert_eq!(Sample::from(-5).description(), "unknown");
        assert_eq!(Sample::Seven.to_string(), "seven (7)");
        let state = std::hash::RandomState::new();
        assert_eq!(
            state.hash_one(Sample::Other(1)),
            state.hash_one(Sample::One)
        );
    }
}
