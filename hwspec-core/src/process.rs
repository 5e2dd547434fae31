//! The system calls that keep workers from outliving the process that asked, and from taking
//! more than their share: parent-death signals, subreaping, finding and killing descendants,
//! inherited descriptors, signal masks, resource limits and memory use.
//!
//! Like [`crate::sys`], this is where the `libc` calls live, behind safe functions. Killing a
//! process by pid is made safe against pid reuse by re-reading its start time through a pidfd
//! before signalling (see [`kill_descendants`]).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sys;

/// The id of this process's parent.
pub fn parent_pid() -> u32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    let pid = unsafe { libc::getppid() };
    u32::try_from(pid).unwrap_or(0)
}

/// Asks the kernel to send `signal` to this process when its parent ends. The request races
/// with the parent's end: check [`parent_pid`] afterwards.
pub fn set_parent_death_signal(signal: i32) -> io::Result<()> {
    let signal = libc::c_ulong::try_from(signal).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: PR_SET_PDEATHSIG takes a signal number by value; no memory is involved.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) })
}

/// Makes this process the one that inherits its orphaned descendants (those whose parent ended,
/// `setsid` or not) instead of init, so that they stay findable by [`kill_descendants`].
pub fn become_child_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes a flag by value; no memory is involved.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
}

/// Closes every descriptor from `first` on: what a caller left open without close-on-exec
/// must not reach a driver or the programs it starts.
pub fn close_descriptors_from(first: RawFd) {
    let Ok(first) = libc::c_uint::try_from(first) else {
        return;
    };
    // SAFETY: close_range only closes descriptors; none below `first` is touched.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, 0) };
    if rc == 0 {
        return;
    }
    // Kernels before 5.9: the descriptors this process has open, from /proc.
    let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|fd| u32::try_from(*fd).is_ok_and(|fd| fd >= first))
        .collect();
    for fd in open {
        // SAFETY: closing a descriptor number; the directory handle it may name is gone.
        unsafe {
            libc::close(fd);
        }
    }
}

/// Whether `fd` is a pipe (or FIFO).
pub fn is_pipe(fd: RawFd) -> bool {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat; an invalid fd only makes fstat fail.
    let rc = unsafe { libc::fstat(fd, &mut st) };
    rc == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO
}

