//! Recordings of what a stream received: the file format (JSON Lines), the [`Recorder`] that
//! writes its lines (with optional [`Redaction`]), and the [`Reader`] that reads them back.
//!
//! A recording turns a production incident into a regression test: the client records every
//! server→client message of a stream
//! ([`client::Options::with_recording`](crate::client::Options::with_recording), feature
//! `client`), and the simulator replays the file to any client
//! (`simulator::StreamSpec::with_replay`, feature `simulator`).
//!
//! # Format (version 1)
//!
//! One JSON object per line (UTF-8, `\n`-terminated):
//!
//! - the **header**, first: `{"rtms_recording":1,"redacted":[..],"payloads":"kept"}`: the
//!   format version, the redacted categories (`user_names`, `user_ids`, `text`, `ids`) and
//!   whether media payloads were `kept` or `dropped`;
//! - one **entry** per server message, in the order received:
//!   `{"at_ms":20,"socket":"media","media_type":9,"msg":{"msg_type":14,...}}`: milliseconds
//!   since the recording started, the socket (`signalling`, or `media` with the `media_type`
//!   bits it was opened for), and the message as a nested JSON value: verbatim when nothing is
//!   redacted (a frame with line breaks is written compactly), re-serialised (keys sorted) when
//!   a redaction applies. A frame that is not JSON is kept as a string under `"text"` instead
//!   of `"msg"` (non-UTF-8 bytes replaced), unless text or names are redacted, when it becomes
//!   `"<unreadable frame>"`;
//! - the **end**, last, when the recording was closed properly: `{"end":{"dropped":0}}`, with
//!   the number of messages that were not recorded (the writer fell behind).
//!
//! Only messages from the server are recorded: what the client sends (the handshakes carry
//! the signature) never is.
//!
//! ```
//! use zoom_rtms_webhooks::handshake::MediaTypes;
//! use zoom_rtms_webhooks::protocol::recording::{Reader, Recorder, Redaction};
//! use zoom_rtms_webhooks::protocol::session::Role;
//!
//! let mut recorder = Recorder::new(Redaction::none().with_user_names(true));
//! let mut file = recorder.header();
//! let frame = br#"{"msg_type":17,"content":{"user_id":7,"user_name":"Ann","data":"hello"}}"#;
//! file += &recorder.entry(40, Role::Media(MediaTypes::TRANSCRIPT), frame);
//! file += &recorder.end(0);
//!
//! let mut reader = Reader::new(file.as_bytes())?;
//! assert!(reader.redaction().user_names());
//! let entry = reader.next().unwrap()?;
//! assert_eq!((entry.at_ms, entry.socket), (40, Role::Media(MediaTypes::TRANSCRIPT)));
//! assert!(entry.text.contains(r#""user_name":"name-1""#));
//! assert!(reader.next().is_none());
//! assert_eq!(reader.dropped(), Some(0));
//! # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
//! ```

use std::collections::HashMap;
use std::io::BufRead;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::incoming::{ParseError, ServerMessage};
use super::session::Role;
use crate::handshake::MediaTypes;

/// The format version written in the header (`rtms_recording`).
///
/// ```
/// assert_eq!(zoom_rtms_webhooks::protocol::recording::FORMAT_VERSION, 1);
/// ```
pub const FORMAT_VERSION: u64 = 1;

/// What a [`Recorder`] replaces before a message is written. Each value is replaced
/// consistently within one recording (the same name, id or text gets the same placeholder), so
/// a replay stays coherent. Media payloads (audio, video, share) are kept unless
/// [dropped](Redaction::with_payloads_dropped): a regression test needs them.
///
/// ```
/// use zoom_rtms_webhooks::protocol::recording::Redaction;
/// let r = Redaction::all();
/// assert!(r.user_names() && r.user_ids() && r.text() && r.ids());
/// assert!(!r.payloads_dropped());
/// assert!(Redaction::none().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redaction {
    user_names: bool,
    user_ids: bool,
    text: bool,
    ids: bool,
    drop_payloads: bool,
}

