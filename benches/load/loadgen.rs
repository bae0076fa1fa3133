//! Load generator for the webhook endpoint benchmark (`benches/load/run.sh`).
//!
//! Sends signed `meeting.rtms_started` requests, each with its own `rtms_stream_id` (so no
//! request is a duplicate of another and de-duplication never short-cuts the work), signed
//! with [`zoom_rtms_webhooks::signature::sign`] and the current timestamp, from a fixed number of
//! keep-alive connections, each with one request in flight. It stops by itself after a fixed
//! duration (or request count) and prints requests/s and the acknowledgement latency
//! (time from the first byte written to the last byte of the response read) p50/p90/p99/max.
//!
//! The HTTP/1.1 client is a minimal one written here over `tokio::net::TcpStream` (requests
//! with `Content-Length`; responses with `Content-Length` or chunked): it costs far less CPU
//! than a general-purpose client, which matters when the generator and the server share two
//! cores, and it needs no dependency beyond tokio. Loopback only.
//!
//! ```text
//! loadgen --url http://127.0.0.1:8080/webhook --secret S [--concurrency 64] [--duration 10]
//!         [--warmup 2] [--max-requests 2000000] [--threads 1] [--label NAME]
//! ```
//!
//! The last line of output is machine-readable (tab-separated, starting with `RESULT`).

use std::error::Error;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type BoxError = Box<dyn Error + Send + Sync>;

/// Per-request timeout: a request that takes longer counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    addr: SocketAddr,
    host: String,
    path: String,
    secret: String,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    max_requests: u64,
    threads: usize,
    label: String,
}

fn usage() -> String {
    "usage: loadgen --url http://127.0.0.1:PORT/PATH --secret SECRET [--concurrency N] \
     [--duration SECS] [--warmup SECS] [--max-requests N] [--threads N] [--label NAME]"
        .to_owned()
}

fn parse_args() -> Result<Args, BoxError> {
    let mut url = None;
    let mut secret = std::env::var("ZOOM_SECRET_TOKEN").ok();
    let mut concurrency = 64usize;
    let mut duration = 10.0f64;
    let mut warmup = 2.0f64;
    let mut max_requests = 2_000_000u64;
    let mut threads = 1usize;
    let mut label = "target".to_owned();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{}", usage()))
        };
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--secret" => secret = Some(value()?),
            "--concurrency" => concurrency = value()?.parse()?,
            "--duration" => duration = value()?.parse()?,
            "--warmup" => warmup = value()?.parse()?,
            "--max-requests" => max_requests = value()?.parse()?,
            "--threads" => threads = value()?.parse()?,
            "--label" => label = value()?,
            "-h" | "--help" => return Err(usage().into()),
            other => return Err(format!("unknown argument {other}\n{}", usage()).into()),
        }
    }
    let url = url.ok_or_else(usage)?;
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs (loopback) are supported")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("/")),
        None => (rest, "/"),
    };
    let addr: SocketAddr = host
        .parse()
        .map_err(|_| format!("host must be IP:PORT, got {host:?}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("refusing to load a non-loopback address {addr}").into());
    }
    let finite = |v: f64, name: &str| -> Result<Duration, BoxError> {
        if v.is_finite() && (0.0..=3600.0).contains(&v) {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(format!("{name} must be between 0 and 3600 seconds").into())
        }
    };
    Ok(Args {
        addr,
        host: host.to_owned(),
        path: path.to_owned(),
        secret: secret.ok_or("--secret (or ZOOM_SECRET_TOKEN) is required")?,
        concurrency: concurrency.max(1),
        duration: finite(duration, "--duration")?,
        warmup: finite(warmup, "--warmup")?,
        max_requests,
        threads: threads.max(1),
        label,
    })
}

/// Shared request numbering, so every request body in the run is distinct.
struct Shared {
    next: AtomicU64,
    run_id: u64,
    max_requests: u64,
}

impl Shared {
    fn next(&self) -> Option<u64> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n < self.max_requests).then_some(n)
    }
}

