//! The report: the one data model every front end (CLI, C library) renders.
//!
//! The JSON names of [`Report`], [`BackendReport`], [`Device`], [`Reason`], [`Validation`] and
//! [`Capability`] are a contract that scripts rely on: fields may be added, never renamed.
//! [`SCHEMA_VERSION`] changes only when an existing field changes meaning; [`Report::from_json`]
//! reads every earlier schema too.

mod schema1;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Version of the JSON document layout, written as the top-level `"schema"` key. Schema 1 kept
/// a device's validations in `validation` and `gemm_validation`, whatever ran; schema 2 lists
/// them in `validations`, each with its `kind`.
pub const SCHEMA_VERSION: u32 = 2;

/// How much a probe proves about each device.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Enumerate devices only; no validation runs.
    Quick,
    /// Enumerate and validate every device: SAXPY on compute devices, and what each other
    /// backend runs instead (an OpenGL ES render, a decode context, codec queries, an offload
    /// region).
    #[default]
    Standard,
    /// As `standard`, plus a small SGEMM on compute devices and a desktop OpenGL render.
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

/// The outcome of one validation on one device: what ran, with the figures that mean something
/// for that kind, whether it gave what was expected, and how long it took. In JSON the kind is
/// the `kind` key, beside its own keys, `passed` and `elapsed_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// What ran, and the kind's own figures.
    #[serde(flatten)]
    pub kind: ValidationKind,
    /// Whether the result was the one expected.
    pub passed: bool,
    /// Wall time of the run on the device, transfers included, in milliseconds.
    pub elapsed_ms: f64,
}

impl Validation {
    /// The sentence a device's `wrong-result` reason gives when this validation did not pass.
    pub fn shortfall(&self) -> String {
        let name = self.kind.label();
        if let Some(c) = self.kind.compared() {
            return if c.max_abs_error.is_finite() {
                format!(
                    "{name} differs from the CPU reference by up to {} over {} elements",
                    c.max_abs_error, c.elements
                )
            } else {
                format!(
                    "{name} gave a non-finite element, or not the {} elements expected",
                    c.elements
                )
            };
        }
        match &self.kind {
            ValidationKind::Render(r) => {
                let wrong = match r.mismatched_pixels {
                    Some(wrong) => format!(" in {wrong} of {} pixels", r.pixels),
                    None => String::new(),
                };
                format!(
                    "{name} differs from the expected image{wrong}, by up to {}/255 in a colour \
                     channel",
                    r.max_channel_error
                )
            }
            ValidationKind::VaContext(_) => format!("{name}: no decode context could be made"),
            ValidationKind::CodecQuery(_) => {
                format!("{name}: NVDEC or NVENC did not answer every capability query")
            }
            _ => format!("{name} did not pass"),
        }
    }
}

/// What a validation ran, with the figures that mean something for it. The JSON `kind` names
/// the variant; a kind this version does not know, read from a report a later one wrote, is
/// kept as [`ValidationKind::Unknown`] so that reading stays tolerant as the list grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ValidationKind {
    /// `y = a * x + y` over [`crate::kernels::SAXPY_ELEMENTS`] elements, checked against the
    /// CPU reference.
    Saxpy(Compared),
    /// A [`crate::kernels::SGEMM_N`]² matrix product at level `full`, checked against the CPU
    /// reference.
    Sgemm(Compared),
    /// An image drawn off-screen through EGL, compared pixel by pixel with the one computed on
    /// the CPU.
    Render(Render),
    /// A VA-API decode context made (and destroyed) for one profile.
    VaContext(VaContext),
    /// NVDEC's and NVENC's capability queries answered on a CUDA context; no stream is
    /// decoded or encoded.
    CodecQuery(CodecQuery),
    /// SAXPY in an OpenMP `#pragma omp target` region built by GCC, which ran on the device
    /// (never on the host), checked against the CPU reference.
    OffloadRegion(Compared),
    /// A kind this version of hwspec does not know: its name and its own keys as written.
    #[serde(skip)]
    Unknown {
        /// The `kind` as written.
        kind: String,
        /// Every other key of the kind, as written.
        fields: serde_json::Map<String, serde_json::Value>,
    },
}

