//! Replaying a recording ([`StreamSpec::with_replay`]): the player sends the recorded
//! messages instead of its tone, with their original spacing, paced by the recorded audio
//! messages (one audio message is one of the player's frames, so faults and the end apply as
//! usual).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::StreamSpec;
use crate::handshake::{MediaKind, MediaTypes};
use crate::protocol::incoming::ServerMessage;
use crate::protocol::recording::{Entry, Recording};
use crate::protocol::session::Role;

impl StreamSpec {
    /// Replays `recording` (made with the client's
    /// [`Options::with_recording`](crate::client::Options::with_recording), or written in the
    /// [recording format](crate::protocol::recording)) instead of the generated tone,
    /// transcripts, video and participant events, once the client is ready, with the
    /// recorded spacing between messages. Every check applies as usual (handshakes,
    /// signatures, ready acknowledgement, keep-alives, faults, the end), and the report's
    /// `audio_sha256` covers the replayed audio bytes, as the client receives them.
    ///
    /// - **Replayed**, each to the current socket that carries its kind: audio, video, screen
    ///   share, transcript and chat messages (14–18); event updates (6) on signalling, except
    ///   event 7 (a media interruption: inject [`Fault::DropMedia`](super::Fault::DropMedia)
    ///   instead) and only for the event types the client subscribed to (event 1 always), as
    ///   Zoom does; messages of other types (metadata 23–27, unknown) and frames that are not
    ///   JSON, verbatim to a socket of the role they were recorded on.
    /// - **Not replayed** (the simulator makes its own): handshake responses (2, 4),
    ///   keep-alives (12), stream and session states (8, 9, 11, 20), the stream close and
    ///   video subscription responses (22, 29).
    /// - **Timestamps** (`timestamp`, `start_time`, `end_time`, `event_ts` of a message's
    ///   `content` or `event`) are shifted by one offset, so that the first recorded timestamp
    ///   becomes the simulator's clock when the replay starts; their differences are kept.
    ///   Everything else is sent as recorded (a re-serialised message may order its keys
    ///   differently).
    ///
    /// One audio message is one frame: [`audio_frames`](StreamSpec::audio_frames) becomes the
    /// number of recorded audio messages (lower it with
    /// [`with_audio_frames`](StreamSpec::with_audio_frames) afterwards to replay only the
    /// start), and faults count recorded audio messages. A recording without audio is replayed
    /// in one go once the client's audio socket is ready (the simulator always waits for one).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::protocol::recording::Recording;
    /// use zoom_rtms_webhooks::simulator::StreamSpec;
    /// use zoom_rtms_webhooks::Product;
    /// let file = concat!(
    ///     "{\"rtms_recording\":1}\n",
    ///     "{\"at_ms\":0,\"socket\":\"media\",\"media_type\":9,\"msg\":{\"msg_type\":14,\"content\":{\"user_id\":0,\"data\":\"AAABAA==\",\"timestamp\":1000}}}\n",
    ///     "{\"at_ms\":20,\"socket\":\"media\",\"media_type\":9,\"msg\":{\"msg_type\":14,\"content\":{\"user_id\":0,\"data\":\"AgADAA==\",\"timestamp\":1020}}}\n",
    /// );
    /// let recording = Recording::read(file.as_bytes())?;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret")?)
    ///     .with_replay(recording);
    /// assert_eq!(spec.audio_frames(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_replay(mut self, recording: Recording) -> Self {
        let steps: Vec<Step> = recording.entries().iter().filter_map(Step::of).collect();
        self.audio_frames = steps.iter().filter(|s| s.is_audio()).count() as u64;
        // The last message recorded (replayed or not: the end of the stream, say) sets when
        // the replay is over.
        let end_ms = recording
            .entries()
            .iter()
            .map(|e| e.at_ms)
            .max()
            .unwrap_or(0);
        self.replay = Some(Arc::new(Replay { steps, end_ms }));
        self
    }
}

