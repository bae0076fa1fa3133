//! Places audio frames on a timeline by their timestamps, so that a recording of each
//! participant (and of the mixed stream) keeps its timing: Zoom sends no packets while a
//! participant is muted, and its documentation says to fill such gaps with silence from the
//! timestamps ([data types](https://developers.zoom.us/docs/rtms/data-types/)).
//!
//! The rule, per track (a participant, or the mixed stream):
//!
//! - **zero** is the stream's first-packet timestamp (event 1, `FIRST_PACKET_TIMESTAMP`, "use
//!   this timestamp as the start of the session") when it came before any frame, else the
//!   timestamp of the stream's first audio frame; it is the same for every track;
//! - a frame starts at `max(end of the track's previous frame, round((timestamp - zero) ×
//!   rate / 1000))` samples (per channel): never before the previous frame's end, so frames are
//!   never overlapped or reordered, and a frame without a timestamp follows the previous one;
//! - the samples between the previous frame's end and the new frame's start are silence.
//!
//! A gap is at most [`Timeline::with_max_gap`] long (default one hour): a timestamp further
//! ahead (a server's clock jump, or a hostile one) places its frame after that much silence
//! and says so ([`Placement::clamped`]). Each gap is bounded; a bound on a track's whole
//! length is the writer's (the `record` feature stops a track at 24 hours).
//!
//! The timeline only counts samples; the caller writes them (see the `record` feature).
//!
//! ```
//! use zoom_rtms_webhooks::protocol::timeline::Timeline;
//!
//! // 16 kHz mono: 320 samples per 20 ms frame.
//! let mut t = Timeline::new(16_000);
//! t.set_zero(1_000);
//! // Participant 7 speaks at 1 000 ms, is muted for 40 ms, speaks again at 1 060 ms.
//! assert_eq!(t.place(7, Some(1_000), 320).silence, 0);
//! assert_eq!(t.place(7, Some(1_060), 320).silence, 640);
//! // Participant 9 joins at 1 100 ms: 1 600 samples of silence first.
//! assert_eq!(t.place(9, Some(1_100), 320).silence, 1_600);
//! assert_eq!(t.end(&7), Some(1_280));
//! ```

use std::collections::HashMap;
use std::hash::Hash;

/// Where a frame goes on its track.
///
/// ```
/// use zoom_rtms_webhooks::protocol::timeline::Timeline;
/// let mut t = Timeline::new(16_000);
/// let p = t.place("mixed", Some(5), 320);
/// assert_eq!((p.start, p.silence, p.clamped), (0, 0, false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Placement {
    /// The frame's first sample on its track (per channel, from the stream's zero).
    pub start: u64,
    /// Samples of silence to write before the frame (from the end of the track's previous
    /// frame; for a new track, from zero).
    pub silence: u64,
    /// The timestamp was more than the maximum gap ahead: the silence was cut to it.
    pub clamped: bool,
}

/// The timeline of one stream's audio: its zero and, per track, where the last frame ended.
/// See the [module docs](self) for the rule.
///
/// ```
/// use zoom_rtms_webhooks::protocol::timeline::Timeline;
/// let mut t = Timeline::new(16_000);
/// // No first-packet timestamp: the first frame is the zero.
/// assert_eq!(t.place(1, Some(5_000), 320).silence, 0);
/// assert_eq!(t.zero(), Some(5_000));
/// // A frame earlier than the track's end follows it (never overlapped).
/// let p = t.place(1, Some(4_000), 320);
/// assert_eq!((p.start, p.silence), (320, 0));
/// ```
#[derive(Debug, Clone)]
pub struct Timeline<K> {
    rate_hz: u32,
    zero: Option<i64>,
    placed: bool,
    max_gap: u64,
    ends: HashMap<K, u64>,
}

impl<K: Hash + Eq> Timeline<K> {
    /// A timeline at `rate_hz` samples per second (per channel), with no zero yet.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::timeline::Timeline;
    /// let t: Timeline<i64> = Timeline::new(16_000);
    /// assert_eq!(t.zero(), None);
    /// ```
    pub fn new(rate_hz: u32) -> Self {
        Timeline {
            rate_hz,
            zero: None,
            placed: false,
            max_gap: u64::from(rate_hz) * 3600,
            ends: HashMap::new(),
        }
    }

    /// The longest silence placed before one frame (default one hour; at least one sample).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::timeline::Timeline;
    /// let mut t = Timeline::new(16_000).with_max_gap(std::time::Duration::from_secs(1));
    /// t.set_zero(0);
    /// let p = t.place(1, Some(60_000), 320);
    /// assert_eq!((p.silence, p.clamped), (16_000, true));
    /// ```
    #[must_use]
    pub fn with_max_gap(mut self, gap: std::time::Duration) -> Self {
        let samples = gap.as_millis().saturating_mul(u128::from(self.rate_hz)) / 1000;
        self.max_gap = u64::try_from(samples).unwrap_or(u64::MAX).max(1);
        self
    }

