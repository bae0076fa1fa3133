# The Python quickstart of the README of Zoom's RTMS SDK (PyPI `rtms`,
# https://github.com/zoom/rtms), as an outside client of the crate's simulator for
# scripts/zoom-sdk-conformance.sh. Not part of the crate: it needs Zoom's closed native
# library (linux-x64, darwin-arm64).
#
# The SDK reads everything from the environment, so the quickstart is unchanged there:
# ZM_RTMS_PORT / ZM_RTMS_PATH (its webhook server), ZM_RTMS_CLIENT / ZM_RTMS_SECRET (the
# handshake signature), ZM_RTMS_LOG_LEVEL. The script sets them from ZOOM_CLIENT_ID /
# ZOOM_CLIENT_SECRET, the simulator's names. The SDK does not verify webhook signatures, so
# ZOOM_SECRET_TOKEN is only the simulator's.
#
# The one removal: python-dotenv's load_dotenv() (the script sets the environment).
# Additions, marked "added":
# - an audio callback that hashes the payload bytes in the order they arrive, and one line
#   `received stream=<id> audio_frames=<n> audio_sha256=<hex>` at the end of each stream (the
#   SDK's on_leave, the rtms_stopped webhook before leave(), or SIGTERM for a stream still
#   open; printed again when more audio arrived since, so the last line counts), the same form
#   as the simulator's `sent ...` line;
# - a line per webhook (`webhook <event> stream=<id>`) and per leave (`left stream=<id>
#   reason=<n>`), to see what the SDK was told and why it stopped.
import hashlib  # added
import signal  # added
import sys  # added
import threading  # added

import rtms

clients = {}
audio = {}  # added: stream id -> [frames, sha256]
reported = set()  # added: streams whose line is printed and unchanged since
lock = threading.Lock()  # added


def report(stream_id):  # added
    with lock:
        if stream_id in reported or stream_id not in audio:
            return
        reported.add(stream_id)
        frames, digest = audio[stream_id]
        print(f'received stream={stream_id} audio_frames={frames} '
              f'audio_sha256={digest.copy().hexdigest()}', flush=True)


@rtms.on_webhook_event
def handle_webhook(webhook):
    event = webhook.get('event')
    payload = webhook.get('payload', {})
    stream_id = payload.get('rtms_stream_id')
    print(f'webhook {event} stream={stream_id}', flush=True)  # added

    if event == 'meeting.rtms_stopped':
        report(stream_id)  # added: before leave(), which can block (see the script's header)
        client = clients.pop(stream_id, None)
        if client:
            client.leave()
        return

    if event != 'meeting.rtms_started':
        return

    client = rtms.Client()
    clients[stream_id] = client
    with lock:  # added
        audio.setdefault(stream_id, [0, hashlib.sha256()])

    @client.on_transcript_data
    def _(data, _, timestamp, metadata):
        print(f'[transcript] ts={timestamp} user="{metadata.userName}": {data.decode()}')

    @client.on_audio_data  # added
    def _audio(data, size, timestamp, metadata):
        with lock:
            entry = audio[stream_id]
            entry[0] += 1
            entry[1].update(data)
            reported.discard(stream_id)

    @client.on_leave  # added
    def _leave(reason):
        print(f'left stream={stream_id} reason={reason}', flush=True)
        report(stream_id)

    client.join(payload)


def _stop(signum, frame):  # added: print the streams still open, then exit
    for stream_id in list(audio):
        report(stream_id)
    sys.stdout.flush()
    sys.exit(0)


signal.signal(signal.SIGTERM, _stop)  # added
rtms.run()
