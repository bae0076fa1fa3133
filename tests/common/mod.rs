//! Helpers shared by the integration tests (`mod common;` in each test file).
//!
//! Every test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zoom_rtms_webhooks::signature::sign;
use zoom_rtms_webhooks::Verifier;

/// The webhook Secret Token the tests sign with.
pub const SECRET: &str = "test-secret-token";

/// A fixed "now" (Unix seconds) for tests that inject the clock ([`verifier_at`]).
pub const T0: u64 = 1_700_000_000;

/// `SystemTime` for `secs` Unix seconds.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A verifier for `secret` (label `"default"`) whose clock always reads `secs` Unix seconds.
pub fn verifier_at(secret: &str, secs: u64) -> Verifier {
    Verifier::builder()
        .with_secret("default", secret)
        .with_clock(move || at(secs))
        .build()
        .expect("non-blank secret")
}

/// The current Unix time in seconds, as the `x-zm-request-timestamp` header value.
pub fn now_ts() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string()
}

/// Signs `body` with `secret` at the current time: `(x-zm-signature, x-zm-request-timestamp)`.
pub fn signed(secret: &str, body: &[u8]) -> (String, String) {
    let ts = now_ts();
    (sign(secret, &ts, body), ts)
}

/// Signs `body` with `secret` at the given Unix time: `(signature, timestamp)`.
pub fn signed_at(secret: &str, body: &[u8], secs: u64) -> (String, String) {
    let ts = secs.to_string();
    (sign(secret, &ts, body), ts)
}

/// A `meeting.rtms_started` body for `stream_id` (flat payload, a valid Zoom `server_urls`).
pub fn started_body(stream_id: &str) -> Vec<u8> {
    started_body_with_ts(stream_id, 1_732_313_171_881)
}

/// Like [`started_body`], with the given `event_ts` (ms): a second start of the same stream
/// with a different body.
pub fn started_body_with_ts(stream_id: &str, event_ts: u64) -> Vec<u8> {
    format!(
        r#"{{"event":"meeting.rtms_started","event_ts":{event_ts},"payload":{{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","operator_id":"30R7kT7bTIKSNUFEuH_Qlg","rtms_stream_id":"{stream_id}","server_urls":"wss://rtms-sjc1.zoom.us/"}}}}"#
    )
    .into_bytes()
}

/// A `meeting.rtms_stopped` body for `stream_id` (stop reason 6, meeting ended).
pub fn stopped_body(stream_id: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"meeting.rtms_stopped","event_ts":1732313171999,"payload":{{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"{stream_id}","stop_reason":6}}}}"#
    )
    .into_bytes()
}

/// An `endpoint.url_validation` challenge body carrying `plain_token`.
pub fn challenge_body(plain_token: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"endpoint.url_validation","event_ts":1654503849680,"payload":{{"plainToken":"{plain_token}"}}}}"#
    )
    .into_bytes()
}

