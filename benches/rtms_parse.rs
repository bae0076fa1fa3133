//! Cost of reading one RTMS media message, against a floor.
//!
//! Two messages, one criterion group each, built below in the shape Zoom documents
//! (`docs/protocol.md#media-data`):
//!
//! - `audio`: msg_type 14, `content` with `user_id`, `user_name`, `data` (base64 of a 640-byte
//!   L16 packet: 20 ms of 16 kHz mono) and `timestamp`; about 0.95 KiB.
//! - `transcript`: msg_type 17, `content` with `user_id`, `user_name`, `data` (UTF-8 text),
//!   `start_time`, `end_time`, `timestamp` and `language`.
//!
//! | group        | id                    | what                                                                 |
//! |--------------|-----------------------|----------------------------------------------------------------------|
//! | `audio`      | `parse+decode`        | `ServerMessage::parse` + `MediaData::decode_into` a reused `Vec`     |
//! | `audio`      | `parse`               | `ServerMessage::parse` alone                                         |
//! | `audio`      | `floor/serde+decode`  | `serde_json` into a borrowed struct + `decode_slice` into a reused `Vec` |
//! | `audio`      | `floor/serde`         | the borrowed struct alone                                            |
//! | `transcript` | `parse`               | `ServerMessage::parse`                                               |
//! | `transcript` | `floor/serde`         | `serde_json` into a borrowed struct of the same fields               |
//! | `base64`     | `base64-simd`         | the crate's decoder: base64-simd 0.8 into a reused buffer            |
//! | `base64`     | `base64`              | the base64 crate 0.22 (`decode_slice`), the candidate it replaced    |
//!
//! `parse+decode` is what a user of the protocol core calls per audio frame; the tokio client
//! (`client`) runs the same parser and the same base64 decoder (into a reused `BytesMut`). The
//! goal is `audio/parse+decode` within 1.3x of `audio/floor/serde+decode` (whose decode is the
//! base64 crate's). The `base64` group is how the decoder was chosen: the 856 characters of one
//! audio frame's `data`.
//!
//! Run: `cargo bench --bench rtms_parse --features protocol -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::Deserialize;
use zoom_rtms_webhooks::protocol::incoming::ServerMessage;

/// One L16 packet: 20 ms × 16 kHz × 2 bytes, mono.
const PACKET_BYTES: usize = 640;

