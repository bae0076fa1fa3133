//! `record::StreamRecorder`: WAV files placed by timestamp with silence in the gaps, and the
//! JSON Lines files, written from items as the client hands them over.
#![cfg(feature = "record")]

use bytes::Bytes;
use zoom_rtms_webhooks::client::{
    AudioParams, Chat, Codec, DataOption, EventUpdate, Item, MediaFrame, MediaParams, SampleRate,
    Source, Transcript,
};
use zoom_rtms_webhooks::protocol::session::EndReason;
use zoom_rtms_webhooks::record::StreamRecorder;
use zoom_rtms_webhooks::Product;

/// A fresh directory under the system's temporary one, removed when the test passes (kept
/// for a look when it fails).
struct Dir(std::path::PathBuf);

impl std::ops::Deref for Dir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for Dir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn dir(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!(
        "zoom-rtms-record-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    Dir(d)
}

fn connected() -> Item {
    let audio = AudioParams::new()
        .with_codec(Codec::L16)
        .with_sample_rate(SampleRate::Sr16k)
        .with_data_opt(DataOption::AudioMultiStreams)
        .with_send_rate(20);
    Item::Connected {
        connects: 1,
        params: Box::new(MediaParams::new().with_audio(audio)),
    }
}

/// 20 ms of L16 at 16 kHz: 320 samples, each `value`.
fn pcm(value: i16) -> Bytes {
    Bytes::from(value.to_le_bytes().repeat(320))
}

fn audio(user: i64, ts: i64, value: i16) -> Item {
    let source = Source::User {
        id: Some(user),
        name: Some(format!("user {user}").into()),
    };
    Item::Audio(MediaFrame::new(source, Some(ts), pcm(value)))
}

fn event(json: &str) -> Item {
    Item::Event(EventUpdate::new(Product::Meeting, json).unwrap())
}

fn samples(path: &std::path::Path) -> (hound::WavSpec, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    (spec, r.samples::<i16>().map(Result::unwrap).collect())
}

/// What slot-by-slot placement gives: slot k holds `value` if sent, else silence, up to the
/// last slot sent.
fn expected(slots: &[Option<i16>]) -> Vec<i16> {
    slots.iter().flat_map(|s| [s.unwrap_or(0); 320]).collect()
}

#[test]
fn each_participant_gets_a_gap_filled_wav_from_the_first_packet_timestamp() {
    let d = dir("gaps");
    let mut r = StreamRecorder::create(&d, "stream/1==").unwrap();
    r.record(&connected()).unwrap();
    // Event 1: the stream's zero is 10 000 ms.
    r.record(&event(r#"{"event_type":1,"timestamp":10000}"#))
        .unwrap();
    // User 1: slots 1, 2, muted 3–4, slot 5. User 2 joins at slot 4.
    for item in [
        audio(1, 10_020, 11),
        audio(1, 10_040, 12),
        event(
            r#"{"event_type":3,"timestamp":10070,"participants":[{"user_id":2,"user_name":"Bo"}]}"#,
        ),
        audio(2, 10_080, 21),
        audio(1, 10_100, 15),
        audio(2, 10_100, 22),
    ] {
        r.record(&item).unwrap();
    }
    r.record(&Item::Ended(EndReason::Closed)).unwrap();
    let summary = r.finish().unwrap();
    assert_eq!(summary.dir, d.join("stream_1__"));
    assert_eq!(
        (summary.participants, summary.audio_frames, summary.events),
        (2, 5, 2)
    );

    let (spec, one) = samples(&summary.dir.join("audio-1.wav"));
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 16_000, 16)
    );
    assert_eq!(
        one,
        expected(&[None, Some(11), Some(12), None, None, Some(15)])
    );
    let (_, two) = samples(&summary.dir.join("audio-2.wav"));
    assert_eq!(two, expected(&[None, None, None, None, Some(21), Some(22)]));

    let events = std::fs::read_to_string(summary.dir.join("events.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"timestamp":10000,"event":"first_packet_timestamp"})
    );
    assert_eq!(
        lines[1],
        serde_json::json!({"timestamp":10070,"event":"participant_join",
            "participants":[{"user_id":2,"user_name":"Bo"}]})
    );
}

#[test]
fn without_event_1_the_first_audio_frame_is_the_zero() {
    let d = dir("nozero");
    let mut r = StreamRecorder::create(&d, "s").unwrap();
    r.record(&connected()).unwrap();
    r.record(&audio(0, 500, 5)).unwrap();
    r.record(&audio(7, 540, 7)).unwrap();
    let s = r.finish().unwrap();
    assert_eq!(samples(&s.dir.join("audio-0.wav")).1, expected(&[Some(5)]));
    assert_eq!(
        samples(&s.dir.join("audio-7.wav")).1,
        expected(&[None, None, Some(7)])
    );
}

#[test]
fn transcripts_and_chat_are_json_lines_with_zooms_fields() {
    let d = dir("jsonl");
    let mut r = StreamRecorder::create(&d, "s").unwrap();
    let mut t = Transcript::new(
        Source::User {
            id: Some(7),
            name: Some("Ann".into()),
        },
        "hello",
    );
    t.timestamp = Some(1000);
    r.record(&Item::Transcript(Box::new(t))).unwrap();
    r.record(&Item::Chat(Box::new(Chat::new(
        Source::User {
            id: Some(7),
            name: None,
        },
        serde_json::json!("hi all"),
    ))))
    .unwrap();
    let s = r.finish().unwrap();
    assert_eq!((s.transcripts, s.chats), (1, 1));
    let t: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(s.dir.join("transcript.jsonl"))
            .unwrap()
            .trim_end(),
    )
    .unwrap();
    assert_eq!(
        t,
        serde_json::json!({"timestamp":1000,"user_id":7,"user_name":"Ann","start_time":null,
            "end_time":null,"language":null,"text":"hello"})
    );
    let c = std::fs::read_to_string(s.dir.join("chat.jsonl")).unwrap();
    assert_eq!(c.lines().count(), 1);
    assert!(c.contains(r#""data":"hi all""#), "{c}");
}

#[test]
fn a_recorder_dropped_without_finish_leaves_valid_wav_files() {
    let d = dir("drop");
    let mut r = StreamRecorder::create(&d, "s").unwrap();
    r.record(&connected()).unwrap();
    r.record(&audio(1, 0, 3)).unwrap();
    r.record(&audio(1, 40, 4)).unwrap();
    let path = r.dir().join("audio-1.wav");
    drop(r);
    assert_eq!(samples(&path).1, expected(&[Some(3), None, Some(4)]));
}

#[test]
fn audio_before_a_format_or_not_l16_is_counted_not_written() {
    let d = dir("skip");
    let mut r = StreamRecorder::create(&d, "s").unwrap();
    r.record(&audio(1, 0, 3)).unwrap();
    let opus = AudioParams::new().with_codec(Codec::Opus);
    r.record(&Item::Connected {
        connects: 1,
        params: Box::new(MediaParams::new().with_audio(opus)),
    })
    .unwrap();
    r.record(&audio(1, 20, 3)).unwrap();
    let s = r.finish().unwrap();
    assert_eq!((s.audio_frames, s.audio_skipped, s.participants), (0, 2, 0));
    assert!(!s.dir.join("audio-1.wav").exists());
}

#[test]
fn video_is_an_h264_stream_or_numbered_images_per_participant() {
    use zoom_rtms_webhooks::client::VideoParams;
    let d = dir("video");
    let mut r = StreamRecorder::create(&d, "s").unwrap();
    let params = MediaParams::new()
        .with_video(VideoParams::new().with_codec(Codec::H264))
        .with_deskshare(VideoParams::new().with_codec(Codec::Jpg));
    r.record(&Item::Connected {
        connects: 1,
        params: Box::new(params),
    })
    .unwrap();
    let user = |id| Source::User {
        id: Some(id),
        name: None,
    };
    for data in [&b"\x00\x00\x00\x01a"[..], b"\x00\x00\x00\x01b"] {
        let frame = MediaFrame::new(user(5), Some(0), Bytes::copy_from_slice(data));
        r.record(&Item::Video(frame)).unwrap();
    }
    for data in [&b"\xff\xd8one"[..], b"\xff\xd8two"] {
        let frame = MediaFrame::new(user(6), Some(0), Bytes::copy_from_slice(data));
        r.record(&Item::Share(frame)).unwrap();
    }
    let s = r.finish().unwrap();
    assert_eq!(s.video_frames, 4);
    assert_eq!(
        std::fs::read(s.dir.join("video-5.h264")).unwrap(),
        b"\x00\x00\x00\x01a\x00\x00\x00\x01b"
    );
    assert_eq!(
        std::fs::read(s.dir.join("share-6-0.jpg")).unwrap(),
        b"\xff\xd8one"
    );
    assert_eq!(
        std::fs::read(s.dir.join("share-6-1.jpg")).unwrap(),
        b"\xff\xd8two"
    );
}

#[test]
fn a_later_connection_never_overwrites_what_an_earlier_one_recorded() {
    let d = dir("again");
    for value in [1, 2] {
        let mut r = StreamRecorder::create(&d, "s").unwrap();
        r.record(&connected()).unwrap();
        r.record(&audio(7, 0, value)).unwrap();
        let t = Transcript::new(
            Source::User {
                id: Some(7),
                name: None,
            },
            format!("take {value}"),
        );
        r.record(&Item::Transcript(Box::new(t))).unwrap();
        r.finish().unwrap();
    }
    let s = d.join("s");
    assert_eq!(samples(&s.join("audio-7.wav")).1, expected(&[Some(1)]));
    assert_eq!(samples(&s.join("audio-7.1.wav")).1, expected(&[Some(2)]));
    let lines = std::fs::read_to_string(s.join("transcript.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.contains("take 1") && lines.contains("take 2"));
}

#[test]
fn a_contact_center_channel_has_a_file_of_its_own_and_never_leaves_the_directory() {
    let d = dir("channel");
    let mut r = StreamRecorder::create(&d, "..").unwrap();
    r.record(&connected()).unwrap();
    for source in [
        Source::Channel("../7".into()),
        Source::User {
            id: Some(7),
            name: None,
        },
    ] {
        r.record(&Item::Audio(MediaFrame::new(source, Some(0), pcm(1))))
            .unwrap();
    }
    let s = r.finish().unwrap();
    assert_eq!(s.dir, d.join("_.."));
    assert!(s.dir.join("audio-channel-.._7.wav").exists());
    assert!(s.dir.join("audio-7.wav").exists());
    assert_eq!(s.participants, 2);
}
