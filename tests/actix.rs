//! The actix-web adapter served for real on a loopback port, driven by a real HTTP client.
//!
//! The scenarios every adapter shares live in `common::http_suite`; the tests below them are
//! specific to actix (its `PayloadConfig`, chunked bodies, the `VerifiedWebhook` extractor).
//! Synchronisation only through channels and gates the tests control: no sleeps, no
//! wall-clock bounds.
#![cfg(feature = "actix")]

#[macro_use]
mod common;

use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::http_suite::{self, drain, recording_dispatcher, Harness, TestReceiver};
use common::{
    broken_started_body, challenge_body, now_ts, signed, started_body, unknown_body,
    MALFORMED_JSON, SECRET,
};
use zoom_rtms_webhooks::actix::{configure, VerifiedWebhook};
use zoom_rtms_webhooks::dispatch::DispatcherConfig;
use zoom_rtms_webhooks::receiver::{ReceiverConfig, Rejection};
use zoom_rtms_webhooks::signature::{sign, VerifyError};
use zoom_rtms_webhooks::{Verifier, WebhookEvent};

const PLAIN_TOKEN: &str = "qgg8vlvZRS6UYooatFL8Aw";
/// `python3 -c 'import hmac,hashlib;print(hmac.new(b"test-secret-token",
/// b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest())'`
const ENCRYPTED_TOKEN: &str = "9c8ad56737c19db2904b301c0781e86857e999f39f07727668cf62a5e7e298c8";

/// Starts `server` on `127.0.0.1:0` (one worker) and returns `http://{addr}` and its handle.
fn serve<F, A>(factory: F) -> (String, ServerHandle)
where
    F: Fn() -> App<A> + Send + Clone + 'static,
    A: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
{
    let server = HttpServer::new(factory)
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind loopback");
    let addr = server.addrs().first().copied().expect("bound address");
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://{addr}"), handle)
}

/// The ready-made configuration at `/webhook`; returns the webhook URL.
async fn spawn(receiver: Arc<TestReceiver>) -> String {
    let (base, _handle) =
        serve(move || App::new().configure(configure(Arc::clone(&receiver), "/webhook")));
    format!("{base}/webhook")
}

/// Like [`spawn`], inside an application whose own `PayloadConfig` is much larger: the
/// receiver's limit must still apply at its path.
async fn spawn_with_large_app_limit(receiver: Arc<TestReceiver>) -> String {
    let (base, _handle) = serve(move || {
        App::new()
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .configure(configure(Arc::clone(&receiver), "/webhook"))
    });
    format!("{base}/webhook")
}

http_suite_tests!(
    #[actix_web::test]
    spawn
);

#[actix_web::test]
async fn body_over_limit_is_413_even_under_a_larger_app_payload_config() {
    http_suite::body_over_limit_is_413(spawn_with_large_app_limit).await;
}

/// The `PayloadConfig` set by `configure` follows the receiver's limit upwards too: a body
/// larger than actix's 256 KiB default but within the receiver's limit is accepted.
#[actix_web::test]
async fn body_limit_above_the_actix_default_is_honoured() {
    const LIMIT: usize = 512 * 1024;
    let (dispatcher, deliveries) = recording_dispatcher(DispatcherConfig::default());
    let h = Harness::start(
        spawn,
        ReceiverConfig::default().with_body_limit(LIMIT),
        dispatcher,
    )
    .await;
    let big = http_suite::padded_unknown_body("zoom.test_big", 300 * 1024);
    let (status, text) = status_and_body(h.post_signed(&big).await).await;
    assert_eq!((status, text.as_str()), (200, ""));
    let got = drain(&h.dispatcher, deliveries).await;
    assert_eq!(got.len(), 1);
    assert_eq!(h.receiver.stats().accepted, 1);
}

async fn status_and_body(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response.text().await.expect("response body");
    (status, body)
}

