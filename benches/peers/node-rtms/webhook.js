// The Node.js peer of the `connect` example for benches/connect_vs_node/run.sh: a whole RTMS
// service written the way Zoom's RTMS samples are. An `http` server receives the webhooks
// (answers `endpoint.url_validation`, verifies `x-zm-signature` = "v0=" + hex HMAC-SHA256 of
// `v0:{x-zm-request-timestamp}:{body}` with the secret token, answers 200 at once), and each
// `*rtms_started` (meeting, webinar, session, contact center, phone) connects to
// `payload.server_urls` as client.js does: `ws` sockets, one `message` handler per socket that
// JSON.parse()s every frame, the signalling handshake (msg_type 1, signature = hex
// HMAC-SHA256(client_secret, "client_id,instance_id,rtms_stream_id"), the instance id under the
// product's key), the media socket dialled at `media_server.server_urls.all` with the data
// handshake (msg_type 3, audio + transcript, L16 16 kHz mono mixed 20 ms), CLIENT_READY_ACK (7)
// once the media handshake succeeds, keep-alives echoed on both sockets (12 -> 13, the same
// `timestamp` and `sequence`), Buffer.from(data, 'base64') per audio message. `*rtms_stopped`
// closes the stream's sockets; `*rtms_interrupted` (and a new `*rtms_started` for a stream
// already connected: a failover) closes them and connects again.
//
// Standard output has the `connect` example's lines, so that both are read the same way:
// `listening on http://HOST:PORT/webhook` (stderr), `connected stream=<id>`,
// `transcript stream=<id> user=<user_name> text=<text>`, `failed stream=<id> reason=<text>`,
// `ended stream=<id> audio_frames=<n> audio_bytes=<n> [audio_sha256=<hex>] transcripts=<n>
// reconnects=<n>` once per stream (at `*rtms_stopped`), and on SIGTERM or SIGINT one
// `summary streams=<n> audio_frames=<n> audio_bytes=<n> transcripts=<n> failed=<n>` line before
// it exits.
//
// Env: ZOOM_SECRET_TOKEN, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET (required); HOST (127.0.0.1);
// PORT (8080; 0: any free port, the one chosen is in the `listening` line); AUDIO_SHA256=1
// also hashes every audio payload as `connect` does (off by default: the samples only use the
// buffer).
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const WebSocket = require('ws');

function required(name) {
  const v = process.env[name];
  if (!v || !v.trim()) {
    console.error(`${name} is not set: set ZOOM_SECRET_TOKEN, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET`);
    process.exit(2);
  }
  return v;
}

const ZOOM_SECRET_TOKEN = required('ZOOM_SECRET_TOKEN');
const CLIENT_ID = required('ZOOM_CLIENT_ID');
const CLIENT_SECRET = required('ZOOM_CLIENT_SECRET');
const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 8080);
const AUDIO_SHA256 = process.env.AUDIO_SHA256 === '1';

// Each product's id key in the webhook payload, as the signalling handshake must carry it.
const ID_KEYS = ['meeting_uuid', 'webinar_uuid', 'session_id', 'engagement_id', 'call_id'];

const streams = new Map(); // rtms_stream_id -> state
const totals = { audio: 0, bytes: 0, transcripts: 0, failed: 0 };

function generateSignature(clientId, instanceId, streamId, secret) {
  const message = `${clientId},${instanceId},${streamId}`;
  return crypto.createHmac('sha256', secret).update(message).digest('hex');
}

// Text from the network on one output line: control characters escaped (as `connect` does).
function clean(text) {
  const named = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g,
    (c) => named[c] || `\\u{${c.charCodeAt(0).toString(16)}}`);
}

// --- webhooks -----------------------------------------------------------------------------

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url.split('?')[0] !== '/webhook') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const timestamp = req.headers['x-zm-request-timestamp'];
    const message = `v0:${timestamp}:${body}`;
    const hashForVerify = crypto.createHmac('sha256', ZOOM_SECRET_TOKEN).update(message).digest('hex');
    const signature = `v0=${hashForVerify}`;
    if (req.headers['x-zm-signature'] !== signature) {
      console.error('a webhook was refused (401): its signature does not verify with ZOOM_SECRET_TOKEN');
      res.writeHead(401).end();
      return;
    }
    let event;
    try {
      event = JSON.parse(body);
    } catch (e) {
      res.writeHead(400).end();
      return;
    }
    if (event.event === 'endpoint.url_validation') {
      const plainToken = event.payload && event.payload.plainToken;
      const encryptedToken = crypto.createHmac('sha256', ZOOM_SECRET_TOKEN).update(String(plainToken)).digest('hex');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ plainToken, encryptedToken }));
      return;
    }
    // Acknowledge at once, then act.
    res.writeHead(200).end();
    onEvent(event);
  });
});

