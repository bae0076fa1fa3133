//! Named runs of the simulator: the faults and the end of each stream, by name.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{End, Fault, StreamSpec};
use crate::codes::StatusCode;
use crate::event::Product;
use crate::handshake::{Credentials, MediaKind};

/// A named run of the simulator: which faults each stream gets and how it ends. The names
/// (`faults`, `happy`, `drop-media`, ...) are those of the `simulate` example's `--scenario`;
/// [`Scenario::streams`] turns one into the [`StreamSpec`]s to register.
///
/// ```
/// use zoom_rtms_webhooks::simulator::Scenario;
/// let scenario: Scenario = "drop-media".parse()?;
/// assert_eq!(scenario, Scenario::DropMedia);
/// assert_eq!(scenario.to_string(), "drop-media");
/// assert_eq!(Scenario::default(), Scenario::Faults);
/// assert!("no-such-scenario".parse::<Scenario>().is_err());
/// # Ok::<(), zoom_rtms_webhooks::simulator::ParseScenarioError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scenario {
    /// `faults`: each fault on a stream of its own, so that each is judged on its own (status 8
    /// then accept, a dropped media socket, a dropped signalling socket, a failover), four
    /// streams per stream asked for; every one ends with stream state 4.
    #[default]
    Faults,
    /// `happy`: no fault; the stream ends with stream state 4.
    Happy,
    /// `duplicate`: status 8 to the first signalling handshake, then accept.
    Duplicate,
    /// `drop-media`: halfway, the media socket is closed and event 7 sent.
    DropMedia,
    /// `drop-signaling`: halfway, every socket is closed and `*_rtms_interrupted` sent.
    DropSignaling,
    /// `failover`: halfway, a new `*_rtms_started` with new server URLs.
    Failover,
    /// `reject-14`: status 14 to the data handshake (the client must give up).
    Reject14,
    /// `reject-15`: status 15 to the data handshake (the client must give up).
    Reject15,
    /// `reject-16`: status 16 to the data handshake (the client must give up).
    Reject16,
    /// `refuse-signaling`: status 3 to a correctly signed signalling handshake (the client must
    /// give up).
    RefuseSignaling,
    /// `refused-url`: media URLs on a host the client must refuse (`localhost`).
    RefusedUrl,
    /// `keep-alive-pause`: keep-alives stop for 70 s while media flows (the client's watchdog
    /// must not fire).
    KeepAlivePause,
    /// `silence`: all traffic stops for up to 90 s (the client's watchdog must fire).
    Silence,
    /// `stopped`: only the `*_rtms_stopped` webhook ends the stream (the client must close its
    /// sockets itself).
    Stopped,
    /// `session-stopped`: session state 5 ends the stream.
    SessionStopped,
    /// `refuse-chat`: every data handshake asking for chat is answered with status 13
    /// (`MEDIA_TYPE_CHAT_NOT_SUPPORT`) while audio and transcripts are served: the client
    /// must go on with what was granted (check `goes_on`, advice; a client that never asks
    /// for chat meets no refusal and is not judged on it).
    RefuseChat,
}