/// A msg_type 14 frame carrying a 640-byte packet of a 440 Hz tone (signed 16-bit LE).
fn audio_frame() -> Vec<u8> {
    let mut pcm = Vec::with_capacity(PACKET_BYTES);
    for i in 0..PACKET_BYTES / 2 {
        let t = i as f64 / 16_000.0;
        // In range by construction: the amplitude is below i16::MAX.
        #[allow(clippy::cast_possible_truncation)]
        let sample = (8_000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
        pcm.extend_from_slice(&sample.to_le_bytes());
    }
    let data = base64::engine::general_purpose::STANDARD.encode(&pcm);
    format!(
        r#"{{"msg_type":14,"content":{{"user_id":16778240,"user_name":"Jill Chang","data":"{data}","timestamp":1727384349123}}}}"#
    )
    .into_bytes()
}

/// A msg_type 17 frame: one utterance.
fn transcript_frame() -> Vec<u8> {
    concat!(
        r#"{"msg_type":17,"content":{"user_id":16778240,"user_name":"Jill Chang","#,
        r#""data":"Thanks everyone for joining, let's start with the quarterly numbers before we get to the roadmap.","#,
        r#""start_time":1727384349123,"end_time":1727384353523,"timestamp":1727384349123,"language":9}}"#
    )
    .as_bytes()
    .to_vec()
}

// ---------------------------------------------------------------------------------------------
// The floor: borrowed structs of exactly the fields sent, no tolerance.
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[allow(dead_code)] // Fields exist to be deserialised, not read.
struct Msg<'a> {
    msg_type: u8,
    #[serde(borrow)]
    content: Content<'a>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Content<'a> {
    user_id: i64,
    user_name: &'a str,
    data: &'a str,
    timestamp: i64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct TranscriptMsg<'a> {
    msg_type: u8,
    #[serde(borrow)]
    content: TranscriptContent<'a>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct TranscriptContent<'a> {
    user_id: i64,
    user_name: &'a str,
    data: &'a str,
    start_time: i64,
    end_time: i64,
    timestamp: i64,
    language: i64,
}

fn floor_audio(frame: &[u8]) -> Msg<'_> {
    serde_json::from_slice(frame).unwrap_or_else(|e| panic!("floor parse: {e}"))
}

/// `decode_slice` into `buf`, reusing its capacity (what the client does with its arena).
fn floor_decode(data: &str, buf: &mut Vec<u8>) -> usize {
    buf.resize(data.len().div_ceil(4) * 3, 0);
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(data, buf)
        .unwrap_or_else(|e| panic!("floor decode: {e}"));
    buf.truncate(n);
    n
}

/// The crate's path: parse, then decode the payload into the reused buffer.
fn crate_audio(frame: &[u8], buf: &mut Vec<u8>) -> Option<i64> {
    match ServerMessage::parse(frame) {
        Ok(ServerMessage::Audio(audio)) => {
            audio.decode_into(buf).ok()?;
            audio.timestamp
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------

fn audio(c: &mut Criterion) {
    let frame = audio_frame();

    // Sanity: both paths succeed and agree.
    let mut crate_buf = Vec::new();
    let mut floor_buf = Vec::new();
    assert_eq!(crate_audio(&frame, &mut crate_buf), Some(1_727_384_349_123));
    let floor = floor_audio(&frame);
    assert_eq!(
        floor_decode(floor.content.data, &mut floor_buf),
        PACKET_BYTES
    );
    assert_eq!(crate_buf, floor_buf);

    let mut g = c.benchmark_group("audio");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("parse+decode", |b| {
        b.iter(|| black_box(crate_audio(black_box(&frame), &mut crate_buf)))
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(ServerMessage::parse(black_box(&frame))))
    });
    g.bench_function("floor/serde+decode", |b| {
        b.iter(|| {
            let msg = floor_audio(black_box(&frame));
            black_box(floor_decode(msg.content.data, &mut floor_buf));
            black_box(msg.content.timestamp)
        })
    });
    g.bench_function("floor/serde", |b| {
        b.iter(|| black_box(floor_audio(black_box(&frame))))
    });
    g.finish();
}

fn transcript(c: &mut Criterion) {
    let frame = transcript_frame();
    let Ok(ServerMessage::Transcript(t)) = ServerMessage::parse(&frame) else {
        panic!("transcript frame does not parse as one")
    };
    let floor: TranscriptMsg<'_> =
        serde_json::from_slice(&frame).unwrap_or_else(|e| panic!("floor parse: {e}"));
    assert_eq!(t.text.as_deref(), Some(floor.content.data));

    let mut g = c.benchmark_group("transcript");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| black_box(ServerMessage::parse(black_box(&frame))))
    });
    g.bench_function("floor/serde", |b| {
        b.iter(|| black_box(serde_json::from_slice::<TranscriptMsg<'_>>(black_box(&frame)).ok()))
    });
    g.finish();
}

fn base64_engines(c: &mut Criterion) {
    let frame = audio_frame();
    let msg = floor_audio(&frame);
    let text = msg.content.data;
    let mut buf = vec![0u8; PACKET_BYTES];
    let mut g = c.benchmark_group("base64");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("base64-simd", |b| {
        b.iter(|| {
            base64_simd::STANDARD
                .decode(
                    black_box(text.as_bytes()),
                    base64_simd::Out::from_slice(&mut buf),
                )
                .map(|d| d.len())
                .ok()
        })
    });
    g.bench_function("base64", |b| {
        b.iter(|| {
            base64::engine::general_purpose::STANDARD
                .decode_slice(black_box(text), &mut buf)
                .ok()
        })
    });
    g.finish();
}

criterion_group!(benches, audio, transcript, base64_engines);
criterion_main!(benches);
