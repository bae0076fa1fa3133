//! Recording a stream to a file ([`Options::with_recording`](super::Options::with_recording)):
//! the driver hands each frame (a shared [`Bytes`], no copy) to a bounded channel and never
//! waits; a dedicated thread redacts (in the core's [`Recorder`]) and writes. When the channel
//! is full the frame is dropped and counted, and the count ends the file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::protocol::recording::{Recorder, Redaction};
use crate::protocol::session::{Role, SocketId};

/// The part of a recording's path replaced by the stream's id.
const STREAM_ID: &str = "{rtms_stream_id}";

/// The recording's path for the stream `rtms_stream_id`: `template` with every
/// `{rtms_stream_id}` replaced by the id, each character outside `[A-Za-z0-9._-]` as `_` (a
/// Zoom stream id may hold `/`, `+` and `=`; no id can leave the directory).
pub(crate) fn path_for(template: &Path, rtms_stream_id: &str) -> PathBuf {
    let text = template.to_string_lossy();
    if !text.contains(STREAM_ID) {
        return template.to_path_buf();
    }
    PathBuf::from(text.replace(STREAM_ID, &safe_name(rtms_stream_id)))
}

/// `name` (from the network) as one file name: each character outside `[A-Za-z0-9._-]` as
/// `_`, and a name of dots only (`.`, `..`) or an empty one prefixed with `_`, so that it
/// never leaves its directory.
pub(crate) fn safe_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.chars().all(|c| c == '.') {
        format!("_{safe}")
    } else {
        safe
    }
}

/// Frames waiting for the writer thread (about 20 s of one audio stream at 20 ms).
const BACKLOG: usize = 1024;

/// The driver's side of a recording.
pub(crate) struct Recording {
    started: Instant,
    roles: HashMap<SocketId, Role>,
    tx: Option<SyncSender<(u64, Role, Bytes)>>,
    dropped: Arc<AtomicU64>,
    done: Option<oneshot::Receiver<()>>,
}

impl Recording {
    /// Creates the file and starts its writer thread.
    pub(crate) fn start(path: &Path, redaction: &Redaction) -> std::io::Result<Self> {
        let file = File::create(path)?;
        let (tx, rx) = mpsc::sync_channel(BACKLOG);
        let (done_tx, done) = oneshot::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let recorder = Recorder::new(redaction.clone());
        let counter = Arc::clone(&dropped);
        std::thread::Builder::new()
            .name("rtms-recording".into())
            .spawn(move || {
                let _ = write(BufWriter::new(file), recorder, rx, &counter);
                let _ = done_tx.send(());
            })?;
        Ok(Recording {
            started: Instant::now(),
            roles: HashMap::new(),
            tx: Some(tx),
            dropped,
            done: Some(done),
        })
    }

    /// A socket was opened for `role`.
    pub(crate) fn opened(&mut self, socket: SocketId, role: Role) {
        self.roles.insert(socket, role);
    }

    /// A socket is gone.
    pub(crate) fn closed(&mut self, socket: SocketId) {
        self.roles.remove(&socket);
    }

    /// Records a frame received on `socket`; never waits.
    pub(crate) fn frame(&self, socket: SocketId, frame: &Bytes) {
        let (Some(tx), Some(role)) = (&self.tx, self.roles.get(&socket)) else {
            return;
        };
        let at_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match tx.try_send((at_ms, *role, frame.clone())) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Closes the channel and waits until the writer has written the end line and flushed.
    pub(crate) async fn finish(mut self) {
        self.tx = None;
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }
}

/// The writer thread: a line per frame, flushed whenever the channel is empty, then the end
/// line with the drop count once the driver closes the channel.
fn write(
    mut out: BufWriter<File>,
    mut recorder: Recorder,
    rx: Receiver<(u64, Role, Bytes)>,
    dropped: &AtomicU64,
) -> std::io::Result<()> {
    let result = (|| {
        out.write_all(recorder.header().as_bytes())?;
        out.flush()?;
        loop {
            let (at_ms, role, frame) = match rx.try_recv() {
                Ok(next) => next,
                Err(TryRecvError::Empty) => {
                    out.flush()?;
                    match rx.recv() {
                        Ok(next) => next,
                        Err(_) => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            out.write_all(recorder.entry(at_ms, role, &frame).as_bytes())?;
        }
        out.write_all(recorder.end(dropped.load(Ordering::Relaxed)).as_bytes())?;
        out.flush()
    })();
    #[cfg(feature = "tracing")]
    if let Err(error) = &result {
        tracing::warn!(%error, "the RTMS recording stopped: writing failed");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_id_fills_the_template_safely() {
        let t = Path::new("rec/{rtms_stream_id}.jsonl");
        assert_eq!(path_for(t, "a/B+c=="), PathBuf::from("rec/a_B_c__.jsonl"));
        assert_eq!(
            path_for(t, "../../etc"),
            PathBuf::from("rec/.._.._etc.jsonl")
        );
        assert_eq!(
            path_for(Path::new("one.jsonl"), "s"),
            PathBuf::from("one.jsonl")
        );
    }
}