impl ValidationKind {
    /// The `kind` names this version reads into their own variants.
    pub const KNOWN: &'static [&'static str] = &[
        "saxpy",
        "sgemm",
        "render",
        "va-context",
        "codec-query",
        "offload-region",
    ];

    /// The `kind` as written in JSON.
    pub fn name(&self) -> &str {
        match self {
            ValidationKind::Saxpy(_) => "saxpy",
            ValidationKind::Sgemm(_) => "sgemm",
            ValidationKind::Render(_) => "render",
            ValidationKind::VaContext(_) => "va-context",
            ValidationKind::CodecQuery(_) => "codec-query",
            ValidationKind::OffloadRegion(_) => "offload-region",
            ValidationKind::Unknown { kind, .. } => kind,
        }
    }

    /// The kind with what tells it apart on one device: `saxpy`, `render gles`,
    /// `va-context H264Main`.
    pub fn label(&self) -> String {
        match self {
            ValidationKind::Render(r) => format!("render {}", r.api.as_str()),
            ValidationKind::VaContext(va) => format!("va-context {}", va.profile),
            other => other.name().to_owned(),
        }
    }

    /// The comparison with the CPU reference, for the kinds that compute numbers.
    pub fn compared(&self) -> Option<&Compared> {
        match self {
            ValidationKind::Saxpy(c)
            | ValidationKind::Sgemm(c)
            | ValidationKind::OffloadRegion(c) => Some(c),
            _ => None,
        }
    }
}

impl Serialize for ValidationKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            ValidationKind::Unknown { kind, fields } => {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("kind", kind)?;
                for (key, value) in fields.iter().filter(|(key, _)| *key != "kind") {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            known => ValidationKind::serialize(known, serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ValidationKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut fields = serde_json::Map::deserialize(deserializer)?;
        let kind = match fields.get("kind") {
            Some(serde_json::Value::String(kind)) => kind.clone(),
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "a validation's kind is {other}, not a name"
                )))
            }
            None => return Err(D::Error::missing_field("kind")),
        };
        if ValidationKind::KNOWN.contains(&kind.as_str()) {
            ValidationKind::deserialize(serde_json::Value::Object(fields)).map_err(D::Error::custom)
        } else {
            fields.remove("kind");
            Ok(ValidationKind::Unknown { kind, fields })
        }
    }
}

/// A numeric result compared element by element with the CPU reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    /// Output elements compared.
    pub elements: u64,
    /// Largest absolute difference from the CPU reference. Infinite when an element was not a
    /// finite number or the output had the wrong length; JSON has no infinity, so it is
    /// written as `null`.
    #[serde(with = "finite_or_null")]
    pub max_abs_error: f64,
}

/// An off-screen image compared with the expected one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Render {
    /// The client API that drew it.
    pub api: RenderApi,
    /// Pixels compared.
    pub pixels: u64,
    /// Pixels with a colour channel off by more than one unit in 255, or missing from the
    /// image read back. `None` only in a report read from schema 1, which did not count them
    /// for a render that failed.
    pub mismatched_pixels: Option<u64>,
    /// Largest difference of one colour channel from the expected image, in units of 1/255.
    pub max_channel_error: u8,
}

/// The client API a [`Render`] drew with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RenderApi {
    /// OpenGL ES.
    #[serde(rename = "gles")]
    Gles,
    /// Desktop OpenGL.
    #[serde(rename = "opengl")]
    OpenGl,
}

impl RenderApi {
    /// The name used in JSON and tables, which is also the capability's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RenderApi::Gles => "gles",
            RenderApi::OpenGl => "opengl",
        }
    }
}

/// A VA-API decode context made for one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaContext {
    /// va.h's name of the profile, without `VAProfile` (`H264Main`), or its number.
    pub profile: String,
}

/// The codecs NVDEC and NVENC answered for, supported or not (the device's `features` say which
/// are supported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodecQuery {
    /// Codecs NVDEC answered a capability query for; empty when NVDEC was not loaded.
    pub decode: Vec<String>,
    /// Codecs looked up in the list NVENC answered with; empty when NVENC was not loaded.
    pub encode: Vec<String>,
}

