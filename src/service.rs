//! A whole RTMS service in one call (features `axum` and `client`): receives Zoom's webhooks
//! on an axum server (verified, acknowledged first, de-duplicated), connects to every stream
//! they announce (one connection per stream, failover, reconnects) and hands each stream to
//! your function; Ctrl-C or SIGTERM shuts it down gracefully.
//!
//! What every service repeats is here, once: reading the environment, the listen address,
//! the host policy for a local simulator, choosing in-memory or Redis storage, the signals,
//! the order of shutdown, the hints a newcomer needs on stderr, and escaping text from the
//! network for an output line ([`escape`]).
//!
//! ```no_run
//! use zoom_rtms_webhooks::client::{Item, MediaParams, MediaTypes};
//! use zoom_rtms_webhooks::service::{escape, Service, ServiceError};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), ServiceError> {
//!     Service::from_env()
//!         .with_media(MediaTypes::TRANSCRIPT, MediaParams::new())
//!         .run(|mut stream| async move {
//!             while let Some(item) = stream.next().await {
//!                 if let Item::Transcript(t) = item {
//!                     println!("{}: {}", escape(t.source.user_name().unwrap_or("?")), escape(&t.text));
//!                 }
//!             }
//!         })
//!         .await
//! }
//! ```
//!
//! # Environment ([`Service::from_env`])
//!
//! | variable | meaning |
//! |---|---|
//! | `ZOOM_SECRET_TOKEN` | the app's webhook Secret Token (required) |
//! | `ZOOM_CLIENT_ID`, `ZOOM_CLIENT_SECRET` | the app's client id and secret: the RTMS handshakes are signed with them (required) |
//! | `HOST`, `PORT` | where to listen (default `127.0.0.1` and `8080`): webhooks on `http://$HOST:$PORT/webhook` |
//! | `ZOOM_RTMS_TEST_HOST` | one host allowed with plain `ws://`, for a local simulator; a warning is printed: never set it in production |
//! | `REDIS_URL` | with the `redis` feature: Redis de-duplication, durable hand-off and stream leases, so several copies share the streams |
//!
//! # What it prints
//!
//! Nothing on standard output (that is yours). On standard error: where it listens, the
//! test-host warning, one line per stream lifecycle event, why a webhook was refused (401:
//! which secret to check), and the shutdown. [`Service::with_diagnostics`] turns them off.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::client::{
    self, Credentials, MediaParams, MediaTypes, SupervisedStream, Supervisor, SupervisorBuilder,
};
use crate::dedup::{BoxDeduplicator, MemoryDeduplicator};
use crate::dispatch::{Dispatcher, DispatcherConfig};
use crate::receiver::BoxHandoff;
use crate::region::HostPolicy;
use crate::signature::Verifier;
use crate::{Delivery, Receiver, WebhookEvent};

/// Why the service could not start or stopped with an error. Its `Debug` is its message and
/// causes, so that `main` returning `Result<(), ServiceError>` prints sentences, not a
/// structure.
///
/// ```
/// use zoom_rtms_webhooks::service::ServiceError;
/// let e = ServiceError::Missing("ZOOM_SECRET_TOKEN");
/// assert!(e.to_string().starts_with("ZOOM_SECRET_TOKEN is not set"));
/// assert_eq!(format!("{e:?}"), e.to_string());
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A required environment variable is not set (or blank).
    #[error(
        "{0} is not set: set ZOOM_SECRET_TOKEN (the app's Secret Token), ZOOM_CLIENT_ID and \
         ZOOM_CLIENT_SECRET (its client id and secret)"
    )]
    Missing(&'static str),
    /// An environment variable could not be read.
    #[error("{name} is invalid: {why}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong (never the value of a secret).
        why: String,
    },
    /// The webhook secret or the client credentials are unusable (empty, say).
    #[error("the credentials are unusable")]
    Credentials(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// `REDIS_URL` is set but the crate was built without the `redis` feature.
    #[error("REDIS_URL is set, but the `redis` feature is not enabled")]
    RedisDisabled,
    /// Redis could not be reached or prepared (feature `redis`).
    #[cfg(feature = "redis")]
    #[error("Redis could not be reached")]
    Redis(#[source] crate::redis::RedisError),
    /// The listen address could not be bound, or the server failed.
    #[error("the HTTP server failed on {addr}")]
    Serve {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&causes(self))
    }
}

