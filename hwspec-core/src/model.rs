//! The report: the one data model every front end (CLI, C library) renders.
//!
//! The JSON names of [`Report`], [`BackendReport`], [`Device`], [`Reason`], [`Validation`] and
//! [`Capability`] are a contract that scripts rely on: fields may be added, never renamed.
//! [`SCHEMA_VERSION`] changes only when an existing field changes meaning.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Version of the JSON document layout, written as the top-level `"schema"` key.
pub const SCHEMA_VERSION: u32 = 1;

/// How much a probe proves about each device.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Enumerate devices only; no kernel runs.
    Quick,
    /// Enumerate and run the SAXPY validation kernel on every device.
    #[default]
    Standard,
    /// As `standard`, plus a small SGEMM check on every device.
    Full,
}

impl Level {
    /// The lowercase name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Quick => "quick",
            Level::Standard => "standard",
            Level::Full => "full",
        }
    }

    /// Parses the name used on the command line and in JSON.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "quick" => Some(Level::Quick),
            "standard" => Some(Level::Standard),
            "full" => Some(Level::Full),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The runtimes hwspec knows how to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackendName {
    /// The host processor, always present.
    Cpu,
    /// OpenCL through the ICD loader (`libOpenCL.so.1`).
    Opencl,
    /// Vulkan through the loader (`libvulkan.so.1`).
    Vulkan,
    /// NVIDIA CUDA through the driver API (`libcuda.so.1`).
    Cuda,
    /// AMD ROCm through the HIP runtime (`libamdhip64.so.N`).
    Hip,
    /// Intel oneAPI Level Zero through its loader (`libze_loader.so.1`).
    LevelZero,
    /// Headless rendering through EGL (`libEGL.so.1`) with OpenGL ES and OpenGL.
    Egl,
    /// Video acceleration through VA-API (`libva.so.2`, `libva-drm.so.2`).
    Vaapi,
    /// NVIDIA's video decoder and encoder (`libnvcuvid.so.1`, `libnvidia-encode.so.1`).
    Nvcodec,
    /// GCC's OpenMP offloading to nvptx and amdgcn (`gcc -foffload=...`).
    GccOffload,
}

impl BackendName {
    /// Every backend, in report order.
    pub const ALL: &'static [BackendName] = &[
        BackendName::Cpu,
        BackendName::Opencl,
        BackendName::Vulkan,
        BackendName::Cuda,
        BackendName::Hip,
        BackendName::LevelZero,
        BackendName::Egl,
        BackendName::Vaapi,
        BackendName::Nvcodec,
        BackendName::GccOffload,
    ];

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendName::Cpu => "cpu",
            BackendName::Opencl => "opencl",
            BackendName::Vulkan => "vulkan",
            BackendName::Cuda => "cuda",
            BackendName::Hip => "hip",
            BackendName::LevelZero => "level_zero",
            BackendName::Egl => "egl",
            BackendName::Vaapi => "vaapi",
            BackendName::Nvcodec => "nvcodec",
            BackendName::GccOffload => "gcc_offload",
        }
    }

    /// Parses the name used on the command line and in JSON.
    pub fn parse(s: &str) -> Option<BackendName> {
        BackendName::ALL.iter().copied().find(|b| b.as_str() == s)
    }
}

impl fmt::Display for BackendName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a backend or a device (design §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not installed, or installed with no device: normal, not an error.
    Absent,
    /// Something is there but broken; the reason says what.
    Unusable,
    /// Listed, no kernel run (level `quick`).
    Enumerated,
    /// The validation kernel ran and matched the CPU reference.
    Validated,
    /// The kernel ran and gave wrong results, or failed to build or launch.
    Failed,
}

