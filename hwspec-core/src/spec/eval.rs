//! Judges a requirement against a report, explaining each relation so that `--explain` can say
//! which device proves it or why nothing does.

use std::cmp::Ordering;

use serde::Serialize;

use super::ast::{Op, Relation, Requirement};
use super::overrides::Override;
use crate::version;

use crate::model::{BackendName, Device, DeviceKind, Level, Report};

/// The judgement on a whole requirement: every clause must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Whether every clause is satisfied.
    pub satisfied: bool,
    /// One entry per clause, in the requirement's order.
    pub clauses: Vec<ClauseVerdict>,
}

impl Verdict {
    /// The text `--explain` shows: `heading: satisfied` (or `NOT satisfied`), then each clause
    /// marked `[yes]`/`[no ]` and each of its relations with the reason it holds or not.
    pub fn explanation(&self, heading: &str) -> String {
        use std::fmt::Write as _;
        let overall = if self.satisfied {
            "satisfied"
        } else {
            "NOT satisfied"
        };
        let mut out = format!("{heading}: {overall}\n");
        for clause in &self.clauses {
            let mark = if clause.satisfied { "yes" } else { "no " };
            let _ = writeln!(out, "  [{mark}] {}", clause.text);
            for relation in &clause.relations {
                let _ = writeln!(out, "        {}: {}", relation.text, relation.explanation);
            }
        }
        out
    }
}

/// The judgement on one clause: some alternative must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClauseVerdict {
    /// The clause in canonical spelling.
    pub text: String,
    /// Whether any of its relations is satisfied.
    pub satisfied: bool,
    /// Every alternative, judged even after one holds, so that the explanation is complete.
    pub relations: Vec<RelationVerdict>,
}

/// The judgement on one relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelationVerdict {
    /// The relation in canonical spelling.
    pub text: String,
    /// Whether the report's capability set satisfies it.
    pub satisfied: bool,
    /// Which device proves it, or why it does not hold, in one sentence.
    pub explanation: String,
    /// The name of the device that proves it, where one does.
    pub device: Option<String>,
}

/// Judges `requirement` against `report`'s capability set. `overrides` are those
/// [`apply_overrides`](super::apply_overrides) applied to the report, so that explanations
/// can name the variable behind a capability instead of a device.
pub fn evaluate(requirement: &Requirement, report: &Report, overrides: &[Override]) -> Verdict {
    let clauses: Vec<ClauseVerdict> = requirement
        .clauses
        .iter()
        .map(|clause| {
            let relations: Vec<RelationVerdict> = clause
                .relations
                .iter()
                .map(|relation| judge(relation, report, overrides))
                .collect();
            ClauseVerdict {
                text: clause.to_string(),
                satisfied: relations.iter().any(|r| r.satisfied),
                relations,
            }
        })
        .collect();
    Verdict {
        satisfied: clauses.iter().all(|c| c.satisfied),
        clauses,
    }
}

const QUICK_NOTE: &str = " (level quick: devices were enumerated, not validated)";

