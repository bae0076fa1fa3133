//! Property tests for webhook signature verification.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use zoom_rtms_webhooks::handshake::{Credentials, CredentialsError};
use zoom_rtms_webhooks::signature::{
    sign, ConfigError, SignatureHeaders, Verifier, VerifierBuilder, VerifyError, SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
};

const NOW: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `builder` with its clock fixed at `now`, built.
fn at_time(builder: VerifierBuilder, now: SystemTime) -> Verifier {
    builder
        .with_clock(move || now)
        .build()
        .expect("valid secrets")
}

/// A verifier for one secret whose clock reads `NOW`.
fn verifier(secret: &str) -> Verifier {
    at_time(Verifier::builder().with_secret("default", secret), at(NOW))
}

fn headers<'a>(sig: Option<&'a str>, ts: Option<&'a str>) -> SignatureHeaders<'a> {
    SignatureHeaders::new(sig, ts)
}

/// Printable secrets that are not blank.
fn secret() -> impl Strategy<Value = String> {
    "[ -~]{1,48}".prop_filter("not blank", |s| !s.trim().is_empty())
}

/// A timestamp within the default 300 s window around `NOW`.
fn timestamp_in_window() -> impl Strategy<Value = u64> {
    (NOW - 300)..=(NOW + 300)
}

/// Characters that do not make a secret: NUL and other controls, whitespace, invisible
/// format characters.
const INVISIBLE: &[char] = &[
    '\0',
    '\u{1}',
    '\t',
    '\n',
    '\r',
    ' ',
    '\u{7F}',
    '\u{85}',
    '\u{A0}',
    '\u{AD}',
    '\u{180E}',
    '\u{2000}',
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{200E}',
    '\u{200F}',
    '\u{2028}',
    '\u{202E}',
    '\u{2060}',
    '\u{2064}',
    '\u{3000}',
    '\u{FE0F}',
    '\u{FEFF}',
    '\u{E0001}',
    '\u{E007F}',
];

