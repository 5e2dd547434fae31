//! The validation: the SAXPY program compiled for the offload target and run with offloading
//! made mandatory, and the child processes that do it under a deadline.
//!
//! The worker's stdout is its result channel, so children never inherit it. Each child leads
//! its own process group, because gcc runs cc1, as, collect2, lto-wrapper and mkoffload below
//! it: on expiry the whole group is killed, not just the driver.

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::facts::OffloadCompiler;
use super::yes_no;
use crate::backends::common::KernelCache;
use crate::kernels::{build_log_excerpt, Saxpy, SAXPY_ELEMENTS, TOLERANCE};
use crate::model::{
    Compared, Device, DeviceKind, Reason, ReasonCode, Status, Validation, ValidationKind,
};
use crate::pipes::{PipeWatch, Watched};
use crate::sys;

/// The validation program; `HWSPEC_N` is defined on the command line.
const SAXPY_SOURCE: &str = include_str!("saxpy.c");

/// Starts the line the validation program prints its result on.
const RESULT_MARKER: &str = "hwspec-gcc-offload";

/// Limits for the children. The worker's kernel stage allows 20 s per device, and each device
/// re-enters that stage: a cold compile with LTO and mkoffload, then a run whose first launch
/// may JIT the PTX and initialise the driver.
pub(super) const VERSION_LIMIT: Duration = Duration::from_secs(5);
const COMPILE_LIMIT: Duration = Duration::from_secs(8);
const RUN_LIMIT: Duration = Duration::from_secs(8);

/// Bytes kept of each output stream; the rest is read and dropped so the child never blocks.
const OUTPUT_CAP: usize = 64 * 1024;

/// How long the output of a child that has exited is waited for when its pipe cannot be
/// watched (no descriptor was left to copy it). Otherwise it is waited for exactly while some
/// is on its way (see [`crate::pipes`]), however slow the reader threads are, and at most the
/// child's own limit again.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// How often the output of a child that has exited is looked at again.
const DRAIN_POLL: Duration = Duration::from_millis(10);

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

/// Runs `command` with no stdin and piped output, killing its process group after `limit`, or
/// as soon as the child has exited: what it left running in its group (holding the pipes open)
/// ends with it.
pub(crate) fn run_bounded(command: &mut Command, limit: Duration) -> std::io::Result<Finished> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let group = child.id();
    let stdout = Output::read(child.stdout.take());
    let stderr = Output::read(child.stderr.take());
    // Not reaped yet in any of the arms below when the group is signalled, so the group id is
    // still ours.
    let end = match wait_for_exit(group, limit) {
        Ok(true) => {
            sys::signal_group(group, libc::SIGKILL);
            End::Exited(child.wait()?)
        }
        Ok(false) => {
            sys::signal_group(group, libc::SIGKILL);
            let _ = child.wait();
            End::TimedOut(limit)
        }
        Err(err) => {
            sys::signal_group(group, libc::SIGKILL);
            let _ = child.wait();
            return Err(err);
        }
    };
    let until = Instant::now() + limit;
    let stdout = stdout.collect(until);
    let stderr = stderr.collect(until);
    Ok(Finished {
        end,
        stdout,
        stderr,
    })
}

/// Whether the child `pid` ended within `limit` (`false`: it is still running). It is left
/// unreaped either way, so its process group can still be signalled. A helper thread blocks in
/// the wait while this one blocks on the helper's answer with the deadline: no polling. Past
/// the deadline the helper is left to finish its wait once the caller kills the child.
fn wait_for_exit(pid: u32, limit: Duration) -> std::io::Result<bool> {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("hwspec-gcc-wait".into())
        .spawn(move || {
            let _ = sender.send(sys::wait_for_exit_without_reaping(pid));
        })?;
    match receiver.recv_timeout(limit) {
        Ok(waited) => waited.map(|()| true),
        Err(mpsc::RecvTimeoutError::Timeout) => Ok(false),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(std::io::Error::other(
            "the thread waiting for the child ended without an answer",
        )),
    }
}