/// `text` from the network, fit for one output line: control characters (a newline could
/// forge a line) are escaped as Rust escapes them (`\n`, `\u{1b}`); everything else is
/// written as it is.
///
/// ```
/// use zoom_rtms_webhooks::service::escape;
/// assert_eq!(escape("Ann\nfailed stream=x").to_string(), "Ann\\nfailed stream=x");
/// assert_eq!(escape("Zoë 👋").to_string(), "Zoë 👋");
/// ```
pub fn escape(text: &str) -> impl fmt::Display + '_ {
    struct Escaped<'a>(&'a str);
    impl fmt::Display for Escaped<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for part in self.0.split_inclusive(char::is_control) {
                let mut chars = part.chars();
                match chars.next_back() {
                    Some(c) if c.is_control() => {
                        f.write_str(chars.as_str())?;
                        write!(f, "{}", c.escape_default())?;
                    }
                    _ => f.write_str(part)?,
                }
            }
            Ok(())
        }
    }
    Escaped(text)
}

/// How the service is set up (see [`Service::from_env`]).
struct Settings {
    verifier: Verifier,
    client: client::Config,
    listen: Listen,
    path: String,
    test_host: Option<String>,
    #[cfg(feature = "redis")]
    /// May hold a password: never printed.
    redis_url: Option<String>,
}

enum Listen {
    Addr(SocketAddr),
    Listener(tokio::net::TcpListener),
}

/// A whole RTMS service: an axum server for Zoom's webhooks, and a [`Supervisor`] that keeps
/// one connection per announced stream and runs your function once per connection. See the
/// [module docs](self).
///
/// ```no_run
/// use zoom_rtms_webhooks::client::{Config, Credentials};
/// use zoom_rtms_webhooks::service::Service;
/// use zoom_rtms_webhooks::Verifier;
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// // Without the environment: every part given.
/// let service = Service::new(
///     Verifier::new("webhook secret token")?,
///     Config::new(Credentials::new("client id", "client secret")?),
/// )
/// .with_addr("0.0.0.0:8080".parse()?);
/// service.run(|stream| async move { let _ = stream; }).await?;
/// # Ok(()) }
/// ```
pub struct Service {
    settings: Result<Settings, ServiceError>,
    diagnostics: bool,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Service");
        match &self.settings {
            Ok(s) => d
                .field("client", &s.client)
                .field("path", &s.path)
                .field("test_host", &s.test_host),
            Err(e) => d.field("error", e),
        };
        d.field("diagnostics", &self.diagnostics)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service set up from the environment (table in the [module docs](self)). An error
    /// there (a variable missing or invalid) is returned by [`run`](Service::run), so that the
    /// set-up reads as one expression.
    ///
    /// ```
    /// use zoom_rtms_webhooks::service::Service;
    /// // Here nothing is set: `run` would fail, naming the first variable missing.
    /// let _service = Service::from_env();
    /// ```
    pub fn from_env() -> Self {
        Service {
            settings: settings_from_env(),
            diagnostics: true,
        }
    }

