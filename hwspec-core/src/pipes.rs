//! Reading a child's output on helper threads while knowing whether more of it is on its way.
//!
//! A thread that waits for a child (a worker, a program a backend runs) learns that it exited
//! before the threads reading its pipes have delivered what it wrote; on a loaded machine, or
//! in a host under valgrind, a reader can be starved for seconds. A fixed grace after the exit
//! then takes a slow reader for a child that wrote nothing. [`Watched`] and [`PipeWatch`] tell
//! the two apart: output still in the pipe, an end-of-file not yet taken, or bytes in the
//! reader's hands are on their way; an empty pipe that some other process (a descendant that
//! left the group) holds open is not.

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::sys;

/// One of a child's pipes as the thread waiting for the child sees it while a reader thread
/// serves it: a copy of its read end, to look at without reading, and whether the reader holds
/// bytes it has not handed on yet.
#[derive(Debug)]
pub(crate) struct PipeWatch {
    fd: OwnedFd,
    reading: Arc<AtomicBool>,
}

impl PipeWatch {
    /// A watch of `fd` whose reader marks `reading`: for tests that play the reader.
    #[cfg(test)]
    pub(crate) fn of(fd: OwnedFd, reading: Arc<AtomicBool>) -> PipeWatch {
        PipeWatch { fd, reading }
    }

    /// Another descriptor of the watched pipe: for tests that play the reader.
    #[cfg(test)]
    pub(crate) fn copy(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }

    /// Whether output is on its way: the reader took bytes it has not delivered yet, or the
    /// pipe holds bytes or an end-of-file the reader has not taken. Bytes leave the pipe only
    /// after the reader says it is reading (see [`Watched`]), so no moment is missed in which
    /// they are in neither place.
    pub(crate) fn pending(&self) -> bool {
        self.reading.load(Ordering::SeqCst)
            || sys::wait_readable(&[self.fd.as_fd()], Some(Duration::ZERO))
                .is_ok_and(|ready| ready.first() == Some(&true))
    }
}

/// A child's pipe as its reader thread reads it: each read first waits for the pipe to be
/// readable, then marks the reader busy, then takes the bytes. The mark is cleared when the
/// reader comes back for more, which is after it has handed on what it read before.
#[derive(Debug)]
pub(crate) struct Watched<R> {
    inner: R,
    reading: Arc<AtomicBool>,
}

impl<R: AsFd> Watched<R> {
    /// The pipe for its reader, and the watch for the waiting thread (none when no
    /// descriptor is left to copy the pipe: the waiter then falls back to a fixed grace).
    pub(crate) fn new(inner: R) -> (Watched<R>, Option<PipeWatch>) {
        let reading = Arc::new(AtomicBool::new(false));
        let watch = inner.as_fd().try_clone_to_owned().ok().map(|fd| PipeWatch {
            fd,
            reading: Arc::clone(&reading),
        });
        (Watched { inner, reading }, watch)
    }
}

impl<R: Read + AsFd> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reading.store(false, Ordering::SeqCst);
        loop {
            match sys::wait_readable(&[self.inner.as_fd()], None) {
                Ok(_) => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        self.reading.store(true, Ordering::SeqCst);
        self.inner.read(buf)
    }
}
