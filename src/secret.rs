//! The one rule for refusing a secret: the webhook Secret Token of a
//! [`Verifier`](crate::signature::Verifier) and the client id and client secret of
//! [`handshake::Credentials`](crate::handshake::Credentials).
//!
//! A secret is **blank** when nothing is left after removing every character that cannot be
//! seen or is no real part of a value:
//!
//! - NUL and the other control characters (Unicode category `Cc`: U+0000–U+001F,
//!   U+007F–U+009F);
//! - Unicode whitespace ([`char::is_whitespace`]: space, tab, newlines, U+00A0, U+2000–U+200A,
//!   U+2028, U+2029, U+3000, ...);
//! - invisible format characters: Unicode category `Cf` (the BOM U+FEFF, the soft hyphen
//!   U+00AD, U+180E, U+200B–U+200F, U+202A–U+202E, U+2060–U+2064, U+2066–U+206F, the tag
//!   characters U+E0001 and U+E0020–U+E007F, ...) and the other default-ignorable code points
//!   (U+034F, U+115F, U+1160, U+17B4, U+17B5, U+180B–U+180F, U+3164, the variation selectors
//!   U+FE00–U+FE0F and U+E0100–U+E01EF, U+FFA0, U+FFF0–U+FFF8).
//!
//! Why it matters: HMAC pads a short key with zero bytes, so a key of only NUL bytes is the
//! same key as the empty one. A verifier built from a zero-filled secret file would accept
//! requests signed with the empty secret, and answer the URL validation challenge for them: a
//! signing oracle for anyone. The other characters cover an unset variable read as `""`, a
//! stray newline, or a file that holds only a byte-order mark.
//!
//! A secret is otherwise used verbatim (never trimmed). There is no minimum length: Zoom
//! generates these secrets, a length says little about strength, and the mistakes a length
//! check would catch are the blank values refused here.

/// Whether `secret` is blank: empty after removing control characters (NUL included),
/// whitespace and invisible format characters (see the module documentation).
pub(crate) fn is_blank(secret: &str) -> bool {
    secret.chars().all(is_invisible)
}

/// Control, whitespace, format (`Cf`) or other default-ignorable character.
fn is_invisible(c: char) -> bool {
    c.is_control() || c.is_whitespace() || is_format_or_ignorable(c)
}

/// Unicode general category `Cf` plus the remaining `Default_Ignorable_Code_Point`s
/// (Unicode 15.1).
fn is_format_or_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::is_blank;

    #[test]
    fn blank_secrets() {
        for blank in [
            "",
            "\0",
            "\0\0\0\0",
            " ",
            "\t\r\n",
            "\u{FEFF}",
            "\u{200B}\n",
            "\u{00A0}\u{3000}",
            "\u{00AD}\u{180E}\u{2060}\u{2064}\u{200F}",
            "\u{E0001}\u{E007F}",
            "\u{FE0F}\u{034F}",
            "\u{1}\u{7F}\u{9F}",
        ] {
            assert!(is_blank(blank), "{blank:?} must be blank");
        }
    }

    #[test]
    fn real_secrets_are_kept() {
        for secret in [
            "a",
            "\0a",
            "\u{FEFF}secret\n",
            "x\u{200B}",
            "é",
            "会",
            "\u{0660}", // Arabic-Indic digit zero: visible
            "-",
        ] {
            assert!(!is_blank(secret), "{secret:?} must not be blank");
        }
    }
}
