//! Recording a stream to files (feature `record`): each participant's audio (and the mixed
//! stream's) as a WAV file with silence where it sent nothing, transcripts, chat messages and
//! events as JSON Lines.
//!
//! A [`StreamRecorder`] takes a stream's [`Item`]s in order and writes, in its directory:
//!
//! - `audio-<user_id>.wav` (`audio-channel-<channel_id>.wav` for a Contact Center channel;
//!   user 0 is the mixed stream): 16-bit PCM at the rate and channels the server confirmed, placed by
//!   the [timeline rule](crate::protocol::timeline) (sample 0 is the stream's zero: the
//!   first-packet timestamp, else its first audio frame);
//! - `transcript.jsonl`: one object per utterance (`user_id`, `user_name`, `timestamp`,
//!   `start_time`, `end_time`, `language`, `text`; `null` for what Zoom did not send);
//! - `chat.jsonl`: one object per chat message, every field Zoom sent;
//! - `events.jsonl`: one object per event update: `timestamp`, `event` (`participant_join`,
//!   `participant_leave`, `active_speaker`, `sharing_start`, `sharing_stop`, ..., or the
//!   number), and the fields Zoom sent;
//! - video (and screen share, as `share-...`), per participant: `video-<user_id>.h264`, the
//!   H.264 elementary stream as sent, or `video-<user_id>-<n>.jpg` / `.png`, one file per
//!   frame, numbered from 0, for image codecs.
//!
//! Files are created when their first line or frame arrives, and never overwritten: a later
//! connection to the same stream (a new `rtms_started` after a failure, a takeover) appends
//! to the JSON Lines files and starts new media files, numbered (`audio-7.1.wav`). A
//! recording is bounded: at most 1 024 audio tracks, each at most 24 hours from the stream's
//! zero (what goes past is counted in [`RecordSummary::audio_skipped`]). The WAV headers are brought up
//! to date every second of audio and when the recorder finishes or is dropped, so a file is
//! never left with a broken header, whatever ends the stream (a process killed outright
//! leaves at most the last second unannounced in the header). Only L16 audio is written
//! (ask for `Codec::L16`); other codecs are counted in
//! [`RecordSummary::audio_skipped`].
//!
//! ```no_run
//! use zoom_rtms_webhooks::client::SupervisedStream;
//! use zoom_rtms_webhooks::record::StreamRecorder;
//!
//! async fn on_stream(mut stream: SupervisedStream) -> Result<(), Box<dyn std::error::Error>> {
//!     let mut recorder = StreamRecorder::create("recordings", stream.id())?;
//!     while let Some(item) = stream.next().await {
//!         recorder.record(&item)?;
//!     }
//!     let summary = recorder.finish()?;
//!     println!("{} audio frames in {}", summary.audio_frames, summary.dir.display());
//!     Ok(())
//! }
//! ```

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::client::{EventUpdate, Item, MediaFrame, Source};
use crate::protocol::media::{AudioFormat, AudioParams, Codec};
use crate::protocol::timeline::Timeline;

/// Why a recording failed: a file could not be created or written.
///
/// ```
/// use zoom_rtms_webhooks::record::RecordError;
/// let e = RecordError::Io { path: "x/audio-1.wav".into(), source: std::io::ErrorKind::Other.into() };
/// assert!(e.to_string().contains("x/audio-1.wav"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A file or directory could not be created or written.
    #[error("recording to {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// What a finished recording holds.
///
/// ```
/// use zoom_rtms_webhooks::record::RecordSummary;
/// let s = RecordSummary::default();
/// assert_eq!((s.participants, s.audio_frames), (0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordSummary {
    /// The stream's directory.
    pub dir: PathBuf,
    /// Audio files written (one per participant, or the mixed stream).
    pub participants: usize,
    /// Audio frames written.
    pub audio_frames: u64,
    /// Audio frames not written: not L16, before the server confirmed a format, or past a
    /// recording's bounds (tracks, length).
    pub audio_skipped: u64,
    /// Lines of `transcript.jsonl`.
    pub transcripts: u64,
    /// Lines of `chat.jsonl`.
    pub chats: u64,
    /// Lines of `events.jsonl`.
    pub events: u64,
    /// Video and screen-share frames written.
    pub video_frames: u64,
    /// Gaps cut to the timeline's maximum (a timestamp far ahead).
    pub clamped_gaps: u64,
}

/// One WAV file.
struct Track {
    path: PathBuf,
    wav: hound::WavWriter<BufWriter<File>>,
    /// Frames since the header was last brought up to date.
    unflushed: u32,
}