impl Redaction {
    /// Nothing redacted: every message verbatim (the default).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert_eq!(Redaction::none(), Redaction::default());
    /// ```
    pub fn none() -> Self {
        Redaction::default()
    }

    /// Names, user ids, transcript and chat text, and meeting/stream/session ids redacted;
    /// media payloads kept.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(Redaction::all().text());
    /// ```
    pub fn all() -> Self {
        Redaction {
            user_names: true,
            user_ids: true,
            text: true,
            ids: true,
            drop_payloads: false,
        }
    }

    /// Replace people's names (`user_name`, `display_name`, and a Contact Center participant's
    /// `phone_number`) by `name-1`, `name-2`, ...
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(Redaction::none().with_user_names(true).user_names());
    /// ```
    #[must_use]
    pub fn with_user_names(mut self, on: bool) -> Self {
        self.user_names = on;
        self
    }

    /// Replace user ids (`user_id`, a number or a string; 0, the mixed stream, is kept) by
    /// 1, 2, ... (a string id by `"1"`, `"2"`, ...: the same id as a number or a string gets the
    /// same placeholder).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(Redaction::none().with_user_ids(true).user_ids());
    /// ```
    #[must_use]
    pub fn with_user_ids(mut self, on: bool) -> Self {
        self.user_ids = on;
        self
    }

    /// Replace transcript and chat text (the `data` of message types 17 and 18) by `text-1`,
    /// `text-2`, ...
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(Redaction::none().with_text(true).text());
    /// ```
    #[must_use]
    pub fn with_text(mut self, on: bool) -> Self {
        self.text = on;
        self
    }

    /// Replace meeting, webinar, session, engagement, call, stream and RTMS session ids
    /// (`meeting_uuid`, `webinar_uuid`, `session_id`, `engagement_id`, `call_id`,
    /// `rtms_stream_id`, `rtms_session_id`) by `id-1`, `id-2`, ...
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(Redaction::none().with_ids(true).ids());
    /// ```
    #[must_use]
    pub fn with_ids(mut self, on: bool) -> Self {
        self.ids = on;
        self
    }

    /// Drop the audio, video and screen-share payloads (`data` of message types 14–16; their
    /// `length` stays): a smaller file, but a replay then carries no media.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(Redaction::none().with_payloads_dropped(true).payloads_dropped());
    /// ```
    #[must_use]
    pub fn with_payloads_dropped(mut self, on: bool) -> Self {
        self.drop_payloads = on;
        self
    }

    /// See [`with_user_names`](Redaction::with_user_names).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(!Redaction::none().user_names());
    /// ```
    pub fn user_names(&self) -> bool {
        self.user_names
    }

    /// See [`with_user_ids`](Redaction::with_user_ids).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(!Redaction::none().user_ids());
    /// ```
    pub fn user_ids(&self) -> bool {
        self.user_ids
    }

    /// See [`with_text`](Redaction::with_text).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(!Redaction::none().text());
    /// ```
    pub fn text(&self) -> bool {
        self.text
    }

    /// See [`with_ids`](Redaction::with_ids).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(!Redaction::none().ids());
    /// ```
    pub fn ids(&self) -> bool {
        self.ids
    }

    /// See [`with_payloads_dropped`](Redaction::with_payloads_dropped).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(!Redaction::none().payloads_dropped());
    /// ```
    pub fn payloads_dropped(&self) -> bool {
        self.drop_payloads
    }

    /// Whether nothing is redacted or dropped (messages are written verbatim).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Redaction;
    /// assert!(!Redaction::all().is_none());
    /// ```
    pub fn is_none(&self) -> bool {
        *self == Redaction::default()
    }

