//! The axum adapter served for real on a loopback port, driven by a real HTTP client.
#![cfg(feature = "axum")]

#[macro_use]
mod common;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::net::TcpListener;
use zoom_rtms_webhooks::axum::{webhook, VerifiedWebhook};
use zoom_rtms_webhooks::receiver::Rejection;
use zoom_rtms_webhooks::signature::VerifyError;
use zoom_rtms_webhooks::Verifier;

use common::http_suite::{self, TestReceiver, EXPECTED_ENCRYPTED_TOKEN};
use common::{challenge_body, signed, started_body, MALFORMED_JSON, SECRET};

/// Serves `router` on `127.0.0.1:0`; returns `http://{addr}`.
async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// The ready-made route, at `/webhook`.
async fn spawn(receiver: Arc<TestReceiver>) -> String {
    let base = serve(Router::new().route("/webhook", webhook(receiver))).await;
    format!("{base}/webhook")
}

http_suite_tests!(
    #[tokio::test]
    spawn
);

// ---- The extractor, in a handler written by the user ----

const EXTRACTOR_LIMIT: usize = 1024;

#[derive(Clone)]
struct AppState {
    verifier: Verifier,
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Verifier {
        state.verifier.clone()
    }
}

/// Answers the challenge itself; otherwise echoes the verified event's name.
async fn user_handler(hook: VerifiedWebhook) -> Response {
    match hook.challenge_response() {
        Some(reply) => reply.into_response(),
        None => hook.event().name().to_owned().into_response(),
    }
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

async fn spawn_user_app() -> (String, reqwest::Client) {
    let state = AppState {
        verifier: Verifier::new(SECRET).expect("non-empty secret"),
    };
    let app = Router::new()
        .route(
            "/hook",
            post(user_handler).layer(DefaultBodyLimit::max(EXTRACTOR_LIMIT)),
        )
        .route("/reason", post(reason_handler))
        .with_state(state);
    (format!("{}/hook", serve(app).await), reqwest::Client::new())
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> (u16, Vec<u8>) {
    let mut request = client.post(url).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

async fn post_signed(client: &reqwest::Client, url: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let (signature, timestamp) = signed(SECRET, body);
    send(
        client,
        url,
        body,
        &[
            ("x-zm-signature", &signature),
            ("x-zm-request-timestamp", &timestamp),
        ],
    )
    .await
}

#[tokio::test]
async fn extractor_lets_the_user_answer_a_verified_challenge() {
    let (url, client) = spawn_user_app().await;
    let (status, body) = post_signed(&client, &url, &challenge_body("token")).await;
    assert_eq!(status, 200);
    let reply: serde_json::Value = serde_json::from_slice(&body).expect("JSON reply");
    assert_eq!(
        reply,
        serde_json::json!({"plainToken": "token", "encryptedToken": EXPECTED_ENCRYPTED_TOKEN})
    );
}

#[tokio::test]
async fn extractor_passes_a_verified_event() {
    let (url, client) = spawn_user_app().await;
    let (status, body) = post_signed(&client, &url, &started_body("stream-1")).await;
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"meeting.rtms_started"[..])
    );
}

#[tokio::test]
async fn extractor_rejects_unsigned_and_badly_signed_requests() {
    let (url, client) = spawn_user_app().await;
    let body = challenge_body("token");
    let (bad_sig, ts) = signed("another-secret", &body);
    let attempts: [&[(&str, &str)]; 2] = [
        &[],
        &[
            ("x-zm-signature", &bad_sig),
            ("x-zm-request-timestamp", &ts),
        ],
    ];
    for headers in attempts {
        let (status, reply) = send(&client, &url, &body, headers).await;
        assert_eq!((status, reply.as_slice()), (401, &b"unauthorized"[..]));
    }
}

#[tokio::test]
async fn extractor_rejects_a_verified_but_malformed_body() {
    let (url, client) = spawn_user_app().await;
    let (status, body) = post_signed(&client, &url, MALFORMED_JSON).await;
    assert_eq!((status, body.as_slice()), (400, &b"bad request"[..]));
}

#[tokio::test]
async fn extractor_honours_default_body_limit() {
    let (url, client) = spawn_user_app().await;
    let over = http_suite::padded_unknown_body("zoom.big", EXTRACTOR_LIMIT + 1);
    let (status, body) = post_signed(&client, &url, &over).await;
    assert_eq!((status, body.as_slice()), (413, &b"payload too large"[..]));
    let at = http_suite::padded_unknown_body("zoom.big", EXTRACTOR_LIMIT);
    let (status, body) = post_signed(&client, &url, &at).await;
    assert_eq!((status, body.as_slice()), (200, &b"zoom.big"[..]));
}

#[tokio::test]
async fn extractor_reports_a_repeated_header_as_ambiguous() {
    let (url, client) = spawn_user_app().await;
    let reason_url = url.replace("/hook", "/reason");
    let body = started_body("stream-1");
    let (sig, ts) = signed(SECRET, &body);
    let signature = ("x-zm-signature", sig.as_str());
    let timestamp = ("x-zm-request-timestamp", ts.as_str());

    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[signature, signature, timestamp],
            "ambiguous x-zm-signature",
        ),
        (
            &[signature, timestamp, timestamp],
            "ambiguous x-zm-request-timestamp",
        ),
        (&[signature, timestamp], "ok meeting.rtms_started"),
    ];
    for (headers, expected) in cases {
        let (status, reply) = send(&client, &reason_url, &body, headers).await;
        let reply = String::from_utf8(reply).expect("text");
        assert_eq!(status, 200);
        assert!(reply.starts_with(expected), "{headers:?}: {reply}");
    }
    // Through the rejection's own response: 401 with the fixed body.
    let (status, reply) = send(&client, &url, &body, &[signature, signature, timestamp]).await;
    assert_eq!((status, reply.as_slice()), (401, &b"unauthorized"[..]));
}