impl Status {
    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Absent => "absent",
            Status::Unusable => "unusable",
            Status::Enumerated => "enumerated",
            Status::Validated => "validated",
            Status::Failed => "failed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stable, machine-readable reason codes. Documented in `docs/report.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReasonCode {
    /// The runtime's library is not installed.
    LibraryNotFound,
    /// The library loaded but lacks a required entry point, or failed to initialise.
    LoadFailed,
    /// The runtime is installed but reports no platform, driver or device.
    NoDevice,
    /// The runtime returned an error while being initialised or queried.
    DriverError,
    /// The validation kernel failed to compile or link.
    BuildFailed,
    /// The validation kernel failed to allocate, launch or finish.
    LaunchFailed,
    /// The validation kernel ran and its results differ from the CPU reference.
    WrongResult,
    /// The worker did not finish within its deadline; the message names the stage.
    Timeout,
    /// The worker died from a signal or exited abnormally; the message names it.
    Crashed,
    /// The worker's output could not be understood.
    BadOutput,
    /// The worker stopped after a partial result.
    PartialOutput,
    /// The worker process could not be started.
    WorkerFailed,
    /// The device lacks what the validation kernel needs (e.g. a Vulkan compute queue).
    Unsupported,
    /// The operating system did not provide a fact (e.g. `/proc` unreadable).
    ProbeFailed,
    /// The library found is a build-time stub, not a driver (CUDA error 34).
    StubLibrary,
    /// The user-space driver and the kernel module differ in version: a reboot is needed.
    DriverMismatch,
    /// A forward-compatibility library was refused (CUDA errors 803, 804).
    CompatRefused,
    /// A device node the runtime needs is missing; the message names it.
    MissingDeviceNode,
    /// A device node exists but this user may not open it; the message names node and group.
    PermissionDenied,
    /// An environment variable hides the devices; the message names it.
    HiddenByEnv,
    /// The worker's memory grew past its limit and it was killed; the message says how much.
    MemoryLimit,
}

impl ReasonCode {
    /// The kebab-case code used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::LibraryNotFound => "library-not-found",
            ReasonCode::LoadFailed => "load-failed",
            ReasonCode::NoDevice => "no-device",
            ReasonCode::DriverError => "driver-error",
            ReasonCode::BuildFailed => "build-failed",
            ReasonCode::LaunchFailed => "launch-failed",
            ReasonCode::WrongResult => "wrong-result",
            ReasonCode::Timeout => "timeout",
            ReasonCode::Crashed => "crashed",
            ReasonCode::BadOutput => "bad-output",
            ReasonCode::PartialOutput => "partial-output",
            ReasonCode::WorkerFailed => "worker-failed",
            ReasonCode::Unsupported => "unsupported",
            ReasonCode::ProbeFailed => "probe-failed",
            ReasonCode::StubLibrary => "stub-library",
            ReasonCode::DriverMismatch => "driver-mismatch",
            ReasonCode::CompatRefused => "compat-refused",
            ReasonCode::MissingDeviceNode => "missing-device-node",
            ReasonCode::PermissionDenied => "permission-denied",
            ReasonCode::HiddenByEnv => "hidden-by-env",
            ReasonCode::MemoryLimit => "memory-limit",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a backend or device is in its state: a stable code and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable machine-readable code.
    pub code: ReasonCode,
    /// One human sentence with the specifics (file, signal, stage, error number).
    pub message: String,
}

impl Reason {
    /// A reason with the given code and message.
    pub fn new(code: ReasonCode, message: impl Into<String>) -> Reason {
        Reason {
            code,
            message: message.into(),
        }
    }
}

/// What a device is, as far as scheduling is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// A hardware GPU.
    Gpu,
    /// A hardware CPU exposed as a device.
    Cpu,
    /// Another hardware accelerator (FPGA, DSP, NPU).
    Accelerator,
    /// A software implementation (PoCL, lavapipe/llvmpipe, SwiftShader).
    Software,
    /// Anything else.
    Other,
}

impl DeviceKind {
    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Gpu => "gpu",
            DeviceKind::Cpu => "cpu",
            DeviceKind::Accelerator => "accelerator",
            DeviceKind::Software => "software",
            DeviceKind::Other => "other",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one validation kernel on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Kernel name: `saxpy` or `sgemm`.
    pub kernel: String,
    /// Whether every element was within tolerance of the CPU reference.
    pub passed: bool,
    /// Largest absolute difference from the CPU reference.
    pub max_abs_error: f64,
    /// Wall time of the kernel's run on the device, transfers included, in milliseconds.
    pub elapsed_ms: f64,
    /// Number of output elements compared.
    pub elements: u64,
}