/// One participant's video or screen share.
enum VideoTrack {
    /// The H.264 elementary stream, appended frame after frame.
    H264(PathBuf, BufWriter<File>),
    /// Images written so far (the next one's number).
    Images(u64),
}

/// A stream's recording: see the [module docs](self).
pub struct StreamRecorder {
    summary: RecordSummary,
    format: Option<AudioFormat>,
    /// The confirmed codec of video and of screen share (default JPG).
    video_codecs: [Codec; 2],
    /// Per video or share track: its H.264 file, or how many images were written.
    videos: HashMap<String, VideoTrack>,
    timeline: Option<Timeline<String>>,
    zero: Option<i64>,
    tracks: HashMap<String, Track>,
    transcripts: Option<BufWriter<File>>,
    chats: Option<BufWriter<File>>,
    events: Option<BufWriter<File>>,
}

impl std::fmt::Debug for StreamRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRecorder")
            .field("summary", &self.summary)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// WAV headers are brought up to date every this many frames of a track (one second of 20 ms
/// frames).
const FLUSH_EVERY: u32 = 50;
/// The most audio tracks (files) a recording opens; audio of further participants is counted
/// in `audio_skipped` (a meeting has at most 1 000 participants).
const MAX_TRACKS: usize = 1024;
/// The longest track, from the stream's zero: 24 hours (1.4 GB of 16 kHz mono, under WAV's
/// 4 GiB); what would go past it is counted in `audio_skipped`.
const MAX_TRACK_SECONDS: u64 = 24 * 3600;

