// The Node.js RTMS client for benches/rtms_load/run.sh, written the way Zoom's RTMS samples
// are: `ws` sockets, one `message` handler per socket that JSON.parse()s every frame,
// Buffer.from(data, 'base64') for audio, the keep-alive echoed (12 -> 13, same timestamp),
// the signalling handshake (msg_type 1, signature = hex HMAC-SHA256(client_secret,
// "client_id,meeting_uuid,rtms_stream_id")), the media socket dialled at
// `media_server.server_urls.all` with the data handshake (msg_type 3, audio + transcript), and
// CLIENT_READY_ACK (7) on the signalling socket once the media handshake succeeds.
//
// What the benchmark adds (the same as the Rust clients of benches/rtms_load/main.rs): the
// streams come from the hooks file the simulator writes (rtms_stream_id, meeting UUID,
// signalling URL, tab-separated); at most CONNECT_CONCURRENCY handshakes at a time; once every
// stream delivers audio, WARMUP seconds, then DURATION seconds measured: messages, this
// process's CPU (process.cpuUsage(): user and system µs), RSS, and the delivery latency of each
// audio message (Date.now() - content.timestamp, the simulator's scheduled send time). Prints
// one RESULT line (the same columns as the Rust clients) and exits.
//
// Env: HOOKS (required), STREAMS (all lines), WARMUP (2), DURATION (10), CONNECT_TIMEOUT (60),
// CONNECT_CONCURRENCY (256), LABEL (node), ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const WebSocket = require('ws');

const HOOKS = process.env.HOOKS;
const WARMUP_MS = Number(process.env.WARMUP || 2) * 1000;
const DURATION_MS = Number(process.env.DURATION || 10) * 1000;
const CONNECT_TIMEOUT_MS = Number(process.env.CONNECT_TIMEOUT || 60) * 1000;
const CONCURRENCY = Number(process.env.CONNECT_CONCURRENCY || 256);
const LABEL = process.env.LABEL || 'node';
const CLIENT_ID = process.env.ZOOM_CLIENT_ID || 'rtms-load-client-id';
const CLIENT_SECRET = process.env.ZOOM_CLIENT_SECRET || 'rtms-load-client-secret';

if (!HOOKS) {
  console.error('HOOKS is required');
  process.exit(2);
}

const rssBase = Math.round(process.memoryUsage.rss() / 1024);
const stats = { ready: 0, audio: 0, transcripts: 0, other: 0, failed: 0 };
let measuring = false;
const latency = new Float64Array(10001); // 1 ms buckets, the last one: longer

function generateSignature(clientId, meetingUuid, streamId, secret) {
  const message = `${clientId},${meetingUuid},${streamId}`;
  return crypto.createHmac('sha256', secret).update(message).digest('hex');
}

// --- the client, as in Zoom's samples --------------------------------------------------------

function connectToSignalingWebSocket(meetingUuid, streamId, serverUrl, done) {
  const ws = new WebSocket(serverUrl);
  ws.on('open', () => {
    const signature = generateSignature(CLIENT_ID, meetingUuid, streamId, CLIENT_SECRET);
    const handshake = {
      msg_type: 1,
      protocol_version: 1,
      meeting_uuid: meetingUuid,
      rtms_stream_id: streamId,
      sequence: Math.floor(Math.random() * 1e9),
      signature,
    };
    ws.send(JSON.stringify(handshake));
  });
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.msg_type === 2) {
      if (msg.status_code === 0) {
        const mediaUrl = msg.media_server.server_urls.all;
        connectToMediaWebSocket(mediaUrl, meetingUuid, streamId, ws, done);
      } else {
        fail(done);
      }
    } else if (msg.msg_type === 12) {
      ws.send(JSON.stringify({ msg_type: 13, sequence: msg.sequence, timestamp: msg.timestamp }));
    } else {
      stats.other++;
    }
  });
  ws.on('error', () => fail(done));
  ws.on('close', () => fail(done));
}