/// One device of one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Device name as the runtime reports it.
    pub name: String,
    /// Vendor name as the runtime reports it (or derived from its vendor id).
    pub vendor: String,
    /// What the device is.
    pub kind: DeviceKind,
    /// State of this device.
    pub status: Status,
    /// Why it is in this state, when that needs saying.
    pub reason: Option<Reason>,
    /// API version the device supports (e.g. `3.0`, `1.3.230`).
    pub api_version: Option<String>,
    /// Driver version string as the runtime reports it.
    pub driver_version: Option<String>,
    /// Device memory (global memory / largest device-local heap) in bytes.
    pub memory_bytes: Option<u64>,
    /// The architecture as the capability vocabulary names it: the CUDA compute capability
    /// (`9.0`) or the AMD gfx target (`gfx90a`); `null` for other backends.
    #[serde(default)]
    pub arch: Option<String>,
    /// The SAXPY validation, or `null` when no kernel ran.
    pub validation: Option<Validation>,
    /// The SGEMM validation at level `full`, otherwise `null`.
    #[serde(default)]
    pub gemm_validation: Option<Validation>,
    /// Capability-relevant feature flags proven by the runtime (e.g. `fp64`, `spirv`).
    #[serde(default)]
    pub features: Vec<String>,
    /// Further facts as the runtime reported them, for people reading the report.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl Device {
    /// A device with the given identity and state and nothing else known yet.
    pub fn new(name: impl Into<String>, vendor: impl Into<String>, kind: DeviceKind) -> Device {
        Device {
            name: name.into(),
            vendor: vendor.into(),
            kind,
            status: Status::Enumerated,
            reason: None,
            api_version: None,
            driver_version: None,
            memory_bytes: None,
            arch: None,
            validation: None,
            gemm_validation: None,
            features: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    /// Whether the device has the given feature flag.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// Marks the device `failed` for `code`.
    pub fn fail(&mut self, code: ReasonCode, message: impl Into<String>) {
        self.status = Status::Failed;
        self.reason = Some(Reason::new(code, message));
    }

    /// Sets the state from the validations that ran: `validated` when every one matched the
    /// CPU reference, otherwise `failed` with `wrong-result` naming the first that did not.
    pub fn judge_validations(&mut self) {
        let wrong = [&self.validation, &self.gemm_validation]
            .into_iter()
            .flatten()
            .find(|validation| !validation.passed);
        match wrong {
            None => {
                self.status = Status::Validated;
                self.reason = None;
            }
            Some(validation) => {
                let message = format!(
                    "{} differs from the CPU reference by up to {} over {} elements",
                    validation.kernel, validation.max_abs_error, validation.elements
                );
                self.fail(ReasonCode::WrongResult, message);
            }
        }
    }
}

/// What one backend found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendReport {
    /// Which backend.
    pub name: BackendName,
    /// Overall state: the best state of any device, or why there is none.
    pub status: Status,
    /// Why it is in this state, when that needs saying.
    pub reason: Option<Reason>,
    /// Path of the runtime library actually loaded, or `null`.
    pub library: Option<String>,
    /// Every device found, in the runtime's order.
    pub devices: Vec<Device>,
    /// Version of the runtime itself where it has one (Vulkan instance version).
    #[serde(default)]
    pub runtime_version: Option<String>,
    /// Wall time of this backend's probe, worker start included, in milliseconds.
    #[serde(default)]
    pub elapsed_ms: f64,
    /// Things that did not change the outcome but deserve a look (e.g. a crash at exit).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Further facts as the runtime reported them (platforms, loader details).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl BackendReport {
    /// A report with no devices in the given state.
    pub fn new(name: BackendName, status: Status, reason: Option<Reason>) -> BackendReport {
        BackendReport {
            name,
            status,
            reason,
            library: None,
            devices: Vec::new(),
            runtime_version: None,
            elapsed_ms: 0.0,
            warnings: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    /// A report saying the backend is absent for the given reason.
    pub fn absent(name: BackendName, code: ReasonCode, message: impl Into<String>) -> Self {
        BackendReport::new(name, Status::Absent, Some(Reason::new(code, message)))
    }

    /// A report saying the backend is unusable for the given reason.
    pub fn unusable(name: BackendName, code: ReasonCode, message: impl Into<String>) -> Self {
        BackendReport::new(name, Status::Unusable, Some(Reason::new(code, message)))
    }

    /// Sets the backend's status from its devices: the best device state wins
    /// (validated > enumerated > failed > unusable), and a backend whose every device
    /// failed carries the first device's reason. A backend with no device keeps its own state.
    pub fn settle_status(&mut self) {
        let rank = |s: Status| match s {
            Status::Validated => 4,
            Status::Enumerated => 3,
            Status::Failed => 2,
            Status::Unusable => 1,
            Status::Absent => 0,
        };
        let Some(best) = self.devices.iter().max_by_key(|d| rank(d.status)) else {
            return;
        };
        self.status = best.status;
        self.reason = match best.status {
            Status::Validated | Status::Enumerated => None,
            _ => best.reason.clone(),
        };
    }
}

/// One capability in the normalised set, e.g. `opencl` version `3.0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Capability {
    /// Name, shaped like a Debian package name.
    pub name: String,
    /// Version, where the capability has one.
    pub version: Option<String>,
}

impl Capability {
    /// A capability without a version.
    pub fn flag(name: impl Into<String>) -> Capability {
        Capability {
            name: name.into(),
            version: None,
        }
    }

    /// A capability with a version.
    pub fn versioned(name: impl Into<String>, version: impl Into<String>) -> Capability {
        Capability {
            name: name.into(),
            version: Some(version.into()),
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{} (= {})", self.name, v),
            None => f.write_str(&self.name),
        }
    }
}

/// Facts about the probing process itself, so a report can be judged as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Kernel name and release, from `uname`.
    pub kernel: String,
    /// Machine architecture (`x86_64`, `aarch64`, ...).
    pub architecture: String,
    /// Whether the probe ran with effective uid 0.
    pub root: bool,
    /// Directory given to driver caches (PoCL, Mesa), or `null` when none was writable.
    pub driver_cache: Option<String>,
    /// Environment variables that reached the workers and change what runtimes do.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Loader variables of the caller withheld from the workers (as root, without
    /// `--trust-env`): their names only.
    #[serde(default)]
    pub dropped_environment: Vec<String>,
}

