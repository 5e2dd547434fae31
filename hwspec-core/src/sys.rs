//! Small facts read from, and requests made to, the operating system, without vendor code.
//!
//! The few `libc` calls hwspec needs live here behind safe functions, so the rest of the crate
//! is safe code.

// The crate denies unsafe code outside a few files; this one holds the operating-system
// calls that the rest of the crate reaches through safe functions.
#![allow(unsafe_code)]

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bound for one-line kernel and configuration files (`/proc/sys/...`, `/sys/module/...`).
pub(crate) const SMALL_FILE_BYTES: u64 = 64 << 10;
/// Bound for whole-table kernel files (`/proc/cpuinfo` of a large machine, `/proc/self/maps`).
pub(crate) const PROC_TABLE_BYTES: u64 = 16 << 20;

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
    read_regular_text(Path::new("/proc/sys/kernel/hostname"), SMALL_FILE_BYTES)
        .ok()
        .and_then(|name| name.trim().split('.').next().map(str::to_owned))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The text of `/etc/group`, read with a bound (empty when unreadable), for [`group_name`].
pub(crate) fn etc_group() -> String {
    read_regular_text(Path::new("/etc/group"), PROC_TABLE_BYTES).unwrap_or_default()
}

/// The name of group `gid` in the text of `/etc/group`, or `gid N` when it is not listed: how
/// reasons name the group a device node belongs to (`render`, `video`).
pub(crate) fn group_name(etc_group: &str, gid: u32) -> String {
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
pub(crate) fn kernel() -> String {
    let read =
        |p: &str| read_regular_text(Path::new(p), SMALL_FILE_BYTES).map(|s| s.trim().to_owned());
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
pub(crate) fn divert_stdout_to_stderr() -> io::Result<File> {
    // Close-on-exec: a program a driver starts must not hold the result pipe open.
    // SAFETY: F_DUPFD_CLOEXEC on fd 1 has no memory-safety preconditions; failure is -1.
    let result_fd: RawFd = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_DUPFD_CLOEXEC, 3) };
    if result_fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: dup2 of two descriptors this process owns; it only changes the descriptor table.
    if unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: result_fd was just returned by fcntl, is open, and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(result_fd) })
}

/// Why `read_regular_file` refused or failed to read a file.
#[derive(Debug)]
pub enum BoundedReadError {
    /// The path (after following symlinks) is not a regular file: its kind (`directory`,
    /// `FIFO`, `character device`, ...). Reading one could block forever or never end.
    NotRegular(&'static str),
    /// The file holds more than the limit, in bytes.
    TooLarge(u64),
    /// Opening or reading failed.
    Io(io::Error),
}

impl fmt::Display for BoundedReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundedReadError::NotRegular(kind) => write!(f, "not a regular file but a {kind}"),
            BoundedReadError::TooLarge(limit) => write!(f, "larger than the {limit}-byte limit"),
            BoundedReadError::Io(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for BoundedReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BoundedReadError::Io(err) => Some(err),
            _ => None,
        }
    }
}

/// Reads the whole of `path`, refusing anything but a regular file and anything over `limit`
/// bytes. Opening never blocks (a FIFO or a device node is refused, not waited on) and the
/// read stops at `limit + 1` bytes whatever the file claims (a symlink to `/dev/zero`, a file
/// that grows while read). Files in `/proc` and `/sys` are regular and read normally.
pub(crate) fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, BoundedReadError> {
    let file = open_regular_file(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(BoundedReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(BoundedReadError::TooLarge(limit));
    }
    Ok(bytes)
}

/// Opens `path` for reading only when it is a regular file (after following symlinks). A FIFO,
/// a device node, a socket or a directory is refused without being opened for reading, so no
/// open blocks and no device sees an open (some act on one: a watchdog arms, a tape rewinds).
/// For files read as a stream (a `.deb` of any size, read only as far as its control member).
pub(crate) fn open_regular_file(path: &Path) -> Result<File, BoundedReadError> {
    // An O_PATH descriptor names the inode without opening it for I/O; reopening that very
    // inode through /proc leaves no window in which the path could be swapped for a device.
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
        .map_err(BoundedReadError::Io)?;
    check_regular(&handle)?;
    let read_only = |path: &Path| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
    };
    let file = match read_only(&Path::new("/proc/self/fd").join(handle.as_raw_fd().to_string())) {
        Ok(file) => file,
        // Without /proc (a bare chroot) the path is opened again; the check below still
        // refuses anything swapped in meanwhile before a byte is read.
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            read_only(path).map_err(BoundedReadError::Io)?
        }
        Err(err) => return Err(BoundedReadError::Io(err)),
    };
    check_regular(&file)?;
    Ok(file)
}

