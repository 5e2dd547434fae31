//! Child processes under a deadline: the compiler and the compiled program.
//!
//! The worker's stdout is its result channel, so children never inherit it. Each child leads
//! its own process group, because gcc runs cc1, as, collect2, lto-wrapper and mkoffload below
//! it: on expiry the whole group is killed, not just the driver.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::sys;

/// Bytes kept of each output stream; the rest is read and dropped so the child never blocks.
const OUTPUT_CAP: usize = 64 * 1024;

/// How often a running child is checked on.
const POLL: Duration = Duration::from_millis(5);

/// How long a leftover grandchild may keep the pipes open after the child has exited.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// How a bounded child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// It exited or was killed by a signal, on its own.
    Exited(ExitStatus),
    /// It ran past its limit and was killed with its process group.
    TimedOut(Duration),
}

/// What a bounded child did and printed.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    /// How it ended.
    pub(crate) end: End,
    /// Its standard output, at most [`OUTPUT_CAP`] bytes, lossily decoded.
    pub(crate) stdout: String,
    /// Its standard error, likewise.
    pub(crate) stderr: String,
}

impl Finished {
    /// Whether it exited on its own with status 0.
    pub(crate) fn succeeded(&self) -> bool {
        matches!(&self.end, End::Exited(status) if status.success())
    }
}

/// Runs `command` with no stdin and piped output, killing its process group after `limit`.
pub(crate) fn run_bounded(command: &mut Command, limit: Duration) -> std::io::Result<Finished> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let group = child.id();
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let deadline = Instant::now() + limit;
    let end = loop {
        match child.try_wait() {
            Ok(Some(status)) => break End::Exited(status),
            Ok(None) if Instant::now() >= deadline => {
                // Not reaped yet, so the group id is still ours to signal.
                sys::signal_group(group, libc::SIGKILL);
                let _ = child.wait();
                break End::TimedOut(limit);
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(err) => {
                sys::signal_group(group, libc::SIGKILL);
                let _ = child.wait();
                return Err(err);
            }
        }
    };
    let stdout = collect(&stdout, group);
    let stderr = collect(&stderr, group);
    Ok(Finished {
        end,
        stdout,
        stderr,
    })
}

fn read_in_background<R: Read + Send + 'static>(pipe: Option<R>) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buffer = [0u8; 8192];
            loop {
                match pipe.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = OUTPUT_CAP.saturating_sub(kept.len());
                        kept.extend_from_slice(&buffer[..n.min(room)]);
                    }
                }
            }
            let _ = sender.send(String::from_utf8_lossy(&kept).into_owned());
        });
    }
    receiver
}

/// The output read by one reader. A grandchild that outlived the child and still holds the pipe
/// is killed with the group after [`DRAIN_GRACE`]; a reader that is still stuck is abandoned.
fn collect(reader: &Receiver<String>, group: u32) -> String {
    reader.recv_timeout(DRAIN_GRACE).unwrap_or_else(|_| {
        sys::signal_group(group, libc::SIGKILL);
        reader.recv_timeout(DRAIN_GRACE).unwrap_or_default()
    })
}

/// A fresh private directory for one compile, removed on drop.
#[derive(Debug)]
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    /// Creates `hwspec-gcc-offload-<pid>-<n>` under the system temp dir.
    pub(crate) fn new() -> std::io::Result<Scratch> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("hwspec-gcc-offload-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path)?;
        Ok(Scratch(path))
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