function connectToMediaWebSocket(mediaUrl, meetingUuid, streamId, signalingSocket, done) {
  const mediaWs = new WebSocket(mediaUrl);
  let delivering = false;
  mediaWs.on('open', () => {
    const signature = generateSignature(CLIENT_ID, meetingUuid, streamId, CLIENT_SECRET);
    const handshake = {
      msg_type: 3,
      protocol_version: 1,
      meeting_uuid: meetingUuid,
      rtms_stream_id: streamId,
      signature,
      media_type: 9, // audio (1) + transcript (8)
      payload_encryption: false,
      media_params: {
        // RAW_AUDIO, 16 kHz, mono, L16, mixed stream, 20 ms
        audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 1, send_rate: 20 },
      },
    };
    mediaWs.send(JSON.stringify(handshake));
  });
  mediaWs.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.msg_type === 4) {
      if (msg.status_code === 0) {
        signalingSocket.send(JSON.stringify({ msg_type: 7, rtms_stream_id: streamId }));
        done();
      } else {
        fail(done);
      }
    } else if (msg.msg_type === 12) {
      mediaWs.send(JSON.stringify({ msg_type: 13, sequence: msg.sequence, timestamp: msg.timestamp }));
    } else if (msg.msg_type === 14 && msg.content && msg.content.data) {
      const { user_id, data: audioData, timestamp } = msg.content;
      const buffer = Buffer.from(audioData, 'base64');
      onAudio(user_id, buffer, timestamp);
      if (!delivering) {
        delivering = true;
        stats.ready++;
      }
    } else if (msg.msg_type === 17 && msg.content) {
      onTranscript(msg.content.user_name, msg.content.data);
    } else {
      stats.other++;
    }
  });
  mediaWs.on('error', () => fail(done));
  mediaWs.on('close', () => fail(done));
}

// What the app does with the media: here, count it and measure the delivery latency.
function onAudio(userId, buffer, timestamp) {
  stats.audio++;
  if (measuring && typeof timestamp === 'number' && buffer.length > 0) {
    const ms = Math.max(0, Math.floor(Date.now() - timestamp));
    latency[Math.min(ms, latency.length - 1)]++;
  }
}

function onTranscript(userName, text) {
  if (typeof text === 'string') stats.transcripts++;
}

function fail(done) {
  done(true);
}

// --- the benchmark ----------------------------------------------------------------------------

// How long this process's threads waited on a run queue for a CPU, µs (as the Rust clients).
function runQueueWaitUs() {
  let total = 0;
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      total += Number(fs.readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[1]);
    } catch (e) {
      // a thread that just ended
    }
  }
  return Math.round(total / 1000);
}

function percentiles() {
  let total = 0;
  for (const c of latency) total += c;
  if (total === 0) return [-1, -1, -1];
  const at = (q) => {
    const rank = Math.max(1, Math.ceil(total * q));
    let seen = 0;
    for (let ms = 0; ms < latency.length; ms++) {
      seen += latency[ms];
      if (seen >= rank) return ms;
    }
    return latency.length - 1;
  };
  let max = 0;
  for (let ms = latency.length - 1; ms >= 0; ms--) {
    if (latency[ms] > 0) {
      max = ms;
      break;
    }
  }
  return [at(0.5), at(0.99), max];
}

function readHooks(deadline) {
  for (;;) {
    try {
      return fs.readFileSync(HOOKS, 'utf8');
    } catch (e) {
      if (Date.now() > deadline) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

const started = Date.now();
const lines = readHooks(started + CONNECT_TIMEOUT_MS)
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => l.split('\t'));
const n = Math.min(Number(process.env.STREAMS || lines.length), lines.length);

let next = 0;
let inFlight = 0;
function connectMore() {
  while (inFlight < CONCURRENCY && next < n) {
    const [streamId, meetingUuid, url] = lines[next++];
    inFlight++;
    let settled = false;
    let failed = false;
    connectToSignalingWebSocket(meetingUuid, streamId, url, (failure) => {
      if (failure && !failed) {
        failed = true;
        stats.failed++;
      }
      if (settled) return;
      settled = true;
      inFlight--;
      connectMore();
    });
  }
}
connectMore();

const deadline = Date.now() + CONNECT_TIMEOUT_MS;
const waitReady = setInterval(() => {
  if (stats.ready < n && Date.now() < deadline) return;
  clearInterval(waitReady);
  setTimeout(measure, WARMUP_MS);
}, 20);

function measure() {
  const a0 = stats.audio;
  const t0 = stats.transcripts;
  const o0 = stats.other;
  const cpu0 = process.cpuUsage();
  const q0 = runQueueWaitUs();
  const w0 = Date.now();
  measuring = true;
  setTimeout(() => {
    measuring = false;
    const cpu = process.cpuUsage(cpu0);
    const q1 = runQueueWaitUs();
    const w1 = Date.now();
    const rssEnd = Math.round(process.memoryUsage.rss() / 1024);
    const [p50, p99, max] = percentiles();
    const row = [
      'RESULT', LABEL, n, stats.ready, w0, w1,
      stats.audio - a0, stats.transcripts - t0, stats.other - o0,
      cpu.user, cpu.system, rssBase, rssEnd, p50, p99, max, 0, stats.failed, q1 - q0,
    ];
    process.stdout.write(row.join('\t') + '\n', () => process.exit(0));
  }, DURATION_MS);
}