fn check_regular(file: &File) -> Result<(), BoundedReadError> {
    let kind = file.metadata().map_err(BoundedReadError::Io)?.file_type();
    if kind.is_file() {
        Ok(())
    } else {
        Err(BoundedReadError::NotRegular(file_kind(kind)))
    }
}

/// `read_regular_file` for text: invalid UTF-8 is replaced, never an error, since the callers
/// read kernel and configuration files whose odd bytes are data, not a reason to fail.
pub fn read_regular_text(path: &Path, limit: u64) -> Result<String, BoundedReadError> {
    read_regular_file(path, limit).map(|bytes| match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

/// The kind of a file that is not regular, in words.
pub(crate) fn file_kind(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Ends the process at once with `code`, running no atexit handlers and no destructors:
/// vendor teardown code is where many runtimes crash.
pub(crate) fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Takes an exclusive `flock` on `file` if no one else holds one: `Ok(false)` when someone
/// does. The lock goes with the open file, released when it is closed, also when its holder
/// dies, so a lock file left behind never blocks anyone.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    loop {
        // SAFETY: flock on a descriptor `file` owns for the whole call; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(false),
            _ => return Err(err),
        }
    }
}

/// Sends `signal` to every process in the process group `pgid`. A group that no longer exists
/// is not an error.
pub(crate) fn signal_group(pgid: u32, signal: i32) {
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
pub(crate) fn wait_for_exit_without_reaping(pid: u32) -> io::Result<()> {
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
pub(crate) fn signal_name(signal: i32) -> String {
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
pub(crate) fn loaded_library(soname_prefix: &str) -> Option<String> {
    let maps = read_regular_text(Path::new("/proc/self/maps"), PROC_TABLE_BYTES).ok()?;
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

/// The canonical path of the shared object that holds `address`, as the dynamic loader
/// knows it: how a driver's object (an OpenCL platform's dispatch table, a Vulkan device's
/// entry point, an EGL vendor's string) is traced back to the library that made it. `None` for
/// an address outside every loaded object.
pub(crate) fn file_containing(address: usize) -> Option<std::path::PathBuf> {
    if address == 0 {
        return None;
    }
    let address = address as *const std::ffi::c_void;
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: dladdr only compares `address` with the loaded objects' ranges, it never reads
    // through it (it is a number here, not a pointer this function was given to follow), and it writes at most one Dl_info into the zeroed buffer.
    let found = unsafe { libc::dladdr(address, info.as_mut_ptr()) };
    if found == 0 {
        return None;
    }
    // SAFETY: dladdr returned non-zero, so it filled `info`.
    let info = unsafe { info.assume_init() };
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname points at the loader's NUL-terminated copy of the object's name, which
    // lives as long as the object stays loaded (objects are never unloaded in a worker).
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let name = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()));
    std::fs::canonicalize(&name).ok().or(Some(name))
}

/// Creates a new directory `PARENT/PREFIXxxxxxx` with a random, unpredictable suffix, mode
/// 0700, owned by this user (`mkdtemp`).
pub(crate) fn make_private_dir(parent: &Path, prefix: &str) -> io::Result<PathBuf> {
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

/// Whether this process may open `path` for reading and writing, judged with its effective
/// ids as the kernel would judge an `open`, without opening it: opening an NVIDIA node can
/// have side effects.
pub(crate) fn may_read_write(path: &Path) -> bool {
    let Ok(path) = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
    else {
        return false;
    };
    // SAFETY: `path` is a NUL-terminated string that outlives the call; faccessat only
    // inspects the file system.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::R_OK | libc::W_OK,
            libc::AT_EACCESS,
        )
    };
    rc == 0
}

/// Alignment, and granule of the length, of a [`HugeFloats`]: the x86-64 and arm64 (4 KiB
/// pages) transparent huge page.
const HUGE_PAGE: usize = 2 << 20;

/// Floats in memory of their own, aligned and sized to 2 MiB and advised to be backed by
/// transparent huge pages (`madvise(MADV_HUGEPAGE)`, which Debian's default `madvise` mode
/// honours): the validation problems are megabytes that every kernel worker fills once, and
/// with 4 KiB pages the page faults cost more than the SAXPY (docs/performance-notes.md). Where
/// the kernel offers no huge pages the advice is ignored and the buffer is ordinary memory.
pub(crate) struct HugeFloats {
    ptr: std::ptr::NonNull<f32>,
    len: usize,
}

// SAFETY: HugeFloats owns its floats as a Vec<f32> would; sharing or sending it shares or
// sends plain f32s.
unsafe impl Send for HugeFloats {}
// SAFETY: as above; &HugeFloats gives only &[f32].
unsafe impl Sync for HugeFloats {}

impl HugeFloats {
    fn layout(len: usize) -> Option<std::alloc::Layout> {
        let bytes = len.checked_mul(std::mem::size_of::<f32>())?;
        let rounded = bytes.checked_next_multiple_of(HUGE_PAGE)?;
        std::alloc::Layout::from_size_align(rounded, HUGE_PAGE).ok()
    }

    /// `len` floats, each `f(index)`. Allocation failure ends the process, as it does for a
    /// `Vec`.
    pub(crate) fn from_fn(len: usize, mut f: impl FnMut(usize) -> f32) -> HugeFloats {
        HugeFloats::written(len, |ptr| {
            for i in 0..len {
                // SAFETY: `i < len` and `ptr` is valid for writes of `len` floats; writing
                // initialises the float without reading the uninitialised memory.
                unsafe { ptr.add(i).write(f(i)) };
            }
        })
    }

    /// `len` floats repeating `pattern` (zeros for an empty pattern).
    pub(crate) fn repeating(len: usize, pattern: &[f32]) -> HugeFloats {
        // SAFETY: `written` hands over memory valid for writes of `len` floats, aligned, and
        // not overlapping `pattern`, which lives elsewhere.
        HugeFloats::written(len, |ptr| unsafe { write_repeating(ptr, len, pattern) })
    }

    /// `len` zeros.
    pub(crate) fn zeroed(len: usize) -> HugeFloats {
        HugeFloats::repeating(len, &[])
    }

    /// Allocates `len` floats and has `write` initialise every one of them through the
    /// pointer it is given.
    fn written(len: usize, write: impl FnOnce(*mut f32)) -> HugeFloats {
        let Some(layout) = HugeFloats::layout(len).filter(|l| l.size() > 0) else {
            return HugeFloats {
                ptr: std::ptr::NonNull::dangling(),
                len: 0,
            };
        };
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc(layout) };
        let Some(ptr) = std::ptr::NonNull::new(raw.cast::<f32>()) else {
            std::alloc::handle_alloc_error(layout)
        };
        // The advice comes before the first write, which is when pages are chosen: a zeroing
        // allocation would already have faulted every 4 KiB page in.
        // SAFETY: the range is the allocation just made, aligned to HUGE_PAGE; the advice
        // changes how it is backed, never its contents. Its result is ignored: without huge
        // pages the memory works as it is.
        unsafe { libc::madvise(raw.cast(), layout.size(), libc::MADV_HUGEPAGE) };
        write(ptr.as_ptr());
        HugeFloats { ptr, len }
    }
}