/// A body with an event name this crate does not know.
pub fn unknown_body(name: &str) -> Vec<u8> {
    format!(r#"{{"event":"{name}","event_ts":1700000000000,"payload":{{"anything":[1,2,3]}}}}"#)
        .into_bytes()
}

/// A known event (`meeting.rtms_started`) whose payload lacks `rtms_stream_id`.
pub fn broken_started_body() -> Vec<u8> {
    br#"{"event":"meeting.rtms_started","event_ts":1,"payload":{"meeting_uuid":"m==","server_urls":"wss://rtms-sjc1.zoom.us/"}}"#.to_vec()
}

/// Not JSON at all.
pub const MALFORMED_JSON: &[u8] = b"{\"event\": \"meeting.rtms_started\", ";

/// Declares one test per shared HTTP scenario of [`http_suite`], each run against the adapter
/// that `$spawn` starts, with `#[$test]` as the test attribute (`tokio::test`,
/// `actix_web::test`). A scenario added here runs against every adapter.
#[cfg(feature = "dispatch")]
#[allow(unused_macros)]
macro_rules! http_suite_tests {
    (#[$test:meta] $spawn:ident) => {
        http_suite_tests!(@each #[$test] $spawn;
            valid_event_is_acknowledged_and_dispatched,
            missing_signature_is_401,
            bad_signature_is_401,
            stale_timestamp_is_401,
            malformed_json_is_400,
            broken_payload_is_400,
            wrong_method_is_405_with_allow,
            body_over_limit_is_413,
            declared_oversized_body_is_413_before_it_is_read,
            oversized_non_post_is_405,
            repeated_signature_headers_are_401,
            full_queue_is_503_with_retry_after,
            verified_challenge_is_answered,
            unverified_challenge_gets_no_reply,
            duplicate_is_acknowledged_but_dispatched_once,
            unknown_event_is_acknowledged_and_dispatched,
            response_arrives_before_handler_finishes,
            shutdown_processes_every_acknowledged_event,
        );
    };
    (@each #[$test:meta] $spawn:ident; $($scenario:ident),* $(,)?) => {$(
        #[$test]
        async fn $scenario() {
            common::http_suite::$scenario($spawn).await;
        }
    )*};
}

/// HTTP scenarios shared by the framework adapter tests (`tests/axum.rs`, `tests/hyper.rs`, ...):
/// each scenario takes a `spawn` function that serves a receiver on `127.0.0.1:0` and returns
/// the webhook URL, then talks to it with a real HTTP client. No sleeps, no clocks: handlers
/// are held and released through channels.
#[cfg(feature = "dispatch")]
pub mod http_suite {
    use std::convert::Infallible;
    use std::future::Future;
    use std::sync::Arc;

    use tokio::sync::mpsc::{self, error::TryRecvError, UnboundedReceiver};
    use tokio::sync::watch;
    use zoom_rtms_webhooks::dedup::MemoryDeduplicator;
    use zoom_rtms_webhooks::dispatch::{Dispatcher, DispatcherConfig};
    use zoom_rtms_webhooks::receiver::ReceiverConfig;
    use zoom_rtms_webhooks::{Delivery, Receiver, Verifier, WebhookEvent};

    use super::{
        broken_started_body, challenge_body, now_ts, signed, signed_at, started_body,
        started_body_with_ts, unknown_body, MALFORMED_JSON, SECRET,
    };

    /// The receiver type every adapter test serves.
    pub type TestReceiver = Receiver<MemoryDeduplicator, Dispatcher<Delivery>>;

    /// `HMAC-SHA256("test-secret-token", "token")`, computed independently with
    /// `python3 -c "import hmac,hashlib; print(hmac.new(b'test-secret-token', b'token', hashlib.sha256).hexdigest())"`
    pub const EXPECTED_ENCRYPTED_TOKEN: &str =
        "346507a8517f69e93b66c4373c8e5ed93da3918cecb9fbe22b8413140a5e0969";

    /// A running server and the pieces behind it.
    pub struct Harness {
        /// `http://127.0.0.1:{port}/webhook`.
        pub url: String,
        /// The receiver being served.
        pub receiver: Arc<TestReceiver>,
        /// The receiver's hand-off.
        pub dispatcher: Dispatcher<Delivery>,
        /// A plain-HTTP client.
        pub client: reqwest::Client,
    }

    impl Harness {
        /// Builds a receiver (secret [`SECRET`], `config`, `dispatcher`) and serves it.
        pub async fn start<F, Fut>(
            spawn: F,
            config: ReceiverConfig,
            dispatcher: Dispatcher<Delivery>,
        ) -> Harness
        where
            F: FnOnce(Arc<TestReceiver>) -> Fut,
            Fut: Future<Output = String>,
        {
            let verifier = Verifier::new(SECRET).expect("non-empty secret");
            let receiver = Arc::new(
                Receiver::new(verifier, MemoryDeduplicator::new(), dispatcher.clone())
                    .with_config(config),
            );
            let url = spawn(Arc::clone(&receiver)).await;
            Harness {
                url,
                receiver,
                dispatcher,
                client: reqwest::Client::new(),
            }
        }

