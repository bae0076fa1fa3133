//! Real Opus packets (RFC 6716) for the simulator to play when a client confirms Opus: one
//! second of the simulator's tone (a 400 Hz triangle wave, the same on every channel) encoded
//! by libopus at 48 kHz as 50 packets of 20 ms, in a stereo and a mono variant, cycled.
//!
//! The fixtures `opus-48k-stereo.bin` and `opus-48k-mono.bin` beside this file use a minimal
//! container: for each packet, its length as a big-endian `u16`, then its bytes; nothing else.
//! `scripts/make-opus-fixtures.sh` regenerates them (opusenc, then the audio packets of the Ogg
//! Opus file, RFC 7845) and checks them by decoding them again (opusdec).
//!
//! Every packet of a fixture encodes the same steady stretch of the tone (8 whole periods of
//! 400 Hz per 20 ms), so cycling them plays a continuous tone.

use std::sync::OnceLock;

/// The stereo fixture: 50 packets of 20 ms, 48 kHz, two channels.
const STEREO: &[u8] = include_bytes!("opus-48k-stereo.bin");
/// The mono fixture: 50 packets of 20 ms, 48 kHz, one channel.
const MONO: &[u8] = include_bytes!("opus-48k-mono.bin");

/// Milliseconds of audio in each packet.
pub(super) const PACKET_MS: i64 = 20;

/// The packets of a fixture, split once; `None` if the container is malformed.
fn packets(channels: u8) -> Option<&'static [&'static [u8]]> {
    static STEREO_PACKETS: OnceLock<Option<Vec<&'static [u8]>>> = OnceLock::new();
    static MONO_PACKETS: OnceLock<Option<Vec<&'static [u8]>>> = OnceLock::new();
    let (cell, data) = match channels {
        1 => (&MONO_PACKETS, MONO),
        2 => (&STEREO_PACKETS, STEREO),
        _ => return None,
    };
    cell.get_or_init(|| split(data)).as_deref()
}

/// Splits the container into its packets: `None` for a truncated length or packet, an empty
/// packet, or no packet at all.
fn split(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (len, rest) = data.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len == 0 {
            return None;
        }
        let (packet, rest) = rest.split_at_checked(len)?;
        out.push(packet);
        data = rest;
    }
    (!out.is_empty()).then_some(out)
}

