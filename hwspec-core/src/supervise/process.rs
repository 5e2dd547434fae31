//! The system calls that keep workers from outliving the process that asked, and from taking
//! more than their share: parent-death signals, subreaping, finding and killing descendants,
//! inherited descriptors, signal masks, resource limits and memory use.
//!
//! Like [`crate::sys`], this is where the `libc` calls live, behind safe functions. Killing a
//! process by pid is made safe against pid reuse by re-reading its start time through a pidfd
//! before signalling (see [`kill_descendants`]).

// The crate denies unsafe code outside a few files; this one holds the process-control
// system calls, behind safe functions.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sys;

/// The id of this process's parent.
pub(crate) fn parent_pid() -> u32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    let pid = unsafe { libc::getppid() };
    u32::try_from(pid).unwrap_or(0)
}

/// Asks the kernel to send `signal` to this process when its parent ends. The request races
/// with the parent's end: check [`parent_pid`] afterwards.
pub(crate) fn set_parent_death_signal(signal: i32) -> io::Result<()> {
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
pub(crate) fn close_descriptors_from(first: RawFd) {
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
pub(crate) fn is_pipe(fd: RawFd) -> bool {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat; an invalid fd only makes fstat fail.
    let rc = unsafe { libc::fstat(fd, &mut st) };
    rc == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO
}

/// A close-on-exec copy of `fd`, numbered 3 or above.
pub(crate) fn duplicate(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only adds a descriptor; failure is -1.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` was just returned by fcntl and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// Points descriptor `fd` at `/dev/null`.
pub(crate) fn redirect_to_dev_null(fd: RawFd) -> io::Result<()> {
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
pub(crate) fn set_blocked_signals(signals: &[i32]) -> io::Result<()> {
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
pub(crate) fn reset_signal_dispositions(signals: &[i32]) {
    for &signal in signals {
        // SAFETY: installing SIG_DFL runs no code of ours and involves no memory.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
}

/// A descriptor that becomes readable when one of its signals arrives (they must be blocked).
#[derive(Debug)]
pub(crate) struct SignalFd(OwnedFd);

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

    /// The descriptor, for [`sys::wait_readable`].
    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.0.as_fd()
    }
}

/// Whether this process has any child, running or ended and not yet reaped. A subreaper has
/// none exactly when no descendant of it is left.
pub(crate) fn has_children() -> bool {
    // SAFETY: siginfo_t is plain old data, so all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is valid and writable; WNOHANG|WNOWAIT neither blocks nor reaps.
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
        )
    };
    !(rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}

/// Reaps every child of this process that has ended. Only for a process that owns all its
/// children (a worker, or the CLI once its probe is over): it may take a status someone else
/// waits for.
fn reap_ended_children() {
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

/// Kills every descendant of this process, including those that left its process group or
/// session (`setsid`, double fork): as a subreaper it inherits them all. Reaps them too, so it
/// is only for a process that owns all its children (a worker, or the CLI once its probe is
/// over), never for a library's host.
///
/// One look at `/proc` is not enough: a process listed as it was when the directory was read
/// may have forked since (a child that then lists as a zombie, its own child not at all), and
/// one may fork between the look and the kill. So it repeats until this process has no child
/// left, ended or not, which for a subreaper means no descendant at all, or until `limit` (a
/// process stuck in the kernel cannot die). Returns how many it killed; costs nothing when
/// there is no child.
pub fn kill_descendants(limit: Duration) -> usize {
    let me = std::process::id();
    let deadline = std::time::Instant::now() + limit;
    let mut killed: Vec<(u32, u64)> = Vec::new();
    loop {
        reap_ended_children();
        if !has_children() || std::time::Instant::now() >= deadline {
            return killed.len();
        }
        let fresh: Vec<ProcStat> = descendants(&process_table(), me)
            .into_iter()
            .filter(|p| !killed.contains(&(p.pid, p.start)))
            .collect();
        for target in &fresh {
            kill_if_same(target);
            killed.push((target.pid, target.start));
        }
        if fresh.is_empty() {
            // What was killed has yet to end, or the look raced a fork: look again shortly.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The audit architecture of this build's system calls, as seccomp reports it.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

/// The system calls that create a process or thread.
#[cfg(target_arch = "x86_64")]
const PROCESS_CREATION: &[libc::c_long] = &[
    libc::SYS_clone,
    libc::SYS_clone3,
    libc::SYS_fork,
    libc::SYS_vfork,
];
#[cfg(target_arch = "aarch64")]
const PROCESS_CREATION: &[libc::c_long] = &[libc::SYS_clone, libc::SYS_clone3];

/// From now on, no thread of this process can start a process or thread (they fail with
/// EPERM), so that the descendants a sweep finds are all there will be: a process that is
/// ending calls this first, since a driver's thread may fork at any moment. A seccomp filter,
/// applied to every thread at once; also denies system calls of any other ABI (x32, 32-bit),
/// which could fork around it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn forbid_new_processes() -> io::Result<()> {
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let (load, ret) = (
        libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
        libc::BPF_RET | libc::BPF_K,
    );
    let (equal, at_least) = (
        libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
        libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K,
    );
    // seccomp_data: the system call number at offset 0, the architecture at 4. Each test
    // jumps to the last instruction (deny) when it matches; `deny` marks which do.
    let mut program = vec![stmt(load, 4)];
    let deny_when_unequal = program.len();
    program.push(stmt(equal, AUDIT_ARCH));
    program.push(stmt(load, 0));
    let mut deny_when_equal = vec![program.len()];
    program.push(stmt(at_least, 0x4000_0000));
    for &call in PROCESS_CREATION {
        deny_when_equal.push(program.len());
        program.push(stmt(
            equal,
            u32::try_from(call).map_err(|_| io::ErrorKind::InvalidInput)?,
        ));
    }
    program.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
    program.push(stmt(ret, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32));
    let deny = program.len() - 1;
    let offset = |at: usize| u8::try_from(deny - at - 1).map_err(|_| io::ErrorKind::InvalidInput);
    for at in deny_when_equal {
        program[at].jt = offset(at)?;
    }
    program[deny_when_unequal].jf = offset(deny_when_unequal)?;
    let filter = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| io::ErrorKind::InvalidInput)?,
        filter: program.as_mut_ptr(),
    };
    // Without root, a filter needs no_new_privs; this process is ending anyway.
    // SAFETY: PR_SET_NO_NEW_PRIVS takes a flag by value; no memory is involved.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
    // SAFETY: `filter` points at `program`, a valid BPF program of `filter.len` instructions
    // that outlives the call (the kernel copies it).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &filter as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// On other architectures there is no filter: a sweep is as good as it gets.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn forbid_new_processes() -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The handler that parks a thread for good, blocked in `pause`.
extern "C" fn park(_: libc::c_int) {
    loop {
        // SAFETY: pause is async-signal-safe and has no preconditions.
        unsafe {
            libc::pause();
        }
    }
}

/// What one thread is doing, from `/proc/self/task/TID/syscall`.
fn may_be_starting_a_process(tid: &str) -> bool {
    let path = PathBuf::from(format!("/proc/self/task/{tid}/syscall"));
    let Ok(text) = sys::read_regular_text(&path, sys::SMALL_FILE_BYTES) else {
        // A thread that ended, or a kernel that does not say: nothing to wait for.
        return false;
    };
    match text
        .split_whitespace()
        .next()
        .map(str::parse::<libc::c_long>)
    {
        // Blocked in a system call: a danger only if it is one that starts a process.
        Some(Ok(call)) => call >= 0 && PROCESS_CREATION.contains(&call),
        // `running`: on a CPU, perhaps inside such a call.
        _ => true,
    }
}

/// Parks every other thread of this process in a signal handler that never returns, then
/// waits, at most `limit`, until no thread is inside a system call that starts a process (a
/// thread takes the signal only when such a call returns, so a parked thread is done with it).
/// With [`forbid_new_processes`] first, the process tree below this process then stops
/// changing. A thread that blocks the signal counts once it sleeps in another system call; one
/// that spins is waited for until `limit`. Returns whether the wait ended before it.
pub(crate) fn stop_other_threads(limit: Duration) -> bool {
    let signal = libc::SIGRTMAX();
    // SAFETY: sigaction is plain old data, so all-zero is a valid value.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = park as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: `action.sa_mask` is valid storage for a signal set.
    unsafe {
        libc::sigfillset(&mut action.sa_mask);
    }
    // SAFETY: `action` is a fully initialised sigaction whose handler only calls pause; the
    // old action is not asked for.
    unsafe {
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
    // SAFETY: getpid and gettid have no preconditions and cannot fail.
    let (me, this_thread) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid)) };
    let others: Vec<String> = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|tid| {
            tid.parse::<libc::c_long>()
                .is_ok_and(|tid| tid != this_thread)
        })
        .collect();
    for tid in &others {
        if let Ok(tid) = tid.parse::<libc::c_long>() {
            // SAFETY: tgkill signals one thread of this process; no memory is involved.
            unsafe {
                libc::syscall(libc::SYS_tgkill, me, tid, signal);
            }
        }
    }
    let deadline = std::time::Instant::now() + limit;
    while others.iter().any(|tid| may_be_starting_a_process(tid)) {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// Kills this process's whole process group, itself included, in one step: the kernel attaches
/// a new child to the group and delivers a group signal under one lock, so a fork in another
/// thread either completes before (and its child dies too) or fails. Only a process that leads
/// its group (as hwspec starts its workers) does so; any other just exits, since the group is
/// then its caller's.
pub(crate) fn kill_own_group() -> ! {
    // SAFETY: getpgrp and getpid have no preconditions and cannot fail.
    let leader = unsafe { libc::getpgrp() == libc::getpid() };
    if leader {
        // SAFETY: kill(0, ...) signals this process's group; no memory is involved.
        unsafe {
            libc::kill(0, libc::SIGKILL);
        }
    }
    sys::exit_immediately(128 + libc::SIGKILL)
}

/// Anonymous memory (heap, private mappings) this process has resident, in bytes: what a
/// leaking driver grows, unlike its mapped libraries or the device memory it maps.
pub(crate) fn resident_anonymous_bytes() -> Option<u64> {
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
pub(crate) fn inherited_limits() -> Vec<(&'static str, Option<u64>)> {
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

    const CHILD: crate::testing::ChildRunner = crate::testing::ChildRunner {
        module: module_path!(),
        entry: "forbidding_entry",
        switch: "HWSPEC_TEST_PROCESS_CHILD",
        level_var: "HWSPEC_TEST_PROCESS_LEVEL",
        marker: "HWSPEC-PROCESS-RESULT:",
        cleared: &[],
    };

    /// Entry test: in a child process of this binary, forbids process creation and says what
    /// still works. Returns at once in an ordinary run.
    #[test]
    fn forbidding_entry() {
        if CHILD.mode().is_none() {
            return;
        }
        let before = std::process::Command::new("/bin/true").status().is_ok();
        // A thread busy in a system call when the process ends: it must be parked.
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(1));
        });
        let forbidden = forbid_new_processes().is_ok();
        let process = std::process::Command::new("/bin/true").status();
        let thread = std::thread::Builder::new().spawn(|| ());
        let parked = stop_other_threads(Duration::from_secs(5));
        let errno = |e: &io::Error| e.raw_os_error().unwrap_or(0);
        let answer = (
            before,
            forbidden,
            process.map_err(|e| errno(&e)).err(),
            thread.map_err(|e| errno(&e)).err(),
            parked,
        );
        crate::testing::print_marked(CHILD.marker, &answer);
        // The test harness's own threads are parked now: leave without them.
        sys::exit_immediately(0);
    }

    #[test]
    fn a_process_that_forbids_process_creation_starts_neither_processes_nor_threads() {
        let answer: (bool, bool, Option<i32>, Option<i32>, bool) = CHILD
            .run("forbid", None, crate::testing::NO_ENV)
            .json(CHILD.marker);
        assert_eq!(
            answer,
            (true, true, Some(libc::EPERM), Some(libc::EPERM), true),
            "before, filter installed, process error, thread error, other threads parked"
        );
    }
}
