//! Who is in a stream, who speaks, who shares: the state the event updates (message type 6)
//! describe, kept per stream so that mixed audio and transcripts can be attributed.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::item::{bound_name, EventUpdate};
use crate::protocol::events::{EventType, MeetingEventType};

/// Past this many participants a join adds no one more (Zoom's largest meetings hold 1,000
/// participants; a server that claims more cannot grow the roster without bound).
const MEMBERS_MAX: usize = 50_000;

/// A participant as the events named them.
///
/// ```
/// use zoom_rtms_webhooks::client::Member;
/// let m = Member::new(16778240, Some("Ann"));
/// assert_eq!((m.user_id, m.user_name.as_deref(), m.video), (16778240, Some("Ann"), false));
/// assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"user_id":16778240,"user_name":"Ann","video":false}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Member {
    /// `user_id`.
    pub user_id: i64,
    /// `user_name`, once an event sent it (cut to 256 bytes, as for media).
    #[serde(serialize_with = "name")]
    pub user_name: Option<Arc<str>>,
    /// Whether the camera is on (events 8 and 9; `false` until an event says otherwise).
    pub video: bool,
}

fn name<S: serde::Serializer>(name: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    name.as_deref().serialize(s)
}

impl Member {
    /// A participant with its camera off.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Member;
    /// assert_eq!(Member::new(1, None).user_name, None);
    /// ```
    pub fn new(user_id: i64, user_name: Option<&str>) -> Self {
        Member {
            user_id,
            user_name: user_name.map(|n| bound_name(n).into()),
            video: false,
        }
    }
}

/// What one event update changes in the [`Roster`] ([`EventUpdate::roster_change`]).
///
/// ```
/// use zoom_rtms_webhooks::client::{EventUpdate, Member, RosterChange};
/// use zoom_rtms_webhooks::Product;
/// let e = EventUpdate::new(Product::Meeting, r#"{"event_type":4,"participants":[{"user_id":7}]}"#).unwrap();
/// assert_eq!(e.roster_change(), Some(RosterChange::Left(vec![7])));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RosterChange {
    /// Event 1: the first packet's timestamp (ms), the stream's time zero.
    FirstPacket {
        /// `timestamp`.
        timestamp: i64,
    },
    /// Event 3: participants joined.
    Joined(Vec<Member>),
    /// Event 4: participants left (by `user_id`).
    Left(Vec<i64>),
    /// Event 2: the active speaker changed.
    ActiveSpeaker(Member),
    /// Event 5: a participant started sharing.
    SharingStarted(Member),
    /// Event 6: sharing stopped.
    SharingStopped,
    /// Event 8: participants turned their camera on (by `user_id`).
    VideoOn(Vec<i64>),
    /// Event 9: participants turned their camera off (by `user_id`).
    VideoOff(Vec<i64>),
}

impl EventUpdate {
    /// What this event changes in the stream's [`Roster`], for the events that describe it
    /// (1, 2, 3, 4, 5, 6, 8 and 9 of a meeting, webinar or Video SDK session; 1 of any
    /// product); `None` for the others, and for an event without the user it is about.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{EventUpdate, Member, RosterChange};
    /// use zoom_rtms_webhooks::Product;
    /// let e = EventUpdate::new(Product::Meeting, r#"{"event_type":2,"user_id":5,"user_name":"Bo"}"#).unwrap();
    /// assert_eq!(e.roster_change(), Some(RosterChange::ActiveSpeaker(Member::new(5, Some("Bo")))));
    /// let e = EventUpdate::new(Product::Meeting, r#"{"event_type":1,"timestamp":1000}"#).unwrap();
    /// assert_eq!(e.roster_change(), Some(RosterChange::FirstPacket { timestamp: 1000 }));
    /// // Contact Center's 8 is not a camera.
    /// let e = EventUpdate::new(Product::ContactCenter, r#"{"event_type":8,"participants":[{"user_id":5}]}"#).unwrap();
    /// assert_eq!(e.roster_change(), None);
    /// ```
    pub fn roster_change(&self) -> Option<RosterChange> {
        if self.event_type().is_first_packet_timestamp() {
            return Some(RosterChange::FirstPacket {
                timestamp: self.timestamp()?,
            });
        }
        let EventType::Meeting(kind) = self.event_type() else {
            return None;
        };
        let event = self.event().ok()?;
        let members = || -> Vec<Member> {
            event
                .participants()
                .iter()
                .filter_map(|p| Some(Member::new(p.user_id?, p.user_name.as_deref())))
                .collect()
        };
        let ids = || -> Vec<i64> {
            event
                .participants()
                .iter()
                .filter_map(|p| p.user_id)
                .collect()
        };
        let user = || Some(Member::new(event.user_id()?, event.user_name()));
        Some(match kind {
            MeetingEventType::ParticipantJoin => RosterChange::Joined(members()),
            MeetingEventType::ParticipantLeave => RosterChange::Left(ids()),
            MeetingEventType::ActiveSpeakerChange => RosterChange::ActiveSpeaker(user()?),
            MeetingEventType::SharingStart => RosterChange::SharingStarted(user()?),
            MeetingEventType::SharingStop => RosterChange::SharingStopped,
            MeetingEventType::ParticipantVideoOn => RosterChange::VideoOn(ids()),
            MeetingEventType::ParticipantVideoOff => RosterChange::VideoOff(ids()),
            _ => return None,
        })
    }
}