/// One output stream of a child, read on a helper thread into a buffer of at most
/// [`OUTPUT_CAP`] bytes (the rest is read and dropped, so the child never blocks).
struct Output {
    kept: Arc<Mutex<Vec<u8>>>,
    /// Says the reader reached the end of the stream (or could not read on).
    done: Receiver<()>,
    watch: Option<PipeWatch>,
}

impl Output {
    /// Starts reading `pipe`. Without a pipe, or when no thread can be started (the pipe is
    /// then dropped), the output is empty.
    fn read<R: Read + AsFd + Send + 'static>(pipe: Option<R>) -> Output {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let (sender, done) = mpsc::channel();
        let mut watch = None;
        if let Some(pipe) = pipe {
            let (mut pipe, watched) = Watched::new(pipe);
            let into = Arc::clone(&kept);
            let reader = std::thread::Builder::new()
                .name("hwspec-gcc-output".into())
                .spawn(move || {
                    let mut buffer = [0u8; 8192];
                    while let Ok(n @ 1..) = pipe.read(&mut buffer) {
                        let mut kept = into.lock().unwrap_or_else(PoisonError::into_inner);
                        let room = OUTPUT_CAP.saturating_sub(kept.len());
                        kept.extend_from_slice(&buffer[..n.min(room)]);
                    }
                    let _ = sender.send(());
                });
            if reader.is_ok() {
                watch = watched;
            }
        }
        Output { kept, done, watch }
    }

    /// What was read, once the stream has ended or nothing more of it is on its way (a process
    /// that left the group may hold the pipe open), and at the latest at `until`. Everything
    /// the reader took is in the buffer before it reads again, so an idle reader with an empty
    /// pipe has nothing more to give.
    fn collect(self, until: Instant) -> String {
        let grace_end = Instant::now() + DRAIN_GRACE;
        loop {
            match self.done.recv_timeout(DRAIN_POLL) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            let pending = match &self.watch {
                Some(watch) => watch.pending(),
                None => now < grace_end,
            };
            if !pending || now >= until {
                break;
            }
        }
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&kept).into_owned()
    }
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