impl StreamRecorder {
    /// A recorder writing into `dir/<stream id>/` (created if needed; the id, from the
    /// network, as a safe file name: characters outside `[A-Za-z0-9._-]` as `_`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::record::StreamRecorder;
    /// let dir = std::env::temp_dir().join("zoom-rtms-record-doc");
    /// let r = StreamRecorder::create(&dir, "../a/b==").unwrap();
    /// assert_eq!(r.dir(), dir.join(".._a_b__"));
    /// ```
    pub fn create(dir: impl AsRef<Path>, rtms_stream_id: &str) -> Result<Self, RecordError> {
        let dir = dir.as_ref().join(crate::client::safe_name(rtms_stream_id));
        fs::create_dir_all(&dir).map_err(|source| RecordError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(StreamRecorder {
            summary: RecordSummary {
                dir,
                ..RecordSummary::default()
            },
            format: None,
            video_codecs: [Codec::Jpg; 2],
            videos: HashMap::new(),
            timeline: None,
            zero: None,
            tracks: HashMap::new(),
            transcripts: None,
            chats: None,
            events: None,
        })
    }

    /// The stream's directory.
    ///
    /// ```
    /// use zoom_rtms_webhooks::record::StreamRecorder;
    /// let r = StreamRecorder::create(std::env::temp_dir(), "s-1").unwrap();
    /// assert!(r.dir().ends_with("s-1"));
    /// ```
    pub fn dir(&self) -> &Path {
        &self.summary.dir
    }

    /// What was written so far.
    ///
    /// ```
    /// use zoom_rtms_webhooks::record::StreamRecorder;
    /// let r = StreamRecorder::create(std::env::temp_dir(), "s-2").unwrap();
    /// assert_eq!(r.summary().audio_frames, 0);
    /// ```
    pub fn summary(&self) -> &RecordSummary {
        &self.summary
    }

    /// Records one item (call it with every item, in order).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Item, Source, Transcript};
    /// use zoom_rtms_webhooks::record::StreamRecorder;
    /// let mut r = StreamRecorder::create(std::env::temp_dir(), "s-3").unwrap();
    /// let t = Transcript::new(Source::User { id: Some(7), name: Some("Ann".into()) }, "hi");
    /// r.record(&Item::Transcript(Box::new(t))).unwrap();
    /// assert_eq!(r.finish().unwrap().transcripts, 1);
    /// ```
    pub fn record(&mut self, item: &Item) -> Result<(), RecordError> {
        match item {
            Item::Connected { params, .. } => {
                let format = params
                    .audio()
                    .map_or_else(AudioFormat::default, AudioParams::format);
                // The first format with a known rate is kept, and the timeline made from it: a
                // recording does not change format midway.
                if self.format.is_none() {
                    if let Some(rate) = format.sample_rate_hz {
                        let mut timeline = Timeline::new(rate);
                        if let Some(zero) = self.zero {
                            timeline.set_zero(zero);
                        }
                        self.timeline = Some(timeline);
                        self.format = Some(format);
                    }
                }
                for (slot, video) in [params.video(), params.deskshare()].into_iter().enumerate() {
                    if let Some(codec) = video.and_then(|v| v.codec()) {
                        self.video_codecs[slot] = codec;
                    }
                }
                Ok(())
            }
            Item::Audio(frame) => self.audio(frame),
            Item::Video(frame) => self.video("video", self.video_codecs[0], frame),
            Item::Share(frame) => self.video("share", self.video_codecs[1], frame),
            Item::Transcript(t) => {
                self.summary.transcripts += 1;
                let path = self.summary.dir.join("transcript.jsonl");
                line(&mut self.transcripts, &path, &**t)
            }
            Item::Chat(c) => {
                self.summary.chats += 1;
                let path = self.summary.dir.join("chat.jsonl");
                line(&mut self.chats, &path, &**c)
            }
            Item::Event(e) => {
                if e.event_type_code() == Some(1) {
                    if let Some(ts) = e.timestamp() {
                        self.zero.get_or_insert(ts);
                        if let Some(t) = &mut self.timeline {
                            t.set_zero(ts);
                        }
                    }
                }
                self.summary.events += 1;
                let path = self.summary.dir.join("events.jsonl");
                line(&mut self.events, &path, &event_line(e))
            }
            _ => Ok(()),
        }
    }

    fn audio(&mut self, frame: &MediaFrame) -> Result<(), RecordError> {
        let (Some(format), Some(timeline)) = (self.format, self.timeline.as_mut()) else {
            self.summary.audio_skipped += 1;
            return Ok(());
        };
        if format.codec != Codec::L16 {
            self.summary.audio_skipped += 1;
            return Ok(());
        }
        let channels = u16::try_from(format.channels.max(1)).unwrap_or(1);
        let key = track_name(&frame.source);
        if !self.tracks.contains_key(&key) && self.tracks.len() >= MAX_TRACKS {
            self.summary.audio_skipped += 1;
            return Ok(());
        }
        let frame_samples = frame.data.len() / 2 / usize::from(channels);
        let placed = timeline.place(key.clone(), frame.timestamp, frame_samples as u64);
        if placed.clamped {
            self.summary.clamped_gaps += 1;
        }
        let rate = u64::from(format.sample_rate_hz.unwrap_or(16_000));
        if placed.start + frame_samples as u64 > MAX_TRACK_SECONDS * rate {
            self.summary.audio_skipped += 1;
            return Ok(());
        }
        let track = match self.tracks.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let spec = hound::WavSpec {
                    channels,
                    sample_rate: format.sample_rate_hz.unwrap_or(16_000),
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                let (path, file) =
                    new_file(&self.summary.dir, &format!("audio-{}", v.key()), "wav")?;
                let wav = hound::WavWriter::new(BufWriter::new(file), spec)
                    .map_err(|e| wav_error(&path, e))?;
                self.summary.participants += 1;
                v.insert(Track {
                    path,
                    wav,
                    unflushed: 0,
                })
            }
        };
        let wav_err = |path: &Path, e| wav_error(path, e);
        for _ in 0..placed.silence * u64::from(channels) {
            track
                .wav
                .write_sample(0i16)
                .map_err(|e| wav_err(&track.path, e))?;
        }
        let whole = frame_samples * 2 * usize::from(channels);
        for pair in frame.data[..whole].chunks_exact(2) {
            let sample = i16::from_le_bytes([pair[0], pair[1]]);
            track
                .wav
                .write_sample(sample)
                .map_err(|e| wav_err(&track.path, e))?;
        }
        self.summary.audio_frames += 1;
        track.unflushed += 1;
        if track.unflushed >= FLUSH_EVERY {
            track.unflushed = 0;
            track.wav.flush().map_err(|e| wav_err(&track.path, e))?;
        }
        Ok(())
    }

