//! Fuzzing regressions: every input the fuzzers (`fuzz/`) ever reported, replayed through the
//! very same oracles, plus the committed seed corpora and the JSON fixtures.
//!
//! The oracles live in `fuzz/src/lib.rs` and are included here unchanged, so a crash file
//! saved by libFuzzer (`fuzz/artifacts/<target>/crash-*`) becomes a test by copying its bytes
//! into a `#[test]` below that calls `oracles::<target>(bytes)`. See SECURITY.md, "Fuzzing".

#[path = "../fuzz/src/lib.rs"]
mod oracles;

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no files in {}", dir.display());
    files
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Lines of a seeds text file (one input per line).
fn lines(path: &Path) -> Vec<Vec<u8>> {
    read(path)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The heads the fixtures are also replayed under: every branch of the receiver's decision.
const HEADS: &[&[&str]] = &[
    &[],
    &["s:@none"],
    &["s:@wrong"],
    &["s:@upper"],
    &["s:v0="],
    &["t:@none"],
    &["t:18446744073709551616"],
    &["n:1700000301"],
    &["n:1699999700"],
    &["m:GET"],
    &["m:post"],
    &["l:16"],
    &["h:fail"],
    &["S:v0=00"],
    &["k:another-secret"],
    &["k: "],
];

// ---------------------------------------------------------------------------------------------
// Seeds and fixtures through every oracle
// ---------------------------------------------------------------------------------------------

#[test]
fn fixtures_under_every_head() {
    for path in files_in(&root().join("tests/fixtures")) {
        let body = read(&path);
        for head in HEADS {
            let input = oracles::Case::encode(head, &body);
            oracles::verify_parse(&input);
            oracles::receiver(&input);
        }
        // Without a head the body itself is the input (signed with the default secret).
        oracles::verify_parse(&body);
        oracles::receiver(&body);
        oracles::handshake_response(&body);
    }
}

/// The oracles reach every row of the receiver's status table (they are not vacuous).
#[test]
fn the_receiver_oracle_reaches_every_status() {
    let started = read(&root().join("tests/fixtures/meeting_rtms_started_flat.json"));
    let challenge = read(&root().join("tests/fixtures/url_validation.json"));
    // (head, body, status through the receiver, whether `verify_at` alone accepts it)
    for (head, body, status, verifies) in [
        (&[][..], &started, 200, true),
        (&[][..], &challenge, 200, true),
        (&["h:fail"][..], &challenge, 200, true),
        (&["s:@upper"][..], &started, 200, true),
        (&["s:@none"][..], &started, 401, false),
        (&["s:@wrong"][..], &challenge, 401, false),
        (&["n:1700000301"][..], &started, 401, false),
        // verify_at sees one value; the HeaderMap the receiver gets has two.
        (&["S:v0=00"][..], &started, 401, true),
        (&["m:GET"][..], &started, 405, true),
        (&["l:16"][..], &started, 413, true),
        (&["h:fail"][..], &started, 503, true),
    ] {
        let input = oracles::Case::encode(head, body);
        assert_eq!(oracles::receiver(&input), status, "{head:?}");
        assert_eq!(oracles::verify_parse(&input), verifies, "{head:?}");
    }
    assert_eq!(oracles::receiver(b"{}"), 400);
    assert_eq!(
        oracles::receiver(&oracles::Case::encode(&["k: "], b"{}")),
        0
    );
}

#[test]
fn request_seeds() {
    for path in files_in(&root().join("fuzz/seeds/request")) {
        let input = read(&path);
        oracles::verify_parse(&input);
        oracles::receiver(&input);
    }
}

#[test]
fn server_url_seeds() {
    for line in lines(&root().join("fuzz/seeds/server_url.txt")) {
        oracles::server_url(&line);
    }
}

#[test]
fn handshake_response_seeds() {
    for line in lines(&root().join("fuzz/seeds/handshake_response.txt")) {
        oracles::handshake_response(&line);
    }
    oracles::handshake_response(&read(
        &root().join("fuzz/seeds/handshake_request_parts.bin"),
    ));
}

/// The committed seeds of `server_message`, and the other targets' inputs as server frames.
#[cfg(feature = "protocol")]
#[test]
fn server_message_seeds() {
    for line in lines(&root().join("fuzz/seeds/server_message.txt")) {
        oracles::server_message(&line);
    }
    for path in files_in(&root().join("tests/fixtures")) {
        oracles::server_message(&read(&path));
    }
    for line in lines(&root().join("fuzz/seeds/handshake_response.txt")) {
        oracles::server_message(&line);
    }
}

/// server_message, crash-5f3bc836: a duplicate key inside `media_params` (of any message read
/// by the general envelope) failed the whole frame as invalid JSON; `media_params` is now read
/// only for msg_type 4, and one the typed reader refuses is absent.
#[cfg(feature = "protocol")]
#[test]
fn server_message_duplicate_key_inside_media_params() {
    use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
    let crash = br#"{"msg_type":3,"provocol_version":0,"status_code":0,"reason":"","sequence":0,"payload_encrypted":true,"media_params":{"audio":{"content_type":3,"fps":5},"chat":{"content_typeodec":1,"data_opt":1,"send_rate":20},"video":{"content_type":3,"codec":5,"resolution":2,"data_opt":3,"fps":5},"chat":{"content_type":5}}}"#;
    oracles::server_message(crash);
    let keep_alive = br#"{"msg_type":12,"timestamp":1,"media_params":{"chat":{},"chat":{}}}"#;
    oracles::server_message(keep_alive);
    assert!(matches!(
        ServerMessage::parse(keep_alive),
        Ok(ServerMessage::KeepAliveRequest(_))
    ));
    let data = br#"{"msg_type":4,"status_code":0,"media_params":{"chat":{},"chat":{}}}"#;
    oracles::server_message(data);
    let Ok(ServerMessage::DataHandshakeResponse(r)) = ServerMessage::parse(data) else {
        panic!()
    };
    assert!(r.status.is_ok());
    assert!(r.media_params.is_empty());
}

/// server_message: inputs where the oracle's model was wrong, not the crate (kept so the model
/// stays right): a number beyond `f64` that the crate keeps as raw text (crash-69c85d3f), a
/// float in an unmodelled field (crash-f7c142bc), and `status` next to `status_code` in a
/// msg_type 2 that the writer modernises (crash-2724bcba).
#[cfg(feature = "protocol")]
#[test]
fn server_message_model_cases() {
    oracles::server_message(br#"{"msg_type":8,"state":8,"reason":1,"timestamp":-117238743491239223372031e4006854775808}"#);
    oracles::server_message(br#"{"msg_type":2,"provocol_version":1,"status_code":0,"reason":"","sequeon":"","sequence":0,"payload_encrypted":true,"media_params":{"iduao":{"content_type":4,"samplannel":1,"codec":1,"data_opt":1,"send_rate":20},"video":{"content_type":3,"codec":5,"resolution":2,"data_opt":2222222222222222000000000000000000000000000000000000000000000000000000000000000000000000000000000000000014347467612885206814,"fps":5},"chat":{"content_type":5}}}"#);
    oracles::server_message(br#"{"msg_type":2,"protocol_version":1,"sequence":0,"status_code":0,"status":"","media_server":{"server_urls":{"aud\u0000io":"wss://rtmideo","ipt":"wss://rtms-sjc1.zoomus/t","all":"wss://rtms-sjc1.zoom.us/all"}}}"#);
}

// ---------------------------------------------------------------------------------------------
// The oracles themselves
// ---------------------------------------------------------------------------------------------

#[test]
fn the_request_format_decodes_as_documented() {
    let case = oracles::Case::decode(b"{}");
    assert_eq!(case.body, b"{}");
    assert_eq!(case.sig, oracles::SigSpec::Sign);
    assert_eq!(case.method, "POST");

    let input = oracles::Case::encode(
        &["m:GET", "s:@none", "t:5", "n:7", "S:x", "l:3", "h:fail"],
        b"B",
    );
    let case = oracles::Case::decode(&input);
    assert_eq!(
        (
            case.method.as_str(),
            &case.sig,
            case.timestamp.as_deref(),
            case.now
        ),
        ("GET", &oracles::SigSpec::Absent, Some("5"), 7)
    );
    assert_eq!(case.extra_sigs, ["x"]);
    assert_eq!(
        (case.body_limit, case.handoff_fails, case.body),
        (3, true, &b"B"[..])
    );

    // An empty head still separates a body.
    let input = oracles::Case::encode(&[], b"X");
    let case = oracles::Case::decode(&input);
    assert_eq!(case.body, b"X");
    assert_eq!(case.sig, oracles::SigSpec::Sign);
}

#[test]
fn the_reference_model_matches_zooms_rules() {
    use zoom_rtms_webhooks::signature::{sign, VerifyError};
    let secret = oracles::DEFAULT_SECRET;
    let ts = oracles::T0.to_string();
    let sig = sign(secret, &ts, b"{}");
    let model = |sig: Option<&str>, ts: Option<&str>, now: u64| {
        oracles::expected_verify(secret, sig, ts, b"{}", now)
    };
    assert_eq!(model(Some(&sig), Some(&ts), oracles::T0), Ok(oracles::T0));
    assert_eq!(
        model(
            Some(&sig.to_uppercase().replacen("V0=", "v0=", 1)),
            Some(&ts),
            oracles::T0
        ),
        Ok(oracles::T0)
    );
    assert_eq!(
        model(None, Some(&ts), oracles::T0),
        Err(VerifyError::MissingSignature)
    );
    assert_eq!(
        model(Some(&sig), None, oracles::T0),
        Err(VerifyError::MissingTimestamp)
    );
    assert_eq!(
        model(Some(&sig), Some("1e9"), oracles::T0),
        Err(VerifyError::InvalidTimestamp)
    );
    assert_eq!(
        model(Some(&sig), Some(&ts), oracles::T0 + 301),
        Err(VerifyError::TimestampOutOfTolerance {
            timestamp: oracles::T0,
            now: oracles::T0 + 301
        })
    );
    assert_eq!(
        model(Some("v0="), Some(&ts), oracles::T0),
        Err(VerifyError::EmptySignature)
    );
    assert_eq!(
        model(
            Some(&format!("v0={}", "0".repeat(64))),
            Some(&ts),
            oracles::T0
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
#[should_panic(expected = "accepted host")]
fn the_url_oracle_rejects_a_non_zoom_host() {
    // The oracle must not be vacuous: under a policy that allows another host, it trips.
    let policy =
        zoom_rtms_webhooks::region::HostPolicy::default().with_allowed_host("evil.example");
    let url = zoom_rtms_webhooks::region::ServerUrl::parse("wss://evil.example/", &policy)
        .unwrap_or_else(|e| panic!("{e}"));
    oracles::check_zoom_url(&url);
}

// ---------------------------------------------------------------------------------------------
// Findings (one test per input a fuzzer reported; bytes exactly as saved by libFuzzer)
// ---------------------------------------------------------------------------------------------