/// Writes `len` floats at `dst`: `pattern` over and over, in whole copies (zeros when the
/// pattern is empty). Filling a buffer this way runs at memory speed.
///
/// # Safety
/// `dst` must be valid for writes of `len` floats, aligned for `f32`, and must not overlap
/// `pattern`.
pub(crate) unsafe fn write_repeating(dst: *mut f32, len: usize, pattern: &[f32]) {
    if pattern.is_empty() {
        // SAFETY: the caller's promise covers `len` floats at `dst`; all-zero bytes are 0.0.
        unsafe { std::ptr::write_bytes(dst, 0, len) };
        return;
    }
    let mut done = 0;
    while done < len {
        let n = pattern.len().min(len - done);
        // SAFETY: `done + n <= len`, so the destination range is inside what the caller
        // promised, and it does not overlap `pattern`.
        unsafe { std::ptr::copy_nonoverlapping(pattern.as_ptr(), dst.add(done), n) };
        done += n;
    }
}

impl std::ops::Deref for HugeFloats {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        // SAFETY: `ptr` holds `len` initialised floats (zeroed, then written), or is dangling
        // with `len` 0; the allocation lives as long as self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for HugeFloats {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in deref, and &mut self makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<'a> IntoIterator for &'a HugeFloats {
    type Item = &'a f32;
    type IntoIter = std::slice::Iter<'a, f32>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for HugeFloats {
    fn eq(&self, other: &HugeFloats) -> bool {
        self[..] == other[..]
    }
}