    /// A service with a webhook verifier and a client configuration of your own, listening
    /// on `127.0.0.1:8080` (see [`with_addr`](Service::with_addr)).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{Config, Credentials};
    /// use zoom_rtms_webhooks::service::Service;
    /// use zoom_rtms_webhooks::Verifier;
    /// let _ = Service::new(Verifier::new("s").unwrap(), Config::new(Credentials::new("id", "secret").unwrap()));
    /// ```
    pub fn new(verifier: Verifier, client: client::Config) -> Self {
        Service {
            settings: Ok(Settings {
                verifier,
                client,
                listen: Listen::Addr(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8080)),
                path: "/webhook".to_owned(),
                test_host: None,
                #[cfg(feature = "redis")]
                redis_url: None,
            }),
            diagnostics: true,
        }
    }

    fn map(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        if let Ok(s) = &mut self.settings {
            f(s);
        }
        self
    }

    /// The media to ask every stream for, and their parameters (default: audio with the
    /// server's defaults).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::{MediaParams, MediaTypes};
    /// use zoom_rtms_webhooks::service::Service;
    /// let _ = Service::from_env().with_media(MediaTypes::AUDIO | MediaTypes::TRANSCRIPT, MediaParams::new());
    /// ```
    #[must_use]
    pub fn with_media(self, types: MediaTypes, params: MediaParams) -> Self {
        self.with_client(|c| c.with_media(types, params))
    }

    /// Changes the client configuration (options, per-stream session settings, ...).
    ///
    /// ```
    /// use zoom_rtms_webhooks::client::Options;
    /// use zoom_rtms_webhooks::service::Service;
    /// let _ = Service::from_env().with_client(|c| c.with_options(Options::default().with_queue_capacity(256)));
    /// ```
    #[must_use]
    pub fn with_client(self, f: impl FnOnce(client::Config) -> client::Config) -> Self {
        let settings = self.settings.map(|mut s| {
            s.client = f(s.client);
            s
        });
        Service { settings, ..self }
    }

    /// Where to listen (default `127.0.0.1:8080`, or `HOST` and `PORT`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::service::Service;
    /// let _ = Service::from_env().with_addr("0.0.0.0:3000".parse().unwrap());
    /// ```
    #[must_use]
    pub fn with_addr(self, addr: SocketAddr) -> Self {
        self.map(|s| s.listen = Listen::Addr(addr))
    }

    /// Serves on a listener already bound (a test on port 0, socket activation).
    ///
    /// ```no_run
    /// use zoom_rtms_webhooks::service::Service;
    /// # async fn f() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let _ = Service::from_env().with_listener(listener);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_listener(self, listener: tokio::net::TcpListener) -> Self {
        self.map(|s| s.listen = Listen::Listener(listener))
    }

    /// The webhook route (default `/webhook`).
    ///
    /// ```
    /// use zoom_rtms_webhooks::service::Service;
    /// let _ = Service::from_env().with_path("/zoom/rtms");
    /// ```
    #[must_use]
    pub fn with_path(self, path: &str) -> Self {
        self.map(|s| s.path = path.to_owned())
    }

    /// Shares the streams with other copies through Redis (feature `redis`; `REDIS_URL` in
    /// [`from_env`](Service::from_env)): de-duplication, the durable hand-off, and stream
    /// leases with takeover. The URL may hold a password: it is never printed.
    ///
    /// ```
    /// use zoom_rtms_webhooks::service::Service;
    /// let _ = Service::from_env().with_redis("redis://127.0.0.1:6379");
    /// ```
    #[cfg(feature = "redis")]
    #[must_use]
    pub fn with_redis(self, url: &str) -> Self {
        self.map(|s| s.redis_url = Some(url.to_owned()))
    }

    /// Whether to print the service's diagnostics on standard error (default `true`; see the
    /// [module docs](self)).
    ///
    /// ```
    /// use zoom_rtms_webhooks::service::Service;
    /// let _ = Service::from_env().with_diagnostics(false);
    /// ```
    #[must_use]
    pub fn with_diagnostics(mut self, on: bool) -> Self {
        self.diagnostics = on;
        self
    }

    /// Runs the service until Ctrl-C or SIGTERM, then shuts down: no new requests, every
    /// event already acknowledged processed, then every stream closed (with Redis, handed
    /// over to the other copies). `on_stream` runs once per connection, in a task of its own;
    /// returning from it closes the connection.
    ///
    /// ```no_run
    /// use zoom_rtms_webhooks::service::Service;
    /// # async fn f() -> Result<(), zoom_rtms_webhooks::service::ServiceError> {
    /// Service::from_env()
    ///     .run(|mut stream| async move {
    ///         while let Some(item) = stream.next().await {
    ///             eprintln!("{item:?}");
    ///         }
    ///     })
    ///     .await
    /// # }
    /// ```
    pub async fn run<F, Fut>(self, on_stream: F) -> Result<(), ServiceError>
    where
        F: Fn(SupervisedStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.run_until(on_stream, shutdown_signal()).await
    }

    /// [`run`](Service::run), shut down when `shutdown` resolves instead of on a signal.
    ///
    /// ```no_run
    /// use zoom_rtms_webhooks::service::Service;
    /// # async fn f() -> Result<(), zoom_rtms_webhooks::service::ServiceError> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let service = tokio::spawn(Service::from_env().run_until(|_stream| async {}, async {
    ///     let _ = stopped.await;
    /// }));
    /// let _ = stop.send(());
    /// # Ok(()) }
    /// ```
    pub async fn run_until<F, Fut>(
        self,
        on_stream: F,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServiceError>
    where
        F: Fn(SupervisedStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let diagnostics = self.diagnostics;
        let say = move |line: fmt::Arguments<'_>| diagnose(diagnostics, line);
        let mut s = self.settings?;
        if let Some(host) = &s.test_host {
            say(format_args!(
                "WARNING: ZOOM_RTMS_TEST_HOST is set: {} is allowed with plain ws://. For local \
                 testing only; never set it in production.",
                escape(host)
            ));
            let policy = s.client.host_policy().clone();
            let policy = policy
                .with_allowed_host(host.clone())
                .with_insecure_ws(true);
            s.client = s.client.with_host_policy(policy);
        }
        // Bound first: an address in use must fail before anything starts (with Redis, the
        // worker would claim acknowledged events and the supervisor take over streams, then be
        // dropped without processing or handing them over).
        let listen = std::mem::replace(&mut s.listen, Listen::Addr(([0, 0, 0, 0], 0).into()));
        let listener = match listen {
            Listen::Listener(l) => l,
            Listen::Addr(addr) => tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ServiceError::Serve {
                    addr: addr.to_string(),
                    source,
                })?,
        };
        let supervisor = Supervisor::builder(s.client.clone());
        let (dedup, handoff, worker) = storage(&s, supervisor, on_stream, diagnostics).await?;
        let receiver = Arc::new(Receiver::new(s.verifier, dedup, handoff));
        let app = axum::Router::new()
            .route(&s.path, crate::axum::webhook(receiver))
            .layer(axum::middleware::map_response(move |r| {
                say_why_refused(r, diagnostics)
            }));
        let addr = listener
            .local_addr()
            .map_or_else(|_| "?".to_owned(), |a| a.to_string());
        say(format_args!("listening on http://{addr}{}", s.path));
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                say(format_args!("shutting down: no longer accepting requests"));
            })
            .await;
        worker.shutdown().await;
        served.map_err(|source| ServiceError::Serve { addr, source })
    }
}