    /// Sets the zero from the stream's first-packet timestamp (event 1). Ignored once a frame
    /// has been placed (the zero is then fixed) or a zero was set: a repeated event 1 (after
    /// a reconnect) never moves what was recorded.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::timeline::Timeline;
    /// let mut t = Timeline::new(16_000);
    /// t.set_zero(100);
    /// t.set_zero(900);
    /// assert_eq!(t.zero(), Some(100));
    /// # t.place(1u8, None, 1);
    /// ```
    pub fn set_zero(&mut self, timestamp: i64) {
        if self.zero.is_none() && !self.placed {
            self.zero = Some(timestamp);
        }
    }

    /// The zero, once known.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::timeline::Timeline;
    /// assert_eq!(Timeline::<u8>::new(8_000).zero(), None);
    /// ```
    pub fn zero(&self) -> Option<i64> {
        self.zero
    }

    /// Places a frame of `samples` samples (per channel) of `track` with `timestamp` (ms).
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::timeline::Timeline;
    /// let mut t = Timeline::new(16_000);
    /// t.set_zero(0);
    /// // 10 ms after zero is sample 160.
    /// assert_eq!(t.place(1, Some(10), 160).silence, 160);
    /// // No timestamp: right after the previous frame.
    /// assert_eq!(t.place(1, None, 160).start, 320);
    /// ```
    pub fn place(&mut self, track: K, timestamp: Option<i64>, samples: u64) -> Placement {
        self.placed = true;
        let zero = match (self.zero, timestamp) {
            (Some(zero), _) => Some(zero),
            (None, Some(ts)) => {
                self.zero = Some(ts);
                Some(ts)
            }
            (None, None) => None,
        };
        let end = self.ends.entry(track).or_insert(0);
        let at = match (zero, timestamp) {
            (Some(zero), Some(ts)) => {
                let ms = i128::from(ts) - i128::from(zero);
                // round(ms × rate / 1000), in integers; negative (before zero) is 0.
                let samples_at = (ms * i128::from(self.rate_hz) * 2 + 1000).div_euclid(2000);
                u64::try_from(samples_at.max(0)).unwrap_or(u64::MAX)
            }
            _ => *end,
        };
        let wanted = at.saturating_sub(*end);
        let silence = wanted.min(self.max_gap);
        let start = *end + silence;
        *end = start.saturating_add(samples);
        Placement {
            start,
            silence,
            clamped: wanted > silence,
        }
    }

    /// Where `track`'s last frame ended (samples per channel from zero), if it has one.
    ///
    /// ```
    /// use zoom_rtms_webhooks::protocol::timeline::Timeline;
    /// let mut t = Timeline::new(16_000);
    /// t.place(3, Some(0), 320);
    /// assert_eq!(t.end(&3), Some(320));
    /// assert_eq!(t.end(&4), None);
    /// ```
    pub fn end(&self, track: &K) -> Option<u64> {
        self.ends.get(track).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_on_a_20_ms_grid_with_gaps_and_jitter() {
        let mut t = Timeline::new(16_000);
        t.set_zero(10_000);
        // Slots 0, 1, then muted 2–4, then 5; a jittered timestamp (+3 ms) still lands after
        // the previous frame's end, never overlapping it.
        assert_eq!(
            t.place(1, Some(10_000), 320),
            Placement {
                start: 0,
                silence: 0,
                clamped: false
            }
        );
        assert_eq!(t.place(1, Some(10_020), 320).start, 320);
        assert_eq!(
            t.place(1, Some(10_100), 320),
            Placement {
                start: 1_600,
                silence: 960,
                clamped: false
            }
        );
        assert_eq!(
            t.place(1, Some(10_123), 320),
            Placement {
                start: 1_968,
                silence: 48,
                clamped: false
            }
        );
        // A late frame (timestamp behind the end) follows the end.
        assert_eq!(
            t.place(1, Some(10_000), 320),
            Placement {
                start: 2_288,
                silence: 0,
                clamped: false
            }
        );
    }

    #[test]
    fn the_zero_is_the_first_frame_without_event_1_and_never_moves() {
        let mut t = Timeline::new(16_000);
        assert_eq!(t.place("a", Some(500), 320).start, 0);
        t.set_zero(0); // too late: a frame was placed
        assert_eq!(t.zero(), Some(500));
        assert_eq!(t.place("b", Some(520), 320).silence, 320);
    }

    #[test]
    fn rates_round_to_the_nearest_sample_and_extremes_do_not_overflow() {
        let mut t = Timeline::new(44_100);
        t.set_zero(0);
        // 1 ms at 44.1 kHz is 44.1 samples: 44; 3 ms, 132.3: 132.
        assert_eq!(t.place(1, Some(1), 0).start, 44);
        assert_eq!(t.place(2, Some(3), 0).start, 132);
        let mut t = Timeline::new(16_000);
        t.set_zero(i64::MAX);
        assert_eq!(t.place(1, Some(i64::MIN), 320).start, 0);
        let mut t = Timeline::new(48_000);
        t.set_zero(i64::MIN);
        let p = t.place(1, Some(i64::MAX), 320);
        assert!(p.clamped);
        assert_eq!(p.silence, 48_000 * 3600);
    }
}
