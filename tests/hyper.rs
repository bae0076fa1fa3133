//! The hyper service served for real (hyper-util) on a loopback port, driven by a real HTTP
//! client.
#![cfg(feature = "hyper")]

#[macro_use]
mod common;

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use zoom_rtms_webhooks::hyper::WebhookService;

use common::http_suite::TestReceiver;

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

http_suite_tests!(
    #[tokio::test]
    spawn
);