/// Compiles and runs the validation program for `compiler`'s target and judges `device`.
pub(super) fn device(compiler: &OffloadCompiler, device: &mut Device) {
    let Some(driver) = &compiler.driver else {
        return;
    };
    let triple = compiler.target.triple;
    let scratch = match Scratch::new() {
        Ok(scratch) => scratch,
        Err(err) => {
            device.fail(
                ReasonCode::BuildFailed,
                format!("no scratch directory for the offload program: {err}"),
            );
            return;
        }
    };
    let source = scratch.path().join("saxpy.c");
    let program = scratch.path().join("saxpy");
    if let Err(err) = std::fs::write(&source, SAXPY_SOURCE) {
        device.fail(
            ReasonCode::BuildFailed,
            format!("could not write {}: {err}", source.display()),
        );
        return;
    }
    // Compiling costs a probe about 150 ms, so the program is kept in the driver cache, keyed
    // by everything it depends on; a cached program that fails in any way is discarded and the
    // device judged again from a fresh compile.
    let gcc_version = device
        .properties
        .get("gcc_version")
        .cloned()
        .unwrap_or_default();
    let cache = KernelCache::entry(
        "gcc-offload",
        "saxpy",
        triple,
        &[
            SAXPY_SOURCE.as_bytes(),
            driver.as_os_str().as_encoded_bytes(),
            gcc_version.as_bytes(),
            triple.as_bytes(),
            SAXPY_ELEMENTS.to_string().as_bytes(),
        ],
    );
    let from_cache = cache
        .as_ref()
        .and_then(KernelCache::load)
        .is_some_and(|code| write_executable(&program, &code).is_ok());
    if from_cache {
        let before = device.clone();
        device.properties.insert(
            "compiled".into(),
            "yes (cached from an earlier probe)".into(),
        );
        run_program(compiler, device, scratch.path(), &program);
        if device.status != Status::Failed {
            return;
        }
        if let Some(cache) = &cache {
            cache.discard();
        }
        *device = before;
    }
    let mut compile = Command::new(driver);
    compile
        .current_dir(scratch.path())
        .args(["-fopenmp", &format!("-foffload={triple}"), "-O1"])
        .arg(format!("-DHWSPEC_N={SAXPY_ELEMENTS}"))
        .arg(&source)
        .arg("-o")
        .arg(&program);
    // gcc finds `ld`, and mkoffload finds `nvptx-none-as`, through PATH only.
    if std::env::var_os("PATH").is_none() {
        compile.env("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    let compiled = run_bounded(&mut compile, COMPILE_LIMIT);
    let compiled_ok = judge_compile(device, driver, triple, compiled);
    device
        .properties
        .insert("compiled".into(), yes_no(compiled_ok));
    if !compiled_ok {
        return;
    }
    if let (Some(cache), Ok(code)) = (&cache, std::fs::read(&program)) {
        cache.store(&code);
    }
    run_program(compiler, device, scratch.path(), &program);
}

/// Writes a cached program where it can be run: private to this user and executable.
fn write_executable(path: &Path, code: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(path)?
        .write_all(code)
}

/// Runs the built program with offloading made mandatory and judges what it reports.
fn run_program(compiler: &OffloadCompiler, device: &mut Device, dir: &Path, program: &Path) {
    let mut run = Command::new(program);
    run.current_dir(dir)
        .env_remove("OMP_DEFAULT_DEVICE")
        .env("OMP_TARGET_OFFLOAD", "MANDATORY");
    match run_bounded(&mut run, RUN_LIMIT) {
        Ok(finished) => judge_run(device, compiler, &finished, SAXPY_ELEMENTS),
        Err(err) => device.fail(
            ReasonCode::LaunchFailed,
            format!("could not start the compiled offload program: {err}"),
        ),
    }
}

/// Records a failed compile on `device`; `true` when the program was built.
pub(super) fn judge_compile(
    device: &mut Device,
    driver: &Path,
    triple: &str,
    compiled: std::io::Result<Finished>,
) -> bool {
    let command = format!("{} -fopenmp -foffload={triple}", driver.display());
    match compiled {
        Ok(finished) if finished.succeeded() => true,
        Ok(Finished {
            end: End::TimedOut(limit),
            ..
        }) => {
            device.fail(
                ReasonCode::Timeout,
                format!(
                    "kernel stage: {command} ran past {} s and was killed",
                    limit.as_secs()
                ),
            );
            false
        }
        Ok(finished) => {
            let log = build_log_excerpt(&finished.stderr, "(no compiler output)");
            device.fail(
                ReasonCode::BuildFailed,
                format!("{command} failed ({}): {log}", describe_end(&finished.end)),
            );
            false
        }
        Err(err) => {
            device.fail(
                ReasonCode::BuildFailed,
                format!("could not run {command}: {err}"),
            );
            false
        }
    }
}

/// What the validation program printed on its result line.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ProgramResult {
    /// `omp_get_num_devices()`.
    pub(super) devices: i64,
    /// Loop iterations that ran on the host.
    pub(super) host_iterations: u64,
    pub(super) elements: u64,
    pub(super) checksum: f64,
    pub(super) max_abs_error: f64,
    pub(super) elapsed_ms: f64,
}

pub(super) fn parse_result(stdout: &str) -> Option<ProgramResult> {
    let line = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix(RESULT_MARKER))?;
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
    };
    Some(ProgramResult {
        devices: field("devices")?.parse().ok()?,
        host_iterations: field("host_iterations")?.parse().ok()?,
        elements: field("elements")?.parse().ok()?,
        checksum: field("checksum")?.parse().ok()?,
        max_abs_error: field("max_abs_error")?.parse().ok()?,
        elapsed_ms: field("elapsed_ms")?.parse().ok()?,
    })
}

/// The first line libgomp printed (its fatal errors start with `libgomp: `).
pub(super) fn libgomp_line(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("libgomp:"))
}

