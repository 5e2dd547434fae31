//! GCC's OpenMP offloading (`gcc -fopenmp -foffload=<target>`) to NVIDIA (nvptx) and AMD
//! (amdgcn) GPUs, as Debian's `gcc-N-offload-nvptx` and `gcc-N-offload-amdgcn` provide it.
//!
//! No library is loaded here. Detection looks for the offload compilers and libgomp plugins in
//! the file system ([`detect`]); validation compiles a SAXPY in a `#pragma omp target` region
//! with the system's `gcc-N` and runs it with `OMP_TARGET_OFFLOAD=MANDATORY`, both as child
//! processes under deadlines ([`run`]). libgomp loads its plugin, and the plugin libcuda or the
//! HSA runtime, in that child, so a driver that crashes or hangs takes only the child down.
//!
//! Which GPU a target region runs on is unknown until one has run there, so a device is
//! `other` until validated and `gpu` after. A compiled program that ran on the host is the
//! usual state of a machine without the GPU: `enumerated` with `no-device` and `compiled: yes`.

mod detect;
mod run;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::backends::common::KernelCache;
use crate::backends::{Backend, Variables};
use crate::kernels::{build_log_excerpt, Saxpy, SAXPY_ELEMENTS, TOLERANCE};
use crate::model::Capability;
use crate::model::{
    BackendName, BackendReport, Compared, Device, DeviceKind, Level, Reason, ReasonCode, Status,
    Validation, ValidationKind,
};
use crate::protocol::{Progress, Stage};

pub use detect::Layout;
use detect::{detect, OffloadCompiler};
use run::{run_bounded, End, Finished, Scratch};

/// The validation program; `HWSPEC_N` is defined on the command line.
const SAXPY_SOURCE: &str = include_str!("saxpy.c");

/// Starts the line the validation program prints its result on.
const RESULT_MARKER: &str = "hwspec-gcc-offload";

/// Limits for the children. The worker's kernel stage allows 20 s per device, and each device
/// re-enters that stage: a cold compile with LTO and mkoffload, then a run whose first launch
/// may JIT the PTX and initialise the driver.
const VERSION_LIMIT: Duration = Duration::from_secs(5);
const COMPILE_LIMIT: Duration = Duration::from_secs(8);
const RUN_LIMIT: Duration = Duration::from_secs(8);

/// Probes GCC's OpenMP offloading.
#[derive(Debug)]
pub struct GccOffloadBackend;

impl Backend for GccOffloadBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(&Layout::system(), level, progress)
    }

    /// `gcc-offload-ARCH` for each target whose region really ran on the device: validated,
    /// even at level quick, where a compiled program proves nothing.
    fn capabilities(&self, _report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        proven
            .iter()
            .filter(|d| d.status == Status::Validated)
            .filter_map(|d| d.arch.as_deref())
            .map(|arch| Capability::flag(format!("gcc-offload-{arch}")))
            .collect()
    }

    /// The variables of the runtimes libgomp's plugins load: libcuda for nvptx, the HSA
    /// runtime for amdgcn.
    fn variables(&self) -> Variables {
        Variables {
            runtime: &["CUDA_", "HSA_", "ROCR_"],
            selectors: &["CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"],
            ..Variables::default()
        }
    }
}

/// Probes the offload compilers installed under `layout`.
pub fn probe_with(layout: &Layout, level: Level, progress: &mut dyn Progress) -> BackendReport {
    progress.stage(Stage::Enumerate);
    let installation = detect(layout);
    if installation.compilers.is_empty() {
        let versions = if installation.gcc_versions.is_empty() {
            vec!["N".to_owned()]
        } else {
            installation.gcc_versions.clone()
        };
        let packages: Vec<String> = versions
            .iter()
            .flat_map(|v| detect::TARGETS.iter().map(move |t| (v, t)))
            .map(|(v, t)| format!("gcc-{v}-{}", t.compiler_package))
            .collect();
        return BackendReport::absent(
            BackendName::GccOffload,
            ReasonCode::LibraryNotFound,
            format!(
                "no GCC offload compiler installed ({})",
                packages.join(", ")
            ),
        );
    }
    let mut report = BackendReport::new(BackendName::GccOffload, Status::Enumerated, None);
    report
        .properties
        .insert("gcc_versions".into(), installation.gcc_versions.join(", "));
    if let Some(default) = &installation.default_version {
        report
            .properties
            .insert("default_gcc_version".into(), default.clone());
    }
    report
        .properties
        .insert("source".into(), layout.root.display().to_string());
    report.devices = installation.compilers.iter().map(describe).collect();
    report.settle_status();
    if level >= Level::Standard {
        for (compiler, index) in installation.compilers.iter().zip(0..) {
            progress.partial(&report);
            progress.stage(Stage::Kernel);
            validate(compiler, &mut report.devices[index]);
        }
        report.settle_status();
    }
    report
}