fn judge(relation: &Relation, report: &Report, overrides: &[Override]) -> RelationVerdict {
    let name = relation.name.as_str();
    let values: Vec<Option<&str>> = report
        .capabilities
        .iter()
        .filter(|c| c.name == name)
        .map(|c| c.version.as_deref())
        .collect();
    // For a constrained relation the witness is the highest value that satisfies it, so that
    // the device named is the best one; an unconstrained one is satisfied by presence alone.
    let witness: Option<Option<&str>> = match &relation.constraint {
        None => values.first().copied(),
        Some((op, want)) => values
            .iter()
            .flatten()
            .copied()
            .filter(|have| version::compare(have, want).is_some_and(|o| op.holds(o)))
            .max_by(|a, b| version::order(a, b))
            .map(Some),
    };
    let mut verdict = RelationVerdict {
        text: relation.to_string(),
        satisfied: witness.is_some(),
        explanation: String::new(),
        device: None,
    };
    if let Some(set) = overrides.iter().find(|o| o.capability == name) {
        let by = format!("{}={}", set.variable, set.value);
        verdict.explanation = match (witness, values.is_empty()) {
            (Some(_), _) => format!("set by {by}"),
            (None, true) => format!("removed by {by}"),
            (None, false) => format!("{} does not satisfy it; set by {by}", list(&values)),
        };
        return verdict;
    }
    let world = World { report };
    match witness {
        Some(value) => {
            let proof = world.prover(name, value);
            verdict.explanation = match (&proof, value) {
                (Some(device), Some(value)) => {
                    format!("satisfied by {device} with {value}{}", device.evidence())
                }
                (Some(device), None) => format!("satisfied by {device}{}", device.evidence()),
                (None, _) => world.satisfied_without_device(name, value),
            };
            verdict.device = proof.map(|p| p.device.name.clone());
        }
        None => {
            verdict.explanation = match &relation.constraint {
                Some((op, _)) if !values.is_empty() => world.too_low(name, *op, &values),
                _ => world.why_absent(name),
            };
            verdict.explanation.push_str(&world.dropped_drivers(name));
        }
    }
    if report.level == Level::Quick {
        verdict.explanation.push_str(QUICK_NOTE);
    }
    verdict
}

fn list(values: &[Option<&str>]) -> String {
    values
        .iter()
        .map(|v| v.unwrap_or("present"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A device and the backend that reported it, shown as `NAME (backend)`.
#[derive(Debug, Clone, Copy)]
struct Found<'r> {
    backend: BackendName,
    device: &'r Device,
}

impl std::fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.device.name, self.backend)
    }
}

impl Found<'_> {
    /// With the device's kind, for lists where the kind is the point.
    fn with_kind(&self) -> String {
        format!(
            "{} ({}, {})",
            self.device.name, self.backend, self.device.kind
        )
    }

    /// `, validated by KIND, ...` naming the validations that proved the device; nothing for
    /// a device that was not validated (level quick).
    fn evidence(&self) -> String {
        if self.device.status != crate::model::Status::Validated {
            return String::new();
        }
        let kinds: Vec<String> = self
            .device
            .validations
            .iter()
            .map(|v| v.kind.label())
            .collect();
        if kinds.is_empty() {
            String::new()
        } else {
            format!(", validated by {}", kinds.join(", "))
        }
    }

    /// With its state and reason, for devices that prove nothing.
    fn with_state(&self) -> String {
        match &self.device.reason {
            Some(reason) => format!(
                "{self} is {}: {}: {}",
                self.device.status, reason.code, reason.message
            ),
            None => format!("{self} is {}", self.device.status),
        }
    }
}

/// The backends that probe accelerators, whose devices can be GPUs.
/// How the backends begin a warning that names one of their drivers (see docs/report.md).
const DRIVER_WARNING_PREFIXES: &[&str] = &[
    "OpenCL ICD ",
    "OpenCL platform ",
    "Vulkan driver manifest ",
    "Vulkan loader ",
    "EGL vendor ",
];

const ACCELERATOR_BACKENDS: [BackendName; 5] = [
    BackendName::Opencl,
    BackendName::Vulkan,
    BackendName::Cuda,
    BackendName::Hip,
    BackendName::LevelZero,
];

#[derive(Debug, Clone, Copy)]
struct World<'r> {
    report: &'r Report,
}