/// A stream's participants (joined and not left, their names and cameras), its active
/// speaker, who shares, and the first packet's timestamp, as the event updates told them.
///
/// The client keeps one per stream, in the order the events arrive:
/// [`StreamHandle::roster`](super::StreamHandle::roster) takes a snapshot. To follow it in
/// the order of the items instead, [`apply`](Roster::apply) each
/// [`EventUpdate::roster_change`] to a roster of your own.
///
/// ```
/// use zoom_rtms_webhooks::client::{EventUpdate, Roster};
/// use zoom_rtms_webhooks::Product;
/// let mut roster = Roster::default();
/// for e in [
///     r#"{"event_type":3,"participants":[{"user_id":1,"user_name":"Ann"},{"user_id":2,"user_name":"Bo"}]}"#,
///     r#"{"event_type":2,"user_id":2,"user_name":"Bo"}"#,
///     r#"{"event_type":8,"participants":[{"user_id":1}]}"#,
///     r#"{"event_type":4,"participants":[{"user_id":2}]}"#,
/// ] {
///     let e = EventUpdate::new(Product::Meeting, e).unwrap();
///     roster.apply(&e.roster_change().unwrap());
/// }
/// assert_eq!(roster.len(), 1);
/// assert_eq!(roster.name_of(1), Some("Ann"));
/// assert!(roster.get(1).unwrap().video);
/// assert_eq!(roster.active_speaker(), None, "the speaker left");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Roster {
    participants: BTreeMap<i64, Member>,
    active_speaker: Option<Member>,
    sharing: Option<Member>,
    first_packet_timestamp: Option<i64>,
}

impl Roster {
    /// Applies one change. A participant the events name (speaking, sharing, camera) without
    /// a join seen is added (the subscription may have started after the join); a name sent
    /// with a later event replaces the one known.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Member, Roster, RosterChange};
    /// let mut r = Roster::default();
    /// r.apply(&RosterChange::SharingStarted(Member::new(3, Some("Cy"))));
    /// assert_eq!(r.sharing().map(|m| m.user_id), Some(3));
    /// assert_eq!(r.len(), 1);
    /// r.apply(&RosterChange::SharingStopped);
    /// assert_eq!(r.sharing(), None);
    /// ```
    pub fn apply(&mut self, change: &RosterChange) {
        match change {
            RosterChange::FirstPacket { timestamp } => {
                self.first_packet_timestamp = Some(*timestamp);
            }
            RosterChange::Joined(members) => {
                for m in members {
                    self.seen(m);
                }
            }
            RosterChange::Left(ids) => {
                for id in ids {
                    self.participants.remove(id);
                    if self
                        .active_speaker
                        .as_ref()
                        .is_some_and(|m| m.user_id == *id)
                    {
                        self.active_speaker = None;
                    }
                    if self.sharing.as_ref().is_some_and(|m| m.user_id == *id) {
                        self.sharing = None;
                    }
                }
            }
            RosterChange::ActiveSpeaker(m) => {
                self.active_speaker = Some(self.seen(m));
            }
            RosterChange::SharingStarted(m) => {
                self.sharing = Some(self.seen(m));
            }
            RosterChange::SharingStopped => self.sharing = None,
            RosterChange::VideoOn(ids) | RosterChange::VideoOff(ids) => {
                let on = matches!(change, RosterChange::VideoOn(_));
                for id in ids {
                    self.seen(&Member::new(*id, None));
                    if let Some(m) = self.participants.get_mut(id) {
                        m.video = on;
                    }
                }
            }
        }
    }

    /// Records `m` as present (its name, when sent, replacing the one known), and returns the
    /// participant as now known.
    fn seen(&mut self, m: &Member) -> Member {
        let full = self.participants.len() >= MEMBERS_MAX;
        match self.participants.get_mut(&m.user_id) {
            Some(known) => {
                if m.user_name.is_some() {
                    known.user_name = m.user_name.clone();
                }
                known.clone()
            }
            None if full => m.clone(),
            None => {
                self.participants.insert(m.user_id, m.clone());
                m.clone()
            }
        }
    }

    /// The participants present, by `user_id`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Roster;
    /// assert_eq!(Roster::default().participants().count(), 0);
    /// ```
    pub fn participants(&self) -> impl Iterator<Item = &Member> {
        self.participants.values()
    }

    /// The participant `user_id`, when present.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Roster;
    /// assert!(Roster::default().get(1).is_none());
    /// ```
    pub fn get(&self, user_id: i64) -> Option<&Member> {
        self.participants.get(&user_id)
    }

    /// The name of participant `user_id`, when present and named.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Roster;
    /// assert_eq!(Roster::default().name_of(1), None);
    /// ```
    pub fn name_of(&self, user_id: i64) -> Option<&str> {
        self.get(user_id)?.user_name.as_deref()
    }

    /// How many participants are present.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Roster;
    /// assert_eq!(Roster::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// Whether no participant is present.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Roster;
    /// assert!(Roster::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// The last active speaker (event 2), until they leave.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Roster;
    /// assert!(Roster::default().active_speaker().is_none());
    /// ```
    pub fn active_speaker(&self) -> Option<&Member> {
        self.current(self.active_speaker.as_ref())
    }

    /// `m` as the participant list knows it now (name, camera), else as last named.
    fn current<'a>(&'a self, m: Option<&'a Member>) -> Option<&'a Member> {
        m.map(|m| self.participants.get(&m.user_id).unwrap_or(m))
    }

    /// Who shares their screen (event 5), until sharing stops or they leave.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Roster;
    /// assert!(Roster::default().sharing().is_none());
    /// ```
    pub fn sharing(&self) -> Option<&Member> {
        self.current(self.sharing.as_ref())
    }

    /// The first packet's timestamp (event 1, ms): the stream's time zero.
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Roster;
    /// assert_eq!(Roster::default().first_packet_timestamp(), None);
    /// ```
    pub fn first_packet_timestamp(&self) -> Option<i64> {
        self.first_packet_timestamp
    }
}
