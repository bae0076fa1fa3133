//! The hyper service served for real (hyper-util) on a loopback port, driven by a real HTTP
//! client.
#![cfg(feature = "hyper")]

mod common;

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use zoom_rtms_webhooks::hyper::WebhookService;

use common::http_suite::{self, TestReceiver};

/// Serves the receiver on `127.0.0.1:0` with hyper's HTTP/1 connection builder.
async fn spawn(receiver: Arc<TestReceiver>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let service = WebhookService::new(receiver);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let connection =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service.clone());
            tokio::spawn(connection);
        }
    });
    format!("http://{addr}/webhook")
}

macro_rules! suite {
    ($($scenario:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $scenario() {
            http_suite::$scenario(spawn).await;
        }
    )*};
}

suite!(
    valid_event_is_acknowledged_and_dispatched,
    missing_signature_is_401,
    bad_signature_is_401,
    stale_timestamp_is_401,
    malformed_json_is_400,
    broken_payload_is_400,
    wrong_method_is_405_with_allow,
    body_over_limit_is_413,
    full_queue_is_503_with_retry_after,
    verified_challenge_is_answered,
    unverified_challenge_gets_no_reply,
    duplicate_is_acknowledged_but_dispatched_once,
    unknown_event_is_acknowledged_and_dispatched,
    response_arrives_before_handler_finishes,
    shutdown_processes_every_acknowledged_event,
);