impl<'r> World<'r> {
    fn devices(self, backend: BackendName) -> impl Iterator<Item = Found<'r>> {
        self.report
            .backends
            .iter()
            .filter(move |b| b.name == backend)
            .flat_map(move |b| {
                b.devices
                    .iter()
                    .map(move |device| Found { backend, device })
            })
    }

    fn proven(self, backend: BackendName) -> impl Iterator<Item = Found<'r>> {
        let level = self.report.level;
        self.devices(backend)
            .filter(move |f| f.device.proven_at(level))
    }

    fn proven_accelerators(self) -> impl Iterator<Item = Found<'r>> {
        ACCELERATOR_BACKENDS
            .into_iter()
            .flat_map(move |backend| self.proven(backend))
    }

    fn api_version(found: &Found<'_>) -> Option<String> {
        found
            .device
            .api_version
            .as_deref()
            .and_then(version::major_minor)
    }

    /// The device that proves capability `name` with `value`, where one does.
    fn prover(self, name: &str, value: Option<&str>) -> Option<Found<'r>> {
        let is_gpu = |f: &Found<'_>| f.device.kind == DeviceKind::Gpu;
        let same_version = |have: Option<&str>| match (have, value) {
            (Some(have), Some(value)) => version::compare(have, value) == Some(Ordering::Equal),
            _ => false,
        };
        match name {
            "cpu" => self.devices(BackendName::Cpu).next(),
            _ if is_cpu_feature(name) => self.proven(BackendName::Cpu).next(),
            "cuda" => self.proven(BackendName::Cuda).next(),
            "cuda-arch" => self
                .proven(BackendName::Cuda)
                .find(|f| same_version(f.device.arch.as_deref())),
            "rocm" => self.proven(BackendName::Hip).next(),
            "level-zero" => self.proven(BackendName::LevelZero).next(),
            "opencl" | "vulkan" => {
                let backend = if name == "opencl" {
                    BackendName::Opencl
                } else {
                    BackendName::Vulkan
                };
                self.proven(backend)
                    .filter_map(|f| Some((Self::api_version(&f)?, f)))
                    .max_by(|(a, _), (b, _)| version::order(a, b))
                    .map(|(_, f)| f)
            }
            "opencl-gpu" => self.proven(BackendName::Opencl).find(is_gpu),
            "vulkan-gpu" => self.proven(BackendName::Vulkan).find(is_gpu),
            "opencl-fp64" => self
                .proven(BackendName::Opencl)
                .find(|f| f.device.has_feature("fp64")),
            "sycl" => self
                .proven(BackendName::LevelZero)
                .find(is_gpu)
                .or_else(|| {
                    self.proven(BackendName::Opencl)
                        .find(|f| f.device.has_feature("spirv"))
                }),
            "gpu" => self.proven_accelerators().find(is_gpu),
            "gpu-memory" => self
                .proven_accelerators()
                .filter(is_gpu)
                .filter(|f| f.device.memory_bytes.is_some())
                .max_by_key(|f| f.device.memory_bytes),
            "egl" => self.proven(BackendName::Egl).next(),
            "gles" => self
                .proven(BackendName::Egl)
                .filter_map(|f| Some((Self::api_version(&f)?, f)))
                .max_by(|(a, _), (b, _)| version::order(a, b))
                .map(|(_, f)| f),
            "opengl" => self
                .proven(BackendName::Egl)
                .find(|f| f.device.has_feature("opengl")),
            _ if feature_capability(name).is_some() => {
                let (backend, feature) = feature_capability(name)?;
                self.proven(backend)
                    .find(|f| f.device.has_feature(&feature))
            }
            _ if name.starts_with("gcc-offload-") => {
                let arch = name.strip_prefix("gcc-offload-")?;
                self.proven(BackendName::GccOffload).find(|f| {
                    f.device.arch.as_deref() == Some(arch)
                        && f.device.status == crate::model::Status::Validated
                })
            }
            _ => match name.strip_prefix("rocm-") {
                Some(target) => self
                    .proven(BackendName::Hip)
                    .find(|f| f.device.arch.as_deref() == Some(target)),
                None => None,
            },
        }
    }

    /// The proven hardware GPUs of the backend that saw the most, as `gpu-count` counts them.
    fn counted_gpus(self) -> Vec<Found<'r>> {
        ACCELERATOR_BACKENDS
            .into_iter()
            .map(|backend| {
                self.proven(backend)
                    .filter(|f| f.device.kind == DeviceKind::Gpu)
                    .collect::<Vec<_>>()
            })
            .max_by_key(Vec::len)
            .unwrap_or_default()
    }

    fn satisfied_without_device(self, name: &str, value: Option<&str>) -> String {
        let gpus = self.counted_gpus();
        if name == "gpu-count" && !gpus.is_empty() {
            let names: Vec<String> = gpus.iter().map(ToString::to_string).collect();
            return format!("satisfied by {} GPUs: {}", gpus.len(), names.join(", "));
        }
        match value {
            Some(value) => format!("satisfied: the report lists {name} {value}"),
            None => format!("satisfied: the report lists {name}"),
        }
    }

    /// Why no value of a present capability satisfies the constraint.
    fn too_low(self, name: &str, op: Op, values: &[Option<&str>]) -> String {
        let versions: Vec<&str> = values.iter().flatten().copied().collect();
        if versions.is_empty() {
            return format!("{name} is present but its version is unknown");
        }
        // With a lower bound the highest value is the one that came closest; with other
        // operators every value is worth showing.
        let wants_higher = matches!(op, Op::LaterOrEqual | Op::Later);
        let shown: Vec<&str> = if wants_higher || versions.len() == 1 {
            versions
                .iter()
                .copied()
                .max_by(|a, b| version::order(a, b))
                .into_iter()
                .collect()
        } else {
            versions
        };
        let described: Vec<String> = shown
            .iter()
            .map(|v| match self.prover(name, Some(v)) {
                Some(found) if name != "cuda" && name != "rocm" && name != "level-zero" => {
                    format!("{v} ({})", found.device.name)
                }
                _ => (*v).to_owned(),
            })
            .collect();
        let values = described.join(", ");
        match name {
            "cuda" => format!("the driver supports CUDA {values}"),
            "rocm" => format!("the HIP runtime is {values}"),
            "level-zero" => format!("the Level Zero API is {values}"),
            "gpu-count" if values == "1" => "1 hardware GPU was found".to_owned(),
            "gpu-count" => format!("{values} hardware GPUs were found"),
            "gpu-memory" => match self.prover(name, None) {
                Some(found) => format!(
                    "the largest GPU has {} GiB ({})",
                    shown[0], found.device.name
                ),
                None => format!("the largest GPU has {} GiB", shown[0]),
            },
            _ if shown.len() > 1 => format!("the devices have {values}"),
            _ if wants_higher => format!("the best device has {values}"),
            _ => format!("the device has {values}"),
        }
    }

    /// `; dropped drivers: ...` with every warning in which a backend that could provide `name`
    /// names a driver its loader refused or that gave no device (a refused NVIDIA Vulkan ICD
    /// explains a missing `vulkan-gpu`); empty when there is none.
    fn dropped_drivers(self, name: &str) -> String {
        let backends: &[BackendName] = match name {
            "gpu" | "gpu-count" | "gpu-memory" => &ACCELERATOR_BACKENDS,
            "sycl" => &[BackendName::LevelZero, BackendName::Opencl],
            "egl" | "gles" | "opengl" => &[BackendName::Egl],
            _ if name.starts_with("opencl") => &[BackendName::Opencl],
            _ if name.starts_with("vulkan") => &[BackendName::Vulkan],
            _ if name.starts_with("cuda") => &[BackendName::Cuda],
            _ if name.starts_with("nvdec-") || name.starts_with("nvenc-") => {
                &[BackendName::Nvcodec]
            }
            _ => &[],
        };
        let dropped: Vec<&str> = backends
            .iter()
            .filter_map(|&b| self.report.backend(b))
            .flat_map(|b| &b.warnings)
            .filter(|w| DRIVER_WARNING_PREFIXES.iter().any(|p| w.starts_with(p)))
            .map(String::as_str)
            .collect();
        if dropped.is_empty() {
            String::new()
        } else {
            format!("; dropped drivers: {}", dropped.join("; "))
        }
    }

    /// Why a capability is not in the set at all.
    fn why_absent(self, name: &str) -> String {
        let architecture = self.report.host.architecture.as_str();
        match name {
            _ if name.starts_with("x86-64-") && architecture != "x86_64" => {
                format!("the CPU is {architecture}, not x86-64")
            }
            _ if name.starts_with("arm64-") && architecture != "aarch64" => {
                format!("the CPU is {architecture}, not arm64")
            }
            _ if is_cpu_feature(name) => match self.proven(BackendName::Cpu).next() {
                Some(cpu) => self.missing_cpu_feature(name, cpu),
                None => self.backend_why(BackendName::Cpu),
            },
            "cuda" | "cuda-arch" => self.runtime_why(BackendName::Cuda, |_| {
                "the proven CUDA devices do not report a compute capability".to_owned()
            }),
            "rocm" => self.backend_why(BackendName::Hip),
            "level-zero" => self.backend_why(BackendName::LevelZero),
            "egl" | "gles" => self.backend_why(BackendName::Egl),
            "opengl" => self.runtime_why(BackendName::Egl, |_| {
                "the proven EGL devices offer no desktop OpenGL context".to_owned()
            }),
            "opencl" => self.backend_why(BackendName::Opencl),
            "vulkan" => self.backend_why(BackendName::Vulkan),
            "opencl-gpu" => self.runtime_why(BackendName::Opencl, |w| {
                w.no_gpu(
                    w.proven(BackendName::Opencl).collect(),
                    &[BackendName::Opencl],
                )
            }),
            "vulkan-gpu" => self.runtime_why(BackendName::Vulkan, |w| {
                w.no_gpu(
                    w.proven(BackendName::Vulkan).collect(),
                    &[BackendName::Vulkan],
                )
            }),
            "opencl-fp64" => self.runtime_why(BackendName::Opencl, |w| {
                format!(
                    "no proven OpenCL device has fp64: {}",
                    kinds(w.proven(BackendName::Opencl))
                )
            }),
            "sycl" => format!(
                "no proven Level Zero GPU and no proven OpenCL device that accepts SPIR-V; \
                 level-zero: {}; opencl: {}",
                self.backend_why(BackendName::LevelZero),
                self.backend_why(BackendName::Opencl)
            ),
            "gpu" | "gpu-count" | "gpu-memory" => {
                if name == "gpu-memory" && self.prover("gpu", None).is_some() {
                    return "the proven GPUs do not report their memory".to_owned();
                }
                self.no_gpu(self.proven_accelerators().collect(), &ACCELERATOR_BACKENDS)
            }
            _ => match name.strip_prefix("rocm-") {
                Some(target) => self.runtime_why(BackendName::Hip, |w| {
                    let others: Vec<String> = w
                        .proven(BackendName::Hip)
                        .map(|f| match &f.device.arch {
                            Some(arch) => format!("{arch} ({})", f.device.name),
                            None => format!("unknown ({})", f.device.name),
                        })
                        .collect();
                    format!(
                        "no proven HIP device is {target}; the proven ones are {}",
                        others.join(", ")
                    )
                }),
                None => match feature_capability(name) {
                    Some((backend, feature)) => self.runtime_why(backend, |w| {
                        format!(
                            "no proven {backend} device offers {feature}: {}",
                            w.proven(backend)
                                .map(|f| format!(
                                    "{} has {}",
                                    f.device.name,
                                    f.device.features.join(" ")
                                ))
                                .collect::<Vec<_>>()
                                .join("; ")
                        )
                    }),
                    None if name.starts_with("gcc-offload-") => {
                        self.backend_why(BackendName::GccOffload)
                    }
                    None => format!("the report does not list {name}"),
                },
            },
        }
    }

    /// `when_proven` explains the absence when the backend did prove devices; otherwise the
    /// backend's own state is the reason.
    fn runtime_why(self, backend: BackendName, when_proven: impl FnOnce(Self) -> String) -> String {
        if self.proven(backend).next().is_some() {
            when_proven(self)
        } else {
            self.backend_why(backend)
        }
    }

    /// Why `backend` proved no device.
    fn backend_why(self, backend: BackendName) -> String {
        let Some(report) = self.report.backend(backend) else {
            return format!("not probed: the {backend} backend was not part of this probe");
        };
        let state = match &report.reason {
            Some(reason) => format!(
                "the {backend} backend is {}: {}: {}",
                report.status, reason.code, reason.message
            ),
            None => format!("the {backend} backend is {}", report.status),
        };
        let unproven: Vec<Found<'r>> = self.devices(backend).collect();
        if unproven.is_empty() || self.proven(backend).next().is_some() {
            return state;
        }
        // A backend whose devices all failed carries the first device's reason: saying it
        // twice would bury the other devices.
        let repeats_a_device = unproven
            .iter()
            .any(|f| f.device.reason.is_some() && f.device.reason == report.reason);
        let mut parts: Vec<String> = Vec::new();
        if !repeats_a_device {
            parts.push(state);
        }
        parts.extend(unproven.iter().map(Found::with_state));
        let mut why = format!("no {backend} device was proven: {}", parts.join("; "));
        // GCC offloading counts only when its region really ran, even at level quick.
        if backend != BackendName::GccOffload
            && unproven
                .iter()
                .any(|f| f.device.status == crate::model::Status::Enumerated)
        {
            why.push_str(" (enumerated devices count only at level quick)");
        }
        why
    }

    /// Why there is no proven hardware GPU although `proven` devices exist in `backends`.
    fn no_gpu(self, proven: Vec<Found<'r>>, backends: &[BackendName]) -> String {
        let failed_gpus: Vec<String> = backends
            .iter()
            .flat_map(|&b| self.devices(b))
            .filter(|f| f.device.kind == DeviceKind::Gpu && !f.device.proven_at(self.report.level))
            .map(|f| f.with_state())
            .collect();
        let mut why = if proven.is_empty() {
            let states: Vec<String> = backends.iter().map(|&b| self.backend_why(b)).collect();
            format!("no hardware GPU: {}", states.join("; "))
        } else if proven.iter().all(|f| f.device.kind == DeviceKind::Software) {
            format!(
                "no hardware GPU; only software devices were found ({})",
                kinds(proven.iter().copied())
            )
        } else {
            format!(
                "no hardware GPU; only these devices were found: {}",
                kinds(proven.iter().copied())
            )
        };
        if !failed_gpus.is_empty() && !proven.is_empty() {
            why.push_str("; ");
            why.push_str(&failed_gpus.join("; "));
        }
        why
    }

    fn missing_cpu_feature(self, name: &str, cpu: Found<'_>) -> String {
        if name.starts_with("x86-64-") {
            let best = ["x86-64-v4", "x86-64-v3", "x86-64-v2"]
                .into_iter()
                .find(|level| self.report.capability(level).is_some());
            return match best {
                Some(level) => format!("the CPU ({}) meets {level} at most", cpu.device.name),
                None => format!(
                    "the CPU ({}) meets only the x86-64 baseline",
                    cpu.device.name
                ),
            };
        }
        format!("the CPU ({}) does not have {name}", cpu.device.name)
    }
}

/// The backend and device feature behind a video capability: `vaapi-decode-h264` is VA-API's
/// `decode-h264`, `nvdec-hevc` NVDEC's `decode-hevc`, `vulkan-video-decode-av1` Vulkan's
/// `video-decode-av1`.
fn feature_capability(name: &str) -> Option<(BackendName, String)> {
    if let Some(feature) = name.strip_prefix("vaapi-") {
        return Some((BackendName::Vaapi, feature.to_owned()));
    }
    if let Some(codec) = name.strip_prefix("nvdec-") {
        return Some((BackendName::Nvcodec, format!("decode-{codec}")));
    }
    if let Some(codec) = name.strip_prefix("nvenc-") {
        return Some((BackendName::Nvcodec, format!("encode-{codec}")));
    }
    name.strip_prefix("vulkan-")
        .filter(|f| f.starts_with("video-"))
        .map(|f| (BackendName::Vulkan, f.to_owned()))
}

fn is_cpu_feature(name: &str) -> bool {
    name.starts_with("x86-64-") || name.starts_with("arm64-")
}

fn kinds<'r>(found: impl Iterator<Item = Found<'r>>) -> String {
    found.map(|f| f.with_kind()).collect::<Vec<_>>().join(", ")
}