fn invisible() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(INVISIBLE), 0..16)
        .prop_map(|chars| chars.into_iter().collect())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sign_then_verify_succeeds(secret in secret(), ts in timestamp_in_window(), body in body()) {
        let verifier = verifier(&secret);
        let ts_text = ts.to_string();
        let sig = sign(&secret, &ts_text, &body);
        prop_assert!(sig.starts_with("v0="));
        prop_assert_eq!(sig.len(), 67);
        let verified = verifier.verify(headers(Some(&sig), Some(&ts_text)), &body)
            .expect("own signature verifies");
        prop_assert_eq!(verified.timestamp(), ts);
        prop_assert_eq!(verified.body(), body.as_slice());

        // Upper-case hex is the same MAC (documented).
        let upper = format!("v0={}", sig.trim_start_matches("v0=").to_uppercase());
        prop_assert!(verifier.verify(headers(Some(&upper), Some(&ts_text)), &body).is_ok());
    }

    #[test]
    fn sign_then_verify_with_several_secrets_reports_the_signer(
        secrets in proptest::collection::hash_set(secret(), 1..5),
        pick in any::<prop::sample::Index>(),
        body in body(),
    ) {
        let secrets: Vec<String> = secrets.into_iter().collect();
        let mut builder = Verifier::builder();
        for (i, s) in secrets.iter().enumerate() {
            builder = builder.with_secret(format!("s{i}"), s.as_str());
        }
        let verifier = at_time(builder, at(NOW));
        let signer = pick.index(secrets.len());
        let signer_secret = secrets.get(signer).expect("in range");
        let sig = sign(signer_secret, "1700000000", &body);
        let verified = verifier.verify(headers(Some(&sig), Some("1700000000")), &body)
            .expect("one of the secrets signed it");
        prop_assert_eq!(verified.secret_index(), signer);
        let label = format!("s{signer}");
        prop_assert_eq!(verified.secret_label(), label.as_str());
    }

    #[test]
    fn changed_body_fails(
        secret in secret(),
        body in body(),
        edit in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        kind in 0u8..3,
    ) {
        let verifier = verifier(&secret);
        let sig = sign(&secret, "1700000000", &body);
        let mut changed = body.clone();
        match kind {
            0 if !changed.is_empty() => {
                let i = edit.index(changed.len());
                if let Some(b) = changed.get_mut(i) {
                    *b ^= xor;
                }
            }
            1 if !changed.is_empty() => {
                changed.truncate(edit.index(changed.len()));
            }
            _ => changed.push(xor),
        }
        prop_assert_ne!(&changed, &body);
        prop_assert_eq!(
            verifier.verify(headers(Some(&sig), Some("1700000000")), &changed).err(),
            Some(VerifyError::Mismatch)
        );
    }

    #[test]
    fn changed_timestamp_fails(
        secret in secret(),
        ts in timestamp_in_window(),
        other in timestamp_in_window(),
        body in body(),
    ) {
        prop_assume!(ts != other);
        let verifier = verifier(&secret);
        let sig = sign(&secret, &ts.to_string(), &body);
        prop_assert_eq!(
            verifier.verify(headers(Some(&sig), Some(&other.to_string())), &body).err(),
            Some(VerifyError::Mismatch)
        );
        // Same number, different text (leading zero): the MAC covers the header text.
        let padded = format!("0{ts}");
        prop_assert_eq!(
            verifier.verify(headers(Some(&sig), Some(&padded)), &body).err(),
            Some(VerifyError::Mismatch)
        );
    }

    #[test]
    fn arbitrary_timestamp_text_never_verifies_someone_elses_signature(
        secret in secret(),
        other in ".{0,24}",
        body in body(),
    ) {
        prop_assume!(other != "1700000000");
        let verifier = verifier(&secret);
        let sig = sign(&secret, "1700000000", &body);
        prop_assert!(verifier.verify(headers(Some(&sig), Some(&other)), &body).is_err());
    }

    #[test]
    fn changed_signature_digit_fails(
        secret in secret(),
        body in body(),
        pos in 0usize..64,
        digit in 0u8..16,
    ) {
        let verifier = verifier(&secret);
        let sig = sign(&secret, "1700000000", &body);
        let mut chars: Vec<char> = sig.chars().collect();
        let new = char::from_digit(u32::from(digit), 16).expect("hex digit");
        let slot = chars.get_mut(3 + pos).expect("in range");
        prop_assume!(*slot != new);
        *slot = new;
        let changed: String = chars.into_iter().collect();
        prop_assert_eq!(
            verifier.verify(headers(Some(&changed), Some("1700000000")), &body).err(),
            Some(VerifyError::Mismatch)
        );
    }

    #[test]
    fn arbitrary_signature_text_fails(secret in secret(), other in ".{0,80}", body in body()) {
        let verifier = verifier(&secret);
        let sig = sign(&secret, "1700000000", &body);
        // Only the exact signature (or its upper-case spelling) may pass.
        prop_assume!(!other.eq_ignore_ascii_case(&sig));
        prop_assert!(verifier.verify(headers(Some(&other), Some("1700000000")), &body).is_err());
    }

    #[test]
    fn wrong_secret_fails(a in secret(), b in secret(), body in body()) {
        prop_assume!(a != b);
        let verifier = verifier(&a);
        let sig = sign(&b, "1700000000", &body);
        prop_assert_eq!(
            verifier.verify(headers(Some(&sig), Some("1700000000")), &body).err(),
            Some(VerifyError::Mismatch)
        );
    }

    #[test]
    fn arbitrary_header_strings_never_panic(
        sig in proptest::option::of(".{0,100}"),
        ts in proptest::option::of(".{0,30}"),
        body in body(),
        now in any::<u64>(),
    ) {
        let now = UNIX_EPOCH.checked_add(Duration::from_secs(now)).unwrap_or(UNIX_EPOCH);
        let verifier = at_time(
            Verifier::builder().with_secret("a", "secret-a").with_secret("b", "secret-b"),
            now,
        );
        let result = verifier.verify(headers(sig.as_deref(), ts.as_deref()), &body);
        // Random text is never a valid signature (2^-256).
        prop_assert!(result.is_err());
        let err = result.err().map(|e| e.to_string()).unwrap_or_default();
        prop_assert!(!err.contains("secret-a") && !err.contains("secret-b"));
        prop_assert!(verifier.verify_and_parse(headers(sig.as_deref(), ts.as_deref()), &body).is_err());
    }

    #[test]
    fn arbitrary_header_bytes_never_panic(
        sigs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..3),
        tss in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 0..3),
        body in body(),
    ) {
        let verifier = verifier("secret");
        let mut headers = HeaderMap::new();
        for value in &sigs {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                headers.append(SIGNATURE_HEADER, v);
            }
        }
        for value in &tss {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                headers.append(TIMESTAMP_HEADER, v);
            }
        }
        let read = SignatureHeaders::from_header_map(&headers);
        prop_assert!(verifier.verify(read, &body).is_err());
        // The `(name, value)` pairs of another framework read the same.
        let pairs = SignatureHeaders::from_pairs(
            headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes())),
        );
        prop_assert_eq!(pairs, read);
        prop_assert_eq!(
            verifier.verify(pairs, &body).err(),
            verifier.verify(read, &body).err()
        );
    }

    #[test]
    fn invisible_only_secrets_are_refused_everywhere(blank in invisible()) {
        prop_assert_eq!(
            Verifier::new(blank.as_str()).err(),
            Some(ConfigError::EmptySecret { label: "default".into() })
        );
        prop_assert_eq!(
            Credentials::new("client-id", blank.as_str()).err(),
            Some(CredentialsError::EmptyClientSecret)
        );
        prop_assert_eq!(
            Credentials::new(blank.as_str(), "client-secret").err(),
            Some(CredentialsError::EmptyClientId)
        );
    }

    #[test]
    fn one_visible_character_makes_a_secret(
        before in invisible(),
        visible in prop_oneof![
            "[!-~]",
            proptest::sample::select(vec!["é", "会", "🎉", "\u{660}", "Ω"]).prop_map(String::from),
        ],
        after in invisible(),
    ) {
        let secret = format!("{before}{visible}{after}");
        prop_assert!(Verifier::new(secret.as_str()).is_ok(), "{:?}", secret);
        prop_assert!(Credentials::new(secret.as_str(), secret.as_str()).is_ok(), "{:?}", secret);
    }
}
