//! OpenCL through the ICD loader: every device of every platform, with SAXPY (and SGEMM at
//! level `full`) run on each.
//!
//! The backend's files have the roles of every backend's (design §8): [`sys`] loads
//! `libOpenCL.so.1` and asks ICDs directly, [`api`] turns each call into a `Result` and owns the
//! OpenCL objects, [`validate`] runs the committed kernels. This module is the probe: safe code
//! that turns what they return into a report.

mod api;
mod sys;
mod validate;

#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use opencl3::device::{
    CL_DEVICE_DOUBLE_FP_CONFIG, CL_DEVICE_EXTENSIONS, CL_DEVICE_GLOBAL_MEM_SIZE,
    CL_DEVICE_IL_VERSION, CL_DEVICE_MAX_CLOCK_FREQUENCY, CL_DEVICE_MAX_COMPUTE_UNITS,
    CL_DEVICE_MAX_WORK_GROUP_SIZE, CL_DEVICE_NAME, CL_DEVICE_OPENCL_C_VERSION, CL_DEVICE_TYPE,
    CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_GPU, CL_DEVICE_VENDOR,
    CL_DEVICE_VERSION, CL_DRIVER_VERSION,
};
use opencl3::error_codes::{
    CL_PLATFORM_NOT_FOUND_KHR, DLOPEN_FUNCTION_NOT_AVAILABLE, DLOPEN_RUNTIME_LOAD_FAILED,
};
use opencl3::platform::platform::{CL_PLATFORM_NAME, CL_PLATFORM_VERSION};

use self::api::DeviceId;
use self::validate::{Session, SetupError};
use crate::backends::common::validation::{Inputs, Pending, Problems};
use crate::backends::common::{
    capabilities, check_loadable, skeleton, CallError, KernelCache, Library,
};
use crate::backends::{Backend, Drivers, Variables};
use crate::kernels::build_log_excerpt;
use crate::model::Capability;
use crate::model::{
    BackendName, BackendReport, Device, DeviceKind, Level, Reason, ReasonCode, Status,
};
use crate::protocol::{Progress, Stage};

/// PoCL's platform name. Its CPU drivers (pthread, basic, tbb) compile kernels with LLVM for
/// the host: software, whatever CL_DEVICE_TYPE says. Its CUDA and remote drivers are not.
const POCL_PLATFORM: &str = "Portable Computing Language";

/// Device-name fragments of the software rasterisers that OpenCL platforms expose (Mesa's
/// llvmpipe and softpipe under clover and rusticl, Google's SwiftShader).
const SOFTWARE_DEVICE_NAMES: &[&str] = &["llvmpipe", "softpipe", "swiftshader"];

/// Where ocl-icd and the Khronos loader look for `.icd` files when `OCL_ICD_VENDORS` does not
/// name a directory.
const DEFAULT_VENDORS_DIR: &str = "/etc/OpenCL/vendors";

/// Probes OpenCL through the ICD loader.
#[derive(Debug)]
pub struct OpenclBackend;

impl Backend for OpenclBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(sys::OPENCL_LIBRARY, level, progress)
    }

    /// The best device's OpenCL version, whether a hardware GPU or an fp64 device is among
    /// them, and `sycl` for a device that accepts SPIR-V (what a SYCL runtime needs).
    fn capabilities(&self, _report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        let mut caps: Vec<Capability> = capabilities::highest_api("opencl", proven)
            .into_iter()
            .collect();
        for (feature, cap) in [("fp64", "opencl-fp64"), ("spirv", "sycl")] {
            if capabilities::any_with(proven, feature) {
                caps.push(Capability::flag(cap));
            }
        }
        if capabilities::any_gpu(proven) {
            caps.push(Capability::flag("opencl-gpu"));
        }
        caps
    }

    fn variables(&self) -> Variables {
        Variables {
            loaders: &["OCL_ICD_", "OPENCL_", "POCL_"],
            ..Variables::default()
        }
    }

    fn drivers(&self, var: &dyn Fn(&str) -> Option<String>) -> Option<Drivers> {
        let vendors = var("OCL_ICD_VENDORS");
        Some(Drivers {
            label: "OpenCL ICD",
            files: icd_files(vendors.as_deref().map(std::ffi::OsStr::new)),
            only: "OCL_ICD_VENDORS",
            cleared: &["OCL_ICD_FILENAMES"],
        })
    }
}

