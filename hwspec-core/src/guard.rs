//! A worker's guard: whatever the driver does, the worker and everything it starts end when the
//! parent stops waiting, and the worker stays inside its memory limit.
//!
//! Set up first thing after exec, before any vendor code runs (design §3, §6):
//!
//! - descriptors the caller left open without close-on-exec are closed, so neither a driver
//!   nor a program it starts can hold the caller's pipes open;
//! - the worker asks for a parent-death signal and then checks that its parent is still the
//!   process that started it (the parent may have died between the fork and the request);
//! - its stdin is a pipe whose other end only the parent holds (the *lifeline*): when the
//!   parent ends, however it ends, the pipe reads end-of-file;
//! - it becomes a child subreaper, so descendants that leave its process group or session
//!   (`setsid`, a double fork) are re-parented to it instead of init and can still be found;
//! - SIGTERM, SIGHUP and SIGINT are blocked in every thread and read by a watchdog thread,
//!   together with the lifeline. On any of them, or on end-of-file, the watchdog forbids the
//!   worker's threads to start processes (a seccomp filter), kills every descendant, then the
//!   worker's process group, the worker with it (one step no fork in flight slips past); every
//!   few tens of milliseconds it also compares the worker's anonymous resident memory with the
//!   limit the parent set.
//!
//! A worker that finishes kills its remaining descendants before it leaves (see
//! [`finish`]), so a host that ignores SIGCHLD (and so cannot safely signal the worker's
//! process group after the kernel reaped it) is left with nothing running either.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::protocol::{WorkerMessage, MEMORY_LIMIT_ENV, PARENT_ENV};
use crate::supervise::process::{self, SignalFd};
use crate::sys;

/// The signals that mean "stop now": the parent's deadline (SIGTERM), its death (the
/// parent-death signal is SIGTERM too), and a terminal or session going away.
const STOP_SIGNALS: [i32; 3] = [libc::SIGTERM, libc::SIGHUP, libc::SIGINT];

/// How often the watchdog looks at the worker's memory. A driver leaking at memory bandwidth
/// can overshoot the limit by what it allocates in this time; reading one /proc file this
/// often costs nothing measurable.
const MEMORY_CHECK_INTERVAL: Duration = Duration::from_millis(25);

/// Exit status of a worker whose parent was gone before it could start.
const PARENT_GONE_STATUS: i32 = 1;

/// The worker's result channel, shared by the probe and the watchdog so their lines never mix.
pub type Channel = Arc<Mutex<dyn Write + Send>>;

/// Writes one protocol line to `channel` in one piece. A parent that stopped listening has
/// already given up on this worker: write errors are dropped.
pub fn send(channel: &Channel, message: &WorkerMessage) {
    if let Ok(mut line) = serde_json::to_vec(message) {
        line.push(b'\n');
        let mut out = channel.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = out.write_all(&line).and_then(|()| out.flush());
    }
}

/// What [`detach`] took from the caller's process state, for [`watch`].
#[derive(Debug)]
pub struct Detached {
    lifeline: Option<File>,
    stop: Option<SignalFd>,
}

/// Cuts the worker loose from what it inherited: descriptors, ignored and blocked signals, its
/// stdin. Call before anything else, while the worker is the only thread.
pub fn detach() -> Detached {
    process::close_descriptors_from(3);
    let lifeline = if process::is_pipe(libc::STDIN_FILENO) {
        process::duplicate(libc::STDIN_FILENO).ok().map(File::from)
    } else {
        None
    };
    // Vendor code and the programs it starts read nothing from the parent.
    let _ = process::redirect_to_dev_null(libc::STDIN_FILENO);
    process::reset_signal_dispositions(&[
        libc::SIGCHLD,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
    ]);
    let stop = process::set_blocked_signals(&STOP_SIGNALS)
        .and_then(|()| SignalFd::new(&STOP_SIGNALS))
        .ok();
    if stop.is_none() {
        let _ = process::set_blocked_signals(&[]);
    }
    Detached { lifeline, stop }
}