/// A whole probe: the document `hwspec probe --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Layout version, [`SCHEMA_VERSION`].
    pub schema: u32,
    /// Version of hwspec that made the report.
    pub hwspec_version: String,
    /// The level probed at.
    pub level: Level,
    /// The normalised capability set, sorted by name.
    pub capabilities: Vec<Capability>,
    /// One entry per backend probed, in [`BackendName::ALL`] order.
    pub backends: Vec<BackendReport>,
    /// About the probing process.
    pub host: HostInfo,
    /// Wall time of the whole probe in milliseconds.
    pub elapsed_ms: f64,
    /// Whether this report was read from the report cache, and how old it is.
    #[serde(default)]
    pub cache: Option<CacheInfo>,
    /// Capabilities set or removed by `HWSPEC_OVERRIDE_<CAP>` variables, by variable name:
    /// the capability set above already includes them.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
}

/// Where a report came from with respect to the report cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheInfo {
    /// `true` when the report was read from the cache rather than probed now.
    pub hit: bool,
    /// Seconds since the probe that made this report.
    pub age_seconds: f64,
    /// The cache file, or `null` when no cache directory was usable.
    pub file: Option<String>,
    /// Why a report probed now was not written to the cache: the failures that may not hold
    /// next time (a timeout, a worker that could not start, a memory limit), so that no later
    /// caller is answered with them. Absent when it was written, and for cache hits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_stored: Option<String>,
}

impl Report {
    /// The report of the named backend, if it was probed.
    pub fn backend(&self, name: BackendName) -> Option<&BackendReport> {
        self.backends.iter().find(|b| b.name == name)
    }