/// Held for the whole of a probe ([`skeleton::exclusive`]).
static ONE_PROBE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Probes with `library` as the ICD loader's soname; tests name a missing one.
fn probe_with(library: &'static str, level: Level, progress: &mut dyn Progress) -> BackendReport {
    let _one_at_a_time = skeleton::exclusive(&ONE_PROBE_AT_A_TIME);
    progress.stage(Stage::Load);
    if let Err(error) = Library::open(library) {
        return error.report(BackendName::Opencl, library, "libOpenCL.so");
    }
    let (icds, unloadable) =
        loadable_icds(&icd_files(std::env::var_os("OCL_ICD_VENDORS").as_deref()));
    let mut report = probe_loaded(level, progress, &icds);
    report.warnings.splice(0..0, unloadable);
    remove_pocl_start_files();
    report
}

/// PoCL 3.1 creates an empty `tempfile_XXXXXX` in its cache directory whenever it starts
/// (`pocl_install_sigfpe_handler`, to make LLVM install its signal handlers first) and leaves
/// its removal to LLVM at exit, which a worker, leaving with `_exit`, never reaches: one file
/// per probe would pile up in the driver cache. Its other temp files carry a suffix (`.so`,
/// `.bc`) and are renamed away by PoCL itself, so only empty, suffix-less ones are removed.
fn remove_pocl_start_files() {
    let Some(dir) = std::env::var_os("POCL_CACHE_DIR") else {
        return;
    };
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(random) = name.to_str().and_then(|n| n.strip_prefix("tempfile_")) else {
            continue;
        };
        let start_file = random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric());
        if start_file && entry.metadata().is_ok_and(|m| m.is_file() && m.len() == 0) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The probe once the ICD loader is loaded; `icds` are the ICDs whose libraries loaded.
fn probe_loaded(level: Level, progress: &mut dyn Progress, icds: &[Icd]) -> BackendReport {
    let loaded = crate::sys::loaded_library("libOpenCL.so");
    // The problems and references do not depend on the device: a helper thread makes them
    // while the ICD loader starts every ICD.
    let pending = Pending::start(level, Inputs::InPlace);

    progress.stage(Stage::Init);
    let platforms = match api::platforms() {
        Ok(platforms) if !platforms.is_empty() => platforms,
        Ok(_) => {
            return BackendReport {
                library: loaded,
                warnings: dropped_icds(icds, &[]),
                ..BackendReport::absent(
                    BackendName::Opencl,
                    ReasonCode::NoDevice,
                    format!("the ICD loader lists 0 platforms; {}", icd_files_seen()),
                )
            };
        }
        Err(error) => {
            return BackendReport {
                library: loaded,
                warnings: dropped_icds(icds, &[]),
                ..platform_error(error)
            };
        }
    };

    progress.stage(Stage::Enumerate);
    let owners: Vec<Option<PathBuf>> = platforms.iter().map(|p| p.driver_library()).collect();
    let (mut report, ids) = enumerate(&platforms, &owners, icds);
    report.warnings.splice(0..0, dropped_icds(icds, &owners));
    report.library = loaded;
    if report.devices.is_empty() {
        return report;
    }
    if !skeleton::enter_kernel_stage(&mut report, level, progress) {
        return report;
    }
    let problems = pending.wait();
    skeleton::validate_each(&mut report, ids, |id, device| {
        validate_device(id, device, &problems);
    });
    report
}

/// The report for a failed `clGetPlatformIDs`. No ICD at all is the normal state of a machine
/// without OpenCL drivers (the loader's -1001), anything else is a broken installation.
fn platform_error(error: CallError) -> BackendReport {
    let code = i32::try_from(error.code).unwrap_or(i32::MIN);
    match code {
        CL_PLATFORM_NOT_FOUND_KHR => BackendReport::absent(
            BackendName::Opencl,
            ReasonCode::NoDevice,
            format!("no OpenCL platform: {error}; {}", icd_files_seen()),
        ),
        DLOPEN_RUNTIME_LOAD_FAILED | DLOPEN_FUNCTION_NOT_AVAILABLE => BackendReport::unusable(
            BackendName::Opencl,
            ReasonCode::LoadFailed,
            format!("the ICD loader was opened but cl3 could not use it: {error}"),
        ),
        _ => BackendReport::unusable(
            BackendName::Opencl,
            ReasonCode::DriverError,
            error.to_string(),
        ),
    }
}