        /// POSTs `body` with the given headers.
        pub async fn post(&self, body: &[u8], headers: &[(&str, &str)]) -> reqwest::Response {
            let mut request = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body.to_vec());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send().await.expect("request sent")
        }

        /// POSTs `body` signed with [`SECRET`] at the current time.
        pub async fn post_signed(&self, body: &[u8]) -> reqwest::Response {
            let (signature, timestamp) = signed(SECRET, body);
            self.post(
                body,
                &[
                    ("x-zm-signature", &signature),
                    ("x-zm-request-timestamp", &timestamp),
                ],
            )
            .await
        }
    }

    /// A dispatcher whose handler forwards every delivery to the returned channel.
    pub fn recording_dispatcher(
        config: DispatcherConfig,
    ) -> (Dispatcher<Delivery>, UnboundedReceiver<Delivery>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let dispatcher = Dispatcher::new(config, move |delivery: Delivery| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(delivery);
                Ok::<_, Infallible>(())
            }
        });
        (dispatcher, rx)
    }

    /// Controls a [`gated_dispatcher`]'s handler.
    pub struct Gate {
        /// The handler sends the delivery's de-duplication key here when it starts.
        pub started: UnboundedReceiver<String>,
        /// ...and here when it finishes, which it does only after [`Gate::release`].
        pub finished: UnboundedReceiver<String>,
        release: watch::Sender<bool>,
    }

    impl Gate {
        /// Lets every held (and later) handler call finish.
        pub fn release(&self) {
            self.release.send_replace(true);
        }
    }

    /// A dispatcher whose handler signals "started", waits for [`Gate::release`], then
    /// signals "finished".
    pub fn gated_dispatcher(config: DispatcherConfig) -> (Dispatcher<Delivery>, Gate) {
        let (started_tx, started) = mpsc::unbounded_channel();
        let (finished_tx, finished) = mpsc::unbounded_channel();
        let (release, release_rx) = watch::channel(false);
        let dispatcher = Dispatcher::new(config, move |delivery: Delivery| {
            let started_tx = started_tx.clone();
            let finished_tx = finished_tx.clone();
            let mut release_rx = release_rx.clone();
            async move {
                let _ = started_tx.send(delivery.dedup_key.clone());
                let _ = release_rx.wait_for(|released| *released).await;
                let _ = finished_tx.send(delivery.dedup_key);
                Ok::<_, Infallible>(())
            }
        });
        (
            dispatcher,
            Gate {
                started,
                finished,
                release,
            },
        )
    }

    /// Shuts the dispatcher down (every queued delivery is handled) and returns what the
    /// recording handler received.
    pub async fn drain(
        dispatcher: &Dispatcher<Delivery>,
        mut deliveries: UnboundedReceiver<Delivery>,
    ) -> Vec<Delivery> {
        dispatcher.shutdown().await;
        let mut out = Vec::new();
        while let Ok(d) = deliveries.try_recv() {
            out.push(d);
        }
        out
    }

    async fn recording<F, Fut>(
        spawn: F,
        config: ReceiverConfig,
    ) -> (Harness, UnboundedReceiver<Delivery>)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (dispatcher, deliveries) = recording_dispatcher(DispatcherConfig::default());
        (Harness::start(spawn, config, dispatcher).await, deliveries)
    }

    async fn status_and_text(response: reqwest::Response) -> (u16, String) {
        let status = response.status().as_u16();
        (status, response.text().await.expect("body read"))
    }

    /// Asserts a refusal with the receiver's fixed body and that nothing was dispatched.
    async fn assert_refused(
        h: &Harness,
        deliveries: UnboundedReceiver<Delivery>,
        response: reqwest::Response,
        status: u16,
        body: &str,
    ) {
        assert_eq!(status_and_text(response).await, (status, body.to_owned()));
        assert!(drain(&h.dispatcher, deliveries).await.is_empty());
        assert_eq!(h.receiver.stats().accepted, 0);
    }

    /// A valid signed event gets `200` with an empty body and reaches the handler.
    pub async fn valid_event_is_acknowledged_and_dispatched<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let response = h.post_signed(&started_body("stream-1")).await;
        assert_eq!(status_and_text(response).await, (200, String::new()));
        let got = drain(&h.dispatcher, deliveries).await;
        assert_eq!(got.len(), 1);
        match &got[0].event {
            WebhookEvent::RtmsStarted(started) => {
                assert_eq!(started.rtms_stream_id, "stream-1");
                assert_eq!(started.event, "meeting.rtms_started");
            }
            other => panic!("unexpected event {}", other.name()),
        }
        assert_eq!(
            got[0].dedup_key,
            "started:meeting:stream-1:e16d07add418981e"
        );
        assert_eq!(h.receiver.stats().accepted, 1);
    }

    /// No signature header, or no timestamp header: `401 unauthorized`.
    pub async fn missing_signature_is_401<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let body = started_body("stream-1");
        let (signature, timestamp) = signed(SECRET, &body);
        let no_headers = h.post(&body, &[]).await;
        assert_eq!(
            status_and_text(no_headers).await,
            (401, "unauthorized".to_owned())
        );
        let no_timestamp = h.post(&body, &[("x-zm-signature", &signature)]).await;
        assert_eq!(
            status_and_text(no_timestamp).await,
            (401, "unauthorized".to_owned())
        );
        let no_signature = h
            .post(&body, &[("x-zm-request-timestamp", &timestamp)])
            .await;
        assert_refused(&h, deliveries, no_signature, 401, "unauthorized").await;
        assert_eq!(h.receiver.stats().unauthorized, 3);
    }

    /// A signature made with another secret, or over another body: `401 unauthorized`.
    pub async fn bad_signature_is_401<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let body = started_body("stream-1");
        let (wrong_secret, timestamp) = signed("another-secret", &body);
        let response = h
            .post(
                &body,
                &[
                    ("x-zm-signature", &wrong_secret),
                    ("x-zm-request-timestamp", &timestamp),
                ],
            )
            .await;
        assert_eq!(
            status_and_text(response).await,
            (401, "unauthorized".to_owned())
        );
        // Valid signature of a different body (tampered payload).
        let (other_body_sig, timestamp) = signed(SECRET, &started_body("stream-2"));
        let tampered = h
            .post(
                &body,
                &[
                    ("x-zm-signature", &other_body_sig),
                    ("x-zm-request-timestamp", &timestamp),
                ],
            )
            .await;
        assert_refused(&h, deliveries, tampered, 401, "unauthorized").await;
        assert_eq!(h.receiver.stats().unauthorized, 2);
    }

    /// A correct signature over a timestamp outside the 5-minute window: `401`.
    pub async fn stale_timestamp_is_401<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let body = started_body("stream-1");
        let now: u64 = now_ts().parse().expect("numeric timestamp");
        // One hour old: far outside the window however slowly the test runs.
        let (signature, timestamp) = signed_at(SECRET, &body, now - 3600);
        let response = h
            .post(
                &body,
                &[
                    ("x-zm-signature", &signature),
                    ("x-zm-request-timestamp", &timestamp),
                ],
            )
            .await;
        assert_refused(&h, deliveries, response, 401, "unauthorized").await;
        assert_eq!(h.receiver.stats().unauthorized, 1);
    }

    /// Verified, but not JSON: `400 bad request`.
    pub async fn malformed_json_is_400<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let response = h.post_signed(MALFORMED_JSON).await;
        assert_refused(&h, deliveries, response, 400, "bad request").await;
        assert_eq!(h.receiver.stats().bad_request, 1);
    }

    /// Verified, a known event name, but its payload lacks a required field: `400`.
    pub async fn broken_payload_is_400<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let response = h.post_signed(&broken_started_body()).await;
        assert_refused(&h, deliveries, response, 400, "bad request").await;
        assert_eq!(h.receiver.stats().bad_request, 1);
    }

    /// Any method but POST: `405` with `Allow: POST`.
    pub async fn wrong_method_is_405_with_allow<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let body = started_body("stream-1");
        let (signature, timestamp) = signed(SECRET, &body);
        for method in [reqwest::Method::GET, reqwest::Method::PUT] {
            let response = h
                .client
                .request(method.clone(), &h.url)
                .header("x-zm-signature", &signature)
                .header("x-zm-request-timestamp", &timestamp)
                .body(body.clone())
                .send()
                .await
                .expect("request sent");
            assert_eq!(response.status().as_u16(), 405, "{method}");
            let allow = response
                .headers()
                .get("allow")
                .map(|v| v.as_bytes().to_vec());
            assert_eq!(allow.as_deref(), Some(&b"POST"[..]), "{method}");
            assert_eq!(response.text().await.expect("body"), "method not allowed");
        }
        assert!(drain(&h.dispatcher, deliveries).await.is_empty());
        assert_eq!(h.receiver.stats().method_not_allowed, 2);
    }

    /// A body one byte over the receiver's limit: `413`; exactly at the limit: accepted.
    pub async fn body_over_limit_is_413<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        const LIMIT: usize = 1024;
        let (h, deliveries) =
            recording(spawn, ReceiverConfig::default().with_body_limit(LIMIT)).await;
        let at_limit = padded_unknown_body("zoom.test_at_limit", LIMIT);
        let over_limit = padded_unknown_body("zoom.test_over_limit", LIMIT + 1);

        let response = h.post_signed(&over_limit).await;
        assert_eq!(
            status_and_text(response).await,
            (413, "payload too large".to_owned())
        );
        let response = h.post_signed(&at_limit).await;
        assert_eq!(status_and_text(response).await, (200, String::new()));

        let got = drain(&h.dispatcher, deliveries).await;
        let names: Vec<&str> = got.iter().map(|d| d.event.name()).collect();
        assert_eq!(names, ["zoom.test_at_limit"]);
        let stats = h.receiver.stats();
        assert_eq!((stats.too_large, stats.accepted), (1, 1));
    }

    /// A request that announces a body far over the limit and sends none of it, then closes
    /// its sending side: `413` at once. An adapter that read (or waited for) the body would see
    /// it end early and answer `400`, or nothing.
    pub async fn declared_oversized_body_is_413_before_it_is_read<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        const LIMIT: usize = 1024;
        let config = ReceiverConfig::default().with_body_limit(LIMIT);
        let (h, deliveries) = recording(spawn, config).await;
        let body = started_body("stream-1");
        let (signature, timestamp) = signed(SECRET, &body);
        let response = raw_exchange(
            &h.url,
            "POST",
            &[
                ("content-length", &(100 * LIMIT).to_string()),
                ("x-zm-signature", &signature),
                ("x-zm-request-timestamp", &timestamp),
            ],
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 413"), "got: {response}");
        assert!(response.ends_with("payload too large"), "got: {response}");
        assert!(drain(&h.dispatcher, deliveries).await.is_empty());
        let stats = h.receiver.stats();
        assert_eq!((stats.too_large, stats.bad_request), (1, 0));
    }

    /// The method is checked before the size, as in the receiver: a body over the limit sent
    /// with another method than `POST` gets `405`, whether its length is declared or not read.
    pub async fn oversized_non_post_is_405<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        const LIMIT: usize = 1024;
        let config = ReceiverConfig::default().with_body_limit(LIMIT);
        let (h, deliveries) = recording(spawn, config).await;
        let over = padded_unknown_body("zoom.test_over_limit", LIMIT + 1);
        let (signature, timestamp) = signed(SECRET, &over);
        let response = h
            .client
            .put(&h.url)
            .header("x-zm-signature", &signature)
            .header("x-zm-request-timestamp", &timestamp)
            .body(over)
            .send()
            .await
            .expect("request sent");
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.as_bytes().to_vec());
        assert_eq!(allow.as_deref(), Some(&b"POST"[..]));
        assert_eq!(
            status_and_text(response).await,
            (405, "method not allowed".to_owned())
        );
        // Declared far over the limit and never sent: still 405, at once.
        let response = raw_exchange(
            &h.url,
            "PATCH",
            &[("content-length", &(100 * LIMIT).to_string())],
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 405"), "got: {response}");
        assert!(response.ends_with("method not allowed"), "got: {response}");
        assert!(drain(&h.dispatcher, deliveries).await.is_empty());
        let stats = h.receiver.stats();
        assert_eq!((stats.method_not_allowed, stats.too_large), (2, 0));
    }

    /// A repeated `x-zm-signature` or `x-zm-request-timestamp` is ambiguous: `401`, even when
    /// every copy is valid (an adapter must not pick one).
    pub async fn repeated_signature_headers_are_401<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let body = started_body("stream-1");
        let (signature, timestamp) = signed(SECRET, &body);
        let repeated: [[(&str, &str); 3]; 2] = [
            [
                ("x-zm-signature", &signature),
                ("x-zm-signature", &signature),
                ("x-zm-request-timestamp", &timestamp),
            ],
            [
                ("x-zm-signature", &signature),
                ("x-zm-request-timestamp", &timestamp),
                ("x-zm-request-timestamp", &timestamp),
            ],
        ];
        for headers in repeated {
            let response = h.post(&body, &headers).await;
            assert_eq!(
                status_and_text(response).await,
                (401, "unauthorized".to_owned()),
                "{headers:?}"
            );
        }
        // The same request with each header once is accepted.
        let response = h
            .post(
                &body,
                &[
                    ("x-zm-signature", &signature),
                    ("x-zm-request-timestamp", &timestamp),
                ],
            )
            .await;
        assert_eq!(status_and_text(response).await, (200, String::new()));
        assert_eq!(drain(&h.dispatcher, deliveries).await.len(), 1);
        let stats = h.receiver.stats();
        assert_eq!((stats.unauthorized, stats.accepted), (2, 1));
    }

    /// Writes a request head with the given method and headers (no body) to the server behind
    /// `url` on a fresh connection, closes the sending side, and returns everything the server
    /// wrote back before closing the connection.
    pub async fn raw_exchange(url: &str, method: &str, headers: &[(&str, &str)]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let rest = url.trim_start_matches("http://");
        let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("write head");
        stream.shutdown().await.expect("close the sending side");
        let mut raw = Vec::new();
        // A reset after the response was written is fine: what arrived is what is checked.
        let _ = stream.read_to_end(&mut raw).await;
        String::from_utf8_lossy(&raw).into_owned()
    }

    /// An unknown-event body of exactly `len` bytes.
    pub fn padded_unknown_body(name: &str, len: usize) -> Vec<u8> {
        let prefix = format!(r#"{{"event":"{name}","payload":{{"pad":""#);
        let suffix = r#""}}"#;
        let pad = len - prefix.len() - suffix.len();
        let body = format!("{prefix}{}{suffix}", "x".repeat(pad));
        assert_eq!(body.len(), len);
        body.into_bytes()
    }

    /// With one worker busy and the one-slot queue full, the next distinct event gets `503`
    /// with `Retry-After`; once there is room again, Zoom's retry of it is accepted.
    pub async fn full_queue_is_503_with_retry_after<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let config = DispatcherConfig::default()
            .with_workers(1)
            .with_queue_capacity(1);
        let (dispatcher, mut gate) = gated_dispatcher(config);
        let h = Harness::start(spawn, ReceiverConfig::default(), dispatcher).await;

        let a = h.post_signed(&started_body("stream-a")).await;
        assert_eq!(a.status().as_u16(), 200);
        // The only worker holds event A...
        assert_eq!(
            gate.started.recv().await.as_deref(),
            Some("started:meeting:stream-a:e16d07add418981e")
        );
        // ...B fills the queue...
        let b = h.post_signed(&started_body("stream-b")).await;
        assert_eq!(b.status().as_u16(), 200);
        // ...so C is refused, with a hint to retry.
        let c_body = started_body("stream-c");
        let c = h.post_signed(&c_body).await;
        assert_eq!(c.status().as_u16(), 503);
        let retry_after = c
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        assert!(
            matches!(retry_after, Some(secs) if secs >= 1),
            "{retry_after:?}"
        );
        assert_eq!(c.text().await.expect("body"), "unavailable");
        assert_eq!(h.receiver.stats().unavailable, 1);

        // Free the worker; once B is taken from the queue there is room for the retry of C,
        // which is processed (the 503 did not leave C marked as seen).
        gate.release();
        assert_eq!(
            gate.started.recv().await.as_deref(),
            Some("started:meeting:stream-b:e16d07add418981e")
        );
        let c_retry = h.post_signed(&c_body).await;
        assert_eq!(c_retry.status().as_u16(), 200);
        h.dispatcher.shutdown().await;
        let mut finished = Vec::new();
        while let Ok(key) = gate.finished.try_recv() {
            finished.push(key);
        }
        assert_eq!(
            finished,
            [
                "started:meeting:stream-a:e16d07add418981e",
                "started:meeting:stream-b:e16d07add418981e",
                "started:meeting:stream-c:e16d07add418981e"
            ]
        );
        assert_eq!(h.dispatcher.stats().processed, 3);
    }

    /// A verified challenge is answered with the HMAC of the plain token; nothing is
    /// dispatched.
    pub async fn verified_challenge_is_answered<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let response = h.post_signed(&challenge_body("token")).await;
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.as_bytes().to_vec());
        assert_eq!(content_type.as_deref(), Some(&b"application/json"[..]));
        let reply: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.expect("body")).expect("JSON reply");
        assert_eq!(
            reply,
            serde_json::json!({"plainToken": "token", "encryptedToken": EXPECTED_ENCRYPTED_TOKEN})
        );
        assert!(drain(&h.dispatcher, deliveries).await.is_empty());
        assert_eq!(h.receiver.stats().challenges, 1);
    }

    /// An unsigned, badly signed or stale challenge gets `401` and no reply: the endpoint is
    /// not a signing oracle.
    pub async fn unverified_challenge_gets_no_reply<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let body = challenge_body("v0:1700000000:forged");
        let (bad_sig, ts) = signed("another-secret", &body);
        let now: u64 = now_ts().parse().expect("numeric timestamp");
        let (stale_sig, stale_ts) = signed_at(SECRET, &body, now - 3600);
        let attempts: [&[(&str, &str)]; 3] = [
            &[],
            &[
                ("x-zm-signature", &bad_sig),
                ("x-zm-request-timestamp", &ts),
            ],
            &[
                ("x-zm-signature", &stale_sig),
                ("x-zm-request-timestamp", &stale_ts),
            ],
        ];
        for headers in attempts {
            let (status, text) = status_and_text(h.post(&body, headers).await).await;
            assert_eq!(status, 401);
            assert_eq!(text, "unauthorized");
            assert!(!text.contains("plainToken") && !text.contains("encryptedToken"));
        }
        assert!(drain(&h.dispatcher, deliveries).await.is_empty());
        let stats = h.receiver.stats();
        assert_eq!((stats.unauthorized, stats.challenges), (3, 0));
    }

    /// The same signed delivery twice, and a second start of the same stream with another
    /// body: `200` every time, one dispatch.
    pub async fn duplicate_is_acknowledged_but_dispatched_once<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let body = started_body("stream-1");
        let (signature, timestamp) = signed(SECRET, &body);
        let headers = [
            ("x-zm-signature", signature.as_str()),
            ("x-zm-request-timestamp", timestamp.as_str()),
        ];
        for _ in 0..2 {
            let response = h.post(&body, &headers).await;
            assert_eq!(status_and_text(response).await, (200, String::new()));
        }
        let second_start = started_body_with_ts("stream-1", 1_732_313_999_999);
        let response = h.post_signed(&second_start).await;
        assert_eq!(status_and_text(response).await, (200, String::new()));

        let got = drain(&h.dispatcher, deliveries).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event.rtms_stream_id(), Some("stream-1"));
        let stats = h.receiver.stats();
        assert_eq!((stats.accepted, stats.duplicates), (1, 2));
    }

    /// An event name this crate does not know: `200`, dispatched as `Unknown`.
    pub async fn unknown_event_is_acknowledged_and_dispatched<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (h, deliveries) = recording(spawn, ReceiverConfig::default()).await;
        let response = h.post_signed(&unknown_body("meeting.rtms_brand_new")).await;
        assert_eq!(status_and_text(response).await, (200, String::new()));
        let got = drain(&h.dispatcher, deliveries).await;
        assert_eq!(got.len(), 1);
        match &got[0].event {
            WebhookEvent::Unknown(unknown) => {
                assert_eq!(unknown.event, "meeting.rtms_brand_new");
                assert_eq!(unknown.payload["anything"], serde_json::json!([1, 2, 3]));
            }
            other => panic!("expected Unknown, got {}", other.name()),
        }
    }

    /// Ack first: the `200` arrives while the handler has not finished (it cannot: the test
    /// releases it only after reading the response).
    pub async fn response_arrives_before_handler_finishes<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        let (dispatcher, mut gate) = gated_dispatcher(DispatcherConfig::default());
        let h = Harness::start(spawn, ReceiverConfig::default(), dispatcher).await;

        let response = h.post_signed(&started_body("stream-1")).await;
        assert_eq!(status_and_text(response).await, (200, String::new()));
        // The 200 is in hand and the handler has not finished...
        assert_eq!(gate.finished.try_recv(), Err(TryRecvError::Empty));
        // ...it runs (or already ran up to the gate) and is still held there.
        assert_eq!(
            gate.started.recv().await.as_deref(),
            Some("started:meeting:stream-1:e16d07add418981e")
        );
        assert_eq!(gate.finished.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(h.dispatcher.stats().running, 1);

        gate.release();
        assert_eq!(
            gate.finished.recv().await.as_deref(),
            Some("started:meeting:stream-1:e16d07add418981e")
        );
        h.dispatcher.shutdown().await;
        assert_eq!(h.dispatcher.stats().processed, 1);
    }

    /// Graceful shutdown: N acknowledged events are all processed by `shutdown`, and events
    /// arriving after it are refused with `503` (Zoom retries them) rather than acknowledged.
    pub async fn shutdown_processes_every_acknowledged_event<F, Fut>(spawn: F)
    where
        F: FnOnce(Arc<TestReceiver>) -> Fut,
        Fut: Future<Output = String>,
    {
        const N: usize = 5;
        let config = DispatcherConfig::default().with_workers(1);
        let (dispatcher, mut gate) = gated_dispatcher(config);
        let h = Harness::start(spawn, ReceiverConfig::default(), dispatcher).await;
        for i in 0..N {
            let response = h.post_signed(&started_body(&format!("stream-{i}"))).await;
            assert_eq!(response.status().as_u16(), 200);
        }
        // The first is held by the worker, the others are queued.
        assert!(gate.started.recv().await.is_some());
        let drained = h.dispatcher.shutdown();
        let late = h.post_signed(&started_body("stream-late")).await;
        assert_eq!(late.status().as_u16(), 503);

        gate.release();
        drained.await;
        let mut finished = Vec::new();
        while let Ok(key) = gate.finished.try_recv() {
            finished.push(key);
        }
        let expected: Vec<String> = (0..N)
            .map(|i| format!("started:meeting:stream-{i}:e16d07add418981e"))
            .collect();
        assert_eq!(finished, expected);
        assert_eq!(h.dispatcher.stats().processed, N as u64);
    }
}