impl Clone for HugeFloats {
    fn clone(&self) -> HugeFloats {
        HugeFloats::repeating(self.len, self)
    }
}

impl fmt::Debug for HugeFloats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HugeFloats({} floats)", self.len)
    }
}

impl Drop for HugeFloats {
    fn drop(&mut self) {
        if let Some(layout) = HugeFloats::layout(self.len).filter(|l| l.size() > 0) {
            // SAFETY: allocated in `zeroed` with this very layout (the same length gives the
            // same layout), and not used again.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast(), layout) };
        }
    }
}

/// Waits until one of `fds` is readable or hung up, or `timeout` passes (`None`: no limit;
/// zero: only looks). Returns, per descriptor, whether it is ready.
pub(crate) fn wait_readable(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Vec<bool>> {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // Rounded up, so that a short wait never becomes a busy loop; zero only looks.
    let timeout_ms = timeout.map_or(-1, |t| {
        libc::c_int::try_from(t.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX)
    });
    let count = libc::nfds_t::try_from(polled.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `polled` is a valid array of `count` pollfd structures for the call's length.
    let rc = unsafe { libc::poll(polled.as_mut_ptr(), count, timeout_ms) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(polled.iter().map(|p| p.revents != 0).collect())
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
    fn bounded_reads_refuse_what_could_block_or_never_end() {
        let tmp = crate::testing::TempDir::new("bounded-read");
        let dir = tmp.path().to_path_buf();
        let fifo = dir.join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: c_path is a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = read_regular_file(&fifo, 10).unwrap_err();
        assert!(matches!(err, BoundedReadError::NotRegular("FIFO")), "{err}");

        let zero = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let err = read_regular_file(&zero, 10).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file but a character device");

        let big = dir.join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        assert!(matches!(
            read_regular_file(&big, 10),
            Err(BoundedReadError::TooLarge(10))
        ));
        assert_eq!(read_regular_file(&big, 11).unwrap().len(), 11);
        assert!(matches!(
            read_regular_file(&dir, 10),
            Err(BoundedReadError::NotRegular("directory"))
        ));
        assert!(matches!(
            read_regular_file(&dir.join("missing"), 10),
            Err(BoundedReadError::Io(_))
        ));
    }

    #[test]
    fn bounded_reads_read_proc_files_and_replace_bad_utf8() {
        let maps = read_regular_text(Path::new("/proc/self/maps"), 1 << 24).unwrap();
        assert!(!maps.is_empty());
        let tmp = crate::testing::TempDir::new("bounded-text");
        let dir = tmp.path();
        std::fs::write(dir.join("odd"), b"a\xffb").unwrap();
        assert_eq!(
            read_regular_text(&dir.join("odd"), 10).unwrap(),
            "a\u{fffd}b"
        );
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

    #[test]
    fn private_dirs_are_new_unpredictable_and_0700() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = crate::testing::TempDir::new("sys-private-dir");
        let a = make_private_dir(tmp.path(), "x-").unwrap();
        let b = make_private_dir(tmp.path(), "x-").unwrap();
        assert_ne!(a, b);
        assert!(a.file_name().unwrap().to_str().unwrap().starts_with("x-"));
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn huge_floats_hold_what_was_written_and_start_aligned() {
        let floats = HugeFloats::from_fn(1000, |i| i as f32 * 0.5);
        assert_eq!(floats.len(), 1000);
        assert_eq!(floats[999], 499.5);
        assert_eq!(floats.as_ptr() as usize % HUGE_PAGE, 0);
        assert_eq!(floats.clone()[..], floats[..]);
        assert!(HugeFloats::zeroed(0).is_empty());
        assert!(HugeFloats::zeroed(3).iter().all(|&f| f == 0.0));
    }

    #[test]
    fn repeating_floats_cut_the_last_copy_short() {
        let floats = HugeFloats::repeating(7, &[1.0, 2.0, 3.0]);
        assert_eq!(floats[..], [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]);
        assert_eq!(HugeFloats::repeating(2, &[4.0, 5.0, 6.0])[..], [4.0, 5.0]);
    }
}
