//! Small facts read from, and requests made to, the operating system, without vendor code.
//!
//! The few `libc` calls hwspec needs live here behind safe functions, so the rest of the crate
//! is safe code.

use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, RawFd};

/// Whether the process runs with effective uid 0.
pub fn is_root() -> bool {
    effective_uid() == 0
}

/// The effective user id of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// This machine's host name up to its first dot, as Slurm names nodes; `localhost` when the
/// kernel does not say.
pub fn short_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|name| name.trim().split('.').next().map(str::to_owned))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The name of group `gid` in the text of `/etc/group`, or `gid N` when it is not listed: how
/// reasons name the group a device node belongs to (`render`, `video`).
pub fn group_name(etc_group: &str, gid: u32) -> String {
    etc_group
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id: u32 = fields.nth(1)?.parse().ok()?;
            (id == gid).then(|| name.to_owned())
        })
        .unwrap_or_else(|| format!("gid {gid}"))
}

/// Kernel name and release, as `uname -sr` prints them.
pub fn kernel() -> String {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_owned());
    match (
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
    ) {
        (Ok(os), Ok(release)) => format!("{os} {release}"),
        _ => "unknown".to_owned(),
    }
}

/// Makes this process's standard output an alias of its standard error and returns a `File`
/// for the original standard output.
///
/// A worker calls this first: its result channel is the pipe it was given as stdout, and
/// anything a vendor library prints to stdout afterwards lands in the stderr pipe instead of
/// corrupting the result.
pub fn divert_stdout_to_stderr() -> io::Result<File> {
    // SAFETY: dup on fd 1 has no memory-safety preconditions; failure is reported through -1.
    let result_fd: RawFd = unsafe { libc::dup(libc::STDOUT_FILENO) };
    if result_fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: dup2 of two descriptors this process owns; it only changes the descriptor table.
    if unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: result_fd was just returned by dup, is open, and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(result_fd) })
}

/// Ends the process at once with `code`, running no atexit handlers and no destructors:
/// vendor teardown code is where many runtimes crash.
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Sends `signal` to every process in the process group `pgid`. A group that no longer exists
/// is not an error.
pub fn signal_group(pgid: u32, signal: i32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Sets SIGCHLD back to its default disposition. For programs (the CLI), not the library: a
/// library does not change process-wide signal state on its caller's behalf.
pub fn restore_default_sigchld() {
    // SAFETY: installing SIG_DFL for SIGCHLD runs no handler code and involves no memory.
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
    }
}

/// Blocks until the child `pid` has terminated, without reaping it: the pid (and its process
/// group id) stay reserved, so the caller can still signal the group safely before reaping.
pub fn wait_for_exit_without_reaping(pid: u32) -> io::Result<()> {
    let pid = libc::id_t::from(pid);
    loop {
        // SAFETY: siginfo_t is plain old data, so all-zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t; WNOWAIT leaves the child waitable.
        let rc =
            unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The name of a signal number (`SIGSEGV`), or `signal N` when it has no common name.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

/// The path of the first shared object mapped into this process whose file name starts with
/// `soname_prefix` (e.g. `libOpenCL.so`). Read from `/proc/self/maps`, so it names the file the
/// dynamic loader really chose, whatever search path led there.
pub fn loaded_library(soname_prefix: &str) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    find_mapped(&maps, soname_prefix)
}

fn find_mapped(maps: &str, soname_prefix: &str) -> Option<String> {
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| {
            path.starts_with('/')
                && path
                    .rsplit('/')
                    .next()
                    .is_some_and(|file| file.starts_with(soname_prefix))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mapped_library_by_prefix() {
        let maps = "\
7f00-7f01 r--p 00000000 fe:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6
7f02-7f03 r-xp 00000000 fe:01 2 /usr/lib/x86_64-linux-gnu/libOpenCL.so.1.0.0
7f04-7f05 rw-p 00000000 00:00 0 [heap]
";
        assert_eq!(
            find_mapped(maps, "libOpenCL.so").as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libOpenCL.so.1.0.0")
        );
        assert_eq!(find_mapped(maps, "libvulkan.so"), None);
    }

    #[test]
    fn signal_names_are_the_usual_ones() {
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
        assert_eq!(signal_name(63), "signal 63");
    }

    #[test]
    fn this_process_has_libc_mapped() {
        assert!(loaded_library("libc.so").is_some() || loaded_library("libc-").is_some());
    }
}