/// The `n`-th 20 ms Opus packet of the tone for `channels` (1 or 2) channels at 48 kHz,
/// cycling through the fixture; `None` for another channel count.
pub(super) fn packet(channels: u8, n: u64) -> Option<&'static [u8]> {
    let all = packets(channels)?;
    let count = u64::try_from(all.len()).ok()?;
    let index = usize::try_from(n.checked_rem(count)?).ok()?;
    all.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet's TOC byte and framing, read per RFC 6716 §3.1 and checked against §3.4.
    #[derive(Debug, PartialEq, Eq)]
    struct Toc {
        /// The configuration number, 0–31.
        config: u8,
        /// The stereo flag `s`.
        stereo: bool,
        /// The frame-count code `c`, 0–3.
        code: u8,
        /// Samples per frame at 48 kHz, from the configuration.
        frame_samples: u32,
        /// The compressed frames' lengths.
        frames: Vec<usize>,
    }

    /// Samples at 48 kHz of one frame of configuration `config` (RFC 6716 §3.1, Table 2):
    /// SILK-only 0–11 (10, 20, 40, 60 ms), Hybrid 12–15 (10, 20 ms), CELT-only 16–31
    /// (2.5, 5, 10, 20 ms).
    fn frame_samples(config: u8) -> u32 {
        match config {
            0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
            12..=15 => [480, 960][usize::from(config % 2)],
            _ => [120, 240, 480, 960][usize::from(config % 4)],
        }
    }

    /// A frame length coded in one or two bytes (RFC 6716 §3.2.1): the length and the bytes
    /// it took.
    fn frame_length(b: &[u8]) -> Result<(usize, usize), String> {
        match b {
            [] => Err("missing frame length".into()),
            [x, ..] if *x < 252 => Ok((usize::from(*x), 1)),
            [x, y, ..] => Ok((usize::from(*y) * 4 + usize::from(*x), 2)),
            [_] => Err("truncated two-byte frame length".into()),
        }
    }

    /// Reads a packet's TOC byte and frames, checking requirements R1–R7 of RFC 6716 §3.4.
    fn parse(p: &[u8]) -> Result<Toc, String> {
        // R1: at least one byte.
        let (&toc, rest) = p.split_first().ok_or("empty packet (R1)")?;
        let config = toc >> 3;
        let stereo = toc & 0x04 != 0;
        let code = toc & 0x03;
        let frame_samples = frame_samples(config);
        let frames = match code {
            // One frame: the rest of the packet.
            0 => vec![rest.len()],
            // Two frames of equal size (R3: an even length).
            1 => {
                if rest.len() % 2 != 0 {
                    return Err("code 1 with an odd number of bytes (R3)".into());
                }
                vec![rest.len() / 2; 2]
            }
            // Two frames, the first one's length coded (R4).
            2 => {
                let (n1, used) = frame_length(rest)?;
                let left = rest.len() - used;
                if n1 > left {
                    return Err("code 2: first frame longer than the packet (R4)".into());
                }
                vec![n1, left - n1]
            }
            // A frame-count byte, optional padding, CBR or VBR lengths (R5–R7).
            _ => {
                let (&fc, mut rest) = rest.split_first().ok_or("code 3 without a count (R6)")?;
                let vbr = fc & 0x80 != 0;
                let padded = fc & 0x40 != 0;
                let m = usize::from(fc & 0x3f);
                // R5: at least one frame, at most 120 ms.
                if m == 0 || m as u32 * frame_samples > 5760 {
                    return Err(format!("code 3 with {m} frames (R5)"));
                }
                let mut padding = 0usize;
                if padded {
                    loop {
                        let (&b, r) = rest.split_first().ok_or("truncated padding (R6/R7)")?;
                        rest = r;
                        padding += if b == 255 { 254 } else { usize::from(b) };
                        if b != 255 {
                            break;
                        }
                    }
                }
                let mut lengths = Vec::with_capacity(m);
                if vbr {
                    for _ in 1..m {
                        let (n, used) = frame_length(rest)?;
                        rest = &rest[used..];
                        lengths.push(n);
                    }
                }
                let data = rest
                    .len()
                    .checked_sub(padding)
                    .ok_or("padding longer than the packet (R6/R7)")?;
                if vbr {
                    let coded: usize = lengths.iter().sum();
                    let last = data.checked_sub(coded).ok_or("VBR frames too long (R7)")?;
                    lengths.push(last);
                } else {
                    if data % m != 0 {
                        return Err("CBR frames of unequal size (R6)".into());
                    }
                    lengths = vec![data / m; m];
                }
                lengths
            }
        };
        // R2: no frame longer than 1275 bytes.
        if let Some(n) = frames.iter().find(|&&n| n > 1275) {
            return Err(format!("a frame of {n} bytes (R2)"));
        }
        Ok(Toc {
            config,
            stereo,
            code,
            frame_samples,
            frames,
        })
    }

    fn check_fixture(channels: u8) {
        let all = packets(channels).expect("the fixture's container parses");
        // 50 packets of 20 ms: one second.
        assert_eq!(all.len(), 50);
        for (i, p) in all.iter().enumerate() {
            let toc = parse(p).unwrap_or_else(|e| panic!("packet {i}: {e}"));
            let samples = toc.frame_samples * toc.frames.len() as u32;
            assert_eq!(samples, 960, "packet {i} lasts 20 ms at 48 kHz: {toc:?}");
            assert_eq!(toc.frame_samples, 960, "packet {i}: config 20 ms: {toc:?}");
            assert_eq!(
                toc.stereo,
                channels == 2,
                "packet {i}: stereo flag: {toc:?}"
            );
            // A coded frame of 0 or 1 byte is a dropped frame or DTX (RFC 6716 §3.2.1): the
            // tone never pauses, so every frame carries audio.
            assert!(toc.frames.iter().all(|&n| n > 1), "packet {i}: {toc:?}");
        }
    }

    #[test]
    fn stereo_fixture_is_20ms_stereo_opus() {
        check_fixture(2);
    }

    #[test]
    fn mono_fixture_is_20ms_mono_opus() {
        check_fixture(1);
    }

    #[test]
    fn the_fixtures_are_real_encodings_not_pcm() {
        // Opus at these rates is far smaller than 20 ms of L16 (3840 bytes stereo, 1920 mono).
        for (ch, l16) in [(2u8, 3840usize), (1, 1920)] {
            let all = packets(ch).expect("fixture");
            assert!(all.iter().all(|p| p.len() < l16 / 4), "{ch} channels");
        }
        assert_ne!(packet(1, 0), packet(2, 0));
    }

    #[test]
    fn packets_cycle() {
        for ch in [1u8, 2] {
            let first = packet(ch, 0).expect("packet 0");
            assert_eq!(packet(ch, 50), Some(first));
            assert_eq!(packet(ch, 49), packets(ch).and_then(|a| a.last().copied()));
            assert_eq!(packet(ch, 51), packet(ch, 1));
            assert!(packet(ch, u64::MAX).is_some());
        }
    }

    #[test]
    fn other_channel_counts_have_no_packet() {
        assert_eq!(packet(0, 0), None);
        assert_eq!(packet(3, 7), None);
        assert_eq!(packet(u8::MAX, u64::MAX), None);
    }

    #[test]
    fn split_reads_the_container_and_refuses_malformed_ones() {
        assert_eq!(
            split(&[0, 2, 0xf8, 1, 0, 1, 0xfc]),
            Some(vec![&[0xf8, 1][..], &[0xfc][..]])
        );
        assert_eq!(split(&[]), None, "no packet");
        assert_eq!(split(&[0]), None, "truncated length");
        assert_eq!(split(&[0, 3, 1, 2]), None, "truncated packet");
        assert_eq!(split(&[0, 0]), None, "empty packet");
        assert_eq!(split(&[0, 1, 7, 0]), None, "trailing byte");
        assert_eq!(split(&[0xff, 0xff]), None, "length past the end");
    }

    #[test]
    fn toc_reader_rejects_invalid_packets() {
        // The reader the fixture tests rely on does tell packets apart.
        assert!(parse(&[]).is_err(), "R1");
        assert!(parse(&[0xf9, 1, 2, 3]).is_err(), "code 1, odd length (R3)");
        assert!(
            parse(&[0xfa, 9, 1]).is_err(),
            "code 2, first frame too long (R4)"
        );
        assert!(parse(&[0xfb, 0x00]).is_err(), "code 3, no frame (R5)");
        assert!(
            parse(&[0x1b, 0x03]).is_err(),
            "code 3, 3 × 60 ms > 120 ms (R5)"
        );
        assert!(
            parse(&[0xfb, 0x02, 1, 2, 3]).is_err(),
            "code 3 CBR, unequal (R6)"
        );
        assert!(
            parse(&[0xfb, 0x41, 9, 1]).is_err(),
            "code 3, padding too long (R6)"
        );
        assert!(
            parse(&[0xfb, 0x82, 9, 1]).is_err(),
            "code 3 VBR, too long (R7)"
        );
        assert!(parse(&[0xf8, 1, 2]).is_ok_and(|t| t.frames == [2] && t.config == 31));
        let big = [&[0xf8][..], &[0; 1276][..]].concat();
        assert!(parse(&big).is_err(), "a 1276-byte frame (R2)");
        let toc = parse(&[0xfb, 0xc3, 2, 1, 2, 7, 8, 8, 9, 9, 9, 0, 0]).expect("code 3 VBR padded");
        assert_eq!((toc.code, toc.frames), (3, vec![1, 2, 3]));
        // 0x08: config 1 (SILK NB 20 ms), mono, one frame.
        let toc = parse(&[0x08, 1, 2]).expect("SILK");
        assert_eq!((toc.config, toc.stereo, toc.frame_samples), (1, false, 960));
    }
}