/// Whether a libgomp error says there is no device at all (rather than a device that failed).
/// GCC 13 and later abort with "...MANDATORY, but only the host device is available" or
/// "...but device not found"; "...but device cannot be used for offloading" is a failure.
pub(super) fn says_no_device(libgomp: &str) -> bool {
    libgomp.contains("OMP_TARGET_OFFLOAD is set to MANDATORY")
        && (libgomp.contains("only the host device is available")
            || libgomp.contains("device not found"))
}

/// Judges the run of the compiled program, which was built for `elements` elements.
pub(super) fn judge_run(
    device: &mut Device,
    compiler: &OffloadCompiler,
    run: &Finished,
    elements: usize,
) {
    let target = compiler.target;
    let plugin_note = match compiler.plugin {
        Some(_) => String::new(),
        None => format!(
            "; {} is not installed (package {})",
            target.plugin, target.plugin_package
        ),
    };
    let result = parse_result(&run.stdout);
    if let Some(result) = &result {
        device
            .properties
            .insert("offload_devices".into(), result.devices.to_string());
        device
            .properties
            .insert("ran_on_device".into(), yes_no(result.host_iterations == 0));
    }
    match result {
        Some(result) if result.host_iterations == 0 => {
            // The program compares each element itself and hands back only their sum, not the
            // array that common::validation compares in place; so its reference is summed
            // here, for the size the program was built with.
            let reference: f64 = Saxpy::with_len(elements)
                .reference()
                .iter()
                .copied()
                .map(f64::from)
                .sum();
            let exact_sum = result.checksum == reference;
            let max_abs_error = if exact_sum || result.max_abs_error > 0.0 {
                result.max_abs_error
            } else {
                // Every element matched but the sum did not: the output was not what the
                // program compared, so nothing is known about its size.
                f64::INFINITY
            };
            device.validations.push(Validation {
                kind: ValidationKind::OffloadRegion(Compared {
                    elements: result.elements,
                    max_abs_error,
                }),
                passed: exact_sum
                    && result.elements == elements as u64
                    && max_abs_error <= TOLERANCE,
                elapsed_ms: result.elapsed_ms,
            });
            device.judge_validations();
            if device.status == Status::Validated {
                device.kind = DeviceKind::Gpu;
            }
        }
        Some(result) => {
            let mut message = format!(
                "the program compiled for {}, but libgomp found {} offload device(s) and ran the \
                 target region on the host{plugin_note}",
                target.triple, result.devices
            );
            if let Some(line) = libgomp_line(&run.stderr) {
                message.push_str(&format!(" ({line})"));
            }
            no_device(device, message);
        }
        None => match (&run.end, libgomp_line(&run.stderr)) {
            (End::TimedOut(limit), _) => device.fail(
                ReasonCode::Timeout,
                format!(
                    "kernel stage: the offload program ran past {} s and was killed",
                    limit.as_secs()
                ),
            ),
            (_, Some(line)) if says_no_device(line) => no_device(
                device,
                format!(
                    "the program compiled for {}, but {line}{plugin_note}",
                    target.triple
                ),
            ),
            (End::Exited(status), _) => {
                let code = if status.code().is_none() {
                    ReasonCode::Crashed
                } else {
                    ReasonCode::LaunchFailed
                };
                let log = build_log_excerpt(&run.stderr, "(no output)");
                device.fail(
                    code,
                    format!(
                        "the offload program {} without a result: {log}",
                        describe_end(&run.end)
                    ),
                );
            }
        },
    }
}

/// The state of a device whose program built but found no device to run on.
fn no_device(device: &mut Device, message: String) {
    device.status = Status::Enumerated;
    device.reason = Some(Reason::new(ReasonCode::NoDevice, message));
}

pub(super) fn describe_end(end: &End) -> String {
    use std::os::unix::process::ExitStatusExt;
    match end {
        End::TimedOut(limit) => format!("ran past {} s", limit.as_secs()),
        End::Exited(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("died from {}", crate::sys::signal_name(signal)),
            (None, None) => "ended abnormally".to_owned(),
        },
    }
}