/// Facts about one platform that every one of its devices reports.
struct PlatformFacts {
    name: String,
    version: Option<String>,
}

/// Lists every device of every platform. The ids come back in the order of `report.devices`.
/// A platform whose devices cannot be listed becomes a warning, so that one broken ICD does not
/// hide the others; only when no device is found at all does its error decide the state.
fn enumerate(
    platforms: &[api::Platform],
    owners: &[Option<PathBuf>],
    icds: &[Icd],
) -> (BackendReport, Vec<DeviceId>) {
    let mut report = BackendReport::new(BackendName::Opencl, Status::Enumerated, None);
    let mut ids = Vec::new();
    let mut names = Vec::new();
    let mut first_error = None;
    for (index, platform) in platforms.iter().enumerate() {
        let facts = PlatformFacts {
            name: platform
                .string(CL_PLATFORM_NAME)
                .unwrap_or_else(|_| format!("platform {index}")),
            version: platform.string(CL_PLATFORM_VERSION).ok(),
        };
        match platform.devices() {
            Ok(devices) if devices.is_empty() => {
                let owner = owners.get(index).and_then(Option::as_deref);
                report.warnings.push(format!(
                    "OpenCL platform {:?}{} lists no device: clGetDeviceIDs found none \
                     (CL_DEVICE_NOT_FOUND){}",
                    facts.name,
                    icd_label(owner, icds),
                    facts
                        .version
                        .as_deref()
                        .map_or_else(String::new, |v| format!("; platform version {v:?}"))
                ));
            }
            Ok(devices) => {
                for id in devices {
                    report.devices.push(describe(id, &facts));
                    ids.push(id);
                }
            }
            Err(error) => {
                report.warnings.push(format!("{}: {error}", facts.name));
                first_error.get_or_insert((facts.name.clone(), error));
            }
        }
        names.push(facts.name);
    }
    report
        .properties
        .insert("platforms".into(), names.join("; "));
    if report.devices.is_empty() {
        let reason = match first_error {
            Some((platform, error)) => Reason::new(
                ReasonCode::DriverError,
                format!("listing the devices of {platform} failed: {error}"),
            ),
            None => {
                // Design §7: PoCL hides its devices, silently, when its cache is not writable.
                let hint = if names.iter().any(|name| name == POCL_PLATFORM) {
                    " (PoCL lists none when POCL_CACHE_DIR is not writable)"
                } else {
                    ""
                };
                Reason::new(
                    ReasonCode::NoDevice,
                    format!(
                        "{} platform(s) ({}) list no device{hint}",
                        names.len(),
                        names.join(", ")
                    ),
                )
            }
        };
        report.status = match reason.code {
            ReasonCode::NoDevice => Status::Absent,
            _ => Status::Unusable,
        };
        report.reason = Some(reason);
    }
    (report, ids)
}

