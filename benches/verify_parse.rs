//! Cost of turning a signed webhook request into a typed event, against a floor.
//!
//! Two payloads, one criterion group each:
//!
//! - `fixture`: `tests/fixtures/meeting_rtms_started_flat.json` (the flat `meeting.rtms_started`).
//! - `4k`: a nested `meeting.rtms_started` (`payload.account_id` + `payload.object`) padded to
//!   about 4 KiB with a long `topic`, built below.
//!
//! In each group:
//!
//! | id                          | what                                                            |
//! |-----------------------------|-----------------------------------------------------------------|
//! | `verify`                    | `Verifier::verify` (clock fixed at the timestamp)               |
//! | `parse`                     | `WebhookEvent::parse`                                           |
//! | `verify+parse`              | `Verifier::verify_and_parse`                                    |
//! | `floor/hmac`                | bare HMAC-SHA256 of `v0:{ts}:{body}`, keyed fresh every time    |
//! | `floor/hmac_prekeyed`       | the same, cloning an HMAC state keyed once                      |
//! | `floor/serde_borrowed`      | `serde_json` into a borrowed struct holding every payload field |
//! | `floor/hmac+serde`          | `floor/hmac` then `floor/serde_borrowed`                        |
//! | `floor/hmac_prekeyed+serde` | `floor/hmac_prekeyed` then `floor/serde_borrowed`               |
//!
//! The goal is `verify+parse` within 1.3x of `floor/hmac+serde`.
//!
//! Run: `cargo bench --bench verify_parse -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use zoom_rtms_webhooks::signature::{sign, SignatureHeaders};
use zoom_rtms_webhooks::{Verifier, WebhookEvent};

type HmacSha256 = Hmac<Sha256>;

const SECRET: &str = "bench-webhook-secret-token";
/// Unix seconds, as in `x-zm-request-timestamp`; `now` is fixed to the same second.
const TS: &str = "1732313171";
const TS_SECS: u64 = 1_732_313_171;

/// The flat `meeting.rtms_started` fixture.
const FIXTURE: &[u8] = include_bytes!("../tests/fixtures/meeting_rtms_started_flat.json");

/// Target size of the large payload.
const LARGE_TARGET: usize = 4096;

/// A nested `meeting.rtms_started` of exactly [`LARGE_TARGET`] bytes: the brief's shape
/// (`account_id` next to `object`, with `meeting_id`, `host_id` and `signature` extras) plus
/// a long `topic`, which the crate keeps in `extra`.
fn large_payload() -> Vec<u8> {
    let build = |topic_len: usize| {
        let topic = "Quarterly planning review: ".repeat(topic_len / 27 + 1);
        let topic = topic.get(..topic_len).unwrap_or(&topic);
        format!(
            concat!(
                r#"{{"event":"meeting.rtms_started","event_ts":1732313171882,"payload":{{"#,
                r#""account_id":"D8cJuqWVQ623CI4Q8yQK0Q","object":{{"meeting_id":"85316541256","#,
                r#""meeting_uuid":"Zx1f5Wr6Q4OM9M6e8hJv4A==","host_id":"z8yBXksRQUSEzIIeaY7GTA","#,
                r#""operator_id":"30R7kT7bTIKSNUFEuH_Qlg","#,
                r#""rtms_stream_id":"5f6e22a6b0a94d0ba5ba8f0d1c4e7f10","#,
                r#""server_urls":"wss://rtms-sjc1.zoom.us/signaling","#,
                r#""signature":"2b8c0e3a7f4d","topic":"{}"}}}}}}"#
            ),
            topic
        )
    };
    let overhead = build(0).len();
    build(LARGE_TARGET.saturating_sub(overhead)).into_bytes()
}

// ---------------------------------------------------------------------------------------------
// The serde floor: every field of both payloads, borrowed from the body, flat or nested.
// ---------------------------------------------------------------------------------------------

/// The floor's envelope: the three fields the crate reads, borrowed.
#[derive(Deserialize)]
#[allow(dead_code)] // Fields exist to be deserialised, not read.
struct Env<'a> {
    event: &'a str,
    event_ts: u64,
    #[serde(borrow)]
    payload: Payload<'a>,
}