/// Writes a non-finite float as `null` (JSON has no infinity) and reads `null` back as infinity.
mod finite_or_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_none()
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::INFINITY))
    }
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
    /// Every validation that ran on the device, in the order they ran; empty when none did
    /// (level `quick`, or the device failed before any).
    #[serde(default)]
    pub validations: Vec<Validation>,
    /// Capability-relevant feature flags proven by the runtime (e.g. `fp64`, `spirv`).
    #[serde(default)]
    pub features: Vec<String>,
    /// Further facts as the runtime reported them, for people reading the report.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl Device {
    /// Whether the device counts as proven at `level`: validated, or at level `quick`
    /// (which runs no kernel) listed.
    pub fn proven_at(&self, level: Level) -> bool {
        match self.status {
            Status::Validated => true,
            Status::Enumerated => level == Level::Quick,
            _ => false,
        }
    }

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
            validations: Vec::new(),
            features: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    /// Whether the device has the given feature flag.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// The first validation of the given `kind` (`saxpy`, `render`, ...) that ran on the device.
    pub fn validation(&self, kind: &str) -> Option<&Validation> {
        self.validations.iter().find(|v| v.kind.name() == kind)
    }

    /// Marks the device `failed` for `code`.
    pub fn fail(&mut self, code: ReasonCode, message: impl Into<String>) {
        self.status = Status::Failed;
        self.reason = Some(Reason::new(code, message));
    }

    /// Sets the state from the validations that ran: `validated` when every one gave what was
    /// expected, otherwise `failed` with `wrong-result` naming the first that did not. A device
    /// on which no validation ran has proven nothing, and keeps its state.
    pub fn judge_validations(&mut self) {
        if self.validations.is_empty() {
            return;
        }
        match self
            .validations
            .iter()
            .find(|validation| !validation.passed)
        {
            None => {
                self.status = Status::Validated;
                self.reason = None;
            }
            Some(validation) => {
                let message = validation.shortfall();
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

/// Sorts capabilities as reports list them: by name, then by version in Debian's order.
pub(crate) fn sort_capabilities(caps: &mut [Capability]) {
    caps.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| match (&a.version, &b.version) {
                (Some(x), Some(y)) => crate::version::order(x, y),
                (x, y) => x.cmp(y),
            })
    });
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

    /// Reads a document `hwspec probe --json` wrote, of this schema or an earlier one: a
    /// schema-1 report (written before validations had kinds, as the GPU machines' saved
    /// reports were) comes back as schema [`SCHEMA_VERSION`], each validation with the kind
    /// that ran. Keys this version does not know are ignored, and validation kinds it does not
    /// know are kept as [`ValidationKind::Unknown`].
    pub fn from_json(text: &str) -> Result<Report, ReportReadError> {
        /// Only the schema, so that a current report is parsed once, typed, with the line and
        /// column of any error.
        #[derive(Deserialize)]
        struct Schema {
            schema: serde_json::Value,
        }
        let malformed = |e: serde_json::Error| ReportReadError::Malformed(e.to_string());
        let schema = serde_json::from_str::<Schema>(text)
            .map_err(malformed)?
            .schema;
        match schema.as_u64() {
            Some(n) if n == u64::from(SCHEMA_VERSION) => {
                serde_json::from_str(text).map_err(malformed)
            }
            Some(1) => {
                let mut document: serde_json::Value =
                    serde_json::from_str(text).map_err(malformed)?;
                schema1::upgrade(&mut document).map_err(ReportReadError::Malformed)?;
                serde_json::from_value(document).map_err(malformed)
            }
            _ => Err(ReportReadError::Schema(schema.to_string())),
        }
    }
}

/// Why a document could not be read as a report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportReadError {
    /// Not JSON, or not shaped like a report of the schema it names: what is wrong.
    Malformed(String),
    /// A `schema` this version cannot read (a later one's, or not a number), as written.
    Schema(String),
}

impl fmt::Display for ReportReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportReadError::Malformed(why) => write!(f, "not a hwspec report: {why}"),
            ReportReadError::Schema(schema) => write!(
                f,
                "report schema {schema} is not one this hwspec reads (1 to {SCHEMA_VERSION})"
            ),
        }
    }
}