/// Everything the report says about one device. Identity queries that fail make the device
/// `unusable`; the other facts are optional and left out when their query fails.
fn describe(id: DeviceId, platform: &PlatformFacts) -> Device {
    let identity = || -> Result<(String, String, u64), CallError> {
        Ok((
            id.string(CL_DEVICE_NAME)?,
            id.string(CL_DEVICE_VENDOR)?,
            id.unsigned(CL_DEVICE_TYPE)?,
        ))
    };
    let (name, vendor, device_type) = match identity() {
        Ok(identity) => identity,
        Err(error) => {
            let mut device = Device::new("unknown device", "unknown", DeviceKind::Other);
            device.status = Status::Unusable;
            device.reason = Some(Reason::new(ReasonCode::DriverError, error.to_string()));
            device
                .properties
                .insert("platform".into(), platform.name.clone());
            return device;
        }
    };
    let kind = classify(device_type, &platform.name, &name);
    let mut device = Device::new(name, vendor, kind);
    let version = id.string(CL_DEVICE_VERSION).ok();
    device.api_version = version.as_deref().and_then(parse_opencl_version);
    device.driver_version = id.string(CL_DRIVER_VERSION).ok();
    device.memory_bytes = id.unsigned(CL_DEVICE_GLOBAL_MEM_SIZE).ok();
    device.features = features(
        id.unsigned(CL_DEVICE_DOUBLE_FP_CONFIG).ok(),
        id.string(CL_DEVICE_IL_VERSION).ok().as_deref(),
        &id.string(CL_DEVICE_EXTENSIONS).unwrap_or_default(),
    );

    let props = &mut device.properties;
    props.insert("platform".into(), platform.name.clone());
    if let Some(platform_version) = &platform.version {
        props.insert("platform_version".into(), platform_version.clone());
    }
    if let Some(version) = version {
        props.insert("device_version".into(), version);
    }
    if let Ok(c_version) = id.string(CL_DEVICE_OPENCL_C_VERSION) {
        props.insert("opencl_c_version".into(), c_version);
    }
    let numbers = [
        ("compute_units", CL_DEVICE_MAX_COMPUTE_UNITS),
        ("max_work_group_size", CL_DEVICE_MAX_WORK_GROUP_SIZE),
        ("max_clock_mhz", CL_DEVICE_MAX_CLOCK_FREQUENCY),
    ];
    for (key, param) in numbers {
        if let Ok(value) = id.unsigned(param) {
            props.insert(key.into(), value.to_string());
        }
    }
    device
}

/// Runs the validation problems on one device and records the outcome in `device`.
///
/// Compiling from source costs PoCL about 20 ms even when its own cache is warm (it runs
/// clang's preprocessor over its OpenCL headers to compute the cache key), so the device binary
/// of a validated build is kept in hwspec's driver cache, keyed by the source and everything
/// that identifies the driver, and loaded with `clCreateProgramWithBinary` next time. The cached
/// binary is only a faster way to the same kernel: if the driver refuses it or the kernels
/// built from it fail in any way, it is discarded and the device is judged from source.
fn validate_device(id: DeviceId, device: &mut Device, problems: &Problems) {
    let cache = binary_cache(device, problems.sgemm().is_some());
    if let Some(binary) = cache.as_ref().and_then(KernelCache::load) {
        let mut attempt = device.clone();
        if run_validations(id, &mut attempt, problems, Some(&binary)).is_some() {
            attempt.properties.insert(
                "program".into(),
                "binary cached from an earlier build".into(),
            );
            *device = attempt;
            return;
        }
        if let Some(cache) = &cache {
            cache.discard();
        }
    }
    let session = run_validations(id, device, problems, None);
    device
        .properties
        .insert("program".into(), "built from source".into());
    if let (Some(session), Some(cache)) = (session, &cache) {
        if let Some(binary) = session.binary() {
            cache.store(&binary);
        }
    }
}

/// Opens a session (from `binary` when given) and runs the problems on it, recording the
/// outcome in `device`. Returns the session when the device was validated.
fn run_validations(
    id: DeviceId,
    device: &mut Device,
    problems: &Problems,
    binary: Option<&[u8]>,
) -> Option<Session> {
    let session = match Session::open(id, problems.sgemm().is_some(), binary) {
        Ok(session) => session,
        Err(SetupError::Build(failure)) => {
            let message = format!(
                "{}; build log: {}",
                failure.error,
                build_log_excerpt(&failure.log, "(empty)")
            );
            device.fail(ReasonCode::BuildFailed, message);
            return None;
        }
        Err(SetupError::Call(error)) => {
            device.fail(ReasonCode::LaunchFailed, error.to_string());
            return None;
        }
    };
    match session.saxpy(problems) {
        Ok(validation) => device.validations.push(validation),
        Err(error) => {
            device.fail(ReasonCode::LaunchFailed, format!("saxpy: {error}"));
            return None;
        }
    }
    match session.sgemm(problems) {
        Some(Ok(validation)) => device.validations.push(validation),
        Some(Err(error)) => {
            device.fail(ReasonCode::LaunchFailed, format!("sgemm: {error}"));
            return None;
        }
        None => {}
    }
    device.judge_validations();
    (device.status == Status::Validated).then_some(session)
}

