//! The host processor: architecture, model, cores, memory, x86-64 psABI level, aarch64 features.
//!
//! Everything is read from `/proc` through [`CpuSource`], so tests replay `/proc/cpuinfo` dumps
//! captured on other machines. No vendor library is involved; [`validate`] runs the SAXPY on
//! the host.

mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

use crate::backends::common::skeleton;
use crate::backends::Backend;
use crate::model::Capability;
use crate::model::{BackendName, BackendReport, Device, DeviceKind, Level, ReasonCode, Status};
use crate::protocol::{Progress, Stage};

/// The x86-64 psABI levels and the `/proc/cpuinfo` flags each adds to the one below
/// (x86-64 psABI 1.0, section 3.1.1). `lahf_lm` is the LAHF/SAHF-in-64-bit-mode bit and `abm`
/// is how Linux names LZCNT. OSXSAVE is not listed by Linux, so `xsave` stands in for it.
const X86_64_LEVELS: &[(&str, &[&str])] = &[
    (
        "x86-64",
        &["cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"],
    ),
    (
        "x86-64-v2",
        &["cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"],
    ),
    (
        "x86-64-v3",
        &[
            "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave",
        ],
    ),
    (
        "x86-64-v4",
        &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"],
    ),
];

/// aarch64 `Features` flags that packages gate on, and the capability each becomes.
const ARM64_FEATURES: &[(&str, &str)] = &[
    ("asimd", "arm64-asimd"),
    ("asimddp", "arm64-dotprod"),
    ("asimdhp", "arm64-fp16"),
    ("atomics", "arm64-lse"),
    ("bf16", "arm64-bf16"),
    ("i8mm", "arm64-i8mm"),
    ("sve", "arm64-sve"),
    ("sve2", "arm64-sve2"),
    ("sme", "arm64-sme"),
];

/// Where the CPU facts come from: the running system, or a captured dump in tests.
pub trait CpuSource {
    /// The machine architecture as `uname -m` prints it.
    fn architecture(&self) -> String;
    /// Contents of `/proc/cpuinfo`.
    fn cpuinfo(&self) -> Option<String>;
    /// Contents of `/proc/meminfo`.
    fn meminfo(&self) -> Option<String>;
}

/// The running system.
#[derive(Debug)]
pub struct ProcSource;

impl CpuSource for ProcSource {
    fn architecture(&self) -> String {
        std::env::consts::ARCH.to_owned()
    }

    fn cpuinfo(&self) -> Option<String> {
        crate::sys::read_regular_text(Path::new("/proc/cpuinfo"), crate::sys::PROC_TABLE_BYTES).ok()
    }

    fn meminfo(&self) -> Option<String> {
        crate::sys::read_regular_text(Path::new("/proc/meminfo"), crate::sys::PROC_TABLE_BYTES).ok()
    }
}

/// What was learned about the processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFacts {
    /// `x86_64`, `aarch64`, ...
    pub architecture: String,
    /// Model name.
    pub model: String,
    /// Vendor name or id.
    pub vendor: String,
    /// Logical processors listed in `/proc/cpuinfo`.
    pub logical_cores: usize,
    /// `MemTotal` in bytes.
    pub memory_bytes: Option<u64>,
    /// Feature flags as the kernel lists them (first processor).
    pub flags: Vec<String>,
}