// ---------------------------------------------------------------------------------------------
// configure(): details of the actix side
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn more_rejections_over_http() {
    let (dispatcher, deliveries) = recording_dispatcher(DispatcherConfig::default());
    let h = Harness::start(spawn, ReceiverConfig::default(), dispatcher).await;
    let body = started_body("stream-rej");
    let now = now_ts();
    let good_sig = sign(SECRET, &now, &body);

    // 401: a bare `v0=`, a future timestamp, a non-numeric timestamp.
    let future = (now.parse::<u64>().expect("digits") + 3600).to_string();
    let future_sig = sign(SECRET, &future, &body);
    let unauthorized: [[(&str, &str); 2]; 3] = [
        [("x-zm-signature", "v0="), ("x-zm-request-timestamp", &now)],
        [
            ("x-zm-signature", &future_sig),
            ("x-zm-request-timestamp", &future),
        ],
        [
            ("x-zm-signature", &good_sig),
            ("x-zm-request-timestamp", "17e8"),
        ],
    ];
    for headers in unauthorized {
        let (status, text) = status_and_body(h.post(&body, &headers).await).await;
        assert_eq!((status, text.as_str()), (401, "unauthorized"));
    }

    // A repeated signature header (both copies valid) is not resolved by picking one.
    let response = h
        .post(
            &body,
            &[
                ("x-zm-signature", &good_sig),
                ("x-zm-signature", &good_sig),
                ("x-zm-request-timestamp", &now),
            ],
        )
        .await;
    assert_eq!(response.status(), 401);

    // A malformed body is 401 unless it is signed.
    for bad in [MALFORMED_JSON.to_vec(), broken_started_body()] {
        let (status, _) = status_and_body(h.post(&bad, &[]).await).await;
        assert_eq!(status, 401, "an unsigned malformed body is 401");
    }

    // Every other method at the path is the receiver's 405.
    for method in [reqwest::Method::DELETE, reqwest::Method::PATCH] {
        let response = h
            .client
            .request(method.clone(), &h.url)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some("POST")
        );
    }

    // Other paths are not the receiver's.
    let other = h.url.replace("/webhook", "/other");
    let response = h.client.post(other).send().await.expect("request");
    assert_eq!(response.status(), 404);

    assert!(drain(&h.dispatcher, deliveries).await.is_empty());
    let stats = h.receiver.stats();
    assert_eq!(stats.unauthorized, 3 + 1 + 2);
    assert_eq!(stats.method_not_allowed, 2);
}

#[actix_web::test]
async fn body_over_limit_is_413_without_length_and_before_verification() {
    const LIMIT: usize = 1024;
    let (dispatcher, deliveries) = recording_dispatcher(DispatcherConfig::default());
    let h = Harness::start(
        spawn,
        ReceiverConfig::default().with_body_limit(LIMIT),
        dispatcher,
    )
    .await;

    // Unsigned and over the limit: 413, not 401 (size is checked first, as in the receiver).
    let over = vec![b' '; LIMIT + 1];
    let (status, text) = status_and_body(h.post(&over, &[]).await).await;
    assert_eq!((status, text.as_str()), (413, "payload too large"));

    // Chunked, no Content-Length: the limit applies while the body streams in.
    let addr = h
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/webhook")
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let chunk = "x".repeat(LIMIT);
    let request = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len(),
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut raw = Vec::new();
    // The server may close before reading the tail; what arrived before that is enough.
    let _ = stream.read_to_end(&mut raw).await;
    let response = String::from_utf8_lossy(&raw);
    assert!(response.starts_with("HTTP/1.1 413"), "got: {response}");
    assert!(response.ends_with("payload too large"), "got: {response}");

    assert!(drain(&h.dispatcher, deliveries).await.is_empty());
    assert_eq!(h.receiver.stats().too_large, 2);
}

// ---------------------------------------------------------------------------------------------
// VerifiedWebhook: the extractor in a handler of one's own
// ---------------------------------------------------------------------------------------------

async fn own_handler(hook: VerifiedWebhook) -> HttpResponse {
    if let Some(reply) = hook.challenge_response() {
        return reply.into();
    }
    let event = hook.event();
    let kind = match event {
        WebhookEvent::RtmsStarted(_) => "started",
        WebhookEvent::Unknown(_) => "unknown",
        _ => "other",
    };
    HttpResponse::Ok().body(format!(
        "{kind} {} {} {} {}",
        event.name(),
        event.rtms_stream_id().unwrap_or("-"),
        hook.secret_label(),
        hook.body().len(),
    ))
}

/// Reports what the extractor decided, rejection included (`Result<VerifiedWebhook, Rejection>`).
async fn reason_handler(hook: Result<VerifiedWebhook, Rejection>) -> String {
    match hook {
        Ok(hook) => format!("ok {} {}", hook.event().name(), hook.body().len()),
        Err(Rejection::Unauthorized(VerifyError::AmbiguousHeader { header })) => {
            format!("ambiguous {header}")
        }
        Err(other) => format!("rejected {}", other.reason()),
    }
}

fn start_extractor_app() -> (String, ServerHandle) {
    let verifier = web::Data::new(Verifier::new(SECRET).expect("secret"));
    serve(move || {
        App::new()
            .app_data(web::PayloadConfig::new(1024))
            .service(
                web::resource("/hook")
                    .app_data(verifier.clone())
                    .route(web::post().to(own_handler)),
            )
            .service(
                web::resource("/reason")
                    .app_data(verifier.clone())
                    .route(web::post().to(reason_handler)),
            )
            // Misconfigured: no web::Data<Verifier> in scope.
            .route("/unconfigured", web::post().to(own_handler))
            .route("/unconfigured-reason", web::post().to(reason_handler))
    })
}