/// The cache entry for `device`'s program binary of one source set.
fn binary_cache(device: &Device, with_sgemm: bool) -> Option<KernelCache> {
    let prop = |key: &str| device.properties.get(key).map_or("", String::as_str);
    KernelCache::entry(
        "opencl",
        "program",
        "bin",
        &[
            validate::source(with_sgemm).as_bytes(),
            prop("platform").as_bytes(),
            prop("platform_version").as_bytes(),
            device.name.as_bytes(),
            device.vendor.as_bytes(),
            prop("device_version").as_bytes(),
            device.driver_version.as_deref().unwrap_or("").as_bytes(),
        ],
    )
}

/// What a device is for scheduling. Software implementations come first: they report
/// themselves as CPU (PoCL) or even GPU (llvmpipe under rusticl) devices.
fn classify(device_type: u64, platform_name: &str, device_name: &str) -> DeviceKind {
    let name = device_name.to_ascii_lowercase();
    let software_name = SOFTWARE_DEVICE_NAMES
        .iter()
        .any(|fragment| name.contains(fragment));
    let pocl_cpu = platform_name == POCL_PLATFORM && device_type & CL_DEVICE_TYPE_CPU != 0;
    if software_name || pocl_cpu {
        DeviceKind::Software
    } else if device_type & CL_DEVICE_TYPE_GPU != 0 {
        DeviceKind::Gpu
    } else if device_type & CL_DEVICE_TYPE_ACCELERATOR != 0 {
        DeviceKind::Accelerator
    } else if device_type & CL_DEVICE_TYPE_CPU != 0 {
        DeviceKind::Cpu
    } else {
        DeviceKind::Other
    }
}

/// The `X.Y` of a CL_DEVICE_VERSION, which the specification fixes as
/// `OpenCL<space><major.minor><space><vendor-specific information>`.
fn parse_opencl_version(version: &str) -> Option<String> {
    let number = version.strip_prefix("OpenCL ")?.split_whitespace().next()?;
    let (major, minor) = number.split_once('.')?;
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then(|| format!("{major}.{minor}"))
}

/// Capability-relevant features. A query that failed counts as "not supported": older devices
/// reject CL_DEVICE_IL_VERSION, and the extension string is the fallback for both.
fn features(
    double_fp_config: Option<u64>,
    il_version: Option<&str>,
    extensions: &str,
) -> Vec<String> {
    let has_extension = |wanted: &str| extensions.split_whitespace().any(|e| e == wanted);
    let fp64 = double_fp_config.is_some_and(|config| config != 0) || has_extension("cl_khr_fp64");
    let spirv =
        il_version.is_some_and(|il| il.contains("SPIR-V")) || has_extension("cl_khr_il_program");
    [("fp64", fp64), ("spirv", spirv)]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// How many `.icd` files the loader could have found, for `no-device` messages: zero files
/// means nothing is installed, some files mean the installed ICDs found no device.
fn icd_files_seen() -> String {
    let dir = std::env::var_os("OCL_ICD_VENDORS")
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_VENDORS_DIR));
    describe_icd_dir(&dir)
}

/// The ICDs ocl-icd would load, as values that `OCL_ICD_VENDORS` can name one at a time,
/// resolved as ocl-icd resolves `vendors` (the variable's value; unset means the default
/// directory): a directory gives its `.icd` files, sorted; anything else (one `.icd` file, a
/// bare `.icd` name in the default directory, or an ICD library itself) is one ICD.
pub(crate) fn icd_files(vendors: Option<&std::ffi::OsStr>) -> Vec<PathBuf> {
    let path = match vendors.filter(|v| !v.is_empty()) {
        None => PathBuf::from(DEFAULT_VENDORS_DIR),
        Some(value) => {
            let path = PathBuf::from(value);
            let bare = path.components().count() == 1;
            let in_default = Path::new(DEFAULT_VENDORS_DIR).join(&path);
            if bare && in_default.is_file() {
                in_default
            } else {
                path
            }
        }
    };
    if !path.is_dir() {
        return vec![path];
    }
    crate::backends::common::driver_files::files_with_extension(&path, "icd")
}