impl CpuFacts {
    /// Reads the facts from `source`. `None` when `/proc/cpuinfo` is unreadable or empty.
    pub fn read(source: &dyn CpuSource) -> Option<CpuFacts> {
        let architecture = source.architecture();
        let cpuinfo = source.cpuinfo()?;
        let first = |keys: &[&str]| {
            cpuinfo.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                keys.contains(&key.trim()).then(|| value.trim().to_owned())
            })
        };
        let logical_cores = cpuinfo
            .lines()
            .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
            .count();
        if logical_cores == 0 {
            return None;
        }
        let flags = first(&["flags", "Features"])
            .map(|f| f.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let model = first(&["model name", "Model", "Hardware", "cpu model"])
            .or_else(|| {
                let part = first(&["CPU part"])?;
                let implementer = first(&["CPU implementer"]).unwrap_or_default();
                Some(format!("implementer {implementer} part {part}"))
            })
            .unwrap_or_else(|| "unknown processor".to_owned());
        let vendor = first(&["vendor_id"])
            .or_else(|| first(&["CPU implementer"]).map(|id| arm_implementer(&id)))
            .unwrap_or_else(|| "unknown".to_owned());
        let memory_bytes = source.meminfo().and_then(|m| mem_total(&m));
        Some(CpuFacts {
            architecture,
            model,
            vendor,
            logical_cores,
            memory_bytes,
            flags,
        })
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// How many entries of [`X86_64_LEVELS`] the processor meets, counting from the baseline and
    /// stopping at the first level with a missing flag (levels are cumulative).
    fn x86_64_levels_met(&self) -> usize {
        if self.architecture != "x86_64" {
            return 0;
        }
        X86_64_LEVELS
            .iter()
            .take_while(|(_, flags)| flags.iter().all(|f| self.has(f)))
            .count()
    }

    /// The highest x86-64 psABI level met; `None` off x86-64 or when even the baseline is
    /// incomplete.
    pub fn x86_64_level(&self) -> Option<&'static str> {
        let met = self.x86_64_levels_met();
        met.checked_sub(1).map(|top| X86_64_LEVELS[top].0)
    }

    /// Capability names proven by the processor's features: every psABI level above the
    /// baseline that is met, or the arm64 features of [`ARM64_FEATURES`].
    pub fn capability_features(&self) -> Vec<String> {
        let levels = X86_64_LEVELS[..self.x86_64_levels_met()]
            .iter()
            .skip(1)
            .map(|(level, _)| (*level).to_owned());
        let arm = ARM64_FEATURES
            .iter()
            .filter(|_| self.architecture == "aarch64")
            .filter(|(flag, _)| self.has(flag))
            .map(|(_, cap)| (*cap).to_owned());
        levels.chain(arm).collect()
    }
}

fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line.split_whitespace().skip(1);
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => value.checked_mul(1024),
        Some(_) => None,
    }
}

/// Names the implementers of the Arm ARM's MIDR_EL1 table that servers and boards use.
fn arm_implementer(id: &str) -> String {
    let name = match id.to_ascii_lowercase().as_str() {
        "0x41" => "ARM",
        "0x42" => "Broadcom",
        "0x43" => "Cavium",
        "0x46" => "Fujitsu",
        "0x48" => "HiSilicon",
        "0x4e" => "NVIDIA",
        "0x50" => "Applied Micro",
        "0x51" => "Qualcomm",
        "0x61" => "Apple",
        "0xc0" => "Ampere",
        _ => return format!("implementer {id}"),
    };
    name.to_owned()
}

/// Probes the host processor.
#[derive(Debug)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with(&ProcSource, level, progress)
    }

    /// The psABI levels and features the proven processor has (`x86-64-v3`, `arm64-sve`).
    fn capabilities(&self, _report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        proven
            .iter()
            .flat_map(|d| &d.features)
            .map(Capability::flag)
            .collect()
    }
}

/// Probes the processor described by `source`.
pub fn probe_with(
    source: &dyn CpuSource,
    level: Level,
    progress: &mut dyn Progress,
) -> BackendReport {
    progress.stage(Stage::Enumerate);
    let Some(facts) = CpuFacts::read(source) else {
        return BackendReport::unusable(
            BackendName::Cpu,
            ReasonCode::ProbeFailed,
            "/proc/cpuinfo could not be read or lists no processor",
        );
    };
    let mut device = Device::new(facts.model.clone(), facts.vendor.clone(), DeviceKind::Cpu);
    device.memory_bytes = facts.memory_bytes;
    device.features = facts.capability_features();
    let props = &mut device.properties;
    props.insert("architecture".into(), facts.architecture.clone());
    props.insert("logical_cores".into(), facts.logical_cores.to_string());
    if let Some(level) = facts.x86_64_level() {
        props.insert("psabi_level".into(), level.to_owned());
    }
    props.insert("flags".into(), facts.flags.join(" "));

    let mut report = BackendReport::new(BackendName::Cpu, Status::Enumerated, None);
    report
        .properties
        .insert("source".into(), "/proc/cpuinfo, /proc/meminfo".into());
    report.devices.push(device);
    // The processor is listed before its kernel runs, so a crash in the kernel still names it.
    if !skeleton::enter_kernel_stage(&mut report, level, progress) {
        return report;
    }
    skeleton::validate_each(&mut report, [()], |(), device| validate::saxpy(device));
    report
}