    /// The capability with the given name, if present.
    pub fn capability(&self, name: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_keys_are_spelled_as_documented() {
        let mut device = Device::new("dev", "vendor", DeviceKind::Software);
        device.reason = Some(Reason::new(ReasonCode::NoDevice, "m"));
        device.validation = Some(Validation {
            kernel: "saxpy".into(),
            passed: true,
            max_abs_error: 0.0,
            elapsed_ms: 1.0,
            elements: 4,
        });
        let mut backend = BackendReport::new(BackendName::Opencl, Status::Validated, None);
        backend.devices.push(device);
        let report = Report {
            schema: SCHEMA_VERSION,
            hwspec_version: "0".into(),
            level: Level::Standard,
            capabilities: vec![
                Capability::versioned("opencl", "3.0"),
                Capability::flag("cpu"),
            ],
            backends: vec![backend],
            host: HostInfo {
                kernel: "Linux".into(),
                architecture: "x86_64".into(),
                root: false,
                driver_cache: None,
                environment: BTreeMap::new(),
                dropped_environment: Vec::new(),
            },
            elapsed_ms: 2.0,
            cache: None,
            overrides: BTreeMap::new(),
        };
        let v = serde_json::to_value(&report).unwrap();
        for key in ["schema", "level", "capabilities", "backends"] {
            assert!(v.get(key).is_some(), "top-level {key}");
        }
        assert_eq!(v["level"], "standard");
        assert_eq!(v["capabilities"][0]["name"], "opencl");
        assert_eq!(v["capabilities"][1]["version"], serde_json::Value::Null);
        let b = &v["backends"][0];
        for key in ["name", "status", "reason", "library", "devices"] {
            assert!(b.get(key).is_some(), "backend {key}");
        }
        assert_eq!(b["name"], "opencl");
        let d = &b["devices"][0];
        for key in [
            "name",
            "vendor",
            "kind",
            "status",
            "reason",
            "api_version",
            "driver_version",
            "memory_bytes",
            "validation",
        ] {
            assert!(d.get(key).is_some(), "device {key}");
        }
        assert_eq!(d["kind"], "software");
        assert_eq!(d["reason"]["code"], "no-device");
        for key in ["kernel", "passed", "max_abs_error", "elapsed_ms"] {
            assert!(d["validation"].get(key).is_some(), "validation {key}");
        }
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, report);
    }

    /// The report cache and libhwspec read reports back, and a timing that came back one bit
    /// off made a cached report differ from the one probed (`0.910143` read as
    /// `0.9101429999999999`): every float survives a round trip exactly.
    #[test]
    fn timings_survive_a_json_round_trip_exactly() {
        let mut x = 0.910143_f64;
        for _ in 0..20_000 {
            let text = serde_json::to_string(&x).unwrap();
            let back: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{x} written as {text}");
            x = (x * 1.618_033_988_749_895 + 0.000_123) % 1000.0;
        }
    }

    #[test]
    fn reason_codes_serialise_as_their_documented_names() {
        for code in [
            ReasonCode::LibraryNotFound,
            ReasonCode::Timeout,
            ReasonCode::WrongResult,
            ReasonCode::PartialOutput,
        ] {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
    }

    /// Every backend judges its devices' kernels with [`Device::judge_validations`].
    #[test]
    fn a_device_is_validated_only_when_every_kernel_passed() {
        let validation = |kernel: &str, passed, max_abs_error| Validation {
            kernel: kernel.into(),
            passed,
            max_abs_error,
            elapsed_ms: 1.0,
            elements: 16,
        };
        let mut device = Device::new("d", "v", DeviceKind::Gpu);
        device.validation = Some(validation("saxpy", true, 0.0));
        device.judge_validations();
        assert_eq!(device.status, Status::Validated);
        assert!(device.reason.is_none());

        device.gemm_validation = Some(validation("sgemm", false, 0.75));
        device.judge_validations();
        assert_eq!(device.status, Status::Failed);
        let reason = device.reason.unwrap();
        assert_eq!(reason.code, ReasonCode::WrongResult);
        assert!(reason.message.starts_with("sgemm"), "{}", reason.message);
        assert!(reason.message.contains("0.75"), "{}", reason.message);
    }

    #[test]
    fn settle_status_prefers_the_best_device() {
        let mut b = BackendReport::new(BackendName::Vulkan, Status::Absent, None);
        let mut bad = Device::new("a", "v", DeviceKind::Gpu);
        bad.status = Status::Failed;
        bad.reason = Some(Reason::new(ReasonCode::WrongResult, "off by one"));
        b.devices.push(bad.clone());
        b.settle_status();
        assert_eq!(b.status, Status::Failed);
        assert_eq!(b.reason.as_ref().unwrap().code, ReasonCode::WrongResult);
        let mut good = Device::new("b", "v", DeviceKind::Software);
        good.status = Status::Validated;
        b.devices.push(good);
        b.settle_status();
        assert_eq!(b.status, Status::Validated);
        assert!(b.reason.is_none());
    }
}