/// An `.icd` file whose library loaded.
struct Icd {
    file: PathBuf,
    /// The library as the file names it.
    library: String,
    /// The file the dynamic loader mapped for it.
    loaded: Option<PathBuf>,
}

/// `.icd` files are one line; anything longer is not one.
const MAX_ICD_FILE_BYTES: u64 = 4096;

/// Sorts the `.icd` files into those whose library loads and a warning for each whose library
/// cannot be loaded (missing, or a file that names nothing loadable): ocl-icd skips those
/// silently, and a person should hear of them. Loading a library runs its initialisers, which
/// is what the ICD loader is about to do anyway in this worker; libraries that load stay
/// loaded, so the loader's own load is a no-op.
fn loadable_icds(files: &[PathBuf]) -> (Vec<Icd>, Vec<String>) {
    let mut icds = Vec::new();
    let mut warnings = Vec::new();
    for file in files {
        if file.extension().is_none_or(|ext| ext != "icd") {
            continue;
        }
        // ocl-icd reads the file in the worker anyway; a FIFO or a huge file is named here.
        let named = match crate::sys::read_regular_text(file, MAX_ICD_FILE_BYTES) {
            Ok(named) => named,
            Err(err) => {
                warnings.push(format!(
                    "OpenCL ICD {} cannot be read: {err}",
                    file.display()
                ));
                continue;
            }
        };
        let library = named.lines().next().unwrap_or("").trim().to_owned();
        let failure = if library.is_empty() {
            "it names no library".to_owned()
        } else {
            match check_loadable(Path::new(&library)) {
                Ok(()) => {
                    let loaded = crate::backends::common::loaded_file(
                        Path::new(&library),
                        sys::ICD_LOOKUP_SYMBOL,
                    );
                    icds.push(Icd {
                        file: file.clone(),
                        library,
                        loaded,
                    });
                    continue;
                }
                Err(failure) => failure,
            }
        };
        warnings.push(format!(
            "OpenCL ICD {} names {library:?}, which cannot be loaded: {failure}",
            file.display()
        ));
    }
    (icds, warnings)
}

/// ` (ICD <file>, <library>)` for the ICD whose library is `owner`, or that library alone.
fn icd_label(owner: Option<&Path>, icds: &[Icd]) -> String {
    let Some(owner) = owner else {
        return String::new();
    };
    match icds.iter().find(|icd| icd.loaded.as_deref() == Some(owner)) {
        Some(icd) => format!(" (ICD {}, {})", icd.file.display(), owner.display()),
        None => format!(" ({})", owner.display()),
    }
}

/// A warning for each ICD that loaded but gave the ICD loader no platform, which ocl-icd drops
/// without a word (NVIDIA's and Intel's ICDs on a machine without their GPU). Platforms are
/// traced to their ICD through `owners` (see [`api::Platform::driver_library`]), so only an ICD
/// with no traced platform is asked again, directly, for its answer.
fn dropped_icds(icds: &[Icd], owners: &[Option<PathBuf>]) -> Vec<String> {
    icds.iter()
        .filter(|icd| {
            icd.loaded.is_none() || !owners.iter().flatten().any(|o| Some(o) == icd.loaded.as_ref())
        })
        .filter_map(|icd| {
            let why = match sys::icd_platform_count(&icd.library) {
                Ok(0) => "clIcdGetPlatformIDsKHR lists 0 platforms".to_owned(),
                // Listed under another library's name: not dropped.
                Ok(_) => return None,
                Err(why) => why,
            };
            let library = icd
                .loaded
                .as_ref()
                .map_or_else(|| icd.library.clone(), |p| p.display().to_string());
            Some(format!(
                "OpenCL ICD {} ({library}) gave the ICD loader no platform, so it was dropped: {why}",
                icd.file.display()
            ))
        })
        .collect()
}

fn describe_icd_dir(dir: &Path) -> String {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let count = entries
                .filter_map(Result::ok)
                .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "icd"))
                .count();
            format!("{count} .icd file(s) in {}", dir.display())
        }
        Err(error) => format!("{} is unreadable ({error})", dir.display()),
    }
}
