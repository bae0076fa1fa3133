//! The recording format: redaction rules, verbatim lines, and a typed error (never a panic)
//! for every malformed line.
#![cfg(feature = "protocol")]

use zoom_rtms_webhooks::handshake::MediaTypes;
use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
use zoom_rtms_webhooks::protocol::recording::{
    Reader, Recorder, Recording, RecordingError, Redaction,
};
use zoom_rtms_webhooks::protocol::session::Role;

const AUDIO: Role = Role::Media(MediaTypes::AUDIO);

fn roundtrip(redaction: Redaction, frames: &[(Role, &[u8])]) -> Vec<String> {
    let mut recorder = Recorder::new(redaction);
    let mut file = recorder.header();
    for (i, (role, frame)) in frames.iter().enumerate() {
        let line = recorder.entry(i as u64 * 20, *role, frame);
        assert_eq!(
            line.matches('\n').count(),
            1,
            "one line per message: {line}"
        );
        file += &line;
    }
    file += &recorder.end(0);
    let recording = Recording::read(file.as_bytes()).unwrap();
    assert_eq!(recording.entries().len(), frames.len());
    recording.entries().iter().map(|e| e.text.clone()).collect()
}

#[test]
fn without_redaction_messages_are_verbatim() {
    let frame = br#"{"msg_type":14, "content":{"user_id":7,"user_name":"Ann","data":"AAA=","timestamp":5}}"#;
    let texts = roundtrip(Redaction::none(), &[(AUDIO, frame)]);
    assert_eq!(texts[0].as_bytes(), frame);
}

#[test]
fn a_frame_with_line_breaks_stays_on_one_line() {
    let frame = b"{\"msg_type\":12,\n \"timestamp\":1}";
    let texts = roundtrip(Redaction::none(), &[(Role::Signalling, frame)]);
    assert!(matches!(
        ServerMessage::parse(texts[0].as_bytes()),
        Ok(ServerMessage::KeepAliveRequest(_))
    ));
}

#[test]
fn a_frame_that_is_not_json_is_kept_as_text_unless_redacted() {
    let frames: [(Role, &[u8]); 2] = [(AUDIO, b"not json: Ann"), (AUDIO, &[0xff, 0xfe])];
    let texts = roundtrip(Redaction::none(), &frames);
    assert_eq!(texts[0], "not json: Ann");
    assert_eq!(texts[1], "\u{fffd}\u{fffd}");
    let texts = roundtrip(Redaction::all(), &frames);
    assert!(texts.iter().all(|t| t == "<unreadable frame>"));
}