/// Flat or nested: the fields may sit in `payload` itself or in `payload.object`. Every field
/// present in either benchmarked body is captured (borrowed), modelled by the crate or not, so
/// the floor does the same field work as the crate's parse minus the owning copies.
/// (`#[serde(flatten)]` is not used: it buffers through serde's private `Content` and would
/// make the floor slower, i.e. easier to beat.)
#[derive(Deserialize)]
#[allow(dead_code)]
struct Payload<'a> {
    #[serde(borrow)]
    object: Option<Object<'a>>,
    account_id: Option<&'a str>,
    meeting_uuid: Option<&'a str>,
    rtms_stream_id: Option<&'a str>,
    server_urls: Option<&'a str>,
    operator_id: Option<&'a str>,
}

/// `payload.object`.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Object<'a> {
    meeting_uuid: Option<&'a str>,
    rtms_stream_id: Option<&'a str>,
    server_urls: Option<&'a str>,
    operator_id: Option<&'a str>,
    account_id: Option<&'a str>,
    meeting_id: Option<&'a str>,
    host_id: Option<&'a str>,
    signature: Option<&'a str>,
    topic: Option<&'a str>,
}

fn serde_floor(body: &[u8]) -> Env<'_> {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("floor parse: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The HMAC floor.
// ---------------------------------------------------------------------------------------------

fn hmac_fresh(body: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(SECRET.as_bytes())
        .unwrap_or_else(|e| panic!("hmac key: {e}"));
    mac.update(b"v0:");
    mac.update(TS.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn hmac_prekeyed(keyed: &HmacSha256, body: &[u8]) -> [u8; 32] {
    let mut mac = keyed.clone();
    mac.update(b"v0:");
    mac.update(TS.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

// ---------------------------------------------------------------------------------------------

fn group(c: &mut Criterion, name: &str, body: &[u8]) {
    let now = UNIX_EPOCH + Duration::from_secs(TS_SECS);
    let verifier = Verifier::builder()
        .with_secret("default", SECRET)
        .with_clock(move || now)
        .build()
        .unwrap_or_else(|e| panic!("verifier: {e}"));
    let signature = sign(SECRET, TS, body);
    let keyed = <HmacSha256 as Mac>::new_from_slice(SECRET.as_bytes())
        .unwrap_or_else(|e| panic!("hmac key: {e}"));

    // Sanity: everything measured succeeds and agrees.
    let event = verifier
        .verify_and_parse(SignatureHeaders::new(Some(&signature), Some(TS)), body)
        .unwrap_or_else(|e| panic!("{name}: verify_and_parse: {e}"));
    assert!(matches!(event.event(), WebhookEvent::RtmsStarted(_)));
    assert_eq!(
        Some(hex::encode(hmac_fresh(body)).as_str()),
        signature.strip_prefix("v0=")
    );
    assert_eq!(hmac_fresh(body), hmac_prekeyed(&keyed, body));
    let floor = serde_floor(body);
    let floor_stream = floor
        .payload
        .object
        .as_ref()
        .and_then(|o| o.rtms_stream_id)
        .or(floor.payload.rtms_stream_id);
    assert_eq!(floor_stream, event.event().rtms_stream_id());

    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(body.len() as u64));

    g.bench_function("verify", |b| {
        b.iter(|| {
            black_box(verifier.verify(
                SignatureHeaders::new(Some(black_box(signature.as_str())), Some(black_box(TS))),
                black_box(body),
            ))
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(WebhookEvent::parse(black_box(body))))
    });
    g.bench_function("verify+parse", |b| {
        b.iter(|| {
            black_box(verifier.verify_and_parse(
                SignatureHeaders::new(Some(black_box(signature.as_str())), Some(black_box(TS))),
                black_box(body),
            ))
        })
    });
    g.bench_function("floor/hmac", |b| {
        b.iter(|| black_box(hmac_fresh(black_box(body))))
    });
    g.bench_function("floor/hmac_prekeyed", |b| {
        b.iter(|| black_box(hmac_prekeyed(&keyed, black_box(body))))
    });
    g.bench_function("floor/serde_borrowed", |b| {
        b.iter(|| black_box(serde_floor(black_box(body))))
    });
    g.bench_function("floor/hmac+serde", |b| {
        b.iter(|| {
            let body = black_box(body);
            black_box(hmac_fresh(body));
            black_box(serde_floor(body))
        })
    });
    g.bench_function("floor/hmac_prekeyed+serde", |b| {
        b.iter(|| {
            let body = black_box(body);
            black_box(hmac_prekeyed(&keyed, body));
            black_box(serde_floor(body))
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    group(c, "fixture", FIXTURE);
    let large = large_payload();
    assert_eq!(large.len(), LARGE_TARGET);
    group(c, "4k", &large);
}

criterion_group!(verify_parse, benches);
criterion_main!(verify_parse);
