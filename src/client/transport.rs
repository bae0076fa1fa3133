//! The private seam between the driver and the WebSocket crate: dial a [`ServerUrl`], send
//! text, receive data frames, close. The only implementation is tokio-websockets over rustls;
//! swapping the crate means one more `impl Transport`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_websockets::{
    ClientBuilder, Connector, Limits, MaybeTlsStream, Message, WebSocketStream,
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
    ) -> impl Future<Output = Result<Self::Conn, TransportError>> + Send + 'static;
}

/// One open WebSocket, polled by the stream's driver (one task owns every socket of a stream).
pub(crate) trait Conn: Send + Unpin + 'static {
    /// The next data frame's payload (text or binary), `None` once closed. Pings are answered;
    /// while anything written (a pong, or a text) waits to be flushed, nothing more is read:
    /// a peer that floods pings or keep-alive requests and never reads the answers cannot
    /// make this side queue them without bound.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, TransportError>>>;

    /// Ready to take one more text ([`Conn::start_send`]).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>>;

    /// Queues one text frame (written by the next flush).
    fn start_send(&mut self, text: String) -> Result<(), TransportError>;

    /// Writes everything queued.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>>;

    /// Whether something written (a text or a pong) waits to be flushed.
    fn unflushed(&self) -> bool;

    /// Sends a close frame and waits for the peer's (best effort; the caller bounds it).
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// tokio-websockets over rustls (ring provider, webpki roots, TLS 1.2 and 1.3), with its own
/// TLS configuration: no process-wide crypto provider is installed.
pub(crate) struct Tws {
    tls: tokio_rustls::TlsConnector,
    max_message: usize,
}

impl Tws {
    /// `extra_roots`: DER certificates trusted besides the webpki roots; `max_message`: the
    /// largest message accepted, in bytes.
    ///
    /// Without extra roots every stream shares one TLS configuration, built on first use (the
    /// webpki root store and the provider are tens of KiB: per stream, that was a third of
    /// what a stream held).
    pub(crate) fn new(extra_roots: &[Vec<u8>], max_message: usize) -> Result<Self, TransportError> {
        static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        let config = if extra_roots.is_empty() {
            match DEFAULT.get() {
                Some(config) => config.clone(),
                None => {
                    let built = Arc::new(tls_config(&[])?);
                    DEFAULT.get_or_init(|| built).clone()
                }
            }
        } else {
            Arc::new(tls_config(extra_roots)?)
        };
        Ok(Tws {
            tls: tokio_rustls::TlsConnector::from(config),
            max_message,
        })
    }
}

fn tls_config(extra_roots: &[Vec<u8>]) -> Result<rustls::ClientConfig, TransportError> {
    let provider = Arc::new(ring_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in extra_roots {
        roots.add(rustls::pki_types::CertificateDer::from(der.clone()))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
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
    type Conn = Ws<MaybeTlsStream<TcpStream>>;

    fn dial(
        &self,
        url: &ServerUrl,
    ) -> impl Future<Output = Result<Self::Conn, TransportError>> + Send + 'static {
        let tls = self.tls.clone();
        let max_message = self.max_message;
        let url = url.clone();
        async move {
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
            let connector = if secure {
                Connector::Rustls(tls)
            } else {
                Connector::Plain
            };
            let stream = connector.wrap(bare, tcp).await?;
            let (ws, _) = ClientBuilder::new()
                .uri(url.as_str())?
                .limits(Limits::default().max_payload_len(Some(max_message)))
                .connect_on(stream)
                .await?;
            Ok(Ws {
                ws,
                unflushed: false,
            })
        }
    }
}

/// A tokio-websockets stream, and whether something written waits to be flushed.
pub(crate) struct Ws<S> {
    ws: WebSocketStream<S>,
    unflushed: bool,
}

impl<S> Conn for Ws<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, TransportError>>> {
        loop {
            // tokio-websockets queues the pong to a ping and writes it only on a later read or
            // flush (a write that would block is left queued): flushed here before anything
            // more is read, so at most one pong waits and the kernel's buffers hold the rest.
            if self.unflushed {
                match self.poll_flush(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                    Poll::Pending => return Poll::Pending,
                }
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Some(Ok(msg)) if msg.is_text() || msg.is_binary() => {
                    return Poll::Ready(Some(Ok(Bytes::from(msg.into_payload()))))
                }
                Some(Ok(msg)) if msg.is_ping() => self.unflushed = true,
                // Pongs need nothing; a close ends the stream next.
                Some(Ok(_)) => {}
            }
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.ws).poll_ready(cx).map_err(Into::into)
    }

    fn start_send(&mut self, text: String) -> Result<(), TransportError> {
        Pin::new(&mut self.ws).start_send(Message::text(text))?;
        self.unflushed = true;
        Ok(())
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        ready!(Pin::new(&mut self.ws).poll_flush(cx))?;
        self.unflushed = false;
        Poll::Ready(Ok(()))
    }

    fn unflushed(&self) -> bool {
        self.unflushed
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.ws).poll_close(cx).map(|_| ())
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