/// The messages of a recording to replay.
#[derive(Debug)]
pub(super) struct Replay {
    steps: Vec<Step>,
    end_ms: u64,
}

impl Replay {
    /// How many messages are replayed.
    pub(super) fn len(&self) -> usize {
        self.steps.len()
    }
}

/// Where a replayed message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// The current socket carrying this kind.
    Media(MediaKind),
    /// Signalling, when the client subscribed to this event type (`None`: always).
    Event(Option<i64>),
    /// The signalling socket.
    Signaling,
    /// A media socket carrying one of these kinds (or else the audio socket).
    MediaOf(MediaTypes),
}

/// One recorded message to replay.
#[derive(Debug)]
pub(super) struct Step {
    at_ms: u64,
    target: Target,
    text: String,
}

impl Step {
    fn of(entry: &Entry) -> Option<Step> {
        let target = match entry.message() {
            Ok(ServerMessage::Audio(_)) => Target::Media(MediaKind::Audio),
            Ok(ServerMessage::Video(_)) => Target::Media(MediaKind::Video),
            Ok(ServerMessage::Share(_)) => Target::Media(MediaKind::Deskshare),
            Ok(ServerMessage::Transcript(_)) => Target::Media(MediaKind::Transcript),
            Ok(ServerMessage::Chat(_)) => Target::Media(MediaKind::Chat),
            Ok(ServerMessage::EventUpdate(e)) => match e.event_type_code() {
                Some(7) => return None,
                Some(1) => Target::Event(None),
                code => Target::Event(Some(code.unwrap_or(0))),
            },
            Ok(ServerMessage::Other { .. }) | Err(_) => match entry.socket {
                Role::Signalling => Target::Signaling,
                Role::Media(types) => Target::MediaOf(types),
            },
            Ok(_) => return None,
        };
        Some(Step {
            at_ms: entry.at_ms,
            target,
            text: entry.text.clone(),
        })
    }

    fn is_audio(&self) -> bool {
        self.target == Target::Media(MediaKind::Audio)
    }
}

/// Where a replayed frame stands after [`Player::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// Its next message is due then: call again.
    Due(Instant),
    /// Done; the next frame starts then.
    Done(Instant),
    /// The audio socket is gone: the frame starts again (at its audio message, due then)
    /// once the client is ready again.
    Gone(Instant),
}

/// The frame in progress: when it started and the recorded time of its first message; after
/// its audio message, that one's time and recorded time.
#[derive(Debug, Clone, Copy)]
struct Frame {
    start: Instant,
    base_ms: u64,
    audio: Option<(Instant, u64)>,
}

/// The player's place in a replay.
pub(super) struct Player {
    replay: Arc<Replay>,
    next: usize,
    /// Added to every recorded timestamp; fixed by the first message sent.
    offset: Option<i64>,
    first_ts: Option<i64>,
    audio: usize,
    /// The last interval between two audio messages.
    interval: Duration,
    frame: Option<Frame>,
}

impl Player {
    /// The replay of `spec`, if it has one.
    pub(super) fn of(spec: &StreamSpec) -> Option<Player> {
        let replay = Arc::clone(spec.replay.as_ref()?);
        let first_ts = replay.steps.iter().find_map(|s| first_timestamp(&s.text));
        let audio = replay.steps.iter().filter(|s| s.is_audio()).count();
        Some(Player {
            replay,
            next: 0,
            offset: None,
            first_ts,
            audio,
            interval: Duration::from_millis(20),
            frame: None,
        })
    }

    /// How many frames the replay takes, at most `frames`.
    pub(super) fn frames(&self, frames: u64) -> u64 {
        if self.audio == 0 {
            1
        } else {
            frames.min(self.audio as u64)
        }
    }