impl Scenario {
    /// Every scenario, the default (`faults`) first.
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::Scenario;
    /// for scenario in Scenario::ALL {
    ///     println!("{scenario:<18} {}", scenario.description());
    /// }
    /// assert_eq!(Scenario::ALL[0], Scenario::default());
    /// ```
    pub const ALL: [Scenario; 16] = [
        Scenario::Faults,
        Scenario::Happy,
        Scenario::Duplicate,
        Scenario::DropMedia,
        Scenario::DropSignaling,
        Scenario::Failover,
        Scenario::Reject14,
        Scenario::Reject15,
        Scenario::Reject16,
        Scenario::RefuseSignaling,
        Scenario::RefusedUrl,
        Scenario::KeepAlivePause,
        Scenario::Silence,
        Scenario::Stopped,
        Scenario::SessionStopped,
        Scenario::RefuseChat,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Faults => "faults",
            Scenario::Happy => "happy",
            Scenario::Duplicate => "duplicate",
            Scenario::DropMedia => "drop-media",
            Scenario::DropSignaling => "drop-signaling",
            Scenario::Failover => "failover",
            Scenario::Reject14 => "reject-14",
            Scenario::Reject15 => "reject-15",
            Scenario::Reject16 => "reject-16",
            Scenario::RefuseSignaling => "refuse-signaling",
            Scenario::RefusedUrl => "refused-url",
            Scenario::KeepAlivePause => "keep-alive-pause",
            Scenario::Silence => "silence",
            Scenario::Stopped => "stopped",
            Scenario::SessionStopped => "session-stopped",
            Scenario::RefuseChat => "refuse-chat",
        }
    }

    /// What the scenario does, in one line.
    ///
    /// ```
    /// use zoom_rtms_webhooks::simulator::Scenario;
    /// assert!(Scenario::Silence.description().contains("watchdog"));
    /// ```
    pub fn description(&self) -> &'static str {
        match self {
            Scenario::Faults => {
                "each fault on a stream of its own (duplicate, drop-media at 1/4, \
                 drop-signaling at 2/4, failover at 3/4), all ending with stream state 4"
            }
            Scenario::Happy => "no fault; ends with stream state 4",
            Scenario::Duplicate => {
                "status 8 (DUPLICATE_SIGNAL_REQUEST) to the first signalling handshake, \
                 then accept: the client must retry after its backoff"
            }
            Scenario::DropMedia => {
                "halfway, the media socket closes and event 7 follows: the client must \
                 redial media only"
            }
            Scenario::DropSignaling => {
                "halfway, every socket closes and rtms_interrupted follows: the client must \
                 redo the whole flow"
            }
            Scenario::Failover => {
                "halfway, a new rtms_started with new URLs: the client must move to the new \
                 server"
            }
            Scenario::Reject14 => "status 14 to the data handshake: the client must give up",
            Scenario::Reject15 => "status 15 to the data handshake: the client must give up",
            Scenario::Reject16 => "status 16 to the data handshake: the client must give up",
            Scenario::RefuseSignaling => {
                "status 3 (INVALID_SIGNATURE) to a correct signature: the client must give up"
            }
            Scenario::RefusedUrl => {
                "media URLs on a host the client must refuse (localhost): it must never \
                 dial one"
            }
            Scenario::KeepAlivePause => {
                "keep-alives stop for 70 s while media flows: the client's watchdog must \
                 not fire"
            }
            Scenario::Silence => {
                "all traffic stops for up to 90 s: the client's watchdog must fire and \
                 reconnect"
            }
            Scenario::Stopped => {
                "only rtms_stopped ends the stream: the client must close its sockets itself"
            }
            Scenario::SessionStopped => "session state 5 (stopped) ends the stream",
            Scenario::RefuseChat => {
                "status 13 (MEDIA_TYPE_CHAT_NOT_SUPPORT) to a data handshake asking for chat: \
                 the client must go on with audio and transcripts (judged only for a client \
                 that asks for chat)"
            }
        }
    }

    /// The streams of a run: `count` meeting streams of `frames` audio messages each, their
    /// webhooks signed with `webhook_secret`, their handshakes to be signed with
    /// `credentials`, with the scenario's faults (at a fraction of `frames`) and end. Stream
    /// `i` (from 1) is `sim-stream-<i>` of meeting `sim-meeting-<i>==`; with
    /// [`Scenario::Faults`] it is four streams, one per fault, each with exactly that fault:
    /// `sim-stream-<i>-duplicate`, `-drop-media`, `-drop-signaling` and `-failover` (of
    /// meetings `sim-meeting-<i>-<fault>==`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::{Fault, Scenario};
    /// let creds = Credentials::new("client id", "client secret")?;
    ///
    /// let happy = Scenario::Happy.streams(2, 100, "webhook secret", &creds);
    /// assert_eq!(happy[1].rtms_stream_id(), "sim-stream-2");
    /// assert!(happy.iter().all(|s| s.faults().is_empty() && s.audio_frames() == 100));
    ///
    /// let faults = Scenario::Faults.streams(1, 100, "webhook secret", &creds);
    /// assert_eq!(faults.len(), 4);
    /// assert_eq!(faults[1].rtms_stream_id(), "sim-stream-1-drop-media");
    /// assert_eq!(faults[1].faults(), [Fault::DropMedia { after_frames: 25 }]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn streams(
        &self,
        count: usize,
        frames: u64,
        webhook_secret: &str,
        credentials: &Credentials,
    ) -> Vec<StreamSpec> {
        // `frames * n / d` without overflow.
        let at = |n: u64, d: u64| frames / d * n + frames % d * n / d;
        let stream = |suffix: &str, i: usize, faults: Vec<Fault>| {
            StreamSpec::new(
                Product::Meeting,
                format!("sim-meeting-{i}{suffix}=="),
                format!("sim-stream-{i}{suffix}"),
                webhook_secret,
                credentials.clone(),
            )
            .with_audio_frames(frames)
            .with_faults(faults)
            .with_end(self.end())
        };
        if *self == Scenario::Faults {
            let each = [
                (Scenario::Duplicate, Fault::DuplicateSignal),
                (
                    Scenario::DropMedia,
                    Fault::DropMedia {
                        after_frames: at(1, 4),
                    },
                ),
                (
                    Scenario::DropSignaling,
                    Fault::DropSignaling {
                        after_frames: at(2, 4),
                    },
                ),
                (
                    Scenario::Failover,
                    Fault::Failover {
                        after_frames: at(3, 4),
                    },
                ),
            ];
            return (1..=count)
                .flat_map(|i| {
                    each.iter().map(move |(scenario, fault)| {
                        stream(&format!("-{scenario}"), i, vec![fault.clone()])
                    })
                })
                .collect();
        }
        let faults = match self {
            Scenario::Faults | Scenario::Happy | Scenario::Stopped | Scenario::SessionStopped => {
                vec![]
            }
            Scenario::Duplicate => vec![Fault::DuplicateSignal],
            Scenario::DropMedia => vec![Fault::DropMedia {
                after_frames: at(1, 2),
            }],
            Scenario::DropSignaling => vec![Fault::DropSignaling {
                after_frames: at(1, 2),
            }],
            Scenario::Failover => vec![Fault::Failover {
                after_frames: at(1, 2),
            }],
            Scenario::Reject14 => vec![Fault::RejectData(StatusCode::from(14))],
            Scenario::Reject15 => vec![Fault::RejectData(StatusCode::from(15))],
            Scenario::Reject16 => vec![Fault::RejectData(StatusCode::from(16))],
            Scenario::RefuseSignaling => vec![Fault::RejectSignaling(StatusCode::from(3))],
            Scenario::RefusedUrl => vec![Fault::RefusableMediaUrl],
            Scenario::RefuseChat => vec![Fault::RefuseMedia(MediaKind::Chat)],
            Scenario::KeepAlivePause => vec![Fault::PauseKeepAlives {
                after_frames: at(1, 4),
                duration: Duration::from_secs(70),
            }],
            Scenario::Silence => vec![Fault::Silence {
                after_frames: at(1, 4),
                duration: Duration::from_secs(90),
            }],
        };
        (1..=count).map(|i| stream("", i, faults.clone())).collect()
    }

    fn end(self) -> End {
        match self {
            Scenario::Stopped => End::RtmsStopped,
            Scenario::SessionStopped => End::SessionStopped,
            _ => End::StreamTerminated,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Scenario {
    type Err = ParseScenarioError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.name() == s)
            .ok_or_else(|| ParseScenarioError { name: s.to_owned() })
    }
}

/// A name that is no [`Scenario`]'s; its message lists the valid names.
///
/// ```
/// use zoom_rtms_webhooks::simulator::Scenario;
/// let err = "chaos".parse::<Scenario>().unwrap_err();
/// assert!(err.to_string().starts_with("unknown scenario `chaos` (one of: faults, happy, "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseScenarioError {
    name: String,
}

impl fmt::Display for ParseScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown scenario `{}` (one of: ", self.name)?;
        for (i, scenario) in Scenario::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(scenario.name())?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for ParseScenarioError {}