    fn video(&mut self, kind: &str, codec: Codec, frame: &MediaFrame) -> Result<(), RecordError> {
        let name = format!("{kind}-{}", track_name(&frame.source));
        let dir = &self.summary.dir;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RecordError::Io { path, source }
        };
        let track = self
            .videos
            .entry(name.clone())
            .or_insert(VideoTrack::Images(0));
        if codec == Codec::H264 && matches!(track, VideoTrack::Images(0)) {
            let (path, file) = new_file(dir, &name, "h264")?;
            *track = VideoTrack::H264(path, BufWriter::new(file));
        }
        match track {
            VideoTrack::H264(path, file) => file.write_all(&frame.data).map_err(io(path))?,
            VideoTrack::Images(n) => {
                let ext = if codec == Codec::Png { "png" } else { "jpg" };
                let (path, mut file) = new_file(dir, &format!("{name}-{n}"), ext)?;
                file.write_all(&frame.data).map_err(io(&path))?;
                *n += 1;
            }
        }
        self.summary.video_frames += 1;
        Ok(())
    }

    /// Finishes every file (WAV headers written, JSON Lines flushed) and says what was
    /// recorded. Dropping the recorder finishes the files too, without reporting errors.
    ///
    /// ```
    /// use zoom_rtms_webhooks::record::StreamRecorder;
    /// let r = StreamRecorder::create(std::env::temp_dir(), "s-4").unwrap();
    /// assert_eq!(r.finish().unwrap().participants, 0);
    /// ```
    pub fn finish(mut self) -> Result<RecordSummary, RecordError> {
        for (_, track) in self.tracks.drain() {
            let Track { path, wav, .. } = track;
            wav.finalize().map_err(|e| wav_error(&path, e))?;
        }
        for (_, video) in self.videos.drain() {
            if let VideoTrack::H264(path, mut file) = video {
                file.flush()
                    .map_err(|source| RecordError::Io { path, source })?;
            }
        }
        let dir = self.summary.dir.clone();
        for (file, name) in [
            (self.transcripts.take(), "transcript.jsonl"),
            (self.chats.take(), "chat.jsonl"),
            (self.events.take(), "events.jsonl"),
        ] {
            if let Some(mut file) = file {
                file.flush().map_err(|source| RecordError::Io {
                    path: dir.join(name),
                    source,
                })?;
            }
        }
        Ok(std::mem::take(&mut self.summary))
    }
}

/// The file name part of a track: the user id (0: the mixed stream), `channel-<channel id>`,
/// or `unknown`.
fn track_name(source: &Source) -> String {
    match source {
        Source::User { id: Some(id), .. } => id.to_string(),
        Source::Channel(ch) => format!("channel-{}", crate::client::safe_name(ch)),
        _ => "unknown".to_owned(),
    }
}

/// A new file `dir/<stem>.<ext>`, or `dir/<stem>.<n>.<ext>` (n = 1, 2, ...) when that exists
/// (an earlier connection to the stream wrote it): never overwritten.
fn new_file(dir: &Path, stem: &str, ext: &str) -> Result<(PathBuf, File), RecordError> {
    let mut n = 0u32;
    loop {
        let path = if n == 0 {
            dir.join(format!("{stem}.{ext}"))
        } else {
            dir.join(format!("{stem}.{n}.{ext}"))
        };
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 10_000 => n += 1,
            Err(source) => return Err(RecordError::Io { path, source }),
        }
    }
}

fn wav_error(path: &Path, e: hound::Error) -> RecordError {
    let source = match e {
        hound::Error::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    };
    RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Appends `value` as one JSON line to `file` (created at `path` on first use).
fn line(
    file: &mut Option<BufWriter<File>>,
    path: &Path,
    value: &impl Serialize,
) -> Result<(), RecordError> {
    let io = |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    };
    let w = match file {
        Some(w) => w,
        // Appended to: a later connection to the stream adds to what an earlier one wrote.
        None => file.insert(BufWriter::new(
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(io)?,
        )),
    };
    serde_json::to_writer(&mut *w, value).map_err(|e| io(e.into()))?;
    w.write_all(b"\n").map_err(io)
}

/// An event update as one line: `timestamp`, `event` (its name, or the number), then the other
/// fields Zoom sent.
fn event_line(e: &EventUpdate) -> Value {
    let mut out = Map::new();
    out.insert("timestamp".into(), e.timestamp().into());
    let name = match e.event_type_code() {
        Some(1) => Some("first_packet_timestamp"),
        Some(2) => Some("active_speaker"),
        Some(3) => Some("participant_join"),
        Some(4) => Some("participant_leave"),
        Some(5) => Some("sharing_start"),
        Some(6) => Some("sharing_stop"),
        Some(7) => Some("media_connection_interrupted"),
        Some(8) => Some("participant_video_on"),
        Some(9) => Some("participant_video_off"),
        _ => None,
    }
    .filter(|_| {
        matches!(
            e.event_type(),
            crate::protocol::events::EventType::Meeting(_)
        )
    });
    out.insert(
        "event".into(),
        match (name, e.event_type_code()) {
            (Some(name), _) => name.into(),
            (None, code) => code.into(),
        },
    );
    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(e.raw()) {
        for (k, v) in fields {
            if k != "event_type" && k != "timestamp" && k != "event" {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}
