//! The one place that runs user handlers, for the [`dispatch`](crate::dispatch) workers and the
//! Redis stream worker: a panic (while the handler is called, while its future is polled, or
//! while that future is dropped) is caught and turned into an [`Outcome`], and an `Err` or a
//! panic is reported through `tracing` (feature `tracing`). The library never prints (but for
//! the `service` runner's documented diagnostics on stderr).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// How one handler call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The handler returned `Ok`.
    Ok,
    /// The handler returned `Err` (reported).
    Failed,
    /// The handler panicked (reported; the panic hook already printed the message).
    Panicked,
}

/// Who runs the handler: the `runner` field of the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runner {
    /// A [`Dispatcher`](crate::dispatch::Dispatcher) worker.
    Dispatch,
    /// A `RedisStreamWorker` (feature `redis`).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    RedisStreamWorker,
}

impl Runner {
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    fn name(self) -> &'static str {
        match self {
            Runner::Dispatch => "dispatch",
            Runner::RedisStreamWorker => "redis_stream_worker",
        }
    }
}

/// Calls `handler(item)` and awaits it, turning an `Err` or a panic into an [`Outcome`] and
/// reporting it.
pub(crate) async fn run_handler<T, H, Fut, E>(runner: Runner, handler: &H, item: T) -> Outcome
where
    H: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: fmt::Display,
{
    let result = match catch_unwind(AssertUnwindSafe(|| handler(item))) {
        Ok(future) => CatchUnwind(Some(Box::pin(future))).await,
        Err(payload) => Err(payload),
    };
    match result {
        Ok(Ok(())) => Outcome::Ok,
        Ok(Err(error)) => {
            report_error(runner, &error);
            Outcome::Failed
        }
        Err(_payload) => {
            report_panic(runner);
            Outcome::Panicked
        }
    }
}

#[cfg(feature = "tracing")]
fn report_error(runner: Runner, error: &dyn fmt::Display) {
    tracing::warn!(runner = runner.name(), error = %error, "handler returned an error");
}

#[cfg(not(feature = "tracing"))]
fn report_error(_runner: Runner, _error: &dyn fmt::Display) {}

/// The panic message is not reported: the panic hook already printed it, and it may quote event
/// data.
#[cfg(feature = "tracing")]
fn report_panic(runner: Runner) {
    tracing::error!(runner = runner.name(), "handler panicked");
}

#[cfg(not(feature = "tracing"))]
fn report_panic(_runner: Runner) {}

type PanicPayload = Box<dyn Any + Send>;

/// Polls a future, converting a panic during `poll` (or while dropping the future once it is
/// done) into an `Err`.
struct CatchUnwind<F>(Option<Pin<Box<F>>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, PanicPayload>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = match self.0.as_mut() {
            Some(future) => match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(output)) => Ok(output),
                Err(payload) => Err(payload),
            },
            None => Err(Box::new("CatchUnwind polled after completion") as PanicPayload),
        };
        // Drop the handler's future here, where a panicking `Drop` is caught, rather than in the
        // caller.
        let future = self.0.take();
        let dropped = catch_unwind(AssertUnwindSafe(move || drop(future)));
        Poll::Ready(match (result, dropped) {
            (Ok(output), Ok(())) => Ok(output),
            (Err(payload), _) | (Ok(_), Err(payload)) => Err(payload),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A future that is ready at once and panics when dropped.
    struct PanicsOnDrop;

    impl Future for PanicsOnDrop {
        type Output = Result<(), String>;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
            Poll::Ready(Ok(()))
        }
    }

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop panic (expected by the test)");
        }
    }

    async fn run<Fut>(handler: impl Fn(u8) -> Fut) -> Outcome
    where
        Fut: Future<Output = Result<(), String>>,
    {
        run_handler(Runner::Dispatch, &handler, 1).await
    }

    /// One test (not several running in parallel) so that the `tracing` callsites are only ever
    /// hit while the capturing subscriber is set.
    #[tokio::test]
    async fn ok_err_and_every_kind_of_panic_become_outcomes_and_are_reported() {
        #[cfg(feature = "tracing")]
        let (captured, _guard) = capture_tracing();

        assert_eq!(run(|_| async { Ok(()) }).await, Outcome::Ok);
        assert_eq!(
            run_handler(
                Runner::RedisStreamWorker,
                &|_: u8| async { Err::<(), _>("store refused") },
                1,
            )
            .await,
            Outcome::Failed
        );
        assert_eq!(
            run(|_| -> std::future::Ready<Result<(), String>> {
                panic!("panic while called (expected by the test)")
            })
            .await,
            Outcome::Panicked
        );
        assert_eq!(
            run(|_| async {
                tokio::task::yield_now().await;
                panic!("panic while polled (expected by the test)")
            })
            .await,
            Outcome::Panicked
        );
        assert_eq!(run(|_| PanicsOnDrop).await, Outcome::Panicked);

        #[cfg(feature = "tracing")]
        {
            let log = String::from_utf8(captured.0.lock().unwrap().clone()).expect("utf-8");
            let warn: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
            assert_eq!(warn.len(), 1, "{log}");
            assert!(warn[0].contains("handler returned an error"), "{log}");
            assert!(warn[0].contains("runner=\"redis_stream_worker\""), "{log}");
            assert!(warn[0].contains("error=store refused"), "{log}");
            let error: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
            assert_eq!(error.len(), 3, "{log}");
            assert!(error
                .iter()
                .all(|l| l.contains("handler panicked") && l.contains("runner=\"dispatch\"")));
            assert!(
                !log.contains("expected by the test"),
                "no panic message: {log}"
            );
        }
    }

    #[cfg(feature = "tracing")]
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    #[cfg(feature = "tracing")]
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Sets a subscriber writing into the returned buffer, for this thread, until the guard drops.
    #[cfg(feature = "tracing")]
    fn capture_tracing() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// Every `println!` / `eprintln!` in the library's sources, outside comments and doc
    /// comments: there must be none (reports go through `tracing`), but for the `service`
    /// runner's diagnostics on stderr.
    #[test]
    fn the_library_never_prints() {
        fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("read src") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    visit(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs")
                    // The one exception: `service` is an application runner, and its
                    // diagnostics on stderr (documented, `with_diagnostics(false)` turns them
                    // off) are what a newcomer needs to see.
                    && !path.ends_with("src/service.rs")
                {
                    let text = std::fs::read_to_string(&path).expect("read source");
                    for (n, line) in text.lines().enumerate() {
                        let code = line.trim_start();
                        if code.starts_with("//") {
                            continue;
                        }
                        // Built so that this test does not find itself.
                        let needles = [concat!("print", "ln!("), concat!("print", "!(")];
                        if needles.iter().any(|needle| code.contains(needle)) {
                            found.push(format!("{}:{}: {line}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        visit(&src, &mut found);
        assert!(
            found.is_empty(),
            "the library prints:\n{}",
            found.join("\n")
        );
    }
}