#[derive(Default)]
struct Tally {
    /// Acknowledgement latency of every 2xx, in microseconds.
    latencies_us: Vec<u32>,
    /// Latency of every answered request (any status), in microseconds.
    all_latencies_us: Vec<u32>,
    ok: u64,
    /// 2xx answers including the warm-up (every event the server acknowledged).
    acked_total: u64,
    status_503: u64,
    other_status: u64,
    errors: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.all_latencies_us.extend(other.all_latencies_us);
        self.ok += other.ok;
        self.acked_total += other.acked_total;
        self.status_503 += other.status_503;
        self.other_status += other.other_status;
        self.errors += other.errors;
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A distinct, realistic `meeting.rtms_started` body (about 300 bytes, like the fixture).
fn event_body(out: &mut Vec<u8>, run_id: u64, n: u64) {
    out.clear();
    let mut s = String::with_capacity(320);
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        concat!(
            r#"{{"event":"meeting.rtms_started","event_ts":{ts},"payload":{{"#,
            r#""meeting_uuid":"{run:08x}{n:012x}AiAii==","operator_id":"30R7kT7bTIKSNUFEuH_Qlg","#,
            r#""rtms_stream_id":"{run:08x}{n:024x}","#,
            r#""server_urls":"wss://rtms-sjc1.zoom.us/signaling"}}}}"#
        ),
        ts = unix_secs() * 1000,
        run = run_id & 0xffff_ffff,
        n = n,
    );
    out.extend_from_slice(s.as_bytes());
}

fn build_request(out: &mut Vec<u8>, args: &Args, body: &[u8]) {
    let timestamp = unix_secs().to_string();
    let signature = zoom_rtms_webhooks::signature::sign(&args.secret, &timestamp, body);
    out.clear();
    let mut head = String::with_capacity(256);
    let _ = write!(
        head,
        "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nx-zm-request-timestamp: {timestamp}\r\n\
         x-zm-signature: {signature}\r\n\r\n",
        args.path,
        args.host,
        body.len()
    );
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
}

/// The status of one HTTP/1.1 response, and whether the server will close the connection.
struct Response {
    status: u16,
    close: bool,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Read into `buf` until it holds at least `len` bytes.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, len: usize) -> Result<(), BoxError> {
    let mut chunk = [0u8; 4096];
    while buf.len() < len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed mid-response".into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok(())
}

/// Read until `buf` contains `needle`; returns the index just past it.
async fn fill_until(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    from: usize,
    needle: &[u8],
) -> Result<usize, BoxError> {
    loop {
        if let Some(i) = buf.get(from..).and_then(|b| find(b, needle)) {
            return Ok(from + i + needle.len());
        }
        if buf.len() > 64 * 1024 {
            return Err("response head too large".into());
        }
        let want = buf.len() + 1;
        fill(stream, buf, want).await?;
    }
}

/// Read one whole response (head and body) and return its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Response, BoxError> {
    buf.clear();
    let head_end = fill_until(stream, buf, 0, b"\r\n\r\n").await?;
    let head = std::str::from_utf8(buf.get(..head_end).unwrap_or_default())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut close = status_line.starts_with("HTTP/1.0");
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.parse()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                close = true;
            } else if value.contains("keep-alive") {
                close = false;
            }
        }
    }
    if chunked {
        let mut pos = head_end;
        loop {
            let line_end = fill_until(stream, buf, pos, b"\r\n").await?;
            let size_text = std::str::from_utf8(buf.get(pos..line_end - 2).unwrap_or_default())?;
            let size_text = size_text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)?;
            if size == 0 {
                // Trailers (normally none), then the empty line.
                fill_until(stream, buf, line_end - 2, b"\r\n\r\n").await?;
                break;
            }
            pos = line_end + size + 2;
            fill(stream, buf, pos).await?;
        }
    } else if let Some(len) = content_length {
        fill(stream, buf, head_end + len).await?;
    } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
        // No length: the body runs to the end of the connection.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await?;
        close = true;
    }
    Ok(Response { status, close })
}