/// A close-on-exec copy of `fd`, numbered 3 or above.
pub fn duplicate(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only adds a descriptor; failure is -1.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` was just returned by fcntl and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// Points descriptor `fd` at `/dev/null`.
pub fn redirect_to_dev_null(fd: RawFd) -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    // SAFETY: dup2 of a descriptor this process owns onto `fd`; it only changes the table.
    if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn signal_set(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is valid storage for sigemptyset to initialise.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid, writable storage for a signal set.
    unsafe {
        libc::sigemptyset(&mut set);
    }
    for &signal in signals {
        // SAFETY: `set` was initialised above; an invalid number only makes sigaddset fail.
        unsafe {
            libc::sigaddset(&mut set, signal);
        }
    }
    set
}

/// Sets the calling thread's signal mask to exactly `signals`. Threads started afterwards
/// inherit it, so signals blocked before any other thread exists are blocked process-wide.
pub fn set_blocked_signals(signals: &[i32]) -> io::Result<()> {
    let set = signal_set(signals);
    // SAFETY: `set` is an initialised signal set; the old mask is not asked for.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Gives each of `signals` its default disposition. `exec` keeps a signal the caller ignored
/// ignored (`nohup`, `trap '' CHLD`), and the processes a driver starts would inherit that.
pub fn reset_signal_dispositions(signals: &[i32]) {
    for &signal in signals {
        // SAFETY: installing SIG_DFL runs no code of ours and involves no memory.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
}

/// A descriptor that becomes readable when one of its signals arrives (they must be blocked).
#[derive(Debug)]
pub struct SignalFd(OwnedFd);

impl SignalFd {
    /// A close-on-exec signalfd for `signals`.
    pub fn new(signals: &[i32]) -> io::Result<SignalFd> {
        let set = signal_set(signals);
        // SAFETY: `set` is an initialised signal set; -1 asks for a new descriptor.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by signalfd and nothing else owns it.
        Ok(SignalFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The next pending signal's number.
    pub fn read(&self) -> io::Result<i32> {
        // SAFETY: signalfd_siginfo is plain old data, so all-zero is a valid value.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: `info` is valid for writing `size` bytes.
        let n = unsafe {
            libc::read(
                self.0.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if usize::try_from(n).ok() != Some(size) {
            return Err(io::Error::last_os_error());
        }
        i32::try_from(info.ssi_signo).map_err(|_| io::ErrorKind::InvalidData.into())
    }

    /// The descriptor, for [`wait_readable`].
    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.0.as_fd()
    }
}

/// Waits until one of `fds` is readable or hung up, or `timeout` passes (`None`: no limit).
/// Returns, per descriptor, whether it is ready.
pub fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let timeout_ms = timeout.map_or(-1, |t| {
        libc::c_int::try_from(t.as_millis().max(1)).unwrap_or(libc::c_int::MAX)
    });
    let count = libc::nfds_t::try_from(polled.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `polled` is a valid array of `count` pollfd structures for the call's length.
    let rc = unsafe { libc::poll(polled.as_mut_ptr(), count, timeout_ms) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(polled.iter().map(|p| p.revents != 0).collect())
}

/// Ends the process by `signal`, as if it had not been caught, so the parent sees which: the
/// signal gets its default action and is unblocked in this thread, then raised in it.
pub fn die_by_signal(signal: i32) -> ! {
    reset_signal_dispositions(&[signal]);
    let set = signal_set(&[signal]);
    // SAFETY: `set` is an initialised signal set; only this thread's mask changes.
    unsafe {
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
    sys::exit_immediately(128 + signal)
}

/// Whether this process has any child, running or ended and not yet reaped. A subreaper has
/// none exactly when no descendant of it is left.
pub fn has_children() -> bool {
    // SAFETY: siginfo_t is plain old data, so all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is valid and writable; WNOHANG|WNOWAIT neither blocks nor reaps.
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    !(rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}

/// Reaps every child of this process that has ended. Only for a process that owns all its
/// children (a worker, or the CLI once its probe is over): it may take a status someone else
/// waits for.
pub fn reap_ended_children() {
    loop {
        let mut status = 0;
        // SAFETY: `status` is valid and writable; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
    }
}

/// One line of `/proc/PID/stat`, as far as telling processes apart needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcStat {
    pid: u32,
    ppid: u32,
    /// Clock ticks after boot at which the process started: with the pid, a unique identity.
    start: u64,
    zombie: bool,
}

fn parse_stat(pid: u32, text: &str) -> Option<ProcStat> {
    // The command name is in parentheses and may itself hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        pid,
        zombie: *fields.first()? == "Z",
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

fn read_stat(pid: u32) -> Option<ProcStat> {
    let path = PathBuf::from(format!("/proc/{pid}/stat"));
    let text = sys::read_regular_text(&path, sys::SMALL_FILE_BYTES).ok()?;
    parse_stat(pid, &text)
}

/// Every process the kernel lists now.
fn process_table() -> Vec<ProcStat> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_stat)
        .collect()
}

/// The live (not zombie) descendants of `root` in `table`.
fn descendants(table: &[ProcStat], root: u32) -> Vec<ProcStat> {
    let mut found: Vec<ProcStat> = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for child in table.iter().filter(|p| p.ppid == parent && p.pid != root) {
            if !found.iter().any(|f| f.pid == child.pid) {
                found.push(*child);
                parents.push(child.pid);
            }
        }
    }
    found.retain(|p| !p.zombie);
    found
}

/// Sends SIGKILL to `target` only if the process holding its pid is still the one listed:
/// a pidfd pins the process, and its start time, read after, proves which one it is.
fn kill_if_same(target: &ProcStat) {
    let Ok(pid) = libc::pid_t::try_from(target.pid) else {
        return;
    };
    // SAFETY: pidfd_open takes a pid and flags by value and returns a new descriptor or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if raw < 0 {
        if io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS)
            && read_stat(target.pid).is_some_and(|now| now.start == target.start)
        {
            // Kernels before 5.3: no pidfd, so the check and the kill are two steps.
            // SAFETY: kill takes a pid and a signal by value; no memory is involved.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        return;
    }
    let Ok(raw) = RawFd::try_from(raw) else {
        return;
    };
    // SAFETY: `raw` was just returned by pidfd_open and nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw) };
    if read_stat(target.pid).is_some_and(|now| now.start == target.start) {
        // SAFETY: pidfd_send_signal with a valid pidfd, a signal, no siginfo and no flags.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
    }
}

/// Kills every live descendant of this process, including those that left its process group
/// or session (`setsid`, double fork): as a subreaper it inherits them all. Repeats until a
/// look at the process table finds none it has not already killed, since one may fork between
/// the look and the kill (a process with SIGKILL pending can no longer fork). Returns how many
/// were killed. Costs nothing when there is no child at all.
pub fn kill_descendants() -> usize {
    if !has_children() {
        return 0;
    }
    let me = std::process::id();
    let mut killed: Vec<(u32, u64)> = Vec::new();
    for _ in 0..64 {
        let fresh: Vec<ProcStat> = descendants(&process_table(), me)
            .into_iter()
            .filter(|p| !killed.contains(&(p.pid, p.start)))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for target in &fresh {
            kill_if_same(target);
            killed.push((target.pid, target.start));
        }
    }
    killed.len()
}

/// Anonymous memory (heap, private mappings) this process has resident, in bytes: what a
/// leaking driver grows, unlike its mapped libraries or the device memory it maps.
pub fn resident_anonymous_bytes() -> Option<u64> {
    let text = sys::read_regular_text(Path::new("/proc/self/statm"), sys::SMALL_FILE_BYTES).ok()?;
    let mut pages = text
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse::<u64>().ok());
    let (resident, shared) = (pages.next()??, pages.next()??);
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
    Some(resident.saturating_sub(shared) * page)
}

/// The soft resource limits a worker inherits that decide whether a driver can get the
/// descriptors, processes, threads and memory it needs: `(name, limit)`, `None` for unlimited.
pub fn inherited_limits() -> Vec<(&'static str, Option<u64>)> {
    let resources = [
        ("nofile", libc::RLIMIT_NOFILE),
        ("nproc", libc::RLIMIT_NPROC),
        ("as", libc::RLIMIT_AS),
        ("data", libc::RLIMIT_DATA),
        ("stack", libc::RLIMIT_STACK),
        ("memlock", libc::RLIMIT_MEMLOCK),
    ];
    resources
        .iter()
        .map(|&(name, resource)| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: `limit` is a valid, writable rlimit.
            let rc = unsafe { libc::getrlimit(resource, &mut limit) };
            let soft = (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur);
            (name, soft)
        })
        .collect()
}

/// Creates a new directory `PARENT/PREFIXxxxxxx` with a random, unpredictable suffix, mode
/// 0700, owned by this user (`mkdtemp`).
pub fn make_private_dir(parent: &Path, prefix: &str) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut template = parent
        .join(format!("{prefix}XXXXXX"))
        .into_os_string()
        .into_vec();
    if template.contains(&0) {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    template.push(0);
    // SAFETY: `template` is a writable, NUL-terminated buffer ending in six X's, which
    // mkdtemp replaces in place.
    let made = unsafe { libc::mkdtemp(template.as_mut_ptr().cast()) };
    if made.is_null() {
        return Err(io::Error::last_os_error());
    }
    template.pop();
    Ok(PathBuf::from(std::ffi::OsString::from_vec(template)))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 \
                    987654 1000 100 18446744073709551615";
        let stat = parse_stat(4242, line).unwrap();
        assert_eq!((stat.ppid, stat.start, stat.zombie), (17, 987654, false));
        assert!(parse_stat(1, "1 (init").is_none());
    }

    #[test]
    fn descendants_follow_parents_and_skip_zombies() {
        let p = |pid, ppid, zombie| ProcStat {
            pid,
            ppid,
            start: 1,
            zombie,
        };
        let table = [
            p(10, 1, false),
            p(11, 10, false),
            p(12, 11, false),
            p(13, 10, true),
            p(14, 1, false),
        ];
        let mut found: Vec<u32> = descendants(&table, 10).iter().map(|p| p.pid).collect();
        found.sort();
        assert_eq!(found, [11, 12]);
    }

    #[test]
    fn this_test_process_reads_its_own_facts() {
        assert!(resident_anonymous_bytes().unwrap() > 0);
        let me = read_stat(std::process::id()).unwrap();
        assert_eq!(me.ppid, parent_pid());
        assert!(inherited_limits().iter().any(|(name, _)| *name == "nofile"));
    }

    #[test]
    fn private_dirs_are_new_unpredictable_and_0700() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = crate::testing::TempDir::new("process-private-dir");
        let a = make_private_dir(tmp.path(), "x-").unwrap();
        let b = make_private_dir(tmp.path(), "x-").unwrap();
        assert_ne!(a, b);
        assert!(a.file_name().unwrap().to_str().unwrap().starts_with("x-"));
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
