//! The participants a stream plays ([`Participant`]): who they are, which frame slots they
//! speak in (joined, not left, not muted), and who is the active speaker of a slot.

use std::ops::Range;

/// The first participant's `user_id` (the one the simulator always used for multi-stream
/// audio and transcripts); participant `k` has `FIRST_USER_ID + k`.
pub(super) const FIRST_USER_ID: i64 = 16_778_240;
/// The most participants a stream plays (each has a tone of its own amplitude).
pub(super) const MAX_PARTICIPANTS: usize = 30;
const NAMES: [&str; MAX_PARTICIPANTS] = [
    "Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lou", "Max",
    "Ned", "Oda", "Pam", "Quy", "Rex", "Sue", "Tom", "Uma", "Val", "Wes", "Xia", "Yan", "Zoe",
    "Abe", "Bea", "Cal", "Dot",
];

/// The `user_name` of participant `k` (`Ann`, `Bob`, ...).
pub(super) fn name(k: usize) -> &'static str {
    NAMES.get(k).copied().unwrap_or("Ann")
}

/// One participant a stream plays (see [`StreamSpec::with_participants`]): its ids and which
/// frame slots of the stream it sends audio in. Slot `k` is the stream's `k`-th audio message
/// time, timestamp `zero + k * send_rate_ms`.
///
/// ```
/// use zoom_rtms_webhooks::handshake::Credentials;
/// use zoom_rtms_webhooks::simulator::StreamSpec;
/// use zoom_rtms_webhooks::Product;
/// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap())
///     .with_participants(2)
///     .with_mute(1, 10..20);
/// let cast = spec.participants();
/// assert_eq!(cast[1].user_name, "Bob");
/// assert!(cast[0].speaks(15) && !cast[1].speaks(15) && cast[1].speaks(20));
/// ```
///
/// [`StreamSpec::with_participants`]: super::StreamSpec::with_participants
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Participant {
    /// Its `user_id` (16778240, 16778241, ...).
    pub user_id: i64,
    /// Its `user_name` (`Ann`, `Bob`, ...).
    pub user_name: String,
    /// The first slot it is in the meeting (0: from the start).
    pub joins_at: u64,
    /// The slot it leaves at (`None`: it stays to the end).
    pub leaves_at: Option<u64>,
    /// The slots it is muted in (sends no audio).
    pub muted: Vec<Range<u64>>,
}

impl Participant {
    /// Participant `k` (0-based), in the meeting from the start, never muted.
    pub(super) fn nth(k: usize) -> Self {
        Participant {
            user_id: FIRST_USER_ID + k as i64,
            user_name: name(k).to_owned(),
            joins_at: 0,
            leaves_at: None,
            muted: Vec::new(),
        }
    }

    /// Whether it is in the meeting at slot `k`.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::StreamSpec;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap())
    ///     .with_participants(1)
    ///     .with_join_at(0, 5)
    ///     .with_leave_at(0, 9);
    /// let p = &spec.participants()[0];
    /// assert!(!p.present(4) && p.present(5) && p.present(8) && !p.present(9));
    /// ```
    pub fn present(&self, k: u64) -> bool {
        k >= self.joins_at && self.leaves_at.is_none_or(|l| k < l)
    }

    /// Whether it sends audio at slot `k`: present and not muted.
    ///
    /// ```
    /// use zoom_rtms_webhooks::handshake::Credentials;
    /// use zoom_rtms_webhooks::simulator::StreamSpec;
    /// use zoom_rtms_webhooks::Product;
    /// let spec = StreamSpec::new(Product::Meeting, "m==", "s1", "whsec", Credentials::new("id", "secret").unwrap())
    ///     .with_participants(1)
    ///     .with_mute(0, 3..4);
    /// let p = &spec.participants()[0];
    /// assert!(p.speaks(2) && !p.speaks(3) && p.speaks(4));
    /// ```
    pub fn speaks(&self, k: u64) -> bool {
        self.present(k) && !self.muted.iter().any(|r| r.contains(&k))
    }
}

/// The fixed pattern of `--mute-gaps` for `n` participants over `frames` slots: participant 0
/// is muted for slots `[frames/5, 2*frames/5)`; with 3 or more, participant 1 is muted for
/// `[frames/2, 3*frames/5)` and again `[7*frames/10, 3*frames/4)`; with 2 or more, the last
/// participant joins late, at slot `frames/4`.
pub(super) fn mute_gaps(cast: &mut [Participant], frames: u64) {
    let n = cast.len();
    if let Some(p) = cast.first_mut() {
        p.muted.push(frames / 5..2 * frames / 5);
    }
    if n >= 3 {
        cast[1].muted.push(frames / 2..3 * frames / 5);
        cast[1].muted.push(7 * frames / 10..3 * frames / 4);
    }
    if n >= 2 {
        cast[n - 1].joins_at = cast[n - 1].joins_at.max(frames / 4);
    }
}

/// The active speaker of slot `k`: the first participant that speaks in it, if any.
pub(super) fn speaker(cast: &[Participant], k: u64) -> Option<usize> {
    cast.iter().position(|p| p.speaks(k))
}

/// The tone amplitude of participant `k` of a stream whose own amplitude is `base` (4000 to
/// 7999): participant 0 keeps the stream's, the others get 8000 + 800 k + (base mod 100), all
/// distinct and within 16 bits for [`MAX_PARTICIPANTS`].
pub(super) fn amplitude(base: i64, k: usize) -> i64 {
    if k == 0 {
        base
    } else {
        8000 + 800 * k as i64 + base % 100
    }
}