/// Arms the parent-death signal, checks the parent is still there, becomes a subreaper and
/// starts the watchdog. Never fails: a guard that cannot be fully set up (no thread can be
/// started under a low process limit) falls back to a parent-death SIGKILL, which still
/// ends the worker, though not what it started.
pub fn watch(detached: Detached, channel: Channel) {
    let watched = detached.stop.is_some();
    let death_signal = if watched {
        libc::SIGTERM
    } else {
        libc::SIGKILL
    };
    let _ = process::set_parent_death_signal(death_signal);
    let expected = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    let parent_gone = || expected.is_some_and(|pid| pid != process::parent_pid());
    if parent_gone() {
        sys::exit_immediately(PARENT_GONE_STATUS);
    }
    let _ = process::become_child_subreaper();
    let limit = std::env::var(MEMORY_LIMIT_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|limit| *limit > 0);
    let Some(stop) = detached.stop else { return };
    let lifeline = detached.lifeline;
    let started = std::thread::Builder::new()
        .name("hwspec-watchdog".into())
        .spawn(move || watchdog(&stop, lifeline.as_ref(), limit, &channel));
    if started.is_err() {
        let _ = process::set_blocked_signals(&[]);
        let _ = process::set_parent_death_signal(libc::SIGKILL);
        // The parent may have died while SIGTERM was still the signal asked for, and blocked.
        if parent_gone() {
            sys::exit_immediately(PARENT_GONE_STATUS);
        }
    }
}

/// How long a worker that is being stopped waits for its other threads to be done with any
/// fork in progress (see [`process::stop_other_threads`]), and then for its descendants to
/// die: on a loaded machine a thread may take tens of milliseconds to leave `fork`. Only a
/// driver thread that spins with every signal blocked, or a descendant stuck in the kernel,
/// costs all of it; the parent's SIGKILL follows a deadline's SIGTERM after 250 ms anyway.
const STOP_LIMIT: Duration = Duration::from_secs(1);
/// The same for a worker leaving after its report, which the parent expects to exit promptly.
const FINISH_LIMIT: Duration = Duration::from_millis(200);

/// Ends what the worker started, before it leaves. Only when there is something to end: a
/// worker whose driver started nothing leaves at once.
pub fn finish() {
    if process::has_children() {
        freeze(FINISH_LIMIT);
        process::kill_descendants(FINISH_LIMIT);
    }
}

/// Ends the worker and everything it started, whatever its other threads are doing.
fn end_all() -> ! {
    freeze(STOP_LIMIT);
    process::kill_descendants(STOP_LIMIT);
    process::kill_own_group()
}

/// Stops the process tree below the worker from changing: no thread may start a process any
/// more, and none is left halfway through doing so. What a sweep then finds is all there is.
fn freeze(limit: Duration) {
    let _ = process::forbid_new_processes();
    process::stop_other_threads(limit);
}

fn watchdog(stop: &SignalFd, lifeline: Option<&File>, limit: Option<u64>, channel: &Channel) {
    let timeout = limit.map(|_| MEMORY_CHECK_INTERVAL);
    loop {
        let mut fds = vec![stop.fd()];
        fds.extend(lifeline.map(AsFd::as_fd));
        let ready = match sys::wait_readable(&fds, timeout) {
            Ok(ready) => ready,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            // Nothing left to wait on; the parent-death signal still ends the worker.
            Err(_) => return,
        };
        if ready[0] && stop.read().is_ok() {
            end_all();
        }
        if let (Some(true), Some(mut parent)) = (ready.get(1), lifeline) {
            // The parent never writes: readable means its end closed, i.e. it is gone.
            let mut byte = [0u8; 1];
            if parent.read(&mut byte).map_or(true, |n| n == 0) {
                end_all();
            }
        }
        if let (Some(limit), Some(used)) = (limit, process::resident_anonymous_bytes()) {
            if used > limit {
                send(
                    channel,
                    &WorkerMessage::MemoryLimit {
                        used_bytes: used,
                        limit_bytes: limit,
                    },
                );
                end_all();
            }
        }
    }
}
