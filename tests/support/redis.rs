//! Test support for the Redis tests (`#[path = "support/redis.rs"] mod redis_support;`): a real
//! `redis-server` on a free loopback port in a temporary directory, stopped on drop, plus
//! signed-event helpers.
//!
//! A missing `redis-server` binary is a test failure with instructions, never a skip.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use zoom_rtms_webhooks::signature::sign;

/// The webhook secret the Redis tests sign with.
pub const SECRET: &str = "redis-test-secret";

/// A `redis-server` child process on `127.0.0.1:{port}`, without persistence.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If `redis-server` is not installed (with instructions), or no server could be started.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "zoom-rtms-redis-{}-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("create the redis-server temp dir");
        let mut server = RedisServer {
            port: 0,
            dir,
            child: None,
        };
        // The free port can be taken by someone else between probing and binding: retry.
        for _attempt in 0..5 {
            server.port = free_port();
            if server.spawn().is_ok() {
                return server;
            }
        }
        panic!("could not start redis-server on a free loopback port after 5 attempts");
    }

    /// `redis://127.0.0.1:{port}/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection to this server.
    pub async fn client(&self) -> zoom_rtms_webhooks::redis::RedisConnection {
        zoom_rtms_webhooks::redis::connect(&self.url())
            .await
            .expect("redis reachable")
    }

    /// Kills the server (SIGKILL, as in a crash) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::stop`]).
    ///
    /// # Panics
    ///
    /// If it cannot start.
    pub fn restart(&mut self) {
        self.stop();
        // The port was ours a moment ago; it can only fail if another process grabbed it.
        for _attempt in 0..5 {
            if self.spawn().is_ok() {
                return;
            }
        }
        panic!("could not restart redis-server on port {}", self.port);
    }

    /// `true` while the child process runs.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn spawn(&mut self) -> Result<(), String> {
        let spawned = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "no"])
            .args(["--daemonize", "no"])
            .args(["--loglevel", "notice"])
            .args(["--logfile", ""])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server not found on PATH: the Redis tests need a real Redis server \
                 (they never skip). Install it, e.g. `apt-get install redis-server`, or run \
                 scripts/test, which installs it."
            ),
            Err(e) => panic!("could not run redis-server: {e}"),
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        // Synchronise on the server's own "ready" line (no sleeping, no polling).
        let mut log = Vec::new();
        let ready = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    let is_ready = line.contains("Ready to accept connections");
                    log.push(line);
                    if is_ready {
                        break true;
                    }
                }
                _ => break false,
            }
        };
        if !ready {
            let _ = child.kill();
            let _ = child.wait();
            return Err(log.join("\n"));
        }
        // Keep draining the log so that the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local addr").port()
}

/// The current Unix time in seconds, as the `x-zm-request-timestamp` header value.
pub fn now_ts() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string()
}

/// `(x-zm-signature, x-zm-request-timestamp)` for `body`, signed now with [`SECRET`].
pub fn signed(body: &[u8]) -> (String, String) {
    let ts = now_ts();
    (sign(SECRET, &ts, body), ts)
}

/// A `meeting.rtms_started` body for `stream_id`.
pub fn started_body(stream_id: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"meeting.rtms_started","event_ts":1732313171881,"payload":{{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","operator_id":"30R7kT7bTIKSNUFEuH_Qlg","rtms_stream_id":"{stream_id}","server_urls":"wss://rtms-sjc1.zoom.us/"}}}}"#
    )
    .into_bytes()
}

/// A `meeting.rtms_stopped` body for `stream_id`.
pub fn stopped_body(stream_id: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"meeting.rtms_stopped","event_ts":1732313179999,"payload":{{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"{stream_id}","stop_reason":6}}}}"#
    )
    .into_bytes()
}

/// A `meeting.rtms_interrupted` body for `stream_id` at `event_ts` (keyed by body hash).
pub fn interrupted_body(stream_id: &str, event_ts: u64) -> Vec<u8> {
    format!(
        r#"{{"event":"meeting.rtms_interrupted","event_ts":{event_ts},"payload":{{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"{stream_id}"}}}}"#
    )
    .into_bytes()
}

/// Serves `receiver` at `POST /webhook` on a free loopback port with axum (the route does what
/// the `axum` feature's module does: headers and raw body in, the receiver's response out) and
/// returns the base URL `http://127.0.0.1:{port}`. The server runs until the runtime stops.
pub async fn serve<D, H>(
    receiver: std::sync::Arc<zoom_rtms_webhooks::receiver::Receiver<D, H>>,
) -> String
where
    D: zoom_rtms_webhooks::dedup::Deduplicator,
    H: zoom_rtms_webhooks::receiver::Handoff,
{
    use axum::body::{Body, Bytes};
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::response::Response;
    use zoom_rtms_webhooks::receiver::{Receiver, WebhookRequest};

    async fn webhook<D, H>(
        State(receiver): State<std::sync::Arc<Receiver<D, H>>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response
    where
        D: zoom_rtms_webhooks::dedup::Deduplicator,
        H: zoom_rtms_webhooks::receiver::Handoff,
    {
        let answer = receiver
            .receive(WebhookRequest::from_headers("POST", &headers, &body))
            .await
            .response();
        let mut response = Response::builder().status(answer.status);
        for (name, value) in &answer.headers {
            response = response.header(*name, value.as_str());
        }
        response
            .body(Body::from(answer.body))
            .expect("valid response")
    }

    let app = axum::Router::new()
        .route("/webhook", axum::routing::post(webhook::<D, H>))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Sends a signed delivery of `body` to `{base}/webhook`; returns the status and `Retry-After`.
pub async fn deliver(client: &reqwest::Client, base: &str, body: &[u8]) -> (u16, Option<String>) {
    let (signature, timestamp) = signed(body);
    let response = client
        .post(format!("{base}/webhook"))
        .header("x-zm-signature", signature)
        .header("x-zm-request-timestamp", timestamp)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("the webhook server answers");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.status().as_u16(), retry_after)
}
