#!/usr/bin/env python3
"""Helpers of scripts/make-opus-fixtures.sh (standard library only).

Subcommands:
  tone CHANNELS SECONDS        write the simulator's tone as raw s16le PCM, 48 kHz, to stdout
  extract IN.opus OUT.bin SKIP COUNT
                               take audio packets SKIP .. SKIP+COUNT-1 of an Ogg Opus file
                               (RFC 7845) and write them as the fixture container
  wrap IN.bin CHANNELS OUT.opus REPEAT
                               put a fixture's packets, REPEAT times over (as the simulator
                               cycles them), into an Ogg Opus file, for opusdec
  check OUT.raw CHANNELS PACKETS REPEAT
                               check that opusdec's decoding of a re-wrapped fixture is the
                               tone, also across each wrap from the last packet to the first

The fixture container: for each packet, its length as a big-endian u16, then its bytes; nothing
else (no header, no trailer).

The tone is the one the simulator plays as L16 (src/simulator/server.rs, `tone`): a 400 Hz
triangle wave, the same sample on every channel, here of the fixed amplitude AMP at 48 kHz.
At 48 kHz its period is 120 samples, and a 20 ms packet (960 samples) holds 8 whole periods.
"""

import math
import struct
import sys

RATE = 48_000
FREQ = 400
AMP = 6000
PERIOD = RATE // FREQ  # 120 samples
PACKET = RATE // 50  # 960 samples: 20 ms


def triangle(i):
    """The i-th sample of the tone, in integer arithmetic like the simulator's L16 tone."""
    phase = i % PERIOD
    if 2 * phase < PERIOD:
        return -AMP + 4 * AMP * phase // PERIOD
    return 3 * AMP - 4 * AMP * phase // PERIOD


def cmd_tone(channels, seconds):
    out = bytearray()
    for i in range(RATE * seconds):
        s = struct.pack("<h", triangle(i))
        out += s * channels
    sys.stdout.buffer.write(out)


# --- Ogg (RFC 3533) -------------------------------------------------------------------------

def _crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


CRC_TABLE = _crc_table()