    /// Goes on with the frame in progress at `now` (a new one starts at `at`): the messages
    /// before the next audio message at their recorded spacing, the audio message, and those
    /// after it until the following audio message. `send` sends one message (its target and
    /// its text, timestamps shifted; `now_ms` is the clock now) and tells whether it went.
    pub(super) fn step(
        &mut self,
        now: Instant,
        at: Instant,
        now_ms: i64,
        mut send: impl FnMut(Target, String) -> bool,
    ) -> Progress {
        let replay = Arc::clone(&self.replay);
        let steps = &replay.steps;
        let mut frame = match self.frame.take() {
            Some(frame) => frame,
            None => match steps.get(self.next) {
                Some(step) => Frame {
                    start: at,
                    base_ms: step.at_ms,
                    audio: None,
                },
                // Used up while the stream goes on (a keep-alive pause is waited out): keep
                // the pace, sending nothing.
                None => return Progress::Done(at + self.interval.max(Duration::from_millis(20))),
            },
        };
        loop {
            let Some(step) = steps.get(self.next) else {
                return match frame.audio {
                    None => Progress::Done(at),
                    Some((when, ms)) => {
                        // As after the tone: the stream ends one audio interval after the last
                        // audio message at the earliest, so that it reaches the client first.
                        let end = Duration::from_millis(replay.end_ms.saturating_sub(ms));
                        Progress::Done(when + end.max(self.interval))
                    }
                };
            };
            let due = match frame.audio {
                None => {
                    frame.start + Duration::from_millis(step.at_ms.saturating_sub(frame.base_ms))
                }
                Some((when, ms)) => when + Duration::from_millis(step.at_ms.saturating_sub(ms)),
            };
            if let (Some((when, _)), true) = (frame.audio, step.is_audio()) {
                self.interval = due - when;
                return Progress::Done(due);
            }
            if due > now {
                self.frame = Some(frame);
                return Progress::Due(due);
            }
            let sent = self.send(now_ms, self.next, &mut send);
            if step.is_audio() {
                if !sent {
                    return Progress::Gone(due);
                }
                frame.audio = Some((due, step.at_ms));
            }
            self.next += 1;
        }
    }

    /// Sends step `index` with its timestamps shifted; whether it went.
    fn send(
        &mut self,
        now_ms: i64,
        index: usize,
        send: &mut impl FnMut(Target, String) -> bool,
    ) -> bool {
        let offset = *self.offset.get_or_insert_with(|| match self.first_ts {
            Some(first) => now_ms.saturating_sub(first),
            None => 0,
        });
        let Some(step) = self.replay.steps.get(index) else {
            return false;
        };
        send(step.target, shifted(&step.text, offset))
    }
}

/// The fields shifted to the simulator's clock, in a message's `content` or `event`.
const TIME_FIELDS: [&str; 4] = ["timestamp", "start_time", "end_time", "event_ts"];

fn first_timestamp(text: &str) -> Option<i64> {
    let value: Value = serde_json::from_str(text).ok()?;
    ["content", "event"].iter().find_map(|part| {
        let obj = value.get(part)?.as_object()?;
        TIME_FIELDS
            .iter()
            .find_map(|f| obj.get(*f).and_then(Value::as_i64))
    })
}

/// `text` with its timestamps moved by `offset` ms (unchanged when it is not JSON or has
/// none).
fn shifted(text: &str, offset: i64) -> String {
    if offset == 0 {
        return text.to_owned();
    }
    let Ok(mut value) = serde_json::from_str::<Value>(text) else {
        return text.to_owned();
    };
    let mut changed = false;
    for part in ["content", "event"] {
        if let Some(obj) = value.get_mut(part).and_then(Value::as_object_mut) {
            for field in TIME_FIELDS {
                if let Some(v) = obj.get_mut(field) {
                    if let Some(t) = v.as_i64() {
                        *v = Value::from(t.saturating_add(offset));
                        changed = true;
                    }
                }
            }
        }
    }
    if changed {
        value.to_string()
    } else {
        text.to_owned()
    }
}
