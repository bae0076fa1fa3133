//! The private seam between the driver and the WebSocket crate: dial a [`ServerUrl`], send
//! text, receive data frames, close. The only implementation is tokio-websockets over rustls;
//! swapping the crate means one more `impl Transport`.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_websockets::{
    ClientBuilder, CloseCode, Connector, Limits, MaybeTlsStream, Message, WebSocketStream,
};

use crate::region::ServerUrl;

/// The largest message a server may send by default, 8 MiB (tokio-websockets' is 64 MiB); a
/// bigger one closes the socket (then the session reconnects) instead of growing the buffer.
/// [`Options::with_max_message_len`](super::Options::with_max_message_len) changes it.
///
/// The largest media Zoom documents is a QHD video or screen-share frame, 2560 x 1440 =
/// 3,686,400 pixels (`resolution` 4, `docs/protocol.md#media-parameters`), as JPG, PNG or H.264.
/// Counting 12 bits per pixel (1.5 bytes: several times what a high-quality JPG or an H.264
/// key frame of a camera or a screen takes) gives 5,529,600 bytes; base64 adds a third:
/// 7,372,800 bytes; the JSON envelope (ids, a display name, a timestamp) stays well under
/// 1 KiB. So 7.04 MiB, rounded up to 8 MiB. Only an incompressible image would be larger (a
/// 24-bit PNG of noise at QHD is 14.7 MB in base64): a server that sends one needs a higher
/// limit.
pub(crate) const MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// How long the pong to a ping may take to be written (the driver's send timeout for its own
/// messages): past it, the peer is not reading and the socket counts as closed.
const CONTROL_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Any transport failure (the session only learns that the socket closed).
pub(crate) type TransportError = Box<dyn std::error::Error + Send + Sync>;

/// Dials WebSockets.
pub(crate) trait Transport: Send + Sync + 'static {
    /// An open WebSocket.
    type Conn: Conn;

    /// Opens a WebSocket to `url` (already checked against the host policy by the session).
    fn dial(
        &self,
        url: &ServerUrl,
    ) -> impl Future<Output = Result<Self::Conn, TransportError>> + Send;
}

/// One open WebSocket.
pub(crate) trait Conn: Send + 'static {
    /// Sends one text frame.
    fn send_text(
        &mut self,
        text: String,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// The next data frame's payload (text or binary), `None` once closed. Cancel-safe: no
    /// data frame is lost (a pong it was writing stays queued for the next write or read).
    fn recv(&mut self) -> impl Future<Output = Option<Result<Bytes, TransportError>>> + Send;

    /// Sends a close frame (best effort, bounded).
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// tokio-websockets over rustls (ring provider, webpki roots, TLS 1.2 and 1.3), with its own
/// TLS configuration: no process-wide crypto provider is installed.
pub(crate) struct Tws {
    tls: Connector,
    max_message: usize,
}

impl Tws {
    /// `extra_roots`: DER certificates trusted besides the webpki roots; `max_message`: the
    /// largest message accepted, in bytes.
    pub(crate) fn new(extra_roots: &[Vec<u8>], max_message: usize) -> Result<Self, TransportError> {
        let provider = Arc::new(ring_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for der in extra_roots {
            roots.add(rustls::pki_types::CertificateDer::from(der.clone()))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tws {
            tls: Connector::Rustls(tokio_rustls::TlsConnector::from(Arc::new(config))),
            max_message,
        })
    }
}

/// rustls's ring provider, passed to each configuration (never installed process-wide).
///
/// rustls 0.23.48 deprecates `crypto::ring::default_provider` ("no support for post-quantum
/// algorithms") and offers no ring provider in its place: the only provider it does not
/// deprecate is aws-lc-rs, which builds C code (aws-lc) and, per rustls's docs, may need cmake.
/// The client keeps ring, the same TLS 1.2/1.3 suites and key exchanges (X25519, P-256, P-384)
/// as before, and allows the deprecation here, its one use. Moving to aws-lc-rs (post-quantum
/// X25519MLKEM768) is a choice of its own: it changes the `client` feature's build requirements.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

impl Transport for Tws {
    type Conn = WebSocketStream<MaybeTlsStream<TcpStream>>;

    async fn dial(&self, url: &ServerUrl) -> Result<Self::Conn, TransportError> {
        let parsed = url.url();
        let secure = match parsed.scheme() {
            "wss" => true,
            "ws" => false,
            other => return Err(format!("unsupported scheme {other}").into()),
        };
        let host = url.host();
        let port = parsed
            .port_or_known_default()
            .unwrap_or(if secure { 443 } else { 80 });
        // IPv6 literals come bracketed from the URL; the resolver wants them bare.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((bare, port)).await?;
        // Keep-alive answers and acks are small: never hold one back for the peer's delayed
        // ACK (Nagle's algorithm would add up to tens of milliseconds to each).
        tcp.set_nodelay(true)?;
        let stream = if secure {
            self.tls.wrap(bare, tcp).await?
        } else {
            Connector::Plain.wrap(bare, tcp).await?
        };
        let (ws, _) = ClientBuilder::new()
            .uri(url.as_str())?
            .limits(Limits::default().max_payload_len(Some(self.max_message)))
            .connect_on(stream)
            .await?;
        Ok(ws)
    }
}

impl<S> Conn for WebSocketStream<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    async fn send_text(&mut self, text: String) -> Result<(), TransportError> {
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        Pin::new(&mut *self).start_send(Message::text(text))?;
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await?;
        Ok(())
    }

    async fn recv(&mut self) -> Option<Result<Bytes, TransportError>> {
        loop {
            match poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await? {
                Ok(msg) if msg.is_text() || msg.is_binary() => {
                    return Some(Ok(Bytes::from(msg.into_payload())))
                }
                // tokio-websockets queues the pong and only tries to write it on the next read
                // (a write that would block is left queued): a server that floods pings
                // without reading the pongs would grow that queue for as long as this side
                // reads. So the pong is flushed before anything more is read, within the same
                // deadline as any other write: at most one pong waits, the kernel's socket
                // buffers hold the rest, and a peer that stops reading closes the socket.
                Ok(msg) if msg.is_ping() => {
                    let flush = poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx));
                    match tokio::time::timeout(CONTROL_FLUSH_TIMEOUT, flush).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Some(Err(e.into())),
                        Err(_) => return Some(Err("the peer does not read its pongs".into())),
                    }
                }
                // Pongs need nothing; a close ends the stream next.
                Ok(_) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
    }

    async fn close(&mut self) {
        let close = async {
            poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
            Pin::new(&mut *self).start_send(Message::close(Some(CloseCode::NORMAL_CLOSURE), ""))?;
            poll_fn(|cx| Pin::new(&mut *self).poll_close(cx)).await
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::HostPolicy;

    #[test]
    fn the_tls_configuration_builds_without_a_process_default_provider() {
        // The ring provider is passed explicitly: nothing needs to be installed first.
        assert!(Tws::new(&[], MAX_MESSAGE).is_ok());
        assert!(
            Tws::new(&[vec![1, 2, 3]], MAX_MESSAGE).is_err(),
            "not a certificate"
        );
    }

    #[tokio::test]
    async fn wss_to_a_server_without_tls_fails_instead_of_falling_back() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (mut tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        });
        let policy = HostPolicy::default().with_allowed_host("127.0.0.1");
        let url = ServerUrl::parse(&format!("wss://127.0.0.1:{port}"), &policy).unwrap();
        assert!(Tws::new(&[], MAX_MESSAGE)
            .unwrap()
            .dial(&url)
            .await
            .is_err());
    }
}