def ogg_crc(data):
    """The Ogg page checksum: CRC-32, polynomial 0x04c11db7, initial 0, not reflected."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ CRC_TABLE[((crc >> 24) ^ b) & 0xFF]
    return crc


def ogg_packets(data):
    """The packets of the (single) logical stream of an Ogg file, reassembled from the lacing
    values: a packet ends at the first lacing value below 255, and one whose last lacing value
    is 255 continues on the next page."""
    pos = 0
    packets = []
    partial = bytearray()
    serial = None
    while pos < len(data):
        if data[pos:pos + 4] != b"OggS":
            sys.exit(f"no Ogg capture pattern at byte {pos}")
        if data[pos + 4] != 0:
            sys.exit("unknown Ogg stream structure version")
        header_type = data[pos + 5]
        page_serial = struct.unpack_from("<I", data, pos + 14)[0]
        crc = struct.unpack_from("<I", data, pos + 22)[0]
        nseg = data[pos + 26]
        lacing = data[pos + 27:pos + 27 + nseg]
        body_len = sum(lacing)
        end = pos + 27 + nseg + body_len
        if end > len(data):
            sys.exit("truncated Ogg page")
        page = bytearray(data[pos:end])
        page[22:26] = b"\0\0\0\0"
        if ogg_crc(page) != crc:
            sys.exit(f"bad Ogg CRC in the page at byte {pos}")
        if serial is None:
            serial = page_serial
        elif page_serial != serial:
            sys.exit("more than one logical stream (multiplexed Ogg is not expected here)")
        continued = header_type & 0x01
        if continued and not partial:
            sys.exit("a continued page with no packet to continue")
        if not continued and partial:
            sys.exit("an unfinished packet before a fresh page")
        body = pos + 27 + nseg
        for lv in lacing:
            partial += data[body:body + lv]
            body += lv
            if lv < 255:
                packets.append(bytes(partial))
                partial = bytearray()
        pos = end
    if partial:
        sys.exit("the last packet is unfinished")
    return packets


def cmd_extract(src, dst, skip, count):
    with open(src, "rb") as f:
        packets = ogg_packets(f.read())
    # RFC 7845 §3: the first packet is the ID header, the second the comment header; every
    # later packet is audio.
    if len(packets) < 2 or not packets[0].startswith(b"OpusHead"):
        sys.exit("the first packet is not OpusHead")
    if not packets[1].startswith(b"OpusTags"):
        sys.exit("the second packet is not OpusTags")
    audio = packets[2:]
    if len(audio) < skip + count:
        sys.exit(f"only {len(audio)} audio packets, {skip + count} needed")
    out = bytearray()
    for p in audio[skip:skip + count]:
        if not 0 < len(p) < 65536:
            sys.exit(f"a packet of {len(p)} bytes does not fit the container")
        out += struct.pack(">H", len(p)) + p
    with open(dst, "wb") as f:
        f.write(out)
    sizes = [len(p) for p in audio[skip:skip + count]]
    print(f"{dst}: {count} packets, {min(sizes)}..{max(sizes)} bytes, {len(out)} bytes in all")


def read_container(path):
    with open(path, "rb") as f:
        data = f.read()
    packets = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            sys.exit("truncated length")
        n = struct.unpack_from(">H", data, pos)[0]
        if n == 0 or pos + 2 + n > len(data):
            sys.exit("bad packet length")
        packets.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    return packets


def ogg_page(serial, seq, granule, header_type, packets):
    lacing = bytearray()
    body = bytearray()
    for p in packets:
        n = len(p)
        lacing += b"\xff" * (n // 255) + bytes([n % 255])
        body += p
    if len(lacing) > 255:
        sys.exit("too many segments for one page")
    head = struct.pack("<4sBBqIIIB", b"OggS", 0, header_type, granule, serial, seq, 0,
                       len(lacing))
    page = bytearray(head + lacing + body)
    page[22:26] = struct.pack("<I", ogg_crc(page))
    return bytes(page)


def cmd_wrap(src, channels, dst, repeat):
    packets = read_container(src) * repeat
    pre_skip = 312  # libopus's look-ahead at 48 kHz, as opusenc writes it
    head = struct.pack("<8sBBHIhB", b"OpusHead", 1, channels, pre_skip, RATE, 0, 0)
    vendor = b"zoom-rtms-webhooks fixture check"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    serial = 1
    pages = [ogg_page(serial, 0, 0, 0x02, [head]), ogg_page(serial, 1, 0, 0, [tags])]
    granule = 0
    for i, p in enumerate(packets):
        granule += PACKET
        last = i == len(packets) - 1
        pages.append(ogg_page(serial, 2 + i, granule, 0x04 if last else 0, [p]))
    with open(dst, "wb") as f:
        f.write(b"".join(pages))


def goertzel_power(x, freq):
    w = 2 * math.pi * freq / RATE
    c = 2 * math.cos(w)
    s1 = s2 = 0.0
    for v in x:
        s0 = v + c * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - c * s1 * s2


def correlation(y):
    """The best correlation of y with the ideal tone over every phase."""
    xx = sum(a * a for a in y)
    best = 0.0
    for lag in range(PERIOD):
        ref = [triangle(i + lag) for i in range(len(y))]
        dot = sum(a * b for a, b in zip(y, ref))
        rr = sum(b * b for b in ref)
        best = max(best, dot / math.sqrt(rr * xx) if rr and xx else 0.0)
    return best


def cmd_check(src, channels, npackets, repeat):
    with open(src, "rb") as f:
        raw = f.read()
    frames = len(raw) // (2 * channels)
    expect = npackets * repeat * PACKET - 312
    if abs(frames - expect) > PACKET:
        sys.exit(f"decoded {frames} samples per channel, expected about {expect}")
    samples = struct.unpack(f"<{frames * channels}h", raw[:frames * channels * 2])
    ok = True
    want_rms = AMP / math.sqrt(3)  # a triangle wave's RMS
    # Skip the first 100 ms: the decoder starts cold on the fixture's first packet.
    start = RATE // 10
    for ch in range(channels):
        x = samples[ch::channels][start:]
        rms = math.sqrt(sum(v * v for v in x) / len(x))
        total = sum(v * v for v in x) * len(x) / 2  # Parseval scale of goertzel_power
        p400 = goertzel_power(x, FREQ)
        share = p400 / total if total else 0.0
        # Best alignment with the ideal tone: the fraction of the signal it explains, over
        # 200 ms (to keep pure Python quick) after the start, and around each wrap.
        best = correlation(x[:RATE // 5])
        for k in range(1, repeat):
            wrap = k * npackets * PACKET - 312 - start
            best = min(best, correlation(x[wrap - RATE // 10:wrap + RATE // 10]))
        line = (f"channel {ch}: RMS {rms:.0f} (tone {want_rms:.0f}), 400 Hz share of power "
                f"{share:.3f}, lowest correlation with the tone {best:.4f}")
        print(line)
        if not (0.8 * want_rms < rms < 1.2 * want_rms and share > 0.9 and best > 0.99):
            ok = False
    if channels == 2:
        left, right = samples[0::2][start:], samples[1::2][start:]
        diff = max(abs(a - b) for a, b in zip(left, right))
        print(f"largest left/right difference: {diff}")
    if not ok:
        sys.exit("the decoded fixture is not the tone")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "tone" and len(args) == 2:
        cmd_tone(int(args[0]), int(args[1]))
    elif cmd == "extract" and len(args) == 4:
        cmd_extract(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "wrap" and len(args) == 4:
        cmd_wrap(args[0], int(args[1]), args[2], int(args[3]))
    elif cmd == "check" and len(args) == 4:
        cmd_check(args[0], int(args[1]), int(args[2]), int(args[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
