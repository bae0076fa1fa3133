//! The whole service (`service::Service`) against the simulator: real HTTP (the simulator's
//! signed webhooks to the service's axum server) and real WebSockets on loopback.
#![cfg(all(feature = "axum", feature = "client", feature = "simulator"))]

use std::sync::{Arc, Mutex};

use zoom_rtms_webhooks::client::{Config, Credentials, HostPolicy, Item, MediaParams, MediaTypes};
use zoom_rtms_webhooks::service::{Service, ServiceError};
use zoom_rtms_webhooks::simulator::{SimConfig, Simulator, StreamSpec};
use zoom_rtms_webhooks::{Product, Verifier};

const SECRET: &str = "webhook secret token";

fn creds() -> Credentials {
    Credentials::new("client-id", "client-secret").unwrap()
}

#[tokio::test]
async fn the_service_receives_connects_and_hands_every_transcript_over() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let webhook = format!("http://{}/webhook", listener.local_addr().unwrap());
    let policy = HostPolicy::default()
        .with_allowed_host("127.0.0.1")
        .with_insecure_ws(true);
    let config = Config::new(creds())
        .with_host_policy(policy)
        .with_media(MediaTypes::TRANSCRIPT, MediaParams::new());
    let seen: Arc<Mutex<Vec<(String, Item)>>> = Arc::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn({
        let seen = Arc::clone(&seen);
        Service::new(Verifier::new(SECRET).unwrap(), config)
            .with_listener(listener)
            .with_diagnostics(false)
            .run_until(
                move |mut stream| {
                    let seen = Arc::clone(&seen);
                    async move {
                        while let Some(item) = stream.next().await {
                            if matches!(item, Item::Transcript(_)) || item.is_terminal() {
                                seen.lock().unwrap().push((stream.id().to_owned(), item));
                            }
                        }
                    }
                },
                async {
                    let _ = stopped.await;
                },
            )
    });

    // A short watch after the end for a reconnect the client must not make (30 s by default).
    let sim = Simulator::start(
        SimConfig::default()
            .with_webhook_url(webhook)
            .with_observe_window(std::time::Duration::from_secs(1)),
    )
    .await
    .unwrap();
    for id in ["stream-a", "stream-b"] {
        sim.register(
            StreamSpec::new(Product::Meeting, "m-uuid==", id, SECRET, creds())
                .with_audio_frames(60)
                .with_transcript_every(20),
        )
        .unwrap();
        sim.start_stream(id).await.unwrap();
    }
    for id in ["stream-a", "stream-b"] {
        sim.finished(id).await;
    }
    let report = sim.report();
    assert!(report.passed(), "{report}");

    stop.send(()).unwrap();
    service.await.unwrap().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(report.streams.len(), 2, "{report}");
    for sent in &report.streams {
        let id = sent.stream.as_str();
        let texts: Vec<&str> = seen
            .iter()
            .filter(|(s, _)| s == id)
            .filter_map(|(_, i)| match i {
                Item::Transcript(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect();
        // Transcripts only (as the `transcripts` example asks): the simulator plays them at
        // the audio's pace without audio.
        assert_eq!(sent.audio_frames, 0, "{report}");
        assert_eq!(sent.transcripts, 3, "{report}");
        assert_eq!(texts.len() as u64, sent.transcripts, "{id}: {texts:?}");
        assert!(texts.iter().all(|t| !t.is_empty()));
        let terminal: Vec<&Item> = seen
            .iter()
            .filter(|(s, i)| s == id && i.is_terminal())
            .map(|(_, i)| i)
            .collect();
        assert!(
            matches!(terminal[..], [Item::Ended(_)]),
            "{id}: {terminal:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_variable_is_named_and_the_error_reads_as_a_sentence() {
    // The test process never sets ZOOM_SECRET_TOKEN (nothing in the suite does).
    assert!(std::env::var_os("ZOOM_SECRET_TOKEN").is_none());
    let err = Service::from_env()
        .run_until(|_stream| async {}, async {})
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Missing("ZOOM_SECRET_TOKEN")));
    assert!(format!("{err:?}").starts_with("ZOOM_SECRET_TOKEN is not set"));
}

#[tokio::test]
async fn an_address_in_use_is_a_serve_error_naming_it() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Service::new(Verifier::new(SECRET).unwrap(), Config::new(creds()))
        .with_addr(addr)
        .with_diagnostics(false)
        .run_until(|_stream| async {}, async {})
        .await
        .unwrap_err();
    let ServiceError::Serve { addr: named, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(named, &addr.to_string());
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn an_address_in_use_fails_before_redis_is_dialled() {
    // Nothing (Redis worker, stream takeovers) may start when the address cannot be bound:
    // it would be dropped without processing its events or handing its streams over.
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Service::new(Verifier::new(SECRET).unwrap(), Config::new(creds()))
        .with_addr(addr)
        .with_redis("redis://127.0.0.1:1/")
        .with_diagnostics(false)
        .run_until(|_stream| async {}, async {})
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Serve { .. }), "{err:?}");
}