function onEvent(event) {
  const name = String(event.event || '');
  const payload = event.payload || {};
  const streamId = payload.rtms_stream_id;
  if (!streamId) return;
  if (name.endsWith('rtms_started') || name.endsWith('rtms_interrupted')) {
    const idKey = ID_KEYS.find((k) => typeof payload[k] === 'string');
    let s = streams.get(streamId);
    if (!s) {
      if (!name.endsWith('rtms_started')) return; // interrupted: a stream we never had
      s = { id: streamId, audio: 0, bytes: 0, transcripts: 0, connects: 0, ended: false, sockets: [],
        sha: AUDIO_SHA256 ? crypto.createHash('sha256') : null, idKey, instanceId: payload[idKey], url: null };
      streams.set(streamId, s);
    } else {
      closeSockets(s); // failover or interruption: start over
    }
    if (typeof payload.server_urls === 'string') s.url = payload.server_urls;
    if (s.url && s.instanceId) connectToSignalingWebSocket(s);
  } else if (name.endsWith('rtms_stopped')) {
    const s = streams.get(streamId);
    if (!s || s.ended) return;
    s.ended = true;
    closeSockets(s);
    const sha = s.sha ? ` audio_sha256=${s.sha.digest('hex')}` : '';
    console.log(`ended stream=${clean(s.id)} audio_frames=${s.audio} audio_bytes=${s.bytes}${sha} ` +
      `transcripts=${s.transcripts} reconnects=${Math.max(0, s.connects - 1)}`);
  }
}

function closeSockets(s) {
  for (const ws of s.sockets) {
    ws.removeAllListeners('close');
    ws.on('error', () => {});
    ws.close();
  }
  s.sockets = [];
}

// --- the client, as in Zoom's samples -------------------------------------------------------

function connectToSignalingWebSocket(s) {
  const ws = new WebSocket(s.url);
  s.sockets.push(ws);
  ws.on('open', () => {
    const signature = generateSignature(CLIENT_ID, s.instanceId, s.id, CLIENT_SECRET);
    const handshake = {
      msg_type: 1,
      protocol_version: 1,
      [s.idKey]: s.instanceId,
      rtms_stream_id: s.id,
      sequence: Math.floor(Math.random() * 1e9),
      signature,
    };
    // The Video SDK's sample sends the session id as `meeting_uuid` too.
    if (s.idKey === 'session_id') handshake.meeting_uuid = s.instanceId;
    ws.send(JSON.stringify(handshake));
  });
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.msg_type === 2) {
      if (msg.status_code === 0) {
        const mediaUrl = msg.media_server.server_urls.all;
        connectToMediaWebSocket(mediaUrl, s, ws);
      } else {
        fail(s, `signalling handshake status ${msg.status_code} ${msg.reason || ''}`);
        ws.close();
      }
    } else if (msg.msg_type === 12) {
      ws.send(JSON.stringify({ msg_type: 13, sequence: msg.sequence, timestamp: msg.timestamp }));
    }
  });
  ws.on('error', (e) => console.error(`stream ${s.id}: signalling socket error: ${e.message}`));
}

function connectToMediaWebSocket(mediaUrl, s, signalingSocket) {
  const mediaWs = new WebSocket(mediaUrl);
  s.sockets.push(mediaWs);
  mediaWs.on('open', () => {
    const signature = generateSignature(CLIENT_ID, s.instanceId, s.id, CLIENT_SECRET);
    const handshake = {
      msg_type: 3,
      protocol_version: 1,
      [s.idKey]: s.instanceId,
      rtms_stream_id: s.id,
      signature,
      media_type: 9, // audio (1) + transcript (8)
      payload_encryption: false,
      media_params: {
        // RAW_AUDIO, 16 kHz, mono, L16, mixed stream, 20 ms
        audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 1, send_rate: 20 },
      },
    };
    if (s.idKey === 'session_id') handshake.meeting_uuid = s.instanceId;
    mediaWs.send(JSON.stringify(handshake));
  });
  mediaWs.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.msg_type === 4) {
      if (msg.status_code === 0) {
        signalingSocket.send(JSON.stringify({ msg_type: 7, rtms_stream_id: s.id }));
        s.connects++;
        console.log(`connected stream=${clean(s.id)}`);
      } else {
        fail(s, `data handshake status ${msg.status_code} ${msg.reason || ''}`);
        closeSockets(s);
      }
    } else if (msg.msg_type === 12) {
      mediaWs.send(JSON.stringify({ msg_type: 13, sequence: msg.sequence, timestamp: msg.timestamp }));
    } else if (msg.msg_type === 14 && msg.content && msg.content.data) {
      const buffer = Buffer.from(msg.content.data, 'base64');
      onAudio(s, msg.content.user_id, buffer, msg.content.timestamp);
    } else if (msg.msg_type === 17 && msg.content) {
      onTranscript(s, msg.content.user_name, msg.content.data);
    }
  });
  mediaWs.on('error', (e) => console.error(`stream ${s.id}: media socket error: ${e.message}`));
}

// What the app does with the media: count it (and, with AUDIO_SHA256=1, hash it as `connect` does).
function onAudio(s, userId, buffer, timestamp) {
  s.audio++;
  s.bytes += buffer.length;
  totals.audio++;
  totals.bytes += buffer.length;
  if (s.sha) s.sha.update(buffer);
}

function onTranscript(s, userName, text) {
  s.transcripts++;
  totals.transcripts++;
  console.log(`transcript stream=${clean(s.id)} user=${clean(userName || '')} text=${clean(text || '')}`);
}

function fail(s, reason) {
  totals.failed++;
  console.log(`failed stream=${clean(s.id)} reason=${clean(reason)}`);
}

// --- start and stop -------------------------------------------------------------------------

server.listen(PORT, HOST, () => {
  const { address, port } = server.address();
  console.error(`listening on http://${address}:${port}/webhook`);
});

function shutdown() {
  server.close();
  for (const s of streams.values()) closeSockets(s);
  const line = `summary streams=${streams.size} audio_frames=${totals.audio} audio_bytes=${totals.bytes} ` +
    `transcripts=${totals.transcripts} failed=${totals.failed}\n`;
  process.stdout.write(line, () => process.exit(0));
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