/// The one place the service writes to stderr (when `on`).
fn diagnose(on: bool, line: fmt::Arguments<'_>) {
    if on {
        eprintln!("{line}");
    }
}

/// Reads the settings from the environment.
fn settings_from_env() -> Result<Settings, ServiceError> {
    let secret = required("ZOOM_SECRET_TOKEN")?;
    let id = required("ZOOM_CLIENT_ID")?;
    let client_secret = required("ZOOM_CLIENT_SECRET")?;
    let verifier = Verifier::new(secret).map_err(|e| ServiceError::Credentials(Box::new(e)))?;
    let credentials =
        Credentials::new(id, client_secret).map_err(|e| ServiceError::Credentials(Box::new(e)))?;
    let host: IpAddr = match env("HOST") {
        None => Ipv4Addr::LOCALHOST.into(),
        Some(h) => h.trim().parse().map_err(|_| ServiceError::Invalid {
            name: "HOST",
            why: format!(
                "an IP address is expected, got {:?}",
                escape(&h).to_string()
            ),
        })?,
    };
    let port: u16 = match env("PORT") {
        None => 8080,
        Some(p) => p.trim().parse().map_err(|_| ServiceError::Invalid {
            name: "PORT",
            why: format!(
                "a port number is expected, got {:?}",
                escape(&p).to_string()
            ),
        })?,
    };
    let redis_url = env("REDIS_URL");
    #[cfg(not(feature = "redis"))]
    if redis_url.is_some() {
        return Err(ServiceError::RedisDisabled);
    }
    Ok(Settings {
        verifier,
        client: client::Config::new(credentials),
        listen: Listen::Addr(SocketAddr::new(host, port)),
        path: "/webhook".to_owned(),
        test_host: env("ZOOM_RTMS_TEST_HOST"),
        #[cfg(feature = "redis")]
        redis_url,
    })
}

fn required(name: &'static str) -> Result<String, ServiceError> {
    env(name).ok_or(ServiceError::Missing(name))
}

/// An environment variable, `None` when unset or blank.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Says on stderr why a webhook was refused with 401: otherwise only Zoom (or the simulator)
/// would know.
async fn say_why_refused(
    response: axum::response::Response,
    diagnostics: bool,
) -> axum::response::Response {
    if response.status() == http::StatusCode::UNAUTHORIZED {
        diagnose(
            diagnostics,
            format_args!(
                "a webhook was refused (401): its signature does not verify with \
                 ZOOM_SECRET_TOKEN (is it the app's Secret Token?), or its timestamp is too old"
            ),
        );
    }
    response
}