/// The device an offload compiler stands for, before anything has run.
fn describe(compiler: &OffloadCompiler) -> Device {
    let target = compiler.target;
    let mut device = Device::new(
        format!("GCC {} offloading to {}", compiler.version, target.triple),
        "GCC",
        DeviceKind::Other,
    );
    device.arch = Some(target.arch.to_owned());
    let props = &mut device.properties;
    props.insert("offload_target".into(), target.triple.to_owned());
    props.insert("mkoffload".into(), compiler.mkoffload.display().to_string());
    props.insert(
        "plugin".into(),
        match &compiler.plugin {
            Some(path) => path.display().to_string(),
            None => format!(
                "{} not installed ({})",
                target.plugin, target.plugin_package
            ),
        },
    );
    props.insert("plugin_present".into(), yes_no(compiler.plugin.is_some()));
    props.insert("default_gcc".into(), yes_no(compiler.default_gcc));
    if !compiler.other_versions.is_empty() {
        props.insert(
            "other_gcc_versions".into(),
            compiler.other_versions.join(", "),
        );
    }
    let version = compiler.driver.as_deref().and_then(full_version);
    props.insert(
        "gcc_version".into(),
        version.unwrap_or_else(|| compiler.version.clone()),
    );
    match &compiler.driver {
        Some(driver) => {
            props.insert("gcc".into(), driver.display().to_string());
        }
        None => {
            device.status = Status::Unusable;
            device.reason = Some(Reason::new(
                ReasonCode::LibraryNotFound,
                format!(
                    "{} is installed but its driver gcc-{} is not",
                    compiler.mkoffload.display(),
                    compiler.version
                ),
            ));
        }
    }
    device
}

/// `gcc-N -dumpfullversion` (`12.2.0`).
fn full_version(driver: &Path) -> Option<String> {
    let finished = run_bounded(Command::new(driver).arg("-dumpfullversion"), VERSION_LIMIT).ok()?;
    let version = finished.stdout.trim();
    (finished.succeeded() && !version.is_empty()).then(|| version.to_owned())
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// Compiles and runs the validation program for `compiler`'s target and judges `device`.
fn validate(compiler: &OffloadCompiler, device: &mut Device) {
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
fn judge_compile(
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
struct ProgramResult {
    /// `omp_get_num_devices()`.
    devices: i64,
    /// Loop iterations that ran on the host.
    host_iterations: u64,
    elements: u64,
    checksum: f64,
    max_abs_error: f64,
    elapsed_ms: f64,
}

fn parse_result(stdout: &str) -> Option<ProgramResult> {
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
fn libgomp_line(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("libgomp:"))
}

/// Whether a libgomp error says there is no device at all (rather than a device that failed).
/// GCC 13 and later abort with "...MANDATORY, but only the host device is available" or
/// "...but device not found"; "...but device cannot be used for offloading" is a failure.
fn says_no_device(libgomp: &str) -> bool {
    libgomp.contains("OMP_TARGET_OFFLOAD is set to MANDATORY")
        && (libgomp.contains("only the host device is available")
            || libgomp.contains("device not found"))
}

/// Judges the run of the compiled program, which was built for `elements` elements.
fn judge_run(device: &mut Device, compiler: &OffloadCompiler, run: &Finished, elements: usize) {
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

fn describe_end(end: &End) -> String {
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
