// The Node.js peer for benches/load/run.sh: a Zoom RTMS webhook endpoint written the way
// Zoom's RTMS skill brief shows it (express; "respond 200 immediately, then process async"),
// plus what a fair comparison needs:
//
// - the x-zm-signature is verified over the raw body (HMAC-SHA256 of `v0:{ts}:{body}`,
//   compared with crypto.timingSafeEqual) and the timestamp is checked (300 s window), before
//   anything else, as the Rust crate does; VERIFY=0 turns verification off (a variant);
// - the validation challenge is answered (only for a verified request);
// - each event is "processed" after HANDLER_DELAY_MS (default 2000) with setTimeout, then one
//   line is printed with the event name and stream id, and for a started stream the msg_type 1
//   handshake it would send (HMAC-SHA256 of "client_id,meeting_uuid,rtms_stream_id"), like the
//   Rust example's handler.
//
// Not done (the brief's shape does not): de-duplication, a body limit other than express's
// default (100 kB), bounded processing.
//
// Env: PORT (8080), ZOOM_SECRET_TOKEN (required), ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET
// (demo values if unset), HANDLER_DELAY_MS (2000), VERIFY (1).
'use strict';

const crypto = require('node:crypto');
const express = require('express');

const PORT = Number(process.env.PORT || 8080);
const SECRET = process.env.ZOOM_SECRET_TOKEN;
const CLIENT_ID = process.env.ZOOM_CLIENT_ID || 'demo-client-id';
const CLIENT_SECRET = process.env.ZOOM_CLIENT_SECRET || 'demo-client-secret';
const DELAY_MS = Number(process.env.HANDLER_DELAY_MS ?? 2000);
const VERIFY = process.env.VERIFY !== '0';
const TOLERANCE_S = 300;

if (!SECRET) {
  console.error('ZOOM_SECRET_TOKEN is required');
  process.exit(2);
}

function signatureOk(req) {
  const signature = req.get('x-zm-signature');
  const timestamp = req.get('x-zm-request-timestamp');
  if (!signature || !timestamp || !/^[0-9]+$/.test(timestamp) || !req.rawBody) return false;
  if (Math.abs(Math.floor(Date.now() / 1000) - Number(timestamp)) > TOLERANCE_S) return false;
  const expected = Buffer.from(
    'v0=' +
      crypto
        .createHmac('sha256', SECRET)
        .update(`v0:${timestamp}:`)
        .update(req.rawBody)
        .digest('hex'),
  );
  const received = Buffer.from(signature);
  return received.length === expected.length && crypto.timingSafeEqual(received, expected);
}

// The brief's "handleRTMSEvent": the work that runs after the 200.
function handleRTMSEvent(body) {
  setTimeout(() => {
    const object = (body.payload && body.payload.object) || body.payload || {};
    const streamId = object.rtms_stream_id || '-';
    console.log(`processed ${body.event} stream=${streamId}`);
    if (typeof body.event === 'string' && body.event.endsWith('rtms_started')) {
      const id = object.meeting_uuid || object.webinar_uuid || object.session_id || '';
      const signature = crypto
        .createHmac('sha256', CLIENT_SECRET)
        .update(`${CLIENT_ID},${id},${streamId}`)
        .digest('hex');
      const handshake = {
        msg_type: 1,
        protocol_version: 1,
        meeting_uuid: id,
        rtms_stream_id: streamId,
        sequence: Math.floor(Math.random() * 1e9),
        signature,
      };
      console.log(`  would send to ${object.server_urls}: ${JSON.stringify(handshake)}`);
    }
  }, DELAY_MS);
}

const app = express();
app.disable('x-powered-by');
app.disable('etag');
// Keep the raw body for the signature (Zoom's own samples do the same).
app.use(
  express.json({
    verify: (req, _res, buf) => {
      req.rawBody = buf;
    },
  }),
);

app.post('/webhook', (req, res) => {
  if (VERIFY && !signatureOk(req)) {
    return res.status(401).send('unauthorized');
  }
  const { event, payload } = req.body || {};

  // Handle URL validation
  if (event === 'endpoint.url_validation') {
    const hash = crypto
      .createHmac('sha256', SECRET)
      .update(String(payload && payload.plainToken))
      .digest('hex');
    return res.json({ plainToken: payload && payload.plainToken, encryptedToken: hash });
  }

  // CORRECT: Respond first, process async
  res.status(200).send(); // IMMEDIATELY!

  // Then process asynchronously
  handleRTMSEvent(req.body);
});

const server = app.listen(PORT, '127.0.0.1', () => {
  console.error(
    `node peer listening on http://127.0.0.1:${PORT}/webhook ` +
      `(verify=${VERIFY}, handler delay ${DELAY_MS} ms)`,
  );
});

function shutdown() {
  server.close(() => process.exit(0));
  // Pending 2 s timers would keep the process alive; do not wait for them.
  setTimeout(() => process.exit(0), 100).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