async fn connect(addr: SocketAddr) -> Result<TcpStream, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One connection: requests back to back until `deadline`; latencies recorded after
/// `record_from`.
async fn connection(
    args: Arc<Args>,
    shared: Arc<Shared>,
    record_from: Instant,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut stream: Option<TcpStream> = None;
    let mut body = Vec::with_capacity(512);
    let mut request = Vec::with_capacity(1024);
    let mut buf = Vec::with_capacity(4096);
    while Instant::now() < deadline {
        let Some(n) = shared.next() else { break };
        event_body(&mut body, shared.run_id, n);
        build_request(&mut request, &args, &body);
        let s = match stream.take() {
            Some(s) => s,
            None => match connect(args.addr).await {
                Ok(s) => s,
                Err(_) => {
                    tally.errors += 1;
                    // Do not spin on a refused connection.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let mut s = s;
        let started = Instant::now();
        let exchange = async {
            s.write_all(&request).await?;
            read_response(&mut s, &mut buf).await
        };
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, exchange).await;
        let elapsed = started.elapsed();
        let recording = started >= record_from;
        match outcome {
            Ok(Ok(response)) => {
                if (200..300).contains(&response.status) {
                    tally.acked_total += 1;
                }
                if recording {
                    let us = u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX);
                    tally.all_latencies_us.push(us);
                    match response.status {
                        200..=299 => {
                            tally.ok += 1;
                            tally.latencies_us.push(us);
                        }
                        503 => tally.status_503 += 1,
                        _ => tally.other_status += 1,
                    }
                }
                if !response.close {
                    stream = Some(s);
                }
            }
            // I/O error or timeout: drop the connection, reconnect on the next request.
            Ok(Err(_)) | Err(_) => {
                if recording {
                    tally.errors += 1;
                }
            }
        }
    }
    tally
}

/// Nearest-rank percentile of sorted microsecond latencies, in milliseconds.
fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us
        .get(index)
        .map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
}

async fn run(args: Args) -> Result<(), BoxError> {
    let args = Arc::new(args);
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        run_id,
        max_requests: args.max_requests,
    });
    // Fail fast if nothing listens.
    drop(
        connect(args.addr)
            .await
            .map_err(|e| format!("{}: cannot connect to {}: {e}", args.label, args.addr))?,
    );

    let start = Instant::now();
    let record_from = start + args.warmup;
    let deadline = record_from + args.duration;
    let mut tasks = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        tasks.push(tokio::spawn(connection(
            Arc::clone(&args),
            Arc::clone(&shared),
            record_from,
            deadline,
        )));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await?);
    }
    // Measured window: from the end of the warm-up to the last response.
    let window = Instant::now().saturating_duration_since(record_from);
    let secs = window.as_secs_f64().max(1e-9);
    tally.latencies_us.sort_unstable();
    tally.all_latencies_us.sort_unstable();
    let answered = tally.all_latencies_us.len() as u64;
    let rps = answered as f64 / secs;
    let ok_rps = tally.ok as f64 / secs;
    let p = |q| percentile_ms(&tally.latencies_us, q);
    let (p50, p90, p99, p999) = (p(0.50), p(0.90), p(0.99), p(0.999));
    let max = tally
        .latencies_us
        .last()
        .map_or(f64::NAN, |&us| f64::from(us) / 1000.0);
    println!(
        "{label}: {answered} answered in {secs:.2} s ({rps:.0} req/s), 2xx {ok} ({ok_rps:.0}/s), \
         503 {s503}, other {other}, errors {errors}; 2xx ack latency ms p50 {p50:.3} p90 {p90:.3} \
         p99 {p99:.3} p99.9 {p999:.3} max {max:.3} (concurrency {c}, warm-up {w:.1} s excluded)",
        label = args.label,
        ok = tally.ok,
        s503 = tally.status_503,
        other = tally.other_status,
        errors = tally.errors,
        c = args.concurrency,
        w = args.warmup.as_secs_f64(),
    );
    println!(
        "RESULT\t{label}\t{answered}\t{ok}\t{s503}\t{other}\t{errors}\t{secs:.3}\t{rps:.0}\t\
         {ok_rps:.0}\t{p50:.3}\t{p90:.3}\t{p99:.3}\t{max:.3}\t{acked}",
        label = args.label,
        acked = tally.acked_total,
        ok = tally.ok,
        s503 = tally.status_503,
        other = tally.other_status,
        errors = tally.errors,
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(args))
}