/// The receiver's handler: every event to the supervisor, after the `200`.
async fn on_event(
    supervisor: Supervisor,
    policy: Arc<HostPolicy>,
    delivery: Delivery,
    diagnostics: bool,
) -> Result<(), client::SupervisorError> {
    // The stream's items report a refused URL; a newcomer's app may not read them, so say here
    // what to change.
    if let WebhookEvent::RtmsStarted(started) = &delivery.event {
        if let Err(error) = started.server_urls(&policy) {
            diagnose(
                diagnostics,
                format_args!(
                    "stream {}: {error}: only wss:// on Zoom's hosts is dialled; for a local \
                     simulator set ZOOM_RTMS_TEST_HOST to its host (never in production)",
                    escape(&started.rtms_stream_id)
                ),
            );
        }
    }
    let result = supervisor.on_event(&delivery.event).await;
    let stream = escape(delivery.event.rtms_stream_id().unwrap_or("-"));
    match &result {
        Ok(handled) if delivery.event.rtms_stream_id().is_some() => diagnose(
            diagnostics,
            format_args!("{} stream={stream}: {handled:?}", delivery.event.name()),
        ),
        Ok(_) => {}
        // Otherwise reported through `tracing` only (feature `tracing`): say it here.
        Err(error) => diagnose(
            diagnostics,
            format_args!(
                "{} stream={stream}: not handled: {}",
                delivery.event.name(),
                causes(error)
            ),
        ),
    }
    result.map(|_| ())
}

/// An error and its causes, as one line.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// De-duplication, hand-off and worker: in memory, or through Redis (then the supervisor
/// takes the streams' leases too).
async fn storage<F, Fut>(
    s: &Settings,
    supervisor: SupervisorBuilder,
    on_stream: F,
    diagnostics: bool,
) -> Result<(BoxDeduplicator, BoxHandoff, Worker), ServiceError>
where
    F: Fn(SupervisedStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let policy = Arc::new(s.client.host_policy().clone());
    #[cfg(feature = "redis")]
    if let Some(url) = &s.redis_url {
        use crate::redis::{
            connect, RedisDeduplicator, RedisStreamHandoff, RedisStreamWorker, StreamLeases,
            StreamWorkerConfig,
        };
        let conn = connect(url).await.map_err(ServiceError::Redis)?;
        // Only the holder of a stream's lease connects to it; when a copy dies, another one
        // takes its streams over once their leases expire.
        let supervisor = supervisor
            .leases(StreamLeases::new(conn.clone()))
            .build(on_stream);
        let handler = {
            let supervisor = supervisor.clone();
            move |delivery| on_event(supervisor.clone(), policy.clone(), delivery, diagnostics)
        };
        let worker = RedisStreamWorker::start(&conn, StreamWorkerConfig::default(), handler)
            .await
            .map_err(ServiceError::Redis)?;
        return Ok((
            BoxDeduplicator::new(RedisDeduplicator::new(conn.clone())),
            BoxHandoff::new(RedisStreamHandoff::new(conn)),
            Worker::Redis(worker, supervisor),
        ));
    }
    let supervisor = supervisor.build(on_stream);
    let handler = {
        let supervisor = supervisor.clone();
        move |delivery| on_event(supervisor.clone(), policy.clone(), delivery, diagnostics)
    };
    let dispatcher = Dispatcher::new(DispatcherConfig::default(), handler);
    let dedup = BoxDeduplicator::new(MemoryDeduplicator::new());
    Ok((
        dedup,
        BoxHandoff::new(dispatcher.clone()),
        Worker::Memory(dispatcher, supervisor),
    ))
}

/// Whatever runs the handler after the acknowledgement, and the supervisor it feeds.
enum Worker {
    Memory(Dispatcher<Delivery>, Supervisor),
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisStreamWorker, Supervisor),
}

impl Worker {
    /// Processes every acknowledged event, then: alone, closes every stream; with Redis,
    /// hands the streams over to the other copies.
    async fn shutdown(self) {
        match self {
            Worker::Memory(dispatcher, supervisor) => {
                dispatcher.shutdown().await;
                supervisor.shutdown().await;
            }
            #[cfg(feature = "redis")]
            Worker::Redis(worker, supervisor) => {
                worker.shutdown().await;
                supervisor.hand_over().await;
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        // A handler that cannot be installed never fires (as for SIGTERM below).
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