async fn post_to(
    client: &reqwest::Client,
    url: String,
    body: &[u8],
    signed_with: Option<&str>,
) -> (u16, String) {
    let mut request = client.post(url).body(body.to_vec());
    if let Some(secret) = signed_with {
        let (sig, ts) = signed(secret, body);
        request = request
            .header("x-zm-signature", sig)
            .header("x-zm-request-timestamp", ts);
    }
    status_and_body(request.send().await.expect("request")).await
}

#[actix_web::test]
async fn extractor_verifies_parses_and_rejects() {
    let (base, server) = start_extractor_app();
    let client = reqwest::Client::new();
    let hook = || format!("{base}/hook");

    // A verified event reaches the handler, parsed, with its raw body.
    let body = started_body("ex-1");
    let got = post_to(&client, hook(), &body, Some(SECRET)).await;
    let expected = format!("started meeting.rtms_started ex-1 default {}", body.len());
    assert_eq!(got, (200, expected));
    let body = unknown_body("x.new");
    let got = post_to(&client, hook(), &body, Some(SECRET)).await;
    assert_eq!(
        got,
        (200, format!("unknown x.new - default {}", body.len()))
    );

    // The challenge, answered by the handler with the extractor's reply.
    let (status, text) = post_to(&client, hook(), &challenge_body(PLAIN_TOKEN), Some(SECRET)).await;
    assert_eq!(status, 200);
    let reply: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(reply["plainToken"], PLAIN_TOKEN);
    assert_eq!(reply["encryptedToken"], ENCRYPTED_TOKEN);

    // Rejections, with the receiver's fixed bodies; an unverified challenge gets no reply.
    let challenge = challenge_body(PLAIN_TOKEN);
    let broken = broken_started_body();
    /// `(body, signed with, expected (status, body))`.
    type Case<'a> = (&'a [u8], Option<&'a str>, (u16, &'a str));
    let cases: [Case<'_>; 5] = [
        (&challenge, None, (401, "unauthorized")),
        (&challenge, Some("wrong"), (401, "unauthorized")),
        (MALFORMED_JSON, None, (401, "unauthorized")),
        (MALFORMED_JSON, Some(SECRET), (400, "bad request")),
        (&broken, Some(SECRET), (400, "bad request")),
    ];
    for (body, secret, (status, text)) in cases {
        assert_eq!(
            post_to(&client, hook(), body, secret).await,
            (status, text.to_owned())
        );
    }

    // The PayloadConfig in scope applies.
    let mut over = started_body("ex-big");
    over.resize(1025, b' ');
    let got = post_to(&client, hook(), &over, Some(SECRET)).await;
    assert_eq!(got, (413, "payload too large".to_owned()));

    // No verifier registered: fail closed.
    let url = format!("{base}/unconfigured");
    let got = post_to(&client, url, &started_body("ex-2"), Some(SECRET)).await;
    assert_eq!(got, (500, "internal server error".to_owned()));
    let url = format!("{base}/unconfigured-reason");
    let got = post_to(&client, url, &started_body("ex-2"), Some(SECRET)).await;
    assert_eq!(got, (200, "rejected misconfigured".to_owned()));

    server.stop(true).await;
}

#[actix_web::test]
async fn extractor_reports_a_repeated_header_as_ambiguous() {
    let (base, server) = start_extractor_app();
    let client = reqwest::Client::new();
    let body = started_body("ex-amb");
    let (sig, ts) = signed(SECRET, &body);
    let signature = ("x-zm-signature", sig.as_str());
    let timestamp = ("x-zm-request-timestamp", ts.as_str());

    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], (u16, String));
    let cases: [Case<'_>; 4] = [
        (
            "/reason",
            &[signature, signature, timestamp],
            (200, "ambiguous x-zm-signature".to_owned()),
        ),
        (
            "/reason",
            &[signature, timestamp, timestamp],
            (200, "ambiguous x-zm-request-timestamp".to_owned()),
        ),
        (
            "/reason",
            &[signature, timestamp],
            (200, format!("ok meeting.rtms_started {}", body.len())),
        ),
        // Through the rejection's own response: 401 with the fixed body.
        (
            "/hook",
            &[signature, signature, timestamp],
            (401, "unauthorized".to_owned()),
        ),
    ];
    for (path, headers, expected) in cases {
        let mut request = client.post(format!("{base}{path}")).body(body.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let got = status_and_body(request.send().await.expect("request")).await;
        assert_eq!(got, expected, "{path} {headers:?}");
    }
    server.stop(true).await;
}