impl std::error::Error for ReportReadError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(level: Level, capabilities: Vec<Capability>, backends: Vec<BackendReport>) -> Report {
        Report {
            schema: SCHEMA_VERSION,
            hwspec_version: "0".into(),
            level,
            capabilities,
            backends,
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
        }
    }

    #[test]
    fn contract_keys_are_spelled_as_documented() {
        let mut device = Device::new("dev", "vendor", DeviceKind::Software);
        device.reason = Some(Reason::new(ReasonCode::NoDevice, "m"));
        device.validations.push(Validation {
            kind: ValidationKind::Saxpy(Compared {
                elements: 4,
                max_abs_error: 0.0,
            }),
            passed: true,
            elapsed_ms: 1.0,
        });
        let mut backend = BackendReport::new(BackendName::Opencl, Status::Validated, None);
        backend.devices.push(device);
        let report = report(
            Level::Standard,
            vec![
                Capability::versioned("opencl", "3.0"),
                Capability::flag("cpu"),
            ],
            vec![backend],
        );
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
            "validations",
        ] {
            assert!(d.get(key).is_some(), "device {key}");
        }
        assert_eq!(d["kind"], "software");
        assert_eq!(d["reason"]["code"], "no-device");
        assert_eq!(
            d["validations"][0],
            serde_json::json!({
                "kind": "saxpy",
                "elements": 4,
                "max_abs_error": 0.0,
                "passed": true,
                "elapsed_ms": 1.0,
            })
        );
        assert_eq!(v["schema"], 2);
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

    fn compared(kind: fn(Compared) -> ValidationKind, max_abs_error: f64) -> ValidationKind {
        kind(Compared {
            elements: 16,
            max_abs_error,
        })
    }

    fn validation(kind: ValidationKind, passed: bool) -> Validation {
        Validation {
            kind,
            passed,
            elapsed_ms: 1.0,
        }
    }

    /// One validation of every kind, with its JSON as docs/report.md shows it.
    fn one_of_each_kind() -> Vec<(Validation, serde_json::Value)> {
        use serde_json::json;
        let kinds = [
            (
                compared(ValidationKind::Saxpy, 0.0),
                json!({"kind": "saxpy", "elements": 16, "max_abs_error": 0.0}),
            ),
            (
                compared(ValidationKind::Sgemm, 0.5),
                json!({"kind": "sgemm", "elements": 16, "max_abs_error": 0.5}),
            ),
            (
                ValidationKind::Render(Render {
                    api: RenderApi::OpenGl,
                    pixels: 4096,
                    mismatched_pixels: Some(0),
                    max_channel_error: 1,
                }),
                json!({"kind": "render", "api": "opengl", "pixels": 4096,
                       "mismatched_pixels": 0, "max_channel_error": 1}),
            ),
            (
                ValidationKind::VaContext(VaContext {
                    profile: "H264Main".into(),
                }),
                json!({"kind": "va-context", "profile": "H264Main"}),
            ),
            (
                ValidationKind::CodecQuery(CodecQuery {
                    decode: vec!["h264".into()],
                    encode: Vec::new(),
                }),
                json!({"kind": "codec-query", "decode": ["h264"], "encode": []}),
            ),
            (
                compared(ValidationKind::OffloadRegion, f64::INFINITY),
                json!({"kind": "offload-region", "elements": 16, "max_abs_error": null}),
            ),
        ];
        kinds
            .into_iter()
            .map(|(kind, mut json)| {
                json["passed"] = true.into();
                json["elapsed_ms"] = 1.0.into();
                (validation(kind, true), json)
            })
            .collect()
    }

    /// Each kind is written with its own keys beside `kind`, `passed` and `elapsed_ms`, and
    /// read back as it was, an infinite error included (JSON's `null`).
    #[test]
    fn every_validation_kind_is_self_describing_and_survives_a_round_trip() {
        let all = one_of_each_kind();
        let known: Vec<&str> = all.iter().map(|(v, _)| v.kind.name()).collect();
        assert_eq!(known, ValidationKind::KNOWN);
        for (validation, json) in all {
            assert_eq!(serde_json::to_value(&validation).unwrap(), json);
            let back: Validation = serde_json::from_value(json).unwrap();
            assert_eq!(back, validation);
        }
    }

    /// A kind a later hwspec adds is kept, with its keys, and judged by `passed`; a known kind
    /// with the wrong keys, or a validation without a kind, is an error.
    #[test]
    fn unknown_kinds_are_kept_and_malformed_known_ones_refused() {
        let later = serde_json::json!({
            "kind": "matmul-fp8", "passed": false, "elapsed_ms": 2.0, "tiles": 9
        });
        let read: Validation = serde_json::from_value(later.clone()).unwrap();
        assert_eq!(read.kind.name(), "matmul-fp8");
        assert!(!read.passed);
        match &read.kind {
            ValidationKind::Unknown { fields, .. } => assert_eq!(fields["tiles"], 9),
            other => panic!("{other:?}"),
        }
        assert_eq!(serde_json::to_value(&read).unwrap(), later);
        let mut device = Device::new("d", "v", DeviceKind::Gpu);
        device.validations.push(read);
        device.judge_validations();
        assert_eq!(device.reason.unwrap().message, "matmul-fp8 did not pass");

        for bad in [
            serde_json::json!({"kind": "saxpy", "passed": true, "elapsed_ms": 1.0}),
            serde_json::json!({"kind": "render", "api": "vulkan", "pixels": 1,
                               "max_channel_error": 0, "passed": true, "elapsed_ms": 1.0}),
            serde_json::json!({"kind": 3, "passed": true, "elapsed_ms": 1.0}),
            serde_json::json!({"passed": true, "elapsed_ms": 1.0}),
        ] {
            assert!(
                serde_json::from_value::<Validation>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    /// Every backend judges its devices' validations with [`Device::judge_validations`].
    #[test]
    fn a_device_is_validated_only_when_every_validation_passed() {
        let mut device = Device::new("d", "v", DeviceKind::Gpu);
        device.judge_validations();
        assert_eq!(
            device.status,
            Status::Enumerated,
            "nothing ran, nothing proven"
        );

        device
            .validations
            .push(validation(compared(ValidationKind::Saxpy, 0.0), true));
        device.judge_validations();
        assert_eq!(device.status, Status::Validated);
        assert!(device.reason.is_none());

        device
            .validations
            .push(validation(compared(ValidationKind::Sgemm, 0.75), false));
        device.judge_validations();
        assert_eq!(device.status, Status::Failed);
        let reason = device.reason.unwrap();
        assert_eq!(reason.code, ReasonCode::WrongResult);
        assert_eq!(
            reason.message,
            "sgemm differs from the CPU reference by up to 0.75 over 16 elements"
        );
    }

    /// A failed validation's reason names its kind and what was wrong in that kind's terms.
    #[test]
    fn a_failed_validation_says_what_was_wrong_in_its_own_terms() {
        let render = |mismatched_pixels| {
            ValidationKind::Render(Render {
                api: RenderApi::Gles,
                pixels: 4096,
                mismatched_pixels,
                max_channel_error: 40,
            })
        };
        for (kind, message) in [
            (
                compared(ValidationKind::OffloadRegion, f64::INFINITY),
                "offload-region gave a non-finite element, or not the 16 elements expected",
            ),
            (
                render(Some(12)),
                "render gles differs from the expected image in 12 of 4096 pixels, by up to \
                 40/255 in a colour channel",
            ),
            (
                render(None),
                "render gles differs from the expected image, by up to 40/255 in a colour channel",
            ),
            (
                ValidationKind::VaContext(VaContext {
                    profile: "HEVCMain".into(),
                }),
                "va-context HEVCMain: no decode context could be made",
            ),
        ] {
            assert_eq!(validation(kind, false).shortfall(), message);
        }
    }

    /// A report of this schema is read as it was written, one of schema 1 upgraded, anything
    /// else refused saying why.
    #[test]
    fn reports_are_read_by_their_schema() {
        let mut report = report(Level::Quick, vec![Capability::flag("cpu")], Vec::new());
        let text = serde_json::to_string_pretty(&report).unwrap();
        assert_eq!(Report::from_json(&text).unwrap(), report);

        report.schema = 1;
        let old = serde_json::to_string(&report).unwrap();
        report.schema = SCHEMA_VERSION;
        assert_eq!(Report::from_json(&old).unwrap(), report);

        let broken = text.replace("\"quick\"", "\"slow\"");
        let message = Report::from_json(&broken).unwrap_err().to_string();
        assert!(
            message.starts_with("not a hwspec report: unknown variant `slow`"),
            "{message}"
        );
        assert!(
            message.contains("line 4"),
            "a current report's errors say where: {message}"
        );

        for (schema, shown) in [
            ("99", "99"),
            ("\"2\"", "\"2\""),
            ("-1", "-1"),
            ("null", "null"),
        ] {
            let other = text.replacen("\"schema\": 2", &format!("\"schema\": {schema}"), 1);
            assert_eq!(
                Report::from_json(&other).unwrap_err(),
                ReportReadError::Schema(shown.into())
            );
        }
        assert_eq!(
            ReportReadError::Schema("99".into()).to_string(),
            "report schema 99 is not one this hwspec reads (1 to 2)"
        );
        for garbage in ["", "[]", "{}", "not json", "{\"schema\": 1}"] {
            let error = Report::from_json(garbage).unwrap_err();
            assert!(
                matches!(error, ReportReadError::Malformed(_)),
                "{garbage}: {error}"
            );
        }
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