#[test]
fn redaction_is_consistent_and_keeps_the_mixed_stream_and_the_payloads() {
    let frames: [(Role, &[u8]); 6] = [
        (AUDIO, br#"{"msg_type":14,"content":{"user_id":0,"data":"AAEC","timestamp":1}}"#),
        (AUDIO, br#"{"msg_type":14,"content":{"user_id":16778240,"user_name":"Ann","data":"AwQF"}}"#),
        (
            Role::Signalling,
            br#"{"msg_type":6,"event":{"event_type":3,"participants":[{"user_id":"16778240","user_name":"Ann"},{"user_id":9,"user_name":"Bo"}]}}"#,
        ),
        (
            Role::Media(MediaTypes::TRANSCRIPT),
            br#"{"msg_type":17,"content":{"user_id":16778240,"user_name":"Ann","data":"secret plan"}}"#,
        ),
        (
            Role::Media(MediaTypes::TRANSCRIPT),
            br#"{"msg_type":17,"content":{"user_id":9,"user_name":"Bo","data":"secret plan"}}"#,
        ),
        (
            Role::Signalling,
            br#"{"msg_type":9,"state":2,"rtms_session_id":"sess-1","rtms_stream_id":"stream-9"}"#,
        ),
    ];
    let texts = roundtrip(Redaction::all(), &frames);
    let all = texts.join("\n");
    for hidden in ["Ann", "Bo\"", "16778240", "secret", "sess-1", "stream-9"] {
        assert!(!all.contains(hidden), "{hidden} in {all}");
    }
    let Ok(ServerMessage::Audio(mixed)) = ServerMessage::parse(texts[0].as_bytes()) else {
        panic!("{}", texts[0])
    };
    assert_eq!(mixed.user_id, Some(0));
    assert_eq!(mixed.data.as_deref(), Some("AAEC"));
    let Ok(ServerMessage::Audio(ann)) = ServerMessage::parse(texts[1].as_bytes()) else {
        panic!()
    };
    assert_eq!(
        (ann.user_id, ann.user_name.as_deref()),
        (Some(1), Some("name-1"))
    );
    // The same id as a string gets the same placeholder, as a string.
    assert!(texts[2].contains(r#""user_id":"1""#), "{}", texts[2]);
    assert!(texts[2].contains(r#""user_id":2"#), "{}", texts[2]);
    // The same text gets the same placeholder.
    assert!(texts[3].contains(r#""data":"text-1""#));
    assert!(texts[4].contains(r#""data":"text-1""#));
    assert!(texts[4].contains(r#""user_name":"name-2""#));
    assert!(texts[5].contains(r#""rtms_session_id":"id-1""#));
    assert!(texts[5].contains(r#""rtms_stream_id":"id-2""#));
}

#[test]
fn chat_json_in_a_string_has_its_names_redacted_and_payloads_can_be_dropped() {
    let chat = br#"{"msg_type":18,"content":{"data":"{\"sender\":{\"user_id\":5,\"user_name\":\"Cy\"},\"text\":\"hi\"}"}}"#;
    let video = br#"{"msg_type":15,"content":{"user_id":5,"data":"/9j/","length":3}}"#;
    let redaction = Redaction::none()
        .with_user_names(true)
        .with_payloads_dropped(true);
    let texts = roundtrip(
        redaction,
        &[
            (Role::Media(MediaTypes::CHAT), chat),
            (Role::Media(MediaTypes::VIDEO), video),
        ],
    );
    assert!(!texts[0].contains("Cy"), "{}", texts[0]);
    assert!(texts[0].contains("hi"), "{}", texts[0]);
    assert!(!texts[1].contains("/9j/"), "{}", texts[1]);
    assert!(texts[1].contains(r#""length":3"#), "{}", texts[1]);
}

/// What a malformed line's error must look like.
type Expected = fn(&RecordingError) -> bool;

#[test]
fn every_malformed_line_is_a_typed_error() {
    let header = "{\"rtms_recording\":1}\n";
    let cases: [(&str, Expected); 9] = [
        ("{\"at_ms\":1,\"socket\":\"media\",\"msg\":{}}", |e| {
            matches!(e, RecordingError::Malformed { line: 2, .. })
        }),
        (
            "{\"at_ms\":1,\"socket\":\"signalling\",\"media_type\":1,\"msg\":{}}",
            |e| matches!(e, RecordingError::Malformed { .. }),
        ),
        ("{\"socket\":\"signalling\",\"msg\":{}}", |e| {
            matches!(e, RecordingError::Malformed { .. })
        }),
        ("{\"at_ms\":1,\"socket\":\"signalling\"}", |e| {
            matches!(e, RecordingError::Malformed { .. })
        }),
        (
            "{\"at_ms\":1,\"socket\":\"signalling\",\"msg\":{},\"text\":\"x\"}",
            |e| matches!(e, RecordingError::Malformed { .. }),
        ),
        ("{\"at_ms\":-1,\"socket\":\"signalling\",\"msg\":{}}", |e| {
            matches!(e, RecordingError::Json { line: 2, .. })
        }),
        ("[1,2]", |e| matches!(e, RecordingError::Json { .. })),
        ("{\"at_ms\":1,", |e| {
            matches!(e, RecordingError::Json { .. })
        }),
        (
            "{\"end\":{\"dropped\":0}}\n{\"at_ms\":1,\"socket\":\"signalling\",\"msg\":{}}",
            |e| matches!(e, RecordingError::Malformed { line: 3, .. }),
        ),
    ];
    for (line, expected) in cases {
        let file = format!("{header}{line}\n");
        let error = Recording::read(file.as_bytes()).unwrap_err();
        assert!(expected(&error), "{line}: {error:?}");
        // Iteration stops after the error.
        let mut reader = Reader::new(file.as_bytes()).unwrap();
        assert!(reader.by_ref().any(|r| r.is_err()));
        assert!(reader.next().is_none());
    }
    for bad_header in [
        "",
        "{}\n",
        "{\"rtms_recording\":\"1\"}\n",
        "{\"rtms_recording\":9}\n",
    ] {
        assert!(
            Reader::new(bad_header.as_bytes()).is_err(),
            "{bad_header:?}"
        );
    }
    let unknown = "{\"rtms_recording\":1,\"redacted\":[\"faces\"]}\n";
    assert!(matches!(
        Reader::new(unknown.as_bytes()),
        Err(RecordingError::Malformed { line: 1, .. })
    ));
}

#[test]
fn a_recording_cut_short_has_no_drop_count_and_blank_lines_are_skipped() {
    let file = "{\"rtms_recording\":1}\n\n{\"at_ms\":1,\"socket\":\"signalling\",\"msg\":{\"msg_type\":12}}";
    let recording = Recording::read(file.as_bytes()).unwrap();
    assert_eq!(recording.entries().len(), 1);
    assert_eq!(recording.dropped(), None);
}

#[test]
fn debug_never_shows_what_was_redacted() {
    let mut recorder = Recorder::new(Redaction::all());
    let _ = recorder.entry(
        0,
        AUDIO,
        br#"{"msg_type":14,"content":{"user_name":"Ann"}}"#,
    );
    assert!(!format!("{recorder:?}").contains("Ann"));
}