    fn categories(&self) -> Vec<&'static str> {
        [
            (self.user_names, "user_names"),
            (self.user_ids, "user_ids"),
            (self.text, "text"),
            (self.ids, "ids"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// The keys whose string values are names ([`Redaction::with_user_names`]).
const NAME_KEYS: [&str; 3] = ["user_name", "display_name", "phone_number"];
/// The keys whose string values are meeting, stream or session ids ([`Redaction::with_ids`]).
const ID_KEYS: [&str; 7] = [
    "meeting_uuid",
    "webinar_uuid",
    "session_id",
    "engagement_id",
    "call_id",
    "rtms_stream_id",
    "rtms_session_id",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Category {
    Name,
    User,
    Text,
    Id,
}

/// Writes the lines of one recording (sans-I/O: it returns strings, the caller writes them).
/// It keeps the placeholders given so far, so one recording needs one `Recorder`.
///
/// ```
/// use zoom_rtms_webhooks::protocol::recording::{Recorder, Redaction};
/// use zoom_rtms_webhooks::protocol::session::Role;
/// let mut r = Recorder::new(Redaction::all());
/// let a = r.entry(0, Role::Signalling, br#"{"msg_type":6,"event":{"event_type":2,"user_id":5,"user_name":"Bo"}}"#);
/// let b = r.entry(9, Role::Signalling, br#"{"msg_type":6,"event":{"event_type":2,"user_id":5,"user_name":"Bo"}}"#);
/// assert_eq!(a.replace("\"at_ms\":0", ""), b.replace("\"at_ms\":9", "")); // same placeholders
/// assert!(!a.contains("Bo"));
/// ```
pub struct Recorder {
    redaction: Redaction,
    placeholders: HashMap<(Category, [u8; 32]), u64>,
    counts: [u64; 4],
}

/// Shows the redaction and how many placeholders were given, never the values they replace.
impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("redaction", &self.redaction)
            .field("placeholders", &self.placeholders.len())
            .finish()
    }
}

impl Recorder {
    /// A recorder applying `redaction`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::{Recorder, Redaction};
    /// let _ = Recorder::new(Redaction::none());
    /// ```
    pub fn new(redaction: Redaction) -> Self {
        Recorder {
            redaction,
            placeholders: HashMap::new(),
            counts: [0; 4],
        }
    }

    /// The header line (with its `\n`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::{Recorder, Redaction};
    /// assert_eq!(
    ///     Recorder::new(Redaction::none()).header(),
    ///     "{\"rtms_recording\":1,\"redacted\":[],\"payloads\":\"kept\"}\n"
    /// );
    /// ```
    pub fn header(&self) -> String {
        let redacted = Value::from(self.redaction.categories());
        let payloads = if self.redaction.drop_payloads {
            "dropped"
        } else {
            "kept"
        };
        format!(
            "{{\"rtms_recording\":{FORMAT_VERSION},\"redacted\":{redacted},\"payloads\":\"{payloads}\"}}\n"
        )
    }

    /// The line (with its `\n`) of one message received `at_ms` milliseconds after the
    /// recording started, on `socket`, redacted as configured.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::MediaTypes;
    /// use zoom_rtms_webhooks::protocol::recording::{Recorder, Redaction};
    /// use zoom_rtms_webhooks::protocol::session::Role;
    /// let mut r = Recorder::new(Redaction::none());
    /// assert_eq!(
    ///     r.entry(20, Role::Media(MediaTypes::AUDIO), br#"{"msg_type":14,"content":{"data":"AAA="}}"#),
    ///     "{\"at_ms\":20,\"socket\":\"media\",\"media_type\":1,\"msg\":{\"msg_type\":14,\"content\":{\"data\":\"AAA=\"}}}\n"
    /// );
    /// ```
    pub fn entry(&mut self, at_ms: u64, socket: Role, frame: &[u8]) -> String {
        let mut line = match socket {
            Role::Media(types) => format!(
                r#"{{"at_ms":{at_ms},"socket":"media","media_type":{},"#,
                types.bits()
            ),
            _ => format!(r#"{{"at_ms":{at_ms},"socket":"signalling","#),
        };
        match self.message(frame) {
            Ok(json) => {
                line.push_str("\"msg\":");
                line.push_str(&json);
            }
            Err(text) => {
                line.push_str("\"text\":");
                line.push_str(&Value::String(text).to_string());
            }
        }
        line.push_str("}\n");
        line
    }

    /// The end line (with its `\n`): `dropped` messages were not recorded.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::{Recorder, Redaction};
    /// assert_eq!(Recorder::new(Redaction::none()).end(3), "{\"end\":{\"dropped\":3}}\n");
    /// ```
    pub fn end(&self, dropped: u64) -> String {
        format!("{{\"end\":{{\"dropped\":{dropped}}}}}\n")
    }

    /// The message as JSON text for the line, or `Err(text)` for a frame that is not JSON.
    fn message(&mut self, frame: &[u8]) -> Result<String, String> {
        let text = match std::str::from_utf8(frame) {
            Ok(text) => text,
            Err(_) => return Err(self.unreadable(frame)),
        };
        if self.redaction.is_none() {
            return match serde_json::from_str::<&RawValue>(text) {
                Ok(raw) if !raw.get().contains(['\n', '\r']) => Ok(raw.get().to_owned()),
                Ok(raw) => serde_json::from_str::<Value>(raw.get())
                    .map(|v| v.to_string())
                    .map_err(|_| self.unreadable(frame)),
                Err(_) => Err(self.unreadable(frame)),
            };
        }
        let Ok(mut value) = serde_json::from_str::<Value>(text) else {
            return Err(self.unreadable(frame));
        };
        self.redact_message(&mut value);
        Ok(value.to_string())
    }

    fn unreadable(&self, frame: &[u8]) -> String {
        if self.redaction.text || self.redaction.user_names {
            "<unreadable frame>".to_owned()
        } else {
            String::from_utf8_lossy(frame).into_owned()
        }
    }

    fn placeholder(&mut self, category: Category, original: &str) -> u64 {
        // Keyed by a digest: the recorder keeps no plaintext of what it hides, and an entry
        // stays small however long the value.
        let key = (
            category,
            <[u8; 32]>::from(Sha256::digest(original.as_bytes())),
        );
        if let Some(&n) = self.placeholders.get(&key) {
            return n;
        }
        let count = &mut self.counts[category as usize];
        *count += 1;
        let n = *count;
        self.placeholders.insert(key, n);
        n
    }

    fn redact_message(&mut self, value: &mut Value) {
        let msg_type = value.get("msg_type").and_then(Value::as_i64);
        // Payloads and text first: `data` is then no longer walked.
        if let Some(content) = value.get_mut("content").and_then(Value::as_object_mut) {
            match msg_type {
                Some(14..=16) if self.redaction.drop_payloads => {
                    content.remove("data");
                }
                Some(17 | 18) if self.redaction.text => {
                    if let Some(data) = content.get_mut("data") {
                        let original = data.to_string();
                        let n = self.placeholder(Category::Text, &original);
                        *data = Value::String(format!("text-{n}"));
                    }
                }
                Some(18) => {
                    // Chat `data` may be JSON in a string (sender, receiver): redact inside it.
                    if let Some(Value::String(data)) = content.get_mut("data") {
                        if let Ok(mut inner @ Value::Object(_)) = serde_json::from_str(data) {
                            self.walk(&mut inner);
                            *data = inner.to_string();
                        }
                    }
                }
                _ => {}
            }
        }
        self.walk(value);
    }

    fn walk(&mut self, value: &mut Value) {
        match value {
            Value::Object(map) => self.walk_object(map),
            Value::Array(items) => items.iter_mut().for_each(|v| self.walk(v)),
            _ => {}
        }
    }

    fn walk_object(&mut self, map: &mut Map<String, Value>) {
        for (key, value) in map.iter_mut() {
            let key = key.as_str();
            if self.redaction.user_names && NAME_KEYS.contains(&key) {
                if let Value::String(s) = value {
                    let n = self.placeholder(Category::Name, s);
                    *s = format!("name-{n}");
                }
            } else if self.redaction.user_ids && key == "user_id" {
                match value {
                    Value::Number(id) if id.as_i64() != Some(0) => {
                        let n = self.placeholder(Category::User, &id.to_string());
                        *value = Value::from(n);
                    }
                    Value::String(id) if !id.is_empty() && id != "0" => {
                        let n = self.placeholder(Category::User, id);
                        *id = n.to_string();
                    }
                    _ => {}
                }
            } else if self.redaction.ids && ID_KEYS.contains(&key) {
                if let Value::String(s) = value {
                    let n = self.placeholder(Category::Id, s);
                    *s = format!("id-{n}");
                }
            } else {
                self.walk(value);
            }
        }
    }
}

/// One recorded message.
///
/// ```
/// use zoom_rtms_webhooks::protocol::recording::Reader;
/// use zoom_rtms_webhooks::protocol::incoming::ServerMessage;
/// let file = "{\"rtms_recording\":1}\n{\"at_ms\":5,\"socket\":\"signalling\",\"msg\":{\"msg_type\":12,\"timestamp\":1}}\n";
/// let entry = Reader::new(file.as_bytes())?.next().unwrap()?;
/// assert!(matches!(entry.message(), Ok(ServerMessage::KeepAliveRequest(_))));
/// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// Milliseconds since the recording started.
    pub at_ms: u64,
    /// The socket it arrived on.
    pub socket: Role,
    /// The message's JSON text as recorded (or the recorded text of a frame that was not JSON).
    pub text: String,
}

impl Entry {
    /// The message, parsed.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Reader;
    /// let file = "{\"rtms_recording\":1}\n{\"at_ms\":0,\"socket\":\"signalling\",\"text\":\"oops\"}\n";
    /// let entry = Reader::new(file.as_bytes())?.next().unwrap()?;
    /// assert!(entry.message().is_err());
    /// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
    /// ```
    pub fn message(&self) -> Result<ServerMessage<'_>, ParseError> {
        ServerMessage::parse(self.text.as_bytes())
    }
}

/// Why a recording could not be read. A line number counts from 1 (the header).
///
/// ```
/// use zoom_rtms_webhooks::protocol::recording::{Reader, RecordingError};
/// assert!(matches!(Reader::new(&b""[..]), Err(RecordingError::Empty)));
/// let e = Reader::new(&b"{\"rtms_recording\":2}\n"[..]).unwrap_err();
/// assert_eq!(e.to_string(), "unsupported recording format version 2");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// Reading failed.
    #[error("cannot read the recording")]
    Io(#[from] std::io::Error),
    /// No header line.
    #[error("the recording is empty (no header line)")]
    Empty,
    /// The header names a format version this crate does not read.
    #[error("unsupported recording format version {0}")]
    Version(u64),
    /// A line is not valid JSON of the expected shape.
    #[error("line {line} of the recording is not valid JSON")]
    Json {
        /// The line.
        line: u64,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A line is JSON but not a header, entry or end line as the format defines them.
    #[error("line {line} of the recording is malformed: {reason}")]
    Malformed {
        /// The line.
        line: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

#[derive(Deserialize)]
struct HeaderLine {
    rtms_recording: Option<u64>,
    #[serde(default)]
    redacted: Vec<String>,
    payloads: Option<String>,
}

#[derive(Deserialize)]
struct Line<'a> {
    at_ms: Option<u64>,
    socket: Option<&'a str>,
    media_type: Option<u32>,
    #[serde(borrow)]
    msg: Option<&'a RawValue>,
    text: Option<String>,
    end: Option<EndLine>,
}

#[derive(Deserialize)]
struct EndLine {
    dropped: u64,
}

/// Reads a recording line by line: [`Reader::new`] reads the header, then each
/// [`Iterator::next`] yields one [`Entry`] (or the [`RecordingError`] of a malformed line,
/// after which iteration stops). The end line is read as the end of iteration:
/// [`Reader::dropped`] then tells how many messages were not recorded (`None` when the file
/// has no end line: the recording was cut short).
///
/// ```
/// use zoom_rtms_webhooks::protocol::recording::{Reader, RecordingError};
/// let file = "{\"rtms_recording\":1}\n{\"at_ms\":\"soon\"}\n";
/// let mut reader = Reader::new(file.as_bytes())?;
/// assert!(matches!(reader.next(), Some(Err(RecordingError::Json { line: 2, .. }))));
/// assert!(reader.next().is_none());
/// # Ok::<(), RecordingError>(())
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    input: R,
    line: u64,
    buf: String,
    redaction: Redaction,
    dropped: Option<u64>,
    done: bool,
}

impl<R: BufRead> Reader<R> {
    /// Reads the header of `input`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Reader;
    /// let reader = Reader::new(&b"{\"rtms_recording\":1,\"redacted\":[\"text\"],\"payloads\":\"kept\"}\n"[..])?;
    /// assert!(reader.redaction().text());
    /// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
    /// ```
    pub fn new(mut input: R) -> Result<Self, RecordingError> {
        let mut buf = String::new();
        if input.read_line(&mut buf)? == 0 {
            return Err(RecordingError::Empty);
        }
        let header: HeaderLine = serde_json::from_str(buf.trim_end())
            .map_err(|source| RecordingError::Json { line: 1, source })?;
        let malformed = |reason| RecordingError::Malformed { line: 1, reason };
        match header.rtms_recording {
            None => return Err(malformed("no `rtms_recording` version: not a recording")),
            Some(FORMAT_VERSION) => {}
            Some(v) => return Err(RecordingError::Version(v)),
        }
        let mut redaction = Redaction::none();
        for category in &header.redacted {
            redaction = match category.as_str() {
                "user_names" => redaction.with_user_names(true),
                "user_ids" => redaction.with_user_ids(true),
                "text" => redaction.with_text(true),
                "ids" => redaction.with_ids(true),
                _ => return Err(malformed("unknown redaction category")),
            };
        }
        match header.payloads.as_deref() {
            None | Some("kept") => {}
            Some("dropped") => redaction = redaction.with_payloads_dropped(true),
            Some(_) => return Err(malformed("`payloads` is neither \"kept\" nor \"dropped\"")),
        }
        Ok(Reader {
            input,
            line: 1,
            buf,
            redaction,
            dropped: None,
            done: false,
        })
    }

    /// What the recording says was redacted.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Reader;
    /// let reader = Reader::new(&b"{\"rtms_recording\":1}\n"[..])?;
    /// assert!(reader.redaction().is_none());
    /// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
    /// ```
    pub fn redaction(&self) -> &Redaction {
        &self.redaction
    }

    /// How many messages were not recorded, once the end line was read (`None` before, or
    /// when there is none).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Reader;
    /// let mut reader = Reader::new(&b"{\"rtms_recording\":1}\n{\"end\":{\"dropped\":2}}\n"[..])?;
    /// assert!(reader.next().is_none());
    /// assert_eq!(reader.dropped(), Some(2));
    /// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
    /// ```
    pub fn dropped(&self) -> Option<u64> {
        self.dropped
    }

    fn read_entry(&mut self) -> Result<Option<Entry>, RecordingError> {
        loop {
            self.buf.clear();
            if self.input.read_line(&mut self.buf)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            let line = self.line;
            let text = self.buf.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            let malformed = |reason| RecordingError::Malformed { line, reason };
            if self.dropped.is_some() {
                return Err(malformed("a line after the end line"));
            }
            let parsed: Line<'_> = serde_json::from_str(text)
                .map_err(|source| RecordingError::Json { line, source })?;
            if let Some(end) = parsed.end {
                self.dropped = Some(end.dropped);
                continue;
            }
            let at_ms = parsed.at_ms.ok_or(malformed("no `at_ms`"))?;
            let socket = match (parsed.socket, parsed.media_type) {
                (Some("signalling"), None) => Role::Signalling,
                (Some("media"), Some(bits)) => Role::Media(MediaTypes::from_bits(bits)),
                (Some("media"), None) => {
                    return Err(malformed("a media entry without `media_type`"))
                }
                (Some("signalling"), Some(_)) => {
                    return Err(malformed("a signalling entry with a `media_type`"))
                }
                _ => {
                    return Err(malformed(
                        "`socket` is neither \"signalling\" nor \"media\"",
                    ))
                }
            };
            let text = match (parsed.msg, parsed.text) {
                (Some(msg), None) => msg.get().to_owned(),
                (None, Some(text)) => text,
                _ => return Err(malformed("an entry needs exactly one of `msg` and `text`")),
            };
            return Ok(Some(Entry {
                at_ms,
                socket,
                text,
            }));
        }
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Entry, RecordingError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A whole recording in memory: what the simulator replays.
///
/// ```
/// use zoom_rtms_webhooks::protocol::recording::Recording;
/// let file = "{\"rtms_recording\":1}\n{\"at_ms\":0,\"socket\":\"media\",\"media_type\":1,\"msg\":{\"msg_type\":14,\"content\":{\"data\":\"AAA=\"}}}\n{\"end\":{\"dropped\":0}}\n";
/// let recording = Recording::read(file.as_bytes())?;
/// assert_eq!(recording.entries().len(), 1);
/// assert_eq!(recording.dropped(), Some(0));
/// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    entries: Vec<Entry>,
    redaction: Redaction,
    dropped: Option<u64>,
}

impl Recording {
    /// Reads a whole recording; the first malformed line is the error.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::{Recording, RecordingError};
    /// let bad = Recording::read(&b"{\"rtms_recording\":1}\n{\"at_ms\":1,\"socket\":\"ws\",\"msg\":{}}\n"[..]);
    /// assert!(matches!(bad, Err(RecordingError::Malformed { line: 2, .. })));
    /// ```
    pub fn read(input: impl BufRead) -> Result<Self, RecordingError> {
        let mut reader = Reader::new(input)?;
        let entries = reader.by_ref().collect::<Result<Vec<_>, _>>()?;
        Ok(Recording {
            entries,
            redaction: reader.redaction,
            dropped: reader.dropped,
        })
    }

    /// Reads the recording file at `path`.
    ///
    /// ```no_run
    /// use zoom_rtms_webhooks::protocol::recording::Recording;
    /// let recording = Recording::open("incident-4711.jsonl")?;
    /// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
    /// ```
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, RecordingError> {
        let file = std::fs::File::open(path)?;
        Recording::read(std::io::BufReader::new(file))
    }

    /// The messages, in the order received.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Recording;
    /// let recording = Recording::read(&b"{\"rtms_recording\":1}\n"[..])?;
    /// assert!(recording.entries().is_empty());
    /// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
    /// ```
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// What was redacted.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Recording;
    /// let recording = Recording::read(&b"{\"rtms_recording\":1}\n"[..])?;
    /// assert!(recording.redaction().is_none());
    /// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
    /// ```
    pub fn redaction(&self) -> &Redaction {
        &self.redaction
    }

    /// How many messages were not recorded (`None`: the file has no end line).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::recording::Recording;
    /// let recording = Recording::read(&b"{\"rtms_recording\":1}\n"[..])?;
    /// assert_eq!(recording.dropped(), None);
    /// # Ok::<(), zoom_rtms_webhooks::protocol::recording::RecordingError>(())
    /// ```
    pub fn dropped(&self) -> Option<u64> {
        self.dropped
    }
}
