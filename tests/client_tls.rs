//! The tokio client over `wss://` on loopback: a TLS 1.2-only fake RTMS server with a test CA
//! (tests/support/tls), trusted through `Options::with_root_certificate`.
#![cfg(feature = "client")]

#[path = "support/fake_rtms.rs"]
mod fake;

use std::sync::Arc;

use serde_json::json;
use tokio::net::TcpListener;
use tokio_rustls::rustls::{self, pki_types};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_websockets::ServerBuilder;

use fake::{audio, config, data_ok, next, signalling_ok, Peer, BOUND};
use zoom_rtms_webhooks::client::{self, Item, Options};
use zoom_rtms_webhooks::protocol::session::Scope;
use zoom_rtms_webhooks::region::{HostPolicy, ServerUrl};

const CA: &[u8] = include_bytes!("support/tls/ca.der");
const LEAF: &[u8] = include_bytes!("support/tls/leaf.der");
const LEAF_KEY: &[u8] = include_bytes!("support/tls/leaf.key.der");

/// `wss` to 127.0.0.1 only: no plain-text escape hatch in these tests.
fn tls_policy() -> HostPolicy {
    HostPolicy::default().with_allowed_host("127.0.0.1")
}

/// A loopback TLS endpoint speaking TLS 1.2 only (the oldest version the client accepts).
struct TlsEndpoint {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

impl TlsEndpoint {
    async fn bind() -> Self {
        // rustls 0.23.48 deprecates ring's provider (no post-quantum key exchange); the crate
        // keeps ring (src/client/transport.rs), and so does its test server.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![pki_types::CertificateDer::from(LEAF.to_vec())],
                pki_types::PrivateKeyDer::Pkcs8(LEAF_KEY.to_vec().into()),
            )
            .unwrap();
        TlsEndpoint {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }

    fn url(&self) -> String {
        format!("wss://{}", self.listener.local_addr().unwrap())
    }

    async fn accept_tcp(&self) -> tokio::net::TcpStream {
        tokio::time::timeout(BOUND, self.listener.accept())
            .await
            .expect("the client never dialled")
            .unwrap()
            .0
    }

    async fn accept(&self) -> Peer<TlsStream<tokio::net::TcpStream>> {
        let tls = self.acceptor.accept(self.accept_tcp().await).await.unwrap();
        assert_eq!(
            tls.get_ref().1.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_2)
        );
        let (_, ws) = ServerBuilder::new().accept(tls).await.unwrap();
        Peer { ws }
    }
}

#[tokio::test]
async fn wss_signalling_and_media_over_tls_1_2() {
    let sig_ep = TlsEndpoint::bind().await;
    let media_ep = TlsEndpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &tls_policy()).unwrap();
    let config = config().with_host_policy(tls_policy());
    let options = Options::default().with_root_certificate(CA);
    let (_handle, mut items) = client::connect_session(config, url, options).unwrap();

    let mut sig = sig_ep.accept().await;
    sig.expect(1).await;
    sig.send(signalling_ok(&media_ep.url())).await;
    let mut media = media_ep.accept().await;
    media.expect(3).await;
    media.send(data_ok()).await;
    sig.expect(7).await;
    assert!(matches!(next(&mut items).await, Item::Connected { .. }));

    media.send(audio(3)).await;
    media.send(json!({"msg_type":12,"timestamp":1})).await;
    assert_eq!(media.expect(13).await["timestamp"], 1);
    let Item::Audio(frame) = next(&mut items).await else {
        panic!("expected audio")
    };
    assert_eq!(&frame.data[..], &[3, 3, 3, 3]);
}

#[tokio::test]
async fn an_untrusted_certificate_is_never_accepted() {
    let sig_ep = TlsEndpoint::bind().await;
    let url = ServerUrl::parse(&sig_ep.url(), &tls_policy()).unwrap();
    let config = config().with_host_policy(tls_policy());
    // Only the webpki roots: the test CA is unknown.
    let (_handle, mut items) =
        client::connect_session(config, url, client::Options::default()).unwrap();

    let tcp = sig_ep.accept_tcp().await;
    assert!(
        sig_ep.acceptor.accept(tcp).await.is_err(),
        "the client aborts the handshake"
    );
    assert_eq!(
        next(&mut items).await,
        Item::Reconnecting {
            scope: Scope::Everything,
            attempt: 0
        }
    );
}

/// The crate's simulator behind a TLS endpoint of the test's own
/// (`Simulator::serve_connection`, `SimConfig::with_public_origin`, as the load benchmark's
/// `--tls` mode uses them): the signalling and media URLs it hands out are `wss://`, the client
/// (whose policy refuses `ws://`) receives every audio frame, and no check fails (the
/// `media_url` check expects the public origin).
#[cfg(feature = "simulator")]
#[tokio::test]
async fn the_simulator_behind_tls_hands_out_wss_urls() {
    use std::time::Duration;
    use zoom_rtms_webhooks::handshake::Credentials;
    use zoom_rtms_webhooks::simulator::{SimConfig, Simulator, StreamSpec};
    use zoom_rtms_webhooks::Product;

    let ep = TlsEndpoint::bind().await;
    let sim_config = SimConfig::default()
        .with_public_origin(ep.url())
        .with_observe_window(Duration::from_millis(200));
    let sim = Arc::new(Simulator::start(sim_config).await.unwrap());
    let front = {
        let sim = Arc::clone(&sim);
        tokio::spawn(async move {
            loop {
                let tcp = ep.accept_tcp().await;
                tcp.set_nodelay(true).unwrap();
                let tls = ep.acceptor.accept(tcp).await.unwrap();
                sim.serve_connection(tls);
            }
        })
    };
    let creds = Credentials::new("client-id", "client-secret").unwrap();
    let spec = StreamSpec::new(Product::Meeting, "m-uuid", "stream-1", "whsec", creds)
        .with_audio_frames(20);
    sim.register(spec).unwrap();
    sim.start_stream("stream-1").await.unwrap();
    let url = sim.signaling_url("stream-1").unwrap();
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");

    let url = ServerUrl::parse(&url, &tls_policy()).unwrap();
    let config = config().with_host_policy(tls_policy());
    let options = Options::default().with_root_certificate(CA);
    let (_handle, mut items) = client::connect_session(config, url, options).unwrap();
    let mut audio = 0;
    loop {
        match next(&mut items).await {
            Item::Audio(_) => audio += 1,
            Item::Ended(_) => break,
            Item::Failed(e) => panic!("the stream failed: {e}"),
            _ => {}
        }
    }
    assert_eq!(audio, 20);
    sim.finished("stream-1").await;
    let report = sim.report();
    assert_eq!(report.failures().count(), 0, "{report}");
    front.abort();
}
