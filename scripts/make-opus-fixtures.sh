#!/usr/bin/env bash
# Regenerates the simulator's Opus fixtures, src/simulator/opus-48k-{stereo,mono}.bin: one second
# (50 packets of 20 ms) of the simulator's tone (a 400 Hz triangle wave, the same on every
# channel, amplitude 6000) encoded at 48 kHz by libopus (Debian's opus-tools: opusenc), then
# checked by decoding it again (opusdec).
#
#   bash scripts/make-opus-fixtures.sh            # rewrite the fixtures, then check them
#   bash scripts/make-opus-fixtures.sh --check    # only check the committed fixtures
#
# Steps, for each variant:
#  1. scripts/opus-fixtures.py writes 3 s of the tone as raw s16le PCM;
#  2. opusenc encodes it as Ogg Opus (RFC 7845), 20 ms frames, VBR, the given bitrate;
#  3. scripts/opus-fixtures.py reads the Ogg pages (RFC 3533: checks each page's CRC, reassembles
#     packets from the lacing values), skips the OpusHead and OpusTags header packets, skips the
#     first second of audio packets (the encoder's start-up) and keeps the next 50: the middle
#     second, in which every packet encodes the same steady tone, so the fixture cycles without
#     a click (8 whole periods of 400 Hz per packet);
#  4. it writes them in the fixture container: per packet, its length as a big-endian u16, then
#     the packet's bytes; nothing else;
#  5. the check puts the fixture's packets, twice over (as the simulator cycles them), back into
#     an Ogg Opus file, decodes it with opusdec (48 kHz, no dither) and requires each channel to
#     be the tone: RMS within 20 % of the tone's, over 90 % of the power at 400 Hz, correlation
#     with the ideal tone over 0.99 after the start and around the wrap.
#
# libopus is deterministic for one build: the same version (the fixtures were made with
# opus-tools 0.2 and libopus 1.3.1, Debian 12) gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v opusenc >/dev/null 2>&1 || ! command -v opusdec >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq opus-tools >/dev/null
  else
    echo "opusenc/opusdec not found: install opus-tools (Debian) and run again" >&2
    exit 1
  fi
fi

check_only=false
[ "${1:-}" = "--check" ] && check_only=true

py=scripts/opus-fixtures.py
out=src/simulator
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name, channels, bitrate in kbit/s
for variant in "stereo 2 64" "mono 1 32"; do
  set -- $variant
  name=$1 channels=$2 kbps=$3
  bin=$out/opus-48k-$name.bin
  if ! $check_only; then
    python3 "$py" tone "$channels" 3 >"$tmp/$name.raw"
    opusenc --quiet --raw --raw-bits 16 --raw-rate 48000 --raw-chan "$channels" \
      --raw-endianness 0 --bitrate "$kbps" --vbr --framesize 20 --comp 10 --serial 1 \
      "$tmp/$name.raw" "$tmp/$name.opus"
    python3 "$py" extract "$tmp/$name.opus" "$bin" 50 50
  fi
  python3 "$py" wrap "$bin" "$channels" "$tmp/$name-check.opus" 2
  opusdec --quiet --rate 48000 --no-dither "$tmp/$name-check.opus" "$tmp/$name-check.pcm"
  echo "$bin:"
  python3 "$py" check "$tmp/$name-check.pcm" "$channels" 50 2
done
